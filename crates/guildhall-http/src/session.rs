//! The browser session: its cookie, and the extractors that give handlers
//! the signed-in person. A handler that needs a person takes `SignedIn`; it
//! cannot forget the check.

use crate::HttpState;
use crate::error::PageError;
use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use guildhall_app::ports::Session;
use guildhall_core::accounts::Account;
use guildhall_core::tokens::SecretToken;

pub fn cookie_name(state: &HttpState) -> &'static str {
    if state.config.secure_cookies() { "__Host-gh_session" } else { "gh_session" }
}

/// The session cookie for a new session (HttpOnly, SameSite=Lax, Secure
/// behind TLS). A browser-session cookie: the server-side expiry rules.
pub fn set_cookie(state: &HttpState, jar: CookieJar, token: &SecretToken) -> CookieJar {
    let cookie = Cookie::build((cookie_name(state), token.expose().to_owned()))
        .path("/")
        .http_only(true)
        .secure(state.config.secure_cookies())
        .same_site(SameSite::Lax)
        .build();
    jar.add(cookie)
}

/// Rotates the signed-in session's token and sets the new cookie.
pub async fn rotate(state: &HttpState, jar: CookieJar, who: &SignedIn) -> Result<CookieJar, guildhall_app::AppError> {
    let token = state.app.sessions().rotate(&who.account, who.session.id).await?;
    Ok(set_cookie(state, jar, &token))
}

pub fn clear_cookie(state: &HttpState, jar: CookieJar) -> CookieJar {
    jar.remove(Cookie::build(cookie_name(state)).path("/"))
}

/// The signed-in person, if any.
pub struct MaybeSignedIn(pub Option<SignedIn>);

/// A signed-in person. Pages that take it redirect to sign-in otherwise, and
/// to the password change while a one-time password is still in use.
pub struct SignedIn {
    pub session: Session,
    pub account: Account,
}

impl<S> FromRequestParts<S> for MaybeSignedIn
where
    HttpState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = HttpState::from_ref(state);
        let jar = CookieJar::from_headers(&parts.headers);
        let Some(cookie) = jar.get(cookie_name(&state)) else { return Ok(Self(None)) };
        let found = state.app.sessions().authenticate(cookie.value()).await?;
        Ok(Self(found.map(|(session, account)| SignedIn { session, account })))
    }
}

impl<S> FromRequestParts<S> for SignedIn
where
    HttpState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let MaybeSignedIn(found) = MaybeSignedIn::from_request_parts(parts, state).await?;
        let return_to = parts.uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
        let signed_in = found.ok_or(PageError::SignInRequired(return_to))?;
        let path = parts.uri.path();
        if signed_in.account.must_change_password && path != "/password/change" && path != "/logout" {
            return Err(PageError::MustChangePassword);
        }
        // An organization that requires a second factor: nothing but setting
        // one up (and signing out) until it is.
        let enrolling = path.starts_with("/account/security") || path == "/logout";
        if !enrolling && HttpState::from_ref(state).app.mfa().enrolment_required(&signed_in.account).await? {
            return Err(PageError::MfaEnrolmentRequired);
        }
        Ok(signed_in)
    }
}
