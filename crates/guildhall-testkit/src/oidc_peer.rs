//! A real upstream identity provider for tests: panva's `oidc-provider`
//! (OpenID Certified, from npm) run by `peers/oidc-provider/server.mjs` on
//! 127.0.0.1 with a free port. It is an OpenID Connect provider, and through
//! its user-info endpoint (`/me`) a plain OAuth 2.0 one; `/user/emails`
//! answers GitHub-style address lists. A test plays the person at the
//! provider with [`Person`], and the browser with [`round_trip`].

use crate::Browser;
use std::process::Stdio;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// A running provider; killed when dropped.
pub struct OidcPeer {
    child: Child,
    /// Its issuer, `http://127.0.0.1:PORT`.
    pub issuer: String,
}

/// The `node` to run (`GUILDHALL_TEST_NODE`, else `node` on the PATH).
pub fn node() -> String {
    std::env::var("GUILDHALL_TEST_NODE").unwrap_or_else(|_| "node".to_owned())
}

impl OidcPeer {
    /// Starts the provider with these clients (oidc-provider client
    /// metadata: `client_id`, `client_secret`, `redirect_uris`, …).
    pub async fn start(clients: serde_json::Value) -> Self {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("peers/oidc-provider");
        assert!(
            dir.join("node_modules/oidc-provider").exists(),
            "oidc-provider is not installed in {}: run scripts/test (it runs npm ci there)",
            dir.display()
        );
        let mut child = Command::new(node())
            .arg("server.mjs")
            .current_dir(&dir)
            .env("PEER_CLIENTS", clients.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("starting node (Node.js 20.19+ is needed: run scripts/test)");
        let stdout = child.stdout.take().expect("the provider's piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(std::time::Duration::from_secs(30), lines.next_line()).await;
        let port = match line {
            Ok(Ok(Some(l))) => l.strip_prefix("ready ").map(str::to_owned),
            _ => None,
        }
        .expect("the oidc-provider peer did not start");
        // Keep reading: the provider logs notices to stdout, and a closed
        // pipe would kill it.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Self { child, issuer: format!("http://127.0.0.1:{port}") }
    }
}

impl Drop for OidcPeer {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

/// The person at the provider: who signs in there, with which claims.
#[derive(Clone, Debug, Default)]
pub struct Person<'a> {
    pub sub: &'a str,
    pub email: Option<&'a str>,
    pub email_verified: bool,
    pub name: Option<&'a str>,
    /// GitHub-style `[{email, primary, verified}]` for `/user/emails`.
    pub emails: Option<serde_json::Value>,
}

impl<'a> Person<'a> {
    /// Someone with a verified address.
    pub fn verified(sub: &'a str, email: &'a str) -> Self {
        Self { sub, email: Some(email), email_verified: true, ..Default::default() }
    }
}

/// The absolute URL a redirect points to.
pub fn location(res: &reqwest::Response) -> url::Url {
    let to = res
        .headers()
        .get(reqwest::header::LOCATION)
        .unwrap_or_else(|| panic!("expected a redirect, got {} from {}", res.status(), res.url()))
        .to_str()
        .expect("a Location header of visible ASCII");
    res.url().join(to).unwrap_or_else(|e| panic!("Location {to:?} is not a URL: {e}"))
}

/// Plays the browser from a response that redirects to the provider,
/// through its sign-in as `person`, until the provider sends the browser
/// back to `home` (the relying party's origin, as `http://host:port`);
/// returns that callback's response, made with `b`'s cookies. At the
/// provider the browser starts with no cookies, so each round trip signs
/// in afresh there (as after signing out at the provider). `tamper` may
/// rewrite the first request to the provider (the authorization request).
pub async fn round_trip(
    b: &Browser,
    start: reqwest::Response,
    person: &Person<'_>,
    home: &str,
    tamper: impl FnOnce(url::Url) -> url::Url,
) -> reqwest::Response {
    let mut next = tamper(location(&start));
    let at_provider = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("an HTTP client for the provider's side");
    for _ in 0..10 {
        if next.path().starts_with("/interaction/") {
            let mut q = next.query_pairs_mut();
            q.append_pair("sub", person.sub);
            if let Some(e) = person.email {
                q.append_pair("email", e).append_pair("email_verified", &person.email_verified.to_string());
            }
            if let Some(n) = person.name {
                q.append_pair("name", n);
            }
            if let Some(list) = &person.emails {
                q.append_pair("emails", &list.to_string());
            }
        }
        if next.origin().ascii_serialization() == home {
            return b.http.get(next.clone()).send().await.unwrap_or_else(|e| panic!("GET {next}: {e}"));
        }
        let res = at_provider.get(next.clone()).send().await.unwrap_or_else(|e| panic!("GET {next}: {e}"));
        next = location(&res);
    }
    panic!("no way back to {home} after 10 redirects");
}
