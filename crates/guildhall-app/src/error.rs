//! The error every use case returns. Each HTTP surface maps it with an
//! exhaustive `match` (pages to a form message, the API to problem+json).

use crate::ports::StoreError;
use std::time::Duration;

/// Field-level validation messages, in form order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldErrors(pub Vec<(&'static str, String)>);

impl FieldErrors {
    pub fn add(&mut self, field: &'static str, message: impl ToString) {
        self.0.push((field, message.to_string()));
    }

    pub fn get(&self, field: &str) -> Option<&str> {
        self.0.iter().find(|(f, _)| *f == field).map(|(_, m)| m.as_str())
    }

    /// Every message, in order, as one sentence-separated text (for pages).
    pub fn summary(&self) -> String {
        self.0.iter().map(|(_, m)| m.as_str()).collect::<Vec<_>>().join(" ")
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Err(AppError::Invalid)` if any field failed.
    pub fn into_result(self) -> Result<(), AppError> {
        if self.is_empty() { Ok(()) } else { Err(AppError::Invalid(self)) }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("invalid input")]
    Invalid(FieldErrors),
    /// Sign-in failed; deliberately says nothing about which part was wrong.
    #[error("email or password is incorrect")]
    InvalidCredentials,
    #[error("this account is deactivated")]
    AccountDeactivated,
    #[error("too many attempts")]
    Throttled { retry_after: Duration },
    /// An emailed link that is unknown, expired or already used.
    #[error("this link is invalid, expired or already used")]
    InvalidLink,
    #[error("sign in first")]
    Unauthenticated,
    #[error("not found")]
    NotFound,
    /// Known to the caller, but beyond their role or token scope.
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("conflict: {0}")]
    Conflict(String),
    /// An external identity provider failed or refused; the text names the
    /// provider and says what happened, and may be shown to the person.
    #[error("upstream provider: {0}")]
    Upstream(String),
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl AppError {
    pub fn invalid(field: &'static str, message: impl ToString) -> Self {
        let mut e = FieldErrors::default();
        e.add(field, message);
        Self::Invalid(e)
    }

    pub fn internal(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Internal(Box::new(e))
    }

    /// An internal failure described by a message (logged, never shown).
    pub fn internal_message(message: impl Into<String>) -> Self {
        Self::Internal(message.into().into())
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(what) => Self::Conflict(what.to_owned()),
            StoreError::Backend(e) => Self::Internal(e),
        }
    }
}
