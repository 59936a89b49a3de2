//! Test support for Guildhall: real servers on SQLite or a real PostgreSQL
//! (`spawn_app`), a clock tests advance, the mail outbox, an HTTP client that
//! keeps cookies and does not follow redirects, a real SMTP peer, and the
//! store conformance suite both store crates run.
//!
//! Never used by production code.

#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod conformance;
pub mod dns;
pub mod oidc_peer;
pub mod postgres;
pub mod scim_peer;
pub mod scim_tester;
pub mod smtp;
pub mod webhook_receiver;

use guildhall::settings::Settings;
use guildhall::startup::Server;
use guildhall_app::App;
use guildhall_app::ports::Clock;
use guildhall_core::Timestamp;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

/// Which database a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Generates `mod NAME { sqlite, postgres }` tests calling `NAME(Backend)`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::Backend::Sqlite).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name($crate::Backend::Postgres).await
                }
            }
        )+
    };
}

/// A clock that only moves when a test says so.
pub struct ManualClock(AtomicI64);

impl ManualClock {
    pub fn new() -> Arc<Self> {
        let now = Timestamp::from_offset_datetime(time::OffsetDateTime::now_utc());
        Arc::new(Self(AtomicI64::new(now.as_millis())))
    }

    pub fn advance(&self, d: Duration) {
        self.0.fetch_add(i64::try_from(d.as_millis()).unwrap(), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_millis(self.0.load(Ordering::SeqCst))
    }
}

/// The database URL for a fresh, empty database on `backend`.
pub async fn fresh_database_url(backend: Backend, dir: &std::path::Path) -> String {
    match backend {
        Backend::Sqlite => format!("sqlite://{}", dir.join("guildhall.db").display()),
        Backend::Postgres => postgres::fresh_database_url().await.expect("PostgreSQL for tests"),
    }
}

/// Waits until `probe` holds, checking every 10 ms for at most 5 s, for
/// what a server learns asynchronously: another node's or the CLI's changes
/// arrive within the follow interval (100 ms by default), not at once.
pub async fn eventually<F, Fut>(what: &str, mut probe: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !probe().await {
        assert!(tokio::time::Instant::now() < deadline, "not within 5 s: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Settings for a test server: port 0, a temporary data dir, cheap Argon2
/// (through settings, as an operator could; never a test-only code path).
pub async fn test_settings(backend: Backend, data_dir: &std::path::Path) -> Settings {
    Settings {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: data_dir.to_path_buf(),
        database_url: Some(guildhall::settings::Secret(fresh_database_url(backend, data_dir).await)),
        argon2: guildhall::settings::Argon2Settings { memory_kib: 256, iterations: 1, parallelism: 1 },
        ..Settings::default()
    }
}

/// A running server and what a test needs around it.
pub struct TestApp {
    /// The public URL (as configured; `http://127.0.0.1:PORT` by default).
    pub base_url: String,
    /// Where the server really listens, whatever its public URL says.
    pub local_url: String,
    pub data_dir: PathBuf,
    pub clock: Arc<ManualClock>,
    pub app: App,
    pub settings: Settings,
    /// The operator's one-time password printed at first start.
    pub operator_password: String,
    _dir: tempfile::TempDir,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |_| {}).await
}

/// Spawns a server after letting the test adjust its settings.
pub async fn spawn_app_with(backend: Backend, tweak: impl FnOnce(&mut Settings)) -> TestApp {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let mut settings = test_settings(backend, dir.path()).await;
    tweak(&mut settings);
    let clock = ManualClock::new();
    let server = Server::build(&settings, clock.clone()).await.expect("server starts");
    let base_url = server.public_url().to_owned();
    let local_url = format!("http://{}", server.local_addr());
    let app = server.app().clone();
    let operator_password = server.new_operator.as_ref().map(|(_, p)| p.clone()).unwrap_or_default();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server.run(async {
        let _ = rx.await;
    }));
    TestApp {
        base_url,
        local_url,
        data_dir: dir.path().to_path_buf(),
        clock,
        app,
        settings,
        operator_password,
        _dir: dir,
        _shutdown: tx,
    }
}

impl TestApp {
    /// A browser-like client: its own cookie jar, no automatic redirects.
    pub fn client(&self) -> Browser {
        Browser {
            http: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: self.base_url.clone(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }

    /// Every message in the outbox, oldest first, as raw RFC 5322 text.
    pub fn outbox(&self) -> Vec<String> {
        let dir = self.data_dir.join("outbox");
        let mut files: Vec<_> =
            std::fs::read_dir(&dir).map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect()).unwrap_or_default();
        files.retain(|p| p.extension().is_some_and(|e| e == "eml"));
        files.sort();
        files.iter().map(|p| std::fs::read_to_string(p).unwrap()).collect()
    }

    /// Messages to `to` (case-insensitive) whose subject contains `subject`.
    pub fn mails_to(&self, to: &str, subject: &str) -> Vec<String> {
        self.outbox()
            .into_iter()
            .filter(|m| header(m, "To").is_some_and(|v| v.to_lowercase().contains(&to.to_lowercase())))
            .filter(|m| header(m, "Subject").is_some_and(|v| v.contains(subject)))
            .collect()
    }

    /// The path and query of the link in the newest such message.
    pub fn last_link(&self, to: &str, subject: &str, path_prefix: &str) -> String {
        let mails = self.mails_to(to, subject);
        let mail = mails.last().unwrap_or_else(|| panic!("no mail to {to} about {subject:?}"));
        link_in(mail, &format!("{}{path_prefix}", self.base_url))
            .unwrap_or_else(|| panic!("no {path_prefix} link in {mail}"))
    }

    /// Signs up through the form, verifies through the mailed link and signs
    /// in; returns the signed-in browser.
    pub async fn signed_up(&self, username: &str, password: &str, verify: bool) -> Browser {
        let email = format!("{username}@example.com");
        let b = self.client();
        let res = b
            .post_form(
                "/signup",
                &[("email", &email), ("username", username), ("display_name", username), ("password", password)],
            )
            .await;
        assert_eq!(res.status(), 200, "sign-up of {username}");
        if verify {
            let link = self.last_link(&email, "Verify", "/verify");
            let token = link.split("token=").nth(1).unwrap().to_owned();
            let res = b.post_form("/verify", &[("token", &token)]).await;
            assert_eq!(res.status(), 200, "verification of {username}");
        }
        let res = b.post_form("/login", &[("email", &email), ("password", password)]).await;
        assert_eq!(res.status(), 303, "sign-in of {username}");
        b
    }
}

/// The value of a header in a raw message (unfolded, first occurrence).
pub fn header<'a>(mail: &'a str, name: &str) -> Option<&'a str> {
    mail.lines()
        .take_while(|l| !l.is_empty() && *l != "\r")
        .find_map(|l| l.split_once(':').filter(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.trim()))
}

/// The first link in `text` that starts with `prefix`, returned as its path
/// and query. Handles quoted-printable soft line breaks.
pub fn link_in(text: &str, prefix: &str) -> Option<String> {
    let unfolded = text.replace("=\r\n", "").replace("=\n", "").replace("=3D", "=");
    let start = unfolded.find(prefix)?;
    let rest = &unfolded[start..];
    let end = rest.find(|c: char| c.is_whitespace()).unwrap_or(rest.len());
    let url = url::Url::parse(&rest[..end]).ok()?;
    Some(match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    })
}

/// A cookie-keeping HTTP client that fills in CSRF tokens like a browser.
#[derive(Clone)]
pub struct Browser {
    pub http: reqwest::Client,
    pub base: String,
}

impl Browser {
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http.get(format!("{}{path}", self.base)).send().await.unwrap()
    }

    pub async fn get_text(&self, path: &str) -> (u16, String) {
        let res = self.get(path).await;
        let status = res.status().as_u16();
        (status, res.text().await.unwrap())
    }

    /// The CSRF token this browser's forms carry (loads a form page once).
    pub async fn csrf(&self) -> String {
        let (_, body) = self.get_text("/login").await;
        hidden_value(&body, "csrf").expect("a csrf field on /login")
    }

    /// Posts a form with this browser's CSRF token added.
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let csrf = self.csrf().await;
        let mut all: Vec<(&str, &str)> = fields.to_vec();
        all.push(("csrf", &csrf));
        self.post_raw(path, &all).await
    }

    /// Posts exactly these fields (no CSRF token added).
    pub async fn post_raw(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        self.http.post(format!("{}{path}", self.base)).form(fields).send().await.unwrap()
    }
}

/// The value of `<input type="hidden" name=NAME value=…>` in a page.
pub fn hidden_value(html: &str, name: &str) -> Option<String> {
    let needle = format!("name=\"{name}\" value=\"");
    let start = html.find(&needle)? + needle.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_owned())
}

/// A JSON API client authenticated with a personal access token.
#[derive(Clone)]
pub struct Api {
    pub http: reqwest::Client,
    pub base: String,
    pub token: String,
}

impl Api {
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let mut req = self.http.request(method, format!("{}/api/v1{path}", self.base)).bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let ct = res.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
        let text = res.text().await.unwrap();
        if status >= 400 {
            assert_eq!(ct, "application/problem+json", "error {status} on {path} is not problem+json: {text}");
        }
        (status, if text.is_empty() { serde_json::Value::Null } else { serde_json::from_str(&text).unwrap() })
    }

    pub async fn get(&self, path: &str) -> (u16, serde_json::Value) {
        self.call(reqwest::Method::GET, path, None).await
    }
    pub async fn post(&self, path: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }
    pub async fn put(&self, path: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
        self.call(reqwest::Method::PUT, path, Some(body)).await
    }
    pub async fn patch(&self, path: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
        self.call(reqwest::Method::PATCH, path, Some(body)).await
    }
    pub async fn delete(&self, path: &str) -> (u16, serde_json::Value) {
        self.call(reqwest::Method::DELETE, path, None).await
    }
}

impl TestApp {
    /// Creates a verified account `NAME@example.com` directly.
    pub async fn account(&self, username: &str) -> guildhall_core::accounts::Account {
        self.app
            .accounts()
            .admin_create(guildhall_app::accounts::AdminCreate {
                email: &format!("{username}@example.com"),
                username,
                display_name: None,
                password: "correct horse battery",
                verified: true,
            })
            .await
            .unwrap()
    }

    /// An API client for `username` holding a token with these scopes.
    pub async fn api_as(&self, username: &str, scopes: &[&str]) -> Api {
        let account = self.app.accounts().by_username(username).await.unwrap();
        let scopes: Vec<String> = scopes.iter().map(|s| (*s).to_owned()).collect();
        let (_, secret) = self.app.tokens().create(&account, "test", &scopes).await.unwrap();
        Api { http: reqwest::Client::new(), base: self.base_url.clone(), token: secret.expose().to_owned() }
    }

    /// A verified account with a token for workspaces and directory sync (`workspaces:admin scim`).
    pub async fn user(&self, username: &str) -> Api {
        self.account(username).await;
        self.api_as(username, &["workspaces:admin", "scim"]).await
    }
}
