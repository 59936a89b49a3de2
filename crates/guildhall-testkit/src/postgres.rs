//! A throwaway PostgreSQL cluster shared by every test process.
//!
//! Tests run under cargo-nextest, so every test is its own process and several run in parallel.
//! The cluster therefore lives in a fixed directory,
//! `$TMPDIR/guildhall-test-pg-<euid>/` (`std::env::temp_dir()`), with this layout:
//!
//! ```text
//! lock          exclusive advisory lock: whoever holds it may initialise/start the cluster
//! data/         the data directory (initdb -D)
//! sock/         unix socket directory (unix_socket_directories, i.e. `postgres -k`)
//! port          TCP port on 127.0.0.1, chosen at init time
//! server.log    server log (pg_ctl -l)
//! initialised   marker written once initdb + configuration completed
//! ```
//!
//! `scripts/test` stops (and removes) the cluster after the suite with the same path logic.
//!
//! As root (CI), `initdb`/`pg_ctl` refuse to run, so they are run through
//! `runuser -u postgres --` and the cluster directory is owned by `postgres`.
//!
//! Set `GUILDHALL_TEST_PG_URL_BASE` (e.g. `postgres://postgres@127.0.0.1:5433`) to use an
//! existing server instead: each call then only creates a database there.

use std::fs::{self, File, OpenOptions};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};

/// Environment variable naming an existing server to create databases on.
pub const URL_BASE_ENV: &str = "GUILDHALL_TEST_PG_URL_BASE";

/// How long to wait for another process that holds the cluster lock.
const LOCK_TIMEOUT: Duration = Duration::from_secs(180);
/// How long `pg_ctl start -w` / readiness checks may take.
const START_TIMEOUT_SECS: u32 = 60;

/// Returns the URL (postgres://...) of a brand-new, empty database in a shared throwaway cluster.
pub async fn fresh_database_url() -> anyhow::Result<String> {
    tokio::task::spawn_blocking(fresh_database_url_blocking)
        .await
        .context("the task creating a test database panicked")?
}

/// Stops the shared cluster (`pg_ctl stop -m fast`) if it is running. Does nothing when it does not
/// exist or is not running. Used by scripts; tests never need to call it.
pub fn stop_shared_cluster() -> anyhow::Result<()> {
    let cluster = Cluster::new()?;
    if !cluster.data_dir().join("PG_VERSION").exists() {
        return Ok(());
    }
    let _lock = cluster.lock()?;
    let bins = PgBins::find();
    if cluster.status(&bins)? != Status::Running {
        return Ok(());
    }
    let data = cluster.data_dir();
    let out = run_as_pg_owner(
        bins.path("pg_ctl"),
        ["stop".as_ref(), "-D".as_ref(), data.as_os_str(), "-m".as_ref(), "fast".as_ref(), "-w".as_ref()],
        &cluster.root,
    )?;
    check(&out, "pg_ctl stop")?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------

fn fresh_database_url_blocking() -> Result<String> {
    let name = format!("t_{}", uuid::Uuid::new_v4().simple());
    let bins = PgBins::find();

    if let Some(base) = std::env::var(URL_BASE_ENV).ok().filter(|s| !s.trim().is_empty()) {
        let base = BaseUrl::parse(base.trim())?;
        create_database(&bins, &["-d", &base.with_db("postgres")], &name)
            .with_context(|| format!("creating a test database on {URL_BASE_ENV}={}", base.raw))?;
        return Ok(base.with_db(&name));
    }

    let cluster = Cluster::new()?;
    let port = {
        let _lock = cluster.lock()?;
        cluster.ensure_running(&bins)?
        // lock released here: creating databases needs no mutual exclusion
    };
    let port_s = port.to_string();
    create_database(&bins, &["-h", "127.0.0.1", "-p", &port_s, "-U", "postgres", "-d", "postgres"], &name)
        .with_context(|| {
            format!(
                "creating a test database in the shared test cluster at {} (port {port}); server log: {}",
                cluster.root.display(),
                cluster.log_file().display()
            )
        })?;
    Ok(format!("postgres://postgres@127.0.0.1:{port}/{name}"))
}

/// Runs `CREATE DATABASE` with `psql`, retrying on transient errors.
fn create_database(bins: &PgBins, conn_args: &[&str], name: &str) -> Result<()> {
    let sql = format!("CREATE DATABASE \"{name}\"");
    let mut attempt = 0;
    loop {
        attempt += 1;
        let out = Command::new(bins.path("psql"))
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1"])
            .args(conn_args)
            .args(["-c", &sql])
            .env("PGCONNECT_TIMEOUT", "10")
            .stdin(Stdio::null())
            .output();
        let out = match out {
            Ok(out) => out,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                bail!("`psql` not found ({}). {}", bins.describe(), INSTALL_HINT)
            }
            Err(e) => return Err(e).context("running psql"),
        };
        if out.status.success() {
            return Ok(());
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        // "source database "template1" is being accessed by other users" or the server still starting.
        let transient = stderr.contains("being accessed by other users")
            || stderr.contains("the database system is starting up")
            || stderr.contains("the database system is not yet accepting connections");
        if transient && attempt < 20 {
            std::thread::sleep(Duration::from_millis(100 * attempt));
            continue;
        }
        return check(&out, &format!("psql -c '{sql}'"));
    }
}

const INSTALL_HINT: &str = "PostgreSQL is needed for these tests: run `scripts/test` (it installs it), \
     or `apt-get install postgresql`, or point GUILDHALL_TEST_PG_URL_BASE at a running server \
     (e.g. postgres://postgres@127.0.0.1:5432).";

// ---------------------------------------------------------------------------------------------

/// The PostgreSQL binary directory: highest `/usr/lib/postgresql/<v>/bin` with `initdb`, else PATH.
struct PgBins {
    dir: Option<PathBuf>,
    major: Option<String>,
}

impl PgBins {
    fn find() -> Self {
        let mut best: Option<(Vec<u64>, String, PathBuf)> = None;
        if let Ok(entries) = fs::read_dir("/usr/lib/postgresql") {
            for entry in entries.flatten() {
                let version = entry.file_name().to_string_lossy().into_owned();
                let bin = entry.path().join("bin");
                if !bin.join("initdb").is_file() {
                    continue;
                }
                let key: Vec<u64> = version.split('.').map(|p| p.parse().unwrap_or(0)).collect();
                if best.as_ref().is_none_or(|(k, _, _)| key > *k) {
                    best = Some((key, version, bin));
                }
            }
        }
        match best {
            Some((_, version, dir)) => PgBins { dir: Some(dir), major: Some(version) },
            None => PgBins { dir: None, major: None },
        }
    }

    fn path(&self, tool: &str) -> PathBuf {
        match &self.dir {
            Some(dir) => dir.join(tool),
            None => PathBuf::from(tool),
        }
    }

    fn describe(&self) -> String {
        match &self.dir {
            Some(dir) => format!("looked in {}", dir.display()),
            None => "no /usr/lib/postgresql/*/bin/initdb; looked in PATH".to_owned(),
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Status {
    Running,
    Stopped,
}

struct Cluster {
    root: PathBuf,
    as_root: bool,
}

impl Cluster {
    fn new() -> Result<Self> {
        let euid = effective_uid()?;
        let root = std::env::temp_dir().join(format!("guildhall-test-pg-{euid}"));
        Ok(Cluster { root, as_root: euid == 0 })
    }

    fn data_dir(&self) -> PathBuf {
        self.root.join("data")
    }
    fn sock_dir(&self) -> PathBuf {
        self.root.join("sock")
    }
    fn port_file(&self) -> PathBuf {
        self.root.join("port")
    }
    fn log_file(&self) -> PathBuf {
        self.root.join("server.log")
    }
    fn marker(&self) -> PathBuf {
        self.root.join("initialised")
    }

    /// Takes the exclusive cluster lock (blocking, with a timeout). Released on drop.
    fn lock(&self) -> Result<LockGuard> {
        fs::create_dir_all(&self.root).with_context(|| format!("creating {}", self.root.display()))?;
        let path = self.root.join("lock");
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .with_context(|| format!("opening lock file {}", path.display()))?;
        let deadline = Instant::now() + LOCK_TIMEOUT;
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(LockGuard(file)),
                Err(fs::TryLockError::WouldBlock) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(fs::TryLockError::WouldBlock) => bail!(
                    "timed out after {LOCK_TIMEOUT:?} waiting for the lock {} (another test process \
                     is initialising/starting the test PostgreSQL cluster and seems stuck)",
                    path.display()
                ),
                Err(fs::TryLockError::Error(e)) => {
                    return Err(e).with_context(|| format!("locking {}", path.display()));
                }
            }
        }
    }

    /// Must be called with the lock held. Returns the TCP port of the running cluster.
    fn ensure_running(&self, bins: &PgBins) -> Result<u16> {
        let initialised = self.marker().exists() && self.data_dir().join("PG_VERSION").exists();
        // A data directory from another major version cannot be started with these binaries; a
        // running one (started with the older binaries) is still usable.
        let unusable = initialised && self.version_mismatch(bins) && self.status(bins)? != Status::Running;
        if !initialised || unusable {
            self.wipe(bins)?;
            return self.init_and_start(bins);
        }
        let port = self.read_port()?;
        if self.status(bins)? == Status::Running {
            self.wait_ready(bins, port)?;
            return Ok(port);
        }
        self.start_retrying(bins, port)
    }

    fn version_mismatch(&self, bins: &PgBins) -> bool {
        let (Some(major), Ok(on_disk)) = (&bins.major, fs::read_to_string(self.data_dir().join("PG_VERSION"))) else {
            return false;
        };
        on_disk.trim() != major.as_str()
    }

    /// Removes everything except the lock file (a partial or unusable cluster).
    fn wipe(&self, bins: &PgBins) -> Result<()> {
        if self.data_dir().join("postmaster.pid").exists() && self.status(bins).is_ok_and(|s| s == Status::Running) {
            // never delete the files of a live server
            let data = self.data_dir();
            let _ = run_as_pg_owner(
                bins.path("pg_ctl"),
                ["stop".as_ref(), "-D".as_ref(), data.as_os_str(), "-m".as_ref(), "immediate".as_ref()],
                &self.root,
            );
        }
        for entry in fs::read_dir(&self.root)? {
            let entry = entry?;
            if entry.file_name() == "lock" {
                continue;
            }
            let path = entry.path();
            let res = if entry.file_type()?.is_dir() { fs::remove_dir_all(&path) } else { fs::remove_file(&path) };
            res.with_context(|| format!("removing stale {}", path.display()))?;
        }
        Ok(())
    }

    fn init_and_start(&self, bins: &PgBins) -> Result<u16> {
        fs::create_dir_all(self.sock_dir())?;
        if self.as_root {
            // initdb/pg_ctl run as `postgres`: it must own the whole cluster directory.
            let out = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&self.root)
                .stdin(Stdio::null())
                .output()
                .context("running chown")?;
            check(&out, "chown -R postgres:postgres <cluster dir> (is PostgreSQL installed?)")
                .with_context(|| INSTALL_HINT)?;
        }

        let data = self.data_dir();
        let out = run_as_pg_owner(
            bins.path("initdb"),
            [
                "-D".as_ref(),
                data.as_os_str(),
                "--auth=trust".as_ref(),
                "-U".as_ref(),
                "postgres".as_ref(),
                "--encoding=UTF8".as_ref(),
                "--locale=C".as_ref(),
                "--no-sync".as_ref(),
            ],
            &self.root,
        )
        .map_err(|e| e.context(format!("initdb ({})", bins.describe())))?;
        check(&out, "initdb").with_context(|| INSTALL_HINT)?;

        // Our settings live in an included file so the port can be rewritten if it gets taken.
        let conf = data.join("postgresql.conf");
        let mut text = fs::read_to_string(&conf).with_context(|| format!("reading {}", conf.display()))?;
        text.push_str("\n# guildhall test settings\ninclude 'guildhall-test.conf'\n");
        fs::write(&conf, text).with_context(|| format!("writing {}", conf.display()))?;

        let port = free_port()?;
        self.write_settings(port)?;
        let port = self.start_retrying(bins, port)?;
        fs::write(self.marker(), b"ok\n")?;
        Ok(port)
    }

    /// Starts the cluster; if the saved port has been taken meanwhile, picks another one.
    fn start_retrying(&self, bins: &PgBins, mut port: u16) -> Result<u16> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let log_len = fs::metadata(self.log_file()).map(|m| m.len()).unwrap_or(0);
            match self.start(bins, port) {
                Ok(port) => return Ok(port),
                Err(_) if attempt < 3 && self.port_was_taken(log_len) => {
                    eprintln!("guildhall-testkit: test PostgreSQL port {port} was taken, picking another");
                    port = free_port()?;
                    self.write_settings(port)?;
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn write_settings(&self, port: u16) -> Result<()> {
        let sock = self.sock_dir();
        let sock = sock.to_str().context("cluster directory path is not UTF-8")?;
        let settings = format!(
            "listen_addresses = '127.0.0.1'\n\
             port = {port}\n\
             unix_socket_directories = '{sock}'\n\
             max_connections = 300\n\
             fsync = off\n\
             synchronous_commit = off\n\
             full_page_writes = off\n"
        );
        let path = self.data_dir().join("guildhall-test.conf");
        fs::write(&path, settings).with_context(|| format!("writing {}", path.display()))?;
        fs::write(self.port_file(), format!("{port}\n"))
            .with_context(|| format!("writing {}", self.port_file().display()))?;
        if self.as_root {
            // Written by root into postgres-owned directories: hand them over (readable anyway).
            let _ = Command::new("chown")
                .arg("postgres:postgres")
                .arg(&path)
                .arg(self.port_file())
                .stdin(Stdio::null())
                .output();
        }
        Ok(())
    }

    fn read_port(&self) -> Result<u16> {
        let path = self.port_file();
        let text = fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        text.trim().parse().with_context(|| format!("bad port in {}: {text:?}", path.display()))
    }

    /// Whether the server log, after byte offset `from`, reports a port conflict.
    fn port_was_taken(&self, from: u64) -> bool {
        let Ok(log) = fs::read(self.log_file()) else {
            return false;
        };
        let new = String::from_utf8_lossy(log.get(from as usize..).unwrap_or_default());
        new.contains("Address already in use") || new.contains("could not create any TCP/IP sockets")
    }

    fn status(&self, bins: &PgBins) -> Result<Status> {
        let data = self.data_dir();
        let out =
            run_as_pg_owner(bins.path("pg_ctl"), ["status".as_ref(), "-D".as_ref(), data.as_os_str()], &self.root)?;
        match out.status.code() {
            Some(0) if self.postmaster_is_zombie() => {
                // Killed postmaster that nobody reaped (containers whose PID 1 does not reap):
                // `pg_ctl status` and the postmaster's own lock-file check still see the PID as
                // alive, so remove its stale lock files to allow a restart.
                let _ = fs::remove_file(self.data_dir().join("postmaster.pid"));
                if let Ok(entries) = fs::read_dir(self.sock_dir()) {
                    for entry in entries.flatten() {
                        if entry.file_name().to_string_lossy().starts_with(".s.PGSQL.") {
                            let _ = fs::remove_file(entry.path());
                        }
                    }
                }
                Ok(Status::Stopped)
            }
            Some(0) => Ok(Status::Running),
            Some(3) => Ok(Status::Stopped), // not running
            _ => check(&out, "pg_ctl status").map(|()| Status::Stopped),
        }
    }

    /// Whether the PID in `postmaster.pid` is a zombie (dead but not reaped).
    fn postmaster_is_zombie(&self) -> bool {
        let Ok(pidfile) = fs::read_to_string(self.data_dir().join("postmaster.pid")) else {
            return false;
        };
        let Some(pid) = pidfile.lines().next().map(str::trim) else {
            return false;
        };
        let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
            return false;
        };
        // "pid (comm) S ..." — comm may contain spaces/parentheses, so split at the last ')'
        stat.rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state == "Z" || state == "X")
    }

    fn start(&self, bins: &PgBins, port: u16) -> Result<u16> {
        let data = self.data_dir();
        let log = self.log_file();
        let timeout = START_TIMEOUT_SECS.to_string();
        let out = run_as_pg_owner(
            bins.path("pg_ctl"),
            [
                "start".as_ref(),
                "-D".as_ref(),
                data.as_os_str(),
                "-l".as_ref(),
                log.as_os_str(),
                "-w".as_ref(),
                "-t".as_ref(),
                timeout.as_ref(),
            ],
            &self.root,
        )?;
        if let Err(e) = check(&out, "pg_ctl start") {
            return Err(e.context(format!(
                "starting the test PostgreSQL cluster in {} failed; end of {}:\n{}",
                data.display(),
                log.display(),
                tail(&log, 30)
            )));
        }
        self.wait_ready(bins, port)?;
        Ok(port)
    }

    /// `pg_isready` over TCP until it answers (the server may still be starting up).
    fn wait_ready(&self, bins: &PgBins, port: u16) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(START_TIMEOUT_SECS.into());
        let port = port.to_string();
        loop {
            let out = Command::new(bins.path("pg_isready"))
                .args(["-q", "-h", "127.0.0.1", "-p", &port, "-U", "postgres", "-t", "5"])
                .stdin(Stdio::null())
                .output()
                .with_context(|| format!("running pg_isready ({}). {INSTALL_HINT}", bins.describe()))?;
            if out.status.success() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!(
                    "the test PostgreSQL cluster in {} is running but not accepting connections on \
                     127.0.0.1:{port}; end of {}:\n{}",
                    self.root.display(),
                    self.log_file().display(),
                    tail(&self.log_file(), 30)
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

struct LockGuard(File);

impl Drop for LockGuard {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

/// Runs a PostgreSQL server tool, through `runuser -u postgres --` when we are root.
fn run_as_pg_owner<I, S>(program: PathBuf, args: I, cwd: &Path) -> Result<Output>
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let as_root = effective_uid()? == 0;
    let mut cmd = if as_root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(&program);
        c
    } else {
        Command::new(&program)
    };
    cmd.args(args)
        // postgres tools fail if they cannot access the current directory
        .current_dir(cwd)
        .env("LC_ALL", "C")
        .stdin(Stdio::null());
    let shown =
        if as_root { format!("runuser -u postgres -- {}", program.display()) } else { program.display().to_string() };
    match cmd.output() {
        Ok(out) => Ok(out),
        Err(e) if e.kind() == ErrorKind::NotFound => Err(anyhow!("`{shown}`: command not found. {INSTALL_HINT}")),
        Err(e) => Err(e).with_context(|| format!("running `{shown}`")),
    }
}

/// Error with the command's stdout/stderr if it failed.
fn check(out: &Output, what: &str) -> Result<()> {
    if out.status.success() {
        return Ok(());
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let mut msg = format!("`{what}` failed ({})", out.status);
    if !stderr.trim().is_empty() {
        msg.push_str(&format!("\nstderr:\n{}", stderr.trim_end()));
    }
    if !stdout.trim().is_empty() {
        msg.push_str(&format!("\nstdout:\n{}", stdout.trim_end()));
    }
    Err(anyhow!(msg))
}

fn tail(path: &Path, lines: usize) -> String {
    match fs::read_to_string(path) {
        Ok(text) => {
            let all: Vec<&str> = text.lines().collect();
            all[all.len().saturating_sub(lines)..].join("\n")
        }
        Err(e) => format!("(cannot read: {e})"),
    }
}

fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("binding 127.0.0.1:0 to find a free port")?;
    Ok(listener.local_addr()?.port())
}

/// Effective uid from /proc/self/status (no libc), falling back to `id -u`.
fn effective_uid() -> Result<u32> {
    // "Uid: real effective saved fs"
    if let Ok(status) = fs::read_to_string("/proc/self/status")
        && let Some(line) = status.lines().find(|l| l.starts_with("Uid:"))
        && let Some(euid) = line.split_whitespace().nth(2).and_then(|s| s.parse().ok())
    {
        return Ok(euid);
    }
    let out = Command::new("id").arg("-u").output().context("running `id -u`")?;
    check(&out, "id -u")?;
    String::from_utf8_lossy(&out.stdout).trim().parse().context("parsing the output of `id -u`")
}

/// `GUILDHALL_TEST_PG_URL_BASE`, split so a database name can be put in.
struct BaseUrl {
    raw: String,
    /// `scheme://authority`
    prefix: String,
    /// `?query` or empty
    query: String,
}

impl BaseUrl {
    fn parse(raw: &str) -> Result<Self> {
        let (scheme, rest) =
            raw.split_once("://").filter(|(s, _)| *s == "postgres" || *s == "postgresql").ok_or_else(|| {
                anyhow!("{URL_BASE_ENV} must look like postgres://user[:password]@host:port, got {raw:?}")
            })?;
        let (before_query, query) = match rest.split_once('?') {
            Some((a, q)) => (a, format!("?{q}")),
            None => (rest, String::new()),
        };
        // drop any database path
        let authority = before_query.split('/').next().unwrap_or_default();
        if authority.is_empty() {
            bail!("{URL_BASE_ENV} has no host: {raw:?}");
        }
        Ok(BaseUrl { raw: raw.to_owned(), prefix: format!("{scheme}://{authority}"), query })
    }

    fn with_db(&self, db: &str) -> String {
        format!("{}/{db}{}", self.prefix, self.query)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_url_variants() {
        let b = BaseUrl::parse("postgres://postgres@127.0.0.1:5433").unwrap();
        assert_eq!(b.with_db("t_1"), "postgres://postgres@127.0.0.1:5433/t_1");
        let b = BaseUrl::parse("postgresql://u:p@h:1/somedb?sslmode=disable").unwrap();
        assert_eq!(b.with_db("x"), "postgresql://u:p@h:1/x?sslmode=disable");
        assert!(BaseUrl::parse("mysql://h").is_err());
    }
}
