//! `/api/v1/workspaces/{ws}/groups…`: groups, their members and their
//! repository permissions.

use super::caller::{WsAdmin, WsMember};
use super::json::{self, ApiJson};
use crate::HttpState;
use crate::error::ApiError;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use guildhall_app::ports::MembershipChange;
use guildhall_app::workspaces::GroupPatch;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<HttpState> {
    OpenApiRouter::new()
        .routes(routes!(list_groups, create_group))
        .routes(routes!(get_group, update_group, delete_group))
        .routes(routes!(list_group_members))
        .routes(routes!(add_group_member, remove_group_member))
        .routes(routes!(set_group_permission, remove_group_permission))
}

#[utoipa::path(
    get,
    path = "/workspaces/{ws}/groups",
    tag = "groups",
    summary = "The groups of a workspace",
    params(("ws" = String, Path, description = "Workspace slug")),
    responses((status = 200, description = "Success"), (status = 401, description = "Not authenticated"), (status = 404, description = "Unknown, or not a member"), (status = 403, description = "Missing role or scope")),
    security(("bearer" = ["workspaces:read"]), ("session" = []))
)]
async fn list_groups(State(state): State<HttpState>, WsMember(m): WsMember) -> Result<Json<Value>, ApiError> {
    let groups = state.app.workspaces().groups(&m).await?;
    Ok(Json(json!({ "groups": groups.iter().map(json::group).collect::<Vec<_>>() })))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateGroup {
    slug: String,
    name: String,
    default_permission: Option<String>,
}

#[utoipa::path(
    post,
    path = "/workspaces/{ws}/groups",
    tag = "groups",
    summary = "Create a group",
    params(("ws" = String, Path, description = "Workspace slug")),
    request_body = CreateGroup,
    responses((status = 201, description = "Success"), (status = 401, description = "Not authenticated"), (status = 404, description = "Unknown, or not a member"), (status = 403, description = "Missing role or scope"), (status = 422, description = "Invalid input; nothing changed")),
    security(("bearer" = ["workspaces:admin"]), ("session" = []))
)]
async fn create_group(
    State(state): State<HttpState>,
    WsAdmin(a): WsAdmin,
    ApiJson(body): ApiJson<CreateGroup>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let g = state.app.workspaces().create_group(&a, &body.slug, &body.name, body.default_permission.as_deref()).await?;
    Ok((StatusCode::CREATED, Json(json::group(&g))))
}

#[utoipa::path(
    get,
    path = "/workspaces/{ws}/groups/{group}",
    tag = "groups",
    summary = "A group",
    params(("ws" = String, Path, description = "Workspace slug"), ("group" = String, Path, description = "Group slug")),
    responses((status = 200, description = "Success"), (status = 401, description = "Not authenticated"), (status = 404, description = "Unknown, or not a member"), (status = 403, description = "Missing role or scope")),
    security(("bearer" = ["workspaces:read"]), ("session" = []))
)]
async fn get_group(
    State(state): State<HttpState>,
    WsMember(m): WsMember,
    Path((_, group)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(json::group(&state.app.workspaces().group(&m, &group).await?)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct PatchGroup {
    name: Option<String>,
    default_permission: Option<String>,
}

#[utoipa::path(
    patch,
    path = "/workspaces/{ws}/groups/{group}",
    tag = "groups",
    summary = "Change a group",
    params(("ws" = String, Path, description = "Workspace slug"), ("group" = String, Path, description = "Group slug")),
    request_body = PatchGroup,
    responses((status = 200, description = "Success"), (status = 401, description = "Not authenticated"), (status = 404, description = "Unknown, or not a member"), (status = 403, description = "Missing role or scope"), (status = 422, description = "Invalid input; nothing changed")),
    security(("bearer" = ["workspaces:admin"]), ("session" = []))
)]
async fn update_group(
    State(state): State<HttpState>,
    WsAdmin(a): WsAdmin,
    Path((_, group)): Path<(String, String)>,
    ApiJson(body): ApiJson<PatchGroup>,
) -> Result<Json<Value>, ApiError> {
    let patch = GroupPatch { name: body.name.as_deref(), default_permission: body.default_permission.as_deref() };
    Ok(Json(json::group(&state.app.workspaces().update_group(&a, &group, patch).await?)))
}

#[utoipa::path(
    delete,
    path = "/workspaces/{ws}/groups/{group}",
    tag = "groups",
    summary = "Delete a group (never the administrators group)",
    params(("ws" = String, Path, description = "Workspace slug"), ("group" = String, Path, description = "Group slug")),
    responses((status = 204, description = "Success"), (status = 401, description = "Not authenticated"), (status = 404, description = "Unknown, or not a member"), (status = 403, description = "Missing role or scope")),
    security(("bearer" = ["workspaces:admin"]), ("session" = []))
)]
async fn delete_group(
    State(state): State<HttpState>,
    WsAdmin(a): WsAdmin,
    Path((_, group)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state.app.workspaces().delete_group(&a, &group).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/workspaces/{ws}/groups/{group}/members",
    tag = "groups",
    summary = "The members of a group",
    params(("ws" = String, Path, description = "Workspace slug"), ("group" = String, Path, description = "Group slug")),
    responses((status = 200, description = "Success"), (status = 401, description = "Not authenticated"), (status = 404, description = "Unknown, or not a member"), (status = 403, description = "Missing role or scope")),
    security(("bearer" = ["workspaces:read"]), ("session" = []))
)]
async fn list_group_members(
    State(state): State<HttpState>,
    WsMember(m): WsMember,
    Path((_, group)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let members = state.app.workspaces().group_members(&m, &group).await?;
    Ok(Json(json!({ "members": members.iter().map(json::person).collect::<Vec<_>>() })))
}

#[utoipa::path(
    put,
    path = "/workspaces/{ws}/groups/{group}/members/{username}",
    tag = "groups",
    summary = "Add a member (a no-op for a member)",
    params(("ws" = String, Path, description = "Workspace slug"), ("group" = String, Path, description = "Group slug"), ("username" = String, Path, description = "Account username")),
    responses((status = 200, description = "Success"), (status = 401, description = "Not authenticated"), (status = 404, description = "Unknown, or not a member"), (status = 403, description = "Missing role or scope"), (status = 422, description = "Invalid input; nothing changed")),
    security(("bearer" = ["workspaces:admin"]), ("session" = []))
)]
async fn add_group_member(
    State(state): State<HttpState>,
    WsAdmin(a): WsAdmin,
    Path((_, group, username)): Path<(String, String, String)>,
) -> Result<Json<Value>, ApiError> {
    let status = match state.app.workspaces().add_member(&a, &group, &username).await? {
        MembershipChange::Changed => "added",
        MembershipChange::Unchanged => "already_member",
    };
    Ok(Json(json!({ "status": status })))
}

#[utoipa::path(
    delete,
    path = "/workspaces/{ws}/groups/{group}/members/{username}",
    tag = "groups",
    summary = "Remove a member (the administrators group keeps its last member)",
    params(("ws" = String, Path, description = "Workspace slug"), ("group" = String, Path, description = "Group slug"), ("username" = String, Path, description = "Account username")),
    responses((status = 200, description = "Success"), (status = 401, description = "Not authenticated"), (status = 404, description = "Unknown, or not a member"), (status = 403, description = "Missing role or scope")),
    security(("bearer" = ["workspaces:admin"]), ("session" = []))
)]
async fn remove_group_member(
    State(state): State<HttpState>,
    WsAdmin(a): WsAdmin,
    Path((_, group, username)): Path<(String, String, String)>,
) -> Result<Json<Value>, ApiError> {
    let status = match state.app.workspaces().remove_member(&a, &group, &username).await? {
        MembershipChange::Changed => "removed",
        MembershipChange::Unchanged => "not_a_member",
    };
    Ok(Json(json!({ "status": status })))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct PermissionBody {
    pub permission: String,
}

#[utoipa::path(
    put,
    path = "/workspaces/{ws}/groups/{group}/permissions/{repo}",
    tag = "permissions",
    summary = "Set the permission of a group on a repository",
    params(("ws" = String, Path, description = "Workspace slug"), ("group" = String, Path, description = "Group slug"), ("repo" = String, Path, description = "Repository slug")),
    request_body = PermissionBody,
    responses((status = 200, description = "Success"), (status = 401, description = "Not authenticated"), (status = 404, description = "Unknown, or not a member"), (status = 403, description = "Missing role or scope"), (status = 422, description = "Invalid input; nothing changed")),
    security(("bearer" = ["workspaces:admin"]), ("session" = []))
)]
async fn set_group_permission(
    State(state): State<HttpState>,
    WsAdmin(a): WsAdmin,
    Path((_, group, repo)): Path<(String, String, String)>,
    ApiJson(body): ApiJson<PermissionBody>,
) -> Result<Json<Value>, ApiError> {
    state.app.workspaces().set_group_permission(&a, &group, &repo, Some(&body.permission)).await?;
    Ok(Json(json!({ "group": group, "repository": repo, "permission": body.permission })))
}

#[utoipa::path(
    delete,
    path = "/workspaces/{ws}/groups/{group}/permissions/{repo}",
    tag = "permissions",
    summary = "Remove the permission of a group on a repository",
    params(("ws" = String, Path, description = "Workspace slug"), ("group" = String, Path, description = "Group slug"), ("repo" = String, Path, description = "Repository slug")),
    responses((status = 204, description = "Success"), (status = 401, description = "Not authenticated"), (status = 404, description = "Unknown, or not a member"), (status = 403, description = "Missing role or scope")),
    security(("bearer" = ["workspaces:admin"]), ("session" = []))
)]
async fn remove_group_permission(
    State(state): State<HttpState>,
    WsAdmin(a): WsAdmin,
    Path((_, group, repo)): Path<(String, String, String)>,
) -> Result<StatusCode, ApiError> {
    state.app.workspaces().set_group_permission(&a, &group, &repo, None).await?;
    Ok(StatusCode::NO_CONTENT)
}
