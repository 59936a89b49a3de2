//! Two-step sign-in: the second-factor step of `/login` (`/login/2fa`),
//! and `/account/security`, where a person sets up an authenticator app,
//! sees and renews recovery codes, and removes the authenticator.

use crate::HttpState;
use crate::client::Client;
use crate::csrf::{self, CsrfForm};
use crate::error::{PageError, human_duration};
use crate::pages::{notice, render};
use crate::session::{self, SignedIn};
use askama::Template;
use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use guildhall_app::AppError;
use guildhall_app::mfa::TotpSetup;
use guildhall_app::signin::{Outcome, SecondFactorDone};
use serde::Deserialize;

pub fn router() -> Router<HttpState> {
    Router::new()
        .route("/login/2fa", get(show_challenge).post(answer_challenge))
        .route("/account/security", get(show_security))
        .route("/account/security/totp", post(begin_totp))
        .route("/account/security/totp/confirm", post(confirm_totp))
        .route("/account/security/totp/remove", post(remove_totp))
        .route("/account/security/recovery-codes", post(regenerate_codes))
        .route("/account/security/passkeys/options", post(passkey_registration_options))
        .route("/account/security/passkeys", post(add_passkey))
        .route("/account/security/passkeys/{id}/remove", post(remove_passkey))
        .route("/account/security/passkeys/{id}/rename", post(rename_passkey))
        .route("/login/2fa/passkey/options", post(second_factor_passkey_options))
        .route("/login/2fa/passkey", post(second_factor_passkey))
        .route("/login/passkey/options", post(passkey_options))
        .route("/login/passkey", post(sign_in_with_passkey))
}

fn held_cookie_name(state: &HttpState) -> &'static str {
    if state.config.secure_cookies() { "__Host-gh_2fa" } else { "gh_2fa" }
}

/// Finishes a first factor for the browser: a session cookie and the way
/// back, or the held sign-in and the second-factor step.
pub(crate) async fn after_first_factor(
    state: &HttpState,
    jar: CookieJar,
    outcome: Outcome,
    return_to: String,
    client_id: &str,
) -> Result<Response, AppError> {
    match outcome {
        Outcome::SignedIn(signed_in) => {
            let jar = session::set_cookie(state, jar, &signed_in.token);
            let to = crate::pages::login::after_sign_in(state, return_to, client_id).await?;
            Ok((jar, Redirect::to(&to)).into_response())
        }
        Outcome::SecondFactor(first) => {
            let held = state.app.signin().hold(&first, &return_to, client_id)?;
            let cookie = Cookie::build((held_cookie_name(state), held))
                .path("/")
                .http_only(true)
                .secure(state.config.secure_cookies())
                .same_site(SameSite::Lax)
                .max_age(time::Duration::minutes(5))
                .build();
            Ok((jar.add(cookie), Redirect::to("/login/2fa")).into_response())
        }
    }
}

#[derive(Template, Default)]
#[template(path = "second_factor.html")]
struct ChallengePage {
    csrf: String,
    form_error: String,
}

async fn show_challenge(State(state): State<HttpState>, jar: CookieJar) -> Response {
    if jar.get(held_cookie_name(&state)).is_none() {
        return Redirect::to("/login").into_response();
    }
    let (jar, csrf) = csrf::token(&state, jar);
    (jar, render(&ChallengePage { csrf, ..Default::default() })).into_response()
}

#[derive(Deserialize)]
struct CodeForm {
    #[serde(default)]
    code: String,
}

async fn answer_challenge(
    State(state): State<HttpState>,
    jar: CookieJar,
    Client(client): Client,
    CsrfForm(f): CsrfForm<CodeForm>,
) -> Result<Response, PageError> {
    let Some(held) = jar.get(held_cookie_name(&state)).map(|c| c.value().to_owned()) else {
        return Ok(Redirect::to("/login").into_response());
    };
    let result = state.app.signin().second_factor(&held, &f.code, &client).await;
    second_step_done(&state, jar, result).await
}

/// Where a second step leads: in, or back to the form saying why.
async fn second_step_done(
    state: &HttpState,
    jar: CookieJar,
    result: Result<SecondFactorDone, AppError>,
) -> Result<Response, PageError> {
    let (status, form_error) = match result {
        Ok(done) => {
            state.metrics.signin("success");
            let jar = jar.remove(Cookie::build(held_cookie_name(state)).path("/"));
            let jar = session::set_cookie(state, jar, &done.signed_in.token);
            let to = crate::pages::login::after_sign_in(state, done.return_to, &done.client_id).await?;
            return Ok((jar, Redirect::to(&to)).into_response());
        }
        Err(AppError::InvalidCredentials) => (StatusCode::UNAUTHORIZED, "That code is not right.".to_owned()),
        Err(AppError::Invalid(errors)) => (StatusCode::UNAUTHORIZED, errors.summary()),
        Err(AppError::Throttled { retry_after }) => (
            StatusCode::TOO_MANY_REQUESTS,
            format!("Too many wrong codes. Try again in {}.", human_duration(retry_after)),
        ),
        Err(AppError::InvalidLink) => {
            let jar = jar.remove(Cookie::build(held_cookie_name(state)).path("/"));
            return Ok((jar, Redirect::to("/login?notice=second-step-expired")).into_response());
        }
        Err(e) => return Err(e.into()),
    };
    state.metrics.signin("second_factor_failed");
    let (jar, csrf) = csrf::token(state, jar);
    Ok((status, jar, render(&ChallengePage { csrf, form_error })).into_response())
}

#[derive(Deserialize)]
struct CeremonyForm {
    #[serde(default)]
    state: String,
    #[serde(default)]
    credential: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    return_to: String,
    #[serde(default)]
    client_id: String,
}

async fn second_factor_passkey_options(
    State(state): State<HttpState>,
    jar: CookieJar,
    CsrfForm(_): CsrfForm<serde::de::IgnoredAny>,
) -> Result<Response, PageError> {
    let Some(held) = jar.get(held_cookie_name(&state)).map(|c| c.value().to_owned()) else {
        return Err(AppError::InvalidLink.into());
    };
    Ok(Json(state.app.signin().second_factor_passkey_options(&held).await?).into_response())
}

async fn second_factor_passkey(
    State(state): State<HttpState>,
    jar: CookieJar,
    Client(client): Client,
    CsrfForm(f): CsrfForm<CeremonyForm>,
) -> Result<Response, PageError> {
    let Some(held) = jar.get(held_cookie_name(&state)).map(|c| c.value().to_owned()) else {
        return Ok(Redirect::to("/login").into_response());
    };
    let result = state.app.signin().second_factor_passkey(&held, &f.state, &f.credential, &client).await;
    second_step_done(&state, jar, result).await
}

async fn passkey_options(
    State(state): State<HttpState>,
    CsrfForm(_): CsrfForm<serde::de::IgnoredAny>,
) -> Result<Response, PageError> {
    Ok(Json(state.app.signin().passkey_options()?).into_response())
}

/// Passwordless: a passkey alone signs in.
async fn sign_in_with_passkey(
    State(state): State<HttpState>,
    jar: CookieJar,
    Client(client): Client,
    CsrfForm(f): CsrfForm<CeremonyForm>,
) -> Result<Response, PageError> {
    match state.app.signin().with_passkey(&f.state, &f.credential, &client).await {
        Ok(signed_in) => {
            state.metrics.signin("success");
            let return_to = crate::pages::login::safe_return_to(Some(&f.return_to));
            Ok(after_first_factor(&state, jar, Outcome::SignedIn(signed_in), return_to, &f.client_id).await?)
        }
        Err(AppError::Invalid(_) | AppError::InvalidLink | AppError::NotFound) => {
            state.metrics.signin("passkey_failed");
            Ok(Redirect::to("/login?notice=passkey-failed").into_response())
        }
        Err(e) => Err(e.into()),
    }
}

async fn passkey_registration_options(
    State(state): State<HttpState>,
    who: SignedIn,
    CsrfForm(_): CsrfForm<serde::de::IgnoredAny>,
) -> Result<Response, PageError> {
    if !state.app.sessions().signed_in_recently(&who.session) {
        // The script tells the person to sign in again.
        return Ok(StatusCode::FORBIDDEN.into_response());
    }
    Ok(Json(state.app.mfa().begin_passkey_registration(&who.account).await?).into_response())
}

async fn add_passkey(
    State(state): State<HttpState>,
    jar: CookieJar,
    who: SignedIn,
    CsrfForm(f): CsrfForm<CeremonyForm>,
) -> Result<Response, PageError> {
    require_recent_sign_in(&state, &who)?;
    let codes = state.app.mfa().finish_passkey_registration(&who.account, &f.name, &f.state, &f.credential).await?;
    let jar = session::rotate(&state, jar, &who).await?;
    match codes {
        Some(codes) => Ok((jar, render(&CodesPage { codes })).into_response()),
        None => Ok((jar, Redirect::to("/account/security?notice=passkey-added")).into_response()),
    }
}

#[derive(Deserialize)]
struct NameForm {
    #[serde(default)]
    name: String,
}

async fn rename_passkey(
    State(state): State<HttpState>,
    who: SignedIn,
    Path(id): Path<String>,
    CsrfForm(f): CsrfForm<NameForm>,
) -> Result<Response, PageError> {
    state.app.mfa().rename_passkey(&who.account, &id, &f.name).await?;
    Ok(Redirect::to("/account/security?notice=passkey-renamed").into_response())
}

async fn remove_passkey(
    State(state): State<HttpState>,
    jar: CookieJar,
    who: SignedIn,
    Path(id): Path<String>,
    CsrfForm(f): CsrfForm<ProofForm>,
) -> Result<Response, PageError> {
    state.app.mfa().remove_passkey(&who.account, &id, &f.proof).await?;
    let jar = session::rotate(&state, jar, &who).await?;
    Ok((jar, Redirect::to("/account/security?notice=passkey-removed")).into_response())
}

#[derive(Template)]
#[template(path = "security.html")]
struct SecurityPage {
    csrf: String,
    totp: bool,
    passkeys: Vec<guildhall_app::mfa::PasskeyView>,
    recovery_codes_left: u32,
    has_password: bool,
    notice: &'static str,
}

#[derive(Deserialize)]
struct NoticeQuery {
    notice: Option<String>,
}

async fn show_security(
    State(state): State<HttpState>,
    jar: CookieJar,
    who: SignedIn,
    Query(q): Query<NoticeQuery>,
) -> Result<Response, PageError> {
    let status = state.app.mfa().status(&who.account).await?;
    let has_password = state.app.accounts().has_password(&who.account).await?;
    let (jar, csrf) = csrf::token(&state, jar);
    let page = SecurityPage {
        csrf,
        totp: status.totp,
        passkeys: status.passkeys,
        recovery_codes_left: status.recovery_codes_left,
        has_password,
        notice: notice(q.notice.as_deref()),
    };
    Ok((jar, render(&page)).into_response())
}

#[derive(Template)]
#[template(path = "totp_setup.html")]
struct SetupPage {
    csrf: String,
    qr_svg: String,
    secret: String,
    form_error: String,
}

/// The otpauth URL as an SVG QR code (no script, no inline style).
fn qr_svg(text: &str) -> String {
    match fast_qr::qr::QRBuilder::new(text).build() {
        Ok(qr) => fast_qr::convert::svg::SvgBuilder::default().to_str(&qr),
        Err(_) => String::new(),
    }
}

fn setup_page(state: &HttpState, jar: CookieJar, setup: TotpSetup, form_error: String, status: StatusCode) -> Response {
    let (jar, csrf) = csrf::token(state, jar);
    let page = SetupPage { csrf, qr_svg: qr_svg(&setup.otpauth_url), secret: setup.secret_base32, form_error };
    (status, jar, render(&page)).into_response()
}

/// Adding a way in needs a recent sign-in ("sudo mode"): a borrowed,
/// long-lived session cannot add its own second factor.
fn require_recent_sign_in(state: &HttpState, who: &SignedIn) -> Result<(), PageError> {
    if state.app.sessions().signed_in_recently(&who.session) {
        Ok(())
    } else {
        Err(PageError::SignInRequired("/account/security".to_owned()))
    }
}

async fn begin_totp(
    State(state): State<HttpState>,
    jar: CookieJar,
    who: SignedIn,
    CsrfForm(_): CsrfForm<serde::de::IgnoredAny>,
) -> Result<Response, PageError> {
    require_recent_sign_in(&state, &who)?;
    let setup = state.app.mfa().begin_totp(&who.account).await?;
    Ok(setup_page(&state, jar, setup, String::new(), StatusCode::OK))
}

#[derive(Template)]
#[template(path = "recovery_codes.html")]
struct CodesPage {
    codes: Vec<String>,
}

async fn confirm_totp(
    State(state): State<HttpState>,
    jar: CookieJar,
    who: SignedIn,
    CsrfForm(f): CsrfForm<CodeForm>,
) -> Result<Response, PageError> {
    require_recent_sign_in(&state, &who)?;
    let mfa = state.app.mfa();
    match mfa.confirm_totp(&who.account, &f.code).await {
        Ok(codes) => {
            let jar = session::rotate(&state, jar, &who).await?;
            Ok(match codes {
                Some(codes) => (jar, render(&CodesPage { codes })).into_response(),
                None => (jar, Redirect::to("/account/security?notice=totp-added")).into_response(),
            })
        }
        Err(AppError::Invalid(errors)) => {
            let setup = mfa.pending_totp(&who.account).await?.ok_or(AppError::NotFound)?;
            Ok(setup_page(&state, jar, setup, errors.summary(), StatusCode::UNPROCESSABLE_ENTITY))
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
struct ProofForm {
    #[serde(default)]
    proof: String,
}

async fn remove_totp(
    State(state): State<HttpState>,
    jar: CookieJar,
    who: SignedIn,
    CsrfForm(f): CsrfForm<ProofForm>,
) -> Result<Response, PageError> {
    state.app.mfa().remove_totp(&who.account, &f.proof).await?;
    let jar = session::rotate(&state, jar, &who).await?;
    Ok((jar, Redirect::to("/account/security?notice=totp-removed")).into_response())
}

async fn regenerate_codes(
    State(state): State<HttpState>,
    who: SignedIn,
    CsrfForm(f): CsrfForm<ProofForm>,
) -> Result<Response, PageError> {
    let codes = state.app.mfa().regenerate_recovery_codes(&who.account, &f.proof).await?;
    Ok(render(&CodesPage { codes }).into_response())
}
