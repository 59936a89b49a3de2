//! Workspace storage: workspaces with their administrators group, user
//! groups and members, repositories, permissions, and the effective
//! permission check. Every method is one transaction.

use super::StoreError;
use async_trait::async_trait;
use guildhall_core::accounts::Account;
use guildhall_core::workspaces::{Permission, Plan, Slug};
use guildhall_core::{AccountId, GroupId, RepositoryId, Timestamp, WorkspaceId};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Workspace {
    pub id: WorkspaceId,
    pub slug: Slug,
    pub name: String,
    pub plan: Plan,
    pub invitations_accept_any_account: bool,
    /// The organization it is linked to (its slug), permanently.
    pub organization: Option<Slug>,
    pub created_at: Timestamp,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    pub id: GroupId,
    pub workspace: WorkspaceId,
    pub slug: Slug,
    pub name: String,
    pub default_permission: Permission,
    /// The undeletable administrators group.
    pub is_admins: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Repository {
    pub id: RepositoryId,
    pub workspace: WorkspaceId,
    pub slug: Slug,
    pub name: String,
    pub private: bool,
}

pub struct NewWorkspace {
    pub id: WorkspaceId,
    pub slug: Slug,
    pub name: String,
    pub plan: Plan,
    /// Becomes the first member of the administrators group.
    pub creator: AccountId,
    /// The id of the administrators group made with it.
    pub admins_group: GroupId,
    pub now: Timestamp,
}

pub struct NewGroup {
    pub id: GroupId,
    pub slug: Slug,
    pub name: String,
    pub default_permission: Permission,
}

pub struct NewRepository {
    pub id: RepositoryId,
    pub slug: Slug,
    pub name: String,
    pub private: bool,
}

/// A member of a workspace and the slugs of the groups they are in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub account: Account,
    pub groups: Vec<Slug>,
}

/// An audit-log row, written in the same transaction as the change it
/// records (SPEC §8: who, what, target, when, from where).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Audit {
    pub workspace: Option<WorkspaceId>,
    pub actor: Option<AccountId>,
    /// The actor as shown: a username, or `operator (cli)`.
    pub actor_label: String,
    /// A dotted verb such as `group.member_added`.
    pub action: String,
    /// What was acted on, such as `group:devs` or `account:ada`.
    pub target: String,
    pub detail: Option<String>,
    pub ip: Option<String>,
    pub at: Timestamp,
    /// The structured payload of the event this change writes to the
    /// directory event log (ADR 0011); not kept in the audit log.
    pub data: Option<serde_json::Value>,
}

impl Audit {
    /// The same entry with an event payload.
    pub fn with_data(mut self, data: serde_json::Value) -> Self {
        self.data = Some(data);
        self
    }
}

/// A consistent snapshot for the permission index.
#[derive(Clone, Debug)]
pub struct PermissionSnapshot {
    pub workspace: Workspace,
    pub version: i64,
    pub data: guildhall_core::workspaces::PermissionData,
}

/// What changing a group membership did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MembershipChange {
    Changed,
    /// Nothing to do: already a member (adding) or not one (removing).
    Unchanged,
}

/// Every mutating method writes its `Audit` row in the same transaction.
#[async_trait]
pub trait WorkspaceStore: Send + Sync {
    /// Creates the workspace, its administrators group, and makes the
    /// creator its first member. `Conflict("slug")` if the slug is taken.
    async fn create_workspace(&self, new: &NewWorkspace, audit: &Audit) -> Result<Workspace, StoreError>;
    async fn workspace_by_slug(&self, slug: &Slug) -> Result<Option<Workspace>, StoreError>;
    async fn workspace_by_id(&self, id: WorkspaceId) -> Result<Option<Workspace>, StoreError>;
    /// The workspaces the account is a member of, by slug.
    async fn workspaces_of(&self, account: AccountId) -> Result<Vec<Workspace>, StoreError>;
    async fn update_workspace(&self, ws: &Workspace, audit: &Audit) -> Result<(), StoreError>;
    async fn delete_workspace(&self, id: WorkspaceId, audit: &Audit) -> Result<bool, StoreError>;

    /// `(member, admin)` for an account in a workspace.
    async fn membership(&self, ws: WorkspaceId, account: AccountId) -> Result<(bool, bool), StoreError>;

    async fn create_group(&self, ws: WorkspaceId, new: &NewGroup, audit: &Audit) -> Result<Group, StoreError>;
    async fn groups(&self, ws: WorkspaceId) -> Result<Vec<Group>, StoreError>;
    async fn group_by_slug(&self, ws: WorkspaceId, slug: &Slug) -> Result<Option<Group>, StoreError>;
    /// Updates name and default permission (never of the administrators group).
    async fn update_group(&self, group: &Group, audit: &Audit) -> Result<(), StoreError>;
    /// Deletes a group; the administrators group is never deleted
    /// (`Conflict("administrators")`).
    async fn delete_group(&self, group: GroupId, audit: &Audit) -> Result<bool, StoreError>;

    async fn add_member(
        &self,
        group: GroupId,
        account: AccountId,
        audit: &Audit,
    ) -> Result<MembershipChange, StoreError>;
    /// Removes a member; the administrators group never loses its last
    /// member (`Conflict("last_admin")`).
    async fn remove_member(
        &self,
        group: GroupId,
        account: AccountId,
        audit: &Audit,
    ) -> Result<MembershipChange, StoreError>;
    async fn group_members(&self, group: GroupId) -> Result<Vec<Account>, StoreError>;
    /// The groups of the workspace an account is in.
    async fn account_groups(&self, ws: WorkspaceId, account: AccountId) -> Result<Vec<GroupId>, StoreError>;

    async fn create_repository(
        &self,
        ws: WorkspaceId,
        new: &NewRepository,
        audit: &Audit,
    ) -> Result<Repository, StoreError>;
    async fn repositories(&self, ws: WorkspaceId) -> Result<Vec<Repository>, StoreError>;
    async fn repository_by_slug(&self, ws: WorkspaceId, slug: &Slug) -> Result<Option<Repository>, StoreError>;
    async fn update_repository(&self, repo: &Repository, audit: &Audit) -> Result<(), StoreError>;
    async fn delete_repository(&self, repo: RepositoryId, audit: &Audit) -> Result<bool, StoreError>;

    /// Sets (or with `None` removes) a group's permission on a repository.
    async fn set_group_permission(
        &self,
        group: GroupId,
        repo: RepositoryId,
        p: Option<Permission>,
        audit: &Audit,
    ) -> Result<(), StoreError>;
    /// Sets (or with `None` removes) an account's direct grant.
    async fn set_grant(
        &self,
        repo: RepositoryId,
        account: AccountId,
        p: Option<Permission>,
        audit: &Audit,
    ) -> Result<(), StoreError>;

    /// Members by username after `after`, at most `limit`; with
    /// `all_repositories`, only those with at least `read` on every
    /// repository of the workspace.
    async fn members(
        &self,
        ws: WorkspaceId,
        after: Option<&str>,
        limit: u32,
        all_repositories: bool,
    ) -> Result<Vec<Member>, StoreError>;

    /// The workspace's id and version (bumped by every audited change).
    async fn workspace_version(&self, slug: &Slug) -> Result<Option<(WorkspaceId, i64)>, StoreError>;
    /// Everything that decides permissions in a workspace, read in one
    /// transaction with the version it corresponds to.
    async fn permission_snapshot(&self, ws: WorkspaceId) -> Result<Option<PermissionSnapshot>, StoreError>;

    /// A workspace's audit entries, newest first, with ids below `before`.
    async fn audit_log(
        &self,
        ws: WorkspaceId,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<(i64, Audit)>, StoreError>;
}
