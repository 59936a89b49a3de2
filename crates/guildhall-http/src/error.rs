//! The two error types of this crate's surfaces, each an exhaustive match
//! from `AppError`. Internal details are logged once and never shown.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use guildhall_app::AppError;
use guildhall_core::problem::{FieldProblem, Problem};

use crate::pages::render_message;

/// An error on a page: a short HTML page with a status.
#[derive(Debug)]
pub enum PageError {
    App(AppError),
    /// The form's CSRF token is missing or wrong.
    Csrf,
    /// The page needs a signed-in person; go to sign-in and come back.
    SignInRequired(String),
    /// The person must change a one-time password first.
    MustChangePassword,
    /// The person's organization requires a second factor they have not set up.
    MfaEnrolmentRequired,
    BadRequest(&'static str),
}

impl From<AppError> for PageError {
    fn from(e: AppError) -> Self {
        Self::App(e)
    }
}

pub(crate) fn log_internal(e: &(dyn std::error::Error + 'static)) {
    let mut chain = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        chain.push_str(": ");
        chain.push_str(&s.to_string());
        source = s.source();
    }
    tracing::error!(error = %chain, "internal error");
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, title, text) = match self {
            Self::SignInRequired(return_to) => {
                let to = format!(
                    "/login?return_to={}",
                    url::form_urlencoded::byte_serialize(return_to.as_bytes()).collect::<String>()
                );
                return Redirect::to(&to).into_response();
            }
            Self::MustChangePassword => return Redirect::to("/password/change").into_response(),
            Self::MfaEnrolmentRequired => {
                return Redirect::to("/account/security?notice=mfa-required").into_response();
            }
            Self::Csrf => (
                StatusCode::FORBIDDEN,
                "This form has expired",
                "For your safety the form could not be accepted. Go back, reload the page and try again.".to_owned(),
            ),
            Self::BadRequest(what) => (StatusCode::BAD_REQUEST, "Bad request", what.to_owned()),
            Self::App(e) => match e {
                AppError::Invalid(errors) => {
                    (StatusCode::UNPROCESSABLE_ENTITY, "Please check your input", errors.summary())
                }
                AppError::InvalidCredentials => {
                    (StatusCode::UNAUTHORIZED, "Sign-in failed", "Email or password is incorrect.".to_owned())
                }
                AppError::AccountDeactivated => {
                    (StatusCode::FORBIDDEN, "Account deactivated", "This account is deactivated.".to_owned())
                }
                AppError::Throttled { retry_after } => (
                    StatusCode::TOO_MANY_REQUESTS,
                    "Too many attempts",
                    format!("Too many attempts. Try again in {}.", human_duration(retry_after)),
                ),
                AppError::InvalidLink => (
                    StatusCode::BAD_REQUEST,
                    "This link does not work",
                    "The link is invalid, has expired or was already used. Ask for a new one.".to_owned(),
                ),
                AppError::Unauthenticated => return Redirect::to("/login").into_response(),
                AppError::NotFound => (StatusCode::NOT_FOUND, "Not found", "There is nothing here.".to_owned()),
                AppError::Forbidden(why) => (StatusCode::FORBIDDEN, "Not allowed", why),
                AppError::Conflict(what) => (StatusCode::CONFLICT, "Conflict", what),
                AppError::Upstream(what) => (StatusCode::BAD_GATEWAY, "The other provider did not sign you in", what),
                AppError::Internal(e) => {
                    log_internal(e.as_ref());
                    (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "Something went wrong",
                        "The server could not complete this request. Nothing was changed; try again.".to_owned(),
                    )
                }
            },
        };
        (status, render_message(title, &text, "/", "Go to the start page")).into_response()
    }
}

/// "5 minutes", "1 minute", "30 seconds".
pub(crate) fn human_duration(d: std::time::Duration) -> String {
    let secs = d.as_secs().max(1);
    match secs {
        s if s >= 120 => format!("{} minutes", s.div_ceil(60)),
        s if s >= 60 => "1 minute".to_owned(),
        1 => "1 second".to_owned(),
        s => format!("{s} seconds"),
    }
}

/// An error of `/api/v1`: RFC 9457 problem+json.
#[derive(Debug)]
pub struct ApiError(pub Problem);

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        Self(match e {
            AppError::Invalid(errors) => {
                let mut p = Problem::new("invalid-input", "The request has invalid fields", 422);
                p.errors = errors
                    .0
                    .into_iter()
                    .map(|(field, message)| FieldProblem { field: field.to_owned(), message })
                    .collect();
                p
            }
            AppError::InvalidCredentials => Problem::new("invalid-credentials", "Invalid credentials", 401),
            AppError::AccountDeactivated => Problem::new("account-deactivated", "The account is deactivated", 403),
            AppError::Throttled { retry_after } => Problem::new("throttled", "Too many attempts", 429)
                .with_detail(format!("Try again in {}.", human_duration(retry_after))),
            AppError::InvalidLink => Problem::new("invalid-token", "The token is invalid, expired or used", 400),
            AppError::Unauthenticated => Problem::new("unauthenticated", "Authentication required", 401),
            AppError::NotFound => Problem::new("not-found", "Not found", 404),
            AppError::Forbidden(why) => Problem::new("forbidden", "Forbidden", 403).with_detail(why),
            AppError::Conflict(what) => Problem::new("conflict", "Conflict", 409).with_detail(what),
            AppError::Upstream(what) => Problem::new("upstream", "An upstream provider failed", 502).with_detail(what),
            AppError::Internal(e) => {
                log_internal(e.as_ref());
                Problem::new("internal", "Internal error", 500).with_detail("Nothing was changed; try again.")
            }
        })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut res = (status, Json(self.0)).into_response();
        res.headers_mut()
            .insert(axum::http::header::CONTENT_TYPE, axum::http::HeaderValue::from_static("application/problem+json"));
        res
    }
}
