//! Outbound SCIM provisioning (SPEC §6, `docs/provisioning.md`):
//! connections from a workspace or an org to an application's SCIM
//! endpoint, the leases nodes take on them to sync, and the map from local
//! accounts and groups to the application's ids.

use super::events::Scope;
use super::{Audit, StoreError};
use async_trait::async_trait;
use guildhall_core::Timestamp;
use guildhall_core::provisioning::SyncStatus;
use uuid::Uuid;

/// A connection as admins see it (its token is stored sealed apart).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScimConnection {
    pub id: Uuid,
    pub scope: Scope,
    pub name: String,
    /// The application's SCIM base URL, without a trailing slash.
    pub base_url: String,
    pub enabled: bool,
    pub status: SyncStatus,
    /// Why the last round failed (short, secret-free); `None` once one succeeds.
    pub last_error: Option<String>,
    /// When a round last succeeded.
    pub last_synced_at: Option<Timestamp>,
    /// When a round last started.
    pub last_attempt_at: Option<Timestamp>,
    /// When a round is due whatever the event log says (a retry, a first
    /// sync, "sync now"); `None`: when the log has new events.
    pub next_attempt_at: Option<Timestamp>,
    /// Failed rounds in a row.
    pub failures: u32,
    /// The last event of the scope reflected downstream.
    pub cursor: i64,
    pub created_by: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// How much of the scope a connection has pushed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProvisionedCounts {
    /// Users pushed and active downstream.
    pub users: u64,
    /// Users deprovisioned downstream (pushed with `active: false`).
    pub deprovisioned: u64,
    pub groups: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ObjectKind {
    User,
    Group,
}

impl ObjectKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Group => "group",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "user" => Some(Self::User),
            "group" => Some(Self::Group),
            _ => None,
        }
    }
}

/// A local account or group and the application's resource for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteObject {
    pub kind: ObjectKind,
    /// The account's or group's id.
    pub local_id: Uuid,
    /// The application's `id` of the resource.
    pub remote_id: String,
    /// The fingerprint of what was last pushed (empty when unknown, such as
    /// after a deprovisioning).
    pub fingerprint: String,
    /// For users: last pushed as active.
    pub active: bool,
}

/// A connection this node now holds the lease on.
#[derive(Clone, Debug)]
pub struct ClaimedConnection {
    pub connection: ScimConnection,
    pub token_sealed: Vec<u8>,
    /// Push every resource again, changed or not ("sync now", a new URL).
    pub full: bool,
}

/// How a round ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RoundOutcome {
    /// Everything up to `cursor` is downstream.
    Synced { cursor: i64 },
    /// Retried at `retry_at`.
    Failed { error: String, retry_at: Timestamp },
}

#[async_trait]
pub trait ProvisioningStore: Send + Sync {
    /// Stores a new connection (due at once, for a full first sync) with
    /// its audit row.
    async fn create_scim_connection(
        &self,
        connection: &ScimConnection,
        token_sealed: &[u8],
        audit: &Audit,
    ) -> Result<(), StoreError>;
    /// The scope's connections, oldest first, with what each has pushed.
    async fn scim_connections(&self, scope: Scope) -> Result<Vec<(ScimConnection, ProvisionedCounts)>, StoreError>;
    async fn scim_connection(
        &self,
        scope: Scope,
        id: Uuid,
    ) -> Result<Option<(ScimConnection, ProvisionedCounts)>, StoreError>;
    /// Replaces name, base URL and `enabled` (and the token when given).
    /// With `resync` the connection is due at `updated_at` for a full
    /// round, with no failures and status `pending`. `false` if unknown.
    async fn update_scim_connection(
        &self,
        connection: &ScimConnection,
        token_sealed: Option<&[u8]>,
        resync: bool,
        audit: &Audit,
    ) -> Result<bool, StoreError>;
    /// Removes the connection and its map. `false` if unknown.
    async fn delete_scim_connection(&self, scope: Scope, id: Uuid, audit: &Audit) -> Result<bool, StoreError>;
    /// Makes the connection due at `now` for a full round. `false` if unknown.
    async fn request_scim_sync(
        &self,
        scope: Scope,
        id: Uuid,
        now: Timestamp,
        audit: &Audit,
    ) -> Result<bool, StoreError>;

    /// Leases to `owner` until `until` up to `limit` enabled connections
    /// that are not leased (or whose lease ran out) and are due at `now`, or
    /// not scheduled and behind the event log of their scope. No connection
    /// is leased to two owners at once.
    async fn claim_scim_connections(
        &self,
        owner: &str,
        now: Timestamp,
        until: Timestamp,
        limit: u32,
    ) -> Result<Vec<ClaimedConnection>, StoreError>;
    /// Extends the lease if `owner` still holds it.
    async fn renew_scim_lease(&self, id: Uuid, owner: &str, until: Timestamp) -> Result<bool, StoreError>;
    /// Records the round that started at `started` and ended at `at`, and
    /// ends the lease, if `owner` still holds it (`false`, and nothing
    /// recorded, otherwise). A success keeps a request for another round
    /// made after `started`.
    async fn finish_scim_round(
        &self,
        id: Uuid,
        owner: &str,
        started: Timestamp,
        at: Timestamp,
        outcome: &RoundOutcome,
    ) -> Result<bool, StoreError>;

    /// The connection's map.
    async fn remote_objects(&self, connection: Uuid) -> Result<Vec<RemoteObject>, StoreError>;
    /// Adds or replaces the entry of `object.local_id`; `Conflict("remote_id")`
    /// if another local object of that kind has this remote id; `false` if
    /// the connection is gone.
    async fn save_remote_object(&self, connection: Uuid, object: &RemoteObject) -> Result<bool, StoreError>;
    async fn forget_remote_object(&self, connection: Uuid, kind: ObjectKind, local_id: Uuid) -> Result<(), StoreError>;
}
