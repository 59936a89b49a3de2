//! `LinkStore` on SQL.

use crate::store::{SqlStore, corrupt, db};
use crate::workspaces::{WORKSPACE_COLS, insert_audit, workspace_from_row};
use guildhall_app::ports::{Audit, Invitation, Link, LinkStore, StoreError, Workspace};
use guildhall_core::tokens::TokenHash;
use guildhall_core::workspaces::Slug;
use guildhall_core::{LinkId, Timestamp, WorkspaceId};
use sqlx::Row;

type DbRow = <crate::Db as sqlx::Database>::Row;

const LINK_COLS: &str = "SELECT l.id AS l_id, l.workspace_id AS l_workspace_id, l.slug AS l_slug, l.name AS l_name, \
     l.default_groups AS l_default_groups, l.created_at AS l_created_at FROM product_links l";

fn link_from_row(row: &DbRow) -> Result<Link, StoreError> {
    let slug = |s: &str| Slug::parse(s).map_err(|_| corrupt("link slug"));
    Ok(Link {
        id: LinkId::from_uuid(row.try_get("l_id").map_err(db)?),
        workspace: WorkspaceId::from_uuid(row.try_get("l_workspace_id").map_err(db)?),
        slug: slug(&row.try_get::<String, _>("l_slug").map_err(db)?)?,
        name: row.try_get("l_name").map_err(db)?,
        default_groups: row
            .try_get::<String, _>("l_default_groups")
            .map_err(db)?
            .split_whitespace()
            .map(slug)
            .collect::<Result<_, _>>()?,
        created_at: Timestamp::from_millis(row.try_get("l_created_at").map_err(db)?),
    })
}

fn joined(groups: &[Slug]) -> String {
    groups.iter().map(Slug::as_str).collect::<Vec<_>>().join(" ")
}

/// Runs one statement on a link and its workspace audit row, in one
/// transaction.
async fn change_link(
    store: &SqlStore,
    q: sqlx::query::Query<'_, crate::Db, <crate::Db as sqlx::Database>::Arguments>,
    audit: &Audit,
) -> Result<(), StoreError> {
    let mut tx = crate::dialect::begin_write(&store.pool).await.map_err(db)?;
    q.execute(&mut *tx).await.map_err(db)?;
    insert_audit(&mut tx, audit).await?;
    tx.commit().await.map_err(db)
}

#[async_trait::async_trait]
impl LinkStore for SqlStore {
    async fn create_link(&self, link: &Link, secret: &TokenHash, audit: &Audit) -> Result<(), StoreError> {
        let q = sqlx::query(
            "INSERT INTO product_links (id, workspace_id, slug, name, secret_hash, default_groups, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(link.id.0)
        .bind(link.workspace.0)
        .bind(link.slug.as_str())
        .bind(&link.name)
        .bind(secret.as_bytes())
        .bind(joined(&link.default_groups))
        .bind(link.created_at.as_millis());
        change_link(self, q, audit).await
    }

    async fn links(&self, ws: WorkspaceId) -> Result<Vec<Link>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!("{LINK_COLS} WHERE l.workspace_id = $1 ORDER BY l.slug")))
            .bind(ws.0)
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        rows.iter().map(link_from_row).collect()
    }

    async fn link_by_slug(&self, ws: WorkspaceId, slug: &Slug) -> Result<Option<Link>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("{LINK_COLS} WHERE l.workspace_id = $1 AND l.slug = $2")))
            .bind(ws.0)
            .bind(slug.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        row.as_ref().map(link_from_row).transpose()
    }

    async fn link_by_secret(&self, secret: &TokenHash) -> Result<Option<(Link, Workspace)>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("{LINK_COLS} WHERE l.secret_hash = $1")))
            .bind(secret.as_bytes())
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        let Some(link) = row.as_ref().map(link_from_row).transpose()? else { return Ok(None) };
        let ws = sqlx::query(sqlx::AssertSqlSafe(format!("{WORKSPACE_COLS} WHERE w.id = $1")))
            .bind(link.workspace.0)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        Ok(ws.as_ref().map(workspace_from_row).transpose()?.map(|ws| (link, ws)))
    }

    async fn set_link_groups(&self, link: LinkId, groups: &[Slug], audit: &Audit) -> Result<(), StoreError> {
        let q =
            sqlx::query("UPDATE product_links SET default_groups = $1 WHERE id = $2").bind(joined(groups)).bind(link.0);
        change_link(self, q, audit).await
    }

    async fn rotate_link_secret(&self, link: LinkId, secret: &TokenHash, audit: &Audit) -> Result<(), StoreError> {
        let q =
            sqlx::query("UPDATE product_links SET secret_hash = $1 WHERE id = $2").bind(secret.as_bytes()).bind(link.0);
        change_link(self, q, audit).await
    }

    async fn delete_link(&self, link: LinkId, audit: &Audit) -> Result<(), StoreError> {
        let q = sqlx::query("DELETE FROM product_links WHERE id = $1").bind(link.0);
        change_link(self, q, audit).await
    }

    async fn link_invitations(&self, link: LinkId) -> Result<Vec<Invitation>, StoreError> {
        self.invitations_where_link(link).await
    }
}
