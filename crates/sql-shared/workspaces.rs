//! `WorkspaceStore` on SQL.

use crate::accounts::{account_cols, accounts_from_rows};
use crate::changes::record_change;
use crate::events::insert_audit_event;
use crate::store::{SqlStore, Tx, corrupt, db};
use guildhall_app::ports::{
    Audit, Change, EventScope, Group, Member, MembershipChange, NewGroup, NewRepository, NewWorkspace,
    PermissionSnapshot, Repository, StoreError, Workspace, WorkspaceStore,
};
use guildhall_core::accounts::Account;
use guildhall_core::workspaces::{ADMINS_GROUP, Permission, PermissionData, Plan, Slug};
use guildhall_core::{AccountId, GroupId, RepositoryId, Timestamp, WorkspaceId};
use sqlx::Row;
use uuid::Uuid;

type DbRow = <crate::Db as sqlx::Database>::Row;

pub(crate) const WORKSPACE_COLS: &str = "SELECT w.id, w.slug, w.name, w.plan, w.invitations_accept_any_account, w.created_at, \
     w.version, o.slug AS org_slug FROM workspaces w LEFT JOIN orgs o ON o.id = w.org_id";

fn slug(row: &DbRow, col: &str) -> Result<Slug, StoreError> {
    Slug::parse(&row.try_get::<String, _>(col).map_err(db)?).map_err(|_| corrupt("slug"))
}

fn permission(rank: i16) -> Result<Permission, StoreError> {
    Permission::from_rank(rank).ok_or_else(|| corrupt("permission"))
}

pub(crate) fn workspace_from_row(row: &DbRow) -> Result<Workspace, StoreError> {
    Ok(Workspace {
        id: WorkspaceId::from_uuid(row.try_get::<Uuid, _>("id").map_err(db)?),
        slug: slug(row, "slug")?,
        name: row.try_get("name").map_err(db)?,
        plan: Plan::parse(&row.try_get::<String, _>("plan").map_err(db)?).ok_or_else(|| corrupt("plan"))?,
        invitations_accept_any_account: row.try_get("invitations_accept_any_account").map_err(db)?,
        organization: row
            .try_get::<Option<String>, _>("org_slug")
            .map_err(db)?
            .map(|s| Slug::parse(&s))
            .transpose()
            .map_err(|_| corrupt("org slug"))?,
        created_at: Timestamp::from_millis(row.try_get("created_at").map_err(db)?),
    })
}

fn group_from_row(row: &DbRow) -> Result<Group, StoreError> {
    Ok(Group {
        id: GroupId::from_uuid(row.try_get::<Uuid, _>("id").map_err(db)?),
        workspace: WorkspaceId::from_uuid(row.try_get::<Uuid, _>("workspace_id").map_err(db)?),
        slug: slug(row, "slug")?,
        name: row.try_get("name").map_err(db)?,
        default_permission: permission(row.try_get("default_permission").map_err(db)?)?,
        is_admins: row.try_get("is_admins").map_err(db)?,
    })
}

fn repository_from_row(row: &DbRow) -> Result<Repository, StoreError> {
    Ok(Repository {
        id: RepositoryId::from_uuid(row.try_get::<Uuid, _>("id").map_err(db)?),
        workspace: WorkspaceId::from_uuid(row.try_get::<Uuid, _>("workspace_id").map_err(db)?),
        slug: slug(row, "slug")?,
        name: row.try_get("name").map_err(db)?,
        private: row.try_get("private").map_err(db)?,
    })
}

/// Members of the workspace, one page by username.
macro_rules! members_query {
    ($extra:literal) => {
        concat!(
            "SELECT ",
            account_cols!(),
            " FROM accounts a WHERE a.username > $2 AND a.id IN ( \
               SELECT gm.account_id FROM group_members gm JOIN groups g ON g.id = gm.group_id \
                WHERE g.workspace_id = $1) ",
            $extra,
            " ORDER BY a.username LIMIT $3"
        )
    };
}

/// Only members with at least `read` on every repository: admins, members of
/// a group whose default is at least `read`, or those with a path to each
/// repository.
const ALL_REPOSITORIES: &str = members_query!(
    "AND (EXISTS (SELECT 1 FROM group_members gm JOIN groups g ON g.id = gm.group_id \
                   WHERE gm.account_id = a.id AND g.workspace_id = $1 AND (g.is_admins OR g.default_permission >= 1)) \
          OR NOT EXISTS (SELECT 1 FROM repositories r WHERE r.workspace_id = $1 AND NOT EXISTS ( \
                SELECT 1 FROM repository_grants rg WHERE rg.repository_id = r.id AND rg.account_id = a.id AND rg.permission >= 1 \
                UNION ALL \
                SELECT 1 FROM group_repository_permissions grp JOIN group_members gm ON gm.group_id = grp.group_id \
                 WHERE grp.repository_id = r.id AND gm.account_id = a.id AND grp.permission >= 1)))"
);

#[async_trait::async_trait]
impl WorkspaceStore for SqlStore {
    async fn create_workspace(&self, new: &NewWorkspace, audit: &Audit) -> Result<Workspace, StoreError> {
        let mut tx = crate::dialect::begin_write(&self.pool).await.map_err(db)?;
        let now = new.now.as_millis();
        sqlx::query(
            "INSERT INTO workspaces (id, slug, name, plan, invitations_accept_any_account, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6)",
        )
        .bind(new.id.0)
        .bind(new.slug.as_str())
        .bind(&new.name)
        .bind(new.plan.as_str())
        .bind(false)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        sqlx::query(
            "INSERT INTO groups (id, workspace_id, slug, name, default_permission, is_admins, created_at) \
             VALUES ($1, $2, $3, 'Administrators', $4, $5, $6)",
        )
        .bind(new.admins_group.0)
        .bind(new.id.0)
        .bind(ADMINS_GROUP)
        .bind(Permission::Admin.rank())
        .bind(true)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        sqlx::query("INSERT INTO group_members (group_id, account_id, added_at) VALUES ($1, $2, $3)")
            .bind(new.admins_group.0)
            .bind(new.creator.0)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await.map_err(db)?;
        Ok(Workspace {
            id: new.id,
            slug: new.slug.clone(),
            name: new.name.clone(),
            plan: new.plan,
            invitations_accept_any_account: false,
            organization: None,
            created_at: new.now,
        })
    }

    async fn workspace_by_slug(&self, slug: &Slug) -> Result<Option<Workspace>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("{WORKSPACE_COLS} WHERE w.slug = $1")))
            .bind(slug.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        row.as_ref().map(workspace_from_row).transpose()
    }

    async fn workspace_by_id(&self, id: WorkspaceId) -> Result<Option<Workspace>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("{WORKSPACE_COLS} WHERE w.id = $1")))
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        row.as_ref().map(workspace_from_row).transpose()
    }

    async fn workspaces_of(&self, account: AccountId) -> Result<Vec<Workspace>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{WORKSPACE_COLS} WHERE w.id IN (SELECT g.workspace_id FROM groups g \
             JOIN group_members gm ON gm.group_id = g.id WHERE gm.account_id = $1) ORDER BY w.slug"
        )))
        .bind(account.0)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter().map(workspace_from_row).collect()
    }

    async fn update_workspace(&self, ws: &Workspace, audit: &Audit) -> Result<(), StoreError> {
        let q = sqlx::query(
            "UPDATE workspaces SET name = $1, plan = $2, invitations_accept_any_account = $3, updated_at = $4 WHERE id = $5",
        )
        .bind(&ws.name)
        .bind(ws.plan.as_str())
        .bind(ws.invitations_accept_any_account)
        .bind(audit.at.as_millis())
        .bind(ws.id.0);
        audited(self, audit, q).await.map(|_| ())
    }

    async fn delete_workspace(&self, id: WorkspaceId, audit: &Audit) -> Result<bool, StoreError> {
        // The audit row goes in first, so it can name the workspace; the
        // delete then sets its workspace to NULL and the row outlives it.
        let mut tx = crate::dialect::begin_write(&self.pool).await.map_err(db)?;
        let exists: Option<Uuid> = sqlx::query_scalar("SELECT id FROM workspaces WHERE id = $1")
            .bind(id.0)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
        if exists.is_none() {
            return Ok(false);
        }
        insert_audit(&mut tx, audit).await?;
        sqlx::query("DELETE FROM workspaces WHERE id = $1").bind(id.0).execute(&mut *tx).await.map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(true)
    }

    async fn membership(&self, ws: WorkspaceId, account: AccountId) -> Result<(bool, bool), StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS groups, COALESCE(SUM(CASE WHEN g.is_admins THEN 1 ELSE 0 END), 0) AS admin \
               FROM group_members gm JOIN groups g ON g.id = gm.group_id \
              WHERE g.workspace_id = $1 AND gm.account_id = $2",
        )
        .bind(ws.0)
        .bind(account.0)
        .fetch_one(&self.pool)
        .await
        .map_err(db)?;
        let groups: i64 = row.try_get("groups").map_err(db)?;
        let admin: i64 = row.try_get("admin").map_err(db)?;
        Ok((groups > 0, admin > 0))
    }

    async fn create_group(&self, ws: WorkspaceId, new: &NewGroup, audit: &Audit) -> Result<Group, StoreError> {
        let q = sqlx::query(
            "INSERT INTO groups (id, workspace_id, slug, name, default_permission, is_admins, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(new.id.0)
        .bind(ws.0)
        .bind(new.slug.as_str())
        .bind(&new.name)
        .bind(new.default_permission.rank())
        .bind(false)
        .bind(audit.at.as_millis());
        audited(self, audit, q).await?;
        Ok(Group {
            id: new.id,
            workspace: ws,
            slug: new.slug.clone(),
            name: new.name.clone(),
            default_permission: new.default_permission,
            is_admins: false,
        })
    }

    async fn groups(&self, ws: WorkspaceId) -> Result<Vec<Group>, StoreError> {
        let rows = sqlx::query("SELECT * FROM groups WHERE workspace_id = $1 ORDER BY slug")
            .bind(ws.0)
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        rows.iter().map(group_from_row).collect()
    }

    async fn group_by_slug(&self, ws: WorkspaceId, slug: &Slug) -> Result<Option<Group>, StoreError> {
        let row = sqlx::query("SELECT * FROM groups WHERE workspace_id = $1 AND slug = $2")
            .bind(ws.0)
            .bind(slug.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        row.as_ref().map(group_from_row).transpose()
    }

    async fn update_group(&self, group: &Group, audit: &Audit) -> Result<(), StoreError> {
        let q = sqlx::query("UPDATE groups SET name = $1, default_permission = $2 WHERE id = $3 AND is_admins = $4")
            .bind(&group.name)
            .bind(group.default_permission.rank())
            .bind(group.id.0)
            .bind(false);
        audited(self, audit, q).await.map(|_| ())
    }

    async fn delete_group(&self, group: GroupId, audit: &Audit) -> Result<bool, StoreError> {
        let mut tx = crate::dialect::begin_write(&self.pool).await.map_err(db)?;
        let admins: Option<bool> = sqlx::query_scalar("SELECT is_admins FROM groups WHERE id = $1")
            .bind(group.0)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
        match admins {
            None => Ok(false),
            Some(true) => Err(StoreError::Conflict("administrators")),
            Some(false) => {
                sqlx::query("DELETE FROM groups WHERE id = $1").bind(group.0).execute(&mut *tx).await.map_err(db)?;
                insert_audit(&mut tx, audit).await?;
                tx.commit().await.map_err(db)?;
                Ok(true)
            }
        }
    }

    async fn add_member(
        &self,
        group: GroupId,
        account: AccountId,
        audit: &Audit,
    ) -> Result<MembershipChange, StoreError> {
        let q = sqlx::query(
            "INSERT INTO group_members (group_id, account_id, added_at) VALUES ($1, $2, $3) \
             ON CONFLICT (group_id, account_id) DO NOTHING",
        )
        .bind(group.0)
        .bind(account.0)
        .bind(audit.at.as_millis());
        Ok(if audited(self, audit, q).await? > 0 { MembershipChange::Changed } else { MembershipChange::Unchanged })
    }

    async fn remove_member(
        &self,
        group: GroupId,
        account: AccountId,
        audit: &Audit,
    ) -> Result<MembershipChange, StoreError> {
        let mut tx = crate::dialect::begin_write(&self.pool).await.map_err(db)?;
        // Lock the group so two removals cannot each see the other admin.
        let admins: Option<bool> =
            sqlx::query_scalar(crate::dialect::LOCK_GROUP).bind(group.0).fetch_optional(&mut *tx).await.map_err(db)?;
        if admins == Some(true) {
            let others: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM group_members WHERE group_id = $1 AND account_id <> $2")
                    .bind(group.0)
                    .bind(account.0)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db)?;
            if others == 0 {
                return Err(StoreError::Conflict("last_admin"));
            }
        }
        let done = sqlx::query("DELETE FROM group_members WHERE group_id = $1 AND account_id = $2")
            .bind(group.0)
            .bind(account.0)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        if done.rows_affected() > 0 {
            insert_audit(&mut tx, audit).await?;
        }
        tx.commit().await.map_err(db)?;
        Ok(if done.rows_affected() > 0 { MembershipChange::Changed } else { MembershipChange::Unchanged })
    }

    async fn group_members(&self, group: GroupId) -> Result<Vec<Account>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            account_cols!(),
            " FROM accounts a JOIN group_members gm ON gm.account_id = a.id WHERE gm.group_id = $1 ORDER BY a.username"
        ))
        .bind(group.0)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        accounts_from_rows(&rows)
    }

    async fn account_groups(&self, ws: WorkspaceId, account: AccountId) -> Result<Vec<GroupId>, StoreError> {
        let ids: Vec<Uuid> = sqlx::query_scalar(
            "SELECT g.id FROM groups g JOIN group_members gm ON gm.group_id = g.id \
              WHERE g.workspace_id = $1 AND gm.account_id = $2 ORDER BY g.slug",
        )
        .bind(ws.0)
        .bind(account.0)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        Ok(ids.into_iter().map(GroupId::from_uuid).collect())
    }

    async fn create_repository(
        &self,
        ws: WorkspaceId,
        new: &NewRepository,
        audit: &Audit,
    ) -> Result<Repository, StoreError> {
        let q = sqlx::query(
            "INSERT INTO repositories (id, workspace_id, slug, name, private, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(new.id.0)
        .bind(ws.0)
        .bind(new.slug.as_str())
        .bind(&new.name)
        .bind(new.private)
        .bind(audit.at.as_millis());
        audited(self, audit, q).await?;
        Ok(Repository {
            id: new.id,
            workspace: ws,
            slug: new.slug.clone(),
            name: new.name.clone(),
            private: new.private,
        })
    }

    async fn repositories(&self, ws: WorkspaceId) -> Result<Vec<Repository>, StoreError> {
        let rows = sqlx::query("SELECT * FROM repositories WHERE workspace_id = $1 ORDER BY slug")
            .bind(ws.0)
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        rows.iter().map(repository_from_row).collect()
    }

    async fn repository_by_slug(&self, ws: WorkspaceId, slug: &Slug) -> Result<Option<Repository>, StoreError> {
        let row = sqlx::query("SELECT * FROM repositories WHERE workspace_id = $1 AND slug = $2")
            .bind(ws.0)
            .bind(slug.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        row.as_ref().map(repository_from_row).transpose()
    }

    async fn update_repository(&self, repo: &Repository, audit: &Audit) -> Result<(), StoreError> {
        let q = sqlx::query("UPDATE repositories SET name = $1, private = $2 WHERE id = $3")
            .bind(&repo.name)
            .bind(repo.private)
            .bind(repo.id.0);
        audited(self, audit, q).await.map(|_| ())
    }

    async fn delete_repository(&self, repo: RepositoryId, audit: &Audit) -> Result<bool, StoreError> {
        let q = sqlx::query("DELETE FROM repositories WHERE id = $1").bind(repo.0);
        Ok(audited(self, audit, q).await? > 0)
    }

    async fn set_group_permission(
        &self,
        group: GroupId,
        repo: RepositoryId,
        p: Option<Permission>,
        audit: &Audit,
    ) -> Result<(), StoreError> {
        let q = match p {
            Some(p) => sqlx::query(
                "INSERT INTO group_repository_permissions (group_id, repository_id, permission) VALUES ($1, $2, $3) \
                 ON CONFLICT (group_id, repository_id) DO UPDATE SET permission = excluded.permission",
            )
            .bind(group.0)
            .bind(repo.0)
            .bind(p.rank()),
            None => sqlx::query("DELETE FROM group_repository_permissions WHERE group_id = $1 AND repository_id = $2")
                .bind(group.0)
                .bind(repo.0),
        };
        audited(self, audit, q).await.map(|_| ())
    }

    async fn set_grant(
        &self,
        repo: RepositoryId,
        account: AccountId,
        p: Option<Permission>,
        audit: &Audit,
    ) -> Result<(), StoreError> {
        let q = match p {
            Some(p) => sqlx::query(
                "INSERT INTO repository_grants (repository_id, account_id, permission) VALUES ($1, $2, $3) \
                 ON CONFLICT (repository_id, account_id) DO UPDATE SET permission = excluded.permission",
            )
            .bind(repo.0)
            .bind(account.0)
            .bind(p.rank()),
            None => sqlx::query("DELETE FROM repository_grants WHERE repository_id = $1 AND account_id = $2")
                .bind(repo.0)
                .bind(account.0),
        };
        audited(self, audit, q).await.map(|_| ())
    }

    async fn members(
        &self,
        ws: WorkspaceId,
        after: Option<&str>,
        limit: u32,
        all_repositories: bool,
    ) -> Result<Vec<Member>, StoreError> {
        let sql = if all_repositories { ALL_REPOSITORIES } else { members_query!("") };
        let rows = sqlx::query(sql)
            .bind(ws.0)
            .bind(after.unwrap_or(""))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        let accounts: Vec<Account> = accounts_from_rows(&rows)?;
        let (Some(first), Some(last)) = (accounts.first(), accounts.last()) else { return Ok(Vec::new()) };
        let memberships = sqlx::query(
            "SELECT gm.account_id, g.slug FROM group_members gm JOIN groups g ON g.id = gm.group_id \
               JOIN accounts a ON a.id = gm.account_id \
              WHERE g.workspace_id = $1 AND a.username >= $2 AND a.username <= $3 ORDER BY g.slug",
        )
        .bind(ws.0)
        .bind(first.username.as_str())
        .bind(last.username.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        let mut groups: std::collections::HashMap<Uuid, Vec<Slug>> = std::collections::HashMap::new();
        for row in &memberships {
            groups.entry(row.try_get("account_id").map_err(db)?).or_default().push(slug(row, "slug")?);
        }
        Ok(accounts
            .into_iter()
            .map(|account| Member { groups: groups.remove(&account.id.0).unwrap_or_default(), account })
            .collect())
    }

    async fn workspace_version(&self, slug: &Slug) -> Result<Option<(WorkspaceId, i64)>, StoreError> {
        let row = sqlx::query("SELECT id, version FROM workspaces WHERE slug = $1")
            .bind(slug.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        row.map(|r| Ok((WorkspaceId::from_uuid(r.try_get("id").map_err(db)?), r.try_get("version").map_err(db)?)))
            .transpose()
    }

    async fn permission_snapshot(&self, ws: WorkspaceId) -> Result<Option<PermissionSnapshot>, StoreError> {
        // One read transaction: every query sees the state the version names.
        let mut tx = crate::dialect::begin_read(&self.pool).await.map_err(db)?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("{WORKSPACE_COLS} WHERE w.id = $1")))
            .bind(ws.0)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
        let Some(row) = row else { return Ok(None) };
        let workspace = workspace_from_row(&row)?;
        let version: i64 = row.try_get("version").map_err(db)?;
        let groups = sqlx::query("SELECT id, default_permission, is_admins FROM groups WHERE workspace_id = $1")
            .bind(ws.0)
            .fetch_all(&mut *tx)
            .await
            .map_err(db)?;
        let mut data = PermissionData::default();
        let mut position = std::collections::HashMap::new();
        for (i, g) in groups.iter().enumerate() {
            position.insert(g.try_get::<Uuid, _>("id").map_err(db)?, i);
            data.groups
                .push((permission(g.try_get("default_permission").map_err(db)?)?, g.try_get("is_admins").map_err(db)?));
        }
        let group_of = |r: &DbRow| -> Result<usize, StoreError> {
            position.get(&r.try_get::<Uuid, _>("group_id").map_err(db)?).copied().ok_or_else(|| corrupt("group"))
        };
        let memberships = sqlx::query(
            "SELECT a.username, gm.group_id FROM group_members gm JOIN groups g ON g.id = gm.group_id \
               JOIN accounts a ON a.id = gm.account_id WHERE g.workspace_id = $1",
        )
        .bind(ws.0)
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        for r in &memberships {
            data.memberships.push((r.try_get("username").map_err(db)?, group_of(r)?));
        }
        data.repositories = sqlx::query_scalar("SELECT slug FROM repositories WHERE workspace_id = $1")
            .bind(ws.0)
            .fetch_all(&mut *tx)
            .await
            .map_err(db)?;
        let group_permissions = sqlx::query(
            "SELECT grp.group_id, r.slug, grp.permission FROM group_repository_permissions grp \
               JOIN repositories r ON r.id = grp.repository_id WHERE r.workspace_id = $1",
        )
        .bind(ws.0)
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        for r in &group_permissions {
            let p = permission(r.try_get("permission").map_err(db)?)?;
            data.group_permissions.push((group_of(r)?, r.try_get("slug").map_err(db)?, p));
        }
        let grants = sqlx::query(
            "SELECT a.username, r.slug, rg.permission FROM repository_grants rg \
               JOIN repositories r ON r.id = rg.repository_id JOIN accounts a ON a.id = rg.account_id \
              WHERE r.workspace_id = $1",
        )
        .bind(ws.0)
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        for r in &grants {
            let p = permission(r.try_get("permission").map_err(db)?)?;
            data.grants.push((r.try_get("username").map_err(db)?, r.try_get("slug").map_err(db)?, p));
        }
        tx.commit().await.map_err(db)?;
        Ok(Some(PermissionSnapshot { workspace, version, data }))
    }

    async fn audit_log(
        &self,
        ws: WorkspaceId,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<(i64, Audit)>, StoreError> {
        let rows = sqlx::query("SELECT * FROM audit_log WHERE workspace_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3")
            .bind(ws.0)
            .bind(before.unwrap_or(i64::MAX))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        rows.iter().map(audit_from_row).collect()
    }
}

/// Appends an audit row inside the caller's transaction, and bumps the
/// workspace's version: every change to a workspace is audited, so this is
/// the one place that tells caches their permission data is stale (the
/// version for a node that reads it, the change feed for one that follows).
pub(crate) async fn insert_audit(tx: &mut Tx, a: &Audit) -> Result<(), StoreError> {
    if let Some(ws) = a.workspace {
        sqlx::query("UPDATE workspaces SET version = version + 1 WHERE id = $1")
            .bind(ws.0)
            .execute(&mut **tx)
            .await
            .map_err(db)?;
    }
    sqlx::query(
        "INSERT INTO audit_log (workspace_id, actor_id, actor, action, target, detail, ip, at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(a.workspace.map(|w| w.0))
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
    match a.workspace {
        Some(ws) => {
            insert_audit_event(tx, EventScope::Workspace(ws), a).await?;
            record_change(tx, Change::Workspace(ws)).await
        }
        None => Ok(()),
    }
}

pub(crate) fn audit_from_row(row: &DbRow) -> Result<(i64, Audit), StoreError> {
    Ok((
        row.try_get("id").map_err(db)?,
        Audit {
            workspace: row.try_get::<Option<Uuid>, _>("workspace_id").map_err(db)?.map(WorkspaceId::from_uuid),
            actor: row.try_get::<Option<Uuid>, _>("actor_id").map_err(db)?.map(AccountId::from_uuid),
            actor_label: row.try_get("actor").map_err(db)?,
            action: row.try_get("action").map_err(db)?,
            target: row.try_get("target").map_err(db)?,
            detail: row.try_get("detail").map_err(db)?,
            ip: row.try_get("ip").map_err(db)?,
            at: Timestamp::from_millis(row.try_get("at").map_err(db)?),
            data: None,
        },
    ))
}

/// Runs one statement and the audit row in a write transaction; returns the
/// number of rows the statement changed.
async fn audited(
    store: &SqlStore,
    audit: &Audit,
    q: sqlx::query::Query<'_, crate::Db, <crate::Db as sqlx::Database>::Arguments>,
) -> Result<u64, StoreError> {
    let mut tx = crate::dialect::begin_write(&store.pool).await.map_err(db)?;
    let done = q.execute(&mut *tx).await.map_err(db)?;
    if done.rows_affected() > 0 {
        insert_audit(&mut tx, audit).await?;
    }
    tx.commit().await.map_err(db)?;
    Ok(done.rows_affected())
}
