//! A real DNS server for tests: `peers/dns_server.py` (Python's dnslib),
//! answering TXT queries on 127.0.0.1 from a zone file it re-reads on every
//! query, so a test publishes a record by calling `set_txt`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Mutex;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// A running DNS server; killed when dropped.
pub struct DnsServer {
    child: Child,
    pub addr: SocketAddr,
    zone: PathBuf,
    records: Mutex<BTreeMap<String, Vec<String>>>,
    _dir: tempfile::TempDir,
}

impl DnsServer {
    /// Starts the server on a free port (retrying with another port when
    /// the one picked was taken meanwhile, by UDP or TCP).
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory for the DNS zone");
        let zone = dir.path().join("zone.json");
        std::fs::write(&zone, "{}").expect("writing the empty DNS zone");
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("peers/dns_server.py");
        for _ in 0..5 {
            let port = std::net::UdpSocket::bind("127.0.0.1:0")
                .and_then(|s| s.local_addr())
                .expect("a free UDP port on 127.0.0.1")
                .port();
            let mut child = Command::new(crate::smtp::python())
                .arg(&script)
                .arg(port.to_string())
                .arg(&zone)
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .expect("starting the test DNS server (python with dnslib: run scripts/test once)");
            let stdout = child.stdout.take().expect("the DNS server's piped stdout");
            let mut lines = BufReader::new(stdout).lines();
            let ready = tokio::time::timeout(std::time::Duration::from_secs(20), lines.next_line()).await;
            if matches!(ready, Ok(Ok(Some(ref l))) if l == "ready") {
                return Self {
                    child,
                    addr: SocketAddr::from(([127, 0, 0, 1], port)),
                    zone,
                    records: Mutex::new(BTreeMap::new()),
                    _dir: dir,
                };
            }
            let _ = child.start_kill();
        }
        panic!("the test DNS server did not start (is dnslib installed in .venv-test? run scripts/test)");
    }

    /// Publishes (replacing) the TXT strings of `name`; an empty list keeps
    /// the name with no TXT records.
    pub fn set_txt(&self, name: &str, values: &[&str]) {
        let mut records = self.records.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        records.insert(name.to_lowercase(), values.iter().map(|v| (*v).to_owned()).collect());
        let tmp = self.zone.with_extension("tmp");
        let json = serde_json::to_string(&*records).expect("the zone serialises");
        std::fs::write(&tmp, json).expect("writing the DNS zone");
        std::fs::rename(&tmp, &self.zone).expect("publishing the DNS zone");
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}
