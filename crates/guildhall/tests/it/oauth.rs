//! The OpenID Connect provider's keys as an operator meets them.

use crate::spawn;
use guildhall_app::oauth::ProductInput;
use guildhall_testkit::{Api, Backend, Browser, on_both_backends, spawn_app_with};
use serde_json::json;

/// Nodes of one deployment must share the master key: a node with another
/// one refuses to start rather than sign with keys it cannot open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_with_another_master_key_refuses_to_start() {
    let a = spawn(Backend::Postgres).await;
    let keys = a.app.oauth().jwks().await.unwrap();
    assert_eq!(keys["keys"].as_array().unwrap().len(), 1, "first start makes one signing key");
    assert_eq!(keys["keys"][0]["kty"], "OKP");
    assert_eq!(keys["keys"][0]["crv"], "Ed25519");
    assert!(keys["keys"][0].get("d").is_none(), "the private key is published");
    let db = a.settings.database_url.clone();
    let settings = {
        let dir = tempfile::tempdir().unwrap();
        let mut s = guildhall_testkit::test_settings(Backend::Sqlite, dir.path()).await;
        s.database_url = db;
        (s, dir)
    };
    let err = guildhall::startup::Server::build(&settings.0, guildhall::startup::system_clock()).await.err();
    let err = format!("{:#}", err.expect("a node with another master key started"));
    assert!(err.contains("cannot be unsealed"), "{err}");
    // With the shared key file it starts, and publishes the same key.
    let key = a.data_dir.join("master.key");
    let b = spawn_app_with(Backend::Postgres, |s| {
        s.database_url = a.settings.database_url.clone();
        s.master_key_file = Some(key);
    })
    .await;
    assert_eq!(b.app.oauth().jwks().await.unwrap(), keys);
}

/// The generated master key file is private to the server's user.
#[cfg(unix)]
#[tokio::test]
async fn the_generated_master_key_is_readable_by_its_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let a = spawn(Backend::Sqlite).await;
    let meta = std::fs::metadata(a.data_dir.join("master.key")).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_eq!(std::fs::read_to_string(a.data_dir.join("master.key")).unwrap().trim().len(), 64);
}

/// A first-party confidential product registered through the app, and a
/// signed-in browser.
async fn product_and_browser(app: &guildhall_testkit::TestApp) -> (String, Option<String>, Browser) {
    let (product, secret) = Reg::new("Tracker").register(app).await;
    let browser = app.signed_up("ada", "correct horse battery", true).await;
    (product.id.to_string(), secret.map(|s| s.expose().to_owned()), browser)
}

/// A product registration for the tests: first-party, confidential,
/// redirecting to `REDIRECT`, with the default grants and scopes unless a
/// method changes them.
struct Reg {
    name: String,
    public: bool,
    first_party: bool,
    redirect_uris: Vec<String>,
    grant_types: Vec<String>,
    scopes: Vec<String>,
}

impl Reg {
    fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            public: false,
            first_party: true,
            redirect_uris: vec![REDIRECT.to_owned()],
            grant_types: vec![],
            scopes: vec![],
        }
    }

    fn public(mut self) -> Self {
        self.public = true;
        self
    }

    fn third_party(mut self) -> Self {
        self.first_party = false;
        self
    }

    fn no_redirects(mut self) -> Self {
        self.redirect_uris.clear();
        self
    }

    fn grants(mut self, grants: &str) -> Self {
        self.grant_types = grants.split(' ').map(str::to_owned).collect();
        self
    }

    fn scopes(mut self, scopes: &str) -> Self {
        self.scopes = scopes.split(' ').map(str::to_owned).collect();
        self
    }

    async fn register(
        self,
        app: &guildhall_testkit::TestApp,
    ) -> (guildhall_app::ports::Product, Option<guildhall_core::tokens::SecretToken>) {
        let input = ProductInput {
            name: &self.name,
            redirect_uris: &self.redirect_uris,
            public: self.public,
            first_party: self.first_party,
            grant_types: &self.grant_types,
            scopes: &self.scopes,
            homepage: None,
            owner: None,
        };
        app.app.oauth().create_product(input).await.unwrap()
    }
}

const REDIRECT: &str = "http://127.0.0.1:9/cb";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

fn authorize_path(client_id: &str, extra: &str) -> String {
    let q: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("scope", "openid profile email")
        .append_pair("state", "st4te")
        .append_pair("nonce", "n0nce")
        .finish();
    format!("/oauth2/authorize?{q}{extra}")
}

/// The query of a redirect to the product, as pairs.
fn callback(res: &reqwest::Response) -> std::collections::HashMap<String, String> {
    let loc = res.headers()["location"].to_str().unwrap();
    assert!(loc.starts_with(REDIRECT), "redirected elsewhere: {loc}");
    url::Url::parse(loc).unwrap().query_pairs().into_owned().collect()
}

async fn exchange(app: &guildhall_testkit::TestApp, form: &[(&str, &str)]) -> (u16, serde_json::Value) {
    let res = reqwest::Client::new().post(app.url("/oauth2/token")).form(form).send().await.unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

on_both_backends!(
    the_code_flow_signs_a_person_into_a_product,
    the_code_flow_refuses_what_it_must,
    an_id_token_says_how_the_person_signed_in
);

/// After a two-step sign-in the ID token (and the refreshed one) carries
/// `amr` with both factors and the multi-factor `acr`.
async fn an_id_token_says_how_the_person_signed_in(b: Backend) {
    let app = spawn(b).await;
    let (product, secret) = Reg::new("Tracker").scopes("openid offline_access").register(&app).await;
    let (client_id, secret) = (product.id.to_string(), secret.unwrap().expose().to_owned());
    let ada = app.signed_up("ada", "correct horse battery", true).await;
    let (key, _) = crate::mfa::enrol(&app, &ada).await;
    app.clock.advance(std::time::Duration::from_secs(30));
    let browser = crate::mfa::password_step(&app, "ada@example.com").await;
    let code = guildhall_core::mfa::totp_code_base32(&key, crate::mfa::now_secs(&app)).unwrap();
    assert_eq!(browser.post_form("/login/2fa", &[("code", &code)]).await.status(), 303);
    let pkce = format!("&code_challenge={CHALLENGE}&code_challenge_method=S256");
    let path = authorize_path(&client_id, &pkce).replace("openid+profile+email", "openid+offline_access");
    let q = callback(&browser.get(&path).await);
    let form = [
        ("grant_type", "authorization_code"),
        ("code", q["code"].as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
        ("client_id", client_id.as_str()),
        ("client_secret", secret.as_str()),
    ];
    let (status, tokens) = exchange(&app, &form).await;
    assert_eq!(status, 200, "{tokens}");
    let claims = |jwt: &str| -> serde_json::Value {
        use base64::Engine;
        let payload = jwt.split('.').nth(1).unwrap();
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
    };
    let id = claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(id["amr"], json!(["pwd", "otp", "mfa"]));
    assert_eq!(id["acr"], "urn:guildhall:acr:mfa");
    let refresh = [
        ("grant_type", "refresh_token"),
        ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ("client_id", client_id.as_str()),
        ("client_secret", secret.as_str()),
    ];
    let (status, refreshed) = exchange(&app, &refresh).await;
    assert_eq!(status, 200, "{refreshed}");
    assert_eq!(claims(refreshed["id_token"].as_str().unwrap())["amr"], json!(["pwd", "otp", "mfa"]));
}

async fn the_code_flow_signs_a_person_into_a_product(b: Backend) {
    let app = spawn(b).await;
    let (client_id, secret, browser) = product_and_browser(&app).await;
    let secret = secret.unwrap();
    let pkce = format!("&code_challenge={CHALLENGE}&code_challenge_method=S256");
    let res = browser.get(&authorize_path(&client_id, &pkce)).await;
    assert_eq!(res.status(), 303);
    let q = callback(&res);
    assert_eq!((q["state"].as_str(), q["iss"].as_str()), ("st4te", app.base_url.as_str()));
    let code = q["code"].clone();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
        ("client_id", client_id.as_str()),
        ("client_secret", secret.as_str()),
    ];
    let (status, tokens) = exchange(&app, &form).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    // The ID token verifies against the published key.
    let jwks = reqwest::get(app.url("/oauth2/jwks")).await.unwrap().json::<serde_json::Value>().await.unwrap();
    let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(jwks["keys"][0].clone()).unwrap();
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
    v.set_audience(&[&client_id]);
    v.set_issuer(&[&app.base_url]);
    let key = jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap();
    let id = jsonwebtoken::decode::<serde_json::Value>(tokens["id_token"].as_str().unwrap(), &key, &v).unwrap().claims;
    assert_eq!((id["nonce"].as_str(), id["email"].as_str()), (Some("n0nce"), Some("ada@example.com")));
    assert_eq!(id["preferred_username"], "ada");
    assert_eq!((id["amr"].clone(), id["acr"].clone()), (json!(["pwd"]), json!("urn:guildhall:acr:1fa")));
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let info = reqwest::Client::new().get(app.url("/oauth2/userinfo")).bearer_auth(&access).send().await.unwrap();
    assert_eq!(info.status(), 200);
    let info: serde_json::Value = info.json().await.unwrap();
    assert_eq!((info["sub"].clone(), info["email_verified"].clone()), (id["sub"].clone(), json!(true)));
    // Single sign-on: the next request completes without any prompt.
    assert_eq!(browser.get(&authorize_path(&client_id, &pkce)).await.status(), 303);
    // A replayed code fails and revokes what it issued.
    let (status, err) = exchange(&app, &form).await;
    assert_eq!((status, err["error"].as_str()), (400, Some("invalid_grant")));
    let info = reqwest::Client::new().get(app.url("/oauth2/userinfo")).bearer_auth(&access).send().await.unwrap();
    assert_eq!(info.status(), 401, "a token from a replayed code still works");
}

async fn the_code_flow_refuses_what_it_must(b: Backend) {
    let app = spawn(b).await;
    let (client_id, secret, browser) = product_and_browser(&app).await;
    let secret = secret.unwrap();
    // An unregistered redirect URI is never redirected to.
    let res = browser.get(&authorize_path(&client_id, "").replace("%3A9%2Fcb", "%3A9%2Fevil")).await;
    assert_eq!(res.status(), 400);
    assert!(res.headers().get("location").is_none());
    assert_eq!(browser.get(&authorize_path("not-a-client", "")).await.status(), 400);
    // Without a session: sign in first, and come back here.
    let anonymous = app.client();
    let res = anonymous.get(&authorize_path(&client_id, "")).await;
    assert_eq!(res.status(), 303);
    assert!(res.headers()["location"].to_str().unwrap().starts_with("/login?return_to=%2Foauth2%2Fauthorize"));
    let q = callback(&anonymous.get(&authorize_path(&client_id, "&prompt=none")).await);
    assert_eq!((q["error"].as_str(), q["state"].as_str()), ("login_required", "st4te"));
    // prompt=login sends even a signed-in person to sign in again.
    let res = browser.get(&authorize_path(&client_id, "&prompt=login")).await;
    assert!(res.headers()["location"].to_str().unwrap().starts_with("/login?"));
    let q = callback(&browser.get(&authorize_path(&client_id, "&code_challenge=x&code_challenge_method=plain")).await);
    assert_eq!(q["error"], "invalid_request");
    let q = callback(&browser.get(&authorize_path(&client_id, "").replace("openid+profile", "openid+admin")).await);
    assert_eq!(q["error"], "invalid_scope");
    // Token endpoint: wrong secret, wrong verifier, wrong redirect URI.
    let code = callback(
        &browser
            .get(&authorize_path(&client_id, &format!("&code_challenge={CHALLENGE}&code_challenge_method=S256")))
            .await,
    )["code"]
        .clone();
    let base = |verifier: &'static str, redirect: &'static str, secret: String| {
        vec![
            ("grant_type", "authorization_code".to_owned()),
            ("code", code.clone()),
            ("redirect_uri", redirect.to_owned()),
            ("code_verifier", verifier.to_owned()),
            ("client_id", client_id.clone()),
            ("client_secret", secret),
        ]
    };
    let send = |form: Vec<(&'static str, String)>| {
        let app = &app;
        async move {
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            exchange(app, &form).await
        }
    };
    let (status, err) = send(base(VERIFIER, REDIRECT, "wrong".into())).await;
    assert_eq!((status, err["error"].as_str()), (401, Some("invalid_client")));
    let (status, err) = send(base("x".repeat(43).leak(), REDIRECT, secret.clone())).await;
    assert_eq!((status, err["error"].as_str()), (400, Some("invalid_grant")), "a wrong verifier was accepted");
    // The code was spent by that attempt: even the right request now fails.
    let (_, err) = send(base(VERIFIER, REDIRECT, secret.clone())).await;
    assert_eq!(err["error"], "invalid_grant");
    // A public product must use PKCE.
    let (public_id, _, _) = {
        let (p, s) = Reg::new("CLI").public().register(&app).await;
        (p.id.to_string(), s, ())
    };
    let q = callback(&browser.get(&authorize_path(&public_id, "")).await);
    assert_eq!(q["error"], "invalid_request", "a public client went without PKCE");
    // The operator's one-time password signs nobody into a product.
    let op = app.client();
    let res = op.post_form("/login", &[("email", "operator@localhost"), ("password", &app.operator_password)]).await;
    assert_eq!(res.status(), 303);
    let res = op.get(&authorize_path(&client_id, "")).await;
    assert_eq!(res.headers()["location"], "/password/change", "a one-time password reached a product");
    // A tampered access token is refused at userinfo.
    let res = reqwest::Client::new().get(app.url("/oauth2/userinfo")).bearer_auth("e30.e30.AAAA").send().await.unwrap();
    assert_eq!(res.status(), 401);
}

/// An independently written relying party (Python's Authlib with joserfc,
/// `tests/peers/authlib_rp.py`) discovers the provider, signs a person in
/// with the code flow and PKCE, validates the ID token against the JWKS,
/// calls userinfo and the REST API, refreshes (rotation), sees a reused refresh token kill
/// its family, introspects, revokes and signs out through end-session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authlib_signs_a_person_in() {
    let app = spawn(Backend::Sqlite).await;
    let (product, secret) =
        Reg::new("Tracker").scopes("openid profile email offline_access workspaces:read").register(&app).await;
    let (client_id, secret) = (product.id.to_string(), secret.map(|s| s.expose().to_owned()));
    app.signed_up("ada", "correct horse battery", true).await;
    let ada = app.api_as("ada", &["workspaces:admin"]).await;
    ada.post("/workspaces", json!({"slug": "acme", "name": "Acme"})).await;
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/authlib_rp.py");
    let out = tokio::process::Command::new(guildhall_testkit::smtp::python())
        .arg(script)
        .args([&app.base_url, &client_id, &secret.unwrap(), "ada@example.com", "correct horse battery", REDIRECT])
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the relying party failed:\n{stderr}");
    let seen: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(seen["alg"], "EdDSA");
    assert_eq!(seen["id_token"]["iss"], app.base_url);
    assert_eq!(seen["userinfo"]["email"], "ada@example.com");
    assert_eq!(seen["userinfo"]["preferred_username"], "ada");
    assert_eq!(seen["checked"].as_array().unwrap().len(), 5, "{seen}");
    assert_eq!(seen["workspaces"], json!(["acme"]), "the product's token did not read the person's workspaces");
}

on_both_backends!(introspection_and_revocation_answer_only_the_tokens_owner);

async fn machine(app: &guildhall_testkit::TestApp, name: &str) -> (String, String) {
    let (p, s) =
        Reg::new(name).no_redirects().grants("client_credentials").scopes("workspaces:read").register(app).await;
    (p.id.to_string(), s.unwrap().expose().to_owned())
}

async fn post_as(
    app: &guildhall_testkit::TestApp,
    who: &(String, String),
    path: &str,
    form: &[(&str, &str)],
) -> (u16, serde_json::Value) {
    let res =
        reqwest::Client::new().post(app.url(path)).basic_auth(&who.0, Some(&who.1)).form(form).send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(serde_json::Value::Null))
}

async fn introspection_and_revocation_answer_only_the_tokens_owner(b: Backend) {
    let app = spawn(b).await;
    let (a, other) = (machine(&app, "Billing").await, machine(&app, "Search").await);
    let (_, t) =
        post_as(&app, &a, "/oauth2/token", &[("grant_type", "client_credentials"), ("scope", "workspaces:read")]).await;
    let token = t["access_token"].as_str().unwrap().to_owned();
    let (status, seen) = post_as(&app, &a, "/oauth2/introspect", &[("token", &token)]).await;
    assert_eq!(status, 200);
    assert_eq!((seen["active"].clone(), seen["client_id"].clone()), (json!(true), json!(a.0)));
    assert_eq!(seen["scope"], "workspaces:read");
    let (_, seen) = post_as(&app, &other, "/oauth2/introspect", &[("token", &token)]).await;
    assert_eq!(seen, json!({"active": false}), "another product saw the token");
    let mut tampered = token.clone();
    tampered.pop();
    let (_, seen) = post_as(&app, &a, "/oauth2/introspect", &[("token", &tampered)]).await;
    assert_eq!(seen["active"], false, "a tampered token is active");
    let wrong = (a.0.clone(), "wrong".to_owned());
    assert_eq!(post_as(&app, &wrong, "/oauth2/introspect", &[("token", &token)]).await.0, 401);
    // Another product's revocation is ignored; the owner's takes effect.
    assert_eq!(post_as(&app, &other, "/oauth2/revoke", &[("token", &token)]).await.0, 200);
    assert_eq!(post_as(&app, &a, "/oauth2/introspect", &[("token", &token)]).await.1["active"], true);
    assert_eq!(post_as(&app, &a, "/oauth2/revoke", &[("token", &token)]).await.0, 200);
    assert_eq!(post_as(&app, &a, "/oauth2/introspect", &[("token", &token)]).await.1["active"], false);
    assert_eq!(post_as(&app, &a, "/oauth2/revoke", &[("token", "not-a-token")]).await.0, 200, "RFC 7009 §2.2");
    // A person's token: introspection names them; revocation ends userinfo.
    let (client_id, secret, browser) = product_and_browser(&app).await;
    let code = callback(&browser.get(&authorize_path(&client_id, "")).await)["code"].clone();
    let web = (client_id.clone(), secret.unwrap());
    let (_, t) = post_as(
        &app,
        &web,
        "/oauth2/token",
        &[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", REDIRECT)],
    )
    .await;
    let access = t["access_token"].as_str().unwrap().to_owned();
    assert_eq!(post_as(&app, &web, "/oauth2/introspect", &[("token", &access)]).await.1["username"], "ada");
    post_as(&app, &web, "/oauth2/revoke", &[("token", &access)]).await;
    let info = reqwest::Client::new().get(app.url("/oauth2/userinfo")).bearer_auth(&access).send().await.unwrap();
    assert_eq!(info.status(), 401, "a revoked token still reads userinfo");
}

/// A body that is not a form gets an RFC 6749 error, not a framework page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_request_that_is_not_a_form_gets_an_oauth_error() {
    let app = spawn(Backend::Sqlite).await;
    for path in ["/oauth2/token", "/oauth2/introspect", "/oauth2/revoke"] {
        let res = reqwest::Client::new()
            .post(app.url(path))
            .json(&json!({"grant_type": "client_credentials"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{path}");
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["error"], "invalid_request", "{path}");
    }
    let res =
        reqwest::Client::new().post(app.url("/oauth2/token")).form(&[("grant_type", "password")]).send().await.unwrap();
    assert_eq!(res.status(), 401, "an unauthenticated client reached the grant check");
}

on_both_backends!(a_product_signs_the_person_out_of_every_product);

async fn a_product_signs_the_person_out_of_every_product(b: Backend) {
    let app = spawn(b).await;
    let (client_id, secret, browser) = product_and_browser(&app).await;
    let web = (client_id.clone(), secret.unwrap());
    let signed_in_code = |browser: Browser| {
        let path = authorize_path(&client_id, "");
        async move { callback(&browser.get(&path).await)["code"].clone() }
    };
    let code = signed_in_code(browser.clone()).await;
    let (_, t) = post_as(
        &app,
        &web,
        "/oauth2/token",
        &[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", REDIRECT)],
    )
    .await;
    let hint = t["id_token"].as_str().unwrap().to_owned();
    let end = |extra: &[(&str, &str)]| {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        q.extend_pairs(extra);
        format!("/oauth2/end-session?{}", q.finish())
    };
    // Refused, and nothing ends: an unregistered redirect, a forged hint,
    // a hint for another client.
    let bad_redirect = end(&[("id_token_hint", &hint), ("post_logout_redirect_uri", "https://evil.example.com/")]);
    assert_eq!(browser.get(&bad_redirect).await.status(), 400);
    let forged = format!("{}x", &hint[..hint.len() - 1]);
    assert_eq!(browser.get(&end(&[("id_token_hint", &forged)])).await.status(), 400);
    assert_eq!(browser.get(&end(&[("id_token_hint", &hint), ("client_id", "other")])).await.status(), 400);
    assert_eq!(browser.get("/account").await.status(), 200, "a refused sign-out ended the session");
    // Without a hint the person confirms; the page carries the way back.
    let (status, page) = browser
        .get_text(&end(&[("client_id", &client_id), ("post_logout_redirect_uri", REDIRECT), ("state", "bye")]))
        .await;
    assert_eq!(status, 200);
    assert_eq!(guildhall_testkit::hidden_value(&page, "post_logout_redirect_uri").as_deref(), Some(REDIRECT));
    assert_eq!(browser.get("/account").await.status(), 200, "a GET without a hint signed the person out");
    let res = browser
        .post_form("/logout", &[("client_id", &client_id), ("post_logout_redirect_uri", REDIRECT), ("state", "bye")])
        .await;
    assert_eq!(callback(&res)["state"], "bye");
    assert_eq!(browser.get("/account").await.status(), 303, "still signed in after sign-out");
    // With a hint naming the signed-in person, at once; SSO is over too.
    let browser = app.client();
    let res = browser.post_form("/login", &[("email", "ada@example.com"), ("password", "correct horse battery")]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(signed_in_code(browser.clone()).await.len(), 43);
    let res =
        browser.get(&end(&[("id_token_hint", &hint), ("post_logout_redirect_uri", REDIRECT), ("state", "s2")])).await;
    assert_eq!(callback(&res)["state"], "s2");
    let res = browser.get(&authorize_path(&client_id, "")).await;
    assert!(res.headers()["location"].to_str().unwrap().starts_with("/login?"), "SSO outlived the sign-out");
    // A forged sign-out POST without a registered URI is refused.
    let res = browser
        .post_form("/logout", &[("client_id", &client_id), ("post_logout_redirect_uri", "https://evil.example.com/")])
        .await;
    assert_eq!(res.status(), 400);
}

on_both_backends!(refresh_tokens_rotate_and_a_reused_one_revokes_its_family);

async fn refresh_tokens_rotate_and_a_reused_one_revokes_its_family(b: Backend) {
    let app = spawn(b).await;
    let (client_id, secret, browser) = product_and_browser(&app).await;
    let web = (client_id.clone(), secret.unwrap());
    let other = machine(&app, "Other").await;
    let start = |scope: &'static str| {
        let (browser, app, web) = (browser.clone(), &app, web.clone());
        let path = authorize_path(&client_id, "").replace("openid+profile+email", scope);
        async move {
            let code = callback(&browser.get(&path).await)["code"].clone();
            let form = [("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", REDIRECT)];
            post_as(app, &web, "/oauth2/token", &form).await.1
        }
    };
    let refresh = |token: String, scope: Option<&'static str>| {
        let (app, web) = (&app, web.clone());
        async move {
            let mut form = vec![("grant_type", "refresh_token"), ("refresh_token", token.as_str())];
            if let Some(s) = scope {
                form.push(("scope", s));
            }
            post_as(app, &web, "/oauth2/token", &form).await
        }
    };
    let userinfo = |access: String| {
        let url = app.url("/oauth2/userinfo");
        async move { reqwest::Client::new().get(url).bearer_auth(access).send().await.unwrap().status().as_u16() }
    };
    assert!(start("openid").await.get("refresh_token").is_none(), "a refresh token without offline_access");
    let first = start("openid+offline_access").await;
    let r1 = first["refresh_token"].as_str().unwrap().to_owned();
    let (status, second) = refresh(r1.clone(), None).await;
    assert_eq!(status, 200, "{second}");
    let r2 = second["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(r1, r2, "the refresh token was not rotated");
    assert!(second["id_token"].is_string());
    let access2 = second["access_token"].as_str().unwrap().to_owned();
    assert_eq!(userinfo(access2.clone()).await, 200);
    // Widening is refused (and spends nothing: r2 still works below).
    assert_eq!(refresh(r2.clone(), Some("openid offline_access profile")).await.1["error"], "invalid_scope");
    // Reusing r1 revokes the family: r2/r3 and the tokens they gave stop working.
    let (_, third) = refresh(r2.clone(), None).await;
    let r3 = third["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(refresh(r1, None).await.1["error"], "invalid_grant");
    assert_eq!(refresh(r3, None).await.1["error"], "invalid_grant", "the family survived a reuse");
    assert_eq!(userinfo(access2).await, 401, "an access token of a revoked family still works");
    // Another product cannot use it; the owner can revoke a family.
    let fresh = start("openid+offline_access").await;
    let r = fresh["refresh_token"].as_str().unwrap().to_owned();
    let (_, err) =
        post_as(&app, &other, "/oauth2/token", &[("grant_type", "refresh_token"), ("refresh_token", &r)]).await;
    assert_eq!(err["error"], "unauthorized_client");
    assert_eq!(post_as(&app, &web, "/oauth2/revoke", &[("token", &r)]).await.0, 200);
    assert_eq!(refresh(r, None).await.1["error"], "invalid_grant", "a revoked refresh token worked");
    assert_eq!(userinfo(fresh["access_token"].as_str().unwrap().to_owned()).await, 401);
}

/// A product's access token with `workspaces:read` reads the person's
/// workspaces through the REST API, and nothing more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_products_token_reads_the_persons_workspaces_and_nothing_more() {
    let app = spawn(Backend::Sqlite).await;
    let (product, secret) = Reg::new("Dashboard")
        .grants("authorization_code client_credentials")
        .scopes("openid workspaces:read")
        .register(&app)
        .await;
    let web = (product.id.to_string(), secret.unwrap().expose().to_owned());
    let browser = app.signed_up("ada", "correct horse battery", true).await;
    let ada = app.api_as("ada", &["workspaces:admin"]).await;
    ada.post("/workspaces", json!({"slug": "acme", "name": "Acme"})).await;
    let token_for = |scope: &'static str| {
        let (browser, app, web) = (browser.clone(), &app, web.clone());
        let path = authorize_path(&web.0, "").replace("openid+profile+email", scope);
        async move {
            let code = callback(&browser.get(&path).await)["code"].clone();
            let form = [("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", REDIRECT)];
            let (_, t) = post_as(app, &web, "/oauth2/token", &form).await;
            Api {
                http: reqwest::Client::new(),
                base: app.base_url.clone(),
                token: t["access_token"].as_str().unwrap().to_owned(),
            }
        }
    };
    let reader = token_for("openid+workspaces%3Aread").await;
    let (status, list) = reader.get("/workspaces").await;
    assert_eq!(status, 200);
    assert_eq!(list["workspaces"][0]["slug"], "acme", "{list}");
    assert_eq!(reader.get("/workspaces/acme/repositories").await.0, 200);
    assert_eq!(reader.post("/workspaces", json!({"slug": "evil", "name": "E"})).await.0, 403, "a read token wrote");
    let plain = token_for("openid").await;
    assert_eq!(plain.get("/workspaces").await.0, 401, "a token without workspaces:read read workspaces");
    assert_eq!(plain.get("/account").await.0, 401, "a token without an API scope read the account");
    let (_, t) =
        post_as(&app, &web, "/oauth2/token", &[("grant_type", "client_credentials"), ("scope", "workspaces:read")])
            .await;
    let machine = Api {
        http: reqwest::Client::new(),
        base: app.base_url.clone(),
        token: t["access_token"].as_str().unwrap().to_owned(),
    };
    assert_eq!(machine.get("/workspaces").await.0, 401, "a token of no person reached a person's workspaces");
}

async fn a_keys(node: &guildhall_testkit::TestApp) -> serde_json::Value {
    node.app.oauth().jwks().await.unwrap()
}

fn kid_of(jwt: &str) -> String {
    jsonwebtoken::decode_header(jwt).unwrap().kid.unwrap()
}

fn kids(jwks: &serde_json::Value) -> Vec<String> {
    jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().to_owned()).collect()
}

/// Keys rotate on schedule: a new key is published before it signs, an
/// independent client verifies tokens of the new key from the JWKS, the old
/// one stays in JWKS until its tokens have expired, and another node that
/// meets the new key id loads it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_keys_rotate_and_retire_on_schedule_across_nodes() {
    let a = spawn(Backend::Postgres).await;
    let key_file = a.data_dir.join("master.key");
    // One deployment: shared database, master key and public URL (issuer).
    let b = spawn_app_with(Backend::Postgres, |s| {
        s.database_url = a.settings.database_url.clone();
        s.master_key_file = Some(key_file);
        s.public_url = Some(a.base_url.clone());
    })
    .await;
    let m = machine(&a, "Billing").await;
    let token = |node: &guildhall_testkit::TestApp| {
        let (node, m) = (node.url("/oauth2/token"), m.clone());
        async move {
            let res = reqwest::Client::new()
                .post(node)
                .basic_auth(&m.0, Some(&m.1))
                .form(&[("grant_type", "client_credentials")])
                .send()
                .await
                .unwrap();
            res.json::<serde_json::Value>().await.unwrap()["access_token"].as_str().unwrap().to_owned()
        }
    };
    let k1 = kids(&a_keys(&a).await);
    assert_eq!(k1.len(), 1);
    a.app.oauth().rotate_keys().await.unwrap();
    assert_eq!(kids(&a_keys(&a).await), k1, "rotated before it was due");
    let month = std::time::Duration::from_secs(30 * 24 * 3600);
    let minutes = |n: u64| std::time::Duration::from_secs(60 * n);
    for node in [&a, &b] {
        node.clock.advance(month);
    }
    a.app.oauth().rotate_keys().await.unwrap();
    let both = kids(&a_keys(&a).await);
    // Both nodes run the schedule in the background too, so a second node
    // may rotate at the same moment: two new keys are allowed (ADR 0007).
    assert!(both.len() >= 2, "no new key after a month");
    let k2 = both[0].clone();
    assert_eq!(kid_of(&token(&a).await), k1[0], "a new key signed before it was published for long");
    for node in [&a, &b] {
        node.clock.advance(minutes(11));
    }
    let signed = token(&a).await;
    assert_eq!(kid_of(&signed), k2, "the new key does not sign after its lead time");
    // An independent client (joserfc) fetches the key set and verifies it.
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/verify_jwt.py");
    let out = tokio::process::Command::new(guildhall_testkit::smtp::python())
        .arg(script)
        .args([&a.base_url, &signed])
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "the client could not verify: {}", String::from_utf8_lossy(&out.stderr));
    let seen: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(seen["kid"], k2, "the client verified with another key");
    // Node B has not loaded k2; meeting it, B loads it.
    let seen: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/oauth2/introspect", b.local_url))
        .basic_auth(&m.0, Some(&m.1))
        .form(&[("token", &signed)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(seen["active"], true, "node B refused a token signed with the new key");
    // The old key stays while its tokens may live, then goes.
    a.app.oauth().rotate_keys().await.unwrap();
    assert!(kids(&a_keys(&a).await).contains(&k1[0]), "the old key went while its tokens could live");
    a.clock.advance(minutes(20));
    a.app.oauth().rotate_keys().await.unwrap();
    assert_eq!(kids(&a_keys(&a).await), vec![k2.clone()], "the old key was never retired");
    // Published keys verify what they sign.
    let published = reqwest::get(a.url("/oauth2/jwks")).await.unwrap().json::<serde_json::Value>().await.unwrap();
    assert_eq!(kids(&published), vec![k2]);
}

on_both_backends!(a_third_party_product_asks_for_consent_once_and_loses_it_when_withdrawn);

async fn a_third_party_product_asks_for_consent_once_and_loses_it_when_withdrawn(b: Backend) {
    let app = spawn(b).await;
    let (product, secret) = Reg::new("Gantt Charts Inc").third_party().register(&app).await;
    let web = (product.id.to_string(), secret.unwrap().expose().to_owned());
    let browser = app.signed_up("ada", "correct horse battery", true).await;
    let path = |scope: &str| authorize_path(&web.0, "").replace("openid+profile+email", scope);
    // First time: the consent screen, naming the product and what it asks.
    let (status, page) = browser.get_text(&path("openid+offline_access")).await;
    assert_eq!(status, 200);
    assert!(page.contains("Gantt Charts Inc") && page.contains("keep access while you are away"), "{page}");
    // The page escapes `&` (askama writes `&#38;`), as a browser would undo.
    let request = guildhall_testkit::hidden_value(&page, "request").unwrap().replace("&#38;", "&");
    let q = callback(&browser.get(&path("openid&prompt=none")).await);
    assert_eq!(q["error"], "consent_required");
    // Deny: the product hears access_denied.
    let res = browser.post_form("/oauth2/consent", &[("request", &request), ("decision", "deny")]).await;
    assert_eq!((callback(&res)["error"].as_str(), callback(&res)["state"].as_str()), ("access_denied", "st4te"));
    assert!(app.app.oauth().consents(&app.app.accounts().by_username("ada").await.unwrap()).await.unwrap().is_empty());
    // Allow: back to the request, which now completes.
    let res = browser.post_form("/oauth2/consent", &[("request", &request), ("decision", "allow")]).await;
    let back = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(back.starts_with("/oauth2/authorize?"), "{back}");
    let code = callback(&browser.get(&back).await)["code"].clone();
    let form = [("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", REDIRECT)];
    let (_, tokens) = post_as(&app, &web, "/oauth2/token", &form).await;
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    // Remembered: no screen the second time; more scopes ask again.
    assert_eq!(browser.get(&path("openid")).await.status(), 303);
    assert_eq!(browser.get(&path("openid+email")).await.status(), 200, "new scopes were granted without asking");
    // The account page lists it; withdrawing ends the product's tokens.
    let (_, account) = browser.get_text("/account").await;
    assert!(account.contains("Gantt Charts Inc"), "the consent is not listed");
    let pending = callback(&browser.get(&path("openid")).await)["code"].clone();
    let res = browser.post_form(&format!("/account/consents/{}/revoke", web.0), &[]).await;
    assert_eq!(res.headers()["location"], "/account?notice=consent-revoked");
    let form = [("grant_type", "authorization_code"), ("code", pending.as_str()), ("redirect_uri", REDIRECT)];
    assert_eq!(
        post_as(&app, &web, "/oauth2/token", &form).await.1["error"],
        "invalid_grant",
        "a code outlived the consent"
    );
    let (_, err) =
        post_as(&app, &web, "/oauth2/token", &[("grant_type", "refresh_token"), ("refresh_token", &refresh)]).await;
    assert_eq!(err["error"], "invalid_grant", "a refresh token outlived the withdrawn consent");
    let info = reqwest::Client::new()
        .get(app.url("/oauth2/userinfo"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(info.status(), 401, "an access token outlived the withdrawn consent");
    assert_eq!(browser.get(&path("openid")).await.status(), 200, "the consent was not forgotten");
    // Bad input changes nothing: an unknown product, a form without CSRF.
    assert_eq!(browser.post_form(&format!("/account/consents/{}/revoke", web.0), &[]).await.status(), 404);
    let res = browser.post_raw("/oauth2/consent", &[("request", &request), ("decision", "allow")]).await;
    assert_eq!(res.status(), 403, "a consent without its CSRF token was taken");
    assert_eq!(browser.get(&path("openid")).await.status(), 200);
}

/// With the `groups` scope, the ID token and userinfo list the person's
/// groups as `workspace/group`, and only theirs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_groups_claim_lists_the_persons_groups() {
    let app = spawn(Backend::Sqlite).await;
    let (product, secret) = Reg::new("Wiki").scopes("openid groups").register(&app).await;
    let web = (product.id.to_string(), secret.unwrap().expose().to_owned());
    let browser = app.signed_up("ada", "correct horse battery", true).await;
    let ada = app.api_as("ada", &["workspaces:admin"]).await;
    app.account("bob").await;
    ada.post("/workspaces", json!({"slug": "acme", "name": "Acme"})).await;
    ada.post("/workspaces/acme/groups", json!({"slug": "devs", "name": "Devs"})).await;
    ada.post("/workspaces/acme/groups", json!({"slug": "ops", "name": "Ops"})).await;
    ada.put("/workspaces/acme/groups/devs/members/ada", json!({})).await;
    ada.put("/workspaces/acme/groups/ops/members/bob", json!({})).await;
    let path = authorize_path(&web.0, "").replace("openid+profile+email", "openid+groups");
    let code = callback(&browser.get(&path).await)["code"].clone();
    let form = [("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", REDIRECT)];
    let (_, tokens) = post_as(&app, &web, "/oauth2/token", &form).await;
    let payload = tokens["id_token"].as_str().unwrap().split('.').nth(1).unwrap().to_owned();
    use base64::Engine;
    let claims: serde_json::Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    assert_eq!(claims["groups"], json!(["acme/administrators", "acme/devs"]));
    let info: serde_json::Value = reqwest::Client::new()
        .get(app.url("/oauth2/userinfo"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["groups"], claims["groups"]);
    assert!(info.get("email").is_none(), "a claim beyond the scopes");
}

on_both_backends!(any_account_registers_third_party_products_on_the_developer_page);

async fn any_account_registers_third_party_products_on_the_developer_page(b: Backend) {
    let app = spawn(b).await;
    let dev = app.signed_up("dev", "correct horse battery", true).await;
    let res = dev
        .post_form(
            "/developer/products",
            &[
                ("name", "Gantt"),
                ("redirect_uris", &format!("{REDIRECT}\r\nhttps://gantt.example.com/cb")),
                ("homepage", ""),
            ],
        )
        .await;
    assert_eq!(res.status(), 200);
    let page = res.text().await.unwrap();
    let secret = page.split("id=\"client-secret\">").nth(1).unwrap().split('<').next().unwrap().to_owned();
    let owner = app.app.accounts().by_username("dev").await.unwrap();
    let products = app.app.oauth().own_products(&owner).await.unwrap();
    assert_eq!(products.len(), 1);
    let p = &products[0];
    assert!(!p.first_party, "a developer's product skips consent");
    assert_eq!(p.redirect_uris, [REDIRECT, "https://gantt.example.com/cb"]);
    assert!(page.contains(&p.id.to_string()), "the product is not listed");
    // Its credentials work, and people are asked for consent.
    let ada = app.signed_up("ada", "correct horse battery", true).await;
    assert_eq!(ada.get(&authorize_path(&p.id.to_string(), "")).await.status(), 200, "no consent screen");
    let (status, _) =
        post_as(&app, &(p.id.to_string(), secret), "/oauth2/token", &[("grant_type", "client_credentials")]).await;
    assert_eq!(status, 400, "a developer's product may use client_credentials");
    // Bad input: a clear error and nothing registered; others see nothing.
    let res = dev
        .post_form("/developer/products", &[("name", "Evil"), ("redirect_uris", "http://evil.example.com/cb")])
        .await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("https"), "the error does not say why");
    assert_eq!(app.app.oauth().own_products(&owner).await.unwrap().len(), 1);
    let (_, other) = ada.get_text("/developer").await;
    assert!(!other.contains(&p.id.to_string()), "another account saw the product");
    assert_eq!(app.client().get("/developer").await.status(), 303, "the page is open to strangers");
}

/// A sign-in started from a product's own link ends on that product's
/// registered homepage (or redirect origin), never anywhere else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_from_a_products_link_returns_to_that_product() {
    let app = spawn(Backend::Sqlite).await;
    let register = |homepage: Option<&'static str>| {
        let app = &app;
        async move {
            let input = ProductInput {
                name: "Tracker",
                redirect_uris: &[REDIRECT.to_owned(), "https://tracker.example.com/cb".to_owned()],
                public: false,
                first_party: true,
                grant_types: &[],
                scopes: &[],
                homepage,
                owner: None,
            };
            app.app.oauth().create_product(input).await.unwrap().0.id.to_string()
        }
    };
    let with_home = register(Some("https://tracker.example.com/home")).await;
    let without = register(None).await;
    // A homepage on an origin the product did not register a redirect URI
    // for is ignored (anyone can register a product: no open redirects).
    let elsewhere = register(Some("https://evil.example.com/phish")).await;
    app.account("ada").await;
    let sign_in = |client_id: String, return_to: &'static str| {
        let browser = app.client();
        async move {
            let (_, page) = browser.get_text(&format!("/login?form=single&client_id={client_id}")).await;
            assert_eq!(guildhall_testkit::hidden_value(&page, "client_id").as_deref(), Some(client_id.as_str()));
            let fields = [
                ("email", "ada@example.com"),
                ("password", "correct horse battery"),
                ("form", "single"),
                ("client_id", client_id.as_str()),
                ("return_to", return_to),
            ];
            let res = browser.post_form("/login", &fields).await;
            assert_eq!(res.status(), 303);
            res.headers()["location"].to_str().unwrap().to_owned()
        }
    };
    assert_eq!(sign_in(with_home.clone(), "").await, "https://tracker.example.com/home");
    assert_eq!(sign_in(without, "").await, "http://127.0.0.1:9/");
    assert_eq!(sign_in(elsewhere, "").await, "http://127.0.0.1:9/", "an unregistered homepage was honoured");
    assert_eq!(sign_in("https://evil.example.com".into(), "").await, "/account", "an unknown product redirected");
    assert_eq!(sign_in(with_home, "/workspaces").await, "/workspaces", "the page asked for lost to the product");
}

on_both_backends!(max_age_login_hint_prompt_consent_and_code_limits_are_honoured);

async fn max_age_login_hint_prompt_consent_and_code_limits_are_honoured(b: Backend) {
    let app = spawn(b).await;
    let (client_id, secret, browser) = product_and_browser(&app).await;
    let web = (client_id.clone(), secret.unwrap());
    let minutes = |n: u64| std::time::Duration::from_secs(60 * n);
    // max_age: a sign-in older than it sends the person to sign in again.
    app.clock.advance(minutes(10));
    let res = browser.get(&authorize_path(&client_id, "&max_age=60")).await;
    assert!(res.headers()["location"].to_str().unwrap().starts_with("/login?"), "an old sign-in passed max_age");
    let fresh_enough = callback(&browser.get(&authorize_path(&client_id, "&max_age=3600")).await);
    assert!(fresh_enough.contains_key("code"), "a recent-enough sign-in was refused: {fresh_enough:?}");
    // max_age=0 forces a fresh sign-in, which then counts (no endless loop).
    let res = browser.get(&authorize_path(&client_id, "&max_age=0")).await;
    let login = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(login.starts_with("/login?"), "{login}");
    let back = url::form_urlencoded::parse(login.split_once('?').unwrap().1.as_bytes())
        .find(|(k, _)| k == "return_to")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    app.clock.advance(std::time::Duration::from_millis(5));
    let res = browser
        .post_form(
            "/login",
            &[("email", "ada@example.com"), ("password", "correct horse battery"), ("return_to", &back)],
        )
        .await;
    assert_eq!(res.headers()["location"].to_str().unwrap(), back);
    assert!(callback(&browser.get(&back).await).contains_key("code"), "max_age=0 looped");
    // An account whose email is not verified signs into no product.
    let unverified = app.signed_up("uma", "correct horse battery", false).await;
    let q = callback(&unverified.get(&authorize_path(&client_id, "")).await);
    assert_eq!(q["error"], "access_denied");
    // login_hint pre-fills the sign-in form.
    let res = app.client().get(&authorize_path(&client_id, "&login_hint=ada%40example.com")).await;
    let login = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(login.contains("email=ada%40example.com"), "{login}");
    let (_, page) = app.client().get_text(&login).await;
    assert!(page.contains("value=\"ada@example.com\""), "the hint did not reach the form");
    // prompt=consent shows the screen even for a first-party product, once.
    let (status, page) = browser.get_text(&authorize_path(&client_id, "&prompt=consent")).await;
    assert_eq!(status, 200);
    let request = guildhall_testkit::hidden_value(&page, "request").unwrap().replace("&#38;", "&");
    let res = browser.post_form("/oauth2/consent", &[("request", &request), ("decision", "allow")]).await;
    let back = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(!back.contains("prompt=consent"), "{back}");
    assert!(callback(&browser.get(&back).await).contains_key("code"));
    // A code bound to a PKCE challenge needs the verifier; codes expire.
    let pkce = format!("&code_challenge={CHALLENGE}&code_challenge_method=S256");
    let code = callback(&browser.get(&authorize_path(&client_id, &pkce)).await)["code"].clone();
    let form = [("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", REDIRECT)];
    assert_eq!(post_as(&app, &web, "/oauth2/token", &form).await.1["error"], "invalid_grant", "no verifier passed");
    let code = callback(&browser.get(&authorize_path(&client_id, "")).await)["code"].clone();
    app.clock.advance(minutes(2));
    let form = [("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", REDIRECT)];
    assert_eq!(post_as(&app, &web, "/oauth2/token", &form).await.1["error"], "invalid_grant", "an expired code worked");
}

/// One sign-in serves every product: a second product's request completes
/// without any prompt, and signing out ends it for both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_sign_in_serves_every_product_until_sign_out() {
    let app = spawn(Backend::Sqlite).await;
    let (first, _, browser) = product_and_browser(&app).await;
    let (second, _) = Reg::new("Wiki").register(&app).await;
    let second = second.id.to_string();
    for product in [&first, &second] {
        let q = callback(&browser.get(&authorize_path(product, "")).await);
        assert!(q.contains_key("code"), "product {product} prompted: {q:?}");
    }
    let res = browser.post_form("/logout", &[]).await;
    assert_eq!(res.status(), 303);
    for product in [&first, &second] {
        let res = browser.get(&authorize_path(product, "")).await;
        assert!(res.headers()["location"].to_str().unwrap().starts_with("/login?"), "SSO outlived sign-out");
    }
}
