//! Products linked to a workspace: reporting credentials and the groups
//! their new users are invited to.

use super::{Audit, Invitation, StoreError, Workspace};
use async_trait::async_trait;
use guildhall_core::tokens::TokenHash;
use guildhall_core::workspaces::Slug;
use guildhall_core::{LinkId, Timestamp, WorkspaceId};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    pub id: LinkId,
    pub workspace: WorkspaceId,
    pub slug: Slug,
    pub name: String,
    /// The groups new users are invited to; empty = automatic invitations off.
    pub default_groups: Vec<Slug>,
    pub created_at: Timestamp,
}

#[async_trait]
pub trait LinkStore: Send + Sync {
    /// `Conflict("slug")` when the workspace has a link with that slug.
    async fn create_link(&self, link: &Link, secret: &TokenHash, audit: &Audit) -> Result<(), StoreError>;
    async fn links(&self, ws: WorkspaceId) -> Result<Vec<Link>, StoreError>;
    async fn link_by_slug(&self, ws: WorkspaceId, slug: &Slug) -> Result<Option<Link>, StoreError>;
    /// The link whose secret hashes to this, with its workspace.
    async fn link_by_secret(&self, secret: &TokenHash) -> Result<Option<(Link, Workspace)>, StoreError>;
    async fn set_link_groups(&self, link: LinkId, groups: &[Slug], audit: &Audit) -> Result<(), StoreError>;
    /// Replaces the secret: the old one stops working.
    async fn rotate_link_secret(&self, link: LinkId, secret: &TokenHash, audit: &Audit) -> Result<(), StoreError>;
    async fn delete_link(&self, link: LinkId, audit: &Audit) -> Result<(), StoreError>;
    /// The invitations the link caused, newest first.
    async fn link_invitations(&self, link: LinkId) -> Result<Vec<Invitation>, StoreError>;
}
