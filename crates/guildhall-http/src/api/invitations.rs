//! `/api/v1/workspaces/{ws}/invitations…`.

use super::caller::WsAdmin;
use super::json::{self, ApiJson};
use crate::HttpState;
use crate::error::ApiError;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use guildhall_app::AppError;
use guildhall_app::invitations::InviteOutcome;
use serde::Deserialize;
use serde_json::{Value, json};

pub fn router() -> Router<HttpState> {
    Router::new()
        .route("/workspaces/{ws}/invitations", get(list_invitations).post(create_invitation))
        .route("/workspaces/{ws}/invitations/{id}/resend", post(resend_invitation))
        .route("/workspaces/{ws}/invitations/{id}", delete(revoke_invitation))
}

async fn list_invitations(State(state): State<HttpState>, WsAdmin(a): WsAdmin) -> Result<Json<Value>, ApiError> {
    let list = state.app.invitations().list(&a).await?;
    Ok(Json(json!({ "invitations": list.iter().map(json::invitation).collect::<Vec<_>>() })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateInvitation {
    email: Option<String>,
    username: Option<String>,
    groups: Vec<String>,
}

/// 201 with the invitation, or 200 with a `status` when nothing was needed.
async fn create_invitation(
    State(state): State<HttpState>,
    WsAdmin(a): WsAdmin,
    ApiJson(body): ApiJson<CreateInvitation>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let who = match (&body.email, &body.username) {
        (Some(e), None) => e.clone(),
        (None, Some(u)) if !u.contains('@') => u.clone(),
        _ => return Err(AppError::invalid("email", "Give either an email or a username.").into()),
    };
    Ok(match state.app.invitations().invite(&a, &who, &body.groups).await? {
        InviteOutcome::Invited(inv) => (StatusCode::CREATED, Json(json::invitation(&inv))),
        InviteOutcome::AlreadyInGroups => (StatusCode::OK, Json(json!({ "status": "already_in_groups" }))),
        InviteOutcome::AlreadyInvited(inv) => {
            (StatusCode::OK, Json(json!({ "status": "already_invited", "invitation": json::invitation(&inv) })))
        }
    })
}

async fn resend_invitation(
    State(state): State<HttpState>,
    WsAdmin(a): WsAdmin,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(json::invitation(&state.app.invitations().resend(&a, &id).await?)))
}

async fn revoke_invitation(
    State(state): State<HttpState>,
    WsAdmin(a): WsAdmin,
    Path((_, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state.app.invitations().revoke(&a, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
