//! Sites and their customer accounts: isolation between sites, and between
//! customers and global accounts.

use crate::spawn;
use guildhall_testkit::{Backend, Browser, TestApp, on_both_backends};

on_both_backends!(customers_exist_only_on_their_site, site_admins_manage_their_customers_only);

async fn customer(app: &TestApp, site: &str, email: &str, password: &str) -> (u16, Browser) {
    let b = app.client();
    let res = b.post_form(&format!("/sites/{site}/signup"), &[("email", email), ("password", password)]).await;
    (res.status().as_u16(), b)
}

async fn sign_in(app: &TestApp, site: &str, email: &str, password: &str) -> (u16, Browser) {
    let b = app.client();
    let res = b.post_form(&format!("/sites/{site}/login"), &[("email", email), ("password", password)]).await;
    (res.status().as_u16(), b)
}

async fn customers_exist_only_on_their_site(b: Backend) {
    let app = spawn(b).await;
    app.account("ada").await; // a global account ada@example.com, password "correct horse battery"
    app.app.sites().create("help", Some("Help desk"), Some("ada")).await.unwrap();
    app.app.sites().create("shop", Some("Shop"), Some("ada")).await.unwrap();
    // The same email: a customer of help, of shop, and a global account.
    let (status, help) = customer(&app, "help", "ada@example.com", "help desk secret").await;
    assert_eq!(status, 303);
    let (_, page) = help.get_text("/sites/help").await;
    assert!(page.contains("ada@example.com") && page.contains("Help desk"), "{page}");
    assert_eq!(customer(&app, "help", "ADA@example.com", "another secret!").await.0, 422, "a second help account");
    assert_eq!(customer(&app, "shop", "ada@example.com", "shop password!!").await.0, 303);
    // Passwords never cross over.
    assert_eq!(sign_in(&app, "shop", "ada@example.com", "help desk secret").await.0, 401);
    assert_eq!(sign_in(&app, "help", "ada@example.com", "correct horse battery").await.0, 401, "the global password");
    let global = app.client();
    let res = global.post_form("/login", &[("email", "ada@example.com"), ("password", "help desk secret")]).await;
    assert_eq!(res.status(), 401, "a customer password signed into the global account");
    // A customer session grants nothing outside its site.
    assert_eq!(help.get("/sites/shop").await.headers()["location"], "/sites/shop/login");
    assert_eq!(help.get("/account").await.status(), 303, "a customer reached the account page");
    let api = help.get("/api/v1/workspaces").await;
    assert_eq!(api.status(), 401, "a customer reached the API");
    // Even a stolen cookie is bound to its site on the server.
    let sites = app.app.sites();
    let (help_site, shop_site) = (sites.site("help").await.unwrap(), sites.site("shop").await.unwrap());
    let (_, token) = sites.signup(&help_site, "eve@example.org", "eve's password").await.unwrap();
    assert!(sites.customer(&help_site, token.expose()).await.unwrap().is_some());
    assert!(sites.customer(&shop_site, token.expose()).await.unwrap().is_none(), "a help session opened shop");
    let no_redirects = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let res = no_redirects
        .get(app.url("/sites/shop"))
        .header("cookie", format!("gh_customer={}", token.expose()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "a help cookie sent to shop was accepted");
    let (_, shop) = sign_in(&app, "shop", "ada@example.com", "shop password!!").await;
    assert_eq!(shop.get("/sites/shop").await.status(), 200);
    // Signing out ends it; bad input is refused.
    assert_eq!(help.post_form("/sites/help/logout", &[]).await.status(), 303);
    assert_eq!(help.get("/sites/help").await.status(), 303);
    assert_eq!(customer(&app, "help", "not-an-email", "long enough pw").await.0, 422);
    assert_eq!(customer(&app, "help", "short@example.com", "short").await.0, 422);
    assert_eq!(app.client().get("/sites/nope/signup").await.status(), 404);
}

async fn site_admins_manage_their_customers_only(b: Backend) {
    let app = spawn(b).await;
    app.account("ada").await;
    app.account("bob").await;
    app.app.sites().create("help", Some("Help desk"), Some("ada")).await.unwrap();
    app.app.sites().create("shop", Some("Shop"), Some("bob")).await.unwrap();
    let (_, carol) = customer(&app, "help", "carol@example.org", "carol's password").await;
    customer(&app, "shop", "dave@example.org", "dave's password").await;
    let ada = app.client();
    ada.post_form("/login", &[("email", "ada@example.com"), ("password", "correct horse battery")]).await;
    let (status, page) = ada.get_text("/sites/help/admin").await;
    assert_eq!(status, 200);
    assert!(page.contains("carol@example.org") && !page.contains("dave@example.org"), "{page}");
    assert_eq!(ada.get("/sites/shop/admin").await.status(), 404, "another site's admin page");
    // Deactivating ends the customer's session and sign-in.
    let id = page.split("/admin/customers/").nth(1).unwrap().split('/').next().unwrap().to_owned();
    let res = ada.post_form(&format!("/sites/help/admin/customers/{id}/status"), &[("status", "deactivated")]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(carol.get("/sites/help").await.status(), 303, "a deactivated customer's session lives");
    assert_eq!(sign_in(&app, "help", "carol@example.org", "carol's password").await.0, 403);
    // Another site's admin cannot touch help's customers, even by id.
    let bob = app.client();
    bob.post_form("/login", &[("email", "bob@example.com"), ("password", "correct horse battery")]).await;
    let res = bob.post_form(&format!("/sites/shop/admin/customers/{id}/status"), &[("status", "active")]).await;
    assert_eq!(res.status(), 404);
    assert_eq!(sign_in(&app, "help", "carol@example.org", "carol's password").await.0, 403, "bob reactivated carol");
    let res = ada.post_form(&format!("/sites/help/admin/customers/{id}/status"), &[("status", "active")]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(sign_in(&app, "help", "carol@example.org", "carol's password").await.0, 303);
    // A password reset: the admin sends it, the customer chooses a new one,
    // every session of theirs ends, and the link works once, on its site.
    let (_, carol) = sign_in(&app, "help", "carol@example.org", "carol's password").await;
    let res = ada.post_form(&format!("/sites/help/admin/customers/{id}/reset"), &[]).await;
    assert_eq!(res.headers()["location"], "/sites/help/admin?notice=reset-sent");
    let link = app.last_link("carol@example.org", "new password", "/sites/help/reset");
    let token = link.split("token=").nth(1).unwrap().to_owned();
    let res = app.client().post_form("/sites/shop/reset", &[("token", &token), ("password", "a new password")]).await;
    assert_eq!(res.status(), 400, "another site's reset page took the link");
    let res = app.client().post_form("/sites/help/reset", &[("token", &token), ("password", "short")]).await;
    assert_eq!(res.status(), 422);
    let res = app.client().post_form("/sites/help/reset", &[("token", &token), ("password", "a new password")]).await;
    assert_eq!(res.headers()["location"], "/sites/help/login");
    assert_eq!(carol.get("/sites/help").await.status(), 303, "a session survived the reset");
    assert_eq!(sign_in(&app, "help", "carol@example.org", "carol's password").await.0, 401);
    assert_eq!(sign_in(&app, "help", "carol@example.org", "a new password").await.0, 303);
    let res = app.client().post_form("/sites/help/reset", &[("token", &token), ("password", "another password")]).await;
    assert_eq!(res.status(), 400, "a reset link worked twice");
    let res = bob.post_form(&format!("/sites/shop/admin/customers/{id}/reset"), &[]).await;
    assert_eq!(res.status(), 404, "another site's admin reset help's customer");
    // A customer is no global account: the admin pages refuse them.
    assert_eq!(carol.get("/sites/help/admin").await.status(), 303);
}

/// Password spraying across a site's customers from one address is locked
/// out, as global sign-in is (per-address throttle, 50 failures by default).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn site_sign_in_is_throttled_per_address() {
    let app = spawn(Backend::Sqlite).await;
    app.account("ada").await;
    app.app.sites().create("help", None, Some("ada")).await.unwrap();
    assert_eq!(customer(&app, "help", "real@example.org", "the right password").await.0, 303);
    for i in 0..50 {
        let (status, _) = sign_in(&app, "help", &format!("guess{i}@example.org"), "wrong password").await;
        assert_eq!(status, 401, "attempt {i}");
    }
    let (status, _) = sign_in(&app, "help", "real@example.org", "the right password").await;
    assert_eq!(status, 429, "spraying from one address was not locked out");
}
