//! Sites and their customer accounts (SPEC §7).

use super::StoreError;
use async_trait::async_trait;
use guildhall_core::accounts::{AccountStatus, Email};
use guildhall_core::tokens::TokenHash;
use guildhall_core::workspaces::Slug;
use guildhall_core::{AccountId, CustomerId, SiteId, Timestamp};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Site {
    pub id: SiteId,
    pub slug: Slug,
    pub name: String,
    pub created_at: Timestamp,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Customer {
    pub id: CustomerId,
    pub site: SiteId,
    pub email: Email,
    pub status: AccountStatus,
    pub created_at: Timestamp,
}

#[async_trait]
pub trait SiteStore: Send + Sync {
    /// `Conflict("slug")` when taken.
    async fn create_site(&self, site: &Site, admin: Option<AccountId>) -> Result<(), StoreError>;
    /// False when the account already administers the site.
    async fn add_site_admin(&self, site: SiteId, account: AccountId) -> Result<bool, StoreError>;
    async fn site_by_slug(&self, slug: &Slug) -> Result<Option<Site>, StoreError>;
    async fn is_site_admin(&self, site: SiteId, account: AccountId) -> Result<bool, StoreError>;
    /// `Conflict("email")` when the site has a customer with that email.
    async fn create_customer(&self, customer: &Customer, password_hash: &str) -> Result<(), StoreError>;
    /// A site's customer by email, with the password hash.
    async fn customer_by_email(&self, site: SiteId, email: &Email) -> Result<Option<(Customer, String)>, StoreError>;
    async fn create_customer_session(
        &self,
        token: &TokenHash,
        customer: &Customer,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> Result<(), StoreError>;
    /// The active customer behind an unexpired session of this site.
    async fn customer_by_session(
        &self,
        site: SiteId,
        token: &TokenHash,
        now: Timestamp,
    ) -> Result<Option<Customer>, StoreError>;
    async fn end_customer_session(&self, token: &TokenHash) -> Result<(), StoreError>;
    async fn customers(&self, site: SiteId) -> Result<Vec<Customer>, StoreError>;
    /// Deactivating ends the customer's sessions. `None` if the site has no
    /// such customer.
    /// Replaces the customer's reset link.
    async fn issue_customer_reset(
        &self,
        customer: CustomerId,
        token: &TokenHash,
        expires_at: Timestamp,
    ) -> Result<(), StoreError>;
    /// Spends an unexpired reset link of this site: sets the password and
    /// ends every session of the customer. `None` if the link is unknown,
    /// used, expired or another site's.
    async fn reset_customer_password(
        &self,
        site: SiteId,
        token: &TokenHash,
        password_hash: &str,
        now: Timestamp,
    ) -> Result<Option<Customer>, StoreError>;
    async fn set_customer_status(
        &self,
        site: SiteId,
        id: CustomerId,
        status: AccountStatus,
    ) -> Result<Option<Customer>, StoreError>;
}
