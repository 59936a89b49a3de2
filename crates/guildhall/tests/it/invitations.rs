//! Invitations: by email or username, into groups; accepted in the browser.

use crate::spawn;
use guildhall_testkit::{Backend, TestApp, on_both_backends};
use serde_json::json;
use std::time::Duration;

on_both_backends!(
    an_invitation_is_mailed_and_accepted_into_its_groups,
    inviting_again_or_inviting_a_member_is_a_clear_no_op,
    only_the_invited_verified_account_may_accept,
    resent_revoked_expired_and_used_links_are_refused,
    a_workspace_may_let_any_signed_in_account_accept,
);

async fn setup(b: Backend) -> (TestApp, guildhall_testkit::Api) {
    let app = spawn(b).await;
    let ada = app.user("ada").await;
    ada.post("/workspaces", json!({"slug": "acme", "name": "Acme"})).await;
    ada.post("/workspaces/acme/groups", json!({"slug": "devs", "name": "Devs", "default_permission": "read"})).await;
    ada.post("/workspaces/acme/groups", json!({"slug": "ops", "name": "Ops"})).await;
    (app, ada)
}

fn link(app: &TestApp, email: &str) -> String {
    app.last_link(email, "You are invited to Acme", "/invitations/")
}

async fn groups_of(ada: &guildhall_testkit::Api, user: &str) -> Vec<String> {
    let (_, m) = ada.get("/workspaces/acme/members?limit=1000").await;
    m["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["username"] == user)
        .map(|m| m["groups"].as_array().unwrap().iter().map(|g| g.as_str().unwrap().to_owned()).collect())
        .unwrap_or_default()
}

async fn an_invitation_is_mailed_and_accepted_into_its_groups(b: Backend) {
    let (app, ada) = setup(b).await;
    let (s, inv) =
        ada.post("/workspaces/acme/invitations", json!({"email": "Bob@Example.com", "groups": ["ops", "devs"]})).await;
    assert_eq!(s, 201, "{inv}");
    assert_eq!(inv["groups"], json!(["devs", "ops"]));
    assert_eq!(inv["state"], "pending");
    let link = link(&app, "bob@example.com");
    assert_eq!(link.len(), "/invitations/".len() + 43, "the link carries a 256-bit token");
    // The invitee opens the link, signs up, verifies, signs in, accepts.
    let anonymous = app.client();
    let (s, page) = anonymous.get_text(&link).await;
    assert_eq!(s, 200);
    assert!(page.contains("Acme") && page.contains("Sign in"), "{page}");
    let bob = app.signed_up("bob", "difference engine", true).await;
    let (_, page) = bob.get_text(&link).await;
    assert!(page.contains("Accept the invitation"));
    let res = bob.post_form(&link, &[]).await;
    assert_eq!(res.status(), 200);
    assert_eq!(groups_of(&ada, "bob").await, ["devs", "ops"]);
    let (_, list) = ada.get("/workspaces/acme/invitations").await;
    assert_eq!(list["invitations"][0]["state"], "accepted");
    // Used once: a second acceptance is refused.
    assert_eq!(bob.post_form(&link, &[]).await.status(), 403);
    // Bad input changes nothing.
    for body in [
        json!({"email": "carol@example.com", "groups": ["nope"]}),
        json!({"email": "carol@example.com", "groups": []}),
        json!({"email": "not an email", "groups": ["devs"]}),
        json!({"username": "nobody", "groups": ["devs"]}),
        json!({"email": "carol@example.com", "username": "carol", "groups": ["devs"]}),
    ] {
        let (s, p) = ada.post("/workspaces/acme/invitations", body.clone()).await;
        assert_eq!(s, 422, "{body} → {p}");
    }
    assert_eq!(ada.get("/workspaces/acme/invitations").await.1["invitations"].as_array().unwrap().len(), 1);
    assert!(app.mails_to("carol@example.com", "").is_empty());
}

async fn inviting_again_or_inviting_a_member_is_a_clear_no_op(b: Backend) {
    let (app, ada) = setup(b).await;
    app.account("bob").await;
    assert_eq!(ada.put("/workspaces/acme/groups/devs/members/bob", json!({})).await.0, 200);
    let (s, r) = ada.post("/workspaces/acme/invitations", json!({"username": "bob", "groups": ["devs"]})).await;
    assert_eq!((s, r["status"].clone()), (200, json!("already_in_groups")));
    let (s, first) =
        ada.post("/workspaces/acme/invitations", json!({"username": "bob", "groups": ["devs", "ops"]})).await;
    assert_eq!(s, 201);
    // Invited by username: admins see the username, never the private email.
    assert_eq!(first["username"], "bob");
    assert_eq!(first["email"], serde_json::Value::Null);
    let (_, list) = ada.get("/workspaces/acme/invitations").await;
    assert!(!list.to_string().contains("bob@example.com"), "the invitee's email leaked: {list}");
    let (_, audit) = ada.get("/workspaces/acme/audit").await;
    assert!(!audit.to_string().contains("bob@example.com"), "the invitee's email leaked into the audit log");
    let (s, again) =
        ada.post("/workspaces/acme/invitations", json!({"email": "BOB@example.com", "groups": ["ops"]})).await;
    assert_eq!((s, again["status"].clone()), (200, json!("already_invited")));
    assert_eq!(again["invitation"]["id"], first["id"]);
    assert_eq!(app.mails_to("bob@example.com", "invited").len(), 1, "a no-op sent mail");
}

async fn only_the_invited_verified_account_may_accept(b: Backend) {
    let (app, ada) = setup(b).await;
    ada.post("/workspaces/acme/invitations", json!({"email": "bob@example.com", "groups": ["devs"]})).await;
    let link = link(&app, "bob@example.com");
    let eve = app.signed_up("eve", "evil genius", true).await;
    let res = eve.post_form(&link, &[]).await;
    assert_eq!(res.status(), 403);
    assert!(res.text().await.unwrap().contains("another email address"));
    assert!(groups_of(&ada, "eve").await.is_empty());
    let bob = app.signed_up("bob", "difference engine", false).await;
    let res = bob.post_form(&link, &[]).await;
    assert_eq!(res.status(), 403, "an unverified account accepted");
    assert!(groups_of(&ada, "bob").await.is_empty());
    // Signed out, accepting means signing in first.
    let res = app.client().post_form(&link, &[]).await;
    assert_eq!(res.status(), 303);
    assert!(res.headers()["location"].to_str().unwrap().starts_with("/login?return_to=%2Finvitations%2F"));
    assert_eq!(ada.get("/workspaces/acme/invitations").await.1["invitations"][0]["state"], "pending");
}

async fn resent_revoked_expired_and_used_links_are_refused(b: Backend) {
    let (app, ada) = setup(b).await;
    let bob = app.signed_up("bob", "difference engine", true).await;
    let (_, inv) =
        ada.post("/workspaces/acme/invitations", json!({"email": "bob@example.com", "groups": ["devs"]})).await;
    let id = inv["id"].as_str().unwrap();
    let old = link(&app, "bob@example.com");
    let (s, _) = ada.post(&format!("/workspaces/acme/invitations/{id}/resend"), json!({})).await;
    assert_eq!(s, 200);
    let new = link(&app, "bob@example.com");
    assert_ne!(old, new);
    assert_eq!(bob.get(&old).await.status(), 400, "the old link still works");
    assert_eq!(bob.post_form(&old, &[]).await.status(), 400);
    // Expired.
    app.clock.advance(Duration::from_secs(7 * 24 * 3600 + 1));
    let res = bob.post_form(&new, &[]).await;
    assert_eq!(res.status(), 403);
    assert!(res.text().await.unwrap().contains("expired"));
    // A resend revives it with a fresh expiry; revoking kills it.
    ada.post(&format!("/workspaces/acme/invitations/{id}/resend"), json!({})).await;
    let revived = link(&app, "bob@example.com");
    assert_eq!(ada.delete(&format!("/workspaces/acme/invitations/{id}")).await.0, 204);
    let res = bob.post_form(&revived, &[]).await;
    assert_eq!(res.status(), 403);
    assert!(res.text().await.unwrap().contains("withdrawn"));
    assert!(groups_of(&ada, "bob").await.is_empty());
    assert_eq!(ada.delete(&format!("/workspaces/acme/invitations/{id}")).await.0, 409);
    assert_eq!(ada.post(&format!("/workspaces/acme/invitations/{id}/resend"), json!({})).await.0, 409);
    assert_eq!(ada.delete("/workspaces/acme/invitations/not-an-id").await.0, 404);
    let bob_api = app.api_as("bob", &["workspaces:admin"]).await;
    assert_eq!(bob_api.get("/workspaces/acme/invitations").await.0, 404, "a non-member listed invitations");
}

async fn a_workspace_may_let_any_signed_in_account_accept(b: Backend) {
    let (app, ada) = setup(b).await;
    ada.post("/workspaces/acme/invitations", json!({"email": "team@example.com", "groups": ["ops"]})).await;
    let link = link(&app, "team@example.com");
    assert_eq!(ada.patch("/workspaces/acme", json!({"invitations_accept_any_account": true})).await.0, 200);
    let eve = app.signed_up("eve", "evil genius", true).await;
    assert_eq!(eve.post_form(&link, &[]).await.status(), 200);
    assert_eq!(groups_of(&ada, "eve").await, ["ops"]);
}
