//! Outbound SCIM provisioning (SPEC §6, `docs/provisioning.md`): Guildhall
//! as a SCIM client of an application. The pure parts: the resources it
//! pushes (RFC 7643 §4.1 User, §4.2 Group), their fingerprints (what tells a
//! changed resource from one already pushed), filters that find a resource
//! to adopt (RFC 7644 §3.4.2.2), which base URLs admins may give, the retry
//! schedule, and the short, secret-free text of a failure that admins read.

use crate::scim::{ERROR_URN, GROUP_SCHEMA_URN, PATCH_OP_URN, USER_SCHEMA_URN};
use crate::{AccountId, Timestamp};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::time::Duration;
use url::Url;

/// The wait after the first failed round; it doubles after each further one.
pub const FIRST_RETRY: Duration = Duration::from_secs(30);
/// The longest wait between two rounds of a failing connection.
pub const MAX_RETRY: Duration = Duration::from_secs(3600);
/// How long a node may hold a connection it is syncing before another node
/// may take it; the holder renews it every `LEASE_RENEW` while it works.
pub const LEASE: Duration = Duration::from_secs(5 * 60);
pub const LEASE_RENEW: Duration = Duration::from_secs(60);
/// The longest last error kept and shown.
pub const MAX_ERROR_CHARS: usize = 300;

/// Where a connection stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncStatus {
    /// Not synced since it was made or its URL or token changed.
    Pending,
    /// The last round pushed everything.
    InSync,
    /// The last round failed; it is retried (see `retry_at`).
    Error,
}

impl SyncStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::InSync => "in_sync",
            Self::Error => "error",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(Self::Pending),
            "in_sync" => Some(Self::InSync),
            "error" => Some(Self::Error),
            _ => None,
        }
    }
}

/// When to try again after `failures` failed rounds in a row (1 or more):
/// 30 s, then doubling, at most an hour apart, for as long as it fails.
pub fn retry_at(failures: u32, now: Timestamp) -> Timestamp {
    let doublings = failures.saturating_sub(1).min(20);
    now.plus(FIRST_RETRY.saturating_mul(1 << doublings).min(MAX_RETRY))
}

/// The SCIM base URL an admin gives (`https://app.example/scim/v2`): an
/// absolute https URL on a public host (with `allow_loopback`, also http on
/// a loopback address), without credentials, query or fragment. Returned
/// without a trailing slash.
pub fn parse_base_url(s: &str, allow_loopback: bool) -> Result<Url, &'static str> {
    let s = s.trim();
    if s.is_empty() {
        return Err("Enter the application's SCIM base URL.");
    }
    if s.len() > 2000 {
        return Err("At most 2000 characters.");
    }
    let mut url = crate::identities::parse_upstream_url(s)?;
    if url.query().is_some() {
        return Err("Must not have a query.");
    }
    if !allow_loopback {
        crate::identities::check_public_upstream(&url)?;
    }
    let path = url.path().trim_end_matches('/').to_owned();
    url.set_path(&path);
    Ok(url)
}

/// The bearer token an application gave for its SCIM endpoint: 1 to 4096
/// visible ASCII characters.
pub fn parse_token(s: &str) -> Result<&str, &'static str> {
    let s = s.trim();
    if s.is_empty() {
        return Err("Enter the bearer token the application gave for its SCIM endpoint.");
    }
    if s.len() > 4096 || !s.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("A token is 1 to 4096 visible ASCII characters, without spaces.");
    }
    Ok(s)
}

/// What Guildhall says about a person downstream.
#[derive(Clone, Copy, Debug)]
pub struct UserFields<'a> {
    pub id: AccountId,
    pub username: &'a str,
    /// The address, when it is verified: an application may trust what
    /// Guildhall pushes, so an unverified one is not sent.
    pub email: Option<&'a str>,
    pub display_name: &'a str,
    pub active: bool,
}

/// A User resource (RFC 7643 §4.1): `userName` is the Guildhall username,
/// `externalId` the account's id; `emails` only with a verified address.
pub fn user_resource(u: &UserFields<'_>) -> Value {
    let mut r = json!({
        "schemas": [USER_SCHEMA_URN],
        "userName": u.username,
        "externalId": u.id.0.to_string(),
        "name": { "formatted": u.display_name },
        "displayName": u.display_name,
        "active": u.active,
    });
    if let Some(email) = u.email {
        r["emails"] = json!([{ "value": email, "type": "work", "primary": true }]);
    }
    r
}

/// A Group resource (RFC 7643 §4.2): `externalId` is the group's id and
/// `members` the application's own ids of its users (sorted, so that the
/// same group always reads the same).
pub fn group_resource(display_name: &str, external_id: &str, members: &[&str]) -> Value {
    let mut members: Vec<&str> = members.to_vec();
    members.sort_unstable();
    members.dedup();
    json!({
        "schemas": [GROUP_SCHEMA_URN],
        "displayName": display_name,
        "externalId": external_id,
        "members": members.iter().map(|m| json!({ "value": m })).collect::<Vec<_>>(),
    })
}

/// The PatchOp that deprovisions a user (RFC 7644 §3.5.2.3).
pub fn deactivation() -> Value {
    json!({
        "schemas": [PATCH_OP_URN],
        "Operations": [{ "op": "replace", "path": "active", "value": false }],
    })
}

/// A resource's fingerprint: the SHA-256 of its JSON text (hex).
pub fn fingerprint(resource: &Value) -> String {
    Sha256::digest(resource.to_string().as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// `ATTR eq "VALUE"`, the value escaped as a JSON string (RFC 7644
/// §3.4.2.2 compares to JSON values).
pub fn eq_filter(attribute: &str, value: &str) -> String {
    format!("{attribute} eq {}", Value::String(value.to_owned()))
}

/// A failure as admins read it: what was asked (`POST /Users (ada)`), the
/// answer's status and the SCIM error's `scimType` and `detail` (RFC 7644
/// §3.12), on one line, at most `MAX_ERROR_CHARS`, and with the token
/// blanked out should the application have echoed it.
pub fn failure_text(what: &str, status: u16, body: &[u8], token: &str) -> String {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let error = parsed.as_ref().filter(|v| {
        v["schemas"].as_array().is_some_and(|s| s.iter().any(|u| u == ERROR_URN)) || v.get("detail").is_some()
    });
    let mut text = format!("{what}: the application answered {status}");
    if let Some(e) = error {
        if let Some(t) = e["scimType"].as_str().filter(|t| !t.is_empty()) {
            text.push_str(&format!(" ({t})"));
        }
        if let Some(d) = e["detail"].as_str().filter(|d| !d.trim().is_empty()) {
            text.push_str(": ");
            text.push_str(d.trim());
        }
    } else if status == 401 || status == 403 {
        text.push_str(": the token was refused");
    }
    clean(&text, token)
}

/// Control characters become spaces; the token becomes `[token]`; cut at
/// `MAX_ERROR_CHARS` characters.
pub fn clean(text: &str, token: &str) -> String {
    let text = if token.len() >= 4 { text.replace(token, "[token]") } else { text.to_owned() };
    let one_line: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    if one_line.chars().count() <= MAX_ERROR_CHARS {
        return one_line;
    }
    let mut cut: String = one_line.chars().take(MAX_ERROR_CHARS - 1).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_double_from_thirty_seconds_up_to_an_hour() {
        let t0 = Timestamp::from_millis(0);
        let waits: Vec<i64> = (1..=9).map(|n| retry_at(n, t0).as_millis() / 1000).collect();
        assert_eq!(waits, [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]);
        assert_eq!(retry_at(u32::MAX, t0).as_millis(), 3_600_000);
    }

    #[test]
    fn base_urls_are_public_https_without_query_or_trailing_slash() {
        let ok = parse_base_url(" https://app.example.com/scim/v2/ ", false).unwrap();
        assert_eq!(ok.as_str(), "https://app.example.com/scim/v2");
        for bad in [
            "",
            "app.example.com/scim",
            "http://app.example.com/scim",
            "https://app.example.com/scim?x=1",
            "https://user:pw@app.example.com/scim",
            "https://127.0.0.1/scim",
            "https://10.0.0.1/scim",
            "https://localhost/scim",
            "ftp://app.example.com/",
        ] {
            assert!(parse_base_url(bad, false).is_err(), "{bad}");
        }
        assert_eq!(parse_base_url("http://127.0.0.1:9/v2", true).unwrap().as_str(), "http://127.0.0.1:9/v2");
        assert!(parse_base_url("http://10.0.0.1/v2", true).is_err(), "plain http only on loopback");
    }

    #[test]
    fn tokens_are_visible_ascii() {
        assert_eq!(parse_token(" abc.DEF-123_~+/= "), Ok("abc.DEF-123_~+/="));
        for bad in ["", "   ", "a b", "tab\there", "é", &"x".repeat(4097)] {
            assert!(parse_token(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn resources_say_what_the_spec_names_and_fingerprints_follow_changes() {
        let id = AccountId::from_uuid(uuid::Uuid::nil());
        let u = UserFields { id, username: "ada", email: Some("ada@example.com"), display_name: "Ada L", active: true };
        let r = user_resource(&u);
        assert_eq!(r["userName"], "ada");
        assert_eq!(r["externalId"], id.0.to_string());
        assert_eq!(r["emails"][0], json!({"value": "ada@example.com", "type": "work", "primary": true}));
        assert_eq!((r["displayName"].as_str(), r["name"]["formatted"].as_str()), (Some("Ada L"), Some("Ada L")));
        let off = user_resource(&UserFields { active: false, ..u });
        assert_ne!(fingerprint(&r), fingerprint(&off));
        // No address is sent until it is verified; verifying it changes the resource.
        let unverified = user_resource(&UserFields { email: None, ..u });
        assert!(unverified.get("emails").is_none(), "{unverified}");
        assert_ne!(fingerprint(&r), fingerprint(&unverified));
        assert_eq!(fingerprint(&r), fingerprint(&user_resource(&u)));
        let g = group_resource("Developers", "g1", &["b", "a", "b"]);
        assert_eq!(g["members"], json!([{"value": "a"}, {"value": "b"}]));
        assert_eq!(fingerprint(&g), fingerprint(&group_resource("Developers", "g1", &["a", "b"])));
    }

    #[test]
    fn filters_escape_their_value() {
        assert_eq!(eq_filter("userName", "ada"), r#"userName eq "ada""#);
        assert_eq!(eq_filter("displayName", r#"a "b" \c"#), r#"displayName eq "a \"b\" \\c""#);
    }

    #[test]
    fn failures_are_short_one_line_and_never_show_the_token() {
        let body = json!({"schemas": [ERROR_URN], "status": "409", "scimType": "uniqueness",
            "detail": "User ada exists\n(token s3cr3t-token)"});
        let text = failure_text("POST /Users (ada)", 409, body.to_string().as_bytes(), "s3cr3t-token");
        assert_eq!(
            text,
            "POST /Users (ada): the application answered 409 (uniqueness): User ada exists (token [token])"
        );
        assert_eq!(
            failure_text("GET /Users", 401, b"<html>no</html>", "t0ken"),
            "GET /Users: the application answered 401: the token was refused"
        );
        let long = json!({"detail": "x".repeat(1000)});
        let text = failure_text("PUT /Users/1", 400, long.to_string().as_bytes(), "t0ken");
        assert_eq!(text.chars().count(), MAX_ERROR_CHARS);
        assert!(text.ends_with('…'));
    }

    #[test]
    fn statuses_round_trip() {
        for s in [SyncStatus::Pending, SyncStatus::InSync, SyncStatus::Error] {
            assert_eq!(SyncStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(SyncStatus::parse("other"), None);
    }
}
