//! `SiteStore` on SQL.

use crate::store::{SqlStore, corrupt, db};
use guildhall_app::ports::{Customer, Site, SiteStore, StoreError};
use guildhall_core::accounts::{AccountStatus, Email};
use guildhall_core::tokens::TokenHash;
use guildhall_core::workspaces::Slug;
use guildhall_core::{AccountId, CustomerId, SiteId, Timestamp};
use sqlx::Row;

type DbRow = <crate::Db as sqlx::Database>::Row;

fn customer_from_row(row: &DbRow) -> Result<Customer, StoreError> {
    Ok(Customer {
        id: CustomerId::from_uuid(row.try_get("id").map_err(db)?),
        site: SiteId::from_uuid(row.try_get("site_id").map_err(db)?),
        email: Email::parse(&row.try_get::<String, _>("email").map_err(db)?).map_err(|_| corrupt("email"))?,
        status: AccountStatus::parse(&row.try_get::<String, _>("status").map_err(db)?)
            .ok_or_else(|| corrupt("status"))?,
        created_at: Timestamp::from_millis(row.try_get("created_at").map_err(db)?),
    })
}

const CUSTOMER_COLS: &str = "SELECT c.id, c.site_id, c.email, c.status, c.created_at, c.password_hash FROM customers c";

#[async_trait::async_trait]
impl SiteStore for SqlStore {
    async fn create_site(&self, site: &Site, admin: Option<AccountId>) -> Result<(), StoreError> {
        let mut tx = crate::dialect::begin_write(&self.pool).await.map_err(db)?;
        sqlx::query("INSERT INTO sites (id, slug, name, created_at) VALUES ($1, $2, $3, $4)")
            .bind(site.id.0)
            .bind(site.slug.as_str())
            .bind(&site.name)
            .bind(site.created_at.as_millis())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        if let Some(admin) = admin {
            sqlx::query("INSERT INTO site_admins (site_id, account_id) VALUES ($1, $2)")
                .bind(site.id.0)
                .bind(admin.0)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        tx.commit().await.map_err(db)
    }

    async fn add_site_admin(&self, site: SiteId, account: AccountId) -> Result<bool, StoreError> {
        let done = sqlx::query("INSERT INTO site_admins (site_id, account_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(site.0)
            .bind(account.0)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(done.rows_affected() > 0)
    }

    async fn site_by_slug(&self, slug: &Slug) -> Result<Option<Site>, StoreError> {
        let row =
            sqlx::query("SELECT * FROM sites WHERE slug = $1").bind(slug.as_str()).fetch_optional(&self.pool).await;
        row.map_err(db)?
            .map(|r| {
                Ok(Site {
                    id: SiteId::from_uuid(r.try_get("id").map_err(db)?),
                    slug: slug.clone(),
                    name: r.try_get("name").map_err(db)?,
                    created_at: Timestamp::from_millis(r.try_get("created_at").map_err(db)?),
                })
            })
            .transpose()
    }

    async fn is_site_admin(&self, site: SiteId, account: AccountId) -> Result<bool, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM site_admins WHERE site_id = $1 AND account_id = $2")
            .bind(site.0)
            .bind(account.0)
            .fetch_one(&self.pool)
            .await
            .map_err(db)?;
        Ok(n > 0)
    }

    async fn create_customer(&self, c: &Customer, password_hash: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO customers (id, site_id, email, email_normalized, password_hash, status, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(c.id.0)
        .bind(c.site.0)
        .bind(c.email.as_str())
        .bind(c.email.normalized())
        .bind(password_hash)
        .bind(c.status.as_str())
        .bind(c.created_at.as_millis())
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn customer_by_email(&self, site: SiteId, email: &Email) -> Result<Option<(Customer, String)>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{CUSTOMER_COLS} WHERE c.site_id = $1 AND c.email_normalized = $2"
        )))
        .bind(site.0)
        .bind(email.normalized())
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        row.map(|r| Ok((customer_from_row(&r)?, r.try_get("password_hash").map_err(db)?))).transpose()
    }

    async fn create_customer_session(
        &self,
        token: &TokenHash,
        customer: &Customer,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO customer_sessions (token_hash, customer_id, site_id, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token.as_bytes())
        .bind(customer.id.0)
        .bind(customer.site.0)
        .bind(now.as_millis())
        .bind(expires_at.as_millis())
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn customer_by_session(
        &self,
        site: SiteId,
        token: &TokenHash,
        now: Timestamp,
    ) -> Result<Option<Customer>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{CUSTOMER_COLS} JOIN customer_sessions s ON s.customer_id = c.id \
             WHERE s.token_hash = $1 AND s.site_id = $2 AND c.site_id = $2 AND s.expires_at > $3 AND c.status = 'active'"
        )))
        .bind(token.as_bytes())
        .bind(site.0)
        .bind(now.as_millis())
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        row.as_ref().map(customer_from_row).transpose()
    }

    async fn end_customer_session(&self, token: &TokenHash) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM customer_sessions WHERE token_hash = $1")
            .bind(token.as_bytes())
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn customers(&self, site: SiteId) -> Result<Vec<Customer>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{CUSTOMER_COLS} WHERE c.site_id = $1 ORDER BY c.email_normalized"
        )))
        .bind(site.0)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter().map(customer_from_row).collect()
    }

    async fn issue_customer_reset(
        &self,
        customer: CustomerId,
        token: &TokenHash,
        expires_at: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = crate::dialect::begin_write(&self.pool).await.map_err(db)?;
        sqlx::query("DELETE FROM customer_resets WHERE customer_id = $1")
            .bind(customer.0)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        sqlx::query("INSERT INTO customer_resets (token_hash, customer_id, expires_at) VALUES ($1, $2, $3)")
            .bind(token.as_bytes())
            .bind(customer.0)
            .bind(expires_at.as_millis())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)
    }

    async fn reset_customer_password(
        &self,
        site: SiteId,
        token: &TokenHash,
        password_hash: &str,
        now: Timestamp,
    ) -> Result<Option<Customer>, StoreError> {
        let mut tx = crate::dialect::begin_write(&self.pool).await.map_err(db)?;
        // Spent by the DELETE: of two racing uses, one finds it.
        let id: Option<uuid::Uuid> = sqlx::query_scalar(
            "DELETE FROM customer_resets WHERE token_hash = $1 AND expires_at > $2 \
             AND customer_id IN (SELECT id FROM customers WHERE site_id = $3) RETURNING customer_id",
        )
        .bind(token.as_bytes())
        .bind(now.as_millis())
        .bind(site.0)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        let Some(id) = id else { return Ok(None) };
        sqlx::query("UPDATE customers SET password_hash = $1 WHERE id = $2")
            .bind(password_hash)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        sqlx::query("DELETE FROM customer_sessions WHERE customer_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("{CUSTOMER_COLS} WHERE c.id = $1")))
            .bind(id)
            .fetch_one(&mut *tx)
            .await
            .map_err(db)?;
        let customer = customer_from_row(&row)?;
        tx.commit().await.map_err(db)?;
        Ok(Some(customer))
    }

    async fn set_customer_status(
        &self,
        site: SiteId,
        id: CustomerId,
        status: AccountStatus,
    ) -> Result<Option<Customer>, StoreError> {
        let mut tx = crate::dialect::begin_write(&self.pool).await.map_err(db)?;
        let done = sqlx::query("UPDATE customers SET status = $1 WHERE id = $2 AND site_id = $3")
            .bind(status.as_str())
            .bind(id.0)
            .bind(site.0)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        if status == AccountStatus::Deactivated {
            sqlx::query("DELETE FROM customer_sessions WHERE customer_id = $1")
                .bind(id.0)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("{CUSTOMER_COLS} WHERE c.id = $1")))
            .bind(id.0)
            .fetch_one(&mut *tx)
            .await
            .map_err(db)?;
        let customer = customer_from_row(&row)?;
        tx.commit().await.map_err(db)?;
        Ok(Some(customer))
    }
}
