//! SCIM PATCH requests (RFC 7644 §3.5.2) applied to a user and a group:
//! nothing panics, the result is an object, and no request changes a
//! read-only attribute (`id`, `meta`, a user's `groups`). A JSON array or a
//! lone operation is wrapped in a PatchOp envelope so the fuzzer reaches
//! the operations quickly.
#![no_main]

use std::sync::LazyLock;

use guildhall_core::scim::schema::{GROUP, USER};
use guildhall_core::scim::{PATCH_OP_URN, PatchRequest, ResourceSchema};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

static BARBARA: LazyLock<Value> = LazyLock::new(|| {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": "2819c223-7f76-453a-919d-413861904646",
        "externalId": "Ext-1",
        "userName": "bjensen",
        "name": {"familyName": "Jensen", "givenName": "Barbara"},
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ],
        "active": true,
        "groups": [{"value": "e9e30dba", "display": "Admins", "type": "direct"}],
        "meta": {"resourceType": "User", "created": "2010-01-23T04:56:22Z", "version": "W/\"1\""}
    })
});

static GUIDES: LazyLock<Value> = LazyLock::new(|| {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "id": "e9e30dba",
        "displayName": "Tour Guides",
        "members": [{"value": "2819c223", "display": "Babs"}, {"value": "902c246b", "type": "User"}],
        "meta": {"resourceType": "Group", "version": "W/\"2\""}
    })
});

fn check(request: &PatchRequest, resource: &Value, schema: &ResourceSchema, read_only: &[&str]) {
    if let Ok(out) = request.apply(resource, schema) {
        assert!(out.is_object());
        for key in read_only {
            assert_eq!(out.get(key), resource.get(key), "{key} changed");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let request = match serde_json::from_slice::<Value>(data) {
        Ok(body @ Value::Object(_)) if body.get("op").is_none() => PatchRequest::from_json(&body),
        Ok(op @ Value::Object(_)) => PatchRequest::from_json(&json!({"schemas": [PATCH_OP_URN], "Operations": [op]})),
        Ok(ops) => PatchRequest::from_json(&json!({"schemas": [PATCH_OP_URN], "Operations": ops})),
        Err(_) => PatchRequest::parse(data),
    };
    let Ok(request) = request else { return };
    check(&request, &BARBARA, &USER, &["id", "meta", "groups"]);
    check(&request, &GUIDES, &GROUP, &["id", "meta"]);
});
