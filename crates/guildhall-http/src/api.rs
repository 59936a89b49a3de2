//! `/api/v1`: JSON, with RFC 9457 problem responses for every error.

mod account;
mod caller;
pub(crate) mod directory;
mod groups;
mod invitations;
mod json;
mod links;
mod members;
mod orgs;
mod provisioning;
mod repositories;
mod tokens;
mod webhooks;
mod workspaces;

use crate::HttpState;
use crate::error::ApiError;
use axum::routing::get;
use axum::{Json, Router};
use guildhall_core::problem::Problem;
use std::sync::Arc;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{InfoBuilder, OpenApi};
use utoipa_axum::router::OpenApiRouter;

/// The API router and its OpenAPI document, built from the same handlers:
/// a route cannot exist without its documentation.
pub fn router() -> Router<HttpState> {
    let (router, mut doc) = OpenApiRouter::new()
        .merge(account::router())
        .merge(tokens::router())
        .merge(workspaces::router())
        .merge(groups::router())
        .merge(repositories::router())
        .merge(members::router())
        .merge(invitations::router())
        .merge(orgs::router())
        .merge(links::router())
        .merge(directory::router())
        .merge(webhooks::router())
        .merge(provisioning::router())
        .split_for_parts();
    describe(&mut doc);
    let doc = Arc::new(doc);
    router.route("/openapi.json", get(move || async move { Json(doc.as_ref().clone()) })).fallback(not_found)
}

fn describe(doc: &mut OpenApi) {
    doc.info = InfoBuilder::new()
        .title("Guildhall API")
        .version(env!("CARGO_PKG_VERSION"))
        .description(Some(
            "Accounts, workspaces, groups, repositories, permissions and invitations. Errors are RFC 9457 \
             problem+json. Authenticate with `Authorization: Bearer <personal access token>`, or a browser session.",
        ))
        .build();
    doc.servers = Some(vec![utoipa::openapi::Server::new("/api/v1")]);
    let components = doc.components.get_or_insert_with(Default::default);
    components
        .add_security_scheme("bearer", SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()));
    components.add_security_scheme(
        "link_secret",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some("A linked product's own secret (from creating or rotating the link)"))
                .build(),
        ),
    );
    components.add_security_scheme("session", SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new("gh_session"))));
}

async fn not_found() -> ApiError {
    ApiError(Problem::new("not-found", "No such API endpoint", 404))
}
