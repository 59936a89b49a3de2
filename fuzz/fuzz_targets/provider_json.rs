//! JSON from upstream identity providers and from provider definitions:
//! user-info documents, emails lists, ID token claims, stored configs.
#![no_main]

use guildhall_core::identities::{ClaimMapping, EmailList, ProviderConfig, map_profile, oidc_claims, pick_email};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(config) = serde_json::from_slice::<ProviderConfig>(data) {
        if config.validate().is_ok() {
            let again: ProviderConfig =
                serde_json::from_str(&serde_json::to_string(&config).expect("a config serialises"))
                    .expect("a serialised config parses back");
            assert_eq!(again, config);
        }
    }
    let Ok(doc) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    if let Ok(p) = map_profile(&doc, &oidc_claims()) {
        assert!(!p.subject.is_empty() && p.subject.len() <= 255);
        assert!(!p.email_verified || p.email.is_some());
    }
    let github = ClaimMapping {
        subject: "/id".into(),
        email: Some("/email".into()),
        email_verified: None,
        name: None,
        username: Some("/login".into()),
    };
    let _ = map_profile(&doc, &github);
    let list = EmailList {
        url: "https://api.example.com/user/emails".parse().expect("a fixed URL"),
        list: String::new(),
        address: "/email".into(),
        primary: "/primary".into(),
        verified: "/verified".into(),
    };
    let _ = pick_email(&doc, &list);
});
