//! `GET /api/v1/account`: the calling account (session or any valid token).

use super::caller::ApiCaller;
use axum::Json;
use serde_json::{Value, json};

use crate::HttpState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<HttpState> {
    OpenApiRouter::new().routes(routes!(show))
}

#[utoipa::path(
    get,
    path = "/account",
    tag = "account",
    summary = "The calling account",
    responses((status = 200, description = "Success"), (status = 401, description = "Not authenticated")),
    security(("bearer" = []), ("session" = []))
)]
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
