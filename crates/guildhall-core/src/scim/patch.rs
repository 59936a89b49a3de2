//! PATCH, RFC 7644 §3.5.2 (<https://www.rfc-editor.org/rfc/rfc7644#section-3.5.2>):
//! parsing a `PatchOp` request and applying its operations to a resource in
//! JSON form (§3.5.2.1 add, §3.5.2.2 remove, §3.5.2.3 replace).
//!
//! Operations apply in order, all or nothing: [`PatchRequest::apply`] works
//! on a copy and returns it. The caller maps the result back to its domain
//! and validates it (uniqueness, formats).
//!
//! Tolerated, because provisioning clients send them:
//! - `op` in any case (`"Replace"`, Entra ID);
//! - `replace`/`add` without `path` whose value names attributes with paths
//!   (`{"name.givenName": "…"}`) or a schema URN;
//! - `"True"`/`"False"` strings for boolean attributes (Entra ID);
//! - `remove` on a multi-valued attribute with a `value` listing the values
//!   to remove (Entra ID removing group members);
//! - `add` on `emails[type eq "work"].value` when no work email exists yet
//!   creates `{"type": "work", "value": …}`.
//!
//! Read-only attributes (`id`, `meta`, a User's `groups`) named by a `path`
//! are refused with `mutability`; inside a path-less value they are ignored,
//! as in a PUT (RFC 7644 §3.5.1).

mod apply;
mod edit;
#[cfg(test)]
mod tests;

use serde_json::Value;

use super::json::get_ci;
use super::path::PatchPath;
use super::schema::ResourceSchema;
use super::{PATCH_OP_URN, ScimError, ScimType};

/// The most operations one request may carry.
pub const MAX_OPERATIONS: usize = 1000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PatchOp {
    Add,
    Remove,
    Replace,
}

#[derive(Clone, Debug, PartialEq)]
pub struct PatchOperation {
    pub op: PatchOp,
    pub path: Option<PatchPath>,
    pub value: Option<Value>,
}

/// A parsed `urn:ietf:params:scim:api:messages:2.0:PatchOp` request.
#[derive(Clone, Debug, PartialEq)]
pub struct PatchRequest {
    pub operations: Vec<PatchOperation>,
}

fn syntax(detail: impl Into<String>) -> ScimError {
    ScimError::new(ScimType::InvalidSyntax, detail)
}

impl PatchRequest {
    /// Parses a request body.
    pub fn parse(body: &[u8]) -> Result<Self, ScimError> {
        let json: Value = serde_json::from_slice(body).map_err(|_| syntax("The request body is not a JSON object."))?;
        Self::from_json(&json)
    }

    /// Reads a request already decoded as JSON.
    pub fn from_json(body: &Value) -> Result<Self, ScimError> {
        if !body.is_object() {
            return Err(syntax("The request body is not a JSON object."));
        }
        let declared = get_ci(body, "schemas")
            .and_then(Value::as_array)
            .is_some_and(|s| s.iter().any(|u| u.as_str().is_some_and(|u| u.eq_ignore_ascii_case(PATCH_OP_URN))));
        if !declared {
            return Err(syntax(format!("\"schemas\" must contain \"{PATCH_OP_URN}\".")));
        }
        let Some(ops) = get_ci(body, "Operations").and_then(Value::as_array) else {
            return Err(syntax("\"Operations\" must be an array of operations."));
        };
        if ops.is_empty() {
            return Err(syntax("\"Operations\" is empty."));
        }
        if ops.len() > MAX_OPERATIONS {
            return Err(syntax(format!("At most {MAX_OPERATIONS} operations are accepted in one request.")));
        }
        let operations = ops.iter().map(PatchOperation::from_json).collect::<Result<_, _>>()?;
        Ok(Self { operations })
    }

    /// Applies every operation in order to a copy of `resource`, which must
    /// be a JSON object of the resource type `schema` describes.
    pub fn apply(&self, resource: &Value, schema: &ResourceSchema) -> Result<Value, ScimError> {
        let mut patched = resource.clone();
        for op in &self.operations {
            op.apply(&mut patched, schema)?;
        }
        Ok(patched)
    }
}

impl PatchOperation {
    fn from_json(op: &Value) -> Result<Self, ScimError> {
        if !op.is_object() {
            return Err(syntax("Each operation is a JSON object."));
        }
        let kind = match get_ci(op, "op").and_then(Value::as_str) {
            Some(s) if s.eq_ignore_ascii_case("add") => PatchOp::Add,
            Some(s) if s.eq_ignore_ascii_case("remove") => PatchOp::Remove,
            Some(s) if s.eq_ignore_ascii_case("replace") => PatchOp::Replace,
            _ => return Err(syntax("\"op\" must be \"add\", \"remove\" or \"replace\".")),
        };
        let path = match get_ci(op, "path") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.trim().is_empty() => None,
            Some(Value::String(s)) => Some(
                PatchPath::parse(s.trim())
                    .map_err(|e| ScimError::new(ScimType::InvalidPath, format!("Invalid path {s:?}: {e}")))?,
            ),
            Some(_) => return Err(ScimError::new(ScimType::InvalidPath, "\"path\" must be a string.")),
        };
        let value = get_ci(op, "value").cloned();
        if kind != PatchOp::Remove && value.is_none() {
            return Err(ScimError::new(ScimType::InvalidValue, "\"add\" and \"replace\" need a \"value\"."));
        }
        Ok(Self { op: kind, path, value })
    }

    /// Applies this operation in place. On error `resource` may be partly
    /// changed: use [`PatchRequest::apply`] for all or nothing.
    pub fn apply(&self, resource: &mut Value, schema: &ResourceSchema) -> Result<(), ScimError> {
        let Value::Object(map) = resource else {
            return Err(ScimError::new(ScimType::InvalidValue, "The resource is not a JSON object."));
        };
        apply::apply(map, schema, self.op, self.path.as_ref(), self.value.as_ref())
    }
}
