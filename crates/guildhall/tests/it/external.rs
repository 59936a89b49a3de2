//! External identities against real, independently written providers:
//! panva's oidc-provider (as an OpenID Connect provider, and through its
//! user-info endpoint as a GitHub-style OAuth 2.0 provider), and a second
//! Guildhall as an upstream OpenID Connect provider.

use guildhall_core::identities::{ClaimMapping, ClientAuth, EmailList, Protocol, ProviderConfig, Verified};
use guildhall_testkit::oidc_peer::{OidcPeer, Person, location, round_trip};
use guildhall_testkit::{Backend, Browser, TestApp, on_both_backends, spawn_app, spawn_app_with};
use serde_json::json;

on_both_backends!(
    an_orgs_provider_must_be_public_https,
    people_sign_up_connect_more_identities_and_sign_in_with_any,
    identities_never_attach_silently_and_the_last_way_in_stays,
    tampered_expired_and_failed_round_trips_change_nothing,
    an_org_routes_its_domains_to_its_provider_and_can_require_it,
    another_guildhall_is_an_upstream_provider
);

const SECRET: &str = "peer-client-secret-0123456789";

fn url(s: &str) -> url::Url {
    url::Url::parse(s).unwrap()
}

/// Registers the peer's clients for `app`'s three providers: `corp`
/// (OpenID Connect), `forge` (OAuth 2.0 with user-info carrying the
/// address) and `hub` (GitHub-style: the address only in `/user/emails`).
async fn peer_for(app: &TestApp) -> OidcPeer {
    let client = |id: &str, auth: &str| {
        json!({
            "client_id": id, "client_secret": SECRET,
            "redirect_uris": [format!("{}/auth/{id}/callback", app.base_url)],
            "token_endpoint_auth_method": auth,
        })
    };
    let peer = OidcPeer::start(json!([
        client("corp", "client_secret_basic"),
        client("forge", "client_secret_post"),
        client("hub", "client_secret_basic"),
    ]))
    .await;
    let ext = app.app.external();
    let corp = ProviderConfig {
        display_name: "Corp SSO".into(),
        client_id: "corp".into(),
        scopes: vec!["email".into(), "profile".into()],
        protocol: Protocol::Oidc { issuer: url(&peer.issuer) },
    };
    ext.put_operator_provider("corp", corp, SECRET).await.unwrap();
    let oauth2 = |id: &str, mapping: ClaimMapping, emails: Option<EmailList>, client_auth| ProviderConfig {
        display_name: id.to_uppercase(),
        client_id: id.into(),
        scopes: vec!["openid".into(), "email".into(), "profile".into()],
        protocol: Protocol::Oauth2 {
            authorize_url: url(&format!("{}/auth", peer.issuer)),
            token_url: url(&format!("{}/token", peer.issuer)),
            userinfo_url: url(&format!("{}/me", peer.issuer)),
            emails,
            mapping,
            client_auth,
        },
    };
    let forge_mapping = ClaimMapping {
        subject: "/sub".into(),
        email: Some("/email".into()),
        email_verified: Some(Verified::Pointer("/email_verified".into())),
        name: Some("/name".into()),
        username: None,
    };
    let forge = oauth2("forge", forge_mapping, None, ClientAuth::ClientSecretPost);
    ext.put_operator_provider("forge", forge, SECRET).await.unwrap();
    let hub_mapping =
        ClaimMapping { subject: "/sub".into(), email: None, email_verified: None, name: None, username: None };
    let emails = EmailList {
        url: url(&format!("{}/user/emails", peer.issuer)),
        list: String::new(),
        address: "/email".into(),
        primary: "/primary".into(),
        verified: "/verified".into(),
    };
    let hub = oauth2("hub", hub_mapping, Some(emails), ClientAuth::ClientSecretBasic);
    ext.put_operator_provider("hub", hub, SECRET).await.unwrap();
    peer
}

fn query_value(u: &url::Url, key: &str) -> String {
    u.query_pairs().find(|(k, _)| k == key).map(|(_, v)| v.into_owned()).unwrap_or_default()
}

/// Replaces one query parameter.
fn with_param(mut u: url::Url, key: &str, value: &str) -> url::Url {
    let pairs: Vec<(String, String)> = u.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    u.query_pairs_mut().clear();
    for (k, v) in &pairs {
        u.query_pairs_mut().append_pair(k, if k == key { value } else { v });
    }
    u
}

/// "Continue with PROVIDER" in a fresh browser, as `person`.
async fn continue_with(app: &TestApp, provider: &str, person: &Person<'_>) -> (Browser, reqwest::Response) {
    let b = app.client();
    let start = b.post_form(&format!("/auth/{provider}"), &[]).await;
    assert_eq!(start.status(), 303, "{provider}: {}", start.text().await.unwrap());
    let res = round_trip(&b, start, person, &app.base_url, |u| u).await;
    (b, res)
}

/// Connects `provider` to the account signed in on `b`.
async fn connect(app: &TestApp, b: &Browser, provider: &str, person: &Person<'_>) -> reqwest::Response {
    let start = b.post_form("/account/identities/connect", &[("provider", provider)]).await;
    assert_eq!(start.status(), 303, "{provider}: {}", start.text().await.unwrap());
    round_trip(b, start, person, &app.base_url, |u| u).await
}

async fn username_on(b: &Browser) -> String {
    let (status, body) = b.get_text("/account").await;
    assert_eq!(status, 200, "not signed in: {body}");
    let start = body.find("<dt>Username</dt><dd>").unwrap() + "<dt>Username</dt><dd>".len();
    body[start..start + body[start..].find('<').unwrap()].to_owned()
}

async fn identities_of(app: &TestApp, username: &str) -> Vec<(String, String)> {
    let account = app.app.accounts().by_username(username).await.unwrap();
    let views = app.app.external().identities(&account).await.unwrap();
    views.into_iter().map(|v| (v.identity.provider.to_string(), v.identity.subject)).collect()
}

async fn people_sign_up_connect_more_identities_and_sign_in_with_any(b: Backend) {
    let app = spawn_app(b).await;
    let _peer = peer_for(&app).await;
    let (_, login) = app.client().get_text("/login").await;
    for button in ["Continue with Corp SSO", "Continue with FORGE", "Continue with HUB"] {
        assert!(login.contains(button), "{button} missing on /login");
    }
    assert!(app.client().get_text("/signup").await.1.contains("Continue with Corp SSO"));

    // Sign up with OpenID Connect: a verified address makes a verified account.
    let alice = Person { name: Some("Alice Liddell"), ..Person::verified("alice-corp", "alice@wonder.test") };
    let (browser, res) = continue_with(&app, "corp", &alice).await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    assert_eq!(location(&res).path(), "/account");
    assert_eq!(username_on(&browser).await, "alice");
    let account = app.app.accounts().by_username("alice").await.unwrap();
    assert!(account.email_verified);
    assert_eq!(account.display_name.as_str(), "Alice Liddell");
    assert!(!app.app.accounts().has_password(&account).await.unwrap());
    assert!(app.mails_to("alice@wonder.test", "Verify").is_empty(), "a verified address is not re-verified");

    // Connect an OAuth 2.0 identity and a GitHub-style one.
    let forge_alice = Person::verified("4711", "alice@forge.test");
    let res = connect(&app, &browser, "forge", &forge_alice).await;
    assert_eq!(location(&res).as_str(), format!("{}/account?notice=identity-connected", app.base_url));
    let hub_alice = Person {
        sub: "gh-99",
        emails: Some(json!([
            {"email": "old@hub.test", "primary": false, "verified": true},
            {"email": "alice@hub.test", "primary": true, "verified": true},
        ])),
        ..Default::default()
    };
    let res = connect(&app, &browser, "hub", &hub_alice).await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    let mut ids = identities_of(&app, "alice").await;
    ids.sort();
    assert_eq!(
        ids,
        [("corp".into(), "alice-corp".into()), ("forge".into(), "4711".into()), ("hub".into(), "gh-99".into())]
    );
    let page = browser.get_text("/account").await.1;
    assert!(page.contains("alice@hub.test"), "the primary verified address of the emails list is shown");
    // Connecting the same identity again changes nothing.
    assert_eq!(connect(&app, &browser, "forge", &forge_alice).await.status(), 303);
    assert_eq!(identities_of(&app, "alice").await.len(), 3);

    // Each of them signs in to the same account, in new browsers.
    for (provider, person) in [("corp", &alice), ("forge", &forge_alice), ("hub", &hub_alice)] {
        let (b2, res) = continue_with(&app, provider, person).await;
        assert_eq!(res.status(), 303, "{provider}");
        assert_eq!(username_on(&b2).await, "alice", "{provider}");
    }
    // The session says how it was made.
    let sessions = app.app.sessions().list(&account).await.unwrap();
    assert!(sessions.iter().all(|s| s.amr == ["fed"]), "{:?}", sessions.iter().map(|s| &s.amr).collect::<Vec<_>>());

    // With an authenticator app set up, an identity is the first step only.
    let (key, _) = crate::mfa::enrol(&app, &browser).await;
    app.clock.advance(std::time::Duration::from_secs(30));
    let (b2, res) = continue_with(&app, "forge", &forge_alice).await;
    assert_eq!(res.headers()["location"], "/login/2fa");
    assert_eq!(b2.get("/account").await.status(), 303, "no session before the second step");
    let code = guildhall_core::mfa::totp_code_base32(&key, crate::mfa::now_secs(&app)).unwrap();
    assert_eq!(b2.post_form("/login/2fa", &[("code", &code)]).await.headers()["location"], "/account");
    let sessions = app.app.sessions().list(&account).await.unwrap();
    assert!(sessions.iter().any(|s| s.amr == ["fed", "otp", "mfa"]));
    app.app.mfa().remove_totp(&account, &code).await.unwrap_err();
    let code = {
        app.clock.advance(std::time::Duration::from_secs(30));
        guildhall_core::mfa::totp_code_base32(&key, crate::mfa::now_secs(&app)).unwrap()
    };
    app.app.mfa().remove_totp(&account, &code).await.unwrap();

    // Disconnect two; the account page stops listing them and they no
    // longer sign in to alice (they would make new accounts instead).
    for (provider, subject) in [("forge", "4711"), ("hub", "gh-99")] {
        let res =
            browser.post_form("/account/identities/disconnect", &[("provider", provider), ("subject", subject)]).await;
        assert_eq!(location(&res).path(), "/account");
    }
    assert_eq!(identities_of(&app, "alice").await, [("corp".into(), "alice-corp".into())]);

    // An unverified address: the account is made, but signs in only once
    // the address is verified here.
    let carol = Person { sub: "c-1", email: Some("carol@forge.test"), email_verified: false, ..Default::default() };
    let (b3, res) = continue_with(&app, "forge", &carol).await;
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("Check your inbox"));
    assert_eq!(b3.get("/account").await.status(), 303, "no session yet");
    assert!(!app.app.accounts().by_username("carol").await.unwrap().email_verified);
    let (_, res) = continue_with(&app, "forge", &carol).await;
    assert_eq!(res.status(), 403);
    assert!(res.text().await.unwrap().contains("Verify your email address first"));
    let mail = app.mails_to("carol@forge.test", "Verify").pop().unwrap();
    assert!(
        mail.replace("=\r\n", "").replace("=\n", "").contains("with a FORGE account that gave this address"),
        "{mail}"
    );
    let link = app.last_link("carol@forge.test", "Verify", "/verify");
    let token = link.split("token=").nth(1).unwrap().to_owned();
    assert_eq!(app.client().post_form("/verify", &[("token", &token)]).await.status(), 200);
    let (b4, res) = continue_with(&app, "forge", &carol).await;
    assert_eq!(res.status(), 303);
    assert_eq!(username_on(&b4).await, "carol");
}

async fn identities_never_attach_silently_and_the_last_way_in_stays(b: Backend) {
    let app = spawn_app(b).await;
    let _peer = peer_for(&app).await;
    let bob = app.signed_up("bob", "correct horse battery", true).await;

    // An unconnected identity whose verified address is bob's: not attached,
    // no account made, and told what to do.
    let intruder = Person::verified("corp-bob", "bob@example.com");
    let (_, res) = continue_with(&app, "corp", &intruder).await;
    assert_eq!(res.status(), 409);
    let text = res.text().await.unwrap();
    assert!(text.contains("Sign in to it first, then connect Corp SSO"), "{text}");
    assert!(identities_of(&app, "bob").await.is_empty());
    // Bob connects it himself.
    assert_eq!(connect(&app, &bob, "corp", &intruder).await.status(), 303);
    assert_eq!(identities_of(&app, "bob").await.len(), 1);

    // One identity, one account: dave cannot connect bob's.
    let (dave, _) = continue_with(&app, "forge", &Person::verified("dave-1", "dave@forge.test")).await;
    let res = connect(&app, &dave, "corp", &intruder).await;
    assert_eq!(res.status(), 409);
    assert!(res.text().await.unwrap().contains("already connected to another"));
    assert_eq!(identities_of(&app, "bob").await.len(), 1);
    assert_eq!(identities_of(&app, "dave").await.len(), 1);

    // Dave has no password: his only identity cannot be disconnected...
    let res = dave.post_form("/account/identities/disconnect", &[("provider", "forge"), ("subject", "dave-1")]).await;
    assert_eq!(res.status(), 409);
    assert!(res.text().await.unwrap().contains("only way to sign in"));
    assert_eq!(identities_of(&app, "dave").await.len(), 1);
    // ...but bob, who has a password, can disconnect his.
    let res = bob.post_form("/account/identities/disconnect", &[("provider", "corp"), ("subject", "corp-bob")]).await;
    assert_eq!(res.status(), 303);
    assert!(identities_of(&app, "bob").await.is_empty());
    // Someone else's identity, or an unknown one: not found, nothing changes.
    let res = bob.post_form("/account/identities/disconnect", &[("provider", "forge"), ("subject", "dave-1")]).await;
    assert_eq!(res.status(), 404);
    assert_eq!(identities_of(&app, "dave").await.len(), 1);
    // Without the CSRF token nothing happens either.
    let res = dave.post_raw("/account/identities/disconnect", &[("provider", "forge"), ("subject", "dave-1")]).await;
    assert_eq!(res.status(), 403);

    // Someone claims victor's address at a provider that does not verify
    // it: the account waits for verification, and when victor recovers it
    // through a password reset, the claimant's identity is gone.
    let squatter =
        Person { sub: "sq-1", email: Some("victor@example.com"), email_verified: false, ..Default::default() };
    let (_, res) = continue_with(&app, "forge", &squatter).await;
    assert_eq!(res.status(), 200, "made, waiting for verification");
    assert_eq!(identities_of(&app, "victor").await.len(), 1);
    let res = app.client().post_form("/password/forgot", &[("email", "victor@example.com")]).await;
    assert_eq!(res.status(), 200);
    let link = app.last_link("victor@example.com", "Reset your password", "/password/reset");
    let token = link.split("token=").nth(1).unwrap().to_owned();
    let res =
        app.client().post_form("/password/reset", &[("token", &token), ("password", "victor's own secret")]).await;
    assert!(res.status().is_success() || res.status().is_redirection(), "{}", res.status());
    assert!(identities_of(&app, "victor").await.is_empty(), "the unproven identity survived the reset");
    let (_, res) = continue_with(&app, "forge", &squatter).await;
    assert_eq!(res.status(), 409, "the squatter cannot get back in");

    // A provider that shares no address cannot make an account.
    let (_, res) = continue_with(&app, "forge", &Person { sub: "no-mail", ..Default::default() }).await;
    assert_eq!(res.status(), 502);
    assert!(res.text().await.unwrap().contains("did not share an email address"));
    assert!(app.app.accounts().by_username("no-mail").await.is_err());
}

async fn tampered_expired_and_failed_round_trips_change_nothing(b: Backend) {
    let app = spawn_app(b).await;
    let peer = peer_for(&app).await;
    let erin = Person::verified("erin-1", "erin@corp.test");

    // The genuine callback signs in; replaying it finds the flow spent
    // (its cookie is cleared).
    let b1 = app.client();
    let start = b1.post_form("/auth/corp", &[]).await;
    let res = round_trip(&b1, start, &erin, &app.base_url, |u| u).await;
    assert_eq!(res.status(), 303);
    assert_eq!(username_on(&b1).await, "erin");
    let replay = b1.http.get(res.url().clone()).send().await.unwrap();
    assert_eq!(replay.status(), 400);
    assert!(replay.text().await.unwrap().contains("Start again"));

    // A flow is bound to its browser, its state and its provider.
    let b2 = app.client();
    let start = b2.post_form("/auth/corp", &[]).await;
    let state = query_value(&location(&start), "state");
    for path in
        ["/auth/corp/callback?code=c&state=forged".to_owned(), format!("/auth/forge/callback?code=c&state={state}")]
    {
        let res = b2.get(&path).await;
        assert_eq!(res.status(), 400, "{path}");
    }
    let res = app.client().get(&format!("/auth/corp/callback?code=c&state={state}")).await;
    assert_eq!(res.status(), 400, "another browser");
    // A flow expires after ten minutes.
    let b3 = app.client();
    let start = b3.post_form("/auth/corp", &[]).await;
    let state = query_value(&location(&start), "state");
    app.clock.advance(std::time::Duration::from_secs(601));
    let res = b3.get(&format!("/auth/corp/callback?code=c&state={state}")).await;
    assert_eq!(res.status(), 400, "an expired flow");

    // The nonce changed on the way out: the ID token does not match it.
    let b5 = app.client();
    let start = b5.post_form("/auth/corp", &[]).await;
    let hank = Person::verified("hank-1", "hank@corp.test");
    let res = round_trip(&b5, start, &hank, &app.base_url, |u| with_param(u, "nonce", "attacker-nonce")).await;
    assert_eq!(res.status(), 502);
    assert!(res.text().await.unwrap().contains("nonce"));
    assert!(app.app.accounts().by_username("hank").await.is_err());

    // The PKCE challenge changed on the way out: the provider refuses the code.
    let b6 = app.client();
    let start = b6.post_form("/auth/forge", &[]).await;
    let other_challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    let res = round_trip(&b6, start, &hank, &app.base_url, |u| with_param(u, "code_challenge", other_challenge)).await;
    assert_eq!(res.status(), 502);
    assert!(res.text().await.unwrap().contains("invalid_grant"));
    assert!(app.app.accounts().by_username("hank").await.is_err());

    // The person declines at the provider.
    let b7 = app.client();
    let start = b7.post_form("/auth/corp", &[]).await;
    let state = query_value(&location(&start), "state");
    let res = b7.get(&format!("/auth/corp/callback?error=access_denied&state={state}")).await;
    assert_eq!(res.status(), 502);
    assert!(res.text().await.unwrap().contains("declined"));

    // Another site cannot start a round trip in this browser.
    assert_eq!(app.client().post_raw("/auth/corp", &[]).await.status(), 403);

    // An unknown provider, and one that is down.
    assert_eq!(app.client().post_form("/auth/nope", &[]).await.status(), 404);
    let down = ProviderConfig {
        display_name: "Down".into(),
        client_id: "x".into(),
        scopes: vec![],
        protocol: Protocol::Oidc { issuer: url("http://127.0.0.1:9") },
    };
    app.app.external().put_operator_provider("down", down, "s").await.unwrap();
    let res = app.client().post_form("/auth/down", &[]).await;
    assert_eq!(res.status(), 502);
    assert!(res.text().await.unwrap().contains("could not be reached"));
    // Bad provider definitions are refused before they are stored.
    let ext = app.app.external();
    let plain_http = ProviderConfig {
        display_name: "Plain".into(),
        client_id: "x".into(),
        scopes: vec![],
        protocol: Protocol::Oidc { issuer: url("http://idp.example.com") },
    };
    assert!(ext.put_operator_provider("plain", plain_http.clone(), "s").await.is_err());
    let good = ProviderConfig { protocol: Protocol::Oidc { issuer: url(&peer.issuer) }, ..plain_http };
    assert!(ext.put_operator_provider("org-x", good.clone(), "s").await.is_err());
    assert!(ext.put_operator_provider("ok", good, "").await.is_err());
    let names: Vec<String> = ext.providers().await.unwrap().into_iter().map(|p| p.name.to_string()).collect();
    assert_eq!(names, ["corp", "down", "forge", "hub"]);
}

async fn an_org_routes_its_domains_to_its_provider_and_can_require_it(b: Backend) {
    use guildhall_testkit::dns::DnsServer;
    let dns = DnsServer::start().await;
    let addr = dns.addr;
    let app = spawn_app_with(b, move |s| {
        s.dns_resolver = Some(addr);
        // The test provider is on loopback http.
        s.org_idp_allow_loopback = true;
    })
    .await;
    let ada = app.signed_up("ada", "correct horse battery", true).await;
    app.app
        .accounts()
        .admin_create(guildhall_app::accounts::AdminCreate {
            email: "dave@acme.test",
            username: "dave",
            display_name: None,
            password: "correct horse battery",
            verified: true,
        })
        .await
        .unwrap();
    // Ada's org verifies acme.test, so dave's account is managed by it.
    assert_eq!(ada.post_form("/orgs", &[("slug", "acme"), ("name", "Acme")]).await.status(), 303);
    ada.post_form("/orgs/acme/domains", &[("domain", "acme.test")]).await;
    let page = ada.get_text("/orgs/acme").await.1;
    let record = page.split("<code>").find(|s| s.starts_with("guildhall-verification=")).unwrap();
    dns.set_txt("acme.test", &[&record[..record.find('<').unwrap()]]);
    assert_eq!(ada.post_form("/orgs/acme/domains/acme.test/verify", &[]).await.status(), 303);

    // Before an identity provider: dave types his password as usual.
    let res = app.client().post_form("/login", &[("email", "dave@acme.test")]).await;
    assert_eq!(res.status(), 200, "the password step");

    // The org registers its provider; the page says which redirect URI.
    let page = ada.get_text("/orgs/acme").await.1;
    let start = page.find("/auth/org-").unwrap();
    let path = &page[start..start + page[start..].find("</code>").unwrap()];
    let redirect_uri = format!("{}{path}", app.base_url);
    let peer = OidcPeer::start(json!([{
        "client_id": "acme", "client_secret": SECRET, "redirect_uris": [redirect_uri],
    }]))
    .await;
    // A bad issuer is refused, and nothing is saved.
    let res = ada
        .post_form(
            "/orgs/acme/idp",
            &[("issuer", "http://127.0.0.1:9"), ("client_id", "acme"), ("client_secret", SECRET)],
        )
        .await;
    assert_eq!(res.status(), 422);
    assert!(!ada.get_text("/orgs/acme").await.1.contains("Remove identity provider"));
    let res = ada
        .post_form("/orgs/acme/idp", &[("issuer", &peer.issuer), ("client_id", "acme"), ("client_secret", SECRET)])
        .await;
    assert_eq!(location(&res).query(), Some("notice=idp-saved"));

    // Identifier first: dave's address goes to the org's provider, with a hint.
    let b1 = app.client();
    let start = b1.post_form("/login", &[("email", "dave@acme.test")]).await;
    assert_eq!(start.status(), 303);
    let upstream = location(&start);
    assert_eq!(upstream.origin().ascii_serialization(), peer.issuer);
    assert!(upstream.query().unwrap().contains("login_hint=dave%40acme.test"));
    let res = round_trip(&b1, start, &Person::verified("okta-dave", "dave@acme.test"), &app.base_url, |u| u).await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    assert_eq!(username_on(&b1).await, "dave", "the managed account is taken over by its org's provider");
    assert_eq!(identities_of(&app, "dave").await.len(), 1);
    let page = b1.get_text("/account").await.1;
    assert!(page.contains("<li>Acme (dave@acme.test)"), "the org's provider is named after the org: {page}");

    // Someone new on the domain gets a managed, verified account.
    let b2 = app.client();
    let start = b2.post_form("/login", &[("email", "erin@acme.test")]).await;
    let res = round_trip(&b2, start, &Person::verified("okta-erin", "erin@acme.test"), &app.base_url, |u| u).await;
    assert_eq!(res.status(), 303);
    let erin = app.app.accounts().by_username("erin").await.unwrap();
    assert!(erin.email_verified);
    let dave_now = app.app.accounts().by_username("dave").await.unwrap();
    assert!(dave_now.managed_by.is_some());
    assert_eq!(erin.managed_by, dave_now.managed_by, "managed by the same org");

    // The provider may only speak for the org's domains.
    let b3 = app.client();
    let start = b3.post_form("/login", &[("email", "x@acme.test")]).await;
    let res =
        round_trip(&b3, start, &Person::verified("okta-mallory", "mallory@evil.test"), &app.base_url, |u| u).await;
    assert_eq!(res.status(), 502);
    assert!(res.text().await.unwrap().contains("not on the organization"));
    assert!(app.app.accounts().by_username("mallory").await.is_err());

    // Not required yet: the one-step form still takes dave's password.
    let res = app
        .client()
        .post_form("/login", &[("email", "dave@acme.test"), ("password", "correct horse battery"), ("form", "single")])
        .await;
    assert_eq!(res.status(), 303);
    // Required: the password is refused (after it is checked, so a wrong one
    // says only "incorrect"), and other providers cannot sign dave in.
    let res = ada
        .post_form(
            "/orgs/acme/idp",
            &[("issuer", &peer.issuer), ("client_id", "acme"), ("client_secret", ""), ("required", "1")],
        )
        .await;
    assert_eq!(res.status(), 303, "an empty secret keeps the stored one");
    let res = app
        .client()
        .post_form("/login", &[("email", "dave@acme.test"), ("password", "correct horse battery"), ("form", "single")])
        .await;
    assert_eq!(res.status(), 403);
    assert!(res.text().await.unwrap().contains("requires signing in through its identity provider"));
    let res = app
        .client()
        .post_form("/login", &[("email", "dave@acme.test"), ("password", "wrong password!"), ("form", "single")])
        .await;
    assert_eq!(res.status(), 401);
    // The org's provider still works.
    let b4 = app.client();
    let start = b4.post_form("/login", &[("email", "dave@acme.test")]).await;
    let res = round_trip(&b4, start, &Person::verified("okta-dave", "dave@acme.test"), &app.base_url, |u| u).await;
    assert_eq!(res.status(), 303);
    // Non-admins cannot touch it.
    let eve = app.signed_up("eve", "correct horse battery", true).await;
    let res = eve.post_form("/orgs/acme/idp/remove", &[]).await;
    assert_eq!(res.status(), 404);
    // An unverified account on the domain is not taken over.
    let grace = guildhall_app::accounts::AdminCreate {
        email: "grace@acme.test",
        username: "grace",
        display_name: None,
        password: "correct horse battery",
        verified: false,
    };
    app.app.accounts().admin_create(grace).await.unwrap();
    let b5 = app.client();
    let start = b5.post_form("/login", &[("email", "grace@acme.test")]).await;
    let res = round_trip(&b5, start, &Person::verified("okta-grace", "grace@acme.test"), &app.base_url, |u| u).await;
    assert_eq!(res.status(), 409);
    assert!(identities_of(&app, "grace").await.is_empty());
    // Removing the provider disconnects what it connected.
    assert_eq!(location(&ada.post_form("/orgs/acme/idp/remove", &[]).await).query(), Some("notice=idp-removed"));
    assert!(identities_of(&app, "dave").await.is_empty());
    let audit = ada.get_text("/orgs/acme/audit").await.1;
    assert!(audit.contains("idp.saved") && audit.contains("idp.removed"), "{audit}");
    let res = app.client().post_form("/login", &[("email", "dave@acme.test")]).await;
    assert_eq!(res.status(), 200, "back to passwords");
}

async fn another_guildhall_is_an_upstream_provider(b: Backend) {
    let app = spawn_app(b).await;
    // The upstream on another loopback address, so the browser keeps the
    // two servers' cookies apart.
    let upstream = spawn_app_with(b, |s| s.listen = "127.0.0.2:0".parse().unwrap()).await;
    upstream.account("uma").await;
    let redirect = format!("{}/auth/gh2/callback", app.base_url);
    let (product, secret) = upstream
        .app
        .oauth()
        .create_product(guildhall_app::oauth::ProductInput {
            name: "Downstream",
            redirect_uris: &[redirect],
            public: false,
            first_party: true,
            grant_types: &[],
            scopes: &[],
            homepage: None,
            owner: None,
        })
        .await
        .unwrap();
    let config = ProviderConfig {
        display_name: "Guildhall Two".into(),
        client_id: product.id.to_string(),
        scopes: vec!["email".into(), "profile".into()],
        protocol: Protocol::Oidc { issuer: url(&upstream.base_url) },
    };
    app.app.external().put_operator_provider("gh2", config, secret.unwrap().expose()).await.unwrap();

    let b1 = app.client();
    let start = b1.post_form("/auth/gh2", &[]).await;
    let authorize = location(&start);
    assert_eq!(authorize.origin().ascii_serialization(), upstream.base_url);
    // Not signed in upstream: its sign-in page, then back to the authorization.
    let res = b1.http.get(authorize).send().await.unwrap();
    let login = location(&res);
    assert_eq!(login.path(), "/login");
    let return_to = login.query_pairs().find(|(k, _)| k == "return_to").unwrap().1.into_owned();
    let up = Browser { http: b1.http.clone(), base: upstream.base_url.clone() };
    let res = up
        .post_form(
            "/login",
            &[("email", "uma@example.com"), ("password", "correct horse battery"), ("return_to", &return_to)],
        )
        .await;
    assert_eq!(res.status(), 303);
    let back = b1.http.get(location(&res)).send().await.unwrap();
    let callback = location(&back);
    assert_eq!(callback.origin().ascii_serialization(), app.base_url);
    let res = b1.http.get(callback).send().await.unwrap();
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    assert_eq!(username_on(&b1).await, "uma");
    let uma = app.app.accounts().by_username("uma").await.unwrap();
    assert!(uma.email_verified, "the upstream Guildhall says the address is verified");
}

/// Providers from the config file: on the sign-in page, and a round trip
/// that starts with state and PKCE (no request reaches GitHub here).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_file_providers_are_offered_with_state_and_pkce() {
    let app = spawn_app_with(Backend::Sqlite, |s| {
        s.providers.insert(
            "github".into(),
            guildhall::settings::ProviderSettings {
                preset: Some("github".into()),
                client_id: "from-config".into(),
                client_secret: Some(guildhall::settings::Secret("s".into())),
                ..Default::default()
            },
        );
    })
    .await;
    let (_, login) = app.client().get_text("/login?return_to=/workspaces").await;
    assert!(login.contains("action=\"/auth/github\""), "{login}");
    assert!(login.contains("name=\"return_to\" value=\"/workspaces\""), "{login}");
    let b = app.client();
    let first = location(&b.post_form("/auth/github", &[]).await);
    let second = location(&b.post_form("/auth/github", &[]).await);
    assert_eq!(first.origin().ascii_serialization(), "https://github.com");
    assert_eq!(query_value(&first, "client_id"), "from-config");
    assert_eq!(query_value(&first, "scope"), "read:user user:email");
    assert_ne!(query_value(&first, "state"), query_value(&second, "state"), "state is fresh each time");
    assert_ne!(query_value(&first, "code_challenge"), query_value(&second, "code_challenge"));
    assert!(query_value(&first, "nonce").is_empty(), "no nonce without an ID token");
    // The flow cookie is HttpOnly, SameSite=Lax and scoped to /auth.
    let res = b.post_form("/auth/github", &[]).await;
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Path=/auth"),
        "{cookie}"
    );
    // An operator-added provider may not take a config file's name.
    let config = guildhall_core::identities::preset("github", "x").unwrap();
    assert!(matches!(
        app.app.external().put_operator_provider("github", config, "s").await,
        Err(guildhall_app::AppError::Conflict(_))
    ));
}

/// Org admins are not operators: their provider may not point the server
/// at itself or its network.
async fn an_orgs_provider_must_be_public_https(b: Backend) {
    let app = spawn_app(b).await;
    let ada = app.signed_up("ada", "correct horse battery", true).await;
    ada.post_form("/orgs", &[("slug", "acme"), ("name", "Acme")]).await;
    for issuer in ["http://login.acme.example", "https://127.0.0.1:8080", "https://169.254.169.254", "https://10.0.0.1"]
    {
        let res =
            ada.post_form("/orgs/acme/idp", &[("issuer", issuer), ("client_id", "c"), ("client_secret", "s")]).await;
        assert_eq!(res.status(), 422, "{issuer}");
    }
    assert!(!ada.get_text("/orgs/acme").await.1.contains("Remove identity provider"));
}
