//! The binary as an operator runs it.

use guildhall_testkit::{Backend, fresh_database_url};
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn guildhall() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_guildhall"));
    // Cheap hashing, set as an operator would.
    c.env("GUILDHALL_ARGON2__MEMORY_KIB", "256").env("GUILDHALL_ARGON2__ITERATIONS", "1").env("RUST_LOG", "info");
    c
}

fn run(args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
    let mut child =
        guildhall().args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn admin_commands_manage_accounts(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_database_url(backend, dir.path()).await;
    let data = dir.path().to_str().unwrap();
    // Global options before the subcommand…
    let (ok, out, err) = run(
        &[
            "--data-dir",
            data,
            "--database-url",
            &db,
            "admin",
            "account",
            "create",
            "--email",
            "Ada@Example.com",
            "--username",
            "ada",
            "--password-stdin",
            "--verified",
            "--json",
        ],
        Some("analytical engine\n"),
    );
    assert!(ok, "{err}");
    let created: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(created["username"], "ada");
    assert_eq!(created["email"], "Ada@Example.com");
    assert_eq!(created["email_verified"], true);
    assert_eq!(created["status"], "active");
    // …or after it.
    let (ok, out, _) = run(&["admin", "account", "show", "ada", "--data-dir", data, "--database-url", &db], None);
    assert!(ok);
    assert!(out.contains("username:      ada") && out.contains("(verified)"), "{out}");
    let (ok, out, _) =
        run(&["admin", "account", "deactivate", "ada", "--json", "--database-url", &db, "--data-dir", data], None);
    assert!(ok);
    assert_eq!(serde_json::from_str::<serde_json::Value>(&out).unwrap()["status"], "deactivated");
    let (ok, out, _) =
        run(&["admin", "account", "reactivate", "ada", "--json", "--database-url", &db, "--data-dir", data], None);
    assert!(ok);
    assert_eq!(serde_json::from_str::<serde_json::Value>(&out).unwrap()["status"], "active");

    // Bad input: a clear message, a failure exit, nothing created.
    let (ok, _, err) = run(
        &[
            "admin",
            "account",
            "create",
            "--email",
            "nope",
            "--username",
            "bob",
            "--password-stdin",
            "--database-url",
            &db,
            "--data-dir",
            data,
        ],
        Some("difference engine"),
    );
    assert!(!ok);
    assert!(err.contains("email: Enter an email address like"), "{err}");
    let (ok, _, err) = run(
        &[
            "admin",
            "account",
            "create",
            "--email",
            "ada@example.com",
            "--username",
            "bob",
            "--password-stdin",
            "--database-url",
            &db,
            "--data-dir",
            data,
        ],
        Some("difference engine"),
    );
    assert!(!ok);
    assert!(err.contains("email"), "{err}");
    let (ok, _, err) = run(&["admin", "account", "show", "bob", "--database-url", &db, "--data-dir", data], None);
    assert!(!ok);
    assert!(err.contains("no such account"), "{err}");
}

#[tokio::test]
async fn admin_commands_manage_accounts_on_sqlite() {
    admin_commands_manage_accounts(Backend::Sqlite).await;
}

#[tokio::test]
async fn admin_commands_manage_accounts_on_postgres() {
    admin_commands_manage_accounts(Backend::Postgres).await;
}

#[test]
fn an_unknown_database_scheme_is_an_error_not_a_new_database() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, _, err) =
        run(&["migrate", "--data-dir", dir.path().to_str().unwrap(), "--database-url", "mysql://localhost/x"], None);
    assert!(!ok);
    assert!(err.contains("unsupported database URL scheme"), "{err}");
    let (ok, out, err) = run(&["migrate", "--data-dir", dir.path().to_str().unwrap()], None);
    assert!(ok, "{err}");
    assert!(out.contains("Migrations applied"));
    assert!(dir.path().join("guildhall.db").exists());
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `guildhall serve` with no flags in an empty folder: SQLite under
/// `./guildhall-data`, the operator's password printed once, and no secret
/// in the logs while people sign up, verify, reset and sign in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_with_no_flags_runs_on_sqlite_and_logs_no_secrets() {
    let cwd = tempfile::tempdir().unwrap();
    let port = free_port();
    let log = cwd.path().join("stderr.log");
    let mut child = guildhall()
        .arg("serve")
        .current_dir(cwd.path())
        // Not a flag: the environment layer, so this test can pick a free port.
        .env("GUILDHALL_LISTEN", format!("127.0.0.1:{port}"))
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let start = Instant::now();
    while http.get(format!("{base}/readyz")).send().await.map(|r| r.status() != 200).unwrap_or(true) {
        assert!(start.elapsed() < Duration::from_secs(30), "server did not become ready");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(cwd.path().join("guildhall-data/guildhall.db").exists());

    let browser = guildhall_testkit::Browser {
        http: reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        base: base.clone(),
    };
    let password = "analytical engine";
    browser
        .post_form(
            "/signup",
            &[("email", "ada@example.com"), ("username", "ada"), ("display_name", "Ada"), ("password", password)],
        )
        .await;
    assert_eq!(
        browser.post_form("/login", &[("email", "ada@example.com"), ("password", password)]).await.status(),
        303
    );
    browser.post_form("/password/forgot", &[("email", "ada@example.com")]).await;
    let outbox: Vec<String> = std::fs::read_dir(cwd.path().join("guildhall-data/outbox"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    assert_eq!(outbox.len(), 2);
    let tokens: Vec<String> =
        outbox.iter().filter_map(|m| m.split("token=").nth(1)).map(|t| t[..43].to_owned()).collect();
    assert_eq!(tokens.len(), 2);

    child.kill().unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("one-time password: "), "{stdout}");
    assert!(stdout.contains(&format!("listening on {base}")), "{stdout}");
    let operator_password = stdout.split("one-time password: ").nth(1).unwrap().lines().next().unwrap();
    let logs = std::fs::read_to_string(&log).unwrap();
    assert!(logs.contains("mail written to outbox"), "{logs}");
    for secret in tokens.iter().map(String::as_str).chain([password, operator_password]) {
        assert!(!logs.contains(secret), "a secret reached the log");
    }
}

/// `guildhall admin token create` prints a working token once (JSON with
/// `--json`); unknown accounts and scopes are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_creates_tokens_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let (ok, _, err) = run(
        &[
            "admin",
            "account",
            "create",
            "--email",
            "ada@example.com",
            "--username",
            "ada",
            "--password-stdin",
            "--verified",
            "--data-dir",
            data,
        ],
        Some("analytical engine"),
    );
    assert!(ok, "{err}");
    let (ok, out, err) = run(
        &[
            "admin",
            "token",
            "create",
            "--username",
            "ada",
            "--scope",
            "workspaces:read",
            "--scope",
            "workspaces:admin",
            "--json",
            "--data-dir",
            data,
        ],
        None,
    );
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["scopes"], serde_json::json!(["workspaces:read", "workspaces:admin"]));
    let token = v["token"].as_str().unwrap().to_owned();
    assert_eq!(token.len(), 43);
    let (ok, text, _) =
        run(&["admin", "token", "create", "--username", "ada", "--scope", "workspaces:read", "--data-dir", data], None);
    assert!(ok && text.contains("shown only now"), "{text}");
    let (ok, _, err) = run(
        &["admin", "token", "create", "--username", "nobody", "--scope", "workspaces:read", "--data-dir", data],
        None,
    );
    assert!(!ok && err.contains("no such account"), "{err}");
    let (ok, _, err) =
        run(&["admin", "token", "create", "--username", "ada", "--scope", "root", "--data-dir", data], None);
    assert!(!ok && err.contains("Unknown scope"), "{err}");

    // The token works against a server on the same data.
    let mut settings = guildhall_testkit::test_settings(Backend::Sqlite, dir.path()).await;
    settings.database_url = None;
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let server = guildhall::startup::Server::build(&settings, guildhall::startup::system_clock()).await.unwrap();
    let base = format!("http://{}", server.local_addr());
    tokio::spawn(server.run(std::future::pending()));
    let res = reqwest::Client::new().get(format!("{base}/api/v1/account")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<serde_json::Value>().await.unwrap()["username"], "ada");
}

/// The CLI writes to the database of a running server; the server follows
/// the change feed, so a deactivated account's warm token stops working.
async fn a_deactivation_from_the_command_line_reaches_the_running_server(backend: Backend) {
    let app = guildhall_testkit::spawn_app(backend).await;
    let bob = app.user("bob").await;
    assert_eq!(bob.get("/workspaces").await.0, 200, "warming bob's token");
    let db = app.settings.database_url.as_ref().unwrap().0.clone();
    let data = app.data_dir.to_str().unwrap().to_owned();
    let (ok, _, err) =
        run(&["admin", "account", "deactivate", "bob", "--database-url", &db, "--data-dir", &data], None);
    assert!(ok, "{err}");
    guildhall_testkit::eventually("the server refuses the deactivated account's token", || async {
        bob.get("/workspaces").await.0 == 401
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deactivation_from_the_command_line_reaches_the_running_server_on_sqlite() {
    a_deactivation_from_the_command_line_reaches_the_running_server(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deactivation_from_the_command_line_reaches_the_running_server_on_postgres() {
    a_deactivation_from_the_command_line_reaches_the_running_server(Backend::Postgres).await;
}

/// `admin product create` registers a product whose printed credentials work
/// at the token endpoint; bad input is refused with a message naming the field.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_registers_products_from_the_command_line() {
    let app = guildhall_testkit::spawn_app(Backend::Sqlite).await;
    let db = app.settings.database_url.as_ref().unwrap().0.clone();
    let data = app.data_dir.to_str().unwrap().to_owned();
    let common = ["--database-url", db.as_str(), "--data-dir", data.as_str(), "--json", "admin", "product", "create"];
    let mut args = common.to_vec();
    args.extend(["--name", "Billing", "--grant-type", "client_credentials", "--scope", "workspaces:read"]);
    let (ok, out, err) = run(&args, None);
    assert!(ok, "{err}");
    let created: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let (id, secret) = (created["client_id"].as_str().unwrap(), created["client_secret"].as_str().unwrap());
    let res = reqwest::Client::new()
        .post(app.url("/oauth2/token"))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials"), ("scope", "workspaces:read")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let token: serde_json::Value = res.json().await.unwrap();
    assert_eq!(token["scope"], "workspaces:read");
    assert!(token.get("id_token").is_none(), "client_credentials issued an ID token");
    // Bad input: a clear message and a failure exit.
    for (bad, says) in [
        (vec!["--name", "X", "--redirect-uri", "http://evil.example.com/cb"], "redirect_uris"),
        (vec!["--name", "X", "--public", "--grant-type", "client_credentials"], "grant_types"),
        (vec!["--name", "X", "--redirect-uri", "https://x.example.com/cb", "--scope", "root"], "scopes"),
        (vec!["--name", "X"], "redirect_uris"),
    ] {
        let mut args = common.to_vec();
        args.extend(bad);
        let (ok, _, err) = run(&args, None);
        assert!(!ok && err.contains(says), "{err}");
    }
}

/// `admin workspace unlink` is the only way back from a link, and is audited
/// with its reason in both logs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_alone_unlinks_a_workspace_with_a_reason() {
    let app = guildhall_testkit::spawn_app(Backend::Sqlite).await;
    app.account("ada").await;
    let ada = app.api_as("ada", &["workspaces:admin", "orgs:admin"]).await;
    ada.post("/orgs", serde_json::json!({"slug": "acme-org", "name": "Acme"})).await;
    ada.post("/workspaces", serde_json::json!({"slug": "acme", "name": "Acme", "plan": "paid"})).await;
    let (status, _) = ada.post("/orgs/acme-org/linked-workspaces", serde_json::json!({"workspace": "acme"})).await;
    assert_eq!(status, 201);
    let db = app.settings.database_url.as_ref().unwrap().0.clone();
    let data = app.data_dir.to_str().unwrap().to_owned();
    let unlink = |ws: &str, reason: Option<&str>| {
        let mut args =
            vec!["--database-url", db.as_str(), "--data-dir", data.as_str(), "admin", "workspace", "unlink", ws];
        if let Some(r) = reason {
            args.extend(["--reason", r]);
        }
        run(&args.iter().map(|s| &**s).collect::<Vec<_>>(), None)
    };
    let (ok, _, _) = unlink("acme", None);
    assert!(!ok, "unlinked without a reason");
    let (ok, _, err) = unlink("nope", Some("typo"));
    assert!(!ok && err.contains("no such workspace"), "{err}");
    let (ok, out, err) = unlink("acme", Some("Sold to another company (ticket 42)"));
    assert!(ok, "{err}");
    assert!(out.contains("no longer linked"), "{out}");
    guildhall_testkit::eventually("the server sees the unlink", || async {
        ada.get("/workspaces/acme").await.1["organization"].is_null()
    })
    .await;
    let entry = &ada.get("/workspaces/acme/audit").await.1["entries"][0];
    assert_eq!(
        (entry["action"].as_str(), entry["detail"].as_str()),
        (Some("workspace.unlinked"), Some("Sold to another company (ticket 42)"))
    );
    assert_eq!(ada.get("/orgs/acme-org/audit").await.1["entries"][0]["action"], "workspace.unlinked");
    let (ok, _, err) = unlink("acme", Some("again"));
    assert!(!ok && err.contains("not linked"), "{err}");
}

/// A `guildhall serve` process, killed when dropped.
struct Node(std::process::Child);

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Mails with this subject in the `.eml` files under `dir/outbox`.
fn outbox_count(dir: &std::path::Path, subject: &str) -> usize {
    let Ok(entries) = std::fs::read_dir(dir.join("outbox")) else { return 0 };
    entries
        .filter_map(Result::ok)
        .filter(|e| std::fs::read_to_string(e.path()).is_ok_and(|m| m.contains(subject)))
        .count()
}

/// The linking deadline on a multi-node PostgreSQL deployment: two real
/// `guildhall serve` processes run the job every second at the same time;
/// every eligible workspace gets exactly one org, its admins are told once,
/// nothing else changes, and running the job again does nothing. (The
/// per-workspace transaction is raced directly in the store conformance.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_linking_deadline_links_each_paid_workspace_exactly_once_across_nodes() {
    use serde_json::json;
    let app = guildhall_testkit::spawn_app(Backend::Postgres).await;
    app.account("ada").await;
    app.account("bob").await;
    let ada = app.api_as("ada", &["workspaces:admin", "orgs:admin"]).await;
    const PAID: usize = 6;
    for i in 0..PAID {
        ada.post("/workspaces", json!({"slug": format!("ws{i}"), "name": format!("Team {i}"), "plan": "paid"})).await;
    }
    ada.put("/workspaces/ws0/groups/administrators/members/bob", json!({})).await;
    ada.post("/workspaces", json!({"slug": "free", "name": "Free"})).await;
    ada.post("/workspaces", json!({"slug": "mine", "name": "Mine", "plan": "paid"})).await;
    ada.post("/orgs", json!({"slug": "manual", "name": "Manual"})).await;
    assert_eq!(ada.post("/orgs/manual/linked-workspaces", json!({"workspace": "mine"})).await.0, 201);
    // An org already holds the slug "ws5": that workspace's org is "ws5-org".
    ada.post("/orgs", json!({"slug": "ws5", "name": "Squatter"})).await;

    let db = app.settings.database_url.as_ref().unwrap().0.clone();
    let key = app.data_dir.join("master.key");
    let dirs: Vec<tempfile::TempDir> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    let _nodes: Vec<Node> = dirs
        .iter()
        .map(|d| {
            let child = guildhall()
                .args([
                    "--data-dir",
                    d.path().to_str().unwrap(),
                    "--database-url",
                    &db,
                    "serve",
                    "--listen",
                    "127.0.0.1:0",
                ])
                .env("GUILDHALL_LINKING_JOB_INTERVAL_SECS", "1")
                .env("GUILDHALL_MASTER_KEY_FILE", &key)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            Node(child)
        })
        .collect();
    let data = app.data_dir.to_str().unwrap().to_owned();
    let deadline = |args: &[&str]| {
        let mut all = vec!["--database-url", db.as_str(), "--data-dir", data.as_str(), "admin", "linking-deadline"];
        all.extend_from_slice(args);
        run(&all, None)
    };
    let (ok, out, _) = deadline(&["show"]);
    assert!(ok && out.contains("No linking deadline"), "{out}");
    let (ok, _, err) = deadline(&["set", "next tuesday"]);
    assert!(!ok && err.contains("RFC 3339"), "{err}");
    let (ok, _, _) = deadline(&["set", "2099-01-01T00:00:00Z"]);
    assert!(ok);
    assert_eq!(app.app.orgs().run_linking_deadline("early").await.unwrap(), 0, "the job ran before the deadline");
    let (ok, out, _) = deadline(&["clear"]);
    assert!(ok && out.contains("cleared"));
    assert_eq!(deadline(&["show"]).1.trim(), "No linking deadline is set.");
    let (ok, out, err) = deadline(&["set", "2020-01-01T00:00:00Z"]);
    assert!(ok && out.contains("2020-01-01"), "{err}");
    // The two server processes do the work (this node only watches).
    let start = Instant::now();
    loop {
        let mut linked = 0;
        for i in 0..PAID {
            if ada.get(&format!("/workspaces/ws{i}")).await.1["organization"].is_string() {
                linked += 1;
            }
        }
        if linked == PAID {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "the deadline job did not link every workspace");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for i in 0..PAID {
        let expected = if i == 5 { "ws5-org".to_owned() } else { format!("ws{i}") };
        assert_eq!(ada.get(&format!("/workspaces/ws{i}")).await.1["organization"], expected.as_str());
    }
    assert_eq!(ada.get("/workspaces/free").await.1["organization"], json!(null), "a free workspace was linked");
    assert_eq!(ada.get("/workspaces/mine").await.1["organization"], "manual", "a linked workspace moved");
    // Exactly one org per workspace: ada administers them, plus manual and ws5.
    let orgs = ada.get("/orgs").await.1;
    assert_eq!(orgs["orgs"].as_array().unwrap().len(), PAID + 2, "{orgs}");
    let ws0 = ada.get("/orgs/ws0").await.1;
    let admins: Vec<&str> = ws0["admins"].as_array().unwrap().iter().map(|a| a["username"].as_str().unwrap()).collect();
    assert_eq!(admins, ["ada", "bob"]);
    // Told once each, by the server processes: six workspaces for ada, one
    // for bob.
    let subject = "part of an organization";
    assert_eq!(outbox_count(&app.data_dir, subject), 0, "this node did the work");
    let told: usize = dirs.iter().map(|d| outbox_count(d.path(), subject)).sum();
    assert_eq!(told, PAID + 1, "admins were told more or less than once");
    // Running it again changes nothing.
    assert_eq!(app.app.orgs().run_linking_deadline("test-node").await.unwrap(), 0);
    assert_eq!(ada.get("/orgs").await.1["orgs"].as_array().unwrap().len(), PAID + 2);
}

/// `admin site create SLUG` and `admin site add-admin SLUG USER`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_creates_sites_and_their_admins() {
    let app = guildhall_testkit::spawn_app(Backend::Sqlite).await;
    app.account("ada").await;
    let db = app.settings.database_url.as_ref().unwrap().0.clone();
    let data = app.data_dir.to_str().unwrap().to_owned();
    let cli = |args: &[&str]| {
        let mut all = vec!["--database-url", db.as_str(), "--data-dir", data.as_str(), "admin", "site"];
        all.extend_from_slice(args);
        run(&all, None)
    };
    let (ok, out, err) = cli(&["create", "help"]);
    assert!(ok && out.contains("/sites/help/signup"), "{err}");
    assert_eq!(app.app.sites().site("help").await.unwrap().name, "help");
    let (ok, _, err) = cli(&["create", "help"]);
    assert!(!ok && err.contains("taken"), "{err}");
    let (ok, _, err) = cli(&["create", "Bad Slug"]);
    assert!(!ok, "{err}");
    let (ok, _, err) = cli(&["create", "shop", "--name", "Shop", "--admin", "nobody"]);
    assert!(!ok && err.contains("no such account"), "{err}");
    assert!(app.app.sites().site("shop").await.is_err(), "a site was created for an unknown admin");
    // No admin yet; add one.
    let ada = app.client();
    ada.post_form("/login", &[("email", "ada@example.com"), ("password", "correct horse battery")]).await;
    assert_eq!(ada.get("/sites/help/admin").await.status(), 404);
    let (ok, out, err) = cli(&["add-admin", "help", "ada"]);
    assert!(ok && out.contains("is now"), "{err}");
    assert_eq!(ada.get("/sites/help/admin").await.status(), 200);
    let (ok, _, err) = cli(&["add-admin", "nope", "ada"]);
    assert!(!ok && err.contains("no such site"), "{err}");
}

/// Providers added with `admin provider add` reach the running server, and
/// their sealed secret works there; bad definitions are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_adds_identity_providers_from_the_command_line() {
    use guildhall_testkit::oidc_peer::{OidcPeer, Person, location, round_trip};
    let app = guildhall_testkit::spawn_app(Backend::Sqlite).await;
    let peer = OidcPeer::start(serde_json::json!([{
        "client_id": "cli-client", "client_secret": "cli-secret-0123456789",
        "redirect_uris": [format!("{}/auth/corp/callback", app.base_url)],
    }]))
    .await;
    let db = app.settings.database_url.as_ref().unwrap().0.clone();
    let data = app.data_dir.to_str().unwrap().to_owned();
    let secret_file = app.data_dir.join("corp.secret");
    std::fs::write(&secret_file, "cli-secret-0123456789\n").unwrap();
    let common = ["--database-url", db.as_str(), "--data-dir", data.as_str(), "admin", "provider"];
    let cmd = |extra: &[&str]| {
        let mut args = common.to_vec();
        args.extend_from_slice(extra);
        run(&args, None)
    };
    let secret = secret_file.to_str().unwrap();
    let (ok, out, err) = cmd(&[
        "add",
        "corp",
        "--issuer",
        &peer.issuer,
        "--display-name",
        "Corp SSO",
        "--client-id",
        "cli-client",
        "--client-secret-file",
        secret,
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("/auth/corp/callback"), "{out}");
    let (ok, out, err) =
        cmd(&["add", "github", "--preset", "github", "--client-id", "gh", "--client-secret-file", secret]);
    assert!(ok, "{err}: {out}");
    let (_, listed, _) = cmd(&["list"]);
    assert!(listed.contains("corp\tCorp SSO") && listed.contains("github\tGitHub"), "{listed}");

    // The running server shows and uses them.
    let (_, login) = app.client().get_text("/login").await;
    assert!(login.contains("Continue with Corp SSO") && login.contains("Continue with GitHub"), "{login}");
    let b = app.client();
    let to_github = location(&b.post_form("/auth/github", &[]).await);
    assert_eq!(to_github.host_str(), Some("github.com"));
    let q: std::collections::HashMap<_, _> = to_github.query_pairs().into_owned().collect();
    assert_eq!(q["client_id"], "gh");
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["redirect_uri"], format!("{}/auth/github/callback", app.base_url));
    assert!(q["state"].len() >= 43 && q["code_challenge"].len() == 43);
    let start = b.post_form("/auth/corp", &[]).await;
    let res = round_trip(&b, start, &Person::verified("cli-1", "cli@corp.test"), &app.base_url, |u| u).await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    assert!(app.app.accounts().by_username("cli").await.is_ok());

    // Bad input: a clear message, a failure exit, nothing saved.
    for (bad, says) in [
        (vec!["add", "x", "--preset", "myspace", "--client-id", "a", "--client-secret-file", secret], "unknown preset"),
        (
            vec!["add", "x", "--issuer", "http://idp.example", "--client-id", "a", "--client-secret-file", secret],
            "https",
        ),
        (vec!["add", "x", "--preset", "github", "--client-id", "a"], "client secret"),
        (vec!["add", "Bad Name", "--preset", "github", "--client-id", "a", "--client-secret-file", secret], "name"),
        (
            vec![
                "add",
                "x",
                "--authorize-url",
                "https://a.example",
                "--client-id",
                "a",
                "--client-secret-file",
                secret,
            ],
            "token_url",
        ),
        (vec!["remove", "nope"], "no such provider"),
    ] {
        let (ok, _, err) = cmd(&bad);
        assert!(!ok && err.contains(says), "{bad:?}: {err}");
    }
    let (ok, _, err) = cmd(&["remove", "github"]);
    assert!(ok, "{err}");
    let (_, listed, _) = cmd(&["list"]);
    assert!(!listed.contains("github") && !listed.contains("\nx\t"), "{listed}");
}
