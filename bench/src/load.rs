//! Sign-in load: C clients, each its own cookie jar and connection, posting
//! the login form in a loop. Only successful sign-ins are sent, because
//! failures are throttled by design.

use crate::cpu;
use crate::server::Server;
use anyhow::{Context, Result};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// One account per client; all use the same password.
#[derive(Clone)]
pub struct Account {
    pub email: String,
    pub password: String,
}

/// What the clients saw in one or more measured windows.
pub struct LoadResult {
    pub concurrency: usize,
    /// Latencies of the sign-ins that succeeded inside the window(s), sorted.
    latencies: Vec<Duration>,
    /// Non-303 answers and transport errors inside the window(s).
    pub errors: u64,
    /// All errors, warm-up included, by kind.
    pub errors_by_kind: BTreeMap<String, u64>,
    /// Cores used during the window(s): `procs` = [server, this harness].
    pub cpu: cpu::Usage,
}

impl LoadResult {
    pub fn successes(&self) -> u64 {
        self.latencies.len() as u64
    }

    pub fn per_sec(&self) -> f64 {
        self.successes() as f64 / self.cpu.seconds.max(1e-9)
    }

    /// Nearest-rank percentile (0 < p ≤ 1) of the latencies, in ms.
    pub fn latency_ms(&self, p: f64) -> f64 {
        let n = self.latencies.len();
        if n == 0 {
            return f64::NAN;
        }
        let rank = ((p * n as f64).ceil() as usize).clamp(1, n);
        self.latencies[rank - 1].as_secs_f64() * 1e3
    }

    /// Several windows as one.
    pub fn combine(parts: Vec<LoadResult>) -> LoadResult {
        let cpu = cpu::Usage::combine(&parts.iter().map(|p| p.cpu.clone()).collect::<Vec<_>>());
        let mut all = LoadResult {
            concurrency: parts.first().map_or(0, |p| p.concurrency),
            latencies: Vec::new(),
            errors: 0,
            errors_by_kind: BTreeMap::new(),
            cpu,
        };
        for part in parts {
            all.latencies.extend(part.latencies);
            all.errors += part.errors;
            for (kind, n) in part.errors_by_kind {
                *all.errors_by_kind.entry(kind).or_default() += n;
            }
        }
        all.latencies.sort_unstable();
        all
    }
}

/// What one client saw in one window.
#[derive(Default)]
struct ClientStats {
    /// Latencies of successes that finished inside the window.
    latencies: Vec<Duration>,
    errors_in_window: u64,
    errors_by_kind: BTreeMap<String, u64>,
}

/// The load generator: one ready client (cookie jar, CSRF token, account)
/// per unit of concurrency, reused across windows.
pub struct Clients {
    url: String,
    pids: [u32; 2],
    clients: Vec<(reqwest::Client, String, Account)>,
}

impl Clients {
    /// Every client gets its cookie and token up front, off the clock.
    pub async fn prepare(server: &Server, accounts: &[Account]) -> Result<Self> {
        let mut clients = Vec::with_capacity(accounts.len());
        for account in accounts {
            let client = browser()?;
            let csrf = csrf_token(&client, server).await?;
            clients.push((client, csrf, account.clone()));
        }
        Ok(Self { url: server.url("/login"), pids: [server.pid(), std::process::id()], clients })
    }

    /// All clients sign in in a loop for `warmup + duration`; sign-ins that
    /// finish inside the last `duration` count. Returns once the requests
    /// still in flight at the end have finished, so the server is idle again.
    pub async fn window(&self, warmup: Duration, duration: Duration) -> Result<LoadResult> {
        let window_start = Instant::now() + warmup;
        let window_end = window_start + duration;
        let mut tasks = tokio::task::JoinSet::new();
        for (client, csrf, account) in &self.clients {
            let (client, csrf, account, url) = (client.clone(), csrf.clone(), account.clone(), self.url.clone());
            tasks.spawn(async move {
                let mut stats = ClientStats::default();
                while Instant::now() < window_end {
                    let began = Instant::now();
                    let outcome = sign_in(&client, &url, &account, &csrf).await;
                    let done = Instant::now();
                    let in_window = done >= window_start && done <= window_end;
                    match outcome {
                        Ok(()) if in_window => stats.latencies.push(done - began),
                        Ok(()) => {}
                        Err(kind) => {
                            stats.errors_in_window += u64::from(in_window);
                            *stats.errors_by_kind.entry(kind).or_default() += 1;
                            // Don't spin on a server that fails fast.
                            tokio::time::sleep(Duration::from_millis(10)).await;
                        }
                    }
                }
                stats
            });
        }

        tokio::time::sleep_until(window_start.into()).await;
        let before = cpu::sample(&self.pids)?;
        tokio::time::sleep_until(window_end.into()).await;
        let after = cpu::sample(&self.pids)?;

        let mut result = LoadResult {
            concurrency: self.clients.len(),
            latencies: Vec::new(),
            errors: 0,
            errors_by_kind: BTreeMap::new(),
            cpu: cpu::usage(&before, &after),
        };
        // Count over the nominal window, as the sign-ins were.
        result.cpu.seconds = duration.as_secs_f64();
        while let Some(joined) = tasks.join_next().await {
            let stats = joined.context("a client task failed")?;
            result.latencies.extend(stats.latencies);
            result.errors += stats.errors_in_window;
            for (kind, n) in stats.errors_by_kind {
                *result.errors_by_kind.entry(kind).or_default() += n;
            }
        }
        result.latencies.sort_unstable();
        Ok(result)
    }
}

/// A browser-like client: cookie store on, redirects off.
pub fn browser() -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .build()
        .context("building an HTTP client")
}

/// `GET /login`: sets the `gh_csrf` cookie; the form carries the same token.
pub async fn csrf_token(client: &reqwest::Client, server: &Server) -> Result<String> {
    let resp = client.get(server.url("/login")).send().await?;
    let status = resp.status();
    let html = resp.text().await?;
    anyhow::ensure!(status.is_success(), "GET /login: {status}");
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).context("no csrf field on /login")? + marker.len();
    let len = html[start..].find('"').context("unterminated csrf value")?;
    Ok(html[start..start + len].to_owned())
}

/// One sign-in. `Ok(())` only for a 303 to `/account` that sets `gh_session`.
async fn sign_in(client: &reqwest::Client, url: &str, account: &Account, csrf: &str) -> Result<(), String> {
    let form = [("email", account.email.as_str()), ("password", account.password.as_str()), ("csrf", csrf)];
    let resp = client.post(url).form(&form).send().await.map_err(|e| {
        if e.is_timeout() {
            "timeout".to_owned()
        } else if e.is_connect() {
            "connect error".to_owned()
        } else {
            "transport error".to_owned()
        }
    })?;
    let status = resp.status();
    if status != reqwest::StatusCode::SEE_OTHER {
        return Err(format!("HTTP {}", status.as_u16()));
    }
    let location = resp.headers().get(reqwest::header::LOCATION).and_then(|v| v.to_str().ok());
    if location != Some("/account") {
        return Err(format!("303 to {location:?}"));
    }
    if !resp.cookies().any(|c| c.name() == "gh_session" && !c.value().is_empty()) {
        return Err("303 without gh_session".to_owned());
    }
    // Drain the (empty) body so the connection goes back for reuse.
    let _ = resp.bytes().await;
    Ok(())
}
