//! The outbound SCIM provisioning loop (docs/provisioning.md): a round
//! every `provisioning_poll_ms`, and at once again while rounds find work.
//! Every node runs it; leases in the database keep each connection on one
//! node at a time. Failures are logged when they start and when they end.

use guildhall_app::App;

pub fn spawn(app: App) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let poll = app.settings().provisioning_poll;
        let mut failing = false;
        loop {
            let busy = match app.provisioning().run_once().await {
                Ok(round) => {
                    if failing {
                        failing = false;
                        tracing::info!("provisioning rounds run again");
                    }
                    round.claimed > 0
                }
                Err(e) => {
                    if !failing {
                        failing = true;
                        tracing::warn!(error = %e, "a provisioning round failed; retrying every poll interval");
                    }
                    false
                }
            };
            if !busy {
                tokio::time::sleep(poll).await;
            }
        }
    })
}
