//! Running `guildhall` as a child process on a fresh data dir: start it, wait
//! for `/readyz`, create accounts with the admin CLI, read its memory, and
//! always kill it (on drop, so errors and Ctrl-C do too).

use anyhow::{Context, Result, bail};
use guildhall_app::settings::Argon2Params;
use std::fs::File;
use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// How long a server may take to answer `/readyz` before the run fails.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// How to start servers: which binary, and at what Argon2 cost.
#[derive(Clone, Debug)]
pub struct Launcher {
    pub bin: PathBuf,
    pub argon2: Argon2Params,
}

/// A running server. Killed and reaped on drop; its data dir goes with it.
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    pub data_dir: TempDir,
    log: PathBuf,
}

impl Launcher {
    /// `guildhall` with a hermetic environment: no `GUILDHALL_*` setting
    /// from the caller except the Argon2 cost, which is always explicit.
    fn command(&self) -> Command {
        let mut cmd = Command::new(&self.bin);
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("GUILDHALL_") {
                cmd.env_remove(key);
            }
        }
        cmd.env("GUILDHALL_ARGON2__MEMORY_KIB", self.argon2.memory_kib.to_string())
            .env("GUILDHALL_ARGON2__ITERATIONS", self.argon2.iterations.to_string())
            .env("GUILDHALL_ARGON2__PARALLELISM", self.argon2.parallelism.to_string());
        cmd
    }

    /// Spawns `guildhall serve` on a fresh empty data dir and a free port.
    /// Returns at once; `Instant` is when the process was spawned.
    pub fn spawn(&self) -> Result<(Server, Instant)> {
        let data_dir = tempfile::Builder::new().prefix("guildhall-bench-").tempdir().context("creating a data dir")?;
        let addr = free_port()?;
        let log = data_dir.path().with_extension("log");
        let out = File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let err = out.try_clone()?;
        let mut cmd = self.command();
        cmd.arg("serve")
            .arg("--listen")
            .arg(addr.to_string())
            .arg("--data-dir")
            .arg(data_dir.path())
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        let started = Instant::now();
        let child = cmd.spawn().with_context(|| format!("starting {}", self.bin.display()))?;
        Ok((Server { child, addr, data_dir, log }, started))
    }

    /// Starts a server and waits until it is ready.
    pub async fn start(&self, http: &reqwest::Client) -> Result<Server> {
        let (mut server, _) = self.spawn()?;
        server.wait_ready(http, Duration::from_millis(2)).await?;
        Ok(server)
    }

    /// `guildhall admin account create … --verified` against a server's data dir.
    pub fn create_account(&self, server: &Server, email: &str, username: &str, password: &str) -> Result<()> {
        let mut child = self
            .command()
            .args(["admin", "account", "create", "--email", email, "--username", username])
            .args(["--password-stdin", "--verified", "--data-dir"])
            .arg(server.data_dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .context("starting guildhall admin account create")?;
        child.stdin.take().context("no stdin")?.write_all(password.as_bytes())?;
        let out = child.wait_with_output()?;
        if !out.status.success() {
            bail!("creating account {email}: {}: {}", out.status, String::from_utf8_lossy(&out.stderr).trim());
        }
        Ok(())
    }
}

impl Server {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Polls `/readyz` every `every` until it answers 200. Returns when it did.
    pub async fn wait_ready(&mut self, http: &reqwest::Client, every: Duration) -> Result<Instant> {
        let deadline = Instant::now() + READY_TIMEOUT;
        let url = self.url("/readyz");
        loop {
            if let Ok(resp) = http.get(&url).timeout(READY_TIMEOUT).send().await
                && resp.status() == reqwest::StatusCode::OK
            {
                let at = Instant::now();
                let body = resp.text().await.unwrap_or_default();
                anyhow::ensure!(body.contains("ready"), "/readyz said 200 but {body:?}");
                return Ok(at);
            }
            if let Some(status) = self.child.try_wait()? {
                bail!("the server exited with {status} before it was ready:\n{}", self.log_tail());
            }
            if Instant::now() > deadline {
                bail!("the server was not ready after {READY_TIMEOUT:?}:\n{}", self.log_tail());
            }
            tokio::time::sleep(every).await;
        }
    }

    /// Resident memory now (`VmRSS`), in KiB.
    pub fn rss_kib(&self) -> Result<u64> {
        self.status_field("VmRSS")
    }

    /// Peak resident memory so far (`VmHWM`), in KiB.
    pub fn peak_rss_kib(&self) -> Result<u64> {
        self.status_field("VmHWM")
    }

    /// Threads in the process now.
    pub fn threads(&self) -> Result<u64> {
        self.status_field("Threads")
    }

    /// A numeric field of `/proc/<pid>/status` (`kB` units are KiB).
    fn status_field(&self, field: &str) -> Result<u64> {
        let path = format!("/proc/{}/status", self.pid());
        let status = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
        status
            .lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .with_context(|| format!("no {field} in {path}"))
    }

    /// The last lines the server wrote, for error messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// Whether it is still running (it should be, after a load run).
    pub fn check_alive(&mut self) -> Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!("the server exited with {status}:\n{}", self.log_tail());
        }
        Ok(())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// A loopback port nobody listens on right now.
fn free_port() -> Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?)
}
