//! `/verify`: confirm an emailed link (a button, so mail scanners that fetch
//! links do not spend it), and ask for a new link.

use crate::HttpState;
use crate::csrf::{self, CsrfForm};
use crate::error::PageError;
use crate::pages::{render, render_message};
use crate::session::SignedIn;
use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;

pub fn router() -> Router<HttpState> {
    Router::new().route("/verify", get(show).post(submit)).route("/verify/resend", post(resend))
}

#[derive(Template)]
#[template(path = "verify.html")]
struct VerifyPage {
    csrf: String,
    token: String,
}

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

async fn show(State(state): State<HttpState>, jar: CookieJar, Query(q): Query<TokenQuery>) -> Response {
    match q.token.filter(|t| !t.is_empty()) {
        Some(token) => {
            let (jar, csrf) = csrf::token(&state, jar);
            (jar, render(&VerifyPage { csrf, token })).into_response()
        }
        None => render_message(
            "Verify your email",
            "Open the link in the message we sent you. To get a new link, sign in and ask for one on your account page.",
            "/account",
            "Go to your account",
        )
        .into_response(),
    }
}

#[derive(Deserialize)]
struct Form {
    #[serde(default)]
    token: String,
}

async fn submit(State(state): State<HttpState>, CsrfForm(f): CsrfForm<Form>) -> Result<Response, PageError> {
    let account = state.app.accounts().verify_email(&f.token).await?;
    Ok(render_message(
        "Email verified",
        &format!("The address {} is verified.", account.email),
        "/account",
        "Go to your account",
    )
    .into_response())
}

async fn resend(
    State(state): State<HttpState>,
    who: SignedIn,
    CsrfForm(_): CsrfForm<serde::de::IgnoredAny>,
) -> Result<Response, PageError> {
    state.app.accounts().resend_verification(&who.account).await?;
    Ok(Redirect::to("/account?notice=verification-sent").into_response())
}
