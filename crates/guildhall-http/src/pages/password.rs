//! `/password/forgot`, `/password/reset` and `/password/change`.

use crate::HttpState;
use crate::client::Client;
use crate::csrf::{self, CsrfForm};
use crate::error::PageError;
use crate::pages::{render, render_message};
use crate::session::{self, MaybeSignedIn, SignedIn};
use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum_extra::extract::cookie::CookieJar;
use guildhall_app::AppError;
use serde::Deserialize;

pub fn router() -> Router<HttpState> {
    Router::new()
        .route("/password/forgot", get(show_forgot).post(forgot))
        .route("/password/reset", get(show_reset).post(reset))
        .route("/password/change", get(show_change).post(change))
}

#[derive(Template, Default)]
#[template(path = "forgot.html")]
struct ForgotPage {
    csrf: String,
    email: String,
    email_error: String,
}

async fn show_forgot(State(state): State<HttpState>, jar: CookieJar) -> impl IntoResponse {
    let (jar, csrf) = csrf::token(&state, jar);
    (jar, render(&ForgotPage { csrf, ..Default::default() }))
}

#[derive(Deserialize)]
struct ForgotForm {
    #[serde(default)]
    email: String,
}

/// Always the same answer, whether or not the address has an account.
async fn forgot(
    State(state): State<HttpState>,
    jar: CookieJar,
    Client(client): Client,
    CsrfForm(f): CsrfForm<ForgotForm>,
) -> Result<Response, PageError> {
    match state.app.accounts().forgot_password(&f.email, &client).await {
        Ok(()) => Ok(render_message(
            "Check your inbox",
            "If an account exists for that address, we sent it a link to choose a new password. The link expires soon and works once.",
            "/login",
            "Back to sign-in",
        )
        .into_response()),
        Err(AppError::Invalid(errors)) => {
            let (jar, csrf) = csrf::token(&state, jar);
            let page = ForgotPage { csrf, email: f.email, email_error: errors.get("email").unwrap_or_default().to_owned() };
            Ok((StatusCode::UNPROCESSABLE_ENTITY, jar, render(&page)).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template, Default)]
#[template(path = "reset.html")]
struct ResetPage {
    csrf: String,
    token: String,
    password_error: String,
}

#[derive(Deserialize)]
struct TokenQuery {
    #[serde(default)]
    token: String,
}

async fn show_reset(
    State(state): State<HttpState>,
    jar: CookieJar,
    Query(q): Query<TokenQuery>,
) -> Result<Response, PageError> {
    if !state.app.accounts().reset_link_valid(&q.token).await? {
        return Err(AppError::InvalidLink.into());
    }
    let (jar, csrf) = csrf::token(&state, jar);
    Ok((jar, render(&ResetPage { csrf, token: q.token, ..Default::default() })).into_response())
}

#[derive(Deserialize)]
struct ResetForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    password: String,
}

async fn reset(
    State(state): State<HttpState>,
    jar: CookieJar,
    MaybeSignedIn(who): MaybeSignedIn,
    CsrfForm(f): CsrfForm<ResetForm>,
) -> Result<Response, PageError> {
    // The browser's own session survives only if it belongs to this account.
    let current = who.as_ref().map(|w| (w.account.id, w.session.id));
    match state.app.accounts().reset_password(&f.token, &f.password, current.map(|c| c.1)).await {
        Ok(account) if current.is_some_and(|c| c.0 == account.id) => {
            let jar = match &who {
                Some(who) => session::rotate(&state, jar, who).await?,
                None => jar,
            };
            Ok((jar, Redirect::to("/account?notice=password-changed")).into_response())
        }
        Ok(_) => Ok(Redirect::to("/login?notice=password-reset").into_response()),
        Err(AppError::Invalid(errors)) => {
            let (jar, csrf) = csrf::token(&state, jar);
            let page = ResetPage {
                csrf,
                token: f.token,
                password_error: errors.get("password").unwrap_or_default().to_owned(),
            };
            Ok((StatusCode::UNPROCESSABLE_ENTITY, jar, render(&page)).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template, Default)]
#[template(path = "change_password.html")]
struct ChangePage {
    csrf: String,
    forced: bool,
    current_error: String,
    password_error: String,
}

async fn show_change(State(state): State<HttpState>, jar: CookieJar, who: SignedIn) -> impl IntoResponse {
    let (jar, csrf) = csrf::token(&state, jar);
    (jar, render(&ChangePage { csrf, forced: who.account.must_change_password, ..Default::default() }))
}

#[derive(Deserialize)]
struct ChangeForm {
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    password: String,
}

async fn change(
    State(state): State<HttpState>,
    jar: CookieJar,
    who: SignedIn,
    CsrfForm(f): CsrfForm<ChangeForm>,
) -> Result<Response, PageError> {
    match state.app.accounts().change_password(&who.account, &f.current_password, &f.password, who.session.id).await {
        Ok(()) => {
            let jar = session::rotate(&state, jar, &who).await?;
            Ok((jar, Redirect::to("/account?notice=password-changed")).into_response())
        }
        Err(AppError::Invalid(errors)) => {
            let (jar, csrf) = csrf::token(&state, jar);
            let page = ChangePage {
                csrf,
                forced: who.account.must_change_password,
                current_error: errors.get("current_password").unwrap_or_default().to_owned(),
                password_error: errors.get("password").unwrap_or_default().to_owned(),
            };
            Ok((StatusCode::UNPROCESSABLE_ENTITY, jar, render(&page)).into_response())
        }
        Err(e) => Err(e.into()),
    }
}
