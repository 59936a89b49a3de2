//! Guildhall's pure domain: identifiers, parsed values, rules and the decisions
//! they return, and protocol wire types.
//!
//! This crate owns no I/O: it must not depend on tokio, sqlx, axum or any HTTP
//! client. Values are parsed once at the edge (`Email::parse`, `Username::parse`,
//! `ReturnTo::parse`) so that no raw `String` travels inward.

pub mod accounts;
pub mod forms;
pub mod identities;
pub mod ids;
pub mod mfa;
pub mod oauth;
pub mod orgs;
pub mod problem;
pub mod provisioning;
pub mod return_to;
pub mod scim;
pub mod scopes;
pub mod throttle;
pub mod time;
pub mod tokens;
pub mod webhooks;
pub mod workspaces;

pub use ids::{
    AccessTokenId, AccountId, CustomerId, GrantId, GroupId, InvitationId, LinkId, OrgId, ProductId, RepositoryId,
    SessionId, SiteId, WorkspaceId,
};
pub use time::Timestamp;
