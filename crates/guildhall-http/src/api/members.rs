//! `GET /api/v1/workspaces/{ws}/members` (cursor-paged) and
//! `GET /api/v1/workspaces/{ws}/audit` (admins only).

use super::caller::{WsAdmin, WsMember};
use super::json;
use crate::HttpState;
use crate::error::ApiError;
use axum::Json;
use axum::extract::{Query, State};
use guildhall_app::AppError;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<HttpState> {
    OpenApiRouter::new().routes(routes!(list_members)).routes(routes!(list_audit))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MembersQuery {
    /// The cursor: the last username of the previous page.
    after: Option<String>,
    limit: Option<u32>,
    #[serde(default)]
    all_repositories: bool,
}

#[utoipa::path(
    get,
    path = "/workspaces/{ws}/members",
    tag = "members",
    summary = "Members with their groups, by cursor; all_repositories=true keeps those who reach every repository",
    params(("ws" = String, Path, description = "Workspace slug")),
    responses((status = 200, description = "Success"), (status = 401, description = "Not authenticated"), (status = 404, description = "Unknown, or not a member"), (status = 403, description = "Missing role or scope")),
    security(("bearer" = ["workspaces:read"]), ("session" = []))
)]
async fn list_members(
    State(state): State<HttpState>,
    WsMember(m): WsMember,
    q: Result<Query<MembersQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = q.map_err(|e| AppError::invalid("query", e.body_text()))?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(AppError::invalid("limit", "limit is 1 to 1000").into());
    }
    let page = state.app.workspaces().members(&m, q.after.as_deref(), limit, q.all_repositories).await?;
    let next = (page.len() == limit as usize).then(|| page.last().map(|m| m.account.username.to_string())).flatten();
    let members: Vec<Value> = page
        .iter()
        .map(|m| {
            let mut v = json::person(&m.account);
            v["groups"] = json!(m.groups);
            v
        })
        .collect();
    Ok(Json(json!({ "members": members, "next": next })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditQuery {
    before: Option<i64>,
    limit: Option<u32>,
}

#[utoipa::path(
    get,
    path = "/workspaces/{ws}/audit",
    tag = "audit",
    summary = "The audit log, newest first (admins only)",
    params(("ws" = String, Path, description = "Workspace slug")),
    responses((status = 200, description = "Success"), (status = 401, description = "Not authenticated"), (status = 404, description = "Unknown, or not a member"), (status = 403, description = "Missing role or scope")),
    security(("bearer" = ["workspaces:admin"]), ("session" = []))
)]
async fn list_audit(
    State(state): State<HttpState>,
    WsAdmin(a): WsAdmin,
    q: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = q.map_err(|e| AppError::invalid("query", e.body_text()))?;
    let limit = q.limit.unwrap_or(100).clamp(1, 500);
    let entries = state.app.workspaces().audit_log(&a, q.before, limit).await?;
    let next = (entries.len() == limit as usize).then(|| entries.last().map(|(id, _)| *id)).flatten();
    Ok(Json(json!({
        "entries": entries.iter().map(|(id, e)| json::audit(*id, e)).collect::<Vec<_>>(),
        "next": next,
    })))
}
