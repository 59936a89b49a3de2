//! Linked products report their new users; Guildhall invites them according
//! to the link's configuration (the four strategies of SPEC §4).

use crate::spawn;
use guildhall_testkit::{Backend, on_both_backends};
use serde_json::{Value, json};

on_both_backends!(
    linked_products_invite_their_new_users_by_each_strategy,
    link_credentials_and_bad_reports_change_nothing
);

/// Reports a user with the link's secret; (status, body).
async fn report(app: &guildhall_testkit::TestApp, link: &str, secret: &str, body: Value) -> (u16, Value) {
    let res = reqwest::Client::new()
        .post(app.url(&format!("/api/v1/workspaces/acme/links/{link}/users")))
        .bearer_auth(secret)
        .json(&body)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap_or(Value::Null))
}

async fn acme(app: &guildhall_testkit::TestApp) -> guildhall_testkit::Api {
    let ada = app.user("ada").await;
    ada.post("/workspaces", json!({"slug": "acme", "name": "Acme"})).await;
    for g in ["devs", "ops", "support"] {
        ada.post("/workspaces/acme/groups", json!({"slug": g, "name": g})).await;
    }
    ada
}

async fn linked_products_invite_their_new_users_by_each_strategy(b: Backend) {
    let app = spawn(b).await;
    let ada = acme(&app).await;
    app.account("bob").await;
    ada.put("/workspaces/acme/groups/devs/members/bob", json!({})).await;
    // 1. Every user of the product into the chosen groups.
    let (status, tracker) = ada
        .post("/workspaces/acme/links", json!({"slug": "tracker", "name": "Issue tracker", "groups": ["devs"]}))
        .await;
    assert_eq!(status, 201, "{tracker}");
    let secret = tracker["secret"].as_str().unwrap().to_owned();
    let (status, r) =
        report(&app, "tracker", &secret, json!({"email": "new@example.org", "display_name": "New"})).await;
    assert_eq!((status, r["outcome"].as_str()), (201, Some("invited")), "{r}");
    assert_eq!(r["invitation"]["groups"], json!(["devs"]));
    assert_eq!(app.mails_to("new@example.org", "invited").len(), 1);
    // A clear no-op: already invited, or already in the groups.
    let (status, r) =
        report(&app, "tracker", &secret, json!({"email": "new@example.org", "display_name": "New"})).await;
    assert_eq!((status, r["outcome"].as_str()), (200, Some("already_invited")));
    let (status, r) =
        report(&app, "tracker", &secret, json!({"email": "bob@example.com", "display_name": "Bob"})).await;
    assert_eq!((status, r["outcome"].as_str()), (200, Some("already_in_groups")));
    assert_eq!(app.mails_to("new@example.org", "invited").len(), 1, "a no-op sent mail");
    // 2 and 4. Groups chosen per user, different users into different groups.
    let (_, r) =
        report(&app, "tracker", &secret, json!({"email": "op@example.org", "display_name": "Op", "groups": ["ops"]}))
            .await;
    assert_eq!(r["invitation"]["groups"], json!(["ops"]), "the given groups do not replace the configured ones");
    let (_, r) = report(
        &app,
        "tracker",
        &secret,
        json!({"email": "help@example.org", "display_name": "H", "groups": ["support", "devs"]}),
    )
    .await;
    assert_eq!(r["invitation"]["groups"], json!(["devs", "support"]));
    // 3. Nobody auto-invited: a link with no groups sends nothing, and says so.
    let (_, wiki) = ada.post("/workspaces/acme/links", json!({"slug": "wiki", "name": "Wiki"})).await;
    assert_eq!(wiki["auto_invite"], false);
    let wiki_secret = wiki["secret"].as_str().unwrap();
    let (status, r) =
        report(&app, "wiki", wiki_secret, json!({"email": "quiet@example.org", "display_name": "Q"})).await;
    assert_eq!((status, r["outcome"].as_str()), (200, Some("not_configured")), "{r}");
    assert!(app.mails_to("quiet@example.org", "invited").is_empty());
    // Turning it on later.
    assert_eq!(ada.patch("/workspaces/acme/links/wiki", json!({"groups": ["support"]})).await.1["auto_invite"], true);
    assert_eq!(
        report(&app, "wiki", wiki_secret, json!({"email": "quiet@example.org", "display_name": "Q"})).await.0,
        201
    );
    // The admin sees what each link caused, and the audit log names the link.
    let caused = ada.get("/workspaces/acme/links/tracker/invitations").await.1;
    assert_eq!(caused["invitations"].as_array().unwrap().len(), 3);
    let log = ada.get("/workspaces/acme/audit").await.1;
    let by_link = log["entries"].as_array().unwrap().iter().filter(|e| e["actor"] == "link:tracker").count();
    assert_eq!(by_link, 3);
}

async fn link_credentials_and_bad_reports_change_nothing(b: Backend) {
    let app = spawn(b).await;
    let ada = acme(&app).await;
    let (_, tracker) =
        ada.post("/workspaces/acme/links", json!({"slug": "tracker", "name": "T", "groups": ["devs"]})).await;
    let secret = tracker["secret"].as_str().unwrap().to_owned();
    let (_, wiki) = ada.post("/workspaces/acme/links", json!({"slug": "wiki", "name": "W"})).await;
    let person = json!({"email": "new@example.org", "display_name": "New"});
    // Wrong or misplaced credentials.
    assert_eq!(report(&app, "tracker", "not-a-secret", person.clone()).await.0, 401);
    assert_eq!(
        report(&app, "tracker", wiki["secret"].as_str().unwrap(), person.clone()).await.0,
        401,
        "another link's secret"
    );
    assert_eq!(report(&app, "wiki", &secret, person.clone()).await.0, 401);
    // Bad input: clear errors, nothing sent.
    let (status, err) =
        report(&app, "tracker", &secret, json!({"email": "new@example.org", "display_name": "N", "groups": ["nope"]}))
            .await;
    assert_eq!(status, 422, "{err}");
    assert!(err.to_string().contains("nope"), "{err}");
    assert_eq!(report(&app, "tracker", &secret, json!({"email": "not an email", "display_name": "N"})).await.0, 422);
    // Never into the administrators group: only administrators invite administrators.
    let admins = json!({"email": "new@example.org", "display_name": "N", "groups": ["administrators"]});
    assert_eq!(report(&app, "tracker", &secret, admins).await.0, 422, "a product invited an administrator");
    let admin_link = json!({"slug": "y", "name": "Y", "groups": ["administrators"]});
    assert_eq!(ada.post("/workspaces/acme/links", admin_link).await.0, 422);
    assert_eq!(report(&app, "tracker", &secret, json!({"email": "new@example.org", "display_name": ""})).await.0, 422);
    assert!(app.mails_to("new@example.org", "invited").is_empty(), "a bad report sent mail");
    assert_eq!(ada.get("/workspaces/acme/invitations").await.1["invitations"], json!([]));
    // Configuration errors change nothing either.
    assert_eq!(ada.post("/workspaces/acme/links", json!({"slug": "tracker", "name": "Again"})).await.0, 422);
    assert_eq!(ada.post("/workspaces/acme/links", json!({"slug": "x", "name": "X", "groups": ["nope"]})).await.0, 422);
    assert_eq!(ada.patch("/workspaces/acme/links/tracker", json!({"groups": ["nope"]})).await.0, 422);
    assert_eq!(ada.get("/workspaces/acme/links/tracker").await.1["groups"], json!(["devs"]));
    assert_eq!(ada.get("/workspaces/acme/links").await.1["links"].as_array().unwrap().len(), 2);
    // Only admins manage links.
    app.account("bob").await;
    ada.put("/workspaces/acme/groups/devs/members/bob", json!({})).await;
    let bob = app.api_as("bob", &["workspaces:admin"]).await;
    assert_eq!(bob.get("/workspaces/acme/links").await.0, 403);
    // Rotation: the old secret stops working at once.
    let (_, rotated) = ada.post("/workspaces/acme/links/tracker/rotate", json!({})).await;
    let new_secret = rotated["secret"].as_str().unwrap();
    assert_eq!(report(&app, "tracker", &secret, person.clone()).await.0, 401, "the old secret still works");
    assert_eq!(report(&app, "tracker", new_secret, person.clone()).await.0, 201);
    // Unlinked: the secret is dead.
    assert_eq!(ada.delete("/workspaces/acme/links/tracker").await.0, 204);
    assert_eq!(
        report(&app, "tracker", new_secret, json!({"email": "x@example.org", "display_name": "X"})).await.0,
        401
    );
}

/// The administrator does it all on the workspace page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_are_managed_on_the_workspace_page() {
    let app = spawn(Backend::Sqlite).await;
    let ada = app.signed_up("ada", "correct horse battery", true).await;
    let api = app.api_as("ada", &["workspaces:admin"]).await;
    api.post("/workspaces", json!({"slug": "acme", "name": "Acme"})).await;
    api.post("/workspaces/acme/groups", json!({"slug": "devs", "name": "Developers"})).await;
    api.post("/workspaces/acme/groups", json!({"slug": "dev", "name": "Dev"})).await;
    let res =
        ada.post_form("/workspaces/acme/links", &[("slug", "tracker"), ("name", "Tracker"), ("groups", "devs")]).await;
    assert_eq!(res.status(), 200);
    let page = res.text().await.unwrap();
    let secret = page.split("not shown again: ").nth(1).unwrap().split('<').next().unwrap().trim().to_owned();
    let (status, _) = report(&app, "tracker", &secret, json!({"email": "n@example.org", "display_name": "N"})).await;
    assert_eq!(status, 201, "the page's secret does not work");
    let (_, page) = ada.get_text("/workspaces/acme").await;
    assert!(page.contains("Tracker (tracker)") && page.contains("link:tracker"), "{page}");
    assert!(page.contains(r#"value="devs" checked"#) && !page.contains(r#"value="dev" checked"#), "{page}");
    let res = ada.post_form("/workspaces/acme/links/tracker/groups", &[("groups", "dev")]).await;
    assert_eq!(res.headers()["location"], "/workspaces/acme?notice=link-updated");
    assert_eq!(api.get("/workspaces/acme/links/tracker").await.1["groups"], json!(["dev"]));
    let res = ada.post_form("/workspaces/acme/links/tracker/rotate", &[]).await;
    assert!(res.text().await.unwrap().contains("not shown again"));
    assert_eq!(report(&app, "tracker", &secret, json!({"email": "m@example.org", "display_name": "M"})).await.0, 401);
    let res = ada.post_form("/workspaces/acme/links/tracker/delete", &[]).await;
    assert_eq!(res.headers()["location"], "/workspaces/acme?notice=link-deleted");
    assert_eq!(api.get("/workspaces/acme/links").await.1["links"], json!([]));
    assert_eq!(ada.post_raw("/workspaces/acme/links", &[("slug", "x"), ("name", "X")]).await.status(), 403, "no CSRF");
}
