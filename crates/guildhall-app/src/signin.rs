//! Signing in with email and password (SPEC §2), throttled per account and
//! per source address. Every failure looks the same from outside: the same
//! message, and a full Argon2 verification even when the account is missing.
//!
//! External identity providers (`crate::external`) start sessions through
//! `start_session` too; second factors will plug in there.

use crate::App;
use crate::error::AppError;
use crate::mfa::Ceremony;
use crate::ports::{AccountLookup, NewSession};
use guildhall_core::accounts::{Account, AccountStatus, Email};
use guildhall_core::tokens::SecretToken;
use guildhall_core::{AccountId, SessionId};

/// Where a request came from, for throttling and the session list.
#[derive(Clone, Debug, Default)]
pub struct ClientInfo {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// A new session: the cookie value (shown once) and who it belongs to.
#[derive(Debug)]
pub struct SignedIn {
    pub token: SecretToken,
    pub session: SessionId,
    pub account: Account,
}

/// A first factor that passed (a password, an external identity).
#[derive(Debug)]
pub struct FirstFactor {
    pub account: Account,
    pub amr: Vec<String>,
}

/// After the first factor: signed in, or a second factor is needed.
#[derive(Debug)]
pub enum Outcome {
    SignedIn(SignedIn),
    SecondFactor(FirstFactor),
}

/// A sign-in waiting for its second factor, kept by the browser in a cookie
/// sealed under the master key, like the upstream flow.
#[derive(serde::Serialize, serde::Deserialize)]
struct Held {
    account: uuid::Uuid,
    amr: Vec<String>,
    return_to: String,
    client_id: String,
}

const HELD_AAD: &[u8] = b"guildhall second factor v1";

/// How long the second-factor step may take.
const HELD_TTL: std::time::Duration = std::time::Duration::from_secs(300);

/// A completed two-step sign-in and where it was headed.
pub struct SecondFactorDone {
    pub signed_in: SignedIn,
    pub return_to: String,
    pub client_id: String,
}

/// The outcome as a metric label.
pub fn outcome_label(r: &Result<Outcome, AppError>) -> &'static str {
    match r {
        Ok(Outcome::SignedIn(_)) => "success",
        Ok(Outcome::SecondFactor(_)) => "second_factor",
        Err(AppError::InvalidCredentials) => "invalid_credentials",
        Err(AppError::Throttled { .. }) => "throttled",
        Err(AppError::AccountDeactivated) => "deactivated",
        Err(AppError::Invalid(_)) => "invalid_input",
        Err(AppError::Forbidden(_)) => "refused",
        Err(_) => "error",
    }
}

/// A password attempt in progress (see `SignInService::begin_attempt`).
pub(crate) struct Attempt {
    account_key: String,
    address_key: Option<String>,
}

pub struct SignInService<'a> {
    app: &'a App,
}

impl<'a> SignInService<'a> {
    pub(crate) fn new(app: &'a App) -> Self {
        Self { app }
    }

    pub async fn with_password(&self, email: &str, password: &str, client: &ClientInfo) -> Result<Outcome, AppError> {
        let email = Email::parse(email).map_err(|e| AppError::invalid("email", e))?;
        let found = self.app.store().find_account(AccountLookup::Email(&email)).await?;
        let owner = found.as_ref().map(|f| &f.account);
        let attempt = self.begin_attempt(format!("signin:account:{}", email.normalized()), client, owner).await?;
        let hash = found.as_ref().and_then(|f| f.password_hash.as_deref());
        let verified = self.verify_attempt(&attempt, password, hash).await?;
        let Some(found) = found.filter(|_| verified) else { return Err(AppError::InvalidCredentials) };
        if found.account.status != AccountStatus::Active {
            return Err(AppError::AccountDeactivated);
        }
        self.attempt_succeeded(attempt).await?;
        if self.app.external().password_refused(&found.account).await? {
            return Err(AppError::Forbidden(
                "Your organization requires signing in through its identity provider.".into(),
            ));
        }
        self.first_factor_passed(found.account, vec!["pwd".to_owned()], client).await
    }

    /// After a first factor: a session, unless the account has a second
    /// factor, which is then asked for.
    pub(crate) async fn first_factor_passed(
        &self,
        account: Account,
        amr: Vec<String>,
        client: &ClientInfo,
    ) -> Result<Outcome, AppError> {
        if self.app.mfa().has_second_factor(&account).await? {
            return Ok(Outcome::SecondFactor(FirstFactor { account, amr }));
        }
        Ok(Outcome::SignedIn(self.start_session(account, amr, client).await?))
    }

    /// Seals a sign-in waiting for its second factor, for a cookie.
    pub fn hold(&self, first: &FirstFactor, return_to: &str, client_id: &str) -> Result<String, AppError> {
        let held = Held {
            account: first.account.id.0,
            amr: first.amr.clone(),
            return_to: return_to.to_owned(),
            client_id: client_id.to_owned(),
        };
        self.app.seal_for(HELD_AAD, held, HELD_TTL)
    }

    fn open_held(&self, held: &str) -> Result<Held, AppError> {
        self.app.open_for(HELD_AAD, held).ok_or(AppError::InvalidLink)
    }

    /// Completes a held sign-in with a TOTP code or a recovery code,
    /// throttled per account and address like passwords.
    pub async fn second_factor(
        &self,
        held: &str,
        code: &str,
        client: &ClientInfo,
    ) -> Result<SecondFactorDone, AppError> {
        let held = self.open_held(held)?;
        let account = AccountId::from_uuid(held.account);
        let owner = self.app.store().find_account(AccountLookup::Id(account)).await?.map(|f| f.account);
        let attempt = self.begin_attempt(format!("mfa:account:{}", held.account), client, owner.as_ref()).await?;
        let Some(method) = self.app.mfa().check_second_factor(account, code).await? else {
            self.attempt_failed(&attempt).await?;
            return Err(AppError::InvalidCredentials);
        };
        self.attempt_succeeded(attempt).await?;
        self.complete_held(held, method, client).await
    }

    /// The passkey ceremony for a held sign-in's second step.
    pub async fn second_factor_passkey_options(&self, held: &str) -> Result<Ceremony, AppError> {
        let held = self.open_held(held)?;
        self.app.mfa().begin_passkey_assertion(AccountId::from_uuid(held.account)).await
    }

    /// Completes a held sign-in with a passkey.
    pub async fn second_factor_passkey(
        &self,
        held: &str,
        state: &str,
        credential: &str,
        client: &ClientInfo,
    ) -> Result<SecondFactorDone, AppError> {
        let held = self.open_held(held)?;
        self.app.mfa().finish_passkey_assertion(AccountId::from_uuid(held.account), state, credential).await?;
        self.complete_held(held, "hwk", client).await
    }

    async fn complete_held(&self, held: Held, method: &str, client: &ClientInfo) -> Result<SecondFactorDone, AppError> {
        let found = self
            .app
            .store()
            .find_account(AccountLookup::Id(AccountId::from_uuid(held.account)))
            .await?
            .ok_or(AppError::InvalidLink)?;
        if found.account.status != AccountStatus::Active {
            return Err(AppError::AccountDeactivated);
        }
        let mut amr = held.amr;
        amr.extend([method.to_owned(), "mfa".to_owned()]);
        let signed_in = self.start_session(found.account, amr, client).await?;
        Ok(SecondFactorDone { signed_in, return_to: held.return_to, client_id: held.client_id })
    }

    /// The passwordless ceremony: any of this site's discoverable passkeys.
    pub fn passkey_options(&self) -> Result<Ceremony, AppError> {
        self.app.mfa().begin_discoverable()
    }

    /// Signs in with a passkey alone: possession of the key plus the
    /// authenticator's user verification, so two factors (`amr` hwk + mfa).
    pub async fn with_passkey(&self, state: &str, credential: &str, client: &ClientInfo) -> Result<SignedIn, AppError> {
        let asserted = self.app.mfa().finish_discoverable(state, credential).await?;
        let found =
            self.app.store().find_account(AccountLookup::Id(asserted.account)).await?.ok_or(AppError::NotFound)?;
        if found.account.status != AccountStatus::Active {
            return Err(AppError::AccountDeactivated);
        }
        if self.app.external().password_refused(&found.account).await? {
            return Err(AppError::Forbidden(
                "Your organization requires signing in through its identity provider.".into(),
            ));
        }
        self.start_session(found.account, vec!["hwk".to_owned(), "mfa".to_owned()], client).await
    }

    /// Starts a password attempt, for every kind of sign-in (global
    /// accounts, site customers). It counts against `account_key` before the
    /// password is checked, in one atomic step, so parallel guesses cannot
    /// all pass a check made before any of them failed; while that key or
    /// the client's address is locked out, it is refused. The attempt that
    /// locks the key tells `owner` by email (the answer to the client is the
    /// same whether or not there is an owner).
    pub(crate) async fn begin_attempt(
        &self,
        account_key: String,
        client: &ClientInfo,
        owner: Option<&Account>,
    ) -> Result<Attempt, AppError> {
        let store = self.app.store();
        let now = self.app.now();
        let policy = self.app.settings().signin_account_throttle;
        let state = store.throttle_hit(&account_key, &policy, now).await?;
        if state.hits == policy.max_hits + 1
            && let Some(owner) = owner
        {
            let minutes = state.locked(now).unwrap_or(policy.lockout).as_secs().div_ceil(60);
            let second_step = account_key.starts_with("mfa:");
            let mail =
                crate::mails::account_locked(&self.app.settings().public_url, owner, minutes, client, second_step);
            if let Err(e) = self.app.deps.mailer.send(mail).await {
                tracing::error!(error = %e, "the lockout notice could not be queued");
            }
        }
        let address_key = client.ip.as_ref().map(|ip| format!("signin:address:{ip}"));
        let mut locked = (state.hits > policy.max_hits).then(|| state.locked(now).unwrap_or_default());
        if let Some(key) = &address_key {
            locked = locked.max(store.throttle_state(key, now).await?.locked(now));
        }
        match locked {
            Some(retry_after) => Err(AppError::Throttled { retry_after }),
            None => Ok(Attempt { account_key, address_key }),
        }
    }

    /// Checks the password against `hash` (against a dummy when there is no
    /// account, so an unknown email takes as long); a failure counts
    /// against the client's address.
    pub(crate) async fn verify_attempt(
        &self,
        attempt: &Attempt,
        password: &str,
        hash: Option<&str>,
    ) -> Result<bool, AppError> {
        let verified = match hash {
            Some(hash) => self.app.passwords().verify(password, hash).await?,
            None => {
                self.app.passwords().verify_dummy(password).await?;
                false
            }
        };
        if !verified {
            self.attempt_failed(attempt).await?;
        }
        Ok(verified)
    }

    /// A failed attempt also counts against the client's address.
    pub(crate) async fn attempt_failed(&self, attempt: &Attempt) -> Result<(), AppError> {
        if let Some(key) = &attempt.address_key {
            let now = self.app.now();
            self.app.store().throttle_hit(key, &self.app.settings().signin_address_throttle, now).await?;
        }
        Ok(())
    }

    /// A successful sign-in forgets the attempt and earlier failures.
    pub(crate) async fn attempt_succeeded(&self, attempt: Attempt) -> Result<(), AppError> {
        Ok(self.app.store().throttle_clear(&attempt.account_key).await?)
    }

    pub(crate) async fn start_session(
        &self,
        account: Account,
        amr: Vec<String>,
        client: &ClientInfo,
    ) -> Result<SignedIn, AppError> {
        let token = self.app.new_token();
        let now = self.app.now();
        let new = NewSession {
            id: SessionId::from_uuid(self.app.new_uuid()),
            account: account.id,
            token_hash: token.hash(),
            now,
            expires_at: now.plus(self.app.settings().session_ttl),
            amr,
            ip: client.ip.clone(),
            user_agent: client.user_agent.as_ref().map(|ua| ua.chars().take(256).collect()),
        };
        let session = self.app.store().create_session(&new).await?;
        Ok(SignedIn { token, session: session.id, account })
    }
}
