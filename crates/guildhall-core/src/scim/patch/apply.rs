//! The PATCH operations of RFC 7644 §3.5.2.1 (add), §3.5.2.2 (remove) and
//! §3.5.2.3 (replace) on a resource's JSON object: which object and which
//! definition a path leads to, mutability, and coercion of the value;
//! [`super::edit`] then changes the values.

use serde_json::{Map, Value};

use super::PatchOp;
use super::edit::{Def, err, filtered, sub_everywhere, whole};
use crate::scim::eval::parse_bool;
use crate::scim::json::{get_ci_mut, key_ci, remove_ci, set_ci};
use crate::scim::path::PatchPath;
use crate::scim::schema::{AttrKind, AttributeDef, Mutability, ResourceSchema};
use crate::scim::{ENTERPRISE_USER_SCHEMA_URN, ScimError, ScimType};

/// Whether a read-only attribute is an error (named by `path`) or skipped
/// (a member of a path-less value, as in a PUT).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Origin {
    Path,
    ValueMember,
}

pub(super) fn apply(
    map: &mut Map<String, Value>,
    schema: &ResourceSchema,
    op: PatchOp,
    path: Option<&PatchPath>,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    match path {
        Some(path) => apply_path(map, schema, op, path, value.cloned(), Origin::Path),
        None => apply_members(map, schema, op, value, false),
    }
}

/// `add`/`replace` without a path: each member of the value is an attribute
/// (a path, in practice) or a schema URN holding attributes.
fn apply_members(
    map: &mut Map<String, Value>,
    schema: &ResourceSchema,
    op: PatchOp,
    value: Option<&Value>,
    nested: bool,
) -> Result<(), ScimError> {
    if op == PatchOp::Remove {
        return err(ScimType::NoTarget, "\"remove\" needs a \"path\".");
    }
    let Some(Value::Object(members)) = value else {
        return err(ScimType::InvalidValue, "Without a \"path\", the value must be an object of attributes.");
    };
    for (key, v) in members {
        if key.eq_ignore_ascii_case("schemas") {
            continue;
        }
        if schema.is_own_urn(key) && !nested {
            apply_members(map, schema, op, Some(v), true)?;
        } else if is_extension_urn(key) {
            extension_members(map, schema, op, key, Some(v.clone()))?;
        } else {
            let path = PatchPath::parse(key)
                .map_err(|e| ScimError::new(ScimType::InvalidPath, format!("Invalid attribute {key:?}: {e}")))?;
            apply_path(map, schema, op, &path, Some(v.clone()), Origin::ValueMember)?;
        }
    }
    Ok(())
}

/// A schema extension's URN (`urn:…:schemas:extension:…:User`), as opposed
/// to an attribute path inside it.
fn is_extension_urn(s: &str) -> bool {
    s.eq_ignore_ascii_case(ENTERPRISE_USER_SCHEMA_URN)
        || (starts_with_ci(s, "urn:")
            && s.to_ascii_lowercase().contains(":schemas:extension:")
            && s.rsplit(':').next().is_some_and(|last| last.starts_with(|c: char| c.is_ascii_uppercase())))
}

fn starts_with_ci(s: &str, prefix: &str) -> bool {
    s.get(..prefix.len()).is_some_and(|p| p.eq_ignore_ascii_case(prefix))
}

/// The whole extension object: removed, or its members added / replaced.
fn extension_members(
    map: &mut Map<String, Value>,
    schema: &ResourceSchema,
    op: PatchOp,
    urn: &str,
    value: Option<Value>,
) -> Result<(), ScimError> {
    if op == PatchOp::Remove {
        remove_ci(map, urn);
        list_schema(map, schema, urn, false);
        return Ok(());
    }
    let Some(Value::Object(members)) = value else {
        return err(ScimType::InvalidValue, format!("The value for {urn} must be an object."));
    };
    for (key, v) in members {
        let path = PatchPath::parse(&format!("{urn}:{key}"))
            .map_err(|e| ScimError::new(ScimType::InvalidPath, format!("Invalid attribute {key:?}: {e}")))?;
        apply_path(map, schema, op, &path, Some(v), Origin::ValueMember)?;
    }
    Ok(())
}

/// Adds or removes `urn` in the resource's `schemas`.
fn list_schema(map: &mut Map<String, Value>, schema: &ResourceSchema, urn: &str, listed: bool) {
    let has = |s: &Value| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(urn));
    match get_ci_mut(map, "schemas") {
        Some(Value::Array(list)) if listed && !list.iter().any(has) => list.push(Value::String(urn.to_owned())),
        Some(Value::Array(list)) if !listed => list.retain(|s| !has(s)),
        Some(Value::Array(_)) => {}
        _ if listed => set_ci(map, "schemas", Value::Array(vec![schema.id.into(), urn.into()])),
        _ => {}
    }
}

fn apply_path(
    map: &mut Map<String, Value>,
    schema: &ResourceSchema,
    op: PatchOp,
    path: &PatchPath,
    value: Option<Value>,
    origin: Origin,
) -> Result<(), ScimError> {
    let attr = &path.attr;
    let Some(uri) = attr.uri.as_deref().filter(|u| !schema.is_own_urn(u)) else {
        let def = schema.attribute(&attr.name);
        if def.is_some_and(|d| d.mutability == Mutability::ReadOnly) {
            return match origin {
                Origin::ValueMember => Ok(()),
                Origin::Path => err(ScimType::Mutability, format!("\"{}\" is read-only.", attr.name)),
            };
        }
        return apply_attr(map, def, op, path, value, origin);
    };
    let whole = format!("{uri}:{}", attr.name);
    if path.filter.is_none() && attr.sub_attr.is_none() && is_extension_urn(&whole) {
        return extension_members(map, schema, op, &whole, value);
    }
    if !starts_with_ci(uri, "urn:") || starts_with_ci(uri, "urn:ietf:params:scim:schemas:core:") {
        return err(ScimType::InvalidPath, format!("{uri:?} is not a schema extension of this resource."));
    }
    // An attribute of an extension this schema does not define: untyped.
    let key = key_ci(map, uri).unwrap_or_else(|| uri.to_owned());
    let mut ext = match map.remove(&key) {
        Some(Value::Object(o)) => o,
        _ => Map::new(),
    };
    apply_attr(&mut ext, None, op, path, value, origin)?;
    let listed = !ext.is_empty();
    if listed {
        map.insert(key, Value::Object(ext));
    }
    list_schema(map, schema, uri, listed);
    Ok(())
}

fn apply_attr(
    container: &mut Map<String, Value>,
    def: Def,
    mut op: PatchOp,
    path: &PatchPath,
    mut value: Option<Value>,
    origin: Origin,
) -> Result<(), ScimError> {
    let attr = &path.attr;
    if let Some(d) = def
        && !d.is_complex()
        && (attr.sub_attr.is_some() || path.filter.is_some())
    {
        return err(ScimType::InvalidPath, format!("\"{}\" has no sub-attributes.", attr.name));
    }
    let sub_def = match (def, &attr.sub_attr) {
        (Some(d), Some(sub)) => d.sub_attribute(sub),
        _ => None,
    };
    if let Some(sd) = sub_def
        && sd.mutability == Mutability::ReadOnly
    {
        return match origin {
            Origin::ValueMember => Ok(()),
            Origin::Path => err(ScimType::Mutability, format!("\"{attr}\" is read-only.")),
        };
    }
    // A null value: nothing to add; replacing with null unassigns (RFC 7643 §2.5).
    if value.as_ref().is_some_and(Value::is_null) {
        match op {
            PatchOp::Add => return Ok(()),
            _ => (op, value) = (PatchOp::Remove, None),
        }
    }
    let target = if attr.sub_attr.is_some() { sub_def } else { def };
    if op == PatchOp::Remove && (path.filter.is_none() || attr.sub_attr.is_some()) && target.is_some_and(|t| t.required)
    {
        return err(ScimType::Mutability, format!("\"{attr}\" is required and cannot be removed."));
    }
    if let (Some(v), Some(t)) = (value.as_mut(), target) {
        if path.filter.is_none() && attr.sub_attr.is_none() { coerce(v, t) } else { coerce_one(v, t) }
    }
    let name = attr.name.as_str();
    match (&path.filter, &attr.sub_attr) {
        (None, None) => whole(container, def, op, name, value),
        (None, Some(sub)) => sub_everywhere(container, def, sub_def, op, name, sub, value),
        (Some(filter), sub) => filtered(container, def, sub_def, op, name, filter, sub.as_deref(), value),
    }
}

/// Entra sends `"False"`: booleans given as strings become booleans.
fn coerce(value: &mut Value, def: &AttributeDef) {
    match value {
        Value::Array(items) if def.multi_valued => items.iter_mut().for_each(|i| coerce_one(i, def)),
        v => coerce_one(v, def),
    }
}

fn coerce_one(value: &mut Value, def: &AttributeDef) {
    match value {
        Value::String(s) if def.kind == AttrKind::Boolean => {
            if let Some(b) = parse_bool(s) {
                *value = Value::Bool(b);
            }
        }
        Value::Object(members) if def.is_complex() => {
            for (k, v) in members.iter_mut() {
                if let Some(sd) = def.sub_attribute(k) {
                    coerce(v, sd);
                }
            }
        }
        _ => {}
    }
}
