//! Sign-in load: C clients, each its own cookie jar and connection, posting
//! the login form in a loop. Only successful sign-ins are sent, because
//! failures are throttled by design.

use crate::cpu;
use crate::server::Server;
use anyhow::{Context, Result, bail};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// One account per client; all use the same password.
pub struct Account {
    pub email: String,
    pub password: String,
}

pub struct LoadResult {
    pub concurrency: usize,
    pub seconds: f64,
    pub successes: u64,
    pub per_sec: f64,
    /// Non-303 answers and transport errors inside the measured window.
    pub errors: u64,
    /// All errors, warm-up included, by kind.
    pub errors_by_kind: BTreeMap<String, u64>,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// Cores used during the window: `procs` = [server, this harness].
    pub cpu: cpu::Usage,
}

/// What one client saw.
#[derive(Default)]
struct ClientStats {
    /// Latencies of successes that finished inside the window.
    latencies: Vec<Duration>,
    errors_in_window: u64,
    errors_by_kind: BTreeMap<String, u64>,
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

/// Runs `accounts.len()` clients for `warmup + duration` against `server`.
pub async fn run(server: &Server, accounts: &[Account], warmup: Duration, duration: Duration) -> Result<LoadResult> {
    let concurrency = accounts.len();
    let url = server.url("/login");
    // Every client gets its cookie and token before the clock starts.
    let mut clients = Vec::with_capacity(concurrency);
    for _ in accounts {
        let client = browser()?;
        let csrf = csrf_token(&client, server).await?;
        clients.push((client, csrf));
    }
    let start = Instant::now();
    let window_start = start + warmup;
    let window_end = window_start + duration;

    let mut tasks = tokio::task::JoinSet::new();
    for ((client, csrf), account) in clients.into_iter().zip(accounts) {
        let url = url.clone();
        let account = Account { email: account.email.clone(), password: account.password.clone() };
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

    let pids = [server.pid(), std::process::id()];
    tokio::time::sleep_until(window_start.into()).await;
    let before = cpu::sample(&pids)?;
    tokio::time::sleep_until(window_end.into()).await;
    let after = cpu::sample(&pids)?;

    let mut latencies = Vec::new();
    let mut errors = 0;
    let mut errors_by_kind = BTreeMap::new();
    while let Some(joined) = tasks.join_next().await {
        let stats = joined.context("a client task failed")?;
        latencies.extend(stats.latencies);
        errors += stats.errors_in_window;
        for (kind, n) in stats.errors_by_kind {
            *errors_by_kind.entry(kind).or_default() += n;
        }
    }
    if latencies.is_empty() {
        bail!("no sign-in succeeded in the measured window (errors: {errors_by_kind:?})");
    }
    latencies.sort_unstable();
    let successes = latencies.len() as u64;
    let seconds = duration.as_secs_f64();
    Ok(LoadResult {
        concurrency,
        seconds,
        successes,
        per_sec: successes as f64 / seconds,
        errors,
        errors_by_kind,
        p50_ms: percentile_ms(&latencies, 0.50),
        p99_ms: percentile_ms(&latencies, 0.99),
        max_ms: latencies.last().map_or(0.0, |d| d.as_secs_f64() * 1e3),
        cpu: cpu::usage(&before, &after),
    })
}

/// Nearest-rank percentile of sorted, non-empty latencies.
fn percentile_ms(sorted: &[Duration], p: f64) -> f64 {
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1].as_secs_f64() * 1e3
}
