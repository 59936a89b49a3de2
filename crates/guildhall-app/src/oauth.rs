//! Products sign people in: the OAuth 2.0 / OpenID Connect provider's use
//! cases (RFC 6749, RFC 7636, OpenID Connect Core 1.0). The HTTP surface
//! (`guildhall-http::oauth`) parses requests and renders `OAuthFailure`s as
//! RFC 6749 §5.2 bodies or §4.1.2.1 redirects.

mod keys;
mod tokens;

pub use keys::MasterKey;
use tokens::PersonGrant;
pub use tokens::{ACR_MFA, ACR_ONE_FACTOR, AccessClaims, TokenResponse, Unverified, verify_access_token};

use crate::App;
use crate::error::AppError;
use crate::ports::{AuthorizationCode, CodeUse, Product, RefreshUse, Session};
use guildhall_core::accounts::{Account, AccountStatus};
use guildhall_core::oauth::{CodeChallenge, GrantType, OidcScope, RedirectUri, Scopes};
use guildhall_core::tokens::SecretToken;
use guildhall_core::{GrantId, ProductId, Timestamp};
use std::sync::{Arc, RwLock};

/// A protocol error (`error` code per RFC 6749 / OIDC Core §3.1.2.6), or a
/// failure of ours.
#[derive(Debug)]
pub enum OAuthFailure {
    Protocol { error: &'static str, description: String },
    App(AppError),
}

impl OAuthFailure {
    pub fn new(error: &'static str, description: impl Into<String>) -> Self {
        Self::Protocol { error, description: description.into() }
    }
}

impl From<AppError> for OAuthFailure {
    fn from(e: AppError) -> Self {
        Self::App(e)
    }
}

impl From<crate::ports::StoreError> for OAuthFailure {
    fn from(e: crate::ports::StoreError) -> Self {
        Self::App(e.into())
    }
}

/// What the operator (or a developer) registers.
pub struct ProductInput<'a> {
    pub name: &'a str,
    pub redirect_uris: &'a [String],
    pub public: bool,
    pub first_party: bool,
    pub grant_types: &'a [String],
    pub scopes: &'a [String],
    pub homepage: Option<&'a str>,
    pub owner: Option<guildhall_core::AccountId>,
}

/// A parsed authorization request whose client and redirect URI are known
/// to be registered: from here on, errors may be sent to `redirect_uri`.
#[derive(Clone, Debug)]
pub struct AuthorizeRequest {
    pub product: Product,
    pub redirect_uri: String,
    pub scopes: Scopes,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub challenge: Option<CodeChallenge>,
    pub prompt: Option<String>,
    pub max_age: Option<u64>,
}

/// What the authorization endpoint does next.
pub enum Authorize {
    /// Send the browser back to the product with this code.
    Code(SecretToken),
    /// The person must sign in (again) first.
    SignIn,
    /// A third-party product asks for scopes the person has not allowed it:
    /// show the consent screen.
    Consent,
}

/// A checked RP-initiated logout (OIDC RP-Initiated Logout 1.0).
#[derive(Clone, Debug, Default)]
pub struct EndSession {
    /// Where to send the browser afterwards: a URI registered for the product.
    pub redirect: Option<String>,
    /// The account a valid `id_token_hint` names.
    pub hint_account: Option<guildhall_core::AccountId>,
}

/// The signing keys in memory (newest first): one signs, all verify.
#[derive(Default)]
pub(crate) struct KeyRing {
    ring: RwLock<Vec<Arc<keys::LiveKey>>>,
    /// Access tokens whose signature verified, by SHA-256 of the token.
    verified: RwLock<std::collections::HashMap<[u8; 32], Arc<AccessClaims>>>,
    /// When an unknown key id last made us reload (milliseconds).
    last_reload: std::sync::atomic::AtomicI64,
}

impl KeyRing {
    pub(crate) fn snapshot(&self) -> Vec<Arc<keys::LiveKey>> {
        self.ring.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    fn verified(&self, digest: &[u8; 32]) -> Option<Arc<AccessClaims>> {
        self.verified.read().unwrap_or_else(std::sync::PoisonError::into_inner).get(digest).cloned()
    }

    fn remember(&self, digest: [u8; 32], claims: Arc<AccessClaims>) {
        let mut map = self.verified.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() >= 100_000 {
            map.clear();
        }
        map.insert(digest, claims);
    }

    /// At most one reload a second for unknown key ids (they may be forged).
    fn may_reload(&self, now: Timestamp) -> bool {
        use std::sync::atomic::Ordering;
        let last = self.last_reload.load(Ordering::Relaxed);
        now.as_millis() - last >= 1000
            && self.last_reload.compare_exchange(last, now.as_millis(), Ordering::AcqRel, Ordering::Relaxed).is_ok()
    }
}

pub struct OAuthService<'a> {
    app: &'a App,
}

fn has_grant(p: &Product, g: GrantType) -> bool {
    p.grant_types.iter().any(|x| x == g.as_str())
}

impl<'a> OAuthService<'a> {
    pub(crate) fn new(app: &'a App) -> Self {
        Self { app }
    }

    /// The current time (for the HTTP layer's `login_after`).
    pub fn now(&self) -> Timestamp {
        self.app.now()
    }

    /// The issuer identifier: the public URL.
    pub fn issuer(&self) -> &str {
        &self.app.settings().public_url
    }

    /// Registers a product. The client secret of a confidential product is
    /// returned once; only its SHA-256 is kept (it is 256 random bits, so a
    /// fast hash is as strong as a slow one and keeps the token endpoint fast).
    pub async fn create_product(&self, input: ProductInput<'_>) -> Result<(Product, Option<SecretToken>), AppError> {
        let mut errors = crate::FieldErrors::default();
        let name = crate::workspaces::parse_name("name", input.name, &mut errors);
        let mut redirect_uris = Vec::new();
        for uri in input.redirect_uris {
            match RedirectUri::parse(uri) {
                Ok(u) if !redirect_uris.contains(&u.as_str().to_owned()) => redirect_uris.push(u.as_str().to_owned()),
                Ok(_) => {}
                Err(e) => errors.add("redirect_uris", format!("{uri}: {e}")),
            }
        }
        let mut grant_types = Vec::new();
        for g in input.grant_types {
            match GrantType::parse(g) {
                Some(g) if !grant_types.contains(&g.as_str().to_owned()) => grant_types.push(g.as_str().to_owned()),
                Some(_) => {}
                None => errors.add(
                    "grant_types",
                    format!("Unknown grant type {g:?}: authorization_code, refresh_token or client_credentials."),
                ),
            }
        }
        if grant_types.is_empty() {
            grant_types = vec!["authorization_code".to_owned(), "refresh_token".to_owned()];
        }
        if grant_types.iter().any(|g| g == "authorization_code") && redirect_uris.is_empty() {
            errors.add("redirect_uris", "A product that signs people in needs at least one redirect URI.");
        }
        if input.public && grant_types.iter().any(|g| g == "client_credentials") {
            errors.add("grant_types", "A public product has no secret, so it cannot use client_credentials.");
        }
        let scopes = if input.scopes.is_empty() {
            Ok(Scopes::parse("openid profile email offline_access").unwrap_or_default())
        } else {
            Scopes::parse(&input.scopes.join(" "))
        };
        let scopes = scopes.map_err(|e| errors.add("scopes", e)).ok();
        let homepage = input.homepage.map(str::trim).filter(|h| !h.is_empty());
        if let Some(h) = homepage
            && !url::Url::parse(h).is_ok_and(|u| matches!(u.scheme(), "https" | "http"))
        {
            errors.add("homepage", "The homepage must be an http(s) URL.");
        }
        errors.into_result()?;
        let (Some(name), Some(scopes)) = (name, scopes) else { return Err(AppError::invalid("name", "Enter a name.")) };
        let secret = (!input.public).then(|| self.app.new_token());
        let product = Product {
            id: ProductId::from_uuid(self.app.new_uuid()),
            name,
            secret_hash: secret.as_ref().map(SecretToken::hash),
            first_party: input.first_party,
            redirect_uris,
            scopes: scopes.to_string(),
            grant_types,
            homepage: homepage.map(str::to_owned),
            owner: input.owner,
            created_at: self.app.now(),
        };
        self.app.store().create_product(&product).await?;
        Ok((product, secret))
    }

    /// Registers a third-party product for a developer (any account): never
    /// first-party, never `client_credentials`-only on someone's behalf.
    pub async fn register_own_product(
        &self,
        owner: &Account,
        name: &str,
        redirect_uris: &[String],
        public: bool,
        homepage: Option<&str>,
    ) -> Result<(Product, Option<SecretToken>), AppError> {
        let input = ProductInput {
            name,
            redirect_uris,
            public,
            first_party: false,
            grant_types: &[],
            scopes: &[],
            homepage,
            owner: Some(owner.id),
        };
        self.create_product(input).await
    }

    /// Where a sign-in that started from a product's own link ends: the
    /// product's registered homepage, else the origin of its first redirect
    /// URI. `None` for an unknown product (no open redirects).
    pub async fn landing(&self, client_id: &str) -> Result<Option<String>, AppError> {
        let Some(p) = self.product(client_id).await? else { return Ok(None) };
        let origin = |u: &str| url::Url::parse(u).ok().map(|u| u.origin()).filter(url::Origin::is_tuple);
        let registered: Vec<url::Origin> = p.redirect_uris.iter().filter_map(|u| origin(u)).collect();
        // The homepage only if it is on an origin the product registered a
        // redirect URI for: anyone can register a product, so a free-form
        // homepage would be an open redirect.
        if let Some(h) = p.homepage.filter(|h| origin(h).is_some_and(|o| registered.contains(&o))) {
            return Ok(Some(h));
        }
        Ok(registered.first().map(|o| format!("{}/", o.ascii_serialization())))
    }

    /// The products the account registered.
    pub async fn own_products(&self, owner: &Account) -> Result<Vec<Product>, AppError> {
        Ok(self.app.store().products_of(owner.id).await?)
    }

    /// A product by its `client_id`: from memory while the change feed is
    /// followed (ADR 0006), else the store.
    pub async fn product(&self, client_id: &str) -> Result<Option<Product>, AppError> {
        let Ok(id) = client_id.parse::<ProductId>() else { return Ok(None) };
        let caches = &self.app.caches;
        if caches.fresh()
            && let Some(p) = caches.product(id)
        {
            return Ok(Some((*p).clone()));
        }
        let epoch = caches.epoch();
        let found = self.app.store().product(id).await?;
        if let Some(p) = &found {
            caches.put_product(Arc::new(p.clone()), epoch);
        }
        Ok(found)
    }

    /// Whether a grant was revoked; grants seen live are remembered until
    /// the change feed says otherwise.
    async fn grant_revoked(&self, grant: GrantId) -> Result<bool, AppError> {
        let caches = &self.app.caches;
        if caches.fresh() && caches.grant_live(grant) {
            return Ok(false);
        }
        let epoch = caches.epoch();
        let revoked = self.app.store().grant_revoked(grant).await?;
        if !revoked {
            caches.put_live_grant(grant, epoch);
        }
        Ok(revoked)
    }

    /// Authenticates a client at the token endpoint (`client_secret_basic`
    /// or `client_secret_post`; a public client sends its id only).
    pub async fn authenticate_client(&self, client_id: &str, secret: Option<&str>) -> Result<Product, OAuthFailure> {
        let invalid = || OAuthFailure::new("invalid_client", "Client authentication failed.");
        let product = self.product(client_id).await?.ok_or_else(invalid)?;
        match (&product.secret_hash, secret) {
            (None, None) => Ok(product),
            (Some(hash), Some(s)) => {
                let presented = SecretToken::parse(s).map(|t| t.hash());
                if presented.is_some_and(|p| p.ct_eq(hash)) { Ok(product) } else { Err(invalid()) }
            }
            _ => Err(invalid()),
        }
    }

    /// Checks an authorization request against its (already matched)
    /// product; returns the error to send back to the product otherwise.
    pub fn check_request(&self, req: &AuthorizeRequest) -> Result<(), OAuthFailure> {
        let p = &req.product;
        if !has_grant(p, GrantType::AuthorizationCode) {
            return Err(OAuthFailure::new("unauthorized_client", "This product may not use the code flow."));
        }
        if req.scopes.is_empty() {
            return Err(OAuthFailure::new("invalid_scope", "Ask for at least one scope (openid to sign in)."));
        }
        let allowed = Scopes::parse(&p.scopes).unwrap_or_default();
        if !req.scopes.within(&allowed) {
            return Err(OAuthFailure::new("invalid_scope", format!("This product may ask for: {allowed}.")));
        }
        if p.secret_hash.is_none() && req.challenge.is_none() {
            return Err(OAuthFailure::new("invalid_request", "A public client must use PKCE (S256)."));
        }
        Ok(())
    }

    /// Decides an authorization request for the browser's session (if any):
    /// a code when the session satisfies `prompt` and `max_age`, else
    /// sign-in (or `login_required` for `prompt=none`). `login_after` is the
    /// instant a forced sign-in must postdate (set when we sent the person
    /// to sign in for `prompt=login`).
    pub async fn authorize(
        &self,
        req: &AuthorizeRequest,
        session: Option<(&Session, &Account)>,
        login_after: Option<Timestamp>,
    ) -> Result<Authorize, OAuthFailure> {
        self.check_request(req)?;
        let now = self.app.now();
        let fresh_enough = |s: &Session| {
            // A sign-in made after we sent the person to sign in satisfies
            // max_age too (max_age=0 would otherwise never be satisfied).
            let signed_in_since = login_after.is_some_and(|after| s.auth_time >= after);
            let max_age_ok = signed_in_since
                || req.max_age.is_none_or(|m| now.as_millis() - s.auth_time.as_millis() <= (m as i64) * 1000);
            let login_ok = match (req.prompt.as_deref(), login_after) {
                (Some("login"), Some(after)) => s.auth_time >= after,
                (Some("login"), None) => false,
                _ => true,
            };
            max_age_ok && login_ok
        };
        let Some((session, account)) = session.filter(|(s, a)| fresh_enough(s) && a.status == AccountStatus::Active)
        else {
            return if req.prompt.as_deref() == Some("none") {
                Err(OAuthFailure::new("login_required", "The person is not signed in."))
            } else {
                Ok(Authorize::SignIn)
            };
        };
        if !account.email_verified {
            return Err(OAuthFailure::new("access_denied", "The person has not verified their email address yet."));
        }
        let ask = req.prompt.as_deref() == Some("consent")
            || (!req.product.first_party && !self.consented(account, req).await?);
        if ask {
            return if req.prompt.as_deref() == Some("none") {
                Err(OAuthFailure::new("consent_required", "The person has not allowed this product these scopes."))
            } else {
                Ok(Authorize::Consent)
            };
        }
        let code = self.app.new_token();
        let record = AuthorizationCode {
            hash: code.hash(),
            grant: GrantId::from_uuid(self.app.new_uuid()),
            product: req.product.id,
            account: account.id,
            redirect_uri: req.redirect_uri.clone(),
            scopes: req.scopes.to_string(),
            nonce: req.nonce.clone(),
            code_challenge: req.challenge.as_ref().map(|c| c.as_str().to_owned()),
            auth_time: session.auth_time,
            amr: session.amr.clone(),
            expires_at: now.plus(self.app.settings().code_ttl),
        };
        self.app.store().create_authorization_code(&record).await?;
        Ok(Authorize::Code(code))
    }

    async fn consented(&self, account: &Account, req: &AuthorizeRequest) -> Result<bool, AppError> {
        let consents = self.app.store().consents(account.id).await?;
        let given = consents.iter().find(|c| c.product == req.product.id);
        Ok(given.is_some_and(|c| req.scopes.within(&Scopes::parse(&c.scopes).unwrap_or_default())))
    }

    /// Remembers that the person allowed the product these scopes (added to
    /// what they allowed before).
    pub async fn grant_consent(&self, account: &Account, req: &AuthorizeRequest) -> Result<(), AppError> {
        let consents = self.app.store().consents(account.id).await?;
        let before = consents.iter().find(|c| c.product == req.product.id).map(|c| c.scopes.clone());
        let all = format!("{} {}", before.unwrap_or_default(), req.scopes);
        let merged = Scopes::parse(&all).unwrap_or_default();
        Ok(self.app.store().save_consent(account.id, req.product.id, &merged.to_string(), self.app.now()).await?)
    }

    /// The consents the person has given (for the account page).
    pub async fn consents(&self, account: &Account) -> Result<Vec<crate::ports::Consent>, AppError> {
        Ok(self.app.store().consents(account.id).await?)
    }

    /// Withdraws a consent; the product's tokens for the person stop working.
    pub async fn revoke_consent(&self, account: &Account, product: &str) -> Result<(), AppError> {
        let id: ProductId = product.parse().map_err(|_| AppError::NotFound)?;
        if self.app.written(self.app.store().revoke_consent(account.id, id, self.app.now()).await).await? {
            Ok(())
        } else {
            Err(AppError::NotFound)
        }
    }

    /// The `authorization_code` grant. A replayed code revokes every token
    /// issued from it.
    pub async fn exchange_code(
        &self,
        product: &Product,
        code: &str,
        redirect_uri: Option<&str>,
        verifier: Option<&str>,
    ) -> Result<TokenResponse, OAuthFailure> {
        let invalid = |d: &str| OAuthFailure::new("invalid_grant", d);
        if !has_grant(product, GrantType::AuthorizationCode) {
            return Err(OAuthFailure::new("unauthorized_client", "This product may not use this grant."));
        }
        let Some(code) = SecretToken::parse(code) else { return Err(invalid("Unknown, expired or used code.")) };
        let now = self.app.now();
        let record = match self.app.store().use_authorization_code(&code.hash(), now).await? {
            CodeUse::Fresh(r) => r,
            CodeUse::Replayed(r) => {
                if r.product == product.id {
                    self.app.written(self.app.store().revoke_grant(r.grant, now).await).await?;
                    tracing::warn!(client_id = %product.id, "authorization code replayed; its grant is revoked");
                }
                return Err(invalid("Unknown, expired or used code."));
            }
            CodeUse::Invalid => return Err(invalid("Unknown, expired or used code.")),
        };
        if record.product != product.id {
            return Err(invalid("The code was issued to another client."));
        }
        if redirect_uri != Some(record.redirect_uri.as_str()) {
            return Err(invalid("redirect_uri does not match the authorization request."));
        }
        match (&record.code_challenge, verifier) {
            (Some(c), Some(v)) if CodeChallenge::from_stored(c.clone()).verify(v) => {}
            (Some(_), _) => return Err(invalid("The PKCE code_verifier does not match.")),
            (None, Some(_)) => return Err(invalid("No PKCE challenge was sent with the authorization request.")),
            (None, None) => {}
        }
        if self.grant_revoked(record.grant).await? {
            return Err(invalid("The authorization was revoked."));
        }
        let account =
            self.active_account(record.account).await?.ok_or_else(|| invalid("The account is no longer active."))?;
        let scopes = Scopes::parse(&record.scopes).unwrap_or_default();
        let person = PersonGrant {
            account: &account,
            grant: record.grant,
            auth_time: record.auth_time,
            amr: &record.amr,
            nonce: record.nonce.as_deref(),
        };
        tokens::issue(self, product, Some(person), &scopes).await
    }

    /// The `refresh_token` grant (RFC 6749 §6) with rotation: each refresh
    /// token works once; presenting a spent one revokes its whole family.
    pub async fn refresh(
        &self,
        product: &Product,
        token: &str,
        scope: Option<&str>,
    ) -> Result<TokenResponse, OAuthFailure> {
        let invalid = || OAuthFailure::new("invalid_grant", "Unknown, expired, used or revoked refresh token.");
        if !has_grant(product, GrantType::RefreshToken) {
            return Err(OAuthFailure::new("unauthorized_client", "This product may not use this grant."));
        }
        let Some(secret) = SecretToken::parse(token) else { return Err(invalid()) };
        // A request the token does not allow (another product's token, a
        // wider scope) is refused before the token is spent.
        let Some(peek) = self.app.store().refresh_token(&secret.hash()).await? else { return Err(invalid()) };
        if peek.product != product.id {
            return Err(invalid());
        }
        let granted = Scopes::parse(&peek.scopes).unwrap_or_default();
        let scopes = match scope {
            Some(s) => Scopes::parse(s).map_err(|e| OAuthFailure::new("invalid_scope", e))?,
            None => granted.clone(),
        };
        if !scopes.within(&granted) {
            return Err(OAuthFailure::new("invalid_scope", "A refresh cannot widen the granted scopes."));
        }
        let now = self.app.now();
        let record = match self.app.store().use_refresh_token(&secret.hash(), now).await? {
            RefreshUse::Fresh(r) if r.product == product.id => r,
            RefreshUse::Fresh(_) | RefreshUse::Invalid => return Err(invalid()),
            RefreshUse::Replayed(r) => {
                if r.product == product.id {
                    self.app.written(self.app.store().revoke_grant(r.grant, now).await).await?;
                    tracing::warn!(client_id = %product.id, "refresh token reused; its family is revoked");
                }
                return Err(invalid());
            }
        };
        if self.grant_revoked(record.grant).await? {
            return Err(invalid());
        }
        let account = self.active_account(record.account).await?.ok_or_else(invalid)?;
        let person = PersonGrant {
            account: &account,
            grant: record.grant,
            auth_time: record.auth_time,
            amr: &record.amr,
            nonce: None,
        };
        tokens::issue(self, product, Some(person), &scopes).await
    }

    /// The `client_credentials` grant: a token for the product itself.
    pub async fn client_credentials(
        &self,
        product: &Product,
        scope: Option<&str>,
    ) -> Result<TokenResponse, OAuthFailure> {
        if !has_grant(product, GrantType::ClientCredentials) || product.secret_hash.is_none() {
            return Err(OAuthFailure::new("unauthorized_client", "This product may not use client_credentials."));
        }
        let allowed = Scopes::parse(&product.scopes).unwrap_or_default();
        let scopes = match scope {
            Some(s) => Scopes::parse(s).map_err(|e| OAuthFailure::new("invalid_scope", e))?,
            None => Scopes::default(),
        };
        if !scopes.within(&allowed) || scopes.contains(OidcScope::OpenId) || scopes.contains(OidcScope::OfflineAccess) {
            return Err(OAuthFailure::new("invalid_scope", "Scope not allowed for client_credentials."));
        }
        tokens::issue(self, product, None, &scopes).await
    }

    /// The account, if it exists, is active and has verified its email
    /// (tokens of others are dead).
    async fn active_account(&self, id: guildhall_core::AccountId) -> Result<Option<Account>, AppError> {
        Ok(self.app.accounts().by_id(id).await?.filter(|a| a.status == AccountStatus::Active && a.email_verified))
    }

    /// A live access token's claims, and its person unless it was issued to
    /// the product itself: ours, unexpired, its grant not revoked, and the
    /// person's account active.
    async fn live_access(&self, token: &str) -> Result<Option<(AccessClaims, Option<Account>)>, AppError> {
        let Ok(claims) = self.verify_access(token).await else { return Ok(None) };
        let Ok(grant) = claims.gid.parse::<GrantId>() else { return Ok(None) };
        if self.grant_revoked(grant).await? {
            return Ok(None);
        }
        if claims.sub == claims.client_id {
            return Ok(Some((claims, None)));
        }
        let Ok(id) = claims.sub.parse() else { return Ok(None) };
        let account = self.active_account(id).await?;
        Ok(account.map(|a| (claims, Some(a))))
    }

    /// The person and REST API scopes behind a product's access token, for
    /// `/api/v1`: `workspaces:read` lets the product read that person's
    /// workspaces; a token issued to the product itself reaches nothing.
    pub async fn api_access(
        &self,
        bearer: &str,
    ) -> Result<Option<(Account, Vec<guildhall_core::scopes::Scope>)>, AppError> {
        let Some((claims, Some(account))) = self.live_access(bearer).await? else { return Ok(None) };
        let scopes = Scopes::parse(&claims.scope).unwrap_or_default();
        // A token without an API scope is no API credential at all (not
        // even for the account endpoint).
        if !scopes.contains(OidcScope::WorkspacesRead) {
            return Ok(None);
        }
        Ok(Some((account, vec![guildhall_core::scopes::Scope::WorkspacesRead])))
    }

    /// The signed-in person's claims (OIDC Core §5.3).
    pub async fn userinfo(&self, bearer: &str) -> Result<serde_json::Value, OAuthFailure> {
        let invalid = || OAuthFailure::new("invalid_token", "The access token is invalid or expired.");
        let Some((claims, Some(account))) = self.live_access(bearer).await? else { return Err(invalid()) };
        let scopes = Scopes::parse(&claims.scope).unwrap_or_default();
        if !scopes.contains(OidcScope::OpenId) {
            return Err(OAuthFailure::new("insufficient_scope", "userinfo needs the openid scope."));
        }
        Ok(tokens::person_claims(self, &account, &scopes, serde_json::json!({ "sub": account.id.to_string() })).await?)
    }

    /// Token introspection (RFC 7662) for the product the token was issued
    /// to; anything else, including another product's token, is inactive.
    pub async fn introspect(&self, product: &Product, token: &str) -> Result<serde_json::Value, AppError> {
        let inactive = serde_json::json!({ "active": false });
        let Some((c, account)) = self.live_access(token).await? else { return Ok(inactive) };
        if c.client_id != product.id.to_string() {
            return Ok(inactive);
        }
        let mut v = serde_json::json!({
            "active": true, "scope": c.scope, "client_id": c.client_id, "sub": c.sub, "aud": c.aud,
            "iss": c.iss, "exp": c.exp, "iat": c.iat, "jti": c.jti, "token_type": "Bearer",
        });
        if let Some(a) = account {
            v["username"] = serde_json::json!(a.username.as_str());
        }
        Ok(v)
    }

    /// Token revocation (RFC 7009): revokes the token's grant, so every
    /// token of that authorization stops working. Unknown tokens and other
    /// products' tokens are ignored, as the RFC asks.
    pub async fn revoke(&self, product: &Product, token: &str) -> Result<(), AppError> {
        if let Some(secret) = SecretToken::parse(token) {
            // A refresh token: revoke its family if it is this product's.
            if let Some(r) = self.app.store().refresh_token(&secret.hash()).await?
                && r.product == product.id
            {
                self.app.written(self.app.store().revoke_grant(r.grant, self.app.now()).await).await?;
            }
            return Ok(());
        }
        let Ok(claims) = self.verify_access(token).await else { return Ok(()) };
        if claims.client_id != product.id.to_string() {
            return Ok(());
        }
        if let Ok(grant) = claims.gid.parse::<GrantId>() {
            self.app.written(self.app.store().revoke_grant(grant, self.app.now()).await).await?;
        }
        Ok(())
    }

    /// Checks an end-session request: the hint must be one of our ID tokens,
    /// its audience must agree with `client_id`, and a
    /// `post_logout_redirect_uri` must be registered for that product.
    pub async fn end_session(
        &self,
        client_id: Option<&str>,
        id_token_hint: Option<&str>,
        post_logout_redirect_uri: Option<&str>,
    ) -> Result<EndSession, OAuthFailure> {
        self.keys().await?;
        let hint =
            match id_token_hint {
                Some(t) => Some(tokens::verify_id_token_hint(self, t).ok_or_else(|| {
                    OAuthFailure::new("invalid_request", "id_token_hint is not an ID token we issued.")
                })?),
                None => None,
            };
        let client = match (client_id, hint.as_ref().map(|(_, aud)| aud.as_str())) {
            (Some(a), Some(b)) if a != b => {
                return Err(OAuthFailure::new("invalid_request", "client_id does not match id_token_hint."));
            }
            (Some(c), _) | (None, Some(c)) => Some(c.to_owned()),
            (None, None) => None,
        };
        let redirect = match post_logout_redirect_uri {
            None => None,
            Some(uri) => {
                let product = match &client {
                    Some(c) => self.product(c).await?,
                    None => None,
                };
                let registered = product.is_some_and(|p| p.redirect_uris.iter().any(|r| r == uri));
                if !registered {
                    return Err(OAuthFailure::new(
                        "invalid_request",
                        "post_logout_redirect_uri is not registered for this product.",
                    ));
                }
                Some(uri.to_owned())
            }
        };
        let hint_account = hint.and_then(|(sub, _)| sub.parse().ok());
        Ok(EndSession { redirect, hint_account })
    }

    /// The public keys (JWKS, RFC 7517).
    pub async fn jwks(&self) -> Result<serde_json::Value, AppError> {
        let ring = self.keys().await?;
        Ok(serde_json::json!({ "keys": ring.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>() }))
    }

    /// Verifies an access token; a key this node has not loaded yet (made by
    /// another node) triggers one reload, at most once a second.
    ///
    /// A token that verified once is remembered by its SHA-256: its
    /// signature cannot stop being valid (keys retire only after their tokens
    /// expire), so later uses only check expiry; revocation is checked by
    /// the caller through its grant.
    async fn verify_access(&self, token: &str) -> Result<AccessClaims, tokens::Unverified> {
        use sha2::{Digest, Sha256};
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let now = self.app.now().as_millis() / 1000;
        if let Some(claims) = self.app.keys.verified(&digest) {
            return if claims.exp > now { Ok((*claims).clone()) } else { Err(tokens::Unverified::Invalid) };
        }
        let claims = match tokens::verify_access(self, token) {
            Err(tokens::Unverified::UnknownKey) if self.app.keys.may_reload(self.app.now()) => {
                self.reload_keys().await.map_err(|_| tokens::Unverified::Invalid)?;
                tokens::verify_access(self, token)
            }
            other => other,
        }?;
        self.app.keys.remember(digest, Arc::new(claims.clone()));
        Ok(claims)
    }

    /// Makes a signing key if there is none (first start), and loads them.
    pub async fn ensure_signing_key(&self) -> Result<(), AppError> {
        if self.app.store().signing_keys().await?.is_empty() {
            self.insert_new_key().await?;
        }
        self.reload_keys().await
    }

    async fn insert_new_key(&self) -> Result<(), AppError> {
        let mut nonce = [0u8; 12];
        self.app.deps.rng.fill(&mut nonce);
        let key = keys::generate(&self.app.settings().master_key, nonce, self.app.now())?;
        Ok(self.app.store().insert_signing_key(&key).await?)
    }

    /// The key schedule, run by the server every minute on every node: a new
    /// key when the newest is `key_rotation` old (published `PUBLISH_LEAD`
    /// before it signs), and keys no live token can need are deleted. Two
    /// nodes rotating at once make two keys; both are published and valid.
    pub async fn rotate_keys(&self) -> Result<(), AppError> {
        let now = self.app.now();
        let stored = self.app.store().signing_keys().await?;
        let due = stored.first().is_none_or(|k| k.created_at.plus(self.app.settings().key_rotation) <= now);
        if due {
            self.insert_new_key().await?;
        }
        for kid in keys::retired(&stored, now, self.app.settings().access_token_ttl) {
            self.app.store().delete_signing_key(kid).await?;
        }
        self.reload_keys().await
    }

    async fn reload_keys(&self) -> Result<(), AppError> {
        let stored = self.app.store().signing_keys().await?;
        let master = &self.app.settings().master_key;
        let live = stored.iter().map(|k| keys::open(master, k).map(Arc::new)).collect::<Result<Vec<_>, _>>()?;
        *self.app.keys.ring.write().unwrap_or_else(std::sync::PoisonError::into_inner) = live;
        Ok(())
    }

    async fn keys(&self) -> Result<Vec<Arc<keys::LiveKey>>, AppError> {
        let ring = self.app.keys.ring.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        if !ring.is_empty() {
            return Ok(ring);
        }
        self.reload_keys().await?;
        Ok(self.app.keys.ring.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone())
    }
}
