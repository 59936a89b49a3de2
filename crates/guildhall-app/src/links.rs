//! Linked products (SPEC §4): a workspace admin links an external product
//! (an issue tracker, a wiki…), which gets its own credentials and reports
//! its new users; Guildhall invites them to the configured groups, or to the
//! groups given for that user. The four strategies of the SPEC are in
//! `docs/linked-products.md`.

use crate::App;
use crate::error::{AppError, FieldErrors};
use crate::invitations::{InviteOutcome, Inviter};
use crate::ports::{Audit, Invitation, Link, StoreError, Workspace};
use crate::workspaces::AdminOf;
use guildhall_core::LinkId;
use guildhall_core::accounts::DisplayName;
use guildhall_core::tokens::SecretToken;
use guildhall_core::workspaces::Slug;

/// What reporting a user did.
#[derive(Debug)]
pub enum ReportOutcome {
    Invited(Invitation),
    /// Already in every one of those groups: nothing to do.
    AlreadyInGroups,
    /// A pending invitation already covers those groups: nothing sent.
    AlreadyInvited(Invitation),
    /// The link invites nobody automatically and no groups were given.
    NothingConfigured,
}

pub struct LinkService<'a> {
    app: &'a App,
}

impl<'a> LinkService<'a> {
    pub(crate) fn new(app: &'a App) -> Self {
        Self { app }
    }

    fn audit(&self, a: &AdminOf, action: &str, link: &Slug) -> Audit {
        self.app.workspaces().audit(a.actor(), Some(a.workspace().id), action, format!("link:{link}"))
    }

    /// The groups, parsed and checked to exist in the workspace and not to
    /// be the administrators group.
    async fn groups(&self, ws: &Workspace, groups: &[String]) -> Result<Vec<Slug>, AppError> {
        let mut out = Vec::new();
        for g in groups.iter().map(|g| g.trim()).filter(|g| !g.is_empty()) {
            let slug = Slug::parse(g).ok();
            let found = match &slug {
                Some(s) => self.app.store().group_by_slug(ws.id, s).await?,
                None => None,
            };
            let group = found
                .ok_or_else(|| AppError::invalid("groups", format!("There is no group {g:?} in this workspace.")))?;
            // A product (or whoever holds its secret) must never hand out
            // administration: only administrators invite administrators.
            if group.is_admins {
                return Err(AppError::invalid(
                    "groups",
                    "A linked product cannot invite into the administrators group.",
                ));
            }
            if !out.contains(&group.slug) {
                out.push(group.slug);
            }
        }
        Ok(out)
    }

    /// Links a product; its secret is returned once and stored hashed.
    pub async fn create(
        &self,
        a: &AdminOf,
        slug: &str,
        name: &str,
        groups: &[String],
    ) -> Result<(Link, SecretToken), AppError> {
        let mut errors = FieldErrors::default();
        let slug = Slug::parse(slug.trim()).map_err(|e| errors.add("slug", e)).ok();
        let name = crate::workspaces::parse_name("name", name, &mut errors);
        errors.into_result()?;
        let (Some(slug), Some(name)) = (slug, name) else { return Err(AppError::invalid("slug", "Enter a slug.")) };
        let default_groups = self.groups(a.workspace(), groups).await?;
        let link = Link {
            id: LinkId::from_uuid(self.app.new_uuid()),
            workspace: a.workspace().id,
            slug,
            name,
            default_groups,
            created_at: self.app.now(),
        };
        let secret = self.app.new_token();
        let audit = self.audit(a, "link.created", &link.slug);
        self.app.store().create_link(&link, &secret.hash(), &audit).await.map_err(|e| match e {
            StoreError::Conflict("slug") => {
                AppError::invalid("slug", "This workspace already has a link with that slug.")
            }
            e => e.into(),
        })?;
        Ok((link, secret))
    }

    pub async fn list(&self, a: &AdminOf) -> Result<Vec<Link>, AppError> {
        Ok(self.app.store().links(a.workspace().id).await?)
    }

    pub async fn get(&self, a: &AdminOf, slug: &str) -> Result<Link, AppError> {
        let slug = Slug::parse(slug).map_err(|_| AppError::NotFound)?;
        self.app.store().link_by_slug(a.workspace().id, &slug).await?.ok_or(AppError::NotFound)
    }

    /// Chooses the groups new users are invited to (none: off).
    pub async fn set_groups(&self, a: &AdminOf, slug: &str, groups: &[String]) -> Result<Link, AppError> {
        let mut link = self.get(a, slug).await?;
        link.default_groups = self.groups(a.workspace(), groups).await?;
        let audit = self.audit(a, "link.groups_set", &link.slug);
        self.app.store().set_link_groups(link.id, &link.default_groups, &audit).await?;
        Ok(link)
    }

    /// New credentials; the old ones stop working at once.
    pub async fn rotate(&self, a: &AdminOf, slug: &str) -> Result<SecretToken, AppError> {
        let link = self.get(a, slug).await?;
        let secret = self.app.new_token();
        let audit = self.audit(a, "link.rotated", &link.slug);
        self.app.store().rotate_link_secret(link.id, &secret.hash(), &audit).await?;
        Ok(secret)
    }

    pub async fn delete(&self, a: &AdminOf, slug: &str) -> Result<(), AppError> {
        let link = self.get(a, slug).await?;
        let audit = self.audit(a, "link.deleted", &link.slug);
        Ok(self.app.store().delete_link(link.id, &audit).await?)
    }

    /// The invitations the link caused.
    pub async fn invitations(&self, a: &AdminOf, slug: &str) -> Result<Vec<Invitation>, AppError> {
        let link = self.get(a, slug).await?;
        Ok(self.app.store().link_invitations(link.id).await?)
    }

    /// A linked product reports a new user (authenticated by the link's
    /// secret, which must belong to `ws`/`link`): invited to `groups` if
    /// given (they replace the configured ones), else to the configured ones.
    pub async fn report_user(
        &self,
        secret: &str,
        ws: &str,
        link: &str,
        email: &str,
        display_name: &str,
        groups: Option<&[String]>,
    ) -> Result<ReportOutcome, AppError> {
        let found = match SecretToken::parse(secret) {
            Some(s) => self.app.store().link_by_secret(&s.hash()).await?,
            None => None,
        };
        let Some((link, workspace)) = found.filter(|(l, w)| l.slug.as_str() == link && w.slug.as_str() == ws) else {
            return Err(AppError::Unauthenticated);
        };
        DisplayName::parse(display_name).map_err(|e| AppError::invalid("display_name", e))?;
        let groups: Vec<String> = match groups {
            Some(given) => self.groups(&workspace, given).await?.iter().map(|s| s.to_string()).collect(),
            None => link.default_groups.iter().map(|s| s.to_string()).collect(),
        };
        if groups.is_empty() {
            // Still a real request: a malformed email is an error.
            guildhall_core::accounts::Email::parse(email).map_err(|e| AppError::invalid("email", e))?;
            return Ok(ReportOutcome::NothingConfigured);
        }
        if !email.contains('@') {
            return Err(AppError::invalid("email", "Enter the person's email address."));
        }
        let outcome = self.app.invitations().invite_into(&workspace, Inviter::Link(&link), email, &groups).await?;
        Ok(match outcome {
            InviteOutcome::Invited(inv) => ReportOutcome::Invited(inv),
            InviteOutcome::AlreadyInGroups => ReportOutcome::AlreadyInGroups,
            InviteOutcome::AlreadyInvited(inv) => ReportOutcome::AlreadyInvited(inv),
        })
    }
}
