//! Outbound SCIM provisioning (SPEC §6, `docs/provisioning.md`): admins of
//! a workspace or an org connect it to an application's SCIM endpoint, and
//! Guildhall pushes its people and groups there, keeps them up to date and
//! deprovisions those who leave, with retries and a visible status.
//!
//! Syncing is `run_once`, which the server calls every
//! `provisioning_poll_ms`: it leases the connections that are due (first
//! sync, retry, "sync now") or whose scope's event log moved past their
//! cursor, and runs a round on each (`reconcile`). A round reconciles the
//! whole directory, so a missed or repeated round loses nothing.

mod reconcile;
mod remote;

use crate::App;
use crate::error::{AppError, FieldErrors};
use crate::ports::{Audit, ClaimedConnection, ProvisionedCounts, RoundOutcome, ScimConnection};
use guildhall_core::provisioning::{LEASE, SyncStatus, parse_base_url, parse_token, retry_at};
use reconcile::Stop;
use serde_json::json;
use uuid::Uuid;

/// Connections a workspace or an org may have.
pub const MAX_CONNECTIONS: usize = 20;
/// Connections leased per round (synced concurrently).
const CLAIM_BATCH: u32 = 8;

/// The admin of the workspace or org whose connections these are.
pub type ProvisioningAdmin = crate::directory::ScopeAdmin;

impl ProvisioningAdmin {
    fn connection_audit(&self, app: &App, action: &str, c: &ScimConnection) -> Audit {
        // The URL's path may carry a tenant secret: the log shows its host.
        let host = url::Url::parse(&c.base_url).ok().and_then(|u| u.host_str().map(str::to_owned));
        Audit {
            detail: host.clone(),
            data: Some(json!({ "scim_connection": {
                "id": c.id,
                "name": c.name,
                "host": host,
                "enabled": c.enabled,
            }})),
            ..self.audit(app.now(), action, format!("scim_connection:{}", c.name))
        }
    }
}

/// A connection as an admin describes it.
#[derive(Clone, Debug)]
pub struct NewConnection<'a> {
    pub name: &'a str,
    pub base_url: &'a str,
    pub token: &'a str,
    pub enabled: bool,
}

/// Changes to a connection; `None` keeps the value.
#[derive(Clone, Debug, Default)]
pub struct ConnectionChange<'a> {
    pub name: Option<&'a str>,
    pub base_url: Option<&'a str>,
    pub token: Option<&'a str>,
    pub enabled: Option<bool>,
}

/// A connection with what it has pushed.
#[derive(Clone, Debug)]
pub struct ConnectionView {
    pub connection: ScimConnection,
    pub counts: ProvisionedCounts,
}

/// What one `run_once` did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Round {
    /// Connections leased and synced.
    pub claimed: u32,
    pub synced: u32,
    pub failed: u32,
}

fn token_aad(connection: Uuid) -> Vec<u8> {
    format!("scim-connection:{connection}").into_bytes()
}

fn parse_id(id: &str) -> Result<Uuid, AppError> {
    id.parse().map_err(|_| AppError::NotFound)
}

pub struct ProvisioningService<'a> {
    app: &'a App,
}

impl<'a> ProvisioningService<'a> {
    pub(crate) fn new(app: &'a App) -> Self {
        Self { app }
    }

    fn check_url(&self, url: &str, errors: &mut FieldErrors) -> String {
        match parse_base_url(url, self.app.settings().provisioning_allow_loopback) {
            Ok(u) => u.to_string(),
            Err(e) => {
                errors.add("base_url", e);
                String::new()
            }
        }
    }

    fn check_token<'t>(token: &'t str, errors: &mut FieldErrors) -> &'t str {
        parse_token(token).unwrap_or_else(|e| {
            errors.add("token", e);
            ""
        })
    }

    /// Connects the scope to an application; the first round is due at once.
    pub async fn create(&self, a: &ProvisioningAdmin, new: NewConnection<'_>) -> Result<ConnectionView, AppError> {
        let mut errors = FieldErrors::default();
        let name = crate::workspaces::parse_name("name", new.name, &mut errors);
        let base_url = self.check_url(new.base_url, &mut errors);
        let token = Self::check_token(new.token, &mut errors);
        errors.into_result()?;
        let Some(name) = name else { return Err(AppError::invalid("name", "Enter a name.")) };
        let store = self.app.store();
        if store.scim_connections(a.scope).await?.len() >= MAX_CONNECTIONS {
            return Err(AppError::Conflict(format!(
                "There are already {MAX_CONNECTIONS} provisioning connections here; remove one first."
            )));
        }
        let now = self.app.now();
        let connection = ScimConnection {
            id: self.app.new_uuid(),
            scope: a.scope,
            name,
            base_url,
            enabled: new.enabled,
            status: SyncStatus::Pending,
            last_error: None,
            last_synced_at: None,
            last_attempt_at: None,
            next_attempt_at: Some(now),
            failures: 0,
            cursor: 0,
            created_by: a.actor.account.username.to_string(),
            created_at: now,
            updated_at: now,
        };
        let sealed = self.app.seal(&token_aad(connection.id), token.as_bytes())?;
        let audit = a.connection_audit(self.app, "provisioning.created", &connection);
        self.app.written(store.create_scim_connection(&connection, &sealed, &audit).await).await?;
        Ok(ConnectionView { connection, counts: ProvisionedCounts::default() })
    }

    pub async fn list(&self, a: &ProvisioningAdmin) -> Result<Vec<ConnectionView>, AppError> {
        let all = self.app.store().scim_connections(a.scope).await?;
        Ok(all.into_iter().map(|(connection, counts)| ConnectionView { connection, counts }).collect())
    }

    pub async fn get(&self, a: &ProvisioningAdmin, id: &str) -> Result<ConnectionView, AppError> {
        let (connection, counts) =
            self.app.store().scim_connection(a.scope, parse_id(id)?).await?.ok_or(AppError::NotFound)?;
        Ok(ConnectionView { connection, counts })
    }

    /// Changes name, URL, token or `enabled`. A new URL or token, or
    /// enabling, makes a full round due at once.
    pub async fn update(
        &self,
        a: &ProvisioningAdmin,
        id: &str,
        change: ConnectionChange<'_>,
    ) -> Result<ConnectionView, AppError> {
        let ConnectionView { connection: before, counts } = self.get(a, id).await?;
        let mut c = before.clone();
        let mut errors = FieldErrors::default();
        if let Some(n) = change.name {
            c.name = crate::workspaces::parse_name("name", n, &mut errors).unwrap_or_default();
        }
        if let Some(u) = change.base_url {
            c.base_url = self.check_url(u, &mut errors);
        }
        let token = change.token.map(|t| Self::check_token(t, &mut errors));
        errors.into_result()?;
        if let Some(e) = change.enabled {
            c.enabled = e;
        }
        let resync = c.base_url != before.base_url || token.is_some() || (c.enabled && !before.enabled);
        c.updated_at = self.app.now();
        let sealed = token.map(|t| self.app.seal(&token_aad(c.id), t.as_bytes())).transpose()?;
        let audit = a.connection_audit(self.app, "provisioning.updated", &c);
        let store = self.app.store();
        if !self.app.written(store.update_scim_connection(&c, sealed.as_deref(), resync, &audit).await).await? {
            return Err(AppError::NotFound);
        }
        if resync {
            c.next_attempt_at = Some(c.updated_at);
            c.failures = 0;
            c.status = SyncStatus::Pending;
            c.last_error = None;
        }
        Ok(ConnectionView { connection: c, counts })
    }

    /// Removes the connection and its map. Nothing is deleted downstream:
    /// what was pushed stays there as it is.
    pub async fn delete(&self, a: &ProvisioningAdmin, id: &str) -> Result<(), AppError> {
        let c = self.get(a, id).await?.connection;
        let audit = a.connection_audit(self.app, "provisioning.deleted", &c);
        if self.app.written(self.app.store().delete_scim_connection(a.scope, c.id, &audit).await).await? {
            Ok(())
        } else {
            Err(AppError::NotFound)
        }
    }

    /// Makes a full round due now (also ending a retry's wait).
    pub async fn sync_now(&self, a: &ProvisioningAdmin, id: &str) -> Result<ConnectionView, AppError> {
        let mut view = self.get(a, id).await?;
        if !view.connection.enabled {
            return Err(AppError::Conflict("This connection is disabled; enable it first.".into()));
        }
        let now = self.app.now();
        let audit = a.connection_audit(self.app, "provisioning.sync_requested", &view.connection);
        let store = self.app.store();
        if !self.app.written(store.request_scim_sync(a.scope, view.connection.id, now, &audit).await).await? {
            return Err(AppError::NotFound);
        }
        view.connection.next_attempt_at = Some(now);
        Ok(view)
    }

    /// One round: leases the connections that are due or behind the event
    /// log and syncs them, concurrently.
    pub async fn run_once(&self) -> Result<Round, AppError> {
        // A lease owner per round: a later round of this node never takes
        // this round's connections for its own.
        let owner = format!("round-{}", self.app.new_uuid().simple());
        let now = self.app.now();
        let claimed = self.app.store().claim_scim_connections(&owner, now, now.plus(LEASE), CLAIM_BATCH).await?;
        let mut round = Round { claimed: u32::try_from(claimed.len()).unwrap_or(u32::MAX), ..Round::default() };
        let mut syncing = tokio::task::JoinSet::new();
        for c in claimed {
            let (app, owner) = (self.app.clone(), owner.clone());
            syncing.spawn(async move { app.provisioning().sync(&owner, c).await });
        }
        while let Some(done) = syncing.join_next().await {
            match done {
                Ok(Ok(Some(true))) => round.synced += 1,
                Ok(Ok(Some(false))) => round.failed += 1,
                Ok(Ok(None)) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "recording a provisioning round failed"),
                Err(e) => tracing::warn!(error = %e, "a provisioning task failed"),
            }
        }
        Ok(round)
    }

    /// Runs a round on a leased connection and records it: `Some(true)` if
    /// it synced, `Some(false)` if it failed, `None` if it was abandoned.
    async fn sync(&self, owner: &str, c: ClaimedConnection) -> Result<Option<bool>, AppError> {
        let conn = &c.connection;
        let started = self.app.now();
        let result = match self.app.open_sealed(&token_aad(conn.id), &c.token_sealed) {
            Some(t) => match String::from_utf8(t) {
                Ok(token) => reconcile::run(self.app, &c, owner, token).await,
                Err(_) => Err(Stop::Failed("The stored token is not text.".into())),
            },
            None => Err(Stop::Failed(
                "The token cannot be unsealed: this server's master key is not the one it was saved with.".into(),
            )),
        };
        let retry = |error: String| RoundOutcome::Failed {
            error,
            retry_at: retry_at(conn.failures.saturating_add(1), started),
        };
        let outcome = match result {
            Ok(cursor) => RoundOutcome::Synced { cursor },
            Err(Stop::Failed(e)) => {
                tracing::info!(connection = %conn.id, failures = conn.failures.saturating_add(1), error = %e, "a provisioning round failed");
                retry(e)
            }
            Err(Stop::Abandoned) => {
                tracing::info!(connection = %conn.id, "a provisioning round was abandoned (lease lost or connection removed)");
                return Ok(None);
            }
            Err(Stop::Store(e)) => {
                tracing::warn!(connection = %conn.id, error = %e, "a provisioning round could not use the database");
                retry("Guildhall could not read its directory or record the round; it will try again.".into())
            }
        };
        let ok = matches!(outcome, RoundOutcome::Synced { .. });
        let at = self.app.now();
        self.app.store().finish_scim_round(conn.id, owner, started, at, &outcome).await?;
        Ok(Some(ok))
    }
}
