//! The ports: what the use cases need from the outside world.
//!
//! Store methods are command-shaped: each one is one transaction in the
//! adapter, and no transaction type leaks through these traits.

mod accounts;
mod changes;
mod events;
mod identities;
mod invitations;
mod jobs;
mod links;
mod mfa;
mod oauth;
mod orgs;
mod provisioning;
mod scim;
mod sessions;
mod sites;
mod throttle;
mod tokens;
mod webhooks;
mod workspaces;

pub use accounts::{AccountLookup, AccountStore, AccountWithHash, EmailTokenPurpose, NewAccount, NewEmailToken};
pub use changes::{Change, ChangeStore};
pub use events::{
    DirectorySnapshot, DirectoryToken, Event, EventStore, Scope as EventScope, SnapshotGroup, SnapshotRepository,
};
pub use identities::{Identity, IdentityStore, StoredProvider};
pub use invitations::{Invitation, InvitationStore, NewInvitation};
pub use jobs::JobStore;
pub use links::{Link, LinkStore};
pub use mfa::{MfaStore, StoredPasskey, TotpCredential};
pub use oauth::{AuthorizationCode, CodeUse, Consent, OAuthStore, Product, RefreshToken, RefreshUse, SigningKey};
pub use orgs::{AutoLink, ManagedChange, NewOrg, Org, OrgDomain, OrgStore};
pub use provisioning::{
    ClaimedConnection, ObjectKind, ProvisionedCounts, ProvisioningStore, RemoteObject, RoundOutcome, ScimConnection,
};
pub use scim::{
    GroupWrite, Page, ScimGroup, ScimStore, ScimUser, TextOp, UserCondition, UserField, UserKey, UserWrite,
};
pub use sessions::{NewSession, Session, SessionStore};
pub use sites::{Customer, Site, SiteStore};
pub use throttle::ThrottleStore;
pub use tokens::{AccessToken, AccessTokenStore, NewAccessToken};
pub use webhooks::{
    AttemptOutcome, ClaimedDelivery, DeliveryAttempt, DeliveryStatus, WebhookDelivery, WebhookEndpoint, WebhookStore,
};
pub use workspaces::{
    Audit, Group, Member, MembershipChange, NewGroup, NewRepository, NewWorkspace, PermissionSnapshot, Repository,
    Workspace, WorkspaceStore,
};

use async_trait::async_trait;
use guildhall_core::Timestamp;
use guildhall_core::accounts::Email;

/// A store error. Constraint violations the use cases can act on are named;
/// everything else is a backend failure whose text never reaches a client.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint on the named field (`"email"`, `"username"`).
    #[error("{0} already taken")]
    Conflict(&'static str),
    #[error("database error")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Every store port, implemented by `guildhall-store-sqlite` and
/// `guildhall-store-postgres` and checked by the conformance suite.
#[async_trait]
pub trait Store:
    AccountStore
    + SessionStore
    + ThrottleStore
    + WorkspaceStore
    + InvitationStore
    + AccessTokenStore
    + ChangeStore
    + OAuthStore
    + OrgStore
    + JobStore
    + LinkStore
    + SiteStore
    + IdentityStore
    + MfaStore
    + EventStore
    + WebhookStore
    + ScimStore
    + ProvisioningStore
    + Send
    + Sync
{
    /// A trivial query, for readiness checks.
    async fn ping(&self) -> Result<(), StoreError>;
}

/// Wall-clock time. Tests substitute a clock they advance.
pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
}

/// The system clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_offset_datetime(time::OffsetDateTime::now_utc())
    }
}

/// Cryptographically secure randomness for tokens and identifiers.
pub trait SecretRng: Send + Sync {
    fn fill(&self, buf: &mut [u8]);
}

/// The operating system's CSPRNG (via `rand`'s thread-local, OS-seeded ChaCha).
pub struct OsSecretRng;

impl SecretRng for OsSecretRng {
    fn fill(&self, buf: &mut [u8]) {
        rand::fill(buf);
    }
}

/// A message to send. Bodies may contain secret links: adapters must not log them.
#[derive(Clone, Debug)]
pub struct OutgoingMail {
    pub to: Email,
    pub to_name: Option<String>,
    pub subject: String,
    pub text: String,
}

#[derive(Debug, thiserror::Error)]
#[error("mail could not be queued: {0}")]
pub struct MailError(pub String);

/// Outgoing mail. The adapter must make the message durable (the outbox)
/// before returning; delivery over SMTP may happen afterwards.
#[async_trait]
pub trait Mailer: Send + Sync {
    async fn send(&self, mail: OutgoingMail) -> Result<(), MailError>;
}

#[derive(Debug, thiserror::Error)]
#[error("DNS lookup failed: {0}")]
pub struct DnsError(pub String);

/// DNS lookups (domain verification). A name that does not exist, or has no
/// such records, is `Ok(vec![])`; `Err` is for a lookup that could not be made.
#[async_trait]
pub trait Dns: Send + Sync {
    /// The TXT strings at `name`, each record's strings joined.
    async fn txt(&self, name: &str) -> Result<Vec<String>, DnsError>;
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct WebError(pub String);

/// An HTTP answer: the status and the body (bounded by the adapter).
#[derive(Debug)]
pub struct WebResponse {
    pub status: u16,
    pub body: Vec<u8>,
}

/// Any outbound request (webhooks, SCIM pushes): the adapter sends exactly
/// these headers and body, follows no redirects, times out after 10 s and
/// caps the answer's body.
#[derive(Clone, Debug)]
pub struct WebRequest {
    /// `GET`, `POST`, `PUT`, `PATCH`, `DELETE` …
    pub method: String,
    pub url: url::Url,
    /// Sent as given (values may be secret: adapters must not log them).
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    /// Refuse to connect to loopback, private, link-local or unspecified
    /// addresses, whatever the host name resolves to (URLs that workspace
    /// and org admins supply, as opposed to the operator's).
    pub public_only: bool,
}

/// Outbound HTTPS to upstream identity providers. Adapters send
/// `Accept: application/json`, follow no redirects and time out; `Err` is
/// for a request that got no answer.
#[async_trait]
pub trait WebClient: Send + Sync {
    /// A general request (see `WebRequest`); `Err` if no answer came.
    async fn send(&self, request: WebRequest) -> Result<WebResponse, WebError>;
    async fn get(&self, url: &url::Url, bearer: Option<&str>) -> Result<WebResponse, WebError>;
    /// A form POST, with HTTP Basic credentials when given.
    async fn post_form(
        &self,
        url: &url::Url,
        form: &[(&str, &str)],
        basic: Option<(&str, &str)>,
    ) -> Result<WebResponse, WebError>;
}
