//! `/api/v1/workspaces/{ws}/groups…`: groups, their members and their
//! repository permissions.

use super::caller::{WsAdmin, WsMember};
use super::json::{self, ApiJson};
use crate::HttpState;
use crate::error::ApiError;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, put};
use axum::{Json, Router};
use guildhall_app::ports::MembershipChange;
use guildhall_app::workspaces::GroupPatch;
use serde::Deserialize;
use serde_json::{Value, json};

pub fn router() -> Router<HttpState> {
    Router::new()
        .route("/workspaces/{ws}/groups", get(list_groups).post(create_group))
        .route("/workspaces/{ws}/groups/{group}", get(get_group).patch(update_group).delete(delete_group))
        .route("/workspaces/{ws}/groups/{group}/members", get(list_group_members))
        .route("/workspaces/{ws}/groups/{group}/members/{username}", put(add_group_member).delete(remove_group_member))
        .route(
            "/workspaces/{ws}/groups/{group}/permissions/{repo}",
            put(set_group_permission).delete(remove_group_permission),
        )
}

async fn list_groups(State(state): State<HttpState>, WsMember(m): WsMember) -> Result<Json<Value>, ApiError> {
    let groups = state.app.workspaces().groups(&m).await?;
    Ok(Json(json!({ "groups": groups.iter().map(json::group).collect::<Vec<_>>() })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateGroup {
    slug: String,
    name: String,
    default_permission: Option<String>,
}

async fn create_group(
    State(state): State<HttpState>,
    WsAdmin(a): WsAdmin,
    ApiJson(body): ApiJson<CreateGroup>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let g = state.app.workspaces().create_group(&a, &body.slug, &body.name, body.default_permission.as_deref()).await?;
    Ok((StatusCode::CREATED, Json(json::group(&g))))
}

async fn get_group(
    State(state): State<HttpState>,
    WsMember(m): WsMember,
    Path((_, group)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(json::group(&state.app.workspaces().group(&m, &group).await?)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchGroup {
    name: Option<String>,
    default_permission: Option<String>,
}

async fn update_group(
    State(state): State<HttpState>,
    WsAdmin(a): WsAdmin,
    Path((_, group)): Path<(String, String)>,
    ApiJson(body): ApiJson<PatchGroup>,
) -> Result<Json<Value>, ApiError> {
    let patch = GroupPatch { name: body.name.as_deref(), default_permission: body.default_permission.as_deref() };
    Ok(Json(json::group(&state.app.workspaces().update_group(&a, &group, patch).await?)))
}

async fn delete_group(
    State(state): State<HttpState>,
    WsAdmin(a): WsAdmin,
    Path((_, group)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state.app.workspaces().delete_group(&a, &group).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_group_members(
    State(state): State<HttpState>,
    WsMember(m): WsMember,
    Path((_, group)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let members = state.app.workspaces().group_members(&m, &group).await?;
    Ok(Json(json!({ "members": members.iter().map(json::person).collect::<Vec<_>>() })))
}

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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PermissionBody {
    pub permission: String,
}

async fn set_group_permission(
    State(state): State<HttpState>,
    WsAdmin(a): WsAdmin,
    Path((_, group, repo)): Path<(String, String, String)>,
    ApiJson(body): ApiJson<PermissionBody>,
) -> Result<Json<Value>, ApiError> {
    state.app.workspaces().set_group_permission(&a, &group, &repo, Some(&body.permission)).await?;
    Ok(Json(json!({ "group": group, "repository": repo, "permission": body.permission })))
}

async fn remove_group_permission(
    State(state): State<HttpState>,
    WsAdmin(a): WsAdmin,
    Path((_, group, repo)): Path<(String, String, String)>,
) -> Result<StatusCode, ApiError> {
    state.app.workspaces().set_group_permission(&a, &group, &repo, None).await?;
    Ok(StatusCode::NO_CONTENT)
}
