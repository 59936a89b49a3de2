//! `ScimStore` on SQL: the users and groups SCIM shows, and an org
//! directory's writes with their audit rows and events (ADR 0011).

use crate::accounts::{account_cols, account_from_row, account_in, accounts_from_rows, insert_account};
use crate::changes::record_change;
use crate::dialect;
use crate::events::insert_account_events;
use crate::store::{SqlStore, Tx, corrupt, db};
use guildhall_app::directory::account_json;
use guildhall_app::ports::{
    Audit, Change, EventScope, GroupWrite, NewAccount, Page, ScimGroup, ScimStore, ScimUser, StoreError, TextOp,
    UserCondition, UserField, UserKey, UserWrite,
};
use guildhall_core::accounts::{Account, AccountStatus};
use guildhall_core::{AccountId, OrgId, Timestamp, WorkspaceId};
use sqlx::Row;
use std::collections::HashMap;
use uuid::Uuid;

type DbRow = <crate::Db as sqlx::Database>::Row;
type Conn = <crate::Db as sqlx::Database>::Connection;

/// The rows of a scope's users: the directory columns, `FROM … WHERE …`
/// with `$1` the owner. Workspace members have no directory row.
fn users_from(scope: EventScope) -> (&'static str, &'static str, Uuid) {
    match scope {
        EventScope::Workspace(w) => (
            "NULL AS s_user_name, NULL AS s_external_id, NULL AS s_attributes",
            // A per-row probe (index on group_members.account_id), so a
            // lookup of a few ids never reads the whole membership.
            " FROM accounts a WHERE EXISTS (SELECT 1 FROM group_members gm \
                JOIN groups g ON g.id = gm.group_id WHERE gm.account_id = a.id AND g.workspace_id = $1)",
            w.0,
        ),
        EventScope::Org(o) => (
            "s.user_name AS s_user_name, s.external_id AS s_external_id, s.attributes AS s_attributes",
            " FROM accounts a LEFT JOIN scim_accounts s ON s.account_id = a.id \
              WHERE a.managed_by = $1 AND s.deleted_at IS NULL",
            o.0,
        ),
    }
}

/// `condition` as SQL over `accounts a`, its text values pushed to `binds`
/// (numbered from `$2`; `$1` is the scope's owner).
fn condition_sql(condition: &UserCondition, binds: &mut Vec<String>) -> String {
    let joined = |items: &[UserCondition], binds: &mut Vec<String>, op: &str, empty: &str| {
        if items.is_empty() {
            return empty.to_owned();
        }
        let parts: Vec<String> = items.iter().map(|c| condition_sql(c, binds)).collect();
        format!("({})", parts.join(op))
    };
    match condition {
        UserCondition::All(items) => joined(items, binds, " AND ", "1 = 1"),
        UserCondition::Any(items) => joined(items, binds, " OR ", "1 = 0"),
        UserCondition::Active(true) => "a.status = 'active'".to_owned(),
        UserCondition::Active(false) => "a.status <> 'active'".to_owned(),
        UserCondition::Text { field, op, value } => {
            let col = match field {
                UserField::UserName => "a.username",
                UserField::DisplayName => "a.display_name",
                UserField::Email => "a.email",
            };
            let like = |v: &str| v.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
            let (cmp, bound) = match op {
                TextOp::Eq => ("=", value.clone()),
                TextOp::Contains => ("LIKE", format!("%{}%", like(value))),
                TextOp::StartsWith => ("LIKE", format!("{}%", like(value))),
                TextOp::EndsWith => ("LIKE", format!("%{}", like(value))),
            };
            binds.push(bound);
            let escape = if *op == TextOp::Eq { "" } else { " ESCAPE '\\'" };
            format!(
                "({} {cmp} ${}{escape} OR {})",
                dialect::lower_ascii(col),
                binds.len() + 1,
                dialect::not_plain_ascii(col)
            )
        }
    }
}

/// A bound key of a lookup, with the SQL that tests it against `$2`.
enum KeyBind {
    Uuid(&'static str, Uuid),
    Text(&'static str, String),
    Ids(String, Vec<Uuid>),
}

fn key_bind(scope: EventScope, key: UserKey<'_>) -> KeyBind {
    let org = matches!(scope, EventScope::Org(_));
    match key {
        UserKey::Id(id) => KeyBind::Uuid(" AND a.id = $2", id.0),
        UserKey::Ids(ids) => {
            KeyBind::Ids(format!(" AND {}", dialect::in_ids("a.id", 2)), ids.iter().map(|i| i.0).collect())
        }
        UserKey::UserName(n) if org => {
            KeyBind::Text(" AND COALESCE(s.user_name_key, a.username) = $2", n.to_lowercase())
        }
        UserKey::UserName(n) => KeyBind::Text(" AND a.username = $2", n.to_lowercase()),
        UserKey::ExternalId(e) if org => KeyBind::Text(" AND s.external_id = $2", e.to_owned()),
        // Workspace members have no external id: nothing matches.
        UserKey::ExternalId(e) => KeyBind::Text(" AND a.id IS NULL AND $2 = $2", e.to_owned()),
        UserKey::Email(e) => KeyBind::Text(" AND a.email_normalized = $2", e.to_lowercase()),
    }
}

fn user_from_row(row: &DbRow) -> Result<ScimUser, StoreError> {
    let attributes: Option<String> = row.try_get("s_attributes").map_err(db)?;
    Ok(ScimUser {
        account: account_from_row(row)?.account,
        user_name: row.try_get("s_user_name").map_err(db)?,
        external_id: row.try_get("s_external_id").map_err(db)?,
        groups: Vec::new(),
        attributes: attributes.map(|a| serde_json::from_str(&a)).transpose().map_err(|_| corrupt("scim attributes"))?,
    })
}

async fn users_in(
    conn: &mut Conn,
    scope: EventScope,
    key: Option<UserKey<'_>>,
    page: Page,
) -> Result<(u64, Vec<ScimUser>), StoreError> {
    let (directory_cols, from, owner) = users_from(scope);
    let key = key.map(|k| key_bind(scope, k));
    let cond = match &key {
        Some(KeyBind::Uuid(c, _) | KeyBind::Text(c, _)) => *c,
        Some(KeyBind::Ids(c, _)) => c.as_str(),
        None => "",
    };
    let limit = page.limit.map_or(i64::MAX, |l| i64::try_from(l).unwrap_or(i64::MAX));
    let offset = i64::try_from(page.offset).unwrap_or(i64::MAX);
    let n = if key.is_some() { 3 } else { 2 };
    let select = format!(
        "SELECT {}, {directory_cols} {from}{cond} ORDER BY a.username LIMIT ${n} OFFSET ${}",
        account_cols!(),
        n + 1
    );
    let count = format!("SELECT COUNT(*) {from}{cond}");
    let mut q = sqlx::query(sqlx::AssertSqlSafe(select)).bind(owner);
    let mut c = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(count)).bind(owner);
    match key {
        Some(KeyBind::Uuid(_, v)) => {
            q = q.bind(v);
            c = c.bind(v);
        }
        Some(KeyBind::Text(_, v)) => {
            q = q.bind(v.clone());
            c = c.bind(v);
        }
        Some(KeyBind::Ids(_, ids)) => {
            q = q.bind(dialect::ids_param(&ids));
            c = c.bind(dialect::ids_param(&ids));
        }
        None => {}
    }
    let rows = q.bind(limit).bind(offset).fetch_all(&mut *conn).await.map_err(db)?;
    let total = if page.offset == 0 && page.limit.is_none_or(|l| (rows.len() as u64) < l) {
        rows.len() as u64
    } else {
        u64::try_from(c.fetch_one(&mut *conn).await.map_err(db)?).unwrap_or(0)
    };
    let mut users = rows.iter().map(user_from_row).collect::<Result<Vec<_>, _>>()?;
    if users.is_empty() {
        return Ok((total, users));
    }
    // Their groups in the scope, for the page only: from each member's
    // memberships (CROSS JOIN keeps SQLite from probing every group of the
    // scope for every member instead).
    let ids: Vec<Uuid> = users.iter().map(|u| u.account.id.0).collect();
    let sql = match scope {
        EventScope::Workspace(_) => format!(
            "SELECT gm.account_id, g.id, g.name AS display_name FROM group_members gm CROSS JOIN groups g \
              WHERE g.id = gm.group_id AND g.workspace_id = $1 AND {} ORDER BY g.name",
            dialect::in_ids("gm.account_id", 2)
        ),
        EventScope::Org(_) => format!(
            "SELECT m.account_id, g.id, g.display_name FROM org_group_members m CROSS JOIN org_groups g \
              WHERE g.id = m.group_id AND g.org_id = $1 AND {} ORDER BY g.display_name",
            dialect::in_ids("m.account_id", 2)
        ),
    };
    let q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(owner).bind(dialect::ids_param(&ids));
    let mut of: HashMap<Uuid, Vec<(Uuid, String)>> = HashMap::new();
    for r in q.fetch_all(&mut *conn).await.map_err(db)? {
        let account: Uuid = r.try_get("account_id").map_err(db)?;
        of.entry(account).or_default().push((r.try_get("id").map_err(db)?, r.try_get("display_name").map_err(db)?));
    }
    for u in &mut users {
        u.groups = of.remove(&u.account.id.0).unwrap_or_default();
    }
    Ok((total, users))
}

async fn groups_in(
    conn: &mut Conn,
    scope: EventScope,
    id: Option<Uuid>,
    page: Page,
) -> Result<(u64, Vec<ScimGroup>), StoreError> {
    let (from, owner) = match scope {
        EventScope::Workspace(w) => (
            "SELECT id, name AS display_name, NULL AS external_id, created_at, created_at AS updated_at \
               FROM groups WHERE workspace_id = $1",
            w.0,
        ),
        EventScope::Org(o) => {
            ("SELECT id, display_name, external_id, created_at, updated_at FROM org_groups WHERE org_id = $1", o.0)
        }
    };
    let cond = if id.is_some() { " AND id = $4" } else { "" };
    let sql = format!("{from}{cond} ORDER BY display_name, id LIMIT $2 OFFSET $3");
    let limit = page.limit.map_or(i64::MAX, |l| i64::try_from(l).unwrap_or(i64::MAX));
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(owner)
        .bind(limit)
        .bind(i64::try_from(page.offset).unwrap_or(i64::MAX));
    if let Some(id) = id {
        q = q.bind(id);
    }
    let rows = q.fetch_all(&mut *conn).await.map_err(db)?;
    let count_sql = format!("SELECT COUNT(*) FROM ({from}{}) c", if id.is_some() { " AND id = $2" } else { "" });
    let mut c = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(count_sql)).bind(owner);
    if let Some(id) = id {
        c = c.bind(id);
    }
    let total = u64::try_from(c.fetch_one(&mut *conn).await.map_err(db)?).unwrap_or(0);
    let mut groups = Vec::with_capacity(rows.len());
    for r in &rows {
        groups.push(ScimGroup {
            id: r.try_get("id").map_err(db)?,
            display_name: r.try_get("display_name").map_err(db)?,
            external_id: r.try_get("external_id").map_err(db)?,
            members: Vec::new(),
            created_at: Timestamp::from_millis(r.try_get("created_at").map_err(db)?),
            updated_at: Timestamp::from_millis(r.try_get("updated_at").map_err(db)?),
        });
    }
    if groups.is_empty() {
        return Ok((total, groups));
    }
    let table = match scope {
        EventScope::Workspace(_) => "group_members",
        EventScope::Org(_) => "org_group_members",
    };
    let sql = format!(
        "SELECT m.group_id, a.id, a.username FROM {table} m JOIN accounts a ON a.id = m.account_id \
          WHERE {} ORDER BY a.username",
        dialect::in_ids("m.group_id", 1)
    );
    let ids: Vec<Uuid> = groups.iter().map(|g| g.id).collect();
    let q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(dialect::ids_param(&ids));
    let mut of: HashMap<Uuid, Vec<(AccountId, String)>> = HashMap::new();
    for r in q.fetch_all(&mut *conn).await.map_err(db)? {
        let g: Uuid = r.try_get("group_id").map_err(db)?;
        of.entry(g)
            .or_default()
            .push((AccountId::from_uuid(r.try_get("id").map_err(db)?), r.try_get("username").map_err(db)?));
    }
    for g in &mut groups {
        g.members = of.remove(&g.id).unwrap_or_default();
    }
    Ok((total, groups))
}

async fn user_in(tx: &mut Tx, org: OrgId, account: AccountId) -> Result<ScimUser, StoreError> {
    let (_, mut users) =
        users_in(tx, EventScope::Org(org), Some(UserKey::Id(account)), Page { offset: 0, limit: Some(1) }).await?;
    users.pop().ok_or_else(|| corrupt("scim user"))
}

/// Writes the directory's fields and (de)activates: a deactivation ends the
/// account's sessions and takes it out of every group of the org's
/// workspaces, each removal audited and an event in its workspace.
async fn write_user(
    tx: &mut Tx,
    org: OrgId,
    account: AccountId,
    w: &UserWrite,
    actor: &Audit,
) -> Result<(), StoreError> {
    let before = account_in(&mut **tx, account.0).await?.ok_or_else(|| corrupt("scim account"))?;
    let email_changed = before.email.normalized() != w.email.normalized();
    let status = if w.active { AccountStatus::Active } else { AccountStatus::Deactivated };
    sqlx::query(
        "UPDATE accounts SET email = $1, email_normalized = $2, display_name = $3, status = $4, updated_at = $5, \
            email_verified_at = CASE WHEN $6 THEN (CASE WHEN $7 THEN $5 ELSE NULL END) ELSE email_verified_at END \
          WHERE id = $8",
    )
    .bind(w.email.as_str())
    .bind(w.email.normalized())
    .bind(w.display_name.as_str())
    .bind(status.as_str())
    .bind(w.now.as_millis())
    .bind(email_changed)
    .bind(w.email_verified)
    .bind(account.0)
    .execute(&mut **tx)
    .await
    .map_err(db)?;
    sqlx::query(
        "INSERT INTO scim_accounts (account_id, org_id, user_name, user_name_key, external_id, attributes, deleted_at) \
         VALUES ($1, $2, $3, $4, $5, $6, NULL) \
         ON CONFLICT (account_id) DO UPDATE SET org_id = $2, user_name = $3, user_name_key = $4, external_id = $5, \
            attributes = $6, deleted_at = NULL",
    )
    .bind(account.0)
    .bind(org.0)
    .bind(&w.user_name)
    .bind(w.user_name.to_lowercase())
    .bind(w.external_id.as_deref())
    .bind(w.attributes.to_string())
    .execute(&mut **tx)
    .await
    .map_err(db)?;
    // The workspaces hear of the change before a deprovisioning takes the
    // account out of them.
    let leaving = if w.active { None } else { Some(lock_for_deprovisioning(tx, org, account).await?) };
    insert_account_events(tx, account, false, w.now).await?;
    if let Some(groups) = leaving {
        deprovision(tx, org, account, &groups, actor).await?;
    }
    Ok(())
}

/// A group of an org's workspace that a deprovisioned account leaves.
struct LeftGroup {
    id: Uuid,
    slug: String,
    workspace: WorkspaceId,
    is_admins: bool,
}

/// The groups of the org's workspaces the account is in (by id), locked
/// before any event is written, in the order an admin's change takes its
/// locks (group, workspace, then the event counter): the administrators
/// groups, then the workspaces, each by id. Otherwise a concurrent admin
/// change could deadlock with the deprovisioning on PostgreSQL.
async fn lock_for_deprovisioning(tx: &mut Tx, org: OrgId, account: AccountId) -> Result<Vec<LeftGroup>, StoreError> {
    let rows = sqlx::query(
        "SELECT g.id, g.slug, g.workspace_id, g.is_admins FROM group_members gm JOIN groups g ON g.id = gm.group_id \
           JOIN workspaces w ON w.id = g.workspace_id WHERE gm.account_id = $1 AND w.org_id = $2 ORDER BY g.id",
    )
    .bind(account.0)
    .bind(org.0)
    .fetch_all(&mut **tx)
    .await
    .map_err(db)?;
    let groups = rows
        .iter()
        .map(|r| {
            Ok(LeftGroup {
                id: r.try_get("id").map_err(db)?,
                slug: r.try_get("slug").map_err(db)?,
                workspace: WorkspaceId::from_uuid(r.try_get("workspace_id").map_err(db)?),
                is_admins: r.try_get("is_admins").map_err(db)?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    for g in groups.iter().filter(|g| g.is_admins) {
        sqlx::query(dialect::LOCK_GROUP).bind(g.id).fetch_optional(&mut **tx).await.map_err(db)?;
    }
    let mut workspaces: Vec<Uuid> = groups.iter().map(|g| g.workspace.0).collect();
    workspaces.sort_unstable();
    workspaces.dedup();
    for ws in workspaces {
        sqlx::query("UPDATE workspaces SET version = version WHERE id = $1")
            .bind(ws)
            .execute(&mut **tx)
            .await
            .map_err(db)?;
    }
    Ok(groups)
}

/// Ends the sessions of the account and takes it out of `groups` (what
/// `lock_for_deprovisioning` locked). An administrators group never loses
/// its last member (SPEC §4): see `hand_over_administrators`.
async fn deprovision(
    tx: &mut Tx,
    org: OrgId,
    account: AccountId,
    groups: &[LeftGroup],
    actor: &Audit,
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM sessions WHERE account_id = $1").bind(account.0).execute(&mut **tx).await.map_err(db)?;
    let Some(acc) = account_in(&mut **tx, account.0).await? else { return Ok(()) };
    for LeftGroup { id: group, slug, workspace: ws, is_admins } in groups {
        let (group, ws) = (*group, *ws);
        if *is_admins && !hand_over_administrators(tx, org, ws, (group, slug), &acc, actor).await? {
            continue;
        }
        sqlx::query("DELETE FROM group_members WHERE group_id = $1 AND account_id = $2")
            .bind(group)
            .bind(account.0)
            .execute(&mut **tx)
            .await
            .map_err(db)?;
        let audit = Audit {
            workspace: Some(ws),
            action: "group.member_removed".into(),
            target: format!("account:{}", acc.username),
            detail: Some(format!("group:{slug} (deprovisioned by the organization's directory)")),
            data: Some(serde_json::json!({
                "group": { "id": group, "slug": slug },
                "account": account_json(&acc),
            })),
            ..actor.clone()
        };
        crate::workspaces::insert_audit(tx, &audit).await?;
    }
    Ok(())
}

/// Before `leaving` is taken out of a workspace's administrators group:
/// whether it may go, the group keeping a member. When no active admin
/// would be left, the org's other admins who may join workspaces (active,
/// verified) join it (audited as `group.member_added`); with none, it may
/// go only if other (deactivated) members stay.
async fn hand_over_administrators(
    tx: &mut Tx,
    org: OrgId,
    ws: WorkspaceId,
    (group, slug): (Uuid, &str),
    leaving: &Account,
    actor: &Audit,
) -> Result<bool, StoreError> {
    // (The group is locked: `lock_for_deprovisioning`.)
    let (others, active): (i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), COUNT(CASE WHEN a.status = 'active' THEN 1 END) \
           FROM group_members gm JOIN accounts a ON a.id = gm.account_id \
          WHERE gm.group_id = $1 AND gm.account_id <> $2",
    )
    .bind(group)
    .bind(leaving.id.0)
    .fetch_one(&mut **tx)
    .await
    .map_err(db)?;
    if active > 0 {
        return Ok(true);
    }
    let rows = sqlx::query(concat!(
        "SELECT ",
        account_cols!(),
        " FROM org_admins oa JOIN accounts a ON a.id = oa.account_id \
          WHERE oa.org_id = $1 AND a.id <> $2 AND a.status = 'active' AND a.email_verified_at IS NOT NULL \
          ORDER BY a.username"
    ))
    .bind(org.0)
    .bind(leaving.id.0)
    .fetch_all(&mut **tx)
    .await
    .map_err(db)?;
    let heirs = accounts_from_rows(&rows)?;
    for heir in &heirs {
        let added = sqlx::query(
            "INSERT INTO group_members (group_id, account_id, added_at) VALUES ($1, $2, $3) \
             ON CONFLICT (group_id, account_id) DO NOTHING",
        )
        .bind(group)
        .bind(heir.id.0)
        .bind(actor.at.as_millis())
        .execute(&mut **tx)
        .await
        .map_err(db)?;
        if added.rows_affected() == 0 {
            continue;
        }
        let audit = Audit {
            workspace: Some(ws),
            action: "group.member_added".into(),
            target: format!("account:{}", heir.username),
            detail: Some(format!(
                "group:{slug} (the organization's directory deprovisioned its last admin, {})",
                leaving.username
            )),
            data: Some(serde_json::json!({
                "group": { "id": group, "slug": slug },
                "account": account_json(heir),
            })),
            ..actor.clone()
        };
        crate::workspaces::insert_audit(tx, &audit).await?;
    }
    // With nobody to hand it to, it may still go if deactivated members stay.
    Ok(!heirs.is_empty() || others > 0)
}

/// The org audit row and event of a user write, and the change feed.
async fn user_written(tx: &mut Tx, org: OrgId, account: AccountId, audit: &Audit) -> Result<ScimUser, StoreError> {
    let user = user_in(tx, org, account).await?;
    let audit = Audit { data: Some(serde_json::json!({ "account": account_json(&user.account) })), ..audit.clone() };
    crate::orgs::insert_org_audit(tx, org, &audit).await?;
    record_change(tx, Change::Account(account)).await?;
    Ok(user)
}

fn group_event(g: &ScimGroup) -> serde_json::Value {
    serde_json::json!({ "group": {
        "id": g.id,
        "display_name": g.display_name,
        "external_id": g.external_id,
        "members": g.members.iter().map(|(a, _)| a.0).collect::<Vec<_>>(),
    } })
}

/// Replaces an org group's members after checking every one is managed by
/// the org (`Conflict("member")` otherwise).
async fn set_group_members(tx: &mut Tx, org: OrgId, group: Uuid, members: &[AccountId]) -> Result<(), StoreError> {
    let mut unique: Vec<Uuid> = members.iter().map(|m| m.0).collect();
    unique.sort_unstable();
    unique.dedup();
    let sql = format!("SELECT COUNT(*) FROM accounts WHERE managed_by = $1 AND {}", dialect::in_ids("id", 2));
    let known: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(org.0)
        .bind(dialect::ids_param(&unique))
        .fetch_one(&mut **tx)
        .await
        .map_err(db)?;
    if known != unique.len() as i64 {
        return Err(StoreError::Conflict("member"));
    }
    sqlx::query("DELETE FROM org_group_members WHERE group_id = $1")
        .bind(group)
        .execute(&mut **tx)
        .await
        .map_err(db)?;
    for id in unique {
        sqlx::query("INSERT INTO org_group_members (group_id, account_id) VALUES ($1, $2)")
            .bind(group)
            .bind(id)
            .execute(&mut **tx)
            .await
            .map_err(db)?;
    }
    Ok(())
}

async fn group_in(tx: &mut Tx, org: OrgId, id: Uuid) -> Result<Option<ScimGroup>, StoreError> {
    let (_, mut groups) = groups_in(tx, EventScope::Org(org), Some(id), Page { offset: 0, limit: Some(1) }).await?;
    Ok(groups.pop())
}

#[async_trait::async_trait]
impl ScimStore for SqlStore {
    async fn scim_users(
        &self,
        scope: EventScope,
        key: Option<UserKey<'_>>,
        page: Page,
    ) -> Result<(u64, Vec<ScimUser>), StoreError> {
        let mut tx = crate::dialect::begin_read(&self.pool).await.map_err(db)?;
        let out = users_in(&mut tx, scope, key, page).await?;
        tx.commit().await.map_err(db)?;
        Ok(out)
    }

    async fn scim_user_ids(&self, scope: EventScope) -> Result<Vec<AccountId>, StoreError> {
        let (_, from, owner) = users_from(scope);
        let ids: Vec<Uuid> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT a.id {from} ORDER BY a.username")))
            .bind(owner)
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        Ok(ids.into_iter().map(AccountId::from_uuid).collect())
    }

    async fn scim_user_ids_where(
        &self,
        scope: EventScope,
        condition: &UserCondition,
    ) -> Result<Vec<AccountId>, StoreError> {
        let (_, from, owner) = users_from(scope);
        let mut binds = Vec::new();
        let sql = format!("SELECT a.id {from} AND {} ORDER BY a.username", condition_sql(condition, &mut binds));
        let mut q = sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).bind(owner);
        for b in binds {
            q = q.bind(b);
        }
        let ids: Vec<Uuid> = q.fetch_all(&self.pool).await.map_err(db)?;
        Ok(ids.into_iter().map(AccountId::from_uuid).collect())
    }

    async fn scim_users_by_ids(&self, scope: EventScope, ids: &[AccountId]) -> Result<Vec<ScimUser>, StoreError> {
        let (_, mut out) = self.scim_users(scope, Some(UserKey::Ids(ids)), Page { offset: 0, limit: None }).await?;
        let position: HashMap<AccountId, usize> = ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
        out.sort_by_key(|u| position.get(&u.account.id).copied().unwrap_or(usize::MAX));
        Ok(out)
    }

    async fn org_directory_snapshot(&self, org: OrgId) -> Result<(i64, Vec<ScimUser>, Vec<ScimGroup>), StoreError> {
        let mut tx = crate::dialect::begin_read(&self.pool).await.map_err(db)?;
        let cursor: i64 = sqlx::query_scalar("SELECT event_seq FROM change_counter WHERE id = 1")
            .fetch_one(&mut *tx)
            .await
            .map_err(db)?;
        let all = Page { offset: 0, limit: None };
        let (_, users) = users_in(&mut tx, EventScope::Org(org), None, all).await?;
        let (_, groups) = groups_in(&mut tx, EventScope::Org(org), None, all).await?;
        tx.commit().await.map_err(db)?;
        Ok((cursor, users, groups))
    }

    async fn scim_groups(
        &self,
        scope: EventScope,
        id: Option<Uuid>,
        page: Page,
    ) -> Result<(u64, Vec<ScimGroup>), StoreError> {
        let mut tx = crate::dialect::begin_read(&self.pool).await.map_err(db)?;
        let out = groups_in(&mut tx, scope, id, page).await?;
        tx.commit().await.map_err(db)?;
        Ok(out)
    }

    async fn scim_create_user(
        &self,
        org: OrgId,
        new: &NewAccount,
        write: &UserWrite,
        audit: &Audit,
    ) -> Result<ScimUser, StoreError> {
        let mut tx = crate::dialect::begin_write(&self.pool).await.map_err(db)?;
        // A managed account the directory has not provisioned yet (or deleted)
        // with this address is taken over rather than duplicated.
        let existing: Option<Uuid> = sqlx::query_scalar(
            "SELECT a.id FROM accounts a LEFT JOIN scim_accounts s ON s.account_id = a.id \
              WHERE a.email_normalized = $1 AND a.managed_by = $2 AND (s.account_id IS NULL OR s.deleted_at IS NOT NULL)",
        )
        .bind(new.email.normalized())
        .bind(org.0)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        let id = match existing {
            Some(id) => AccountId::from_uuid(id),
            None => {
                let account = insert_account(&mut tx, new, None).await?;
                sqlx::query("UPDATE accounts SET managed_by = $1 WHERE id = $2")
                    .bind(org.0)
                    .bind(account.id.0)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
                account.id
            }
        };
        write_user(&mut tx, org, id, write, audit).await?;
        let user = user_written(&mut tx, org, id, audit).await?;
        tx.commit().await.map_err(db)?;
        Ok(user)
    }

    async fn scim_update_user(
        &self,
        org: OrgId,
        account: AccountId,
        write: &UserWrite,
        audit: &Audit,
    ) -> Result<Option<ScimUser>, StoreError> {
        let mut tx = crate::dialect::begin_write(&self.pool).await.map_err(db)?;
        let (found, _) =
            users_in(&mut tx, EventScope::Org(org), Some(UserKey::Id(account)), Page { offset: 0, limit: Some(1) })
                .await?;
        if found == 0 {
            return Ok(None);
        }
        write_user(&mut tx, org, account, write, audit).await?;
        let user = user_written(&mut tx, org, account, audit).await?;
        tx.commit().await.map_err(db)?;
        Ok(Some(user))
    }

    async fn scim_delete_user(&self, org: OrgId, account: AccountId, audit: &Audit) -> Result<bool, StoreError> {
        let mut tx = crate::dialect::begin_write(&self.pool).await.map_err(db)?;
        let (found, _) =
            users_in(&mut tx, EventScope::Org(org), Some(UserKey::Id(account)), Page { offset: 0, limit: Some(1) })
                .await?;
        if found == 0 {
            return Ok(false);
        }
        sqlx::query("UPDATE accounts SET status = 'deactivated', updated_at = $1 WHERE id = $2")
            .bind(audit.at.as_millis())
            .bind(account.0)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        let groups = lock_for_deprovisioning(&mut tx, org, account).await?;
        insert_account_events(&mut tx, account, false, audit.at).await?;
        deprovision(&mut tx, org, account, &groups, audit).await?;
        sqlx::query(
            "DELETE FROM org_group_members WHERE account_id = $1 \
               AND group_id IN (SELECT id FROM org_groups WHERE org_id = $2)",
        )
        .bind(account.0)
        .bind(org.0)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        let acc = account_in(&mut *tx, account.0).await?.ok_or_else(|| corrupt("scim account"))?;
        let audit = Audit { data: Some(serde_json::json!({ "account": account_json(&acc) })), ..audit.clone() };
        crate::orgs::insert_org_audit(&mut tx, org, &audit).await?;
        sqlx::query(
            "INSERT INTO scim_accounts (account_id, org_id, user_name, user_name_key, deleted_at) \
             VALUES ($1, $2, $3, NULL, $4) \
             ON CONFLICT (account_id) DO UPDATE SET user_name_key = NULL, deleted_at = $4",
        )
        .bind(account.0)
        .bind(org.0)
        .bind(acc.username.as_str())
        .bind(audit.at.as_millis())
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        record_change(&mut tx, Change::Account(account)).await?;
        tx.commit().await.map_err(db)?;
        Ok(true)
    }

    async fn scim_create_group(
        &self,
        org: OrgId,
        id: Uuid,
        write: &GroupWrite,
        audit: &Audit,
    ) -> Result<ScimGroup, StoreError> {
        let mut tx = crate::dialect::begin_write(&self.pool).await.map_err(db)?;
        sqlx::query(
            "INSERT INTO org_groups (id, org_id, display_name, external_id, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $5)",
        )
        .bind(id)
        .bind(org.0)
        .bind(&write.display_name)
        .bind(write.external_id.as_deref())
        .bind(write.now.as_millis())
        .execute(&mut *tx)
        .await
        .map_err(|e| match db(e) {
            StoreError::Backend(_) => StoreError::Conflict("display_name"),
            other => other,
        })?;
        set_group_members(&mut tx, org, id, &write.members).await?;
        let group = group_in(&mut tx, org, id).await?.ok_or_else(|| corrupt("org group"))?;
        let audit = Audit { data: Some(group_event(&group)), ..audit.clone() };
        crate::orgs::insert_org_audit(&mut tx, org, &audit).await?;
        tx.commit().await.map_err(db)?;
        Ok(group)
    }

    async fn scim_replace_group(
        &self,
        org: OrgId,
        id: Uuid,
        write: &GroupWrite,
        audit: &Audit,
    ) -> Result<Option<ScimGroup>, StoreError> {
        let mut tx = crate::dialect::begin_write(&self.pool).await.map_err(db)?;
        let taken: Option<Uuid> =
            sqlx::query_scalar("SELECT id FROM org_groups WHERE org_id = $1 AND display_name = $2 AND id <> $3")
                .bind(org.0)
                .bind(&write.display_name)
                .bind(id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db)?;
        if taken.is_some() {
            return Err(StoreError::Conflict("display_name"));
        }
        let done = sqlx::query(
            "UPDATE org_groups SET display_name = $1, external_id = $2, updated_at = $3 WHERE id = $4 AND org_id = $5",
        )
        .bind(&write.display_name)
        .bind(write.external_id.as_deref())
        .bind(write.now.as_millis())
        .bind(id)
        .bind(org.0)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        set_group_members(&mut tx, org, id, &write.members).await?;
        let group = group_in(&mut tx, org, id).await?.ok_or_else(|| corrupt("org group"))?;
        let audit = Audit { data: Some(group_event(&group)), ..audit.clone() };
        crate::orgs::insert_org_audit(&mut tx, org, &audit).await?;
        tx.commit().await.map_err(db)?;
        Ok(Some(group))
    }

    async fn scim_delete_group(&self, org: OrgId, id: Uuid, audit: &Audit) -> Result<bool, StoreError> {
        let mut tx = crate::dialect::begin_write(&self.pool).await.map_err(db)?;
        let Some(group) = group_in(&mut tx, org, id).await? else { return Ok(false) };
        sqlx::query("DELETE FROM org_groups WHERE id = $1 AND org_id = $2")
            .bind(id)
            .bind(org.0)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        let audit = Audit { data: Some(group_event(&group)), ..audit.clone() };
        crate::orgs::insert_org_audit(&mut tx, org, &audit).await?;
        tx.commit().await.map_err(db)?;
        Ok(true)
    }
}
