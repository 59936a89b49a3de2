//! The permission-check benchmark (issue "workspaces"): a workspace with
//! 10,000 members, 200 groups and 1,000 repositories.
//!
//! 1. In-process: `PermissionIndex::permission` over random (member,
//!    repository) pairs, on one thread. Target: ≥ 1,000,000 checks/s.
//! 2. Over HTTP: `GET /api/v1/workspaces/{ws}/repositories/{repo}/permissions/{user}`
//!    against the release server, with `wrk` (random pairs per request) on the
//!    same machine. Target: ≥ 25,000 checks/s with p99 < 10 ms.
//!
//! Run: `cargo build --release -p guildhall -p guildhall-bench && target/release/permissions`
//! (needs `wrk`: `apt-get install wrk`).

use anyhow::Context;
use guildhall_app::ports::{Audit, NewAccessToken, NewAccount, NewGroup, NewRepository, NewWorkspace, Store};
use guildhall_bench::{free_port, start_server, verdict, wrk};
use guildhall_core::accounts::{DisplayName, Email, Username};
use guildhall_core::tokens::SecretToken;
use guildhall_core::workspaces::{Permission, PermissionIndex, Plan, Slug};
use guildhall_core::{AccessTokenId, AccountId, GroupId, RepositoryId, Timestamp, WorkspaceId};
use std::path::PathBuf;
use std::time::Instant;

const MEMBERS: usize = 10_000;
const GROUPS: usize = 200;
const REPOS: usize = 1_000;

/// A small deterministic generator, so every run seeds the same workspace.
struct Lcg(u64);
impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        usize::try_from(self.0 >> 33).unwrap_or(0) % n
    }
    fn permission(&mut self) -> Permission {
        Permission::ALL[self.below(4)]
    }
}

fn now() -> Timestamp {
    Timestamp::from_offset_datetime(time_now())
}

fn time_now() -> ::time::OffsetDateTime {
    ::time::OffsetDateTime::now_utc()
}

fn audit(ws: WorkspaceId) -> Audit {
    Audit {
        workspace: Some(ws),
        actor: None,
        actor_label: "bench".into(),
        action: "bench.seed".into(),
        target: "-".into(),
        detail: None,
        ip: None,
        at: now(),
        data: None,
    }
}

fn slug(s: &str) -> anyhow::Result<Slug> {
    Slug::parse(s).map_err(|e| anyhow::anyhow!("{e}"))
}

/// Seeds the workspace and returns a bearer token of a member.
async fn seed(store: &dyn Store) -> anyhow::Result<String> {
    let mut rng = Lcg(7);
    let mut accounts = Vec::with_capacity(MEMBERS);
    for i in 0..MEMBERS {
        let new = NewAccount {
            id: AccountId::from_uuid(uuid::Uuid::now_v7()),
            email: Email::parse(&format!("user{i}@example.com")).map_err(|e| anyhow::anyhow!("{e}"))?,
            username: Username::parse(&format!("user{i}")).map_err(|e| anyhow::anyhow!("{e}"))?,
            display_name: DisplayName::parse(&format!("User {i}")).map_err(|e| anyhow::anyhow!("{e}"))?,
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
        slug: slug("bench")?,
        name: "Bench".into(),
        plan: Plan::Paid,
        creator: accounts[0],
        admins_group: GroupId::from_uuid(uuid::Uuid::now_v7()),
        now: now(),
    };
    store.create_workspace(&new, &audit(ws)).await?;
    let mut groups = Vec::with_capacity(GROUPS);
    for g in 0..GROUPS {
        // Most groups grant nothing by default; a few read everything.
        let default_permission = if g % 20 == 0 { Permission::Read } else { Permission::None };
        let new = NewGroup {
            id: GroupId::from_uuid(uuid::Uuid::now_v7()),
            slug: slug(&format!("g{g}"))?,
            name: format!("Group {g}"),
            default_permission,
        };
        groups.push(store.create_group(ws, &new, &audit(ws)).await?.id);
    }
    let mut repos = Vec::with_capacity(REPOS);
    for r in 0..REPOS {
        let new = NewRepository {
            id: RepositoryId::from_uuid(uuid::Uuid::now_v7()),
            slug: slug(&format!("r{r}"))?,
            name: format!("repo {r}"),
            private: true,
        };
        repos.push(store.create_repository(ws, &new, &audit(ws)).await?.id);
    }
    for (i, a) in accounts.iter().enumerate().skip(1) {
        for _ in 0..1 + i % 3 {
            store.add_member(groups[rng.below(GROUPS)], *a, &audit(ws)).await?;
        }
    }
    for g in &groups {
        for _ in 0..10 {
            store.set_group_permission(*g, repos[rng.below(REPOS)], Some(rng.permission()), &audit(ws)).await?;
        }
    }
    for _ in 0..2_000 {
        store
            .set_grant(repos[rng.below(REPOS)], accounts[rng.below(MEMBERS)], Some(rng.permission()), &audit(ws))
            .await?;
    }
    let mut bytes = [0u8; 32];
    bytes[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    bytes[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    let secret = SecretToken::from_random_bytes(bytes);
    let token = NewAccessToken {
        id: AccessTokenId::from_uuid(uuid::Uuid::now_v7()),
        account: accounts[1],
        name: "bench".into(),
        token_hash: secret.hash(),
        scopes: vec!["workspaces:read".into()],
        now: now(),
        expires_at: None,
    };
    store.create_access_token(&token).await?;
    Ok(secret.expose().to_owned())
}

/// In-process checks per second on one thread.
async fn in_process(store: &dyn Store) -> anyhow::Result<f64> {
    let ws = store.workspace_version(&slug("bench")?).await?.context("workspace")?.0;
    let snapshot = store.permission_snapshot(ws).await?.context("snapshot")?;
    let index = PermissionIndex::build(snapshot.data);
    let users: Vec<String> = (0..MEMBERS).map(|i| format!("user{i}")).collect();
    let repos: Vec<String> = (0..REPOS).map(|r| format!("r{r}")).collect();
    let mut rng = Lcg(99);
    let n = 2_000_000;
    let pairs: Vec<(usize, usize)> = (0..n).map(|_| (rng.below(MEMBERS), rng.below(REPOS))).collect();
    let mut writes = 0usize;
    let start = Instant::now();
    for (u, r) in &pairs {
        if index.permission(&users[*u], &repos[*r]) >= Some(Permission::Write) {
            writes += 1;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    std::hint::black_box(writes);
    Ok(n as f64 / secs)
}

/// The wrk request function of the check: a random (user, repo) each time.
fn check_request(token: &str) -> String {
    format!(
        "wrk.headers[\"Authorization\"] = \"Bearer {token}\"\n\
         request = function()\n\
           local path = \"/api/v1/workspaces/bench/repositories/r\" .. math.random(0, {r}) .. \"/permissions/user\" .. math.random(0, {m})\n\
           return wrk.format(\"GET\", path)\n\
         end\n",
        r = REPOS - 1,
        m = MEMBERS - 1,
    )
}

/// The baseline: `/healthz`, the cheapest route through the same stack.
const HEALTHZ_REQUEST: &str = "request = function()\n return wrk.format(\"GET\", \"/healthz\")\nend\n";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let bin = root.join("target/release/guildhall");
    let seconds: u64 = std::env::args().nth(1).map(|s| s.parse()).transpose()?.unwrap_or(10);
    let dir = tempfile::tempdir()?;
    let db = format!("sqlite://{}", dir.path().join("guildhall.db").display());
    let store = guildhall_store_sqlite::connect(&db).await?;
    store.migrate().await?;
    let t = Instant::now();
    let token = seed(&store).await?;
    println!("seeded {MEMBERS} members, {GROUPS} groups, {REPOS} repositories in {:.1} s", t.elapsed().as_secs_f64());
    let rate = in_process(&store).await?;
    println!("in-process check: {:.0} checks/s (target ≥ 1,000,000: {})", rate, verdict(rate >= 1_000_000.0));
    store.pool().close().await;

    let port = free_port()?;
    let _server = start_server(&bin, dir.path(), port).await?;
    // Warm up (builds the index once), then measure at several concurrencies,
    // each next to the `/healthz` baseline on the same server.
    let check = check_request(&token);
    wrk(port, &check, 2, 16, dir.path())?;
    for connections in [16, 64] {
        let (base, _, _) = wrk(port, HEALTHZ_REQUEST, seconds, connections, dir.path())?;
        let (rps, p99, text) = wrk(port, &check, seconds, connections, dir.path())?;
        let non2xx = text.lines().find_map(|l| l.strip_prefix("NON2XX ")).unwrap_or("?").trim().to_owned();
        println!(
            "HTTP check, {connections} connections: {rps:.0} checks/s, p99 {p99:.2} ms, non-2xx {non2xx} (target ≥ 25,000/s and p99 < 10 ms: {}); /healthz {base:.0}/s, ratio {:.2}",
            verdict(rps >= 25_000.0 && p99 < 10.0),
            rps / base
        );
    }
    Ok(())
}
