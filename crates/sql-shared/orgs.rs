//! `OrgStore` on SQL.

use crate::accounts::{account_cols, account_from_row, accounts_from_rows};
use crate::changes::record_change;
use crate::store::{SqlStore, Tx, corrupt, db};
use crate::workspaces::{WORKSPACE_COLS, audit_from_row, insert_audit, workspace_from_row};
use guildhall_app::ports::{
    Audit, AutoLink, Change, ManagedChange, NewOrg, Org, OrgDomain, OrgStore, StoreError, Workspace,
};
use guildhall_core::accounts::Account;
use guildhall_core::orgs::DomainName;
use guildhall_core::workspaces::Slug;
use guildhall_core::{AccountId, OrgId, Timestamp, WorkspaceId};
use sqlx::Row;
use uuid::Uuid;

type DbRow = <crate::Db as sqlx::Database>::Row;

fn org_from_row(row: &DbRow) -> Result<Org, StoreError> {
    Ok(Org {
        id: OrgId::from_uuid(row.try_get("id").map_err(db)?),
        slug: Slug::parse(&row.try_get::<String, _>("slug").map_err(db)?).map_err(|_| corrupt("org slug"))?,
        name: row.try_get("name").map_err(db)?,
        require_mfa: row.try_get("require_mfa").map_err(db)?,
        created_at: Timestamp::from_millis(row.try_get("created_at").map_err(db)?),
    })
}

fn domain_from_row(row: &DbRow) -> Result<OrgDomain, StoreError> {
    Ok(OrgDomain {
        domain: DomainName::parse(&row.try_get::<String, _>("domain").map_err(db)?).map_err(|_| corrupt("domain"))?,
        token: row.try_get("token").map_err(db)?,
        verified_at: row.try_get::<Option<i64>, _>("verified_at").map_err(db)?.map(Timestamp::from_millis),
        created_at: Timestamp::from_millis(row.try_get("created_at").map_err(db)?),
    })
}

/// Appends a row to the org's audit log inside the caller's transaction.
pub(crate) async fn insert_org_audit(tx: &mut Tx, org: OrgId, a: &Audit) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO org_audit_log (org_id, actor_id, actor, action, target, detail, ip, at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(org.0)
    .bind(a.actor.map(|a| a.0))
    .bind(&a.actor_label)
    .bind(&a.action)
    .bind(&a.target)
    .bind(a.detail.as_deref())
    .bind(a.ip.as_deref())
    .bind(a.at.as_millis())
    .execute(&mut **tx)
    .await
    .map_err(db)?;
    crate::events::insert_audit_event(tx, guildhall_app::ports::EventScope::Org(org), a).await
}

/// Sets `managed_by` on the accounts of a domain (`to` = the org) or clears
/// it (`to` = None, only where `from` managed them); returns their ids, and
/// tells the change feed (cached accounts carry `managed_by`). Addresses
/// match the domain exactly, not its subdomains.
async fn remanage(
    tx: &mut Tx,
    domain: &DomainName,
    from: Option<OrgId>,
    to: Option<OrgId>,
) -> Result<Vec<Uuid>, StoreError> {
    let (sql, org) = match (from, to) {
        (None, Some(org)) => (
            "UPDATE accounts SET managed_by = $1 \
             WHERE email_normalized LIKE '%@' || $2 AND managed_by IS NULL RETURNING id",
            org,
        ),
        (Some(org), None) => (
            "UPDATE accounts SET managed_by = NULL \
             WHERE managed_by = $1 AND email_normalized LIKE '%@' || $2 RETURNING id",
            org,
        ),
        _ => return Ok(Vec::new()),
    };
    let ids: Vec<Uuid> =
        sqlx::query_scalar(sql).bind(org.0).bind(domain.as_str()).fetch_all(&mut **tx).await.map_err(db)?;
    for id in &ids {
        record_change(tx, Change::Account(AccountId::from_uuid(*id))).await?;
    }
    Ok(ids)
}

/// An org's admins, by username.
pub(crate) async fn org_admins_in<'c, E>(exec: E, org: OrgId) -> Result<Vec<Account>, StoreError>
where
    E: sqlx::Executor<'c, Database = crate::Db>,
{
    let rows = sqlx::query(concat!(
        "SELECT ",
        account_cols!(),
        " FROM accounts a JOIN org_admins m ON m.account_id = a.id WHERE m.org_id = $1 ORDER BY a.username"
    ))
    .bind(org.0)
    .fetch_all(exec)
    .await
    .map_err(db)?;
    accounts_from_rows(&rows)
}

#[async_trait::async_trait]
impl OrgStore for SqlStore {
    async fn create_org(&self, new: &NewOrg, audit: &Audit) -> Result<Org, StoreError> {
        let mut tx = crate::dialect::begin_write(&self.pool).await.map_err(db)?;
        sqlx::query("INSERT INTO orgs (id, slug, name, created_at) VALUES ($1, $2, $3, $4)")
            .bind(new.id.0)
            .bind(new.slug.as_str())
            .bind(&new.name)
            .bind(new.now.as_millis())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        sqlx::query("INSERT INTO org_admins (org_id, account_id) VALUES ($1, $2)")
            .bind(new.id.0)
            .bind(new.creator.0)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        insert_org_audit(&mut tx, new.id, audit).await?;
        tx.commit().await.map_err(db)?;
        Ok(Org { id: new.id, slug: new.slug.clone(), name: new.name.clone(), require_mfa: false, created_at: new.now })
    }

    async fn org_by_slug(&self, slug: &Slug) -> Result<Option<Org>, StoreError> {
        let row =
            sqlx::query("SELECT * FROM orgs WHERE slug = $1").bind(slug.as_str()).fetch_optional(&self.pool).await;
        row.map_err(db)?.as_ref().map(org_from_row).transpose()
    }

    async fn update_org(&self, org: &Org, audit: &Audit) -> Result<(), StoreError> {
        let mut tx = crate::dialect::begin_write(&self.pool).await.map_err(db)?;
        sqlx::query("UPDATE orgs SET name = $1 WHERE id = $2")
            .bind(&org.name)
            .bind(org.id.0)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        insert_org_audit(&mut tx, org.id, audit).await?;
        tx.commit().await.map_err(db)
    }

    async fn set_org_require_mfa(&self, org: OrgId, required: bool, audit: &Audit) -> Result<(), StoreError> {
        let mut tx = crate::dialect::begin_write(&self.pool).await.map_err(db)?;
        sqlx::query("UPDATE orgs SET require_mfa = $1 WHERE id = $2")
            .bind(required)
            .bind(org.0)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        insert_org_audit(&mut tx, org, audit).await?;
        tx.commit().await.map_err(db)
    }

    async fn mfa_required_for(&self, account: AccountId) -> Result<bool, StoreError> {
        let required: Option<bool> = sqlx::query_scalar(
            "SELECT o.require_mfa FROM accounts a JOIN orgs o ON o.id = a.managed_by WHERE a.id = $1",
        )
        .bind(account.0)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        Ok(required.unwrap_or(false))
    }

    async fn orgs_of_admin(&self, account: AccountId) -> Result<Vec<Org>, StoreError> {
        let rows = sqlx::query(
            "SELECT o.* FROM orgs o JOIN org_admins a ON a.org_id = o.id WHERE a.account_id = $1 ORDER BY o.slug",
        )
        .bind(account.0)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter().map(org_from_row).collect()
    }

    async fn is_org_admin(&self, org: OrgId, account: AccountId) -> Result<bool, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM org_admins WHERE org_id = $1 AND account_id = $2")
            .bind(org.0)
            .bind(account.0)
            .fetch_one(&self.pool)
            .await
            .map_err(db)?;
        Ok(n > 0)
    }

    async fn org_admins(&self, org: OrgId) -> Result<Vec<Account>, StoreError> {
        org_admins_in(&self.pool, org).await
    }

    async fn set_org_admin(
        &self,
        org: OrgId,
        account: AccountId,
        admin: bool,
        audit: &Audit,
    ) -> Result<bool, StoreError> {
        let mut tx = crate::dialect::begin_write(&self.pool).await.map_err(db)?;
        sqlx::query(crate::dialect::LOCK_ORG).bind(org.0).fetch_optional(&mut *tx).await.map_err(db)?;
        let changed = if admin {
            sqlx::query("INSERT INTO org_admins (org_id, account_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                .bind(org.0)
                .bind(account.0)
                .execute(&mut *tx)
                .await
                .map_err(db)?
                .rows_affected()
        } else {
            let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM org_admins WHERE org_id = $1")
                .bind(org.0)
                .fetch_one(&mut *tx)
                .await
                .map_err(db)?;
            let done = sqlx::query("DELETE FROM org_admins WHERE org_id = $1 AND account_id = $2")
                .bind(org.0)
                .bind(account.0)
                .execute(&mut *tx)
                .await
                .map_err(db)?
                .rows_affected();
            if done > 0 && n <= 1 {
                return Err(StoreError::Conflict("last_admin"));
            }
            done
        };
        if changed == 0 {
            return Ok(false);
        }
        insert_org_audit(&mut tx, org, audit).await?;
        tx.commit().await.map_err(db)?;
        Ok(true)
    }

    async fn add_domain(&self, org: OrgId, d: &OrgDomain, audit: &Audit) -> Result<(), StoreError> {
        let mut tx = crate::dialect::begin_write(&self.pool).await.map_err(db)?;
        let inserted = sqlx::query(
            "INSERT INTO org_domains (org_id, domain, token, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        )
        .bind(org.0)
        .bind(d.domain.as_str())
        .bind(&d.token)
        .bind(d.created_at.as_millis())
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        if inserted.rows_affected() == 0 {
            return Err(StoreError::Conflict("domain"));
        }
        insert_org_audit(&mut tx, org, audit).await?;
        tx.commit().await.map_err(db)
    }

    async fn org_domains(&self, org: OrgId) -> Result<Vec<OrgDomain>, StoreError> {
        let rows = sqlx::query("SELECT * FROM org_domains WHERE org_id = $1 ORDER BY domain")
            .bind(org.0)
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        rows.iter().map(domain_from_row).collect()
    }

    async fn verify_domain(
        &self,
        org: OrgId,
        domain: &DomainName,
        now: Timestamp,
        audit: &Audit,
    ) -> Result<Option<Vec<Account>>, StoreError> {
        let mut tx = crate::dialect::begin_write(&self.pool).await.map_err(db)?;
        let marked = sqlx::query(
            "UPDATE org_domains SET verified_at = COALESCE(verified_at, $1) WHERE org_id = $2 AND domain = $3",
        )
        .bind(now.as_millis())
        .bind(org.0)
        .bind(domain.as_str())
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        if marked.rows_affected() == 0 {
            return Ok(None);
        }
        let ids = remanage(&mut tx, domain, None, Some(org)).await?;
        let mut accounts = Vec::with_capacity(ids.len());
        for id in ids {
            accounts.extend(crate::accounts::account_in(&mut *tx, id).await?);
        }
        insert_org_audit(&mut tx, org, audit).await?;
        tx.commit().await.map_err(db)?;
        Ok(Some(accounts))
    }

    async fn remove_domain(&self, org: OrgId, domain: &DomainName, audit: &Audit) -> Result<bool, StoreError> {
        let mut tx = crate::dialect::begin_write(&self.pool).await.map_err(db)?;
        let done = sqlx::query("DELETE FROM org_domains WHERE org_id = $1 AND domain = $2")
            .bind(org.0)
            .bind(domain.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        remanage(&mut tx, domain, Some(org), None).await?;
        insert_org_audit(&mut tx, org, audit).await?;
        tx.commit().await.map_err(db)?;
        Ok(true)
    }

    async fn managed_accounts(&self, org: OrgId) -> Result<Vec<Account>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            account_cols!(),
            " FROM accounts a WHERE a.managed_by = $1 ORDER BY a.username"
        ))
        .bind(org.0)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        accounts_from_rows(&rows)
    }

    async fn change_managed(
        &self,
        org: OrgId,
        account: AccountId,
        change: &ManagedChange,
        now: Timestamp,
        audit: &Audit,
    ) -> Result<Option<Account>, StoreError> {
        let mut tx = crate::dialect::begin_write(&self.pool).await.map_err(db)?;
        let managed: Option<Uuid> = sqlx::query_scalar("SELECT id FROM accounts WHERE id = $1 AND managed_by = $2")
            .bind(account.0)
            .bind(org.0)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
        if managed.is_none() {
            return Ok(None);
        }
        let end_sessions = match change {
            ManagedChange::DisplayName(name) => {
                sqlx::query("UPDATE accounts SET display_name = $1, updated_at = $2 WHERE id = $3")
                    .bind(name.as_str())
                    .bind(now.as_millis())
                    .bind(account.0)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
                false
            }
            ManagedChange::Status(status) => {
                sqlx::query("UPDATE accounts SET status = $1, updated_at = $2 WHERE id = $3")
                    .bind(status.as_str())
                    .bind(now.as_millis())
                    .bind(account.0)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
                *status == guildhall_core::accounts::AccountStatus::Deactivated
            }
            ManagedChange::EndSessions => true,
        };
        if end_sessions {
            sqlx::query("DELETE FROM sessions WHERE account_id = $1")
                .bind(account.0)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        insert_org_audit(&mut tx, org, audit).await?;
        if !matches!(change, ManagedChange::EndSessions) {
            crate::events::insert_account_events(&mut tx, account, false, now).await?;
        }
        let updated = crate::accounts::account_in(&mut *tx, account.0).await?;
        record_change(&mut tx, Change::Account(account)).await?;
        tx.commit().await.map_err(db)?;
        Ok(updated)
    }

    async fn link_workspace(
        &self,
        org: OrgId,
        ws: WorkspaceId,
        now: Timestamp,
        ws_audit: &Audit,
        org_audit: &Audit,
    ) -> Result<(), StoreError> {
        let mut tx = crate::dialect::begin_write(&self.pool).await.map_err(db)?;
        let linked = sqlx::query(
            "UPDATE workspaces SET org_id = $1, linked_at = $2 WHERE id = $3 AND org_id IS NULL AND plan = 'paid'",
        )
        .bind(org.0)
        .bind(now.as_millis())
        .bind(ws.0)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        if linked.rows_affected() == 0 {
            let linked_to: Option<Option<Uuid>> = sqlx::query_scalar("SELECT org_id FROM workspaces WHERE id = $1")
                .bind(ws.0)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db)?;
            return Err(StoreError::Conflict(if matches!(linked_to, Some(Some(_))) { "linked" } else { "ineligible" }));
        }
        insert_org_audit(&mut tx, org, org_audit).await?;
        insert_audit(&mut tx, ws_audit).await?;
        tx.commit().await.map_err(db)
    }

    async fn unlink_workspace(&self, ws: WorkspaceId, audit: &Audit) -> Result<Option<OrgId>, StoreError> {
        let mut tx = crate::dialect::begin_write(&self.pool).await.map_err(db)?;
        let linked_to: Option<Option<Uuid>> = sqlx::query_scalar("SELECT org_id FROM workspaces WHERE id = $1")
            .bind(ws.0)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
        let Some(Some(org)) = linked_to else { return Ok(None) };
        // Conditional on the org read above: of two racing unlinks, one acts.
        let done = sqlx::query("UPDATE workspaces SET org_id = NULL, linked_at = NULL WHERE id = $1 AND org_id = $2")
            .bind(ws.0)
            .bind(org)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        let org = OrgId::from_uuid(org);
        insert_org_audit(&mut tx, org, audit).await?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await.map_err(db)?;
        Ok(Some(org))
    }

    async fn linked_workspaces(&self, org: OrgId) -> Result<Vec<Workspace>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!("{WORKSPACE_COLS} WHERE w.org_id = $1 ORDER BY w.slug")))
            .bind(org.0)
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        rows.iter().map(workspace_from_row).collect()
    }

    async fn unlinked_paid_workspaces(&self) -> Result<Vec<Workspace>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{WORKSPACE_COLS} WHERE w.org_id IS NULL AND w.plan = 'paid' ORDER BY w.slug"
        )))
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter().map(workspace_from_row).collect()
    }

    async fn auto_link_workspace(
        &self,
        link: &AutoLink,
        ws_audit: &Audit,
        org_audit: &Audit,
    ) -> Result<Option<Vec<Account>>, StoreError> {
        let mut tx = crate::dialect::begin_write(&self.pool).await.map_err(db)?;
        sqlx::query("INSERT INTO orgs (id, slug, name, created_at) VALUES ($1, $2, $3, $4)")
            .bind(link.org.0)
            .bind(link.slug.as_str())
            .bind(&link.name)
            .bind(link.now.as_millis())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        let linked = sqlx::query(
            "UPDATE workspaces SET org_id = $1, linked_at = $2 WHERE id = $3 AND org_id IS NULL AND plan = 'paid'",
        )
        .bind(link.org.0)
        .bind(link.now.as_millis())
        .bind(link.workspace.0)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        if linked.rows_affected() == 0 {
            // Linked meanwhile (by someone, or another node): roll back.
            return Ok(None);
        }
        sqlx::query(
            "INSERT INTO org_admins (org_id, account_id) SELECT $1, gm.account_id FROM group_members gm \
             JOIN groups g ON g.id = gm.group_id WHERE g.workspace_id = $2 AND g.is_admins = $3",
        )
        .bind(link.org.0)
        .bind(link.workspace.0)
        .bind(true)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        let admins = org_admins_in(&mut *tx, link.org).await?;
        insert_org_audit(&mut tx, link.org, org_audit).await?;
        insert_audit(&mut tx, ws_audit).await?;
        tx.commit().await.map_err(db)?;
        Ok(Some(admins))
    }

    async fn org_members(&self, org: OrgId) -> Result<Vec<(Account, Vec<Slug>)>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            account_cols!(),
            ", m.ws_slug FROM accounts a LEFT JOIN ( \
               SELECT DISTINCT gm.account_id, w.slug AS ws_slug FROM group_members gm \
               JOIN groups g ON g.id = gm.group_id JOIN workspaces w ON w.id = g.workspace_id \
               WHERE w.org_id = $1) m ON m.account_id = a.id \
             WHERE a.managed_by = $1 OR m.account_id IS NOT NULL ORDER BY a.username, m.ws_slug"
        ))
        .bind(org.0)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        let mut out: Vec<(Account, Vec<Slug>)> = Vec::new();
        for row in &rows {
            let account = account_from_row(row)?.account;
            let ws = row
                .try_get::<Option<String>, _>("ws_slug")
                .map_err(db)?
                .map(|s| Slug::parse(&s).map_err(|_| corrupt("slug")))
                .transpose()?;
            match out.last_mut() {
                Some((last, slugs)) if last.id == account.id => slugs.extend(ws),
                _ => out.push((account, ws.into_iter().collect())),
            }
        }
        Ok(out)
    }

    async fn org_audit_log(
        &self,
        org: OrgId,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<(i64, Audit)>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, NULL AS workspace_id, actor_id, actor, action, target, detail, ip, at FROM org_audit_log \
             WHERE org_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3",
        )
        .bind(org.0)
        .bind(before.unwrap_or(i64::MAX))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter().map(audit_from_row).collect()
    }
}
