//! `/api/v1/workspaces` and `/api/v1/workspaces/{ws}`.

use super::caller::{ApiCaller, WsAdmin, WsMember};
use super::json::{self, ApiJson};
use crate::HttpState;
use crate::error::ApiError;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use guildhall_app::workspaces::WorkspacePatch;
use guildhall_core::scopes::Scope;
use serde::Deserialize;
use serde_json::{Value, json};

pub fn router() -> Router<HttpState> {
    Router::new()
        .route("/workspaces", get(list_workspaces).post(create_workspace))
        .route("/workspaces/{ws}", get(get_workspace).patch(update_workspace).delete(delete_workspace))
}

async fn list_workspaces(State(state): State<HttpState>, caller: ApiCaller) -> Result<Json<Value>, ApiError> {
    caller.require(Scope::WorkspacesRead)?;
    let list = state.app.workspaces().mine(&caller.account).await?;
    Ok(Json(json!({ "workspaces": list.iter().map(|w| json::workspace(w, None)).collect::<Vec<_>>() })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateWorkspace {
    slug: String,
    name: String,
    plan: Option<String>,
}

async fn create_workspace(
    State(state): State<HttpState>,
    caller: ApiCaller,
    ApiJson(body): ApiJson<CreateWorkspace>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require(Scope::WorkspacesWrite)?;
    let ws = state.app.workspaces().create(&caller.actor(), &body.slug, &body.name, body.plan.as_deref()).await?;
    Ok((StatusCode::CREATED, Json(json::workspace(&ws, None))))
}

async fn get_workspace(WsMember(m): WsMember) -> Json<Value> {
    Json(json::workspace(&m.workspace, None))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchWorkspace {
    name: Option<String>,
    plan: Option<String>,
    invitations_accept_any_account: Option<bool>,
}

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
    Ok(Json(json::workspace(&ws, None)))
}

async fn delete_workspace(State(state): State<HttpState>, WsAdmin(a): WsAdmin) -> Result<StatusCode, ApiError> {
    state.app.workspaces().delete(a).await?;
    Ok(StatusCode::NO_CONTENT)
}
