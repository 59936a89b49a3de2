//! Webhooks (docs/webhooks.md): signed deliveries checked by an independent
//! receiver (the `standardwebhooks` PyPI library), filtering, retries with
//! backoff on the app's clock, redelivery, a restart mid-delivery, two
//! nodes on one database, and what admins and strangers may do.

use crate::spawn;
use guildhall::settings::Secret;
use guildhall_app::App;
use guildhall_core::webhooks::{WebhookSecret, verify};
use guildhall_testkit::webhook_receiver::{Received, WebhookReceiver};
use guildhall_testkit::{Api, Backend, ManualClock, TestApp, eventually, on_both_backends};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use time::format_description::well_known::Rfc3339;

on_both_backends!(
    deliveries_are_signed_filtered_and_carry_the_event,
    a_failing_receiver_is_retried_with_backoff_until_it_answers,
    a_delivery_is_redelivered_with_the_same_webhook_id,
    deliveries_pending_or_in_flight_survive_a_restart,
    two_nodes_on_one_database_deliver_each_event_once,
    org_webhooks_receive_the_org_events,
    bad_input_is_refused_and_strangers_see_nothing,
    admins_manage_webhooks_from_the_pages,
    a_rotated_secret_keeps_signing_beside_the_new_one_for_a_day,
    an_endpoint_that_fails_for_days_is_disabled,
    finished_deliveries_are_pruned_after_the_retention_window,
    a_disabled_org_endpoint_is_told_to_org_admins_who_may_be,
);

const WAIT: Duration = Duration::from_secs(10);

async fn spawn_hooks(b: Backend) -> TestApp {
    guildhall_testkit::spawn_app_with(b, |s| {
        s.webhooks_allow_loopback = true;
        s.webhook_poll_ms = 50;
    })
    .await
}

/// ada administers `acme` (with group `devs`); bob and cy have accounts.
async fn acme(app: &TestApp) -> Api {
    let ada = app.user("ada").await;
    for name in ["bob", "cy"] {
        app.account(name).await;
    }
    assert_eq!(ada.post("/workspaces", json!({"slug": "acme", "name": "Acme"})).await.0, 201);
    assert_eq!(ada.post("/workspaces/acme/groups", json!({"slug": "devs", "name": "Developers"})).await.0, 201);
    ada
}

/// Registers an endpoint at the receiver and tells the receiver its secret.
async fn register(api: &Api, base: &str, receiver: &WebhookReceiver, types: Value) -> Value {
    let (s, made) =
        api.post(&format!("{base}/webhooks"), json!({"url": receiver.url("/hooks"), "event_types": types})).await;
    assert_eq!(s, 201, "{made}");
    let secret = made["secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_"), "{made}");
    receiver.set_secret(secret).await;
    made
}

async fn deliveries(api: &Api, base: &str, id: &str) -> Vec<Value> {
    let (s, log) = api.get(&format!("{base}/webhooks/{id}/deliveries")).await;
    assert_eq!(s, 200, "{log}");
    log["deliveries"].as_array().unwrap().clone()
}

async fn toggle_bob(api: &Api, add: bool) {
    let path = "/workspaces/acme/groups/devs/members/bob";
    let (s, p) = if add { api.put(path, json!({})).await } else { api.delete(path).await };
    assert_eq!(s, 200, "{p}");
}

fn ids(received: &[Received]) -> Vec<String> {
    received.iter().map(|r| r.webhook_id.clone().unwrap_or_default()).collect()
}

async fn deliveries_are_signed_filtered_and_carry_the_event(b: Backend) {
    let app = spawn_hooks(b).await;
    let ada = acme(&app).await;
    let receiver = WebhookReceiver::start().await;
    let hook = register(&ada, "/workspaces/acme", &receiver, json!(["group.member_added", "repository.*"])).await;
    let id = hook["id"].as_str().unwrap();

    toggle_bob(&ada, true).await;
    assert_eq!(ada.post("/workspaces/acme/groups", json!({"slug": "ops", "name": "Ops"})).await.0, 201);
    assert_eq!(ada.post("/workspaces/acme/repositories", json!({"slug": "api"})).await.0, 201);
    toggle_bob(&ada, false).await;

    let got = receiver.wait_for(2, WAIT).await;
    app.app.webhooks().run_once().await.unwrap();
    let events = crate::directory::all_events(&ada, "/workspaces/acme", 0, 100).await;
    let cursor_of = |kind: &str| events.iter().find(|e| e["type"] == kind).unwrap()["cursor"].as_i64().unwrap();
    let added = got.iter().find(|r| r.body["type"] == "group.member_added").unwrap();
    assert_eq!(added.body["workspace"], "acme");
    assert_eq!(added.body["cursor"].as_i64(), Some(cursor_of("group.member_added")));
    assert_eq!(added.body["data"]["account"]["username"], "bob");
    assert_eq!(added.body["data"]["group"]["slug"], "devs");
    assert_eq!(added.body["data"]["actor"], "ada");
    // The data is exactly the events API's.
    let event = events.iter().find(|e| e["type"] == "group.member_added").unwrap();
    assert_eq!(added.body["data"], event["data"]);
    assert!(added.body["timestamp"].as_str().unwrap().ends_with('Z'));
    let expected_id = format!("msg_{}_{}", cursor_of("group.member_added"), id.replace('-', ""));
    assert_eq!(added.webhook_id.as_deref(), Some(expected_id.as_str()));
    assert_eq!(added.content_type.as_deref(), Some("application/json"));
    assert!(added.user_agent.as_deref().unwrap_or_default().starts_with("Guildhall/"));
    assert_eq!(added.path, "/hooks");
    assert!(
        got.iter().any(|r| r.body["type"] == "repository.created" && r.body["data"]["repository"]["slug"] == "api")
    );

    // Only the wanted types were sent, each once; the log says so.
    let all = receiver.received().await;
    assert_eq!(all.len(), 2, "{all:#?}");
    let log = deliveries(&ada, "/workspaces/acme", id).await;
    assert_eq!(log.len(), 2, "{log:#?}");
    assert_eq!(log[0]["event_type"], "repository.created", "not newest first");
    for d in &log {
        assert_eq!((d["status"].as_str(), d["attempts"].as_u64()), (Some("succeeded"), Some(1)), "{d}");
        assert_eq!(d["last_status_code"], 204);
        assert_eq!(d["attempt_log"].as_array().unwrap().len(), 1);
        assert_eq!(d["payload"]["workspace"], "acme");
    }

    // The secret is never shown again.
    let (_, list) = ada.get("/workspaces/acme/webhooks").await;
    assert_eq!(list["webhooks"][0]["id"], id);
    assert_eq!(list["webhooks"][0]["event_types"], json!(["group.member_added", "repository.*"]));
    let (_, one) = ada.get(&format!("/workspaces/acme/webhooks/{id}")).await;
    for v in [&list["webhooks"][0], &one] {
        assert!(v.get("secret").is_none(), "the secret was shown again: {v}");
    }
    assert!(!list.to_string().contains(hook["secret"].as_str().unwrap()));

    // A ping is signed the same way.
    let (s, ping) = ada.post(&format!("/workspaces/acme/webhooks/{id}/ping"), json!({})).await;
    assert_eq!(s, 202, "{ping}");
    let got = receiver.wait_for(3, WAIT).await;
    assert!(got.iter().any(|r| r.body["type"] == "webhook.ping" && r.body["data"]["webhook"]["id"] == id));
}

async fn a_failing_receiver_is_retried_with_backoff_until_it_answers(b: Backend) {
    let app = spawn_hooks(b).await;
    let ada = acme(&app).await;
    let receiver = WebhookReceiver::start().await;
    let hook = register(&ada, "/workspaces/acme", &receiver, json!(["group.*"])).await;
    let id = hook["id"].as_str().unwrap();
    receiver.fail_next(2).await;
    toggle_bob(&ada, true).await;

    let log_says = |attempts: u64| {
        let ada = ada.clone();
        let id = id.to_owned();
        move || {
            let (ada, id) = (ada.clone(), id.clone());
            async move {
                let log = deliveries(&ada, "/workspaces/acme", &id).await;
                log.first().is_some_and(|d| d["attempts"].as_u64() == Some(attempts))
            }
        }
    };
    eventually("the first attempt is logged", log_says(1)).await;
    let d = deliveries(&ada, "/workspaces/acme", id).await.remove(0);
    assert_eq!((d["status"].as_str(), d["last_status_code"].as_u64()), (Some("pending"), Some(500)), "{d}");
    assert_eq!(d["last_error"], "answered 500");
    let first_at = time::OffsetDateTime::parse(
        d["attempt_log"][0]["at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let next = time::OffsetDateTime::parse(
        d["next_attempt_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert_eq!((next - first_at).whole_seconds(), 30, "the first retry waits 30 s: {d}");
    // Nothing happens before the time comes.
    app.clock.advance(Duration::from_secs(29));
    assert_eq!(app.app.webhooks().run_once().await.unwrap().attempted, 0);
    assert_eq!(receiver.received().await.len(), 1);

    app.clock.advance(Duration::from_secs(1));
    eventually("the second attempt is logged", log_says(2)).await;
    let d = deliveries(&ada, "/workspaces/acme", id).await.remove(0);
    assert_eq!(d["status"], "pending", "{d}");
    app.clock.advance(Duration::from_secs(59));
    assert_eq!(app.app.webhooks().run_once().await.unwrap().attempted, 0, "the second retry came before 60 s");
    app.clock.advance(Duration::from_secs(1));
    let got = receiver.wait_for(1, WAIT).await;
    eventually("the third attempt is logged", log_says(3)).await;

    let all = receiver.received().await;
    assert_eq!(all.iter().map(|r| (r.status, r.verified)).collect::<Vec<_>>(), [(500, true), (500, true), (204, true)]);
    assert_eq!(ids(&all).iter().collect::<BTreeSet<_>>().len(), 1, "retries changed the webhook-id");
    assert!(all.iter().all(|r| r.body_text == got[0].body_text), "retries changed the body");
    let d = deliveries(&ada, "/workspaces/acme", id).await.remove(0);
    assert_eq!((d["status"].as_str(), d["last_error"].as_str()), (Some("succeeded"), None), "{d}");
    let codes: Vec<u64> =
        d["attempt_log"].as_array().unwrap().iter().map(|a| a["status_code"].as_u64().unwrap()).collect();
    assert_eq!(codes, [500, 500, 204]);
    assert!(d["next_attempt_at"].is_null());
}

async fn a_delivery_is_redelivered_with_the_same_webhook_id(b: Backend) {
    let app = spawn_hooks(b).await;
    let ada = acme(&app).await;
    let receiver = WebhookReceiver::start().await;
    let hook = register(&ada, "/workspaces/acme", &receiver, json!(["group.*"])).await;
    let id = hook["id"].as_str().unwrap();
    toggle_bob(&ada, true).await;
    let first = receiver.wait_for(1, WAIT).await.remove(0);
    eventually("the delivery is logged as succeeded", || async {
        deliveries(&ada, "/workspaces/acme", id).await.first().is_some_and(|d| d["status"] == "succeeded")
    })
    .await;
    let original = deliveries(&ada, "/workspaces/acme", id).await.remove(0);
    let did = original["id"].as_str().unwrap();

    let (s, again) = ada.post(&format!("/workspaces/acme/webhooks/{id}/deliveries/{did}/redeliver"), json!({})).await;
    assert_eq!(s, 201, "{again}");
    assert_eq!((again["redelivery_of"].as_str(), again["status"].as_str()), (Some(did), Some("pending")));
    let got = receiver.wait_for(2, WAIT).await;
    assert_eq!(got[1].webhook_id, first.webhook_id, "a redelivery is the same message");
    assert_eq!(got[1].body_text, first.body_text);
    eventually("the redelivery is logged as succeeded", || async {
        deliveries(&ada, "/workspaces/acme", id).await.iter().filter(|d| d["status"] == "succeeded").count() == 2
    })
    .await;
    let log = deliveries(&ada, "/workspaces/acme", id).await;
    assert_eq!(log[0]["redelivery_of"], did, "the redelivery is the newest entry: {log:#?}");
    assert_eq!(log[0]["webhook_id"], original["webhook_id"]);
    // It is audited.
    let (_, audit) = ada.get("/workspaces/acme/audit").await;
    assert!(audit["entries"].as_array().unwrap().iter().any(|e| e["action"] == "webhook.redelivered"), "{audit}");

    // Unknown deliveries, and another endpoint's, are not found.
    let other = register(&ada, "/workspaces/acme", &receiver, json!(["repository.*"])).await;
    let oid = other["id"].as_str().unwrap();
    for path in [
        format!("/workspaces/acme/webhooks/{oid}/deliveries/{did}/redeliver"),
        format!("/workspaces/acme/webhooks/{id}/deliveries/not-an-id/redeliver"),
        format!("/workspaces/acme/webhooks/{id}/deliveries/{}/redeliver", uuid::Uuid::now_v7()),
    ] {
        assert_eq!(ada.post(&path, json!({})).await.0, 404, "{path}");
    }
}

/// A server on `settings` that the test stops (and waits for) itself.
struct Node {
    app: App,
    api: Api,
    stop: tokio::sync::oneshot::Sender<()>,
    running: tokio::task::JoinHandle<anyhow::Result<()>>,
}

async fn node(settings: &guildhall::settings::Settings, admin: &str) -> Node {
    let server = guildhall::startup::Server::build(settings, ManualClock::new()).await.unwrap();
    let app = server.app().clone();
    let base = server.public_url().to_owned();
    let account = app
        .accounts()
        .admin_create(guildhall_app::accounts::AdminCreate {
            email: &format!("{admin}@example.com"),
            username: admin,
            display_name: None,
            password: "correct horse battery",
            verified: true,
        })
        .await
        .unwrap();
    let (_, token) = app.tokens().create(&account, "test", &["workspaces:admin".to_owned()]).await.unwrap();
    let api = Api { http: reqwest::Client::new(), base, token: token.expose().to_owned() };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));
    Node { app, api, stop, running }
}

async fn deliveries_pending_or_in_flight_survive_a_restart(b: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = guildhall_testkit::test_settings(b, dir.path()).await;
    settings.webhooks_allow_loopback = true;
    settings.webhook_poll_ms = 50;
    settings.master_key = Some(Secret("5a".repeat(32)));
    let first = node(&settings, "ada").await;
    let ada = first.api.clone();
    assert_eq!(ada.post("/workspaces", json!({"slug": "acme", "name": "Acme"})).await.0, 201);
    assert_eq!(ada.post("/workspaces/acme/groups", json!({"slug": "devs", "name": "Developers"})).await.0, 201);
    first
        .app
        .accounts()
        .admin_create(guildhall_app::accounts::AdminCreate {
            email: "bob@example.com",
            username: "bob",
            display_name: None,
            password: "correct horse battery",
            verified: true,
        })
        .await
        .unwrap();
    let receiver = WebhookReceiver::start().await;
    let hook = register(&ada, "/workspaces/acme", &receiver, json!(["group.*"])).await;
    let id = hook["id"].as_str().unwrap().to_owned();

    // The receiver is down: the first event waits for its retry.
    receiver.fail_next_with(1000, 503).await;
    toggle_bob(&ada, true).await;
    eventually("the failed attempt is logged", || async {
        deliveries(&ada, "/workspaces/acme", &id).await.first().is_some_and(|d| d["attempts"] == 1)
    })
    .await;
    // It is back, but slow: the second event is in flight when the server stops.
    receiver.fail_next_with(0, 503).await;
    receiver.delay(Duration::from_secs(8)).await;
    toggle_bob(&ada, false).await;
    eventually("the second event is being delivered", || async {
        receiver.received().await.iter().any(|r| r.body["type"] == "group.member_removed")
    })
    .await;
    let log = deliveries(&ada, "/workspaces/acme", &id).await;
    let removed = log.iter().find(|d| d["event_type"] == "group.member_removed").unwrap().clone();
    assert_eq!((removed["status"].as_str(), removed["attempts"].as_u64()), (Some("pending"), Some(0)), "{removed}");
    let added = log.iter().find(|d| d["event_type"] == "group.member_added").unwrap();
    assert_eq!((added["status"].as_str(), added["attempts"].as_u64()), (Some("pending"), Some(1)), "{added}");
    let first_message = added["webhook_id"].as_str().unwrap().to_owned();
    let second_message = removed["webhook_id"].as_str().unwrap().to_owned();
    first.stop.send(()).unwrap();
    first.running.await.unwrap().unwrap();
    drop(first.app);

    // A new server on the same database sends both once their time comes:
    // the retry's, and the lease's of the delivery the stopped node held.
    receiver.delay(Duration::ZERO).await;
    let (database_url, master_key) = (settings.database_url.clone(), settings.master_key.clone());
    let second = guildhall_testkit::spawn_app_with(b, |s| {
        s.database_url = database_url;
        s.master_key = master_key;
        s.webhooks_allow_loopback = true;
        s.webhook_poll_ms = 50;
    })
    .await;
    assert_eq!(second.app.webhooks().run_once().await.unwrap().attempted, 0, "a held lease was ignored");
    second.clock.advance(Duration::from_secs(61));
    let on_second = Api { base: second.base_url.clone(), ..ada.clone() };
    eventually("both deliveries succeed after the restart", || async {
        let log = deliveries(&on_second, "/workspaces/acme", &id).await;
        log.len() == 2 && log.iter().all(|d| d["status"] == "succeeded")
    })
    .await;
    let log = deliveries(&on_second, "/workspaces/acme", &id).await;
    let codes = |d: &Value| -> Vec<Option<u64>> {
        d["attempt_log"].as_array().unwrap().iter().map(|a| a["status_code"].as_u64()).collect()
    };
    let by_type = |kind: &str| log.iter().find(|d| d["event_type"] == kind).unwrap().clone();
    assert_eq!(codes(&by_type("group.member_added")), [Some(503), Some(204)]);
    // The stopped node's attempt was never recorded: one attempt, by the new node.
    assert_eq!(codes(&by_type("group.member_removed")), [Some(204)]);
    let all = receiver.received().await;
    let accepted: BTreeMap<String, usize> = all.iter().filter(|r| r.accepted()).fold(BTreeMap::new(), |mut m, r| {
        *m.entry(r.webhook_id.clone().unwrap()).or_default() += 1;
        m
    });
    assert!(accepted.contains_key(&first_message), "{all:#?}");
    // At least once: the stopped node's request may have reached the receiver too.
    let second_seen = all.iter().filter(|r| r.webhook_id.as_deref() == Some(second_message.as_str())).count();
    assert!(second_seen >= 2, "the in-flight delivery was not sent again: {all:#?}");
}

async fn two_nodes_on_one_database_deliver_each_event_once(b: Backend) {
    let a = spawn_hooks(b).await;
    let (db, key) = (a.settings.database_url.clone(), a.data_dir.join("master.key"));
    let other = guildhall_testkit::spawn_app_with(b, |s| {
        s.database_url = db;
        s.master_key_file = Some(key);
        s.webhooks_allow_loopback = true;
        s.webhook_poll_ms = 20;
    })
    .await;
    let ada = acme(&a).await;
    let on_b = Api { base: other.base_url.clone(), ..ada.clone() };
    let receiver = WebhookReceiver::start().await;
    register(&ada, "/workspaces/acme", &receiver, json!(["group.*"])).await;
    let rounds = 16;
    for i in 0..rounds {
        let api = if i % 2 == 0 { &ada } else { &on_b };
        toggle_bob(api, i % 2 == 0).await;
    }
    let got = receiver.wait_for(rounds, WAIT).await;
    // Both nodes keep working for a while; nothing more may come.
    for _ in 0..5 {
        a.app.webhooks().run_once().await.unwrap();
        other.app.webhooks().run_once().await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let all = receiver.received().await;
    assert_eq!(all.len(), rounds, "{:#?}", ids(&all));
    let distinct: BTreeSet<String> = ids(&got).into_iter().collect();
    assert_eq!(distinct.len(), rounds, "an event was delivered twice");
    assert!(all.iter().all(Received::accepted));
}

async fn org_webhooks_receive_the_org_events(b: Backend) {
    let app = spawn_hooks(b).await;
    acme(&app).await;
    let ada = app.api_as("ada", &["orgs:admin", "workspaces:admin"]).await;
    assert_eq!(ada.post("/orgs", json!({"slug": "initech", "name": "Initech"})).await.0, 201);
    let receiver = WebhookReceiver::start().await;
    let hook = register(&ada, "/orgs/initech", &receiver, json!(["org.*"])).await;
    let id = hook["id"].as_str().unwrap();
    assert_eq!(ada.patch("/orgs/initech", json!({"name": "Initech Corp"})).await.0, 200);
    // A workspace's events are not the org's.
    toggle_bob(&ada, true).await;
    let got = receiver.wait_for(1, WAIT).await;
    assert_eq!((got[0].body["type"].as_str(), got[0].body["org"].as_str()), (Some("org.updated"), Some("initech")));
    assert!(got[0].body.get("workspace").is_none());
    app.app.webhooks().run_once().await.unwrap();
    assert_eq!(deliveries(&ada, "/orgs/initech", id).await.len(), 1);

    // Org admins only, with orgs:admin.
    let bob = app.api_as("bob", &["orgs:admin", "workspaces:admin"]).await;
    assert_eq!(bob.get("/orgs/initech/webhooks").await.0, 404);
    assert_eq!(bob.get(&format!("/orgs/initech/webhooks/{id}")).await.0, 404);
    let reader = app.api_as("ada", &["orgs:read"]).await;
    assert_eq!(reader.get("/orgs/initech/webhooks").await.0, 403);
    // The org's endpoint is not reachable through a workspace.
    assert_eq!(ada.get(&format!("/workspaces/acme/webhooks/{id}")).await.0, 404);
    assert_eq!(ada.post(&format!("/workspaces/acme/webhooks/{id}/rotate-secret"), json!({})).await.0, 404);
    assert_eq!(bob.post(&format!("/orgs/initech/webhooks/{id}/rotate-secret"), json!({})).await.0, 404);
    // Its secret rotates like a workspace's: the receiver, told the new
    // secret, still verifies what comes next.
    let (s, rotated) = ada.post(&format!("/orgs/initech/webhooks/{id}/rotate-secret"), json!({})).await;
    assert_eq!(s, 200, "{rotated}");
    receiver.set_secret(rotated["secret"].as_str().unwrap()).await;
    assert_eq!(ada.patch("/orgs/initech", json!({"name": "Initech Inc"})).await.0, 200);
    receiver.wait_for(2, WAIT).await;
    let (_, audit) = ada.get("/orgs/initech/audit").await;
    for action in ["webhook.created", "webhook.secret_rotated"] {
        assert!(audit["entries"].as_array().unwrap().iter().any(|e| e["action"] == action), "{action}: {audit}");
    }
}

async fn bad_input_is_refused_and_strangers_see_nothing(b: Backend) {
    // The production default: endpoints must be public https.
    let app = spawn(b).await;
    let ada = acme(&app).await;
    let cases = [
        (json!({"url": "http://hooks.example.com/in"}), "url"),
        (json!({"url": "http://127.0.0.1:9/in"}), "url"),
        (json!({"url": "https://10.0.0.8/in"}), "url"),
        (json!({"url": "https://169.254.169.254/latest/meta-data"}), "url"),
        (json!({"url": "https://localhost/in"}), "url"),
        (json!({"url": "https://[::1]/in"}), "url"),
        (json!({"url": "ftp://hooks.example.com"}), "url"),
        (json!({"url": "https://user:pw@hooks.example.com"}), "url"),
        (json!({"url": ""}), "url"),
        (json!({"url": "https://hooks.example.com/in", "event_types": ["Group.*"]}), "event_types"),
        (json!({"url": "https://hooks.example.com/in", "event_types": ["*.created"]}), "event_types"),
        (json!({"url": "https://hooks.example.com/in", "description": "x".repeat(201)}), "description"),
    ];
    for (body, field) in &cases {
        let (s, p) = ada.post("/workspaces/acme/webhooks", body.clone()).await;
        assert_eq!(s, 422, "{body}: {p}");
        assert!(p.to_string().contains(field), "{body}: {p}");
    }
    for body in [
        json!({"url": "https://hooks.example.com/in", "event_types": "group.*"}),
        json!({"url": 5}),
        json!({
            "url": "https://hooks.example.com/in",
            "secret": "whsec_x"
        }),
    ] {
        let (s, p) = ada.post("/workspaces/acme/webhooks", body.clone()).await;
        assert!(s == 422 || s == 400, "{body}: {s} {p}");
    }
    assert_eq!(ada.get("/workspaces/acme/webhooks").await.1["webhooks"], json!([]), "a refused endpoint was kept");

    let (s, made) = ada
        .post(
            "/workspaces/acme/webhooks",
            json!({"url": "https://hooks.example.com/in", "description": "CI", "enabled": false}),
        )
        .await;
    assert_eq!(s, 201, "{made}");
    let id = made["id"].as_str().unwrap();
    let path = format!("/workspaces/acme/webhooks/{id}");
    let (s, p) = ada.patch(&path, json!({"url": "https://192.168.1.1/x", "enabled": true})).await;
    assert_eq!(s, 422, "{p}");
    let (_, now) = ada.get(&path).await;
    assert_eq!((now["url"].as_str(), now["enabled"].as_bool()), (Some("https://hooks.example.com/in"), Some(false)));
    let (s, p) = ada.patch(&path, json!({"event_types": ["group.*"], "description": "CI hooks"})).await;
    assert_eq!(s, 200, "{p}");
    assert_eq!((p["event_types"].clone(), p["description"].clone()), (json!(["group.*"]), json!("CI hooks")));
    assert_eq!(ada.get("/workspaces/acme/webhooks/not-a-uuid").await.0, 404);
    assert_eq!(ada.get(&format!("{path}/deliveries?limit=0")).await.0, 422);
    assert_eq!(ada.get(&format!("{path}/deliveries?limit=101")).await.0, 422);

    // A member who is not an admin, and a stranger, learn nothing.
    assert_eq!(ada.put("/workspaces/acme/groups/devs/members/bob", json!({})).await.0, 200);
    let bob = app.api_as("bob", &["workspaces:admin"]).await;
    let cy = app.api_as("cy", &["workspaces:admin"]).await;
    for who in [&bob, &cy] {
        assert_eq!(who.get("/workspaces/acme/webhooks").await.0, 404);
        assert_eq!(who.get(&path).await.0, 404);
        assert_eq!(who.get(&format!("{path}/deliveries")).await.0, 404);
        assert_eq!(who.delete(&path).await.0, 404);
        assert_eq!(who.post("/workspaces/acme/webhooks", json!({"url": "https://evil.example/x"})).await.0, 404);
    }
    // An admin's token without workspaces:admin is refused.
    let reader = app.api_as("ada", &["workspaces:read"]).await;
    assert_eq!(reader.get("/workspaces/acme/webhooks").await.0, 403);
    // Another workspace's admin cannot reach this endpoint through theirs.
    let cy_ws = app.api_as("cy", &["workspaces:admin"]).await;
    assert_eq!(cy_ws.post("/workspaces", json!({"slug": "other", "name": "Other"})).await.0, 201);
    assert_eq!(cy_ws.get(&format!("/workspaces/other/webhooks/{id}")).await.0, 404);
    assert_eq!(cy_ws.delete(&format!("/workspaces/other/webhooks/{id}")).await.0, 404);
    assert_eq!(cy_ws.patch(&format!("/workspaces/other/webhooks/{id}"), json!({"enabled": false})).await.0, 404);
    assert_eq!(cy_ws.post(&format!("/workspaces/other/webhooks/{id}/ping"), json!({})).await.0, 404);
    assert_eq!(ada.get(&path).await.0, 200);

    // Changes are audited, and deletion removes it.
    assert_eq!(ada.delete(&path).await.0, 204);
    assert_eq!(ada.delete(&path).await.0, 404);
    let (_, audit) = ada.get("/workspaces/acme/audit").await;
    let actions: Vec<&str> =
        audit["entries"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    for a in ["webhook.created", "webhook.updated", "webhook.deleted"] {
        assert!(actions.contains(&a), "{a} not audited: {actions:?}");
    }
    // The audit log and the event log name the host, never the URL.
    assert!(!audit.to_string().contains("https://hooks.example.com/in"));
}

async fn admins_manage_webhooks_from_the_pages(b: Backend) {
    let app = spawn_hooks(b).await;
    let ada = acme(&app).await;
    let browser = app.signed_up("dora", "correct horse battery", true).await;
    assert_eq!(ada.put("/workspaces/acme/groups/administrators/members/dora", json!({})).await.0, 200);
    let (s, page) = browser.get_text("/workspaces/acme").await;
    assert_eq!(s, 200);
    assert!(page.contains("/workspaces/acme/webhooks"), "no link to the webhooks page");
    let receiver = WebhookReceiver::start().await;
    let url = receiver.url("/from-page");

    // A form without its CSRF token changes nothing; a bad URL is refused.
    let res = browser.post_raw("/workspaces/acme/webhooks", &[("url", &url)]).await;
    assert_eq!(res.status(), 403);
    let res = browser.post_form("/workspaces/acme/webhooks", &[("url", "ftp://x.example")]).await;
    assert_eq!(res.status(), 422);
    assert_eq!(ada.get("/workspaces/acme/webhooks").await.1["webhooks"], json!([]));

    let res = browser
        .post_form("/workspaces/acme/webhooks", &[("url", &url), ("event_types", "group.*, repository.*")])
        .await;
    assert_eq!(res.status(), 200);
    let shown = res.text().await.unwrap();
    let start = shown.find("whsec_").expect("the secret is shown once");
    let secret: String = shown[start..].chars().take_while(|c| !c.is_whitespace() && *c != '<').collect();
    receiver.set_secret(&secret).await;
    let (_, list) = browser.get_text("/workspaces/acme/webhooks").await;
    assert!(list.contains(&url) && list.contains("group.* repository.*"), "{list}");
    assert!(!list.contains("whsec_"), "the secret was shown again");

    toggle_bob(&ada, true).await;
    receiver.wait_for(1, WAIT).await;
    let (_, hooks) = ada.get("/workspaces/acme/webhooks").await;
    let id = hooks["webhooks"][0]["id"].as_str().unwrap().to_owned();
    eventually("the delivery is logged", || async {
        deliveries(&ada, "/workspaces/acme", &id).await.first().is_some_and(|d| d["status"] == "succeeded")
    })
    .await;
    let delivery = deliveries(&ada, "/workspaces/acme", &id).await.remove(0);
    let (s, log) = browser.get_text(&format!("/workspaces/acme/webhooks?log={id}")).await;
    assert_eq!(s, 200);
    assert!(log.contains("group.member_added") && log.contains("succeeded") && log.contains("Redeliver"), "{log}");
    let did = delivery["id"].as_str().unwrap();
    let res = browser.post_form(&format!("/workspaces/acme/webhooks/{id}/deliveries/{did}/redeliver"), &[]).await;
    assert_eq!(res.status(), 303);
    let got = receiver.wait_for(2, WAIT).await;
    assert_eq!(got[0].webhook_id, got[1].webhook_id);
    // Rotating from the page shows the new secret once; without the CSRF
    // token nothing changes.
    let before = ada.get(&format!("/workspaces/acme/webhooks/{id}")).await.1["updated_at"].clone();
    let res = browser.post_raw(&format!("/workspaces/acme/webhooks/{id}/rotate-secret"), &[]).await;
    assert_eq!(res.status(), 403);
    assert_eq!(ada.get(&format!("/workspaces/acme/webhooks/{id}")).await.1["updated_at"], before);
    let res = browser.post_form(&format!("/workspaces/acme/webhooks/{id}/rotate-secret"), &[]).await;
    assert_eq!(res.status(), 200);
    let shown = res.text().await.unwrap();
    assert!(shown.contains("whsec_") && !shown.contains(&secret), "{shown}");
    let res = browser.post_form(&format!("/workspaces/acme/webhooks/{id}/enabled"), &[]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(ada.get(&format!("/workspaces/acme/webhooks/{id}")).await.1["enabled"], false);

    // A member who is not an admin sees nothing.
    let bob = app.signed_up("eve", "correct horse battery", true).await;
    assert_eq!(ada.put("/workspaces/acme/groups/devs/members/eve", json!({})).await.0, 200);
    assert_eq!(bob.get_text("/workspaces/acme/webhooks").await.0, 404);
    assert_eq!(bob.post_form(&format!("/workspaces/acme/webhooks/{id}/delete"), &[]).await.status(), 404);
    assert_eq!(bob.post_form(&format!("/workspaces/acme/webhooks/{id}/rotate-secret"), &[]).await.status(), 404);
    let res = browser.post_form(&format!("/workspaces/acme/webhooks/{id}/delete"), &[]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(ada.get("/workspaces/acme/webhooks").await.1["webhooks"], json!([]));
}

/// The signatures in a delivery's `webhook-signature` header that `secret`
/// made (checked by core's receiver-side `verify`, at the delivery's time).
fn signed_by(r: &Received, secret: &str) -> bool {
    let secret = WebhookSecret::parse(secret).unwrap();
    let ts = r.webhook_timestamp.clone().unwrap();
    let now: i64 = ts.parse().unwrap();
    let sig = r.webhook_signature.clone().unwrap();
    verify(&secret, r.webhook_id.as_deref().unwrap(), &ts, r.body_text.as_bytes(), &sig, now).is_ok()
}

/// The `n`th request the receiver got, verified or not.
async fn arrived(receiver: &WebhookReceiver, n: usize) -> Received {
    eventually("the delivery arrives", || async { receiver.received().await.len() >= n }).await;
    receiver.received().await.remove(n - 1)
}

async fn a_rotated_secret_keeps_signing_beside_the_new_one_for_a_day(b: Backend) {
    let app = spawn_hooks(b).await;
    let ada = acme(&app).await;
    let receiver = WebhookReceiver::start().await;
    let hook = register(&ada, "/workspaces/acme", &receiver, json!(["group.*"])).await;
    let id = hook["id"].as_str().unwrap();
    let old = hook["secret"].as_str().unwrap().to_owned();

    let (s, rotated) = ada.post(&format!("/workspaces/acme/webhooks/{id}/rotate-secret"), json!({})).await;
    assert_eq!(s, 200, "{rotated}");
    let new = rotated["secret"].as_str().unwrap().to_owned();
    assert!(new.starts_with("whsec_") && new != old, "{rotated}");
    let updated = time::OffsetDateTime::parse(rotated["updated_at"].as_str().unwrap(), &Rfc3339).unwrap();
    let expires =
        time::OffsetDateTime::parse(rotated["previous_secret_expires_at"].as_str().unwrap(), &Rfc3339).unwrap();
    assert_eq!((expires - updated).whole_hours(), 24, "{rotated}");
    let (_, one) = ada.get(&format!("/workspaces/acme/webhooks/{id}")).await;
    assert!(one.get("secret").is_none() && !one.to_string().contains(&new), "{one}");
    let events = crate::directory::all_events(&ada, "/workspaces/acme", 0, 100).await;
    let rotation = events.iter().find(|e| e["type"] == "webhook.secret_rotated").expect("no event");
    assert!(!rotation.to_string().contains("whsec_"), "{rotation}");

    // A receiver that still holds the old secret accepts what comes next,
    // and so does one that switched: both sign until the day is over.
    toggle_bob(&ada, true).await;
    let first = receiver.wait_for(1, WAIT).await.remove(0);
    assert!(first.verified, "the old secret no longer verifies: {first:?}");
    receiver.set_secret(&new).await;
    toggle_bob(&ada, false).await;
    let second = receiver.wait_for(2, WAIT).await.remove(1);
    assert!(second.verified, "the new secret does not verify: {second:?}");
    for r in [&first, &second] {
        assert!(signed_by(r, &old) && signed_by(r, &new), "{r:?}");
        assert_eq!(r.webhook_signature.as_deref().unwrap().matches("v1,").count(), 2);
    }

    // A day later only the new secret signs. (The app's clock is a day
    // ahead of the receiver's now, so the receiver refuses the timestamp:
    // the signatures are checked here, at the delivery's own time.)
    app.clock.advance(Duration::from_secs(24 * 3600 + 1));
    let (s, _) = ada.post(&format!("/workspaces/acme/webhooks/{id}/ping"), json!({})).await;
    assert_eq!(s, 202);
    let later = arrived(&receiver, 3).await;
    assert_eq!(later.webhook_signature.as_deref().unwrap().matches("v1,").count(), 1, "{later:?}");
    assert!(signed_by(&later, &new) && !signed_by(&later, &old), "{later:?}");

    // Another rotation replaces the overlap; unknown endpoints, other
    // workspaces' admins and non-admins get 404 and change nothing.
    let (s, again) = ada.post(&format!("/workspaces/acme/webhooks/{id}/rotate-secret"), json!({})).await;
    assert_eq!(s, 200);
    let newest = again["secret"].as_str().unwrap().to_owned();
    toggle_bob(&ada, true).await;
    let next = arrived(&receiver, 4).await;
    assert!(signed_by(&next, &newest) && signed_by(&next, &new) && !signed_by(&next, &old), "{next:?}");
    let unknown = "00000000-0000-7000-8000-000000000000";
    assert_eq!(ada.post(&format!("/workspaces/acme/webhooks/{unknown}/rotate-secret"), json!({})).await.0, 404);
    let bob = app.api_as("bob", &["workspaces:admin"]).await;
    assert_eq!(bob.post(&format!("/workspaces/acme/webhooks/{id}/rotate-secret"), json!({})).await.0, 404);
    let other = app.user("zed").await;
    assert_eq!(other.post("/workspaces", json!({"slug": "other", "name": "Other"})).await.0, 201);
    assert_eq!(other.post(&format!("/workspaces/other/webhooks/{id}/rotate-secret"), json!({})).await.0, 404);
    toggle_bob(&ada, false).await;
    let last = arrived(&receiver, 5).await;
    assert!(signed_by(&last, &newest) && signed_by(&last, &new), "a refused rotation changed the secret: {last:?}");
}

async fn an_endpoint_that_fails_for_days_is_disabled(b: Backend) {
    let app = spawn_hooks(b).await;
    let ada = acme(&app).await;
    // Who is told when it is disabled: admins ada and zoe; not dan (an admin
    // since deactivated), nor cy (a member).
    for name in ["dan", "zoe"] {
        app.account(name).await;
        let path = format!("/workspaces/acme/groups/administrators/members/{name}");
        assert_eq!(ada.put(&path, json!({})).await.0, 200);
    }
    app.app.accounts().set_status("dan", guildhall_core::accounts::AccountStatus::Deactivated).await.unwrap();
    assert_eq!(ada.put("/workspaces/acme/groups/devs/members/cy", json!({})).await.0, 200);
    let receiver = WebhookReceiver::start().await;
    let hook = register(&ada, "/workspaces/acme", &receiver, json!(["group.*"])).await;
    let id = hook["id"].as_str().unwrap().to_owned();
    let url = format!("/workspaces/acme/webhooks/{id}");
    let endpoint = || async { ada.get(&url).await.1 };
    let attempts = || async { deliveries(&ada, "/workspaces/acme", &id).await[0]["attempts"].as_u64() };

    // A failure starts a run of failures; a success ends it.
    receiver.fail_next(1).await;
    toggle_bob(&ada, true).await;
    eventually("the failure is counted", || async { !endpoint().await["failing_since"].is_null() }).await;
    assert_eq!(endpoint().await["enabled"], true);
    app.clock.advance(Duration::from_secs(30));
    eventually("the retry ends the run", || async { endpoint().await["failing_since"].is_null() }).await;

    // Failing from now on: four days in it is still enabled, at five it is
    // disabled, by Guildhall, with the reason in the audit log and events.
    receiver.fail_next(1000).await;
    toggle_bob(&ada, false).await;
    eventually("the first failure", || async { attempts().await == Some(1) }).await;
    let since = endpoint().await["failing_since"].clone();
    assert!(since.is_string(), "{since}");
    app.clock.advance(Duration::from_secs(4 * 24 * 3600));
    eventually("the second failure", || async { attempts().await == Some(2) }).await;
    let now = endpoint().await;
    assert_eq!((&now["enabled"], &now["failing_since"]), (&json!(true), &since), "{now}");
    app.clock.advance(Duration::from_secs(24 * 3600 + 1));
    eventually("the endpoint is disabled", || async { endpoint().await["enabled"] == false }).await;
    assert_eq!(attempts().await, Some(3));
    let events = crate::directory::all_events(&ada, "/workspaces/acme", 0, 100).await;
    let disabled = events.iter().find(|e| e["type"] == "webhook.disabled").expect("no event");
    assert_eq!(disabled["data"]["actor"], "guildhall");
    assert_eq!(disabled["data"]["webhook"]["enabled"], false);
    assert_eq!(disabled["data"]["detail"], "every delivery attempt failed for 5 days");
    // The workspace's active admins are told by email, just after the
    // endpoint is disabled and in username order (so once zoe is, all are);
    // the mail names the endpoint by its host, never by its URL.
    let subject = "A webhook endpoint was disabled";
    eventually("zoe is told", || async { !app.mails_to("zoe@example.com", subject).is_empty() }).await;
    let mails = app.mails_to("ada@example.com", subject);
    assert_eq!(mails.len(), 1, "{mails:#?}");
    let text = mails[0].replace("=\r\n", "").replace("=\n", "").replace("=3D", "=");
    assert!(text.contains("on 127.0.0.1") && text.contains("failed for 5 days"), "{text}");
    assert!(!text.contains("/hooks"), "the mail shows the endpoint's URL: {text}");
    let page = guildhall_testkit::link_in(&text, &app.url("/workspaces/acme/webhooks"));
    assert_eq!(page.as_deref(), Some("/workspaces/acme/webhooks"), "{text}");
    for other in ["dan", "cy", "bob"] {
        assert!(app.mails_to(&format!("{other}@example.com"), subject).is_empty(), "{other} was told");
    }
    // Nothing is sent to a disabled endpoint.
    toggle_bob(&ada, true).await;
    let round = app.app.webhooks().run_once().await.unwrap();
    assert_eq!((round.queued, round.attempted), (0, 0));
    let dora = app.signed_up("dora", "correct horse battery", true).await;
    assert_eq!(ada.put("/workspaces/acme/groups/administrators/members/dora", json!({})).await.0, 200);
    let (s, page) = dora.get_text("/workspaces/acme/webhooks").await;
    assert_eq!(s, 200);
    assert!(page.contains("disabled") && page.contains("failing since"), "{page}");

    // Enabled again by an admin: a clean slate.
    let (s, back) = ada.patch(&url, json!({"enabled": true})).await;
    assert_eq!((s, &back["enabled"], &back["failing_since"]), (200, &json!(true), &Value::Null), "{back}");
    assert_eq!(endpoint().await, back);
}

async fn finished_deliveries_are_pruned_after_the_retention_window(b: Backend) {
    const HOUR: Duration = Duration::from_secs(3600);
    let app = guildhall_testkit::spawn_app_with(b, |s| {
        s.webhooks_allow_loopback = true;
        s.webhook_poll_ms = 50;
        s.webhook_delivery_retention_days = 3;
    })
    .await;
    let ada = acme(&app).await;
    let receiver = WebhookReceiver::start().await;
    let id = register(&ada, "/workspaces/acme", &receiver, json!(["group.*"])).await["id"].as_str().unwrap().to_owned();
    let log = || async {
        deliveries(&ada, "/workspaces/acme", &id)
            .await
            .iter()
            .map(|d| format!("{} {}", d["event_type"].as_str().unwrap(), d["status"].as_str().unwrap()))
            .collect::<Vec<_>>()
    };
    let attempts = || async { deliveries(&ada, "/workspaces/acme", &id).await[0]["attempts"].as_u64().unwrap() };

    // A success now (the receiver checks signatures against the real time,
    // so only the first delivery can succeed), then a delivery that fails
    // until it is given up (12 attempts, 6 hours apart here: at T0+66 h),
    // then one still pending.
    toggle_bob(&ada, true).await;
    eventually("the success", || async { log().await == ["group.member_added succeeded"] }).await;
    let succeeded = deliveries(&ada, "/workspaces/acme", &id).await[0]["id"].as_str().unwrap().to_owned();
    receiver.fail_next(1000).await;
    toggle_bob(&ada, false).await;
    eventually("the second delivery", || async { log().await.len() == 2 }).await;
    for n in 1..=12 {
        eventually(&format!("attempt {n}"), || async { attempts().await == n }).await;
        if n < 12 {
            app.clock.advance(6 * HOUR);
        }
    }
    toggle_bob(&ada, true).await;
    eventually("the pending delivery", || async { attempts().await == 1 }).await;
    let all = ["group.member_added pending", "group.member_removed failed", "group.member_added succeeded"];
    assert_eq!(log().await, all);

    // Within the 3 days of retention set here nothing goes (the success was
    // 66 hours ago).
    assert_eq!(app.app.webhooks().prune().await.unwrap(), 0);
    assert_eq!(log().await, all);
    // 3 days after the success it goes, with its attempts; nothing else does.
    app.clock.advance(7 * HOUR);
    assert_eq!(app.app.webhooks().prune().await.unwrap(), 1);
    assert_eq!(log().await, all[..2]);
    let url = format!("/workspaces/acme/webhooks/{id}/deliveries/{succeeded}/redeliver");
    assert_eq!(ada.post(&url, json!({})).await.0, 404, "a pruned delivery can still be redelivered");
    assert_eq!(app.app.webhooks().prune().await.unwrap(), 0, "pruning again deleted more");
    // The failed one goes 3 days after it was given up; a pending delivery
    // is never pruned, however old.
    app.clock.advance(365 * 24 * HOUR);
    assert_eq!(app.app.webhooks().prune().await.unwrap(), 1);
    assert_eq!(log().await, all[..1]);
}

async fn a_disabled_org_endpoint_is_told_to_org_admins_who_may_be(b: Backend) {
    let app = spawn_hooks(b).await;
    acme(&app).await;
    let ada = app.api_as("ada", &["orgs:admin", "workspaces:admin"]).await;
    assert_eq!(ada.post("/orgs", json!({"slug": "initech", "name": "Initech"})).await.0, 201);
    // Org admins: ada; uma, whose address is not verified; zoe, last by name.
    let uma = guildhall_app::accounts::AdminCreate {
        email: "uma@example.com",
        username: "uma",
        display_name: None,
        password: "correct horse battery",
        verified: false,
    };
    app.app.accounts().admin_create(uma).await.unwrap();
    app.account("zoe").await;
    for who in ["uma", "zoe"] {
        assert_eq!(ada.put(&format!("/orgs/initech/admins/{who}"), json!({})).await.0, 204, "{who}");
    }
    let receiver = WebhookReceiver::start().await;
    let hook = register(&ada, "/orgs/initech", &receiver, json!(["org.*"])).await;
    let id = hook["id"].as_str().unwrap().to_owned();
    receiver.fail_next(1000).await;
    assert_eq!(ada.patch("/orgs/initech", json!({"name": "Initech Corp"})).await.0, 200);
    let attempts = || async { deliveries(&ada, "/orgs/initech", &id).await.first().map(|d| d["attempts"].clone()) };
    eventually("the first failure", || async { attempts().await == Some(json!(1)) }).await;
    app.clock.advance(Duration::from_secs(5 * 24 * 3600 + 1));
    let subject = "A webhook endpoint was disabled";
    eventually("zoe is told", || async { !app.mails_to("zoe@example.com", subject).is_empty() }).await;
    let mails = app.mails_to("ada@example.com", subject);
    assert_eq!(mails.len(), 1, "{mails:#?}");
    let text = mails[0].replace("=\r\n", "").replace("=\n", "").replace("=3D", "=");
    let page = guildhall_testkit::link_in(&text, &app.url("/orgs/initech/webhooks"));
    assert_eq!(page.as_deref(), Some("/orgs/initech/webhooks"), "{text}");
    assert!(app.mails_to("uma@example.com", subject).is_empty(), "an unverified address was told");
}
