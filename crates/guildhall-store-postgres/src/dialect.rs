//! What differs on PostgreSQL: connection settings and row locks.

use crate::store::{SqlStore, db};
use guildhall_app::ports::StoreError;
use sqlx::postgres::PgPoolOptions;
use std::time::Duration;

/// Locks the counter row so concurrent hits from several nodes serialise.
pub(crate) const SELECT_THROTTLE_FOR_UPDATE: &str =
    "SELECT hits, window_start, locked_until, lockouts FROM throttles WHERE key = $1 FOR UPDATE";

/// Locks the group row, so concurrent member removals serialise.
/// Locks the org row, so concurrent admin removals serialise.
pub(crate) const LOCK_ORG: &str = "SELECT slug FROM orgs WHERE id = $1 FOR UPDATE";

/// Locks the account row, so concurrent changes to its sign-in methods serialise.
pub(crate) const LOCK_ACCOUNT: &str = "SELECT password_hash FROM accounts WHERE id = $1 FOR UPDATE";

pub(crate) const LOCK_GROUP: &str = "SELECT is_admins FROM groups WHERE id = $1 FOR UPDATE";

/// Locks the webhook endpoint row, so its fan-out runs on one node at a time.
pub(crate) const LOCK_WEBHOOK: &str =
    "SELECT workspace_id, org_id, event_types, event_cursor, enabled FROM webhook_endpoints WHERE id = $1 FOR UPDATE";

/// Due deliveries to lease, skipping rows another node is leasing right now.
/// `$3` now, `$4` how many, `$5` true.
pub(crate) const CLAIM_DUE_DELIVERIES: &str = "SELECT id FROM webhook_deliveries WHERE status = 'pending' \
     AND next_attempt_at <= $3 AND (lease_until IS NULL OR lease_until <= $3) \
     AND endpoint_id IN (SELECT id FROM webhook_endpoints WHERE enabled = $5) \
     ORDER BY next_attempt_at LIMIT $4 FOR UPDATE SKIP LOCKED";

/// `col` is one of the ids bound, by `ids_param`, as the one array
/// parameter `$n`.
pub(crate) fn in_ids(col: &str, n: usize) -> String {
    format!("{col} = ANY(${n})")
}

/// `col` lowercased, ASCII letters only: under the C collation, whatever
/// the database's (a Turkish one lowercases `I` to a dotless `ı`).
pub(crate) fn lower_ascii(col: &str) -> String {
    format!("lower({col} COLLATE \"C\")")
}

/// SQL true when `col` holds a character outside printable ASCII.
pub(crate) fn not_plain_ascii(col: &str) -> String {
    format!("{col} ~ '[^ -~]'")
}

/// The value `in_ids` expects.
pub(crate) fn ids_param(ids: &[uuid::Uuid]) -> Vec<uuid::Uuid> {
    ids.to_vec()
}

pub(crate) async fn begin_write(
    pool: &sqlx::Pool<crate::Db>,
) -> Result<sqlx::Transaction<'static, crate::Db>, sqlx::Error> {
    pool.begin().await
}

/// A read transaction on one snapshot (REPEATABLE READ).
pub(crate) async fn begin_read(
    pool: &sqlx::Pool<crate::Db>,
) -> Result<sqlx::Transaction<'static, crate::Db>, sqlx::Error> {
    pool.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY").await
}

/// Connects to a `postgres://` URL.
pub async fn connect(url: &str) -> Result<SqlStore, StoreError> {
    let pool = PgPoolOptions::new()
        .max_connections(16)
        .acquire_timeout(Duration::from_secs(10))
        .connect(url)
        .await
        .map_err(db)?;
    Ok(SqlStore::from_pool(pool))
}
