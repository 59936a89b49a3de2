//! `WebhookStore` on SQL: endpoints, the fan-out of the event log into
//! deliveries, leases on due deliveries, and the delivery log.
//!
//! Exactly one delivery per event and endpoint, however many nodes run:
//! the fan-out locks the endpoint row (`dialect::LOCK_WEBHOOK`; SQLite's
//! write transaction holds the database lock) while it reads the events
//! after the endpoint's cursor, inserts their deliveries and moves the
//! cursor; a partial unique index backs this up. Claims lease due rows in
//! one statement (`dialect::CLAIM_DUE_DELIVERIES`: `FOR UPDATE SKIP LOCKED`
//! on PostgreSQL).

use crate::accounts::{account_cols, accounts_from_rows};
use crate::events::{scope_column, scope_from_row, scoped_audit, scoped_audited};
use crate::store::{SqlStore, corrupt, db, millis};
use guildhall_app::ports::{
    AttemptOutcome, Audit, ClaimedDelivery, DeliveryAttempt, DeliveryStatus, EventScope, StoreError, WebhookDelivery,
    WebhookEndpoint, WebhookStore,
};
use guildhall_core::Timestamp;
use guildhall_core::accounts::Account;
use guildhall_core::webhooks::{EventTypes, Owner, message_id, payload};
use sqlx::Row;
use uuid::Uuid;

type DbRow = <crate::Db as sqlx::Database>::Row;

const ENDPOINT_COLS: &str = "SELECT id, workspace_id, org_id, url, description, event_types, enabled, created_by, \
     created_at, updated_at, failing_since FROM webhook_endpoints";

const DELIVERY_COLS: &str = "d.id, d.endpoint_id, d.event_seq, d.event_type, d.message_id, d.body, d.redelivery_of, \
     d.status, d.attempts, d.next_attempt_at, d.last_status_code, d.last_error, d.created_at, d.finished_at";

fn endpoint_from_row(row: &DbRow) -> Result<WebhookEndpoint, StoreError> {
    Ok(WebhookEndpoint {
        id: row.try_get("id").map_err(db)?,
        scope: scope_from_row(row)?,
        url: row.try_get("url").map_err(db)?,
        description: row.try_get("description").map_err(db)?,
        event_types: row.try_get("event_types").map_err(db)?,
        enabled: row.try_get("enabled").map_err(db)?,
        created_by: row.try_get("created_by").map_err(db)?,
        created_at: Timestamp::from_millis(row.try_get("created_at").map_err(db)?),
        updated_at: Timestamp::from_millis(row.try_get("updated_at").map_err(db)?),
        failing_since: millis(row, "failing_since")?,
    })
}

fn delivery_from_row(row: &DbRow) -> Result<WebhookDelivery, StoreError> {
    let status: String = row.try_get("status").map_err(db)?;
    let attempts: i32 = row.try_get("attempts").map_err(db)?;
    let code: Option<i32> = row.try_get("last_status_code").map_err(db)?;
    Ok(WebhookDelivery {
        id: row.try_get("id").map_err(db)?,
        endpoint: row.try_get("endpoint_id").map_err(db)?,
        event_seq: row.try_get("event_seq").map_err(db)?,
        event_type: row.try_get("event_type").map_err(db)?,
        message_id: row.try_get("message_id").map_err(db)?,
        body: row.try_get("body").map_err(db)?,
        redelivery_of: row.try_get("redelivery_of").map_err(db)?,
        status: DeliveryStatus::parse(&status).ok_or_else(|| corrupt("delivery status"))?,
        attempts: u32::try_from(attempts).map_err(|_| corrupt("delivery attempts"))?,
        next_attempt_at: Timestamp::from_millis(row.try_get("next_attempt_at").map_err(db)?),
        last_status_code: code.and_then(|c| u16::try_from(c).ok()),
        last_error: row.try_get("last_error").map_err(db)?,
        created_at: Timestamp::from_millis(row.try_get("created_at").map_err(db)?),
        finished_at: millis(row, "finished_at")?,
    })
}

fn attempt_from_row(row: &DbRow) -> Result<(Uuid, DeliveryAttempt), StoreError> {
    let code: Option<i32> = row.try_get("status_code").map_err(db)?;
    Ok((
        row.try_get("delivery_id").map_err(db)?,
        DeliveryAttempt {
            at: Timestamp::from_millis(row.try_get("at").map_err(db)?),
            status_code: code.and_then(|c| u16::try_from(c).ok()),
            error: row.try_get("error").map_err(db)?,
            duration_ms: row.try_get("duration_ms").map_err(db)?,
        },
    ))
}

/// The latest event number, as this transaction sees it.
async fn latest_event(tx: &mut crate::store::Tx) -> Result<i64, StoreError> {
    sqlx::query_scalar("SELECT event_seq FROM change_counter WHERE id = 1").fetch_one(&mut **tx).await.map_err(db)
}

/// The slug of the workspace or org; `None` if it is gone.
async fn scope_slug(tx: &mut crate::store::Tx, scope: EventScope) -> Result<Option<String>, StoreError> {
    let (table, id) = match scope {
        EventScope::Workspace(w) => ("workspaces", w.0),
        EventScope::Org(o) => ("orgs", o.0),
    };
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT slug FROM {table} WHERE id = $1")))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await
        .map_err(db)
}

async fn insert_delivery_row(tx: &mut crate::store::Tx, d: &WebhookDelivery) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO webhook_deliveries (id, endpoint_id, event_seq, event_type, message_id, body, redelivery_of, \
           status, attempts, next_attempt_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(d.id)
    .bind(d.endpoint)
    .bind(d.event_seq)
    .bind(&d.event_type)
    .bind(&d.message_id)
    .bind(&d.body)
    .bind(d.redelivery_of)
    .bind(d.status.as_str())
    .bind(i32::try_from(d.attempts).unwrap_or(i32::MAX))
    .bind(d.next_attempt_at.as_millis())
    .bind(d.created_at.as_millis())
    .execute(&mut **tx)
    .await
    .map_err(db)?;
    Ok(())
}

#[async_trait::async_trait]
impl WebhookStore for SqlStore {
    async fn create_webhook(&self, e: &WebhookEndpoint, secret_sealed: &[u8], audit: &Audit) -> Result<(), StoreError> {
        let (ws, org) = match e.scope {
            EventScope::Workspace(w) => (Some(w.0), None),
            EventScope::Org(o) => (None, Some(o.0)),
        };
        let mut tx = crate::dialect::begin_write(&self.pool).await.map_err(db)?;
        sqlx::query(
            "INSERT INTO webhook_endpoints (id, workspace_id, org_id, url, description, event_types, secret_sealed, \
               event_cursor, enabled, created_by, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8, $9, $10, $11)",
        )
        .bind(e.id)
        .bind(ws)
        .bind(org)
        .bind(&e.url)
        .bind(&e.description)
        .bind(&e.event_types)
        .bind(secret_sealed)
        .bind(e.enabled)
        .bind(&e.created_by)
        .bind(e.created_at.as_millis())
        .bind(e.updated_at.as_millis())
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        scoped_audit(&mut tx, e.scope, audit).await?;
        // After the audit's own event: what happened before is not sent.
        let latest = latest_event(&mut tx).await?;
        sqlx::query("UPDATE webhook_endpoints SET event_cursor = $1 WHERE id = $2")
            .bind(latest)
            .bind(e.id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)
    }

    async fn webhooks(&self, scope: EventScope) -> Result<Vec<WebhookEndpoint>, StoreError> {
        let (column, owner) = scope_column(scope);
        let rows =
            sqlx::query(sqlx::AssertSqlSafe(format!("{ENDPOINT_COLS} WHERE {column} = $1 ORDER BY created_at, id")))
                .bind(owner)
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
        rows.iter().map(endpoint_from_row).collect()
    }

    async fn webhook(&self, scope: EventScope, id: Uuid) -> Result<Option<WebhookEndpoint>, StoreError> {
        let (column, owner) = scope_column(scope);
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("{ENDPOINT_COLS} WHERE id = $1 AND {column} = $2")))
            .bind(id)
            .bind(owner)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        row.as_ref().map(endpoint_from_row).transpose()
    }

    async fn update_webhook(&self, e: &WebhookEndpoint, audit: &Audit) -> Result<bool, StoreError> {
        let (column, owner) = scope_column(e.scope);
        let mut tx = crate::dialect::begin_write(&self.pool).await.map_err(db)?;
        let Some(row) =
            sqlx::query(crate::dialect::LOCK_WEBHOOK).bind(e.id).fetch_optional(&mut *tx).await.map_err(db)?
        else {
            return Ok(false);
        };
        let (row_column, row_owner) = scope_column(scope_from_row(&row)?);
        if (row_column, row_owner) != (column, owner) {
            return Ok(false);
        }
        let was_enabled: bool = row.try_get("enabled").map_err(db)?;
        sqlx::query(
            "UPDATE webhook_endpoints SET url = $1, description = $2, event_types = $3, enabled = $4, updated_at = $5 \
              WHERE id = $6",
        )
        .bind(&e.url)
        .bind(&e.description)
        .bind(&e.event_types)
        .bind(e.enabled)
        .bind(e.updated_at.as_millis())
        .bind(e.id)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        scoped_audit(&mut tx, e.scope, audit).await?;
        if e.enabled && !was_enabled {
            // Enabled again: from now on, not what happened while off, and
            // with a clean slate of failures.
            let latest = latest_event(&mut tx).await?;
            sqlx::query("UPDATE webhook_endpoints SET event_cursor = $1, failing_since = NULL WHERE id = $2")
                .bind(latest)
                .bind(e.id)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        tx.commit().await.map_err(db)?;
        Ok(true)
    }

    async fn rotate_webhook_secret(
        &self,
        e: &WebhookEndpoint,
        secret_sealed: &[u8],
        previous_until: Timestamp,
        audit: &Audit,
    ) -> Result<bool, StoreError> {
        let (column, owner) = scope_column(e.scope);
        // Every right-hand side reads the row as it was: the current secret
        // becomes the previous one.
        let q = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE webhook_endpoints SET previous_secret_sealed = secret_sealed, previous_secret_until = $1, \
               secret_sealed = $2, updated_at = $3 WHERE id = $4 AND {column} = $5"
        )))
        .bind(previous_until.as_millis())
        .bind(secret_sealed)
        .bind(e.updated_at.as_millis())
        .bind(e.id)
        .bind(owner);
        scoped_audited(self, e.scope, audit, q).await
    }

    async fn disable_failing_webhook(
        &self,
        scope: EventScope,
        id: Uuid,
        failing_before: Timestamp,
        audit: &Audit,
    ) -> Result<bool, StoreError> {
        let (column, owner) = scope_column(scope);
        let q = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE webhook_endpoints SET enabled = $1, updated_at = $2 \
              WHERE id = $3 AND {column} = $4 AND enabled = $5 AND failing_since <= $6"
        )))
        .bind(false)
        .bind(audit.at.as_millis())
        .bind(id)
        .bind(owner)
        .bind(true)
        .bind(failing_before.as_millis());
        scoped_audited(self, scope, audit, q).await
    }

    async fn webhook_owner(&self, scope: EventScope) -> Result<Option<(String, Vec<Account>)>, StoreError> {
        let mut tx = crate::dialect::begin_read(&self.pool).await.map_err(db)?;
        let Some(slug) = scope_slug(&mut tx, scope).await? else { return Ok(None) };
        let admins = match scope {
            EventScope::Workspace(ws) => {
                let rows = sqlx::query(concat!(
                    "SELECT ",
                    account_cols!(),
                    " FROM accounts a JOIN group_members gm ON gm.account_id = a.id \
                      JOIN groups g ON g.id = gm.group_id \
                     WHERE g.workspace_id = $1 AND g.is_admins = $2 ORDER BY a.username"
                ))
                .bind(ws.0)
                .bind(true)
                .fetch_all(&mut *tx)
                .await
                .map_err(db)?;
                accounts_from_rows(&rows)?
            }
            EventScope::Org(org) => crate::orgs::org_admins_in(&mut *tx, org).await?,
        };
        Ok(Some((slug, admins)))
    }

    async fn delete_webhook(&self, scope: EventScope, id: Uuid, audit: &Audit) -> Result<bool, StoreError> {
        let (column, owner) = scope_column(scope);
        let q =
            sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM webhook_endpoints WHERE id = $1 AND {column} = $2")));
        scoped_audited(self, scope, audit, q.bind(id).bind(owner)).await
    }

    async fn webhooks_behind(&self) -> Result<Vec<Uuid>, StoreError> {
        sqlx::query_scalar(
            "SELECT e.id FROM webhook_endpoints e WHERE e.enabled = $1 AND ( \
               (e.workspace_id IS NOT NULL AND EXISTS (SELECT 1 FROM events v \
                  WHERE v.workspace_id = e.workspace_id AND v.seq > e.event_cursor)) \
               OR (e.org_id IS NOT NULL AND EXISTS (SELECT 1 FROM events v \
                  WHERE v.org_id = e.org_id AND v.seq > e.event_cursor))) \
             ORDER BY e.id",
        )
        .bind(true)
        .fetch_all(&self.pool)
        .await
        .map_err(db)
    }

    async fn fan_out_webhook(&self, endpoint: Uuid, now: Timestamp, limit: u32) -> Result<u32, StoreError> {
        let mut tx = crate::dialect::begin_write(&self.pool).await.map_err(db)?;
        let Some(row) =
            sqlx::query(crate::dialect::LOCK_WEBHOOK).bind(endpoint).fetch_optional(&mut *tx).await.map_err(db)?
        else {
            return Ok(0);
        };
        let enabled: bool = row.try_get("enabled").map_err(db)?;
        let cursor: i64 = row.try_get("event_cursor").map_err(db)?;
        let types = EventTypes::from_stored(&row.try_get::<String, _>("event_types").map_err(db)?);
        let scope = scope_from_row(&row)?;
        // Every event up to `latest` has committed (numbers are taken in
        // commit order, ADR 0006), so none can appear below the cursor later.
        let latest = latest_event(&mut tx).await?;
        if !enabled || latest <= cursor {
            return Ok(0);
        }
        let (column, owner) = scope_column(scope);
        let kind = match scope {
            EventScope::Workspace(_) => "workspace",
            EventScope::Org(_) => "org",
        };
        let Some(slug) = scope_slug(&mut tx, scope).await? else { return Ok(0) };
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT seq, type, data, at FROM events WHERE {column} = $1 AND seq > $2 AND seq <= $3 ORDER BY seq LIMIT $4"
        )))
        .bind(owner)
        .bind(cursor)
        .bind(latest)
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        let mut made = 0;
        let mut last = cursor;
        for r in &rows {
            let seq: i64 = r.try_get("seq").map_err(db)?;
            last = seq;
            let event_type: String = r.try_get("type").map_err(db)?;
            if !types.matches(&event_type) {
                continue;
            }
            let data: serde_json::Value = serde_json::from_str(&r.try_get::<String, _>("data").map_err(db)?)
                .map_err(|_| corrupt("event data"))?;
            let at = Timestamp::from_millis(r.try_get("at").map_err(db)?);
            let body = payload(&event_type, at, Some(seq), Owner { kind, slug: &slug }, &data);
            let delivery = WebhookDelivery {
                id: Uuid::now_v7(),
                endpoint,
                event_seq: Some(seq),
                message_id: message_id(seq, endpoint),
                event_type,
                body,
                redelivery_of: None,
                status: DeliveryStatus::Pending,
                attempts: 0,
                next_attempt_at: now,
                last_status_code: None,
                last_error: None,
                created_at: now,
                finished_at: None,
            };
            insert_delivery_row(&mut tx, &delivery).await?;
            made += 1;
        }
        let moved_to = if rows.len() < limit as usize { latest } else { last };
        sqlx::query("UPDATE webhook_endpoints SET event_cursor = $1 WHERE id = $2")
            .bind(moved_to)
            .bind(endpoint)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(made)
    }

    async fn claim_deliveries(
        &self,
        owner: &str,
        now: Timestamp,
        until: Timestamp,
        limit: u32,
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        // A read first, so an idle round takes no write lock.
        let any: Option<i32> = sqlx::query_scalar(
            "SELECT 1 FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= $1 LIMIT 1",
        )
        .bind(now.as_millis())
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        if any.is_none() {
            return Ok(Vec::new());
        }
        let mut tx = crate::dialect::begin_write(&self.pool).await.map_err(db)?;
        let ids: Vec<Uuid> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "UPDATE webhook_deliveries SET lease_owner = $1, lease_until = $2 WHERE id IN ({}) RETURNING id",
            crate::dialect::CLAIM_DUE_DELIVERIES
        )))
        .bind(owner)
        .bind(until.as_millis())
        .bind(now.as_millis())
        .bind(i64::from(limit))
        .bind(true)
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        if ids.is_empty() {
            tx.commit().await.map_err(db)?;
            return Ok(Vec::new());
        }
        // Exactly the rows this statement leased (an owner may hold others).
        let placeholders: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT {DELIVERY_COLS}, e.url, e.secret_sealed, e.previous_secret_sealed, e.previous_secret_until, \
                    e.workspace_id, e.org_id \
               FROM webhook_deliveries d \
               JOIN webhook_endpoints e ON e.id = d.endpoint_id WHERE d.id IN ({}) \
              ORDER BY d.next_attempt_at, d.id",
            placeholders.join(", ")
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for id in &ids {
            query = query.bind(*id);
        }
        let rows = query.fetch_all(&mut *tx).await.map_err(db)?;
        tx.commit().await.map_err(db)?;
        rows.iter()
            .map(|r| {
                Ok(ClaimedDelivery {
                    delivery: delivery_from_row(r)?,
                    url: r.try_get("url").map_err(db)?,
                    secret_sealed: r.try_get("secret_sealed").map_err(db)?,
                    previous_secret: r
                        .try_get::<Option<Vec<u8>>, _>("previous_secret_sealed")
                        .map_err(db)?
                        .zip(millis(r, "previous_secret_until")?),
                    scope: scope_from_row(r)?,
                })
            })
            .collect()
    }

    async fn record_attempt(
        &self,
        delivery: Uuid,
        owner: &str,
        attempt: &DeliveryAttempt,
        outcome: AttemptOutcome,
    ) -> Result<bool, StoreError> {
        let (status, next, finished) = match outcome {
            AttemptOutcome::Succeeded => (DeliveryStatus::Succeeded, None, Some(attempt.at.as_millis())),
            AttemptOutcome::RetryAt(t) => (DeliveryStatus::Pending, Some(t.as_millis()), None),
            AttemptOutcome::Failed => (DeliveryStatus::Failed, None, Some(attempt.at.as_millis())),
        };
        let code = attempt.status_code.map(i32::from);
        let mut tx = crate::dialect::begin_write(&self.pool).await.map_err(db)?;
        let number: Option<i32> = sqlx::query_scalar(
            "UPDATE webhook_deliveries SET attempts = attempts + 1, status = $1, \
               next_attempt_at = COALESCE($2, next_attempt_at), lease_owner = NULL, lease_until = NULL, \
               last_status_code = $3, last_error = $4, finished_at = $5 \
             WHERE id = $6 AND lease_owner = $7 RETURNING attempts",
        )
        .bind(status.as_str())
        .bind(next)
        .bind(code)
        .bind(attempt.error.as_deref())
        .bind(finished)
        .bind(delivery)
        .bind(owner)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        let Some(number) = number else { return Ok(false) };
        sqlx::query(
            "INSERT INTO webhook_attempts (delivery_id, number, at, status_code, error, duration_ms) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(delivery)
        .bind(number)
        .bind(attempt.at.as_millis())
        .bind(code)
        .bind(attempt.error.as_deref())
        .bind(attempt.duration_ms)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        // The endpoint's run of failures: ended by a success, else begun by
        // this attempt unless one is under way. Written only when it
        // changes, not once per delivery.
        let endpoint = "(SELECT endpoint_id FROM webhook_deliveries WHERE id = $1)";
        let q = match outcome {
            AttemptOutcome::Succeeded => sqlx::query(sqlx::AssertSqlSafe(format!(
                "UPDATE webhook_endpoints SET failing_since = NULL WHERE id = {endpoint} AND failing_since IS NOT NULL"
            )))
            .bind(delivery),
            _ => sqlx::query(sqlx::AssertSqlSafe(format!(
                "UPDATE webhook_endpoints SET failing_since = $2 WHERE id = {endpoint} AND failing_since IS NULL"
            )))
            .bind(delivery)
            .bind(attempt.at.as_millis()),
        };
        q.execute(&mut *tx).await.map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(true)
    }

    async fn prune_deliveries(&self, before: Timestamp, limit: u32) -> Result<u64, StoreError> {
        let mut tx = crate::dialect::begin_write(&self.pool).await.map_err(db)?;
        let done = sqlx::query(
            "DELETE FROM webhook_deliveries WHERE id IN (SELECT id FROM webhook_deliveries \
               WHERE finished_at IS NOT NULL AND finished_at < $1 AND status <> $2 LIMIT $3)",
        )
        .bind(before.as_millis())
        .bind(DeliveryStatus::Pending.as_str())
        .bind(i64::from(limit))
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(done.rows_affected())
    }

    async fn deliveries(
        &self,
        scope: EventScope,
        endpoint: Uuid,
        limit: u32,
    ) -> Result<Vec<(WebhookDelivery, Vec<DeliveryAttempt>)>, StoreError> {
        let (column, owner) = scope_column(scope);
        let mut tx = crate::dialect::begin_read(&self.pool).await.map_err(db)?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {DELIVERY_COLS} FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id \
              WHERE d.endpoint_id = $1 AND e.{column} = $2 ORDER BY d.created_at DESC, d.id DESC LIMIT $3"
        )))
        .bind(endpoint)
        .bind(owner)
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        let mut out: Vec<(WebhookDelivery, Vec<DeliveryAttempt>)> =
            rows.iter().map(|r| delivery_from_row(r).map(|d| (d, Vec::new()))).collect::<Result<_, _>>()?;
        let attempts = sqlx::query(
            "SELECT delivery_id, number, at, status_code, error, duration_ms FROM webhook_attempts \
              WHERE delivery_id IN (SELECT d.id FROM webhook_deliveries d WHERE d.endpoint_id = $1 \
                ORDER BY d.created_at DESC, d.id DESC LIMIT $2) ORDER BY number",
        )
        .bind(endpoint)
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        for r in &attempts {
            let (delivery, attempt) = attempt_from_row(r)?;
            if let Some((_, list)) = out.iter_mut().find(|(d, _)| d.id == delivery) {
                list.push(attempt);
            }
        }
        Ok(out)
    }

    async fn delivery(
        &self,
        scope: EventScope,
        endpoint: Uuid,
        id: Uuid,
    ) -> Result<Option<WebhookDelivery>, StoreError> {
        let (column, owner) = scope_column(scope);
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {DELIVERY_COLS} FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id \
              WHERE d.id = $1 AND d.endpoint_id = $2 AND e.{column} = $3"
        )))
        .bind(id)
        .bind(endpoint)
        .bind(owner)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        row.as_ref().map(delivery_from_row).transpose()
    }

    async fn insert_delivery(
        &self,
        scope: EventScope,
        delivery: &WebhookDelivery,
        audit: Option<&Audit>,
    ) -> Result<bool, StoreError> {
        let (column, owner) = scope_column(scope);
        let mut tx = crate::dialect::begin_write(&self.pool).await.map_err(db)?;
        let exists: Option<Uuid> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT id FROM webhook_endpoints WHERE id = $1 AND {column} = $2"
        )))
        .bind(delivery.endpoint)
        .bind(owner)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        if exists.is_none() {
            return Ok(false);
        }
        insert_delivery_row(&mut tx, delivery).await?;
        if let Some(a) = audit {
            scoped_audit(&mut tx, scope, a).await?;
        }
        tx.commit().await.map_err(db)?;
        Ok(true)
    }
}
