//! A real SCIM 2.0 server for tests: the `scim2-server` command of the
//! Python package of that name (`python -m scim2_server.testserver.cli`),
//! holding Users and Groups in memory, on 127.0.0.1 with a free port. A
//! test points a SCIM client (Guildhall's provisioning) at
//! [`ScimPeer::base_url`] with [`ScimPeer::bearer_token`], then reads what
//! it pushed with [`ScimPeer::users`] and [`ScimPeer::groups`].
//!
//! What scim2-server 0.8.3 does (observed, and read from its source):
//!
//! - Base URL `http://127.0.0.1:PORT/v2` (the `/v2` prefix is optional:
//!   `/Users` works too; `meta.location` always says `/v2/...`). Endpoints:
//!   `/Users`, `/Groups`, `/ServiceProviderConfig`, `/ResourceTypes`,
//!   `/Schemas`, `/Bulk`, `/.search`, `/{Users,Groups}/.search`, `/Me`.
//! - Every request but `GET /ServiceProviderConfig` needs
//!   `Authorization: Bearer <token>`; otherwise 401 with `WWW-Authenticate`.
//!   The configuration advertises patch, bulk (1000 operations), filter
//!   (maxResults 1000), changePassword, sort and etag as supported.
//! - Responses are `application/scim+json`; requests may be
//!   `application/scim+json` or `application/json`. Errors are SCIM `Error`
//!   bodies (`"status": "404"` as a string, `scimType` where relevant).
//! - POST answers 201 with the resource; the server assigns `id` (32 hex
//!   digits) and `meta` (a client's `id`/`meta` are ignored). `userName` is
//!   required (400 `invalidValue`) and unique case-insensitively (409
//!   `uniqueness`). `externalId` is stored as given, is not unique and is
//!   compared case-sensitively. Group `displayName` is not unique.
//! - PUT replaces the whole resource (omitted attributes are dropped), 200.
//! - PATCH is supported: `add`/`replace`/`remove`, with a path, with value
//!   filters (`members[value eq "ID"]`) or path-less with an object value.
//!   It tolerates Entra ID habits (`"op": "Replace"`, `"value": "False"` for
//!   a boolean). It answers 204 without a body, or 200 with the resource when
//!   the request has `?attributes=`.
//! - DELETE answers 204; the resource then answers 404.
//! - `If-Match` with a stale `W/"n"` version answers 412.
//! - Filters: the RFC 7644 grammar (`eq`, `co`, `sw`, `pr`, `and`, `or`,
//!   `emails[type eq "work"]`, `members.value eq "ID"`, ...). `userName eq
//!   "x"` matches case-insensitively, `externalId eq "x"` exactly. A bad
//!   filter answers 400 `invalidFilter`. `attributes`/`excludedAttributes`,
//!   `sortBy`, and `startIndex`/`count` pagination work (a list without
//!   `count` returns up to 1000).
//! - `active` is only a stored boolean (`"false"` is coerced): an inactive
//!   user is still listed, read and matched (`active eq false`); nothing else
//!   changes.
//! - Groups keep `members` as sent (`{"value": ID}` stays without `$ref` or
//!   `display`); a member id need not exist; adding a member twice keeps
//!   one. Deleting a user does not remove it from groups, and `User.groups`
//!   is never filled in.
//!
//! Interpreter: [`crate::smtp::python`] (the `.venv-test` that `scripts/test`
//! creates from `scripts/test-requirements.txt`).

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;
use tokio::process::{Child, Command};

const START_TIMEOUT: Duration = Duration::from_secs(30);
const PAGE_SIZE: usize = 100;

/// A running `scim2-server`; killed when dropped.
pub struct ScimPeer {
    // Field order matters: the child is killed before its directory is removed.
    child: Child,
    port: u16,
    token: String,
    http: reqwest::Client,
    _dir: TempDir,
}

impl ScimPeer {
    /// Starts `scim2-server` on a free port with a random bearer token and
    /// waits until `GET /v2/ServiceProviderConfig` answers 200 (timeout
    /// 30 s; panics with its stderr otherwise). Retries with another port if
    /// the one picked was taken meanwhile.
    pub async fn start() -> Self {
        let python = crate::smtp::python();
        let mut attempt = 0;
        loop {
            attempt += 1;
            match Self::start_once(&python).await {
                Ok(peer) => return peer,
                Err(Failed { port_taken: true, .. }) if attempt < 3 => {
                    eprintln!("guildhall-testkit: the SCIM peer's port was taken, retrying");
                }
                Err(Failed { message, .. }) => panic!("{message}"),
            }
        }
    }

    async fn start_once(python: &Path) -> Result<Self, Failed> {
        let dir = tempfile::Builder::new()
            .prefix("guildhall-scim-")
            .tempdir()
            .expect("a temporary directory for the SCIM peer's stderr");
        let stderr_path = dir.path().join("scim2-server.stderr");
        let stderr_file = std::fs::File::create(&stderr_path).expect("creating the SCIM peer's stderr file");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free TCP port on 127.0.0.1")
            .port();
        let token = uuid::Uuid::new_v4().simple().to_string();

        let mut child = Command::new(python)
            .args(["-m", "scim2_server.testserver.cli", "--hostname", "127.0.0.1", "--port"])
            .arg(port.to_string())
            .args(["--bearer-token", &token])
            .env("PYTHONUNBUFFERED", "1")
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            // a file, not a pipe: the server logs every request there, and a full pipe would block it
            .stderr(stderr_file)
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run the Python interpreter {} for the SCIM peer: {e}. {HINT}", python.display())
            });

        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("an HTTP client for the SCIM peer");
        let probe = format!("http://127.0.0.1:{port}/v2/ServiceProviderConfig");
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = child.try_wait().expect("waiting for scim2-server") {
                let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
                return Err(Failed {
                    port_taken: stderr.contains("Address already in use"),
                    message: format!(
                        "the SCIM peer (`{} -m scim2_server.testserver.cli --port {port}`) exited with \
                         {status} before answering. {HINT}\nstderr:\n{}",
                        python.display(),
                        stderr.trim_end()
                    ),
                });
            }
            let answered = http.get(&probe).timeout(Duration::from_secs(2)).send().await;
            if answered.is_ok_and(|r| r.status() == reqwest::StatusCode::OK) {
                break;
            }
            if Instant::now() >= deadline {
                let _ = child.start_kill();
                let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
                return Err(Failed {
                    port_taken: false,
                    message: format!(
                        "the SCIM peer did not answer {probe} within {START_TIMEOUT:?}\nstderr:\n{}",
                        stderr.trim_end()
                    ),
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }

        Ok(Self { child, port, token, http, _dir: dir })
    }

    /// The SCIM base URL a client uses: `http://127.0.0.1:PORT/v2` (no
    /// trailing slash; endpoints are `{base_url}/Users` and so on).
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}/v2", self.port)
    }

    /// The bearer token every request but `GET /ServiceProviderConfig` needs.
    pub fn bearer_token(&self) -> &str {
        &self.token
    }

    /// The TCP port the server listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Every User, in the server's order (following pagination).
    pub async fn users(&self) -> Vec<Value> {
        self.list("Users").await
    }

    /// Every Group, in the server's order (following pagination).
    pub async fn groups(&self) -> Vec<Value> {
        self.list("Groups").await
    }

    /// Every resource of `endpoint` (`Users`, `Groups`), following
    /// `startIndex`/`count` pagination; panics on any other answer than 200
    /// with a ListResponse.
    pub async fn list(&self, endpoint: &str) -> Vec<Value> {
        self.list_paged(endpoint, PAGE_SIZE).await
    }

    async fn list_paged(&self, endpoint: &str, page_size: usize) -> Vec<Value> {
        let mut all = Vec::new();
        loop {
            let url = format!("{}/{endpoint}?startIndex={}&count={page_size}", self.base_url(), all.len() + 1);
            let page = self.get_json(&url).await;
            let total = page["totalResults"].as_u64().unwrap_or_else(|| panic!("GET {url}: no totalResults in {page}"));
            let resources = match &page["Resources"] {
                Value::Array(items) => items.clone(),
                // RFC 7644 allows omitting an empty Resources
                Value::Null => Vec::new(),
                other => panic!("GET {url}: Resources is not a list: {other}"),
            };
            let empty = resources.is_empty();
            all.extend(resources);
            if empty || all.len() as u64 >= total {
                return all;
            }
        }
    }

    /// GETs `url` with the bearer token; panics unless it answers 200 with JSON.
    pub async fn get_json(&self, url: &str) -> Value {
        let res = self
            .http
            .get(url)
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {url} at the SCIM peer: {e}"));
        let status = res.status();
        let text = res.text().await.unwrap_or_else(|e| panic!("GET {url} at the SCIM peer: reading the body: {e}"));
        assert_eq!(status, reqwest::StatusCode::OK, "GET {url} at the SCIM peer answered {status}: {text}");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("GET {url} at the SCIM peer: not JSON ({e}): {text}"))
    }
}

impl Drop for ScimPeer {
    fn drop(&mut self) {
        // kill_on_drop also does this; being explicit keeps the order obvious.
        let _ = self.child.start_kill();
    }
}

struct Failed {
    port_taken: bool,
    message: String,
}

const HINT: &str = "It needs Python 3.11+ with scim2-server: run `scripts/test` (creates .venv-test), or \
     `.venv-test/bin/pip install -r scripts/test-requirements.txt`, or set GUILDHALL_TEST_PYTHON to an \
     interpreter that has it.";

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[tokio::test]
    async fn a_pushed_user_and_group_can_be_read_back() {
        let peer = ScimPeer::start().await;
        let http = reqwest::Client::new();
        let base = peer.base_url();

        let res = http
            .post(format!("{base}/Users"))
            .bearer_auth(peer.bearer_token())
            .header("Content-Type", "application/scim+json")
            .body(
                json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": "alice",
                    "externalId": "guildhall-1",
                    "active": false,
                    "emails": [{"value": "alice@example.com", "primary": true}],
                })
                .to_string(),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
        let alice: Value = res.json().await.unwrap();
        let alice_id = alice["id"].as_str().unwrap().to_owned();

        let res = http
            .post(format!("{base}/Groups"))
            .bearer_auth(peer.bearer_token())
            .json(&json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": "Engineering",
                "members": [{"value": alice_id}],
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);

        let users = peer.users().await;
        assert_eq!(users.len(), 1, "{users:?}");
        assert_eq!(users[0]["userName"], "alice");
        assert_eq!(users[0]["externalId"], "guildhall-1");
        assert_eq!(users[0]["active"], false);
        assert_eq!(users[0]["emails"][0]["value"], "alice@example.com");
        let groups = peer.groups().await;
        assert_eq!(groups.len(), 1, "{groups:?}");
        assert_eq!(groups[0]["displayName"], "Engineering");
        assert_eq!(groups[0]["members"], json!([{"value": alice_id}]));

        // without the token: refused
        let res = http.get(format!("{base}/Users")).send().await.unwrap();
        assert_eq!(res.status(), 401);
    }

    #[tokio::test]
    async fn listing_follows_pagination() {
        let peer = ScimPeer::start().await;
        let http = reqwest::Client::new();
        for name in ["u1", "u2", "u3", "u4", "u5"] {
            let res = http
                .post(format!("{}/Users", peer.base_url()))
                .bearer_auth(peer.bearer_token())
                .json(&json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name}))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 201);
        }
        let users = peer.list_paged("Users", 2).await;
        let mut names: Vec<&str> = users.iter().map(|u| u["userName"].as_str().unwrap()).collect();
        names.sort_unstable();
        assert_eq!(names, ["u1", "u2", "u3", "u4", "u5"]);
        assert!(peer.groups().await.is_empty());
    }
}
