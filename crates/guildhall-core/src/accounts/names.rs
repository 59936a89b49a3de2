//! Usernames (unique, URL-safe, used for invitations and in URLs) and display names.

use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("A username has 2 to 39 characters: lowercase letters, digits and single hyphens, not at either end.")]
    BadUsername,
    #[error("Enter a display name (at most 100 characters, no control characters).")]
    BadDisplayName,
}

/// `[a-z0-9]` with single inner hyphens, 2–39 characters; input is lowercased.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Username(String);

impl Username {
    pub fn parse(input: &str) -> Result<Self, NameError> {
        let s = input.trim().to_lowercase();
        let ok = (2..=39).contains(&s.len())
            && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !s.starts_with('-')
            && !s.ends_with('-')
            && !s.contains("--");
        if ok { Ok(Self(s)) } else { Err(NameError::BadUsername) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Username {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A person's name as shown to others: trimmed, 1–100 characters, no controls.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct DisplayName(String);

impl DisplayName {
    pub fn parse(input: &str) -> Result<Self, NameError> {
        let s = input.trim();
        let ok = !s.is_empty() && s.chars().count() <= 100 && !s.chars().any(char::is_control);
        if ok { Ok(Self(s.to_owned())) } else { Err(NameError::BadDisplayName) }
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
    fn usernames_are_lowercased_and_checked() {
        assert_eq!(Username::parse(" Ada-L ").unwrap().as_str(), "ada-l");
        for bad in ["", "a", "-ab", "ab-", "a--b", "a_b", "ab c", "ä", &"a".repeat(40)] {
            assert_eq!(Username::parse(bad), Err(NameError::BadUsername), "{bad:?}");
        }
    }

    #[test]
    fn display_names_are_trimmed_and_bounded() {
        assert_eq!(DisplayName::parse("  Ada Lovelace ").unwrap().as_str(), "Ada Lovelace");
        assert!(DisplayName::parse("Zoë 🦀").is_ok());
        for bad in ["", "   ", "a\u{0}b", "line\nbreak", &"x".repeat(101)] {
            assert_eq!(DisplayName::parse(bad), Err(NameError::BadDisplayName), "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn a_parsed_username_parses_to_itself(s in "\\PC{0,45}") {
            if let Ok(u) = Username::parse(&s) {
                prop_assert_eq!(Username::parse(u.as_str()).unwrap(), u);
            }
        }
    }
}
