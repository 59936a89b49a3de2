//! Looking up, listing and ending browser sessions.

use crate::App;
use crate::error::AppError;
use crate::ports::Session;
use guildhall_core::SessionId;
use guildhall_core::accounts::Account;
use guildhall_core::tokens::SecretToken;

/// How recent a sign-in must be to add a second factor.
pub const RECENT_SIGN_IN: std::time::Duration = std::time::Duration::from_secs(600);

pub struct SessionService<'a> {
    app: &'a App,
}

impl<'a> SessionService<'a> {
    pub(crate) fn new(app: &'a App) -> Self {
        Self { app }
    }

    /// The live session behind a cookie value, if any.
    pub async fn authenticate(&self, cookie: &str) -> Result<Option<(Session, Account)>, AppError> {
        let Some(token) = SecretToken::parse(cookie) else { return Ok(None) };
        Ok(self.app.store().session_by_token(&token.hash(), self.app.now()).await?)
    }

    pub async fn list(&self, account: &Account) -> Result<Vec<Session>, AppError> {
        Ok(self.app.store().list_sessions(account.id, self.app.now()).await?)
    }

    /// Gives a session a new token after a change of what it may do (a new
    /// password, a second factor added or removed), so a token copied
    /// before the change stops working.
    pub async fn rotate(&self, account: &Account, session: SessionId) -> Result<SecretToken, AppError> {
        let token = self.app.new_token();
        if self.app.store().rotate_session(account.id, session, &token.hash()).await? {
            Ok(token)
        } else {
            Err(AppError::Unauthenticated)
        }
    }

    /// Whether the session's sign-in is recent enough to add a way in (a
    /// second factor): within `RECENT_SIGN_IN`.
    pub fn signed_in_recently(&self, session: &Session) -> bool {
        self.app.now().as_millis() - session.auth_time.as_millis()
            < i64::try_from(RECENT_SIGN_IN.as_millis()).unwrap_or(i64::MAX)
    }

    /// Ends one of the account's own sessions.
    pub async fn revoke(&self, account: &Account, session: SessionId) -> Result<(), AppError> {
        if self.app.store().revoke_session(account.id, session).await? { Ok(()) } else { Err(AppError::NotFound) }
    }
}
