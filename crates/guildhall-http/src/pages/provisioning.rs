//! The provisioning page of a workspace or an organization, for its admins
//! (docs/provisioning.md): connect an application's SCIM endpoint, see each
//! connection's sync status and last error, sync now, enable, disable and
//! remove. Everyone else gets 404, as in the API.

use crate::HttpState;
use crate::csrf::{self, CsrfForm};
use crate::error::PageError;
use crate::pages::PageScopeAdmin;
use crate::pages::render;
use askama::Template;
use axum::Router;
use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::cookie::CookieJar;
use guildhall_app::provisioning::{ConnectionChange, ConnectionView, NewConnection};
use serde::Deserialize;

pub fn router() -> Router<HttpState> {
    let mut router = Router::new();
    for base in ["/workspaces/{ws}", "/orgs/{org}"] {
        router = router
            .route(&format!("{base}/provisioning"), get(show_provisioning).post(create_connection))
            .route(&format!("{base}/provisioning/{{id}}/sync"), post(sync_now))
            .route(&format!("{base}/provisioning/{{id}}/enabled"), post(set_enabled))
            .route(&format!("{base}/provisioning/{{id}}/delete"), post(delete_connection));
    }
    router
}

/// The `{id}` path parameter.
struct Id(String);

impl<S: Send + Sync> FromRequestParts<S> for Id {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(crate::path_param(parts, "id").await?))
    }
}

struct Row {
    id: String,
    name: String,
    base_url: String,
    enabled: bool,
    status: &'static str,
    last_error: String,
    last_synced: String,
    next_attempt: String,
    users: u64,
    deprovisioned: u64,
    groups: u64,
}

impl From<&ConnectionView> for Row {
    fn from(v: &ConnectionView) -> Self {
        let c = &v.connection;
        Self {
            id: c.id.to_string(),
            name: c.name.clone(),
            base_url: c.base_url.clone(),
            enabled: c.enabled,
            status: match (c.enabled, c.status.as_str()) {
                (false, _) => "disabled",
                (true, "in_sync") => "in sync",
                (true, s) => s,
            },
            last_error: c.last_error.clone().unwrap_or_default(),
            last_synced: c.last_synced_at.map(|t| t.rfc3339()).unwrap_or_default(),
            next_attempt: c.next_attempt_at.map(|t| t.rfc3339()).unwrap_or_default(),
            users: v.counts.users,
            deprovisioned: v.counts.deprovisioned,
            groups: v.counts.groups,
        }
    }
}

#[derive(Template)]
#[template(path = "provisioning.html")]
struct ProvisioningPage {
    csrf: String,
    name: String,
    base: String,
    notice: &'static str,
    connections: Vec<Row>,
}

#[derive(Deserialize)]
struct PageQuery {
    notice: Option<String>,
}

fn notice(key: Option<&str>) -> &'static str {
    match key {
        Some("created") => "The application is connected; its first sync starts within moments.",
        Some("syncing") => "A full sync starts within moments.",
        Some("updated") => "The connection is saved.",
        Some("deleted") => "The connection is removed; the application keeps what it was sent.",
        _ => "",
    }
}

fn back(p: &PageScopeAdmin, notice: &str) -> Response {
    Redirect::to(&format!("{}/provisioning?notice={notice}", p.base)).into_response()
}

async fn show_provisioning(
    State(state): State<HttpState>,
    jar: CookieJar,
    p: PageScopeAdmin,
    Query(q): Query<PageQuery>,
) -> Result<Response, PageError> {
    let connections = state.app.provisioning().list(&p.admin).await?;
    let (jar, csrf) = csrf::token(&state, jar);
    let page = ProvisioningPage {
        csrf,
        name: p.name,
        base: p.base,
        notice: notice(q.notice.as_deref()),
        connections: connections.iter().map(Row::from).collect(),
    };
    Ok((jar, render(&page)).into_response())
}

#[derive(Deserialize)]
struct CreateForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    base_url: String,
    #[serde(default)]
    token: String,
}

async fn create_connection(
    State(state): State<HttpState>,
    p: PageScopeAdmin,
    CsrfForm(f): CsrfForm<CreateForm>,
) -> Result<Response, PageError> {
    let new = NewConnection { name: &f.name, base_url: &f.base_url, token: &f.token, enabled: true };
    state.app.provisioning().create(&p.admin, new).await?;
    Ok(back(&p, "created"))
}

async fn sync_now(
    State(state): State<HttpState>,
    p: PageScopeAdmin,
    Id(id): Id,
    CsrfForm(_): CsrfForm<serde::de::IgnoredAny>,
) -> Result<Response, PageError> {
    state.app.provisioning().sync_now(&p.admin, &id).await?;
    Ok(back(&p, "syncing"))
}

#[derive(Deserialize)]
struct EnabledForm {
    #[serde(default)]
    enabled: bool,
}

async fn set_enabled(
    State(state): State<HttpState>,
    p: PageScopeAdmin,
    Id(id): Id,
    CsrfForm(f): CsrfForm<EnabledForm>,
) -> Result<Response, PageError> {
    let change = ConnectionChange { enabled: Some(f.enabled), ..ConnectionChange::default() };
    state.app.provisioning().update(&p.admin, &id, change).await?;
    Ok(back(&p, "updated"))
}

async fn delete_connection(
    State(state): State<HttpState>,
    p: PageScopeAdmin,
    Id(id): Id,
    CsrfForm(_): CsrfForm<serde::de::IgnoredAny>,
) -> Result<Response, PageError> {
    state.app.provisioning().delete(&p.admin, &id).await?;
    Ok(back(&p, "deleted"))
}
