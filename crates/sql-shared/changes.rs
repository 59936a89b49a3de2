//! The change feed (ADR 0006), shared by both backends.

use crate::store::{SqlStore, Tx, db};
use guildhall_app::ports::{Change, ChangeStore, StoreError};
use guildhall_core::{AccountId, GrantId, ProductId, WorkspaceId};
use sqlx::Row;
use uuid::Uuid;

/// Changes kept; older ones are pruned by the writers themselves. A node
/// that falls this far behind drops its whole cache.
const KEEP: i64 = 100_000;

/// Records a change inside the caller's write transaction. Call it last in
/// the transaction: from here until commit the counter row is locked, and
/// every other writer that records a change waits for it.
pub(crate) async fn record_change(tx: &mut Tx, change: Change) -> Result<(), StoreError> {
    let seq: i64 = sqlx::query_scalar("UPDATE change_counter SET seq = seq + 1 WHERE id = 1 RETURNING seq")
        .fetch_one(&mut **tx)
        .await
        .map_err(db)?;
    let (kind, subject) = match change {
        Change::Workspace(id) => ("workspace", id.0),
        Change::Account(id) => ("account", id.0),
        Change::Product(id) => ("product", id.0),
        Change::Grant(id) => ("grant", id.0),
    };
    sqlx::query("INSERT INTO changes (seq, kind, subject) VALUES ($1, $2, $3)")
        .bind(seq)
        .bind(kind)
        .bind(subject)
        .execute(&mut **tx)
        .await
        .map_err(db)?;
    if seq % 1000 == 0 {
        sqlx::query("DELETE FROM changes WHERE seq <= $1").bind(seq - KEEP).execute(&mut **tx).await.map_err(db)?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl ChangeStore for SqlStore {
    async fn latest_change(&self) -> Result<i64, StoreError> {
        sqlx::query_scalar("SELECT seq FROM change_counter WHERE id = 1").fetch_one(&self.pool).await.map_err(db)
    }

    async fn changes_since(&self, after: i64, limit: u32) -> Result<Vec<(i64, Change)>, StoreError> {
        let rows = sqlx::query("SELECT seq, kind, subject FROM changes WHERE seq > $1 ORDER BY seq LIMIT $2")
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        rows.iter()
            .map(|row| {
                let seq: i64 = row.try_get("seq").map_err(db)?;
                let subject: Uuid = row.try_get("subject").map_err(db)?;
                let change = match row.try_get::<String, _>("kind").map_err(db)?.as_str() {
                    "workspace" => Change::Workspace(WorkspaceId::from_uuid(subject)),
                    "account" => Change::Account(AccountId::from_uuid(subject)),
                    "product" => Change::Product(ProductId::from_uuid(subject)),
                    "grant" => Change::Grant(GrantId::from_uuid(subject)),
                    other => return Err(StoreError::Backend(format!("unknown change kind {other:?}").into())),
                };
                Ok((seq, change))
            })
            .collect()
    }
}
