//! `/api/v1/{workspaces/{ws}|orgs/{org}}/provisioning…`: outbound SCIM
//! provisioning connections, their sync status and "sync now"
//! (docs/provisioning.md).
//!
//! Managed by the workspace's or org's admins: in a browser session, or
//! with a personal token carrying `workspaces:admin` / `orgs:admin`.
//! Directory tokens cannot manage them. Anyone else gets 404. The
//! application's token is write-only: no answer contains it.

use super::caller::ScopeAdminCaller;
use super::json::ApiJson;
use crate::HttpState;
use crate::error::ApiError;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use guildhall_app::provisioning::{ConnectionChange, ConnectionView, NewConnection, ProvisioningAdmin};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<HttpState> {
    OpenApiRouter::new()
        .routes(routes!(list_ws_connections, create_ws_connection))
        .routes(routes!(get_ws_connection, update_ws_connection, delete_ws_connection))
        .routes(routes!(sync_ws_connection))
        .routes(routes!(list_org_connections, create_org_connection))
        .routes(routes!(get_org_connection, update_org_connection, delete_org_connection))
        .routes(routes!(sync_org_connection))
}

/// A connection as the API shows it (never its token).
pub fn connection_json(v: &ConnectionView) -> Value {
    let c = &v.connection;
    json!({
        "id": c.id,
        "name": c.name,
        "base_url": c.base_url,
        "enabled": c.enabled,
        "status": c.status.as_str(),
        "last_error": c.last_error,
        "last_synced_at": c.last_synced_at.map(|t| t.rfc3339()),
        "last_attempt_at": c.last_attempt_at.map(|t| t.rfc3339()),
        "next_attempt_at": c.next_attempt_at.map(|t| t.rfc3339()),
        "failures": c.failures,
        "cursor": c.cursor,
        "users": v.counts.users,
        "deprovisioned_users": v.counts.deprovisioned,
        "groups": v.counts.groups,
        "created_by": c.created_by,
        "created_at": c.created_at.rfc3339(),
        "updated_at": c.updated_at.rfc3339(),
    })
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateConnection {
    /// What the admins call the application.
    name: String,
    /// The application's SCIM base URL (`https://…`, public), such as `https://app.example.com/scim/v2`.
    base_url: String,
    /// The bearer token the application gave for its SCIM endpoint. Stored sealed; never shown again.
    token: String,
    /// Default true.
    enabled: Option<bool>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct UpdateConnection {
    name: Option<String>,
    base_url: Option<String>,
    /// A new token (write-only).
    token: Option<String>,
    enabled: Option<bool>,
}

async fn list(state: &HttpState, a: &ProvisioningAdmin) -> Result<Json<Value>, ApiError> {
    let all = state.app.provisioning().list(a).await?;
    Ok(Json(json!({ "connections": all.iter().map(connection_json).collect::<Vec<_>>() })))
}

async fn create(
    state: &HttpState,
    a: &ProvisioningAdmin,
    body: CreateConnection,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let new = NewConnection {
        name: &body.name,
        base_url: &body.base_url,
        token: &body.token,
        enabled: body.enabled.unwrap_or(true),
    };
    let made = state.app.provisioning().create(a, new).await?;
    Ok((StatusCode::CREATED, Json(connection_json(&made))))
}

async fn get(state: &HttpState, a: &ProvisioningAdmin, id: &str) -> Result<Json<Value>, ApiError> {
    Ok(Json(connection_json(&state.app.provisioning().get(a, id).await?)))
}

async fn update(
    state: &HttpState,
    a: &ProvisioningAdmin,
    id: &str,
    body: UpdateConnection,
) -> Result<Json<Value>, ApiError> {
    let change = ConnectionChange {
        name: body.name.as_deref(),
        base_url: body.base_url.as_deref(),
        token: body.token.as_deref(),
        enabled: body.enabled,
    };
    Ok(Json(connection_json(&state.app.provisioning().update(a, id, change).await?)))
}

async fn delete(state: &HttpState, a: &ProvisioningAdmin, id: &str) -> Result<StatusCode, ApiError> {
    state.app.provisioning().delete(a, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn sync(state: &HttpState, a: &ProvisioningAdmin, id: &str) -> Result<(StatusCode, Json<Value>), ApiError> {
    let v = state.app.provisioning().sync_now(a, id).await?;
    Ok((StatusCode::ACCEPTED, Json(connection_json(&v))))
}

#[utoipa::path(get, path = "/workspaces/{ws}/provisioning", tag = "provisioning",
    summary = "The workspace's SCIM provisioning connections, with their sync status (tokens are never shown)",
    params(("ws" = String, Path, description = "Workspace slug")),
    responses((status = 200, description = "Success"), (status = 401, description = "Not authenticated"), (status = 404, description = "Unknown, or not an admin"), (status = 403, description = "Missing scope")),
    security(("bearer" = ["workspaces:admin"]), ("session" = [])))]
async fn list_ws_connections(
    State(state): State<HttpState>,
    ScopeAdminCaller(a): ScopeAdminCaller,
) -> Result<Json<Value>, ApiError> {
    list(&state, &a).await
}

#[utoipa::path(post, path = "/workspaces/{ws}/provisioning", tag = "provisioning",
    summary = "Connect the workspace to an application's SCIM endpoint; the first sync starts at once",
    params(("ws" = String, Path, description = "Workspace slug")), request_body = CreateConnection,
    responses((status = 201, description = "Created"), (status = 401, description = "Not authenticated"), (status = 404, description = "Unknown, or not an admin"), (status = 403, description = "Missing scope"), (status = 409, description = "Too many connections"), (status = 422, description = "Invalid input; nothing changed")),
    security(("bearer" = ["workspaces:admin"]), ("session" = [])))]
async fn create_ws_connection(
    State(state): State<HttpState>,
    ScopeAdminCaller(a): ScopeAdminCaller,
    ApiJson(body): ApiJson<CreateConnection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    create(&state, &a, body).await
}

#[utoipa::path(get, path = "/workspaces/{ws}/provisioning/{id}", tag = "provisioning",
    summary = "A connection: status, last error, last sync, counts of users and groups pushed",
    params(("ws" = String, Path, description = "Workspace slug"), ("id" = String, Path, description = "Connection id")),
    responses((status = 200, description = "Success"), (status = 404, description = "Unknown, or not an admin"), (status = 403, description = "Missing scope")),
    security(("bearer" = ["workspaces:admin"]), ("session" = [])))]
async fn get_ws_connection(
    State(state): State<HttpState>,
    ScopeAdminCaller(a): ScopeAdminCaller,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    get(&state, &a, &id).await
}

#[utoipa::path(patch, path = "/workspaces/{ws}/provisioning/{id}", tag = "provisioning",
    summary = "Change a connection's name, URL, token or enabled state (a new URL or token, or enabling, syncs everything again)",
    params(("ws" = String, Path, description = "Workspace slug"), ("id" = String, Path, description = "Connection id")), request_body = UpdateConnection,
    responses((status = 200, description = "Success"), (status = 404, description = "Unknown, or not an admin"), (status = 403, description = "Missing scope"), (status = 422, description = "Invalid input; nothing changed")),
    security(("bearer" = ["workspaces:admin"]), ("session" = [])))]
async fn update_ws_connection(
    State(state): State<HttpState>,
    ScopeAdminCaller(a): ScopeAdminCaller,
    Path((_, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<UpdateConnection>,
) -> Result<Json<Value>, ApiError> {
    update(&state, &a, &id, body).await
}

#[utoipa::path(delete, path = "/workspaces/{ws}/provisioning/{id}", tag = "provisioning",
    summary = "Remove a connection: pushing stops; what the application holds is left as it is",
    params(("ws" = String, Path, description = "Workspace slug"), ("id" = String, Path, description = "Connection id")),
    responses((status = 204, description = "Removed"), (status = 404, description = "Unknown, or not an admin"), (status = 403, description = "Missing scope")),
    security(("bearer" = ["workspaces:admin"]), ("session" = [])))]
async fn delete_ws_connection(
    State(state): State<HttpState>,
    ScopeAdminCaller(a): ScopeAdminCaller,
    Path((_, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    delete(&state, &a, &id).await
}

#[utoipa::path(post, path = "/workspaces/{ws}/provisioning/{id}/sync", tag = "provisioning",
    summary = "Sync now: every user and group is pushed again at the next round (also ends a retry's wait)",
    params(("ws" = String, Path, description = "Workspace slug"), ("id" = String, Path, description = "Connection id")),
    responses((status = 202, description = "Due now"), (status = 404, description = "Unknown, or not an admin"), (status = 403, description = "Missing scope"), (status = 409, description = "The connection is disabled")),
    security(("bearer" = ["workspaces:admin"]), ("session" = [])))]
async fn sync_ws_connection(
    State(state): State<HttpState>,
    ScopeAdminCaller(a): ScopeAdminCaller,
    Path((_, id)): Path<(String, String)>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    sync(&state, &a, &id).await
}

#[utoipa::path(get, path = "/orgs/{org}/provisioning", tag = "provisioning",
    summary = "The organization's SCIM provisioning connections, with their sync status (tokens are never shown)",
    params(("org" = String, Path, description = "Organization slug")),
    responses((status = 200, description = "Success"), (status = 401, description = "Not authenticated"), (status = 404, description = "Unknown, or not an admin"), (status = 403, description = "Missing scope")),
    security(("bearer" = ["orgs:admin"]), ("session" = [])))]
async fn list_org_connections(
    State(state): State<HttpState>,
    ScopeAdminCaller(a): ScopeAdminCaller,
) -> Result<Json<Value>, ApiError> {
    list(&state, &a).await
}

#[utoipa::path(post, path = "/orgs/{org}/provisioning", tag = "provisioning",
    summary = "Connect the organization to an application's SCIM endpoint; the first sync starts at once",
    params(("org" = String, Path, description = "Organization slug")), request_body = CreateConnection,
    responses((status = 201, description = "Created"), (status = 401, description = "Not authenticated"), (status = 404, description = "Unknown, or not an admin"), (status = 403, description = "Missing scope"), (status = 409, description = "Too many connections"), (status = 422, description = "Invalid input; nothing changed")),
    security(("bearer" = ["orgs:admin"]), ("session" = [])))]
async fn create_org_connection(
    State(state): State<HttpState>,
    ScopeAdminCaller(a): ScopeAdminCaller,
    ApiJson(body): ApiJson<CreateConnection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    create(&state, &a, body).await
}

#[utoipa::path(get, path = "/orgs/{org}/provisioning/{id}", tag = "provisioning",
    summary = "A connection: status, last error, last sync, counts of users and groups pushed",
    params(("org" = String, Path, description = "Organization slug"), ("id" = String, Path, description = "Connection id")),
    responses((status = 200, description = "Success"), (status = 404, description = "Unknown, or not an admin"), (status = 403, description = "Missing scope")),
    security(("bearer" = ["orgs:admin"]), ("session" = [])))]
async fn get_org_connection(
    State(state): State<HttpState>,
    ScopeAdminCaller(a): ScopeAdminCaller,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    get(&state, &a, &id).await
}

#[utoipa::path(patch, path = "/orgs/{org}/provisioning/{id}", tag = "provisioning",
    summary = "Change a connection's name, URL, token or enabled state (a new URL or token, or enabling, syncs everything again)",
    params(("org" = String, Path, description = "Organization slug"), ("id" = String, Path, description = "Connection id")), request_body = UpdateConnection,
    responses((status = 200, description = "Success"), (status = 404, description = "Unknown, or not an admin"), (status = 403, description = "Missing scope"), (status = 422, description = "Invalid input; nothing changed")),
    security(("bearer" = ["orgs:admin"]), ("session" = [])))]
async fn update_org_connection(
    State(state): State<HttpState>,
    ScopeAdminCaller(a): ScopeAdminCaller,
    Path((_, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<UpdateConnection>,
) -> Result<Json<Value>, ApiError> {
    update(&state, &a, &id, body).await
}

#[utoipa::path(delete, path = "/orgs/{org}/provisioning/{id}", tag = "provisioning",
    summary = "Remove a connection: pushing stops; what the application holds is left as it is",
    params(("org" = String, Path, description = "Organization slug"), ("id" = String, Path, description = "Connection id")),
    responses((status = 204, description = "Removed"), (status = 404, description = "Unknown, or not an admin"), (status = 403, description = "Missing scope")),
    security(("bearer" = ["orgs:admin"]), ("session" = [])))]
async fn delete_org_connection(
    State(state): State<HttpState>,
    ScopeAdminCaller(a): ScopeAdminCaller,
    Path((_, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    delete(&state, &a, &id).await
}

#[utoipa::path(post, path = "/orgs/{org}/provisioning/{id}/sync", tag = "provisioning",
    summary = "Sync now: every user and group is pushed again at the next round (also ends a retry's wait)",
    params(("org" = String, Path, description = "Organization slug"), ("id" = String, Path, description = "Connection id")),
    responses((status = 202, description = "Due now"), (status = 404, description = "Unknown, or not an admin"), (status = 403, description = "Missing scope"), (status = 409, description = "The connection is disabled")),
    security(("bearer" = ["orgs:admin"]), ("session" = [])))]
async fn sync_org_connection(
    State(state): State<HttpState>,
    ScopeAdminCaller(a): ScopeAdminCaller,
    Path((_, id)): Path<(String, String)>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    sync(&state, &a, &id).await
}
