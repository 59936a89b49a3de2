//! Directory sync (SPEC §6, ADR 0011): who may read a workspace's or an
//! org's directory from outside, the event log and the snapshot, and the
//! directory tokens admins make for applications.
//!
//! A `DirectoryAccess` is the capability every directory use case demands.
//! It comes from a directory token of that workspace or org, or from an
//! admin of it calling with a personal access token that carries the `scim`
//! scope (or a browser session). Anyone else learns nothing: `NotFound`.

use crate::App;
use crate::error::AppError;
use crate::ports::{Audit, DirectorySnapshot, DirectoryToken, Event, EventScope, Org, Workspace};
use crate::workspaces::Actor;
use guildhall_core::accounts::Account;
use guildhall_core::scopes::{Grant, Scope};
use guildhall_core::tokens::SecretToken;
use guildhall_core::workspaces::Slug;
use guildhall_core::{AccountId, OrgId};
use serde_json::{Value, json};

/// Whose directory a request names.
#[derive(Clone, Copy, Debug)]
pub enum Target<'a> {
    Workspace(&'a str),
    Org(&'a str),
}

/// How the caller authenticated.
pub enum Caller<'a> {
    /// `Authorization: Bearer …`: a directory token or a personal one.
    Bearer(&'a str),
    /// A signed-in admin in a browser session.
    Session(Account),
}

/// Proof that the caller may read (and, for orgs, write) this directory.
#[derive(Clone, Debug)]
pub struct DirectoryAccess {
    pub scope: EventScope,
    pub workspace: Option<Workspace>,
    pub org: Option<Org>,
    /// Who acts, for the audit log: an admin, or `token:NAME`.
    pub actor: Option<AccountId>,
    pub actor_label: String,
    pub ip: Option<String>,
}

impl DirectoryAccess {
    /// The workspace or org slug, for URLs.
    pub fn slug(&self) -> &str {
        match (&self.workspace, &self.org) {
            (Some(w), _) => w.slug.as_str(),
            (None, Some(o)) => o.slug.as_str(),
            (None, None) => "",
        }
    }

    pub fn org_id(&self) -> Option<OrgId> {
        match self.scope {
            EventScope::Org(o) => Some(o),
            EventScope::Workspace(_) => None,
        }
    }

    pub(crate) fn audit(&self, action: &str, target: String, at: guildhall_core::Timestamp) -> Audit {
        Audit {
            workspace: self.workspace.as_ref().map(|w| w.id),
            actor: self.actor,
            actor_label: self.actor_label.clone(),
            action: action.to_owned(),
            target,
            detail: None,
            ip: self.ip.clone(),
            at,
            data: None,
        }
    }
}

/// Proof that the actor administers a workspace or an org, for what both
/// own alike (webhooks, provisioning connections); made only from
/// `AdminOf` or `OrgAdminOf`.
#[derive(Clone, Debug)]
pub struct ScopeAdmin {
    pub(crate) scope: EventScope,
    pub(crate) workspace: Option<guildhall_core::WorkspaceId>,
    pub(crate) slug: String,
    pub(crate) actor: Actor,
}

impl ScopeAdmin {
    pub fn workspace(a: &crate::workspaces::AdminOf) -> Self {
        let ws = a.workspace();
        Self {
            scope: EventScope::Workspace(ws.id),
            workspace: Some(ws.id),
            slug: ws.slug.to_string(),
            actor: a.actor().clone(),
        }
    }

    pub fn org(a: &crate::orgs::OrgAdminOf) -> Self {
        Self { scope: EventScope::Org(a.org.id), workspace: None, slug: a.org.slug.to_string(), actor: a.actor.clone() }
    }

    /// An audit row by this admin (in the workspace's log, or the org's).
    pub(crate) fn audit(&self, at: guildhall_core::Timestamp, action: &str, target: String) -> Audit {
        Audit {
            workspace: self.workspace,
            actor: Some(self.actor.account.id),
            actor_label: self.actor.account.username.to_string(),
            action: action.to_owned(),
            target,
            detail: None,
            ip: self.actor.ip.clone(),
            at,
            data: None,
        }
    }
}

/// An account as events and snapshots show it.
pub fn account_json(a: &Account) -> Value {
    json!({
        "id": a.id.0,
        "username": a.username.as_str(),
        "email": a.email.as_str(),
        "display_name": a.display_name.as_str(),
        "active": a.status == guildhall_core::accounts::AccountStatus::Active,
        "email_verified": a.email_verified,
    })
}

pub struct DirectoryService<'a> {
    app: &'a App,
}

impl<'a> DirectoryService<'a> {
    pub(crate) fn new(app: &'a App) -> Self {
        Self { app }
    }

    /// The capability for `target`, or `NotFound` (unknown, or not theirs),
    /// `Unauthenticated` (a bearer that is no token) or `Forbidden` (an
    /// admin's token without the `scim` scope).
    pub async fn authorize(
        &self,
        target: Target<'_>,
        caller: Caller<'_>,
        ip: Option<String>,
    ) -> Result<DirectoryAccess, AppError> {
        let store = self.app.store();
        let (scope, workspace, org) = match target {
            Target::Workspace(s) => {
                let slug = Slug::parse(s).map_err(|_| AppError::NotFound)?;
                let ws = store.workspace_by_slug(&slug).await?.ok_or(AppError::NotFound)?;
                (EventScope::Workspace(ws.id), Some(ws), None)
            }
            Target::Org(s) => {
                let slug = Slug::parse(s).map_err(|_| AppError::NotFound)?;
                let org = store.org_by_slug(&slug).await?.ok_or(AppError::NotFound)?;
                (EventScope::Org(org.id), None, Some(org))
            }
        };
        let (account, grant) = match caller {
            Caller::Session(account) => (account, Grant::Session),
            Caller::Bearer(bearer) => {
                if let Some(secret) = SecretToken::parse(bearer)
                    && let Some(token) = store.directory_token_by_hash(&secret.hash(), self.app.now()).await?
                {
                    if token.scope != scope {
                        return Err(AppError::NotFound);
                    }
                    return Ok(DirectoryAccess {
                        scope,
                        workspace,
                        org,
                        actor: None,
                        actor_label: format!("token:{}", token.name),
                        ip,
                    });
                }
                let (account, scopes) =
                    self.app.tokens().authenticate(bearer).await?.ok_or(AppError::Unauthenticated)?;
                (account, Grant::Token(scopes))
            }
        };
        let admin = match scope {
            EventScope::Workspace(ws) => store.membership(ws, account.id).await?.1,
            EventScope::Org(_) => {
                let actor = Actor { account: account.clone(), ip: ip.clone() };
                let slug = org.as_ref().map(|o| o.slug.to_string()).unwrap_or_default();
                match self.app.orgs().open(actor, &slug).await {
                    Ok(_) => true,
                    Err(AppError::NotFound) => false,
                    Err(e) => return Err(e),
                }
            }
        };
        if !admin {
            return Err(AppError::NotFound);
        }
        if !grant.allows(Scope::Scim) {
            return Err(AppError::Forbidden("This needs a token with the scim scope.".into()));
        }
        Ok(DirectoryAccess {
            scope,
            workspace,
            org,
            actor: Some(account.id),
            actor_label: account.username.to_string(),
            ip,
        })
    }

    /// Up to `limit` events after the cursor.
    pub async fn events(&self, d: &DirectoryAccess, after: i64, limit: u32) -> Result<Vec<Event>, AppError> {
        Ok(self.app.store().events_after(d.scope, after.max(0), limit).await?)
    }

    /// An org's directory (managed accounts and directory groups) with the
    /// cursor it is consistent with.
    pub async fn org_snapshot(
        &self,
        d: &DirectoryAccess,
    ) -> Result<(i64, Vec<crate::ports::ScimUser>, Vec<crate::ports::ScimGroup>), AppError> {
        let Some(org) = d.org_id() else { return Err(AppError::NotFound) };
        Ok(self.app.store().org_directory_snapshot(org).await?)
    }

    /// A workspace's directory with the cursor it is consistent with.
    pub async fn snapshot(&self, d: &DirectoryAccess) -> Result<DirectorySnapshot, AppError> {
        let Some(ws) = &d.workspace else {
            return Err(AppError::NotFound);
        };
        self.app.store().directory_snapshot(ws.id).await?.ok_or(AppError::NotFound)
    }

    /// Makes a directory token; the secret is shown once.
    pub async fn create_token(
        &self,
        d: &DirectoryAccess,
        name: &str,
    ) -> Result<(DirectoryToken, SecretToken), AppError> {
        let mut errors = crate::FieldErrors::default();
        let name = crate::workspaces::parse_name("name", name, &mut errors);
        errors.into_result()?;
        let Some(name) = name else { return Err(AppError::invalid("name", "Enter a name.")) };
        let secret = self.app.new_token();
        let token = DirectoryToken {
            id: self.app.new_uuid(),
            scope: d.scope,
            name: name.clone(),
            created_by: d.actor_label.clone(),
            created_at: self.app.now(),
            last_used_at: None,
        };
        let audit = d.audit("directory_token.created", format!("token:{name}"), self.app.now());
        self.app.written(self.app.store().create_directory_token(&token, &secret.hash(), &audit).await).await?;
        Ok((token, secret))
    }

    pub async fn tokens(&self, d: &DirectoryAccess) -> Result<Vec<DirectoryToken>, AppError> {
        Ok(self.app.store().directory_tokens(d.scope).await?)
    }

    pub async fn revoke_token(&self, d: &DirectoryAccess, id: &str) -> Result<(), AppError> {
        let id: uuid::Uuid = id.parse().map_err(|_| AppError::NotFound)?;
        let audit = d.audit("directory_token.revoked", format!("token:{id}"), self.app.now());
        if self.app.written(self.app.store().revoke_directory_token(d.scope, id, &audit).await).await? {
            Ok(())
        } else {
            Err(AppError::NotFound)
        }
    }
}

/// A group as events show it.
pub fn group_json(g: &crate::ports::Group) -> Value {
    json!({
        "id": g.id.0,
        "slug": g.slug.as_str(),
        "name": g.name,
        "default_permission": g.default_permission.as_str(),
        "administrators": g.is_admins,
    })
}

/// A repository as events show it.
pub fn repository_json(r: &crate::ports::Repository) -> Value {
    json!({ "id": r.id.0, "slug": r.slug.as_str(), "name": r.name, "private": r.private })
}

/// A workspace as events show it.
pub fn workspace_json(w: &Workspace) -> Value {
    json!({ "id": w.id.0, "slug": w.slug.as_str(), "name": w.name, "plan": w.plan.as_str() })
}
