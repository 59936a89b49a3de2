//! `MfaStore` on SQL.

use crate::store::{SqlStore, db};
use guildhall_app::ports::{MfaStore, StoreError, StoredPasskey, TotpCredential};
use guildhall_core::{AccountId, Timestamp};
use sqlx::Row;

async fn insert_codes(tx: &mut crate::store::Tx, account: AccountId, hashes: &[[u8; 32]]) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM recovery_codes WHERE account_id = $1")
        .bind(account.0)
        .execute(&mut **tx)
        .await
        .map_err(db)?;
    for hash in hashes {
        sqlx::query("INSERT INTO recovery_codes (account_id, code_hash) VALUES ($1, $2)")
            .bind(account.0)
            .bind(&hash[..])
            .execute(&mut **tx)
            .await
            .map_err(db)?;
    }
    Ok(())
}

macro_rules! passkey_cols {
    () => {
        "SELECT id, account_id, credential_id, name, passkey, created_at, last_used_at FROM passkeys"
    };
}

type DbRow = <crate::Db as sqlx::Database>::Row;

fn passkey_from_row(row: &DbRow) -> Result<StoredPasskey, StoreError> {
    Ok(StoredPasskey {
        id: row.try_get("id").map_err(db)?,
        account: AccountId::from_uuid(row.try_get("account_id").map_err(db)?),
        credential_id: row.try_get("credential_id").map_err(db)?,
        name: row.try_get("name").map_err(db)?,
        passkey: row.try_get("passkey").map_err(db)?,
        created_at: Timestamp::from_millis(row.try_get("created_at").map_err(db)?),
        last_used_at: row.try_get::<Option<i64>, _>("last_used_at").map_err(db)?.map(Timestamp::from_millis),
    })
}

#[async_trait::async_trait]
impl MfaStore for SqlStore {
    async fn totp_credential(&self, account: AccountId) -> Result<Option<TotpCredential>, StoreError> {
        let row =
            sqlx::query("SELECT secret_sealed, confirmed_at, last_step FROM totp_credentials WHERE account_id = $1")
                .bind(account.0)
                .fetch_optional(&self.pool)
                .await
                .map_err(db)?;
        row.map(|r| {
            Ok(TotpCredential {
                secret_sealed: r.try_get("secret_sealed").map_err(db)?,
                confirmed: r.try_get::<Option<i64>, _>("confirmed_at").map_err(db)?.is_some(),
                last_step: r.try_get("last_step").map_err(db)?,
            })
        })
        .transpose()
    }

    async fn begin_totp(&self, account: AccountId, secret_sealed: &[u8], now: Timestamp) -> Result<(), StoreError> {
        let mut tx = crate::dialect::begin_write(&self.pool).await.map_err(db)?;
        let confirmed: Option<Option<i64>> =
            sqlx::query_scalar("SELECT confirmed_at FROM totp_credentials WHERE account_id = $1")
                .bind(account.0)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db)?;
        if matches!(confirmed, Some(Some(_))) {
            return Err(StoreError::Conflict("totp"));
        }
        sqlx::query("DELETE FROM totp_credentials WHERE account_id = $1")
            .bind(account.0)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        sqlx::query("INSERT INTO totp_credentials (account_id, secret_sealed, created_at) VALUES ($1, $2, $3)")
            .bind(account.0)
            .bind(secret_sealed)
            .bind(now.as_millis())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)
    }

    async fn confirm_totp(
        &self,
        account: AccountId,
        step: i64,
        recovery_hashes: Option<&[[u8; 32]]>,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut tx = crate::dialect::begin_write(&self.pool).await.map_err(db)?;
        let done = sqlx::query(
            "UPDATE totp_credentials SET confirmed_at = $1, last_step = $2 \
             WHERE account_id = $3 AND confirmed_at IS NULL",
        )
        .bind(now.as_millis())
        .bind(step)
        .bind(account.0)
        .execute(&mut *tx)
        .await
        .map_err(db)?
        .rows_affected()
            > 0;
        if !done {
            return Ok(false);
        }
        if let Some(hashes) = recovery_hashes {
            insert_codes(&mut tx, account, hashes).await?;
        }
        tx.commit().await.map_err(db)?;
        Ok(true)
    }

    async fn use_totp_step(&self, account: AccountId, step: i64) -> Result<bool, StoreError> {
        let r = sqlx::query(
            "UPDATE totp_credentials SET last_step = $1 \
             WHERE account_id = $2 AND confirmed_at IS NOT NULL AND (last_step IS NULL OR last_step < $1)",
        )
        .bind(step)
        .bind(account.0)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(r.rows_affected() > 0)
    }

    async fn remove_totp(&self, account: AccountId) -> Result<bool, StoreError> {
        let r = sqlx::query("DELETE FROM totp_credentials WHERE account_id = $1")
            .bind(account.0)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(r.rows_affected() > 0)
    }

    async fn add_passkey(&self, p: &StoredPasskey, recovery_hashes: Option<&[[u8; 32]]>) -> Result<(), StoreError> {
        let mut tx = crate::dialect::begin_write(&self.pool).await.map_err(db)?;
        sqlx::query(
            "INSERT INTO passkeys (id, account_id, credential_id, name, passkey, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(p.id)
        .bind(p.account.0)
        .bind(&p.credential_id)
        .bind(&p.name)
        .bind(&p.passkey)
        .bind(p.created_at.as_millis())
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        if let Some(hashes) = recovery_hashes {
            insert_codes(&mut tx, p.account, hashes).await?;
        }
        tx.commit().await.map_err(db)
    }

    async fn passkeys(&self, account: AccountId) -> Result<Vec<StoredPasskey>, StoreError> {
        let rows = sqlx::query(concat!(passkey_cols!(), " WHERE account_id = $1 ORDER BY created_at"))
            .bind(account.0)
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        rows.iter().map(passkey_from_row).collect()
    }

    async fn passkey_by_credential(&self, credential_id: &[u8]) -> Result<Option<StoredPasskey>, StoreError> {
        let row = sqlx::query(concat!(passkey_cols!(), " WHERE credential_id = $1"))
            .bind(credential_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        row.map(|r| passkey_from_row(&r)).transpose()
    }

    async fn passkey_used(&self, id: uuid::Uuid, passkey: &str, now: Timestamp) -> Result<(), StoreError> {
        sqlx::query("UPDATE passkeys SET passkey = $1, last_used_at = $2 WHERE id = $3")
            .bind(passkey)
            .bind(now.as_millis())
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn spend_ceremony(
        &self,
        state_hash: &[u8; 32],
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut tx = crate::dialect::begin_write(&self.pool).await.map_err(db)?;
        sqlx::query("DELETE FROM spent_ceremonies WHERE expires_at < $1")
            .bind(now.as_millis())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        let inserted = sqlx::query(
            "INSERT INTO spent_ceremonies (state_hash, expires_at) VALUES ($1, $2) ON CONFLICT (state_hash) DO NOTHING",
        )
        .bind(&state_hash[..])
        .bind(expires_at.as_millis())
        .execute(&mut *tx)
        .await
        .map_err(db)?
        .rows_affected()
            > 0;
        tx.commit().await.map_err(db)?;
        Ok(inserted)
    }

    async fn rename_passkey(&self, account: AccountId, id: uuid::Uuid, name: &str) -> Result<bool, StoreError> {
        let r = sqlx::query("UPDATE passkeys SET name = $1 WHERE id = $2 AND account_id = $3")
            .bind(name)
            .bind(id)
            .bind(account.0)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(r.rows_affected() > 0)
    }

    async fn remove_passkey(&self, account: AccountId, id: uuid::Uuid) -> Result<bool, StoreError> {
        let r = sqlx::query("DELETE FROM passkeys WHERE id = $1 AND account_id = $2")
            .bind(id)
            .bind(account.0)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(r.rows_affected() > 0)
    }

    async fn replace_recovery_codes(&self, account: AccountId, hashes: &[[u8; 32]]) -> Result<(), StoreError> {
        let mut tx = crate::dialect::begin_write(&self.pool).await.map_err(db)?;
        insert_codes(&mut tx, account, hashes).await?;
        tx.commit().await.map_err(db)
    }

    async fn use_recovery_code(&self, account: AccountId, hash: &[u8; 32], now: Timestamp) -> Result<bool, StoreError> {
        let r = sqlx::query(
            "UPDATE recovery_codes SET used_at = $1 WHERE account_id = $2 AND code_hash = $3 AND used_at IS NULL",
        )
        .bind(now.as_millis())
        .bind(account.0)
        .bind(&hash[..])
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(r.rows_affected() > 0)
    }

    async fn recovery_codes_left(&self, account: AccountId) -> Result<u32, StoreError> {
        let n: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM recovery_codes WHERE account_id = $1 AND used_at IS NULL")
                .bind(account.0)
                .fetch_one(&self.pool)
                .await
                .map_err(db)?;
        Ok(u32::try_from(n).unwrap_or(0))
    }
}
