//! Email addresses: stored as given, compared case-insensitively after trimming.

use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("Enter an email address.")]
    Empty,
    #[error("Enter an email address like name@example.com.")]
    Malformed,
    #[error("That email address is too long (at most 254 characters).")]
    TooLong,
}

/// A syntactically plausible address: `local@domain`, no spaces or controls,
/// a domain of dot-separated labels. (Full RFC 5321 is neither needed nor wise:
/// the verification mail proves the address.)
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    pub fn parse(input: &str) -> Result<Self, EmailError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(EmailError::Empty);
        }
        if s.len() > 254 {
            return Err(EmailError::TooLong);
        }
        let (local, domain) = s.rsplit_once('@').ok_or(EmailError::Malformed)?;
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.contains('@')
            && local.chars().all(|c| !c.is_whitespace() && !c.is_control() && c != '"');
        let domain_ok = !domain.is_empty()
            && domain.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_alphanumeric() || c == '-')
            });
        if local_ok && domain_ok { Ok(Self(s.to_owned())) } else { Err(EmailError::Malformed) }
    }

    /// The address as the person typed it (trimmed).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The comparison key: lowercase. Uniqueness is enforced on this.
    pub fn normalized(&self) -> String {
        self.0.to_lowercase()
    }

    /// The domain part, lowercase.
    pub fn domain(&self) -> String {
        self.0.rsplit_once('@').map(|(_, d)| d.to_lowercase()).unwrap_or_default()
    }
}

impl std::fmt::Display for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn trims_and_keeps_case_but_compares_lowercase() {
        let e = Email::parse("  Ada.Lovelace@Example.COM ").unwrap();
        assert_eq!(e.as_str(), "Ada.Lovelace@Example.COM");
        assert_eq!(e.normalized(), "ada.lovelace@example.com");
        assert_eq!(e.domain(), "example.com");
    }

    #[test]
    fn accepts_plus_addresses_and_localhost() {
        assert!(Email::parse("a+tag@example.org").is_ok());
        assert!(Email::parse("operator@localhost").is_ok());
    }

    #[test]
    fn refuses_malformed_addresses() {
        for bad in [
            "",
            "   ",
            "plain",
            "@example.com",
            "a@",
            "a@@b.com",
            "a b@c.com",
            "a@b..com",
            "a@-b.com",
            "a@b_c.com",
            "a@b.com\n",
        ] {
            assert!(Email::parse(bad).is_err() || bad.trim() != bad, "{bad:?} accepted");
        }
        assert_eq!(Email::parse("   "), Err(EmailError::Empty));
        assert_eq!(Email::parse("a@b..com"), Err(EmailError::Malformed));
        let long = format!("{}@example.com", "a".repeat(250));
        assert_eq!(Email::parse(&long), Err(EmailError::TooLong));
    }

    proptest! {
        #[test]
        fn parse_never_panics_and_result_is_trimmed(s in ".{0,300}") {
            if let Ok(e) = Email::parse(&s) {
                prop_assert_eq!(e.as_str(), s.trim());
                prop_assert!(e.as_str().contains('@'));
            }
        }

        #[test]
        fn normalization_is_idempotent(local in "[A-Za-z0-9.+]{1,20}", domain in "[A-Za-z0-9]{1,10}\\.[a-zA-Z]{2,5}") {
            let e = Email::parse(&format!("{local}@{domain}")).unwrap();
            let again = Email::parse(&e.normalized()).unwrap();
            prop_assert_eq!(again.normalized(), e.normalized());
        }
    }
}
