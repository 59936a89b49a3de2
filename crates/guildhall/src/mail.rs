//! The `Mailer` adapter: every message is written as an RFC 5322 `.eml` file
//! under `DATA_DIR/outbox/` before `send` returns, then delivered over SMTP in
//! the background when an SMTP URL is configured (with retries).
//!
//! Bodies hold secret links, so only the subject and file name are logged.

use async_trait::async_trait;
use guildhall_app::ports::{MailError, Mailer, OutgoingMail};
use lettre::message::{Mailbox, Message, header::ContentType};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use std::path::PathBuf;
use std::time::Duration;

pub struct OutboxMailer {
    outbox: PathBuf,
    from: Mailbox,
    smtp: Option<AsyncSmtpTransport<Tokio1Executor>>,
}

impl OutboxMailer {
    pub fn new(outbox: PathBuf, from: &str, smtp_url: Option<&str>) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&outbox)
            .map_err(|e| anyhow::anyhow!("cannot create outbox {}: {e}", outbox.display()))?;
        let from = from.parse().map_err(|e| anyhow::anyhow!("mail_from is not a mailbox: {e}"))?;
        let smtp = smtp_url
            .map(|url| {
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map(|b| b.timeout(Some(Duration::from_secs(20))).build())
                    .map_err(|e| anyhow::anyhow!("smtp_url is not usable: {e}"))
            })
            .transpose()?;
        Ok(Self { outbox, from, smtp })
    }

    fn build(&self, mail: &OutgoingMail) -> Result<Message, MailError> {
        let to = Mailbox::new(
            mail.to_name.clone(),
            mail.to.as_str().parse().map_err(|e| MailError(format!("recipient: {e}")))?,
        );
        let domain = self.from.email.domain().to_owned();
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(&mail.subject)
            .message_id(Some(format!("<{}@{domain}>", uuid::Uuid::new_v4())))
            .header(ContentType::TEXT_PLAIN)
            .body(mail.text.clone())
            .map_err(|e| MailError(e.to_string()))
    }
}

#[async_trait]
impl Mailer for OutboxMailer {
    async fn send(&self, mail: OutgoingMail) -> Result<(), MailError> {
        let message = self.build(&mail)?;
        let name =
            format!("{}-{}.eml", time::OffsetDateTime::now_utc().unix_timestamp_nanos(), uuid::Uuid::new_v4().simple());
        let tmp = self.outbox.join(format!(".{name}.tmp"));
        tokio::fs::write(&tmp, message.formatted()).await.map_err(|e| MailError(e.to_string()))?;
        // Messages carry secret links: readable by the server's user only.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            tokio::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))
                .await
                .map_err(|e| MailError(e.to_string()))?;
        }
        tokio::fs::rename(&tmp, self.outbox.join(&name)).await.map_err(|e| MailError(e.to_string()))?;
        tracing::info!(subject = %mail.subject, file = %name, "mail written to outbox");
        if let Some(smtp) = self.smtp.clone() {
            tokio::spawn(deliver(smtp, message, name));
        }
        Ok(())
    }
}

async fn deliver(smtp: AsyncSmtpTransport<Tokio1Executor>, message: Message, name: String) {
    let mut delay = Duration::from_secs(1);
    for attempt in 1..=5 {
        match smtp.send(message.clone()).await {
            Ok(_) => {
                tracing::info!(file = %name, attempt, "mail delivered over SMTP");
                return;
            }
            Err(e) => {
                tracing::warn!(file = %name, attempt, error = %e, "SMTP delivery failed");
                tokio::time::sleep(delay).await;
                delay *= 4;
            }
        }
    }
    tracing::error!(file = %name, "SMTP delivery gave up; the message stays in the outbox");
}
