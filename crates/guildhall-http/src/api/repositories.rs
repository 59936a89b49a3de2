//! `/api/v1/workspaces/{ws}/repositories…`: repositories, direct grants and
//! the fast permission check.

use super::caller::{ApiCaller, WsAdmin, WsMember};
use super::groups::PermissionBody;
use super::json::{self, ApiJson};
use crate::HttpState;
use crate::error::ApiError;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use guildhall_core::scopes::Scope;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<HttpState> {
    OpenApiRouter::new()
        .routes(routes!(list_repositories, create_repository))
        .routes(routes!(get_repository, update_repository, delete_repository))
        .routes(routes!(set_grant, remove_grant))
        .routes(routes!(check_permission))
}

#[utoipa::path(
    get,
    path = "/workspaces/{ws}/repositories",
    tag = "repositories",
    summary = "The repositories of a workspace",
    params(("ws" = String, Path, description = "Workspace slug")),
    responses((status = 200, description = "Success"), (status = 401, description = "Not authenticated"), (status = 404, description = "Unknown, or not a member"), (status = 403, description = "Missing role or scope")),
    security(("bearer" = ["workspaces:read"]), ("session" = []))
)]
async fn list_repositories(State(state): State<HttpState>, WsMember(m): WsMember) -> Result<Json<Value>, ApiError> {
    let repos = state.app.workspaces().repositories(&m).await?;
    Ok(Json(json!({ "repositories": repos.iter().map(json::repository).collect::<Vec<_>>() })))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateRepository {
    slug: String,
    name: Option<String>,
    private: Option<bool>,
}

#[utoipa::path(
    post,
    path = "/workspaces/{ws}/repositories",
    tag = "repositories",
    summary = "Create a repository",
    params(("ws" = String, Path, description = "Workspace slug")),
    request_body = CreateRepository,
    responses((status = 201, description = "Success"), (status = 401, description = "Not authenticated"), (status = 404, description = "Unknown, or not a member"), (status = 403, description = "Missing role or scope"), (status = 422, description = "Invalid input; nothing changed")),
    security(("bearer" = ["workspaces:admin"]), ("session" = []))
)]
async fn create_repository(
    State(state): State<HttpState>,
    WsAdmin(a): WsAdmin,
    ApiJson(body): ApiJson<CreateRepository>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let r = state.app.workspaces().create_repository(&a, &body.slug, body.name.as_deref(), body.private).await?;
    Ok((StatusCode::CREATED, Json(json::repository(&r))))
}

#[utoipa::path(
    get,
    path = "/workspaces/{ws}/repositories/{repo}",
    tag = "repositories",
    summary = "A repository",
    params(("ws" = String, Path, description = "Workspace slug"), ("repo" = String, Path, description = "Repository slug")),
    responses((status = 200, description = "Success"), (status = 401, description = "Not authenticated"), (status = 404, description = "Unknown, or not a member"), (status = 403, description = "Missing role or scope")),
    security(("bearer" = ["workspaces:read"]), ("session" = []))
)]
async fn get_repository(
    State(state): State<HttpState>,
    WsMember(m): WsMember,
    Path((_, repo)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(json::repository(&state.app.workspaces().repository(&m, &repo).await?)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct PatchRepository {
    name: Option<String>,
    private: Option<bool>,
}

#[utoipa::path(
    patch,
    path = "/workspaces/{ws}/repositories/{repo}",
    tag = "repositories",
    summary = "Change a repository",
    params(("ws" = String, Path, description = "Workspace slug"), ("repo" = String, Path, description = "Repository slug")),
    request_body = PatchRepository,
    responses((status = 200, description = "Success"), (status = 401, description = "Not authenticated"), (status = 404, description = "Unknown, or not a member"), (status = 403, description = "Missing role or scope"), (status = 422, description = "Invalid input; nothing changed")),
    security(("bearer" = ["workspaces:admin"]), ("session" = []))
)]
async fn update_repository(
    State(state): State<HttpState>,
    WsAdmin(a): WsAdmin,
    Path((_, repo)): Path<(String, String)>,
    ApiJson(body): ApiJson<PatchRepository>,
) -> Result<Json<Value>, ApiError> {
    let r = state.app.workspaces().update_repository(&a, &repo, body.name.as_deref(), body.private).await?;
    Ok(Json(json::repository(&r)))
}

#[utoipa::path(
    delete,
    path = "/workspaces/{ws}/repositories/{repo}",
    tag = "repositories",
    summary = "Delete a repository",
    params(("ws" = String, Path, description = "Workspace slug"), ("repo" = String, Path, description = "Repository slug")),
    responses((status = 204, description = "Success"), (status = 401, description = "Not authenticated"), (status = 404, description = "Unknown, or not a member"), (status = 403, description = "Missing role or scope")),
    security(("bearer" = ["workspaces:admin"]), ("session" = []))
)]
async fn delete_repository(
    State(state): State<HttpState>,
    WsAdmin(a): WsAdmin,
    Path((_, repo)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state.app.workspaces().delete_repository(&a, &repo).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    put,
    path = "/workspaces/{ws}/repositories/{repo}/grants/{username}",
    tag = "permissions",
    summary = "Grant an account a permission on a repository",
    params(("ws" = String, Path, description = "Workspace slug"), ("repo" = String, Path, description = "Repository slug"), ("username" = String, Path, description = "Account username")),
    request_body = PermissionBody,
    responses((status = 200, description = "Success"), (status = 401, description = "Not authenticated"), (status = 404, description = "Unknown, or not a member"), (status = 403, description = "Missing role or scope"), (status = 422, description = "Invalid input; nothing changed")),
    security(("bearer" = ["workspaces:admin"]), ("session" = []))
)]
async fn set_grant(
    State(state): State<HttpState>,
    WsAdmin(a): WsAdmin,
    Path((_, repo, username)): Path<(String, String, String)>,
    ApiJson(body): ApiJson<PermissionBody>,
) -> Result<Json<Value>, ApiError> {
    state.app.workspaces().set_grant(&a, &repo, &username, Some(&body.permission)).await?;
    Ok(Json(json!({ "repository": repo, "username": username, "permission": body.permission })))
}

#[utoipa::path(
    delete,
    path = "/workspaces/{ws}/repositories/{repo}/grants/{username}",
    tag = "permissions",
    summary = "Remove the direct grant of an account",
    params(("ws" = String, Path, description = "Workspace slug"), ("repo" = String, Path, description = "Repository slug"), ("username" = String, Path, description = "Account username")),
    responses((status = 204, description = "Success"), (status = 401, description = "Not authenticated"), (status = 404, description = "Unknown, or not a member"), (status = 403, description = "Missing role or scope")),
    security(("bearer" = ["workspaces:admin"]), ("session" = []))
)]
async fn remove_grant(
    State(state): State<HttpState>,
    WsAdmin(a): WsAdmin,
    Path((_, repo, username)): Path<(String, String, String)>,
) -> Result<StatusCode, ApiError> {
    state.app.workspaces().set_grant(&a, &repo, &username, None).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The fast check: `{"permission": "none|read|write|admin"}`.
#[utoipa::path(
    get,
    path = "/workspaces/{ws}/repositories/{repo}/permissions/{username}",
    tag = "permissions",
    summary = r#"The fast check: an account's effective permission ({"permission": "none|read|write|admin"})"#,
    params(("ws" = String, Path, description = "Workspace slug"), ("repo" = String, Path, description = "Repository slug"), ("username" = String, Path, description = "Account username")),
    responses((status = 200, description = "Success"), (status = 401, description = "Not authenticated"), (status = 404, description = "Unknown, or not a member"), (status = 403, description = "Missing role or scope")),
    security(("bearer" = ["workspaces:read"]), ("session" = []))
)]
async fn check_permission(
    State(state): State<HttpState>,
    caller: ApiCaller,
    Path((ws, repo, username)): Path<(String, String, String)>,
) -> Result<Json<Value>, ApiError> {
    let p = state.app.workspaces().check(&caller.actor(), &ws, &repo, &username).await?;
    // Membership first (in `check`): a non-member learns nothing.
    caller.require(Scope::WorkspacesRead)?;
    Ok(Json(json!({ "permission": p })))
}
