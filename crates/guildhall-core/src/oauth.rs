//! OAuth 2.0 / OpenID Connect values, parsed at the edge: redirect URIs
//! (RFC 6749 §3.1.2, compared exactly), PKCE (RFC 7636) and the scopes a
//! product may ask for.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A registered redirect URI: absolute, no fragment, `https`, or `http` on a
/// loopback host (RFC 8252 §7.3, for tools running on the person's machine).
/// Requests must present one of a product's URIs byte for byte.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedirectUri(String);

impl RedirectUri {
    pub fn parse(s: &str) -> Result<Self, &'static str> {
        let url = url::Url::parse(s).map_err(|_| "A redirect URI must be an absolute URL.")?;
        if url.fragment().is_some() {
            return Err("A redirect URI cannot have a fragment.");
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("A redirect URI cannot carry credentials.");
        }
        let loopback = matches!(url.host_str(), Some("127.0.0.1" | "[::1]" | "localhost"));
        match url.scheme() {
            "https" => {}
            "http" if loopback => {}
            _ => return Err("A redirect URI must use https (or http on a loopback address)."),
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A PKCE code challenge (method S256 only: `plain` offers no protection
/// against an intercepted authorization request).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodeChallenge(String);

impl CodeChallenge {
    /// `method` defaults to `plain` per RFC 7636 §4.3, which is refused.
    pub fn parse(challenge: &str, method: Option<&str>) -> Result<Self, &'static str> {
        if method != Some("S256") {
            return Err("code_challenge_method must be S256");
        }
        // base64url(SHA-256) is 43 characters.
        let ok = challenge.len() == 43 && URL_SAFE_NO_PAD.decode(challenge).is_ok_and(|b| b.len() == 32);
        if ok { Ok(Self(challenge.to_owned())) } else { Err("code_challenge is not a base64url SHA-256 digest") }
    }

    /// Restores a challenge this server stored.
    pub fn from_stored(s: String) -> Self {
        Self(s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `verifier` (43–128 unreserved characters) hashes to this
    /// challenge; compared in constant time.
    pub fn verify(&self, verifier: &str) -> bool {
        let shape = (43..=128).contains(&verifier.len())
            && verifier.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
        let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        shape && bool::from(computed.as_bytes().ct_eq(self.0.as_bytes()))
    }
}

/// The scopes a product can be granted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OidcScope {
    OpenId,
    Profile,
    Email,
    OfflineAccess,
    WorkspacesRead,
    Groups,
}

impl OidcScope {
    pub const ALL: [OidcScope; 6] = [
        OidcScope::OpenId,
        OidcScope::Profile,
        OidcScope::Email,
        OidcScope::OfflineAccess,
        OidcScope::WorkspacesRead,
        OidcScope::Groups,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OidcScope::OpenId => "openid",
            OidcScope::Profile => "profile",
            OidcScope::Email => "email",
            OidcScope::OfflineAccess => "offline_access",
            OidcScope::WorkspacesRead => "workspaces:read",
            OidcScope::Groups => "groups",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// A set of scopes, in canonical order without duplicates.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scopes(Vec<OidcScope>);

impl Scopes {
    /// Parses a space-separated `scope` parameter; an unknown scope is an
    /// error naming it.
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut v = Vec::new();
        for word in s.split(' ').filter(|w| !w.is_empty()) {
            v.push(OidcScope::parse(word).ok_or_else(|| format!("unknown scope {word:?}"))?);
        }
        v.sort();
        v.dedup();
        Ok(Self(v))
    }

    pub fn contains(&self, s: OidcScope) -> bool {
        self.0.contains(&s)
    }

    /// Whether every scope here is also in `allowed`.
    pub fn within(&self, allowed: &Scopes) -> bool {
        self.0.iter().all(|s| allowed.contains(*s))
    }

    pub fn iter(&self) -> impl Iterator<Item = OidcScope> + '_ {
        self.0.iter().copied()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Display for Scopes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let words: Vec<&str> = self.0.iter().map(|s| s.as_str()).collect();
        f.write_str(&words.join(" "))
    }
}

/// The grants a product may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GrantType {
    AuthorizationCode,
    RefreshToken,
    ClientCredentials,
}

impl GrantType {
    pub fn as_str(self) -> &'static str {
        match self {
            GrantType::AuthorizationCode => "authorization_code",
            GrantType::RefreshToken => "refresh_token",
            GrantType::ClientCredentials => "client_credentials",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [GrantType::AuthorizationCode, GrantType::RefreshToken, GrantType::ClientCredentials]
            .into_iter()
            .find(|g| g.as_str() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn redirect_uris_must_be_https_or_loopback_http_without_fragment() {
        assert!(RedirectUri::parse("https://app.example.com/cb?x=1").is_ok());
        assert!(RedirectUri::parse("http://127.0.0.1:8765/cb").is_ok());
        assert!(RedirectUri::parse("http://localhost/cb").is_ok());
        assert!(RedirectUri::parse("http://app.example.com/cb").is_err());
        assert!(RedirectUri::parse("https://app.example.com/cb#x").is_err());
        assert!(RedirectUri::parse("https://user:pw@app.example.com/cb").is_err());
        assert!(RedirectUri::parse("/relative").is_err());
        assert!(RedirectUri::parse("javascript:alert(1)").is_err());
    }

    #[test]
    fn pkce_accepts_the_rfc_7636_example_and_nothing_else() {
        // RFC 7636 Appendix B.
        let c = CodeChallenge::parse("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", Some("S256")).unwrap();
        assert!(c.verify("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"));
        assert!(!c.verify("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXj"));
        assert!(!c.verify("short"));
        assert!(CodeChallenge::parse("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", None).is_err(), "plain");
        assert!(CodeChallenge::parse("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", Some("plain")).is_err());
        assert!(CodeChallenge::parse("too-short", Some("S256")).is_err());
    }

    #[test]
    fn scopes_are_canonical_and_unknown_ones_are_named() {
        let s = Scopes::parse("email openid  email profile").unwrap();
        assert_eq!(s.to_string(), "openid profile email");
        assert_eq!(Scopes::parse("openid admin").unwrap_err(), "unknown scope \"admin\"");
        assert!(Scopes::parse("openid").unwrap().within(&s));
        assert!(!Scopes::parse("openid offline_access").unwrap().within(&s));
    }

    proptest! {
        #[test]
        fn a_verifier_matches_only_its_own_challenge(v in "[A-Za-z0-9._~-]{43,128}", w in "[A-Za-z0-9._~-]{43,128}") {
            let c = CodeChallenge::parse(&URL_SAFE_NO_PAD.encode(Sha256::digest(v.as_bytes())), Some("S256")).unwrap();
            prop_assert!(c.verify(&v));
            prop_assert_eq!(c.verify(&w), v == w);
        }

        #[test]
        fn scope_parsing_round_trips(words in proptest::collection::vec(0usize..6, 0..8)) {
            let text: Vec<&str> = words.iter().map(|i| OidcScope::ALL[*i].as_str()).collect();
            let parsed = Scopes::parse(&text.join(" ")).unwrap();
            prop_assert_eq!(Scopes::parse(&parsed.to_string()).unwrap(), parsed);
        }
    }
}
