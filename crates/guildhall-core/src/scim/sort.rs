//! `sortBy` and `sortOrder`, RFC 7644 §3.4.2.3
//! (<https://www.rfc-editor.org/rfc/rfc7644#section-3.4.2.3>).
//!
//! - A multi-valued attribute sorts by its `primary` value, or else its
//!   first; a complex attribute named without a sub-attribute by `value`.
//! - Strings sort ignoring case unless the attribute is `caseExact`;
//!   `dateTime` values chronologically.
//! - Resources without a value sort last ascending, first descending.

use std::cmp::Ordering;

use serde_json::Value;
use time::OffsetDateTime;

use super::eval::{fold, parse_datetime};
use super::json::{get_ci, values_of};
use super::path::AttrPath;
use super::schema::{AttrKind, ResourceSchema};
use super::{ScimError, ScimType};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum SortOrder {
    #[default]
    Ascending,
    Descending,
}

impl SortOrder {
    /// The `sortOrder` parameter: absent means ascending; the keywords are
    /// accepted in any case.
    pub fn parse(param: Option<&str>) -> Result<Self, ScimError> {
        match param {
            None => Ok(Self::Ascending),
            Some(s) if s.eq_ignore_ascii_case("ascending") => Ok(Self::Ascending),
            Some(s) if s.eq_ignore_ascii_case("descending") => Ok(Self::Descending),
            Some(_) => Err(ScimError::new(ScimType::InvalidValue, "sortOrder is \"ascending\" or \"descending\"")),
        }
    }
}

/// The value a resource sorts by. Values of different kinds (which one
/// attribute should not hold) order booleans < numbers < instants < strings.
#[derive(Clone, Debug)]
pub enum SortValue {
    Bool(bool),
    Number(f64),
    DateTime(OffsetDateTime),
    /// Already lowercased when the attribute is not `caseExact`.
    Str(String),
}

impl SortValue {
    fn rank(&self) -> u8 {
        match self {
            Self::Bool(_) => 0,
            Self::Number(_) => 1,
            Self::DateTime(_) => 2,
            Self::Str(_) => 3,
        }
    }
}

impl Ord for SortValue {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Self::Bool(a), Self::Bool(b)) => a.cmp(b),
            (Self::Number(a), Self::Number(b)) => a.total_cmp(b),
            (Self::DateTime(a), Self::DateTime(b)) => a.cmp(b),
            (Self::Str(a), Self::Str(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

impl PartialOrd for SortValue {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for SortValue {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for SortValue {}

/// What `resource` sorts by for `sortBy=path`; `None` when it has no value
/// (or the schema does not define the path).
pub fn sort_key(resource: &Value, path: &AttrPath, schema: &ResourceSchema) -> Option<SortValue> {
    let def = schema.attribute(&path.name)?;
    if path.uri.as_deref().is_some_and(|u| !schema.is_own_urn(u)) {
        return None;
    }
    let values = values_of(get_ci(resource, &path.name)?);
    let chosen = values.iter().find(|v| get_ci(v, "primary") == Some(&Value::Bool(true))).or(values.first())?;
    let (leaf, leaf_def) = match (&path.sub_attr, def.is_complex()) {
        (Some(sub), _) => (get_ci(chosen, sub)?, def.sub_attribute(sub)?),
        (None, true) => (get_ci(chosen, "value")?, def.sub_attribute("value")?),
        (None, false) => (*chosen, def),
    };
    match leaf {
        Value::Bool(b) => Some(SortValue::Bool(*b)),
        Value::Number(n) => n.as_f64().map(SortValue::Number),
        Value::String(s) if leaf_def.kind == AttrKind::DateTime => {
            Some(parse_datetime(s).map_or_else(|| SortValue::Str(s.clone()), SortValue::DateTime))
        }
        Value::String(s) => Some(SortValue::Str(fold(s, leaf_def.case_exact).into_owned())),
        _ => None,
    }
}

/// Orders two sort keys: missing values last when ascending, first when
/// descending.
pub fn compare_keys(a: Option<&SortValue>, b: Option<&SortValue>, order: SortOrder) -> Ordering {
    let ascending = match (a, b) {
        (Some(a), Some(b)) => a.cmp(b),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    };
    match order {
        SortOrder::Ascending => ascending,
        SortOrder::Descending => ascending.reverse(),
    }
}

/// Sorts resources in place (stably: equal keys keep their order).
pub fn sort_resources(resources: &mut [Value], path: &AttrPath, schema: &ResourceSchema, order: SortOrder) {
    let mut keyed: Vec<(Option<SortValue>, Value)> =
        resources.iter_mut().map(|r| (sort_key(r, path, schema), std::mem::take(r))).collect();
    keyed.sort_by(|(a, _), (b, _)| compare_keys(a.as_ref(), b.as_ref(), order));
    for (slot, (_, value)) in resources.iter_mut().zip(keyed) {
        *slot = value;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::schema::{GROUP, USER};
    use serde_json::json;

    fn names(resources: &[Value]) -> Vec<&str> {
        resources.iter().map(|r| r["id"].as_str().unwrap_or("")).collect()
    }

    #[test]
    fn user_names_sort_ignoring_case_missing_last() {
        let mut users = vec![
            json!({"id": "1", "userName": "bob"}),
            json!({"id": "2"}),
            json!({"id": "3", "UserName": "Alice"}),
            json!({"id": "4", "userName": "carol"}),
        ];
        let path = AttrPath::new("userName");
        sort_resources(&mut users, &path, &USER, SortOrder::Ascending);
        assert_eq!(names(&users), ["3", "1", "4", "2"]);
        sort_resources(&mut users, &path, &USER, SortOrder::Descending);
        assert_eq!(names(&users), ["2", "4", "1", "3"]);
    }

    #[test]
    fn case_exact_attributes_sort_by_code_point() {
        let mut users = vec![json!({"id": "b"}), json!({"id": "B"}), json!({"id": "a"})];
        sort_resources(&mut users, &AttrPath::new("id"), &USER, SortOrder::Ascending);
        assert_eq!(names(&users), ["B", "a", "b"]);
    }

    #[test]
    fn multi_valued_attributes_sort_by_primary_then_first() {
        let a = json!({"emails": [{"value": "z@x"}, {"value": "a@x", "primary": true}]});
        let b = json!({"emails": [{"value": "m@x"}, {"value": "b@x"}]});
        let key = |r: &Value| sort_key(r, &AttrPath::new("emails"), &USER);
        assert_eq!(key(&a), Some(SortValue::Str("a@x".into())));
        assert_eq!(key(&b), Some(SortValue::Str("m@x".into())));
        let sub = sort_key(&a, &AttrPath::with_sub("emails", "value"), &USER);
        assert_eq!(sub, Some(SortValue::Str("a@x".into())));
    }

    #[test]
    fn date_times_sort_chronologically_and_sub_attributes_resolve() {
        let early = json!({"meta": {"created": "2024-01-01T10:00:00+02:00"}});
        let late = json!({"meta": {"created": "2024-01-01T09:00:00Z"}});
        let path = AttrPath::with_sub("meta", "created");
        let (e, l) = (sort_key(&early, &path, &GROUP), sort_key(&late, &path, &GROUP));
        assert_eq!(compare_keys(e.as_ref(), l.as_ref(), SortOrder::Ascending), Ordering::Less);
        let name = sort_key(&json!({"name": {"givenName": "Zoë"}}), &AttrPath::with_sub("name", "GIVENNAME"), &USER);
        assert_eq!(name, Some(SortValue::Str("zoë".into())));
        assert_eq!(sort_key(&json!({"nope": 1}), &AttrPath::new("nope"), &USER), None);
    }

    #[test]
    fn sort_order_parses_in_any_case() {
        assert_eq!(SortOrder::parse(None), Ok(SortOrder::Ascending));
        assert_eq!(SortOrder::parse(Some("DESCENDING")), Ok(SortOrder::Descending));
        assert_eq!(SortOrder::parse(Some("down")).map_err(|e| e.scim_type), Err(ScimType::InvalidValue));
    }
}
