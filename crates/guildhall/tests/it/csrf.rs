use crate::{account_exists, spawn};
use guildhall_testkit::{Backend, on_both_backends};

on_both_backends!(a_form_without_its_csrf_token_is_refused_and_changes_nothing, cross_site_posts_are_refused);

async fn a_form_without_its_csrf_token_is_refused_and_changes_nothing(b: Backend) {
    let app = spawn(b).await;
    let browser = app.client();
    browser.csrf().await;
    let fields =
        [("email", "ada@example.com"), ("username", "ada"), ("display_name", "Ada"), ("password", "analytical engine")];
    let res = browser.post_raw("/signup", &fields).await;
    assert_eq!(res.status(), 403);
    let mut forged = fields.to_vec();
    forged.push(("csrf", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
    assert_eq!(browser.post_raw("/signup", &forged).await.status(), 403);
    // A token from another browser does not fit this browser's cookie.
    let other = app.client().csrf().await;
    let mut borrowed = fields.to_vec();
    borrowed.push(("csrf", &other));
    assert_eq!(browser.post_raw("/signup", &borrowed).await.status(), 403);
    assert!(!account_exists(&app, "ada@example.com").await);
    // A signed-in action is protected the same way.
    let ada = app.signed_up("bob", "difference engine", true).await;
    assert_eq!(ada.post_raw("/logout", &[]).await.status(), 403);
    assert_eq!(ada.get("/account").await.status(), 200, "a forged sign-out ended the session");
}

async fn cross_site_posts_are_refused(b: Backend) {
    let app = spawn(b).await;
    let browser = app.client();
    let csrf = browser.csrf().await;
    let form = [
        ("email", "ada@example.com"),
        ("username", "ada"),
        ("display_name", "Ada"),
        ("password", "analytical engine"),
        ("csrf", &csrf),
    ];
    let post = |headers: &'static [(&'static str, &'static str)]| {
        let mut req = browser.http.post(app.url("/signup")).form(&form);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req.send()
    };
    assert_eq!(post(&[("sec-fetch-site", "cross-site")]).await.unwrap().status(), 403);
    assert_eq!(post(&[("origin", "https://evil.example")]).await.unwrap().status(), 403);
    assert!(!account_exists(&app, "ada@example.com").await);
    assert_eq!(post(&[("sec-fetch-site", "same-origin")]).await.unwrap().status(), 200);
    assert!(account_exists(&app, "ada@example.com").await);
}
