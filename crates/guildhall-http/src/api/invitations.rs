//! `/api/v1/workspaces/{ws}/invitations…`.

use super::caller::WsAdmin;
use super::json::{self, ApiJson};
use crate::HttpState;
use crate::error::ApiError;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use guildhall_app::AppError;
use guildhall_app::invitations::InviteOutcome;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<HttpState> {
    OpenApiRouter::new()
        .routes(routes!(list_invitations, create_invitation))
        .routes(routes!(resend_invitation))
        .routes(routes!(revoke_invitation))
}

#[utoipa::path(
    get,
    path = "/workspaces/{ws}/invitations",
    tag = "invitations",
    summary = "Invitations of a workspace",
    params(("ws" = String, Path, description = "Workspace slug")),
    responses((status = 200, description = "Success"), (status = 401, description = "Not authenticated"), (status = 404, description = "Unknown, or not a member"), (status = 403, description = "Missing role or scope")),
    security(("bearer" = ["workspaces:admin"]), ("session" = []))
)]
async fn list_invitations(State(state): State<HttpState>, WsAdmin(a): WsAdmin) -> Result<Json<Value>, ApiError> {
    let list = state.app.invitations().list(&a).await?;
    Ok(Json(json!({ "invitations": list.iter().map(json::invitation).collect::<Vec<_>>() })))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateInvitation {
    email: Option<String>,
    username: Option<String>,
    groups: Vec<String>,
}

/// 201 with the invitation, or 200 with a `status` when nothing was needed.
#[utoipa::path(
    post,
    path = "/workspaces/{ws}/invitations",
    tag = "invitations",
    summary = "Invite by email or username into groups (200 with a status when nothing was needed)",
    params(("ws" = String, Path, description = "Workspace slug")),
    request_body = CreateInvitation,
    responses((status = 201, description = "Success"), (status = 401, description = "Not authenticated"), (status = 404, description = "Unknown, or not a member"), (status = 403, description = "Missing role or scope"), (status = 422, description = "Invalid input; nothing changed")),
    security(("bearer" = ["workspaces:admin"]), ("session" = []))
)]
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

#[utoipa::path(
    post,
    path = "/workspaces/{ws}/invitations/{id}/resend",
    tag = "invitations",
    summary = "Resend: a new link, the old one dies",
    params(("ws" = String, Path, description = "Workspace slug"), ("id" = String, Path, description = "Identifier")),
    responses((status = 200, description = "Success"), (status = 401, description = "Not authenticated"), (status = 404, description = "Unknown, or not a member"), (status = 403, description = "Missing role or scope"), (status = 422, description = "Invalid input; nothing changed")),
    security(("bearer" = ["workspaces:admin"]), ("session" = []))
)]
async fn resend_invitation(
    State(state): State<HttpState>,
    WsAdmin(a): WsAdmin,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(json::invitation(&state.app.invitations().resend(&a, &id).await?)))
}

#[utoipa::path(
    delete,
    path = "/workspaces/{ws}/invitations/{id}",
    tag = "invitations",
    summary = "Revoke a pending invitation",
    params(("ws" = String, Path, description = "Workspace slug"), ("id" = String, Path, description = "Identifier")),
    responses((status = 204, description = "Success"), (status = 401, description = "Not authenticated"), (status = 404, description = "Unknown, or not a member"), (status = 403, description = "Missing role or scope")),
    security(("bearer" = ["workspaces:admin"]), ("session" = []))
)]
async fn revoke_invitation(
    State(state): State<HttpState>,
    WsAdmin(a): WsAdmin,
    Path((_, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state.app.invitations().revoke(&a, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
