//! Browser sessions, referenced by a cookie holding a secret token whose hash
//! is stored.

use super::StoreError;
use async_trait::async_trait;
use guildhall_core::accounts::Account;
use guildhall_core::tokens::TokenHash;
use guildhall_core::{AccountId, SessionId, Timestamp};

pub struct NewSession {
    pub id: SessionId,
    pub account: AccountId,
    pub token_hash: TokenHash,
    pub now: Timestamp,
    pub expires_at: Timestamp,
    /// Authentication methods used (RFC 8176 values, such as `pwd`).
    pub amr: Vec<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    pub id: SessionId,
    pub account: AccountId,
    pub created_at: Timestamp,
    pub last_seen_at: Timestamp,
    pub expires_at: Timestamp,
    pub auth_time: Timestamp,
    pub amr: Vec<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

#[async_trait]
pub trait SessionStore: Send + Sync {
    async fn create_session(&self, new: &NewSession) -> Result<Session, StoreError>;

    /// The live session for a cookie token and its account, if the session
    /// has not expired and the account is active. Refreshes `last_seen_at`
    /// at most once a minute.
    async fn session_by_token(
        &self,
        token: &TokenHash,
        now: Timestamp,
    ) -> Result<Option<(Session, Account)>, StoreError>;

    /// Unexpired sessions of an account, newest first.
    async fn list_sessions(&self, account: AccountId, now: Timestamp) -> Result<Vec<Session>, StoreError>;

    /// Ends one session of this account; `false` if there was none.
    async fn revoke_session(&self, account: AccountId, session: SessionId) -> Result<bool, StoreError>;
    /// Gives the account's session a new token (the old one stops working).
    async fn rotate_session(
        &self,
        account: AccountId,
        session: SessionId,
        token_hash: &TokenHash,
    ) -> Result<bool, StoreError>;
}
