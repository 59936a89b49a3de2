//! Secret tokens (session cookies, email links) and their stored hashes.
//!
//! A token is 32 random bytes (256 bits) shown to its holder once as unpadded
//! base64url; only its SHA-256 hash is stored, so a database leak reveals no
//! usable token. Lookups go by hash, and comparisons of secrets held in memory
//! are constant-time.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The number of random bytes in every secret token.
pub const TOKEN_BYTES: usize = 32;

/// A secret token as its holder sees it. Never logged: `Debug` is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretToken(String);

impl SecretToken {
    /// Encodes fresh random bytes (from the `SecretRng` port) as a token.
    pub fn from_random_bytes(bytes: [u8; TOKEN_BYTES]) -> Self {
        Self(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// Parses a token presented by a client: exactly the shape we issue.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        let decoded = URL_SAFE_NO_PAD.decode(s).ok()?;
        (decoded.len() == TOKEN_BYTES).then(|| Self(s.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> TokenHash {
        TokenHash(Sha256::digest(self.0.as_bytes()).into())
    }
}

impl std::fmt::Debug for SecretToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretToken(<redacted>)")
    }
}

/// The SHA-256 hash of a [`SecretToken`], as stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TokenHash(pub [u8; 32]);

impl TokenHash {
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(Self)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Constant-time equality (for client secrets checked in memory).
    pub fn ct_eq(&self, other: &TokenHash) -> bool {
        bool::from(self.0.ct_eq(&other.0))
    }
}

/// Constant-time equality for secrets compared in memory (CSRF tokens).
pub fn secrets_equal(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_parses_back_and_hashes_stably() {
        let t = SecretToken::from_random_bytes([7; TOKEN_BYTES]);
        let parsed = SecretToken::parse(t.expose()).unwrap();
        assert_eq!(parsed.hash(), t.hash());
        assert_eq!(t.expose().len(), 43);
    }

    #[test]
    fn malformed_tokens_are_refused() {
        assert!(SecretToken::parse("").is_none());
        assert!(SecretToken::parse("short").is_none());
        assert!(SecretToken::parse(&"A".repeat(44)).is_none());
        assert!(SecretToken::parse("!!!!").is_none());
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let t = SecretToken::from_random_bytes([1; TOKEN_BYTES]);
        assert!(!format!("{t:?}").contains(t.expose()));
    }

    #[test]
    fn secrets_compare_by_value() {
        assert!(secrets_equal("abc", "abc"));
        assert!(!secrets_equal("abc", "abd"));
        assert!(!secrets_equal("abc", "abcd"));
    }
}
