//! External identity providers (SPEC §2 "External identities", §5 an
//! organization's identity provider): their names, their configuration,
//! the presets for GitHub, GitLab and Bitbucket, and how an OAuth 2.0
//! provider's user-info JSON maps to a profile.
//!
//! An OpenID Connect provider is named by its issuer (discovery, OIDC Core
//! §3.1 code flow); a plain OAuth 2.0 provider by its three endpoints plus a
//! [`ClaimMapping`] of JSON pointers (RFC 6901) into its user-info document.

use crate::OrgId;
use crate::accounts::Username;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

/// A provider's name, as in `/auth/github`: 1–32 of `a-z 0-9 -`, starting
/// with a letter or digit. Names starting `org-` belong to organizations'
/// identity providers ([`ProviderName::for_org`]) and cannot be chosen.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ProviderName(String);

impl ProviderName {
    pub fn parse(s: &str) -> Result<Self, &'static str> {
        let named = Self::parse_any(s)?;
        if s.len() > 32 {
            return Err("A provider name is 1–32 of a-z, 0-9 and -.");
        }
        if named.org().is_some() || s.starts_with("org-") {
            return Err("Provider names starting with \"org-\" are reserved for organizations.");
        }
        Ok(named)
    }

    /// Any stored name, including organizations' (from a URL path).
    pub fn parse_any(s: &str) -> Result<Self, &'static str> {
        let ok = (1..=40).contains(&s.len())
            && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !s.starts_with('-');
        if ok { Ok(Self(s.to_owned())) } else { Err("A provider name is 1–32 of a-z, 0-9 and -.") }
    }

    /// The name of an organization's identity provider.
    pub fn for_org(org: OrgId) -> Self {
        Self(format!("org-{}", org.0.simple()))
    }

    /// The organization whose identity provider this is, if it is one.
    pub fn org(&self) -> Option<OrgId> {
        let hex = self.0.strip_prefix("org-")?;
        uuid::Uuid::try_parse(hex).ok().filter(|u| u.simple().to_string() == hex).map(OrgId::from_uuid)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ProviderName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// An upstream URL: absolute, `https`, or `http` on a loopback address
/// (local development and tests); no credentials, no fragment.
pub fn parse_upstream_url(s: &str) -> Result<Url, &'static str> {
    let url = Url::parse(s.trim()).map_err(|_| "Must be an absolute URL.")?;
    if url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
        return Err("Must not carry credentials or a fragment.");
    }
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    };
    match url.scheme() {
        "https" => Ok(url),
        "http" if loopback => Ok(url),
        _ => Err("Must use https (or http on a loopback address)."),
    }
}

/// For URLs that organization admins (not operators) supply: https, and
/// not an address inside the server's network (loopback, private,
/// link-local, unspecified), so the server cannot be pointed inward. A name
/// that resolves to such an address is not caught here.
pub fn check_public_upstream(url: &Url) -> Result<(), &'static str> {
    let inward = match url.host() {
        Some(url::Host::Ipv4(ip)) => {
            ip.is_loopback() || ip.is_private() || ip.is_link_local() || ip.is_unspecified() || ip.is_broadcast()
        }
        Some(url::Host::Ipv6(ip)) => {
            ip.is_loopback()
                || ip.is_unspecified()
                || (ip.segments()[0] & 0xfe00) == 0xfc00
                || (ip.segments()[0] & 0xffc0) == 0xfe80
        }
        Some(url::Host::Domain(d)) => d == "localhost" || d.ends_with(".localhost"),
        None => true,
    };
    match (url.scheme(), inward) {
        ("https", false) => Ok(()),
        ("https", true) => Err("Must not point to a loopback, private or link-local address."),
        _ => Err("Must use https."),
    }
}

/// How the token endpoint authenticates the client (RFC 6749 §2.3.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuth {
    /// HTTP Basic with the form-encoded id and secret (the RFC's default).
    #[default]
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the form body.
    ClientSecretPost,
}

/// What kind of provider, and where it is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[expect(clippy::large_enum_variant, reason = "a handful of configuration values, never in hot paths")]
pub enum Protocol {
    /// OpenID Connect: everything else comes from
    /// `{issuer}/.well-known/openid-configuration`.
    Oidc { issuer: Url },
    /// Plain OAuth 2.0 (GitHub-style): a code flow, then a user-info request.
    Oauth2 {
        authorize_url: Url,
        token_url: Url,
        userinfo_url: Url,
        /// A second document listing the person's addresses (GitHub's and
        /// Bitbucket's `/user/emails`), for when user-info lacks a verified one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        emails: Option<EmailList>,
        mapping: ClaimMapping,
        #[serde(default)]
        client_auth: ClientAuth,
    },
}

/// JSON pointers (RFC 6901) into a user-info document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimMapping {
    /// The stable id (a string or a number), e.g. `/id`.
    pub subject: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Whether `email` is verified: a pointer to a boolean (or `"true"`), or
    /// a constant for providers that only ever expose verified addresses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<Verified>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Verified {
    Always(bool),
    Pointer(String),
}

/// Where the addresses are in an emails document, and what each entry says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailList {
    pub url: Url,
    /// Pointer to the array (`""`: the document is the array).
    #[serde(default)]
    pub list: String,
    pub address: String,
    pub primary: String,
    pub verified: String,
}

/// An operator's or an organization's provider. The client secret is kept
/// apart (sealed at rest).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderConfig {
    /// Shown on buttons: "Continue with {display_name}".
    pub display_name: String,
    pub client_id: String,
    /// Requested scopes; `openid` is always added for OIDC.
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(flatten)]
    pub protocol: Protocol,
}

impl ProviderConfig {
    /// Checks what a parse cannot: names and ids present, URLs acceptable.
    pub fn validate(&self) -> Result<(), &'static str> {
        if self.display_name.trim().is_empty() || self.display_name.chars().count() > 64 {
            return Err("The display name must be 1–64 characters.");
        }
        if self.client_id.trim().is_empty() || self.client_id.len() > 512 {
            return Err("The client id is required.");
        }
        if self.scopes.iter().any(|s| s.is_empty() || s.chars().any(|c| c.is_whitespace() || c.is_control())) {
            return Err("Scopes must be single words.");
        }
        let urls: Vec<&Url> = match &self.protocol {
            Protocol::Oidc { issuer } => vec![issuer],
            Protocol::Oauth2 { authorize_url, token_url, userinfo_url, emails, .. } => {
                let mut v = vec![authorize_url, token_url, userinfo_url];
                v.extend(emails.as_ref().map(|e| &e.url));
                v
            }
        };
        for url in urls {
            parse_upstream_url(url.as_str())?;
        }
        if let Protocol::Oauth2 { mapping, .. } = &self.protocol
            && !mapping.subject.starts_with('/')
        {
            return Err("The subject mapping must be a JSON pointer such as /id.");
        }
        Ok(())
    }

    /// The scopes to request, space-separated.
    pub fn scope_param(&self) -> String {
        let mut scopes = self.scopes.clone();
        if matches!(self.protocol, Protocol::Oidc { .. }) && !scopes.iter().any(|s| s == "openid") {
            scopes.insert(0, "openid".to_owned());
        }
        scopes.join(" ")
    }
}

/// The presets an operator picks by name: only the client id and secret
/// are theirs to supply. GitLab speaks OpenID Connect, so its preset does
/// too (set `issuer` for a self-managed GitLab).
pub fn preset(name: &str, client_id: &str) -> Option<ProviderConfig> {
    let url = |s: &str| Url::parse(s).ok();
    let config = |display_name: &str, scopes: &[&str], protocol| ProviderConfig {
        display_name: display_name.to_owned(),
        client_id: client_id.to_owned(),
        scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
        protocol,
    };
    match name {
        "github" => Some(config(
            "GitHub",
            &["read:user", "user:email"],
            Protocol::Oauth2 {
                authorize_url: url("https://github.com/login/oauth/authorize")?,
                token_url: url("https://github.com/login/oauth/access_token")?,
                userinfo_url: url("https://api.github.com/user")?,
                emails: Some(EmailList {
                    url: url("https://api.github.com/user/emails")?,
                    list: String::new(),
                    address: "/email".into(),
                    primary: "/primary".into(),
                    verified: "/verified".into(),
                }),
                mapping: ClaimMapping {
                    subject: "/id".into(),
                    email: None,
                    email_verified: None,
                    name: Some("/name".into()),
                    username: Some("/login".into()),
                },
                client_auth: ClientAuth::ClientSecretPost,
            },
        )),
        "gitlab" => Some(config(
            "GitLab",
            &["openid", "email", "profile"],
            Protocol::Oidc { issuer: url("https://gitlab.com")? },
        )),
        "bitbucket" => Some(config(
            "Bitbucket",
            &["account", "email"],
            Protocol::Oauth2 {
                authorize_url: url("https://bitbucket.org/site/oauth2/authorize")?,
                token_url: url("https://bitbucket.org/site/oauth2/access_token")?,
                userinfo_url: url("https://api.bitbucket.org/2.0/user")?,
                emails: Some(EmailList {
                    url: url("https://api.bitbucket.org/2.0/user/emails")?,
                    list: "/values".into(),
                    address: "/email".into(),
                    primary: "/is_primary".into(),
                    verified: "/is_confirmed".into(),
                }),
                mapping: ClaimMapping {
                    subject: "/uuid".into(),
                    email: None,
                    email_verified: None,
                    name: Some("/display_name".into()),
                    username: Some("/nickname".into()),
                },
                client_auth: ClientAuth::ClientSecretBasic,
            },
        )),
        _ => None,
    }
}

/// The preset names, for help texts.
pub const PRESETS: [&str; 3] = ["github", "gitlab", "bitbucket"];

/// What Guildhall learns about a person from a provider.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Profile {
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
    pub username: Option<String>,
}

/// The standard OpenID Connect claims (OIDC Core §5.1) as a mapping.
pub fn oidc_claims() -> ClaimMapping {
    ClaimMapping {
        subject: "/sub".into(),
        email: Some("/email".into()),
        email_verified: Some(Verified::Pointer("/email_verified".into())),
        name: Some("/name".into()),
        username: Some("/preferred_username".into()),
    }
}

fn text_at(doc: &Value, pointer: &str) -> Option<String> {
    match doc.pointer(pointer)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn true_at(doc: &Value, pointer: &str) -> bool {
    matches!(doc.pointer(pointer), Some(Value::Bool(true)))
        || matches!(doc.pointer(pointer), Some(Value::String(s)) if s == "true")
}

/// Reads a profile out of a user-info document (or ID token claims).
pub fn map_profile(doc: &Value, m: &ClaimMapping) -> Result<Profile, &'static str> {
    let subject = text_at(doc, &m.subject).ok_or("The provider's answer has no subject.")?;
    if subject.len() > 255 {
        return Err("The provider's subject is too long.");
    }
    let email = m.email.as_deref().and_then(|p| text_at(doc, p));
    let email_verified = email.is_some()
        && match &m.email_verified {
            Some(Verified::Always(v)) => *v,
            Some(Verified::Pointer(p)) => true_at(doc, p),
            None => false,
        };
    Ok(Profile {
        subject,
        email,
        email_verified,
        name: m.name.as_deref().and_then(|p| text_at(doc, p)),
        username: m.username.as_deref().and_then(|p| text_at(doc, p)),
    })
}

/// Picks the address to use from an emails document: the primary one if it
/// is verified, else any verified one, else the primary (unverified).
pub fn pick_email(doc: &Value, list: &EmailList) -> Option<(String, bool)> {
    let entries = doc.pointer(&list.list)?.as_array()?;
    let read = |e: &Value| Some((text_at(e, &list.address)?, true_at(e, &list.primary), true_at(e, &list.verified)));
    let all: Vec<_> = entries.iter().filter_map(read).collect();
    all.iter()
        .find(|(_, primary, verified)| *primary && *verified)
        .or_else(|| all.iter().find(|(_, _, verified)| *verified))
        .or_else(|| all.iter().find(|(_, primary, _)| *primary))
        .map(|(address, _, verified)| (address.clone(), *verified))
}

/// A username to propose for a new account: the provider's, else the
/// email's local part, reduced to what `Username` accepts.
pub fn username_candidate(profile: &Profile) -> Option<Username> {
    let from_email = profile.email.as_deref().and_then(|e| e.split('@').next());
    let raw = profile.username.as_deref().or(from_email)?;
    let mut s = String::new();
    for c in raw.to_lowercase().chars() {
        let c = if c.is_ascii_lowercase() || c.is_ascii_digit() { c } else { '-' };
        if !(c == '-' && (s.is_empty() || s.ends_with('-'))) {
            s.push(c);
        }
    }
    let s: String = s.trim_end_matches('-').chars().take(32).collect();
    Username::parse(s.trim_end_matches('-')).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_are_slugs_and_org_names_are_reserved() {
        assert!(ProviderName::parse("github").is_ok());
        assert!(ProviderName::parse("corp-sso-2").is_ok());
        for bad in ["", "GitHub", "-x", "a b", "x/y", "org-anything"] {
            assert!(ProviderName::parse(bad).is_err(), "{bad}");
        }
        let org = OrgId::from_uuid(uuid::Uuid::from_u128(7));
        let name = ProviderName::for_org(org);
        assert_eq!(name.org(), Some(org));
        assert_eq!(ProviderName::parse_any(name.as_str()).unwrap().org(), Some(org));
        assert!(ProviderName::parse(name.as_str()).is_err());
        assert_eq!(ProviderName::parse("github").unwrap().org(), None);
    }

    #[test]
    fn upstream_urls_are_https_or_loopback_http() {
        assert!(parse_upstream_url("https://idp.example.com").is_ok());
        assert!(parse_upstream_url("http://127.0.0.2:8080/x").is_ok());
        assert!(parse_upstream_url("http://[::1]:8080").is_ok());
        assert!(parse_upstream_url("http://localhost:1").is_ok());
        for bad in ["http://idp.example.com", "ftp://x", "https://u:p@x", "https://x/#f", "idp.example.com"] {
            assert!(parse_upstream_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn organizations_upstreams_must_be_public_https() {
        for ok in ["https://login.acme.example", "https://8.8.8.8/x", "https://[2001:4860::1]/"] {
            assert!(check_public_upstream(&Url::parse(ok).unwrap()).is_ok(), "{ok}");
        }
        for bad in [
            "http://login.acme.example",
            "https://127.0.0.1",
            "https://10.1.2.3",
            "https://192.168.0.1",
            "https://169.254.169.254/latest",
            "https://[::1]",
            "https://[fd00::1]",
            "https://[fe80::1]",
            "https://0.0.0.0",
            "https://localhost",
            "https://metadata.localhost",
        ] {
            assert!(check_public_upstream(&Url::parse(bad).unwrap()).is_err(), "{bad}");
        }
    }

    #[test]
    fn presets_are_valid_and_keep_the_client_id() {
        for name in PRESETS {
            let p = preset(name, "cid").unwrap();
            assert_eq!(p.client_id, "cid");
            p.validate().unwrap();
        }
        assert!(preset("myspace", "cid").is_none());
        assert_eq!(preset("gitlab", "c").unwrap().scope_param(), "openid email profile");
    }

    #[test]
    fn config_round_trips_through_json_and_rejects_bad_urls() {
        let p = preset("github", "cid").unwrap();
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(serde_json::from_str::<ProviderConfig>(&json).unwrap(), p);
        let mut bad = p.clone();
        if let Protocol::Oauth2 { token_url, .. } = &mut bad.protocol {
            *token_url = Url::parse("http://evil.example/token").unwrap();
        }
        assert!(bad.validate().is_err());
        let mut no_id = p;
        no_id.client_id = " ".into();
        assert!(no_id.validate().is_err());
    }

    #[test]
    fn openid_is_added_to_oidc_scopes_only() {
        let mut p = preset("gitlab", "c").unwrap();
        p.scopes = vec!["email".into()];
        assert_eq!(p.scope_param(), "openid email");
        assert_eq!(preset("github", "c").unwrap().scope_param(), "read:user user:email");
    }

    #[test]
    fn a_profile_maps_numbers_strings_and_verification() {
        let m = ClaimMapping {
            subject: "/id".into(),
            email: Some("/email".into()),
            email_verified: Some(Verified::Pointer("/ok".into())),
            name: Some("/name".into()),
            username: Some("/login".into()),
        };
        let p =
            map_profile(&json!({"id": 42, "email": "a@b.c", "ok": "true", "name": " A ", "login": "al"}), &m).unwrap();
        assert_eq!(p.subject, "42");
        assert_eq!(p.email.as_deref(), Some("a@b.c"));
        assert!(p.email_verified);
        assert_eq!(p.name.as_deref(), Some("A"));
        let unverified = map_profile(&json!({"id": "x", "email": "a@b.c", "ok": false}), &m).unwrap();
        assert!(!unverified.email_verified);
        assert!(map_profile(&json!({"email": "a@b.c"}), &m).is_err());
        assert!(map_profile(&json!({"id": ""}), &m).is_err());
        let always = ClaimMapping { email_verified: Some(Verified::Always(true)), ..m };
        assert!(map_profile(&json!({"id": 1, "email": "a@b.c"}), &always).unwrap().email_verified);
        // Verified means nothing without an address.
        assert!(!map_profile(&json!({"id": 1}), &always).unwrap().email_verified);
    }

    #[test]
    fn the_primary_verified_address_wins() {
        let list = EmailList {
            url: Url::parse("https://x").unwrap(),
            list: "/values".into(),
            address: "/email".into(),
            primary: "/primary".into(),
            verified: "/verified".into(),
        };
        let doc = |v: Value| json!({"values": v});
        let both = doc(json!([
            {"email": "old@x.io", "primary": false, "verified": true},
            {"email": "main@x.io", "primary": true, "verified": true},
        ]));
        assert_eq!(pick_email(&both, &list), Some(("main@x.io".into(), true)));
        let unverified_primary = doc(json!([
            {"email": "main@x.io", "primary": true, "verified": false},
            {"email": "old@x.io", "primary": false, "verified": true},
        ]));
        assert_eq!(pick_email(&unverified_primary, &list), Some(("old@x.io".into(), true)));
        let none_verified = doc(json!([{"email": "main@x.io", "primary": true, "verified": false}]));
        assert_eq!(pick_email(&none_verified, &list), Some(("main@x.io".into(), false)));
        assert_eq!(pick_email(&doc(json!([])), &list), None);
        assert_eq!(pick_email(&json!({"values": "nope"}), &list), None);
    }

    #[test]
    fn username_candidates_fit_the_username_rules() {
        let p = |username: Option<&str>, email: Option<&str>| Profile {
            subject: "s".into(),
            email: email.map(Into::into),
            email_verified: false,
            name: None,
            username: username.map(Into::into),
        };
        assert_eq!(username_candidate(&p(Some("Ada_Lovelace"), None)).unwrap().as_str(), "ada-lovelace");
        assert_eq!(username_candidate(&p(None, Some("j.doe+x@ex.com"))).unwrap().as_str(), "j-doe-x");
        assert_eq!(username_candidate(&p(Some("--a__b--"), None)).unwrap().as_str(), "a-b");
        assert!(username_candidate(&p(Some("_"), None)).is_none());
        assert!(username_candidate(&p(None, None)).is_none());
    }
}
