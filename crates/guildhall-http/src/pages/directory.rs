//! "Directory sync" pages for workspace and org admins: the SCIM and event
//! log addresses an application needs, and the directory tokens it uses
//! (made here, shown once, revocable). ADR 0011.

use crate::HttpState;
use crate::client::Client;
use crate::csrf::{self, CsrfForm};
use crate::error::PageError;
use crate::pages::{notice, render, render_message};
use crate::session::SignedIn;
use askama::Template;
use axum::Router;
use axum::extract::{FromRef, FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::cookie::CookieJar;
use guildhall_app::directory::{Caller, DirectoryAccess, Target};
use guildhall_app::ports::DirectoryToken;
use serde::Deserialize;
use std::collections::HashMap;

pub fn router() -> Router<HttpState> {
    Router::new()
        .route("/workspaces/{ws}/directory", get(show))
        .route("/workspaces/{ws}/directory/tokens", post(create_token))
        .route("/workspaces/{ws}/directory/tokens/{id}/revoke", post(revoke_token))
        .route("/orgs/{org}/directory", get(show))
        .route("/orgs/{org}/directory/tokens", post(create_token))
        .route("/orgs/{org}/directory/tokens/{id}/revoke", post(revoke_token))
}

/// A signed-in admin of the `{ws}` or `{org}` in the path; 404 for anyone else.
struct PageDirectory(DirectoryAccess, String);

impl<S> FromRequestParts<S> for PageDirectory
where
    HttpState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let who = SignedIn::from_request_parts(parts, state).await?;
        let Ok(client) = Client::from_request_parts(parts, state).await;
        let Path(params) = Path::<HashMap<String, String>>::from_request_parts(parts, &())
            .await
            .map_err(|_| guildhall_app::AppError::NotFound)?;
        let (target, home) = match (params.get("ws"), params.get("org")) {
            (Some(ws), _) => (Target::Workspace(ws), format!("/workspaces/{ws}")),
            (None, Some(org)) => (Target::Org(org), format!("/orgs/{org}")),
            (None, None) => return Err(guildhall_app::AppError::NotFound.into()),
        };
        let http = HttpState::from_ref(state);
        let d = http.app.directory().authorize(target, Caller::Session(who.account), client.0.ip).await?;
        Ok(Self(d, home))
    }
}

#[derive(Template)]
#[template(path = "directory.html")]
struct DirectoryPage {
    csrf: String,
    name: String,
    home: String,
    scim_url: String,
    events_url: String,
    snapshot_url: String,
    writable: bool,
    tokens: Vec<DirectoryToken>,
    notice: String,
}

#[derive(Deserialize)]
struct NoticeQuery {
    notice: Option<String>,
}

async fn show(
    State(state): State<HttpState>,
    jar: CookieJar,
    PageDirectory(d, home): PageDirectory,
    Query(q): Query<NoticeQuery>,
) -> Result<Response, PageError> {
    let tokens = state.app.directory().tokens(&d).await?;
    let (jar, csrf) = csrf::token(&state, jar);
    let root = state.config.public_url.as_str().trim_end_matches('/');
    let (name, kind) = match (&d.workspace, &d.org) {
        (Some(w), _) => (w.name.clone(), "workspaces"),
        (None, Some(o)) => (o.name.clone(), "orgs"),
        (None, None) => return Err(guildhall_app::AppError::NotFound.into()),
    };
    let slug = d.slug().to_owned();
    let page = DirectoryPage {
        csrf,
        name,
        home,
        scim_url: format!("{root}/scim/v2/{kind}/{slug}"),
        events_url: format!("{root}/api/v1/{kind}/{slug}/events?after=0"),
        snapshot_url: if d.workspace.is_some() {
            format!("{root}/api/v1/workspaces/{slug}/snapshot")
        } else {
            String::new()
        },
        writable: d.org.is_some(),
        tokens,
        notice: notice(q.notice.as_deref()).to_owned(),
    };
    Ok((jar, render(&page)).into_response())
}

#[derive(Deserialize)]
struct TokenForm {
    #[serde(default)]
    name: String,
}

async fn create_token(
    State(state): State<HttpState>,
    PageDirectory(d, home): PageDirectory,
    CsrfForm(f): CsrfForm<TokenForm>,
) -> Result<Response, PageError> {
    let (token, secret) = state.app.directory().create_token(&d, &f.name).await?;
    Ok(render_message(
        &format!("Directory token {}", token.name),
        &format!("Give the application this token now; it is not shown again: {}", secret.expose()),
        &format!("{home}/directory"),
        "Back to directory sync",
    )
    .into_response())
}

async fn revoke_token(
    State(state): State<HttpState>,
    PageDirectory(d, home): PageDirectory,
    Path(params): Path<HashMap<String, String>>,
    CsrfForm(_): CsrfForm<serde::de::IgnoredAny>,
) -> Result<Response, PageError> {
    let id = params.get("id").map(String::as_str).unwrap_or_default();
    state.app.directory().revoke_token(&d, id).await?;
    Ok(Redirect::to(&format!("{home}/directory?notice=token-revoked")).into_response())
}
