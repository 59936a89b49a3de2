//! Redirect URIs (registered and presented), return-to paths and upstream
//! URLs: never a panic, and what parses keeps its promises.
#![no_main]

use guildhall_core::identities::{check_public_upstream, parse_upstream_url};
use guildhall_core::oauth::RedirectUri;
use guildhall_core::return_to::ReturnTo;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(uri) = RedirectUri::parse(s) {
        // Compared byte for byte later: it must be kept exactly.
        assert_eq!(uri.as_str(), s);
        assert!(!s.contains('#'));
        assert_eq!(RedirectUri::parse(uri.as_str()), Ok(uri));
    }
    if let Some(r) = ReturnTo::parse(s) {
        // Only same-origin paths: never another host or scheme.
        let p = r.as_str();
        assert!(p.starts_with('/') && !p.starts_with("//") && !p.starts_with("/\\\\"), "{p:?}");
    }
    if let Ok(url) = parse_upstream_url(s) {
        assert!(matches!(url.scheme(), "https" | "http"));
        if check_public_upstream(&url).is_ok() {
            assert_eq!(url.scheme(), "https");
        }
    }
});
