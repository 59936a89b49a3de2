//! The SCIM 2.0 service provider: the independent checker `scim2-tester`
//! (PyPI) against an org's directory (read and write) and a workspace's
//! (read), and what it does not cover: deprovisioning, events, scoping,
//! filters, ETags and bad input.

use crate::directory::all_events;
use guildhall_app::directory::{Caller, Target};
use guildhall_testkit::dns::DnsServer;
use guildhall_testkit::scim_tester::{run_scim_tester, run_scim_tester_tags};
use guildhall_testkit::{Api, Backend, TestApp, on_both_backends, spawn_app_with};
use serde_json::{Value, json};

on_both_backends!(
    an_org_directory_passes_the_scim_conformance_checker,
    a_workspace_directory_is_read_only_and_passes_the_discovery_checks,
    an_org_directory_provisions_and_deprovisions_its_people,
    deprovisioning_a_last_workspace_admin_hands_the_workspace_to_the_org_admins,
    an_org_directory_and_its_log_see_who_signs_up_on_its_domains,
    scim_lists_filter_sort_and_page,
    filters_the_database_narrows_give_what_the_filter_gives,
    scim_refuses_bad_requests_and_other_directories,
);

/// A SCIM client: bearer token, scim+json bodies.
#[derive(Clone)]
pub struct ScimClient {
    http: reqwest::Client,
    pub base: String,
    token: String,
}

impl ScimClient {
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> (u16, Value, reqwest::header::HeaderMap) {
        let mut req = self.http.request(method, format!("{}{path}", self.base)).bearer_auth(&self.token);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.header("content-type", "application/scim+json").body(b.to_string());
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap();
        if status >= 400 {
            assert_eq!(headers["content-type"], "application/scim+json", "{status} {path}: {text}");
            let body: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(body["schemas"], json!(["urn:ietf:params:scim:api:messages:2.0:Error"]), "{text}");
            assert_eq!(body["status"], json!(status.to_string()), "{text}");
        }
        (status, if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap() }, headers)
    }
    pub async fn get(&self, path: &str) -> (u16, Value) {
        let (s, v, _) = self.call(reqwest::Method::GET, path, None, &[]).await;
        (s, v)
    }
    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let (s, v, _) = self.call(reqwest::Method::POST, path, Some(body), &[]).await;
        (s, v)
    }
    pub async fn patch(&self, path: &str, body: Value) -> (u16, Value) {
        let (s, v, _) = self.call(reqwest::Method::PATCH, path, Some(body), &[]).await;
        (s, v)
    }
    pub async fn delete(&self, path: &str) -> u16 {
        self.call(reqwest::Method::DELETE, path, None, &[]).await.0
    }
}

/// A directory token for the workspace or org, made by `admin`.
pub async fn directory_token(app: &TestApp, admin: &str, target: Target<'_>) -> String {
    let account = app.app.accounts().by_username(admin).await.unwrap();
    let d = app.app.directory().authorize(target, Caller::Session(account), None).await.unwrap();
    let (_, secret) = app.app.directory().create_token(&d, "directory").await.unwrap();
    secret.expose().to_owned()
}

pub fn scim_client(app: &TestApp, path: &str, token: &str) -> ScimClient {
    ScimClient { http: reqwest::Client::new(), base: app.url(&format!("/scim/v2/{path}")), token: token.to_owned() }
}

/// An org `acme` with the verified domain `acme.example`, ada its admin,
/// and a paid workspace `acme-ws` linked to it (ada its admin too).
pub async fn org_with_domain(b: Backend, dns: &DnsServer) -> (TestApp, Api) {
    let addr = dns.addr;
    let app = spawn_app_with(b, move |s| s.dns_resolver = Some(addr)).await;
    app.account("ada").await;
    let ada = app.api_as("ada", &["orgs:admin", "workspaces:admin", "scim"]).await;
    assert_eq!(ada.post("/orgs", json!({"slug": "acme", "name": "Acme"})).await.0, 201);
    let (_, claimed) = ada.post("/orgs/acme/domains", json!({"domain": "acme.example"})).await;
    dns.set_txt("acme.example", &[claimed["txt_record"].as_str().unwrap()]);
    assert_eq!(ada.post("/orgs/acme/domains/acme.example/verify", json!({})).await.0, 200);
    assert_eq!(ada.post("/workspaces", json!({"slug": "acme-ws", "name": "Acme", "plan": "paid"})).await.0, 201);
    assert_eq!(ada.post("/orgs/acme/linked-workspaces", json!({"workspace": "acme-ws"})).await.0, 201);
    assert_eq!(ada.post("/workspaces/acme-ws/groups", json!({"slug": "devs", "name": "Developers"})).await.0, 201);
    (app, ada)
}

fn user(user_name: &str, email: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name,
        "externalId": format!("ext-{user_name}"),
        "name": { "givenName": "Grace", "familyName": "Hopper" },
        "emails": [{ "value": email, "type": "work", "primary": true }],
        "active": true,
    })
}

async fn an_org_directory_passes_the_scim_conformance_checker(b: Backend) {
    let dns = DnsServer::start().await;
    let (app, _) = org_with_domain(b, &dns).await;
    let token = directory_token(&app, "ada", Target::Org("acme")).await;
    let report = run_scim_tester(&app.url("/scim/v2/orgs/acme"), &token).await;
    report.assert_passed();
    assert!(report.checks.len() >= 60, "too few checks ran: {report}");
}

async fn a_workspace_directory_is_read_only_and_passes_the_discovery_checks(b: Backend) {
    let app = guildhall_testkit::spawn_app(b).await;
    let ada = app.user("ada").await;
    app.account("bob").await;
    ada.post("/workspaces", json!({"slug": "acme", "name": "Acme"})).await;
    ada.post("/workspaces/acme/groups", json!({"slug": "devs", "name": "Developers"})).await;
    ada.put("/workspaces/acme/groups/devs/members/bob", json!({})).await;
    let token = directory_token(&app, "ada", Target::Workspace("acme")).await;
    let report = run_scim_tester_tags(&app.url("/scim/v2/workspaces/acme"), &token, &["discovery", "misc"], &[]).await;
    report.assert_passed();
    let scim = scim_client(&app, "workspaces/acme", &token);
    let (s, list) = scim.get("/Users").await;
    assert_eq!(s, 200, "{list}");
    assert_eq!(list["totalResults"], 2);
    let names: Vec<&str> =
        list["Resources"].as_array().unwrap().iter().map(|u| u["userName"].as_str().unwrap()).collect();
    assert_eq!(names, ["ada", "bob"]);
    let bob = &list["Resources"][1];
    assert_eq!(bob["emails"][0]["value"], "bob@example.com");
    assert_eq!(bob["groups"][0]["display"], "Developers");
    // A page shows each user exactly as its own GET does, version included.
    let (s, got) = scim.get(&format!("/Users/{}", bob["id"].as_str().unwrap())).await;
    assert_eq!((s, &got), (200, bob));
    assert!(bob["meta"]["version"].as_str().is_some_and(|v| v.starts_with("W/\"")), "{bob}");
    // ... and only what was asked for, when asked.
    let (_, page) = scim.get("/Users?attributes=userName,emails.value").await;
    assert_eq!(
        page["Resources"][1],
        json!({"schemas": bob["schemas"], "id": bob["id"], "userName": "bob", "emails": [{"value": "bob@example.com"}]})
    );
    let (_, page) = scim.get("/Users?excludedAttributes=groups,meta").await;
    let mut trimmed = bob.clone();
    trimmed.as_object_mut().unwrap().retain(|k, _| k != "groups" && k != "meta");
    assert_eq!(page["Resources"][1], trimmed);
    let (s, groups) = scim.get("/Groups?filter=displayName%20eq%20%22developers%22").await;
    assert_eq!(s, 200);
    assert_eq!(groups["totalResults"], 1, "{groups}");
    assert_eq!(groups["Resources"][0]["members"][0]["value"], bob["id"]);
    // Read-only: every write is refused and nothing changes.
    let (s, _) = scim.post("/Users", user("eve", "eve@example.com")).await;
    assert_eq!(s, 405);
    let gid = groups["Resources"][0]["id"].as_str().unwrap();
    let (s, _) = scim.patch(&format!("/Groups/{gid}"), json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "remove", "path": "members"}]})).await;
    assert_eq!(s, 405);
    assert_eq!(scim.delete(&format!("/Users/{}", bob["id"].as_str().unwrap())).await, 405);
    assert_eq!(scim.get("/Users").await.1["totalResults"], 2);
    // Paging reflects a change at once.
    app.account("cy").await;
    ada.put("/workspaces/acme/groups/devs/members/cy", json!({})).await;
    let (_, page) = scim.get("/Users?startIndex=2&count=1").await;
    assert_eq!((page["totalResults"].as_u64(), page["Resources"][0]["userName"].as_str()), (Some(3), Some("bob")));
    let (_, page) = scim.get("/Users?startIndex=3&count=5").await;
    assert_eq!(page["Resources"][0]["userName"], "cy");
    assert_eq!(page["itemsPerPage"], 1);
}

async fn an_org_directory_provisions_and_deprovisions_its_people(b: Backend) {
    let dns = DnsServer::start().await;
    let (app, ada) = org_with_domain(b, &dns).await;
    let token = directory_token(&app, "ada", Target::Org("acme")).await;
    let scim = scim_client(&app, "orgs/acme", &token);
    // An address on the org's verified domain: a verified managed account,
    // whose username comes from the userName.
    let (s, grace) = scim.post("/Users", user("Grace.Hopper@acme.example", "grace@acme.example")).await;
    assert_eq!(s, 201, "{grace}");
    assert_eq!(grace["userName"], "Grace.Hopper@acme.example");
    assert_eq!(grace["name"]["givenName"], "Grace");
    assert_eq!(grace["externalId"], "ext-Grace.Hopper@acme.example");
    let id = grace["id"].as_str().unwrap().to_owned();
    let account = app.app.accounts().by_username("grace-hopper").await.unwrap();
    assert_eq!(account.id.0.to_string(), id);
    assert_eq!(account.display_name.as_str(), "Grace Hopper", "the name was not used");
    assert!(account.email_verified, "an address on a verified domain is verified");
    assert_eq!(
        account.managed_by.map(|o| o.0),
        Some(
            app.app
                .store()
                .org_by_slug(&guildhall_core::workspaces::Slug::parse("acme").unwrap())
                .await
                .unwrap()
                .unwrap()
                .id
                .0
        )
    );
    // Elsewhere: managed by the org but not verified until its owner says so.
    let (s, outside) = scim.post("/Users", user("linus", "linus@elsewhere.example")).await;
    assert_eq!(s, 201, "{outside}");
    assert!(!app.app.accounts().by_username("linus").await.unwrap().email_verified);
    // userName is unique in the directory, case-insensitively.
    let (s, e) = scim.post("/Users", user("grace.hopper@ACME.example", "g2@acme.example")).await;
    assert_eq!((s, e["scimType"].as_str()), (409, Some("uniqueness")), "{e}");
    // A taken address is refused.
    let (s, e) = scim.post("/Users", user("ada2", "ada@example.com")).await;
    assert_eq!((s, e["scimType"].as_str()), (409, Some("uniqueness")), "{e}");

    // Grace joins a workspace group; the directory deprovisions her (Okta-
    // style PATCH active=false): deactivated, out of the org's workspaces.
    assert_eq!(ada.put("/workspaces/acme-ws/groups/devs/members/grace-hopper", json!({})).await.0, 200);
    let (_, cursor) = ada.get("/workspaces/acme-ws/events?limit=1").await;
    let since = all_events(&ada, "/workspaces/acme-ws", cursor["next"].as_i64().unwrap(), 100)
        .await
        .last()
        .map_or(0, |e| e["cursor"].as_i64().unwrap());
    let (s, patched) = scim
        .patch(&format!("/Users/{id}"), json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "Replace", "value": {"active": "False"}}]}))
        .await;
    assert_eq!(s, 200, "{patched}");
    assert_eq!(patched["active"], false);
    assert_eq!(
        app.app.accounts().by_username("grace-hopper").await.unwrap().status,
        guildhall_core::accounts::AccountStatus::Deactivated
    );
    let (_, members) = ada.get("/workspaces/acme-ws/groups/devs/members").await;
    assert_eq!(members["members"], json!([]), "a deprovisioned account kept its group");
    let events = all_events(&ada, "/workspaces/acme-ws", since, 100).await;
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"group.member_removed") && kinds.contains(&"account.updated"), "{kinds:?}");
    // The org's log has the provisioning.
    let org_events = all_events(&ada, "/orgs/acme", 0, 1000).await;
    assert!(
        org_events.iter().any(|e| e["type"] == "scim.user_provisioned" && e["data"]["account"]["id"] == json!(id)),
        "{org_events:#?}"
    );
    // Reactivated, then deleted: gone from SCIM, deactivated, and listed nowhere.
    let (s, _) = scim.patch(&format!("/Users/{id}"), json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "path": "active", "value": true}]})).await;
    assert_eq!(s, 200);
    assert!(
        app.app.accounts().by_username("grace-hopper").await.unwrap().status
            == guildhall_core::accounts::AccountStatus::Active
    );
    assert_eq!(scim.delete(&format!("/Users/{id}")).await, 204);
    assert_eq!(scim.get(&format!("/Users/{id}")).await.0, 404);
    assert_eq!(scim.delete(&format!("/Users/{id}")).await, 404);
    assert_eq!(
        app.app.accounts().by_username("grace-hopper").await.unwrap().status,
        guildhall_core::accounts::AccountStatus::Deactivated
    );
    // Provisioned again with the same address: the same account comes back.
    let (s, again) = scim.post("/Users", user("grace.hopper@acme.example", "grace@acme.example")).await;
    assert_eq!(s, 201, "{again}");
    assert_eq!(again["id"], json!(id));
    assert_eq!(again["active"], true);

    // Groups: members must be the directory's users.
    let (s, group) = scim
        .post("/Groups", json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Engineering", "members": [{"value": id}]}))
        .await;
    assert_eq!(s, 201, "{group}");
    let gid = group["id"].as_str().unwrap();
    let ada_id = app.app.accounts().by_username("ada").await.unwrap().id.0.to_string();
    let (s, e) = scim
        .patch(&format!("/Groups/{gid}"), json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "add", "path": "members", "value": [{"value": ada_id}]}]}))
        .await;
    assert_eq!(
        (s, e["scimType"].as_str()),
        (400, Some("invalidValue")),
        "an account the org does not manage joined: {e}"
    );
    let (_, g) = scim.get(&format!("/Groups/{gid}")).await;
    assert_eq!(g["members"].as_array().unwrap().len(), 1, "a refused PATCH changed the group");
    let (_, u) = scim.get(&format!("/Users/{id}")).await;
    assert_eq!(u["groups"][0]["display"], "Engineering");
    let (s, e) = scim
        .post(
            "/Groups",
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Engineering"}),
        )
        .await;
    assert_eq!((s, e["scimType"].as_str()), (409, Some("uniqueness")));
    // The org's snapshot holds the directory and the cursor its log goes on from.
    let (s, snap) = ada.get("/orgs/acme/snapshot").await;
    assert_eq!(s, 200, "{snap}");
    let grace = snap["accounts"].as_array().unwrap().iter().find(|a| a["id"] == json!(id)).unwrap();
    assert_eq!(grace["directory_user_name"], "grace.hopper@acme.example");
    assert_eq!(snap["groups"][0]["members"], json!([id]));
    let last = all_events(&ada, "/orgs/acme", 0, 1000).await.last().unwrap()["cursor"].as_i64().unwrap();
    assert!(snap["cursor"].as_i64().unwrap() >= last, "{snap}");
    assert!(all_events(&ada, "/orgs/acme", snap["cursor"].as_i64().unwrap(), 100).await.is_empty());
    assert_eq!(scim.delete(&format!("/Groups/{gid}")).await, 204);
    assert_eq!(scim.get(&format!("/Groups/{gid}")).await.0, 404);
}

/// A workspace's listings with a filter other than a one-user key are
/// narrowed by the database (`app::scim::narrow`), then decided by the
/// filter: whatever the case, wildcard or non-ASCII characters, the answer
/// is exactly the filter applied to every member.
async fn filters_the_database_narrows_give_what_the_filter_gives(b: Backend) {
    let app = guildhall_testkit::spawn_app(b).await;
    app.account("ada").await;
    let ada = app.api_as("ada", &["workspaces:admin", "scim"]).await;
    assert_eq!(ada.post("/workspaces", json!({"slug": "acme", "name": "Acme"})).await.0, 201);
    assert_eq!(ada.post("/workspaces/acme/groups", json!({"slug": "devs", "name": "Developers"})).await.0, 201);
    // Display names with mixed case, LIKE wildcards, a backslash, and
    // characters whose lowercase is ASCII (the Kelvin sign, dotted İ).
    let people = [
        ("bob", "Bob Smith"),
        ("cy", "CY_100% Sure"),
        ("dee", "Dee \u{212A}elvin"),
        ("eve", "\u{130}lker Eve"),
        ("fay", "fay o'brien"),
        ("gus", "Gus\\Back"),
    ];
    for (username, name) in people {
        let new = guildhall_app::accounts::AdminCreate {
            email: &format!("{username}@Example.com"),
            username,
            display_name: Some(name),
            password: "correct horse battery",
            verified: true,
        };
        app.app.accounts().admin_create(new).await.unwrap();
        assert_eq!(ada.put(&format!("/workspaces/acme/groups/devs/members/{username}"), json!({})).await.0, 200);
    }
    app.app.accounts().set_status("gus", guildhall_core::accounts::AccountStatus::Deactivated).await.unwrap();
    // Members most filters leave out, so that the narrowed candidates are
    // few enough to be read by id (most of the directory is read whole).
    for i in 0..8 {
        let username = format!("pad{i}");
        let new = guildhall_app::accounts::AdminCreate {
            email: &format!("{username}@example.org"),
            username: &username,
            display_name: Some("Pad"),
            password: "correct horse battery",
            verified: true,
        };
        app.app.accounts().admin_create(new).await.unwrap();
        assert_eq!(ada.put(&format!("/workspaces/acme/groups/devs/members/{username}"), json!({})).await.0, 200);
    }
    let token = directory_token(&app, "ada", Target::Workspace("acme")).await;
    let scim = scim_client(&app, "workspaces/acme", &token);
    let (_, everyone) = scim.get("/Users?count=1000").await;
    let everyone = everyone["Resources"].as_array().unwrap().clone();
    assert_eq!(everyone.len(), 15);
    let names = |v: &[Value]| -> Vec<String> { v.iter().map(|u| u["userName"].as_str().unwrap().to_owned()).collect() };
    let mut matched = 0;
    for filter in [
        r#"userName sw "D""#,
        r#"userName co "e""#,
        r#"userName ew "Y""#,
        r#"displayName co "k""#,
        "displayName co \"\u{212A}\"",
        r#"displayName sw "i""#,
        r#"displayName co "_""#,
        r#"displayName co "%""#,
        r#"displayName co "0%""#,
        r#"displayName co "\\""#,
        r#"displayName eq "fay o'brien""#,
        r#"name.formatted co "SMITH""#,
        r#"emails.value ew "@EXAMPLE.COM""#,
        r#"emails co "ve@""#,
        r#"emails[type eq "work" and value sw "c"]"#,
        r#"active eq false"#,
        r#"active eq "TRUE" and userName sw "b""#,
        r#"active ne true"#,
        r#"userName sw "b" or displayName co "FAY""#,
        r#"userName sw "b" or title pr"#,
        r#"not (userName co "e")"#,
        r#"userName co "e" and displayName co "EVE""#,
        r#"urn:ietf:params:scim:schemas:core:2.0:User:displayName sw "gus""#,
        r#"displayName co "\u0000" or userName sw "b""#,
    ] {
        let parsed = guildhall_core::scim::Filter::parse(filter).unwrap();
        let expected: Vec<Value> =
            everyone.iter().filter(|u| parsed.matches(u, &guildhall_core::scim::schema::USER)).cloned().collect();
        let (s, p) = scim.get(&format!("/Users?filter={}&sortBy=userName", urlencode(filter))).await;
        assert_eq!(s, 200, "{filter}: {p}");
        assert_eq!(names(p["Resources"].as_array().unwrap()), names(&expected), "{filter}");
        assert_eq!(p["totalResults"].as_u64(), Some(expected.len() as u64), "{filter}");
        matched += usize::from(!expected.is_empty());
    }
    assert!(matched >= 20, "too few filters matched anyone to tell anything: {matched}");
}

async fn scim_lists_filter_sort_and_page(b: Backend) {
    let dns = DnsServer::start().await;
    let (app, _) = org_with_domain(b, &dns).await;
    let token = directory_token(&app, "ada", Target::Org("acme")).await;
    let scim = scim_client(&app, "orgs/acme", &token);
    for (i, n) in ["carol", "alice", "bob", "dan", "erin"].iter().enumerate() {
        let mut u = user(n, &format!("{n}@acme.example"));
        u["displayName"] = json!(format!("Person {}", 5 - i));
        u["active"] = json!(i % 2 == 0);
        assert_eq!(scim.post("/Users", u).await.0, 201);
    }
    let names = |v: &Value| -> Vec<String> {
        v["Resources"].as_array().unwrap().iter().map(|u| u["userName"].as_str().unwrap().to_owned()).collect()
    };
    // Pages by the database: startIndex is 1-based.
    let (_, p) = scim.get("/Users?startIndex=2&count=2").await;
    assert_eq!(
        (p["totalResults"].as_u64(), p["startIndex"].as_u64(), p["itemsPerPage"].as_u64()),
        (Some(5), Some(2), Some(2)),
        "{p}"
    );
    assert_eq!(names(&p), ["bob", "carol"]);
    let (_, p) = scim.get("/Users?count=0").await;
    assert_eq!((p["totalResults"].as_u64(), names(&p).len()), (Some(5), 0));
    // The filter grammar, evaluated on the resources.
    for (filter, expected) in [
        ("userName eq \"BOB\"", vec!["bob"]),
        ("userName sw \"a\" or userName ew \"n\"", vec!["alice", "dan", "erin"]),
        ("active eq true and not (userName co \"r\")", vec!["bob"]),
        ("emails[value co \"dan@\"]", vec!["dan"]),
        ("emails.value eq \"erin@acme.example\"", vec!["erin"]),
        ("externalId eq \"ext-carol\"", vec!["carol"]),
        ("name.familyName pr and (displayName eq \"Person 1\" or displayName eq \"Person 2\")", vec!["dan", "erin"]),
        ("meta.created gt \"2000-01-01T00:00:00Z\" and userName lt \"b\"", vec!["alice"]),
        ("urn:ietf:params:scim:schemas:core:2.0:User:userName eq \"carol\"", vec!["carol"]),
    ] {
        let (s, p) = scim.get(&format!("/Users?filter={}", urlencode(filter))).await;
        assert_eq!(s, 200, "{filter}: {p}");
        assert_eq!(names(&p), expected, "{filter}");
        assert_eq!(p["totalResults"].as_u64(), Some(expected.len() as u64), "{filter}");
    }
    let (_, p) = scim.get("/Users?sortBy=displayName&sortOrder=descending&count=2").await;
    assert_eq!(names(&p), ["carol", "alice"], "{p}");
    // POST .search takes the same query in a body.
    let (s, p) = scim.post("/Users/.search", json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": "userName eq \"dan\"", "attributes": ["userName"]})).await;
    assert_eq!(s, 200, "{p}");
    assert_eq!(
        p["Resources"][0],
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": p["Resources"][0]["id"], "userName": "dan"})
    );
    // ETags: a GET returns one, If-None-Match gives 304, a stale If-Match 412.
    let (_, dan) = scim.get("/Users?filter=userName%20eq%20%22dan%22").await;
    let id = dan["Resources"][0]["id"].as_str().unwrap().to_owned();
    let (s, body, h) = scim.call(reqwest::Method::GET, &format!("/Users/{id}"), None, &[]).await;
    let etag = h["etag"].to_str().unwrap().to_owned();
    assert_eq!((s, body["meta"]["version"].as_str()), (200, Some(etag.as_str())));
    let (s, _, _) = scim.call(reqwest::Method::GET, &format!("/Users/{id}"), None, &[("if-none-match", &etag)]).await;
    assert_eq!(s, 304);
    let mut changed = body.clone();
    changed["displayName"] = json!("Dan The Man");
    let (s, _, _) = scim
        .call(reqwest::Method::PUT, &format!("/Users/{id}"), Some(changed.clone()), &[("if-match", "W/\"stale\"")])
        .await;
    assert_eq!(s, 412);
    let (s, after, h) =
        scim.call(reqwest::Method::PUT, &format!("/Users/{id}"), Some(changed), &[("if-match", &etag)]).await;
    assert_eq!((s, after["displayName"].as_str()), (200, Some("Dan The Man")));
    assert_ne!(h["etag"].to_str().unwrap(), etag, "the version did not change");
}

/// The usernames in a group of `acme-ws`, read from the store (so also
/// when nobody left can read them over the API).
async fn group_usernames(app: &TestApp, group: &str) -> Vec<String> {
    use guildhall_core::workspaces::Slug;
    let store = app.app.store();
    let ws = store.workspace_by_slug(&Slug::parse("acme-ws").unwrap()).await.unwrap().unwrap();
    let group = store.group_by_slug(ws.id, &Slug::parse(group).unwrap()).await.unwrap().unwrap();
    store.group_members(group.id).await.unwrap().into_iter().map(|a| a.username.to_string()).collect()
}

async fn deprovisioning_a_last_workspace_admin_hands_the_workspace_to_the_org_admins(b: Backend) {
    let dns = DnsServer::start().await;
    let (app, ada) = org_with_domain(b, &dns).await;
    // Org admins: otto may join workspaces; dora (deactivated) and uma
    // (address not verified) may not.
    app.account("otto").await;
    app.account("dora").await;
    let deactivated = guildhall_core::accounts::AccountStatus::Deactivated;
    app.app.accounts().set_status("dora", deactivated).await.unwrap();
    let uma = guildhall_app::accounts::AdminCreate {
        email: "uma@example.com",
        username: "uma",
        display_name: None,
        password: "correct horse battery",
        verified: false,
    };
    app.app.accounts().admin_create(uma).await.unwrap();
    for who in ["otto", "dora", "uma"] {
        assert_eq!(ada.put(&format!("/orgs/acme/admins/{who}"), json!({})).await.0, 204, "{who}");
    }
    // dan, a workspace admin since deactivated, does not count as one.
    app.account("dan").await;
    assert_eq!(ada.put("/workspaces/acme-ws/groups/administrators/members/dan", json!({})).await.0, 200);
    app.app.accounts().set_status("dan", deactivated).await.unwrap();
    let token = directory_token(&app, "ada", Target::Org("acme")).await;
    let scim = scim_client(&app, "orgs/acme", &token);
    let (s, grace) = scim.post("/Users", user("grace", "grace@acme.example")).await;
    assert_eq!(s, 201, "{grace}");
    // Grace becomes the workspace's only admin.
    assert_eq!(ada.put("/workspaces/acme-ws/groups/administrators/members/grace", json!({})).await.0, 200);
    assert_eq!(ada.put("/workspaces/acme-ws/groups/devs/members/grace", json!({})).await.0, 200);
    let since = all_events(&ada, "/workspaces/acme-ws", 0, 1000).await.last().unwrap()["cursor"].as_i64().unwrap();
    assert_eq!(ada.delete("/workspaces/acme-ws/groups/administrators/members/ada").await.0, 200);
    assert_eq!(group_usernames(&app, "administrators").await, ["dan", "grace"]);

    // The directory deletes her: the org's admins who may join take over.
    assert_eq!(scim.delete(&format!("/Users/{}", grace["id"].as_str().unwrap())).await, 204);
    assert_eq!(group_usernames(&app, "administrators").await, ["ada", "dan", "otto"]);
    assert!(group_usernames(&app, "devs").await.is_empty());
    let (s, members) = ada.get("/workspaces/acme-ws/groups/administrators/members").await;
    assert_eq!(s, 200, "ada does not administer the workspace again: {members}");
    // Followers of the workspace's log learn of it, in order: ada left,
    // then the heirs join before grace leaves.
    let events = all_events(&ada, "/workspaces/acme-ws", 0, 1000).await;
    let tail: Vec<(&str, &str)> = events
        .iter()
        .filter(|e| e["cursor"].as_i64().unwrap() > since && e["data"]["group"]["slug"] == "administrators")
        .map(|e| (e["type"].as_str().unwrap(), e["data"]["account"]["username"].as_str().unwrap()))
        .collect();
    assert_eq!(
        tail,
        [
            ("group.member_removed", "ada"),
            ("group.member_added", "ada"),
            ("group.member_added", "otto"),
            ("group.member_removed", "grace")
        ],
        "{events:#?}"
    );

    // Hank, a managed account, is the only admin of the workspace and the
    // org's only admin who may join it: deprovisioned, he stays in the
    // administrators group, deactivated, rather than leave it empty.
    let (s, hank) = scim.post("/Users", user("hank", "hank@acme.example")).await;
    assert_eq!(s, 201, "{hank}");
    assert_eq!(ada.put("/orgs/acme/admins/hank", json!({})).await.0, 204);
    assert_eq!(ada.put("/workspaces/acme-ws/groups/administrators/members/hank", json!({})).await.0, 200);
    assert_eq!(ada.put("/workspaces/acme-ws/groups/devs/members/hank", json!({})).await.0, 200);
    for who in ["dan", "otto", "ada"] {
        assert_eq!(ada.delete(&format!("/workspaces/acme-ws/groups/administrators/members/{who}")).await.0, 200);
    }
    for who in ["otto", "ada"] {
        assert_eq!(ada.delete(&format!("/orgs/acme/admins/{who}")).await.0, 204, "{who}");
    }
    let (s, patched) = scim
        .patch(
            &format!("/Users/{}", hank["id"].as_str().unwrap()),
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "path": "active", "value": false}]}),
        )
        .await;
    assert_eq!((s, &patched["active"]), (200, &json!(false)), "{patched}");
    assert_eq!(group_usernames(&app, "administrators").await, ["hank"]);
    assert!(group_usernames(&app, "devs").await.is_empty(), "hank kept his other group");
    assert_eq!(
        app.app.accounts().by_username("hank").await.unwrap().status,
        guildhall_core::accounts::AccountStatus::Deactivated
    );
}

async fn an_org_directory_and_its_log_see_who_signs_up_on_its_domains(b: Backend) {
    let dns = DnsServer::start().await;
    let (app, ada) = org_with_domain(b, &dns).await;
    let token = directory_token(&app, "ada", Target::Org("acme")).await;
    let scim = scim_client(&app, "orgs/acme", &token);
    let (_, before) = scim.get("/Users").await;
    assert_eq!(before["totalResults"], 0, "{before}");
    let (_, snap) = ada.get("/orgs/acme/snapshot").await;
    let cursor = snap["cursor"].as_i64().unwrap();
    // One sign-up on the org's domain, one elsewhere.
    let create = async |username: &str, email: &str| {
        let new = guildhall_app::accounts::AdminCreate {
            email,
            username,
            display_name: None,
            password: "correct horse battery",
            verified: true,
        };
        app.app.accounts().admin_create(new).await.unwrap()
    };
    let lin = create("lin", "lin@acme.example").await;
    create("max", "max@example.com").await;
    // The directory lists the newcomer at once (an unfiltered page comes
    // from the id list kept until the next event) ...
    let (_, after) = scim.get("/Users").await;
    assert_eq!(after["totalResults"], 1, "{after}");
    assert_eq!(
        (after["Resources"][0]["userName"].as_str(), after["Resources"][0]["id"].as_str()),
        (Some("lin"), Some(lin.id.0.to_string().as_str()))
    );
    // ... and a follower of the org's log learns of it, and of nobody else.
    let events = all_events(&ada, "/orgs/acme", cursor, 100).await;
    let kinds: Vec<(&str, &str)> = events
        .iter()
        .map(|e| (e["type"].as_str().unwrap(), e["data"]["account"]["username"].as_str().unwrap_or_default()))
        .collect();
    assert_eq!(kinds, [("org.account_joined", "lin")], "{events:#?}");
    assert_eq!(events[0]["data"]["account"]["email"], "lin@acme.example");
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn scim_refuses_bad_requests_and_other_directories(b: Backend) {
    let dns = DnsServer::start().await;
    let (app, ada) = org_with_domain(b, &dns).await;
    let token = directory_token(&app, "ada", Target::Org("acme")).await;
    let scim = scim_client(&app, "orgs/acme", &token);
    let (s, e) = scim.get(&format!("/Users?filter={}", urlencode("userName eq"))).await;
    assert_eq!((s, e["scimType"].as_str()), (400, Some("invalidFilter")), "{e}");
    let (s, e) = scim.get(&format!("/Users?filter={}", urlencode(&"(".repeat(200)))).await;
    assert_eq!((s, e["scimType"].as_str()), (400, Some("invalidFilter")), "{e}");
    let (s, e) = scim.get("/Users?startIndex=x").await;
    assert_eq!(s, 400, "{e}");
    for (body, why) in [
        (json!({"userName": "x", "emails": [{"value": "x@acme.example"}]}), "no schemas"),
        (
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "emails": [{"value": "x@acme.example"}]}),
            "no userName",
        ),
        (json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "x"}), "no email"),
        (
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "x", "emails": [{"value": "not an address"}]}),
            "a bad email",
        ),
        (
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "x", "emails": [{"value": "x@acme.example"}], "active": "maybe"}),
            "a bad active",
        ),
    ] {
        let (s, e) = scim.post("/Users", body).await;
        assert_eq!(s, 400, "{why}: {e}");
    }
    let (s, _, _) = scim.call(reqwest::Method::POST, "/Users", None, &[]).await;
    assert_eq!(s, 400);
    let (s, e) = scim.patch("/Users/00000000-0000-0000-0000-000000000000", json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "path": "active", "value": false}]})).await;
    assert_eq!(s, 404, "{e}");
    assert_eq!(scim.get("/Users").await.1["totalResults"], 0, "a refused request created a user");
    // No token, a bad one, another org's, a workspace's: nothing.
    let anon = ScimClient { token: String::new(), ..scim.clone() };
    let (s, _, h) = anon.call(reqwest::Method::GET, "/Users", None, &[]).await;
    assert_eq!(s, 401);
    assert!(h.contains_key("www-authenticate"));
    let bogus = ScimClient { token: "nope".into(), ..scim.clone() };
    assert_eq!(bogus.get("/Users").await.0, 401);
    ada.post("/orgs", json!({"slug": "other", "name": "Other"})).await;
    let other = scim_client(&app, "orgs/other", &token);
    assert_eq!(other.get("/Users").await.0, 404);
    let ws_token = directory_token(&app, "ada", Target::Workspace("acme-ws")).await;
    assert_eq!(scim_client(&app, "orgs/acme", &ws_token).get("/Users").await.0, 404);
    // An admin's personal token needs the scim scope.
    let narrow = app.api_as("ada", &["orgs:admin"]).await;
    assert_eq!(scim_client(&app, "orgs/acme", &narrow.token).get("/Users").await.0, 403);
    assert_eq!(scim_client(&app, "orgs/acme", &ada.token).get("/Users").await.0, 200);
    // A browser session is not enough: bearer tokens only.
    assert_eq!(scim.get("/Nope").await.0, 404);
}
