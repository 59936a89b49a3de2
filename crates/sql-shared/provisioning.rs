//! `ProvisioningStore` on SQL: SCIM connections, the leases nodes take on
//! them, and their maps of pushed resources (docs/provisioning.md).
//!
//! A claim is one conditional `UPDATE` per connection whose `WHERE` says the
//! lease is free: PostgreSQL re-checks it on the row a concurrent claim has
//! just leased (and so skips it), SQLite runs writes one at a time. No two
//! owners hold one connection, with no dialect-specific locking.

use crate::events::{scope_column, scope_from_row, scoped_audit, scoped_audited};
use crate::store::{SqlStore, backend, corrupt, db, millis};
use guildhall_app::ports::{
    Audit, ClaimedConnection, EventScope, ObjectKind, ProvisionedCounts, ProvisioningStore, RemoteObject, RoundOutcome,
    ScimConnection, StoreError,
};
use guildhall_core::Timestamp;
use guildhall_core::provisioning::SyncStatus;
use sqlx::Row;
use uuid::Uuid;

type DbRow = <crate::Db as sqlx::Database>::Row;

const COLS: &str = "id, workspace_id, org_id, name, base_url, enabled, event_cursor, status, last_error, \
     last_synced_at, last_attempt_at, next_attempt_at, failures, created_by, created_at, updated_at";

/// The counts of what a connection pushed, as three columns.
const COUNTS: &str = "(SELECT COUNT(*) FROM scim_connection_objects o WHERE o.connection_id = c.id \
       AND o.kind = 'user' AND o.active) AS users, \
     (SELECT COUNT(*) FROM scim_connection_objects o WHERE o.connection_id = c.id \
       AND o.kind = 'user' AND NOT o.active) AS deprovisioned, \
     (SELECT COUNT(*) FROM scim_connection_objects o WHERE o.connection_id = c.id AND o.kind = 'group') AS grps";

fn connection_from_row(row: &DbRow) -> Result<ScimConnection, StoreError> {
    let status: String = row.try_get("status").map_err(db)?;
    let failures: i32 = row.try_get("failures").map_err(db)?;
    Ok(ScimConnection {
        id: row.try_get("id").map_err(db)?,
        scope: scope_from_row(row)?,
        name: row.try_get("name").map_err(db)?,
        base_url: row.try_get("base_url").map_err(db)?,
        enabled: row.try_get("enabled").map_err(db)?,
        status: SyncStatus::parse(&status).ok_or_else(|| corrupt("scim connection status"))?,
        last_error: row.try_get("last_error").map_err(db)?,
        last_synced_at: millis(row, "last_synced_at")?,
        last_attempt_at: millis(row, "last_attempt_at")?,
        next_attempt_at: millis(row, "next_attempt_at")?,
        failures: u32::try_from(failures).map_err(|_| corrupt("scim connection failures"))?,
        cursor: row.try_get("event_cursor").map_err(db)?,
        created_by: row.try_get("created_by").map_err(db)?,
        created_at: Timestamp::from_millis(row.try_get("created_at").map_err(db)?),
        updated_at: Timestamp::from_millis(row.try_get("updated_at").map_err(db)?),
    })
}

fn counts_from_row(row: &DbRow) -> Result<ProvisionedCounts, StoreError> {
    let n = |c: &str| -> Result<u64, StoreError> {
        u64::try_from(row.try_get::<i64, _>(c).map_err(db)?).map_err(|_| corrupt("count"))
    };
    Ok(ProvisionedCounts { users: n("users")?, deprovisioned: n("deprovisioned")?, groups: n("grps")? })
}

fn object_from_row(row: &DbRow) -> Result<RemoteObject, StoreError> {
    let kind: String = row.try_get("kind").map_err(db)?;
    Ok(RemoteObject {
        kind: ObjectKind::parse(&kind).ok_or_else(|| corrupt("scim object kind"))?,
        local_id: row.try_get("local_id").map_err(db)?,
        remote_id: row.try_get("remote_id").map_err(db)?,
        fingerprint: row.try_get("fingerprint").map_err(db)?,
        active: row.try_get("active").map_err(db)?,
    })
}

impl SqlStore {
    /// The scope's connections (or the one with `id`), with their counts.
    async fn connections_where(
        &self,
        scope: EventScope,
        id: Option<Uuid>,
    ) -> Result<Vec<(ScimConnection, ProvisionedCounts)>, StoreError> {
        let (column, owner) = scope_column(scope);
        let one = if id.is_some() { " AND c.id = $2" } else { "" };
        let sql = format!(
            "SELECT {COLS}, {COUNTS} FROM scim_connections c WHERE c.{column} = $1{one} ORDER BY created_at, id"
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(owner);
        if let Some(id) = id {
            q = q.bind(id);
        }
        let rows = q.fetch_all(&self.pool).await.map_err(db)?;
        rows.iter().map(|r| Ok((connection_from_row(r)?, counts_from_row(r)?))).collect()
    }
}

#[async_trait::async_trait]
impl ProvisioningStore for SqlStore {
    async fn create_scim_connection(
        &self,
        c: &ScimConnection,
        token_sealed: &[u8],
        audit: &Audit,
    ) -> Result<(), StoreError> {
        let (ws, org) = match c.scope {
            EventScope::Workspace(w) => (Some(w.0), None),
            EventScope::Org(o) => (None, Some(o.0)),
        };
        let mut tx = crate::dialect::begin_write(&self.pool).await.map_err(db)?;
        sqlx::query(
            "INSERT INTO scim_connections (id, workspace_id, org_id, name, base_url, token_sealed, enabled, \
               event_cursor, status, next_attempt_at, full_sync_at, failures, created_by, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, 0, $11, $12, $13)",
        )
        .bind(c.id)
        .bind(ws)
        .bind(org)
        .bind(&c.name)
        .bind(&c.base_url)
        .bind(token_sealed)
        .bind(c.enabled)
        .bind(c.cursor)
        .bind(c.status.as_str())
        .bind(c.next_attempt_at.unwrap_or(c.created_at).as_millis())
        .bind(&c.created_by)
        .bind(c.created_at.as_millis())
        .bind(c.updated_at.as_millis())
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        scoped_audit(&mut tx, c.scope, audit).await?;
        tx.commit().await.map_err(db)
    }

    async fn scim_connections(
        &self,
        scope: EventScope,
    ) -> Result<Vec<(ScimConnection, ProvisionedCounts)>, StoreError> {
        self.connections_where(scope, None).await
    }

    async fn scim_connection(
        &self,
        scope: EventScope,
        id: Uuid,
    ) -> Result<Option<(ScimConnection, ProvisionedCounts)>, StoreError> {
        Ok(self.connections_where(scope, Some(id)).await?.pop())
    }

    async fn update_scim_connection(
        &self,
        c: &ScimConnection,
        token_sealed: Option<&[u8]>,
        resync: bool,
        audit: &Audit,
    ) -> Result<bool, StoreError> {
        let (column, owner) = scope_column(c.scope);
        let q = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE scim_connections SET name = $1, base_url = $2, enabled = $3, updated_at = $4, \
               token_sealed = COALESCE($5, token_sealed), \
               next_attempt_at = CASE WHEN $6 THEN $4 ELSE next_attempt_at END, \
               full_sync_at = CASE WHEN $6 THEN $4 ELSE full_sync_at END, \
               failures = CASE WHEN $6 THEN 0 ELSE failures END, \
               status = CASE WHEN $6 THEN 'pending' ELSE status END, \
               last_error = CASE WHEN $6 THEN NULL ELSE last_error END \
             WHERE id = $7 AND {column} = $8"
        )))
        .bind(&c.name)
        .bind(&c.base_url)
        .bind(c.enabled)
        .bind(c.updated_at.as_millis())
        .bind(token_sealed)
        .bind(resync)
        .bind(c.id)
        .bind(owner);
        scoped_audited(self, c.scope, audit, q).await
    }

    async fn delete_scim_connection(&self, scope: EventScope, id: Uuid, audit: &Audit) -> Result<bool, StoreError> {
        let (column, owner) = scope_column(scope);
        let q =
            sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM scim_connections WHERE id = $1 AND {column} = $2")));
        scoped_audited(self, scope, audit, q.bind(id).bind(owner)).await
    }

    async fn request_scim_sync(
        &self,
        scope: EventScope,
        id: Uuid,
        now: Timestamp,
        audit: &Audit,
    ) -> Result<bool, StoreError> {
        let (column, owner) = scope_column(scope);
        let q = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE scim_connections SET next_attempt_at = $1, full_sync_at = $1 WHERE id = $2 AND {column} = $3"
        )));
        scoped_audited(self, scope, audit, q.bind(now.as_millis()).bind(id).bind(owner)).await
    }

    async fn claim_scim_connections(
        &self,
        owner: &str,
        now: Timestamp,
        until: Timestamp,
        limit: u32,
    ) -> Result<Vec<ClaimedConnection>, StoreError> {
        // A read first: an idle round takes no write lock.
        let candidates: Vec<Uuid> = sqlx::query_scalar(
            "SELECT c.id FROM scim_connections c \
              WHERE c.enabled = $1 AND (c.lease_until IS NULL OR c.lease_until <= $2) \
                AND ((c.next_attempt_at IS NOT NULL AND c.next_attempt_at <= $2) \
                  OR (c.next_attempt_at IS NULL AND ( \
                       (c.workspace_id IS NOT NULL AND EXISTS (SELECT 1 FROM events v \
                          WHERE v.workspace_id = c.workspace_id AND v.seq > c.event_cursor)) \
                    OR (c.org_id IS NOT NULL AND EXISTS (SELECT 1 FROM events v \
                          WHERE v.org_id = c.org_id AND v.seq > c.event_cursor))))) \
              ORDER BY COALESCE(c.next_attempt_at, 0), c.id LIMIT $3",
        )
        .bind(true)
        .bind(now.as_millis())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        let mut claimed = Vec::with_capacity(candidates.len());
        for id in candidates {
            // The lease is free and the connection still not held off by a
            // backoff (another node may have just finished it).
            let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                "UPDATE scim_connections SET lease_owner = $1, lease_until = $2, last_attempt_at = $3 \
                  WHERE id = $4 AND enabled = $5 AND (lease_until IS NULL OR lease_until <= $3) \
                    AND (next_attempt_at IS NULL OR next_attempt_at <= $3) \
                 RETURNING {COLS}, token_sealed, full_sync_at"
            )))
            .bind(owner)
            .bind(until.as_millis())
            .bind(now.as_millis())
            .bind(id)
            .bind(true)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
            if let Some(r) = row {
                claimed.push(ClaimedConnection {
                    connection: connection_from_row(&r)?,
                    token_sealed: r.try_get("token_sealed").map_err(db)?,
                    full: r.try_get::<Option<i64>, _>("full_sync_at").map_err(db)?.is_some(),
                });
            }
        }
        Ok(claimed)
    }

    async fn renew_scim_lease(&self, id: Uuid, owner: &str, until: Timestamp) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE scim_connections SET lease_until = $1 WHERE id = $2 AND lease_owner = $3")
            .bind(until.as_millis())
            .bind(id)
            .bind(owner)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(done.rows_affected() == 1)
    }

    async fn finish_scim_round(
        &self,
        id: Uuid,
        owner: &str,
        started: Timestamp,
        at: Timestamp,
        outcome: &RoundOutcome,
    ) -> Result<bool, StoreError> {
        let done = match outcome {
            RoundOutcome::Synced { cursor } => sqlx::query(
                "UPDATE scim_connections SET lease_owner = NULL, lease_until = NULL, status = 'in_sync', \
                   last_error = NULL, last_synced_at = $1, failures = 0, \
                   event_cursor = CASE WHEN event_cursor > $2 THEN event_cursor ELSE $2 END, \
                   next_attempt_at = CASE WHEN next_attempt_at > $3 THEN next_attempt_at ELSE NULL END, \
                   full_sync_at = CASE WHEN full_sync_at > $3 THEN full_sync_at ELSE NULL END \
                 WHERE id = $4 AND lease_owner = $5",
            )
            .bind(at.as_millis())
            .bind(*cursor)
            .bind(started.as_millis())
            .bind(id)
            .bind(owner)
            .execute(&self.pool)
            .await
            .map_err(db)?,
            RoundOutcome::Failed { error, retry_at } => sqlx::query(
                "UPDATE scim_connections SET lease_owner = NULL, lease_until = NULL, status = 'error', \
                   last_error = $1, failures = failures + 1, next_attempt_at = $2 \
                 WHERE id = $3 AND lease_owner = $4",
            )
            .bind(error)
            .bind(retry_at.as_millis())
            .bind(id)
            .bind(owner)
            .execute(&self.pool)
            .await
            .map_err(db)?,
        };
        Ok(done.rows_affected() == 1)
    }

    async fn remote_objects(&self, connection: Uuid) -> Result<Vec<RemoteObject>, StoreError> {
        let rows = sqlx::query(
            "SELECT kind, local_id, remote_id, fingerprint, active FROM scim_connection_objects \
              WHERE connection_id = $1 ORDER BY kind, local_id",
        )
        .bind(connection)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter().map(object_from_row).collect()
    }

    async fn save_remote_object(&self, connection: Uuid, o: &RemoteObject) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO scim_connection_objects (connection_id, kind, local_id, remote_id, fingerprint, active) \
             SELECT $1, $2, $3, $4, $5, $6 WHERE EXISTS (SELECT 1 FROM scim_connections WHERE id = $1) \
             ON CONFLICT (connection_id, kind, local_id) DO UPDATE SET remote_id = $4, fingerprint = $5, active = $6",
        )
        .bind(connection)
        .bind(o.kind.as_str())
        .bind(o.local_id)
        .bind(&o.remote_id)
        .bind(&o.fingerprint)
        .bind(o.active)
        .execute(&self.pool)
        .await;
        match done {
            Ok(d) => Ok(d.rows_affected() == 1),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(StoreError::Conflict("remote_id")),
            // A connection deleted between the check and the insert.
            Err(sqlx::Error::Database(e)) if e.is_foreign_key_violation() => Ok(false),
            Err(e) => Err(backend(e)),
        }
    }

    async fn forget_remote_object(&self, connection: Uuid, kind: ObjectKind, local_id: Uuid) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM scim_connection_objects WHERE connection_id = $1 AND kind = $2 AND local_id = $3")
            .bind(connection)
            .bind(kind.as_str())
            .bind(local_id)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }
}
