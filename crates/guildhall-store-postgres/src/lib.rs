//! The PostgreSQL store: the shared SQL implementation (`crates/sql-shared`)
//! compiled for `sqlx::Postgres`, this backend's connection settings and its
//! migrations. Must not depend on guildhall-http or the binary.

pub type Db = sqlx::Postgres;

pub(crate) static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

#[path = "../../sql-shared/accounts.rs"]
mod accounts;
#[path = "../../sql-shared/changes.rs"]
mod changes;
mod dialect;
#[path = "../../sql-shared/events.rs"]
mod events;
#[path = "../../sql-shared/identities.rs"]
mod identities;
#[path = "../../sql-shared/invitations.rs"]
mod invitations;
#[path = "../../sql-shared/jobs.rs"]
mod jobs;
#[path = "../../sql-shared/links.rs"]
mod links;
#[path = "../../sql-shared/mfa.rs"]
mod mfa;
#[path = "../../sql-shared/oauth.rs"]
mod oauth;
#[path = "../../sql-shared/orgs.rs"]
mod orgs;
#[path = "../../sql-shared/provisioning.rs"]
mod provisioning;
#[path = "../../sql-shared/scim.rs"]
mod scim;
#[path = "../../sql-shared/sessions.rs"]
mod sessions;
#[path = "../../sql-shared/sites.rs"]
mod sites;
#[path = "../../sql-shared/store.rs"]
mod store;
#[path = "../../sql-shared/throttle.rs"]
mod throttle;
#[path = "../../sql-shared/tokens.rs"]
mod tokens;
#[path = "../../sql-shared/webhooks.rs"]
mod webhooks;
#[path = "../../sql-shared/workspaces.rs"]
mod workspaces;

pub use dialect::connect;
pub use store::SqlStore as PostgresStore;
