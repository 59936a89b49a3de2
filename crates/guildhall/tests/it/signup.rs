use crate::{account_exists, page_error, spawn};
use guildhall_testkit::{Backend, on_both_backends};

on_both_backends!(
    sign_up_mails_a_verification_link_and_creates_an_unverified_account,
    sign_up_with_bad_fields_shows_each_error_and_creates_nothing,
    sign_up_with_a_taken_email_answers_the_same_and_tells_the_owner,
    sign_up_with_a_taken_username_is_refused,
);

async fn sign_up_mails_a_verification_link_and_creates_an_unverified_account(b: Backend) {
    let app = spawn(b).await;
    let browser = app.client();
    let (status, page) = browser.get_text("/signup").await;
    assert_eq!(status, 200);
    for field in ["name=\"email\"", "name=\"username\"", "name=\"display_name\"", "name=\"password\"", "name=\"csrf\""]
    {
        assert!(page.contains(field), "sign-up form lacks {field}");
    }
    let res = browser
        .post_form(
            "/signup",
            &[
                ("email", " Ada@Example.com "),
                ("username", "Ada"),
                ("display_name", "Ada Lovelace"),
                ("password", "analytical engine"),
            ],
        )
        .await;
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("Check your inbox"));
    let account = app.app.accounts().by_username("ada").await.unwrap();
    assert_eq!(account.email.as_str(), "Ada@Example.com");
    assert!(!account.email_verified);
    let mails = app.mails_to("ada@example.com", "Verify your email");
    assert_eq!(mails.len(), 1);
    assert!(mails[0].contains("Message-ID:") && mails[0].contains("Date:"), "not an RFC 5322 message: {}", mails[0]);
    assert!(app.last_link("ada@example.com", "Verify", "/verify").starts_with("/verify?token="));
    // Outbox files hold secret links: only the server's user may read them.
    #[cfg(unix)]
    for entry in std::fs::read_dir(app.data_dir.join("outbox")).unwrap() {
        use std::os::unix::fs::PermissionsExt;
        let mode = entry.unwrap().metadata().unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "an outbox file is readable by others");
    }
}

async fn sign_up_with_bad_fields_shows_each_error_and_creates_nothing(b: Backend) {
    let app = spawn(b).await;
    let browser = app.client();
    let cases: [(&str, &str, &str, &str, &str); 6] = [
        ("not-an-email", "ada", "Ada", "analytical engine", "email address like"),
        ("ada@example.com", "a", "Ada", "analytical engine", "A username has"),
        ("ada@example.com", "ada", "   ", "analytical engine", "display name"),
        ("ada@example.com", "ada", "Ada", "short", "at least 8 characters"),
        ("ada@example.com", "ada", "Ada", "Password123", "too common"),
        ("ada@example.com", "ada", "Ada", &"x".repeat(1025), "at most 1024 bytes"),
    ];
    for (email, username, name, password, message) in cases {
        let res = browser
            .post_form(
                "/signup",
                &[("email", email), ("username", username), ("display_name", name), ("password", password)],
            )
            .await;
        assert_eq!(res.status(), 422, "{email} {username} {password:.10}");
        let body = res.text().await.unwrap();
        assert!(body.contains(message), "expected {message:?} in the form");
        assert!(body.contains("aria-invalid=\"true\""));
        assert!(!body.contains(password) || password.len() < 8, "the password was echoed back");
    }
    assert!(!account_exists(&app, "ada@example.com").await);
    assert!(app.outbox().is_empty(), "mail sent for a refused sign-up");
}

async fn sign_up_with_a_taken_email_answers_the_same_and_tells_the_owner(b: Backend) {
    let app = spawn(b).await;
    let browser = app.client();
    let first = browser
        .post_form(
            "/signup",
            &[
                ("email", "ada@example.com"),
                ("username", "ada"),
                ("display_name", "Ada"),
                ("password", "analytical engine"),
            ],
        )
        .await;
    let first_body = first.text().await.unwrap();
    let second = browser
        .post_form(
            "/signup",
            &[
                ("email", "ADA@example.com"),
                ("username", "ada2"),
                ("display_name", "Eve"),
                ("password", "another password"),
            ],
        )
        .await;
    assert_eq!(second.status(), 200);
    let second_body = second.text().await.unwrap();
    assert_eq!(
        first_body.replace("ada@example.com", "X"),
        second_body.replace("ADA@example.com", "X"),
        "the answer reveals the email exists"
    );
    assert!(app.app.accounts().by_username("ada2").await.is_err(), "a second account was created");
    assert_eq!(app.mails_to("ada@example.com", "You already have an account").len(), 1);
}

async fn sign_up_with_a_taken_username_is_refused(b: Backend) {
    let app = spawn(b).await;
    let browser = app.client();
    browser
        .post_form(
            "/signup",
            &[
                ("email", "ada@example.com"),
                ("username", "ada"),
                ("display_name", "Ada"),
                ("password", "analytical engine"),
            ],
        )
        .await;
    let res = browser
        .post_form(
            "/signup",
            &[
                ("email", "bob@example.com"),
                ("username", "ADA"),
                ("display_name", "Bob"),
                ("password", "difference engine"),
            ],
        )
        .await;
    assert_eq!(res.status(), 422);
    assert!(page_error(&res.text().await.unwrap()).is_some());
    assert!(!account_exists(&app, "bob@example.com").await);
}
