//! Directory sync over the JSON API (ADR 0011): the event log
//! (`GET …/events?after=CURSOR`), the workspace snapshot with the cursor it
//! is consistent with, and the directory tokens admins make for applications.

use super::caller::ApiCaller;
use super::json::ApiJson;
use crate::HttpState;
use crate::error::ApiError;
use axum::Json;
use axum::extract::{FromRef, FromRequestParts, Path, Query, State};
use axum::http::StatusCode;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use guildhall_app::AppError;
use guildhall_app::directory::{Caller, DirectoryAccess, Target, account_json};
use guildhall_app::ports::{DirectoryToken, Event};
use guildhall_core::workspaces::{PermissionData, PermissionIndex};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<HttpState> {
    OpenApiRouter::new()
        .routes(routes!(workspace_events))
        .routes(routes!(org_events))
        .routes(routes!(workspace_snapshot))
        .routes(routes!(org_snapshot))
        .routes(routes!(list_ws_tokens, create_ws_token))
        .routes(routes!(revoke_ws_token))
        .routes(routes!(list_org_tokens, create_org_token))
        .routes(routes!(revoke_org_token))
}

/// The directory the path names (`{ws}` or `{org}`) and the caller's right
/// to it: a bearer token (directory or personal with `scim`), or else an
/// admin's browser session.
pub(crate) async fn directory_access<S>(parts: &mut Parts, state: &S) -> Result<DirectoryAccess, AppError>
where
    HttpState: FromRef<S>,
    S: Send + Sync,
{
    let http = HttpState::from_ref(state);
    let Path(params) =
        Path::<HashMap<String, String>>::from_request_parts(parts, &()).await.map_err(|_| AppError::NotFound)?;
    let target = match (params.get("ws"), params.get("org")) {
        (Some(ws), _) => Target::Workspace(ws),
        (None, Some(org)) => Target::Org(org),
        (None, None) => return Err(AppError::NotFound),
    };
    let Ok(crate::client::Client(client)) = crate::client::Client::from_request_parts(parts, state).await;
    let bearer = parts.headers.get(AUTHORIZATION).map(|h| {
        let value = h.to_str().unwrap_or_default();
        value
            .split_once(' ')
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim().to_owned())
            .unwrap_or_default()
    });
    let caller = match &bearer {
        Some(b) => Caller::Bearer(b),
        None => {
            let session = ApiCaller::from_request_parts(parts, state).await.map_err(|_| AppError::Unauthenticated)?;
            Caller::Session(session.account)
        }
    };
    http.app.directory().authorize(target, caller, client.ip).await
}

/// The capability for the `{ws}` or `{org}` directory.
pub struct Directory(pub DirectoryAccess);

impl<S> FromRequestParts<S> for Directory
where
    HttpState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(directory_access(parts, state).await?))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EventsQuery {
    /// The cursor: the last event seen (0, or absent, for the beginning).
    after: Option<i64>,
    limit: Option<u32>,
}

/// An event as the API shows it.
pub fn event_json(e: &Event) -> Value {
    json!({
        "cursor": e.seq,
        "type": e.kind,
        "occurred_at": e.at.rfc3339(),
        "data": e.data,
    })
}

async fn events_page(state: &HttpState, d: &DirectoryAccess, q: EventsQuery) -> Result<Json<Value>, ApiError> {
    let limit = q.limit.unwrap_or(1000);
    if !(1..=10_000).contains(&limit) {
        return Err(AppError::invalid("limit", "limit is 1 to 10000").into());
    }
    let after = q.after.unwrap_or(0);
    if after < 0 {
        return Err(AppError::invalid("after", "after is a cursor from an earlier page or snapshot (0 or more)").into());
    }
    let events = state.app.directory().events(d, after, limit).await?;
    let next = events.last().map_or(after, |e| e.seq);
    Ok(Json(json!({
        "events": events.iter().map(event_json).collect::<Vec<_>>(),
        "next": next,
        "more": events.len() == limit as usize,
    })))
}

type EventsQueryResult = Result<Query<EventsQuery>, axum::extract::rejection::QueryRejection>;

fn query(q: EventsQueryResult) -> Result<EventsQuery, ApiError> {
    q.map(|Query(q)| q).map_err(|e| AppError::invalid("query", e.body_text()).into())
}

#[utoipa::path(
    get,
    path = "/workspaces/{ws}/events",
    tag = "directory sync",
    summary = "The workspace's event log after a cursor, oldest first; `next` is the cursor for the following page",
    params(("ws" = String, Path, description = "Workspace slug"),
           ("after" = Option<i64>, Query, description = "Cursor (0 or a snapshot's cursor)"),
           ("limit" = Option<u32>, Query, description = "1 to 10000, default 1000")),
    responses((status = 200, description = "Success"), (status = 401, description = "Not authenticated"), (status = 404, description = "Unknown, or not an admin"), (status = 403, description = "Missing scope")),
    security(("bearer" = ["scim"]), ("session" = []))
)]
async fn workspace_events(
    State(state): State<HttpState>,
    Directory(d): Directory,
    q: EventsQueryResult,
) -> Result<Json<Value>, ApiError> {
    events_page(&state, &d, query(q)?).await
}

#[utoipa::path(
    get,
    path = "/orgs/{org}/events",
    tag = "directory sync",
    summary = "The organization's event log after a cursor, oldest first",
    params(("org" = String, Path, description = "Organization slug"),
           ("after" = Option<i64>, Query, description = "Cursor"),
           ("limit" = Option<u32>, Query, description = "1 to 10000, default 1000")),
    responses((status = 200, description = "Success"), (status = 401, description = "Not authenticated"), (status = 404, description = "Unknown, or not an admin"), (status = 403, description = "Missing scope")),
    security(("bearer" = ["scim"]), ("session" = []))
)]
async fn org_events(
    State(state): State<HttpState>,
    Directory(d): Directory,
    q: EventsQueryResult,
) -> Result<Json<Value>, ApiError> {
    events_page(&state, &d, query(q)?).await
}

#[utoipa::path(
    get,
    path = "/workspaces/{ws}/snapshot",
    tag = "directory sync",
    summary = "Members, groups, repositories and effective permissions, with the event cursor they are consistent with",
    params(("ws" = String, Path, description = "Workspace slug")),
    responses((status = 200, description = "Success"), (status = 401, description = "Not authenticated"), (status = 404, description = "Unknown, or not an admin"), (status = 403, description = "Missing scope")),
    security(("bearer" = ["scim"]), ("session" = []))
)]
async fn workspace_snapshot(State(state): State<HttpState>, Directory(d): Directory) -> Result<Json<Value>, ApiError> {
    let snap = state.app.directory().snapshot(&d).await?;
    let username: HashMap<_, _> = snap.members.iter().map(|a| (a.id, a.username.to_string())).collect();
    // Effective permissions come from the same math as the permission check.
    let mut data = PermissionData::default();
    for (i, g) in snap.groups.iter().enumerate() {
        data.groups.push((g.default_permission, g.is_admins));
        data.memberships.extend(g.members.iter().filter_map(|m| username.get(m)).map(|u| (u.clone(), i)));
    }
    let position: HashMap<_, _> = snap.groups.iter().enumerate().map(|(i, g)| (g.id, i)).collect();
    for r in &snap.repositories {
        data.repositories.push(r.slug.clone());
        for (g, p) in &r.groups {
            if let Some(i) = position.get(g) {
                data.group_permissions.push((*i, r.slug.clone(), *p));
            }
        }
        for (a, p) in &r.grants {
            if let Some(u) = username.get(a) {
                data.grants.push((u.clone(), r.slug.clone(), *p));
            }
        }
    }
    let index = PermissionIndex::build(data);
    let groups_of =
        |id| -> Vec<&str> { snap.groups.iter().filter(|g| g.members.contains(&id)).map(|g| g.slug.as_str()).collect() };
    let members: Vec<Value> = snap
        .members
        .iter()
        .map(|a| {
            let mut v = account_json(a);
            v["groups"] = json!(groups_of(a.id));
            v
        })
        .collect();
    let groups: Vec<Value> = snap
        .groups
        .iter()
        .map(|g| {
            json!({
                "id": g.id.0, "slug": g.slug, "name": g.name,
                "default_permission": g.default_permission.as_str(), "administrators": g.is_admins,
                "members": g.members.iter().map(|m| m.0).collect::<Vec<_>>(),
            })
        })
        .collect();
    let repositories: Vec<Value> = snap
        .repositories
        .iter()
        .map(|r| {
            let access: Vec<Value> = snap
                .members
                .iter()
                .filter_map(|a| {
                    let p = index.permission(a.username.as_str(), &r.slug)?;
                    (p != guildhall_core::workspaces::Permission::None)
                        .then(|| json!({ "account": a.id.0, "username": a.username.as_str(), "permission": p.as_str() }))
                })
                .collect();
            json!({
                "id": r.id.0, "slug": r.slug, "name": r.name, "private": r.private,
                "groups": r.groups.iter().map(|(g, p)| json!({ "group": g.0, "permission": p.as_str() })).collect::<Vec<_>>(),
                "grants": r.grants.iter().map(|(a, p)| json!({ "account": a.0, "permission": p.as_str() })).collect::<Vec<_>>(),
                "access": access,
            })
        })
        .collect();
    Ok(Json(json!({
        "cursor": snap.cursor,
        "workspace": d.workspace.as_ref().map(guildhall_app::directory::workspace_json),
        "members": members,
        "groups": groups,
        "repositories": repositories,
    })))
}

#[utoipa::path(
    get,
    path = "/orgs/{org}/snapshot",
    tag = "directory sync",
    summary = "The organization's managed accounts and directory groups, with the event cursor they are consistent with",
    params(("org" = String, Path, description = "Organization slug")),
    responses((status = 200, description = "Success"), (status = 401, description = "Not authenticated"), (status = 404, description = "Unknown, or not an admin"), (status = 403, description = "Missing scope")),
    security(("bearer" = ["scim"]), ("session" = []))
)]
async fn org_snapshot(State(state): State<HttpState>, Directory(d): Directory) -> Result<Json<Value>, ApiError> {
    let (cursor, users, groups) = state.app.directory().org_snapshot(&d).await?;
    let accounts: Vec<Value> = users
        .iter()
        .map(|u| {
            let mut v = account_json(&u.account);
            v["directory_user_name"] = json!(u.user_name);
            v["external_id"] = json!(u.external_id);
            v["groups"] = json!(u.groups.iter().map(|(id, _)| id).collect::<Vec<_>>());
            v
        })
        .collect();
    let groups: Vec<Value> = groups
        .iter()
        .map(|g| {
            json!({
                "id": g.id, "display_name": g.display_name, "external_id": g.external_id,
                "members": g.members.iter().map(|(a, _)| a.0).collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(Json(json!({ "cursor": cursor, "accounts": accounts, "groups": groups })))
}

fn token_json(t: &DirectoryToken) -> Value {
    json!({
        "id": t.id,
        "name": t.name,
        "created_by": t.created_by,
        "created_at": t.created_at.rfc3339(),
        "last_used_at": t.last_used_at.map(|t| t.rfc3339()),
    })
}

/// Directory tokens are managed by an admin in a browser session; a token
/// cannot mint tokens.
async fn admin_session<S>(parts: &mut Parts, state: &S) -> Result<DirectoryAccess, ApiError>
where
    HttpState: FromRef<S>,
    S: Send + Sync,
{
    if parts.headers.contains_key(AUTHORIZATION) {
        return Err(AppError::Forbidden("Use a signed-in browser session for this.".into()).into());
    }
    Ok(directory_access(parts, state).await?)
}

/// An admin, signed in with a browser session, of the `{ws}` or `{org}`.
pub struct DirectoryAdmin(pub DirectoryAccess);

impl<S> FromRequestParts<S> for DirectoryAdmin
where
    HttpState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        admin_session(parts, state).await.map(Self)
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateDirectoryToken {
    name: String,
}

async fn list_tokens(state: &HttpState, d: &DirectoryAccess) -> Result<Json<Value>, ApiError> {
    let tokens = state.app.directory().tokens(d).await?;
    Ok(Json(json!({ "tokens": tokens.iter().map(token_json).collect::<Vec<_>>() })))
}

async fn create_token(
    state: &HttpState,
    d: &DirectoryAccess,
    body: CreateDirectoryToken,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let (token, secret) = state.app.directory().create_token(d, &body.name).await?;
    let mut v = token_json(&token);
    v["token"] = json!(secret.expose());
    Ok((StatusCode::CREATED, Json(v)))
}

#[utoipa::path(get, path = "/workspaces/{ws}/directory-tokens", tag = "directory sync",
    summary = "The workspace's directory tokens (for SCIM and the event log)",
    params(("ws" = String, Path, description = "Workspace slug")),
    responses((status = 200, description = "Success"), (status = 404, description = "Unknown, or not an admin"), (status = 403, description = "Not a browser session")),
    security(("session" = [])))]
async fn list_ws_tokens(
    State(state): State<HttpState>,
    DirectoryAdmin(d): DirectoryAdmin,
) -> Result<Json<Value>, ApiError> {
    list_tokens(&state, &d).await
}

#[utoipa::path(post, path = "/workspaces/{ws}/directory-tokens", tag = "directory sync",
    summary = "Make a directory token for an application (the secret is in this response only)",
    params(("ws" = String, Path, description = "Workspace slug")), request_body = CreateDirectoryToken,
    responses((status = 201, description = "Success"), (status = 404, description = "Unknown, or not an admin"), (status = 403, description = "Not a browser session"), (status = 422, description = "Invalid input; nothing changed")),
    security(("session" = [])))]
async fn create_ws_token(
    State(state): State<HttpState>,
    DirectoryAdmin(d): DirectoryAdmin,
    ApiJson(body): ApiJson<CreateDirectoryToken>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    create_token(&state, &d, body).await
}

#[utoipa::path(delete, path = "/workspaces/{ws}/directory-tokens/{id}", tag = "directory sync",
    summary = "Revoke a directory token",
    params(("ws" = String, Path, description = "Workspace slug"), ("id" = String, Path, description = "Token id")),
    responses((status = 204, description = "Revoked"), (status = 404, description = "Unknown")),
    security(("session" = [])))]
async fn revoke_ws_token(
    State(state): State<HttpState>,
    DirectoryAdmin(d): DirectoryAdmin,
    Path((_, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state.app.directory().revoke_token(&d, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/orgs/{org}/directory-tokens", tag = "directory sync",
    summary = "The organization's directory tokens (for SCIM and the event log)",
    params(("org" = String, Path, description = "Organization slug")),
    responses((status = 200, description = "Success"), (status = 404, description = "Unknown, or not an admin"), (status = 403, description = "Not a browser session")),
    security(("session" = [])))]
async fn list_org_tokens(
    State(state): State<HttpState>,
    DirectoryAdmin(d): DirectoryAdmin,
) -> Result<Json<Value>, ApiError> {
    list_tokens(&state, &d).await
}

#[utoipa::path(post, path = "/orgs/{org}/directory-tokens", tag = "directory sync",
    summary = "Make a directory token for the org's identity provider or an application",
    params(("org" = String, Path, description = "Organization slug")), request_body = CreateDirectoryToken,
    responses((status = 201, description = "Success"), (status = 404, description = "Unknown, or not an admin"), (status = 403, description = "Not a browser session"), (status = 422, description = "Invalid input; nothing changed")),
    security(("session" = [])))]
async fn create_org_token(
    State(state): State<HttpState>,
    DirectoryAdmin(d): DirectoryAdmin,
    ApiJson(body): ApiJson<CreateDirectoryToken>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    create_token(&state, &d, body).await
}

#[utoipa::path(delete, path = "/orgs/{org}/directory-tokens/{id}", tag = "directory sync",
    summary = "Revoke a directory token",
    params(("org" = String, Path, description = "Organization slug"), ("id" = String, Path, description = "Token id")),
    responses((status = 204, description = "Revoked"), (status = 404, description = "Unknown")),
    security(("session" = [])))]
async fn revoke_org_token(
    State(state): State<HttpState>,
    DirectoryAdmin(d): DirectoryAdmin,
    Path((_, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state.app.directory().revoke_token(&d, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
