//! `EventStore` on SQL: the event log, directory snapshots and directory
//! tokens (ADR 0011).

use crate::accounts::{account_cols, account_in, accounts_from_rows};
use crate::store::{SqlStore, Tx, corrupt, db};
use crate::workspaces::insert_audit;
use guildhall_app::ports::{
    Audit, DirectorySnapshot, DirectoryToken, Event, EventScope, EventStore, SnapshotGroup, SnapshotRepository,
    StoreError,
};
use guildhall_core::tokens::TokenHash;
use guildhall_core::workspaces::Permission;
use guildhall_core::{AccountId, GroupId, OrgId, RepositoryId, Timestamp, WorkspaceId};
use sqlx::Row;
use std::collections::HashMap;
use uuid::Uuid;

type DbRow = <crate::Db as sqlx::Database>::Row;

/// Appends an event inside the caller's transaction. The number comes from
/// the change counter row (ADR 0006), whose lock is held until commit.
pub(crate) async fn insert_event(
    tx: &mut Tx,
    scope: EventScope,
    kind: &str,
    data: &serde_json::Value,
    at: Timestamp,
) -> Result<i64, StoreError> {
    let seq: i64 =
        sqlx::query_scalar("UPDATE change_counter SET event_seq = event_seq + 1 WHERE id = 1 RETURNING event_seq")
            .fetch_one(&mut **tx)
            .await
            .map_err(db)?;
    let (ws, org) = match scope {
        EventScope::Workspace(w) => (Some(w.0), None),
        EventScope::Org(o) => (None, Some(o.0)),
    };
    sqlx::query("INSERT INTO events (seq, workspace_id, org_id, type, data, at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(seq)
        .bind(ws)
        .bind(org)
        .bind(kind)
        .bind(data.to_string())
        .bind(at.as_millis())
        .execute(&mut **tx)
        .await
        .map_err(db)?;
    Ok(seq)
}

/// The event an audit row implies: its action as the type, and its data
/// (or the target and detail when the caller gave no structured data).
pub(crate) async fn insert_audit_event(tx: &mut Tx, scope: EventScope, a: &Audit) -> Result<(), StoreError> {
    let mut data = a.data.clone().unwrap_or_else(|| serde_json::json!({}));
    if let Some(obj) = data.as_object_mut() {
        obj.insert("target".into(), a.target.clone().into());
        if let Some(d) = &a.detail {
            obj.entry("detail").or_insert_with(|| d.clone().into());
        }
        obj.insert("actor".into(), a.actor_label.clone().into());
    }
    insert_event(tx, scope, &a.action, &data, a.at).await.map(|_| ())
}

/// Tells every workspace the account is in (and with `org_too` the org that
/// manages it) that the account changed, with its state after the change.
pub(crate) async fn insert_account_events(
    tx: &mut Tx,
    id: AccountId,
    org_too: bool,
    at: Timestamp,
) -> Result<(), StoreError> {
    let kind = "account.updated";
    let Some(account) = account_in(&mut **tx, id.0).await? else { return Ok(()) };
    let data = serde_json::json!({ "account": guildhall_app::directory::account_json(&account) });
    let workspaces: Vec<Uuid> = sqlx::query_scalar(
        "SELECT DISTINCT g.workspace_id FROM group_members gm JOIN groups g ON g.id = gm.group_id \
          WHERE gm.account_id = $1 ORDER BY g.workspace_id",
    )
    .bind(id.0)
    .fetch_all(&mut **tx)
    .await
    .map_err(db)?;
    for ws in workspaces {
        insert_event(tx, EventScope::Workspace(WorkspaceId::from_uuid(ws)), kind, &data, at).await?;
    }
    if let Some(org) = account.managed_by.filter(|_| org_too) {
        insert_event(tx, EventScope::Org(org), kind, &data, at).await?;
    }
    Ok(())
}

/// The owner of a row that belongs to a workspace or an org
/// (`workspace_id`, `org_id`: exactly one set).
pub(crate) fn scope_from_row(row: &DbRow) -> Result<EventScope, StoreError> {
    let ws: Option<Uuid> = row.try_get("workspace_id").map_err(db)?;
    let org: Option<Uuid> = row.try_get("org_id").map_err(db)?;
    match (ws, org) {
        (Some(w), None) => Ok(EventScope::Workspace(WorkspaceId::from_uuid(w))),
        (None, Some(o)) => Ok(EventScope::Org(OrgId::from_uuid(o))),
        _ => Err(corrupt("workspace or org of a row")),
    }
}

fn event_from_row(row: &DbRow) -> Result<Event, StoreError> {
    let data: String = row.try_get("data").map_err(db)?;
    Ok(Event {
        seq: row.try_get("seq").map_err(db)?,
        scope: scope_from_row(row)?,
        kind: row.try_get("type").map_err(db)?,
        data: serde_json::from_str(&data).map_err(|_| corrupt("event data"))?,
        at: Timestamp::from_millis(row.try_get("at").map_err(db)?),
    })
}

fn permission(rank: i16) -> Result<Permission, StoreError> {
    Permission::from_rank(rank).ok_or_else(|| corrupt("permission"))
}

fn token_from_row(row: &DbRow) -> Result<DirectoryToken, StoreError> {
    Ok(DirectoryToken {
        id: row.try_get("id").map_err(db)?,
        scope: scope_from_row(row)?,
        name: row.try_get("name").map_err(db)?,
        created_by: row.try_get("created_by").map_err(db)?,
        created_at: Timestamp::from_millis(row.try_get("created_at").map_err(db)?),
        last_used_at: row.try_get::<Option<i64>, _>("last_used_at").map_err(db)?.map(Timestamp::from_millis),
    })
}

const TOKEN_COLS: &str =
    "SELECT id, workspace_id, org_id, name, created_by, created_at, last_used_at FROM directory_tokens";

fn scope_ids(scope: EventScope) -> (Option<Uuid>, Option<Uuid>) {
    match scope {
        EventScope::Workspace(w) => (Some(w.0), None),
        EventScope::Org(o) => (None, Some(o.0)),
    }
}

/// The column that names the scope's owner, and the owner's id.
pub(crate) fn scope_column(scope: EventScope) -> (&'static str, Uuid) {
    match scope {
        EventScope::Workspace(w) => ("workspace_id", w.0),
        EventScope::Org(o) => ("org_id", o.0),
    }
}

#[async_trait::async_trait]
impl EventStore for SqlStore {
    async fn events_after(&self, scope: EventScope, after: i64, limit: u32) -> Result<Vec<Event>, StoreError> {
        let (column, id) = scope_column(scope);
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT seq, workspace_id, org_id, type, data, at FROM events \
              WHERE {column} = $1 AND seq > $2 ORDER BY seq LIMIT $3"
        )))
        .bind(id)
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter().map(event_from_row).collect()
    }

    async fn latest_event(&self) -> Result<i64, StoreError> {
        sqlx::query_scalar("SELECT event_seq FROM change_counter WHERE id = 1").fetch_one(&self.pool).await.map_err(db)
    }

    async fn directory_snapshot(&self, ws: WorkspaceId) -> Result<Option<DirectorySnapshot>, StoreError> {
        // One read transaction: the cursor and every row come from one state.
        let mut tx = crate::dialect::begin_read(&self.pool).await.map_err(db)?;
        let cursor: i64 = sqlx::query_scalar("SELECT event_seq FROM change_counter WHERE id = 1")
            .fetch_one(&mut *tx)
            .await
            .map_err(db)?;
        let exists: Option<Uuid> = sqlx::query_scalar("SELECT id FROM workspaces WHERE id = $1")
            .bind(ws.0)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
        if exists.is_none() {
            return Ok(None);
        }
        let rows = sqlx::query(concat!(
            "SELECT ",
            account_cols!(),
            " FROM accounts a WHERE a.id IN (SELECT gm.account_id FROM group_members gm \
               JOIN groups g ON g.id = gm.group_id WHERE g.workspace_id = $1) ORDER BY a.username"
        ))
        .bind(ws.0)
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        let members = accounts_from_rows(&rows)?;
        let rows = sqlx::query(
            "SELECT id, slug, name, default_permission, is_admins FROM groups WHERE workspace_id = $1 ORDER BY slug",
        )
        .bind(ws.0)
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        let mut groups = Vec::with_capacity(rows.len());
        let mut position = HashMap::new();
        for (i, r) in rows.iter().enumerate() {
            let id: Uuid = r.try_get("id").map_err(db)?;
            position.insert(id, i);
            groups.push(SnapshotGroup {
                id: GroupId::from_uuid(id),
                slug: r.try_get("slug").map_err(db)?,
                name: r.try_get("name").map_err(db)?,
                default_permission: permission(r.try_get("default_permission").map_err(db)?)?,
                is_admins: r.try_get("is_admins").map_err(db)?,
                members: Vec::new(),
            });
        }
        let rows = sqlx::query(
            "SELECT gm.group_id, gm.account_id FROM group_members gm JOIN groups g ON g.id = gm.group_id \
              JOIN accounts a ON a.id = gm.account_id WHERE g.workspace_id = $1 ORDER BY a.username",
        )
        .bind(ws.0)
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        for r in &rows {
            let g: Uuid = r.try_get("group_id").map_err(db)?;
            let i = *position.get(&g).ok_or_else(|| corrupt("group"))?;
            groups[i].members.push(AccountId::from_uuid(r.try_get("account_id").map_err(db)?));
        }
        let rows =
            sqlx::query("SELECT id, slug, name, private FROM repositories WHERE workspace_id = $1 ORDER BY slug")
                .bind(ws.0)
                .fetch_all(&mut *tx)
                .await
                .map_err(db)?;
        let mut repositories = Vec::with_capacity(rows.len());
        let mut repo_position = HashMap::new();
        for (i, r) in rows.iter().enumerate() {
            let id: Uuid = r.try_get("id").map_err(db)?;
            repo_position.insert(id, i);
            repositories.push(SnapshotRepository {
                id: RepositoryId::from_uuid(id),
                slug: r.try_get("slug").map_err(db)?,
                name: r.try_get("name").map_err(db)?,
                private: r.try_get("private").map_err(db)?,
                groups: Vec::new(),
                grants: Vec::new(),
            });
        }
        let rows = sqlx::query(
            "SELECT grp.repository_id, grp.group_id, grp.permission FROM group_repository_permissions grp \
               JOIN repositories r ON r.id = grp.repository_id WHERE r.workspace_id = $1",
        )
        .bind(ws.0)
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        for r in &rows {
            let i = *repo_position
                .get(&r.try_get::<Uuid, _>("repository_id").map_err(db)?)
                .ok_or_else(|| corrupt("repo"))?;
            repositories[i].groups.push((
                GroupId::from_uuid(r.try_get("group_id").map_err(db)?),
                permission(r.try_get("permission").map_err(db)?)?,
            ));
        }
        let rows = sqlx::query(
            "SELECT rg.repository_id, rg.account_id, rg.permission FROM repository_grants rg \
               JOIN repositories r ON r.id = rg.repository_id WHERE r.workspace_id = $1",
        )
        .bind(ws.0)
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        for r in &rows {
            let i = *repo_position
                .get(&r.try_get::<Uuid, _>("repository_id").map_err(db)?)
                .ok_or_else(|| corrupt("repo"))?;
            repositories[i].grants.push((
                AccountId::from_uuid(r.try_get("account_id").map_err(db)?),
                permission(r.try_get("permission").map_err(db)?)?,
            ));
        }
        tx.commit().await.map_err(db)?;
        Ok(Some(DirectorySnapshot { cursor, members, groups, repositories }))
    }

    async fn create_directory_token(
        &self,
        token: &DirectoryToken,
        hash: &TokenHash,
        audit: &Audit,
    ) -> Result<(), StoreError> {
        let mut tx = crate::dialect::begin_write(&self.pool).await.map_err(db)?;
        let (ws, org) = scope_ids(token.scope);
        sqlx::query(
            "INSERT INTO directory_tokens (id, workspace_id, org_id, name, token_hash, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(token.id)
        .bind(ws)
        .bind(org)
        .bind(&token.name)
        .bind(hash.as_bytes())
        .bind(&token.created_by)
        .bind(token.created_at.as_millis())
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        scoped_audit(&mut tx, token.scope, audit).await?;
        tx.commit().await.map_err(db)
    }

    async fn directory_tokens(&self, scope: EventScope) -> Result<Vec<DirectoryToken>, StoreError> {
        let (column, owner) = scope_column(scope);
        let rows =
            sqlx::query(sqlx::AssertSqlSafe(format!("{TOKEN_COLS} WHERE {column} = $1 ORDER BY created_at DESC, id")))
                .bind(owner)
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
        rows.iter().map(token_from_row).collect()
    }

    async fn revoke_directory_token(&self, scope: EventScope, id: Uuid, audit: &Audit) -> Result<bool, StoreError> {
        let (column, owner) = scope_column(scope);
        let q =
            sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM directory_tokens WHERE id = $1 AND {column} = $2")));
        scoped_audited(self, scope, audit, q.bind(id).bind(owner)).await
    }

    async fn directory_token_by_hash(
        &self,
        hash: &TokenHash,
        now: Timestamp,
    ) -> Result<Option<DirectoryToken>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("{TOKEN_COLS} WHERE token_hash = $1")))
            .bind(hash.as_bytes())
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        let Some(row) = row else { return Ok(None) };
        let token = token_from_row(&row)?;
        if token.last_used_at.is_none_or(|t| now.as_millis() - t.as_millis() >= 60_000) {
            sqlx::query("UPDATE directory_tokens SET last_used_at = $1 WHERE id = $2")
                .bind(now.as_millis())
                .bind(token.id)
                .execute(&self.pool)
                .await
                .map_err(db)?;
        }
        Ok(Some(token))
    }
}

/// The audit row (and so the event) of a workspace or an org.
/// Runs one statement and, when it changed a row, the scope's audit row,
/// in one write transaction; `false`, and nothing written, when it changed
/// none (unknown, or another scope's).
pub(crate) async fn scoped_audited(
    store: &SqlStore,
    scope: EventScope,
    audit: &Audit,
    q: sqlx::query::Query<'_, crate::Db, <crate::Db as sqlx::Database>::Arguments>,
) -> Result<bool, StoreError> {
    let mut tx = crate::dialect::begin_write(&store.pool).await.map_err(db)?;
    if q.execute(&mut *tx).await.map_err(db)?.rows_affected() == 0 {
        return Ok(false);
    }
    scoped_audit(&mut tx, scope, audit).await?;
    tx.commit().await.map_err(db)?;
    Ok(true)
}

pub(crate) async fn scoped_audit(tx: &mut Tx, scope: EventScope, audit: &Audit) -> Result<(), StoreError> {
    match scope {
        EventScope::Workspace(_) => insert_audit(tx, audit).await,
        EventScope::Org(o) => crate::orgs::insert_org_audit(tx, o, audit).await,
    }
}
