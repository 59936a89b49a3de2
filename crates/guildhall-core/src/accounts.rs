//! Accounts: the global identity of a person (SPEC §1) and its parsed fields.

mod email;
mod names;
mod password;

pub use email::{Email, EmailError};
pub use names::{DisplayName, NameError, Username};
pub use password::{PasswordError, PasswordPolicy, check_password};

use crate::{AccountId, Timestamp};
use serde::{Deserialize, Serialize};

/// Whether an account may sign in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccountStatus {
    Active,
    Deactivated,
}

impl AccountStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Deactivated => "deactivated",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(Self::Active),
            "deactivated" => Some(Self::Deactivated),
            _ => None,
        }
    }
}

/// A global account, without its password hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Account {
    pub id: AccountId,
    pub email: Email,
    pub email_verified: bool,
    pub username: Username,
    pub display_name: DisplayName,
    pub status: AccountStatus,
    pub is_operator: bool,
    /// Set for the operator's first account: its printed password is one-time.
    pub must_change_password: bool,
    pub has_password: bool,
    /// The organization that manages the account (its email domain is one
    /// the organization verified), if any.
    pub managed_by: Option<crate::OrgId>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Account {
    /// SPEC §1: an unverified account can sign in but cannot accept
    /// invitations, join workspaces or authorize products.
    pub fn may_join(&self) -> bool {
        self.email_verified && self.status == AccountStatus::Active
    }
}
