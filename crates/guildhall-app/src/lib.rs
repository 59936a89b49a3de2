//! Guildhall's use cases (`App::accounts()`, `App::signin()`, …) and the port
//! traits they need: stores, `Mailer`, `Clock`, `SecretRng`.
//!
//! Depends on `guildhall-core` only. Must not depend on sqlx, axum, lettre or
//! any concrete adapter: those implement the ports from the outside.

pub mod accounts;
mod caches;
mod coalesce;
pub mod directory;
pub mod error;
pub mod external;
pub mod invitations;
pub mod links;
mod mails;
pub mod mfa;
pub mod oauth;
pub mod orgs;
pub mod passwords;
pub mod ports;
pub mod provisioning;
pub mod scim;
mod sealed;
pub mod sessions;
pub mod settings;
pub mod signin;
pub mod sites;
pub mod tokens;
pub mod webhooks;
pub mod workspaces;

pub use error::{AppError, FieldErrors};
pub use settings::AppSettings;

use passwords::Passwords;
use ports::{Clock, Mailer, SecretRng, Store};
use std::sync::Arc;

/// Everything the use cases need, wired once at start-up.
pub struct Deps {
    pub store: Arc<dyn Store>,
    pub mailer: Arc<dyn Mailer>,
    pub dns: Arc<dyn ports::Dns>,
    pub web: Arc<dyn ports::WebClient>,
    pub clock: Arc<dyn Clock>,
    pub rng: Arc<dyn SecretRng>,
    pub settings: AppSettings,
}

/// The application: cheap to clone, one per server (tests run many at once).
#[derive(Clone)]
pub struct App {
    deps: Arc<Deps>,
    passwords: Passwords,
    caches: Arc<caches::Caches>,
    reads: Arc<Reads>,
    keys: Arc<oauth::KeyRing>,
    /// Each directory's user ids in SCIM listing order, with the event
    /// number they were read at (`scim::ScimService::list`).
    scim_ids: Arc<std::sync::Mutex<std::collections::HashMap<ports::EventScope, scim::CachedIds>>>,
    /// Wakes the webhook worker after writes (which may have made events).
    webhook_wake: Arc<tokio::sync::Notify>,
}

/// Coalesced hot reads (see `coalesce`).
#[derive(Default)]
struct Reads {
    indexes: coalesce::Coalescer<String, Option<Arc<caches::CachedIndex>>>,
    tokens: coalesce::Coalescer<[u8; 32], Option<Arc<caches::CachedToken>>>,
}

impl App {
    pub fn new(deps: Deps) -> Self {
        let passwords = Passwords::new(deps.settings.argon2);
        // A few missed rounds are tolerated; beyond that the caches are not
        // trusted until the feed is followed again.
        let max_lag = (deps.settings.follow_interval * 10).max(std::time::Duration::from_secs(1));
        Self {
            deps: Arc::new(deps),
            passwords,
            caches: Arc::new(caches::Caches::new(max_lag)),
            reads: Arc::default(),
            keys: Arc::default(),
            scim_ids: Arc::default(),
            webhook_wake: Arc::default(),
        }
    }

    pub fn accounts(&self) -> accounts::AccountService<'_> {
        accounts::AccountService::new(self)
    }

    pub fn signin(&self) -> signin::SignInService<'_> {
        signin::SignInService::new(self)
    }

    pub fn sessions(&self) -> sessions::SessionService<'_> {
        sessions::SessionService::new(self)
    }

    pub fn workspaces(&self) -> workspaces::WorkspaceService<'_> {
        workspaces::WorkspaceService::new(self)
    }

    pub fn external(&self) -> external::ExternalService<'_> {
        external::ExternalService::new(self)
    }

    pub fn invitations(&self) -> invitations::InvitationService<'_> {
        invitations::InvitationService::new(self)
    }

    pub fn links(&self) -> links::LinkService<'_> {
        links::LinkService::new(self)
    }

    pub fn mfa(&self) -> mfa::MfaService<'_> {
        mfa::MfaService::new(self)
    }

    pub fn oauth(&self) -> oauth::OAuthService<'_> {
        oauth::OAuthService::new(self)
    }

    pub fn orgs(&self) -> orgs::OrgService<'_> {
        orgs::OrgService::new(self)
    }

    pub fn sites(&self) -> sites::SiteService<'_> {
        sites::SiteService::new(self)
    }

    pub fn scim(&self) -> scim::ScimService<'_> {
        scim::ScimService::new(self)
    }

    pub fn directory(&self) -> directory::DirectoryService<'_> {
        directory::DirectoryService::new(self)
    }

    pub fn provisioning(&self) -> provisioning::ProvisioningService<'_> {
        provisioning::ProvisioningService::new(self)
    }

    pub fn webhooks(&self) -> webhooks::WebhookService<'_> {
        webhooks::WebhookService::new(self)
    }

    pub fn tokens(&self) -> tokens::TokenService<'_> {
        tokens::TokenService::new(self)
    }

    pub fn settings(&self) -> &AppSettings {
        &self.deps.settings
    }

    pub fn store(&self) -> &dyn Store {
        self.deps.store.as_ref()
    }

    pub fn passwords(&self) -> &Passwords {
        &self.passwords
    }

    pub(crate) fn now(&self) -> guildhall_core::Timestamp {
        self.deps.clock.now()
    }

    pub(crate) fn new_token(&self) -> guildhall_core::tokens::SecretToken {
        let mut bytes = [0u8; guildhall_core::tokens::TOKEN_BYTES];
        self.deps.rng.fill(&mut bytes);
        guildhall_core::tokens::SecretToken::from_random_bytes(bytes)
    }

    pub(crate) fn new_uuid(&self) -> uuid::Uuid {
        let mut bytes = [0u8; 10];
        self.deps.rng.fill(&mut bytes);
        let ms = u64::try_from(self.now().as_millis()).unwrap_or(0);
        uuid::Builder::from_unix_timestamp_millis(ms, &bytes).into_uuid()
    }

    /// Reads the change feed and drops what it made stale. The server calls
    /// this every `follow_interval`; until it has, and whenever it has not
    /// for a while, the hot paths read the database instead of their caches.
    pub async fn catch_up(&self) -> Result<(), AppError> {
        Ok(self.caches.catch_up(self.store()).await?)
    }

    /// Passes a store write's result through, after catching up with the
    /// change feed when it succeeded: this node's caches then reflect the
    /// write before anyone is told it happened.
    pub(crate) async fn written<T>(&self, result: Result<T, ports::StoreError>) -> Result<T, ports::StoreError> {
        if result.is_ok() {
            self.webhook_wake.notify_one();
        }
        if result.is_ok()
            && let Err(e) = self.caches.catch_up(self.store()).await
        {
            // The write stands; the emptied caches make the next reads go
            // to the database.
            tracing::warn!(error = %e, "could not read the change feed after a write");
        }
        result
    }

    /// Checks that the database answers (for `/readyz`).
    pub async fn ready(&self) -> Result<(), AppError> {
        self.deps.store.ping().await.map_err(AppError::from)
    }
}
