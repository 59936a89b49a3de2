//! Second factors (SPEC §2): a TOTP authenticator and recovery codes.

use super::StoreError;
use async_trait::async_trait;
use guildhall_core::{AccountId, Timestamp};

/// An account's TOTP authenticator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TotpCredential {
    /// The shared secret, sealed under the master key.
    pub secret_sealed: Vec<u8>,
    /// False while being set up (until a first code is confirmed).
    pub confirmed: bool,
    pub last_step: Option<i64>,
}

/// A registered passkey.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredPasskey {
    pub id: uuid::Uuid,
    pub account: AccountId,
    pub credential_id: Vec<u8>,
    pub name: String,
    /// webauthn-rs's `Passkey` as JSON (public key, signature counter).
    pub passkey: String,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
}

#[async_trait]
pub trait MfaStore: Send + Sync {
    async fn totp_credential(&self, account: AccountId) -> Result<Option<TotpCredential>, StoreError>;
    /// Starts setting up an authenticator, replacing an unconfirmed one.
    /// `Conflict("totp")` if a confirmed one exists.
    async fn begin_totp(&self, account: AccountId, secret_sealed: &[u8], now: Timestamp) -> Result<(), StoreError>;
    /// Confirms the unconfirmed authenticator with its first accepted step
    /// and, if given, replaces the recovery codes, atomically. False when
    /// there is nothing unconfirmed.
    async fn confirm_totp(
        &self,
        account: AccountId,
        step: i64,
        recovery_hashes: Option<&[[u8; 32]]>,
        now: Timestamp,
    ) -> Result<bool, StoreError>;
    /// Accepts `step` if it comes after the last accepted one, atomically:
    /// of two sign-ins with one code, one wins.
    async fn use_totp_step(&self, account: AccountId, step: i64) -> Result<bool, StoreError>;
    /// Removes the authenticator. False if none.
    async fn remove_totp(&self, account: AccountId) -> Result<bool, StoreError>;
    /// Adds a passkey and, if given, replaces the recovery codes, atomically.
    /// `Conflict("passkey")` if its credential is registered already.
    async fn add_passkey(
        &self,
        passkey: &StoredPasskey,
        recovery_hashes: Option<&[[u8; 32]]>,
    ) -> Result<(), StoreError>;
    async fn passkeys(&self, account: AccountId) -> Result<Vec<StoredPasskey>, StoreError>;
    async fn passkey_by_credential(&self, credential_id: &[u8]) -> Result<Option<StoredPasskey>, StoreError>;
    /// Records a use, with the updated counter.
    async fn passkey_used(&self, id: uuid::Uuid, passkey: &str, now: Timestamp) -> Result<(), StoreError>;
    /// Marks a ceremony state used; false if it was already. Forgets
    /// states past their expiry on the way.
    async fn spend_ceremony(
        &self,
        state_hash: &[u8; 32],
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<bool, StoreError>;
    /// False when the account has no such passkey.
    async fn rename_passkey(&self, account: AccountId, id: uuid::Uuid, name: &str) -> Result<bool, StoreError>;
    /// False when the account has no such passkey.
    async fn remove_passkey(&self, account: AccountId, id: uuid::Uuid) -> Result<bool, StoreError>;
    async fn replace_recovery_codes(&self, account: AccountId, hashes: &[[u8; 32]]) -> Result<(), StoreError>;
    /// Spends an unused recovery code, atomically.
    async fn use_recovery_code(&self, account: AccountId, hash: &[u8; 32], now: Timestamp) -> Result<bool, StoreError>;
    async fn recovery_codes_left(&self, account: AccountId) -> Result<u32, StoreError>;
}
