use crate::{page_error, spawn};
use guildhall_core::accounts::AccountStatus;
use guildhall_testkit::{Backend, hidden_value, on_both_backends};
use std::time::Duration;

on_both_backends!(
    identifier_first_asks_for_the_password_after_next,
    the_single_step_form_signs_in,
    wrong_password_and_unknown_email_get_the_same_answer,
    failed_sign_ins_lock_the_account_for_a_while,
    a_successful_sign_in_forgets_earlier_failures,
    parallel_guesses_cannot_slip_past_the_lockout,
    failed_sign_ins_are_throttled_per_source_address,
    a_deactivated_account_cannot_sign_in,
    return_to_is_honoured_only_for_same_origin_paths,
    an_unverified_account_can_sign_in,
);

async fn identifier_first_asks_for_the_password_after_next(b: Backend) {
    let app = spawn(b).await;
    app.signed_up("ada", "analytical engine", true).await;
    let browser = app.client();
    let (status, page) = browser.get_text("/login").await;
    assert_eq!(status, 200);
    assert!(page.contains("name=\"email\"") && page.contains(">Next<"));
    assert!(!page.contains("name=\"password\""), "step one shows a password field");

    let res = browser.post_form("/login", &[("email", "ada@example.com")]).await;
    assert_eq!(res.status(), 200);
    let page = res.text().await.unwrap();
    assert!(page.contains("name=\"password\""));
    assert_eq!(hidden_value(&page, "email").as_deref(), Some("ada@example.com"));

    let bad = browser.post_form("/login", &[("email", "not an email")]).await;
    assert_eq!(bad.status(), 422);

    let res = browser.post_form("/login", &[("email", "ada@example.com"), ("password", "analytical engine")]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/account");
    let (status, account) = browser.get_text("/account").await;
    assert_eq!(status, 200);
    assert!(account.contains("ada@example.com"));
}

async fn the_single_step_form_signs_in(b: Backend) {
    let app = spawn(b).await;
    app.signed_up("ada", "analytical engine", true).await;
    let browser = app.client();
    let (_, page) = browser.get_text("/login?form=single").await;
    assert!(page.contains("name=\"email\"") && page.contains("name=\"password\""));
    assert_eq!(hidden_value(&page, "form").as_deref(), Some("single"));
    let res = browser
        .post_form("/login", &[("email", "ADA@example.com"), ("password", "analytical engine"), ("form", "single")])
        .await;
    assert_eq!(res.status(), 303);
    let cookie = res.headers().get("set-cookie").unwrap().to_str().unwrap().to_owned();
    assert!(cookie.starts_with("gh_session="));
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"), "{cookie}");
}

async fn wrong_password_and_unknown_email_get_the_same_answer(b: Backend) {
    let app = spawn(b).await;
    app.signed_up("ada", "analytical engine", true).await;
    let browser = app.client();
    let wrong = browser.post_form("/login", &[("email", "ada@example.com"), ("password", "wrong password")]).await;
    let unknown = browser.post_form("/login", &[("email", "nobody@example.com"), ("password", "wrong password")]).await;
    assert_eq!(wrong.status(), 401);
    assert_eq!(unknown.status(), 401);
    let (wrong, unknown) = (wrong.text().await.unwrap(), unknown.text().await.unwrap());
    assert_eq!(page_error(&wrong).as_deref(), Some("Email or password is incorrect."));
    assert_eq!(page_error(&wrong), page_error(&unknown));
    assert_eq!(wrong.replace("ada@example.com", "X"), unknown.replace("nobody@example.com", "X"));
}

async fn failed_sign_ins_lock_the_account_for_a_while(b: Backend) {
    let app = spawn(b).await;
    app.signed_up("ada", "analytical engine", true).await;
    let browser = app.client();
    for _ in 0..5 {
        let res = browser.post_form("/login", &[("email", "ada@example.com"), ("password", "guess guess")]).await;
        assert_eq!(res.status(), 401);
    }
    let right = browser.post_form("/login", &[("email", "ada@example.com"), ("password", "analytical engine")]).await;
    assert_eq!(right.status(), 429, "the right password got through a lockout");
    assert!(page_error(&right.text().await.unwrap()).unwrap().contains("Try again in 15 minutes"));
    // The owner is told, once per lockout.
    browser.post_form("/login", &[("email", "ada@example.com"), ("password", "guess guess")]).await;
    let notices = app.mails_to("ada@example.com", "Sign-in to your account is paused");
    assert_eq!(notices.len(), 1);
    assert!(notices[0].contains("paused for 15 minutes"), "{}", notices[0]);
    // An unknown email locks the same way, so a lockout reveals nothing.
    for _ in 0..5 {
        browser.post_form("/login", &[("email", "nobody@example.com"), ("password", "guess guess")]).await;
    }
    assert_eq!(browser.post_form("/login", &[("email", "nobody@example.com"), ("password", "x")]).await.status(), 429);
    assert!(app.mails_to("nobody@example.com", "paused").is_empty());
    // The next lockout in a row lasts twice as long.
    app.clock.advance(Duration::from_secs(15 * 60 + 1));
    for _ in 0..5 {
        browser.post_form("/login", &[("email", "ada@example.com"), ("password", "guess guess")]).await;
    }
    let again = browser.post_form("/login", &[("email", "ada@example.com"), ("password", "analytical engine")]).await;
    assert!(page_error(&again.text().await.unwrap()).unwrap().contains("Try again in 30 minutes"));
    app.clock.advance(Duration::from_secs(30 * 60 + 1));
    let later = browser.post_form("/login", &[("email", "ada@example.com"), ("password", "analytical engine")]).await;
    assert_eq!(later.status(), 303);
}

/// Two nodes on one PostgreSQL database share the counters: guesses spread
/// over both lock the account on both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_share_the_lockout() {
    let a = guildhall_testkit::spawn_app(Backend::Postgres).await;
    let (db, key) = (a.settings.database_url.clone(), a.data_dir.join("master.key"));
    let b = guildhall_testkit::spawn_app_with(Backend::Postgres, |s| {
        s.database_url = db;
        s.master_key_file = Some(key);
    })
    .await;
    a.signed_up("ada", "analytical engine", true).await;
    let (on_a, on_b) = (a.client(), b.client());
    for i in 0..5 {
        let node = if i % 2 == 0 { &on_a } else { &on_b };
        let res = node.post_form("/login", &[("email", "ada@example.com"), ("password", "guess guess")]).await;
        assert_eq!(res.status(), 401);
    }
    for node in [&on_a, &on_b] {
        let res = node.post_form("/login", &[("email", "ada@example.com"), ("password", "analytical engine")]).await;
        assert_eq!(res.status(), 429, "a node let the right password through a shared lockout");
    }
}

async fn a_successful_sign_in_forgets_earlier_failures(b: Backend) {
    let app = spawn(b).await;
    app.signed_up("ada", "analytical engine", true).await;
    let browser = app.client();
    for round in 0..2 {
        for _ in 0..4 {
            let res = browser.post_form("/login", &[("email", "ada@example.com"), ("password", "guess guess")]).await;
            assert_eq!(res.status(), 401, "round {round}");
        }
        let res = browser.post_form("/login", &[("email", "ada@example.com"), ("password", "analytical engine")]).await;
        assert_eq!(res.status(), 303, "round {round}: eight failures in two rounds locked the account");
    }
}

async fn parallel_guesses_cannot_slip_past_the_lockout(b: Backend) {
    let app = spawn(b).await;
    app.signed_up("ada", "analytical engine", true).await;
    let browser = app.client();
    let csrf = browser.csrf().await;
    let guesses: Vec<_> = (0..20)
        .map(|i| {
            let (b, csrf) = (browser.clone(), csrf.clone());
            tokio::spawn(async move {
                let guess = format!("guess number {i}");
                b.post_raw("/login", &[("email", "ada@example.com"), ("password", &guess), ("csrf", &csrf)])
                    .await
                    .status()
                    .as_u16()
            })
        })
        .collect();
    let mut checked = 0;
    for g in guesses {
        match g.await.unwrap() {
            401 => checked += 1,
            429 => {}
            other => panic!("unexpected status {other}"),
        }
    }
    assert!(checked <= 5, "{checked} parallel guesses were checked; the limit is 5");
    let right = browser.post_form("/login", &[("email", "ada@example.com"), ("password", "analytical engine")]).await;
    assert_eq!(right.status(), 429);
}

async fn failed_sign_ins_are_throttled_per_source_address(b: Backend) {
    let app = spawn(b).await;
    app.signed_up("ada", "analytical engine", true).await;
    let browser = app.client();
    // 50 failures spread over many accounts from one address.
    for i in 0..50 {
        let email = format!("user{i}@example.com");
        assert_eq!(browser.post_form("/login", &[("email", &email), ("password", "guess guess")]).await.status(), 401);
    }
    let res = browser.post_form("/login", &[("email", "ada@example.com"), ("password", "analytical engine")]).await;
    assert_eq!(res.status(), 429, "the address was not throttled");
}

async fn a_deactivated_account_cannot_sign_in(b: Backend) {
    let app = spawn(b).await;
    let signed_in = app.signed_up("ada", "analytical engine", true).await;
    app.app.accounts().set_status("ada", AccountStatus::Deactivated).await.unwrap();
    let (status, _) = signed_in.get_text("/account").await;
    assert_eq!(status, 303, "a deactivated account's session still works");
    let res =
        app.client().post_form("/login", &[("email", "ada@example.com"), ("password", "analytical engine")]).await;
    assert_eq!(res.status(), 403);
    assert!(res.headers().get("set-cookie").is_none_or(|c| !c.to_str().unwrap().contains("gh_session")));
    app.app.accounts().set_status("ada", AccountStatus::Active).await.unwrap();
    let res =
        app.client().post_form("/login", &[("email", "ada@example.com"), ("password", "analytical engine")]).await;
    assert_eq!(res.status(), 303);
}

async fn return_to_is_honoured_only_for_same_origin_paths(b: Backend) {
    let app = spawn(b).await;
    app.signed_up("ada", "analytical engine", true).await;
    let cases = [
        ("/account?tab=sessions", "/account?tab=sessions"),
        ("//evil.example/x", "/account"),
        ("https://evil.example/", "/account"),
        ("/\\evil.example", "/account"),
        ("javascript:alert(1)", "/account"),
    ];
    for (return_to, expected) in cases {
        let browser = app.client();
        let (_, page) = browser.get_text(&format!("/login?return_to={}", urlencode(return_to))).await;
        let kept = hidden_value(&page, "return_to").unwrap();
        assert!(kept.is_empty() || kept == return_to);
        let res = browser
            .post_form(
                "/login",
                &[("email", "ada@example.com"), ("password", "analytical engine"), ("return_to", return_to)],
            )
            .await;
        assert_eq!(res.status(), 303);
        assert_eq!(res.headers()["location"], expected, "return_to {return_to}");
    }
    // A page that needs sign-in sends the browser back to it afterwards.
    let browser = app.client();
    let res = browser.get("/account?tab=sessions").await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/login?return_to=%2Faccount%3Ftab%3Dsessions");
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

async fn an_unverified_account_can_sign_in(b: Backend) {
    let app = spawn(b).await;
    let browser = app.signed_up("ada", "analytical engine", false).await;
    let (status, page) = browser.get_text("/account").await;
    assert_eq!(status, 200);
    assert!(page.contains("(not verified)"));
    assert!(page.contains("Send a new verification link"));
}

/// Behind TLS (an https public URL) cookies are `Secure` and `__Host-`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookies_are_secure_behind_tls() {
    let app =
        guildhall_testkit::spawn_app_with(Backend::Sqlite, |s| s.public_url = Some("https://id.example.test".into()))
            .await;
    app.app
        .accounts()
        .admin_create(guildhall_app::accounts::AdminCreate {
            email: "ada@example.com",
            username: "ada",
            display_name: None,
            password: "analytical engine",
            verified: true,
        })
        .await
        .unwrap();
    // A plain client: reqwest's cookie store rightly keeps Secure cookies off http.
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let local = &app.local_url;
    let res = http.get(format!("{local}/login")).send().await.unwrap();
    let csrf_cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(csrf_cookie.starts_with("__Host-gh_csrf="), "{csrf_cookie}");
    assert!(csrf_cookie.contains("Secure") && csrf_cookie.contains("Path=/"), "{csrf_cookie}");
    let pair = csrf_cookie.split(';').next().unwrap().to_owned();
    let token = pair.split_once('=').unwrap().1.to_owned();
    let res = http
        .post(format!("{local}/login"))
        .header("cookie", &pair)
        .form(&[("email", "ada@example.com"), ("password", "analytical engine"), ("csrf", &token)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let session = res.headers()["set-cookie"].to_str().unwrap();
    assert!(session.starts_with("__Host-gh_session="), "{session}");
    for flag in ["HttpOnly", "SameSite=Lax", "Secure", "Path=/"] {
        assert!(session.contains(flag), "{session} lacks {flag}");
    }
}
