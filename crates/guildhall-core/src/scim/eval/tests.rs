use super::*;
use crate::scim::schema::{GROUP, USER};
use serde_json::json;

fn barbara() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": "2819c223-7f76-453a-919d-413861904646",
        "externalId": "Ext-1",
        "UserName": "bjensen",
        "name": {"formatted": "Ms. Barbara J Jensen III", "familyName": "O'Malley", "givenName": "Barbara"},
        "displayName": "",
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ],
        "active": true,
        "groups": [{"value": "e9e30dba", "display": "Admins", "type": "direct"}],
        "meta": {
            "resourceType": "User",
            "created": "2010-01-23T04:56:22Z",
            "lastModified": "2011-05-13T04:42:34Z",
            "version": "W/\"3694e05e9dff591\""
        }
    })
}

#[track_caller]
fn check(filter: &str, expected: bool) {
    let f = Filter::parse(filter).unwrap_or_else(|e| panic!("{filter}: {e}"));
    assert_eq!(f.matches(&barbara(), &USER), expected, "{filter}");
}

#[test]
fn each_operator_on_a_case_insensitive_string() {
    check(r#"userName eq "BJensen""#, true);
    check(r#"userName eq "bjensen2""#, false);
    check(r#"userName ne "jsmith""#, true);
    check(r#"userName ne "BJENSEN""#, false);
    check(r#"userName co "JEN""#, true);
    check(r#"userName co "smith""#, false);
    check(r#"userName sw "BJ""#, true);
    check(r#"userName sw "j""#, false);
    check(r#"userName ew "SEN""#, true);
    check(r#"userName ew "bj""#, false);
    check(r#"userName gt "AAA""#, true);
    check(r#"userName gt "bjensen""#, false);
    check(r#"userName ge "BJENSEN""#, true);
    check(r#"userName lt "c""#, true);
    check(r#"userName lt "bjensen""#, false);
    check(r#"userName le "BJensen""#, true);
}

#[test]
fn case_exact_attributes_compare_exactly() {
    check(r#"id eq "2819c223-7f76-453a-919d-413861904646""#, true);
    check(r#"id eq "2819C223-7F76-453A-919D-413861904646""#, false);
    check(r#"externalId eq "Ext-1""#, true);
    check(r#"externalId eq "ext-1""#, false);
    check(r#"externalId sw "E""#, true);
    check(r#"meta.version co "3694E""#, false);
}

#[test]
fn attribute_names_and_urn_prefixes_match_ignoring_case() {
    check(r#"USERNAME eq "bjensen""#, true);
    check(r#"NAME.FAMILYNAME co "O'Malley""#, true);
    check(r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#, false);
    check(r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "B""#, true);
    check(r#"URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:USER:userName sw "B""#, true);
    check(r#"urn:ietf:params:scim:schemas:core:2.0:Group:userName sw "B""#, false);
    check(r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:userName pr"#, false);
}

#[test]
fn multi_valued_attributes_match_any_value() {
    check(r#"emails co "jensen.org""#, true);
    check(r#"emails.value co "EXAMPLE.COM""#, true);
    check(r#"emails.type eq "home""#, true);
    check(r#"emails.type eq "other""#, false);
    check(r#"emails[type eq "work" and value co "@example.com"]"#, true);
    check(r#"emails[type eq "home" and value co "@example.com"]"#, false);
    check(r#"emails[type eq "home" and primary eq true]"#, false);
    check(r#"emails[primary eq true]"#, true);
    check(r#"emails[not (primary pr) and value ew "ORG"]"#, true);
    check(r#"groups.display eq "admins""#, true);
    check(r#"schemas eq "urn:ietf:params:scim:schemas:core:2.0:User""#, true);
}

#[test]
fn date_times_compare_chronologically() {
    check(r#"meta.lastModified gt "2011-05-13T04:42:33Z""#, true);
    check(r#"meta.lastModified gt "2011-05-13T04:42:34Z""#, false);
    check(r#"meta.lastModified ge "2011-05-13T04:42:34Z""#, true);
    check(r#"meta.lastModified lt "2011-05-13T04:42:34.001Z""#, true);
    check(r#"meta.lastModified le "2011-05-13T04:42:33Z""#, false);
    // Same instant written with an offset: chronological, not textual.
    check(r#"meta.lastModified eq "2011-05-13T06:42:34+02:00""#, true);
    check(r#"meta.lastModified lt "2011-05-13T05:00:00+01:00""#, false);
    check(r#"meta.created sw "2010-01""#, true);
}

#[test]
fn booleans_numbers_and_null() {
    check("active eq true", true);
    check("active eq FALSE", false);
    check("active ne false", true);
    check(r#"active eq "True""#, true);
    check("active gt false", false);
    check("emails.display eq null", true);
    check("userName eq null", false);
    check("userName ne null", true);
    let scored = json!({"score": 7, "big": 18446744073709551615_u64});
    let untyped = |f: &str| matches_in(&Filter::parse(f).unwrap(), &scored, Scope::Untyped);
    assert!(untyped("score gt 6.5") && untyped("score le 7") && !untyped("score lt -1") && untyped("big gt 1"));
}

#[test]
fn presence_needs_a_non_empty_value() {
    check("name pr", true);
    check("emails pr", true);
    check("name.givenName pr", true);
    check("displayName pr", false);
    check("title pr", false);
    check("emails.display pr", false);
}

#[test]
fn logic_follows_precedence() {
    check(r#"userName eq "x" or userName eq "bjensen" and active eq false"#, false);
    check(r#"(userName eq "x" or userName eq "bjensen") and active eq true"#, true);
    check(r#"not (userName eq "x") and not (not (active eq true))"#, true);
    check(r#"userName eq "x" or (emails.type eq "home" and (active eq true or title pr))"#, true);
}

#[test]
fn unknown_attributes_match_nothing_and_absent_ones_fail_ne() {
    check(r#"title ne "boss""#, false);
    check(r#"nickName eq "babs""#, false);
    check(r#"nickName ne "babs""#, false);
    check("not (nickName pr)", true);
    check(r#"emails.nope eq "x""#, false);
    check(r#"ims[type eq "xmpp"]"#, false);
}

#[test]
fn rfc_examples_evaluate_against_a_user() {
    check(r#"userName eq "bjensen""#, true);
    check(r#"name.familyName co "O'Malley""#, true);
    check(r#"title pr or userType eq "Intern""#, false);
    check(r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#, false);
    check(r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#, true);
}

#[test]
fn groups_filter_on_members() {
    let group =
        json!({"id": "g", "displayName": "Admins", "members": [{"value": "u1", "type": "User"}, {"value": "u2"}]});
    let m = |f: &str| Filter::parse(f).unwrap().matches(&group, &GROUP);
    assert!(m(r#"displayName eq "admins""#));
    assert!(m(r#"members[value eq "u2"]"#));
    assert!(m(r#"members.value eq "u1""#));
    assert!(m(r#"members eq "u1""#));
    assert!(!m(r#"members[value eq "u3"]"#));
    assert!(!m(r#"userName pr"#));
}

#[test]
fn validate_lists_unknown_attributes() {
    let v = |f: &str| Filter::parse(f).unwrap().validate(&USER);
    assert_eq!(v(r#"userName eq "a" and emails[type eq "work"]"#), Ok(vec![]));
    assert_eq!(
        v(r#"title pr or emails[nope eq "x"] or urn:x:y:z eq 1"#),
        Ok(vec![
            AttrPath::new("title"),
            AttrPath::with_sub("emails", "nope"),
            AttrPath { uri: Some("urn:x:y".into()), name: "z".into(), sub_attr: None }
        ])
    );
}

#[test]
fn validate_refuses_meaningless_comparisons() {
    for bad in [
        "active gt true",
        "emails.primary le false",
        r#"active co "t""#,
        "userName co null",
        "userName gt true",
        r#"name eq "x""#,
        r#"userName[value eq "x"]"#,
        r#"active[value eq "x"]"#,
    ] {
        let err = Filter::parse(bad).unwrap().validate(&USER).unwrap_err();
        assert_eq!(err.scim_type, ScimType::InvalidFilter, "{bad}");
    }
    assert!(Filter::parse("emails eq \"a@b\"").unwrap().validate(&USER).is_ok());
}
