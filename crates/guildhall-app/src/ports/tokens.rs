//! Personal access tokens: scoped bearer tokens for the API, stored hashed.

use super::StoreError;
use async_trait::async_trait;
use guildhall_core::accounts::Account;
use guildhall_core::tokens::TokenHash;
use guildhall_core::{AccessTokenId, AccountId, Timestamp};

pub struct NewAccessToken {
    pub id: AccessTokenId,
    pub account: AccountId,
    pub name: String,
    pub token_hash: TokenHash,
    pub scopes: Vec<String>,
    pub now: Timestamp,
    pub expires_at: Option<Timestamp>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessToken {
    pub id: AccessTokenId,
    pub account: AccountId,
    pub name: String,
    pub scopes: Vec<String>,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
    pub expires_at: Option<Timestamp>,
}

#[async_trait]
pub trait AccessTokenStore: Send + Sync {
    async fn create_access_token(&self, new: &NewAccessToken) -> Result<AccessToken, StoreError>;
    /// An account's tokens, newest first.
    async fn access_tokens(&self, account: AccountId) -> Result<Vec<AccessToken>, StoreError>;
    async fn revoke_access_token(&self, account: AccountId, id: AccessTokenId) -> Result<bool, StoreError>;
    /// The unexpired token with this hash and its active account.
    async fn access_token_by_hash(
        &self,
        token: &TokenHash,
        now: Timestamp,
    ) -> Result<Option<(AccessToken, Account)>, StoreError>;
    /// Records a use of the token (the caller does this at most once a minute).
    async fn touch_access_token(&self, id: AccessTokenId, now: Timestamp) -> Result<(), StoreError>;
}
