//! Outbound SCIM provisioning (docs/provisioning.md) against a SCIM server
//! we did not write (`scim2-server` from PyPI): a workspace's and an org's
//! people and groups are pushed, kept in step and deprovisioned; a failing
//! application is retried with backoff on the app's clock; bad input and
//! strangers are refused. Rounds are driven with `run_once`; the server's
//! own loop polls too rarely to interfere.

use crate::scim::{directory_token, scim_client};
use guildhall_app::directory::Target;
use guildhall_app::provisioning::Round;
use guildhall_testkit::dns::DnsServer;
use guildhall_testkit::scim_peer::ScimPeer;
use guildhall_testkit::{Api, Backend, TestApp, on_both_backends, spawn_app_with};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

on_both_backends!(
    a_workspace_is_pushed_and_kept_in_step,
    a_failing_application_is_retried_with_backoff_until_it_answers,
    an_org_pushes_its_managed_accounts_and_directory_groups,
    bad_input_is_refused_and_strangers_see_nothing,
    admins_connect_watch_and_sync_on_the_provisioning_page,
);

async fn spawn_prov(b: Backend) -> TestApp {
    spawn_app_with(b, |s| {
        s.provisioning_allow_loopback = true;
        // Tests run the rounds themselves.
        s.provisioning_poll_ms = 600_000;
    })
    .await
}

/// A TCP relay in front of the SCIM peer that a test can switch off: while
/// off it drops its connections and closes new ones at once (an endpoint
/// that gives no answer) and keeps its port, so the connection's URL stays.
struct Relay {
    port: u16,
    up: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Relay {
    async fn start(target: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (up, watching) = watch::channel(true);
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else { continue };
                if !*watching.borrow() {
                    continue;
                }
                let mut down = watching.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(("127.0.0.1", target)).await else { return };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = down.wait_for(|up| !*up) => {}
                    }
                });
            }
        });
        Self { port, up, task }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/v2", self.port)
    }

    fn set_up(&self, up: bool) {
        self.up.send_replace(up);
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn round(app: &TestApp) -> Round {
    app.app.provisioning().run_once().await.unwrap()
}

async fn connect(api: &Api, base: &str, url: &str, token: &str) -> Value {
    let (s, made) =
        api.post(&format!("{base}/provisioning"), json!({"name": "Scanner", "base_url": url, "token": token})).await;
    assert_eq!(s, 201, "{made}");
    assert!(!made.to_string().contains(token), "the token was shown: {made}");
    assert_eq!((made["status"].as_str(), made["enabled"].as_bool()), (Some("pending"), Some(true)), "{made}");
    made
}

async fn connection(api: &Api, base: &str, id: &str) -> Value {
    let (s, c) = api.get(&format!("{base}/provisioning/{id}")).await;
    assert_eq!(s, 200, "{c}");
    c
}

/// The peer's users by userName.
async fn users(peer: &ScimPeer) -> BTreeMap<String, Value> {
    peer.users().await.into_iter().map(|u| (u["userName"].as_str().unwrap().to_owned(), u)).collect()
}

/// The peer's groups by displayName, each with its members' userNames.
async fn groups(peer: &ScimPeer) -> BTreeMap<String, BTreeSet<String>> {
    let by_id: BTreeMap<String, String> = peer
        .users()
        .await
        .into_iter()
        .map(|u| (u["id"].as_str().unwrap().to_owned(), u["userName"].as_str().unwrap().to_owned()))
        .collect();
    peer.groups()
        .await
        .into_iter()
        .map(|g| {
            let members = g["members"]
                .as_array()
                .map(|m| {
                    m.iter().map(|m| by_id.get(m["value"].as_str().unwrap()).cloned().unwrap_or_default()).collect()
                })
                .unwrap_or_default();
            (g["displayName"].as_str().unwrap().to_owned(), members)
        })
        .collect()
}

fn names(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

async fn member(api: &Api, group: &str, who: &str, add: bool) {
    let path = format!("/workspaces/acme/groups/{group}/members/{who}");
    let (s, p) = if add { api.put(&path, json!({})).await } else { api.delete(&path).await };
    assert_eq!(s, 200, "{p}");
}

/// ada administers `acme`, with groups `devs` (Developers) and `ops`
/// (Operations); bob, cy, dan and erin have accounts.
async fn acme(app: &TestApp) -> Api {
    let ada = app.user("ada").await;
    for n in ["bob", "cy", "dan", "erin"] {
        app.account(n).await;
    }
    assert_eq!(ada.post("/workspaces", json!({"slug": "acme", "name": "Acme"})).await.0, 201);
    assert_eq!(ada.post("/workspaces/acme/groups", json!({"slug": "devs", "name": "Developers"})).await.0, 201);
    assert_eq!(ada.post("/workspaces/acme/groups", json!({"slug": "ops", "name": "Operations"})).await.0, 201);
    ada
}

async fn a_workspace_is_pushed_and_kept_in_step(b: Backend) {
    let app = spawn_prov(b).await;
    let ada = acme(&app).await;
    member(&ada, "devs", "bob", true).await;
    member(&ada, "devs", "cy", true).await;
    member(&ada, "ops", "cy", true).await;
    let peer = ScimPeer::start().await;
    let made = connect(&ada, "/workspaces/acme", &peer.base_url(), peer.bearer_token()).await;
    let id = made["id"].as_str().unwrap();

    assert_eq!(round(&app).await, Round { claimed: 1, synced: 1, failed: 0 });
    let c = connection(&ada, "/workspaces/acme", id).await;
    assert_eq!(c["status"], "in_sync", "{c}");
    assert_eq!(
        (c["users"].as_u64(), c["groups"].as_u64(), c["deprovisioned_users"].as_u64()),
        (Some(3), Some(3), Some(0))
    );
    assert!(c["last_error"].is_null() && c["last_synced_at"].is_string() && c["next_attempt_at"].is_null(), "{c}");
    let pushed = users(&peer).await;
    assert_eq!(pushed.keys().cloned().collect::<BTreeSet<_>>(), names(&["ada", "bob", "cy"]));
    let bob = app.app.accounts().by_username("bob").await.unwrap();
    let u = &pushed["bob"];
    assert_eq!(u["externalId"], bob.id.0.to_string());
    assert_eq!((u["active"].as_bool(), u["emails"][0]["value"].as_str()), (Some(true), Some("bob@example.com")));
    assert_eq!(u["displayName"], bob.display_name.as_str());
    let g = groups(&peer).await;
    assert_eq!(g["Developers"], names(&["bob", "cy"]));
    assert_eq!(g["Operations"], names(&["cy"]));
    assert_eq!(g.len(), 3, "{g:?}");
    assert_eq!(round(&app).await.claimed, 0, "nothing changed, yet a round ran");

    // A member added, one removed, a group renamed: the next round.
    let devs_id = peer.groups().await.into_iter().find(|g| g["displayName"] == "Developers").unwrap()["id"].clone();
    member(&ada, "devs", "dan", true).await;
    member(&ada, "ops", "cy", false).await;
    assert_eq!(ada.patch("/workspaces/acme/groups/devs", json!({"name": "Engineers"})).await.0, 200);
    assert_eq!(round(&app).await, Round { claimed: 1, synced: 1, failed: 0 });
    let g = groups(&peer).await;
    assert_eq!(g["Engineers"], names(&["bob", "cy", "dan"]));
    assert_eq!(g["Operations"], names(&[]));
    assert!(!g.contains_key("Developers"), "{g:?}");
    let engineers = peer.groups().await.into_iter().find(|g| g["displayName"] == "Engineers").unwrap();
    assert_eq!(engineers["id"], devs_id, "a renamed group is the same resource");
    assert_eq!(users(&peer).await["dan"]["active"], true);

    // cy leaves every group: deprovisioned (inactive) downstream.
    let cy_id = users(&peer).await["cy"]["id"].clone();
    member(&ada, "devs", "cy", false).await;
    round(&app).await;
    let now = users(&peer).await;
    assert_eq!((now["cy"]["active"].as_bool(), &now["cy"]["id"]), (Some(false), &cy_id));
    assert!(groups(&peer).await.values().all(|m| !m.contains("cy")));
    assert_eq!(now["bob"]["active"], true);
    let c = connection(&ada, "/workspaces/acme", id).await;
    assert_eq!((c["users"].as_u64(), c["deprovisioned_users"].as_u64()), (Some(3), Some(1)), "{c}");

    // A deleted group is deleted downstream.
    assert_eq!(ada.delete("/workspaces/acme/groups/ops").await.0, 204);
    round(&app).await;
    assert!(!groups(&peer).await.contains_key("Operations"));

    // "Sync now" pushes everything again: what the application lost comes back.
    let bob_remote = users(&peer).await["bob"]["id"].as_str().unwrap().to_owned();
    let res = reqwest::Client::new()
        .delete(format!("{}/Users/{bob_remote}", peer.base_url()))
        .bearer_auth(peer.bearer_token())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let (s, queued) = ada.post(&format!("/workspaces/acme/provisioning/{id}/sync"), json!({})).await;
    assert_eq!(s, 202, "{queued}");
    assert_eq!(round(&app).await, Round { claimed: 1, synced: 1, failed: 0 });
    let now = users(&peer).await;
    assert!(now.contains_key("bob"), "bob was not pushed again");
    assert!(groups(&peer).await["Engineers"].contains("bob"));

    // cy comes back: the same resource, active again.
    member(&ada, "devs", "cy", true).await;
    round(&app).await;
    let now = users(&peer).await;
    assert_eq!((now["cy"]["active"].as_bool(), &now["cy"]["id"]), (Some(true), &cy_id));
    assert_eq!(peer.users().await.len(), 4, "a user was duplicated");
}

async fn a_failing_application_is_retried_with_backoff_until_it_answers(b: Backend) {
    let app = spawn_prov(b).await;
    let ada = acme(&app).await;
    member(&ada, "devs", "bob", true).await;
    let peer = ScimPeer::start().await;
    let relay = Relay::start(peer.port()).await;
    let made = connect(&ada, "/workspaces/acme", &relay.url(), peer.bearer_token()).await;
    let id = made["id"].as_str().unwrap();
    assert_eq!(round(&app).await.synced, 1);
    let synced_at = connection(&ada, "/workspaces/acme", id).await["last_synced_at"].clone();

    relay.set_up(false);
    member(&ada, "devs", "cy", true).await;
    assert_eq!(round(&app).await, Round { claimed: 1, synced: 0, failed: 1 });
    let c = connection(&ada, "/workspaces/acme", id).await;
    assert_eq!((c["status"].as_str(), c["failures"].as_u64()), (Some("error"), Some(1)), "{c}");
    let error = c["last_error"].as_str().unwrap();
    assert!(error.contains("no answer"), "{error}");
    assert!(!error.contains(peer.bearer_token()));
    assert_eq!(c["last_synced_at"], synced_at);
    assert!(c["next_attempt_at"].is_string(), "{c}");
    // Held off for 30 s, then 60 s, whatever happens meanwhile.
    member(&ada, "devs", "dan", true).await;
    assert_eq!(round(&app).await.claimed, 0);
    app.clock.advance(Duration::from_secs(29));
    assert_eq!(round(&app).await.claimed, 0);
    app.clock.advance(Duration::from_secs(1));
    assert_eq!(round(&app).await, Round { claimed: 1, synced: 0, failed: 1 });
    assert_eq!(connection(&ada, "/workspaces/acme", id).await["failures"], 2);
    app.clock.advance(Duration::from_secs(59));
    assert_eq!(round(&app).await.claimed, 0);
    relay.set_up(true);
    app.clock.advance(Duration::from_secs(1));
    assert_eq!(round(&app).await, Round { claimed: 1, synced: 1, failed: 0 });
    let c = connection(&ada, "/workspaces/acme", id).await;
    assert_eq!((c["status"].as_str(), c["failures"].as_u64()), (Some("in_sync"), Some(0)), "{c}");
    assert!(c["last_error"].is_null() && c["next_attempt_at"].is_null(), "{c}");
    assert_eq!(groups(&peer).await["Developers"], names(&["bob", "cy", "dan"]));

    // A refused token: the status and the SCIM error say so.
    let path = format!("/workspaces/acme/provisioning/{id}");
    let (s, c) = ada.patch(&path, json!({"token": "not-the-token"})).await;
    assert_eq!((s, c["status"].as_str()), (200, Some("pending")), "{c}");
    assert_eq!(round(&app).await.failed, 1);
    let c = connection(&ada, "/workspaces/acme", id).await;
    assert!(c["last_error"].as_str().unwrap().contains("401"), "{c}");
    assert!(!c["last_error"].as_str().unwrap().contains("not-the-token"), "{c}");
    // A new token is tried at once, whatever the backoff said.
    assert_eq!(ada.patch(&path, json!({"token": peer.bearer_token()})).await.0, 200);
    assert_eq!(round(&app).await.synced, 1);
    assert_eq!(connection(&ada, "/workspaces/acme", id).await["status"], "in_sync");
}

/// An org `acme` with the verified domain `acme.example`, ada its admin.
async fn org(b: Backend, dns: &DnsServer) -> (TestApp, Api) {
    let addr = dns.addr;
    let app = spawn_app_with(b, move |s| {
        s.dns_resolver = Some(addr);
        s.provisioning_allow_loopback = true;
        s.provisioning_poll_ms = 600_000;
    })
    .await;
    app.account("ada").await;
    let ada = app.api_as("ada", &["orgs:admin", "workspaces:admin", "scim"]).await;
    assert_eq!(ada.post("/orgs", json!({"slug": "acme", "name": "Acme"})).await.0, 201);
    let (_, claimed) = ada.post("/orgs/acme/domains", json!({"domain": "acme.example"})).await;
    dns.set_txt("acme.example", &[claimed["txt_record"].as_str().unwrap()]);
    assert_eq!(ada.post("/orgs/acme/domains/acme.example/verify", json!({})).await.0, 200);
    (app, ada)
}

fn scim_user(name: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": format!("{name}@acme.example"),
        "name": { "formatted": name },
        "emails": [{ "value": format!("{name}@acme.example"), "primary": true }],
        "active": true,
    })
}

async fn an_org_pushes_its_managed_accounts_and_directory_groups(b: Backend) {
    let dns = DnsServer::start().await;
    let (app, ada) = org(b, &dns).await;
    // The org's own identity provider provisions people and a group into Guildhall.
    let idp = scim_client(&app, "orgs/acme", &directory_token(&app, "ada", Target::Org("acme")).await);
    let (s, grace) = idp.post("/Users", scim_user("grace")).await;
    assert_eq!(s, 201, "{grace}");
    let (_, alan) = idp.post("/Users", scim_user("alan")).await;
    let (_, joan) = idp.post("/Users", scim_user("joan")).await;
    // An address off the org's domains: managed, but not verified.
    let mut linus = scim_user("linus");
    linus["emails"][0]["value"] = json!("linus@elsewhere.example");
    assert_eq!(idp.post("/Users", linus).await.0, 201);
    let members = json!([{"value": grace["id"]}, {"value": alan["id"]}, {"value": joan["id"]}]);
    let (s, staff) = idp
        .post("/Groups", json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Staff", "members": members}))
        .await;
    assert_eq!(s, 201, "{staff}");

    // Guildhall pushes them on to an application.
    let peer = ScimPeer::start().await;
    let made = connect(&ada, "/orgs/acme", &peer.base_url(), peer.bearer_token()).await;
    let id = made["id"].as_str().unwrap();
    assert_eq!(round(&app).await, Round { claimed: 1, synced: 1, failed: 0 });
    let pushed = users(&peer).await;
    assert_eq!(
        pushed.keys().cloned().collect::<BTreeSet<_>>(),
        names(&["alan", "grace", "joan", "linus"]),
        "only managed accounts"
    );
    assert_eq!(pushed["grace"]["emails"][0]["value"], "grace@acme.example");
    assert_eq!(pushed["linus"].get("emails"), None, "an unverified address was pushed: {}", pushed["linus"]);
    assert_eq!(pushed["grace"]["externalId"], grace["id"]);
    assert_eq!(groups(&peer).await["Staff"], names(&["alan", "grace", "joan"]));
    let c = connection(&ada, "/orgs/acme", id).await;
    assert_eq!((c["users"].as_u64(), c["groups"].as_u64()), (Some(4), Some(1)), "{c}");

    // The identity provider deprovisions alan (DELETE) and deactivates joan
    // (PATCH active false): both are deprovisioned downstream.
    assert_eq!(idp.delete(&format!("/Users/{}", alan["id"].as_str().unwrap())).await, 204);
    let off = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "active", "value": false}]});
    let (s, p) = idp.patch(&format!("/Users/{}", joan["id"].as_str().unwrap()), off).await;
    assert_eq!(s, 200, "{p}");
    assert_eq!(round(&app).await.synced, 1);
    let now = users(&peer).await;
    assert_eq!(now["alan"]["active"], false);
    assert_eq!(now["joan"]["active"], false);
    assert_eq!(now["grace"]["active"], true);
    let g = groups(&peer).await;
    assert!(!g["Staff"].contains("alan"), "{g:?}");
    assert!(g["Staff"].contains("grace"));

    // The directory group goes away: so does the application's.
    assert_eq!(idp.delete(&format!("/Groups/{}", staff["id"].as_str().unwrap())).await, 204);
    round(&app).await;
    assert!(groups(&peer).await.is_empty());

    // The org's connection is not the workspace's, nor anyone else's.
    assert_eq!(ada.post("/workspaces", json!({"slug": "acme-ws", "name": "Acme"})).await.0, 201);
    assert_eq!(ada.get(&format!("/workspaces/acme-ws/provisioning/{id}")).await.0, 404);
    app.account("eve").await;
    let eve = app.api_as("eve", &["orgs:admin", "workspaces:admin"]).await;
    assert_eq!(eve.get("/orgs/acme/provisioning").await.0, 404);
    assert_eq!(eve.post(&format!("/orgs/acme/provisioning/{id}/sync"), json!({})).await.0, 404);
}

async fn bad_input_is_refused_and_strangers_see_nothing(b: Backend) {
    let app = spawn_prov(b).await;
    let ada = acme(&app).await;
    let base = "/workspaces/acme/provisioning";
    let good = json!({"name": "Scanner", "base_url": "https://scanner.example.com/scim/v2", "token": "t0ken"});
    let with = |k: &str, v: Value| {
        let mut body = good.clone();
        body[k] = v;
        body
    };
    for (body, field) in [
        (with("name", json!("  ")), "name"),
        (with("base_url", json!("http://scanner.example.com/scim")), "base_url"),
        (with("base_url", json!("scanner.example.com")), "base_url"),
        (with("base_url", json!("https://scanner.example.com/scim?tenant=1")), "base_url"),
        (with("token", json!("")), "token"),
        (with("token", json!("two words")), "token"),
    ] {
        let (s, p) = ada.post(base, body.clone()).await;
        assert_eq!(s, 422, "{body}: {p}");
        assert_eq!(p["errors"][0]["field"], field, "{body}: {p}");
    }
    let (s, p) = ada.post(base, with("extra", json!(1))).await;
    assert_eq!(s, 422, "{p}");
    assert_eq!(ada.get(base).await.1["connections"], json!([]), "a refused connection was kept");

    let (s, made) = ada.post(base, good.clone()).await;
    assert_eq!(s, 201, "{made}");
    let id = made["id"].as_str().unwrap();
    let one = format!("{base}/{id}");
    let (s, p) = ada.patch(&one, json!({"base_url": "ftp://x", "name": "Renamed"})).await;
    assert_eq!((s, p["errors"][0]["field"].as_str()), (422, Some("base_url")), "{p}");
    let c = connection(&ada, "/workspaces/acme", id).await;
    assert_eq!(
        (c["name"].as_str(), c["base_url"].as_str()),
        (Some("Scanner"), Some("https://scanner.example.com/scim/v2"))
    );
    assert!(c.get("token").is_none() && !c.to_string().contains("t0ken"), "{c}");
    // Disabled: no sync now, and no rounds.
    assert_eq!(ada.patch(&one, json!({"enabled": false})).await.0, 200);
    assert_eq!(ada.post(&format!("{one}/sync"), json!({})).await.0, 409);
    assert_eq!(round(&app).await.claimed, 0);

    // Another workspace's admin, a member who is not an admin, a token
    // without the admin scope: 404, 404, 403.
    let bob = app.api_as("bob", &["workspaces:admin"]).await;
    assert_eq!(bob.post("/workspaces", json!({"slug": "other", "name": "Other"})).await.0, 201);
    for (method, path) in
        [("GET", one.clone()), ("PATCH", one.clone()), ("DELETE", one.clone()), ("POST", format!("{one}/sync"))]
    {
        let other = path.replace("/workspaces/acme/", "/workspaces/other/");
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let body = (method != "GET" && method != "DELETE").then(|| json!({}));
        assert_eq!(bob.call(m.clone(), &other, body.clone()).await.0, 404, "{method} {other}");
        assert_eq!(bob.call(m, &path, body).await.0, 404, "{method} {path}");
    }
    assert_eq!(bob.get("/workspaces/other/provisioning").await.1["connections"], json!([]));
    member(&ada, "devs", "bob", true).await;
    assert_eq!(bob.get(base).await.0, 404, "a member who is no admin");
    let reader = app.api_as("ada", &["workspaces:read"]).await;
    assert_eq!(reader.get(base).await.0, 403);
    assert_eq!(ada.get(&format!("{base}/not-a-uuid")).await.0, 404);

    // Admin changes are in the audit log; removing leaves the application alone.
    assert_eq!(ada.delete(&one).await.0, 204);
    assert_eq!(ada.get(&one).await.0, 404);
    let (_, log) = ada.get("/workspaces/acme/audit").await;
    let text = log.to_string();
    for action in ["provisioning.created", "provisioning.updated", "provisioning.deleted"] {
        assert!(text.contains(action), "{action} not audited: {log}");
    }
    assert!(!text.contains("t0ken"));
}

async fn admins_connect_watch_and_sync_on_the_provisioning_page(b: Backend) {
    let app = spawn_prov(b).await;
    let ada = app.signed_up("ada", "correct horse battery", true).await;
    let ada_api = app.api_as("ada", &["workspaces:admin"]).await;
    assert_eq!(ada_api.post("/workspaces", json!({"slug": "acme", "name": "Acme"})).await.0, 201);
    let bob = app.signed_up("bob", "correct horse battery", true).await;
    assert_eq!(ada_api.post("/workspaces/acme/groups", json!({"slug": "devs", "name": "Developers"})).await.0, 201);
    member(&ada_api, "devs", "bob", true).await;
    let (_, home) = ada.get_text("/workspaces/acme").await;
    assert!(home.contains("/workspaces/acme/provisioning"), "no link on the workspace page");
    let peer = ScimPeer::start().await;
    let relay = Relay::start(peer.port()).await;
    let url = relay.url();
    let form = [("name", "Scanner"), ("base_url", url.as_str()), ("token", peer.bearer_token())];

    // Others learn nothing; a form without its CSRF token or with bad input changes nothing.
    assert_eq!(bob.get("/workspaces/acme/provisioning").await.status(), 404);
    assert_eq!(bob.post_form("/workspaces/acme/provisioning", &form).await.status(), 404);
    assert_eq!(ada.post_raw("/workspaces/acme/provisioning", &form).await.status(), 403);
    let bad = [("name", "Scanner"), ("base_url", "ftp://scanner"), ("token", "x")];
    assert_eq!(ada.post_form("/workspaces/acme/provisioning", &bad).await.status(), 422);
    let (_, page) = ada.get_text("/workspaces/acme/provisioning").await;
    assert!(!page.contains("Scanner"), "{page}");

    assert_eq!(ada.post_form("/workspaces/acme/provisioning", &form).await.status(), 303);
    let (s, page) = ada.get_text("/workspaces/acme/provisioning").await;
    assert_eq!(s, 200);
    assert!(page.contains("Scanner") && page.contains("pending"), "{page}");
    assert!(!page.contains(peer.bearer_token()), "the token is on the page");
    assert_eq!(round(&app).await.synced, 1);
    let (_, page) = ada.get_text("/workspaces/acme/provisioning").await;
    assert!(page.contains("in sync") && page.contains("2 people"), "{page}");

    // The application stops answering: "Sync now" shows the error.
    relay.set_up(false);
    let id = ada_api.get("/workspaces/acme/provisioning").await.1["connections"][0]["id"].as_str().unwrap().to_owned();
    let res = ada.post_form(&format!("/workspaces/acme/provisioning/{id}/sync"), &[]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(round(&app).await.failed, 1);
    let (_, page) = ada.get_text("/workspaces/acme/provisioning").await;
    let error = crate::page_error(&page).unwrap_or_default();
    assert!(error.contains("no answer"), "{page}");
    assert!(page.contains("next try"), "{page}");

    // Disabled, then removed.
    let res = ada.post_form(&format!("/workspaces/acme/provisioning/{id}/enabled"), &[]).await;
    assert_eq!(res.status(), 303);
    assert!(ada.get_text("/workspaces/acme/provisioning").await.1.contains("disabled"));
    let res = ada.post_form(&format!("/workspaces/acme/provisioning/{id}/delete"), &[]).await;
    assert_eq!(res.status(), 303);
    assert!(!ada.get_text("/workspaces/acme/provisioning").await.1.contains("Scanner"));
    assert_eq!(peer.users().await.len(), 2, "removing a connection changed the application");
}
