//! Account use cases: sign-up, email verification, password reset and change,
//! and the operator's account commands.

use crate::App;
use crate::error::{AppError, FieldErrors};
use crate::mails;
use crate::ports::{AccountLookup, EmailTokenPurpose, Identity, NewAccount, NewEmailToken, StoreError};
use guildhall_core::accounts::{Account, AccountStatus, DisplayName, Email, Username, check_password};
use guildhall_core::identities::{Profile, username_candidate};
use guildhall_core::tokens::SecretToken;
use guildhall_core::{AccountId, SessionId};

/// What a person typed on the sign-up form.
pub struct SignUp<'a> {
    pub email: &'a str,
    pub username: &'a str,
    pub display_name: &'a str,
    pub password: &'a str,
}

/// What the operator asks for with `guildhall admin account create`.
pub struct AdminCreate<'a> {
    pub email: &'a str,
    pub username: &'a str,
    pub display_name: Option<&'a str>,
    pub password: &'a str,
    pub verified: bool,
}

pub struct AccountService<'a> {
    app: &'a App,
}

struct ParsedSignUp {
    email: Email,
    username: Username,
    display_name: DisplayName,
}

impl<'a> AccountService<'a> {
    pub(crate) fn new(app: &'a App) -> Self {
        Self { app }
    }

    fn parse(&self, email: &str, username: &str, display_name: &str, password: &str) -> Result<ParsedSignUp, AppError> {
        let mut errors = FieldErrors::default();
        let email = Email::parse(email).map_err(|e| errors.add("email", e)).ok();
        let username = Username::parse(username).map_err(|e| errors.add("username", e)).ok();
        let display_name = DisplayName::parse(display_name).map_err(|e| errors.add("display_name", e)).ok();
        if let Err(e) = check_password(password, &self.app.settings().password_policy) {
            errors.add("password", e);
        }
        match (email, username, display_name) {
            (Some(email), Some(username), Some(display_name)) if errors.is_empty() => {
                Ok(ParsedSignUp { email, username, display_name })
            }
            _ => Err(AppError::Invalid(errors)),
        }
    }

    /// Sign-up. On success a verification link is mailed. If the email already
    /// has an account, that account's owner is told instead and the caller
    /// sees the same outcome, so the form never reveals which emails exist.
    pub async fn sign_up(&self, form: SignUp<'_>) -> Result<(), AppError> {
        let p = self.parse(form.email, form.username, form.display_name, form.password)?;
        // Hash before looking the email up, so both outcomes cost the same time.
        let hash = self.app.passwords().hash(form.password).await?;
        let store = self.app.store();
        if let Some(existing) = store.find_account(AccountLookup::Email(&p.email)).await? {
            return self
                .send(mails::already_registered(&self.app.settings().public_url, &p.email, &existing.account))
                .await;
        }
        let token = self.app.new_token();
        let new = NewAccount {
            id: AccountId::from_uuid(self.app.new_uuid()),
            email: p.email.clone(),
            username: p.username,
            display_name: p.display_name,
            password_hash: Some(hash),
            email_verified: false,
            is_operator: false,
            must_change_password: false,
            identity: None,
            now: self.app.now(),
        };
        let verification = self.verification_token(&token);
        match store.create_account(&new, Some(&verification)).await {
            Ok(account) => self.send_verification(&account, &token).await,
            Err(StoreError::Conflict("username")) => {
                Err(AppError::invalid("username", "That username is taken; choose another."))
            }
            Err(StoreError::Conflict(_)) => {
                // Lost a race with another sign-up for the same email.
                match store.find_account(AccountLookup::Email(&p.email)).await? {
                    Some(existing) => {
                        self.send(mails::already_registered(
                            &self.app.settings().public_url,
                            &p.email,
                            &existing.account,
                        ))
                        .await
                    }
                    None => Err(AppError::Conflict("email".into())),
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    /// A new account for an external identity (connected in the same
    /// transaction), without a password. Its username comes from the
    /// provider or the address, with a number added while taken; an
    /// unverified address gets a verification link.
    pub(crate) async fn create_from_identity(
        &self,
        email: &Email,
        verified: bool,
        provider: &str,
        profile: &Profile,
        identity: impl Fn(AccountId) -> Identity,
    ) -> Result<Account, AppError> {
        let base = username_candidate(profile);
        let local = email.as_str().split('@').next().unwrap_or_default();
        let display_name = [profile.name.as_deref(), base.as_ref().map(Username::as_str), Some(local)]
            .into_iter()
            .flatten()
            .find_map(|n| DisplayName::parse(n).ok())
            .ok_or_else(|| AppError::invalid("display_name", "No usable name came from the provider."))?;
        let store = self.app.store();
        for attempt in 0..6 {
            let username = match (&base, attempt) {
                (Some(base), 0) => base.clone(),
                (base, _) => {
                    let mut n = [0u8; 2];
                    self.app.deps.rng.fill(&mut n);
                    let stem = base.as_ref().map_or("user", |b| &b.as_str()[..b.as_str().len().min(32)]);
                    let candidate = format!("{stem}-{:04}", u16::from_le_bytes(n) % 10_000);
                    Username::parse(&candidate).map_err(|e| AppError::internal_message(e.to_string()))?
                }
            };
            let id = AccountId::from_uuid(self.app.new_uuid());
            let new = NewAccount {
                id,
                email: email.clone(),
                username,
                display_name: display_name.clone(),
                password_hash: None,
                email_verified: verified,
                is_operator: false,
                must_change_password: false,
                identity: Some(identity(id)),
                now: self.app.now(),
            };
            let token = self.app.new_token();
            let verification = (!verified).then(|| self.verification_token(&token));
            match store.create_account(&new, verification.as_ref()).await {
                Ok(account) => {
                    if !verified {
                        let s = self.app.settings();
                        let hours = s.verification_ttl.as_secs() / 3600;
                        let mail = mails::verify_email_external(&s.public_url, &account, &token, hours, provider);
                        self.send(mail).await?;
                    }
                    return Ok(account);
                }
                Err(StoreError::Conflict("username")) => continue,
                Err(StoreError::Conflict("email")) => {
                    return Err(AppError::Conflict("An account with this email address already exists.".into()));
                }
                Err(StoreError::Conflict("identity")) => {
                    return Err(AppError::Conflict(
                        "This identity was just connected to an account; sign in again.".into(),
                    ));
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(AppError::internal_message("no free username after six tries"))
    }

    /// Whether the account can sign in with a password.
    pub async fn has_password(&self, account: &Account) -> Result<bool, AppError> {
        let found = self.app.store().find_account(AccountLookup::Id(account.id)).await?;
        Ok(found.is_some_and(|f| f.password_hash.is_some()))
    }

    fn verification_token(&self, token: &SecretToken) -> NewEmailToken {
        NewEmailToken {
            hash: token.hash(),
            purpose: EmailTokenPurpose::VerifyEmail,
            expires_at: self.app.now().plus(self.app.settings().verification_ttl),
        }
    }

    async fn send_verification(&self, account: &Account, token: &SecretToken) -> Result<(), AppError> {
        let s = self.app.settings();
        self.send(mails::verify_email(&s.public_url, account, token, s.verification_ttl.as_secs() / 3600)).await
    }

    async fn send(&self, mail: crate::ports::OutgoingMail) -> Result<(), AppError> {
        self.app.deps.mailer.send(mail).await.map_err(AppError::internal)
    }

    /// Consumes a verification link.
    pub async fn verify_email(&self, token: &str) -> Result<Account, AppError> {
        let token = SecretToken::parse(token).ok_or(AppError::InvalidLink)?;
        self.app
            .written(self.app.store().verify_email(&token.hash(), self.app.now()).await)
            .await?
            .ok_or(AppError::InvalidLink)
    }

    /// Sends a fresh verification link, which kills the previous one. Rate
    /// limited per account.
    pub async fn resend_verification(&self, account: &Account) -> Result<(), AppError> {
        if account.email_verified {
            return Err(AppError::Conflict("This email address is already verified.".into()));
        }
        let key = format!("resend:{}", account.id);
        let now = self.app.now();
        let store = self.app.store();
        // Counted before acting, atomically, so parallel requests cannot all
        // slip under the limit.
        let policy = self.app.settings().resend_throttle;
        let state = store.throttle_hit(&key, &policy, now).await?;
        if state.hits > policy.max_hits {
            return Err(AppError::Throttled { retry_after: state.locked(now).unwrap_or_default() });
        }
        let token = self.app.new_token();
        store.issue_email_token(account.id, &self.verification_token(&token), now).await?;
        self.send_verification(account, &token).await
    }

    /// Mails a reset link if the address has an account. The caller always
    /// shows the same answer. Rate limited, silently, per email address and
    /// per client address (so one client cannot mail many people).
    pub async fn forgot_password(&self, email: &str, client: &crate::signin::ClientInfo) -> Result<(), AppError> {
        let email = Email::parse(email).map_err(|e| AppError::invalid("email", e))?;
        let store = self.app.store();
        let now = self.app.now();
        let s = self.app.settings();
        let mut keys = vec![(format!("reset:{}", email.normalized()), s.reset_throttle)];
        keys.extend(client.ip.as_ref().map(|ip| (format!("reset:address:{ip}"), s.signin_address_throttle)));
        for (key, policy) in keys {
            if store.throttle_hit(&key, &policy, now).await?.hits > policy.max_hits {
                tracing::info!("password reset mail suppressed by rate limit");
                return Ok(());
            }
        }
        let Some(found) = store.find_account(AccountLookup::Email(&email)).await? else {
            return Ok(());
        };
        if found.account.status != AccountStatus::Active {
            return Ok(());
        }
        let token = self.app.new_token();
        let s = self.app.settings();
        let new = NewEmailToken {
            hash: token.hash(),
            purpose: EmailTokenPurpose::ResetPassword,
            expires_at: now.plus(s.reset_ttl),
        };
        store.issue_email_token(found.account.id, &new, now).await?;
        self.send(mails::reset_password(&s.public_url, &found.account, &token, s.reset_ttl.as_secs() / 60)).await
    }

    /// Whether a reset link is still usable (to show the form or an error).
    pub async fn reset_link_valid(&self, token: &str) -> Result<bool, AppError> {
        let Some(token) = SecretToken::parse(token) else { return Ok(false) };
        Ok(self.app.store().email_token_valid(&token.hash(), EmailTokenPurpose::ResetPassword, self.app.now()).await?)
    }

    /// Consumes a reset link and sets the new password; every session of the
    /// account except `keep` ends.
    pub async fn reset_password(
        &self,
        token: &str,
        password: &str,
        keep: Option<SessionId>,
    ) -> Result<Account, AppError> {
        let token = SecretToken::parse(token).ok_or(AppError::InvalidLink)?;
        check_password(password, &self.app.settings().password_policy).map_err(|e| AppError::invalid("password", e))?;
        if !self.app.store().email_token_valid(&token.hash(), EmailTokenPurpose::ResetPassword, self.app.now()).await? {
            return Err(AppError::InvalidLink);
        }
        let hash = self.app.passwords().hash(password).await?;
        self.app
            .written(self.app.store().reset_password(&token.hash(), &hash, keep, self.app.now()).await)
            .await?
            .ok_or(AppError::InvalidLink)
    }

    /// A signed-in person changes their password; other sessions end.
    pub async fn change_password(
        &self,
        account: &Account,
        current: &str,
        new: &str,
        keep: SessionId,
    ) -> Result<(), AppError> {
        let store = self.app.store();
        let found = store.find_account(AccountLookup::Id(account.id)).await?.ok_or(AppError::NotFound)?;
        // Throttled like sign-in, so a borrowed session cannot guess it.
        let signin = self.app.signin();
        let key = format!("signin:account:{}", account.email.normalized());
        let attempt = signin.begin_attempt(key, &crate::signin::ClientInfo::default(), Some(account)).await?;
        if !signin.verify_attempt(&attempt, current, found.password_hash.as_deref()).await? {
            return Err(AppError::invalid("current_password", "That is not your current password."));
        }
        signin.attempt_succeeded(attempt).await?;
        check_password(new, &self.app.settings().password_policy).map_err(|e| AppError::invalid("password", e))?;
        if new == current {
            return Err(AppError::invalid("password", "Choose a password different from the current one."));
        }
        let hash = self.app.passwords().hash(new).await?;
        Ok(self.app.written(store.set_password(account.id, &hash, Some(keep), self.app.now()).await).await?)
    }

    /// The operator creates an account directly (no verification mail).
    pub async fn admin_create(&self, req: AdminCreate<'_>) -> Result<Account, AppError> {
        let display = req.display_name.unwrap_or(req.username);
        let p = self.parse(req.email, req.username, display, req.password)?;
        let hash = self.app.passwords().hash(req.password).await?;
        let new = NewAccount {
            id: AccountId::from_uuid(self.app.new_uuid()),
            email: p.email,
            username: p.username,
            display_name: p.display_name,
            password_hash: Some(hash),
            email_verified: req.verified,
            is_operator: false,
            must_change_password: false,
            identity: None,
            now: self.app.now(),
        };
        self.app.store().create_account(&new, None).await.map_err(|e| match e {
            StoreError::Conflict(field) => AppError::invalid(field, format!("That {field} is taken.")),
            e => e.into(),
        })
    }

    pub async fn by_id(&self, id: guildhall_core::AccountId) -> Result<Option<Account>, AppError> {
        Ok(self.app.store().find_account(AccountLookup::Id(id)).await?.map(|f| f.account))
    }

    pub async fn by_username(&self, username: &str) -> Result<Account, AppError> {
        let username = Username::parse(username).map_err(|_| AppError::NotFound)?;
        self.app
            .store()
            .find_account(AccountLookup::Username(&username))
            .await?
            .map(|f| f.account)
            .ok_or(AppError::NotFound)
    }

    /// Deactivating ends every session; a deactivated account cannot sign in.
    pub async fn set_status(&self, username: &str, status: AccountStatus) -> Result<Account, AppError> {
        let account = self.by_username(username).await?;
        self.app
            .written(self.app.store().set_account_status(account.id, status, self.app.now()).await)
            .await?
            .ok_or(AppError::NotFound)
    }

    /// On a fresh database, creates the operator account with a random
    /// one-time password and returns both; `None` if an operator exists.
    pub async fn ensure_operator(&self, email: &str) -> Result<Option<(Account, String)>, AppError> {
        let store = self.app.store();
        if store.operator_exists().await? {
            return Ok(None);
        }
        let password = self.app.new_token().expose()[..24].to_owned();
        let hash = self.app.passwords().hash(&password).await?;
        let new = NewAccount {
            id: AccountId::from_uuid(self.app.new_uuid()),
            email: Email::parse(email).map_err(|e| AppError::invalid("email", e))?,
            username: Username::parse("operator").map_err(|e| AppError::invalid("username", e))?,
            display_name: DisplayName::parse("Operator").map_err(|e| AppError::invalid("display_name", e))?,
            password_hash: Some(hash),
            email_verified: true,
            is_operator: true,
            must_change_password: true,
            identity: None,
            now: self.app.now(),
        };
        match store.create_account(&new, None).await {
            Ok(account) => Ok(Some((account, password))),
            // Another node created it first.
            Err(StoreError::Conflict(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}
