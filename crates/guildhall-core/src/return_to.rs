//! Where to send the browser after signing in: only same-origin paths for now
//! (SPEC §2, no open redirects).

/// A path on this server, safe to put in a `Location` header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReturnTo(String);

impl ReturnTo {
    /// Accepts `/path?query#frag` on this origin; refuses anything that a
    /// browser could read as another origin (`//host`, `/\host`, schemes) and
    /// anything with control characters or backslashes.
    pub fn parse(input: &str) -> Option<Self> {
        let ok = input.starts_with('/')
            && !input.starts_with("//")
            && input.len() <= 2048
            && !input.contains('\\')
            && !input.chars().any(|c| c.is_control() || c.is_whitespace());
        ok.then(|| Self(input.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn same_origin_paths_are_kept() {
        for good in ["/", "/account", "/invitations/abc?x=1#top", "/a/b%2F/c"] {
            assert_eq!(ReturnTo::parse(good).unwrap().as_str(), good);
        }
    }

    #[test]
    fn anything_that_can_leave_the_origin_is_refused() {
        for bad in [
            "",
            "https://evil.example",
            "//evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "javascript:alert(1)",
            "/path\r\nSet-Cookie: x",
            "/\tevil",
            "account",
            "/ /evil",
        ] {
            assert!(ReturnTo::parse(bad).is_none(), "{bad:?} accepted");
        }
    }

    proptest! {
        #[test]
        fn an_accepted_value_is_always_a_rooted_single_slash_path(s in "\\PC{0,60}") {
            if let Some(r) = ReturnTo::parse(&s) {
                prop_assert!(r.as_str().starts_with('/'));
                prop_assert!(!r.as_str().starts_with("//"));
                prop_assert!(!r.as_str().contains('\\'));
            }
        }
    }
}
