//! `/api/v1`: JSON, with RFC 9457 problem responses for every error.

mod account;
mod caller;
mod groups;
mod invitations;
mod json;
mod members;
mod repositories;
mod tokens;
mod workspaces;

use crate::HttpState;
use crate::error::ApiError;
use axum::Router;
use guildhall_core::problem::Problem;

pub fn router() -> Router<HttpState> {
    Router::new()
        .merge(account::router())
        .merge(tokens::router())
        .merge(workspaces::router())
        .merge(groups::router())
        .merge(repositories::router())
        .merge(members::router())
        .merge(invitations::router())
        .fallback(not_found)
}

async fn not_found() -> ApiError {
    ApiError(Problem::new("not-found", "No such API endpoint", 404))
}
