//! SCIM resources as JSON (RFC 7643 §4), their versions (ETags, RFC 7644
//! §3.14) and `attributes` / `excludedAttributes` (RFC 7644 §3.4.2.5).

use super::version_of;
use crate::ports::{ScimGroup, ScimUser};
use guildhall_core::accounts::AccountStatus;
use guildhall_core::scim::{GROUP_SCHEMA_URN, USER_SCHEMA_URN};
use serde_json::{Value, json};

fn with_version(mut v: Value) -> Value {
    let version = version_of(&v);
    v["meta"]["version"] = json!(version);
    v
}

/// A user: the account's own fields, over what the directory last wrote.
pub(crate) fn user(u: &ScimUser, base: &str) -> Value {
    let a = &u.account;
    // What the org's directory wrote is shown back as written (an attribute
    // it removed stays absent); the account's own state wins where it has
    // one. Accounts no directory wrote get every attribute.
    let written = u.attributes.as_ref().filter(|v| v.is_object());
    let sent = |k: &str| written.is_none_or(|w| w.get(k).is_some_and(|x| !x.is_null()));
    let mut v = written.cloned().unwrap_or_else(|| json!({}));
    v["schemas"] = json!([USER_SCHEMA_URN]);
    v["id"] = json!(a.id.0);
    v["userName"] = json!(u.user_name.clone().unwrap_or_else(|| a.username.to_string()));
    if sent("displayName") {
        v["displayName"] = json!(a.display_name.as_str());
    }
    let active = a.status == AccountStatus::Active;
    if sent("active") || !active {
        v["active"] = json!(active);
    }
    if written.is_none() {
        v["name"] = json!({ "formatted": a.display_name.as_str() });
    }
    let listed = v["emails"].as_array().is_some_and(|e| {
        e.iter().any(|e| e["value"].as_str().is_some_and(|x| x.eq_ignore_ascii_case(a.email.as_str())))
    });
    if !listed {
        v["emails"] = json!([{ "value": a.email.as_str(), "type": "work", "primary": true }]);
    }
    match &u.external_id {
        Some(x) => v["externalId"] = json!(x),
        None => {
            if let Some(o) = v.as_object_mut() {
                o.remove("externalId");
            }
        }
    }
    v["groups"] = json!(
        u.groups
            .iter()
            .map(|(id, name)| json!({ "value": id, "display": name, "$ref": format!("{base}/Groups/{id}"), "type": "direct" }))
            .collect::<Vec<_>>()
    );
    v["meta"] = json!({
        "resourceType": "User",
        "created": a.created_at.rfc3339(),
        "lastModified": a.updated_at.rfc3339(),
        "location": format!("{base}/Users/{}", a.id.0),
    });
    with_version(v)
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
    with_version(v)
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
