//! The directory-sync benchmark (issue "Directory sync"): a workspace with
//! 100,000 members, each added through the store (so each addition also
//! writes its audit row and its event, as in production).
//!
//! 1. SCIM: list all 100,000 users with `GET /scim/v2/workspaces/{ws}/Users`
//!    in pages of 1,000 (`startIndex`, `count`), one page after another, as a
//!    mirroring application does. Target: under 5 s in all.
//! 2. Events: follow the workspace's event log from cursor 0 to the end with
//!    `GET /api/v1/workspaces/{ws}/events?after=…` (pages of 1,000, then of
//!    10,000). Target: 100,000 events in under 2 s.
//!
//! Both against the release server on a SQLite database (the zero-config
//! default), with a directory token. Run:
//! `cargo build --release -p guildhall -p guildhall-bench && target/release/directory [MEMBERS]`
//!
//! With `BENCH_HOLD=1` it prints the server's address and the token after
//! seeding and keeps the server up for 30 minutes instead of measuring: to
//! profile a page (`perf record -p …` while `curl` asks for it).

use anyhow::{Context, bail};
use guildhall_app::ports::{Audit, DirectoryToken, EventScope, NewAccount, NewGroup, NewWorkspace, Store};
use guildhall_bench::{free_port, start_server, verdict};
use guildhall_core::accounts::{DisplayName, Email, Username};
use guildhall_core::tokens::SecretToken;
use guildhall_core::workspaces::{Permission, Plan, Slug};
use guildhall_core::{AccountId, GroupId, Timestamp, WorkspaceId};
use std::path::PathBuf;
use std::time::Instant;

const GROUPS: usize = 50;

fn now() -> Timestamp {
    Timestamp::from_offset_datetime(::time::OffsetDateTime::now_utc())
}

fn audit(ws: WorkspaceId) -> Audit {
    Audit {
        workspace: Some(ws),
        actor: None,
        actor_label: "bench".into(),
        action: "group.member_added".into(),
        target: "bench".into(),
        detail: None,
        ip: None,
        at: now(),
        data: None,
    }
}

fn parse<T, E: std::fmt::Display>(r: Result<T, E>) -> anyhow::Result<T> {
    r.map_err(|e| anyhow::anyhow!("{e}"))
}

/// Seeds the workspace; returns a directory token for it.
async fn seed(store: &dyn Store, members: usize) -> anyhow::Result<String> {
    let mut accounts = Vec::with_capacity(members);
    for i in 0..members {
        let new = NewAccount {
            id: AccountId::from_uuid(uuid::Uuid::now_v7()),
            email: parse(Email::parse(&format!("user{i}@example.com")))?,
            username: parse(Username::parse(&format!("user{i}")))?,
            display_name: parse(DisplayName::parse(&format!("User {i}")))?,
            password_hash: None,
            email_verified: true,
            is_operator: false,
            must_change_password: false,
            identity: None,
            now: now(),
        };
        accounts.push(store.create_account(&new, None).await?.id);
    }
    let ws = WorkspaceId::from_uuid(uuid::Uuid::now_v7());
    let new = NewWorkspace {
        id: ws,
        slug: parse(Slug::parse("bench"))?,
        name: "Bench".into(),
        plan: Plan::Paid,
        creator: accounts[0],
        admins_group: GroupId::from_uuid(uuid::Uuid::now_v7()),
        now: now(),
    };
    store.create_workspace(&new, &audit(ws)).await?;
    let mut groups = Vec::with_capacity(GROUPS);
    for g in 0..GROUPS {
        let new = NewGroup {
            id: GroupId::from_uuid(uuid::Uuid::now_v7()),
            slug: parse(Slug::parse(&format!("g{g}")))?,
            name: format!("Group {g}"),
            default_permission: Permission::None,
        };
        groups.push(store.create_group(ws, &new, &audit(ws)).await?.id);
    }
    // One membership (and so one event) per member.
    for (i, a) in accounts.iter().enumerate().skip(1) {
        store.add_member(groups[i % GROUPS], *a, &audit(ws)).await?;
    }
    let mut bytes = [0u8; 32];
    bytes[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    bytes[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    let secret = SecretToken::from_random_bytes(bytes);
    let token = DirectoryToken {
        id: uuid::Uuid::now_v7(),
        scope: EventScope::Workspace(ws),
        name: "bench".into(),
        created_by: "bench".into(),
        created_at: now(),
        last_used_at: None,
    };
    let mut a = audit(ws);
    a.action = "directory_token.created".into();
    store.create_directory_token(&token, &secret.hash(), &a).await?;
    Ok(secret.expose().to_owned())
}

async fn get(http: &reqwest::Client, url: &str, token: &str) -> anyhow::Result<serde_json::Value> {
    let res = http.get(url).bearer_auth(token).send().await?;
    if !res.status().is_success() {
        bail!("{url}: {} {}", res.status(), res.text().await?);
    }
    Ok(res.json().await?)
}

/// Lists every user in pages of `count`; returns (users, seconds).
async fn list_users(http: &reqwest::Client, base: &str, token: &str, count: usize) -> anyhow::Result<(usize, f64)> {
    let start = Instant::now();
    let mut seen = 0usize;
    loop {
        let page =
            get(http, &format!("{base}/scim/v2/workspaces/bench/Users?startIndex={}&count={count}", seen + 1), token)
                .await?;
        let n = page["Resources"].as_array().context("Resources")?.len();
        let total = page["totalResults"].as_u64().context("totalResults")? as usize;
        seen += n;
        if n == 0 || seen >= total {
            return Ok((seen, start.elapsed().as_secs_f64()));
        }
    }
}

/// Follows the event log from 0 to the end; returns (events, seconds).
async fn follow(http: &reqwest::Client, base: &str, token: &str, limit: usize) -> anyhow::Result<(usize, f64)> {
    let start = Instant::now();
    let (mut cursor, mut seen) = (0i64, 0usize);
    loop {
        let page =
            get(http, &format!("{base}/api/v1/workspaces/bench/events?after={cursor}&limit={limit}"), token).await?;
        seen += page["events"].as_array().context("events")?.len();
        cursor = page["next"].as_i64().context("next")?;
        if !page["more"].as_bool().context("more")? {
            return Ok((seen, start.elapsed().as_secs_f64()));
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let bin = root.join("target/release/guildhall");
    let members: usize = std::env::args().nth(1).map(|s| s.parse()).transpose()?.unwrap_or(100_000);
    let dir = tempfile::tempdir()?;
    let db = format!("sqlite://{}", dir.path().join("guildhall.db").display());
    let store = guildhall_store_sqlite::connect(&db).await?;
    store.migrate().await?;
    let t = Instant::now();
    let token = seed(&store, members).await?;
    println!("seeded {members} members in {GROUPS} groups in {:.1} s", t.elapsed().as_secs_f64());
    store.pool().close().await;

    let port = free_port()?;
    let _server = start_server(&bin, dir.path(), port).await?;
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    if std::env::var_os("BENCH_HOLD").is_some() {
        // Not measuring: the seeded server, for a profiler.
        println!("HOLD {base} {token}");
        tokio::time::sleep(std::time::Duration::from_secs(1800)).await;
        return Ok(());
    }
    // One warm-up pass of each, then the measured runs.
    list_users(&http, &base, &token, 1000).await?;
    follow(&http, &base, &token, 1000).await?;
    for run in 1..=3 {
        let (users, secs) = list_users(&http, &base, &token, 1000).await?;
        println!(
            "run {run}: SCIM list of {users} users in pages of 1,000: {secs:.2} s, {:.0} users/s (target < 5 s for 100,000: {})",
            users as f64 / secs,
            verdict(users >= members && secs < 5.0 * members as f64 / 100_000.0)
        );
        for limit in [1000, 10_000] {
            let (events, secs) = follow(&http, &base, &token, limit).await?;
            println!(
                "run {run}: followed {events} events from cursor 0 in pages of {limit}: {secs:.2} s, {:.0} events/s (target < 2 s for 100,000: {})",
                events as f64 / secs,
                verdict(events >= members && secs < 2.0 * events as f64 / 100_000.0)
            );
        }
    }
    Ok(())
}
