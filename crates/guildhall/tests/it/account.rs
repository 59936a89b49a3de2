use crate::spawn;
use guildhall_testkit::{Backend, on_both_backends};

on_both_backends!(
    the_account_page_lists_sessions_and_revoking_one_ends_it,
    revoking_someone_elses_session_changes_nothing,
    sign_out_ends_the_session_for_good,
    the_operator_must_replace_the_one_time_password,
);

/// The session ids listed on the account page, in order.
fn session_ids(page: &str) -> Vec<String> {
    page.match_indices("/account/sessions/")
        .map(|(i, _)| page[i + 18..].split('/').next().unwrap().to_owned())
        .collect()
}

async fn the_account_page_lists_sessions_and_revoking_one_ends_it(b: Backend) {
    let app = spawn(b).await;
    let laptop = app.signed_up("ada", "analytical engine", true).await;
    let phone = app.client();
    app.clock.advance(std::time::Duration::from_secs(1));
    assert_eq!(
        phone.post_form("/login", &[("email", "ada@example.com"), ("password", "analytical engine")]).await.status(),
        303
    );
    let (_, page) = laptop.get_text("/account").await;
    let ids = session_ids(&page);
    assert_eq!(ids.len(), 2, "{page}");
    assert!(page.contains("(this session)"));
    assert!(page.contains("127.0.0.1"), "the session list shows the address");
    // The newest session (the phone) is listed first.
    let res = laptop.post_form(&format!("/account/sessions/{}/revoke", ids[0]), &[]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/account?notice=session-revoked");
    assert_eq!(phone.get("/account").await.status(), 303, "the revoked session still works");
    assert_eq!(laptop.get("/account").await.status(), 200);
    let bad = laptop.post_form("/account/sessions/not-a-uuid/revoke", &[]).await;
    assert_eq!(bad.status(), 400);
}

async fn revoking_someone_elses_session_changes_nothing(b: Backend) {
    let app = spawn(b).await;
    let ada = app.signed_up("ada", "analytical engine", true).await;
    let bob = app.signed_up("bob", "difference engine", true).await;
    let (_, page) = bob.get_text("/account").await;
    let bobs = session_ids(&page);
    let res = ada.post_form(&format!("/account/sessions/{}/revoke", bobs[0]), &[]).await;
    assert_eq!(res.status(), 404);
    assert_eq!(bob.get("/account").await.status(), 200, "ada ended bob's session");
}

async fn sign_out_ends_the_session_for_good(b: Backend) {
    let app = spawn(b).await;
    let browser = app.signed_up("ada", "analytical engine", true).await;
    let (_, page) = browser.get_text("/account").await;
    let id = session_ids(&page).remove(0);
    // Keep a copy of the cookie to replay after signing out.
    let copy = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let login = app.client();
    let res = login.post_form("/login", &[("email", "ada@example.com"), ("password", "analytical engine")]).await;
    let stolen = res.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let (status, confirm) = login.get_text("/logout").await;
    assert_eq!(status, 200);
    assert!(confirm.contains("Sign out"));
    let res = login.post_form("/logout", &[]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/login?notice=signed-out");
    let replay = copy.get(app.url("/account")).header("cookie", &stolen).send().await.unwrap();
    assert_eq!(replay.status(), 303, "a signed-out session cookie still works");
    let (_, page) = browser.get_text("/account").await;
    assert!(session_ids(&page).contains(&id), "signing out one browser ended another");
}

async fn the_operator_must_replace_the_one_time_password(b: Backend) {
    let app = spawn(b).await;
    assert!(!app.operator_password.is_empty(), "no operator password was printed");
    let op = app.client();
    let res = op.post_form("/login", &[("email", "operator@localhost"), ("password", &app.operator_password)]).await;
    assert_eq!(res.status(), 303);
    let res = op.get("/account").await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/password/change");
    let api = app.api_as("operator", &["workspaces:read"]).await;
    assert_eq!(api.get("/account").await.0, 403, "a token worked before the one-time password was replaced");
    let wrong = op
        .post_form("/password/change", &[("current_password", "nope nope"), ("password", "operator's own secret")])
        .await;
    assert_eq!(wrong.status(), 422);
    let res = op
        .post_form(
            "/password/change",
            &[("current_password", &app.operator_password), ("password", "operator's own secret")],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(op.get("/account").await.status(), 200);
    assert_eq!(api.get("/account").await.0, 200);
    let old = app
        .client()
        .post_form("/login", &[("email", "operator@localhost"), ("password", &app.operator_password)])
        .await;
    assert_eq!(old.status(), 401, "the one-time password still works");
}
