//! Webhooks (SPEC §6, `docs/webhooks.md`): admins of a workspace or an org
//! register endpoints for event types; every event of their log is sent to
//! each endpoint that wants it, signed in the Standard Webhooks format,
//! retried with exponential backoff and recorded in a delivery log that
//! admins read and redeliver from.
//!
//! Sending is `run_once`, which the server calls every `webhook_poll_ms`
//! and after writes: it copies new events into deliveries (the store does
//! this with the endpoint row locked, so once per event and endpoint), then
//! leases due deliveries and posts them. A node that dies mid-delivery
//! leaves a lease that runs out, and another round sends it again: at least
//! once; receivers drop repeats by `webhook-id`.

use crate::App;
use crate::error::{AppError, FieldErrors};
use crate::ports::{
    AttemptOutcome, Audit, ClaimedDelivery, DeliveryAttempt, DeliveryStatus, EventScope, WebRequest, WebhookDelivery,
    WebhookEndpoint,
};
use guildhall_core::Timestamp;
use guildhall_core::webhooks::{
    DISABLE_AFTER, EventTypes, LEASE, Owner, SECRET_BYTES, SECRET_OVERLAP, WebhookSecret, next_attempt,
    parse_endpoint_url, payload, sign,
};
use serde_json::json;
use uuid::Uuid;

/// Endpoints a workspace or an org may have.
pub const MAX_ENDPOINTS: usize = 20;
/// Deliveries deleted per statement when pruning.
const PRUNE_BATCH: u32 = 1000;
/// Events copied per endpoint per round.
const FAN_OUT_BATCH: u32 = 500;
/// Deliveries leased per round (sent concurrently).
const CLAIM_BATCH: u32 = 32;

/// The admin of the workspace or org whose webhooks these are.
pub type WebhookAdmin = crate::directory::ScopeAdmin;

impl WebhookAdmin {
    fn owner(&self) -> Owner<'_> {
        let kind = match self.scope {
            EventScope::Workspace(_) => "workspace",
            EventScope::Org(_) => "org",
        };
        Owner { kind, slug: &self.slug }
    }

    fn webhook_audit(&self, app: &App, action: &str, endpoint: &WebhookEndpoint, detail: Option<String>) -> Audit {
        webhook_audit(self.audit(app.now(), action, String::new()), endpoint, detail)
    }
}

/// `base` about the endpoint: its host as the detail unless one is given,
/// and the endpoint (never its URL, which may carry a secret: events and
/// the audit log show its host only) as the event's data.
fn webhook_audit(base: Audit, endpoint: &WebhookEndpoint, detail: Option<String>) -> Audit {
    let host = host_of(endpoint);
    let data = json!({ "webhook": {
        "id": endpoint.id,
        "host": host,
        "event_types": EventTypes::from_stored(&endpoint.event_types).items(),
        "enabled": endpoint.enabled,
    }});
    Audit { detail: detail.or(host), data: Some(data), target: format!("webhook:{}", endpoint.id), ..base }
}

/// The host of the endpoint's URL, which is what Guildhall shows of it.
fn host_of(endpoint: &WebhookEndpoint) -> Option<String> {
    url::Url::parse(&endpoint.url).ok().and_then(|u| u.host_str().map(str::to_owned))
}

/// A new endpoint as an admin describes it.
#[derive(Clone, Debug)]
pub struct NewWebhook<'a> {
    pub url: &'a str,
    pub description: &'a str,
    /// Empty: every type.
    pub event_types: &'a [String],
    pub enabled: bool,
}

/// Changes to an endpoint; `None` keeps the value.
#[derive(Clone, Debug, Default)]
pub struct WebhookChange<'a> {
    pub url: Option<&'a str>,
    pub description: Option<&'a str>,
    pub event_types: Option<&'a [String]>,
    pub enabled: Option<bool>,
}

/// What one round did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Round {
    /// Deliveries made from new events.
    pub queued: u32,
    /// Deliveries sent (each once).
    pub attempted: u32,
    /// Of those, the ones answered with a 2xx.
    pub succeeded: u32,
}

fn secret_aad(endpoint: Uuid) -> Vec<u8> {
    format!("webhook:{endpoint}").into_bytes()
}

/// A delivery's id: a UUIDv7 on the system clock, like those the store
/// gives the deliveries it makes from events, so that ids order the log.
fn delivery_id() -> Uuid {
    Uuid::now_v7()
}

fn parse_id(id: &str) -> Result<Uuid, AppError> {
    id.parse().map_err(|_| AppError::NotFound)
}

pub struct WebhookService<'a> {
    app: &'a App,
}

impl<'a> WebhookService<'a> {
    pub(crate) fn new(app: &'a App) -> Self {
        Self { app }
    }

    fn check_url(&self, url: &str, errors: &mut FieldErrors) -> String {
        match parse_endpoint_url(url, self.app.settings().webhooks_allow_loopback) {
            Ok(u) => u.to_string(),
            Err(e) => {
                errors.add("url", e);
                String::new()
            }
        }
    }

    fn check_description(description: &str, errors: &mut FieldErrors) -> String {
        let d = description.trim();
        if d.chars().count() > 200 || d.chars().any(char::is_control) {
            errors.add("description", "At most 200 characters, on one line.");
        }
        d.to_owned()
    }

    fn check_types(types: &[String], errors: &mut FieldErrors) -> String {
        match EventTypes::parse(types) {
            Ok(t) => t.to_stored(),
            Err(e) => {
                errors.add("event_types", e);
                String::new()
            }
        }
    }

    /// Registers an endpoint; its secret is in this answer only.
    pub async fn create(
        &self,
        a: &WebhookAdmin,
        new: NewWebhook<'_>,
    ) -> Result<(WebhookEndpoint, WebhookSecret), AppError> {
        let mut errors = FieldErrors::default();
        let url = self.check_url(new.url, &mut errors);
        let description = Self::check_description(new.description, &mut errors);
        let event_types = Self::check_types(new.event_types, &mut errors);
        errors.into_result()?;
        if self.app.store().webhooks(a.scope).await?.len() >= MAX_ENDPOINTS {
            return Err(AppError::Conflict(format!(
                "There are already {MAX_ENDPOINTS} webhooks here; remove one first."
            )));
        }
        let secret = self.new_secret();
        let now = self.app.now();
        let endpoint = WebhookEndpoint {
            id: self.app.new_uuid(),
            scope: a.scope,
            url,
            description,
            event_types,
            enabled: new.enabled,
            created_by: a.actor.account.username.to_string(),
            created_at: now,
            updated_at: now,
            failing_since: None,
        };
        let sealed = self.app.seal(&secret_aad(endpoint.id), secret.key())?;
        let audit = a.webhook_audit(self.app, "webhook.created", &endpoint, None);
        self.app.written(self.app.store().create_webhook(&endpoint, &sealed, &audit).await).await?;
        Ok((endpoint, secret))
    }

    fn new_secret(&self) -> WebhookSecret {
        let mut key = [0u8; SECRET_BYTES];
        self.app.deps.rng.fill(&mut key);
        WebhookSecret::from_random_bytes(key)
    }

    /// Replaces the endpoint's signing secret; the new one is in this answer
    /// only. For `SECRET_OVERLAP` deliveries carry a signature by each, so
    /// the receiver can switch to the new one without failing a delivery;
    /// a second rotation ends the first one's overlap.
    pub async fn rotate_secret(
        &self,
        a: &WebhookAdmin,
        id: &str,
    ) -> Result<(WebhookEndpoint, WebhookSecret), AppError> {
        let mut endpoint = self.get(a, id).await?;
        let secret = self.new_secret();
        let sealed = self.app.seal(&secret_aad(endpoint.id), secret.key())?;
        endpoint.updated_at = self.app.now();
        let until = endpoint.updated_at.plus(SECRET_OVERLAP);
        let audit = a.webhook_audit(self.app, "webhook.secret_rotated", &endpoint, None);
        let store = self.app.store();
        if self.app.written(store.rotate_webhook_secret(&endpoint, &sealed, until, &audit).await).await? {
            Ok((endpoint, secret))
        } else {
            Err(AppError::NotFound)
        }
    }

    pub async fn list(&self, a: &WebhookAdmin) -> Result<Vec<WebhookEndpoint>, AppError> {
        Ok(self.app.store().webhooks(a.scope).await?)
    }

    pub async fn get(&self, a: &WebhookAdmin, id: &str) -> Result<WebhookEndpoint, AppError> {
        self.app.store().webhook(a.scope, parse_id(id)?).await?.ok_or(AppError::NotFound)
    }

    pub async fn update(
        &self,
        a: &WebhookAdmin,
        id: &str,
        change: WebhookChange<'_>,
    ) -> Result<WebhookEndpoint, AppError> {
        let mut endpoint = self.get(a, id).await?;
        let mut errors = FieldErrors::default();
        if let Some(url) = change.url {
            endpoint.url = self.check_url(url, &mut errors);
        }
        if let Some(d) = change.description {
            endpoint.description = Self::check_description(d, &mut errors);
        }
        if let Some(t) = change.event_types {
            endpoint.event_types = Self::check_types(t, &mut errors);
        }
        errors.into_result()?;
        if let Some(e) = change.enabled {
            // Enabled again: no failures counted (as the store does).
            if e && !endpoint.enabled {
                endpoint.failing_since = None;
            }
            endpoint.enabled = e;
        }
        endpoint.updated_at = self.app.now();
        let audit = a.webhook_audit(self.app, "webhook.updated", &endpoint, None);
        if self.app.written(self.app.store().update_webhook(&endpoint, &audit).await).await? {
            Ok(endpoint)
        } else {
            Err(AppError::NotFound)
        }
    }

    /// Removes the endpoint and its delivery log.
    pub async fn delete(&self, a: &WebhookAdmin, id: &str) -> Result<(), AppError> {
        let endpoint = self.get(a, id).await?;
        let audit = a.webhook_audit(self.app, "webhook.deleted", &endpoint, None);
        if self.app.written(self.app.store().delete_webhook(a.scope, endpoint.id, &audit).await).await? {
            Ok(())
        } else {
            Err(AppError::NotFound)
        }
    }

    /// The newest deliveries first (at most `limit`, 1 to 100), with their attempts.
    pub async fn deliveries(
        &self,
        a: &WebhookAdmin,
        id: &str,
        limit: u32,
    ) -> Result<Vec<(WebhookDelivery, Vec<DeliveryAttempt>)>, AppError> {
        let endpoint = self.get(a, id).await?;
        Ok(self.app.store().deliveries(a.scope, endpoint.id, limit.clamp(1, 100)).await?)
    }

    /// Sends a delivery again: a new pending delivery with the same
    /// `webhook-id` and body.
    pub async fn redeliver(&self, a: &WebhookAdmin, id: &str, delivery: &str) -> Result<WebhookDelivery, AppError> {
        let endpoint = self.get(a, id).await?;
        let original =
            self.app.store().delivery(a.scope, endpoint.id, parse_id(delivery)?).await?.ok_or(AppError::NotFound)?;
        let now = self.app.now();
        let again = WebhookDelivery {
            id: delivery_id(),
            redelivery_of: Some(original.id),
            status: DeliveryStatus::Pending,
            attempts: 0,
            next_attempt_at: now,
            last_status_code: None,
            last_error: None,
            created_at: now,
            finished_at: None,
            ..original
        };
        let audit = a.webhook_audit(self.app, "webhook.redelivered", &endpoint, Some(again.message_id.clone()));
        self.insert(a, &again, Some(&audit)).await?;
        Ok(again)
    }

    /// Queues a `webhook.ping` message to the endpoint (not audited).
    pub async fn ping(&self, a: &WebhookAdmin, id: &str) -> Result<WebhookDelivery, AppError> {
        let endpoint = self.get(a, id).await?;
        let now = self.app.now();
        let delivery_id = delivery_id();
        let data = json!({ "webhook": { "id": endpoint.id } });
        let delivery = WebhookDelivery {
            id: delivery_id,
            endpoint: endpoint.id,
            event_seq: None,
            event_type: "webhook.ping".into(),
            message_id: format!("msg_ping_{}", delivery_id.simple()),
            body: payload("webhook.ping", now, None, a.owner(), &data),
            redelivery_of: None,
            status: DeliveryStatus::Pending,
            attempts: 0,
            next_attempt_at: now,
            last_status_code: None,
            last_error: None,
            created_at: now,
            finished_at: None,
        };
        self.insert(a, &delivery, None).await?;
        Ok(delivery)
    }

    async fn insert(&self, a: &WebhookAdmin, d: &WebhookDelivery, audit: Option<&Audit>) -> Result<(), AppError> {
        if self.app.written(self.app.store().insert_delivery(a.scope, d, audit).await).await? {
            Ok(())
        } else {
            Err(AppError::NotFound)
        }
    }

    /// Resolves when a write may have made work (or at once if one did
    /// since the last call); the server's loop also polls.
    pub async fn woken(&self) {
        self.app.webhook_wake.notified().await;
    }

    /// One round: new events become deliveries, then due deliveries are
    /// leased and sent, concurrently, and their attempts recorded.
    pub async fn run_once(&self) -> Result<Round, AppError> {
        let store = self.app.store();
        let mut round = Round::default();
        for endpoint in store.webhooks_behind().await? {
            round.queued += store.fan_out_webhook(endpoint, self.app.now(), FAN_OUT_BATCH).await?;
        }
        // A lease owner per round: a later round of this node never takes
        // this round's deliveries for its own.
        let owner = format!("round-{}", self.app.new_uuid().simple());
        let now = self.app.now();
        let claimed = store.claim_deliveries(&owner, now, now.plus(LEASE), CLAIM_BATCH).await?;
        let mut sending = tokio::task::JoinSet::new();
        for c in claimed {
            let (app, owner) = (self.app.clone(), owner.clone());
            sending.spawn(async move { app.webhooks().attempt(&owner, c).await });
        }
        while let Some(done) = sending.join_next().await {
            match done {
                Ok(Ok(ok)) => {
                    round.attempted += 1;
                    round.succeeded += u32::from(ok);
                }
                Ok(Err(e)) => tracing::warn!(error = %e, "recording a webhook attempt failed"),
                Err(e) => tracing::warn!(error = %e, "a webhook delivery task failed"),
            }
        }
        Ok(round)
    }

    /// Deletes the deliveries that finished (succeeded or gave up) longer
    /// than `webhook_delivery_retention` ago, in batches so no write waits
    /// long; pending ones stay however old. Any number of nodes may run it.
    /// Returns how many it deleted.
    pub async fn prune(&self) -> Result<u64, AppError> {
        let before = self.app.now().minus(self.app.settings().webhook_delivery_retention);
        let mut pruned = 0;
        loop {
            let n = self.app.store().prune_deliveries(before, PRUNE_BATCH).await?;
            pruned += n;
            if n < u64::from(PRUNE_BATCH) {
                return Ok(pruned);
            }
        }
    }

    /// Sends one leased delivery and records the attempt; `true` on a 2xx.
    async fn attempt(&self, owner: &str, c: ClaimedDelivery) -> Result<bool, AppError> {
        let d = &c.delivery;
        let at = self.app.now();
        let started = std::time::Instant::now();
        let answer = self.post(&c, at).await;
        let duration_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        let (status_code, error) = match answer {
            Ok(s) if (200..300).contains(&s) => (Some(s), None),
            Ok(s) if (300..400).contains(&s) => (Some(s), Some(format!("answered {s}; redirects are not followed"))),
            Ok(s) => (Some(s), Some(format!("answered {s}"))),
            Err(e) => (None, Some(e)),
        };
        let ok = error.is_none();
        let attempts = d.attempts.saturating_add(1);
        let outcome = match (ok, next_attempt(attempts, self.app.now())) {
            (true, _) => AttemptOutcome::Succeeded,
            (false, Some(t)) => AttemptOutcome::RetryAt(t),
            (false, None) => AttemptOutcome::Failed,
        };
        if !ok {
            tracing::info!(delivery = %d.id, endpoint = %d.endpoint, attempts, error = ?error, "webhook delivery failed");
        }
        let attempt = DeliveryAttempt { at, status_code, error, duration_ms };
        let recorded = self.app.store().record_attempt(d.id, owner, &attempt, outcome).await?;
        if recorded && !ok {
            self.disable_if_failing(c.scope, d.endpoint).await?;
        }
        Ok(ok)
    }

    /// Disables an endpoint whose every attempt has failed for
    /// `DISABLE_AFTER`: its deliveries wait (pending ones are sent once an
    /// admin enables it again), and the audit log and events say why.
    async fn disable_if_failing(&self, scope: EventScope, id: Uuid) -> Result<(), AppError> {
        let store = self.app.store();
        let Some(mut endpoint) = store.webhook(scope, id).await? else { return Ok(()) };
        let now = self.app.now();
        let failing_before = now.minus(DISABLE_AFTER);
        if !endpoint.enabled || endpoint.failing_since.is_none_or(|t| t > failing_before) {
            return Ok(());
        }
        endpoint.enabled = false;
        let base = Audit {
            workspace: match scope {
                EventScope::Workspace(w) => Some(w),
                EventScope::Org(_) => None,
            },
            actor: None,
            actor_label: "guildhall".into(),
            action: "webhook.disabled".into(),
            target: String::new(),
            detail: None,
            ip: None,
            at: now,
            data: None,
        };
        let days = DISABLE_AFTER.as_secs() / 86_400;
        let detail = format!("every delivery attempt failed for {days} days");
        let audit = webhook_audit(base, &endpoint, Some(detail.clone()));
        if self.app.written(store.disable_failing_webhook(scope, id, failing_before, &audit).await).await? {
            tracing::warn!(endpoint = %id, "webhook endpoint disabled: {detail}");
            // Disabled for good: a notice that fails is logged, not retried.
            if let Err(e) = self.mail_admins_disabled(scope, &endpoint, &detail).await {
                tracing::warn!(error = %e, endpoint = %id, "could not tell the admins of a disabled webhook endpoint");
            }
        }
        Ok(())
    }

    /// Tells the admins of the endpoint's workspace or org (active, with a
    /// verified address) that it was disabled, and why. The mail names the
    /// endpoint by host and description, never by URL.
    async fn mail_admins_disabled(
        &self,
        scope: EventScope,
        endpoint: &WebhookEndpoint,
        why: &str,
    ) -> Result<(), AppError> {
        let Some((slug, admins)) = self.app.store().webhook_owner(scope).await? else { return Ok(()) };
        let page = match scope {
            EventScope::Workspace(_) => format!("/workspaces/{slug}/webhooks"),
            EventScope::Org(_) => format!("/orgs/{slug}/webhooks"),
        };
        let mut name = format!("on {}", host_of(endpoint).as_deref().unwrap_or("an unknown host"));
        if !endpoint.description.is_empty() {
            name = format!("{name} (\"{}\")", endpoint.description);
        }
        let base = &self.app.settings().public_url;
        for admin in admins.iter().filter(|a| a.may_join()) {
            let mail = crate::mails::webhook_disabled(base, admin, &name, why, &page);
            if let Err(e) = self.app.deps.mailer.send(mail).await {
                tracing::warn!(error = %e, "could not queue the notice of a disabled webhook endpoint");
            }
        }
        Ok(())
    }

    /// Posts the delivery, signed for this attempt: the answer's status, or
    /// why there was none (shown to admins in the delivery log).
    async fn post(&self, c: &ClaimedDelivery, at: Timestamp) -> Result<u16, String> {
        let allow_loopback = self.app.settings().webhooks_allow_loopback;
        // Checked again: the settings may have changed since it was saved.
        let url = parse_endpoint_url(&c.url, allow_loopback).map_err(str::to_owned)?;
        let open = |sealed: &[u8]| {
            self.app
                .open_sealed(&secret_aad(c.delivery.endpoint), sealed)
                .and_then(WebhookSecret::from_key)
                .ok_or("the signing secret cannot be unsealed: the server's master key differs")
        };
        let d = &c.delivery;
        let timestamp = at.as_millis().div_euclid(1000);
        let mut signature = sign(&open(&c.secret_sealed)?, &d.message_id, timestamp, d.body.as_bytes());
        // Within a rotation's overlap, the old secret signs too (the header
        // holds space-separated signatures; a receiver accepts any).
        if let Some((sealed, until)) = &c.previous_secret
            && at < *until
        {
            signature.push(' ');
            signature.push_str(&sign(&open(sealed)?, &d.message_id, timestamp, d.body.as_bytes()));
        }
        let request = WebRequest {
            method: "POST".into(),
            url,
            headers: vec![
                ("content-type".into(), "application/json".into()),
                ("webhook-id".into(), d.message_id.clone()),
                ("webhook-timestamp".into(), timestamp.to_string()),
                ("webhook-signature".into(), signature),
            ],
            body: Some(d.body.clone().into_bytes()),
            public_only: !allow_loopback,
        };
        match self.app.deps.web.send(request).await {
            Ok(r) => Ok(r.status),
            Err(e) => Err(format!("no answer: {}", e.0)),
        }
    }
}
