//! Personal access tokens: created by their owner (or the operator), shown
//! once, stored hashed, listed and revocable.

use crate::App;
use crate::caches::CachedToken;
use crate::error::AppError;
use crate::ports::{AccessToken, NewAccessToken};
use guildhall_core::accounts::Account;
use guildhall_core::scopes::Scope;
use guildhall_core::tokens::SecretToken;
use guildhall_core::{AccessTokenId, Timestamp};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// `last_used_at` is kept to the minute.
const TOUCH_AFTER_MS: i64 = 60_000;

pub struct TokenService<'a> {
    app: &'a App,
}

impl<'a> TokenService<'a> {
    pub(crate) fn new(app: &'a App) -> Self {
        Self { app }
    }

    /// Creates a token; the secret is returned once and never stored.
    pub async fn create(
        &self,
        account: &Account,
        name: &str,
        scopes: &[String],
    ) -> Result<(AccessToken, SecretToken), AppError> {
        let mut errors = crate::FieldErrors::default();
        let name = crate::workspaces::parse_name("name", name, &mut errors);
        let mut parsed = Vec::new();
        for s in scopes {
            match Scope::parse(s) {
                Some(scope) if !parsed.contains(&scope) => parsed.push(scope),
                Some(_) => {}
                None => errors.add(
                    "scopes",
                    format!("Unknown scope {s:?}; use workspaces:read, workspaces:write, workspaces:admin, orgs:read, orgs:admin or scim."),
                ),
            }
        }
        if parsed.is_empty() && errors.get("scopes").is_none() {
            errors.add("scopes", "Choose at least one scope.");
        }
        errors.into_result()?;
        let Some(name) = name else { return Err(AppError::invalid("name", "Enter a name.")) };
        let secret = self.app.new_token();
        let new = NewAccessToken {
            id: AccessTokenId::from_uuid(self.app.new_uuid()),
            account: account.id,
            name,
            token_hash: secret.hash(),
            scopes: parsed.iter().map(|s| s.as_str().to_owned()).collect(),
            now: self.app.now(),
            expires_at: None,
        };
        let token = self.app.store().create_access_token(&new).await?;
        Ok((token, secret))
    }

    pub async fn list(&self, account: &Account) -> Result<Vec<AccessToken>, AppError> {
        Ok(self.app.store().access_tokens(account.id).await?)
    }

    pub async fn revoke(&self, account: &Account, id: &str) -> Result<(), AppError> {
        let id: AccessTokenId = id.parse().map_err(|_| AppError::NotFound)?;
        if self.app.written(self.app.store().revoke_access_token(account.id, id).await).await? {
            Ok(())
        } else {
            Err(AppError::NotFound)
        }
    }

    /// The account and scopes behind a bearer token, if it is live: from
    /// memory while the change feed is followed (ADR 0006), else the store.
    pub async fn authenticate(&self, bearer: &str) -> Result<Option<(Account, Vec<Scope>)>, AppError> {
        let Some(secret) = SecretToken::parse(bearer) else {
            // Not a personal access token: perhaps a product's OIDC one.
            return self.app.oauth().api_access(bearer).await;
        };
        let hash = secret.hash();
        let now = self.app.now();
        let caches = &self.app.caches;
        let cached = if caches.fresh() { caches.token(&hash.0) } else { None };
        let entry = match cached {
            Some(entry) => entry,
            None => {
                let epoch = caches.epoch();
                let store = self.app.store();
                let found = self
                    .app
                    .reads
                    .tokens
                    .get(&hash.0, || async {
                        Ok(store.access_token_by_hash(&hash, now).await?.map(|(token, account)| {
                            let last_used_ms = token.last_used_at.map_or(i64::MIN, Timestamp::as_millis);
                            Arc::new(CachedToken { token, account, last_used_ms: AtomicI64::new(last_used_ms) })
                        }))
                    })
                    .await?;
                let Some(entry) = found else { return Ok(None) };
                caches.put_token(hash.0, entry.clone(), epoch);
                entry
            }
        };
        if entry.token.expires_at.is_some_and(|at| at <= now) {
            return Ok(None);
        }
        self.touch(&entry, now).await?;
        Ok(Some((entry.account.clone(), entry.token.scopes.iter().filter_map(|s| Scope::parse(s)).collect())))
    }

    /// Records a use at most once a minute, by one request of many.
    async fn touch(&self, entry: &CachedToken, now: Timestamp) -> Result<(), AppError> {
        let last = entry.last_used_ms.load(Ordering::Relaxed);
        if now.as_millis().saturating_sub(last) > TOUCH_AFTER_MS
            && entry.last_used_ms.compare_exchange(last, now.as_millis(), Ordering::AcqRel, Ordering::Relaxed).is_ok()
        {
            self.app.store().touch_access_token(entry.token.id, now).await?;
        }
        Ok(())
    }
}
