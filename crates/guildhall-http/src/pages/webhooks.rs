//! The webhooks page of a workspace or an organization, for its admins
//! (docs/webhooks.md): register endpoints (the secret is shown once),
//! enable, disable, ping and remove them, read an endpoint's delivery log
//! and redeliver. Everyone else gets 404, as in the API.

use crate::HttpState;
use crate::csrf::{self, CsrfForm};
use crate::error::PageError;
use crate::pages::PageScopeAdmin;
use crate::pages::{render, render_message};
use askama::Template;
use axum::Router;
use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::cookie::CookieJar;
use guildhall_app::AppError;
use guildhall_app::ports::WebhookEndpoint;
use guildhall_app::webhooks::{NewWebhook, WebhookChange};
use guildhall_core::webhooks::EventTypes;
use serde::Deserialize;

pub fn router() -> Router<HttpState> {
    let mut router = Router::new();
    for base in ["/workspaces/{ws}", "/orgs/{org}"] {
        router = router
            .route(&format!("{base}/webhooks"), get(show_webhooks).post(create_webhook))
            .route(&format!("{base}/webhooks/{{id}}/enabled"), post(set_enabled))
            .route(&format!("{base}/webhooks/{{id}}/ping"), post(ping))
            .route(&format!("{base}/webhooks/{{id}}/rotate-secret"), post(rotate_secret))
            .route(&format!("{base}/webhooks/{{id}}/delete"), post(delete_webhook))
            .route(&format!("{base}/webhooks/{{id}}/deliveries/{{delivery}}/redeliver"), post(redeliver));
    }
    router
}

async fn ids(parts: &mut Parts) -> Result<(String, String), AppError> {
    let id = crate::path_param(parts, "id").await?;
    Ok((id, crate::path_param(parts, "delivery").await.unwrap_or_default()))
}

/// The `{id}` (and `{delivery}`) path parameters.
struct Ids(String, String);

impl<S: Send + Sync> FromRequestParts<S> for Ids {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let (id, delivery) = ids(parts).await?;
        Ok(Self(id, delivery))
    }
}

struct HookRow {
    id: String,
    url: String,
    description: String,
    types: String,
    enabled: bool,
    /// "failing since …", or empty.
    failing: String,
}

impl From<&WebhookEndpoint> for HookRow {
    fn from(e: &WebhookEndpoint) -> Self {
        let types = EventTypes::from_stored(&e.event_types);
        Self {
            id: e.id.to_string(),
            url: e.url.clone(),
            description: e.description.clone(),
            types: if types.items().is_empty() { "all".to_owned() } else { types.items().join(" ") },
            enabled: e.enabled,
            failing: e.failing_since.map(|t| format!("failing since {}", t.rfc3339())).unwrap_or_default(),
        }
    }
}

struct DeliveryRow {
    id: String,
    created: String,
    event: String,
    status: &'static str,
    attempts: u32,
    answer: String,
}

struct Log {
    hook: HookRow,
    deliveries: Vec<DeliveryRow>,
}

#[derive(Template)]
#[template(path = "webhooks.html")]
struct WebhooksPage {
    csrf: String,
    name: String,
    base: String,
    notice: &'static str,
    hooks: Vec<HookRow>,
    log: Option<Log>,
}

#[derive(Deserialize)]
struct PageQuery {
    notice: Option<String>,
    /// The endpoint whose delivery log to show.
    log: Option<String>,
}

fn notice(key: Option<&str>) -> &'static str {
    match key {
        Some("updated") => "The webhook is saved.",
        Some("deleted") => "The webhook is removed, with its delivery log.",
        Some("pinged") => "A ping is on its way; it appears in the delivery log.",
        Some("redelivered") => "The delivery is queued again; it appears at the top of the log.",
        _ => "",
    }
}

async fn show_webhooks(
    State(state): State<HttpState>,
    jar: CookieJar,
    p: PageScopeAdmin,
    Query(q): Query<PageQuery>,
) -> Result<Response, PageError> {
    let service = state.app.webhooks();
    let hooks = service.list(&p.admin).await?;
    let log = match q.log.as_deref() {
        Some(id) => {
            let hook = service.get(&p.admin, id).await?;
            let deliveries = service
                .deliveries(&p.admin, id, 50)
                .await?
                .iter()
                .map(|(d, _)| DeliveryRow {
                    id: d.id.to_string(),
                    created: d.created_at.rfc3339(),
                    event: d.event_seq.map_or_else(|| d.event_type.clone(), |s| format!("{} #{s}", d.event_type)),
                    status: d.status.as_str(),
                    attempts: d.attempts,
                    answer: match (d.last_status_code, &d.last_error) {
                        (_, Some(e)) => e.clone(),
                        (Some(c), None) => c.to_string(),
                        (None, None) => String::new(),
                    },
                })
                .collect();
            Some(Log { hook: HookRow::from(&hook), deliveries })
        }
        None => None,
    };
    let (jar, csrf) = csrf::token(&state, jar);
    let page = WebhooksPage {
        csrf,
        name: p.name,
        base: p.base,
        notice: notice(q.notice.as_deref()),
        hooks: hooks.iter().map(HookRow::from).collect(),
        log,
    };
    Ok((jar, render(&page)).into_response())
}

#[derive(Deserialize)]
struct CreateForm {
    #[serde(default)]
    url: String,
    #[serde(default)]
    description: String,
    /// Space- or comma-separated.
    #[serde(default)]
    event_types: String,
}

async fn create_webhook(
    State(state): State<HttpState>,
    p: PageScopeAdmin,
    CsrfForm(f): CsrfForm<CreateForm>,
) -> Result<Response, PageError> {
    let types: Vec<String> = f.event_types.split([' ', ',']).filter(|t| !t.is_empty()).map(str::to_owned).collect();
    let new = NewWebhook { url: &f.url, description: &f.description, event_types: &types, enabled: true };
    let (_, secret) = state.app.webhooks().create(&p.admin, new).await?;
    let text =
        format!("Give the receiving application this signing secret now; it is not shown again: {}", secret.expose());
    Ok(render_message("The webhook is registered", &text, &format!("{}/webhooks", p.base), "Back to the webhooks")
        .into_response())
}

#[derive(Deserialize)]
struct EnabledForm {
    #[serde(default)]
    enabled: bool,
}

fn back(p: &PageScopeAdmin, notice: &str, log: Option<&str>) -> Response {
    let log = log.map(|l| format!("&log={l}")).unwrap_or_default();
    Redirect::to(&format!("{}/webhooks?notice={notice}{log}", p.base)).into_response()
}

async fn set_enabled(
    State(state): State<HttpState>,
    p: PageScopeAdmin,
    Ids(id, _): Ids,
    CsrfForm(f): CsrfForm<EnabledForm>,
) -> Result<Response, PageError> {
    let change = WebhookChange { enabled: Some(f.enabled), ..WebhookChange::default() };
    state.app.webhooks().update(&p.admin, &id, change).await?;
    Ok(back(&p, "updated", None))
}

async fn ping(
    State(state): State<HttpState>,
    p: PageScopeAdmin,
    Ids(id, _): Ids,
    CsrfForm(_): CsrfForm<serde::de::IgnoredAny>,
) -> Result<Response, PageError> {
    state.app.webhooks().ping(&p.admin, &id).await?;
    Ok(back(&p, "pinged", Some(&id)))
}

async fn rotate_secret(
    State(state): State<HttpState>,
    p: PageScopeAdmin,
    Ids(id, _): Ids,
    CsrfForm(_): CsrfForm<serde::de::IgnoredAny>,
) -> Result<Response, PageError> {
    let (_, secret) = state.app.webhooks().rotate_secret(&p.admin, &id).await?;
    let text = format!(
        "Give the receiving application this signing secret now; it is not shown again: {}. For the next 24 hours \
         each delivery is signed with the old secret too, so the application can switch without missing one.",
        secret.expose()
    );
    Ok(render_message("The signing secret is replaced", &text, &format!("{}/webhooks", p.base), "Back to the webhooks")
        .into_response())
}

async fn delete_webhook(
    State(state): State<HttpState>,
    p: PageScopeAdmin,
    Ids(id, _): Ids,
    CsrfForm(_): CsrfForm<serde::de::IgnoredAny>,
) -> Result<Response, PageError> {
    state.app.webhooks().delete(&p.admin, &id).await?;
    Ok(back(&p, "deleted", None))
}

async fn redeliver(
    State(state): State<HttpState>,
    p: PageScopeAdmin,
    Ids(id, delivery): Ids,
    CsrfForm(_): CsrfForm<serde::de::IgnoredAny>,
) -> Result<Response, PageError> {
    state.app.webhooks().redeliver(&p.admin, &id, &delivery).await?;
    Ok(back(&p, "redelivered", Some(&id)))
}
