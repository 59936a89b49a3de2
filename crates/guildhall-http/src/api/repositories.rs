//! `/api/v1/workspaces/{ws}/repositories…`: repositories, direct grants and
//! the fast permission check.

use super::caller::{WsAdmin, WsMember};
use super::groups::PermissionBody;
use super::json::{self, ApiJson};
use crate::HttpState;
use crate::error::ApiError;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

pub fn router() -> Router<HttpState> {
    Router::new()
        .route("/workspaces/{ws}/repositories", get(list_repositories).post(create_repository))
        .route(
            "/workspaces/{ws}/repositories/{repo}",
            get(get_repository).patch(update_repository).delete(delete_repository),
        )
        .route("/workspaces/{ws}/repositories/{repo}/grants/{username}", put(set_grant).delete(remove_grant))
        .route("/workspaces/{ws}/repositories/{repo}/permissions/{username}", get(check_permission))
}

async fn list_repositories(State(state): State<HttpState>, WsMember(m): WsMember) -> Result<Json<Value>, ApiError> {
    let repos = state.app.workspaces().repositories(&m).await?;
    Ok(Json(json!({ "repositories": repos.iter().map(json::repository).collect::<Vec<_>>() })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateRepository {
    slug: String,
    name: Option<String>,
    private: Option<bool>,
}

async fn create_repository(
    State(state): State<HttpState>,
    WsAdmin(a): WsAdmin,
    ApiJson(body): ApiJson<CreateRepository>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let r = state.app.workspaces().create_repository(&a, &body.slug, body.name.as_deref(), body.private).await?;
    Ok((StatusCode::CREATED, Json(json::repository(&r))))
}

async fn get_repository(
    State(state): State<HttpState>,
    WsMember(m): WsMember,
    Path((_, repo)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(json::repository(&state.app.workspaces().repository(&m, &repo).await?)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchRepository {
    name: Option<String>,
    private: Option<bool>,
}

async fn update_repository(
    State(state): State<HttpState>,
    WsAdmin(a): WsAdmin,
    Path((_, repo)): Path<(String, String)>,
    ApiJson(body): ApiJson<PatchRepository>,
) -> Result<Json<Value>, ApiError> {
    let r = state.app.workspaces().update_repository(&a, &repo, body.name.as_deref(), body.private).await?;
    Ok(Json(json::repository(&r)))
}

async fn delete_repository(
    State(state): State<HttpState>,
    WsAdmin(a): WsAdmin,
    Path((_, repo)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state.app.workspaces().delete_repository(&a, &repo).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn set_grant(
    State(state): State<HttpState>,
    WsAdmin(a): WsAdmin,
    Path((_, repo, username)): Path<(String, String, String)>,
    ApiJson(body): ApiJson<PermissionBody>,
) -> Result<Json<Value>, ApiError> {
    state.app.workspaces().set_grant(&a, &repo, &username, Some(&body.permission)).await?;
    Ok(Json(json!({ "repository": repo, "username": username, "permission": body.permission })))
}

async fn remove_grant(
    State(state): State<HttpState>,
    WsAdmin(a): WsAdmin,
    Path((_, repo, username)): Path<(String, String, String)>,
) -> Result<StatusCode, ApiError> {
    state.app.workspaces().set_grant(&a, &repo, &username, None).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The fast check: `{"permission": "none|read|write|admin"}`.
async fn check_permission(
    State(state): State<HttpState>,
    WsMember(m): WsMember,
    Path((_, repo, username)): Path<(String, String, String)>,
) -> Result<Json<Value>, ApiError> {
    let p = state.app.workspaces().permission(&m, &repo, &username).await?;
    Ok(Json(json!({ "permission": p })))
}
