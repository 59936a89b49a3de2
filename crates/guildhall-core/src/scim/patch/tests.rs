use super::*;
use crate::scim::schema::{GROUP, USER};
use crate::scim::{ENTERPRISE_USER_SCHEMA_URN, USER_SCHEMA_URN};
use proptest::prelude::*;
use serde_json::json;

fn user() -> Value {
    json!({
        "schemas": [USER_SCHEMA_URN],
        "id": "2819c223",
        "userName": "bjensen",
        "name": {"familyName": "Jensen", "givenName": "Barbara"},
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ],
        "active": true,
        "groups": [{"value": "g1", "display": "Admins"}],
        "meta": {"resourceType": "User", "version": "W/\"1\""}
    })
}

fn group() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "id": "e9e30dba",
        "displayName": "Tour Guides",
        "members": [
            {"value": "2819c223-7f76-453a-919d-413861904646", "display": "Babs Jensen"},
            {"value": "902c246b-6245-4190-8e05-00816be7344a", "display": "Mandy Pepperidge"}
        ]
    })
}

fn request(ops: Value) -> PatchRequest {
    PatchRequest::from_json(&json!({"schemas": [PATCH_OP_URN], "Operations": ops})).unwrap()
}

#[track_caller]
fn patch(resource: &Value, schema: &ResourceSchema, ops: Value) -> Value {
    request(ops).apply(resource, schema).unwrap_or_else(|e| panic!("{e}"))
}

#[track_caller]
fn refused(resource: &Value, schema: &ResourceSchema, ops: Value) -> ScimType {
    request(ops).apply(resource, schema).unwrap_err().scim_type
}

#[test]
fn requests_must_declare_the_patch_schema_and_valid_operations() {
    let err = |body: &str| PatchRequest::parse(body.as_bytes()).unwrap_err().scim_type;
    assert_eq!(err("not json"), ScimType::InvalidSyntax);
    assert_eq!(err("[]"), ScimType::InvalidSyntax);
    assert_eq!(err(r#"{"Operations": [{"op": "add", "path": "x", "value": 1}]}"#), ScimType::InvalidSyntax);
    let with = |ops: &str| format!(r#"{{"schemas": ["{PATCH_OP_URN}"], "Operations": {ops}}}"#);
    assert_eq!(err(&with("[]")), ScimType::InvalidSyntax);
    assert_eq!(err(&with("{}")), ScimType::InvalidSyntax);
    assert_eq!(err(&with(r#"[{"op": "move", "path": "a"}]"#)), ScimType::InvalidSyntax);
    assert_eq!(err(&with(r#"[{"op": "add", "path": "a"}]"#)), ScimType::InvalidValue);
    assert_eq!(err(&with(r#"[{"op": "add", "path": "a[", "value": 1}]"#)), ScimType::InvalidPath);
    assert_eq!(err(&with(r#"[{"op": "add", "path": 7, "value": 1}]"#)), ScimType::InvalidPath);
    let ok = PatchRequest::parse(
        with(r#"[{"op": "Replace", "path": "active", "value": false}, {"op": "REMOVE", "path": "name"}]"#).as_bytes(),
    )
    .unwrap();
    assert_eq!(ok.operations.iter().map(|o| o.op).collect::<Vec<_>>(), [PatchOp::Replace, PatchOp::Remove]);
    // Some clients spell the members in other cases.
    let lower = format!(
        r#"{{"SCHEMAS": ["{}"], "operations": [{{"OP": "add", "Path": "displayName", "Value": "x"}}]}}"#,
        PATCH_OP_URN.to_uppercase()
    );
    assert!(PatchRequest::parse(lower.as_bytes()).is_ok());
}

#[test]
fn add_without_path_merges_the_object() {
    let out = patch(
        &user(),
        &USER,
        json!([{"op": "add", "value": {
            "displayName": "Babs", "name": {"formatted": "Barbara Jensen"}, "emails": [{"value": "b@x.org", "type": "other"}]
        }}]),
    );
    assert_eq!(out["displayName"], "Babs");
    assert_eq!(out["name"], json!({"familyName": "Jensen", "givenName": "Barbara", "formatted": "Barbara Jensen"}));
    assert_eq!(out["emails"].as_array().unwrap().len(), 3);
}

#[test]
fn add_to_a_multi_valued_attribute_appends_without_duplicates() {
    let out = patch(
        &user(),
        &USER,
        json!([{"op": "add", "path": "emails", "value": [
            {"value": "BJENSEN@example.com", "type": "work"},
            {"value": "new@example.com", "type": "other", "primary": true}
        ]}]),
    );
    let emails = out["emails"].as_array().unwrap();
    assert_eq!(emails.len(), 3);
    assert_eq!(emails[2]["value"], "new@example.com");
    // At most one primary: the added one wins.
    assert_eq!(emails[0]["primary"], false);
    assert_eq!(emails[2]["primary"], true);
    // RFC 7644 §3.5.2.1: adding a member.
    let g = patch(
        &group(),
        &GROUP,
        json!([{"op": "add", "path": "members", "value": [
            {"display": "Babs Jensen", "$ref": "https://example.com/v2/Users/2819c223-7f76-453a-919d-413861904646", "value": "2819c223-7f76-453a-919d-413861904646"},
            {"value": "new-member"}
        ]}]),
    );
    assert_eq!(g["members"].as_array().unwrap().len(), 3);
    let once = patch(&g, &GROUP, json!([{"op": "add", "path": "members", "value": [{"value": "new-member"}]}]));
    assert_eq!(once, g);
}

#[test]
fn add_sets_single_values_and_sub_attributes() {
    let out = patch(
        &user(),
        &USER,
        json!([
            {"op": "add", "path": "name.givenName", "value": "Babs"},
            {"op": "add", "path": "displayName", "value": "B. Jensen"},
            {"op": "add", "path": "urn:ietf:params:scim:schemas:core:2.0:User:externalId", "value": "ext"},
        ]),
    );
    assert_eq!((out["name"]["givenName"].as_str(), out["displayName"].as_str()), (Some("Babs"), Some("B. Jensen")));
    assert_eq!(out["externalId"], "ext");
}

#[test]
fn replace_follows_rfc_7644_section_3_5_2_3() {
    let out = patch(
        &user(),
        &USER,
        json!([
            {"op": "replace", "path": "userName", "value": "babs"},
            {"op": "replace", "path": "name", "value": {"givenName": "Babs"}},
            {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "babs@example.com"},
            {"op": "replace", "path": "nickName", "value": "Babs"},
        ]),
    );
    assert_eq!(out["userName"], "babs");
    assert_eq!(out["name"], json!({"familyName": "Jensen", "givenName": "Babs"}));
    assert_eq!(out["emails"][0]["value"], "babs@example.com");
    assert_eq!(out["emails"][1]["value"], "babs@jensen.org");
    assert_eq!(out["nickName"], "Babs");
    let replaced = patch(
        &user(),
        &USER,
        json!([{"op": "replace", "path": "emails[type eq \"home\"]", "value": {"value": "h@x", "type": "home", "primary": true}}]),
    );
    assert_eq!(replaced["emails"][1], json!({"value": "h@x", "type": "home", "primary": true}));
    assert_eq!(replaced["emails"][0]["primary"], false);
    let all = patch(&user(), &USER, json!([{"op": "replace", "path": "emails", "value": {"value": "only@x"}}]));
    assert_eq!(all["emails"], json!([{"value": "only@x"}]));
}

#[test]
fn replace_with_a_filter_matching_nothing_is_no_target() {
    let ops = json!([{"op": "replace", "path": "emails[type eq \"other\"].value", "value": "x@y"}]);
    assert_eq!(refused(&user(), &USER, ops), ScimType::NoTarget);
    let ops = json!([{"op": "replace", "path": "members[value eq \"nobody\"]", "value": {"value": "x"}}]);
    assert_eq!(refused(&group(), &GROUP, ops), ScimType::NoTarget);
}

#[test]
fn remove_follows_rfc_7644_section_3_5_2_2() {
    let out = patch(
        &user(),
        &USER,
        json!([
            {"op": "remove", "path": "emails[type eq \"work\"]"},
            {"op": "remove", "path": "name.givenName"},
            {"op": "remove", "path": "emails[type eq \"nothing\"]"},
        ]),
    );
    assert_eq!(out["emails"], json!([{"value": "babs@jensen.org", "type": "home"}]));
    assert_eq!(out["name"], json!({"familyName": "Jensen"}));
    let none = patch(&user(), &USER, json!([{"op": "remove", "path": "name"}, {"op": "remove", "path": "nickName"}]));
    assert!(none.get("name").is_none());
    let emptied =
        patch(&user(), &USER, json!([{"op": "remove", "path": "emails[value ew \"org\" or value ew \"com\"]"}]));
    assert!(emptied.get("emails").is_none());
    let sub = patch(&user(), &USER, json!([{"op": "remove", "path": "emails[type eq \"work\"].primary"}]));
    assert!(sub["emails"][0].get("primary").is_none());
    // RFC 7644 §3.5.2.2: a single member; all members, then add one back.
    let g = patch(
        &group(),
        &GROUP,
        json!([{"op": "remove", "path": "members[value eq \"2819c223-7f76-453a-919d-413861904646\"]"}]),
    );
    assert_eq!(g["members"].as_array().unwrap().len(), 1);
    let g = patch(
        &group(),
        &GROUP,
        json!([
            {"op": "remove", "path": "members"},
            {"op": "add", "path": "members", "value": [{"display": "James Smith", "value": "08e1d05d-121c-4561-8b96-473d93df9210"}]}
        ]),
    );
    assert_eq!(g["members"], json!([{"display": "James Smith", "value": "08e1d05d-121c-4561-8b96-473d93df9210"}]));
}

#[test]
fn remove_without_path_is_no_target() {
    assert_eq!(refused(&user(), &USER, json!([{"op": "remove"}])), ScimType::NoTarget);
}

#[test]
fn read_only_and_required_attributes_are_protected() {
    for ops in [
        json!([{"op": "remove", "path": "userName"}]),
        json!([{"op": "remove", "path": "emails"}]),
        json!([{"op": "remove", "path": "emails[type eq \"work\"].value"}]),
        json!([{"op": "replace", "path": "userName", "value": null}]),
        json!([{"op": "remove", "path": "id"}]),
        json!([{"op": "replace", "path": "ID", "value": "other"}]),
        json!([{"op": "remove", "path": "meta"}]),
        json!([{"op": "replace", "path": "meta.version", "value": "x"}]),
        json!([{"op": "remove", "path": "groups"}]),
        json!([{"op": "add", "path": "groups", "value": [{"value": "g2"}]}]),
        json!([{"op": "add", "path": "urn:ietf:params:scim:schemas:core:2.0:User:id", "value": "x"}]),
    ] {
        assert_eq!(refused(&user(), &USER, ops.clone()), ScimType::Mutability, "{ops}");
    }
    assert_eq!(refused(&group(), &GROUP, json!([{"op": "remove", "path": "displayName"}])), ScimType::Mutability);
    let ops = json!([{"op": "replace", "path": "members[value eq \"902c246b-6245-4190-8e05-00816be7344a\"].value", "value": "x"}]);
    assert_eq!(refused(&group(), &GROUP, ops), ScimType::Mutability);
    // In a path-less value they are ignored, as in a PUT.
    let out = patch(
        &user(),
        &USER,
        json!([{"op": "replace", "value": {"id": "x", "meta": {}, "groups": [], "schemas": [], "active": false}}]),
    );
    assert_eq!(
        (out["id"].clone(), out["meta"].clone(), out["groups"].clone()),
        (user()["id"].clone(), user()["meta"].clone(), user()["groups"].clone())
    );
    assert_eq!(out["active"], false);
}

#[test]
fn entra_and_okta_requests_apply() {
    // Entra: path-less replace, "Replace", booleans as strings.
    let out = patch(&user(), &USER, json!([{"op": "replace", "value": {"active": false}}]));
    assert_eq!(out["active"], false);
    let out = patch(&user(), &USER, json!([{"op": "Replace", "path": "active", "value": "False"}]));
    assert_eq!(out["active"], false);
    let out = patch(
        &out,
        &USER,
        json!([{"op": "Replace", "value": {"active": "True", "name.givenName": "Babs", "emails[type eq \"work\"].value": "w@x"}}]),
    );
    assert_eq!((out["active"].clone(), out["name"]["givenName"].clone()), (json!(true), json!("Babs")));
    assert_eq!(out["emails"][0]["value"], "w@x");
    // Entra: creating a work email through a filtered path.
    let mut none = user();
    none.as_object_mut().unwrap().remove("emails");
    let out = patch(&none, &USER, json!([{"op": "Add", "path": "emails[type eq \"work\"].value", "value": "new@x"}]));
    assert_eq!(out["emails"], json!([{"type": "work", "value": "new@x"}]));
    // Okta and Entra: replacing all members; Entra: removing listed members.
    let g = patch(
        &group(),
        &GROUP,
        json!([{"op": "Replace", "path": "members", "value": [{"value": "a"}, {"value": "b"}]}]),
    );
    assert_eq!(g["members"], json!([{"value": "a"}, {"value": "b"}]));
    let g =
        patch(&g, &GROUP, json!([{"op": "Remove", "path": "members", "value": [{"value": "a"}, {"value": "zzz"}]}]));
    assert_eq!(g["members"], json!([{"value": "b"}]));
    let g = patch(&g, &GROUP, json!([{"op": "Replace", "path": "members", "value": []}]));
    assert_eq!(g["members"], json!([]));
    // Okta: replace with the whole group (its id ignored).
    let g = patch(&group(), &GROUP, json!([{"op": "replace", "value": {"id": "e9e30dba", "displayName": "Guides"}}]));
    assert_eq!(g["displayName"], "Guides");
}

#[test]
fn extension_attributes_go_in_their_schema_object() {
    let ops = json!([
        {"op": "add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "Sales"},
        {"op": "replace", "value": {"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "701984"}}},
        {"op": "replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": {"value": "m1"}},
    ]);
    let out = patch(&user(), &USER, ops);
    assert_eq!(
        out[ENTERPRISE_USER_SCHEMA_URN],
        json!({"department": "Sales", "employeeNumber": "701984", "manager": {"value": "m1"}})
    );
    assert_eq!(out["schemas"], json!([USER_SCHEMA_URN, ENTERPRISE_USER_SCHEMA_URN]));
    let removed = patch(&out, &USER, json!([{"op": "remove", "path": ENTERPRISE_USER_SCHEMA_URN}]));
    assert!(removed.get(ENTERPRISE_USER_SCHEMA_URN).is_none());
    assert_eq!(removed["schemas"], json!([USER_SCHEMA_URN]));
    let ops = json!([{"op": "add", "path": "urn:ietf:params:scim:schemas:core:2.0:Group:displayName", "value": "x"}]);
    assert_eq!(refused(&user(), &USER, ops), ScimType::InvalidPath);
}

#[test]
fn attributes_outside_the_schema_are_applied_untyped() {
    let out = patch(
        &user(),
        &USER,
        json!([
            {"op": "add", "path": "addresses[type eq \"work\"].locality", "value": "Paris"},
            {"op": "add", "path": "phoneNumbers", "value": [{"value": "+33", "type": "work"}]},
            {"op": "replace", "path": "title", "value": "Tour Guide"},
        ]),
    );
    assert_eq!(out["addresses"], json!([{"type": "work", "locality": "Paris"}]));
    assert_eq!(out["phoneNumbers"], json!([{"value": "+33", "type": "work"}]));
    assert_eq!(out["title"], "Tour Guide");
    let ops = json!([{"op": "add", "path": "userName.first", "value": "x"}]);
    assert_eq!(refused(&user(), &USER, ops), ScimType::InvalidPath);
}

#[test]
fn operations_apply_all_or_nothing_and_keys_keep_their_case() {
    let original = user();
    let req = request(json!([{"op": "replace", "path": "userName", "value": "x"}, {"op": "remove", "path": "id"}]));
    assert!(req.apply(&original, &USER).is_err());
    let out = patch(
        &json!({"UserName": "a", "id": "1"}),
        &USER,
        json!([{"op": "replace", "path": "username", "value": "b"}]),
    );
    assert_eq!(out, json!({"UserName": "b", "id": "1"}));
}

fn op_strategy() -> impl Strategy<Value = Value> {
    let op = prop::sample::select(vec!["add", "remove", "replace", "Replace", "ADD"]);
    let path = prop::option::of(prop::sample::select(vec![
        "userName",
        "id",
        "ID",
        "meta",
        "meta.version",
        "groups",
        "groups[value eq \"g1\"].display",
        "emails",
        "emails[type eq \"work\"]",
        "emails[type eq \"work\"].value",
        "emails[primary eq true].primary",
        "emails.value",
        "name",
        "name.givenName",
        "active",
        "title",
        "urn:ietf:params:scim:schemas:core:2.0:User:id",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
        "x[y pr].z",
        "id:x",
    ]));
    let value = prop::option::of(prop::sample::select(vec![
        json!(null),
        json!("False"),
        json!(true),
        json!(1),
        json!("s"),
        json!([]),
        json!({}),
        json!([{"value": "a", "primary": true}, {"value": "b", "primary": "True"}]),
        json!({"value": "v", "type": "work"}),
        json!({"id": "evil", "meta": {"x": 1}, "groups": [], "userName": "u"}),
        json!({"urn:ietf:params:scim:schemas:core:2.0:User": {"id": "evil", "displayName": "d"}}),
        json!({"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "d"}}),
    ]));
    (op, path, value).prop_map(|(op, path, value)| {
        let mut o = json!({"op": op});
        if let Some(p) = path {
            o["path"] = json!(p);
        }
        if let Some(v) = value {
            o["value"] = v;
        }
        o
    })
}

proptest! {
    #[test]
    fn no_patch_touches_read_only_attributes(ops in prop::collection::vec(op_strategy(), 1..5)) {
        let body = json!({"schemas": [PATCH_OP_URN], "Operations": ops});
        let Ok(req) = PatchRequest::from_json(&body) else { return Ok(()) };
        if let Ok(out) = req.apply(&user(), &USER) {
            prop_assert!(out.is_object());
            for key in ["id", "meta", "groups"] {
                prop_assert_eq!(&out[key], &user()[key]);
            }
        }
    }
}
