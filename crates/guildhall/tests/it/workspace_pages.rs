//! Workspace administration in the browser, without JavaScript.

use crate::spawn;
use guildhall_testkit::{Backend, on_both_backends};

on_both_backends!(
    an_admin_runs_a_workspace_from_the_pages,
    members_see_the_workspace_and_outsiders_do_not,
    tokens_are_made_and_revoked_on_the_account_page,
);

async fn an_admin_runs_a_workspace_from_the_pages(b: Backend) {
    let app = spawn(b).await;
    let ada = app.signed_up("ada", "analytical engine", true).await;
    app.account("bob").await;
    assert_eq!(ada.get("/workspaces").await.status(), 200);
    let res = ada.post_form("/workspaces", &[("slug", "acme"), ("name", "Acme"), ("plan", "paid")]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/workspaces/acme?notice=workspace-created");
    let (s, page) = ada.get_text("/workspaces/acme").await;
    assert_eq!(s, 200);
    assert!(page.contains("Send invitation") && page.contains("Audit log"), "admin forms missing");
    assert_eq!(
        ada.post_form("/workspaces/acme/groups", &[("slug", "devs"), ("name", "Devs"), ("default_permission", "none")])
            .await
            .status(),
        303
    );
    assert_eq!(ada.post_form("/workspaces/acme/repositories", &[("slug", "api")]).await.status(), 303);
    let res = ada.post_form("/workspaces/acme/groups/devs/members", &[("username", "bob")]).await;
    assert_eq!(res.headers()["location"], "/workspaces/acme/groups/devs?notice=member-added");
    let res = ada.post_form("/workspaces/acme/groups/devs/members", &[("username", "bob")]).await;
    assert_eq!(res.headers()["location"], "/workspaces/acme/groups/devs?notice=already-member");
    assert_eq!(
        ada.post_form("/workspaces/acme/groups/devs/permissions", &[("repo", "api"), ("permission", "write")])
            .await
            .status(),
        303
    );
    let m = app.app.workspaces().open(actor(&app, "bob").await, "acme").await.unwrap();
    assert_eq!(app.app.workspaces().permission(&m, "api", "bob").await.unwrap().as_str(), "write");
    let (_, group) = ada.get_text("/workspaces/acme/groups/devs").await;
    assert!(group.contains("(bob)"));
    assert_eq!(
        ada.post_form(
            "/workspaces/acme/groups/devs/settings",
            &[("name", "Developers"), ("default_permission", "read")]
        )
        .await
        .status(),
        303
    );
    assert_eq!(
        ada.post_form("/workspaces/acme/repositories/api/grants", &[("username", "bob"), ("permission", "admin")])
            .await
            .status(),
        303
    );
    assert_eq!(app.app.workspaces().permission(&m, "api", "bob").await.unwrap().as_str(), "admin");
    assert_eq!(
        ada.post_form("/workspaces/acme/repositories/api/grants", &[("username", "bob"), ("permission", "remove")])
            .await
            .status(),
        303
    );
    assert_eq!(app.app.workspaces().permission(&m, "api", "bob").await.unwrap().as_str(), "write");

    // Invitations: several groups from checkboxes, then resend and revoke.
    let res = ada
        .post_form(
            "/workspaces/acme/invitations",
            &[("who", "carol@example.com"), ("groups", "devs"), ("groups", "administrators")],
        )
        .await;
    assert_eq!(res.headers()["location"], "/workspaces/acme?notice=invited");
    assert_eq!(app.mails_to("carol@example.com", "invited").len(), 1);
    let api = app.api_as("ada", &["workspaces:admin"]).await;
    let (_, list) = api.get("/workspaces/acme/invitations").await;
    assert_eq!(list["invitations"][0]["groups"], serde_json::json!(["administrators", "devs"]));
    let (_, page) = ada.get_text("/workspaces/acme").await;
    let id = page.split("/invitations/").nth(1).unwrap().split('/').next().unwrap().to_owned();
    assert_eq!(ada.post_form(&format!("/workspaces/acme/invitations/{id}/resend"), &[]).await.status(), 303);
    assert_eq!(app.mails_to("carol@example.com", "invited").len(), 2);
    assert_eq!(ada.post_form(&format!("/workspaces/acme/invitations/{id}/revoke"), &[]).await.status(), 303);
    let (_, page) = ada.get_text("/workspaces/acme").await;
    assert!(page.contains("revoked"));

    // Bad input: a clear message, nothing changed.
    let bad = ada.post_form("/workspaces/acme/groups", &[("slug", "Bad Slug"), ("name", "x")]).await;
    assert_eq!(bad.status(), 422);
    assert!(bad.text().await.unwrap().contains("A slug has"));
    let none = ada.post_form("/workspaces/acme/invitations", &[("who", "dave@example.com")]).await;
    assert_eq!(none.status(), 422);
    assert!(app.mails_to("dave@example.com", "").is_empty());
    assert_eq!(ada.post_form("/workspaces/acme/groups/administrators/members/ada/remove", &[]).await.status(), 409);

    let (s, audit) = ada.get_text("/workspaces/acme/audit").await;
    assert_eq!(s, 200);
    for action in
        ["workspace.created", "group.created", "group.member_added", "invitation.revoked", "repository.grant_set"]
    {
        assert!(audit.contains(action), "{action} missing from the audit page");
    }
    assert_eq!(
        ada.post_form("/workspaces/acme/settings", &[("name", "Acme Inc"), ("plan", "free")]).await.status(),
        303
    );
    assert!(ada.get_text("/workspaces/acme").await.1.contains("Acme Inc"));
}

async fn actor(app: &guildhall_testkit::TestApp, username: &str) -> guildhall_app::workspaces::Actor {
    guildhall_app::workspaces::Actor { account: app.app.accounts().by_username(username).await.unwrap(), ip: None }
}

async fn members_see_the_workspace_and_outsiders_do_not(b: Backend) {
    let app = spawn(b).await;
    let ada = app.user("ada").await;
    ada.post("/workspaces", serde_json::json!({"slug": "acme", "name": "Acme"})).await;
    let bob = app.signed_up("bob", "difference engine", true).await;
    let eve = app.signed_up("eve", "evil genius", true).await;
    ada.put("/workspaces/acme/groups/administrators/members/bob", serde_json::json!({})).await;
    ada.post("/workspaces/acme/groups", serde_json::json!({"slug": "devs", "name": "Devs"})).await;
    ada.put("/workspaces/acme/groups/devs/members/eve", serde_json::json!({})).await;
    ada.delete("/workspaces/acme/groups/administrators/members/bob").await;
    ada.put("/workspaces/acme/groups/devs/members/bob", serde_json::json!({})).await;
    ada.delete("/workspaces/acme/groups/devs/members/eve").await;
    let (s, page) = bob.get_text("/workspaces/acme").await;
    assert_eq!(s, 200);
    assert!(!page.contains("Send invitation"), "a member sees admin forms");
    assert_eq!(bob.post_form("/workspaces/acme/groups", &[("slug", "x"), ("name", "x")]).await.status(), 403);
    assert_eq!(bob.get("/workspaces/acme/audit").await.status(), 403);
    assert_eq!(eve.get("/workspaces/acme").await.status(), 404);
    assert_eq!(eve.get("/workspaces/acme/groups/devs").await.status(), 404);
    assert_eq!(eve.post_form("/workspaces/acme/groups", &[("slug", "x"), ("name", "x")]).await.status(), 404);
    assert_eq!(app.client().get("/workspaces/acme").await.status(), 303, "anonymous is sent to sign in");
    assert_eq!(bob.get("/workspaces/acme/groups/x").await.status(), 404);
}

async fn tokens_are_made_and_revoked_on_the_account_page(b: Backend) {
    let app = spawn(b).await;
    let ada = app.signed_up("ada", "analytical engine", true).await;
    let res = ada
        .post_form(
            "/account/tokens",
            &[("name", "laptop"), ("scopes", "workspaces:read"), ("scopes", "workspaces:write")],
        )
        .await;
    assert_eq!(res.status(), 200);
    let page = res.text().await.unwrap();
    let token = page.split("is: ").nth(1).unwrap().split(' ').next().unwrap().to_owned();
    let api = guildhall_testkit::Api { http: reqwest::Client::new(), base: app.base_url.clone(), token };
    assert_eq!(api.get("/account").await.1["username"], "ada");
    assert_eq!(api.post("/workspaces", serde_json::json!({"slug": "w", "name": "W"})).await.0, 201);
    let (_, account) = ada.get_text("/account").await;
    assert!(account.contains("laptop") && account.contains("workspaces:read workspaces:write"));
    assert!(!account.contains(&api.token), "the secret is shown again");
    assert_eq!(ada.post_form("/account/tokens", &[("name", "x"), ("scopes", "root")]).await.status(), 422);
    let id = account.split("/account/tokens/").nth(1).unwrap().split('/').next().unwrap().to_owned();
    assert_eq!(ada.post_form(&format!("/account/tokens/{id}/revoke"), &[]).await.status(), 303);
    assert_eq!(api.get("/account").await.0, 401);
}
