//! Webhooks in the Standard Webhooks format
//! (<https://www.standardwebhooks.com>, spec v1): the secret, the signature
//! over `{id}.{timestamp}.{body}`, its constant-time verification, the
//! payload, which events an endpoint wants, which URLs it may have, and the
//! retry schedule. Pure functions; delivery happens in the app.

use crate::Timestamp;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{KeyInit, Mac};
use serde_json::{Value, json};
use std::time::Duration;
use subtle::ConstantTimeEq;
use url::Url;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// The prefix of a secret as shown to people (`whsec_<base64 key>`).
pub const SECRET_PREFIX: &str = "whsec_";
/// Random bytes in the secrets we make.
pub const SECRET_BYTES: usize = 32;
/// Attempts of one delivery before it is given up (the first one included).
pub const MAX_ATTEMPTS: u32 = 12;
/// The wait after the first failed attempt; it doubles after each further one.
pub const FIRST_RETRY: Duration = Duration::from_secs(30);
/// The longest wait between two attempts.
pub const MAX_RETRY: Duration = Duration::from_secs(6 * 3600);
/// How long a node may hold a delivery it is sending before another node
/// may take it (longer than the request timeout).
pub const LEASE: Duration = Duration::from_secs(60);
/// How far a receiver's clock may be from the timestamp (the spec's default).
pub const TOLERANCE: Duration = Duration::from_secs(5 * 60);
/// An endpoint whose every attempt has failed for this long is disabled
/// (its admins enable it again once it answers).
pub const DISABLE_AFTER: Duration = Duration::from_secs(5 * 24 * 3600);
/// How long a rotated-out secret keeps signing beside its successor: time
/// for the receiver to switch to the new one without failing a delivery.
pub const SECRET_OVERLAP: Duration = Duration::from_secs(24 * 3600);

/// A signing key. `Debug` is redacted; shown once, as `whsec_…`.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(Vec<u8>);

impl WebhookSecret {
    pub fn from_random_bytes(bytes: [u8; SECRET_BYTES]) -> Self {
        Self(bytes.to_vec())
    }

    /// `whsec_<base64>` (padding optional) or the bare base64, 24 to 64 bytes.
    pub fn parse(s: &str) -> Option<Self> {
        let b64 = s.trim().strip_prefix(SECRET_PREFIX).unwrap_or(s.trim());
        let padded = format!("{b64}{}", "=".repeat((4 - b64.len() % 4) % 4));
        Self::from_key(STANDARD.decode(padded).ok()?)
    }

    /// A raw key as unsealed (24 to 64 bytes).
    pub fn from_key(key: Vec<u8>) -> Option<Self> {
        (24..=64).contains(&key.len()).then_some(Self(key))
    }

    /// The raw key (what is sealed at rest).
    pub fn key(&self) -> &[u8] {
        &self.0
    }

    /// `whsec_<base64 key>`, as shown once to the admin.
    pub fn expose(&self) -> String {
        format!("{SECRET_PREFIX}{}", STANDARD.encode(&self.0))
    }
}

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(<redacted>)")
    }
}

fn mac(key: &[u8], msg_id: &str, timestamp: i64, body: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length: this cannot fail.
    let mut mac = <HmacSha256 as KeyInit>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(msg_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The `webhook-signature` header: `v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`.
pub fn sign(secret: &WebhookSecret, msg_id: &str, timestamp: i64, body: &[u8]) -> String {
    let tag = mac(secret.key(), msg_id, timestamp, body).finalize().into_bytes();
    format!("v1,{}", STANDARD.encode(tag))
}

/// Why a delivery did not verify.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("the webhook-timestamp header is not a number")]
    BadTimestamp,
    #[error("the message is too old or too new")]
    OutsideTolerance,
    #[error("no matching signature")]
    NoMatch,
}

/// Checks a delivery as a receiver does: the timestamp within `TOLERANCE`
/// of `now` (unix seconds), and one of the space-separated `v1,` signatures
/// matching, compared in constant time.
pub fn verify(
    secret: &WebhookSecret,
    msg_id: &str,
    timestamp: &str,
    body: &[u8],
    signatures: &str,
    now: i64,
) -> Result<(), VerifyError> {
    let ts: i64 = timestamp.trim().parse().map_err(|_| VerifyError::BadTimestamp)?;
    let tolerance = i64::try_from(TOLERANCE.as_secs()).unwrap_or(i64::MAX);
    if (now - ts).abs() > tolerance {
        return Err(VerifyError::OutsideTolerance);
    }
    let expected = mac(secret.key(), msg_id, ts, body).finalize().into_bytes();
    let found = signatures
        .split(' ')
        .filter_map(|s| s.strip_prefix("v1,"))
        .filter_map(|s| STANDARD.decode(s).ok())
        .any(|given| bool::from(given.as_slice().ct_eq(expected.as_slice())));
    if found { Ok(()) } else { Err(VerifyError::NoMatch) }
}

/// The `webhook-id` of an event's deliveries to one endpoint: the same on
/// every retry and redelivery, different for every other endpoint.
pub fn message_id(event_seq: i64, endpoint: uuid::Uuid) -> String {
    format!("msg_{event_seq}_{}", endpoint.simple())
}

/// Whose event: `("workspace", slug)` or `("org", slug)`.
#[derive(Clone, Copy, Debug)]
pub struct Owner<'a> {
    pub kind: &'static str,
    pub slug: &'a str,
}

/// The body of an event's delivery: Standard Webhooks' `type`, `timestamp`
/// and `data` (the event's data exactly as the events API shows it), and
/// the event's `cursor` and its workspace's or org's slug beside them (not
/// inside `data`, whose keys, such as `workspace`, belong to the event).
pub fn payload(kind: &str, at: Timestamp, cursor: Option<i64>, owner: Owner<'_>, data: &Value) -> String {
    let mut body = json!({ "type": kind, "timestamp": at.rfc3339() });
    if let Some(c) = cursor {
        body["cursor"] = json!(c);
    }
    body[owner.kind] = json!(owner.slug);
    body["data"] = data.clone();
    body.to_string()
}

/// The event types an endpoint wants: exact types (`group.member_added`),
/// families (`group.*`) or `*`; none means every type.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EventTypes(Vec<String>);

impl EventTypes {
    /// At most 50 entries of lowercase dotted names, each segment
    /// `[a-z][a-z0-9_]*`, the last one possibly `*`. Duplicates are dropped.
    pub fn parse<S: AsRef<str>>(items: &[S]) -> Result<Self, String> {
        if items.len() > 50 {
            return Err("At most 50 event types.".into());
        }
        let mut out: Vec<String> = Vec::new();
        for item in items {
            let t = item.as_ref().trim();
            if !valid_type(t) {
                return Err(format!(
                    "{:?} is not an event type: use names such as group.member_added, a family such as group.*, or *.",
                    t.chars().take(80).collect::<String>()
                ));
            }
            if !out.iter().any(|o| o == t) {
                out.push(t.to_owned());
            }
        }
        Ok(Self(out))
    }

    /// As stored: space-separated.
    pub fn from_stored(s: &str) -> Self {
        Self(s.split_whitespace().map(str::to_owned).collect())
    }

    pub fn to_stored(&self) -> String {
        self.0.join(" ")
    }

    pub fn items(&self) -> &[String] {
        &self.0
    }

    pub fn matches(&self, kind: &str) -> bool {
        self.0.is_empty()
            || self.0.iter().any(|t| match t.strip_suffix('*') {
                Some("") => true,
                Some(prefix) => kind.starts_with(prefix),
                None => t == kind,
            })
    }
}

fn valid_type(t: &str) -> bool {
    if t == "*" {
        return true;
    }
    if t.is_empty() || t.len() > 64 {
        return false;
    }
    let segments: Vec<&str> = t.split('.').collect();
    let last = segments.len() - 1;
    segments.iter().enumerate().all(|(i, s)| {
        (i == last && i > 0 && *s == "*")
            || s.chars().next().is_some_and(|c| c.is_ascii_lowercase())
                && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    })
}

/// An endpoint URL as an admin gives it: absolute, at most 2000 characters,
/// no credentials or fragment, and `https` to a host outside the server's
/// network (see `identities::check_public_upstream`). `allow_loopback`
/// (development and tests) also admits `http` on a loopback address.
pub fn parse_endpoint_url(s: &str, allow_loopback: bool) -> Result<Url, &'static str> {
    let s = s.trim();
    if s.is_empty() {
        return Err("Enter the endpoint's URL.");
    }
    if s.len() > 2000 {
        return Err("At most 2000 characters.");
    }
    let url = crate::identities::parse_upstream_url(s)?;
    if allow_loopback {
        return Ok(url);
    }
    crate::identities::check_public_upstream(&url)?;
    Ok(url)
}

/// When to try again after `attempts` failed attempts (1 or more), or
/// `None` when that was the last: 30 s, then doubling, at most 6 h apart.
pub fn next_attempt(attempts: u32, now: Timestamp) -> Option<Timestamp> {
    if attempts >= MAX_ATTEMPTS {
        return None;
    }
    let doublings = attempts.saturating_sub(1).min(20);
    let wait = FIRST_RETRY.saturating_mul(1 << doublings).min(MAX_RETRY);
    Some(now.plus(wait))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test vector of the Standard Webhooks specification (and of its
    /// reference libraries' tests).
    const SPEC_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const SPEC_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const SPEC_TS: i64 = 1_614_265_330;
    const SPEC_BODY: &str = r#"{"test": 2432232314}"#;
    const SPEC_SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    #[test]
    fn signs_the_specification_test_vector() {
        let secret = WebhookSecret::parse(SPEC_SECRET).unwrap();
        assert_eq!(sign(&secret, SPEC_ID, SPEC_TS, SPEC_BODY.as_bytes()), SPEC_SIGNATURE);
        assert_eq!(secret.expose(), SPEC_SECRET);
    }

    #[test]
    fn verification_accepts_a_good_signature_among_several_and_refuses_the_rest() {
        let secret = WebhookSecret::parse(SPEC_SECRET).unwrap();
        let body = SPEC_BODY.as_bytes();
        let ok = |sigs: &str, now: i64| verify(&secret, SPEC_ID, "1614265330", body, sigs, now);
        assert_eq!(ok(SPEC_SIGNATURE, SPEC_TS), Ok(()));
        assert_eq!(ok(&format!("v1,AAAA v2,xyz {SPEC_SIGNATURE}"), SPEC_TS + 299), Ok(()));
        assert_eq!(ok(SPEC_SIGNATURE, SPEC_TS + 301), Err(VerifyError::OutsideTolerance));
        assert_eq!(ok(SPEC_SIGNATURE, SPEC_TS - 301), Err(VerifyError::OutsideTolerance));
        assert_eq!(ok("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA=", SPEC_TS), Err(VerifyError::NoMatch));
        assert_eq!(ok("v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", SPEC_TS), Err(VerifyError::NoMatch));
        assert_eq!(ok("", SPEC_TS), Err(VerifyError::NoMatch));
        let other_id = verify(&secret, "msg_other", "1614265330", body, SPEC_SIGNATURE, SPEC_TS);
        assert_eq!(other_id, Err(VerifyError::NoMatch));
        let other_body = verify(&secret, SPEC_ID, "1614265330", b"{}", SPEC_SIGNATURE, SPEC_TS);
        assert_eq!(other_body, Err(VerifyError::NoMatch));
        let bad_ts = verify(&secret, SPEC_ID, "soon", body, SPEC_SIGNATURE, SPEC_TS);
        assert_eq!(bad_ts, Err(VerifyError::BadTimestamp));
        let other_key = WebhookSecret::from_random_bytes([7; SECRET_BYTES]);
        assert_eq!(verify(&other_key, SPEC_ID, "1614265330", body, SPEC_SIGNATURE, SPEC_TS), Err(VerifyError::NoMatch));
    }

    #[test]
    fn secrets_round_trip_and_are_redacted() {
        let s = WebhookSecret::from_random_bytes([42; SECRET_BYTES]);
        assert!(s.expose().starts_with("whsec_"));
        assert_eq!(WebhookSecret::parse(&s.expose()), Some(s.clone()));
        assert!(!format!("{s:?}").contains(&s.expose()[6..]));
        assert_eq!(WebhookSecret::parse("whsec_c2hvcnQ="), None, "too short");
        assert_eq!(WebhookSecret::parse("whsec_!!!"), None);
    }

    #[test]
    fn event_types_match_exactly_by_family_or_all() {
        let t = EventTypes::parse(&["group.*", "repository.created", "group.*"]).unwrap();
        assert_eq!(t.to_stored(), "group.* repository.created");
        assert_eq!(EventTypes::from_stored(&t.to_stored()), t);
        assert!(t.matches("group.member_added"));
        assert!(t.matches("repository.created"));
        assert!(!t.matches("repository.deleted"));
        assert!(!t.matches("groups.x"));
        assert!(EventTypes::default().matches("anything.at_all"));
        assert!(EventTypes::parse(&["*"]).unwrap().matches("org.created"));
        for bad in ["", "Group.created", "group.", ".x", "group.*.x", "*.created", "group created", "grüp.x", "g.-"] {
            assert!(EventTypes::parse(&[bad]).is_err(), "{bad:?}");
        }
        let many: Vec<String> = (0..51).map(|i| format!("t.e{i}")).collect();
        assert!(EventTypes::parse(&many).is_err());
    }

    #[test]
    fn endpoint_urls_are_public_https_unless_loopback_is_allowed() {
        assert!(parse_endpoint_url("https://hooks.example.com/in", false).is_ok());
        for bad in [
            "",
            "http://hooks.example.com/in",
            "https://127.0.0.1/x",
            "https://10.0.0.1/x",
            "https://169.254.169.254/latest",
            "https://localhost/x",
            "https://u:p@hooks.example.com",
            "ftp://hooks.example.com",
            "hooks.example.com",
        ] {
            assert!(parse_endpoint_url(bad, false).is_err(), "{bad}");
        }
        assert!(parse_endpoint_url("http://127.0.0.1:9000/hook", true).is_ok());
        assert!(parse_endpoint_url("http://hooks.example.com/in", true).is_err());
        assert!(parse_endpoint_url(&format!("https://x.example/{}", "a".repeat(2000)), false).is_err());
    }

    #[test]
    fn retries_back_off_exponentially_up_to_six_hours_then_stop() {
        let t0 = Timestamp::from_millis(0);
        let waits: Vec<i64> = (1..MAX_ATTEMPTS).map(|n| next_attempt(n, t0).unwrap().as_millis() / 1000).collect();
        assert_eq!(waits, [30, 60, 120, 240, 480, 960, 1920, 3840, 7680, 15360, 21600]);
        assert_eq!(next_attempt(MAX_ATTEMPTS, t0), None);
    }

    #[test]
    fn the_payload_keeps_the_event_data_apart_from_the_envelope() {
        let data = json!({ "workspace": { "slug": "acme" }, "actor": "ada" });
        let at = Timestamp::from_millis(1_795_000_000_123);
        let body = payload("workspace.updated", at, Some(7), Owner { kind: "workspace", slug: "acme" }, &data);
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            v,
            json!({
                "type": "workspace.updated",
                "timestamp": "2026-11-18T11:06:40.123Z",
                "cursor": 7,
                "workspace": "acme",
                "data": data,
            })
        );
        assert_eq!(message_id(7, uuid::Uuid::nil()), "msg_7_00000000000000000000000000000000");
    }
}
