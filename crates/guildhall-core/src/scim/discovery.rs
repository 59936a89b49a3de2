//! Discovery documents and message envelopes:
//! `/Schemas` (RFC 7643 §7, <https://www.rfc-editor.org/rfc/rfc7643#section-7>),
//! `/ResourceTypes` (RFC 7643 §6), `/ServiceProviderConfig` (RFC 7643 §5),
//! list responses (RFC 7644 §3.4.2) and error bodies (RFC 7644 §3.12).
//!
//! Schemas are generated from the same static [`ResourceSchema`] data the
//! filters and PATCH use. `base_url` is the SCIM root (`https://…/scim/v2`).

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::schema::{AttrKind, AttributeDef, Mutability, RESOURCE_SCHEMAS, ResourceSchema, Returned, Uniqueness};
use super::{ERROR_URN, LIST_RESPONSE_URN, ScimType};

pub const SCHEMA_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";
pub const RESOURCE_TYPE_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
pub const SERVICE_PROVIDER_CONFIG_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
/// `filter.maxResults` advertised, and the largest page served.
pub const MAX_RESULTS: u64 = 1000;

fn root(base_url: &str) -> &str {
    base_url.trim_end_matches('/')
}

/// One schema's representation, `GET /Schemas/{id}`.
pub fn schema_document(schema: &ResourceSchema, base_url: &str) -> Value {
    json!({
        "schemas": [SCHEMA_URN],
        "id": schema.id,
        "name": schema.name,
        "description": schema.description,
        "attributes": schema.attributes.iter().map(attribute).collect::<Vec<_>>(),
        "meta": {
            "resourceType": "Schema",
            "location": format!("{}/Schemas/{}", root(base_url), schema.id),
        },
    })
}

/// `GET /Schemas`: every served schema, as a list response.
pub fn schemas(base_url: &str) -> Value {
    let all: Vec<Value> = RESOURCE_SCHEMAS.iter().map(|s| schema_document(s, base_url)).collect();
    let total = all.len() as u64;
    list_response(all, total, 1)
}

/// One resource type, `GET /ResourceTypes/{name}`.
pub fn resource_type(schema: &ResourceSchema, base_url: &str) -> Value {
    json!({
        "schemas": [RESOURCE_TYPE_URN],
        "id": schema.name,
        "name": schema.name,
        "endpoint": schema.endpoint,
        "description": schema.description,
        "schema": schema.id,
        "schemaExtensions": [],
        "meta": {
            "resourceType": "ResourceType",
            "location": format!("{}/ResourceTypes/{}", root(base_url), schema.name),
        },
    })
}

/// `GET /ResourceTypes`: User and Group, as a list response.
pub fn resource_types(base_url: &str) -> Value {
    let all: Vec<Value> = RESOURCE_SCHEMAS.iter().map(|s| resource_type(s, base_url)).collect();
    let total = all.len() as u64;
    list_response(all, total, 1)
}

/// `GET /ServiceProviderConfig`: PATCH, filtering (up to [`MAX_RESULTS`]),
/// sorting and ETags supported; bulk and password changes not; bearer tokens.
pub fn service_provider_config(base_url: &str) -> Value {
    json!({
        "schemas": [SERVICE_PROVIDER_CONFIG_URN],
        "patch": {"supported": true},
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": true, "maxResults": MAX_RESULTS},
        "changePassword": {"supported": false},
        "sort": {"supported": true},
        "etag": {"supported": true},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "Authentication with a bearer token issued for SCIM provisioning.",
            "specUri": "https://www.rfc-editor.org/rfc/rfc6750",
            "primary": true,
        }],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": format!("{}/ServiceProviderConfig", root(base_url)),
        },
    })
}

/// A `ListResponse` (RFC 7644 §3.4.2): one page of `total_results`, starting
/// at the 1-based `start_index`. Generic over the resources so that a page
/// of already serialised ones is written out without a copy.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListResponse<R> {
    schemas: [&'static str; 1],
    total_results: u64,
    start_index: u64,
    items_per_page: usize,
    #[serde(rename = "Resources")]
    resources: Vec<R>,
}

impl<R> ListResponse<R> {
    pub fn new(resources: Vec<R>, total_results: u64, start_index: u64) -> Self {
        Self { schemas: [LIST_RESPONSE_URN], total_results, start_index, items_per_page: resources.len(), resources }
    }
}

/// A [`ListResponse`] as JSON.
pub fn list_response(resources: Vec<Value>, total_results: u64, start_index: u64) -> Value {
    serde_json::to_value(ListResponse::new(resources, total_results, start_index)).unwrap_or_default()
}

/// An error body (RFC 7644 §3.12): `status` is a string on the wire.
pub fn error_body(status: u16, scim_type: Option<ScimType>, detail: &str) -> Value {
    let mut body = Map::new();
    body.insert("schemas".into(), json!([ERROR_URN]));
    body.insert("status".into(), Value::String(status.to_string()));
    if let Some(t) = scim_type {
        body.insert("scimType".into(), Value::String(t.as_str().to_owned()));
    }
    if !detail.is_empty() {
        body.insert("detail".into(), Value::String(detail.to_owned()));
    }
    Value::Object(body)
}

fn attribute(def: &AttributeDef) -> Value {
    let mut a = Map::new();
    a.insert("name".into(), json!(def.name));
    a.insert("type".into(), json!(kind_name(def.kind)));
    a.insert("multiValued".into(), json!(def.multi_valued));
    a.insert("description".into(), json!(def.description));
    a.insert("required".into(), json!(def.required));
    if !def.canonical_values.is_empty() {
        a.insert("canonicalValues".into(), json!(def.canonical_values));
    }
    if matches!(def.kind, AttrKind::String | AttrKind::Reference | AttrKind::Binary) {
        a.insert("caseExact".into(), json!(def.case_exact));
    }
    a.insert("mutability".into(), json!(mutability_name(def.mutability)));
    a.insert("returned".into(), json!(returned_name(def.returned)));
    if !def.is_complex() {
        a.insert("uniqueness".into(), json!(uniqueness_name(def.uniqueness)));
    }
    if def.kind == AttrKind::Reference {
        a.insert("referenceTypes".into(), json!(def.reference_types));
    }
    if def.is_complex() {
        a.insert("subAttributes".into(), def.sub_attributes.iter().map(attribute).collect());
    }
    Value::Object(a)
}

const fn kind_name(kind: AttrKind) -> &'static str {
    match kind {
        AttrKind::String => "string",
        AttrKind::Boolean => "boolean",
        AttrKind::Decimal => "decimal",
        AttrKind::Integer => "integer",
        AttrKind::DateTime => "dateTime",
        AttrKind::Binary => "binary",
        AttrKind::Reference => "reference",
        AttrKind::Complex => "complex",
    }
}

const fn mutability_name(m: Mutability) -> &'static str {
    match m {
        Mutability::ReadOnly => "readOnly",
        Mutability::ReadWrite => "readWrite",
        Mutability::Immutable => "immutable",
        Mutability::WriteOnly => "writeOnly",
    }
}

const fn returned_name(r: Returned) -> &'static str {
    match r {
        Returned::Always => "always",
        Returned::Never => "never",
        Returned::Default => "default",
        Returned::Request => "request",
    }
}

const fn uniqueness_name(u: Uniqueness) -> &'static str {
    match u {
        Uniqueness::None => "none",
        Uniqueness::Server => "server",
        Uniqueness::Global => "global",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::schema::{GROUP, USER};

    #[test]
    fn schemas_document_lists_user_and_group_with_their_attributes() {
        let doc = schemas("https://id.example/scim/v2/");
        assert_eq!(doc["totalResults"], 2);
        let user = &doc["Resources"][0];
        assert_eq!(user["id"], USER.id);
        assert_eq!(user["meta"]["location"], format!("https://id.example/scim/v2/Schemas/{}", USER.id));
        let names: Vec<&str> =
            user["attributes"].as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["userName", "name", "displayName", "emails", "active", "groups"]);
        let user_name = &user["attributes"][0];
        assert_eq!(user_name["uniqueness"], "server");
        assert_eq!(user_name["caseExact"], false);
        assert_eq!(user_name["required"], true);
        let groups = &user["attributes"][5];
        assert_eq!(groups["mutability"], "readOnly");
        assert_eq!(groups["subAttributes"][1]["name"], "$ref");
        assert_eq!(groups["subAttributes"][1]["referenceTypes"], json!(["User", "Group"]));
        let emails = &user["attributes"][3];
        assert_eq!(emails["multiValued"], true);
        assert_eq!(emails["subAttributes"][2]["canonicalValues"], json!(["work", "home", "other"]));
        assert_eq!(emails["subAttributes"][3]["type"], "boolean");
        assert!(emails["subAttributes"][3].get("caseExact").is_none());
        assert_eq!(doc["Resources"][1]["attributes"][1]["subAttributes"][0]["mutability"], "immutable");
    }

    #[test]
    fn resource_types_point_at_their_schema_and_location() {
        let doc = resource_types("https://id.example/scim/v2");
        assert_eq!(doc["Resources"][0]["endpoint"], "/Users");
        assert_eq!(doc["Resources"][1]["schema"], GROUP.id);
        assert_eq!(doc["Resources"][1]["meta"]["location"], "https://id.example/scim/v2/ResourceTypes/Group");
    }

    #[test]
    fn service_provider_config_advertises_what_is_supported() {
        let doc = service_provider_config("https://id.example/scim/v2");
        assert_eq!(doc["patch"]["supported"], true);
        assert_eq!(doc["bulk"]["supported"], false);
        assert_eq!(doc["filter"], json!({"supported": true, "maxResults": 1000}));
        assert_eq!(doc["changePassword"]["supported"], false);
        assert_eq!(doc["sort"]["supported"], true);
        assert_eq!(doc["etag"]["supported"], true);
        assert_eq!(doc["authenticationSchemes"][0]["type"], "oauthbearertoken");
    }

    #[test]
    fn list_and_error_bodies_have_the_rfc_shape() {
        let list = list_response(vec![json!({"id": "a"})], 7, 3);
        assert_eq!(list["schemas"], json!([LIST_RESPONSE_URN]));
        assert_eq!((list["totalResults"].clone(), list["startIndex"].clone()), (json!(7), json!(3)));
        assert_eq!(list["itemsPerPage"], 1);
        let err = crate::scim::ScimError::new(ScimType::NoTarget, "nothing matched").to_body();
        assert_eq!(
            err,
            json!({"schemas": [ERROR_URN], "status": "400", "scimType": "noTarget", "detail": "nothing matched"})
        );
        assert_eq!(error_body(404, None, "not found")["status"], "404");
    }
}
