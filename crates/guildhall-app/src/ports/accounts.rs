//! Account storage, including emailed single-use tokens.

use super::StoreError;
use async_trait::async_trait;
use guildhall_core::accounts::{Account, AccountStatus, DisplayName, Email, Username};
use guildhall_core::tokens::TokenHash;
use guildhall_core::{AccountId, SessionId, Timestamp};

pub struct NewAccount {
    pub id: AccountId,
    pub email: Email,
    pub username: Username,
    pub display_name: DisplayName,
    pub password_hash: Option<String>,
    pub email_verified: bool,
    pub is_operator: bool,
    pub must_change_password: bool,
    /// An external identity to connect in the same transaction (its
    /// `account` is this account's id); `Conflict("identity")` if taken.
    pub identity: Option<super::Identity>,
    pub now: Timestamp,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EmailTokenPurpose {
    VerifyEmail,
    ResetPassword,
}

impl EmailTokenPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::VerifyEmail => "verify_email",
            Self::ResetPassword => "reset_password",
        }
    }
}

pub struct NewEmailToken {
    pub hash: TokenHash,
    pub purpose: EmailTokenPurpose,
    pub expires_at: Timestamp,
}

pub enum AccountLookup<'a> {
    Id(AccountId),
    Email(&'a Email),
    Username(&'a Username),
}

pub struct AccountWithHash {
    pub account: Account,
    pub password_hash: Option<String>,
}

#[async_trait]
pub trait AccountStore: Send + Sync {
    /// Creates the account and, if given, its first email token, atomically.
    /// `StoreError::Conflict("email" | "username")` if either is taken.
    async fn create_account(&self, new: &NewAccount, token: Option<&NewEmailToken>) -> Result<Account, StoreError>;

    async fn find_account(&self, by: AccountLookup<'_>) -> Result<Option<AccountWithHash>, StoreError>;

    async fn operator_exists(&self) -> Result<bool, StoreError>;

    /// Sets the status; deactivating also ends every session of the account.
    async fn set_account_status(
        &self,
        id: AccountId,
        status: AccountStatus,
        now: Timestamp,
    ) -> Result<Option<Account>, StoreError>;

    /// Issues a token, deleting earlier tokens of the same purpose (so a
    /// resent link kills the old one).
    async fn issue_email_token(
        &self,
        account: AccountId,
        token: &NewEmailToken,
        now: Timestamp,
    ) -> Result<(), StoreError>;

    /// Consumes an unexpired verification token and marks the email verified.
    async fn verify_email(&self, token: &TokenHash, now: Timestamp) -> Result<Option<Account>, StoreError>;

    /// Whether an unexpired token of this purpose exists (for showing a form).
    async fn email_token_valid(
        &self,
        token: &TokenHash,
        purpose: EmailTokenPurpose,
        now: Timestamp,
    ) -> Result<bool, StoreError>;

    /// Consumes an unexpired reset token, sets the password, ends every
    /// session of the account except `keep` and revokes its access tokens.
    async fn reset_password(
        &self,
        token: &TokenHash,
        password_hash: &str,
        keep: Option<SessionId>,
        now: Timestamp,
    ) -> Result<Option<Account>, StoreError>;

    /// Sets a new password (clearing `must_change_password`) and ends every
    /// session of the account except `keep`.
    async fn set_password(
        &self,
        id: AccountId,
        password_hash: &str,
        keep: Option<SessionId>,
        now: Timestamp,
    ) -> Result<(), StoreError>;
}
