//! `/api/v1/account/tokens`: personal access tokens, managed from a browser
//! session only (a token cannot mint tokens).

use super::caller::ApiCaller;
use super::json::{self, ApiJson};
use crate::HttpState;
use crate::error::ApiError;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<HttpState> {
    OpenApiRouter::new().routes(routes!(list_tokens, create_token)).routes(routes!(revoke_token))
}

#[utoipa::path(
    get,
    path = "/account/tokens",
    tag = "tokens",
    summary = "List your personal access tokens",
    responses((status = 200, description = "Success"), (status = 401, description = "Not authenticated"), (status = 403, description = "Missing role or scope")),
    security(("session" = []))
)]
async fn list_tokens(State(state): State<HttpState>, caller: ApiCaller) -> Result<Json<Value>, ApiError> {
    caller.require_session()?;
    let tokens = state.app.tokens().list(&caller.account).await?;
    Ok(Json(json!({ "tokens": tokens.iter().map(json::access_token).collect::<Vec<_>>() })))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateToken {
    name: String,
    scopes: Vec<String>,
}

/// The secret is in this response only.
#[utoipa::path(
    post,
    path = "/account/tokens",
    tag = "tokens",
    summary = "Create a personal access token (the secret is in this response only)",
    request_body = CreateToken,
    responses((status = 201, description = "Success"), (status = 401, description = "Not authenticated"), (status = 403, description = "Missing role or scope"), (status = 422, description = "Invalid input; nothing changed")),
    security(("session" = []))
)]
async fn create_token(
    State(state): State<HttpState>,
    caller: ApiCaller,
    ApiJson(body): ApiJson<CreateToken>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require_session()?;
    let (token, secret) = state.app.tokens().create(&caller.account, &body.name, &body.scopes).await?;
    let mut v = json::access_token(&token);
    v["token"] = json!(secret.expose());
    Ok((StatusCode::CREATED, Json(v)))
}

#[utoipa::path(
    delete,
    path = "/account/tokens/{id}",
    tag = "tokens",
    summary = "Revoke a personal access token",
    params(("id" = String, Path, description = "Identifier")),
    responses((status = 204, description = "Success"), (status = 401, description = "Not authenticated"), (status = 403, description = "Missing role or scope")),
    security(("session" = []))
)]
async fn revoke_token(
    State(state): State<HttpState>,
    caller: ApiCaller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require_session()?;
    state.app.tokens().revoke(&caller.account, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
