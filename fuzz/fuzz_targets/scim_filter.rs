//! SCIM filters (RFC 7644 §3.4.2.2) from `?filter=` and `/.search`, and
//! PATCH paths (§3.5.2): what parses prints back to the same AST, and
//! evaluates, validates and sorts against a user without panicking.
#![no_main]

use std::sync::LazyLock;

use guildhall_core::scim::filter::MAX_FILTER_LEN;
use guildhall_core::scim::schema::USER;
use guildhall_core::scim::sort::sort_key;
use guildhall_core::scim::{AttrPath, Filter, PatchPath};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

static BARBARA: LazyLock<Value> = LazyLock::new(|| {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": "2819c223-7f76-453a-919d-413861904646",
        "externalId": "Ext-1",
        "userName": "bjensen",
        "name": {"formatted": "Ms. Barbara J Jensen III", "familyName": "O'Malley", "givenName": "Barbara"},
        "displayName": "Babs",
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ],
        "active": true,
        "groups": [{"value": "e9e30dba", "display": "Admins", "type": "direct"}],
        "meta": {"resourceType": "User", "created": "2010-01-23T04:56:22Z", "lastModified": "2011-05-13T04:42:34Z"},
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": 701984}
    })
});

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else { return };
    if let Ok(filter) = Filter::parse(input) {
        let printed = filter.to_string();
        // Spacing can make the canonical form longer than the input.
        if printed.chars().count() <= MAX_FILTER_LEN {
            assert_eq!(Filter::parse(&printed).as_ref(), Ok(&filter), "{printed}");
        }
        let matched = filter.matches(&BARBARA, &USER);
        let negated = Filter::Not(Box::new(filter.clone()));
        assert_eq!(negated.matches(&BARBARA, &USER), !matched);
        let _ = filter.validate(&USER);
    }
    if let Ok(path) = PatchPath::parse(input) {
        let printed = path.to_string();
        if printed.chars().count() <= MAX_FILTER_LEN {
            assert_eq!(PatchPath::parse(&printed).as_ref(), Ok(&path), "{printed}");
        }
    }
    if let Ok(path) = AttrPath::parse(input) {
        assert_eq!(AttrPath::parse(&path.to_string()).as_ref(), Ok(&path));
        let _ = sort_key(&BARBARA, &path, &USER);
    }
});
