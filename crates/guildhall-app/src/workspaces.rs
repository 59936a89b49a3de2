//! Workspace use cases. Authorization lives in the types: a `MemberOf` is
//! only handed out for members (everyone else gets `NotFound`, so private
//! workspaces do not reveal themselves), and an `AdminOf` only for members of
//! the administrators group (`Forbidden` otherwise). Every method that
//! changes a workspace demands an `&AdminOf`.

use crate::App;
use crate::caches::CachedIndex;
use crate::directory::{group_json, repository_json, workspace_json};
use crate::error::{AppError, FieldErrors};
use crate::ports::{
    AccountLookup, Audit, Group, Member, MembershipChange, NewGroup, NewRepository, NewWorkspace, Repository,
    StoreError, Workspace,
};
use guildhall_core::accounts::{Account, Username};
use guildhall_core::workspaces::{Permission, PermissionIndex, Plan, Slug};
use guildhall_core::{GroupId, RepositoryId, WorkspaceId};
use serde_json::json;
use std::sync::Arc;

/// Who is acting, and from where (for the audit log).
#[derive(Clone, Debug)]
pub struct Actor {
    pub account: Account,
    pub ip: Option<String>,
}

/// Proof that the actor is a member of the workspace.
#[derive(Clone, Debug)]
pub struct MemberOf {
    pub workspace: Workspace,
    pub actor: Actor,
    admin: bool,
}

impl MemberOf {
    pub fn is_admin(&self) -> bool {
        self.admin
    }

    /// The admin capability, or `Forbidden`.
    pub fn admin(self) -> Result<AdminOf, AppError> {
        if self.admin {
            Ok(AdminOf(self))
        } else {
            Err(AppError::Forbidden("Only workspace administrators can do this.".into()))
        }
    }
}

/// Proof that the actor administers the workspace.
#[derive(Clone, Debug)]
pub struct AdminOf(MemberOf);

impl AdminOf {
    pub fn workspace(&self) -> &Workspace {
        &self.0.workspace
    }

    pub fn actor(&self) -> &Actor {
        &self.0.actor
    }

    pub fn member(&self) -> &MemberOf {
        &self.0
    }
}

/// Changes to a workspace's settings.
#[derive(Default)]
pub struct WorkspacePatch<'a> {
    pub name: Option<&'a str>,
    pub plan: Option<&'a str>,
    pub invitations_accept_any_account: Option<bool>,
}

/// Changes to a group.
#[derive(Default)]
pub struct GroupPatch<'a> {
    pub name: Option<&'a str>,
    pub default_permission: Option<&'a str>,
}

pub struct WorkspaceService<'a> {
    app: &'a App,
}

pub(crate) fn parse_name(field: &'static str, input: &str, errors: &mut FieldErrors) -> Option<String> {
    let s = input.trim();
    if s.is_empty() || s.chars().count() > 100 || s.chars().any(char::is_control) {
        errors.add(field, "Enter a name of 1 to 100 characters.");
        None
    } else {
        Some(s.to_owned())
    }
}

fn parse_slug(field: &'static str, input: &str, errors: &mut FieldErrors) -> Option<Slug> {
    Slug::parse(input.trim()).map_err(|e| errors.add(field, e)).ok()
}

pub(crate) fn parse_permission(field: &'static str, input: &str, errors: &mut FieldErrors) -> Option<Permission> {
    let p = Permission::parse(input);
    if p.is_none() {
        errors.add(field, "A permission is one of none, read, write, admin.");
    }
    p
}

fn conflict(e: StoreError, field: &'static str, message: &str) -> AppError {
    match e {
        StoreError::Conflict("slug") => AppError::invalid(field, message),
        StoreError::Conflict("last_admin") => {
            AppError::Conflict("The administrators group must keep at least one member.".into())
        }
        StoreError::Conflict("administrators") => {
            AppError::Conflict("The administrators group cannot be deleted.".into())
        }
        e => e.into(),
    }
}

/// The payload of a membership event: the group and the account.
fn membership_json(group: &Group, account: &Account) -> serde_json::Value {
    json!({
        "group": { "id": group.id.0, "slug": group.slug.as_str() },
        "account": crate::directory::account_json(account),
    })
}

impl<'a> WorkspaceService<'a> {
    pub(crate) fn new(app: &'a App) -> Self {
        Self { app }
    }

    pub(crate) fn audit(&self, actor: &Actor, ws: Option<WorkspaceId>, action: &str, target: String) -> Audit {
        Audit {
            workspace: ws,
            actor: Some(actor.account.id),
            actor_label: actor.account.username.to_string(),
            action: action.to_owned(),
            target,
            detail: None,
            ip: actor.ip.clone(),
            at: self.app.now(),
            data: None,
        }
    }

    /// Creates a workspace; the creator becomes its first administrator.
    pub async fn create(
        &self,
        actor: &Actor,
        slug: &str,
        name: &str,
        plan: Option<&str>,
    ) -> Result<Workspace, AppError> {
        if !actor.account.may_join() {
            return Err(AppError::Forbidden("Verify your email address before creating workspaces.".into()));
        }
        let mut errors = FieldErrors::default();
        let slug = parse_slug("slug", slug, &mut errors);
        let name = parse_name("name", name, &mut errors);
        let plan = match plan {
            None => Some(Plan::Free),
            Some(p) => Plan::parse(p).or_else(|| {
                errors.add("plan", "A plan is free or paid.");
                None
            }),
        };
        let (Some(slug), Some(name), Some(plan)) = (slug, name, plan) else { return Err(AppError::Invalid(errors)) };
        let new = NewWorkspace {
            id: WorkspaceId::from_uuid(self.app.new_uuid()),
            slug: slug.clone(),
            name,
            plan,
            creator: actor.account.id,
            admins_group: GroupId::from_uuid(self.app.new_uuid()),
            now: self.app.now(),
        };
        let audit = self.audit(actor, Some(new.id), "workspace.created", format!("workspace:{slug}")).with_data(
            json!({ "workspace": { "id": new.id.0, "slug": slug.as_str(), "name": new.name, "plan": plan.as_str() } }),
        );
        self.app
            .written(self.app.store().create_workspace(&new, &audit).await)
            .await
            .map_err(|e| conflict(e, "slug", "That workspace slug is taken."))
    }

    /// The workspaces the account belongs to.
    pub async fn mine(&self, account: &Account) -> Result<Vec<Workspace>, AppError> {
        Ok(self.app.store().workspaces_of(account.id).await?)
    }

    /// Opens a workspace for a member; `NotFound` for anyone else.
    pub async fn open(&self, actor: Actor, slug: &str) -> Result<MemberOf, AppError> {
        let slug = Slug::parse(slug).map_err(|_| AppError::NotFound)?;
        let store = self.app.store();
        let workspace = store.workspace_by_slug(&slug).await?.ok_or(AppError::NotFound)?;
        let (member, admin) = store.membership(workspace.id, actor.account.id).await?;
        if !member {
            return Err(AppError::NotFound);
        }
        Ok(MemberOf { workspace, actor, admin })
    }

    pub async fn update(&self, a: &AdminOf, patch: WorkspacePatch<'_>) -> Result<Workspace, AppError> {
        let mut ws = a.workspace().clone();
        let mut errors = FieldErrors::default();
        if let Some(name) = patch.name.and_then(|n| parse_name("name", n, &mut errors)) {
            ws.name = name;
        }
        if let Some(plan) = patch.plan {
            match Plan::parse(plan) {
                Some(p) => ws.plan = p,
                None => errors.add("plan", "A plan is free or paid."),
            }
        }
        if let Some(any) = patch.invitations_accept_any_account {
            ws.invitations_accept_any_account = any;
        }
        errors.into_result()?;
        let audit = self
            .audit(a.actor(), Some(ws.id), "workspace.updated", format!("workspace:{}", ws.slug))
            .with_data(json!({ "workspace": workspace_json(&ws) }));
        self.app.written(self.app.store().update_workspace(&ws, &audit).await).await?;
        Ok(ws)
    }

    pub async fn delete(&self, a: AdminOf) -> Result<(), AppError> {
        let ws = a.workspace();
        let audit = self
            .audit(a.actor(), Some(ws.id), "workspace.deleted", format!("workspace:{}", ws.slug))
            .with_data(json!({ "workspace": workspace_json(ws) }));
        self.app.written(self.app.store().delete_workspace(ws.id, &audit).await).await?;
        Ok(())
    }

    pub async fn groups(&self, m: &MemberOf) -> Result<Vec<Group>, AppError> {
        Ok(self.app.store().groups(m.workspace.id).await?)
    }

    pub async fn group(&self, m: &MemberOf, slug: &str) -> Result<Group, AppError> {
        let slug = Slug::parse(slug).map_err(|_| AppError::NotFound)?;
        self.app.store().group_by_slug(m.workspace.id, &slug).await?.ok_or(AppError::NotFound)
    }

    pub async fn create_group(
        &self,
        a: &AdminOf,
        slug: &str,
        name: &str,
        default_permission: Option<&str>,
    ) -> Result<Group, AppError> {
        let mut errors = FieldErrors::default();
        let slug = parse_slug("slug", slug, &mut errors);
        let name = parse_name("name", name, &mut errors);
        let default = default_permission
            .map_or(Some(Permission::None), |p| parse_permission("default_permission", p, &mut errors));
        let (Some(slug), Some(name), Some(default_permission)) = (slug, name, default) else {
            return Err(AppError::Invalid(errors));
        };
        let new =
            NewGroup { id: GroupId::from_uuid(self.app.new_uuid()), slug: slug.clone(), name, default_permission };
        let ws = a.workspace();
        let data = json!({ "group": {
            "id": new.id.0, "slug": slug.as_str(), "name": new.name,
            "default_permission": new.default_permission.as_str(), "administrators": false,
        } });
        let audit = self.audit(a.actor(), Some(ws.id), "group.created", format!("group:{slug}")).with_data(data);
        self.app
            .written(self.app.store().create_group(ws.id, &new, &audit).await)
            .await
            .map_err(|e| conflict(e, "slug", "That group slug is taken."))
    }

    pub async fn update_group(&self, a: &AdminOf, slug: &str, patch: GroupPatch<'_>) -> Result<Group, AppError> {
        let mut group = self.group(a.member(), slug).await?;
        if group.is_admins {
            return Err(AppError::Conflict(
                "The administrators group always has admin permission and keeps its name.".into(),
            ));
        }
        let mut errors = FieldErrors::default();
        if let Some(name) = patch.name.and_then(|n| parse_name("name", n, &mut errors)) {
            group.name = name;
        }
        if let Some(p) = patch.default_permission.and_then(|p| parse_permission("default_permission", p, &mut errors)) {
            group.default_permission = p;
        }
        errors.into_result()?;
        let audit = self
            .audit(a.actor(), Some(group.workspace), "group.updated", format!("group:{}", group.slug))
            .with_data(json!({ "group": group_json(&group) }));
        self.app.written(self.app.store().update_group(&group, &audit).await).await?;
        Ok(group)
    }

    pub async fn delete_group(&self, a: &AdminOf, slug: &str) -> Result<(), AppError> {
        let group = self.group(a.member(), slug).await?;
        let audit = self
            .audit(a.actor(), Some(group.workspace), "group.deleted", format!("group:{}", group.slug))
            .with_data(json!({ "group": group_json(&group) }));
        self.app
            .written(self.app.store().delete_group(group.id, &audit).await)
            .await
            .map_err(|e| conflict(e, "slug", ""))?;
        Ok(())
    }

    pub async fn group_members(&self, m: &MemberOf, slug: &str) -> Result<Vec<Account>, AppError> {
        let group = self.group(m, slug).await?;
        Ok(self.app.store().group_members(group.id).await?)
    }

    /// An account by username; unknown names are `NotFound`.
    pub(crate) async fn account(&self, username: &str) -> Result<Account, AppError> {
        let u = Username::parse(username).map_err(|_| AppError::NotFound)?;
        self.app.store().find_account(AccountLookup::Username(&u)).await?.map(|f| f.account).ok_or(AppError::NotFound)
    }

    /// Adds an account to a group. Unverified or deactivated accounts
    /// cannot join workspaces (SPEC §1).
    pub async fn add_member(&self, a: &AdminOf, group: &str, username: &str) -> Result<MembershipChange, AppError> {
        let group = self.group(a.member(), group).await?;
        let account = self.account(username).await?;
        if !account.may_join() {
            return Err(AppError::Conflict(format!(
                "{} cannot join workspaces until their email address is verified.",
                account.username
            )));
        }
        let mut audit =
            self.audit(a.actor(), Some(group.workspace), "group.member_added", format!("account:{}", account.username));
        audit.detail = Some(format!("group:{}", group.slug));
        let audit = audit.with_data(membership_json(&group, &account));
        Ok(self.app.written(self.app.store().add_member(group.id, account.id, &audit).await).await?)
    }

    pub async fn remove_member(&self, a: &AdminOf, group: &str, username: &str) -> Result<MembershipChange, AppError> {
        let group = self.group(a.member(), group).await?;
        let account = self.account(username).await?;
        let mut audit = self.audit(
            a.actor(),
            Some(group.workspace),
            "group.member_removed",
            format!("account:{}", account.username),
        );
        audit.detail = Some(format!("group:{}", group.slug));
        let audit = audit.with_data(membership_json(&group, &account));
        self.app
            .written(self.app.store().remove_member(group.id, account.id, &audit).await)
            .await
            .map_err(|e| conflict(e, "username", ""))
    }

    pub async fn repositories(&self, m: &MemberOf) -> Result<Vec<Repository>, AppError> {
        Ok(self.app.store().repositories(m.workspace.id).await?)
    }

    pub async fn repository(&self, m: &MemberOf, slug: &str) -> Result<Repository, AppError> {
        let slug = Slug::parse(slug).map_err(|_| AppError::NotFound)?;
        self.app.store().repository_by_slug(m.workspace.id, &slug).await?.ok_or(AppError::NotFound)
    }

    pub async fn create_repository(
        &self,
        a: &AdminOf,
        slug: &str,
        name: Option<&str>,
        private: Option<bool>,
    ) -> Result<Repository, AppError> {
        let mut errors = FieldErrors::default();
        let slug = parse_slug("slug", slug, &mut errors);
        let name = match name {
            Some(n) => parse_name("name", n, &mut errors),
            None => slug.as_ref().map(|s| s.to_string()),
        };
        let (Some(slug), Some(name)) = (slug, name) else { return Err(AppError::Invalid(errors)) };
        let new = NewRepository {
            id: RepositoryId::from_uuid(self.app.new_uuid()),
            slug: slug.clone(),
            name,
            private: private.unwrap_or(true),
        };
        let ws = a.workspace();
        let data = json!({ "repository": { "id": new.id.0, "slug": slug.as_str(), "name": new.name, "private": new.private } });
        let audit =
            self.audit(a.actor(), Some(ws.id), "repository.created", format!("repository:{slug}")).with_data(data);
        self.app
            .written(self.app.store().create_repository(ws.id, &new, &audit).await)
            .await
            .map_err(|e| conflict(e, "slug", "That repository slug is taken."))
    }

    pub async fn update_repository(
        &self,
        a: &AdminOf,
        slug: &str,
        name: Option<&str>,
        private: Option<bool>,
    ) -> Result<Repository, AppError> {
        let mut repo = self.repository(a.member(), slug).await?;
        let mut errors = FieldErrors::default();
        if let Some(n) = name.and_then(|n| parse_name("name", n, &mut errors)) {
            repo.name = n;
        }
        errors.into_result()?;
        if let Some(p) = private {
            repo.private = p;
        }
        let audit = self
            .audit(a.actor(), Some(repo.workspace), "repository.updated", format!("repository:{}", repo.slug))
            .with_data(json!({ "repository": repository_json(&repo) }));
        self.app.written(self.app.store().update_repository(&repo, &audit).await).await?;
        Ok(repo)
    }

    pub async fn delete_repository(&self, a: &AdminOf, slug: &str) -> Result<(), AppError> {
        let repo = self.repository(a.member(), slug).await?;
        let audit = self
            .audit(a.actor(), Some(repo.workspace), "repository.deleted", format!("repository:{}", repo.slug))
            .with_data(json!({ "repository": repository_json(&repo) }));
        self.app.written(self.app.store().delete_repository(repo.id, &audit).await).await?;
        Ok(())
    }

    /// Sets (`Some`) or removes (`None`) a group's permission on a repository.
    pub async fn set_group_permission(
        &self,
        a: &AdminOf,
        group: &str,
        repo: &str,
        permission: Option<&str>,
    ) -> Result<(), AppError> {
        let group = self.group(a.member(), group).await?;
        let repo = self.repository(a.member(), repo).await?;
        let mut errors = FieldErrors::default();
        let p = permission.map(|p| parse_permission("permission", p, &mut errors));
        errors.into_result()?;
        let p = p.flatten();
        let action = if p.is_some() { "group.permission_set" } else { "group.permission_removed" };
        let mut audit = self.audit(a.actor(), Some(repo.workspace), action, format!("repository:{}", repo.slug));
        audit.detail = Some(format!("group:{} {}", group.slug, p.map_or("-", Permission::as_str)));
        let audit = audit.with_data(json!({
            "group": { "id": group.id.0, "slug": group.slug.as_str() },
            "repository": { "id": repo.id.0, "slug": repo.slug.as_str() },
            "permission": p.map(Permission::as_str),
        }));
        Ok(self.app.written(self.app.store().set_group_permission(group.id, repo.id, p, &audit).await).await?)
    }

    /// Sets (`Some`) or removes (`None`) an account's direct grant.
    pub async fn set_grant(
        &self,
        a: &AdminOf,
        repo: &str,
        username: &str,
        permission: Option<&str>,
    ) -> Result<(), AppError> {
        let repo = self.repository(a.member(), repo).await?;
        let account = self.account(username).await?;
        let mut errors = FieldErrors::default();
        let p = permission.map(|p| parse_permission("permission", p, &mut errors));
        errors.into_result()?;
        let p = p.flatten();
        let action = if p.is_some() { "repository.grant_set" } else { "repository.grant_removed" };
        let mut audit = self.audit(a.actor(), Some(repo.workspace), action, format!("repository:{}", repo.slug));
        audit.detail = Some(format!("account:{} {}", account.username, p.map_or("-", Permission::as_str)));
        let audit = audit.with_data(json!({
            "account": { "id": account.id.0, "username": account.username.as_str() },
            "repository": { "id": repo.id.0, "slug": repo.slug.as_str() },
            "permission": p.map(Permission::as_str),
        }));
        Ok(self.app.written(self.app.store().set_grant(repo.id, account.id, p, &audit).await).await?)
    }

    /// The current permission index of a workspace (by slug): from memory
    /// while the change feed is followed (ADR 0006); otherwise the version
    /// is read and the index rebuilt from a snapshot if it moved. Concurrent
    /// misses share one load.
    async fn index(&self, slug: &Slug) -> Result<Arc<CachedIndex>, AppError> {
        let caches = &self.app.caches;
        let key = slug.as_str();
        if caches.fresh()
            && let Some(entry) = caches.index(key)
        {
            return Ok(entry);
        }
        let epoch = caches.epoch();
        let store = self.app.store();
        let entry = self
            .app
            .reads
            .indexes
            .get(&key.to_owned(), || async {
                let Some((id, version)) = store.workspace_version(slug).await? else { return Ok(None) };
                if let Some(entry) = caches.index(key).filter(|e| e.id == id && e.version == version) {
                    return Ok(Some(entry));
                }
                let Some(snapshot) = store.permission_snapshot(id).await? else { return Ok(None) };
                let index = PermissionIndex::build(snapshot.data);
                Ok(Some(Arc::new(CachedIndex { id, version: snapshot.version, index })))
            })
            .await?
            .ok_or(AppError::NotFound)?;
        caches.put_index(key, entry.clone(), epoch);
        Ok(entry)
    }

    /// An account's effective permission from an index; `NotFound` for an
    /// unknown repository or account.
    async fn lookup(&self, index: &PermissionIndex, repo: &str, username: &str) -> Result<Permission, AppError> {
        let repo = Slug::parse(repo).map_err(|_| AppError::NotFound)?;
        let username = Username::parse(username).map_err(|_| AppError::NotFound)?;
        let p = index.permission(username.as_str(), repo.as_str()).ok_or(AppError::NotFound)?;
        if p == Permission::None && !index.knows(username.as_str()) {
            // Not in the workspace at all: only the database knows whether
            // the account exists.
            self.account(username.as_str()).await?;
        }
        Ok(p)
    }

    /// An account's effective permission on a repository, for a member.
    pub async fn permission(&self, m: &MemberOf, repo: &str, username: &str) -> Result<Permission, AppError> {
        let entry = self.index(&m.workspace.slug).await?;
        self.lookup(&entry.index, repo, username).await
    }

    /// The fast check (`GET …/repositories/{repo}/permissions/{username}`):
    /// memory only, while the change feed is followed. Authorization as in `open`: the actor
    /// must be a member, or the workspace does not exist for them.
    pub async fn check(&self, actor: &Actor, ws: &str, repo: &str, username: &str) -> Result<Permission, AppError> {
        let slug = Slug::parse(ws).map_err(|_| AppError::NotFound)?;
        let entry = self.index(&slug).await?;
        if !entry.index.is_member(actor.account.username.as_str()) {
            return Err(AppError::NotFound);
        }
        self.lookup(&entry.index, repo, username).await
    }

    /// One page of members (by username, after the cursor).
    pub async fn members(
        &self,
        m: &MemberOf,
        after: Option<&str>,
        limit: u32,
        all_repositories: bool,
    ) -> Result<Vec<Member>, AppError> {
        Ok(self.app.store().members(m.workspace.id, after, limit.clamp(1, 1000), all_repositories).await?)
    }

    pub async fn audit_log(&self, a: &AdminOf, before: Option<i64>, limit: u32) -> Result<Vec<(i64, Audit)>, AppError> {
        Ok(self.app.store().audit_log(a.workspace().id, before, limit.clamp(1, 500)).await?)
    }
}
