//! The event log of directory sync (SPEC §6, ADR 0011): every change to a
//! workspace's or an org's directory, written in the same transaction as the
//! change, numbered gaplessly in commit order. A snapshot carries the number
//! it is consistent with, so a client that loads it and then follows the log
//! from there sees every later change exactly once.

use super::StoreError;
use async_trait::async_trait;
use guildhall_core::accounts::Account;
use guildhall_core::tokens::TokenHash;
use guildhall_core::workspaces::Permission;
use guildhall_core::{AccountId, GroupId, OrgId, RepositoryId, Timestamp, WorkspaceId};

/// Whose log: each event belongs to exactly one workspace or one org.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scope {
    Workspace(WorkspaceId),
    Org(OrgId),
}

/// One entry of the log.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// The cursor: gapless across all scopes, in commit order.
    pub seq: i64,
    pub scope: Scope,
    /// A dotted type such as `group.member_added`.
    pub kind: String,
    /// The payload (see `docs/directory-sync.md`).
    pub data: serde_json::Value,
    pub at: Timestamp,
}

/// A group in a snapshot, with its members' ids.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotGroup {
    pub id: GroupId,
    pub slug: String,
    pub name: String,
    pub default_permission: Permission,
    pub is_admins: bool,
    pub members: Vec<AccountId>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotRepository {
    pub id: RepositoryId,
    pub slug: String,
    pub name: String,
    pub private: bool,
    /// Group permissions: (group, permission).
    pub groups: Vec<(GroupId, Permission)>,
    /// Direct grants: (account, permission).
    pub grants: Vec<(AccountId, Permission)>,
}

/// A workspace's whole directory, read in one transaction, with the cursor
/// it is consistent with: every event up to `cursor` is reflected in it and
/// none after.
#[derive(Clone, Debug)]
pub struct DirectorySnapshot {
    pub cursor: i64,
    pub members: Vec<Account>,
    pub groups: Vec<SnapshotGroup>,
    pub repositories: Vec<SnapshotRepository>,
}

/// A bearer token owned by a workspace or an org (not a person), made by an
/// admin for an application: SCIM and the event log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirectoryToken {
    pub id: uuid::Uuid,
    pub scope: Scope,
    pub name: String,
    pub created_by: String,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
}

#[async_trait]
pub trait EventStore: Send + Sync {
    /// Up to `limit` events of the scope numbered above `after`, in order.
    async fn events_after(&self, scope: Scope, after: i64, limit: u32) -> Result<Vec<Event>, StoreError>;
    /// The number of the last committed event of any scope (0 before the first).
    async fn latest_event(&self) -> Result<i64, StoreError>;
    /// The workspace's directory and its cursor, in one read transaction.
    async fn directory_snapshot(&self, ws: WorkspaceId) -> Result<Option<DirectorySnapshot>, StoreError>;

    async fn create_directory_token(
        &self,
        token: &DirectoryToken,
        hash: &TokenHash,
        audit: &super::Audit,
    ) -> Result<(), StoreError>;
    async fn directory_tokens(&self, scope: Scope) -> Result<Vec<DirectoryToken>, StoreError>;
    async fn revoke_directory_token(
        &self,
        scope: Scope,
        id: uuid::Uuid,
        audit: &super::Audit,
    ) -> Result<bool, StoreError>;
    /// The token with this hash; records its use (at most once a minute).
    async fn directory_token_by_hash(
        &self,
        hash: &TokenHash,
        now: Timestamp,
    ) -> Result<Option<DirectoryToken>, StoreError>;
}
