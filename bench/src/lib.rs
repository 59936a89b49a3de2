//! What the benchmark binaries share: starting the release server, and
//! driving it with `wrk`.

use anyhow::{Context, bail};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A child process, killed when dropped.
pub struct Server(pub Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `guildhall serve` on SQLite in `data` and waits until it is ready.
pub async fn start_server(bin: &Path, data: &Path, port: u16) -> anyhow::Result<Server> {
    let child = Command::new(bin)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .arg("--data-dir")
        .arg(data)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    let server = Server(child);
    wait_until_up(&format!("http://127.0.0.1:{port}/readyz")).await?;
    Ok(server)
}

/// Polls `url` until it answers 200 (30 s at most).
pub async fn wait_until_up(url: &str) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    let start = Instant::now();
    while client.get(url).send().await.map(|r| r.status() != 200).unwrap_or(true) {
        if start.elapsed() > Duration::from_secs(30) {
            bail!("{url} did not come up");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

/// Runs wrk with the given request function; returns (req/s, p99 ms, output).
pub fn wrk(port: u16, request: &str, seconds: u64, connections: u32, dir: &Path) -> anyhow::Result<(f64, f64, String)> {
    let script = dir.join("request.lua");
    std::fs::write(
        &script,
        format!(
            "math.randomseed(42)\n{request}\
             done = function(summary, latency, requests)\n\
               io.write(string.format(\"NON2XX %d\\n\", summary.errors.status))\n\
             end\n"
        ),
    )?;
    let out = Command::new("wrk")
        .args(["-t2", &format!("-c{connections}"), &format!("-d{seconds}s"), "--latency", "-s"])
        .arg(&script)
        .arg(format!("http://127.0.0.1:{port}/"))
        .output()
        .context("running wrk (apt-get install wrk)")?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let rps = text
        .lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .with_context(|| format!("wrk output: {text}"))?;
    let p99 = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("99%"))
        .map(|v| parse_ms(v.trim()))
        .transpose()?
        .with_context(|| format!("wrk output: {text}"))?;
    Ok((rps, p99, text))
}

fn parse_ms(v: &str) -> anyhow::Result<f64> {
    let (num, factor) = if let Some(n) = v.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = v.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = v.strip_suffix('s') {
        (n, 1000.0)
    } else {
        bail!("unknown latency unit in {v:?}")
    };
    Ok(num.parse::<f64>()? * factor)
}

pub fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "MISSED" }
}
