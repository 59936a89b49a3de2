//! `GET /api/v1/account`: the calling account (session or any valid token).

use super::caller::ApiCaller;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::HttpState;

pub fn router() -> Router<HttpState> {
    Router::new().route("/account", get(show))
}

async fn show(caller: ApiCaller) -> Json<Value> {
    let a = caller.account;
    Json(json!({
        "id": a.id,
        "email": a.email,
        "email_verified": a.email_verified,
        "username": a.username,
        "display_name": a.display_name,
        "status": a.status,
        "created_at": a.created_at.rfc3339(),
    }))
}
