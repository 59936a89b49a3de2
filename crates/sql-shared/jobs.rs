//! `JobStore` on SQL.

use crate::store::{SqlStore, db};
use guildhall_app::ports::{JobStore, StoreError};
use guildhall_core::Timestamp;

#[async_trait::async_trait]
impl JobStore for SqlStore {
    async fn take_lease(&self, job: &str, owner: &str, now: Timestamp, until: Timestamp) -> Result<bool, StoreError> {
        // One statement: insert the lease, or take it over when it expired
        // or is ours. Whoever's statement commits first wins.
        let done = sqlx::query(
            "INSERT INTO job_leases (name, owner, lease_until) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, lease_until = excluded.lease_until \
             WHERE job_leases.lease_until < $4 OR job_leases.owner = excluded.owner",
        )
        .bind(job)
        .bind(owner)
        .bind(until.as_millis())
        .bind(now.as_millis())
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(done.rows_affected() > 0)
    }

    async fn release_lease(&self, job: &str, owner: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM job_leases WHERE name = $1 AND owner = $2")
            .bind(job)
            .bind(owner)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn operator_setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        sqlx::query_scalar("SELECT value FROM operator_settings WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)
    }

    async fn set_operator_setting(&self, key: &str, value: Option<&str>) -> Result<(), StoreError> {
        let q = match value {
            Some(v) => sqlx::query(
                "INSERT INTO operator_settings (key, value) VALUES ($1, $2) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )
            .bind(key)
            .bind(v),
            None => sqlx::query("DELETE FROM operator_settings WHERE key = $1").bind(key),
        };
        q.execute(&self.pool).await.map_err(db)?;
        Ok(())
    }
}
