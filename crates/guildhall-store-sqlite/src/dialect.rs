//! What differs on SQLite: connection settings and write transactions.

use crate::store::{SqlStore, db};
use guildhall_app::ports::StoreError;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use std::str::FromStr;
use std::time::Duration;

/// SQLite has no row locks; `BEGIN IMMEDIATE` (below) already holds the
/// database's write lock for the whole transaction.
pub(crate) const SELECT_THROTTLE_FOR_UPDATE: &str =
    "SELECT hits, window_start, locked_until, lockouts FROM throttles WHERE key = $1";

/// Write transactions take the write lock up front, so two writers queue on
/// `busy_timeout` instead of failing on a lock upgrade.
/// The write transaction already holds SQLite's lock; no row lock needed.
/// Locks the org row, so concurrent admin removals serialise.
pub(crate) const LOCK_ORG: &str = "SELECT slug FROM orgs WHERE id = $1";

/// The account row (the write transaction already holds the lock).
pub(crate) const LOCK_ACCOUNT: &str = "SELECT password_hash FROM accounts WHERE id = $1";

pub(crate) const LOCK_GROUP: &str = "SELECT is_admins FROM groups WHERE id = $1";

/// The webhook endpoint row (the write transaction already holds the lock).
pub(crate) const LOCK_WEBHOOK: &str =
    "SELECT workspace_id, org_id, event_types, event_cursor, enabled FROM webhook_endpoints WHERE id = $1";

/// Due deliveries to lease (inside the write transaction, which holds the lock).
/// `$3` now, `$4` how many, `$5` true.
pub(crate) const CLAIM_DUE_DELIVERIES: &str = "SELECT id FROM webhook_deliveries WHERE status = 'pending' \
     AND next_attempt_at <= $3 AND (lease_until IS NULL OR lease_until <= $3) \
     AND endpoint_id IN (SELECT id FROM webhook_endpoints WHERE enabled = $5) \
     ORDER BY next_attempt_at LIMIT $4";

/// `col` is one of the ids bound, by `ids_param`, as the one parameter
/// `$n`: a JSON array of hex. One bind instead of one per id, since SQLite
/// finds each named parameter by a scan of the others (a page of 1,000 ids
/// as 1,000 binds cost more than the query itself). `unhex` needs SQLite
/// 3.41; sqlx's `sqlite` feature builds its bundled copy (3.51), never the
/// system's.
pub(crate) fn in_ids(col: &str, n: usize) -> String {
    format!("{col} IN (SELECT unhex(value) FROM json_each(${n}))")
}

/// `col` lowercased, ASCII letters only (SQLite's `lower` folds no others).
pub(crate) fn lower_ascii(col: &str) -> String {
    format!("lower({col})")
}

/// SQL true when `col` holds a character outside printable ASCII.
pub(crate) fn not_plain_ascii(col: &str) -> String {
    format!("{col} GLOB '*[^ -~]*'")
}

/// The value `in_ids` expects.
pub(crate) fn ids_param(ids: &[uuid::Uuid]) -> String {
    let hex: Vec<String> = ids.iter().map(|i| i.simple().to_string()).collect();
    serde_json::Value::from(hex).to_string()
}

pub(crate) async fn begin_write(
    pool: &sqlx::Pool<crate::Db>,
) -> Result<sqlx::Transaction<'static, crate::Db>, sqlx::Error> {
    pool.begin_with("BEGIN IMMEDIATE").await
}

/// A read transaction: in WAL mode it sees one snapshot throughout.
pub(crate) async fn begin_read(
    pool: &sqlx::Pool<crate::Db>,
) -> Result<sqlx::Transaction<'static, crate::Db>, sqlx::Error> {
    pool.begin().await
}

/// Opens (creating if missing) a database from a `sqlite:` URL, in WAL mode
/// with foreign keys enforced.
pub async fn connect(url: &str) -> Result<SqlStore, StoreError> {
    let options = SqliteConnectOptions::from_str(url)
        .map_err(db)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(10));
    let pool = SqlitePoolOptions::new().max_connections(8).connect_with(options).await.map_err(db)?;
    Ok(SqlStore::from_pool(pool))
}
