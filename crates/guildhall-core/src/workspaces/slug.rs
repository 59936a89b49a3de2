//! URL-safe identifiers for workspaces, groups and repositories.

use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("A slug has 1 to 63 characters: lowercase letters, digits and single inner hyphens.")]
pub struct SlugError;

/// `[a-z0-9]` with single inner hyphens, 1–63 characters (a DNS label), so it
/// is safe in URLs, SCIM ids and group names like `workspace/group`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Slug(String);

impl Slug {
    /// Exactly a slug: no surrounding whitespace (forms trim before this).
    pub fn parse(input: &str) -> Result<Self, SlugError> {
        let s = input;
        let ok = (1..=63).contains(&s.len())
            && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !s.starts_with('-')
            && !s.ends_with('-')
            && !s.contains("--");
        if ok { Ok(Self(s.to_owned())) } else { Err(SlugError) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Slug {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn slugs_are_dns_labels() {
        for good in ["a", "acme", "acme-2", "x1"] {
            assert_eq!(Slug::parse(good).unwrap().as_str(), good);
        }
        for bad in ["", "-a", "a-", "a--b", "Acme", "a_b", "a/b", "a b", " acme", "acme\n", &"a".repeat(64)] {
            assert_eq!(Slug::parse(bad), Err(SlugError), "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn an_accepted_slug_is_url_safe(s in "\\PC{0,70}") {
            if let Ok(slug) = Slug::parse(&s) {
                prop_assert!(slug.as_str().bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'));
                prop_assert_eq!(Slug::parse(slug.as_str()).unwrap(), slug);
            }
        }
    }
}
