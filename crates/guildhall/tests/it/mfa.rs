//! Two-step sign-in: an authenticator app (TOTP, with the test's clock),
//! recovery codes, the second step after the password, and its limits.

use guildhall_core::mfa::totp_code_base32;
use guildhall_testkit::{Backend, Browser, TestApp, on_both_backends, spawn_app};
use std::time::Duration;

on_both_backends!(
    an_authenticator_adds_a_second_step_whose_codes_work_once,
    recovery_codes_work_once_and_removing_needs_the_password,
    an_org_that_requires_a_second_factor_sends_its_people_to_set_one_up
);

const PASSWORD: &str = "correct horse battery";

pub(crate) fn now_secs(app: &TestApp) -> u64 {
    use guildhall_app::ports::Clock;
    u64::try_from(app.clock.now().as_millis() / 1000).unwrap()
}

/// Sets up an authenticator for the browser's account; returns its key
/// and the recovery codes.
pub(crate) async fn enrol(app: &TestApp, b: &Browser) -> (String, Vec<String>) {
    let res = b.post_form("/account/security/totp", &[]).await;
    assert_eq!(res.status(), 200);
    let page = res.text().await.unwrap();
    assert!(page.contains("<svg"), "a QR code");
    let key = page.split("Key: <code>").nth(1).unwrap().split('<').next().unwrap().to_owned();
    // A wrong code: the same key is shown again.
    let res = b.post_form("/account/security/totp/confirm", &[("code", "000000")]).await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains(&key));
    let code = totp_code_base32(&key, now_secs(app)).unwrap();
    let res = b.post_form("/account/security/totp/confirm", &[("code", &code)]).await;
    assert_eq!(res.status(), 200);
    let page = res.text().await.unwrap();
    let codes: Vec<String> =
        page.split("<li><code>").skip(1).map(|s| s.split('<').next().unwrap().to_owned()).collect();
    assert_eq!(codes.len(), 10, "{page}");
    (key, codes)
}

/// Password first; returns the browser, now at the second step.
pub(crate) async fn password_step(app: &TestApp, email: &str) -> Browser {
    let b = app.client();
    let res = b.post_form("/login", &[("email", email), ("password", PASSWORD)]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/login/2fa");
    assert_eq!(b.get("/account").await.status(), 303, "no session before the second step");
    b
}

async fn second_step(b: &Browser, code: &str) -> reqwest::Response {
    b.post_form("/login/2fa", &[("code", code)]).await
}

async fn an_authenticator_adds_a_second_step_whose_codes_work_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let ada = app.signed_up("ada", PASSWORD, true).await;
    assert!(ada.get_text("/account/security").await.1.contains("Set up an authenticator app"));
    let (key, _) = enrol(&app, &ada).await;
    assert!(ada.get_text("/account/security").await.1.contains("Recovery codes left: 10"));
    let notice = app.mails_to("ada@example.com", "A second factor was added");
    assert_eq!(notice.len(), 1, "the owner is told");
    // A second authenticator is refused while one is set up.
    assert_eq!(ada.post_form("/account/security/totp", &[]).await.status(), 409);

    // The code of the step used to confirm cannot sign in again.
    let b = password_step(&app, "ada@example.com").await;
    let used = totp_code_base32(&key, now_secs(&app)).unwrap();
    assert_eq!(second_step(&b, &used).await.status(), 401);
    assert_eq!(second_step(&b, "123").await.status(), 401);
    // The next step's code signs in, once.
    app.clock.advance(Duration::from_secs(30));
    let code = totp_code_base32(&key, now_secs(&app)).unwrap();
    let res = second_step(&b, &code).await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/account");
    assert_eq!(b.get("/account").await.status(), 200);
    let account = app.app.accounts().by_username("ada").await.unwrap();
    let sessions = app.app.sessions().list(&account).await.unwrap();
    assert!(
        sessions.iter().any(|s| s.amr == ["pwd", "otp", "mfa"]),
        "{:?}",
        sessions.iter().map(|s| &s.amr).collect::<Vec<_>>()
    );
    let replay = password_step(&app, "ada@example.com").await;
    assert_eq!(second_step(&replay, &code).await.status(), 401, "a used step is refused");

    // Without the CSRF token, or without a first step, nothing happens.
    let b = password_step(&app, "ada@example.com").await;
    assert_eq!(b.post_raw("/login/2fa", &[("code", "123456")]).await.status(), 403);
    let res = app.client().post_form("/login/2fa", &[("code", "123456")]).await;
    assert_eq!(res.headers()["location"], "/login");
    // The held first step expires.
    app.clock.advance(Duration::from_secs(301));
    let code = totp_code_base32(&key, now_secs(&app)).unwrap();
    let res = second_step(&b, &code).await;
    assert_eq!(res.headers()["location"], "/login?notice=second-step-expired");

    // Guessing is throttled per account, whatever the browser.
    let mut statuses = Vec::new();
    for _ in 0..8 {
        let b = password_step(&app, "ada@example.com").await;
        statuses.push(second_step(&b, "000000").await.status().as_u16());
    }
    assert_eq!(statuses.first(), Some(&401));
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
    let locked = app.mails_to("ada@example.com", "paused");
    assert!(locked.last().unwrap().replace("=\r\n", "").replace("=\n", "").contains("someone knows your password"));
    let b = password_step(&app, "ada@example.com").await;
    app.clock.advance(Duration::from_secs(30));
    let code = totp_code_base32(&key, now_secs(&app)).unwrap();
    assert_eq!(second_step(&b, &code).await.status(), 429, "even the right code waits");
}

async fn recovery_codes_work_once_and_removing_needs_the_password(backend: Backend) {
    let app = spawn_app(backend).await;
    let bob = app.signed_up("bob", PASSWORD, true).await;
    let (_, codes) = enrol(&app, &bob).await;

    // A recovery code, typed loosely, signs in once.
    let b = password_step(&app, "bob@example.com").await;
    let res = second_step(&b, &codes[0].to_uppercase().replace('-', " ")).await;
    assert_eq!(res.status(), 303);
    let b = password_step(&app, "bob@example.com").await;
    assert_eq!(second_step(&b, &codes[0]).await.status(), 401, "spent");
    assert!(bob.get_text("/account/security").await.1.contains("Recovery codes left: 9"));

    // New codes need the password and end the old ones.
    let res = bob.post_form("/account/security/recovery-codes", &[("proof", "wrong password!")]).await;
    assert_eq!(res.status(), 422);
    let res = bob.post_form("/account/security/recovery-codes", &[("proof", PASSWORD)]).await;
    assert_eq!(res.status(), 200);
    let page = res.text().await.unwrap();
    let fresh: Vec<String> =
        page.split("<li><code>").skip(1).map(|s| s.split('<').next().unwrap().to_owned()).collect();
    assert_eq!(fresh.len(), 10);
    let b = password_step(&app, "bob@example.com").await;
    assert_eq!(second_step(&b, &codes[1]).await.status(), 401, "old codes end");
    assert_eq!(second_step(&b, &fresh[0]).await.status(), 303);

    // Removing needs the password; then sign-in is one step again.
    let res = bob.post_form("/account/security/totp/remove", &[("proof", "wrong password!")]).await;
    assert_eq!(res.status(), 422);
    assert!(bob.get_text("/account/security").await.1.contains("An authenticator app is set up"));
    let res = bob.post_form("/account/security/totp/remove", &[("proof", PASSWORD)]).await;
    assert_eq!(res.headers()["location"], "/account/security?notice=totp-removed");
    let res = app.client().post_form("/login", &[("email", "bob@example.com"), ("password", PASSWORD)]).await;
    assert_eq!(res.headers()["location"], "/account");

    // Re-authentication is throttled like sign-in: a borrowed session
    // cannot guess the password.
    let (_, _) = enrol(&app, &bob).await;
    let mut statuses = Vec::new();
    for _ in 0..7 {
        let res = bob.post_form("/account/security/totp/remove", &[("proof", "wrong password!")]).await;
        statuses.push(res.status().as_u16());
    }
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
    assert!(bob.get_text("/account/security").await.1.contains("An authenticator app is set up"));
}

async fn an_org_that_requires_a_second_factor_sends_its_people_to_set_one_up(backend: Backend) {
    use guildhall_testkit::dns::DnsServer;
    let dns = DnsServer::start().await;
    let addr = dns.addr;
    let app = guildhall_testkit::spawn_app_with(backend, move |s| s.dns_resolver = Some(addr)).await;
    let ada = app.signed_up("ada", PASSWORD, true).await;
    let create = guildhall_app::accounts::AdminCreate {
        email: "carol@acme.test",
        username: "carol",
        display_name: None,
        password: PASSWORD,
        verified: true,
    };
    app.app.accounts().admin_create(create).await.unwrap();
    ada.post_form("/orgs", &[("slug", "acme"), ("name", "Acme")]).await;
    ada.post_form("/orgs/acme/domains", &[("domain", "acme.test")]).await;
    let page = ada.get_text("/orgs/acme").await.1;
    let record = page.split("<code>").find(|s| s.starts_with("guildhall-verification=")).unwrap();
    dns.set_txt("acme.test", &[&record[..record.find('<').unwrap()]]);
    assert_eq!(ada.post_form("/orgs/acme/domains/acme.test/verify", &[]).await.status(), 303);

    // Only the org's admins set the policy; it is audited.
    let eve = app.signed_up("eve", PASSWORD, true).await;
    assert_eq!(eve.post_form("/orgs/acme/mfa-policy", &[("require_mfa", "1")]).await.status(), 404);
    let res = ada.post_form("/orgs/acme/mfa-policy", &[("require_mfa", "1")]).await;
    assert_eq!(res.headers()["location"], "/orgs/acme?notice=mfa-policy-saved");
    assert!(ada.get_text("/orgs/acme/audit").await.1.contains("org.mfa_required"));

    // Carol, managed and without a second factor, can only set one up.
    let carol = app.client();
    let res = carol.post_form("/login", &[("email", "carol@acme.test"), ("password", PASSWORD)]).await;
    assert_eq!(res.status(), 303);
    for path in ["/account", "/workspaces", "/orgs"] {
        let res = carol.get(path).await;
        assert_eq!(res.headers()["location"], "/account/security?notice=mfa-required", "{path}");
    }
    assert_eq!(carol.get("/account/security").await.status(), 200);
    let (product, _) = app
        .app
        .oauth()
        .create_product(guildhall_app::oauth::ProductInput {
            name: "Tracker",
            redirect_uris: &["http://127.0.0.1:9/cb".to_owned()],
            public: true,
            first_party: true,
            grant_types: &[],
            scopes: &[],
            homepage: None,
            owner: None,
        })
        .await
        .unwrap();
    let authorize = format!(
        "/oauth2/authorize?response_type=code&client_id={}&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb&scope=openid\
         &code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256",
        product.id
    );
    assert_eq!(carol.get(&authorize).await.headers()["location"], "/account/security?notice=mfa-required");
    // The JSON API with the session cookie is closed too (no new tokens).
    assert_eq!(carol.get("/api/v1/workspaces").await.status(), 403);
    // Ada, not managed, goes on as before.
    assert_eq!(ada.get("/workspaces").await.status(), 200);

    // Once set up, everything opens, and sign-in asks for the code.
    enrol(&app, &carol).await;
    assert_eq!(carol.get("/workspaces").await.status(), 200);
    assert_eq!(carol.get("/api/v1/workspaces").await.status(), 200);
    assert!(carol.get(&authorize).await.headers()["location"].to_str().unwrap().starts_with("http://127.0.0.1:9/cb"));
    password_step(&app, "carol@acme.test").await;
    // Lifting the policy lifts the block for others.
    ada.post_form("/orgs/acme/mfa-policy", &[]).await;
    let create = guildhall_app::accounts::AdminCreate {
        email: "dan@acme.test",
        username: "dan",
        display_name: None,
        password: PASSWORD,
        verified: true,
    };
    app.app.accounts().admin_create(create).await.unwrap();
    let dan = app.client();
    dan.post_form("/login", &[("email", "dan@acme.test"), ("password", PASSWORD)]).await;
    assert_eq!(dan.get("/workspaces").await.status(), 200);
}

/// The session cookie a response set, if any.
fn session_cookie(res: &reqwest::Response) -> Option<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix("gh_session=").map(|v| v.split(';').next().unwrap_or_default().to_owned()))
}

/// Whether a bare client holding only this session cookie is signed in.
async fn signed_in_with(app: &TestApp, cookie: &str) -> bool {
    let res = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(app.url("/account"))
        .header("cookie", format!("gh_session={cookie}"))
        .send()
        .await
        .unwrap();
    res.status() == 200
}

on_both_backends!(a_change_of_privilege_rotates_the_session_token, adding_a_factor_needs_a_recent_sign_in);

async fn adding_a_factor_needs_a_recent_sign_in(backend: Backend) {
    let app = spawn_app(backend).await;
    let ada = app.signed_up("ada", PASSWORD, true).await;
    app.clock.advance(Duration::from_secs(11 * 60));
    let res = ada.post_form("/account/security/totp", &[]).await;
    assert_eq!(res.status(), 303);
    assert!(res.headers()["location"].to_str().unwrap().starts_with("/login?return_to="));
    assert_eq!(ada.post_form("/account/security/passkeys/options", &[]).await.status(), 403);
    let account = app.app.accounts().by_username("ada").await.unwrap();
    assert!(!app.app.mfa().has_second_factor(&account).await.unwrap());
    // Signing in again opens it.
    let res = ada.post_form("/login", &[("email", "ada@example.com"), ("password", PASSWORD)]).await;
    assert_eq!(res.status(), 303);
    enrol(&app, &ada).await;
}

async fn a_change_of_privilege_rotates_the_session_token(backend: Backend) {
    let app = spawn_app(backend).await;
    app.signed_up("ada", PASSWORD, true).await;
    let b = app.client();
    let res = b.post_form("/login", &[("email", "ada@example.com"), ("password", PASSWORD)]).await;
    let first = session_cookie(&res).expect("a session cookie at sign-in");
    assert!(signed_in_with(&app, &first).await);

    // A new password: the old token stops working, the browser goes on.
    let res =
        b.post_form("/password/change", &[("current_password", PASSWORD), ("password", "an even better secret")]).await;
    let second = session_cookie(&res).expect("a new session cookie");
    assert_ne!(first, second);
    assert!(!signed_in_with(&app, &first).await, "the token from before the change still works");
    assert!(signed_in_with(&app, &second).await);
    assert_eq!(b.get("/account").await.status(), 200);

    // A second factor set up: rotated again.
    let res = b.post_form("/account/security/totp", &[]).await;
    let page = res.text().await.unwrap();
    let key = page.split("Key: <code>").nth(1).unwrap().split('<').next().unwrap().to_owned();
    let code = totp_code_base32(&key, now_secs(&app)).unwrap();
    let res = b.post_form("/account/security/totp/confirm", &[("code", &code)]).await;
    let third = session_cookie(&res).expect("a new session cookie");
    assert!(!signed_in_with(&app, &second).await);
    assert!(signed_in_with(&app, &third).await);
}
