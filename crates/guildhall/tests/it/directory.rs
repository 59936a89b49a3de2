//! Directory sync over the JSON API: the event log, the snapshot and its
//! cursor, and directory tokens (ADR 0011).

use crate::spawn;
use guildhall_core::accounts::AccountStatus;
use guildhall_testkit::{Api, Backend, TestApp, on_both_backends};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

on_both_backends!(
    every_directory_change_is_an_event_in_commit_order,
    events_are_read_only_by_admins_and_their_tokens,
    a_snapshot_then_the_log_sees_every_change_exactly_once_under_concurrent_writes,
    directory_tokens_are_made_and_revoked_on_the_admin_page,
);

/// Every event of the workspace after `after`, following `next`.
pub async fn all_events(api: &Api, base: &str, after: i64, limit: u32) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor = after;
    loop {
        let (s, page) = api.get(&format!("{base}/events?after={cursor}&limit={limit}")).await;
        assert_eq!(s, 200, "{page}");
        let events = page["events"].as_array().unwrap().clone();
        let next = page["next"].as_i64().unwrap();
        if let Some(last) = events.last() {
            assert_eq!(last["cursor"].as_i64().unwrap(), next);
        } else {
            assert_eq!(next, cursor, "an empty page moved the cursor");
        }
        let done = !page["more"].as_bool().unwrap();
        out.extend(events);
        cursor = next;
        if done {
            return out;
        }
    }
}

async fn workspace_with_people(app: &TestApp) -> Api {
    let ada = app.user("ada").await;
    for name in ["bob", "cy"] {
        app.account(name).await;
    }
    assert_eq!(ada.post("/workspaces", json!({"slug": "acme", "name": "Acme"})).await.0, 201);
    assert_eq!(ada.post("/workspaces/acme/groups", json!({"slug": "devs", "name": "Developers"})).await.0, 201);
    ada
}

async fn every_directory_change_is_an_event_in_commit_order(b: Backend) {
    let app = spawn(b).await;
    let ada = workspace_with_people(&app).await;
    assert_eq!(ada.put("/workspaces/acme/groups/devs/members/bob", json!({})).await.0, 200);
    // Adding again changes nothing and writes no event.
    assert_eq!(ada.put("/workspaces/acme/groups/devs/members/bob", json!({})).await.0, 200);
    assert_eq!(ada.post("/workspaces/acme/repositories", json!({"slug": "api"})).await.0, 201);
    let (s, p) = ada.put("/workspaces/acme/groups/devs/permissions/api", json!({"permission": "write"})).await;
    assert_eq!(s, 200, "{p}");
    let (s, p) = ada.put("/workspaces/acme/repositories/api/grants/cy", json!({"permission": "read"})).await;
    assert_eq!(s, 200, "{p}");
    app.app.accounts().set_status("bob", AccountStatus::Deactivated).await.unwrap();
    assert_eq!(ada.delete("/workspaces/acme/groups/devs/members/bob").await.0, 200);

    let events = all_events(&ada, "/workspaces/acme", 0, 2).await;
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "workspace.created",
            "group.created",
            "group.member_added",
            "repository.created",
            "group.permission_set",
            "repository.grant_set",
            "account.updated",
            "group.member_removed",
        ],
        "{events:#?}"
    );
    let cursors: Vec<i64> = events.iter().map(|e| e["cursor"].as_i64().unwrap()).collect();
    assert!(cursors.windows(2).all(|w| w[0] < w[1]), "cursors not increasing: {cursors:?}");
    let bob = app.app.accounts().by_username("bob").await.unwrap();
    assert_eq!(events[2]["data"]["account"]["id"], json!(bob.id.0));
    assert_eq!(events[2]["data"]["group"]["slug"], "devs");
    assert_eq!(events[2]["data"]["actor"], "ada");
    assert_eq!(events[4]["data"]["permission"], "write");
    assert_eq!(events[4]["data"]["repository"]["slug"], "api");
    assert_eq!(events[6]["data"]["account"]["active"], false);
    assert!(events[0]["occurred_at"].as_str().unwrap().ends_with('Z'));

    // Following from a cursor returns only what came later.
    let later = all_events(&ada, "/workspaces/acme", cursors[5], 100).await;
    assert_eq!(later.len(), 2);
    // Another workspace's changes are not in this log.
    assert_eq!(ada.post("/workspaces", json!({"slug": "other", "name": "Other"})).await.0, 201);
    assert_eq!(all_events(&ada, "/workspaces/acme", 0, 100).await.len(), 8);
    assert_eq!(all_events(&ada, "/workspaces/other", 0, 100).await.len(), 1);

    // Bad input gets a clear error.
    for q in ["after=-1", "limit=0", "limit=10001", "after=x", "cursor=3"] {
        let (s, p) = ada.get(&format!("/workspaces/acme/events?{q}")).await;
        assert_eq!(s, 422, "{q}: {p}");
    }
}

async fn events_are_read_only_by_admins_and_their_tokens(b: Backend) {
    let app = spawn(b).await;
    let ada = workspace_with_people(&app).await;
    assert_eq!(ada.put("/workspaces/acme/groups/devs/members/bob", json!({})).await.0, 200);
    let bob = app.api_as("bob", &["workspaces:admin", "scim"]).await;
    // A member who is not an admin learns nothing.
    assert_eq!(bob.get("/workspaces/acme/events").await.0, 404);
    assert_eq!(bob.get("/workspaces/acme/snapshot").await.0, 404);
    // An admin's token without the scim scope is refused.
    let narrow = app.api_as("ada", &["workspaces:admin"]).await;
    let (s, p) = narrow.get("/workspaces/acme/events").await;
    assert_eq!(s, 403, "{p}");
    let scim = app.api_as("ada", &["scim"]).await;
    assert_eq!(scim.get("/workspaces/acme/events").await.0, 200);

    // Directory tokens: made in a browser session, shown once, scoped to
    // their workspace, revocable.
    let (s, p) = ada.post("/workspaces/acme/directory-tokens", json!({"name": "scanner"})).await;
    assert_eq!(s, 403, "a bearer token minted a directory token: {p}");
    let browser = app.signed_up("dora", "correct horse battery", true).await;
    let dora = app.app.accounts().by_username("dora").await.unwrap();
    assert_eq!(ada.put("/workspaces/acme/groups/administrators/members/dora", json!({})).await.0, 200);
    let res = browser
        .http
        .post(app.url("/api/v1/workspaces/acme/directory-tokens"))
        .header("origin", app.base_url.clone())
        .json(&json!({"name": "scanner"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let made: Value = res.json().await.unwrap();
    let token = made["token"].as_str().unwrap().to_owned();
    let listed: Value = browser
        .http
        .get(app.url("/api/v1/workspaces/acme/directory-tokens"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["tokens"][0]["name"], "scanner");
    assert_eq!(listed["tokens"][0]["created_by"], dora.username.as_str());
    assert!(listed["tokens"][0].get("token").is_none(), "the secret was listed");
    let app_token = Api { token: token.clone(), ..ada.clone() };
    let (s, snap) = app_token.get("/workspaces/acme/snapshot").await;
    assert_eq!(s, 200, "{snap}");
    assert_eq!(app_token.get("/workspaces/acme/events").await.0, 200);
    // Not another workspace's, not the JSON API's other endpoints.
    assert_eq!(ada.post("/workspaces", json!({"slug": "other", "name": "Other"})).await.0, 201);
    assert_eq!(app_token.get("/workspaces/other/events").await.0, 404);
    assert_eq!(app_token.get("/workspaces/acme").await.0, 401);
    // Its creation is an event and in the audit log.
    let events = all_events(&ada, "/workspaces/acme", 0, 100).await;
    assert!(events.iter().any(|e| e["type"] == "directory_token.created"), "{events:#?}");
    let id = made["id"].as_str().unwrap();
    let res = browser
        .http
        .delete(app.url(&format!("/api/v1/workspaces/acme/directory-tokens/{id}")))
        .header("origin", app.base_url.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(app_token.get("/workspaces/acme/events").await.0, 401, "a revoked token still works");
    let res = browser
        .http
        .delete(app.url(&format!("/api/v1/workspaces/acme/directory-tokens/{id}")))
        .header("origin", app.base_url.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let bogus = Api { token: "not-a-token".into(), ..ada.clone() };
    assert_eq!(bogus.get("/workspaces/acme/events").await.0, 401);
}

/// The mirror a client keeps: group slug -> member ids.
type Mirror = BTreeMap<String, BTreeSet<String>>;

fn mirror_of(snapshot: &Value) -> Mirror {
    snapshot["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            let members = g["members"].as_array().unwrap().iter().map(|m| m.as_str().unwrap().to_owned()).collect();
            (g["slug"].as_str().unwrap().to_owned(), members)
        })
        .collect()
}

async fn a_snapshot_then_the_log_sees_every_change_exactly_once_under_concurrent_writes(b: Backend) {
    let app = spawn(b).await;
    let ada = workspace_with_people(&app).await;
    let names: Vec<String> = (0..6).map(|i| format!("user{i}")).collect();
    for n in &names {
        app.account(n).await;
    }
    // A writer toggles memberships while the reader takes a snapshot.
    let writer = {
        let ada = ada.clone();
        let names = names.clone();
        tokio::spawn(async move {
            for round in 0..8 {
                for n in &names {
                    let path = format!("/workspaces/acme/groups/devs/members/{n}");
                    let (s, p) = if round % 2 == 0 { ada.put(&path, json!({})).await } else { ada.delete(&path).await };
                    assert_eq!(s, 200, "{p}");
                }
            }
        })
    };
    let mut snapshots = Vec::new();
    while !writer.is_finished() {
        let (s, snap) = ada.get("/workspaces/acme/snapshot").await;
        assert_eq!(s, 200);
        snapshots.push(snap);
    }
    writer.await.unwrap();
    let (_, last) = ada.get("/workspaces/acme/snapshot").await;
    let expected = mirror_of(&last);
    assert!(snapshots.len() > 1, "the snapshots did not overlap the writes");
    for snap in &snapshots {
        let mut mirror = mirror_of(snap);
        let events = all_events(&ada, "/workspaces/acme", snap["cursor"].as_i64().unwrap(), 7).await;
        for e in &events {
            let group = e["data"]["group"]["slug"].as_str().unwrap_or_default().to_owned();
            let account = e["data"]["account"]["id"].as_str().unwrap_or_default().to_owned();
            match e["type"].as_str().unwrap() {
                "group.member_added" => {
                    assert!(mirror.get_mut(&group).unwrap().insert(account), "seen twice: {e}")
                }
                "group.member_removed" => {
                    assert!(mirror.get_mut(&group).unwrap().remove(&account), "a removal of no one: {e}")
                }
                other => panic!("unexpected event {other}"),
            }
        }
        assert_eq!(mirror, expected, "snapshot at {} plus the log differs from the end state", snap["cursor"]);
    }
}

async fn directory_tokens_are_made_and_revoked_on_the_admin_page(b: Backend) {
    let app = spawn(b).await;
    let ada = app.signed_up("ada", "correct horse battery", true).await;
    let ada_api = app.api_as("ada", &["workspaces:admin"]).await;
    assert_eq!(ada_api.post("/workspaces", json!({"slug": "acme", "name": "Acme"})).await.0, 201);
    let bob = app.signed_up("bob", "correct horse battery", true).await;
    assert_eq!(ada_api.put("/workspaces/acme/groups/administrators/members/bob", json!({})).await.0, 200);
    assert_eq!(ada_api.delete("/workspaces/acme/groups/administrators/members/bob").await.0, 200);
    let (s, page) = ada.get_text("/workspaces/acme/directory").await;
    assert_eq!(s, 200, "{page}");
    assert!(page.contains(&format!("{}/scim/v2/workspaces/acme", app.base_url)), "{page}");
    assert!(page.contains("No tokens yet"), "{page}");
    // Others learn nothing; a form without its CSRF token changes nothing.
    assert_eq!(bob.get("/workspaces/acme/directory").await.status(), 404);
    assert_eq!(bob.post_form("/workspaces/acme/directory/tokens", &[("name", "x")]).await.status(), 404);
    assert_eq!(ada.post_raw("/workspaces/acme/directory/tokens", &[("name", "x")]).await.status(), 403);
    let res = ada.post_form("/workspaces/acme/directory/tokens", &[("name", "")]).await;
    assert_eq!(res.status(), 422);
    let res = ada.post_form("/workspaces/acme/directory/tokens", &[("name", "Scanner")]).await;
    assert_eq!(res.status(), 200);
    let shown = res.text().await.unwrap();
    let token = shown.split("not shown again: ").nth(1).unwrap().split('<').next().unwrap().trim().to_owned();
    let scim = reqwest::Client::new();
    let users = |t: String| {
        let scim = scim.clone();
        let url = app.url("/scim/v2/workspaces/acme/Users");
        async move { scim.get(url).bearer_auth(t).send().await.unwrap().status().as_u16() }
    };
    assert_eq!(users(token.clone()).await, 200);
    let (_, page) = ada.get_text("/workspaces/acme/directory").await;
    assert!(page.contains("Scanner") && !page.contains(&token), "{page}");
    let id = app
        .app
        .store()
        .directory_tokens(guildhall_app::ports::EventScope::Workspace(
            app.app
                .store()
                .workspace_by_slug(&guildhall_core::workspaces::Slug::parse("acme").unwrap())
                .await
                .unwrap()
                .unwrap()
                .id,
        ))
        .await
        .unwrap()[0]
        .id;
    let res = ada.post_form(&format!("/workspaces/acme/directory/tokens/{id}/revoke"), &[]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(users(token).await, 401, "a revoked token still works");
    assert!(ada.get_text("/workspaces/acme/directory").await.1.contains("No tokens yet"));
}
