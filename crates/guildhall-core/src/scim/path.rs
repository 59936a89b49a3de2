//! Attribute paths (RFC 7644 §3.10, `attrPath` of §3.4.2.2) and PATCH paths
//! (RFC 7644 §3.5.2, <https://www.rfc-editor.org/rfc/rfc7644#section-3.5.2>):
//!
//! ```text
//! attrPath = [URI ":"] ATTRNAME *1subAttr      ; urn:…:User:name.familyName
//! PATH     = attrPath / valuePath [subAttr]    ; emails[type eq "work"].value
//! ```
//!
//! Names keep the case they were written in; they are compared
//! case-insensitively (RFC 7643 §2.1) where they are looked up.

use std::fmt;

use super::filter::{Filter, FilterError, parser};

/// `[uri:]name[.sub_attr]`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AttrPath {
    /// The schema URN prefix, without the final `:`.
    pub uri: Option<String>,
    pub name: String,
    pub sub_attr: Option<String>,
}

impl AttrPath {
    /// A path to a top-level attribute without a schema prefix.
    pub fn new(name: impl Into<String>) -> Self {
        Self { uri: None, name: name.into(), sub_attr: None }
    }

    /// `name.sub_attr`.
    pub fn with_sub(name: impl Into<String>, sub_attr: impl Into<String>) -> Self {
        Self { uri: None, name: name.into(), sub_attr: Some(sub_attr.into()) }
    }

    /// Parses a whole string as an attribute path (`sortBy`, `attributes`).
    pub fn parse(input: &str) -> Result<Self, FilterError> {
        parser::parse_attr_path(input)
    }

    /// Whether `name` (and the sub-attribute) equal these, ignoring case.
    pub fn is(&self, name: &str, sub_attr: Option<&str>) -> bool {
        self.name.eq_ignore_ascii_case(name)
            && match (&self.sub_attr, sub_attr) {
                (None, None) => true,
                (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
                _ => false,
            }
    }
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(uri) = &self.uri {
            write!(f, "{uri}:")?;
        }
        f.write_str(&self.name)?;
        if let Some(sub) = &self.sub_attr {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

/// The `path` of a PATCH operation: an attribute path, optionally selecting
/// values of a multi-valued attribute with a filter.
///
/// With a filter, `attr.sub_attr` is the sub-attribute written *after* the
/// brackets (`emails[type eq "work"].value`); `emails.value[…]` is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PatchPath {
    pub attr: AttrPath,
    pub filter: Option<Filter>,
}

impl PatchPath {
    pub fn parse(input: &str) -> Result<Self, FilterError> {
        parser::parse_patch_path(input)
    }
}

impl std::str::FromStr for PatchPath {
    type Err = FilterError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for PatchPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(filter) = &self.filter else { return write!(f, "{}", self.attr) };
        if let Some(uri) = &self.attr.uri {
            write!(f, "{uri}:")?;
        }
        write!(f, "{}[{filter}]", self.attr.name)?;
        if let Some(sub) = &self.attr.sub_attr {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}
