//! The SMTP path, against a real SMTP server process (aiosmtpd).

use guildhall_testkit::smtp::SmtpServer;
use guildhall_testkit::{Backend, spawn_app_with};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_goes_to_the_outbox_and_over_smtp() {
    let smtp = SmtpServer::start().await.unwrap();
    let url = smtp.url();
    let app = spawn_app_with(Backend::Sqlite, |s| s.smtp_url = Some(guildhall::settings::Secret(url))).await;
    let res = app
        .client()
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
    assert_eq!(res.status(), 200);
    let outbox_link = app.last_link("ada@example.com", "Verify", "/verify");
    let received = smtp.wait_for("Verify your email address", Duration::from_secs(20)).await.unwrap();
    assert!(received.contains("ada@example.com"));
    let smtp_link = guildhall_testkit::link_in(&received, &format!("{}/verify", app.base_url)).unwrap();
    assert_eq!(smtp_link, outbox_link, "SMTP and outbox copies differ");
}
