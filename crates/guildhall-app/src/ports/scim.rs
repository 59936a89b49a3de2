//! SCIM storage (RFC 7643/7644, ADR 0011): the users and groups a
//! workspace's or an org's SCIM endpoint shows, and the writes an org's own
//! directory makes. Every write is one transaction with its audit row and
//! events.

use super::events::Scope;
use super::{Audit, NewAccount, StoreError};
use async_trait::async_trait;
use guildhall_core::accounts::{Account, DisplayName, Email};
use guildhall_core::{AccountId, OrgId, Timestamp};
use uuid::Uuid;

/// The one user a lookup names (a filter such as `userName eq "ada"`).
#[derive(Clone, Copy, Debug)]
pub enum UserKey<'a> {
    Id(AccountId),
    /// Any of these (at most 1,000).
    Ids(&'a [AccountId]),
    /// The directory's `userName` for an org (else the username),
    /// case-insensitive.
    UserName(&'a str),
    ExternalId(&'a str),
    /// Case-insensitive.
    Email(&'a str),
}

/// A condition on a workspace member's own columns that every user a SCIM
/// filter matches meets, and maybe more do: the database narrows the
/// candidates, the filter then decides (`app::scim`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UserCondition {
    /// Every one holds.
    All(Vec<UserCondition>),
    /// Some one holds.
    Any(Vec<UserCondition>),
    /// The field, lowercased, compares so with `value` (given lowercased),
    /// or the field is not plain ASCII (whose lowercasing the databases do
    /// not all do as Unicode does).
    Text { field: UserField, op: TextOp, value: String },
    /// The account is active (or not).
    Active(bool),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserField {
    UserName,
    DisplayName,
    Email,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TextOp {
    Eq,
    Contains,
    StartsWith,
    EndsWith,
}

/// A user as SCIM shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScimUser {
    pub account: Account,
    /// The org directory's own id for the account.
    pub external_id: Option<String>,
    /// (group id, display name) of the scope's groups the user is in.
    pub groups: Vec<(Uuid, String)>,
    /// The org directory's `userName`, when it provisioned the account.
    pub user_name: Option<String>,
    /// What the org's directory last wrote (its `name`, `emails`…), kept
    /// to show back; the account's own fields take precedence.
    pub attributes: Option<serde_json::Value>,
}

/// A group as SCIM shows it: a workspace group, or an org directory group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScimGroup {
    pub id: Uuid,
    pub display_name: String,
    pub external_id: Option<String>,
    /// (account, username).
    pub members: Vec<(AccountId, String)>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// What an org's directory sets on a group (create or replace).
#[derive(Clone, Debug)]
pub struct GroupWrite {
    pub display_name: String,
    pub external_id: Option<String>,
    pub members: Vec<AccountId>,
    pub now: Timestamp,
}

/// What an org's directory sets on a managed account it provisions.
#[derive(Clone, Debug)]
pub struct UserWrite {
    /// The directory's `userName` (unique in the org, case-insensitively).
    pub user_name: String,
    pub email: Email,
    /// Whether a changed address counts as verified (on the org's verified
    /// domains); an unchanged one keeps its state.
    pub email_verified: bool,
    pub display_name: DisplayName,
    pub attributes: serde_json::Value,
    pub external_id: Option<String>,
    /// `false` deprovisions: the account is deactivated, its sessions end
    /// and it leaves every group of the org's workspaces.
    pub active: bool,
    pub now: Timestamp,
}

/// Pagination of a listing: SCIM's 1-based `startIndex` as an offset.
#[derive(Clone, Copy, Debug)]
pub struct Page {
    pub offset: u64,
    /// `None`: every row (for filters evaluated in memory).
    pub limit: Option<u64>,
}

#[async_trait]
pub trait ScimStore: Send + Sync {
    /// The scope's users by username (workspace members; an org's managed
    /// accounts that its directory has not deleted) and their total.
    async fn scim_users(
        &self,
        scope: Scope,
        key: Option<UserKey<'_>>,
        page: Page,
    ) -> Result<(u64, Vec<ScimUser>), StoreError>;
    /// Every user id of the scope, in listing order (by username).
    async fn scim_user_ids(&self, scope: Scope) -> Result<Vec<AccountId>, StoreError>;
    /// The ids of the scope's users whose own columns meet `condition`, in
    /// listing order.
    async fn scim_user_ids_where(&self, scope: Scope, condition: &UserCondition) -> Result<Vec<AccountId>, StoreError>;
    /// These users of the scope (those that still are), in the given order.
    async fn scim_users_by_ids(&self, scope: Scope, ids: &[AccountId]) -> Result<Vec<ScimUser>, StoreError>;
    /// An org's whole directory (its users and groups) read in one
    /// transaction, with the event cursor it is consistent with.
    async fn org_directory_snapshot(&self, org: OrgId) -> Result<(i64, Vec<ScimUser>, Vec<ScimGroup>), StoreError>;
    /// The scope's groups by display name, and their total.
    async fn scim_groups(
        &self,
        scope: Scope,
        id: Option<Uuid>,
        page: Page,
    ) -> Result<(u64, Vec<ScimGroup>), StoreError>;

    /// Provisions an account managed by the org (no password).
    /// `Conflict("username")` / `Conflict("email")` when another account
    /// has them.
    async fn scim_create_user(
        &self,
        org: OrgId,
        new: &NewAccount,
        write: &UserWrite,
        audit: &Audit,
    ) -> Result<ScimUser, StoreError>;
    /// Updates a managed account of the org; `None` if it is not one.
    async fn scim_update_user(
        &self,
        org: OrgId,
        account: AccountId,
        write: &UserWrite,
        audit: &Audit,
    ) -> Result<Option<ScimUser>, StoreError>;
    /// Deprovisions and hides a managed account; `false` if not found.
    async fn scim_delete_user(&self, org: OrgId, account: AccountId, audit: &Audit) -> Result<bool, StoreError>;

    /// `Conflict("display_name")` if the org has a group of that name;
    /// members that are not the org's managed accounts are
    /// `Conflict("member")`.
    async fn scim_create_group(
        &self,
        org: OrgId,
        id: Uuid,
        write: &GroupWrite,
        audit: &Audit,
    ) -> Result<ScimGroup, StoreError>;
    async fn scim_replace_group(
        &self,
        org: OrgId,
        id: Uuid,
        write: &GroupWrite,
        audit: &Audit,
    ) -> Result<Option<ScimGroup>, StoreError>;
    async fn scim_delete_group(&self, org: OrgId, id: Uuid, audit: &Audit) -> Result<bool, StoreError>;
}
