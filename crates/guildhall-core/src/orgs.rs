//! Organizations: the email domains they verify through DNS.

/// A domain name an organization claims: lowercase, at least two labels of
/// letters, digits and inner hyphens, no trailing dot, at most 253
/// characters. Emails are matched against it exactly (no subdomains).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DomainName(String);

impl DomainName {
    pub fn parse(input: &str) -> Result<Self, &'static str> {
        let s = input.trim().to_ascii_lowercase();
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        };
        let labels: Vec<&str> = s.split('.').collect();
        if s.len() > 253 || labels.len() < 2 || !labels.iter().all(|l| label_ok(l)) {
            return Err("Enter a domain name such as example.com.");
        }
        if labels.last().is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit())) {
            return Err("Enter a domain name, not an IP address.");
        }
        Ok(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for DomainName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The TXT record an organization publishes at the domain to prove control.
pub fn verification_record(token: &str) -> String {
    format!("guildhall-verification={token}")
}

/// Whether any of the domain's TXT strings is the expected record (exact,
/// after trimming surrounding quotes and spaces some providers add).
pub fn has_verification_record(txt: &[String], token: &str) -> bool {
    let expected = verification_record(token);
    txt.iter().any(|t| t.trim().trim_matches('"').trim() == expected)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn domains_are_lowercase_hostnames_with_two_labels() {
        assert_eq!(DomainName::parse(" Example.COM ").unwrap().as_str(), "example.com");
        assert!(DomainName::parse("mail.example.co.uk").is_ok());
        for bad in ["example", "example.com.", "-a.com", "a-.com", "a..com", "exa mple.com", "1.2.3.4", "", "a.b/c"] {
            assert!(DomainName::parse(bad).is_err(), "{bad:?} was accepted");
        }
        assert!(DomainName::parse(&format!("{}.com", "a".repeat(64))).is_err(), "a 64-character label");
    }

    #[test]
    fn only_the_exact_record_verifies() {
        let txt = vec!["v=spf1 -all".to_owned(), "\"guildhall-verification=abc\"".to_owned()];
        assert!(has_verification_record(&txt, "abc"));
        assert!(!has_verification_record(&txt, "ab"));
        assert!(!has_verification_record(&["guildhall-verification=abcd".to_owned()], "abc"));
        assert!(!has_verification_record(&[], "abc"));
    }

    proptest! {
        #[test]
        fn parsing_is_idempotent(s in "[a-zA-Z0-9-]{1,10}(\\.[a-zA-Z0-9-]{1,10}){1,3}") {
            if let Ok(d) = DomainName::parse(&s) {
                prop_assert_eq!(DomainName::parse(d.as_str()).unwrap(), d);
            }
        }
    }
}
