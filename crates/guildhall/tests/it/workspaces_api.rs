//! `/api/v1` workspaces, groups, members, repositories and permissions.

use crate::spawn;
use guildhall_testkit::{Backend, on_both_backends};
use serde_json::json;

on_both_backends!(
    workspaces_are_created_listed_changed_and_deleted_by_their_admins,
    groups_and_members_keep_the_administrators_rules,
    the_permission_check_follows_every_path,
    members_are_listed_by_cursor_and_by_reach,
    tokens_are_limited_to_their_scopes,
    an_unverified_account_cannot_create_or_join_workspaces,
    admin_actions_are_in_the_audit_log,
);

async fn workspaces_are_created_listed_changed_and_deleted_by_their_admins(b: Backend) {
    let app = spawn(b).await;
    let ada = app.user("ada").await;
    let bob = app.user("bob").await;
    let (s, ws) = ada.post("/workspaces", json!({"slug": "acme", "name": "Acme"})).await;
    assert_eq!(s, 201, "{ws}");
    assert_eq!(ws["plan"], "free");
    assert_eq!(ws["organization"], serde_json::Value::Null);
    for (body, field) in [
        (json!({"slug": "acme", "name": "Again"}), "slug"),
        (json!({"slug": "Not A Slug", "name": "x"}), "slug"),
        (json!({"slug": "ok", "name": ""}), "name"),
        (json!({"slug": "ok", "name": "x", "plan": "gold"}), "plan"),
    ] {
        let (s, p) = ada.post("/workspaces", body.clone()).await;
        assert_eq!(s, 422, "{body}");
        assert_eq!(p["errors"][0]["field"], field, "{p}");
    }
    let (s, _) = ada.post("/workspaces", json!({"slug": "x", "name": "x", "owner": "eve"})).await;
    assert_eq!(s, 422, "an unknown field was accepted");
    let (s, p) = ada.call(reqwest::Method::POST, "/workspaces", None).await;
    assert!(s == 415 || s == 400, "{s} {p}");
    let (_, list) = ada.get("/workspaces").await;
    assert_eq!(list["workspaces"].as_array().unwrap().len(), 1, "refused requests created workspaces: {list}");
    assert_eq!(bob.get("/workspaces").await.1["workspaces"], json!([]));

    // Non-members learn nothing; members without the role get 403.
    assert_eq!(bob.get("/workspaces/acme").await.0, 404);
    assert_eq!(bob.get("/workspaces/nope").await.0, 404);
    assert_eq!(bob.patch("/workspaces/acme", json!({"name": "Mine"})).await.0, 404);
    assert_eq!(ada.put("/workspaces/acme/groups/administrators/members/bob", json!({})).await.0, 200);
    let (s, ws) = bob.patch("/workspaces/acme", json!({"name": "Acme Inc", "plan": "paid"})).await;
    assert_eq!((s, ws["plan"].clone()), (200, json!("paid")));
    let (s, _) = ada.post("/workspaces/acme/groups", json!({"slug": "devs", "name": "Developers"})).await;
    assert_eq!(s, 201);
    assert_eq!(ada.delete("/workspaces/acme/groups/administrators/members/bob").await.0, 200);
    let (s, p) = bob.get("/workspaces/acme").await;
    assert_eq!(s, 404, "a removed admin still sees the workspace: {p}");
    assert_eq!(ada.put("/workspaces/acme/groups/devs/members/bob", json!({})).await.0, 200);
    let (s, p) = bob.patch("/workspaces/acme", json!({"name": "Bob's"})).await;
    assert_eq!(s, 403, "{p}");
    assert_eq!(bob.delete("/workspaces/acme").await.0, 403);
    assert_eq!(bob.get("/workspaces/acme").await.1["name"], "Acme Inc");
    assert_eq!(ada.patch("/workspaces/acme", json!({"plan": "gold"})).await.0, 422);
    assert_eq!(ada.get("/workspaces/acme").await.1["plan"], "paid");
    assert_eq!(ada.delete("/workspaces/acme").await.0, 204);
    assert_eq!(ada.get("/workspaces/acme").await.0, 404);
}

async fn groups_and_members_keep_the_administrators_rules(b: Backend) {
    let app = spawn(b).await;
    let ada = app.user("ada").await;
    app.account("bob").await;
    ada.post("/workspaces", json!({"slug": "acme", "name": "Acme"})).await;
    let (s, g) = ada
        .post("/workspaces/acme/groups", json!({"slug": "devs", "name": "Developers", "default_permission": "read"}))
        .await;
    assert_eq!(s, 201);
    assert_eq!(g["default_permission"], "read");
    assert_eq!(ada.post("/workspaces/acme/groups", json!({"slug": "devs", "name": "Again"})).await.0, 422);
    let (s, p) =
        ada.post("/workspaces/acme/groups", json!({"slug": "ops", "name": "Ops", "default_permission": "owner"})).await;
    assert_eq!((s, p["errors"][0]["field"].clone()), (422, json!("default_permission")));
    let (_, groups) = ada.get("/workspaces/acme/groups").await;
    let slugs: Vec<_> =
        groups["groups"].as_array().unwrap().iter().map(|g| g["slug"].as_str().unwrap().to_owned()).collect();
    assert_eq!(slugs, ["administrators", "devs"], "a refused group was created");

    assert_eq!(ada.put("/workspaces/acme/groups/devs/members/bob", json!({})).await.1["status"], "added");
    assert_eq!(ada.put("/workspaces/acme/groups/devs/members/bob", json!({})).await.1["status"], "already_member");
    assert_eq!(ada.put("/workspaces/acme/groups/devs/members/nobody", json!({})).await.0, 404);
    assert_eq!(ada.put("/workspaces/acme/groups/nope/members/bob", json!({})).await.0, 404);
    let (_, m) = ada.get("/workspaces/acme/groups/devs/members").await;
    assert_eq!(m["members"][0]["username"], "bob");

    let (s, p) = ada.delete("/workspaces/acme/groups/administrators/members/ada").await;
    assert_eq!(s, 409, "{p}");
    assert!(p["detail"].as_str().unwrap().contains("at least one member"));
    assert_eq!(ada.get("/workspaces/acme").await.0, 200, "the last admin was removed");
    assert_eq!(ada.delete("/workspaces/acme/groups/administrators").await.0, 409);
    assert_eq!(ada.patch("/workspaces/acme/groups/administrators", json!({"default_permission": "none"})).await.0, 409);
    assert_eq!(ada.get("/workspaces/acme/groups/administrators").await.1["default_permission"], "admin");
    assert_eq!(ada.delete("/workspaces/acme/groups/devs/members/ada").await.1["status"], "not_a_member");

    let (s, g) =
        ada.patch("/workspaces/acme/groups/devs", json!({"name": "Devs", "default_permission": "write"})).await;
    assert_eq!((s, g["default_permission"].clone()), (200, json!("write")));
    assert_eq!(ada.delete("/workspaces/acme/groups/devs").await.0, 204);
    assert_eq!(ada.get("/workspaces/acme/groups/devs").await.0, 404);
}

async fn the_permission_check_follows_every_path(b: Backend) {
    let app = spawn(b).await;
    let ada = app.user("ada").await;
    let bob = app.user("bob").await;
    let eve = app.user("eve").await;
    ada.post("/workspaces", json!({"slug": "acme", "name": "Acme"})).await;
    let (s, r) = ada.post("/workspaces/acme/repositories", json!({"slug": "api"})).await;
    assert_eq!((s, r["private"].clone(), r["name"].clone()), (201, json!(true), json!("api")));
    assert_eq!(ada.post("/workspaces/acme/repositories", json!({"slug": "api"})).await.0, 422);
    ada.post("/workspaces/acme/groups", json!({"slug": "devs", "name": "Devs"})).await;
    ada.put("/workspaces/acme/groups/devs/members/bob", json!({})).await;
    let check = |who: &guildhall_testkit::Api, user: &str| {
        let who = who.clone();
        let path = format!("/workspaces/acme/repositories/api/permissions/{user}");
        async move { who.get(&path).await }
    };
    assert_eq!(check(&ada, "ada").await.1["permission"], "admin");
    assert_eq!(check(&ada, "bob").await.1["permission"], "none");
    assert_eq!(ada.patch("/workspaces/acme/groups/devs", json!({"default_permission": "read"})).await.0, 200);
    assert_eq!(check(&bob, "bob").await.1["permission"], "read");
    assert_eq!(ada.put("/workspaces/acme/groups/devs/permissions/api", json!({"permission": "write"})).await.0, 200);
    assert_eq!(check(&bob, "bob").await.1["permission"], "write");
    assert_eq!(ada.put("/workspaces/acme/repositories/api/grants/bob", json!({"permission": "admin"})).await.0, 200);
    assert_eq!(check(&bob, "bob").await.1["permission"], "admin");
    // Bad input changes nothing.
    let (s, p) = ada.put("/workspaces/acme/repositories/api/grants/bob", json!({"permission": "owner"})).await;
    assert_eq!((s, p["errors"][0]["field"].clone()), (422, json!("permission")));
    assert_eq!(ada.put("/workspaces/acme/groups/devs/permissions/api", json!({"permission": 3})).await.0, 422);
    assert_eq!(ada.put("/workspaces/acme/groups/devs/permissions/nope", json!({"permission": "read"})).await.0, 404);
    assert_eq!(check(&bob, "bob").await.1["permission"], "admin");
    // Removing paths lowers it, down to none.
    assert_eq!(ada.delete("/workspaces/acme/repositories/api/grants/bob").await.0, 204);
    assert_eq!(check(&bob, "bob").await.1["permission"], "write");
    assert_eq!(ada.delete("/workspaces/acme/groups/devs/permissions/api").await.0, 204);
    assert_eq!(ada.patch("/workspaces/acme/groups/devs", json!({"default_permission": "none"})).await.0, 200);
    assert_eq!(check(&bob, "bob").await.1["permission"], "none");
    // Non-members learn nothing; unknown things are 404.
    assert_eq!(check(&eve, "bob").await.0, 404);
    assert_eq!(check(&ada, "nobody").await.0, 404);
    assert_eq!(ada.get("/workspaces/acme/repositories/nope/permissions/bob").await.0, 404);
    assert_eq!(check(&ada, "eve").await.1["permission"], "none");
    let (s, r) = ada.patch("/workspaces/acme/repositories/api", json!({"name": "The API", "private": false})).await;
    assert_eq!((s, r["private"].clone()), (200, json!(false)));
    assert_eq!(bob.get("/workspaces/acme/repositories").await.1["repositories"][0]["name"], "The API");
    assert_eq!(bob.delete("/workspaces/acme/repositories/api").await.0, 403);
    assert_eq!(ada.delete("/workspaces/acme/repositories/api").await.0, 204);
    assert_eq!(ada.get("/workspaces/acme/repositories/api").await.0, 404);
}

async fn members_are_listed_by_cursor_and_by_reach(b: Backend) {
    let app = spawn(b).await;
    let ada = app.user("ada").await;
    ada.post("/workspaces", json!({"slug": "acme", "name": "Acme"})).await;
    ada.post("/workspaces/acme/groups", json!({"slug": "readers", "name": "R", "default_permission": "read"})).await;
    ada.post("/workspaces/acme/groups", json!({"slug": "some", "name": "S"})).await;
    ada.post("/workspaces/acme/repositories", json!({"slug": "r1"})).await;
    ada.post("/workspaces/acme/repositories", json!({"slug": "r2"})).await;
    for (user, group) in [("bob", "readers"), ("cyd", "some"), ("dee", "some")] {
        app.account(user).await;
        ada.put(&format!("/workspaces/acme/groups/{group}/members/{user}"), json!({})).await;
    }
    ada.put("/workspaces/acme/groups/some/permissions/r1", json!({"permission": "read"})).await;
    ada.put("/workspaces/acme/repositories/r2/grants/cyd", json!({"permission": "write"})).await;
    let (_, p1) = ada.get("/workspaces/acme/members?limit=2").await;
    assert_eq!(p1["members"].as_array().unwrap().len(), 2);
    assert_eq!(p1["members"][0]["username"], "ada");
    assert_eq!(p1["members"][0]["groups"], json!(["administrators"]));
    assert_eq!(p1["next"], "bob");
    let (_, p2) = ada.get("/workspaces/acme/members?limit=2&after=bob").await;
    let names: Vec<_> = p2["members"].as_array().unwrap().iter().map(|m| m["username"].clone()).collect();
    assert_eq!(names, [json!("cyd"), json!("dee")]);
    let (_, reach) = ada.get("/workspaces/acme/members?all_repositories=true").await;
    let names: Vec<_> = reach["members"].as_array().unwrap().iter().map(|m| m["username"].clone()).collect();
    assert_eq!(names, [json!("ada"), json!("bob"), json!("cyd")]);
    assert_eq!(reach["next"], serde_json::Value::Null);
    assert_eq!(ada.get("/workspaces/acme/members?limit=0").await.0, 422);
    assert_eq!(ada.get("/workspaces/acme/members?limit=abc").await.0, 422);
}

async fn tokens_are_limited_to_their_scopes(b: Backend) {
    let app = spawn(b).await;
    let ada = app.user("ada").await;
    ada.post("/workspaces", json!({"slug": "acme", "name": "Acme"})).await;
    let reader = app.api_as("ada", &["workspaces:read"]).await;
    assert_eq!(reader.get("/workspaces/acme").await.0, 200);
    let (s, p) = reader.post("/workspaces/acme/groups", json!({"slug": "devs", "name": "D"})).await;
    assert_eq!((s, p["type"].clone()), (403, json!("https://guildhall.dev/problems/insufficient-scope")));
    assert_eq!(reader.post("/workspaces", json!({"slug": "other", "name": "O"})).await.0, 403);
    let writer = app.api_as("ada", &["workspaces:write"]).await;
    assert_eq!(writer.post("/workspaces", json!({"slug": "other", "name": "O"})).await.0, 201);
    assert_eq!(writer.post("/workspaces/acme/groups", json!({"slug": "devs", "name": "D"})).await.0, 403);
    assert_eq!(ada.get("/workspaces/acme/groups/devs").await.0, 404, "a refused request created a group");
    // Tokens cannot mint tokens; bad tokens are 401.
    assert_eq!(ada.post("/account/tokens", json!({"name": "x", "scopes": ["workspaces:read"]})).await.0, 403);
    let bogus = guildhall_testkit::Api { token: "not-a-token".into(), ..ada.clone() };
    assert_eq!(bogus.get("/workspaces").await.0, 401);
    // The scheme is case-insensitive.
    let res = reqwest::Client::new()
        .get(app.url("/api/v1/account"))
        .header("authorization", format!("bEaReR {}", ada.token))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    // A browser session mints, lists and revokes tokens.
    let browser = app.signed_up("bob", "difference engine", true).await;
    let res = browser
        .http
        .post(app.url("/api/v1/account/tokens"))
        .json(&json!({"name": "ci", "scopes": ["workspaces:read"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let created: serde_json::Value = res.json().await.unwrap();
    let secret = created["token"].as_str().unwrap().to_owned();
    let bob = guildhall_testkit::Api { token: secret.clone(), ..ada.clone() };
    assert_eq!(bob.get("/account").await.1["username"], "bob");
    let bad = browser
        .http
        .post(app.url("/api/v1/account/tokens"))
        .json(&json!({"name": "x", "scopes": ["root"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 422);
    let list: serde_json::Value =
        browser.http.get(app.url("/api/v1/account/tokens")).send().await.unwrap().json().await.unwrap();
    assert_eq!(list["tokens"].as_array().unwrap().len(), 1, "a refused token was created: {list}");
    assert!(list["tokens"][0].get("token").is_none(), "the secret is listed");
    let id = created["id"].as_str().unwrap();
    assert_eq!(
        browser.http.delete(app.url(&format!("/api/v1/account/tokens/{id}"))).send().await.unwrap().status(),
        204
    );
    assert_eq!(bob.get("/account").await.0, 401, "a revoked token still works");
}

async fn an_unverified_account_cannot_create_or_join_workspaces(b: Backend) {
    let app = spawn(b).await;
    let ada = app.user("ada").await;
    ada.post("/workspaces", json!({"slug": "acme", "name": "Acme"})).await;
    let browser = app.signed_up("bob", "difference engine", false).await;
    let res = browser
        .http
        .post(app.url("/api/v1/workspaces"))
        .json(&json!({"slug": "bobs", "name": "B"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let (s, p) = ada.put("/workspaces/acme/groups/administrators/members/bob", json!({})).await;
    assert_eq!(s, 409, "{p}");
    assert!(p["detail"].as_str().unwrap().contains("verified"));
}

async fn admin_actions_are_in_the_audit_log(b: Backend) {
    let app = spawn(b).await;
    let ada = app.user("ada").await;
    let bob = app.user("bob").await;
    ada.post("/workspaces", json!({"slug": "acme", "name": "Acme"})).await;
    ada.post("/workspaces/acme/groups", json!({"slug": "devs", "name": "D"})).await;
    ada.put("/workspaces/acme/groups/devs/members/bob", json!({})).await;
    ada.delete("/workspaces/acme/groups/administrators/members/ada").await; // refused: not logged
    let (s, log) = ada.get("/workspaces/acme/audit").await;
    assert_eq!(s, 200);
    let actions: Vec<_> =
        log["entries"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap().to_owned()).collect();
    assert_eq!(actions, ["group.member_added", "group.created", "workspace.created"]);
    assert_eq!(log["entries"][0]["actor"], "ada");
    assert_eq!(log["entries"][0]["target"], "account:bob");
    assert_eq!(log["entries"][0]["ip"], "127.0.0.1");
    assert_eq!(bob.get("/workspaces/acme/audit").await.0, 403, "a member read the audit log");
    let (_, page) = ada.get("/workspaces/acme/audit?limit=1").await;
    let next = page["next"].as_i64().unwrap();
    let (_, rest) = ada.get(&format!("/workspaces/acme/audit?before={next}")).await;
    assert_eq!(rest["entries"].as_array().unwrap().len(), 2);
}
