//! Passkeys with a software authenticator (webauthn-authenticator-rs
//! `SoftPasskey`, from the webauthn-rs project) playing the browser's part:
//! registration, the second step, passwordless sign-in, and refusals.
//!
//! The software authenticator cannot keep discoverable credentials, so for
//! the passwordless ceremony the test hands it the credential id that a
//! platform authenticator would find by itself; the server's side of that
//! ceremony (no allow-list, the passkey found by its credential id) is the
//! real one.

use guildhall_testkit::{Backend, Browser, TestApp, on_both_backends, spawn_app_with};
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_rs::prelude::{CreationChallengeResponse, RequestChallengeResponse, Url};

on_both_backends!(passkeys_register_serve_as_second_step_and_sign_in_alone);

const PASSWORD: &str = "correct horse battery";

/// A server on `http://localhost:PORT`: WebAuthn needs a domain name.
async fn localhost_app(backend: Backend) -> TestApp {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    spawn_app_with(backend, move |s| {
        s.listen = ([127, 0, 0, 1], port).into();
        s.public_url = Some(format!("http://localhost:{port}"));
    })
    .await
}

/// POSTs to an options endpoint with the browser's CSRF token.
async fn options(b: &Browser, path: &str) -> (u16, serde_json::Value) {
    let res = b.post_form(path, &[]).await;
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or_default())
}

async fn register(app: &TestApp, b: &Browser, key: &mut SoftPasskey, name: &str) -> reqwest::Response {
    let (status, ceremony) = options(b, "/account/security/passkeys/options").await;
    assert_eq!(status, 200, "{ceremony}");
    assert_eq!(ceremony["options"]["publicKey"]["authenticatorSelection"]["residentKey"], "preferred");
    let ccr: CreationChallengeResponse = serde_json::from_value(ceremony["options"].clone()).unwrap();
    let origin = Url::parse(&app.base_url).unwrap();
    let credential = key.do_registration(origin, ccr).unwrap();
    let credential = serde_json::to_string(&credential).unwrap();
    let state = ceremony["state"].as_str().unwrap();
    b.post_form("/account/security/passkeys", &[("name", name), ("state", state), ("credential", &credential)]).await
}

/// Runs an assertion ceremony: options from `options_path`, the result to
/// `finish_path`. `allow` adds a credential id (see the module comment).
async fn assert_with(
    app: &TestApp,
    b: &Browser,
    key: &mut SoftPasskey,
    options_path: &str,
    finish_path: &str,
    allow: Option<&serde_json::Value>,
) -> (reqwest::Response, String, String) {
    let (status, ceremony) = options(b, options_path).await;
    assert_eq!(status, 200, "{ceremony}");
    let mut request = ceremony["options"].clone();
    if let Some(cred) = allow {
        request["publicKey"]["allowCredentials"] = serde_json::json!([{"type": "public-key", "id": cred}]);
    }
    let rcr: RequestChallengeResponse = serde_json::from_value(request).unwrap();
    let credential = key.do_authentication(Url::parse(&app.base_url).unwrap(), rcr).unwrap();
    let credential = serde_json::to_string(&credential).unwrap();
    let state = ceremony["state"].as_str().unwrap().to_owned();
    let res = b.post_form(finish_path, &[("state", &state), ("credential", &credential)]).await;
    (res, state, credential)
}

/// The `amr` of each of ada's sessions.
async fn amrs(app: &TestApp) -> Vec<Vec<String>> {
    let account = app.app.accounts().by_username("ada").await.unwrap();
    app.app.sessions().list(&account).await.unwrap().into_iter().map(|s| s.amr).collect()
}

async fn passkeys_register_serve_as_second_step_and_sign_in_alone(backend: Backend) {
    let app = localhost_app(backend).await;
    let ada = app.signed_up("ada", PASSWORD, true).await;
    let mut key = SoftPasskey::new(true);

    // Registering a first passkey gives recovery codes; it is listed.
    let res = register(&app, &ada, &mut key, "Laptop").await;
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("Your recovery codes"));
    let page = ada.get_text("/account/security").await.1;
    assert!(page.contains("<td>Laptop"), "{page}");
    // Renamed by its owner only, to a real name.
    let account = app.app.accounts().by_username("ada").await.unwrap();
    let id = app.app.mfa().passkeys(&account).await.unwrap()[0].id.to_string();
    let rename = format!("/account/security/passkeys/{id}/rename");
    assert_eq!(ada.post_form(&rename, &[("name", "  ")]).await.status(), 422);
    let eve = app.signed_up("eve", PASSWORD, true).await;
    assert_eq!(eve.post_form(&rename, &[("name", "Mine")]).await.status(), 404);
    let res = ada.post_form(&rename, &[("name", "Work laptop")]).await;
    assert_eq!(res.headers()["location"], "/account/security?notice=passkey-renamed");
    assert_eq!(app.app.mfa().passkeys(&account).await.unwrap()[0].name, "Work laptop");
    assert!(page.contains("/static/passkeys.js"));
    // Adding an authenticator app next keeps the codes already given.
    let res = ada.post_form("/account/security/totp", &[]).await;
    let page = res.text().await.unwrap();
    let totp_key = page.split("Key: <code>").nth(1).unwrap().split('<').next().unwrap().to_owned();
    let code = guildhall_core::mfa::totp_code_base32(&totp_key, crate::mfa::now_secs(&app)).unwrap();
    let res = ada.post_form("/account/security/totp/confirm", &[("code", &code)]).await;
    assert_eq!(res.headers()["location"], "/account/security?notice=totp-added");
    assert!(ada.get_text("/account/security").await.1.contains("Recovery codes left: 10"));
    // A nameless one is refused, and nothing is stored.
    let mut other = SoftPasskey::new(true);
    assert_eq!(register(&app, &ada, &mut other, " ").await.status(), 422);
    assert_eq!(app.app.mfa().passkeys(&account).await.unwrap().len(), 1);

    // The second step after the password.
    let b = app.client();
    let res = b.post_form("/login", &[("email", "ada@example.com"), ("password", PASSWORD)]).await;
    assert_eq!(res.headers()["location"], "/login/2fa");
    let (res, state, credential) =
        assert_with(&app, &b, &mut key, "/login/2fa/passkey/options", "/login/2fa/passkey", None).await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/account");
    assert!(amrs(&app).await.contains(&vec!["pwd".into(), "hwk".into(), "mfa".into()]));
    // Replaying that answer in another held sign-in fails.
    let b2 = app.client();
    b2.post_form("/login", &[("email", "ada@example.com"), ("password", PASSWORD)]).await;
    let res = b2.post_form("/login/2fa/passkey", &[("state", &state), ("credential", &credential)]).await;
    assert_eq!(res.status(), 401, "a replayed assertion");
    // Another person's passkey does not answer for ada.
    let bob = app.signed_up("bob", PASSWORD, true).await;
    let mut bobs = SoftPasskey::new(true);
    register(&app, &bob, &mut bobs, "Phone").await;
    let res = b2.post_form("/login", &[("email", "ada@example.com"), ("password", PASSWORD)]).await;
    assert_eq!(res.headers()["location"], "/login/2fa");
    let (status, ceremony) = options(&b2, "/login/2fa/passkey/options").await;
    assert_eq!(status, 200);
    let rcr: RequestChallengeResponse = serde_json::from_value(ceremony["options"].clone()).unwrap();
    assert!(bobs.do_authentication(Url::parse(&app.base_url).unwrap(), rcr).is_err(), "bob's key is not allowed");

    // Passwordless: the passkey alone signs in, with two factors' acr.
    let cred_id = {
        let b = app.client();
        b.post_form("/login", &[("email", "ada@example.com"), ("password", PASSWORD)]).await;
        let (_, ceremony) = options(&b, "/login/2fa/passkey/options").await;
        ceremony["options"]["publicKey"]["allowCredentials"][0]["id"].clone()
    };
    let b3 = app.client();
    let (res, state, credential) =
        assert_with(&app, &b3, &mut key, "/login/passkey/options", "/login/passkey", Some(&cred_id)).await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/account");
    assert_eq!(b3.get("/account").await.status(), 200);
    assert!(amrs(&app).await.contains(&vec!["hwk".into(), "mfa".into()]));
    // The same answer again, or with a forged state, signs nobody in.
    let b4 = app.client();
    let res = b4.post_form("/login/passkey", &[("state", &state), ("credential", &credential)]).await;
    assert_eq!(res.headers()["location"], "/login?notice=passkey-failed");
    let res = b4.post_form("/login/passkey", &[("state", "forged"), ("credential", &credential)]).await;
    assert_eq!(res.headers()["location"], "/login?notice=passkey-failed");
    assert_eq!(b4.get("/account").await.status(), 303);

    // Removing needs the password; the last factor takes the codes with it.
    let id = app.app.mfa().passkeys(&account).await.unwrap()[0].id.to_string();
    let path = format!("/account/security/passkeys/{id}/remove");
    assert_eq!(ada.post_form(&path, &[("proof", "wrong password!")]).await.status(), 422);
    assert_eq!(bob.post_form(&path, &[("proof", PASSWORD)]).await.status(), 404, "not bob's");
    let res = ada.post_form(&path, &[("proof", PASSWORD)]).await;
    assert_eq!(res.headers()["location"], "/account/security?notice=passkey-removed");
    // The authenticator app still stands, and the codes with it.
    assert_eq!(app.app.mfa().status(&account).await.unwrap().recovery_codes_left, 10);
    let res = ada.post_form("/account/security/totp/remove", &[("proof", PASSWORD)]).await;
    assert_eq!(res.headers()["location"], "/account/security?notice=totp-removed");
    assert_eq!(app.app.mfa().status(&account).await.unwrap().recovery_codes_left, 0);
    let res = app.client().post_form("/login", &[("email", "ada@example.com"), ("password", PASSWORD)]).await;
    assert_eq!(res.headers()["location"], "/account", "one step again");
}
