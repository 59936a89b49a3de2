//! Names people and admins type: emails, usernames, display names, slugs,
//! domains and provider names.
#![no_main]

use guildhall_core::accounts::{DisplayName, Email, Username};
use guildhall_core::identities::ProviderName;
use guildhall_core::orgs::DomainName;
use guildhall_core::workspaces::Slug;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(e) = Email::parse(s) {
        assert_eq!(e.normalized(), e.normalized().to_lowercase());
        assert!(e.normalized().ends_with(&e.domain()));
        assert_eq!(Email::parse(e.as_str()).map(|x| x.normalized().to_owned()).ok(), Some(e.normalized().to_owned()));
    }
    if let Ok(u) = Username::parse(s) {
        assert!(u.as_str().bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'));
    }
    if let Ok(d) = DisplayName::parse(s) {
        assert!(!d.as_str().chars().any(char::is_control));
    }
    if let Ok(slug) = Slug::parse(s) {
        assert_eq!(Slug::parse(slug.as_str()).ok(), Some(slug));
    }
    if let Ok(d) = DomainName::parse(s) {
        assert_eq!(DomainName::parse(d.as_str()).ok(), Some(d));
    }
    if let Ok(p) = ProviderName::parse(s) {
        assert!(p.org().is_none());
    }
});
