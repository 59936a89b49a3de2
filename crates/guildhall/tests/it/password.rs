use crate::spawn;
use guildhall_testkit::{Backend, hidden_value, on_both_backends};
use std::time::Duration;

on_both_backends!(
    a_password_reset_sets_the_password_and_ends_other_sessions,
    forgot_password_answers_the_same_for_unknown_addresses,
    a_reset_link_works_once_and_expires,
    a_weak_new_password_is_refused_and_the_link_still_works,
    changing_the_password_needs_the_current_one_and_ends_other_sessions,
    a_password_reset_revokes_access_tokens,
);

async fn a_password_reset_revokes_access_tokens(b: Backend) {
    let app = spawn(b).await;
    app.signed_up("ada", "analytical engine", true).await;
    let api = app.api_as("ada", &["workspaces:read"]).await;
    assert_eq!(api.get("/account").await.0, 200);
    let token = request_reset(&app, "ada@example.com").await;
    assert_eq!(
        app.client()
            .post_form("/password/reset", &[("token", &token), ("password", "a brand new secret")])
            .await
            .status(),
        303
    );
    assert_eq!(api.get("/account").await.0, 401, "a token survived the reset");
}

async fn request_reset(app: &guildhall_testkit::TestApp, email: &str) -> String {
    let res = app.client().post_form("/password/forgot", &[("email", email)]).await;
    assert_eq!(res.status(), 200);
    let link = app.last_link(email, "Reset your password", "/password/reset");
    link.split("token=").nth(1).unwrap().to_owned()
}

async fn a_password_reset_sets_the_password_and_ends_other_sessions(b: Backend) {
    let app = spawn(b).await;
    let other_device = app.signed_up("ada", "analytical engine", true).await;
    let token = request_reset(&app, "ada@example.com").await;
    let browser = app.client();
    let (status, form) = browser.get_text(&format!("/password/reset?token={token}")).await;
    assert_eq!(status, 200);
    assert_eq!(hidden_value(&form, "token").as_deref(), Some(token.as_str()));
    let res = browser.post_form("/password/reset", &[("token", &token), ("password", "a brand new secret")]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/login?notice=password-reset");
    assert_eq!(other_device.get("/account").await.status(), 303, "the other session survived the reset");
    let old =
        app.client().post_form("/login", &[("email", "ada@example.com"), ("password", "analytical engine")]).await;
    assert_eq!(old.status(), 401);
    let new =
        app.client().post_form("/login", &[("email", "ada@example.com"), ("password", "a brand new secret")]).await;
    assert_eq!(new.status(), 303);
}

async fn forgot_password_answers_the_same_for_unknown_addresses(b: Backend) {
    let app = spawn(b).await;
    app.signed_up("ada", "analytical engine", true).await;
    let browser = app.client();
    let known = browser.post_form("/password/forgot", &[("email", "ada@example.com")]).await;
    let unknown = browser.post_form("/password/forgot", &[("email", "nobody@example.com")]).await;
    assert_eq!((known.status().as_u16(), unknown.status().as_u16()), (200, 200));
    assert_eq!(known.text().await.unwrap(), unknown.text().await.unwrap());
    assert_eq!(app.mails_to("ada@example.com", "Reset").len(), 1);
    assert!(app.mails_to("nobody@example.com", "").is_empty());
    let bad = browser.post_form("/password/forgot", &[("email", "nonsense")]).await;
    assert_eq!(bad.status(), 422);
    // Repeated requests for one address are capped silently.
    for _ in 0..5 {
        assert_eq!(browser.post_form("/password/forgot", &[("email", "ada@example.com")]).await.status(), 200);
    }
    assert_eq!(app.mails_to("ada@example.com", "Reset").len(), 3, "reset mails are not rate limited");
    // One client asking for many addresses is capped too.
    app.account("bob").await;
    for i in 0..50 {
        browser.post_form("/password/forgot", &[("email", &format!("someone{i}@example.com"))]).await;
    }
    assert_eq!(browser.post_form("/password/forgot", &[("email", "bob@example.com")]).await.status(), 200);
    assert!(app.mails_to("bob@example.com", "Reset").is_empty(), "one client mailed many people");
}

async fn a_reset_link_works_once_and_expires(b: Backend) {
    let app = spawn(b).await;
    app.signed_up("ada", "analytical engine", true).await;
    let token = request_reset(&app, "ada@example.com").await;
    let browser = app.client();
    assert_eq!(
        browser.post_form("/password/reset", &[("token", &token), ("password", "a brand new secret")]).await.status(),
        303
    );
    assert_eq!(
        browser.post_form("/password/reset", &[("token", &token), ("password", "yet another secret")]).await.status(),
        400
    );
    assert_eq!(browser.get(&format!("/password/reset?token={token}")).await.status(), 400);

    let token = request_reset(&app, "ada@example.com").await;
    app.clock.advance(Duration::from_secs(3601));
    assert_eq!(
        browser.post_form("/password/reset", &[("token", &token), ("password", "yet another secret")]).await.status(),
        400
    );
    let still =
        app.client().post_form("/login", &[("email", "ada@example.com"), ("password", "a brand new secret")]).await;
    assert_eq!(still.status(), 303, "an expired link changed the password");
}

async fn a_weak_new_password_is_refused_and_the_link_still_works(b: Backend) {
    let app = spawn(b).await;
    app.signed_up("ada", "analytical engine", true).await;
    let token = request_reset(&app, "ada@example.com").await;
    let browser = app.client();
    let weak = browser.post_form("/password/reset", &[("token", &token), ("password", "password1")]).await;
    assert_eq!(weak.status(), 422);
    assert!(weak.text().await.unwrap().contains("too common"));
    assert_eq!(
        browser.post_form("/password/reset", &[("token", &token), ("password", "a brand new secret")]).await.status(),
        303
    );
}

async fn changing_the_password_needs_the_current_one_and_ends_other_sessions(b: Backend) {
    let app = spawn(b).await;
    let here = app.signed_up("ada", "analytical engine", true).await;
    let elsewhere = app.client();
    elsewhere.post_form("/login", &[("email", "ada@example.com"), ("password", "analytical engine")]).await;
    let wrong = here
        .post_form("/password/change", &[("current_password", "not it at all"), ("password", "a brand new secret")])
        .await;
    assert_eq!(wrong.status(), 422);
    assert_eq!(elsewhere.get("/account").await.status(), 200, "a refused change ended a session");
    let res = here
        .post_form("/password/change", &[("current_password", "analytical engine"), ("password", "a brand new secret")])
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(here.get("/account").await.status(), 200, "the changing session ended");
    assert_eq!(elsewhere.get("/account").await.status(), 303, "another session survived the change");
}
