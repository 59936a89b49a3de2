//! Webhook endpoints and the outbox of their deliveries (SPEC §6,
//! `docs/webhooks.md`). The event log is the source of truth: the store
//! copies each endpoint's new events into deliveries, and nodes claim due
//! deliveries with leases, so any number of nodes can send them.

use super::events::Scope;
use super::{Audit, StoreError};
use async_trait::async_trait;
use guildhall_core::Timestamp;
use guildhall_core::accounts::Account;
use uuid::Uuid;

/// An endpoint as admins see it (the signing key is stored sealed apart).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookEndpoint {
    pub id: Uuid,
    pub scope: Scope,
    pub url: String,
    pub description: String,
    /// Space-separated (`guildhall_core::webhooks::EventTypes::to_stored`).
    pub event_types: String,
    pub enabled: bool,
    pub created_by: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Since when every attempt has failed (`None` after a success).
    /// Kept by the store as attempts are recorded.
    pub failing_since: Option<Timestamp>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeliveryStatus {
    /// Waiting for its first attempt or a retry.
    Pending,
    Succeeded,
    /// Given up after the last attempt.
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(Self::Pending),
            "succeeded" => Some(Self::Succeeded),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }
}

/// One message to one endpoint, and where it stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookDelivery {
    pub id: Uuid,
    pub endpoint: Uuid,
    /// The event (its cursor); `None` for a ping.
    pub event_seq: Option<i64>,
    pub event_type: String,
    /// The `webhook-id` header.
    pub message_id: String,
    /// The JSON body, byte for byte as sent.
    pub body: String,
    pub redelivery_of: Option<Uuid>,
    pub status: DeliveryStatus,
    pub attempts: u32,
    pub next_attempt_at: Timestamp,
    pub last_status_code: Option<u16>,
    pub last_error: Option<String>,
    pub created_at: Timestamp,
    pub finished_at: Option<Timestamp>,
}

/// One try: the answer's status (none if there was no answer) or what failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliveryAttempt {
    pub at: Timestamp,
    pub status_code: Option<u16>,
    pub error: Option<String>,
    pub duration_ms: i64,
}

/// A delivery this node now holds the lease on, with where it goes.
#[derive(Clone, Debug)]
pub struct ClaimedDelivery {
    pub delivery: WebhookDelivery,
    pub url: String,
    pub secret_sealed: Vec<u8>,
    /// The secret a rotation replaced, and until when it also signs.
    pub previous_secret: Option<(Vec<u8>, Timestamp)>,
    /// The endpoint's owner.
    pub scope: Scope,
}

/// What an attempt decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttemptOutcome {
    Succeeded,
    RetryAt(Timestamp),
    Failed,
}

#[async_trait]
pub trait WebhookStore: Send + Sync {
    /// Stores a new endpoint and its audit row (and so its event); its
    /// cursor is the latest event, this one included: no history is sent.
    async fn create_webhook(
        &self,
        endpoint: &WebhookEndpoint,
        secret_sealed: &[u8],
        audit: &Audit,
    ) -> Result<(), StoreError>;
    /// The scope's endpoints, oldest first.
    async fn webhooks(&self, scope: Scope) -> Result<Vec<WebhookEndpoint>, StoreError>;
    async fn webhook(&self, scope: Scope, id: Uuid) -> Result<Option<WebhookEndpoint>, StoreError>;
    /// Replaces url, description, event types and `enabled`; an endpoint
    /// enabled again starts from the latest event, with no failures
    /// counted. `false` if unknown.
    async fn update_webhook(&self, endpoint: &WebhookEndpoint, audit: &Audit) -> Result<bool, StoreError>;
    /// Makes `secret_sealed` the signing secret, keeps the one it replaces
    /// (signing too) until `previous_until`, and sets `updated_at`.
    /// `false` if unknown.
    async fn rotate_webhook_secret(
        &self,
        endpoint: &WebhookEndpoint,
        secret_sealed: &[u8],
        previous_until: Timestamp,
        audit: &Audit,
    ) -> Result<bool, StoreError>;
    /// Disables the endpoint if it is enabled and failing since
    /// `failing_before` or earlier, in one statement (so a concurrent
    /// change is neither lost nor disabled twice), with its audit row.
    /// `false` if it was not.
    async fn disable_failing_webhook(
        &self,
        scope: Scope,
        id: Uuid,
        failing_before: Timestamp,
        audit: &Audit,
    ) -> Result<bool, StoreError>;
    /// The slug of the workspace or org and its admins (the workspace's
    /// administrators group, the org's admins), by username; `None` if it
    /// is gone.
    async fn webhook_owner(&self, scope: Scope) -> Result<Option<(String, Vec<Account>)>, StoreError>;
    /// Removes the endpoint with its deliveries. `false` if unknown.
    async fn delete_webhook(&self, scope: Scope, id: Uuid, audit: &Audit) -> Result<bool, StoreError>;

    /// Enabled endpoints with events after their cursor.
    async fn webhooks_behind(&self) -> Result<Vec<Uuid>, StoreError>;
    /// In one transaction with the endpoint locked: up to `limit` of its
    /// scope's events after its cursor become deliveries (those its types
    /// match), due at `now`, and the cursor moves past them. Returns how
    /// many deliveries were made. Safe to run on any number of nodes.
    async fn fan_out_webhook(&self, endpoint: Uuid, now: Timestamp, limit: u32) -> Result<u32, StoreError>;
    /// Leases up to `limit` pending deliveries of enabled endpoints that
    /// are due at `now` and not leased (or whose lease ran out) to `owner`
    /// until `until`. No delivery is leased to two owners at once.
    async fn claim_deliveries(
        &self,
        owner: &str,
        now: Timestamp,
        until: Timestamp,
        limit: u32,
    ) -> Result<Vec<ClaimedDelivery>, StoreError>;
    /// Records an attempt and its outcome and ends the lease, if `owner`
    /// still holds it (`false`, and nothing recorded, otherwise); keeps the
    /// endpoint's `failing_since`.
    async fn record_attempt(
        &self,
        delivery: Uuid,
        owner: &str,
        attempt: &DeliveryAttempt,
        outcome: AttemptOutcome,
    ) -> Result<bool, StoreError>;

    /// Deletes up to `limit` finished deliveries (succeeded or given up,
    /// never pending ones) that finished before `before`, with their
    /// attempts; how many it deleted.
    async fn prune_deliveries(&self, before: Timestamp, limit: u32) -> Result<u64, StoreError>;

    /// The endpoint's newest deliveries first, each with its attempts (oldest first).
    async fn deliveries(
        &self,
        scope: Scope,
        endpoint: Uuid,
        limit: u32,
    ) -> Result<Vec<(WebhookDelivery, Vec<DeliveryAttempt>)>, StoreError>;
    async fn delivery(&self, scope: Scope, endpoint: Uuid, id: Uuid) -> Result<Option<WebhookDelivery>, StoreError>;
    /// Adds a delivery (a redelivery or a ping) to an endpoint of the
    /// scope, with its audit row when given. `false` if no such endpoint.
    async fn insert_delivery(
        &self,
        scope: Scope,
        delivery: &WebhookDelivery,
        audit: Option<&Audit>,
    ) -> Result<bool, StoreError>;
}
