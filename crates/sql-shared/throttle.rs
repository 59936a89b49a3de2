//! `ThrottleStore` on SQL: the rule lives in `guildhall_core::throttle`; this
//! applies it to the row under a write lock.

use crate::store::{SqlStore, db};
use guildhall_app::ports::{StoreError, ThrottleStore};
use guildhall_core::Timestamp;
use guildhall_core::throttle::{ThrottlePolicy, ThrottleState};
use sqlx::Row;

fn state_from_row(row: &<crate::Db as sqlx::Database>::Row) -> Result<ThrottleState, StoreError> {
    Ok(ThrottleState {
        hits: u32::try_from(row.try_get::<i32, _>("hits").map_err(db)?).unwrap_or(0),
        window_start: Timestamp::from_millis(row.try_get("window_start").map_err(db)?),
        locked_until: row.try_get::<Option<i64>, _>("locked_until").map_err(db)?.map(Timestamp::from_millis),
        lockouts: u32::try_from(row.try_get::<i32, _>("lockouts").map_err(db)?).unwrap_or(0),
    })
}

#[async_trait::async_trait]
impl ThrottleStore for SqlStore {
    async fn throttle_state(&self, key: &str, now: Timestamp) -> Result<ThrottleState, StoreError> {
        let row = sqlx::query("SELECT hits, window_start, locked_until, lockouts FROM throttles WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        row.map_or(Ok(ThrottleState::fresh(now)), |r| state_from_row(&r))
    }

    async fn throttle_hit(
        &self,
        key: &str,
        policy: &ThrottlePolicy,
        now: Timestamp,
    ) -> Result<ThrottleState, StoreError> {
        let mut tx = crate::dialect::begin_write(&self.pool).await.map_err(db)?;
        sqlx::query(
            "INSERT INTO throttles (key, hits, window_start, locked_until) VALUES ($1, 0, $2, NULL) \
             ON CONFLICT (key) DO NOTHING",
        )
        .bind(key)
        .bind(now.as_millis())
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        let row =
            sqlx::query(crate::dialect::SELECT_THROTTLE_FOR_UPDATE).bind(key).fetch_one(&mut *tx).await.map_err(db)?;
        let next = policy.hit(state_from_row(&row)?, now);
        sqlx::query(
            "UPDATE throttles SET hits = $1, window_start = $2, locked_until = $3, lockouts = $4 WHERE key = $5",
        )
        .bind(i32::try_from(next.hits).unwrap_or(i32::MAX))
        .bind(next.window_start.as_millis())
        .bind(next.locked_until.map(Timestamp::as_millis))
        .bind(i32::try_from(next.lockouts).unwrap_or(i32::MAX))
        .bind(key)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(next)
    }

    async fn throttle_clear(&self, key: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM throttles WHERE key = $1").bind(key).execute(&self.pool).await.map_err(db)?;
        Ok(())
    }
}
