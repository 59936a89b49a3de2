//! The text of every message Guildhall sends. Plain text, one link each.

use crate::ports::OutgoingMail;
use guildhall_core::accounts::{Account, Email};
use guildhall_core::tokens::SecretToken;

fn to(account: &Account, subject: &str, text: String) -> OutgoingMail {
    OutgoingMail {
        to: account.email.clone(),
        to_name: Some(account.display_name.as_str().to_owned()),
        subject: subject.to_owned(),
        text,
    }
}

pub fn verify_email(base: &str, account: &Account, token: &SecretToken, hours: u64) -> OutgoingMail {
    to(
        account,
        "Verify your email address",
        format!(
            "Hello {name},\n\nOpen this link to verify the email address of your Guildhall account ({username}):\n\n{base}/verify?token={t}\n\nThe link works once and expires in {hours} hours. If you did not sign up, ignore this message.\n",
            name = account.display_name.as_str(),
            username = account.username,
            t = token.expose(),
        ),
    )
}

/// Verification for an account an external sign-in made from an address
/// the provider did not verify: says which provider, because opening the
/// link lets that provider's account in.
pub fn verify_email_external(
    base: &str,
    account: &Account,
    token: &SecretToken,
    hours: u64,
    provider: &str,
) -> OutgoingMail {
    to(
        account,
        "Verify your email address",
        format!(
            "Hello {name},\n\nSomeone signed up for Guildhall ({username}) with a {provider} account that gave this address. Open this link only if that was you: it lets that {provider} account sign in.\n\n{base}/verify?token={t}\n\nThe link works once and expires in {hours} hours. If it was not you, ignore this message: the account cannot be used until the address is verified, and \"Forgot your password?\" lets you take the address back.\n",
            name = account.display_name.as_str(),
            username = account.username,
            t = token.expose(),
        ),
    )
}

/// Failed attempts locked the account's sign-in for a while. Failures at
/// the second step mean the password is known, and the advice says so.
pub fn account_locked(
    base: &str,
    account: &Account,
    minutes: u64,
    client: &crate::signin::ClientInfo,
    second_step: bool,
) -> OutgoingMail {
    let advice = if second_step {
        format!(
            "These attempts got past your password and failed at the second step: someone knows your password. Change it now: {base}/password/forgot"
        )
    } else {
        format!(
            "If it was you, wait and try again, or reset your password: {base}/password/forgot\nIf it was not you, your account is safe as long as your password is strong; consider turning on two-step sign-in at {base}/account/security."
        )
    };
    to(
        account,
        "Sign-in to your account is paused",
        format!(
            "Hello {name},\n\nThere were too many failed attempts to sign in to your Guildhall account ({username}), so signing in is paused for {minutes} minutes. The last attempt came from {from}.\n\n{advice}\n",
            name = account.display_name.as_str(),
            username = account.username,
            from = client.ip.as_deref().unwrap_or("an unknown address"),
        ),
    )
}

/// A second factor was added to the account.
pub fn second_factor_added(base: &str, account: &Account, what: &str) -> OutgoingMail {
    to(
        account,
        "A second factor was added to your account",
        format!(
            "Hello {name},\n\n{what} was added to your Guildhall account ({username}) as a way to finish signing in.\n\nIf that was you, nothing to do. If not, someone has your session: sign in, remove it at {base}/account/security, change your password and sign out your other sessions at {base}/account.\n",
            name = account.display_name.as_str(),
            username = account.username,
            what = {
                let mut w = what.to_owned();
                if let Some(first) = w.get_mut(0..1) {
                    first.make_ascii_uppercase();
                }
                w
            },
        ),
    )
}

pub fn reset_password(base: &str, account: &Account, token: &SecretToken, minutes: u64) -> OutgoingMail {
    to(
        account,
        "Reset your password",
        format!(
            "Hello {name},\n\nSomeone (hopefully you) asked to reset the password of your Guildhall account ({username}). Open this link to choose a new one:\n\n{base}/password/reset?token={t}\n\nThe link works once and expires in {minutes} minutes. Resetting signs you out everywhere else. If you did not ask, ignore this message: your password stays as it is.\n",
            name = account.display_name.as_str(),
            username = account.username,
            t = token.expose(),
        ),
    )
}

/// Sent instead of a second account when someone signs up with an address
/// that already has one, so the sign-up page never reveals which addresses exist.
pub fn already_registered(base: &str, email: &Email, account: &Account) -> OutgoingMail {
    OutgoingMail {
        to: email.clone(),
        to_name: Some(account.display_name.as_str().to_owned()),
        subject: "You already have an account".to_owned(),
        text: format!(
            "Hello {name},\n\nSomeone tried to create a Guildhall account with this address, which already has one (username {username}).\n\nSign in: {base}/login\nForgot your password? {base}/password/forgot\n\nIf this was not you, no action is needed.\n",
            name = account.display_name.as_str(),
            username = account.username,
        ),
    }
}

pub fn invitation(
    base: &str,
    to: &Email,
    workspace: &str,
    groups: &[guildhall_core::workspaces::Slug],
    inviter: &str,
    token: &SecretToken,
    days: u64,
) -> OutgoingMail {
    let groups: Vec<&str> = groups.iter().map(|g| g.as_str()).collect();
    OutgoingMail {
        to: to.clone(),
        to_name: None,
        subject: format!("You are invited to {workspace}"),
        text: format!(
            "Hello,\n\n{inviter} invited you to the workspace {workspace} on Guildhall (groups: {groups}).\n\nAccept the invitation:\n\n{base}/invitations/{t}\n\nYou will sign in, or create an account with this email address, first. The link works once and expires in {days} days.\n",
            groups = groups.join(", "),
            t = token.expose(),
        ),
    }
}

pub fn now_managed(base: &str, account: &Account, org: &str, domain: &str) -> OutgoingMail {
    to(
        account,
        "Your account is now managed by your organization",
        format!(
            "Hello {name},\n\n{org} verified that it owns {domain}, the domain of your email address. Your Guildhall account ({username}) is now managed by {org}: its administrators can see it, change its display name, deactivate it and sign it out. Your password and sign-in stay yours.\n\nYour account: {base}/account\n",
            name = account.display_name.as_str(),
            username = account.username,
        ),
    )
}

pub fn linked_by_deadline(base: &str, account: &Account, workspace: &str, org: &str) -> OutgoingMail {
    to(
        account,
        "Your workspace is now part of an organization",
        format!(
            "Hello {name},\n\nThe linking deadline has passed, so the workspace {workspace}, which you administer, is now linked to the new organization {org}. You are one of its administrators. Nothing else about the workspace changed.\n\nThe organization: {base}/orgs/{org}\n",
            name = account.display_name.as_str(),
        ),
    )
}

/// To an admin of the workspace or org. `endpoint` names it without its
/// URL (which may carry a secret); `page` is the webhooks page's path.
pub fn webhook_disabled(base: &str, account: &Account, endpoint: &str, reason: &str, page: &str) -> OutgoingMail {
    to(
        account,
        "A webhook endpoint was disabled",
        format!(
            "Hello {name},\n\nGuildhall disabled the webhook endpoint {endpoint}: {reason}. Its undelivered messages are kept and are sent when you enable it again.\n\nThe webhooks: {base}{page}\n",
            name = account.display_name.as_str(),
        ),
    )
}

pub fn customer_reset(
    base: &str,
    site: &crate::ports::Site,
    customer: &crate::ports::Customer,
    token: &SecretToken,
    minutes: u64,
) -> OutgoingMail {
    OutgoingMail {
        to: customer.email.clone(),
        to_name: None,
        subject: format!("Choose a new password for {}", site.name),
        text: format!(
            "Hello,\n\nAn administrator of {name} asked us to send you a link to choose a new password for your {name} account ({email}):\n\n{base}/sites/{slug}/reset?token={t}\n\nThe link works once and expires in {minutes} minutes. Choosing a password signs you out everywhere.\n",
            name = site.name,
            email = customer.email,
            slug = site.slug,
            t = token.expose(),
        ),
    }
}
