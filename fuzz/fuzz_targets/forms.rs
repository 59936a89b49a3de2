//! Form bodies from browsers, decoded only behind the CSRF check: into a
//! sign-in-like form and a form with repeated fields. Whatever decodes must
//! have carried the cookie's token.
#![no_main]

use guildhall_core::forms::decode_checked;
use libfuzzer_sys::fuzz_target;
use serde::Deserialize;

#[derive(Deserialize)]
#[allow(dead_code)]
struct SignIn {
    #[serde(default)]
    email: String,
    password: Option<String>,
    #[serde(default)]
    return_to: String,
    form: Option<String>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Token {
    #[serde(default)]
    name: String,
    #[serde(default)]
    scopes: Vec<String>,
}

#[derive(Deserialize)]
struct Presented {
    #[serde(default)]
    csrf: String,
}

fuzz_target!(|data: &[u8]| {
    // The first byte picks the cookie's token: empty, or one the body may hold.
    let Some((&pick, body)) = data.split_first() else { return };
    let expected = if pick % 2 == 0 { "" } else { "AbC-123_xyz" };
    let accepted = decode_checked::<SignIn>(body, expected).is_ok() | decode_checked::<Token>(body, expected).is_ok();
    if accepted {
        assert!(!expected.is_empty(), "a form passed with no cookie token");
        let presented = serde_html_form::from_bytes::<Presented>(body).map(|p| p.csrf).unwrap_or_default();
        assert_eq!(presented, expected);
    }
});
