//! `IdentityStore` on SQL.

use crate::store::{SqlStore, corrupt, db};
use guildhall_app::ports::{Audit, Identity, IdentityStore, StoreError, StoredProvider};
use guildhall_core::identities::{ProviderConfig, ProviderName};
use guildhall_core::{AccountId, OrgId, Timestamp};
use sqlx::Row;
use uuid::Uuid;

type DbRow = <crate::Db as sqlx::Database>::Row;

macro_rules! provider_cols {
    () => {
        "SELECT p.name, p.org_id, p.config, p.secret_sealed, p.required, p.updated_at FROM identity_providers p"
    };
}

fn provider_from_row(row: &DbRow) -> Result<StoredProvider, StoreError> {
    let name: String = row.try_get("name").map_err(db)?;
    let config: String = row.try_get("config").map_err(db)?;
    Ok(StoredProvider {
        name: ProviderName::parse_any(&name).map_err(|_| corrupt("provider name"))?,
        org: row.try_get::<Option<Uuid>, _>("org_id").map_err(db)?.map(OrgId::from_uuid),
        config: serde_json::from_str::<ProviderConfig>(&config).map_err(|_| corrupt("provider config"))?,
        secret_sealed: row.try_get("secret_sealed").map_err(db)?,
        required: row.try_get("required").map_err(db)?,
        updated_at: Timestamp::from_millis(row.try_get("updated_at").map_err(db)?),
    })
}

fn identity_from_row(row: &DbRow) -> Result<Identity, StoreError> {
    let provider: String = row.try_get("provider").map_err(db)?;
    Ok(Identity {
        provider: ProviderName::parse_any(&provider).map_err(|_| corrupt("identity provider"))?,
        subject: row.try_get("subject").map_err(db)?,
        account: AccountId::from_uuid(row.try_get("account_id").map_err(db)?),
        email: row.try_get("email").map_err(db)?,
        created_at: Timestamp::from_millis(row.try_get("created_at").map_err(db)?),
    })
}

macro_rules! identity_cols {
    () => {
        "SELECT provider, subject, account_id, email, created_at FROM external_identities"
    };
}

/// Inserts an identity inside the caller's transaction.
pub(crate) async fn insert_identity(tx: &mut crate::store::Tx, i: &Identity) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO external_identities (provider, subject, account_id, email, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(i.provider.as_str())
    .bind(&i.subject)
    .bind(i.account.0)
    .bind(i.email.as_deref())
    .bind(i.created_at.as_millis())
    .execute(&mut **tx)
    .await
    .map_err(db)?;
    Ok(())
}

async fn delete_identities(tx: &mut crate::store::Tx, provider: &ProviderName) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM external_identities WHERE provider = $1")
        .bind(provider.as_str())
        .execute(&mut **tx)
        .await
        .map_err(db)?;
    Ok(())
}

#[async_trait::async_trait]
impl IdentityStore for SqlStore {
    async fn put_provider(
        &self,
        p: &StoredProvider,
        forget_identities: bool,
        audit: Option<&Audit>,
    ) -> Result<(), StoreError> {
        let config = serde_json::to_string(&p.config).map_err(crate::store::backend)?;
        let mut tx = crate::dialect::begin_write(&self.pool).await.map_err(db)?;
        sqlx::query("DELETE FROM identity_providers WHERE name = $1")
            .bind(p.name.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        sqlx::query(
            "INSERT INTO identity_providers (name, org_id, config, secret_sealed, required, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(p.name.as_str())
        .bind(p.org.map(|o| o.0))
        .bind(config)
        .bind(&p.secret_sealed)
        .bind(p.required)
        .bind(p.updated_at.as_millis())
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        if forget_identities {
            delete_identities(&mut tx, &p.name).await?;
        }
        if let (Some(org), Some(audit)) = (p.org, audit) {
            crate::orgs::insert_org_audit(&mut tx, org, audit).await?;
        }
        tx.commit().await.map_err(db)
    }

    async fn delete_provider(&self, name: &ProviderName, audit: Option<&Audit>) -> Result<bool, StoreError> {
        let mut tx = crate::dialect::begin_write(&self.pool).await.map_err(db)?;
        let org: Option<Option<Uuid>> =
            sqlx::query_scalar("DELETE FROM identity_providers WHERE name = $1 RETURNING org_id")
                .bind(name.as_str())
                .fetch_optional(&mut *tx)
                .await
                .map_err(db)?;
        let Some(org) = org else { return Ok(false) };
        if let Some(org) = org {
            delete_identities(&mut tx, name).await?;
            if let Some(audit) = audit {
                crate::orgs::insert_org_audit(&mut tx, OrgId::from_uuid(org), audit).await?;
            }
        }
        tx.commit().await.map_err(db)?;
        Ok(true)
    }

    async fn provider(&self, name: &ProviderName) -> Result<Option<StoredProvider>, StoreError> {
        let row = sqlx::query(concat!(provider_cols!(), " WHERE p.name = $1"))
            .bind(name.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        row.map(|r| provider_from_row(&r)).transpose()
    }

    async fn operator_providers(&self) -> Result<Vec<StoredProvider>, StoreError> {
        let rows = sqlx::query(concat!(provider_cols!(), " WHERE p.org_id IS NULL ORDER BY p.name"))
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        rows.iter().map(provider_from_row).collect()
    }

    async fn provider_for_domain(&self, domain: &str) -> Result<Option<StoredProvider>, StoreError> {
        let row = sqlx::query(concat!(
            provider_cols!(),
            " JOIN org_domains d ON d.org_id = p.org_id \
             WHERE d.domain = $1 AND d.verified_at IS NOT NULL"
        ))
        .bind(domain)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        row.map(|r| provider_from_row(&r)).transpose()
    }

    async fn identity(&self, provider: &ProviderName, subject: &str) -> Result<Option<Identity>, StoreError> {
        let row = sqlx::query(concat!(identity_cols!(), " WHERE provider = $1 AND subject = $2"))
            .bind(provider.as_str())
            .bind(subject)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        row.map(|r| identity_from_row(&r)).transpose()
    }

    async fn identities_of(&self, account: AccountId) -> Result<Vec<Identity>, StoreError> {
        let rows = sqlx::query(concat!(identity_cols!(), " WHERE account_id = $1 ORDER BY provider, created_at"))
            .bind(account.0)
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        rows.iter().map(identity_from_row).collect()
    }

    async fn connect_identity(&self, identity: &Identity) -> Result<(), StoreError> {
        let mut tx = crate::dialect::begin_write(&self.pool).await.map_err(db)?;
        insert_identity(&mut tx, identity).await?;
        tx.commit().await.map_err(db)
    }

    async fn disconnect_identity(
        &self,
        account: AccountId,
        provider: &ProviderName,
        subject: &str,
    ) -> Result<Option<bool>, StoreError> {
        let mut tx = crate::dialect::begin_write(&self.pool).await.map_err(db)?;
        // The account row lock serialises two disconnects of its last two
        // identities.
        let Some(row) =
            sqlx::query(crate::dialect::LOCK_ACCOUNT).bind(account.0).fetch_optional(&mut *tx).await.map_err(db)?
        else {
            return Ok(None);
        };
        let has_password = row.try_get::<Option<String>, _>("password_hash").map_err(db)?.is_some();
        let others: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM external_identities WHERE account_id = $1 AND NOT (provider = $2 AND subject = $3)",
        )
        .bind(account.0)
        .bind(provider.as_str())
        .bind(subject)
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        let exists =
            sqlx::query("SELECT 1 FROM external_identities WHERE account_id = $1 AND provider = $2 AND subject = $3")
                .bind(account.0)
                .bind(provider.as_str())
                .bind(subject)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db)?
                .is_some();
        if !exists {
            return Ok(None);
        }
        if !has_password && others == 0 {
            return Ok(Some(false));
        }
        sqlx::query("DELETE FROM external_identities WHERE account_id = $1 AND provider = $2 AND subject = $3")
            .bind(account.0)
            .bind(provider.as_str())
            .bind(subject)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(Some(true))
    }
}
