//! Personal access tokens: created by their owner (or the operator), shown
//! once, stored hashed, listed and revocable.

use crate::App;
use crate::error::AppError;
use crate::ports::{AccessToken, NewAccessToken};
use guildhall_core::AccessTokenId;
use guildhall_core::accounts::Account;
use guildhall_core::scopes::Scope;
use guildhall_core::tokens::SecretToken;

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
                    format!("Unknown scope {s:?}; use workspaces:read, workspaces:write or workspaces:admin."),
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
        if self.app.store().revoke_access_token(account.id, id).await? { Ok(()) } else { Err(AppError::NotFound) }
    }

    /// The account and scopes behind a bearer token, if it is live.
    pub async fn authenticate(&self, bearer: &str) -> Result<Option<(Account, Vec<Scope>)>, AppError> {
        let Some(secret) = SecretToken::parse(bearer) else { return Ok(None) };
        let hash = secret.hash();
        let store = self.app.store();
        let now = self.app.now();
        let found =
            self.app.reads.tokens.get(&hash.0, || async { Ok(store.access_token_by_hash(&hash, now).await?) }).await?;
        Ok(found.map(|(t, account)| (account, t.scopes.iter().filter_map(|s| Scope::parse(s)).collect())))
    }
}
