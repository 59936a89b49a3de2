//! SCIM resources as JSON (RFC 7643 §4), their versions (ETags, RFC 7644
//! §3.14) and `attributes` / `excludedAttributes` (RFC 7644 §3.4.2.5).

use crate::ports::{ScimGroup, ScimUser};
use guildhall_core::accounts::AccountStatus;
use guildhall_core::scim::{GROUP_SCHEMA_URN, USER_SCHEMA_URN};
use serde::{Serialize, Serializer};
use serde_json::value::RawValue;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use uuid::Uuid;

/// `W/"…"`: a hash of the resource's JSON without its version, so it
/// changes whenever anything shown changes.
fn version_of(json: &[u8]) -> String {
    let hex: String = Sha256::digest(json)[..12].iter().map(|b| format!("{b:02x}")).collect();
    format!("W/\"{hex}\"")
}

/// `{base}/{Users|Groups}/{id}`, written as it is serialised.
struct Location<'a> {
    base: &'a str,
    kind: &'static str,
    id: Uuid,
}

impl Serialize for Location<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format_args!("{}/{}/{}", self.base, self.kind, self.id))
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Meta<'a> {
    resource_type: &'static str,
    created: String,
    last_modified: String,
    location: Location<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<String>,
}

#[derive(Serialize)]
struct Formatted<'a> {
    formatted: &'a str,
}

#[derive(Serialize)]
struct PrimaryEmail<'a> {
    value: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    primary: bool,
}

#[derive(Serialize)]
struct GroupRef<'a> {
    value: Uuid,
    display: &'a str,
    #[serde(rename = "$ref")]
    location: Location<'a>,
    #[serde(rename = "type")]
    kind: &'static str,
}

/// A user as SCIM shows it, borrowed from what is stored: serialised
/// straight into a listing page (`into_raw`), or turned into a `Value`
/// (`user`) where the engine filters, sorts, projects or patches it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UserResource<'a> {
    /// What the org's directory wrote and Guildhall does not show from
    /// its own state (below).
    #[serde(flatten)]
    written: BTreeMap<&'a str, &'a Value>,
    schemas: [&'static str; 1],
    id: Uuid,
    user_name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    display_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    active: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<Formatted<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    emails: Option<[PrimaryEmail<'a>; 1]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    external_id: Option<&'a str>,
    groups: Vec<GroupRef<'a>>,
    meta: Meta<'a>,
}

impl<'a> UserResource<'a> {
    /// The account's own fields, over what the directory last wrote.
    pub(crate) fn new(u: &'a ScimUser, base: &'a str) -> Self {
        let a = &u.account;
        // What the org's directory wrote is shown back as written (an
        // attribute it removed stays absent); the account's own state wins
        // where it has one. Accounts no directory wrote get every attribute.
        let written = u.attributes.as_ref().and_then(Value::as_object);
        let sent = |k: &str| written.is_none_or(|w| w.get(k).is_some_and(|x| !x.is_null()));
        let is_active = a.status == AccountStatus::Active;
        let display_name = sent("displayName").then_some(a.display_name.as_str());
        let active = (sent("active") || !is_active).then_some(is_active);
        let listed = written.and_then(|w| w.get("emails")).and_then(Value::as_array).is_some_and(|e| {
            e.iter().any(|e| e["value"].as_str().is_some_and(|x| x.eq_ignore_ascii_case(a.email.as_str())))
        });
        let emails = (!listed).then_some([PrimaryEmail { value: a.email.as_str(), kind: "work", primary: true }]);
        let own = |k: &str| match k {
            "schemas" | "id" | "userName" | "externalId" | "groups" | "meta" => true,
            "displayName" => display_name.is_some(),
            "active" => active.is_some(),
            "emails" => emails.is_some(),
            _ => false,
        };
        UserResource {
            written: written
                .map(|w| w.iter().filter(|(k, _)| !own(k)).map(|(k, v)| (k.as_str(), v)).collect())
                .unwrap_or_default(),
            schemas: [USER_SCHEMA_URN],
            id: a.id.0,
            user_name: u.user_name.as_deref().unwrap_or(a.username.as_str()),
            display_name,
            active,
            name: written.is_none().then_some(Formatted { formatted: a.display_name.as_str() }),
            emails,
            external_id: u.external_id.as_deref(),
            groups: u
                .groups
                .iter()
                .map(|(id, name)| GroupRef {
                    value: *id,
                    display: name,
                    location: Location { base, kind: "Groups", id: *id },
                    kind: "direct",
                })
                .collect(),
            meta: Meta {
                resource_type: "User",
                created: a.created_at.rfc3339(),
                last_modified: a.updated_at.rfc3339(),
                location: Location { base, kind: "Users", id: a.id.0 },
                version: None,
            },
        }
    }

    /// As JSON text, serialised once: the version is the hash of that text,
    /// then added as the last member of `meta`, itself the last member of
    /// the resource, so the text ends `…,"version":"W/\"…\""}}`. Equal to
    /// `user`, which serialises twice (a listing page versions 1,000).
    pub(crate) fn into_raw(self) -> serde_json::Result<Box<RawValue>> {
        let mut json = serde_json::to_vec(&self)?;
        let version = serde_json::to_vec(&version_of(&json))?;
        debug_assert!(self.meta.version.is_none() && json.ends_with(b"}}"));
        json.truncate(json.len() - 2);
        json.extend_from_slice(b",\"version\":");
        json.extend_from_slice(&version);
        json.extend_from_slice(b"}}");
        RawValue::from_string(String::from_utf8(json).map_err(serde::ser::Error::custom)?)
    }
}

/// A user as JSON.
pub(crate) fn user(u: &ScimUser, base: &str) -> Value {
    let mut user = UserResource::new(u, base);
    user.meta.version = serde_json::to_vec(&user).ok().map(|json| version_of(&json));
    serde_json::to_value(user).unwrap_or_default()
}

/// A group; `display` (the member's username) only where no directory
/// writes the group, so what a directory wrote reads back the same.
pub(crate) fn group(g: &ScimGroup, base: &str, display: bool) -> Value {
    let mut v = json!({
        "schemas": [GROUP_SCHEMA_URN],
        "id": g.id,
        "displayName": g.display_name,
        "members": g.members.iter().map(|(id, username)| {
            let mut m = json!({ "value": id.0, "type": "User", "$ref": format!("{base}/Users/{}", id.0) });
            if display {
                m["display"] = json!(username);
            }
            m
        }).collect::<Vec<_>>(),
        "meta": {
            "resourceType": "Group",
            "created": g.created_at.rfc3339(),
            "lastModified": g.updated_at.rfc3339(),
            "location": format!("{base}/Groups/{}", g.id),
        },
    });
    if let Some(x) = &g.external_id {
        v["externalId"] = json!(x);
    }
    if let Ok(json) = serde_json::to_vec(&v) {
        v["meta"]["version"] = json!(version_of(&json));
    }
    v
}

/// Whether an `If-Match` header (absent, `*`, or a list of versions)
/// allows a write to this resource.
pub fn etag_matches(resource: &Value, if_match: Option<&str>) -> bool {
    let Some(header) = if_match else { return true };
    let current = resource["meta"]["version"].as_str().unwrap_or_default();
    let bare = |t: &str| t.trim().trim_start_matches("W/").trim_matches('"').to_owned();
    header.split(',').any(|t| t.trim() == "*" || bare(t) == bare(current))
}

fn names(list: Option<&str>) -> Vec<(String, Option<String>)> {
    list.unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|p| {
            // A schema URN prefix names the core schema's attributes.
            let p = p.rsplit_once(':').map_or(p, |(_, rest)| rest);
            match p.split_once('.') {
                Some((a, s)) => (a.to_ascii_lowercase(), Some(s.to_ascii_lowercase())),
                None => (p.to_ascii_lowercase(), None),
            }
        })
        .collect()
}

/// Keeps only `attributes` (plus `id` and `schemas`, always returned), or
/// drops `excludedAttributes`.
pub fn project(resource: &mut Value, attributes: Option<&str>, excluded: Option<&str>) {
    let Some(obj) = resource.as_object_mut() else { return };
    let always = |k: &str| k == "id" || k == "schemas";
    let keep = names(attributes);
    if !keep.is_empty() {
        let keys: Vec<String> = obj.keys().cloned().collect();
        for k in keys {
            let lower = k.to_ascii_lowercase();
            if always(&k) {
                continue;
            }
            let wanted: Vec<&Option<String>> = keep.iter().filter(|(a, _)| *a == lower).map(|(_, s)| s).collect();
            if wanted.is_empty() {
                obj.remove(&k);
            } else if wanted.iter().all(|s| s.is_some()) {
                let subs: Vec<&str> = wanted.iter().filter_map(|s| s.as_deref()).collect();
                let trim = |v: &mut Value| {
                    if let Some(o) = v.as_object_mut() {
                        o.retain(|sk, _| subs.contains(&sk.to_ascii_lowercase().as_str()));
                    }
                };
                if let Some(v) = obj.get_mut(&k) {
                    match v {
                        Value::Array(items) => items.iter_mut().for_each(trim),
                        other => trim(other),
                    }
                }
            }
        }
    }
    for (a, sub) in names(excluded) {
        let keys: Vec<String> = obj.keys().filter(|k| k.to_ascii_lowercase() == a).cloned().collect();
        for k in keys {
            if always(&k) {
                continue;
            }
            match &sub {
                None => {
                    obj.remove(&k);
                }
                Some(s) => {
                    let drop = |v: &mut Value| {
                        if let Some(o) = v.as_object_mut() {
                            o.retain(|sk, _| sk.to_ascii_lowercase() != *s);
                        }
                    };
                    if let Some(v) = obj.get_mut(&k) {
                        match v {
                            Value::Array(items) => items.iter_mut().for_each(drop),
                            other => drop(other),
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use guildhall_core::Timestamp;
    use guildhall_core::accounts::{Account, DisplayName, Email, Username};

    fn scim_user(attributes: Option<Value>) -> ScimUser {
        let t0 = Timestamp::from_millis(0);
        ScimUser {
            account: Account {
                id: guildhall_core::AccountId::from_uuid(Uuid::now_v7()),
                email: Email::parse("ada@example.com").unwrap(),
                email_verified: true,
                username: Username::parse("ada").unwrap(),
                display_name: DisplayName::parse("Ada \"Countess\" Lovelace").unwrap(),
                status: AccountStatus::Active,
                is_operator: false,
                must_change_password: false,
                has_password: true,
                managed_by: None,
                created_at: t0,
                updated_at: Timestamp::from_millis(1_000),
            },
            external_id: Some("ext-1".into()),
            groups: vec![(Uuid::now_v7(), "Analysts".into())],
            user_name: None,
            attributes,
        }
    }

    #[test]
    fn a_listed_user_is_the_user_with_the_same_version() {
        let written = json!({"name": {"givenName": "Ada"}, "title": "Countess", "active": true});
        for u in [scim_user(None), scim_user(Some(written))] {
            let raw = UserResource::new(&u, "https://gh.example/scim/v2/orgs/acme").into_raw().unwrap();
            let listed: Value = serde_json::from_str(raw.get()).unwrap();
            let shown = user(&u, "https://gh.example/scim/v2/orgs/acme");
            assert_eq!(listed, shown);
            assert!(shown["meta"]["version"].as_str().is_some_and(|v| v.starts_with("W/\"")), "{shown}");
        }
    }

    #[test]
    fn the_version_follows_what_is_shown() {
        let mut u = scim_user(None);
        let before = user(&u, "https://gh.example/scim/v2/orgs/acme");
        assert_eq!(before, user(&u, "https://gh.example/scim/v2/orgs/acme"), "not deterministic");
        u.groups.clear();
        let after = user(&u, "https://gh.example/scim/v2/orgs/acme");
        assert_ne!(before["meta"]["version"], after["meta"]["version"]);
    }
}
