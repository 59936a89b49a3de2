//! Editing an attribute's values for PATCH (RFC 7644 §3.5.2.1–3,
//! <https://www.rfc-editor.org/rfc/rfc7644#section-3.5.2>): the whole
//! attribute, a sub-attribute everywhere, or the values a filter selects.

use serde_json::{Map, Value};

use super::PatchOp;
use crate::scim::eval::{Scope, fold, matches_in};
use crate::scim::filter::{CompValue, CompareOp, Filter};
use crate::scim::json::{get_ci, get_ci_mut, key_ci, map_get_ci, remove_ci, set_ci};
use crate::scim::path::AttrPath;
use crate::scim::schema::{AttributeDef, Mutability};
use crate::scim::{ScimError, ScimType};

/// An attribute's definition, `None` outside the schema.
pub(super) type Def = Option<&'static AttributeDef>;

pub(super) fn err(t: ScimType, detail: impl Into<String>) -> Result<(), ScimError> {
    Err(ScimError::new(t, detail))
}

fn need_value(value: Option<Value>) -> Result<Value, ScimError> {
    value.ok_or_else(|| ScimError::new(ScimType::InvalidValue, "The operation needs a \"value\"."))
}

fn need_object(value: Option<Value>, name: &str) -> Result<Map<String, Value>, ScimError> {
    match need_value(value)? {
        Value::Object(o) => Ok(o),
        _ => Err(ScimError::new(ScimType::InvalidValue, format!("The value for \"{name}\" must be an object."))),
    }
}

fn items(value: Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items.into_iter().filter(|v| !v.is_null()).collect(),
        v => vec![v],
    }
}

/// `attr`: the attribute as a whole.
pub(super) fn whole(
    container: &mut Map<String, Value>,
    def: Def,
    op: PatchOp,
    name: &str,
    value: Option<Value>,
) -> Result<(), ScimError> {
    let key = key_for(container, name, def);
    let existing = container.get(&key);
    let multi = def.map_or_else(
        || matches!(value, Some(Value::Array(_))) || matches!(existing, Some(Value::Array(_))),
        |d| d.multi_valued,
    );
    let complex = def.map_or_else(|| matches!(value, Some(Value::Object(_))), AttributeDef::is_complex);
    match op {
        PatchOp::Remove => {
            match value {
                // Entra: remove the listed values of a multi-valued attribute.
                Some(listed) if multi => {
                    let listed = items(listed);
                    if let Some(Value::Array(arr)) = get_ci_mut(container, name) {
                        arr.retain(|e| !listed.iter().any(|l| same_value(e, l, def)));
                        if arr.is_empty() {
                            remove_ci(container, name);
                        }
                    }
                }
                _ => {
                    remove_ci(container, name);
                }
            }
            Ok(())
        }
        PatchOp::Add if multi => {
            let mut arr = match remove_ci(container, name) {
                Some(Value::Array(arr)) => arr,
                _ => Vec::new(),
            };
            let mut touched = Vec::new();
            for item in items(need_value(value)?) {
                match arr.iter().position(|e| same_value(e, &item, def)) {
                    Some(i) => {
                        if let (Some(dst), Value::Object(src)) = (arr.get_mut(i).and_then(Value::as_object_mut), &item)
                        {
                            merge(dst, src.clone());
                        }
                        touched.push(i);
                    }
                    None => {
                        arr.push(item);
                        touched.push(arr.len() - 1);
                    }
                }
            }
            fix_primary(&mut arr, &touched);
            container.insert(key, Value::Array(arr));
            Ok(())
        }
        PatchOp::Replace if multi => {
            let mut arr = items(need_value(value)?);
            let all: Vec<usize> = (0..arr.len()).collect();
            fix_primary(&mut arr, &all);
            remove_ci(container, name);
            container.insert(key, Value::Array(arr));
            Ok(())
        }
        PatchOp::Add | PatchOp::Replace => {
            let value = need_value(value)?;
            match (get_ci_mut(container, name), value) {
                (Some(Value::Object(dst)), Value::Object(src)) if complex => merge(dst, src),
                (_, value) => {
                    remove_ci(container, name);
                    container.insert(key, value);
                }
            }
            Ok(())
        }
    }
}

/// `attr.sub` without a filter: the sub-attribute of a complex attribute,
/// or of every value of a multi-valued one.
pub(super) fn sub_everywhere(
    container: &mut Map<String, Value>,
    def: Def,
    sub_def: Def,
    op: PatchOp,
    name: &str,
    sub: &str,
    value: Option<Value>,
) -> Result<(), ScimError> {
    let key = key_for(container, name, def);
    let mut values = match remove_ci(container, name) {
        Some(Value::Array(arr)) => arr,
        Some(Value::Object(o)) => vec![Value::Object(o)],
        _ => Vec::new(),
    };
    let multi = def.map_or(values.len() != 1, |d| d.multi_valued);
    if op == PatchOp::Remove {
        for v in values.iter_mut().filter_map(Value::as_object_mut) {
            remove_ci(v, sub);
        }
        values.retain(|v| !v.as_object().is_some_and(Map::is_empty));
    } else {
        let value = need_value(value)?;
        if values.is_empty() {
            values.push(Value::Object(Map::new()));
        }
        for v in values.iter_mut().filter_map(Value::as_object_mut) {
            set_sub(v, sub_def, &AttrPath::with_sub(name, sub), value.clone())?;
        }
    }
    put_back(container, key, values, multi);
    Ok(())
}

/// `attr[filter]` and `attr[filter].sub`.
#[allow(clippy::too_many_arguments)]
pub(super) fn filtered(
    container: &mut Map<String, Value>,
    def: Def,
    sub_def: Def,
    op: PatchOp,
    name: &str,
    filter: &Filter,
    sub: Option<&str>,
    value: Option<Value>,
) -> Result<(), ScimError> {
    let key = key_for(container, name, def);
    let (mut values, multi) = match remove_ci(container, name) {
        Some(Value::Array(arr)) => (arr, true),
        Some(Value::Object(o)) => (vec![Value::Object(o)], def.is_some_and(|d| d.multi_valued)),
        _ => (Vec::new(), def.is_none_or(|d| d.multi_valued)),
    };
    let scope = def.map_or(Scope::Untyped, Scope::Complex);
    let matched: Vec<usize> = (0..values.len())
        .filter(|&i| values.get(i).is_some_and(|v| v.is_object() && matches_in(filter, v, scope)))
        .collect();
    let sub_path = |s: &str| AttrPath::with_sub(name, s);
    match (op, sub) {
        (PatchOp::Remove, None) => {
            let mut i = 0;
            values.retain(|_| {
                i += 1;
                matched.binary_search(&(i - 1)).is_err()
            });
        }
        (PatchOp::Remove, Some(s)) => {
            for v in selected(&mut values, &matched) {
                remove_ci(v, s);
            }
        }
        (PatchOp::Replace, _) if matched.is_empty() => {
            return err(ScimType::NoTarget, format!("No value of \"{name}\" matches [{filter}]."));
        }
        (PatchOp::Add, _) if matched.is_empty() => {
            let Some(mut new) = seed(filter) else {
                return err(ScimType::NoTarget, format!("No value of \"{name}\" matches [{filter}]."));
            };
            match sub {
                Some(s) => set_sub(&mut new, sub_def, &sub_path(s), need_value(value)?)?,
                None => merge(&mut new, need_object(value, name)?),
            }
            values.push(Value::Object(new));
            let last = values.len() - 1;
            fix_primary(&mut values, &[last]);
        }
        (PatchOp::Add | PatchOp::Replace, Some(s)) => {
            let value = need_value(value)?;
            for v in selected(&mut values, &matched) {
                set_sub(v, sub_def, &sub_path(s), value.clone())?;
            }
            fix_primary(&mut values, &matched);
        }
        (PatchOp::Add | PatchOp::Replace, None) => {
            let replacement = need_object(value, name)?;
            for v in selected(&mut values, &matched) {
                if op == PatchOp::Add {
                    merge(v, replacement.clone());
                } else {
                    *v = replacement.clone();
                }
            }
            fix_primary(&mut values, &matched);
        }
    }
    put_back(container, key, values, multi);
    Ok(())
}

/// The objects at the `matched` indices.
/// (`matched` is sorted.)
fn selected<'v>(values: &'v mut [Value], matched: &'v [usize]) -> impl Iterator<Item = &'v mut Map<String, Value>> {
    values
        .iter_mut()
        .enumerate()
        .filter(|(i, _)| matched.binary_search(i).is_ok())
        .filter_map(|(_, v)| v.as_object_mut())
}

/// Sets a sub-attribute, refusing to change an immutable one.
fn set_sub(obj: &mut Map<String, Value>, sub_def: Def, path: &AttrPath, value: Value) -> Result<(), ScimError> {
    let sub = path.sub_attr.as_deref().unwrap_or_default();
    if let Some(sd) = sub_def
        && sd.mutability == Mutability::Immutable
        && map_get_ci(obj, sub).is_some_and(|old| *old != value)
    {
        return err(ScimType::Mutability, format!("\"{path}\" is immutable."));
    }
    set_ci(obj, sub_def.map_or(sub, |d| d.name), value);
    Ok(())
}

/// The key an attribute is stored under: as it is, or as the schema spells it.
fn key_for(container: &Map<String, Value>, name: &str, def: Def) -> String {
    key_ci(container, name).unwrap_or_else(|| def.map_or(name, |d| d.name).to_owned())
}

/// Stores the values of an attribute (unassigned when there are none).
fn put_back(container: &mut Map<String, Value>, key: String, mut values: Vec<Value>, multi: bool) {
    if values.is_empty() {
        return;
    }
    let value = if multi || values.len() > 1 { Value::Array(values) } else { values.swap_remove(0) };
    container.insert(key, value);
}

/// Members of `src` set in `dst` (a null member unassigns).
fn merge(dst: &mut Map<String, Value>, src: Map<String, Value>) {
    for (k, v) in src {
        if v.is_null() {
            remove_ci(dst, &k);
        } else {
            set_ci(dst, &k, v);
        }
    }
}

/// Whether two values of a multi-valued attribute are the same value: equal,
/// or complex values with the same `value` and no different `type`.
fn same_value(a: &Value, b: &Value, def: Def) -> bool {
    if a == b {
        return true;
    }
    let case_exact = def.and_then(|d| d.sub_attribute("value")).is_some_and(|v| v.case_exact);
    let text_eq = |x: &Value, y: &Value| match (x, y) {
        (Value::String(x), Value::String(y)) => fold(x, case_exact) == fold(y, case_exact),
        (x, y) => x == y,
    };
    match (get_ci(a, "value"), get_ci(b, "value")) {
        (Some(x), Some(y)) if text_eq(x, y) => match (get_ci(a, "type"), get_ci(b, "type")) {
            (Some(Value::String(x)), Some(Value::String(y))) => x.eq_ignore_ascii_case(y),
            _ => true,
        },
        _ => false,
    }
}

/// At most one value is `primary` (RFC 7643 §2.4): the last touched one
/// that says so wins.
fn fix_primary(values: &mut [Value], touched: &[usize]) {
    let is_primary = |v: &Value| matches!(get_ci(v, "primary"), Some(Value::Bool(true)));
    let Some(keep) = touched.iter().rev().copied().find(|&i| values.get(i).is_some_and(is_primary)) else { return };
    for (i, v) in values.iter_mut().enumerate() {
        if i != keep
            && is_primary(v)
            && let Some(o) = v.as_object_mut()
        {
            set_ci(o, "primary", Value::Bool(false));
        }
    }
}

/// The value an `add` through `attr[type eq "work" and …]` creates when
/// nothing matches: the equalities of the filter.
fn seed(filter: &Filter) -> Option<Map<String, Value>> {
    match filter {
        Filter::Compare { path, op: CompareOp::Eq, value } if path.uri.is_none() && path.sub_attr.is_none() => {
            let v = match value {
                CompValue::Str(s) => Value::String(s.clone()),
                CompValue::Number(n) => Value::Number(n.clone()),
                CompValue::Bool(b) => Value::Bool(*b),
                CompValue::Null => return None,
            };
            Some(Map::from_iter([(path.name.clone(), v)]))
        }
        Filter::And(items) => items.iter().try_fold(Map::new(), |mut acc, f| {
            acc.extend(seed(f)?);
            Some(acc)
        }),
        _ => None,
    }
}
