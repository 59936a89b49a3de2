//! `AccessTokenStore` on SQL.

use crate::accounts::{account_cols, account_from_row};
use crate::changes::record_change;
use crate::store::{SqlStore, db};
use guildhall_app::ports::{AccessToken, AccessTokenStore, Change, NewAccessToken, StoreError};
use guildhall_core::accounts::Account;
use guildhall_core::tokens::TokenHash;
use guildhall_core::{AccessTokenId, AccountId, Timestamp};
use sqlx::Row;
use uuid::Uuid;

type DbRow = <crate::Db as sqlx::Database>::Row;

macro_rules! token_cols {
    () => {
        "t.id AS t_id, t.account_id AS t_account_id, t.name AS t_name, t.scopes AS t_scopes, \
         t.created_at AS t_created_at, t.last_used_at AS t_last_used_at, t.expires_at AS t_expires_at"
    };
}

fn token_from_row(row: &DbRow) -> Result<AccessToken, StoreError> {
    Ok(AccessToken {
        id: AccessTokenId::from_uuid(row.try_get::<Uuid, _>("t_id").map_err(db)?),
        account: AccountId::from_uuid(row.try_get::<Uuid, _>("t_account_id").map_err(db)?),
        name: row.try_get("t_name").map_err(db)?,
        scopes: row.try_get::<String, _>("t_scopes").map_err(db)?.split_whitespace().map(str::to_owned).collect(),
        created_at: Timestamp::from_millis(row.try_get("t_created_at").map_err(db)?),
        last_used_at: row.try_get::<Option<i64>, _>("t_last_used_at").map_err(db)?.map(Timestamp::from_millis),
        expires_at: row.try_get::<Option<i64>, _>("t_expires_at").map_err(db)?.map(Timestamp::from_millis),
    })
}

#[async_trait::async_trait]
impl AccessTokenStore for SqlStore {
    async fn create_access_token(&self, new: &NewAccessToken) -> Result<AccessToken, StoreError> {
        sqlx::query(
            "INSERT INTO access_tokens (id, account_id, name, token_hash, scopes, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(new.id.0)
        .bind(new.account.0)
        .bind(&new.name)
        .bind(new.token_hash.as_bytes())
        .bind(new.scopes.join(" "))
        .bind(new.now.as_millis())
        .bind(new.expires_at.map(Timestamp::as_millis))
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(AccessToken {
            id: new.id,
            account: new.account,
            name: new.name.clone(),
            scopes: new.scopes.clone(),
            created_at: new.now,
            last_used_at: None,
            expires_at: new.expires_at,
        })
    }

    async fn access_tokens(&self, account: AccountId) -> Result<Vec<AccessToken>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            token_cols!(),
            " FROM access_tokens t WHERE t.account_id = $1 ORDER BY t.created_at DESC, t.id DESC"
        ))
        .bind(account.0)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter().map(token_from_row).collect()
    }

    async fn revoke_access_token(&self, account: AccountId, id: AccessTokenId) -> Result<bool, StoreError> {
        let mut tx = crate::dialect::begin_write(&self.pool).await.map_err(db)?;
        let done = sqlx::query("DELETE FROM access_tokens WHERE id = $1 AND account_id = $2")
            .bind(id.0)
            .bind(account.0)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        record_change(&mut tx, Change::Account(account)).await?;
        tx.commit().await.map_err(db)?;
        Ok(true)
    }

    async fn access_token_by_hash(
        &self,
        token: &TokenHash,
        now: Timestamp,
    ) -> Result<Option<(AccessToken, Account)>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            token_cols!(),
            ", ",
            account_cols!(),
            " FROM access_tokens t JOIN accounts a ON a.id = t.account_id \
              WHERE t.token_hash = $1 AND (t.expires_at IS NULL OR t.expires_at > $2) AND a.status = 'active'"
        ))
        .bind(token.as_bytes())
        .bind(now.as_millis())
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        let Some(row) = row else { return Ok(None) };
        let t = token_from_row(&row)?;
        Ok(Some((t, account_from_row(&row)?.account)))
    }

    async fn touch_access_token(&self, id: AccessTokenId, now: Timestamp) -> Result<(), StoreError> {
        sqlx::query("UPDATE access_tokens SET last_used_at = $1 WHERE id = $2")
            .bind(now.as_millis())
            .bind(id.0)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }
}
