//! Products (OAuth clients), signing keys and authorization codes.

use super::StoreError;
use async_trait::async_trait;
use guildhall_core::tokens::TokenHash;
use guildhall_core::{AccountId, GrantId, ProductId, Timestamp};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Product {
    pub id: ProductId,
    pub name: String,
    /// SHA-256 of the client secret; `None` for a public client.
    pub secret_hash: Option<TokenHash>,
    pub first_party: bool,
    pub redirect_uris: Vec<String>,
    /// Space-separated scopes it may ask for.
    pub scopes: String,
    pub grant_types: Vec<String>,
    pub homepage: Option<String>,
    /// `None` when the operator registered it.
    pub owner: Option<AccountId>,
    pub created_at: Timestamp,
}

/// A signing key; the private part sealed with the master key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SigningKey {
    pub kid: String,
    pub alg: String,
    pub private_sealed: Vec<u8>,
    pub public_jwk: String,
    pub created_at: Timestamp,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthorizationCode {
    pub hash: TokenHash,
    pub grant: GrantId,
    pub product: ProductId,
    pub account: AccountId,
    pub redirect_uri: String,
    pub scopes: String,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub auth_time: Timestamp,
    /// How the person signed in (the session's `amr`).
    pub amr: Vec<String>,
    pub expires_at: Timestamp,
}

/// A refresh token as stored (its secret only as a hash).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefreshToken {
    pub hash: TokenHash,
    pub grant: GrantId,
    pub product: ProductId,
    pub account: AccountId,
    pub scopes: String,
    pub auth_time: Timestamp,
    pub amr: Vec<String>,
    pub expires_at: Timestamp,
}

/// What presenting a refresh token found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RefreshUse {
    /// Unspent and unexpired: now spent.
    Fresh(RefreshToken),
    /// Spent before: its grant (the whole family) must be revoked.
    Replayed(RefreshToken),
    Invalid,
}

/// A remembered consent, with the product's name for the account page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Consent {
    pub product: ProductId,
    pub product_name: String,
    pub scopes: String,
    pub granted_at: Timestamp,
}

/// What presenting a code found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CodeUse {
    /// First use of an unexpired code: it is now spent.
    Fresh(AuthorizationCode),
    /// The code was already spent: its grant must be revoked.
    Replayed(AuthorizationCode),
    /// Unknown or expired.
    Invalid,
}

#[async_trait]
pub trait OAuthStore: Send + Sync {
    async fn create_product(&self, product: &Product) -> Result<(), StoreError>;
    async fn product(&self, id: ProductId) -> Result<Option<Product>, StoreError>;
    /// The products an account registered, by name.
    async fn products_of(&self, owner: AccountId) -> Result<Vec<Product>, StoreError>;

    async fn insert_signing_key(&self, key: &SigningKey) -> Result<(), StoreError>;
    /// Every key, newest first.
    async fn signing_keys(&self) -> Result<Vec<SigningKey>, StoreError>;
    async fn delete_signing_key(&self, kid: &str) -> Result<(), StoreError>;

    async fn create_authorization_code(&self, code: &AuthorizationCode) -> Result<(), StoreError>;
    /// Spends a code atomically: of two racing requests, one gets `Fresh`.
    async fn use_authorization_code(&self, hash: &TokenHash, now: Timestamp) -> Result<CodeUse, StoreError>;

    async fn create_refresh_token(&self, token: &RefreshToken) -> Result<(), StoreError>;
    /// Spends a refresh token atomically: of two racing requests, one gets `Fresh`.
    async fn use_refresh_token(&self, hash: &TokenHash, now: Timestamp) -> Result<RefreshUse, StoreError>;
    /// A refresh token, spent or not, without spending it.
    async fn refresh_token(&self, hash: &TokenHash) -> Result<Option<RefreshToken>, StoreError>;

    /// Records (replacing) what the account allowed the product.
    async fn save_consent(
        &self,
        account: AccountId,
        product: ProductId,
        scopes: &str,
        now: Timestamp,
    ) -> Result<(), StoreError>;
    async fn consents(&self, account: AccountId) -> Result<Vec<Consent>, StoreError>;
    /// Forgets the consent and revokes every grant the product holds for
    /// the account, in one transaction. False if there was no consent.
    async fn revoke_consent(&self, account: AccountId, product: ProductId, now: Timestamp) -> Result<bool, StoreError>;

    async fn revoke_grant(&self, grant: GrantId, now: Timestamp) -> Result<(), StoreError>;
    async fn grant_revoked(&self, grant: GrantId) -> Result<bool, StoreError>;
}
