//! `/api/v1/account/tokens`: personal access tokens, managed from a browser
//! session only (a token cannot mint tokens).

use super::caller::ApiCaller;
use super::json::{self, ApiJson};
use crate::HttpState;
use crate::error::ApiError;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

pub fn router() -> Router<HttpState> {
    Router::new()
        .route("/account/tokens", get(list_tokens).post(create_token))
        .route("/account/tokens/{id}", delete(revoke_token))
}

async fn list_tokens(State(state): State<HttpState>, caller: ApiCaller) -> Result<Json<Value>, ApiError> {
    caller.require_session()?;
    let tokens = state.app.tokens().list(&caller.account).await?;
    Ok(Json(json!({ "tokens": tokens.iter().map(json::access_token).collect::<Vec<_>>() })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateToken {
    name: String,
    scopes: Vec<String>,
}

/// The secret is in this response only.
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

async fn revoke_token(
    State(state): State<HttpState>,
    caller: ApiCaller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require_session()?;
    state.app.tokens().revoke(&caller.account, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
