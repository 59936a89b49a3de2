//! `/auth/{provider}`: "Continue with …" and its callback, and connecting
//! or disconnecting external identities from the account page.
//!
//! The flow's state travels in a cookie sealed by the app (see
//! `guildhall_app::external`), scoped to `/auth` and SameSite=Lax so that
//! the provider's top-level redirect back carries it.

use crate::HttpState;
use crate::client::Client;
use crate::csrf::CsrfForm;
use crate::error::PageError;
use crate::pages::render_message;
use crate::session::{MaybeSignedIn, SignedIn};
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use guildhall_app::AppError;
use guildhall_app::external::{Begun, Callback, Finished, Intent};
use serde::Deserialize;

pub fn router() -> Router<HttpState> {
    Router::new()
        .route("/auth/{provider}", post(start))
        .route("/auth/{provider}/callback", get(callback))
        .route("/account/identities/connect", post(connect))
        .route("/account/identities/disconnect", post(disconnect))
}

fn flow_cookie_name(state: &HttpState) -> &'static str {
    if state.config.secure_cookies() { "__Secure-gh_upstream" } else { "gh_upstream" }
}

/// Keeps the flow and sends the browser to the provider.
pub(crate) fn go(state: &HttpState, jar: CookieJar, begun: Begun) -> Response {
    let cookie = Cookie::build((flow_cookie_name(state), begun.cookie))
        .path("/auth")
        .http_only(true)
        .secure(state.config.secure_cookies())
        .same_site(SameSite::Lax)
        .max_age(time::Duration::minutes(10))
        .build();
    (jar.add(cookie), Redirect::to(&begun.redirect)).into_response()
}

fn forget_flow(state: &HttpState, jar: CookieJar) -> CookieJar {
    jar.remove(Cookie::build(flow_cookie_name(state)).path("/auth"))
}

#[derive(Deserialize, Default)]
struct StartForm {
    #[serde(default)]
    return_to: String,
    #[serde(default)]
    client_id: String,
}

/// Starts a sign-in (or sign-up) with a provider: a form post with the CSRF
/// token, so no other site can start one in this browser (a provider an
/// attacker controls could otherwise sign the browser in as the attacker).
/// The flow cookie then binds the callback to this browser.
async fn start(
    State(state): State<HttpState>,
    jar: CookieJar,
    Path(provider): Path<String>,
    CsrfForm(f): CsrfForm<StartForm>,
) -> Result<Response, PageError> {
    let return_to = crate::pages::login::safe_return_to(Some(&f.return_to));
    let intent = Intent::SignIn { return_to, client_id: f.client_id };
    match state.app.external().begin(&provider, intent, None).await {
        Ok(begun) => Ok(go(&state, jar, begun)),
        Err(e) => Ok(failure(&state, jar, e, "/login")),
    }
}

#[derive(Deserialize, Default)]
struct CallbackQuery {
    #[serde(default)]
    state: String,
    code: Option<String>,
    error: Option<String>,
    iss: Option<String>,
}

async fn callback(
    State(state): State<HttpState>,
    jar: CookieJar,
    Client(client): Client,
    MaybeSignedIn(who): MaybeSignedIn,
    Path(provider): Path<String>,
    Query(q): Query<CallbackQuery>,
) -> Result<Response, PageError> {
    let cookie = jar.get(flow_cookie_name(&state)).map(|c| c.value().to_owned());
    let current = who.as_ref().map(|w| (w.account.id, w.session.id));
    let back = if who.is_some() { "/account" } else { "/login" };
    let cb = Callback { state: &q.state, code: q.code.as_deref(), error: q.error.as_deref(), iss: q.iss.as_deref() };
    let result = state.app.external().finish(&provider, cookie.as_deref(), cb, current, &client).await;
    let jar = forget_flow(&state, jar);
    Ok(match result {
        Ok(Finished::SignedIn { outcome, return_to, client_id }) => {
            state.metrics.signin("success");
            match crate::pages::mfa::after_first_factor(&state, jar.clone(), outcome, return_to, &client_id).await {
                Ok(response) => response,
                Err(e) => failure(&state, jar, e, back),
            }
        }
        Ok(Finished::VerifyFirst { email, display_name }) => {
            let text = format!(
                "Your account is made. We sent a link to {email}: open it to verify the address, then continue \
                 with {display_name} again."
            );
            (jar, render_message("Check your inbox", &text, "/login", "Sign in")).into_response()
        }
        Ok(Finished::Connected { .. }) => (jar, Redirect::to("/account?notice=identity-connected")).into_response(),
        Err(e) => failure(&state, jar, e, back),
    })
}

/// A failed round trip: a page that says what happened and links back.
fn failure(state: &HttpState, jar: CookieJar, e: AppError, back: &str) -> Response {
    let (status, title, text) = match e {
        AppError::InvalidLink => (
            StatusCode::BAD_REQUEST,
            "This sign-in expired",
            "The sign-in was started in another browser, took too long, or was already completed. Start again."
                .to_owned(),
        ),
        AppError::NotFound => (StatusCode::NOT_FOUND, "Unknown provider", "There is no such provider here.".to_owned()),
        AppError::Upstream(what) => (StatusCode::BAD_GATEWAY, "The provider did not sign you in", what),
        AppError::Conflict(what) => (StatusCode::CONFLICT, "Not connected", what),
        AppError::Forbidden(what) => (StatusCode::FORBIDDEN, "Not allowed", what),
        AppError::AccountDeactivated => (
            StatusCode::FORBIDDEN,
            "Account deactivated",
            "This account is deactivated. Contact your administrator.".to_owned(),
        ),
        // Whatever else failed, the flow cookie goes too.
        e => return (jar, PageError::from(e)).into_response(),
    };
    state.metrics.signin("upstream_failed");
    (status, jar, render_message(title, &text, back, "Back")).into_response()
}

#[derive(Deserialize)]
struct ConnectForm {
    #[serde(default)]
    provider: String,
}

async fn connect(
    State(state): State<HttpState>,
    jar: CookieJar,
    who: SignedIn,
    CsrfForm(f): CsrfForm<ConnectForm>,
) -> Result<Response, PageError> {
    let intent = Intent::Connect { account: who.account.id, session: who.session.id };
    match state.app.external().begin(&f.provider, intent, None).await {
        Ok(begun) => Ok(go(&state, jar, begun)),
        Err(e) => Ok(failure(&state, jar, e, "/account")),
    }
}

#[derive(Deserialize)]
struct DisconnectForm {
    #[serde(default)]
    provider: String,
    #[serde(default)]
    subject: String,
}

async fn disconnect(
    State(state): State<HttpState>,
    who: SignedIn,
    CsrfForm(f): CsrfForm<DisconnectForm>,
) -> Result<Response, PageError> {
    match state.app.external().disconnect(&who.account, &f.provider, &f.subject).await {
        Ok(()) => Ok(Redirect::to("/account?notice=identity-disconnected").into_response()),
        Err(AppError::Conflict(what)) => {
            Ok((StatusCode::CONFLICT, render_message("Not disconnected", &what, "/account", "Back to your account"))
                .into_response())
        }
        Err(e) => Err(e.into()),
    }
}
