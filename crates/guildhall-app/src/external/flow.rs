//! The state of one upstream round trip, kept by the browser in a cookie
//! sealed under the master key (so it cannot be read or forged), and bound
//! to the `state` parameter the provider sends back (RFC 6749 §10.12): a
//! callback from someone else's browser, or a replayed one after the cookie
//! is cleared, finds no matching flow.

use crate::App;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

/// How long a person may take at the provider.
pub(crate) const FLOW_TTL: std::time::Duration = std::time::Duration::from_secs(600);

const AAD: &[u8] = b"guildhall upstream flow v1";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Flow {
    pub provider: String,
    pub state: String,
    pub nonce: String,
    pub verifier: String,
    pub intent: FlowIntent,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum FlowIntent {
    SignIn { return_to: String, client_id: String },
    Connect { account: uuid::Uuid, session: uuid::Uuid },
}

impl Flow {
    pub(crate) fn seal(&self, app: &App) -> Result<String, crate::AppError> {
        app.seal_for(AAD, self, FLOW_TTL)
    }

    /// The flow in `cookie` if it is genuine, unexpired, for `provider`
    /// and for this `state`.
    pub(crate) fn open(app: &App, cookie: &str, provider: &str, state: &str) -> Option<Self> {
        let flow: Self = app.open_for(AAD, cookie)?;
        let same_state: bool = flow.state.as_bytes().ct_eq(state.as_bytes()).into();
        (same_state && flow.provider == provider).then_some(flow)
    }
}
