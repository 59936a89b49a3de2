//! Two-step sign-in: an authenticator app (TOTP, with the test's clock),
//! recovery codes, the second step after the password, and its limits.

use guildhall_core::mfa::totp_code_base32;
use guildhall_testkit::{Backend, Browser, TestApp, on_both_backends, spawn_app};
use std::time::Duration;

on_both_backends!(
    an_authenticator_adds_a_second_step_whose_codes_work_once,
    recovery_codes_work_once_and_removing_needs_the_password
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
