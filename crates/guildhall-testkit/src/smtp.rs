//! A real SMTP server for tests: Python's `aiosmtpd` storing every message in a Maildir.
//!
//! The server speaks plain SMTP without TLS and without AUTH (aiosmtpd only offers AUTH over TLS),
//! so clients must connect with `smtp://` and no credentials.
//!
//! Stored messages are what Python's `mailbox.Maildir` writes: LF line endings, and aiosmtpd's
//! `Message` handler appends `X-Peer`, `X-MailFrom` and `X-RcptTo` headers.
//!
//! Interpreter: `GUILDHALL_TEST_PYTHON` if set, else `<workspace>/.venv-test/bin/python` if it
//! exists (created by `scripts/test`), else `python3`.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result, anyhow, bail};
use tempfile::TempDir;
use tokio::process::{Child, Command};

/// Environment variable naming the Python interpreter that has `aiosmtpd` installed.
pub const PYTHON_ENV: &str = "GUILDHALL_TEST_PYTHON";

const START_TIMEOUT: Duration = Duration::from_secs(20);

/// A running `aiosmtpd` process; killed when dropped.
pub struct SmtpServer {
    // Field order matters: the child is killed before its directory is removed.
    child: Child,
    port: u16,
    maildir: PathBuf,
    _dir: TempDir,
}

impl SmtpServer {
    /// Starts `python -m aiosmtpd -n -l 127.0.0.1:PORT -c aiosmtpd.handlers.Mailbox <maildir>` on a
    /// free port and waits until it accepts TCP connections (timeout 20 s, clear error including
    /// its stderr).
    pub async fn start() -> anyhow::Result<Self> {
        let python = python();
        let mut attempt = 0;
        loop {
            attempt += 1;
            match Self::start_once(&python).await {
                Ok(server) => return Ok(server),
                // Another process may grab the port between our probe and aiosmtpd's bind.
                Err(StartError::PortTaken(_)) if attempt < 3 => {
                    eprintln!("guildhall-testkit: test SMTP port was taken, retrying");
                }
                Err(StartError::PortTaken(e) | StartError::Other(e)) => return Err(e),
            }
        }
    }

    async fn start_once(python: &Path) -> Result<Self, StartError> {
        let dir = tempfile::Builder::new()
            .prefix("guildhall-smtp-")
            .tempdir()
            .context("creating a temporary directory for the SMTP maildir")?;
        let maildir = dir.path().join("maildir");
        let stderr_path = dir.path().join("aiosmtpd.stderr");
        let stderr_file = std::fs::File::create(&stderr_path).context("creating the stderr file")?;
        let port = free_port()?;

        let mut cmd = Command::new(python);
        cmd.args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .env("PYTHONUNBUFFERED", "1")
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            // a file, not a pipe: nobody reads it while the server runs, and a full pipe would block it
            .stderr(stderr_file)
            .kill_on_drop(true);
        let mut child = cmd.spawn().map_err(|e| {
            anyhow!("cannot run the Python interpreter {} for the test SMTP server: {e}. {HINT}", python.display())
        })?;

        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = child.try_wait().context("waiting for aiosmtpd")? {
                let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
                let err = anyhow!(
                    "the test SMTP server (`{} -m aiosmtpd ... 127.0.0.1:{port}`) exited with {status} \
                     before accepting connections. {HINT}\nstderr:\n{}",
                    python.display(),
                    stderr.trim_end()
                );
                return Err(if stderr.contains("Address already in use") {
                    StartError::PortTaken(err)
                } else {
                    StartError::Other(err)
                });
            }
            if tokio::task::spawn_blocking(move || smtp_greets(port)).await.unwrap_or(false) {
                break;
            }
            if Instant::now() >= deadline {
                let _ = child.start_kill();
                let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
                return Err(StartError::Other(anyhow!(
                    "the test SMTP server (`{} -m aiosmtpd` on 127.0.0.1:{port}) did not accept \
                     connections within {START_TIMEOUT:?}\nstderr:\n{}",
                    python.display(),
                    stderr.trim_end()
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }

        Ok(SmtpServer { child, port, maildir, _dir: dir })
    }

    /// `smtp://127.0.0.1:PORT` (plain SMTP, no TLS, no AUTH).
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// The TCP port the server listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// All messages received so far, as raw RFC 5322 text (read from the Maildir `new/` and `cur/`),
    /// oldest first.
    pub fn messages(&self) -> anyhow::Result<Vec<String>> {
        let mut files: Vec<(SystemTime, PathBuf)> = Vec::new();
        for sub in ["new", "cur"] {
            let dir = self.maildir.join(sub);
            let entries = match std::fs::read_dir(&dir) {
                Ok(entries) => entries,
                // created by aiosmtpd at start-up; absent only if it has not got that far
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e).with_context(|| format!("listing {}", dir.display())),
            };
            for entry in entries {
                let entry = entry?;
                let modified = entry.metadata()?.modified().unwrap_or(SystemTime::UNIX_EPOCH);
                files.push((modified, entry.path()));
            }
        }
        // Maildir names start with the delivery time, so (mtime, name) gives delivery order.
        files.sort();
        files
            .into_iter()
            .map(|(_, path)| {
                let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
                Ok(String::from_utf8_lossy(&bytes).into_owned())
            })
            .collect()
    }

    /// Polls messages() every 50 ms until one contains `needle`, up to `timeout`; error if none.
    pub async fn wait_for(&self, needle: &str, timeout: Duration) -> anyhow::Result<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let messages = self.messages()?;
            if let Some(found) = messages.iter().find(|m| m.contains(needle)) {
                return Ok(found.clone());
            }
            if Instant::now() >= deadline {
                bail!(
                    "no message containing {needle:?} arrived at {} within {timeout:?}; {} message(s) \
                     received{}",
                    self.url(),
                    messages.len(),
                    if messages.is_empty() { String::new() } else { format!(":\n{}", messages.join("\n----------\n")) }
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        // kill_on_drop also does this; being explicit keeps the order obvious.
        let _ = self.child.start_kill();
    }
}

const HINT: &str = "It needs Python with aiosmtpd: run `scripts/test` (creates .venv-test), or \
     `python3 -m venv .venv-test && .venv-test/bin/pip install -r scripts/test-requirements.txt`, \
     or set GUILDHALL_TEST_PYTHON to an interpreter that has aiosmtpd.";

enum StartError {
    PortTaken(anyhow::Error),
    Other(anyhow::Error),
}

impl From<anyhow::Error> for StartError {
    fn from(e: anyhow::Error) -> Self {
        StartError::Other(e)
    }
}

/// The interpreter: `$GUILDHALL_TEST_PYTHON`, else `<workspace>/.venv-test/bin/python`, else `python3`.
/// The interpreter that has the Python test peers (aiosmtpd, authlib).
pub fn python() -> PathBuf {
    if let Some(p) = std::env::var_os(PYTHON_ENV).filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv-test/bin/python");
    if venv.exists() {
        return venv;
    }
    PathBuf::from("python3")
}

fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("binding 127.0.0.1:0 to find a free port")?;
    Ok(listener.local_addr()?.port())
}

/// Connects and checks for an SMTP `220` greeting (so it is really our server), then says QUIT.
fn smtp_greets(port: u16) -> bool {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let Ok(stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(500)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut line = String::new();
    let mut reader = BufReader::new(&stream);
    let ok = reader.read_line(&mut line).is_ok() && line.starts_with("220");
    let _ = (&stream).write_all(b"QUIT\r\n");
    ok
}
