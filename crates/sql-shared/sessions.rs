//! `SessionStore` on SQL.

use crate::accounts::{account_cols, account_from_row};
use crate::store::{SqlStore, db};
use guildhall_app::ports::{NewSession, Session, SessionStore, StoreError};
use guildhall_core::accounts::Account;
use guildhall_core::tokens::TokenHash;
use guildhall_core::{AccountId, SessionId, Timestamp};
use sqlx::Row;
use uuid::Uuid;

macro_rules! session_cols {
    () => {
        "s.id AS s_id, s.account_id AS s_account_id, s.created_at AS s_created_at, \
         s.last_seen_at AS s_last_seen_at, s.expires_at AS s_expires_at, s.auth_time AS s_auth_time, \
         s.amr AS s_amr, s.ip AS s_ip, s.user_agent AS s_user_agent"
    };
}

fn session_from_row(row: &<crate::Db as sqlx::Database>::Row) -> Result<Session, StoreError> {
    let ms = |c: &str| row.try_get::<i64, _>(c).map(Timestamp::from_millis).map_err(db);
    Ok(Session {
        id: SessionId::from_uuid(row.try_get::<Uuid, _>("s_id").map_err(db)?),
        account: AccountId::from_uuid(row.try_get::<Uuid, _>("s_account_id").map_err(db)?),
        created_at: ms("s_created_at")?,
        last_seen_at: ms("s_last_seen_at")?,
        expires_at: ms("s_expires_at")?,
        auth_time: ms("s_auth_time")?,
        amr: row.try_get::<String, _>("s_amr").map_err(db)?.split_whitespace().map(str::to_owned).collect(),
        ip: row.try_get("s_ip").map_err(db)?,
        user_agent: row.try_get("s_user_agent").map_err(db)?,
    })
}

/// How stale `last_seen_at` may get before a request refreshes it.
const TOUCH_AFTER_MS: i64 = 60_000;

#[async_trait::async_trait]
impl SessionStore for SqlStore {
    async fn create_session(&self, new: &NewSession) -> Result<Session, StoreError> {
        let now = new.now.as_millis();
        sqlx::query(
            "INSERT INTO sessions (id, token_hash, account_id, created_at, last_seen_at, expires_at, auth_time, amr, ip, user_agent) \
             VALUES ($1, $2, $3, $4, $4, $5, $4, $6, $7, $8)",
        )
        .bind(new.id.0)
        .bind(new.token_hash.as_bytes())
        .bind(new.account.0)
        .bind(now)
        .bind(new.expires_at.as_millis())
        .bind(new.amr.join(" "))
        .bind(new.ip.as_deref())
        .bind(new.user_agent.as_deref())
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(Session {
            id: new.id,
            account: new.account,
            created_at: new.now,
            last_seen_at: new.now,
            expires_at: new.expires_at,
            auth_time: new.now,
            amr: new.amr.clone(),
            ip: new.ip.clone(),
            user_agent: new.user_agent.clone(),
        })
    }

    async fn session_by_token(
        &self,
        token: &TokenHash,
        now: Timestamp,
    ) -> Result<Option<(Session, Account)>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            session_cols!(),
            ", ",
            account_cols!(),
            " FROM sessions s JOIN accounts a ON a.id = s.account_id \
              WHERE s.token_hash = $1 AND s.expires_at > $2 AND a.status = 'active'"
        ))
        .bind(token.as_bytes())
        .bind(now.as_millis())
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        let Some(row) = row else { return Ok(None) };
        let session = session_from_row(&row)?;
        let account = account_from_row(&row)?.account;
        if now.as_millis() - session.last_seen_at.as_millis() > TOUCH_AFTER_MS {
            sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id = $2")
                .bind(now.as_millis())
                .bind(session.id.0)
                .execute(&self.pool)
                .await
                .map_err(db)?;
        }
        Ok(Some((session, account)))
    }

    async fn list_sessions(&self, account: AccountId, now: Timestamp) -> Result<Vec<Session>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            session_cols!(),
            " FROM sessions s WHERE s.account_id = $1 AND s.expires_at > $2 ORDER BY s.created_at DESC"
        ))
        .bind(account.0)
        .bind(now.as_millis())
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter().map(session_from_row).collect()
    }

    async fn revoke_session(&self, account: AccountId, session: SessionId) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM sessions WHERE id = $1 AND account_id = $2")
            .bind(session.0)
            .bind(account.0)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(done.rows_affected() > 0)
    }

    async fn rotate_session(
        &self,
        account: AccountId,
        session: SessionId,
        token_hash: &TokenHash,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE sessions SET token_hash = $1 WHERE id = $2 AND account_id = $3")
            .bind(token_hash.0.to_vec())
            .bind(session.0)
            .bind(account.0)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(done.rows_affected() > 0)
    }
}
