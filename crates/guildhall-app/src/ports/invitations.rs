//! Invitations into workspace groups, by email, with a single-use token.

use super::{Audit, StoreError};
use async_trait::async_trait;
use guildhall_core::accounts::{Email, Username};
use guildhall_core::tokens::TokenHash;
use guildhall_core::workspaces::{InvitationState, Slug};
use guildhall_core::{AccountId, GroupId, InvitationId, Timestamp, WorkspaceId};

pub struct NewInvitation {
    pub id: InvitationId,
    pub workspace: WorkspaceId,
    pub token_hash: TokenHash,
    pub email: Email,
    /// Set when invited by username; the email then stays private.
    pub username: Option<Username>,
    pub invited_by: Option<AccountId>,
    /// The linked product that reported the person, if one did.
    pub via_link: Option<guildhall_core::LinkId>,
    pub groups: Vec<GroupId>,
    pub now: Timestamp,
    pub expires_at: Timestamp,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invitation {
    pub id: InvitationId,
    pub workspace: WorkspaceId,
    pub email: Email,
    pub username: Option<Username>,
    pub state: InvitationState,
    /// The groups, by slug, in slug order.
    pub groups: Vec<Slug>,
    pub group_ids: Vec<GroupId>,
    pub invited_by: Option<AccountId>,
    pub via_link: Option<guildhall_core::LinkId>,
    pub accepted_by: Option<AccountId>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

#[async_trait]
pub trait InvitationStore: Send + Sync {
    async fn create_invitation(&self, new: &NewInvitation, audit: &Audit) -> Result<Invitation, StoreError>;
    /// A workspace's invitations, newest first.
    async fn invitations(&self, ws: WorkspaceId) -> Result<Vec<Invitation>, StoreError>;
    async fn invitation(&self, ws: WorkspaceId, id: InvitationId) -> Result<Option<Invitation>, StoreError>;
    async fn invitation_by_token(&self, token: &TokenHash) -> Result<Option<Invitation>, StoreError>;
    /// Gives a pending invitation a new token and expiry (the old link dies).
    async fn resend_invitation(
        &self,
        id: InvitationId,
        token: &TokenHash,
        expires_at: Timestamp,
        audit: &Audit,
    ) -> Result<bool, StoreError>;
    /// Revokes a pending invitation.
    async fn revoke_invitation(&self, id: InvitationId, audit: &Audit) -> Result<bool, StoreError>;
    /// Marks the pending, unexpired invitation with this token accepted by
    /// `account` and adds the account to its groups, atomically; `false` if
    /// the token no longer names such an invitation (used, revoked, resent
    /// or expired meanwhile).
    async fn accept_invitation(&self, token: &TokenHash, account: AccountId, audit: &Audit)
    -> Result<bool, StoreError>;
}
