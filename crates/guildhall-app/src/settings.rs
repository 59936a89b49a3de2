//! Settings the use cases read. Loaded once by the binary and passed down.

use guildhall_core::accounts::PasswordPolicy;
use guildhall_core::throttle::ThrottlePolicy;
use std::time::Duration;

/// Argon2id cost parameters (SPEC §1 default: m=19 MiB, t=2, p=1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Argon2Params {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for Argon2Params {
    fn default() -> Self {
        Self { memory_kib: 19 * 1024, iterations: 2, parallelism: 1 }
    }
}

#[derive(Clone, Debug)]
pub struct AppSettings {
    /// The externally visible base URL, without a trailing slash.
    pub public_url: String,
    pub argon2: Argon2Params,
    pub password_policy: PasswordPolicy,
    pub session_ttl: Duration,
    pub verification_ttl: Duration,
    pub reset_ttl: Duration,
    /// How long an invitation link works (default 7 days).
    pub invitation_ttl: Duration,
    /// Failed sign-ins per account (by email) before a lockout.
    pub signin_account_throttle: ThrottlePolicy,
    /// Failed sign-ins per source address before a lockout.
    pub signin_address_throttle: ThrottlePolicy,
    /// Verification resends per account.
    pub resend_throttle: ThrottlePolicy,
    /// Password-reset mails per address.
    pub reset_throttle: ThrottlePolicy,
    /// How often the server reads the change feed (ADR 0006): the longest a
    /// change made by another node or the CLI stays unseen by this one.
    pub follow_interval: Duration,
    /// Seals private signing keys at rest.
    pub master_key: crate::oauth::MasterKey,
    /// How long an authorization code works (default 60 s).
    pub code_ttl: Duration,
    /// How long access and ID tokens are valid (default 10 min).
    pub access_token_ttl: Duration,
    /// How long an unused refresh token works (default 30 days).
    pub refresh_token_ttl: Duration,
    /// How often a new signing key is made (default 30 days).
    pub key_rotation: Duration,
    /// External identity providers from the config file.
    pub providers: Vec<crate::external::ConfiguredProvider>,
    /// Let organizations' identity providers be on loopback http (local
    /// development and tests only); otherwise they must be public https.
    pub org_idp_allow_loopback: bool,
    /// Let webhook endpoints be on loopback http (local development and
    /// tests only); otherwise they must be public https.
    pub webhooks_allow_loopback: bool,
    /// How long a finished webhook delivery stays in the delivery log
    /// (default 30 days).
    pub webhook_delivery_retention: Duration,
    /// Let SCIM provisioning connections point at loopback http (local
    /// development and tests only); otherwise they must be public https.
    pub provisioning_allow_loopback: bool,
    /// How often the server looks for provisioning connections to sync.
    pub provisioning_poll: Duration,
}

impl AppSettings {
    pub fn with_public_url(public_url: &str) -> Self {
        let minutes = |m: u64| Duration::from_secs(60 * m);
        Self {
            public_url: public_url.trim_end_matches('/').to_owned(),
            argon2: Argon2Params::default(),
            password_policy: PasswordPolicy::default(),
            session_ttl: Duration::from_secs(14 * 24 * 3600),
            verification_ttl: Duration::from_secs(24 * 3600),
            reset_ttl: minutes(60),
            invitation_ttl: Duration::from_secs(7 * 24 * 3600),
            signin_account_throttle: ThrottlePolicy { max_hits: 5, window: minutes(15), lockout: minutes(15) },
            signin_address_throttle: ThrottlePolicy { max_hits: 50, window: minutes(15), lockout: minutes(15) },
            resend_throttle: ThrottlePolicy { max_hits: 3, window: minutes(60), lockout: minutes(60) },
            reset_throttle: ThrottlePolicy { max_hits: 3, window: minutes(60), lockout: minutes(60) },
            follow_interval: Duration::from_millis(100),
            master_key: crate::oauth::MasterKey([0; 32]),
            code_ttl: Duration::from_secs(60),
            access_token_ttl: Duration::from_secs(600),
            refresh_token_ttl: Duration::from_secs(30 * 24 * 3600),
            key_rotation: Duration::from_secs(30 * 24 * 3600),
            providers: Vec::new(),
            org_idp_allow_loopback: false,
            webhooks_allow_loopback: false,
            webhook_delivery_retention: Duration::from_secs(30 * 24 * 3600),
            provisioning_allow_loopback: false,
            provisioning_poll: Duration::from_secs(5),
        }
    }
}
