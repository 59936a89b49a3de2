//! Cross-site request forgery protection, two layers deep:
//!
//! 1. `same_origin_guard` refuses any state-changing request that a browser
//!    marks as cross-site (`Sec-Fetch-Site`), or whose `Origin` is neither the
//!    public URL's origin nor the request's own host.
//! 2. Every form carries a token that must equal the `csrf` cookie (double
//!    submit); `CsrfForm<T>` checks it before the handler sees the form, so a
//!    handler that takes a form cannot skip the check.

use crate::HttpState;
use crate::error::PageError;
use axum::body::{Body, Bytes};
use axum::extract::{FromRef, FromRequest, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use guildhall_core::forms::{FormError, decode_checked};
use guildhall_core::tokens::{SecretToken, TOKEN_BYTES};
use serde::de::DeserializeOwned;

fn cookie_name(state: &HttpState) -> &'static str {
    if state.config.secure_cookies() { "__Host-gh_csrf" } else { "gh_csrf" }
}

/// The form token for this browser, creating the cookie if it has none.
pub fn token(state: &HttpState, jar: CookieJar) -> (CookieJar, String) {
    let name = cookie_name(state);
    if let Some(existing) = jar.get(name).and_then(|c| SecretToken::parse(c.value())) {
        return (jar, existing.expose().to_owned());
    }
    let mut bytes = [0u8; TOKEN_BYTES];
    rand::fill(&mut bytes);
    let token = SecretToken::from_random_bytes(bytes).expose().to_owned();
    let cookie = Cookie::build((name, token.clone()))
        .path("/")
        .http_only(true)
        .secure(state.config.secure_cookies())
        .same_site(SameSite::Strict)
        .build();
    (jar.add(cookie), token)
}

/// A URL-encoded form whose `csrf` field matched the browser's cookie.
pub struct CsrfForm<T>(pub T);

impl<S, T> FromRequest<S> for CsrfForm<T>
where
    HttpState: FromRef<S>,
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = PageError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let http = HttpState::from_ref(state);
        let jar = CookieJar::from_headers(req.headers());
        let body =
            Bytes::from_request(req, state).await.map_err(|_| PageError::BadRequest("The form could not be read."))?;
        let expected = jar.get(cookie_name(&http)).map(|c| c.value().to_owned()).unwrap_or_default();
        match decode_checked::<T>(&body, &expected) {
            Ok(form) => Ok(CsrfForm(form)),
            Err(FormError::Csrf) => Err(PageError::Csrf),
            Err(FormError::Malformed) => Err(PageError::BadRequest("The form has missing or malformed fields.")),
        }
    }
}

/// Refuses cross-origin state-changing requests from browsers.
pub async fn same_origin_guard(State(state): State<HttpState>, req: Request<Body>, next: Next) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(req).await;
    }
    let headers = req.headers();
    let fetch_site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    let allowed = match fetch_site {
        Some("same-origin" | "none") => true,
        Some(_) => false,
        None => match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
            None => true,
            Some(origin) => {
                let public = state.config.public_url.origin().ascii_serialization();
                let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or_default();
                origin == public
                    || url::Url::parse(origin).is_ok_and(|o| {
                        o.host_str().map(|h| match o.port() {
                            Some(p) => format!("{h}:{p}"),
                            None => h.to_owned(),
                        }) == Some(host.to_owned())
                    })
            }
        },
    };
    if allowed { next.run(req).await } else { (StatusCode::FORBIDDEN, "cross-origin request refused").into_response() }
}
