//! The invitation acceptance rule (SPEC §4): single use, expiring, revocable,
//! accepted only by a verified account whose email matches unless the
//! workspace allows any signed-in account.

use crate::Timestamp;
use crate::accounts::{Account, AccountStatus, Email};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InvitationState {
    Pending,
    Accepted,
    Revoked,
}

impl InvitationState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Accepted => "accepted",
            Self::Revoked => "revoked",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(Self::Pending),
            "accepted" => Some(Self::Accepted),
            "revoked" => Some(Self::Revoked),
            _ => None,
        }
    }
}

/// What the rule needs to know about an invitation.
#[derive(Clone, Debug)]
pub struct InvitationView<'a> {
    pub state: InvitationState,
    pub expires_at: Timestamp,
    /// The invited address (an invitation by username carries the account's
    /// primary email at the time of inviting).
    pub email: &'a Email,
    /// The workspace setting `invitations_accept_any_account`.
    pub accept_any_account: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvitationError {
    #[error("This invitation has expired. Ask for a new one.")]
    Expired,
    #[error("This invitation was already used.")]
    AlreadyUsed,
    #[error("This invitation was withdrawn.")]
    Revoked,
    #[error("Verify your email address before accepting invitations.")]
    Unverified,
    #[error("This invitation is for another email address. Sign in with the account for that address.")]
    WrongAccount,
    #[error("This account is deactivated.")]
    Deactivated,
}

/// Decides whether `account` may accept the invitation at `now`.
pub fn accept_invitation(inv: &InvitationView<'_>, account: &Account, now: Timestamp) -> Result<(), InvitationError> {
    match inv.state {
        InvitationState::Accepted => return Err(InvitationError::AlreadyUsed),
        InvitationState::Revoked => return Err(InvitationError::Revoked),
        InvitationState::Pending => {}
    }
    if now >= inv.expires_at {
        return Err(InvitationError::Expired);
    }
    if account.status != AccountStatus::Active {
        return Err(InvitationError::Deactivated);
    }
    if !account.email_verified {
        return Err(InvitationError::Unverified);
    }
    if !inv.accept_any_account && account.email.normalized() != inv.email.normalized() {
        return Err(InvitationError::WrongAccount);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AccountId;
    use crate::accounts::{DisplayName, Username};

    fn account(email: &str, verified: bool) -> Account {
        Account {
            id: AccountId::from_uuid(uuid::Uuid::nil()),
            email: Email::parse(email).unwrap(),
            email_verified: verified,
            username: Username::parse("ada").unwrap(),
            display_name: DisplayName::parse("Ada").unwrap(),
            status: AccountStatus::Active,
            is_operator: false,
            must_change_password: false,
            has_password: true,
            managed_by: None,
            created_at: Timestamp::from_millis(0),
            updated_at: Timestamp::from_millis(0),
        }
    }

    const NOW: Timestamp = Timestamp::from_millis(1_000);

    fn check(state: InvitationState, expires: i64, any: bool, who: &Account) -> Result<(), InvitationError> {
        let email = Email::parse("Ada@Example.com").unwrap();
        let inv = InvitationView {
            state,
            expires_at: Timestamp::from_millis(expires),
            email: &email,
            accept_any_account: any,
        };
        accept_invitation(&inv, who, NOW)
    }

    #[test]
    fn the_invited_verified_account_may_accept_in_time() {
        assert_eq!(check(InvitationState::Pending, 2_000, false, &account("ada@example.com", true)), Ok(()));
    }

    #[test]
    fn used_revoked_and_expired_invitations_are_refused() {
        let ada = account("ada@example.com", true);
        assert_eq!(check(InvitationState::Accepted, 2_000, false, &ada), Err(InvitationError::AlreadyUsed));
        assert_eq!(check(InvitationState::Revoked, 2_000, false, &ada), Err(InvitationError::Revoked));
        assert_eq!(check(InvitationState::Pending, 1_000, false, &ada), Err(InvitationError::Expired));
    }

    #[test]
    fn the_email_must_match_unless_the_workspace_allows_any_account() {
        let eve = account("eve@example.com", true);
        assert_eq!(check(InvitationState::Pending, 2_000, false, &eve), Err(InvitationError::WrongAccount));
        assert_eq!(check(InvitationState::Pending, 2_000, true, &eve), Ok(()));
    }

    #[test]
    fn an_unverified_or_deactivated_account_may_not_accept() {
        assert_eq!(
            check(InvitationState::Pending, 2_000, true, &account("ada@example.com", false)),
            Err(InvitationError::Unverified)
        );
        let mut off = account("ada@example.com", true);
        off.status = AccountStatus::Deactivated;
        assert_eq!(check(InvitationState::Pending, 2_000, false, &off), Err(InvitationError::Deactivated));
    }
}
