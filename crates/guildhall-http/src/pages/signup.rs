//! `/signup`: email, username, display name, password.

use crate::HttpState;
use crate::csrf::{self, CsrfForm};
use crate::error::PageError;
use crate::pages::login::provider_buttons;
use crate::pages::{render, render_message};
use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum_extra::extract::cookie::CookieJar;
use guildhall_app::AppError;
use guildhall_app::accounts::SignUp;
use serde::Deserialize;

pub fn router() -> Router<HttpState> {
    Router::new().route("/signup", get(show).post(submit))
}

#[derive(Template, Default)]
#[template(path = "signup.html")]
struct SignupPage {
    csrf: String,
    email: String,
    username: String,
    display_name: String,
    email_error: String,
    username_error: String,
    display_name_error: String,
    password_error: String,
    form_error: String,
    min_password: usize,
    /// (name, display name) of each "Continue with …" provider.
    providers: Vec<(String, String)>,
}

async fn show(State(state): State<HttpState>, jar: CookieJar) -> Result<impl IntoResponse, PageError> {
    let (jar, csrf) = csrf::token(&state, jar);
    let min_password = state.app.settings().password_policy.min_chars;
    let providers = provider_buttons(&state).await?;
    Ok((jar, render(&SignupPage { csrf, min_password, providers, ..Default::default() })))
}

#[derive(Deserialize)]
struct Form {
    #[serde(default)]
    email: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    password: String,
}

async fn submit(
    State(state): State<HttpState>,
    jar: CookieJar,
    CsrfForm(f): CsrfForm<Form>,
) -> Result<Response, PageError> {
    let result = state
        .app
        .accounts()
        .sign_up(SignUp {
            email: &f.email,
            username: &f.username,
            display_name: &f.display_name,
            password: &f.password,
        })
        .await;
    match result {
        Ok(()) => Ok(render_message(
            "Check your inbox",
            &format!(
                "We sent a message to {}. Open the link in it to verify your address, then sign in.",
                f.email.trim()
            ),
            "/login",
            "Sign in",
        )
        .into_response()),
        Err(AppError::Invalid(errors)) => {
            let (jar, csrf) = csrf::token(&state, jar);
            let page = SignupPage {
                csrf,
                email: f.email,
                username: f.username,
                display_name: f.display_name,
                email_error: errors.get("email").unwrap_or_default().to_owned(),
                username_error: errors.get("username").unwrap_or_default().to_owned(),
                display_name_error: errors.get("display_name").unwrap_or_default().to_owned(),
                password_error: errors.get("password").unwrap_or_default().to_owned(),
                form_error: "Please correct the fields below.".to_owned(),
                min_password: state.app.settings().password_policy.min_chars,
                providers: provider_buttons(&state).await?,
            };
            Ok((StatusCode::UNPROCESSABLE_ENTITY, jar, render(&page)).into_response())
        }
        Err(e) => Err(e.into()),
    }
}
