//! Guildhall's HTTP surface: the server-rendered pages, `/api/v1`, health and
//! metrics. Handlers parse input, call a use case on `guildhall_app::App` and
//! map its `AppError` to this surface's error type (`PageError`, `ApiError`).
//!
//! Must not depend on a store crate or the binary; it sees only the app.

mod api;
mod client;
mod csrf;
mod error;
mod health;
pub mod metrics;
mod oauth;
mod pages;
mod scim;
mod session;

/// The `{ws}` path parameter that names a workspace; without one the
/// workspace does not exist for this request (404).
pub(crate) async fn workspace_slug(parts: &mut axum::http::request::Parts) -> Result<String, guildhall_app::AppError> {
    path_param(parts, "ws").await
}

/// One named path parameter (`NotFound` when missing).
pub(crate) async fn path_param(
    parts: &mut axum::http::request::Parts,
    name: &str,
) -> Result<String, guildhall_app::AppError> {
    use axum::extract::{FromRequestParts, Path};
    let Path(mut params) = Path::<std::collections::HashMap<String, String>>::from_request_parts(parts, &())
        .await
        .map_err(|_| guildhall_app::AppError::NotFound)?;
    params.remove(name).ok_or(guildhall_app::AppError::NotFound)
}

pub use metrics::Metrics;

use axum::Router;
use axum::extract::MatchedPath;
use axum::http::{HeaderName, HeaderValue, Request, header};
use guildhall_app::App;
use std::sync::Arc;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

/// HTTP-level settings.
#[derive(Clone, Debug)]
pub struct HttpConfig {
    /// The public base URL (scheme, host, port), used for same-origin checks.
    pub public_url: url::Url,
    /// Take the client address from the last `X-Forwarded-For` entry (set
    /// this only behind a reverse proxy that appends it).
    pub trust_forwarded_for: bool,
}

impl HttpConfig {
    /// Cookies get `Secure` (and the `__Host-` prefix) when served over TLS.
    pub fn secure_cookies(&self) -> bool {
        self.public_url.scheme() == "https"
    }
}

/// What every handler can reach.
#[derive(Clone)]
pub struct HttpState {
    pub app: App,
    pub config: Arc<HttpConfig>,
    pub metrics: Arc<Metrics>,
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The whole application router.
pub fn router(state: HttpState) -> Router {
    let metrics = state.metrics.clone();
    // Behind TLS, browsers must never fall back to plain HTTP.
    let hsts = state.config.secure_cookies().then(|| {
        SetResponseHeaderLayer::if_not_present(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        )
    });
    Router::new()
        .merge(pages::router())
        .merge(oauth::consent_router())
        .nest("/api/v1", api::router())
        .merge(health::router())
        .layer(axum::middleware::from_fn_with_state(state.clone(), csrf::same_origin_guard))
        .merge(oauth::router())
        .merge(scim::router())
        .layer(axum::middleware::from_fn_with_state(metrics, metrics::track))
        .layer(SetResponseHeaderLayer::overriding(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
        .layer(SetResponseHeaderLayer::overriding(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
        .layer(SetResponseHeaderLayer::overriding(header::REFERRER_POLICY, HeaderValue::from_static("same-origin")))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .layer(tower::util::option_layer(hsts))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        // Spans carry the route template, never the raw path or query: both
        // can hold secret tokens (`/invitations/{token}`, `?token=`).
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
            let id = req.headers().get(&REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("-");
            let route = req.extensions().get::<MatchedPath>().map_or("<unmatched>", |p| p.as_str());
            tracing::info_span!("http", method = %req.method(), route = %route, request_id = %id)
        }))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .with_state(state)
}
