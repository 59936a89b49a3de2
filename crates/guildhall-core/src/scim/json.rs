//! Case-insensitive access to SCIM resources in JSON form: attribute names
//! are case-insensitive (RFC 7643 §2.1), JSON object keys are not.

use serde_json::{Map, Value};

/// The member `name` of an object, matching the name ignoring case (an exact
/// match first).
pub(crate) fn get_ci<'v>(value: &'v Value, name: &str) -> Option<&'v Value> {
    let map = value.as_object()?;
    map.get(name).or_else(|| map.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v))
}

/// The key under which `name` is stored, if it is.
pub(crate) fn key_ci(map: &Map<String, Value>, name: &str) -> Option<String> {
    if map.contains_key(name) {
        return Some(name.to_owned());
    }
    map.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned()
}

pub(crate) fn get_ci_mut<'v>(map: &'v mut Map<String, Value>, name: &str) -> Option<&'v mut Value> {
    let key = key_ci(map, name)?;
    map.get_mut(&key)
}

/// Removes every member named `name` ignoring case.
pub(crate) fn remove_ci(map: &mut Map<String, Value>, name: &str) -> Option<Value> {
    let mut removed = None;
    while let Some(key) = key_ci(map, name) {
        removed = map.remove(&key);
    }
    removed
}

/// Sets `name`, replacing a member of the same name in any case.
pub(crate) fn set_ci(map: &mut Map<String, Value>, name: &str, value: Value) {
    let key = key_ci(map, name).unwrap_or_else(|| name.to_owned());
    map.insert(key, value);
}

/// Unassigned, per RFC 7643 §2.5: null, an empty string, array or object.
pub(crate) fn is_unassigned(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// The values of an attribute: the elements of an array, or the value
/// itself; nulls skipped.
pub(crate) fn values_of(value: &Value) -> Vec<&Value> {
    match value {
        Value::Array(items) => items.iter().filter(|v| !v.is_null()).collect(),
        Value::Null => Vec::new(),
        v => vec![v],
    }
}

/// [`get_ci`] on a map.
pub(crate) fn map_get_ci<'v>(map: &'v Map<String, Value>, name: &str) -> Option<&'v Value> {
    map.get(name).or_else(|| map.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v))
}
