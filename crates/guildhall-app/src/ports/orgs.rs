//! Organizations, their admins and domains, and the accounts they manage.

use super::Workspace;
use super::{Audit, StoreError};
use async_trait::async_trait;
use guildhall_core::accounts::Account;
use guildhall_core::orgs::DomainName;
use guildhall_core::workspaces::Slug;
use guildhall_core::{AccountId, OrgId, Timestamp, WorkspaceId};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Org {
    pub id: OrgId,
    pub slug: Slug,
    pub name: String,
    /// Managed accounts must set up a second factor before anything else.
    pub require_mfa: bool,
    pub created_at: Timestamp,
}

pub struct NewOrg {
    pub id: OrgId,
    pub slug: Slug,
    pub name: String,
    /// Becomes the first admin.
    pub creator: AccountId,
    pub now: Timestamp,
}

/// The linking deadline's org for one workspace.
pub struct AutoLink {
    pub workspace: WorkspaceId,
    pub org: OrgId,
    pub slug: Slug,
    pub name: String,
    pub now: Timestamp,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrgDomain {
    pub domain: DomainName,
    /// Published as `guildhall-verification=<token>` in a TXT record.
    pub token: String,
    pub verified_at: Option<Timestamp>,
    pub created_at: Timestamp,
}

/// What an org admin may do to an account the org manages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ManagedChange {
    DisplayName(guildhall_core::accounts::DisplayName),
    /// Deactivating also ends every session.
    Status(guildhall_core::accounts::AccountStatus),
    EndSessions,
}

/// Every org write appends a row to the org's audit log (the `workspace`
/// field of `Audit` is not used here).
#[async_trait]
pub trait OrgStore: Send + Sync {
    /// `Conflict("slug")` when taken.
    async fn create_org(&self, new: &NewOrg, audit: &Audit) -> Result<Org, StoreError>;
    async fn org_by_slug(&self, slug: &Slug) -> Result<Option<Org>, StoreError>;
    /// Sets only the MFA policy (a rename racing it cannot undo it), audited.
    async fn set_org_require_mfa(&self, org: OrgId, required: bool, audit: &Audit) -> Result<(), StoreError>;
    /// Whether the organization managing this account requires a second factor.
    async fn mfa_required_for(&self, account: AccountId) -> Result<bool, StoreError>;
    async fn update_org(&self, org: &Org, audit: &Audit) -> Result<(), StoreError>;
    /// The orgs the account administers, by slug.
    async fn orgs_of_admin(&self, account: AccountId) -> Result<Vec<Org>, StoreError>;
    async fn is_org_admin(&self, org: OrgId, account: AccountId) -> Result<bool, StoreError>;
    async fn org_admins(&self, org: OrgId) -> Result<Vec<Account>, StoreError>;
    /// Adds or removes an admin; false when nothing changed.
    /// `Conflict("last_admin")` rather than leave the org without one.
    async fn set_org_admin(
        &self,
        org: OrgId,
        account: AccountId,
        admin: bool,
        audit: &Audit,
    ) -> Result<bool, StoreError>;

    /// `Conflict("domain")` when the org already claims it.
    async fn add_domain(&self, org: OrgId, domain: &OrgDomain, audit: &Audit) -> Result<(), StoreError>;
    async fn org_domains(&self, org: OrgId) -> Result<Vec<OrgDomain>, StoreError>;
    /// Marks the domain verified and makes every account on it managed by
    /// the org, in one transaction; returns the accounts newly managed.
    /// `Conflict("domain_taken")` when another org verified it first; `None`
    /// when the org does not claim the domain.
    async fn verify_domain(
        &self,
        org: OrgId,
        domain: &DomainName,
        now: Timestamp,
        audit: &Audit,
    ) -> Result<Option<Vec<Account>>, StoreError>;
    /// Forgets the domain; the accounts on it the org managed become
    /// personal again. False when the org did not claim it.
    async fn remove_domain(&self, org: OrgId, domain: &DomainName, audit: &Audit) -> Result<bool, StoreError>;
    async fn managed_accounts(&self, org: OrgId) -> Result<Vec<Account>, StoreError>;
    /// Applies the change to the account if, and only if, the org manages
    /// it (in the same transaction); `None` otherwise.
    async fn change_managed(
        &self,
        org: OrgId,
        account: AccountId,
        change: &ManagedChange,
        now: Timestamp,
        audit: &Audit,
    ) -> Result<Option<Account>, StoreError>;
    /// Links a paid, unlinked workspace to the org, for good, auditing it in
    /// both logs. `Conflict("linked")` if it is linked already,
    /// `Conflict("ineligible")` if it is not on the paid plan.
    async fn link_workspace(
        &self,
        org: OrgId,
        ws: WorkspaceId,
        now: Timestamp,
        ws_audit: &Audit,
        org_audit: &Audit,
    ) -> Result<(), StoreError>;
    /// The operator's way back: clears the link, auditing it in both logs.
    /// `None` if the workspace was not linked.
    async fn unlink_workspace(&self, ws: WorkspaceId, audit: &Audit) -> Result<Option<OrgId>, StoreError>;
    async fn linked_workspaces(&self, org: OrgId) -> Result<Vec<Workspace>, StoreError>;
    /// Workspaces on the paid plan that no org has linked, by slug.
    async fn unlinked_paid_workspaces(&self) -> Result<Vec<Workspace>, StoreError>;
    /// In one transaction: if the workspace is still paid and unlinked,
    /// creates the org with the workspace's administrators as its admins,
    /// links the workspace and audits both; returns those admins. `None`
    /// (and nothing created) when another node got there first.
    /// `Conflict("slug")` when the org slug is taken.
    async fn auto_link_workspace(
        &self,
        link: &AutoLink,
        ws_audit: &Audit,
        org_audit: &Audit,
    ) -> Result<Option<Vec<Account>>, StoreError>;
    /// Everyone the org oversees: the members of its linked workspaces and
    /// the accounts it manages, by username, each with the slugs of the
    /// linked workspaces they are in.
    async fn org_members(&self, org: OrgId) -> Result<Vec<(Account, Vec<Slug>)>, StoreError>;
    /// Newest first, before the given entry id.
    async fn org_audit_log(&self, org: OrgId, before: Option<i64>, limit: u32)
    -> Result<Vec<(i64, Audit)>, StoreError>;
}
