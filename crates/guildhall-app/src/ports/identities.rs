//! External identity providers and the identities connected to accounts
//! (SPEC §2 "External identities", §5 an organization's identity provider).

use super::{Audit, StoreError};
use async_trait::async_trait;
use guildhall_core::identities::{ProviderConfig, ProviderName};
use guildhall_core::{AccountId, OrgId, Timestamp};

/// A provider kept in the database: an operator's (`guildhall admin
/// provider add`) or an organization's (`org` set).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredProvider {
    pub name: ProviderName,
    pub org: Option<OrgId>,
    pub config: ProviderConfig,
    /// The client secret sealed under the master key (see `crate::sealed`).
    pub secret_sealed: Vec<u8>,
    /// An organization's: password sign-in is refused for its managed accounts.
    pub required: bool,
    pub updated_at: Timestamp,
}

/// One external identity (provider, subject), connected to one account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub provider: ProviderName,
    pub subject: String,
    pub account: AccountId,
    /// The address the provider gave when connected, for the account page.
    pub email: Option<String>,
    pub created_at: Timestamp,
}

#[async_trait]
pub trait IdentityStore: Send + Sync {
    /// Adds or replaces a provider by name; with `forget_identities`, the
    /// identities it made are disconnected (an organization's provider
    /// whose issuer changed). An organization's provider is audited in its
    /// org's log.
    async fn put_provider(
        &self,
        provider: &StoredProvider,
        forget_identities: bool,
        audit: Option<&Audit>,
    ) -> Result<(), StoreError>;
    /// False when there was no such provider. An organization's provider
    /// takes the identities it made with it, and is audited.
    async fn delete_provider(&self, name: &ProviderName, audit: Option<&Audit>) -> Result<bool, StoreError>;
    async fn provider(&self, name: &ProviderName) -> Result<Option<StoredProvider>, StoreError>;
    /// The operators' providers (not organizations'), by name.
    async fn operator_providers(&self) -> Result<Vec<StoredProvider>, StoreError>;
    /// The identity provider of the organization that verified `domain`.
    async fn provider_for_domain(&self, domain: &str) -> Result<Option<StoredProvider>, StoreError>;

    async fn identity(&self, provider: &ProviderName, subject: &str) -> Result<Option<Identity>, StoreError>;
    async fn identities_of(&self, account: AccountId) -> Result<Vec<Identity>, StoreError>;
    /// `Conflict("identity")` when (provider, subject) is connected already,
    /// to this account or another.
    async fn connect_identity(&self, identity: &Identity) -> Result<(), StoreError>;
    /// Disconnects unless it is the account's last way to sign in (no
    /// password and no other identity), atomically. `Ok(None)`: no such
    /// identity on this account; `Ok(Some(false))`: refused as the last.
    async fn disconnect_identity(
        &self,
        account: AccountId,
        provider: &ProviderName,
        subject: &str,
    ) -> Result<Option<bool>, StoreError>;
}
