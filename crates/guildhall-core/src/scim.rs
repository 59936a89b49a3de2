//! The SCIM 2.0 engine, pure: filters, sorting, PATCH and the discovery
//! documents, evaluated against resources in their JSON form.
//!
//! - [`filter`]: the filter grammar of RFC 7644 §3.4.2.2
//!   (<https://www.rfc-editor.org/rfc/rfc7644#section-3.4.2.2>) into a [`Filter`] AST;
//! - [`path`]: attribute paths and PATCH paths (RFC 7644 §3.5.2,
//!   <https://www.rfc-editor.org/rfc/rfc7644#section-3.5.2>);
//! - [`eval`]: [`Filter::matches`] and [`Filter::validate`] against a [`ResourceSchema`];
//! - [`sort`]: `sortBy` / `sortOrder` (RFC 7644 §3.4.2.3);
//! - [`patch`]: PatchOp requests applied to a resource (RFC 7644 §3.5.2.1–3);
//! - [`schema`]: the User and Group schemas (RFC 7643 §4, §8.7.1) as static data;
//! - [`discovery`]: `/Schemas`, `/ResourceTypes`, `/ServiceProviderConfig`,
//!   list responses and error bodies (RFC 7644 §4, §3.4.2, §3.12).
//!
//! No I/O here: the server (`guildhall-http`, through `guildhall-app`) maps
//! resources to and from its domain, and turns a filter into a query.

pub mod discovery;
pub mod eval;
pub mod filter;
mod json;
pub mod patch;
pub mod path;
pub mod schema;
pub mod sort;

pub use filter::{CompValue, CompareOp, Filter, FilterError};
pub use patch::{PatchOp, PatchOperation, PatchRequest};
pub use path::{AttrPath, PatchPath};
pub use schema::{AttrKind, AttributeDef, Mutability, ResourceSchema, Returned, Uniqueness};
pub use sort::{SortOrder, SortValue};

/// `urn:ietf:params:scim:schemas:core:2.0:User` (RFC 7643 §4.1).
pub const USER_SCHEMA_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// `urn:ietf:params:scim:schemas:core:2.0:Group` (RFC 7643 §4.2).
pub const GROUP_SCHEMA_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// The enterprise User extension (RFC 7643 §4.3): not served, but PATCH
/// requests addressing it are applied to its sub-object.
pub const ENTERPRISE_USER_SCHEMA_URN: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// RFC 7644 §3.5.2.
pub const PATCH_OP_URN: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// RFC 7644 §3.4.2.
pub const LIST_RESPONSE_URN: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
/// RFC 7644 §3.12.
pub const ERROR_URN: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// The `scimType` of an error response (RFC 7644 §3.12, Table 9).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ScimType {
    InvalidFilter,
    TooMany,
    Uniqueness,
    Mutability,
    InvalidSyntax,
    InvalidPath,
    NoTarget,
    InvalidValue,
    InvalidVers,
    Sensitive,
}

impl ScimType {
    /// The keyword as it appears on the wire (`invalidFilter`, `noTarget` …).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::InvalidFilter => "invalidFilter",
            Self::TooMany => "tooMany",
            Self::Uniqueness => "uniqueness",
            Self::Mutability => "mutability",
            Self::InvalidSyntax => "invalidSyntax",
            Self::InvalidPath => "invalidPath",
            Self::NoTarget => "noTarget",
            Self::InvalidValue => "invalidValue",
            Self::InvalidVers => "invalidVers",
            Self::Sensitive => "sensitive",
        }
    }

    /// The HTTP status RFC 7644 §3.12 pairs with this type.
    pub const fn status(self) -> u16 {
        match self {
            Self::Uniqueness => 409,
            Self::Sensitive => 403,
            _ => 400,
        }
    }
}

impl std::fmt::Display for ScimType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A protocol error of the SCIM engine: a `scimType` and a detail message
/// meant for the client (it never carries internal state).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{scim_type}: {detail}")]
pub struct ScimError {
    pub scim_type: ScimType,
    pub detail: String,
}

impl ScimError {
    pub fn new(scim_type: ScimType, detail: impl Into<String>) -> Self {
        Self { scim_type, detail: detail.into() }
    }

    pub const fn status(&self) -> u16 {
        self.scim_type.status()
    }

    /// The RFC 7644 §3.12 error body.
    pub fn to_body(&self) -> serde_json::Value {
        discovery::error_body(self.status(), Some(self.scim_type), &self.detail)
    }
}
