//! A real webhook receiver for tests: `peers/webhook_receiver.py`, a
//! threaded Python HTTP server on 127.0.0.1 that checks every delivery with
//! the `standardwebhooks` library (`Webhook(secret).verify(body, headers)`,
//! the Standard Webhooks reference implementation) and records it.
//!
//! A delivery is any POST (PUT, PATCH, DELETE too) to a path outside
//! `/_control/`. It is answered
//! - with the status [`WebhookReceiver::fail_next`] set, while that count lasts;
//! - else 401 when verification failed: no secret set yet, a missing
//!   `webhook-id`/`webhook-timestamp`/`webhook-signature`, no matching
//!   `v1,` signature, or a timestamp more than 5 minutes off;
//! - else 204.
//!
//! The secret (`whsec_<base64 key>`) is only known once the endpoint is
//! registered with the server under test, so it is set afterwards with
//! [`WebhookReceiver::set_secret`]; deliveries before that fail (401).
//!
//! Interpreter: [`crate::smtp::python`] (the `.venv-test` that `scripts/test`
//! creates from `scripts/test-requirements.txt`).

use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const START_TIMEOUT: Duration = Duration::from_secs(20);

/// A running receiver; killed when dropped.
pub struct WebhookReceiver {
    // Field order matters: the child is killed before its directory is removed.
    child: Child,
    port: u16,
    http: reqwest::Client,
    _dir: TempDir,
}

/// One recorded delivery.
#[derive(Clone, Debug, PartialEq)]
pub struct Received {
    /// `POST` for webhooks.
    pub method: String,
    /// The request path with its query, e.g. `/hooks/a?x=1`.
    pub path: String,
    pub webhook_id: Option<String>,
    pub webhook_timestamp: Option<String>,
    pub webhook_signature: Option<String>,
    pub content_type: Option<String>,
    pub user_agent: Option<String>,
    /// The body parsed as JSON (`Null` when it is not JSON).
    pub body: Value,
    /// The body as text (invalid UTF-8 replaced).
    pub body_text: String,
    /// Whether `standardwebhooks` accepted the signature with the secret set then.
    pub verified: bool,
    /// Why verification failed (`None` when it passed).
    pub error: Option<String>,
    /// The HTTP status the receiver answered (or, during a delay, is about to).
    pub status: u16,
    /// How long the receiver waited before answering ([`WebhookReceiver::delay`]).
    pub delay: Duration,
}

impl Received {
    /// Verified and answered with a 2xx: what the sender may take as delivered.
    pub fn accepted(&self) -> bool {
        self.verified && (200..300).contains(&self.status)
    }

    fn from_json(v: &Value) -> Self {
        let text = |k: &str| v[k].as_str().map(str::to_owned);
        Self {
            method: text("method").unwrap_or_default(),
            path: text("path").unwrap_or_default(),
            webhook_id: text("webhook_id"),
            webhook_timestamp: text("webhook_timestamp"),
            webhook_signature: text("webhook_signature"),
            content_type: text("content_type"),
            user_agent: text("user_agent"),
            body: v["body"].clone(),
            body_text: text("body_text").unwrap_or_default(),
            verified: v["verified"].as_bool().unwrap_or(false),
            error: text("error"),
            status: v["status"].as_u64().and_then(|s| u16::try_from(s).ok()).unwrap_or(0),
            delay: Duration::from_secs_f64(v["delay_seconds"].as_f64().unwrap_or(0.0).max(0.0)),
        }
    }

    /// One line for failure messages.
    fn summary(&self) -> String {
        format!(
            "{} {} -> {} verified={}{} webhook-id={:?} webhook-timestamp={:?} webhook-signature={:?} body={}",
            self.method,
            self.path,
            self.status,
            self.verified,
            self.error.as_deref().map(|e| format!(" ({e})")).unwrap_or_default(),
            self.webhook_id.as_deref().unwrap_or("-"),
            self.webhook_timestamp.as_deref().unwrap_or("-"),
            self.webhook_signature.as_deref().unwrap_or("-"),
            self.body_text,
        )
    }
}

impl WebhookReceiver {
    /// Starts the receiver (it binds a free port itself) and waits until it
    /// listens (timeout 20 s; panics with its stderr otherwise).
    pub async fn start() -> Self {
        let python = crate::smtp::python();
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("peers/webhook_receiver.py");
        let dir = tempfile::Builder::new()
            .prefix("guildhall-webhooks-")
            .tempdir()
            .expect("a temporary directory for the webhook receiver's stderr");
        let stderr_path = dir.path().join("webhook_receiver.stderr");
        let stderr_file = std::fs::File::create(&stderr_path).expect("creating the webhook receiver's stderr file");
        let mut child = Command::new(&python)
            .arg(&script)
            .env("PYTHONUNBUFFERED", "1")
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr_file)
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run the Python interpreter {} for the webhook receiver: {e}. {HINT}", python.display())
            });
        let stdout = child.stdout.take().expect("the webhook receiver's piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(START_TIMEOUT, lines.next_line()).await;
        let port = match &line {
            Ok(Ok(Some(l))) => l.strip_prefix("ready ").and_then(|p| p.parse::<u16>().ok()),
            _ => None,
        };
        let Some(port) = port else {
            let _ = child.start_kill();
            let _ = child.wait().await;
            let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
            panic!(
                "the webhook receiver (`{} {}`) did not start within {START_TIMEOUT:?} (first line: {line:?}). \
                 {HINT}\nstderr:\n{}",
                python.display(),
                script.display(),
                stderr.trim_end()
            );
        };
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("an HTTP client for the webhook receiver");
        Self { child, port, http, _dir: dir }
    }

    /// `http://127.0.0.1:PORT{path}`: an endpoint URL to register with the
    /// server under test (any path but `/_control/...`).
    pub fn url(&self, path: &str) -> String {
        let path = if path.starts_with('/') { path.to_owned() } else { format!("/{path}") };
        assert!(!path.starts_with("/_control/"), "{path} is the webhook receiver's control path");
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The TCP port the receiver listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Verifies the following deliveries with this `whsec_...` secret.
    pub async fn set_secret(&self, secret: &str) {
        self.control("secret", json!({ "secret": secret })).await;
    }

    /// Answers the next `n` deliveries with 500 (whatever their signature).
    pub async fn fail_next(&self, n: u32) {
        self.fail_next_with(n, 500).await;
    }

    /// Answers the next `n` deliveries with `status`.
    pub async fn fail_next_with(&self, n: u32, status: u16) {
        self.control("fail_next", json!({ "count": n, "status": status })).await;
    }

    /// Waits this long before answering each following delivery (zero: none).
    pub async fn delay(&self, d: Duration) {
        self.control("delay", json!({ "seconds": d.as_secs_f64() })).await;
    }

    /// Forgets the deliveries received so far (keeps the secret and settings).
    pub async fn reset(&self) {
        self.control("reset", json!({})).await;
    }

    /// Every delivery so far, oldest first, verified or not.
    pub async fn received(&self) -> Vec<Received> {
        let url = format!("http://127.0.0.1:{}/_control/received", self.port);
        let res = self.http.get(&url).send().await.unwrap_or_else(|e| panic!("GET {url}: {e}"));
        let status = res.status();
        let text = res.text().await.unwrap_or_else(|e| panic!("GET {url}: reading the body: {e}"));
        assert_eq!(status, reqwest::StatusCode::OK, "GET {url} answered {status}: {text}");
        let list: Vec<Value> =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("GET {url}: not a JSON list ({e}): {text}"));
        list.iter().map(Received::from_json).collect()
    }

    /// Polls every 50 ms until at least `n` deliveries were accepted
    /// (verified and answered 2xx, see [`Received::accepted`]) and returns
    /// those, oldest first; panics after `timeout` listing everything received.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Received> {
        let deadline = Instant::now() + timeout;
        loop {
            let all = self.received().await;
            let accepted: Vec<Received> = all.iter().filter(|r| r.accepted()).cloned().collect();
            if accepted.len() >= n {
                return accepted;
            }
            if Instant::now() >= deadline {
                let listing: Vec<String> =
                    all.iter().enumerate().map(|(i, r)| format!("  #{}: {}", i + 1, r.summary())).collect();
                panic!(
                    "expected {n} verified webhook deliveries at 127.0.0.1:{} within {timeout:?}, got {} \
                     ({} request(s) in all){}",
                    self.port,
                    accepted.len(),
                    all.len(),
                    if listing.is_empty() { String::new() } else { format!(":\n{}", listing.join("\n")) }
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn control(&self, name: &str, args: Value) {
        let url = format!("http://127.0.0.1:{}/_control/{name}", self.port);
        let res = self.http.post(&url).json(&args).send().await.unwrap_or_else(|e| panic!("POST {url}: {e}"));
        let status = res.status();
        let text = res.text().await.unwrap_or_default();
        assert_eq!(status, reqwest::StatusCode::NO_CONTENT, "POST {url} answered {status}: {text}");
    }
}

impl Drop for WebhookReceiver {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

const HINT: &str = "It needs Python with standardwebhooks: run `scripts/test` (creates .venv-test), or \
     `.venv-test/bin/pip install -r scripts/test-requirements.txt`, or set GUILDHALL_TEST_PYTHON to an \
     interpreter that has it.";

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;

    /// The Standard Webhooks signature, computed independently of the receiver.
    fn sign(secret: &str, id: &str, timestamp: i64, body: &str) -> String {
        let key = STANDARD.decode(secret.strip_prefix("whsec_").unwrap()).unwrap();
        let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &key);
        let tag = aws_lc_rs::hmac::sign(&key, format!("{id}.{timestamp}.{body}").as_bytes());
        format!("v1,{}", STANDARD.encode(tag.as_ref()))
    }

    async fn deliver(url: &str, id: &str, timestamp: i64, signature: &str, body: &str) -> u16 {
        reqwest::Client::new()
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body.to_owned())
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    #[tokio::test]
    async fn signed_deliveries_are_verified_and_others_are_not() {
        let receiver = WebhookReceiver::start().await;
        let secret = format!("whsec_{}", STANDARD.encode(b"0123456789abcdef0123456789abcdef"));
        let url = receiver.url("/hooks/one");
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let body = r#"{"type":"member.added","data":{"id":1}}"#;

        // before the secret is known, nothing verifies
        assert_eq!(deliver(&url, "msg_0", now, &sign(&secret, "msg_0", now, body), body).await, 401);
        receiver.set_secret(&secret).await;

        assert_eq!(deliver(&url, "msg_1", now, &sign(&secret, "msg_1", now, body), body).await, 204);
        let wrong = format!("whsec_{}", STANDARD.encode(b"another key, another signature!"));
        assert_eq!(deliver(&url, "msg_2", now, &sign(&wrong, "msg_2", now, body), body).await, 401);
        // signed for another id
        assert_eq!(deliver(&url, "msg_3", now, &sign(&secret, "msg_1", now, body), body).await, 401);
        // more than 5 minutes old
        let old = now - 600;
        assert_eq!(deliver(&url, "msg_4", old, &sign(&secret, "msg_4", old, body), body).await, 401);

        let received = receiver.received().await;
        let verified: Vec<(&str, bool)> =
            received.iter().map(|r| (r.webhook_id.as_deref().unwrap(), r.verified)).collect();
        assert_eq!(verified, [("msg_0", false), ("msg_1", true), ("msg_2", false), ("msg_3", false), ("msg_4", false)]);
        let ok = &received[1];
        assert_eq!(ok.path, "/hooks/one");
        assert_eq!(ok.method, "POST");
        assert_eq!(ok.body["type"], "member.added");
        assert_eq!(ok.webhook_timestamp, Some(now.to_string()));
        assert_eq!(ok.webhook_signature, Some(sign(&secret, "msg_1", now, body)));
        assert_eq!(ok.status, 204);
        assert_eq!(ok.error, None);
        assert!(received[2].error.as_deref().unwrap().contains("No matching signature"), "{:?}", received[2]);
        assert!(received[4].error.as_deref().unwrap().contains("too old"), "{:?}", received[4]);

        let accepted = receiver.wait_for(1, Duration::from_secs(5)).await;
        assert_eq!(accepted, [received[1].clone()]);
    }

    #[tokio::test]
    async fn failures_are_answered_as_asked_and_waited_through() {
        let receiver = WebhookReceiver::start().await;
        let secret = format!("whsec_{}", STANDARD.encode([7u8; 24]));
        receiver.set_secret(&secret).await;
        receiver.fail_next(2).await;
        let url = receiver.url("retry");
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let body = r#"{"n":1}"#;
        let sig = sign(&secret, "msg_r", now, body);
        let sender = {
            let url = url.clone();
            tokio::spawn(async move {
                let mut statuses = Vec::new();
                for _ in 0..3 {
                    statuses.push(deliver(&url, "msg_r", now, &sig, body).await);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                statuses
            })
        };
        let accepted = receiver.wait_for(1, Duration::from_secs(10)).await;
        assert_eq!(sender.await.unwrap(), [500, 500, 204]);
        assert_eq!(accepted.len(), 1);
        let all = receiver.received().await;
        assert_eq!(
            all.iter().map(|r| (r.status, r.verified)).collect::<Vec<_>>(),
            [(500, true), (500, true), (204, true)]
        );

        receiver.reset().await;
        assert!(receiver.received().await.is_empty());
    }

    #[tokio::test]
    #[should_panic(expected = "expected 1 verified webhook deliveries")]
    async fn waiting_in_vain_lists_what_came() {
        let receiver = WebhookReceiver::start().await;
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        deliver(&receiver.url("/x"), "msg_x", now, "v1,AAAA", "{}").await;
        receiver.wait_for(1, Duration::from_millis(300)).await;
    }
}
