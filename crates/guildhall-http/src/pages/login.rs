//! `/login`: identifier first (email, "Next", then password), or the one-step
//! form with `?form=single`. Every failure shows the same message.
//!
//! At the identifier step an address on a domain whose organization has an
//! identity provider goes to that provider (SPEC §2); every other address
//! goes on to the password. "Continue with …" buttons start an external
//! sign-in (`pages::external`).

use crate::HttpState;
use crate::client::Client;
use crate::csrf::{self, CsrfForm};
use crate::error::{PageError, human_duration};
use crate::pages::{notice, render};
use crate::session;
use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum_extra::extract::cookie::CookieJar;
use guildhall_app::AppError;
use guildhall_app::external::Intent;
use guildhall_app::signin::outcome_label;
use guildhall_core::accounts::Email;
use guildhall_core::return_to::ReturnTo;
use serde::Deserialize;

pub fn router() -> Router<HttpState> {
    Router::new().route("/login", get(show).post(submit)).route("/logout", get(show_logout).post(logout))
}

#[derive(Template, Default)]
#[template(path = "login.html")]
struct LoginPage {
    csrf: String,
    email: String,
    email_error: String,
    return_to: String,
    /// A product whose own "sign in" link brought the person here.
    client_id: String,
    single: bool,
    step_password: bool,
    form_error: String,
    notice: &'static str,
    /// (name, display name) of each "Continue with …" provider.
    providers: Vec<(String, String)>,
}

/// Where a browser goes once signed in (by password or a provider): back
/// to the page here where sign-in started, else to the product whose link
/// it was (its registered homepage or redirect origin only), else to the
/// account page.
pub(crate) async fn after_sign_in(state: &HttpState, return_to: String, client_id: &str) -> Result<String, AppError> {
    if !return_to.is_empty() {
        return Ok(return_to);
    }
    Ok(state.app.oauth().landing(client_id).await?.unwrap_or_else(|| "/account".to_owned()))
}

/// The operator's providers as (name, display name), for the buttons.
pub(crate) async fn provider_buttons(state: &HttpState) -> Result<Vec<(String, String)>, AppError> {
    let providers = state.app.external().providers().await?;
    Ok(providers.into_iter().map(|p| (p.name.to_string(), p.display_name)).collect())
}

#[derive(Deserialize, Default)]
struct LoginQuery {
    return_to: Option<String>,
    client_id: Option<String>,
    form: Option<String>,
    email: Option<String>,
    notice: Option<String>,
}

/// Only same-origin paths survive; anything else becomes empty (→ /account).
pub(crate) fn safe_return_to(raw: Option<&str>) -> String {
    raw.and_then(ReturnTo::parse).map(|r| r.as_str().to_owned()).unwrap_or_default()
}

async fn show(
    State(state): State<HttpState>,
    jar: CookieJar,
    Query(q): Query<LoginQuery>,
) -> Result<impl IntoResponse, PageError> {
    let (jar, csrf) = csrf::token(&state, jar);
    let page = LoginPage {
        csrf,
        email: q.email.unwrap_or_default(),
        return_to: safe_return_to(q.return_to.as_deref()),
        client_id: q.client_id.unwrap_or_default(),
        single: q.form.as_deref() == Some("single"),
        notice: notice(q.notice.as_deref()),
        providers: provider_buttons(&state).await?,
        ..Default::default()
    };
    Ok((jar, render(&page)))
}

#[derive(Deserialize)]
struct Form {
    #[serde(default)]
    email: String,
    password: Option<String>,
    #[serde(default)]
    return_to: String,
    #[serde(default)]
    client_id: String,
    form: Option<String>,
}

async fn submit(
    State(state): State<HttpState>,
    jar: CookieJar,
    Client(client): Client,
    CsrfForm(f): CsrfForm<Form>,
) -> Result<Response, PageError> {
    let single = f.form.as_deref() == Some("single");
    let return_to = safe_return_to(Some(&f.return_to));
    let (jar, csrf) = csrf::token(&state, jar);
    let mut page = LoginPage {
        csrf,
        email: f.email.trim().to_owned(),
        return_to: return_to.clone(),
        client_id: f.client_id.clone(),
        single,
        providers: provider_buttons(&state).await?,
        ..Default::default()
    };

    let Some(password) = f.password.filter(|p| !p.is_empty()) else {
        // The identifier step: check the address looks like one; send it to
        // its organization's provider, if it has one, else ask for the
        // password.
        return Ok(match Email::parse(&f.email) {
            Ok(email) => {
                let external = state.app.external();
                if let Some(provider) = external.route_for_email(&email).await? {
                    let intent = Intent::SignIn { return_to, client_id: f.client_id.clone() };
                    match external.begin(provider.as_str(), intent, Some(email.as_str())).await {
                        Ok(begun) => return Ok(crate::pages::external::go(&state, jar, begun)),
                        Err(AppError::Upstream(why)) => {
                            page.form_error = format!("Your organization's sign-in is unavailable. {why}");
                            return Ok((StatusCode::BAD_GATEWAY, jar, render(&page)).into_response());
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
                page.step_password = true;
                (jar, render(&page)).into_response()
            }
            Err(e) => {
                page.email_error = e.to_string();
                (StatusCode::UNPROCESSABLE_ENTITY, jar, render(&page)).into_response()
            }
        });
    };

    let result = state.app.signin().with_password(&f.email, &password, &client).await;
    state.metrics.signin(outcome_label(&result));
    page.step_password = true;
    let status = match result {
        Ok(outcome) => {
            return Ok(crate::pages::mfa::after_first_factor(&state, jar, outcome, return_to, &f.client_id).await?);
        }
        Err(AppError::Invalid(errors)) => {
            page.step_password = false;
            page.email_error = errors.get("email").unwrap_or_default().to_owned();
            StatusCode::UNPROCESSABLE_ENTITY
        }
        Err(AppError::InvalidCredentials) => {
            page.form_error = "Email or password is incorrect.".to_owned();
            StatusCode::UNAUTHORIZED
        }
        Err(AppError::Throttled { retry_after }) => {
            page.form_error = format!("Too many failed attempts. Try again in {}.", human_duration(retry_after));
            StatusCode::TOO_MANY_REQUESTS
        }
        Err(AppError::AccountDeactivated) => {
            page.form_error = "This account is deactivated. Contact your administrator.".to_owned();
            StatusCode::FORBIDDEN
        }
        Err(AppError::Forbidden(why)) => {
            page.form_error = why;
            StatusCode::FORBIDDEN
        }
        Err(e) => return Err(e.into()),
    };
    Ok((status, jar, render(&page)).into_response())
}

#[derive(Template)]
#[template(path = "logout.html")]
pub(crate) struct LogoutPage {
    pub csrf: String,
    pub username: String,
    /// Set when a product asked for the sign-out (RP-initiated logout).
    pub client_id: String,
    pub post_logout_redirect_uri: String,
    pub state: String,
}

async fn show_logout(
    State(state): State<HttpState>,
    jar: CookieJar,
    session::MaybeSignedIn(who): session::MaybeSignedIn,
) -> Response {
    let Some(who) = who else { return Redirect::to("/login").into_response() };
    let (jar, csrf) = csrf::token(&state, jar);
    let page = LogoutPage {
        csrf,
        username: who.account.username.to_string(),
        client_id: String::new(),
        post_logout_redirect_uri: String::new(),
        state: String::new(),
    };
    (jar, render(&page)).into_response()
}

#[derive(Deserialize)]
struct LogoutForm {
    client_id: Option<String>,
    post_logout_redirect_uri: Option<String>,
    state: Option<String>,
}

/// Ends this browser's session; then back to the product that asked, if
/// its `post_logout_redirect_uri` is registered, else to sign-in.
async fn logout(
    State(state): State<HttpState>,
    jar: CookieJar,
    session::MaybeSignedIn(who): session::MaybeSignedIn,
    CsrfForm(form): CsrfForm<LogoutForm>,
) -> Result<Response, PageError> {
    let nonempty = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
    let (client_id, uri) = (nonempty(&form.client_id), nonempty(&form.post_logout_redirect_uri));
    let target = match state.app.oauth().end_session(client_id.as_deref(), None, uri.as_deref()).await {
        Ok(checked) => crate::oauth::after_logout(checked.redirect.as_deref(), nonempty(&form.state).as_deref()),
        Err(_) => return Err(PageError::BadRequest("This sign-out request is invalid.")),
    };
    Ok(end_session(&state, jar, who, &target).await?)
}

/// Revokes the browser's session (if any), clears its cookie and redirects.
pub(crate) async fn end_session(
    state: &HttpState,
    jar: CookieJar,
    who: Option<session::SignedIn>,
    target: &str,
) -> Result<Response, AppError> {
    if let Some(who) = who {
        match state.app.sessions().revoke(&who.account, who.session.id).await {
            Ok(()) | Err(AppError::NotFound) => {}
            Err(e) => return Err(e),
        }
    }
    let jar = session::clear_cookie(state, jar);
    Ok((jar, Redirect::to(target)).into_response())
}
