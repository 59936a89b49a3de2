//! The OAuth benchmark (issue "Products sign people in"): the token endpoint
//! (`client_credentials`) and introspection under many concurrent clients,
//! for Guildhall and, in the same run on the same machine, for panva's
//! `oidc-provider` (a certified OpenID Provider, `bench/peers/oidc-provider`)
//! configured the same way. Target: Guildhall at least 4x the peer.
//!
//! Run: `cargo build --release -p guildhall -p guildhall-bench && target/release/oauth [SECONDS]`
//! (needs `wrk` and Node.js; installs the peer with `npm ci` on first run).

use anyhow::{Context, bail};
use base64::Engine;
use guildhall_bench::{Server, free_port, start_server, verdict, wait_until_up, wrk};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const CONNECTIONS: u32 = 64;

/// A wrk request function that POSTs a form with HTTP Basic client auth.
fn post_form(path: &str, client_id: &str, secret: &str, body: &str) -> String {
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{client_id}:{secret}"));
    format!(
        "wrk.method = \"POST\"\n\
         wrk.headers[\"Authorization\"] = \"Basic {basic}\"\n\
         wrk.headers[\"Content-Type\"] = \"application/x-www-form-urlencoded\"\n\
         wrk.body = \"{body}\"\n\
         request = function()\n return wrk.format(nil, \"{path}\")\nend\n"
    )
}

/// One access token from a token endpoint.
async fn token(url: &str, client_id: &str, secret: &str) -> anyhow::Result<String> {
    let res = reqwest::Client::new()
        .post(url)
        .basic_auth(client_id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await?;
    let v: serde_json::Value = res.json().await?;
    v["access_token"].as_str().map(str::to_owned).with_context(|| format!("no token from {url}: {v}"))
}

/// Registers the benchmark's product with the CLI; returns (client_id, secret).
fn register_product(bin: &Path, data: &Path) -> anyhow::Result<(String, String)> {
    let out = Command::new(bin)
        .arg("--data-dir")
        .arg(data)
        .args(["--json", "admin", "product", "create", "--name", "Bench", "--grant-type", "client_credentials"])
        .args(["--scope", "workspaces:read"])
        .output()?;
    if !out.status.success() {
        bail!("product create failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    Ok((
        v["client_id"].as_str().context("client_id")?.to_owned(),
        v["client_secret"].as_str().context("client_secret")?.to_owned(),
    ))
}

fn start_peer(dir: &Path, port: u16, client_id: &str, secret: &str) -> anyhow::Result<Server> {
    if !dir.join("node_modules/oidc-provider").exists() {
        let ok = Command::new("npm").args(["ci", "--no-audit", "--no-fund"]).current_dir(dir).status()?.success();
        if !ok {
            bail!("npm ci failed in {}", dir.display());
        }
    }
    let child = Command::new("node")
        .arg("server.mjs")
        .args([&port.to_string(), client_id, secret])
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting node (install Node.js)")?;
    Ok(Server(child))
}

/// Measures one endpoint on both servers, one after the other; returns
/// (guildhall, peer) requests/s after printing them.
fn compare(what: &str, ours: (u16, String), peer: (u16, String), seconds: u64, dir: &Path) -> anyhow::Result<f64> {
    let (g, g99, g_out) = wrk(ours.0, &ours.1, seconds, CONNECTIONS, dir)?;
    let (p, p99, p_out) = wrk(peer.0, &peer.1, seconds, CONNECTIONS, dir)?;
    for (name, out) in [("guildhall", &g_out), ("oidc-provider", &p_out)] {
        let non2xx = out.lines().find_map(|l| l.strip_prefix("NON2XX ")).unwrap_or("?").trim().to_owned();
        if non2xx != "0" {
            bail!("{name} answered {non2xx} non-2xx responses to {what}:\n{out}");
        }
    }
    let ratio = g / p;
    println!(
        "{what}, {CONNECTIONS} connections: guildhall {g:.0}/s (p99 {g99:.2} ms), oidc-provider {p:.0}/s (p99 {p99:.2} ms), ratio {ratio:.1}x (target ≥ 4x: {})",
        verdict(ratio >= 4.0)
    );
    Ok(ratio)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let bin = root.join("target/release/guildhall");
    let seconds: u64 = std::env::args().nth(1).map(|s| s.parse()).transpose()?.unwrap_or(10);
    let dir = tempfile::tempdir()?;
    let (client_id, secret) = register_product(&bin, dir.path())?;
    let port = free_port()?;
    let _server = start_server(&bin, dir.path(), port).await?;
    let peer_port = free_port()?;
    let _peer = start_peer(&root.join("bench/peers/oidc-provider"), peer_port, &client_id, &secret)?;
    wait_until_up(&format!("http://127.0.0.1:{peer_port}/.well-known/openid-configuration")).await?;

    let ours = format!("http://127.0.0.1:{port}");
    let theirs = format!("http://127.0.0.1:{peer_port}");
    let token_body = "grant_type=client_credentials";
    let ours_token = post_form("/oauth2/token", &client_id, &secret, token_body);
    let peer_token = post_form("/token", &client_id, &secret, token_body);
    // Warm both up.
    wrk(port, &ours_token, 2, 16, dir.path())?;
    wrk(peer_port, &peer_token, 2, 16, dir.path())?;
    compare("token (client_credentials)", (port, ours_token), (peer_port, peer_token), seconds, dir.path())?;

    let ours_access = token(&format!("{ours}/oauth2/token"), &client_id, &secret).await?;
    let peer_access = token(&format!("{theirs}/token"), &client_id, &secret).await?;
    let ours_introspect = post_form("/oauth2/introspect", &client_id, &secret, &format!("token={ours_access}"));
    let peer_introspect = post_form("/token/introspection", &client_id, &secret, &format!("token={peer_access}"));
    compare("introspection", (port, ours_introspect), (peer_port, peer_introspect), seconds, dir.path())?;
    Ok(())
}
