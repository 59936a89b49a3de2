//! Sites and their customer accounts (SPEC §7): a site has its own sign-up
//! and sign-in, and customers who exist only there. A customer is never a
//! global account and never another site's customer, even with the same
//! email; a customer session is bound to its site and grants nothing else.

use crate::App;
use crate::error::{AppError, FieldErrors};
use crate::ports::{Customer, Site, StoreError};
use crate::signin::ClientInfo;
use crate::workspaces::{Actor, parse_name};
use guildhall_core::accounts::{AccountStatus, Email};
use guildhall_core::tokens::SecretToken;
use guildhall_core::workspaces::Slug;
use guildhall_core::{CustomerId, SiteId};

/// Proof that the actor administers the site's customers.
#[derive(Clone, Debug)]
pub struct SiteAdminOf {
    pub site: Site,
    pub actor: Actor,
}

pub struct SiteService<'a> {
    app: &'a App,
}

impl<'a> SiteService<'a> {
    pub(crate) fn new(app: &'a App) -> Self {
        Self { app }
    }

    /// The operator creates a site (named after its slug unless `name` says
    /// otherwise), with a first admin if one is named.
    pub async fn create(&self, slug: &str, name: Option<&str>, admin_username: Option<&str>) -> Result<Site, AppError> {
        let mut errors = FieldErrors::default();
        let slug = Slug::parse(slug.trim()).map_err(|e| errors.add("slug", e)).ok();
        let name = name.map(|n| parse_name("name", n, &mut errors));
        errors.into_result()?;
        let Some(slug) = slug else { return Err(AppError::invalid("slug", "Enter a slug.")) };
        let name = name.flatten().unwrap_or_else(|| slug.to_string());
        let admin = match admin_username {
            Some(u) => Some(self.app.accounts().by_username(u).await?.id),
            None => None,
        };
        let site = Site { id: SiteId::from_uuid(self.app.new_uuid()), slug, name, created_at: self.app.now() };
        self.app.store().create_site(&site, admin).await.map_err(|e| match e {
            StoreError::Conflict("slug") => AppError::invalid("slug", "That site slug is taken."),
            e => e.into(),
        })?;
        Ok(site)
    }

    /// The operator makes a global account an admin of the site.
    pub async fn add_admin(&self, slug: &str, username: &str) -> Result<bool, AppError> {
        let site = self.site(slug).await?;
        let account = self.app.accounts().by_username(username).await?;
        Ok(self.app.store().add_site_admin(site.id, account.id).await?)
    }

    /// A site by slug; `NotFound` otherwise.
    pub async fn site(&self, slug: &str) -> Result<Site, AppError> {
        let slug = Slug::parse(slug).map_err(|_| AppError::NotFound)?;
        self.app.store().site_by_slug(&slug).await?.ok_or(AppError::NotFound)
    }

    /// Opens a site for one of its admins; `NotFound` for anyone else.
    pub async fn open(&self, actor: Actor, slug: &str) -> Result<SiteAdminOf, AppError> {
        let site = self.site(slug).await?;
        if !self.app.store().is_site_admin(site.id, actor.account.id).await? {
            return Err(AppError::NotFound);
        }
        Ok(SiteAdminOf { site, actor })
    }

    async fn start_session(&self, customer: &Customer) -> Result<SecretToken, AppError> {
        let token = self.app.new_token();
        let now = self.app.now();
        let expires = now.plus(self.app.settings().session_ttl);
        self.app.store().create_customer_session(&token.hash(), customer, now, expires).await?;
        Ok(token)
    }

    /// Signs a customer up on the site, and in.
    pub async fn signup(&self, site: &Site, email: &str, password: &str) -> Result<(Customer, SecretToken), AppError> {
        let mut errors = FieldErrors::default();
        let email = Email::parse(email).map_err(|e| errors.add("email", e)).ok();
        if let Err(e) = guildhall_core::accounts::check_password(password, &self.app.settings().password_policy) {
            errors.add("password", e);
        }
        errors.into_result()?;
        let Some(email) = email else { return Err(AppError::invalid("email", "Enter an email address.")) };
        let hash = self.app.passwords().hash(password).await?;
        let customer = Customer {
            id: CustomerId::from_uuid(self.app.new_uuid()),
            site: site.id,
            email,
            status: AccountStatus::Active,
            created_at: self.app.now(),
        };
        self.app.store().create_customer(&customer, &hash).await.map_err(|e| match e {
            StoreError::Conflict("email") => {
                AppError::invalid("email", "This email already has an account on this site; sign in.")
            }
            e => e.into(),
        })?;
        let token = self.start_session(&customer).await?;
        Ok((customer, token))
    }

    /// Signs a customer in through the same throttled password check as
    /// global sign-in (per site and email, and per address): one generic
    /// error.
    pub async fn login(
        &self,
        site: &Site,
        email: &str,
        password: &str,
        client: &ClientInfo,
    ) -> Result<SecretToken, AppError> {
        let email = Email::parse(email).map_err(|e| AppError::invalid("email", e))?;
        let signin = self.app.signin();
        let attempt = signin.begin_attempt(format!("site:{}:{}", site.id, email.normalized()), client, None).await?;
        let found = self.app.store().customer_by_email(site.id, &email).await?;
        let verified = signin.verify_attempt(&attempt, password, found.as_ref().map(|(_, h)| h.as_str())).await?;
        let Some((customer, _)) = found.filter(|_| verified) else { return Err(AppError::InvalidCredentials) };
        if customer.status != AccountStatus::Active {
            return Err(AppError::AccountDeactivated);
        }
        signin.attempt_succeeded(attempt).await?;
        self.start_session(&customer).await
    }

    /// The customer behind a session cookie, on this site only.
    pub async fn customer(&self, site: &Site, cookie: &str) -> Result<Option<Customer>, AppError> {
        let Some(token) = SecretToken::parse(cookie) else { return Ok(None) };
        Ok(self.app.store().customer_by_session(site.id, &token.hash(), self.app.now()).await?)
    }

    pub async fn logout(&self, cookie: &str) -> Result<(), AppError> {
        if let Some(token) = SecretToken::parse(cookie) {
            self.app.store().end_customer_session(&token.hash()).await?;
        }
        Ok(())
    }

    pub async fn customers(&self, a: &SiteAdminOf) -> Result<Vec<Customer>, AppError> {
        Ok(self.app.store().customers(a.site.id).await?)
    }

    /// Emails the customer a link to choose a new password (the previous
    /// link dies); customers of other sites are `NotFound`.
    pub async fn send_reset(&self, a: &SiteAdminOf, customer: &str) -> Result<Customer, AppError> {
        let id: CustomerId = customer.parse().map_err(|_| AppError::NotFound)?;
        let customers = self.app.store().customers(a.site.id).await?;
        let customer = customers.into_iter().find(|c| c.id == id).ok_or(AppError::NotFound)?;
        let token = self.app.new_token();
        let ttl = self.app.settings().reset_ttl;
        self.app.store().issue_customer_reset(customer.id, &token.hash(), self.app.now().plus(ttl)).await?;
        let mail = crate::mails::customer_reset(
            &self.app.settings().public_url,
            &a.site,
            &customer,
            &token,
            ttl.as_secs() / 60,
        );
        self.app.deps.mailer.send(mail).await.map_err(AppError::internal)?;
        Ok(customer)
    }

    /// Sets a new password from a reset link of this site; every session of
    /// the customer ends.
    pub async fn complete_reset(&self, site: &Site, token: &str, password: &str) -> Result<Customer, AppError> {
        guildhall_core::accounts::check_password(password, &self.app.settings().password_policy)
            .map_err(|e| AppError::invalid("password", e))?;
        let token = SecretToken::parse(token).ok_or(AppError::InvalidLink)?;
        let hash = self.app.passwords().hash(password).await?;
        self.app
            .store()
            .reset_customer_password(site.id, &token.hash(), &hash, self.app.now())
            .await?
            .ok_or(AppError::InvalidLink)
    }

    /// Deactivates (ending every session) or reactivates a customer of the
    /// site; customers of other sites are `NotFound`.
    pub async fn set_status(&self, a: &SiteAdminOf, customer: &str, status: &str) -> Result<Customer, AppError> {
        let id: CustomerId = customer.parse().map_err(|_| AppError::NotFound)?;
        let status = AccountStatus::parse(status)
            .ok_or_else(|| AppError::invalid("status", "A status is active or deactivated."))?;
        self.app.store().set_customer_status(a.site.id, id, status).await?.ok_or(AppError::NotFound)
    }
}
