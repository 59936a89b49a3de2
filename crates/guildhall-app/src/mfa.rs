//! Second factors (SPEC §2): setting up a TOTP authenticator, passkeys
//! (`passkeys`), recovery codes, and checking them during sign-in
//! (`SignInService::second_factor`).

mod passkeys;

pub use passkeys::{Ceremony, PasskeyView};

use crate::App;
use crate::error::AppError;
use crate::ports::StoreError;
use crate::signin::ClientInfo;
use guildhall_core::AccountId;
use guildhall_core::accounts::Account;
use guildhall_core::mfa::{
    RECOVERY_CODES, check_totp, looks_like_recovery_code, otpauth_url, recovery_code, recovery_code_hash, secret_base32,
};

/// What the account page shows.
pub struct MfaStatus {
    pub totp: bool,
    pub passkeys: Vec<PasskeyView>,
    pub recovery_codes_left: u32,
}

/// A new authenticator to scan or type in.
pub struct TotpSetup {
    pub otpauth_url: String,
    pub secret_base32: String,
}

pub struct MfaService<'a> {
    app: &'a App,
}

fn aad(account: AccountId) -> Vec<u8> {
    format!("totp:{}", account.0).into_bytes()
}

impl<'a> MfaService<'a> {
    pub(crate) fn new(app: &'a App) -> Self {
        Self { app }
    }

    pub async fn status(&self, account: &Account) -> Result<MfaStatus, AppError> {
        let store = self.app.store();
        Ok(MfaStatus {
            totp: store.totp_credential(account.id).await?.is_some_and(|c| c.confirmed),
            passkeys: self.passkeys(account).await?,
            recovery_codes_left: store.recovery_codes_left(account.id).await?,
        })
    }

    /// An authenticator app or a passkey.
    pub async fn has_second_factor(&self, account: &Account) -> Result<bool, AppError> {
        let store = self.app.store();
        Ok(store.totp_credential(account.id).await?.is_some_and(|c| c.confirmed)
            || !store.passkeys(account.id).await?.is_empty())
    }

    /// Recovery codes only make sense beside a second factor: they go with
    /// the last one.
    async fn forget_codes_without_factors(&self, account: &Account) -> Result<(), AppError> {
        if !self.has_second_factor(account).await? {
            self.app.store().replace_recovery_codes(account.id, &[]).await?;
        }
        Ok(())
    }

    /// Whether the account must set up a second factor before anything
    /// else: its organization requires one and it has none.
    pub async fn enrolment_required(&self, account: &Account) -> Result<bool, AppError> {
        if account.managed_by.is_none() || !self.app.store().mfa_required_for(account.id).await? {
            return Ok(false);
        }
        Ok(!self.has_second_factor(account).await?)
    }

    /// Starts setting up an authenticator: a new 160-bit secret.
    pub async fn begin_totp(&self, account: &Account) -> Result<TotpSetup, AppError> {
        let mut secret = [0u8; 20];
        self.app.deps.rng.fill(&mut secret);
        let sealed = self.app.seal(&aad(account.id), &secret)?;
        match self.app.store().begin_totp(account.id, &sealed, self.app.now()).await {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => {
                return Err(AppError::Conflict("An authenticator is set up already; remove it first.".into()));
            }
            Err(e) => return Err(e.into()),
        }
        self.pending_totp(account).await?.ok_or_else(|| AppError::internal_message("no pending TOTP"))
    }

    /// The authenticator being set up, to show again (after a wrong code).
    pub async fn pending_totp(&self, account: &Account) -> Result<Option<TotpSetup>, AppError> {
        let Some(pending) = self.app.store().totp_credential(account.id).await?.filter(|c| !c.confirmed) else {
            return Ok(None);
        };
        let secret = self.secret(account.id, &pending.secret_sealed)?;
        let url =
            otpauth_url(&secret, account.email.as_str()).ok_or_else(|| AppError::internal_message("otpauth URL"))?;
        Ok(Some(TotpSetup { otpauth_url: url, secret_base32: secret_base32(&secret) }))
    }

    fn secret(&self, account: AccountId, sealed: &[u8]) -> Result<Vec<u8>, AppError> {
        self.app
            .open_sealed(&aad(account), sealed)
            .ok_or_else(|| AppError::internal_message("a TOTP secret cannot be unsealed: the master key differs"))
    }

    fn now_secs(&self) -> u64 {
        u64::try_from(self.app.now().as_millis() / 1000).unwrap_or(0)
    }

    /// Confirms the authenticator with a first code; returns recovery
    /// codes, shown once, when it is the account's first second factor.
    pub async fn confirm_totp(&self, account: &Account, code: &str) -> Result<Option<Vec<String>>, AppError> {
        let store = self.app.store();
        let wrong =
            || AppError::invalid("code", "That code is not right. Check the time on your device and try again.");
        let pending = store.totp_credential(account.id).await?.filter(|c| !c.confirmed).ok_or(AppError::NotFound)?;
        let secret = self.secret(account.id, &pending.secret_sealed)?;
        let step = check_totp(&secret, code, self.now_secs(), None).ok_or_else(wrong)?;
        let first = !self.has_second_factor(account).await?;
        let (codes, hashes) = self.new_recovery_codes();
        if !store.confirm_totp(account.id, step, first.then_some(&hashes[..]), self.app.now()).await? {
            return Err(AppError::NotFound);
        }
        self.tell_factor_added(account, "an authenticator app").await;
        Ok(first.then_some(codes))
    }

    /// Mails the owner that a second factor was added (a stolen session
    /// adding its own would otherwise go unnoticed).
    pub(crate) async fn tell_factor_added(&self, account: &Account, what: &str) {
        let mail = crate::mails::second_factor_added(&self.app.settings().public_url, account, what);
        if let Err(e) = self.app.deps.mailer.send(mail).await {
            tracing::error!(error = %e, "the second-factor notice could not be queued");
        }
    }

    pub(crate) fn new_recovery_codes(&self) -> (Vec<String>, Vec<[u8; 32]>) {
        (0..RECOVERY_CODES)
            .map(|_| {
                let mut random = [0u8; 10];
                self.app.deps.rng.fill(&mut random);
                let code = recovery_code(random);
                let hash = recovery_code_hash(&code);
                (code, hash)
            })
            .unzip()
    }

    /// Proves it is the account's owner at the keyboard: the password, or
    /// for an account without one, a current authenticator code or a
    /// recovery code. Throttled
    /// like sign-in (the same per-account counters), so a borrowed session
    /// cannot be used to guess the password.
    async fn reauthenticate(&self, account: &Account, proof: &str) -> Result<(), AppError> {
        let signin = self.app.signin();
        let found = self.app.store().find_account(crate::ports::AccountLookup::Id(account.id)).await?;
        let client = ClientInfo::default();
        let ok = match found.and_then(|f| f.password_hash) {
            Some(hash) => {
                let attempt = signin
                    .begin_attempt(format!("signin:account:{}", account.email.normalized()), &client, Some(account))
                    .await?;
                let ok = signin.verify_attempt(&attempt, proof, Some(&hash)).await?;
                if ok {
                    signin.attempt_succeeded(attempt).await?;
                }
                ok
            }
            None => {
                let attempt =
                    signin.begin_attempt(format!("mfa:account:{}", account.id.0), &client, Some(account)).await?;
                let ok = self.check_second_factor(account.id, proof).await?.is_some();
                if ok {
                    signin.attempt_succeeded(attempt).await?;
                }
                ok
            }
        };
        if ok { Ok(()) } else { Err(AppError::invalid("proof", "That is not right.")) }
    }

    async fn check_totp(&self, account: AccountId, code: &str) -> Result<bool, AppError> {
        let store = self.app.store();
        let Some(c) = store.totp_credential(account).await?.filter(|c| c.confirmed) else { return Ok(false) };
        let secret = self.secret(account, &c.secret_sealed)?;
        match check_totp(&secret, code, self.now_secs(), c.last_step) {
            Some(step) => Ok(store.use_totp_step(account, step).await?),
            None => Ok(false),
        }
    }

    /// Checks a second factor: a TOTP code (each step once) or a recovery
    /// code (each once). Returns the `amr` value of what was used.
    pub(crate) async fn check_second_factor(
        &self,
        account: AccountId,
        code: &str,
    ) -> Result<Option<&'static str>, AppError> {
        if looks_like_recovery_code(code) {
            let used = self.app.store().use_recovery_code(account, &recovery_code_hash(code), self.app.now()).await?;
            return Ok(used.then_some("rec"));
        }
        Ok(self.check_totp(account, code).await?.then_some("otp"))
    }

    /// Removes the authenticator after re-authentication (the recovery
    /// codes too, if no passkey remains).
    pub async fn remove_totp(&self, account: &Account, proof: &str) -> Result<(), AppError> {
        self.reauthenticate(account, proof).await?;
        if !self.app.store().remove_totp(account.id).await? {
            return Err(AppError::NotFound);
        }
        self.forget_codes_without_factors(account).await
    }

    /// A new set of recovery codes (the old ones stop working), after
    /// re-authentication.
    pub async fn regenerate_recovery_codes(&self, account: &Account, proof: &str) -> Result<Vec<String>, AppError> {
        if !self.has_second_factor(account).await? {
            return Err(AppError::NotFound);
        }
        self.reauthenticate(account, proof).await?;
        let (codes, hashes) = self.new_recovery_codes();
        self.app.store().replace_recovery_codes(account.id, &hashes).await?;
        Ok(codes)
    }
}
