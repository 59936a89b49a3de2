//! OAuth parameters from requests: scopes, PKCE challenges, grant types,
//! presented secret tokens.
#![no_main]

use guildhall_core::oauth::{CodeChallenge, GrantType, Scopes};
use guildhall_core::tokens::SecretToken;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    let mid = (0..=s.len() / 2).rev().find(|&i| s.is_char_boundary(i)).unwrap_or(0);
    let (a, b) = s.split_at(mid);
    if let Ok(scopes) = Scopes::parse(s) {
        // What is printed parses back to the same set.
        assert_eq!(Scopes::parse(&scopes.to_string()).ok(), Some(scopes));
    }
    if let Ok(c) = CodeChallenge::parse(a, Some(b)) {
        assert_eq!(c.as_str().len(), 43);
    }
    let _ = CodeChallenge::parse(s, None).map(|_| panic!("plain PKCE accepted"));
    let _ = GrantType::parse(s);
    if let Some(api) = guildhall_core::scopes::Scope::parse(s) {
        // An API token scope always covers itself.
        assert!(api.covers(api));
    }
    if let Some(t) = SecretToken::parse(s) {
        // Surrounding whitespace aside, exactly what was presented.
        assert_eq!(t.expose(), s.trim());
    }
});
