//! `GET /api/v1/account`: the signed-in account (session cookie for now;
//! bearer tokens arrive with the workspaces API).

use crate::HttpState;
use crate::error::ApiError;
use crate::session::MaybeSignedIn;
use axum::routing::get;
use axum::{Json, Router};
use guildhall_app::AppError;
use serde_json::{Value, json};

pub fn router() -> Router<HttpState> {
    Router::new().route("/account", get(show))
}

async fn show(MaybeSignedIn(who): MaybeSignedIn) -> Result<Json<Value>, ApiError> {
    let who = who.ok_or(AppError::Unauthenticated)?;
    let a = who.account;
    Ok(Json(json!({
        "id": a.id,
        "email": a.email,
        "email_verified": a.email_verified,
        "username": a.username,
        "display_name": a.display_name,
        "status": a.status,
        "created_at": a.created_at.rfc3339(),
    })))
}
