//! Wiring: the store chosen by URL scheme, the app, the HTTP server.

use crate::mail::OutboxMailer;
use crate::settings::Settings;
use guildhall_app::ports::{Clock, OsSecretRng, Store, SystemClock};
use guildhall_app::settings::Argon2Params;
use guildhall_app::{App, AppSettings, Deps};
use guildhall_core::accounts::{Account, PasswordPolicy};
use guildhall_http::{HttpConfig, HttpState, Metrics};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// Installs the process-wide rustls crypto provider (aws-lc-rs). Idempotent.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

/// Opens the database named by the URL's scheme and applies migrations.
/// An unknown scheme is an error, never a new database.
pub async fn open_store(url: &str) -> anyhow::Result<Arc<dyn Store>> {
    let scheme = url.split_once(':').map(|(s, _)| s).unwrap_or_default();
    let store: Arc<dyn Store> = match scheme {
        "sqlite" => {
            let s = guildhall_store_sqlite::connect(url).await.map_err(|e| {
                anyhow::anyhow!("cannot open SQLite database: {e}: {:?}", std::error::Error::source(&e))
            })?;
            s.migrate().await.map_err(|e| anyhow::anyhow!("SQLite migrations failed: {e:?}"))?;
            Arc::new(s)
        }
        "postgres" | "postgresql" => {
            let s = guildhall_store_postgres::connect(url).await.map_err(|e| {
                anyhow::anyhow!("cannot connect to PostgreSQL: {e}: {:?}", std::error::Error::source(&e))
            })?;
            s.migrate().await.map_err(|e| anyhow::anyhow!("PostgreSQL migrations failed: {e:?}"))?;
            Arc::new(s)
        }
        other => anyhow::bail!("unsupported database URL scheme {other:?}: use sqlite:// or postgres://"),
    };
    Ok(store)
}

/// Builds the application from settings, on the given store and clock.
pub fn build_app(
    settings: &Settings,
    public_url: &str,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<App> {
    let mailer = OutboxMailer::new(
        settings.outbox_dir(),
        &settings.mail_from,
        settings.smtp_url.as_ref().map(|s| s.0.as_str()),
    )?;
    let mut app_settings = AppSettings::with_public_url(public_url);
    app_settings.argon2 = Argon2Params {
        memory_kib: settings.argon2.memory_kib,
        iterations: settings.argon2.iterations,
        parallelism: settings.argon2.parallelism,
    };
    app_settings.password_policy = PasswordPolicy { min_chars: settings.password_min_length };
    app_settings.session_ttl = Duration::from_secs(settings.session_hours * 3600);
    app_settings.follow_interval = Duration::from_millis(settings.follow_interval_ms);
    app_settings.master_key = guildhall_app::oauth::MasterKey(settings.master_key()?);
    app_settings.key_rotation = Duration::from_secs(settings.key_rotation_days * 24 * 3600);
    app_settings.providers = settings.configured_providers()?;
    app_settings.org_idp_allow_loopback = settings.org_idp_allow_loopback;
    app_settings.webhooks_allow_loopback = settings.webhooks_allow_loopback;
    app_settings.webhook_delivery_retention = Duration::from_secs(settings.webhook_delivery_retention_days * 24 * 3600);
    app_settings.provisioning_allow_loopback = settings.provisioning_allow_loopback;
    app_settings.provisioning_poll = Duration::from_millis(settings.provisioning_poll_ms);
    let dns = Arc::new(crate::dns::HickoryDns::new(settings.dns_resolver));
    Ok(App::new(Deps {
        store,
        mailer: Arc::new(mailer),
        dns,
        web: Arc::new(crate::web::ReqwestWeb::new()?),
        clock,
        rng: Arc::new(OsSecretRng),
        settings: app_settings,
    }))
}

/// A bound, ready-to-run server.
pub struct Server {
    listener: TcpListener,
    state: HttpState,
    linking_interval: Duration,
    webhook_poll: Duration,
    /// The operator account made on this start, with its one-time password.
    pub new_operator: Option<(Account, String)>,
}

impl Server {
    /// Binds the listener, opens and migrates the database, and creates the
    /// operator account on a fresh database.
    pub async fn build(settings: &Settings, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&settings.data_dir)
            .map_err(|e| anyhow::anyhow!("cannot create data dir {}: {e}", settings.data_dir.display()))?;
        let listener = TcpListener::bind(settings.listen)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", settings.listen))?;
        let addr = listener.local_addr()?;
        let public_url = settings.public_url.clone().unwrap_or_else(|| format!("http://{addr}"));
        let parsed = url::Url::parse(&public_url).map_err(|e| anyhow::anyhow!("public_url {public_url:?}: {e}"))?;
        let store = open_store(&settings.database_url()).await?;
        let app = build_app(settings, &public_url, store, clock)?;
        // An IP literal makes a poor mail domain; the operator's address is
        // only a placeholder until they change it.
        let host = match parsed.host() {
            Some(url::Host::Domain(d)) => d.to_owned(),
            _ => "localhost".to_owned(),
        };
        let new_operator = app.accounts().ensure_operator(&format!("operator@{host}")).await?;
        app.oauth().ensure_signing_key().await?;
        let config = HttpConfig { public_url: parsed, trust_forwarded_for: settings.trust_forwarded_for };
        let state = HttpState { app, config: Arc::new(config), metrics: Arc::new(Metrics::new()) };
        let linking_interval = Duration::from_secs(settings.linking_job_interval_secs);
        let webhook_poll = Duration::from_millis(settings.webhook_poll_ms);
        Ok(Self { listener, state, linking_interval, webhook_poll, new_operator })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    pub fn public_url(&self) -> &str {
        self.state.config.public_url.as_str().trim_end_matches('/')
    }

    pub fn app(&self) -> &App {
        &self.state.app
    }

    /// Serves until `shutdown` resolves, then finishes in-flight requests.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let follower = follow_changes(self.state.app.clone());
        let keys = rotate_keys(self.state.app.clone());
        let linking = run_linking_deadline(self.state.app.clone(), self.linking_interval);
        let webhooks = deliver_webhooks(self.state.app.clone(), self.webhook_poll);
        let pruning = prune_deliveries(self.state.app.clone());
        let provisioning = crate::provisioning::spawn(self.state.app.clone());
        let router = guildhall_http::router(self.state);
        let served = axum::serve(self.listener, router.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(shutdown)
            .await;
        follower.abort();
        keys.abort();
        linking.abort();
        webhooks.abort();
        pruning.abort();
        provisioning.abort();
        Ok(served?)
    }
}

/// Runs the signing-key schedule every minute (ADR 0007): rotation and
/// retirement are idempotent, so every node may run it.
fn rotate_keys(app: App) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        // Start-up already made sure a key exists (`Server::build`).
        let every = Duration::from_secs(60);
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = app.oauth().rotate_keys().await {
                tracing::warn!(error = %e, "signing-key rotation failed; will retry in a minute");
            }
        }
    })
}

/// The linking-deadline job: at start, then every `interval`. Every node
/// runs it; a lease in the database lets one work at a time (ADR 0008).
fn run_linking_deadline(app: App, interval: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let node = uuid::Uuid::new_v4().to_string();
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match app.orgs().run_linking_deadline(&node).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(workspaces = n, "the linking deadline linked workspaces"),
                Err(e) => tracing::warn!(error = %e, "the linking-deadline job failed; it runs again next round"),
            }
        }
    })
}

/// Sends webhooks (docs/webhooks.md): a round every `poll`, or sooner
/// after a write on this node, and at once again while rounds find work.
/// Every node runs it; leases in the database keep each delivery on one
/// node at a time. Failures are logged when they start and when they end.
fn deliver_webhooks(app: App, poll: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut failing = false;
        loop {
            let busy = match app.webhooks().run_once().await {
                Ok(round) => {
                    if failing {
                        failing = false;
                        tracing::info!("sending webhooks again");
                    }
                    round.queued > 0 || round.attempted > 0
                }
                Err(e) => {
                    if !failing {
                        failing = true;
                        tracing::warn!(error = %e, "a webhook round failed; retrying every poll interval");
                    }
                    false
                }
            };
            if !busy {
                let hooks = app.webhooks();
                tokio::select! {
                    () = tokio::time::sleep(poll) => {}
                    () = hooks.woken() => {}
                }
            }
        }
    })
}

/// Deletes old finished webhook deliveries at start, then every hour
/// (docs/webhooks.md). Deleting is idempotent, so every node may run it.
fn prune_deliveries(app: App) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(3600));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match app.webhooks().prune().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(deliveries = n, "pruned old webhook deliveries"),
                Err(e) => tracing::warn!(error = %e, "pruning webhook deliveries failed; it runs again in an hour"),
            }
        }
    })
}

/// Reads the change feed every `follow_interval` (ADR 0006), so this node's
/// caches drop what other nodes and the CLI changed. Failures are logged
/// when they start and when they end, not on every round.
fn follow_changes(app: App) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(app.settings().follow_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failing = false;
        loop {
            tick.tick().await;
            match app.catch_up().await {
                Ok(()) if failing => {
                    failing = false;
                    tracing::info!("following the change feed again");
                }
                Ok(()) => {}
                Err(e) if !failing => {
                    failing = true;
                    tracing::warn!(error = %e, "cannot read the change feed; caches are bypassed until it can");
                }
                Err(_) => {}
            }
        }
    })
}

/// The process clock.
pub fn system_clock() -> Arc<dyn Clock> {
    Arc::new(SystemClock)
}
