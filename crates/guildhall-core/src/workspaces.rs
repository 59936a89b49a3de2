//! Workspaces, user groups, repositories and invitations (SPEC §4): the
//! parsed values and the rules, as pure functions.

mod index;
mod invitations;
mod permissions;
mod slug;

pub use index::{PermissionData, PermissionIndex};
pub use invitations::{InvitationError, InvitationState, InvitationView, accept_invitation};
pub use permissions::{Permission, PermissionInputs, effective_permission};
pub use slug::{Slug, SlugError};

use serde::{Deserialize, Serialize};

/// A workspace's plan. Only paid workspaces can be linked to an organization.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Plan {
    Free,
    Paid,
}

impl Plan {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Free => "free",
            Self::Paid => "paid",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "free" => Some(Self::Free),
            "paid" => Some(Self::Paid),
            _ => None,
        }
    }
}

/// The slug of every workspace's administrators group.
pub const ADMINS_GROUP: &str = "administrators";
