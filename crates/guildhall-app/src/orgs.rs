//! Organization use cases. As for workspaces, authorization lives in a type:
//! an `OrgAdminOf` is only handed out to the org's admins (everyone else gets
//! `NotFound`: orgs do not reveal themselves), and every org method demands
//! one.

use crate::App;
use crate::error::{AppError, FieldErrors};
use crate::ports::{Audit, AutoLink, ManagedChange, NewOrg, Org, OrgDomain, StoreError, Workspace};
use crate::workspaces::{Actor, parse_name};
use guildhall_core::accounts::{Account, AccountStatus, DisplayName};
use guildhall_core::orgs::{DomainName, has_verification_record, verification_record};
use guildhall_core::workspaces::Slug;
use guildhall_core::{OrgId, Timestamp};

/// The operator setting and job lease of the linking deadline.
const LINKING_DEADLINE: &str = "linking_deadline";
/// How long the job's lease lasts if a node dies mid-run.
const LEASE: std::time::Duration = std::time::Duration::from_secs(300);

/// Proof that the actor administers the org.
#[derive(Clone, Debug)]
pub struct OrgAdminOf {
    pub org: Org,
    pub actor: Actor,
}

/// A domain as the org admin sees it: with the record to publish.
#[derive(Clone, Debug)]
pub struct DomainView {
    pub domain: OrgDomain,
    pub record: String,
}

impl From<OrgDomain> for DomainView {
    fn from(domain: OrgDomain) -> Self {
        let record = verification_record(&domain.token);
        Self { domain, record }
    }
}

/// One person in central user management.
#[derive(Clone, Debug)]
pub struct OrgMember {
    pub account: Account,
    /// Whether the org manages the account (its email domain is verified).
    pub managed: bool,
    /// The linked workspaces they belong to.
    pub workspaces: Vec<Slug>,
}

/// Filters of central user management; `None` means any.
#[derive(Default)]
pub struct MemberFilter<'a> {
    pub workspace: Option<&'a str>,
    pub managed: Option<bool>,
    pub search: Option<&'a str>,
}

pub struct OrgService<'a> {
    app: &'a App,
}

fn conflict(e: StoreError) -> AppError {
    match e {
        StoreError::Conflict("slug") => AppError::invalid("slug", "That organization slug is taken."),
        StoreError::Conflict("last_admin") => {
            AppError::Conflict("An organization must keep at least one administrator.".into())
        }
        StoreError::Conflict("domain") => AppError::invalid("domain", "The organization already claims this domain."),
        StoreError::Conflict("linked") => {
            AppError::Conflict("This workspace is already linked to an organization; links are permanent.".into())
        }
        StoreError::Conflict("ineligible") => {
            AppError::Conflict("Only workspaces on the paid plan can be linked to an organization.".into())
        }
        StoreError::Conflict("domain_taken") => {
            AppError::Conflict("Another organization has already verified this domain.".into())
        }
        e => e.into(),
    }
}

impl<'a> OrgService<'a> {
    pub(crate) fn new(app: &'a App) -> Self {
        Self { app }
    }

    pub(crate) fn audit(&self, actor: &Actor, action: &str, target: String) -> Audit {
        Audit {
            workspace: None,
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

    /// Creates an org; its creator is its first admin.
    pub async fn create(&self, actor: &Actor, slug: &str, name: &str) -> Result<Org, AppError> {
        let mut errors = FieldErrors::default();
        let slug = Slug::parse(slug.trim()).map_err(|e| errors.add("slug", e)).ok();
        let name = parse_name("name", name, &mut errors);
        errors.into_result()?;
        let (Some(slug), Some(name)) = (slug, name) else { return Err(AppError::invalid("slug", "Enter a slug.")) };
        let new = NewOrg {
            id: OrgId::from_uuid(self.app.new_uuid()),
            slug,
            name,
            creator: actor.account.id,
            now: self.app.now(),
        };
        let audit = self.audit(actor, "org.created", format!("org:{}", new.slug));
        self.app.store().create_org(&new, &audit).await.map_err(conflict)
    }

    /// The orgs the account administers.
    pub async fn mine(&self, account: &Account) -> Result<Vec<Org>, AppError> {
        Ok(self.app.store().orgs_of_admin(account.id).await?)
    }

    /// Opens an org for one of its admins; `NotFound` for anyone else.
    pub async fn open(&self, actor: Actor, slug: &str) -> Result<OrgAdminOf, AppError> {
        let slug = Slug::parse(slug).map_err(|_| AppError::NotFound)?;
        let store = self.app.store();
        let org = store.org_by_slug(&slug).await?.ok_or(AppError::NotFound)?;
        if !store.is_org_admin(org.id, actor.account.id).await? {
            return Err(AppError::NotFound);
        }
        Ok(OrgAdminOf { org, actor })
    }

    pub async fn rename(&self, a: &OrgAdminOf, name: &str) -> Result<Org, AppError> {
        let mut errors = FieldErrors::default();
        let name = parse_name("name", name, &mut errors);
        errors.into_result()?;
        let mut org = a.org.clone();
        org.name = name.unwrap_or(org.name);
        let audit = self.audit(&a.actor, "org.updated", format!("org:{}", org.slug));
        self.app.store().update_org(&org, &audit).await?;
        Ok(org)
    }

    /// Requires (or stops requiring) a second factor of managed accounts.
    pub async fn set_require_mfa(&self, a: &OrgAdminOf, required: bool) -> Result<Org, AppError> {
        let mut org = a.org.clone();
        org.require_mfa = required;
        let action = if required { "org.mfa_required" } else { "org.mfa_optional" };
        let audit = self.audit(&a.actor, action, format!("org:{}", org.slug));
        self.app.store().set_org_require_mfa(org.id, required, &audit).await?;
        Ok(org)
    }

    pub async fn admins(&self, a: &OrgAdminOf) -> Result<Vec<Account>, AppError> {
        Ok(self.app.store().org_admins(a.org.id).await?)
    }

    /// Makes an account an admin (`true`) or not; an org keeps one admin.
    pub async fn set_admin(&self, a: &OrgAdminOf, username: &str, admin: bool) -> Result<bool, AppError> {
        let account = self.app.accounts().by_username(username).await?;
        let action = if admin { "org.admin_added" } else { "org.admin_removed" };
        let audit = self.audit(&a.actor, action, format!("account:{}", account.username));
        self.app.store().set_org_admin(a.org.id, account.id, admin, &audit).await.map_err(conflict)
    }

    /// Claims a domain; the admin publishes the returned TXT record.
    pub async fn add_domain(&self, a: &OrgAdminOf, domain: &str) -> Result<DomainView, AppError> {
        let domain = DomainName::parse(domain).map_err(|e| AppError::invalid("domain", e))?;
        let token = self.app.new_token().expose().to_owned();
        let d = OrgDomain { domain, token, verified_at: None, created_at: self.app.now() };
        let audit = self.audit(&a.actor, "org.domain_added", format!("domain:{}", d.domain));
        self.app.store().add_domain(a.org.id, &d, &audit).await.map_err(conflict)?;
        Ok(d.into())
    }

    pub async fn domains(&self, a: &OrgAdminOf) -> Result<Vec<DomainView>, AppError> {
        Ok(self.app.store().org_domains(a.org.id).await?.into_iter().map(DomainView::from).collect())
    }

    async fn claimed(&self, a: &OrgAdminOf, domain: &str) -> Result<OrgDomain, AppError> {
        let domain = DomainName::parse(domain).map_err(|_| AppError::NotFound)?;
        let domains = self.app.store().org_domains(a.org.id).await?;
        domains.into_iter().find(|d| d.domain == domain).ok_or(AppError::NotFound)
    }

    /// Looks the TXT record up in DNS; when it is there, the domain is the
    /// org's and every account on it becomes managed (and is told).
    pub async fn verify_domain(&self, a: &OrgAdminOf, domain: &str) -> Result<Vec<Account>, AppError> {
        let d = self.claimed(a, domain).await?;
        let txt = self.app.deps.dns.txt(d.domain.as_str()).await.map_err(|e| {
            AppError::invalid("domain", format!("The DNS lookup of {} failed ({e}); try again.", d.domain))
        })?;
        if !has_verification_record(&txt, &d.token) {
            return Err(AppError::invalid(
                "domain",
                format!(
                    "No TXT record \"{}\" was found at {}. DNS changes can take a while to appear; try again later.",
                    verification_record(&d.token),
                    d.domain
                ),
            ));
        }
        let audit = self.audit(&a.actor, "org.domain_verified", format!("domain:{}", d.domain));
        let result = self.app.store().verify_domain(a.org.id, &d.domain, self.app.now(), &audit).await;
        let managed = self.app.written(result).await.map_err(conflict)?.ok_or(AppError::NotFound)?;
        for account in &managed {
            let mail =
                crate::mails::now_managed(&self.app.settings().public_url, account, &a.org.name, d.domain.as_str());
            if let Err(e) = self.app.deps.mailer.send(mail).await {
                // The verification stands; the notice is best effort.
                tracing::warn!(error = %e, "could not queue the managed-account notice");
            }
        }
        Ok(managed)
    }

    /// Gives the domain up; its managed accounts become personal again.
    pub async fn remove_domain(&self, a: &OrgAdminOf, domain: &str) -> Result<(), AppError> {
        let d = self.claimed(a, domain).await?;
        let audit = self.audit(&a.actor, "org.domain_removed", format!("domain:{}", d.domain));
        let removed = self.app.written(self.app.store().remove_domain(a.org.id, &d.domain, &audit).await).await?;
        if removed { Ok(()) } else { Err(AppError::NotFound) }
    }

    pub async fn managed_accounts(&self, a: &OrgAdminOf) -> Result<Vec<Account>, AppError> {
        Ok(self.app.store().managed_accounts(a.org.id).await?)
    }

    /// Renames, deactivates or reactivates an account the org manages.
    /// Everything is checked before anything changes.
    pub async fn update_managed(
        &self,
        a: &OrgAdminOf,
        username: &str,
        display_name: Option<&str>,
        status: Option<&str>,
    ) -> Result<Account, AppError> {
        let mut errors = FieldErrors::default();
        let mut changes = Vec::new();
        if let Some(name) = display_name {
            match DisplayName::parse(name) {
                Ok(n) => changes.push(ManagedChange::DisplayName(n)),
                Err(e) => errors.add("display_name", e),
            }
        }
        if let Some(status) = status {
            match AccountStatus::parse(status) {
                Some(s) => changes.push(ManagedChange::Status(s)),
                None => errors.add("status", "A status is active or deactivated."),
            }
        }
        if changes.is_empty() && errors.is_empty() {
            errors.add("display_name", "Change display_name or status.");
        }
        errors.into_result()?;
        let mut account = None;
        for change in changes {
            account = Some(self.change_managed(a, username, change).await?);
        }
        account.ok_or(AppError::NotFound)
    }

    /// Signs a managed account out everywhere.
    pub async fn end_managed_sessions(&self, a: &OrgAdminOf, username: &str) -> Result<(), AppError> {
        self.change_managed(a, username, ManagedChange::EndSessions).await.map(|_| ())
    }

    /// Applies one change to an account the org manages. Personal accounts
    /// are `NotFound`: an org has no power over them.
    async fn change_managed(&self, a: &OrgAdminOf, username: &str, change: ManagedChange) -> Result<Account, AppError> {
        let account = self.app.accounts().by_username(username).await?;
        let action = match &change {
            ManagedChange::DisplayName(_) => "org.account_renamed",
            ManagedChange::Status(AccountStatus::Deactivated) => "org.account_deactivated",
            ManagedChange::Status(_) => "org.account_reactivated",
            ManagedChange::EndSessions => "org.account_signed_out",
        };
        let audit = self.audit(&a.actor, action, format!("account:{}", account.username));
        let result = self.app.store().change_managed(a.org.id, account.id, &change, self.app.now(), &audit).await;
        self.app.written(result).await?.ok_or(AppError::NotFound)
    }

    /// Links a workspace to the org, permanently. The actor must administer
    /// both; the workspace must be on the paid plan and not linked yet.
    pub async fn link_workspace(&self, a: &OrgAdminOf, workspace: &str) -> Result<Workspace, AppError> {
        let member = self.app.workspaces().open(a.actor.clone(), workspace).await?;
        let ws_admin = member.admin().map_err(|_| {
            AppError::Forbidden(
                "Linking needs an administrator of both the workspace and the organization. Ask an administrator \
                 of the workspace to invite you into its administrators group."
                    .into(),
            )
        })?;
        let ws = ws_admin.workspace();
        let ws_audit =
            self.app.workspaces().audit(&a.actor, Some(ws.id), "workspace.linked", format!("org:{}", a.org.slug));
        let org_audit = self.audit(&a.actor, "org.workspace_linked", format!("workspace:{}", ws.slug));
        let result = self.app.store().link_workspace(a.org.id, ws.id, self.app.now(), &ws_audit, &org_audit).await;
        self.app.written(result).await.map_err(conflict)?;
        self.app.store().workspace_by_id(ws.id).await?.ok_or(AppError::NotFound)
    }

    /// Central user management: the members of every linked workspace and
    /// every managed account, filtered by linked workspace, by managed or
    /// not, and by a case-insensitive search in username, name and (for
    /// managed accounts only) email.
    pub async fn members(&self, a: &OrgAdminOf, filter: &MemberFilter<'_>) -> Result<Vec<OrgMember>, AppError> {
        let all = self.app.store().org_members(a.org.id).await?;
        let q = filter.search.map(|s| s.trim().to_lowercase()).filter(|s| !s.is_empty());
        Ok(all
            .into_iter()
            .map(|(account, workspaces)| OrgMember {
                managed: account.managed_by == Some(a.org.id),
                account,
                workspaces,
            })
            .filter(|m| filter.workspace.is_none_or(|w| m.workspaces.iter().any(|s| s.as_str() == w)))
            .filter(|m| filter.managed.is_none_or(|want| m.managed == want))
            .filter(|m| {
                q.as_deref().is_none_or(|q| {
                    // Emails only of managed accounts: a personal account's
                    // email is not the org's to see (nor to probe by search).
                    let a = &m.account;
                    let email = if m.managed { a.email.as_str() } else { "" };
                    [a.username.as_str(), a.display_name.as_str(), email]
                        .iter()
                        .any(|field| field.to_lowercase().contains(q))
                })
            })
            .collect())
    }

    pub async fn linked_workspaces(&self, a: &OrgAdminOf) -> Result<Vec<Workspace>, AppError> {
        Ok(self.app.store().linked_workspaces(a.org.id).await?)
    }

    /// The operator's only way to undo a link (`guildhall admin workspace
    /// unlink`), audited in both logs with the reason. Returns the org's id.
    pub async fn unlink_workspace(&self, workspace: &str, reason: &str) -> Result<(), AppError> {
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(AppError::invalid("reason", "Give the reason for unlinking."));
        }
        let slug = Slug::parse(workspace).map_err(|_| AppError::NotFound)?;
        let ws = self.app.store().workspace_by_slug(&slug).await?.ok_or(AppError::NotFound)?;
        let audit = Audit {
            workspace: Some(ws.id),
            actor: None,
            actor_label: "operator".into(),
            action: "workspace.unlinked".into(),
            target: format!("workspace:{}", ws.slug),
            detail: Some(reason.to_owned()),
            ip: None,
            at: self.app.now(),
            data: None,
        };
        let unlinked = self.app.written(self.app.store().unlink_workspace(ws.id, &audit).await).await?;
        unlinked
            .map(|_| ())
            .ok_or_else(|| AppError::Conflict("This workspace is not linked to an organization.".into()))
    }

    /// The linking deadline, if the operator set one.
    pub async fn linking_deadline(&self) -> Result<Option<Timestamp>, AppError> {
        let raw = self.app.store().operator_setting(LINKING_DEADLINE).await?;
        Ok(raw.and_then(|v| v.parse::<i64>().ok()).map(Timestamp::from_millis))
    }

    /// Sets (or, with `None`, clears) the linking deadline.
    pub async fn set_linking_deadline(&self, at: Option<Timestamp>) -> Result<(), AppError> {
        let value = at.map(|t| t.as_millis().to_string());
        Ok(self.app.store().set_operator_setting(LINKING_DEADLINE, value.as_deref()).await?)
    }

    /// The linking-deadline job, run by every node on a schedule: once the
    /// deadline has passed, each paid workspace no org has linked gets an org
    /// of its own (named after it, its admins = the workspace's), is linked
    /// to it, and its admins are told. The node holding the lease does the
    /// work; each workspace is one transaction that does nothing if the
    /// workspace was linked meanwhile, so it happens exactly once however
    /// many nodes run. Returns how many workspaces it linked.
    pub async fn run_linking_deadline(&self, node: &str) -> Result<usize, AppError> {
        let Some(deadline) = self.linking_deadline().await? else { return Ok(0) };
        let now = self.app.now();
        let store = self.app.store();
        if now < deadline || !store.take_lease(LINKING_DEADLINE, node, now, now.plus(LEASE)).await? {
            return Ok(0);
        }
        let mut linked = 0;
        for ws in store.unlinked_paid_workspaces().await? {
            if self.link_by_deadline(&ws).await? {
                linked += 1;
            }
        }
        store.release_lease(LINKING_DEADLINE, node).await?;
        Ok(linked)
    }

    async fn link_by_deadline(&self, ws: &Workspace) -> Result<bool, AppError> {
        let candidates = std::iter::once(ws.slug.to_string())
            .chain((1..=9).map(|n| if n == 1 { format!("{}-org", ws.slug) } else { format!("{}-org-{n}", ws.slug) }));
        for candidate in candidates.filter_map(|c| Slug::parse(&c).ok()) {
            let link = AutoLink {
                workspace: ws.id,
                org: OrgId::from_uuid(self.app.new_uuid()),
                slug: candidate,
                name: ws.name.clone(),
                now: self.app.now(),
            };
            let at = self.app.now();
            let audit = |action: &str, target: String, detail: Option<String>| Audit {
                workspace: Some(ws.id),
                actor: None,
                actor_label: "linking deadline".into(),
                action: action.into(),
                target,
                detail,
                ip: None,
                at,
                data: None,
            };
            let ws_audit = audit("workspace.linked", format!("org:{}", link.slug), None);
            let org_audit =
                audit("org.created", format!("org:{}", link.slug), Some(format!("for workspace:{}", ws.slug)));
            let result = self.app.store().auto_link_workspace(&link, &ws_audit, &org_audit).await;
            match self.app.written(result).await {
                Ok(Some(admins)) => {
                    for admin in &admins {
                        let mail = crate::mails::linked_by_deadline(
                            &self.app.settings().public_url,
                            admin,
                            ws.slug.as_str(),
                            link.slug.as_str(),
                        );
                        if let Err(e) = self.app.deps.mailer.send(mail).await {
                            tracing::warn!(error = %e, "could not queue the linking notice");
                        }
                    }
                    tracing::info!(workspace = %ws.slug, org = %link.slug, "linked by the linking deadline");
                    return Ok(true);
                }
                Ok(None) => return Ok(false),
                Err(StoreError::Conflict("slug")) => {}
                Err(e) => return Err(e.into()),
            }
        }
        tracing::warn!(workspace = %ws.slug, "no free organization slug for the linking deadline");
        Ok(false)
    }

    pub async fn audit_log(
        &self,
        a: &OrgAdminOf,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<(i64, Audit)>, AppError> {
        Ok(self.app.store().org_audit_log(a.org.id, before, limit.clamp(1, 500)).await?)
    }
}
