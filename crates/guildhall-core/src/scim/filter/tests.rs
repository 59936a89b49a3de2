use super::*;
use crate::scim::path::PatchPath;
use proptest::prelude::*;

fn parse(s: &str) -> Filter {
    Filter::parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
}

fn cmp(path: &str, op: CompareOp, value: CompValue) -> Filter {
    Filter::Compare { path: AttrPath::parse(path).unwrap(), op, value }
}

fn pr(path: &str) -> Filter {
    Filter::Present(AttrPath::parse(path).unwrap())
}

fn kind(s: &str) -> FilterErrorKind {
    Filter::parse(s).unwrap_err().kind
}

/// RFC 7644 §3.4.2.2, Figure 2, verbatim.
const RFC_EXAMPLES: &[&str] = &[
    r#"userName eq "bjensen""#,
    r#"name.familyName co "O'Malley""#,
    r#"userName sw "J""#,
    r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#,
    r#"title pr"#,
    r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
    r#"meta.lastModified ge "2011-05-13T04:42:34Z""#,
    r#"meta.lastModified lt "2011-05-13T04:42:34Z""#,
    r#"meta.lastModified le "2011-05-13T04:42:34Z""#,
    r#"title pr and userType eq "Employee""#,
    r#"title pr or userType eq "Intern""#,
    r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#,
    r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
    r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
    r#"userType eq "Employee" and (emails.type eq "work")"#,
    r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
    r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
];

#[test]
fn rfc_example_filters_parse_and_print_back() {
    for example in RFC_EXAMPLES {
        let f = parse(example);
        assert_eq!(parse(&f.to_string()), f, "{example}");
    }
    // Where no grouping is redundant, the canonical form is the example itself.
    assert_eq!(parse(RFC_EXAMPLES[16]).to_string(), RFC_EXAMPLES[16]);
    assert_eq!(parse(RFC_EXAMPLES[13]).to_string(), RFC_EXAMPLES[13]);
}

#[test]
fn rfc_examples_have_the_expected_shape() {
    assert_eq!(parse(RFC_EXAMPLES[1]), cmp("name.familyName", CompareOp::Co, "O'Malley".into()));
    let urn = AttrPath::parse("urn:ietf:params:scim:schemas:core:2.0:User:userName").unwrap();
    assert_eq!(urn.uri.as_deref(), Some("urn:ietf:params:scim:schemas:core:2.0:User"));
    assert_eq!((urn.name.as_str(), urn.sub_attr), ("userName", None));
    let Filter::And(items) = parse(RFC_EXAMPLES[15]) else { panic!("not an and") };
    let Filter::ValuePath { path, filter } = &items[1] else { panic!("not a value path") };
    assert_eq!(path, &AttrPath::new("emails"));
    assert_eq!(
        **filter,
        Filter::And(vec![
            cmp("type", CompareOp::Eq, "work".into()),
            cmp("value", CompareOp::Co, "@example.com".into())
        ])
    );
}

#[test]
fn every_operator_parses_in_any_case() {
    for op in CompareOp::ALL {
        for keyword in [
            op.as_str().to_owned(),
            op.as_str().to_uppercase(),
            format!("{}{}", &op.as_str()[..1].to_uppercase(), &op.as_str()[1..]),
        ] {
            assert_eq!(parse(&format!("userName {keyword} \"x\"")), cmp("userName", op, "x".into()));
        }
    }
    assert_eq!(parse("title PR"), pr("title"));
    assert_eq!(parse("a pr AND b pr Or NOT (c pr)"), parse("a pr and b pr or not (c pr)"));
    assert_eq!(parse("active eq TRUE"), cmp("active", CompareOp::Eq, CompValue::Bool(true)));
    assert_eq!(parse("x eq False"), cmp("x", CompareOp::Eq, CompValue::Bool(false)));
    assert_eq!(parse("x eq NULL"), cmp("x", CompareOp::Eq, CompValue::Null));
}

#[test]
fn and_binds_tighter_than_or() {
    let (a, b, c) = (pr("a"), pr("b"), pr("c"));
    assert_eq!(parse("a pr or b pr and c pr"), Filter::Or(vec![a.clone(), Filter::And(vec![b.clone(), c.clone()])]));
    assert_eq!(parse("a pr and b pr or c pr"), Filter::Or(vec![Filter::And(vec![a.clone(), b.clone()]), c.clone()]));
    assert_eq!(parse("(a pr or b pr) and c pr"), Filter::And(vec![Filter::Or(vec![a.clone(), b.clone()]), c.clone()]));
    assert_eq!(parse("a pr or b pr or c pr"), Filter::Or(vec![a.clone(), b.clone(), c.clone()]));
    assert_eq!(parse("a pr and (b pr and c pr)"), Filter::And(vec![a.clone(), Filter::And(vec![b, c])]));
    assert_eq!(parse("((((a pr))))"), a);
}

#[test]
fn not_takes_a_parenthesised_filter() {
    assert_eq!(parse("not (a pr)"), Filter::Not(Box::new(pr("a"))));
    assert_eq!(parse("not(a pr)"), Filter::Not(Box::new(pr("a"))));
    assert_eq!(parse("not (not (a pr))").to_string(), "not (not (a pr))");
    assert!(matches!(kind("not a pr"), FilterErrorKind::Expected { .. }));
    // "not" not followed by "(" is an attribute name.
    assert_eq!(parse("not pr"), pr("not"));
}

#[test]
fn nested_parentheses_and_value_paths() {
    let f = parse(r#"((a pr) and (not ((b eq 1) or c[d eq "x" and (e pr or f pr)])))"#);
    assert_eq!(f.to_string(), r#"a pr and not (b eq 1 or c[d eq "x" and (e pr or f pr)])"#);
    assert_eq!(kind(r#"a[b[c pr]]"#), FilterErrorKind::NestedValuePath);
    assert!(matches!(kind(r#"a.b[c pr]"#), FilterErrorKind::InvalidAttrPath(_)));
    assert!(matches!(kind(r#"emails[type eq "work"].value eq "x""#), FilterErrorKind::Expected { .. }));
    assert!(matches!(kind(r#"emails[type eq "work""#), FilterErrorKind::Expected { .. }));
}

#[test]
fn values_are_json_literals() {
    assert_eq!(parse(r#"a eq "q\"uo\\te\u00e9\n""#), cmp("a", CompareOp::Eq, CompValue::Str("q\"uo\\teé\n".into())));
    assert_eq!(parse(r#"a eq "ünï""#), cmp("a", CompareOp::Eq, "ünï".into()));
    assert_eq!(
        parse("a gt -1.5e3"),
        cmp("a", CompareOp::Gt, CompValue::Number(serde_json::Number::from_f64(-1500.0).unwrap()))
    );
    assert_eq!(parse("a eq 42"), cmp("a", CompareOp::Eq, CompValue::Number(42.into())));
    // Floats parse to the nearest f64, so what prints parses back exactly.
    for x in [-8.595251316789759e113, -2.9109115354985186e-170, 0.1, 1e300, 5e-324] {
        let f = cmp("a", CompareOp::Lt, CompValue::Number(serde_json::Number::from_f64(x).unwrap()));
        assert_eq!(parse(&f.to_string()), f);
    }
    assert_eq!(parse("a eq 18446744073709551615").to_string(), "a eq 18446744073709551615");
    assert_eq!(parse("a eq 1e2").to_string(), "a eq 100.0");
    assert_eq!(parse(r#"a eq "x\"y""#).to_string(), r#"a eq "x\"y""#);
    assert_eq!(kind(r#"a eq "abc"#), FilterErrorKind::UnterminatedString);
    assert_eq!(kind(r#"a eq "\q""#), FilterErrorKind::InvalidString);
    assert_eq!(kind("a eq \"tab\there\""), FilterErrorKind::InvalidString);
    assert!(matches!(kind("a eq 01"), FilterErrorKind::InvalidNumber(_)));
    assert!(matches!(kind("a eq 1e999"), FilterErrorKind::InvalidNumber(_)));
    assert!(matches!(kind("a eq bjensen"), FilterErrorKind::Expected { .. }));
    assert!(matches!(kind("a eq 'x'"), FilterErrorKind::UnexpectedChar('\'')));
}

#[test]
fn attribute_paths_take_urns_and_sub_attributes() {
    let p = AttrPath::parse("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value").unwrap();
    assert_eq!(p.uri.as_deref(), Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"));
    assert_eq!((p.name.as_str(), p.sub_attr.as_deref()), ("manager", Some("value")));
    assert_eq!(AttrPath::parse("members.$ref").unwrap(), AttrPath::with_sub("members", "$ref"));
    for bad in ["", "1a", "a.", "a.b.c", "urn:", ":a", "a..b", "a:.b", "-a", "a b"] {
        assert!(AttrPath::parse(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn patch_paths_follow_rfc_7644_section_3_5_2() {
    for (path, shown) in [
        ("members", "members"),
        ("name.familyName", "name.familyName"),
        (r#"addresses[type eq "work"]"#, r#"addresses[type eq "work"]"#),
        (
            r#"members[value eq "2819c223-7f76-453a-919d-413861904646"]"#,
            r#"members[value eq "2819c223-7f76-453a-919d-413861904646"]"#,
        ),
        (
            r#"members[value eq "2819c223-7f76-453a-919d-413861904646"].displayName"#,
            r#"members[value eq "2819c223-7f76-453a-919d-413861904646"].displayName"#,
        ),
        (r#"emails[TYPE EQ "work"].value"#, r#"emails[TYPE eq "work"].value"#),
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
        ),
    ] {
        let parsed = PatchPath::parse(path).unwrap();
        assert_eq!(parsed.to_string(), shown);
        assert_eq!(PatchPath::parse(shown).unwrap(), parsed);
    }
    let p = PatchPath::parse(r#"emails[type eq "work"].value"#).unwrap();
    assert_eq!(p.attr, AttrPath::with_sub("emails", "value"));
    assert!(p.filter.is_some());
    for bad in
        ["", "emails[", "emails[type eq \"w\"].", "emails[type eq \"w\"].a.b", "emails.value[type pr]", "a pr", "a b"]
    {
        assert!(PatchPath::parse(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn depth_and_length_are_limited() {
    let nested = |n: usize| format!("{}a pr{}", "(".repeat(n), ")".repeat(n));
    assert!(Filter::parse(&nested(MAX_FILTER_DEPTH)).is_ok());
    assert_eq!(kind(&nested(MAX_FILTER_DEPTH + 1)), FilterErrorKind::TooDeep);
    assert_eq!(kind(&format!("{}a pr", "not (".repeat(200))), FilterErrorKind::TooDeep);
    let long = format!("a eq \"{}\"", "x".repeat(MAX_FILTER_LEN));
    assert_eq!(kind(&long), FilterErrorKind::TooLong);
    // A long flat chain is fine, and stays one level deep.
    let chain = vec!["a pr"; 400].join(" or ");
    assert!(matches!(parse(&chain), Filter::Or(items) if items.len() == 400));
    // The limit counts characters, not bytes.
    assert!(Filter::parse(&format!("a eq \"{}\"", "é".repeat(MAX_FILTER_LEN - 10))).is_ok());
}

#[test]
fn errors_say_where_and_map_to_invalid_filter() {
    let e = Filter::parse(r#"userName eq "x" und b pr"#).unwrap_err();
    assert_eq!(e.offset, 16);
    assert_eq!(e.to_string(), r#"expected "and", "or" or the end, found "und" (at character 16)"#);
    let scim: crate::scim::ScimError = e.into();
    assert_eq!(scim.scim_type, crate::scim::ScimType::InvalidFilter);
    assert!(matches!(kind(""), FilterErrorKind::Expected { .. }));
    assert!(matches!(kind("a pr)"), FilterErrorKind::Expected { .. }));
    assert!(matches!(kind("(a pr"), FilterErrorKind::Expected { .. }));
}

fn attr_name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z$][a-zA-Z0-9_$-]{0,6}",
        prop::sample::select(vec!["userName", "not", "and", "or", "pr", "eq", "true", "null", "$ref"])
            .prop_map(String::from),
    ]
}

fn attr_path(with_sub: bool) -> impl Strategy<Value = AttrPath> {
    let uri = prop::option::weighted(
        0.2,
        prop::sample::select(vec![
            "urn:ietf:params:scim:schemas:core:2.0:User",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
        ]),
    );
    let sub = if with_sub { prop::option::of(attr_name()).boxed() } else { Just(None).boxed() };
    (uri, attr_name(), sub).prop_map(|(uri, name, sub_attr)| AttrPath { uri: uri.map(String::from), name, sub_attr })
}

fn comp_value() -> impl Strategy<Value = CompValue> {
    prop_oneof![
        any::<String>().prop_map(CompValue::Str),
        "[\"\\\\\\x00-\\x1f a-z]{0,5}".prop_map(CompValue::Str),
        any::<i64>().prop_map(|n| CompValue::Number(n.into())),
        any::<u64>().prop_map(|n| CompValue::Number(n.into())),
        any::<f64>().prop_filter_map("finite", serde_json::Number::from_f64).prop_map(CompValue::Number),
        any::<bool>().prop_map(CompValue::Bool),
        Just(CompValue::Null),
    ]
}

fn leaf() -> impl Strategy<Value = Filter> {
    prop_oneof![
        (attr_path(true), prop::sample::select(CompareOp::ALL.to_vec()), comp_value())
            .prop_map(|(path, op, value)| Filter::Compare { path, op, value }),
        attr_path(true).prop_map(Filter::Present),
    ]
}

/// Filters without value paths (what a value path may hold).
fn val_filter() -> impl Strategy<Value = Filter> {
    leaf().prop_recursive(3, 16, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 2..4).prop_map(Filter::And),
            prop::collection::vec(inner.clone(), 2..4).prop_map(Filter::Or),
            inner.prop_map(|f| Filter::Not(Box::new(f))),
        ]
    })
}

fn filter() -> impl Strategy<Value = Filter> {
    let value_path =
        (attr_path(false), val_filter()).prop_map(|(path, f)| Filter::ValuePath { path, filter: Box::new(f) });
    prop_oneof![leaf(), value_path].prop_recursive(4, 32, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 2..4).prop_map(Filter::And),
            prop::collection::vec(inner.clone(), 2..4).prop_map(Filter::Or),
            inner.prop_map(|f| Filter::Not(Box::new(f))),
        ]
    })
}

proptest! {
    #[test]
    fn printed_filters_parse_back_the_same(f in filter()) {
        let printed = f.to_string();
        prop_assert_eq!(Filter::parse(&printed), Ok(f), "{}", printed);
    }

    #[test]
    fn printed_patch_paths_parse_back_the_same(path in attr_path(true), f in prop::option::of(val_filter())) {
        let p = PatchPath { attr: if f.is_some() { AttrPath { sub_attr: path.sub_attr.clone(), ..path } } else { path }, filter: f };
        prop_assert_eq!(PatchPath::parse(&p.to_string()), Ok(p));
    }

    #[test]
    fn the_parser_never_panics_on_any_string(s in any::<String>()) {
        if let Ok(f) = Filter::parse(&s) {
            prop_assert_eq!(Filter::parse(&f.to_string()), Ok(f));
        }
        let _ = PatchPath::parse(&s);
    }

    #[test]
    fn the_parser_never_panics_on_filter_like_strings(
        s in r#"(\(|\)|\[|\]|\.|not|and|or|pr|eq|gt|co|"a\\"b"|"|-?1\.5e3|true|null|a\.b|urn:x:a|\$ref| )*"#,
    ) {
        if let Ok(f) = Filter::parse(&s) {
            prop_assert_eq!(Filter::parse(&f.to_string()), Ok(f));
        }
        if let Ok(p) = PatchPath::parse(&s) {
            prop_assert_eq!(PatchPath::parse(&p.to_string()), Ok(p));
        }
    }
}
