//! `/api/v1/workspaces` and `/api/v1/workspaces/{ws}`.

use super::caller::{ApiCaller, WsAdmin, WsMember};
use super::json::{self, ApiJson};
use crate::HttpState;
use crate::error::ApiError;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use guildhall_app::workspaces::WorkspacePatch;
use guildhall_core::scopes::Scope;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<HttpState> {
    OpenApiRouter::new().routes(routes!(list_workspaces, create_workspace)).routes(routes!(
        get_workspace,
        update_workspace,
        delete_workspace
    ))
}

#[utoipa::path(
    get,
    path = "/workspaces",
    tag = "workspaces",
    summary = "The workspaces you belong to",
    responses((status = 200, description = "Success"), (status = 401, description = "Not authenticated"), (status = 403, description = "Missing role or scope")),
    security(("bearer" = ["workspaces:read"]), ("session" = []))
)]
async fn list_workspaces(State(state): State<HttpState>, caller: ApiCaller) -> Result<Json<Value>, ApiError> {
    caller.require(Scope::WorkspacesRead)?;
    let list = state.app.workspaces().mine(&caller.account).await?;
    Ok(Json(json!({ "workspaces": list.iter().map(json::workspace).collect::<Vec<_>>() })))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateWorkspace {
    slug: String,
    name: String,
    plan: Option<String>,
}

#[utoipa::path(
    post,
    path = "/workspaces",
    tag = "workspaces",
    summary = "Create a workspace; you become its administrator",
    request_body = CreateWorkspace,
    responses((status = 201, description = "Success"), (status = 401, description = "Not authenticated"), (status = 403, description = "Missing role or scope"), (status = 422, description = "Invalid input; nothing changed")),
    security(("bearer" = ["workspaces:write"]), ("session" = []))
)]
async fn create_workspace(
    State(state): State<HttpState>,
    caller: ApiCaller,
    ApiJson(body): ApiJson<CreateWorkspace>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require(Scope::WorkspacesWrite)?;
    let ws = state.app.workspaces().create(&caller.actor(), &body.slug, &body.name, body.plan.as_deref()).await?;
    Ok((StatusCode::CREATED, Json(json::workspace(&ws))))
}

#[utoipa::path(
    get,
    path = "/workspaces/{ws}",
    tag = "workspaces",
    summary = "A workspace",
    params(("ws" = String, Path, description = "Workspace slug")),
    responses((status = 200, description = "Success"), (status = 401, description = "Not authenticated"), (status = 404, description = "Unknown, or not a member"), (status = 403, description = "Missing role or scope")),
    security(("bearer" = ["workspaces:read"]), ("session" = []))
)]
async fn get_workspace(WsMember(m): WsMember) -> Json<Value> {
    Json(json::workspace(&m.workspace))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct PatchWorkspace {
    name: Option<String>,
    plan: Option<String>,
    invitations_accept_any_account: Option<bool>,
}

#[utoipa::path(
    patch,
    path = "/workspaces/{ws}",
    tag = "workspaces",
    summary = "Change a workspace",
    params(("ws" = String, Path, description = "Workspace slug")),
    request_body = PatchWorkspace,
    responses((status = 200, description = "Success"), (status = 401, description = "Not authenticated"), (status = 404, description = "Unknown, or not a member"), (status = 403, description = "Missing role or scope"), (status = 422, description = "Invalid input; nothing changed")),
    security(("bearer" = ["workspaces:admin"]), ("session" = []))
)]
async fn update_workspace(
    State(state): State<HttpState>,
    WsAdmin(a): WsAdmin,
    ApiJson(body): ApiJson<PatchWorkspace>,
) -> Result<Json<Value>, ApiError> {
    let patch = WorkspacePatch {
        name: body.name.as_deref(),
        plan: body.plan.as_deref(),
        invitations_accept_any_account: body.invitations_accept_any_account,
    };
    let ws = state.app.workspaces().update(&a, patch).await?;
    Ok(Json(json::workspace(&ws)))
}

#[utoipa::path(
    delete,
    path = "/workspaces/{ws}",
    tag = "workspaces",
    summary = "Delete a workspace",
    params(("ws" = String, Path, description = "Workspace slug")),
    responses((status = 204, description = "Success"), (status = 401, description = "Not authenticated"), (status = 404, description = "Unknown, or not a member"), (status = 403, description = "Missing role or scope")),
    security(("bearer" = ["workspaces:admin"]), ("session" = []))
)]
async fn delete_workspace(State(state): State<HttpState>, WsAdmin(a): WsAdmin) -> Result<StatusCode, ApiError> {
    state.app.workspaces().delete(a).await?;
    Ok(StatusCode::NO_CONTENT)
}
