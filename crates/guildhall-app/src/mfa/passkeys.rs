//! WebAuthn passkeys (webauthn-rs): registered from the security page,
//! used as a second factor after a password or a provider, and as a
//! passwordless sign-in (discoverable credentials; user verification is
//! required, so a passkey alone is two factors).
//!
//! A ceremony's state travels to the browser and back sealed under the
//! master key, bound to its purpose (and account), and expires after five
//! minutes, like the other flows (ADR 0010).

use super::MfaService;
use crate::error::AppError;
use crate::ports::{StoreError, StoredPasskey};
use guildhall_core::accounts::Account;
use guildhall_core::{AccountId, Timestamp};
use serde::{Serialize, de::DeserializeOwned};
use sha2::Digest;
use webauthn_rs::prelude::{
    DiscoverableAuthentication, DiscoverableKey, Passkey, PasskeyAuthentication, PasskeyRegistration,
    PublicKeyCredential, RegisterPublicKeyCredential, Webauthn, WebauthnBuilder,
};

/// How long a ceremony may take.
const CEREMONY_TTL: std::time::Duration = std::time::Duration::from_secs(300);

/// What the browser needs: the options for `navigator.credentials`, and
/// the sealed state to send back with the result.
#[derive(Debug, Serialize)]
pub struct Ceremony {
    pub options: serde_json::Value,
    pub state: String,
}

/// A passkey as the security page lists it.
#[derive(Clone, Debug)]
pub struct PasskeyView {
    pub id: uuid::Uuid,
    pub name: String,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
}

/// A passkey that proved itself.
pub(crate) struct Asserted {
    pub account: AccountId,
}

fn passkey_name(name: &str) -> Result<&str, AppError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
        return Err(AppError::invalid("name", "Name the passkey (1–64 characters), such as \"Laptop\"."));
    }
    Ok(name)
}

fn unusable(e: impl std::fmt::Display) -> AppError {
    AppError::invalid("credential", format!("The passkey could not be used ({e})."))
}

impl MfaService<'_> {
    fn webauthn(&self) -> Result<Webauthn, AppError> {
        let origin = url::Url::parse(&self.app.settings().public_url).map_err(AppError::internal)?;
        let rp_id = origin.host_str().ok_or_else(|| AppError::internal_message("public_url without a host"))?;
        WebauthnBuilder::new(rp_id, &origin)
            .and_then(|b| b.rp_name("Guildhall").build())
            .map_err(|e| AppError::internal_message(format!("WebAuthn needs public_url on a domain name: {e}")))
    }

    fn seal_state<T: Serialize>(&self, purpose: &str, state: T) -> Result<String, AppError> {
        self.app.seal_for(purpose.as_bytes(), state, CEREMONY_TTL)
    }

    /// Opens a ceremony's state, once: a second use of the same state (a
    /// replayed answer) is refused, whatever the authenticator's counter.
    async fn open_state<T: DeserializeOwned>(&self, purpose: &str, sealed: &str) -> Result<T, AppError> {
        let state: T =
            self.app.open_for(purpose.as_bytes(), sealed).ok_or_else(|| unusable("the request expired; try again"))?;
        // Kept as spent until no copy of the state could still be fresh.
        let hash: [u8; 32] = sha2::Sha256::digest(sealed.as_bytes()).into();
        let expires_at = self.app.now().plus(CEREMONY_TTL);
        if !self.app.store().spend_ceremony(&hash, expires_at, self.app.now()).await? {
            return Err(unusable("that answer was used already"));
        }
        Ok(state)
    }

    pub async fn passkeys(&self, account: &Account) -> Result<Vec<PasskeyView>, AppError> {
        let stored = self.app.store().passkeys(account.id).await?;
        Ok(stored
            .into_iter()
            .map(|p| PasskeyView { id: p.id, name: p.name, created_at: p.created_at, last_used_at: p.last_used_at })
            .collect())
    }

    /// Starts registering a passkey for the signed-in account.
    pub async fn begin_passkey_registration(&self, account: &Account) -> Result<Ceremony, AppError> {
        let exclude = self.app.store().passkeys(account.id).await?.into_iter().map(|p| p.credential_id);
        let (options, state) = self
            .webauthn()?
            .start_passkey_registration(
                account.id.0,
                account.email.as_str(),
                account.display_name.as_str(),
                Some(exclude.collect()),
            )
            .map_err(AppError::internal)?;
        let state = self.seal_state::<PasskeyRegistration>(&format!("passkey-registration:{}", account.id.0), state)?;
        let mut options = serde_json::to_value(options).map_err(AppError::internal)?;
        // Ask for a discoverable credential where the authenticator can make
        // one, so the passkey also signs in without a password (webauthn-rs
        // asks for "discouraged").
        options["publicKey"]["authenticatorSelection"]["residentKey"] = serde_json::json!("preferred");
        Ok(Ceremony { options, state })
    }

    /// Finishes a registration; returns new recovery codes when this is
    /// the account's first second factor.
    pub async fn finish_passkey_registration(
        &self,
        account: &Account,
        name: &str,
        state: &str,
        credential: &str,
    ) -> Result<Option<Vec<String>>, AppError> {
        let name = passkey_name(name)?;
        let state: PasskeyRegistration =
            self.open_state(&format!("passkey-registration:{}", account.id.0), state).await?;
        let credential: RegisterPublicKeyCredential = serde_json::from_str(credential).map_err(unusable)?;
        let passkey = self.webauthn()?.finish_passkey_registration(&credential, &state).map_err(unusable)?;
        let first = !self.has_second_factor(account).await?;
        let (codes, hashes) = self.new_recovery_codes();
        let stored = StoredPasskey {
            id: self.app.new_uuid(),
            account: account.id,
            credential_id: AsRef::<[u8]>::as_ref(passkey.cred_id()).to_vec(),
            name: name.to_owned(),
            passkey: serde_json::to_string(&passkey).map_err(AppError::internal)?,
            created_at: self.app.now(),
            last_used_at: None,
        };
        match self.app.store().add_passkey(&stored, first.then_some(&hashes[..])).await {
            Ok(()) => {
                self.tell_factor_added(account, &format!("a passkey named \"{name}\"")).await;
                Ok(first.then_some(codes))
            }
            Err(StoreError::Conflict(_)) => Err(AppError::Conflict("This passkey is registered already.".into())),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn rename_passkey(&self, account: &Account, id: &str, name: &str) -> Result<(), AppError> {
        let id = uuid::Uuid::try_parse(id).map_err(|_| AppError::NotFound)?;
        let name = passkey_name(name)?;
        if self.app.store().rename_passkey(account.id, id, name).await? { Ok(()) } else { Err(AppError::NotFound) }
    }

    /// Removes a passkey after re-authentication (the recovery codes too,
    /// if no second factor remains).
    pub async fn remove_passkey(&self, account: &Account, id: &str, proof: &str) -> Result<(), AppError> {
        let id = uuid::Uuid::try_parse(id).map_err(|_| AppError::NotFound)?;
        self.reauthenticate(account, proof).await?;
        if !self.app.store().remove_passkey(account.id, id).await? {
            return Err(AppError::NotFound);
        }
        self.forget_codes_without_factors(account).await
    }

    fn stored_passkey(p: &StoredPasskey) -> Result<Passkey, AppError> {
        serde_json::from_str(&p.passkey).map_err(AppError::internal)
    }

    /// A second-factor ceremony for `account`'s passkeys.
    pub(crate) async fn begin_passkey_assertion(&self, account: AccountId) -> Result<Ceremony, AppError> {
        let stored = self.app.store().passkeys(account).await?;
        if stored.is_empty() {
            return Err(AppError::NotFound);
        }
        let keys = stored.iter().map(Self::stored_passkey).collect::<Result<Vec<_>, _>>()?;
        let (options, state) = self.webauthn()?.start_passkey_authentication(&keys).map_err(AppError::internal)?;
        let state = self.seal_state::<PasskeyAuthentication>(&format!("passkey-assertion:{}", account.0), state)?;
        Ok(Ceremony { options: serde_json::to_value(options).map_err(AppError::internal)?, state })
    }

    pub(crate) async fn finish_passkey_assertion(
        &self,
        account: AccountId,
        state: &str,
        credential: &str,
    ) -> Result<Asserted, AppError> {
        let state: PasskeyAuthentication = self.open_state(&format!("passkey-assertion:{}", account.0), state).await?;
        let credential: PublicKeyCredential = serde_json::from_str(credential).map_err(unusable)?;
        let result = self.webauthn()?.finish_passkey_authentication(&credential, &state).map_err(unusable)?;
        let stored = self
            .app
            .store()
            .passkey_by_credential(result.cred_id().as_ref())
            .await?
            .filter(|p| p.account == account)
            .ok_or_else(|| unusable("unknown passkey"))?;
        self.record_use(&stored, &result).await?;
        Ok(Asserted { account })
    }

    /// A passwordless ceremony: any discoverable passkey of this site.
    pub(crate) fn begin_discoverable(&self) -> Result<Ceremony, AppError> {
        let (options, state) = self.webauthn()?.start_discoverable_authentication().map_err(AppError::internal)?;
        let state = self.seal_state::<DiscoverableAuthentication>("passkey-discoverable", state)?;
        Ok(Ceremony { options: serde_json::to_value(options).map_err(AppError::internal)?, state })
    }

    /// Finds the passkey by its credential id (and, when the authenticator
    /// sends one, checks the user handle names the same account).
    pub(crate) async fn finish_discoverable(&self, state: &str, credential: &str) -> Result<Asserted, AppError> {
        let state: DiscoverableAuthentication = self.open_state("passkey-discoverable", state).await?;
        let credential: PublicKeyCredential = serde_json::from_str(credential).map_err(unusable)?;
        let stored = self
            .app
            .store()
            .passkey_by_credential(credential.get_credential_id())
            .await?
            .ok_or_else(|| unusable("unknown passkey"))?;
        if let Some(handle) = credential.get_user_unique_id()
            && handle != stored.account.0.as_bytes()
        {
            return Err(unusable("the passkey names another account"));
        }
        let key = DiscoverableKey::from(&Self::stored_passkey(&stored)?);
        let result =
            self.webauthn()?.finish_discoverable_authentication_v2(&credential, state, &key).map_err(unusable)?;
        self.record_use(&stored, &result).await?;
        Ok(Asserted { account: stored.account })
    }

    async fn record_use(
        &self,
        stored: &StoredPasskey,
        result: &webauthn_rs::prelude::AuthenticationResult,
    ) -> Result<(), AppError> {
        let mut passkey = Self::stored_passkey(stored)?;
        passkey.update_credential(result);
        let json = serde_json::to_string(&passkey).map_err(AppError::internal)?;
        Ok(self.app.store().passkey_used(stored.id, &json, self.app.now()).await?)
    }
}
