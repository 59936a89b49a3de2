//! Evaluating a [`Filter`] against a resource in JSON form, RFC 7644
//! §3.4.2.2 (<https://www.rfc-editor.org/rfc/rfc7644#section-3.4.2.2>), with
//! attribute characteristics from RFC 7643 §2 and §7.
//!
//! - Attribute names match ignoring case (RFC 7643 §2.1).
//! - Strings compare ignoring case unless the attribute is `caseExact`;
//!   `gt`/`ge`/`lt`/`le` compare strings lexicographically and `dateTime`
//!   values chronologically.
//! - A multi-valued attribute matches if any of its values does; a complex
//!   attribute named without a sub-attribute is compared through `value`.
//! - An attribute without a value matches no comparison, `ne` included
//!   (as `<>` in SQL), except `eq null` (and `ne null`, which is `pr`).
//! - An attribute the schema does not define matches nothing; [`Filter::validate`]
//!   lists such attributes so the server may refuse them instead.

use std::borrow::Cow;
use std::cmp::Ordering;

use serde_json::{Number, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::filter::{CompValue, CompareOp, Filter};
use super::json::{get_ci, is_unassigned, values_of};
use super::path::AttrPath;
use super::schema::{AttrKind, AttributeDef, ResourceSchema};
use super::{ScimError, ScimType};

#[cfg(test)]
mod tests;

/// Where the names of a filter are looked up.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Scope<'s> {
    /// The top level of a resource.
    Resource(&'s ResourceSchema),
    /// Inside a value path: the sub-attributes of a complex attribute.
    Complex(&'static AttributeDef),
    /// An attribute outside the schema (an extension reached by PATCH): any
    /// name, types taken from the JSON, strings ignoring case.
    Untyped,
}

impl Filter {
    /// Whether `resource` (a SCIM resource in JSON form) matches.
    pub fn matches(&self, resource: &Value, schema: &ResourceSchema) -> bool {
        matches_in(self, resource, Scope::Resource(schema))
    }

    /// Checks the filter against the schema: `Err(invalidFilter)` for
    /// comparisons that cannot mean anything (`gt` on a boolean, `co` with
    /// `null`, a complex attribute without `value`, a value path on a simple
    /// attribute); `Ok` with the paths the schema does not define, which
    /// [`Filter::matches`] treats as matching nothing.
    pub fn validate(&self, schema: &ResourceSchema) -> Result<Vec<AttrPath>, ScimError> {
        let mut unknown = Vec::new();
        validate_in(self, Scope::Resource(schema), None, &mut unknown)?;
        Ok(unknown)
    }
}

pub(crate) fn matches_in(filter: &Filter, value: &Value, scope: Scope<'_>) -> bool {
    match filter {
        Filter::And(items) => items.iter().all(|f| matches_in(f, value, scope)),
        Filter::Or(items) => items.iter().any(|f| matches_in(f, value, scope)),
        Filter::Not(inner) => !matches_in(inner, value, scope),
        Filter::Present(path) => {
            target(value, path, scope, true).is_some_and(|t| t.values.iter().any(|v| !is_unassigned(v)))
        }
        Filter::Compare { path, op, value: expected } => {
            let Some(t) = target(value, path, scope, false) else { return false };
            match (expected, op) {
                (CompValue::Null, CompareOp::Eq) => t.values.is_empty(),
                (CompValue::Null, CompareOp::Ne) => !t.values.is_empty(),
                (CompValue::Null, _) => false,
                _ => t.values.iter().any(|v| compare(v, *op, expected, t.def)),
            }
        }
        Filter::ValuePath { path, filter } => {
            let Some((found, def)) = attribute(value, path, scope) else { return false };
            let inner = match def {
                _ if path.sub_attr.is_some() => return false,
                Some(d) if d.is_complex() => Scope::Complex(d),
                Some(_) => return false,
                None => Scope::Untyped,
            };
            found.map(values_of).unwrap_or_default().into_iter().any(|v| v.is_object() && matches_in(filter, v, inner))
        }
    }
}

/// The value of the attribute a path starts with, and its definition
/// (`None` when untyped); `None` when the scope does not know the name.
fn attribute<'v>(
    value: &'v Value,
    path: &AttrPath,
    scope: Scope<'_>,
) -> Option<(Option<&'v Value>, Option<&'static AttributeDef>)> {
    let def = match scope {
        Scope::Resource(schema) => {
            if path.uri.as_deref().is_some_and(|u| !schema.is_own_urn(u)) {
                return None;
            }
            Some(schema.attribute(&path.name)?)
        }
        Scope::Complex(parent) if path.uri.is_none() => Some(parent.sub_attribute(&path.name)?),
        Scope::Complex(_) => return None,
        Scope::Untyped => None,
    };
    Some((get_ci(value, &path.name), def))
}

struct Target<'v> {
    values: Vec<&'v Value>,
    def: Option<&'static AttributeDef>,
}

/// The values a path designates. Without a sub-attribute, a complex
/// attribute stands for its `value`s, except for presence (`pr`), which
/// looks at the complex values themselves.
fn target<'v>(value: &'v Value, path: &AttrPath, scope: Scope<'_>, presence: bool) -> Option<Target<'v>> {
    let (found, def) = attribute(value, path, scope)?;
    let elems = found.map(values_of).unwrap_or_default();
    let sub = match &path.sub_attr {
        Some(sub) => sub.as_str(),
        None => {
            let complex = def.map_or_else(|| elems.iter().any(|e| e.is_object()), AttributeDef::is_complex);
            if !complex || presence {
                return Some(Target { values: elems, def });
            }
            "value"
        }
    };
    let sub_def = match def {
        Some(d) => Some(d.sub_attribute(sub)?),
        None => None,
    };
    let values = elems.iter().filter_map(|e| get_ci(e, sub)).flat_map(values_of).collect();
    Some(Target { values, def: sub_def })
}

fn compare(actual: &Value, op: CompareOp, expected: &CompValue, def: Option<&AttributeDef>) -> bool {
    let case_exact = def.is_some_and(|d| d.case_exact);
    match (actual, expected) {
        (Value::Bool(a), CompValue::Bool(b)) => bool_op(op, *a, *b),
        (Value::Bool(a), CompValue::Str(b)) => parse_bool(b).is_some_and(|b| bool_op(op, *a, b)),
        (Value::Number(a), CompValue::Number(b)) => ordering_op(op, compare_numbers(a, b)),
        (Value::String(a), CompValue::Str(b)) => {
            if def.is_some_and(|d| d.kind == AttrKind::DateTime)
                && !matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew)
                && let (Some(a), Some(b)) = (parse_datetime(a), parse_datetime(b))
            {
                return ordering_op(op, Some(a.cmp(&b)));
            }
            string_op(op, a, b, case_exact)
        }
        _ => false,
    }
}

/// `true` or `false`, in any case (how a string compares with a boolean).
pub fn parse_bool(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

pub(crate) fn parse_datetime(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).ok()
}

fn bool_op(op: CompareOp, a: bool, b: bool) -> bool {
    match op {
        CompareOp::Eq => a == b,
        CompareOp::Ne => a != b,
        _ => false,
    }
}

fn ordering_op(op: CompareOp, ord: Option<Ordering>) -> bool {
    let Some(ord) = ord else { return false };
    match op {
        CompareOp::Eq => ord.is_eq(),
        CompareOp::Ne => ord.is_ne(),
        CompareOp::Gt => ord.is_gt(),
        CompareOp::Ge => ord.is_ge(),
        CompareOp::Lt => ord.is_lt(),
        CompareOp::Le => ord.is_le(),
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}

pub(crate) fn fold(s: &str, case_exact: bool) -> Cow<'_, str> {
    if case_exact { Cow::Borrowed(s) } else { Cow::Owned(s.to_lowercase()) }
}

fn string_op(op: CompareOp, a: &str, b: &str, case_exact: bool) -> bool {
    let (a, b) = (fold(a, case_exact), fold(b, case_exact));
    match op {
        CompareOp::Co => a.contains(&*b),
        CompareOp::Sw => a.starts_with(&*b),
        CompareOp::Ew => a.ends_with(&*b),
        _ => ordering_op(op, Some(a.cmp(&b))),
    }
}

pub(crate) fn compare_numbers(a: &Number, b: &Number) -> Option<Ordering> {
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        return Some(x.cmp(&y));
    }
    if let (Some(x), Some(y)) = (a.as_u64(), b.as_u64()) {
        return Some(x.cmp(&y));
    }
    a.as_f64()?.partial_cmp(&b.as_f64()?)
}

fn validate_in(
    filter: &Filter,
    scope: Scope<'_>,
    parent: Option<&AttrPath>,
    unknown: &mut Vec<AttrPath>,
) -> Result<(), ScimError> {
    let qualified = |path: &AttrPath| match parent {
        Some(p) => AttrPath { uri: p.uri.clone(), name: p.name.clone(), sub_attr: Some(path.name.clone()) },
        None => path.clone(),
    };
    let invalid = |path: &AttrPath, why: &str| Err(ScimError::new(ScimType::InvalidFilter, format!("{path}: {why}")));
    match filter {
        Filter::And(items) | Filter::Or(items) => {
            items.iter().try_for_each(|f| validate_in(f, scope, parent, unknown))?;
        }
        Filter::Not(inner) => validate_in(inner, scope, parent, unknown)?,
        Filter::Present(path) => {
            if resolve(path, scope).is_none() {
                unknown.push(qualified(path));
            }
        }
        Filter::Compare { path, op, value } => {
            let Some(mut def) = resolve(path, scope) else {
                unknown.push(qualified(path));
                return Ok(());
            };
            if def.is_complex() {
                match def.sub_attribute("value") {
                    Some(v) => def = v,
                    None => return invalid(path, "a complex attribute is compared through a sub-attribute"),
                }
            }
            let ordering_or_substring = !matches!(op, CompareOp::Eq | CompareOp::Ne);
            if op.is_ordering() && matches!(def.kind, AttrKind::Boolean | AttrKind::Binary) {
                return invalid(path, "gt, ge, lt and le do not apply to booleans or binary values");
            }
            if ordering_or_substring
                && (def.kind == AttrKind::Boolean || matches!(value, CompValue::Null | CompValue::Bool(_)))
            {
                return invalid(path, &format!("\"{op}\" needs a string or a number"));
            }
        }
        Filter::ValuePath { path, filter } => match resolve(path, scope) {
            None => unknown.push(qualified(path)),
            Some(def) if def.is_complex() && parent.is_none() => {
                validate_in(filter, Scope::Complex(def), Some(path), unknown)?;
            }
            Some(_) => return invalid(path, "a value filter applies to a complex attribute"),
        },
    }
    Ok(())
}

/// The definition a path ends at within a scope.
fn resolve(path: &AttrPath, scope: Scope<'_>) -> Option<&'static AttributeDef> {
    match scope {
        Scope::Resource(schema) => schema.resolve(path),
        Scope::Complex(parent) if path.uri.is_none() => {
            let def = parent.sub_attribute(&path.name)?;
            match &path.sub_attr {
                Some(sub) => def.sub_attribute(sub),
                None => Some(def),
            }
        }
        Scope::Complex(_) | Scope::Untyped => None,
    }
}
