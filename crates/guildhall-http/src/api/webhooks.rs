//! `/api/v1/{workspaces/{ws}|orgs/{org}}/webhooks…`: webhook endpoints,
//! their delivery log, redelivery and pings (docs/webhooks.md).
//!
//! Managed by the workspace's or org's admins: in a browser session, or
//! with a personal token carrying `workspaces:admin` / `orgs:admin`.
//! Directory tokens (made for applications) cannot manage webhooks.
//! Anyone else gets 404.

use super::caller::ScopeAdminCaller;
use super::json::ApiJson;
use crate::HttpState;
use crate::error::ApiError;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use guildhall_app::AppError;
use guildhall_app::ports::{DeliveryAttempt, DeliveryStatus, WebhookDelivery, WebhookEndpoint};
use guildhall_app::webhooks::{NewWebhook, WebhookAdmin, WebhookChange};
use guildhall_core::webhooks::{EventTypes, SECRET_OVERLAP};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<HttpState> {
    OpenApiRouter::new()
        .routes(routes!(list_ws_webhooks, create_ws_webhook))
        .routes(routes!(get_ws_webhook, update_ws_webhook, delete_ws_webhook))
        .routes(routes!(ws_deliveries))
        .routes(routes!(ws_redeliver))
        .routes(routes!(ws_ping))
        .routes(routes!(ws_rotate_secret))
        .routes(routes!(list_org_webhooks, create_org_webhook))
        .routes(routes!(get_org_webhook, update_org_webhook, delete_org_webhook))
        .routes(routes!(org_deliveries))
        .routes(routes!(org_redeliver))
        .routes(routes!(org_ping))
        .routes(routes!(org_rotate_secret))
}

pub fn endpoint_json(e: &WebhookEndpoint) -> Value {
    json!({
        "id": e.id,
        "url": e.url,
        "description": e.description,
        "event_types": EventTypes::from_stored(&e.event_types).items(),
        "enabled": e.enabled,
        "created_by": e.created_by,
        "created_at": e.created_at.rfc3339(),
        "updated_at": e.updated_at.rfc3339(),
        "failing_since": e.failing_since.map(|t| t.rfc3339()),
    })
}

pub fn delivery_json(d: &WebhookDelivery, attempts: &[DeliveryAttempt]) -> Value {
    json!({
        "id": d.id,
        "webhook_id": d.message_id,
        "event_type": d.event_type,
        "cursor": d.event_seq,
        "status": d.status.as_str(),
        "attempts": d.attempts,
        "next_attempt_at": (d.status == DeliveryStatus::Pending).then(|| d.next_attempt_at.rfc3339()),
        "last_status_code": d.last_status_code,
        "last_error": d.last_error,
        "created_at": d.created_at.rfc3339(),
        "finished_at": d.finished_at.map(|t| t.rfc3339()),
        "redelivery_of": d.redelivery_of,
        "payload": serde_json::from_str::<Value>(&d.body).unwrap_or(Value::Null),
        "attempt_log": attempts.iter().map(|a| json!({
            "at": a.at.rfc3339(),
            "status_code": a.status_code,
            "error": a.error,
            "duration_ms": a.duration_ms,
        })).collect::<Vec<_>>(),
    })
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateWebhook {
    /// `https://…` on a public host.
    url: String,
    description: Option<String>,
    /// Types (`group.member_added`), families (`group.*`) or `*`; absent or empty: every type.
    event_types: Option<Vec<String>>,
    /// Default true.
    enabled: Option<bool>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct UpdateWebhook {
    url: Option<String>,
    description: Option<String>,
    event_types: Option<Vec<String>>,
    enabled: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeliveriesQuery {
    limit: Option<u32>,
}

type DeliveriesQueryResult = Result<Query<DeliveriesQuery>, axum::extract::rejection::QueryRejection>;

async fn list(state: &HttpState, a: &WebhookAdmin) -> Result<Json<Value>, ApiError> {
    let hooks = state.app.webhooks().list(a).await?;
    Ok(Json(json!({ "webhooks": hooks.iter().map(endpoint_json).collect::<Vec<_>>() })))
}

async fn create(
    state: &HttpState,
    a: &WebhookAdmin,
    body: CreateWebhook,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let types = body.event_types.unwrap_or_default();
    let new = NewWebhook {
        url: &body.url,
        description: body.description.as_deref().unwrap_or_default(),
        event_types: &types,
        enabled: body.enabled.unwrap_or(true),
    };
    let (endpoint, secret) = state.app.webhooks().create(a, new).await?;
    let mut v = endpoint_json(&endpoint);
    v["secret"] = json!(secret.expose());
    Ok((StatusCode::CREATED, Json(v)))
}

async fn get(state: &HttpState, a: &WebhookAdmin, id: &str) -> Result<Json<Value>, ApiError> {
    Ok(Json(endpoint_json(&state.app.webhooks().get(a, id).await?)))
}

async fn update(state: &HttpState, a: &WebhookAdmin, id: &str, body: UpdateWebhook) -> Result<Json<Value>, ApiError> {
    let change = WebhookChange {
        url: body.url.as_deref(),
        description: body.description.as_deref(),
        event_types: body.event_types.as_deref(),
        enabled: body.enabled,
    };
    Ok(Json(endpoint_json(&state.app.webhooks().update(a, id, change).await?)))
}

async fn delete(state: &HttpState, a: &WebhookAdmin, id: &str) -> Result<StatusCode, ApiError> {
    state.app.webhooks().delete(a, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn deliveries(
    state: &HttpState,
    a: &WebhookAdmin,
    id: &str,
    q: DeliveriesQueryResult,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = q.map_err(|e| AppError::invalid("query", e.body_text()))?;
    let limit = q.limit.unwrap_or(50);
    if !(1..=100).contains(&limit) {
        return Err(AppError::invalid("limit", "limit is 1 to 100").into());
    }
    let list = state.app.webhooks().deliveries(a, id, limit).await?;
    Ok(Json(json!({ "deliveries": list.iter().map(|(d, t)| delivery_json(d, t)).collect::<Vec<_>>() })))
}

async fn redeliver(
    state: &HttpState,
    a: &WebhookAdmin,
    id: &str,
    delivery: &str,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let d = state.app.webhooks().redeliver(a, id, delivery).await?;
    Ok((StatusCode::CREATED, Json(delivery_json(&d, &[]))))
}

async fn rotate_secret(state: &HttpState, a: &WebhookAdmin, id: &str) -> Result<Json<Value>, ApiError> {
    let (endpoint, secret) = state.app.webhooks().rotate_secret(a, id).await?;
    let mut v = endpoint_json(&endpoint);
    v["secret"] = json!(secret.expose());
    v["previous_secret_expires_at"] = json!(endpoint.updated_at.plus(SECRET_OVERLAP).rfc3339());
    Ok(Json(v))
}

async fn ping(state: &HttpState, a: &WebhookAdmin, id: &str) -> Result<(StatusCode, Json<Value>), ApiError> {
    let d = state.app.webhooks().ping(a, id).await?;
    Ok((StatusCode::ACCEPTED, Json(delivery_json(&d, &[]))))
}

#[utoipa::path(get, path = "/workspaces/{ws}/webhooks", tag = "webhooks",
    summary = "The workspace's webhook endpoints (secrets are never listed)",
    params(("ws" = String, Path, description = "Workspace slug")),
    responses((status = 200, description = "Success"), (status = 401, description = "Not authenticated"), (status = 404, description = "Unknown, or not an admin"), (status = 403, description = "Missing scope")),
    security(("bearer" = ["workspaces:admin"]), ("session" = [])))]
async fn list_ws_webhooks(
    State(state): State<HttpState>,
    ScopeAdminCaller(a): ScopeAdminCaller,
) -> Result<Json<Value>, ApiError> {
    list(&state, &a).await
}

#[utoipa::path(post, path = "/workspaces/{ws}/webhooks", tag = "webhooks",
    summary = "Register a webhook endpoint; its signing secret is in this response only",
    params(("ws" = String, Path, description = "Workspace slug")), request_body = CreateWebhook,
    responses((status = 201, description = "Created"), (status = 401, description = "Not authenticated"), (status = 404, description = "Unknown, or not an admin"), (status = 403, description = "Missing scope"), (status = 409, description = "Too many endpoints"), (status = 422, description = "Invalid input; nothing changed")),
    security(("bearer" = ["workspaces:admin"]), ("session" = [])))]
async fn create_ws_webhook(
    State(state): State<HttpState>,
    ScopeAdminCaller(a): ScopeAdminCaller,
    ApiJson(body): ApiJson<CreateWebhook>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    create(&state, &a, body).await
}

#[utoipa::path(get, path = "/workspaces/{ws}/webhooks/{id}", tag = "webhooks", summary = "A webhook endpoint",
    params(("ws" = String, Path, description = "Workspace slug"), ("id" = String, Path, description = "Endpoint id")),
    responses((status = 200, description = "Success"), (status = 404, description = "Unknown, or not an admin"), (status = 403, description = "Missing scope")),
    security(("bearer" = ["workspaces:admin"]), ("session" = [])))]
async fn get_ws_webhook(
    State(state): State<HttpState>,
    ScopeAdminCaller(a): ScopeAdminCaller,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    get(&state, &a, &id).await
}

#[utoipa::path(patch, path = "/workspaces/{ws}/webhooks/{id}", tag = "webhooks",
    summary = "Change an endpoint's URL, description, event types or enabled state",
    params(("ws" = String, Path, description = "Workspace slug"), ("id" = String, Path, description = "Endpoint id")),
    request_body = UpdateWebhook,
    responses((status = 200, description = "Success"), (status = 404, description = "Unknown, or not an admin"), (status = 403, description = "Missing scope"), (status = 422, description = "Invalid input; nothing changed")),
    security(("bearer" = ["workspaces:admin"]), ("session" = [])))]
async fn update_ws_webhook(
    State(state): State<HttpState>,
    ScopeAdminCaller(a): ScopeAdminCaller,
    Path((_, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<UpdateWebhook>,
) -> Result<Json<Value>, ApiError> {
    update(&state, &a, &id, body).await
}

#[utoipa::path(delete, path = "/workspaces/{ws}/webhooks/{id}", tag = "webhooks",
    summary = "Remove an endpoint and its delivery log",
    params(("ws" = String, Path, description = "Workspace slug"), ("id" = String, Path, description = "Endpoint id")),
    responses((status = 204, description = "Removed"), (status = 404, description = "Unknown, or not an admin"), (status = 403, description = "Missing scope")),
    security(("bearer" = ["workspaces:admin"]), ("session" = [])))]
async fn delete_ws_webhook(
    State(state): State<HttpState>,
    ScopeAdminCaller(a): ScopeAdminCaller,
    Path((_, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    delete(&state, &a, &id).await
}

#[utoipa::path(get, path = "/workspaces/{ws}/webhooks/{id}/deliveries", tag = "webhooks",
    summary = "The endpoint's delivery log, newest first, with every attempt",
    params(("ws" = String, Path, description = "Workspace slug"), ("id" = String, Path, description = "Endpoint id"),
           ("limit" = Option<u32>, Query, description = "1 to 100, default 50")),
    responses((status = 200, description = "Success"), (status = 404, description = "Unknown, or not an admin"), (status = 403, description = "Missing scope"), (status = 422, description = "Invalid query")),
    security(("bearer" = ["workspaces:admin"]), ("session" = [])))]
async fn ws_deliveries(
    State(state): State<HttpState>,
    ScopeAdminCaller(a): ScopeAdminCaller,
    Path((_, id)): Path<(String, String)>,
    q: DeliveriesQueryResult,
) -> Result<Json<Value>, ApiError> {
    deliveries(&state, &a, &id, q).await
}

#[utoipa::path(post, path = "/workspaces/{ws}/webhooks/{id}/deliveries/{delivery}/redeliver", tag = "webhooks",
    summary = "Send a delivery again (same webhook-id and body, a new entry in the log)",
    params(("ws" = String, Path, description = "Workspace slug"), ("id" = String, Path, description = "Endpoint id"),
           ("delivery" = String, Path, description = "Delivery id")),
    responses((status = 201, description = "Queued"), (status = 404, description = "Unknown, or not an admin"), (status = 403, description = "Missing scope")),
    security(("bearer" = ["workspaces:admin"]), ("session" = [])))]
async fn ws_redeliver(
    State(state): State<HttpState>,
    ScopeAdminCaller(a): ScopeAdminCaller,
    Path((_, id, delivery)): Path<(String, String, String)>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    redeliver(&state, &a, &id, &delivery).await
}

#[utoipa::path(post, path = "/workspaces/{ws}/webhooks/{id}/ping", tag = "webhooks",
    summary = "Send a `webhook.ping` message to the endpoint",
    params(("ws" = String, Path, description = "Workspace slug"), ("id" = String, Path, description = "Endpoint id")),
    responses((status = 202, description = "Queued"), (status = 404, description = "Unknown, or not an admin"), (status = 403, description = "Missing scope")),
    security(("bearer" = ["workspaces:admin"]), ("session" = [])))]
async fn ws_ping(
    State(state): State<HttpState>,
    ScopeAdminCaller(a): ScopeAdminCaller,
    Path((_, id)): Path<(String, String)>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    ping(&state, &a, &id).await
}

#[utoipa::path(post, path = "/workspaces/{ws}/webhooks/{id}/rotate-secret", tag = "webhooks",
    summary = "Replace the signing secret (shown in this answer only); the old one keeps signing beside it for 24 hours",
    params(("ws" = String, Path, description = "Workspace slug"), ("id" = String, Path, description = "Endpoint id")),
    responses((status = 200, description = "The endpoint with `secret` and `previous_secret_expires_at`"), (status = 404, description = "Unknown, or not an admin"), (status = 403, description = "Missing scope")),
    security(("bearer" = ["workspaces:admin"]), ("session" = [])))]
async fn ws_rotate_secret(
    State(state): State<HttpState>,
    ScopeAdminCaller(a): ScopeAdminCaller,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    rotate_secret(&state, &a, &id).await
}

#[utoipa::path(get, path = "/orgs/{org}/webhooks", tag = "webhooks",
    summary = "The organization's webhook endpoints (secrets are never listed)",
    params(("org" = String, Path, description = "Organization slug")),
    responses((status = 200, description = "Success"), (status = 401, description = "Not authenticated"), (status = 404, description = "Unknown, or not an admin"), (status = 403, description = "Missing scope")),
    security(("bearer" = ["orgs:admin"]), ("session" = [])))]
async fn list_org_webhooks(
    State(state): State<HttpState>,
    ScopeAdminCaller(a): ScopeAdminCaller,
) -> Result<Json<Value>, ApiError> {
    list(&state, &a).await
}

#[utoipa::path(post, path = "/orgs/{org}/webhooks", tag = "webhooks",
    summary = "Register a webhook endpoint; its signing secret is in this response only",
    params(("org" = String, Path, description = "Organization slug")), request_body = CreateWebhook,
    responses((status = 201, description = "Created"), (status = 401, description = "Not authenticated"), (status = 404, description = "Unknown, or not an admin"), (status = 403, description = "Missing scope"), (status = 409, description = "Too many endpoints"), (status = 422, description = "Invalid input; nothing changed")),
    security(("bearer" = ["orgs:admin"]), ("session" = [])))]
async fn create_org_webhook(
    State(state): State<HttpState>,
    ScopeAdminCaller(a): ScopeAdminCaller,
    ApiJson(body): ApiJson<CreateWebhook>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    create(&state, &a, body).await
}

#[utoipa::path(get, path = "/orgs/{org}/webhooks/{id}", tag = "webhooks", summary = "A webhook endpoint",
    params(("org" = String, Path, description = "Organization slug"), ("id" = String, Path, description = "Endpoint id")),
    responses((status = 200, description = "Success"), (status = 404, description = "Unknown, or not an admin"), (status = 403, description = "Missing scope")),
    security(("bearer" = ["orgs:admin"]), ("session" = [])))]
async fn get_org_webhook(
    State(state): State<HttpState>,
    ScopeAdminCaller(a): ScopeAdminCaller,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    get(&state, &a, &id).await
}

#[utoipa::path(patch, path = "/orgs/{org}/webhooks/{id}", tag = "webhooks",
    summary = "Change an endpoint's URL, description, event types or enabled state",
    params(("org" = String, Path, description = "Organization slug"), ("id" = String, Path, description = "Endpoint id")),
    request_body = UpdateWebhook,
    responses((status = 200, description = "Success"), (status = 404, description = "Unknown, or not an admin"), (status = 403, description = "Missing scope"), (status = 422, description = "Invalid input; nothing changed")),
    security(("bearer" = ["orgs:admin"]), ("session" = [])))]
async fn update_org_webhook(
    State(state): State<HttpState>,
    ScopeAdminCaller(a): ScopeAdminCaller,
    Path((_, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<UpdateWebhook>,
) -> Result<Json<Value>, ApiError> {
    update(&state, &a, &id, body).await
}

#[utoipa::path(delete, path = "/orgs/{org}/webhooks/{id}", tag = "webhooks",
    summary = "Remove an endpoint and its delivery log",
    params(("org" = String, Path, description = "Organization slug"), ("id" = String, Path, description = "Endpoint id")),
    responses((status = 204, description = "Removed"), (status = 404, description = "Unknown, or not an admin"), (status = 403, description = "Missing scope")),
    security(("bearer" = ["orgs:admin"]), ("session" = [])))]
async fn delete_org_webhook(
    State(state): State<HttpState>,
    ScopeAdminCaller(a): ScopeAdminCaller,
    Path((_, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    delete(&state, &a, &id).await
}

#[utoipa::path(get, path = "/orgs/{org}/webhooks/{id}/deliveries", tag = "webhooks",
    summary = "The endpoint's delivery log, newest first, with every attempt",
    params(("org" = String, Path, description = "Organization slug"), ("id" = String, Path, description = "Endpoint id"),
           ("limit" = Option<u32>, Query, description = "1 to 100, default 50")),
    responses((status = 200, description = "Success"), (status = 404, description = "Unknown, or not an admin"), (status = 403, description = "Missing scope"), (status = 422, description = "Invalid query")),
    security(("bearer" = ["orgs:admin"]), ("session" = [])))]
async fn org_deliveries(
    State(state): State<HttpState>,
    ScopeAdminCaller(a): ScopeAdminCaller,
    Path((_, id)): Path<(String, String)>,
    q: DeliveriesQueryResult,
) -> Result<Json<Value>, ApiError> {
    deliveries(&state, &a, &id, q).await
}

#[utoipa::path(post, path = "/orgs/{org}/webhooks/{id}/deliveries/{delivery}/redeliver", tag = "webhooks",
    summary = "Send a delivery again (same webhook-id and body, a new entry in the log)",
    params(("org" = String, Path, description = "Organization slug"), ("id" = String, Path, description = "Endpoint id"),
           ("delivery" = String, Path, description = "Delivery id")),
    responses((status = 201, description = "Queued"), (status = 404, description = "Unknown, or not an admin"), (status = 403, description = "Missing scope")),
    security(("bearer" = ["orgs:admin"]), ("session" = [])))]
async fn org_redeliver(
    State(state): State<HttpState>,
    ScopeAdminCaller(a): ScopeAdminCaller,
    Path((_, id, delivery)): Path<(String, String, String)>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    redeliver(&state, &a, &id, &delivery).await
}

#[utoipa::path(post, path = "/orgs/{org}/webhooks/{id}/ping", tag = "webhooks",
    summary = "Send a `webhook.ping` message to the endpoint",
    params(("org" = String, Path, description = "Organization slug"), ("id" = String, Path, description = "Endpoint id")),
    responses((status = 202, description = "Queued"), (status = 404, description = "Unknown, or not an admin"), (status = 403, description = "Missing scope")),
    security(("bearer" = ["orgs:admin"]), ("session" = [])))]
async fn org_ping(
    State(state): State<HttpState>,
    ScopeAdminCaller(a): ScopeAdminCaller,
    Path((_, id)): Path<(String, String)>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    ping(&state, &a, &id).await
}

#[utoipa::path(post, path = "/orgs/{org}/webhooks/{id}/rotate-secret", tag = "webhooks",
    summary = "Replace the signing secret (shown in this answer only); the old one keeps signing beside it for 24 hours",
    params(("org" = String, Path, description = "Organization slug"), ("id" = String, Path, description = "Endpoint id")),
    responses((status = 200, description = "The endpoint with `secret` and `previous_secret_expires_at`"), (status = 404, description = "Unknown, or not an admin"), (status = 403, description = "Missing scope")),
    security(("bearer" = ["orgs:admin"]), ("session" = [])))]
async fn org_rotate_secret(
    State(state): State<HttpState>,
    ScopeAdminCaller(a): ScopeAdminCaller,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    rotate_secret(&state, &a, &id).await
}
