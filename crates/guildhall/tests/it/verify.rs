use crate::spawn;
use guildhall_testkit::{Backend, on_both_backends};
use std::time::Duration;

on_both_backends!(
    a_verification_link_works_once,
    an_expired_verification_link_is_refused,
    resend_kills_the_old_link_and_is_rate_limited,
    a_malformed_token_is_refused,
);

fn token_of(link: &str) -> String {
    link.split("token=").nth(1).unwrap().to_owned()
}

async fn a_verification_link_works_once(b: Backend) {
    let app = spawn(b).await;
    let browser = app.signed_up("ada", "analytical engine", false).await;
    let link = app.last_link("ada@example.com", "Verify", "/verify");
    // Opening the link shows a button; it does not spend the token.
    let (status, page) = browser.get_text(&link).await;
    assert_eq!(status, 200);
    assert!(page.contains("Verify my email address"));
    assert!(!app.app.accounts().by_username("ada").await.unwrap().email_verified);
    let res = browser.post_form("/verify", &[("token", &token_of(&link))]).await;
    assert_eq!(res.status(), 200);
    assert!(app.app.accounts().by_username("ada").await.unwrap().email_verified);
    let again = browser.post_form("/verify", &[("token", &token_of(&link))]).await;
    assert_eq!(again.status(), 400);
    assert!(again.text().await.unwrap().contains("already used"));
}

async fn an_expired_verification_link_is_refused(b: Backend) {
    let app = spawn(b).await;
    let browser = app.signed_up("ada", "analytical engine", false).await;
    let link = app.last_link("ada@example.com", "Verify", "/verify");
    app.clock.advance(Duration::from_secs(24 * 3600 + 1));
    let res = browser.post_form("/verify", &[("token", &token_of(&link))]).await;
    assert_eq!(res.status(), 400);
    assert!(!app.app.accounts().by_username("ada").await.unwrap().email_verified);
}

async fn resend_kills_the_old_link_and_is_rate_limited(b: Backend) {
    let app = spawn(b).await;
    let browser = app.signed_up("ada", "analytical engine", false).await;
    let first = app.last_link("ada@example.com", "Verify", "/verify");
    for _ in 0..3 {
        let res = browser.post_form("/verify/resend", &[]).await;
        assert_eq!(res.status(), 303);
        assert_eq!(res.headers()["location"], "/account?notice=verification-sent");
    }
    let limited = browser.post_form("/verify/resend", &[]).await;
    assert_eq!(limited.status(), 429);
    assert_eq!(app.mails_to("ada@example.com", "Verify").len(), 4, "a rate-limited resend still mailed");
    let newest = app.last_link("ada@example.com", "Verify", "/verify");
    assert_ne!(first, newest);
    assert_eq!(
        browser.post_form("/verify", &[("token", &token_of(&first))]).await.status(),
        400,
        "the old link still works"
    );
    assert_eq!(browser.post_form("/verify", &[("token", &token_of(&newest))]).await.status(), 200);
    // Once verified, asking again is refused clearly.
    app.clock.advance(Duration::from_secs(3601));
    assert_eq!(browser.post_form("/verify/resend", &[]).await.status(), 409);
}

async fn a_malformed_token_is_refused(b: Backend) {
    let app = spawn(b).await;
    let browser = app.client();
    for bad in ["", "abc", "%00", &"A".repeat(500)] {
        assert_eq!(browser.post_form("/verify", &[("token", bad)]).await.status(), 400);
    }
}
