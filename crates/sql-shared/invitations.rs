//! `InvitationStore` on SQL.

use crate::store::{SqlStore, corrupt, db};
use crate::workspaces::insert_audit;
use guildhall_app::ports::{Audit, Invitation, InvitationStore, NewInvitation, StoreError};
use guildhall_core::accounts::{Email, Username};
use guildhall_core::tokens::TokenHash;
use guildhall_core::workspaces::{InvitationState, Slug};
use guildhall_core::{AccountId, GroupId, InvitationId, Timestamp, WorkspaceId};
use sqlx::Row;
use uuid::Uuid;

type DbRow = <crate::Db as sqlx::Database>::Row;

impl SqlStore {
    /// The invitations a linked product caused, newest first.
    pub(crate) async fn invitations_where_link(
        &self,
        link: guildhall_core::LinkId,
    ) -> Result<Vec<Invitation>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!("{COLS} WHERE link_id = $1 ORDER BY created_at DESC, id DESC"));
        self.load_invitations(sqlx::query(sql).bind(link.0)).await
    }

    /// Loads invitations with their groups; `filter` is a WHERE clause over `i`.
    async fn load_invitations(
        &self,
        q: sqlx::query::Query<'_, crate::Db, <crate::Db as sqlx::Database>::Arguments>,
    ) -> Result<Vec<Invitation>, StoreError> {
        let rows = q.fetch_all(&self.pool).await.map_err(db)?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let mut inv = invitation_from_row(row)?;
            let groups = sqlx::query(
                "SELECT g.id, g.slug FROM invitation_groups ig JOIN groups g ON g.id = ig.group_id \
                  WHERE ig.invitation_id = $1 ORDER BY g.slug",
            )
            .bind(inv.id.0)
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
            for g in &groups {
                inv.group_ids.push(GroupId::from_uuid(g.try_get::<Uuid, _>("id").map_err(db)?));
                inv.groups
                    .push(Slug::parse(&g.try_get::<String, _>("slug").map_err(db)?).map_err(|_| corrupt("slug"))?);
            }
            out.push(inv);
        }
        Ok(out)
    }
}

fn invitation_from_row(row: &DbRow) -> Result<Invitation, StoreError> {
    Ok(Invitation {
        id: InvitationId::from_uuid(row.try_get::<Uuid, _>("id").map_err(db)?),
        workspace: WorkspaceId::from_uuid(row.try_get::<Uuid, _>("workspace_id").map_err(db)?),
        email: Email::parse(&row.try_get::<String, _>("email").map_err(db)?).map_err(|_| corrupt("email"))?,
        username: row
            .try_get::<Option<String>, _>("username")
            .map_err(db)?
            .map(|u| Username::parse(&u).map_err(|_| corrupt("username")))
            .transpose()?,
        state: InvitationState::parse(&row.try_get::<String, _>("state").map_err(db)?)
            .ok_or_else(|| corrupt("invitation state"))?,
        groups: Vec::new(),
        group_ids: Vec::new(),
        invited_by: row.try_get::<Option<Uuid>, _>("invited_by").map_err(db)?.map(AccountId::from_uuid),
        via_link: row.try_get::<Option<Uuid>, _>("link_id").map_err(db)?.map(guildhall_core::LinkId::from_uuid),
        accepted_by: row.try_get::<Option<Uuid>, _>("accepted_by").map_err(db)?.map(AccountId::from_uuid),
        created_at: Timestamp::from_millis(row.try_get("created_at").map_err(db)?),
        expires_at: Timestamp::from_millis(row.try_get("expires_at").map_err(db)?),
    })
}

const COLS: &str = "SELECT id, workspace_id, email, username, state, invited_by, link_id, accepted_by, created_at, expires_at \
     FROM invitations";

#[async_trait::async_trait]
impl InvitationStore for SqlStore {
    async fn create_invitation(&self, new: &NewInvitation, audit: &Audit) -> Result<Invitation, StoreError> {
        let mut tx = crate::dialect::begin_write(&self.pool).await.map_err(db)?;
        sqlx::query(
            "INSERT INTO invitations (id, workspace_id, token_hash, email, email_normalized, username, invited_by, \
             link_id, state, created_at, expires_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $10, 'pending', $8, $9, $8)",
        )
        .bind(new.id.0)
        .bind(new.workspace.0)
        .bind(new.token_hash.as_bytes())
        .bind(new.email.as_str())
        .bind(new.email.normalized())
        .bind(new.username.as_ref().map(|u| u.as_str()))
        .bind(new.invited_by.map(|a| a.0))
        .bind(new.now.as_millis())
        .bind(new.expires_at.as_millis())
        .bind(new.via_link.map(|l| l.0))
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        for g in &new.groups {
            sqlx::query("INSERT INTO invitation_groups (invitation_id, group_id) VALUES ($1, $2)")
                .bind(new.id.0)
                .bind(g.0)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        insert_audit(&mut tx, audit).await?;
        tx.commit().await.map_err(db)?;
        self.invitation(new.workspace, new.id).await?.ok_or_else(|| corrupt("new invitation"))
    }

    async fn invitations(&self, ws: WorkspaceId) -> Result<Vec<Invitation>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!("{COLS} WHERE workspace_id = $1 ORDER BY created_at DESC, id DESC"));
        self.load_invitations(sqlx::query(sql).bind(ws.0)).await
    }

    async fn invitation(&self, ws: WorkspaceId, id: InvitationId) -> Result<Option<Invitation>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!("{COLS} WHERE workspace_id = $1 AND id = $2"));
        Ok(self.load_invitations(sqlx::query(sql).bind(ws.0).bind(id.0)).await?.pop())
    }

    async fn invitation_by_token(&self, token: &TokenHash) -> Result<Option<Invitation>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!("{COLS} WHERE token_hash = $1"));
        Ok(self.load_invitations(sqlx::query(sql).bind(token.as_bytes())).await?.pop())
    }

    async fn resend_invitation(
        &self,
        id: InvitationId,
        token: &TokenHash,
        expires_at: Timestamp,
        audit: &Audit,
    ) -> Result<bool, StoreError> {
        let mut tx = crate::dialect::begin_write(&self.pool).await.map_err(db)?;
        let done = sqlx::query(
            "UPDATE invitations SET token_hash = $1, expires_at = $2, updated_at = $3 WHERE id = $4 AND state = 'pending'",
        )
        .bind(token.as_bytes())
        .bind(expires_at.as_millis())
        .bind(audit.at.as_millis())
        .bind(id.0)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        insert_audit(&mut tx, audit).await?;
        tx.commit().await.map_err(db)?;
        Ok(true)
    }

    async fn revoke_invitation(&self, id: InvitationId, audit: &Audit) -> Result<bool, StoreError> {
        let mut tx = crate::dialect::begin_write(&self.pool).await.map_err(db)?;
        let done = sqlx::query(
            "UPDATE invitations SET state = 'revoked', updated_at = $1 WHERE id = $2 AND state = 'pending'",
        )
        .bind(audit.at.as_millis())
        .bind(id.0)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        insert_audit(&mut tx, audit).await?;
        tx.commit().await.map_err(db)?;
        Ok(true)
    }

    async fn accept_invitation(
        &self,
        token: &TokenHash,
        account: AccountId,
        audit: &Audit,
    ) -> Result<bool, StoreError> {
        let mut tx = crate::dialect::begin_write(&self.pool).await.map_err(db)?;
        let id: Option<Uuid> = sqlx::query_scalar(
            "UPDATE invitations SET state = 'accepted', accepted_by = $1, updated_at = $2 \
              WHERE token_hash = $3 AND state = 'pending' AND expires_at > $2 RETURNING id",
        )
        .bind(account.0)
        .bind(audit.at.as_millis())
        .bind(token.as_bytes())
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        let Some(id) = id else { return Ok(false) };
        sqlx::query(
            "INSERT INTO group_members (group_id, account_id, added_at) \
             SELECT group_id, $1, $2 FROM invitation_groups WHERE invitation_id = $3 \
             ON CONFLICT (group_id, account_id) DO NOTHING",
        )
        .bind(account.0)
        .bind(audit.at.as_millis())
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await.map_err(db)?;
        Ok(true)
    }
}
