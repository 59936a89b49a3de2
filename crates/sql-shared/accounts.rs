//! `AccountStore` on SQL.

use crate::changes::record_change;
use crate::store::{SqlStore, corrupt, db};
use guildhall_app::ports::{
    AccountLookup, AccountStore, AccountWithHash, Audit, Change, EmailTokenPurpose, NewAccount, NewEmailToken,
    StoreError,
};
use guildhall_core::accounts::{Account, AccountStatus, DisplayName, Email, Username};
use guildhall_core::tokens::TokenHash;
use guildhall_core::{AccountId, SessionId, Timestamp};
use sqlx::Row;
use uuid::Uuid;

/// The account columns, aliased so they can be joined with other tables.
macro_rules! account_cols {
    () => {
        "a.id AS a_id, a.email AS a_email, a.email_verified_at AS a_email_verified_at, \
         a.username AS a_username, a.display_name AS a_display_name, \
         a.password_hash AS a_password_hash, a.status AS a_status, \
         a.is_operator AS a_is_operator, a.must_change_password AS a_must_change_password, \
         a.managed_by AS a_managed_by, a.created_at AS a_created_at, a.updated_at AS a_updated_at"
    };
}
pub(crate) use account_cols;

pub(crate) fn account_from_row(row: &<crate::Db as sqlx::Database>::Row) -> Result<AccountWithHash, StoreError> {
    let get_str = |c: &str| row.try_get::<String, _>(c).map_err(db);
    let password_hash: Option<String> = row.try_get("a_password_hash").map_err(db)?;
    let account = Account {
        id: AccountId::from_uuid(row.try_get::<Uuid, _>("a_id").map_err(db)?),
        email: Email::parse(&get_str("a_email")?).map_err(|_| corrupt("email"))?,
        email_verified: row.try_get::<Option<i64>, _>("a_email_verified_at").map_err(db)?.is_some(),
        username: Username::parse(&get_str("a_username")?).map_err(|_| corrupt("username"))?,
        display_name: DisplayName::parse(&get_str("a_display_name")?).map_err(|_| corrupt("display name"))?,
        status: AccountStatus::parse(&get_str("a_status")?).ok_or_else(|| corrupt("status"))?,
        is_operator: row.try_get("a_is_operator").map_err(db)?,
        must_change_password: row.try_get("a_must_change_password").map_err(db)?,
        has_password: password_hash.is_some(),
        managed_by: row.try_get::<Option<Uuid>, _>("a_managed_by").map_err(db)?.map(guildhall_core::OrgId::from_uuid),
        created_at: Timestamp::from_millis(row.try_get("a_created_at").map_err(db)?),
        updated_at: Timestamp::from_millis(row.try_get("a_updated_at").map_err(db)?),
    };
    Ok(AccountWithHash { account, password_hash })
}

/// The accounts of rows selected with `account_cols!()`.
pub(crate) fn accounts_from_rows(rows: &[<crate::Db as sqlx::Database>::Row]) -> Result<Vec<Account>, StoreError> {
    rows.iter().map(|r| account_from_row(r).map(|f| f.account)).collect()
}

pub(crate) async fn account_in<'c, E>(exec: E, id: Uuid) -> Result<Option<Account>, StoreError>
where
    E: sqlx::Executor<'c, Database = crate::Db>,
{
    let row = sqlx::query(concat!("SELECT ", account_cols!(), " FROM accounts a WHERE a.id = $1"))
        .bind(id)
        .fetch_optional(exec)
        .await
        .map_err(db)?;
    row.map(|r| account_from_row(&r).map(|f| f.account)).transpose()
}

/// Inserts an account (and its first email token and identity) inside the
/// caller's transaction.
pub(crate) async fn insert_account(
    tx: &mut crate::store::Tx,
    new: &NewAccount,
    token: Option<&NewEmailToken>,
) -> Result<Account, StoreError> {
    let now = new.now.as_millis();
    sqlx::query(
        "INSERT INTO accounts (id, email, email_normalized, email_verified_at, username, display_name, \
         password_hash, status, is_operator, must_change_password, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'active', $8, $9, $10, $10)",
    )
    .bind(new.id.0)
    .bind(new.email.as_str())
    .bind(new.email.normalized())
    .bind(new.email_verified.then_some(now))
    .bind(new.username.as_str())
    .bind(new.display_name.as_str())
    .bind(new.password_hash.as_deref())
    .bind(new.is_operator)
    .bind(new.must_change_password)
    .bind(now)
    .execute(&mut **tx)
    .await
    .map_err(db)?;
    if let Some(t) = token {
        insert_token(tx, new.id.0, t, now).await?;
    }
    if let Some(identity) = &new.identity {
        crate::identities::insert_identity(tx, identity).await?;
    }
    // An address on a domain an organization verified is managed from
    // the start.
    sqlx::query(
        "UPDATE accounts SET managed_by = \
         (SELECT org_id FROM org_domains WHERE domain = $1 AND verified_at IS NOT NULL) WHERE id = $2",
    )
    .bind(new.email.domain())
    .bind(new.id.0)
    .execute(&mut **tx)
    .await
    .map_err(db)?;
    let account = account_in(&mut **tx, new.id.0).await?.ok_or_else(|| corrupt("new account"))?;
    Ok(account)
}

#[async_trait::async_trait]
impl AccountStore for SqlStore {
    async fn create_account(&self, new: &NewAccount, token: Option<&NewEmailToken>) -> Result<Account, StoreError> {
        let mut tx = crate::dialect::begin_write(&self.pool).await.map_err(db)?;
        let account = insert_account(&mut tx, new, token).await?;
        // An account that is managed from the start joins the org's
        // directory: its log says so (a follower of the org's snapshot and
        // events would otherwise never see it), as does its audit log.
        // SCIM provisioning writes its own entry instead.
        if let Some(org) = account.managed_by {
            let audit = Audit {
                workspace: None,
                actor: Some(account.id),
                actor_label: account.username.to_string(),
                action: "org.account_joined".into(),
                target: format!("account:{}", account.username),
                detail: Some("signed up with an address on a verified domain".into()),
                ip: None,
                at: new.now,
                data: Some(serde_json::json!({ "account": guildhall_app::directory::account_json(&account) })),
            };
            crate::orgs::insert_org_audit(&mut tx, org, &audit).await?;
        }
        tx.commit().await.map_err(db)?;
        Ok(account)
    }

    async fn find_account(&self, by: AccountLookup<'_>) -> Result<Option<AccountWithHash>, StoreError> {
        let q = match by {
            AccountLookup::Id(id) => {
                sqlx::query(concat!("SELECT ", account_cols!(), " FROM accounts a WHERE a.id = $1")).bind(id.0)
            }
            AccountLookup::Email(e) => {
                sqlx::query(concat!("SELECT ", account_cols!(), " FROM accounts a WHERE a.email_normalized = $1"))
                    .bind(e.normalized())
            }
            AccountLookup::Username(u) => {
                sqlx::query(concat!("SELECT ", account_cols!(), " FROM accounts a WHERE a.username = $1"))
                    .bind(u.as_str())
            }
        };
        let row = q.fetch_optional(&self.pool).await.map_err(db)?;
        row.map(|r| account_from_row(&r)).transpose()
    }

    async fn operator_exists(&self) -> Result<bool, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM accounts WHERE is_operator = $1")
            .bind(true)
            .fetch_one(&self.pool)
            .await
            .map_err(db)?;
        Ok(n > 0)
    }

    async fn set_account_status(
        &self,
        id: AccountId,
        status: AccountStatus,
        now: Timestamp,
    ) -> Result<Option<Account>, StoreError> {
        let mut tx = crate::dialect::begin_write(&self.pool).await.map_err(db)?;
        let updated = sqlx::query("UPDATE accounts SET status = $1, updated_at = $2 WHERE id = $3")
            .bind(status.as_str())
            .bind(now.as_millis())
            .bind(id.0)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        if updated.rows_affected() == 0 {
            return Ok(None);
        }
        if status == AccountStatus::Deactivated {
            sqlx::query("DELETE FROM sessions WHERE account_id = $1").bind(id.0).execute(&mut *tx).await.map_err(db)?;
        }
        let account = account_in(&mut *tx, id.0).await?;
        crate::events::insert_account_events(&mut tx, id, true, now).await?;
        record_change(&mut tx, Change::Account(id)).await?;
        tx.commit().await.map_err(db)?;
        Ok(account)
    }

    async fn issue_email_token(
        &self,
        account: AccountId,
        token: &NewEmailToken,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = crate::dialect::begin_write(&self.pool).await.map_err(db)?;
        sqlx::query("DELETE FROM email_tokens WHERE account_id = $1 AND purpose = $2")
            .bind(account.0)
            .bind(token.purpose.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        insert_token(&mut tx, account.0, token, now.as_millis()).await?;
        tx.commit().await.map_err(db)
    }

    async fn verify_email(&self, token: &TokenHash, now: Timestamp) -> Result<Option<Account>, StoreError> {
        let mut tx = crate::dialect::begin_write(&self.pool).await.map_err(db)?;
        let Some(account) = consume_token(&mut tx, token, EmailTokenPurpose::VerifyEmail, now).await? else {
            return Ok(None);
        };
        sqlx::query("UPDATE accounts SET email_verified_at = $1, updated_at = $1 WHERE id = $2")
            .bind(now.as_millis())
            .bind(account)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        record_change(&mut tx, Change::Account(AccountId::from_uuid(account))).await?;
        // Followers (and provisioning, which pushes only verified addresses)
        // learn of it.
        crate::events::insert_account_events(&mut tx, AccountId::from_uuid(account), true, now).await?;
        let account = account_in(&mut *tx, account).await?;
        tx.commit().await.map_err(db)?;
        Ok(account)
    }

    async fn email_token_valid(
        &self,
        token: &TokenHash,
        purpose: EmailTokenPurpose,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM email_tokens WHERE token_hash = $1 AND purpose = $2 AND expires_at > $3",
        )
        .bind(token.as_bytes())
        .bind(purpose.as_str())
        .bind(now.as_millis())
        .fetch_one(&self.pool)
        .await
        .map_err(db)?;
        Ok(n > 0)
    }

    async fn reset_password(
        &self,
        token: &TokenHash,
        password_hash: &str,
        keep: Option<SessionId>,
        now: Timestamp,
    ) -> Result<Option<Account>, StoreError> {
        let mut tx = crate::dialect::begin_write(&self.pool).await.map_err(db)?;
        let Some(account) = consume_token(&mut tx, token, EmailTokenPurpose::ResetPassword, now).await? else {
            return Ok(None);
        };
        set_password_in(&mut tx, account, password_hash, keep, now).await?;
        // A reset is how an account is recovered: tokens minted by whoever
        // held it must not outlive that.
        sqlx::query("DELETE FROM access_tokens WHERE account_id = $1")
            .bind(account)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        // Nor may external identities connected while the address was
        // unverified: whoever connected them never proved the address.
        sqlx::query(
            "DELETE FROM external_identities WHERE account_id = $1 \
             AND EXISTS (SELECT 1 FROM accounts WHERE id = $1 AND email_verified_at IS NULL)",
        )
        .bind(account)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        let account = account_in(&mut *tx, account).await?;
        tx.commit().await.map_err(db)?;
        Ok(account)
    }

    async fn set_password(
        &self,
        id: AccountId,
        password_hash: &str,
        keep: Option<SessionId>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = crate::dialect::begin_write(&self.pool).await.map_err(db)?;
        set_password_in(&mut tx, id.0, password_hash, keep, now).await?;
        tx.commit().await.map_err(db)
    }
}

type Tx = sqlx::Transaction<'static, crate::Db>;

async fn insert_token(tx: &mut Tx, account: Uuid, t: &NewEmailToken, now: i64) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO email_tokens (token_hash, account_id, purpose, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(t.hash.as_bytes())
    .bind(account)
    .bind(t.purpose.as_str())
    .bind(now)
    .bind(t.expires_at.as_millis())
    .execute(&mut **tx)
    .await
    .map_err(db)?;
    Ok(())
}

/// Deletes an unexpired token of the purpose and returns its account: a
/// token works once, even when two requests race for it.
async fn consume_token(
    tx: &mut Tx,
    token: &TokenHash,
    purpose: EmailTokenPurpose,
    now: Timestamp,
) -> Result<Option<Uuid>, StoreError> {
    sqlx::query_scalar(
        "DELETE FROM email_tokens WHERE token_hash = $1 AND purpose = $2 AND expires_at > $3 RETURNING account_id",
    )
    .bind(token.as_bytes())
    .bind(purpose.as_str())
    .bind(now.as_millis())
    .fetch_optional(&mut **tx)
    .await
    .map_err(db)
}

async fn set_password_in(
    tx: &mut Tx,
    account: Uuid,
    hash: &str,
    keep: Option<SessionId>,
    now: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE accounts SET password_hash = $1, must_change_password = $2, updated_at = $3 WHERE id = $4")
        .bind(hash)
        .bind(false)
        .bind(now.as_millis())
        .bind(account)
        .execute(&mut **tx)
        .await
        .map_err(db)?;
    // A nil id matches no session: every session ends.
    sqlx::query("DELETE FROM sessions WHERE account_id = $1 AND id <> $2")
        .bind(account)
        .bind(keep.map_or(Uuid::nil(), |s| s.0))
        .execute(&mut **tx)
        .await
        .map_err(db)?;
    sqlx::query("DELETE FROM email_tokens WHERE account_id = $1 AND purpose = $2")
        .bind(account)
        .bind(EmailTokenPurpose::ResetPassword.as_str())
        .execute(&mut **tx)
        .await
        .map_err(db)?;
    record_change(tx, Change::Account(AccountId::from_uuid(account))).await
}
