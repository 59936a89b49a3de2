//! Invitations (SPEC §4): an admin invites by email or username into one or
//! more groups; the invitee accepts through an emailed single-use link.

use crate::App;
use crate::error::AppError;
use crate::mails;
use crate::ports::{AccountLookup, Audit, Invitation, Link, NewInvitation, Workspace};
use crate::workspaces::{Actor, AdminOf};
use guildhall_core::accounts::{Email, Username};
use guildhall_core::tokens::SecretToken;
use guildhall_core::workspaces::{InvitationState, InvitationView, Slug, accept_invitation};
use guildhall_core::{GroupId, InvitationId};

/// What inviting did.
#[derive(Debug)]
pub enum InviteOutcome {
    Invited(Invitation),
    /// The person is already in every one of those groups: nothing to do.
    AlreadyInGroups,
    /// A pending invitation already covers those groups: nothing sent.
    AlreadyInvited(Invitation),
}

/// How an invitee appears in the audit log: by username when invited by
/// username (the email stays private), else by the invited email.
fn invitee(username: Option<&Username>, email: &Email) -> String {
    username.map_or_else(|| format!("email:{email}"), |u| format!("account:{u}"))
}

/// Who invites: an administrator, or a linked product reporting a user.
pub(crate) enum Inviter<'a> {
    Admin(&'a Actor),
    Link(&'a Link),
}

pub struct InvitationService<'a> {
    app: &'a App,
}

impl<'a> InvitationService<'a> {
    pub(crate) fn new(app: &'a App) -> Self {
        Self { app }
    }

    /// Invites `who` (an email address, or a username) into `groups`.
    pub async fn invite(&self, a: &AdminOf, who: &str, groups: &[String]) -> Result<InviteOutcome, AppError> {
        self.invite_into(a.workspace(), Inviter::Admin(a.actor()), who, groups).await
    }

    /// The invitation rules, for an administrator or a linked product.
    pub(crate) async fn invite_into(
        &self,
        ws: &Workspace,
        inviter: Inviter<'_>,
        who: &str,
        groups: &[String],
    ) -> Result<InviteOutcome, AppError> {
        let store = self.app.store();
        let (email, username, account) = if who.contains('@') {
            let email = Email::parse(who).map_err(|e| AppError::invalid("email", e))?;
            let account = store.find_account(AccountLookup::Email(&email)).await?.map(|f| f.account);
            (email, None, account)
        } else {
            let username =
                Username::parse(who).map_err(|_| AppError::invalid("username", "No account has that username."))?;
            let account = store
                .find_account(AccountLookup::Username(&username))
                .await?
                .map(|f| f.account)
                .ok_or_else(|| AppError::invalid("username", "No account has that username."))?;
            // The invitation goes to the account's email, which stays private:
            // admins see the username.
            (account.email.clone(), Some(username), Some(account))
        };
        if groups.is_empty() {
            return Err(AppError::invalid("groups", "Choose at least one group."));
        }
        let mut group_ids: Vec<GroupId> = Vec::new();
        for slug in groups {
            let group = Slug::parse(slug).ok();
            let found = match group {
                Some(g) => store.group_by_slug(ws.id, &g).await?,
                None => None,
            };
            let group = found
                .ok_or_else(|| AppError::invalid("groups", format!("There is no group {slug:?} in this workspace.")))?;
            if !group_ids.contains(&group.id) {
                group_ids.push(group.id);
            }
        }
        if let Some(account) = &account {
            let mine = store.account_groups(ws.id, account.id).await?;
            if group_ids.iter().all(|g| mine.contains(g)) {
                return Ok(InviteOutcome::AlreadyInGroups);
            }
        }
        let now = self.app.now();
        for inv in store.invitations(ws.id).await? {
            let live = inv.state == InvitationState::Pending && inv.expires_at > now;
            if live
                && inv.email.normalized() == email.normalized()
                && group_ids.iter().all(|g| inv.group_ids.contains(g))
            {
                return Ok(InviteOutcome::AlreadyInvited(inv));
            }
        }
        let token = self.app.new_token();
        let (invited_by, via_link) = match &inviter {
            Inviter::Admin(actor) => (Some(actor.account.id), None),
            Inviter::Link(link) => (None, Some(link.id)),
        };
        let new = NewInvitation {
            id: InvitationId::from_uuid(self.app.new_uuid()),
            workspace: ws.id,
            token_hash: token.hash(),
            email: email.clone(),
            username: username.clone(),
            invited_by,
            via_link,
            groups: group_ids,
            now,
            expires_at: now.plus(self.app.settings().invitation_ttl),
        };
        let target = invitee(username.as_ref(), &email);
        let (mut audit, inviter_name) = match &inviter {
            Inviter::Admin(actor) => (
                self.app.workspaces().audit(actor, Some(ws.id), "invitation.created", target),
                actor.account.display_name.as_str().to_owned(),
            ),
            Inviter::Link(link) => (
                Audit {
                    workspace: Some(ws.id),
                    actor: None,
                    actor_label: format!("link:{}", link.slug),
                    action: "invitation.created".into(),
                    target,
                    detail: None,
                    ip: None,
                    at: now,
                    data: None,
                },
                link.name.clone(),
            ),
        };
        audit.detail = Some(groups.join(","));
        let invitation = self.app.written(store.create_invitation(&new, &audit).await).await?;
        self.mail(ws, &invitation, &token, &inviter_name).await?;
        Ok(InviteOutcome::Invited(invitation))
    }

    async fn mail(&self, ws: &Workspace, inv: &Invitation, token: &SecretToken, inviter: &str) -> Result<(), AppError> {
        let s = self.app.settings();
        let days = s.invitation_ttl.as_secs() / 86400;
        let mail = mails::invitation(&s.public_url, &inv.email, &ws.name, &inv.groups, inviter, token, days);
        self.app.deps.mailer.send(mail).await.map_err(AppError::internal)
    }

    pub async fn list(&self, a: &AdminOf) -> Result<Vec<Invitation>, AppError> {
        Ok(self.app.store().invitations(a.workspace().id).await?)
    }

    async fn find(&self, a: &AdminOf, id: &str) -> Result<Invitation, AppError> {
        let id: InvitationId = id.parse().map_err(|_| AppError::NotFound)?;
        self.app.store().invitation(a.workspace().id, id).await?.ok_or(AppError::NotFound)
    }

    /// A new link (the old one stops working) and a fresh expiry.
    pub async fn resend(&self, a: &AdminOf, id: &str) -> Result<Invitation, AppError> {
        let inv = self.find(a, id).await?;
        if inv.state != InvitationState::Pending {
            return Err(AppError::Conflict(format!("This invitation is {} and cannot be resent.", inv.state.as_str())));
        }
        let token = self.app.new_token();
        let expires_at = self.app.now().plus(self.app.settings().invitation_ttl);
        let audit = self.app.workspaces().audit(
            a.actor(),
            Some(inv.workspace),
            "invitation.resent",
            invitee(inv.username.as_ref(), &inv.email),
        );
        if !self
            .app
            .written(self.app.store().resend_invitation(inv.id, &token.hash(), expires_at, &audit).await)
            .await?
        {
            return Err(AppError::Conflict("This invitation was accepted or revoked meanwhile.".into()));
        }
        self.mail(a.workspace(), &inv, &token, a.actor().account.display_name.as_str()).await?;
        self.find(a, &inv.id.to_string()).await
    }

    pub async fn revoke(&self, a: &AdminOf, id: &str) -> Result<(), AppError> {
        let inv = self.find(a, id).await?;
        let audit = self.app.workspaces().audit(
            a.actor(),
            Some(inv.workspace),
            "invitation.revoked",
            invitee(inv.username.as_ref(), &inv.email),
        );
        if self.app.written(self.app.store().revoke_invitation(inv.id, &audit).await).await? {
            Ok(())
        } else {
            Err(AppError::Conflict(format!("This invitation is {} and cannot be revoked.", inv.state.as_str())))
        }
    }

    /// The invitation behind a link and its workspace, for the acceptance page.
    pub async fn preview(&self, token: &str) -> Result<(Invitation, Workspace), AppError> {
        let token = SecretToken::parse(token).ok_or(AppError::InvalidLink)?;
        let inv = self.app.store().invitation_by_token(&token.hash()).await?.ok_or(AppError::InvalidLink)?;
        let ws = self.app.store().workspace_by_id(inv.workspace).await?.ok_or(AppError::InvalidLink)?;
        Ok((inv, ws))
    }

    /// Accepts an invitation for the signed-in actor.
    pub async fn accept(&self, token: &str, actor: &Actor) -> Result<Workspace, AppError> {
        let (inv, ws) = self.preview(token).await?;
        let view = InvitationView {
            state: inv.state,
            expires_at: inv.expires_at,
            email: &inv.email,
            accept_any_account: ws.invitations_accept_any_account,
        };
        accept_invitation(&view, &actor.account, self.app.now()).map_err(|e| AppError::Forbidden(e.to_string()))?;
        let mut audit = self.app.workspaces().audit(
            actor,
            Some(ws.id),
            "invitation.accepted",
            invitee(inv.username.as_ref(), &inv.email),
        );
        audit.detail = Some(inv.groups.iter().map(|g| g.as_str()).collect::<Vec<_>>().join(","));
        let token = SecretToken::parse(token).ok_or(AppError::InvalidLink)?;
        if !self.app.written(self.app.store().accept_invitation(&token.hash(), actor.account.id, &audit).await).await? {
            return Err(AppError::Forbidden(
                "This invitation was used, withdrawn, renewed or has expired meanwhile.".into(),
            ));
        }
        Ok(ws)
    }
}
