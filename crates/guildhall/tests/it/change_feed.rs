//! The change feed (ADR 0006): a node answers hot checks from memory, yet
//! sees its own writes at once and everyone else's within the follow
//! interval.

use crate::spawn;
use guildhall_testkit::{Api, Backend, TestApp, eventually, on_both_backends, spawn_app_with};
use serde_json::json;

on_both_backends!(a_node_sees_its_own_writes_at_once);

/// Ada (admin) and Bob (member of `devs`, default `read`) in `acme` with the
/// repository `api`; the check is warmed so the node answers from memory.
async fn acme(ada: &Api) -> &'static str {
    ada.post("/workspaces", json!({"slug": "acme", "name": "Acme"})).await;
    ada.post("/workspaces/acme/repositories", json!({"slug": "api"})).await;
    ada.post("/workspaces/acme/groups", json!({"slug": "devs", "name": "D", "default_permission": "read"})).await;
    ada.put("/workspaces/acme/groups/devs/members/bob", json!({})).await;
    let check = "/workspaces/acme/repositories/api/permissions/bob";
    assert_eq!(ada.get(check).await.1["permission"], "read", "warming the cache");
    check
}

async fn a_node_sees_its_own_writes_at_once(b: Backend) {
    let app = spawn(b).await;
    let ada = app.user("ada").await;
    app.account("bob").await;
    let bob = app.api_as("bob", &["workspaces:read"]).await;
    let check = acme(&ada).await;
    assert_eq!(bob.get(check).await.0, 200, "warming bob's token");
    // No waiting anywhere below: each answer must already reflect the write.
    ada.patch("/workspaces/acme/groups/devs", json!({"default_permission": "write"})).await;
    assert_eq!(ada.get(check).await.1["permission"], "write", "a stale index answered");
    ada.delete("/workspaces/acme/groups/devs/members/bob").await;
    assert_eq!(ada.get(check).await.1["permission"], "none");
    assert_eq!(bob.get(check).await.0, 404, "a removed member still passes the check");
    revoke_tokens(&app, "ada").await;
    assert_eq!(ada.get(check).await.0, 401, "a revoked token still works");
}

/// Revokes every token of the account through the node's own app, as the
/// account page does (token management needs a session, not a token).
async fn revoke_tokens(node: &TestApp, username: &str) {
    let account = node.app.accounts().by_username(username).await.unwrap();
    for t in node.app.tokens().list(&account).await.unwrap() {
        node.app.tokens().revoke(&account, &t.id.to_string()).await.unwrap();
    }
}

/// Two nodes on one PostgreSQL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_on_one_node_reaches_another_within_the_follow_interval() {
    let a = spawn(Backend::Postgres).await;
    let db = a.settings.database_url.clone();
    let key = a.data_dir.join("master.key");
    let b = spawn_app_with(Backend::Postgres, |s| {
        s.database_url = db;
        s.master_key_file = Some(key);
    })
    .await;
    let ada_a = a.user("ada").await;
    a.account("bob").await;
    let ada_b = Api { base: b.base_url.clone(), ..ada_a.clone() };
    let bob_a = a.api_as("bob", &["workspaces:read"]).await;
    let check = acme(&ada_a).await;
    assert_eq!(bob_a.get(check).await.1["permission"], "read");
    assert_eq!(ada_b.patch("/workspaces/acme/groups/devs", json!({"default_permission": "write"})).await.0, 200);
    eventually("node A sees the new default permission", || async {
        ada_a.get(check).await.1["permission"] == "write"
    })
    .await;
    assert_eq!(ada_b.delete("/workspaces/acme/groups/devs/members/bob").await.0, 200);
    eventually("node A sees bob leave", || async { bob_a.get(check).await.0 == 404 }).await;
    // A token revoked on node B stops working on node A.
    assert_eq!(bob_a.get("/workspaces").await.0, 200, "warming bob's token on node A");
    revoke_tokens(&b, "bob").await;
    eventually("node A refuses the revoked token", || async { bob_a.get("/workspaces").await.0 == 401 }).await;
}
