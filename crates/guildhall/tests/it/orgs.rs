//! Organizations over the API: admins, domains verified through a real DNS
//! server (`guildhall_testkit::dns`), managed accounts, the audit log.

use guildhall_testkit::dns::DnsServer;
use guildhall_testkit::{Api, Backend, TestApp, on_both_backends, spawn_app_with};
use serde_json::json;

on_both_backends!(
    an_org_is_created_administered_and_hidden_from_others,
    a_domain_verified_through_dns_makes_its_accounts_managed_until_removed,
    an_org_admin_has_power_over_managed_accounts_only,
    a_paid_workspace_is_linked_for_good_by_an_admin_of_both
);

async fn org_app(b: Backend, dns: &DnsServer) -> TestApp {
    let addr = dns.addr;
    spawn_app_with(b, move |s| s.dns_resolver = Some(addr)).await
}

/// An account with this email, and an API client for it with these scopes.
async fn person(app: &TestApp, username: &str, email: &str, scopes: &[&str]) -> Api {
    app.app
        .accounts()
        .admin_create(guildhall_app::accounts::AdminCreate {
            email,
            username,
            display_name: None,
            password: "correct horse battery",
            verified: true,
        })
        .await
        .unwrap();
    app.api_as(username, scopes).await
}

async fn an_org_is_created_administered_and_hidden_from_others(b: Backend) {
    let dns = DnsServer::start().await;
    let app = org_app(b, &dns).await;
    let ada = person(&app, "ada", "ada@example.com", &["orgs:admin"]).await;
    let bob = person(&app, "bob", "bob@example.com", &["orgs:admin"]).await;
    let (status, org) = ada.post("/orgs", json!({"slug": "acme", "name": "Acme Inc"})).await;
    assert_eq!(status, 201, "{org}");
    assert_eq!(ada.get("/orgs").await.1["orgs"][0]["slug"], "acme");
    assert_eq!(ada.get("/orgs/acme").await.1["admins"][0]["username"], "ada");
    // Others learn nothing; scopes are enforced.
    assert_eq!(bob.get("/orgs/acme").await.0, 404);
    assert_eq!(bob.get("/orgs").await.1["orgs"], json!([]));
    let ws_only = app.api_as("ada", &["workspaces:admin"]).await;
    assert_eq!(ws_only.get("/orgs").await.0, 403);
    let reader = app.api_as("ada", &["orgs:read"]).await;
    assert_eq!(reader.get("/orgs/acme").await.0, 200);
    assert_eq!(reader.patch("/orgs/acme", json!({"name": "X"})).await.0, 403, "orgs:read renamed an org");
    // Bad input changes nothing.
    assert_eq!(bob.post("/orgs", json!({"slug": "acme", "name": "Again"})).await.0, 422, "a duplicate slug");
    assert_eq!(bob.post("/orgs", json!({"slug": "Not A Slug", "name": "X"})).await.0, 422);
    assert_eq!(bob.get("/orgs").await.1["orgs"], json!([]));
    // Admins come and go; the last one stays.
    assert_eq!(ada.put("/orgs/acme/admins/bob", json!({})).await.0, 204);
    assert_eq!(ada.put("/orgs/acme/admins/nobody", json!({})).await.0, 404);
    assert_eq!(bob.delete("/orgs/acme/admins/ada").await.0, 204);
    assert_eq!(ada.get("/orgs/acme").await.0, 404, "a removed admin still sees the org");
    let (status, err) = bob.delete("/orgs/acme/admins/bob").await;
    assert_eq!(status, 409, "{err}");
    assert_eq!(bob.patch("/orgs/acme", json!({"name": "Acme Corp"})).await.1["name"], "Acme Corp");
    let log = bob.get("/orgs/acme/audit").await.1;
    let actions: Vec<&str> = log["entries"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["org.updated", "org.admin_removed", "org.admin_added", "org.created"]);
}

async fn a_domain_verified_through_dns_makes_its_accounts_managed_until_removed(b: Backend) {
    let dns = DnsServer::start().await;
    let app = org_app(b, &dns).await;
    let ada = person(&app, "ada", "ada@example.com", &["orgs:admin"]).await;
    let rival = person(&app, "rivo", "rivo@example.com", &["orgs:admin"]).await;
    person(&app, "carol", "carol@acme.example", &["workspaces:read"]).await;
    person(&app, "sam", "sam@eu.acme.example", &["workspaces:read"]).await;
    ada.post("/orgs", json!({"slug": "acme", "name": "Acme"})).await;
    rival.post("/orgs", json!({"slug": "rival", "name": "Rival"})).await;
    let (status, claimed) = ada.post("/orgs/acme/domains", json!({"domain": "Acme.Example"})).await;
    assert_eq!(status, 201, "{claimed}");
    let record = claimed["txt_record"].as_str().unwrap().to_owned();
    assert!(record.starts_with("guildhall-verification="), "{record}");
    assert_eq!(ada.post("/orgs/acme/domains", json!({"domain": "acme.example"})).await.0, 422, "claimed twice");
    assert_eq!(ada.post("/orgs/acme/domains", json!({"domain": "not a domain"})).await.0, 422);
    assert_eq!(ada.get("/orgs/acme/domains").await.1["domains"].as_array().unwrap().len(), 1);
    // No record, then a wrong one: refused with the record to publish.
    let (status, err) = ada.post("/orgs/acme/domains/acme.example/verify", json!({})).await;
    assert_eq!(status, 422, "{err}");
    assert!(err.to_string().contains(&record), "the error does not say what to publish: {err}");
    dns.set_txt("acme.example", &["v=spf1 -all", "guildhall-verification=wrong"]);
    assert_eq!(ada.post("/orgs/acme/domains/acme.example/verify", json!({})).await.0, 422);
    assert!(ada.get("/orgs/acme/managed-accounts").await.1["accounts"].as_array().unwrap().is_empty());
    // Published: verified, and exactly the domain's accounts become managed.
    dns.set_txt("acme.example", &["v=spf1 -all", &record]);
    let (status, done) = ada.post("/orgs/acme/domains/acme.example/verify", json!({})).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(
        done["newly_managed"],
        json!([{"username": "carol", "display_name": "carol", "email": "carol@acme.example", "status": "active"}])
    );
    assert_eq!(app.mails_to("carol@acme.example", "managed by your organization").len(), 1, "carol was not told");
    assert!(app.mails_to("sam@eu.acme.example", "managed").is_empty(), "a subdomain account was told");
    assert_eq!(ada.get("/orgs/acme/domains").await.1["domains"][0]["verified"], true);
    // New sign-ups on the domain are managed from the start.
    person(&app, "dave", "dave@acme.example", &["workspaces:read"]).await;
    let managed = ada.get("/orgs/acme/managed-accounts").await.1;
    let names: Vec<&str> =
        managed["accounts"].as_array().unwrap().iter().map(|a| a["username"].as_str().unwrap()).collect();
    assert_eq!(names, ["carol", "dave"]);
    // Another org cannot take a verified domain, even with the record.
    let (_, theirs) = rival.post("/orgs/rival/domains", json!({"domain": "acme.example"})).await;
    dns.set_txt("acme.example", &[&record, theirs["txt_record"].as_str().unwrap()]);
    assert_eq!(rival.post("/orgs/rival/domains/acme.example/verify", json!({})).await.0, 409);
    assert_eq!(rival.get("/orgs/rival/managed-accounts").await.1["accounts"], json!([]));
    assert_eq!(rival.post("/orgs/acme/domains/acme.example/verify", json!({})).await.0, 404, "another org's admin");
    // Giving the domain up makes them personal again.
    assert_eq!(ada.delete("/orgs/acme/domains/acme.example").await.0, 204);
    assert_eq!(ada.delete("/orgs/acme/domains/acme.example").await.0, 404);
    assert_eq!(ada.get("/orgs/acme/managed-accounts").await.1["accounts"], json!([]));
    assert_eq!(rival.post("/orgs/rival/domains/acme.example/verify", json!({})).await.0, 200, "the freed domain");
}

async fn an_org_admin_has_power_over_managed_accounts_only(b: Backend) {
    let dns = DnsServer::start().await;
    let app = org_app(b, &dns).await;
    let ada = person(&app, "ada", "ada@example.com", &["orgs:admin"]).await;
    let carol = person(&app, "carol", "carol@acme.example", &["workspaces:read"]).await;
    person(&app, "pat", "pat@personal.example", &["workspaces:read"]).await;
    ada.post("/orgs", json!({"slug": "acme", "name": "Acme"})).await;
    let (_, d) = ada.post("/orgs/acme/domains", json!({"domain": "acme.example"})).await;
    dns.set_txt("acme.example", &[d["txt_record"].as_str().unwrap()]);
    assert_eq!(ada.post("/orgs/acme/domains/acme.example/verify", json!({})).await.0, 200);
    let browser = app.client();
    let res =
        browser.post_form("/login", &[("email", "carol@acme.example"), ("password", "correct horse battery")]).await;
    assert_eq!(res.status(), 303);
    // Bad input changes nothing, even the valid half of it.
    let (status, _) =
        ada.patch("/orgs/acme/managed-accounts/carol", json!({"display_name": "Carol C", "status": "gone"})).await;
    assert_eq!(status, 422);
    assert_eq!(ada.patch("/orgs/acme/managed-accounts/carol", json!({})).await.0, 422);
    assert_eq!(ada.get("/orgs/acme/managed-accounts").await.1["accounts"][0]["display_name"], "carol");
    // Rename; end sessions; deactivate (her token dies); reactivate.
    let (status, c) = ada.patch("/orgs/acme/managed-accounts/carol", json!({"display_name": "Carol C"})).await;
    assert_eq!((status, c["display_name"].as_str()), (200, Some("Carol C")));
    assert_eq!(browser.get("/account").await.status(), 200);
    assert_eq!(ada.post("/orgs/acme/managed-accounts/carol/end-sessions", json!({})).await.0, 204);
    assert_eq!(browser.get("/account").await.status(), 303, "a session outlived end-sessions");
    assert_eq!(carol.get("/workspaces").await.0, 200);
    assert_eq!(ada.patch("/orgs/acme/managed-accounts/carol", json!({"status": "deactivated"})).await.0, 200);
    assert_eq!(carol.get("/workspaces").await.0, 401, "a deactivated account's token works");
    assert_eq!(ada.patch("/orgs/acme/managed-accounts/carol", json!({"status": "active"})).await.0, 200);
    assert_eq!(carol.get("/workspaces").await.0, 200);
    // No power over personal accounts (nor over the admin's own).
    for username in ["pat", "ada", "nobody"] {
        let path = format!("/orgs/acme/managed-accounts/{username}");
        assert_eq!(ada.patch(&path, json!({"status": "deactivated"})).await.0, 404, "{username}");
        assert_eq!(ada.post(&format!("{path}/end-sessions"), json!({})).await.0, 404, "{username}");
    }
    let log = ada.get("/orgs/acme/audit").await.1;
    let actions: Vec<&str> =
        log["entries"].as_array().unwrap().iter().take(4).map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(
        actions,
        ["org.account_reactivated", "org.account_deactivated", "org.account_signed_out", "org.account_renamed"]
    );
}

async fn a_paid_workspace_is_linked_for_good_by_an_admin_of_both(b: Backend) {
    let dns = DnsServer::start().await;
    let app = org_app(b, &dns).await;
    let scopes = ["orgs:admin", "workspaces:admin"];
    let ada = person(&app, "ada", "ada@example.com", &scopes).await;
    let bob = person(&app, "bob", "bob@example.com", &scopes).await;
    ada.post("/orgs", json!({"slug": "acme-org", "name": "Acme"})).await;
    ada.put("/orgs/acme-org/admins/bob", json!({})).await;
    ada.post("/workspaces", json!({"slug": "acme", "name": "Acme", "plan": "paid"})).await;
    ada.post("/workspaces", json!({"slug": "free", "name": "Free"})).await;
    ada.post("/workspaces/acme/groups", json!({"slug": "devs", "name": "Devs"})).await;
    ada.put("/workspaces/acme/groups/devs/members/bob", json!({})).await;
    let link = |api: &Api, ws: &str| {
        let (api, body) = (api.clone(), json!({ "workspace": ws }));
        async move { api.post("/orgs/acme-org/linked-workspaces", body).await }
    };
    // A member who is not a workspace admin is told how to get there.
    let (status, err) = link(&bob, "acme").await;
    assert_eq!(status, 403, "{err}");
    assert!(err.to_string().contains("administrators group"), "{err}");
    assert_eq!(link(&bob, "free").await.0, 404, "a workspace bob cannot see");
    // A workspace admin who is not an org admin cannot even see the org.
    let cid = person(&app, "cid", "cid@example.com", &scopes).await;
    cid.post("/workspaces", json!({"slug": "cids", "name": "Cid's", "plan": "paid"})).await;
    assert_eq!(cid.post("/orgs/acme-org/linked-workspaces", json!({"workspace": "cids"})).await.0, 404);
    assert_eq!(cid.get("/workspaces/cids").await.1["organization"], json!(null));
    assert_eq!(link(&ada, "free").await.0, 409, "a free workspace was linked");
    assert_eq!(ada.get("/workspaces/free").await.1["organization"], json!(null));
    let (status, ws) = link(&ada, "acme").await;
    assert_eq!((status, ws["organization"].as_str()), (201, Some("acme-org")), "{ws}");
    assert_eq!(ada.get("/workspaces/acme").await.1["organization"], "acme-org");
    assert_eq!(link(&ada, "acme").await.0, 409, "linked twice");
    let listed = ada.get("/orgs/acme-org/linked-workspaces").await.1;
    assert_eq!(listed["workspaces"][0]["slug"], "acme");
    assert_eq!(ada.get("/workspaces/acme/audit").await.1["entries"][0]["action"], "workspace.linked");
    assert_eq!(ada.get("/orgs/acme-org/audit").await.1["entries"][0]["action"], "org.workspace_linked");

    // Central user management: linked workspaces' members and managed accounts.
    person(&app, "carol", "carol@acme.example", &["workspaces:read"]).await;
    person(&app, "zed", "zed@elsewhere.example", &["workspaces:read"]).await;
    let (_, d) = ada.post("/orgs/acme-org/domains", json!({"domain": "acme.example"})).await;
    dns.set_txt("acme.example", &[d["txt_record"].as_str().unwrap()]);
    assert_eq!(ada.post("/orgs/acme-org/domains/acme.example/verify", json!({})).await.0, 200);
    let names = |v: serde_json::Value| {
        v["members"].as_array().unwrap().iter().map(|m| m["username"].as_str().unwrap().to_owned()).collect::<Vec<_>>()
    };
    let (_, all) = ada.get("/orgs/acme-org/members").await;
    assert_eq!(names(all.clone()), ["ada", "bob", "carol"], "{all}");
    assert_eq!(all["members"][0]["workspaces"], json!(["acme"]));
    assert_eq!(
        (all["members"][2]["managed"].clone(), all["members"][2]["workspaces"].clone()),
        (json!(true), json!([]))
    );
    assert_eq!(names(ada.get("/orgs/acme-org/members?workspace=acme").await.1), ["ada", "bob"]);
    assert_eq!(names(ada.get("/orgs/acme-org/members?managed=true").await.1), ["carol"]);
    assert_eq!(names(ada.get("/orgs/acme-org/members?managed=false&q=BOB").await.1), ["bob"]);
    assert_eq!(all["members"][1]["email"], json!(null), "a personal account's email was shown");
    assert_eq!(all["members"][2]["email"], "carol@acme.example");
    let by_email = names(ada.get("/orgs/acme-org/members?q=bob%40example.com").await.1);
    assert!(by_email.is_empty(), "a personal email could be probed by search");
    assert_eq!(names(ada.get("/orgs/acme-org/members?workspace=free").await.1), Vec::<String>::new());
    assert_eq!(person(&app, "eve", "eve@example.com", &["orgs:read"]).await.get("/orgs/acme-org/members").await.0, 404);
}

on_both_backends!(an_org_admin_does_every_task_in_the_browser);

async fn an_org_admin_does_every_task_in_the_browser(b: Backend) {
    let dns = DnsServer::start().await;
    let app = org_app(b, &dns).await;
    let ada = app.signed_up("ada", "correct horse battery", true).await;
    let ada_api = app.api_as("ada", &["workspaces:admin"]).await;
    person(&app, "carol", "carol@acme.example", &["workspaces:read"]).await;
    let res = ada.post_form("/orgs", &[("slug", "acme"), ("name", "Acme Inc")]).await;
    assert_eq!(res.headers()["location"], "/orgs/acme?notice=org-created");
    let (status, page) = ada.get_text("/orgs").await;
    assert!(status == 200 && page.contains("Acme Inc"), "{page}");
    let stranger = app.signed_up("zed", "correct horse battery", true).await;
    assert_eq!(stranger.get("/orgs/acme").await.status(), 404, "a stranger saw the org");
    assert_eq!(stranger.post_form("/orgs/acme/domains", &[("domain", "evil.example")]).await.status(), 404);
    // Domains: add, fail to verify, publish, verify.
    assert_eq!(ada.post_form("/orgs/acme/domains", &[("domain", "acme.example")]).await.status(), 303);
    let (_, page) = ada.get_text("/orgs/acme").await;
    let record = page.split("<code>").nth(1).unwrap().split("</code>").next().unwrap().to_owned();
    assert!(record.starts_with("guildhall-verification="), "{record}");
    let res = ada.post_form("/orgs/acme/domains/acme.example/verify", &[]).await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("guildhall-verification="), "the page does not say what to publish");
    dns.set_txt("acme.example", &[&record]);
    let res = ada.post_form("/orgs/acme/domains/acme.example/verify", &[]).await;
    assert_eq!(res.headers()["location"], "/orgs/acme?notice=domain-verified");
    let (_, page) = ada.get_text("/orgs/acme").await;
    assert!(page.contains("carol@acme.example") && page.contains("verified"), "{page}");
    // Managed accounts: rename, deactivate, sign out.
    let res = ada.post_form("/orgs/acme/managed/carol", &[("display_name", "Carol Acme")]).await;
    assert_eq!(res.headers()["location"], "/orgs/acme?notice=account-updated");
    assert_eq!(ada.post_form("/orgs/acme/managed/carol/status", &[("status", "deactivated")]).await.status(), 303);
    assert_eq!(ada.post_form("/orgs/acme/managed/carol/end-sessions", &[]).await.status(), 303);
    let (_, page) = ada.get_text("/orgs/acme").await;
    assert!(page.contains("Carol Acme") && page.contains("deactivated"), "{page}");
    assert_eq!(ada.post_form("/orgs/acme/managed/zed/status", &[("status", "deactivated")]).await.status(), 404);
    // Linking: the page explains the permanence; the form needs the confirmation.
    ada_api.post("/workspaces", json!({"slug": "team", "name": "Team", "plan": "paid"})).await;
    assert!(page.contains("Linking is permanent"), "the page does not explain the permanence");
    assert!(page.contains("administrators"), "the page does not say how to become a workspace admin");
    assert_eq!(ada.post_form("/orgs/acme/links", &[("workspace", "team")]).await.status(), 422, "linked unconfirmed");
    assert_eq!(ada_api.get("/workspaces/team").await.1["organization"], json!(null));
    let (_, ws_page) = ada.get_text("/workspaces/team").await;
    assert!(ws_page.contains("invite one into the"), "the workspace page does not say how to bring an org admin in");
    let res = ada.post_form("/orgs/acme/links", &[("workspace", "team"), ("confirm", "permanent")]).await;
    assert_eq!(res.headers()["location"], "/orgs/acme?notice=workspace-linked");
    assert_eq!(ada_api.get("/workspaces/team").await.1["organization"], "acme");
    let (_, ws_page) = ada.get_text("/workspaces/team").await;
    assert!(ws_page.contains("linked to the organization <strong>acme</strong>"), "{ws_page}");
    let res = ada.post_form("/orgs/acme/settings", &[("name", "Acme Corporation")]).await;
    assert_eq!(res.headers()["location"], "/orgs/acme?notice=org-renamed");
    assert_eq!(ada.post_form("/orgs/acme/settings", &[("name", "")]).await.status(), 422);
    // Everyone in one place, with filters; and the audit log.
    let (_, people) = ada.get_text("/orgs/acme/members?q=carol").await;
    assert!(people.contains("carol@acme.example") && !people.contains("ada@example.com"), "{people}");
    let (_, people) = ada.get_text("/orgs/acme/members?workspace=team").await;
    assert!(people.contains("(ada)") && !people.contains("carol@acme.example"), "{people}");
    assert!(!people.contains("ada@example.com"), "a personal account's email was shown");
    let (_, log) = ada.get_text("/orgs/acme/audit").await;
    assert!(log.contains("org.workspace_linked") && log.contains("org.domain_verified"), "{log}");
    // Admins; a form without its CSRF token changes nothing.
    assert_eq!(ada.post_raw("/orgs/acme/admins", &[("username", "zed")]).await.status(), 403);
    assert_eq!(stranger.get("/orgs/acme").await.status(), 404);
    assert_eq!(ada.post_form("/orgs/acme/admins", &[("username", "zed")]).await.status(), 303);
    assert_eq!(stranger.get("/orgs/acme").await.status(), 200);
    assert_eq!(ada.post_form("/orgs/acme/admins/ada/remove", &[]).await.headers()["location"], "/orgs");
    assert_eq!(ada.get("/orgs/acme").await.status(), 404);
}
