//! Sites (SPEC §7): each site's own sign-up, sign-in and customer page, and
//! its admins' customer list. The customer cookie is scoped to the site's
//! path and bound to the site on the server: it grants nothing elsewhere.

use crate::HttpState;
use crate::client::Client;
use crate::csrf::{self, CsrfForm};
use crate::error::PageError;
use crate::pages::render;
use crate::session::SignedIn;
use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use guildhall_app::AppError;
use guildhall_app::ports::{Customer, Site};
use guildhall_app::workspaces::Actor;
use guildhall_core::tokens::SecretToken;
use serde::Deserialize;

pub fn router() -> Router<HttpState> {
    Router::new()
        .route("/sites/{site}", get(home))
        .route("/sites/{site}/signup", get(show_signup).post(signup))
        .route("/sites/{site}/login", get(show_login).post(login))
        .route("/sites/{site}/logout", post(logout))
        .route("/sites/{site}/admin", get(admin))
        .route("/sites/{site}/admin/customers/{customer}/status", post(set_status))
        .route("/sites/{site}/admin/customers/{customer}/reset", post(send_reset))
        .route("/sites/{site}/reset", get(show_reset).post(reset))
}

const COOKIE: &str = "gh_customer";

fn set_cookie(state: &HttpState, jar: CookieJar, site: &Site, token: &SecretToken) -> CookieJar {
    let cookie = Cookie::build((COOKIE, token.expose().to_owned()))
        .path(format!("/sites/{}", site.slug))
        .http_only(true)
        .secure(state.config.secure_cookies())
        .same_site(SameSite::Lax)
        .build();
    jar.add(cookie)
}

#[derive(Template)]
#[template(path = "site_form.html")]
struct FormPage {
    csrf: String,
    site: Site,
    title: &'static str,
    action: &'static str,
    email: String,
    error: String,
}

fn form(
    state: &HttpState,
    jar: CookieJar,
    site: Site,
    signup: bool,
    email: String,
    error: String,
) -> (CookieJar, Response) {
    let (jar, csrf) = csrf::token(state, jar);
    let (title, action) = if signup { ("Create an account", "signup") } else { ("Sign in", "login") };
    let page = FormPage { csrf, site, title, action, email, error };
    (jar, render(&page).into_response())
}

async fn show_signup(
    State(state): State<HttpState>,
    jar: CookieJar,
    Path(site): Path<String>,
) -> Result<Response, PageError> {
    let site = state.app.sites().site(&site).await?;
    Ok(form(&state, jar, site, true, String::new(), String::new()).into_response())
}

async fn show_login(
    State(state): State<HttpState>,
    jar: CookieJar,
    Path(site): Path<String>,
) -> Result<Response, PageError> {
    let site = state.app.sites().site(&site).await?;
    Ok(form(&state, jar, site, false, String::new(), String::new()).into_response())
}

#[derive(Deserialize)]
struct Credentials {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

/// A failed sign-up or sign-in: the form again, with the reason.
fn refused(
    state: &HttpState,
    jar: CookieJar,
    site: Site,
    signup: bool,
    email: String,
    e: AppError,
) -> Result<Response, PageError> {
    let (status, message) = match e {
        AppError::Invalid(errors) => (StatusCode::UNPROCESSABLE_ENTITY, errors.summary()),
        AppError::InvalidCredentials => (StatusCode::UNAUTHORIZED, "Email or password is incorrect.".to_owned()),
        AppError::AccountDeactivated => (StatusCode::FORBIDDEN, "This account is deactivated.".to_owned()),
        AppError::Throttled { .. } => (StatusCode::TOO_MANY_REQUESTS, "Too many attempts; try again later.".to_owned()),
        e => return Err(e.into()),
    };
    let (jar, page) = form(state, jar, site, signup, email, message);
    Ok((status, jar, page).into_response())
}

async fn signup(
    State(state): State<HttpState>,
    jar: CookieJar,
    Path(site): Path<String>,
    CsrfForm(f): CsrfForm<Credentials>,
) -> Result<Response, PageError> {
    let site = state.app.sites().site(&site).await?;
    match state.app.sites().signup(&site, &f.email, &f.password).await {
        Ok((_, token)) => {
            let jar = set_cookie(&state, jar, &site, &token);
            Ok((jar, Redirect::to(&format!("/sites/{}", site.slug))).into_response())
        }
        Err(e) => refused(&state, jar, site, true, f.email, e),
    }
}

async fn login(
    State(state): State<HttpState>,
    jar: CookieJar,
    Client(client): Client,
    Path(site): Path<String>,
    CsrfForm(f): CsrfForm<Credentials>,
) -> Result<Response, PageError> {
    let site = state.app.sites().site(&site).await?;
    match state.app.sites().login(&site, &f.email, &f.password, &client).await {
        Ok(token) => {
            let jar = set_cookie(&state, jar, &site, &token);
            Ok((jar, Redirect::to(&format!("/sites/{}", site.slug))).into_response())
        }
        Err(e) => refused(&state, jar, site, false, f.email, e),
    }
}

/// The site's customer for this request, if signed in to this site.
async fn customer(state: &HttpState, jar: &CookieJar, site: &Site) -> Result<Option<Customer>, AppError> {
    match jar.get(COOKIE) {
        Some(c) => state.app.sites().customer(site, c.value()).await,
        None => Ok(None),
    }
}

#[derive(Template)]
#[template(path = "site_home.html")]
struct HomePage {
    csrf: String,
    site: Site,
    email: String,
}

async fn home(State(state): State<HttpState>, jar: CookieJar, Path(site): Path<String>) -> Result<Response, PageError> {
    let site = state.app.sites().site(&site).await?;
    let Some(customer) = customer(&state, &jar, &site).await? else {
        return Ok(Redirect::to(&format!("/sites/{}/login", site.slug)).into_response());
    };
    let (jar, csrf) = csrf::token(&state, jar);
    Ok((jar, render(&HomePage { csrf, site, email: customer.email.to_string() })).into_response())
}

async fn logout(
    State(state): State<HttpState>,
    jar: CookieJar,
    Path(site): Path<String>,
    CsrfForm(_): CsrfForm<serde::de::IgnoredAny>,
) -> Result<Response, PageError> {
    let site = state.app.sites().site(&site).await?;
    if let Some(c) = jar.get(COOKIE) {
        state.app.sites().logout(c.value()).await?;
    }
    let jar = jar.remove(Cookie::build(COOKIE).path(format!("/sites/{}", site.slug)));
    Ok((jar, Redirect::to(&format!("/sites/{}/login", site.slug))).into_response())
}

#[derive(Template)]
#[template(path = "site_admin.html")]
struct AdminPage {
    csrf: String,
    site: Site,
    customers: Vec<Customer>,
    notice: &'static str,
}

#[derive(Deserialize)]
struct AdminQuery {
    notice: Option<String>,
}

async fn admin(
    State(state): State<HttpState>,
    jar: CookieJar,
    who: SignedIn,
    Client(client): Client,
    Path(site): Path<String>,
    Query(q): Query<AdminQuery>,
) -> Result<Response, PageError> {
    let a = state.app.sites().open(Actor { account: who.account, ip: client.ip }, &site).await?;
    let customers = state.app.sites().customers(&a).await?;
    let notice = if q.notice.as_deref() == Some("reset-sent") {
        "The customer was sent a link to choose a new password."
    } else {
        ""
    };
    let (jar, csrf) = csrf::token(&state, jar);
    Ok((jar, render(&AdminPage { csrf, site: a.site, customers, notice })).into_response())
}

#[derive(Deserialize)]
struct StatusForm {
    #[serde(default)]
    status: String,
}

async fn set_status(
    State(state): State<HttpState>,
    who: SignedIn,
    Client(client): Client,
    Path((site, customer)): Path<(String, String)>,
    CsrfForm(f): CsrfForm<StatusForm>,
) -> Result<Response, PageError> {
    let a = state.app.sites().open(Actor { account: who.account, ip: client.ip }, &site).await?;
    state.app.sites().set_status(&a, &customer, &f.status).await?;
    Ok(Redirect::to(&format!("/sites/{}/admin", a.site.slug)).into_response())
}

async fn send_reset(
    State(state): State<HttpState>,
    who: SignedIn,
    Client(client): Client,
    Path((site, customer)): Path<(String, String)>,
    CsrfForm(_): CsrfForm<serde::de::IgnoredAny>,
) -> Result<Response, PageError> {
    let a = state.app.sites().open(Actor { account: who.account, ip: client.ip }, &site).await?;
    state.app.sites().send_reset(&a, &customer).await?;
    Ok(Redirect::to(&format!("/sites/{}/admin?notice=reset-sent", a.site.slug)).into_response())
}

#[derive(Template)]
#[template(path = "site_reset.html")]
struct ResetPage {
    csrf: String,
    site: Site,
    token: String,
    error: String,
}

#[derive(Deserialize)]
struct ResetQuery {
    #[serde(default)]
    token: String,
}

async fn show_reset(
    State(state): State<HttpState>,
    jar: CookieJar,
    Path(site): Path<String>,
    Query(q): Query<ResetQuery>,
) -> Result<Response, PageError> {
    let site = state.app.sites().site(&site).await?;
    let (jar, csrf) = csrf::token(&state, jar);
    Ok((jar, render(&ResetPage { csrf, site, token: q.token, error: String::new() })).into_response())
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
    Path(site): Path<String>,
    CsrfForm(f): CsrfForm<ResetForm>,
) -> Result<Response, PageError> {
    let site = state.app.sites().site(&site).await?;
    match state.app.sites().complete_reset(&site, &f.token, &f.password).await {
        Ok(_) => Ok(Redirect::to(&format!("/sites/{}/login", site.slug)).into_response()),
        Err(AppError::Invalid(errors)) => {
            let error = errors.summary();
            let (jar, csrf) = csrf::token(&state, jar);
            let page = ResetPage { csrf, site, token: f.token, error };
            Ok((StatusCode::UNPROCESSABLE_ENTITY, jar, render(&page)).into_response())
        }
        Err(e) => Err(e.into()),
    }
}
