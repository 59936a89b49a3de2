//! Signing in with external identity providers, connecting them to an
//! account, and organizations' identity providers (SPEC §2, §5).
//!
//! One round trip: `begin` seals the flow (state, nonce, PKCE verifier) into
//! a cookie and sends the browser to the provider; `finish` checks the
//! callback against that cookie, exchanges the code, validates the ID token
//! (OpenID Connect) or reads user-info (OAuth 2.0), then signs in, creates
//! an account, or connects the identity. See `docs/adr/0009-external-identities.md`.

mod flow;
mod oidc;

pub use oidc::validate_id_token;

use crate::App;
use crate::error::AppError;
use crate::orgs::OrgAdminOf;
use crate::ports::{AccountLookup, Identity, StoreError, StoredProvider, WebResponse};
use crate::signin::{ClientInfo, Outcome};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use flow::{Flow, FlowIntent};
use guildhall_core::accounts::{Account, AccountStatus, Email};
use guildhall_core::identities::{
    ClientAuth, Profile, Protocol, ProviderConfig, ProviderName, check_public_upstream, map_profile, oidc_claims,
    parse_upstream_url, pick_email,
};
use guildhall_core::{AccountId, OrgId, SessionId};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// A provider from the config file: kept in memory only.
#[derive(Clone, Debug)]
pub struct ConfiguredProvider {
    pub name: ProviderName,
    pub config: ProviderConfig,
    pub client_secret: String,
}

/// A provider as the sign-in page shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderInfo {
    pub name: ProviderName,
    pub display_name: String,
}

/// Why a round trip starts.
pub enum Intent {
    /// Sign in (or sign up); afterwards go to `return_to` or the product.
    SignIn { return_to: String, client_id: String },
    /// Connect another identity to the signed-in account.
    Connect { account: AccountId, session: SessionId },
}

/// A round trip just begun: send the browser to `redirect`, keep `cookie`.
pub struct Begun {
    pub redirect: String,
    pub cookie: String,
}

/// What the provider sent back to the callback.
#[derive(Default)]
pub struct Callback<'a> {
    pub state: &'a str,
    pub code: Option<&'a str>,
    pub error: Option<&'a str>,
    /// RFC 9207: when present it must be the provider's issuer.
    pub iss: Option<&'a str>,
}

pub enum Finished {
    /// Signed in, or (`Outcome::SecondFactor`) past the first factor.
    SignedIn {
        outcome: Outcome,
        return_to: String,
        client_id: String,
    },
    /// A new account whose address the provider did not verify: no session
    /// until the link mailed to `email` is opened.
    VerifyFirst {
        email: String,
        display_name: String,
    },
    Connected {
        display_name: String,
    },
}

/// An identity on the account page.
pub struct IdentityView {
    pub identity: Identity,
    pub display_name: String,
}

/// An organization's identity provider, as its admins see it.
pub struct OrgProviderView {
    pub issuer: String,
    pub client_id: String,
    pub required: bool,
    /// What to register at the provider.
    pub redirect_uri: String,
}

/// A provider ready for a round trip.
struct Resolved {
    name: ProviderName,
    config: ProviderConfig,
    secret: String,
}

/// Where a round trip goes, after discovery for OpenID Connect.
struct Endpoints {
    authorize: url::Url,
    token: url::Url,
    client_auth: ClientAuth,
    oidc: Option<oidc::Discovery>,
}

pub struct ExternalService<'a> {
    app: &'a App,
}

fn upstream(display: &str, what: impl std::fmt::Display) -> AppError {
    AppError::Upstream(format!("{display}: {what}"))
}

fn random_b64(app: &App, n: usize) -> String {
    let mut bytes = vec![0u8; n];
    app.deps.rng.fill(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

impl<'a> ExternalService<'a> {
    pub(crate) fn new(app: &'a App) -> Self {
        Self { app }
    }

    /// The operator's providers for "Continue with …": the config file's,
    /// then the database's.
    pub async fn providers(&self) -> Result<Vec<ProviderInfo>, AppError> {
        let configured = &self.app.settings().providers;
        let mut list: Vec<ProviderInfo> = configured
            .iter()
            .map(|p| ProviderInfo { name: p.name.clone(), display_name: p.config.display_name.clone() })
            .collect();
        for p in self.app.store().operator_providers().await? {
            if !configured.iter().any(|c| c.name == p.name) {
                list.push(ProviderInfo { name: p.name, display_name: p.config.display_name });
            }
        }
        Ok(list)
    }

    /// The organization identity provider that signs in `email`, if its
    /// domain is verified by an organization that configured one.
    pub async fn route_for_email(&self, email: &Email) -> Result<Option<ProviderName>, AppError> {
        Ok(self.app.store().provider_for_domain(&email.domain()).await?.map(|p| p.name))
    }

    /// Whether password sign-in is refused for this account because its
    /// organization requires its identity provider.
    pub(crate) async fn password_refused(&self, account: &Account) -> Result<bool, AppError> {
        let Some(org) = account.managed_by else { return Ok(false) };
        Ok(self.app.store().provider(&ProviderName::for_org(org)).await?.is_some_and(|p| p.required))
    }

    async fn resolve(&self, name: &str) -> Result<Resolved, AppError> {
        let name = ProviderName::parse_any(name).map_err(|_| AppError::NotFound)?;
        if let Some(p) = self.app.settings().providers.iter().find(|p| p.name == name) {
            return Ok(Resolved { name, config: p.config.clone(), secret: p.client_secret.clone() });
        }
        let stored = self.app.store().provider(&name).await?.ok_or(AppError::NotFound)?;
        let secret = self
            .app
            .open_sealed(stored.name.as_str().as_bytes(), &stored.secret_sealed)
            .and_then(|s| String::from_utf8(s).ok())
            .ok_or_else(|| {
                AppError::internal_message(format!(
                    "the client secret of provider {name} cannot be unsealed: the master key differs"
                ))
            })?;
        Ok(Resolved { name, config: stored.config, secret })
    }

    fn redirect_uri(&self, name: &ProviderName) -> String {
        format!("{}/auth/{name}/callback", self.app.settings().public_url)
    }

    async fn get_json(&self, display: &str, url: &url::Url, bearer: Option<&str>) -> Result<Value, AppError> {
        let response = self.app.deps.web.get(url, bearer).await.map_err(|e| upstream(display, e))?;
        json_body(display, response)
    }

    /// Organizations' providers are checked harder than the operator's:
    /// their URLs come from org admins (see `check_public_upstream`).
    fn strict(&self, name: &ProviderName) -> bool {
        name.org().is_some() && !self.app.settings().org_idp_allow_loopback
    }

    async fn endpoints(&self, r: &Resolved) -> Result<Endpoints, AppError> {
        let display = &r.config.display_name;
        match &r.config.protocol {
            Protocol::Oauth2 { authorize_url, token_url, client_auth, .. } => Ok(Endpoints {
                authorize: authorize_url.clone(),
                token: token_url.clone(),
                client_auth: *client_auth,
                oidc: None,
            }),
            Protocol::Oidc { issuer } => {
                let discovery = self.discover(display, issuer, self.strict(&r.name)).await?;
                let methods = discovery.token_endpoint_auth_methods_supported.clone().unwrap_or_default();
                let post_only = !methods.is_empty()
                    && !methods.iter().any(|m| m == "client_secret_basic")
                    && methods.iter().any(|m| m == "client_secret_post");
                Ok(Endpoints {
                    authorize: discovery.authorization_endpoint.clone(),
                    token: discovery.token_endpoint.clone(),
                    client_auth: if post_only { ClientAuth::ClientSecretPost } else { ClientAuth::ClientSecretBasic },
                    oidc: Some(discovery),
                })
            }
        }
    }

    async fn discover(&self, display: &str, issuer: &url::Url, strict: bool) -> Result<oidc::Discovery, AppError> {
        let url =
            url::Url::parse(&format!("{}/.well-known/openid-configuration", issuer.as_str().trim_end_matches('/')))
                .map_err(|e| upstream(display, e))?;
        let doc = self.get_json(display, &url, None).await?;
        let discovery: oidc::Discovery =
            serde_json::from_value(doc).map_err(|_| upstream(display, "its discovery document is incomplete"))?;
        if !oidc::same_issuer(issuer.as_str(), &discovery.issuer) {
            return Err(upstream(display, "its discovery document names another issuer"));
        }
        let endpoints = [&discovery.authorization_endpoint, &discovery.token_endpoint, &discovery.jwks_uri];
        for url in endpoints.into_iter().chain(discovery.userinfo_endpoint.as_ref()) {
            parse_upstream_url(url.as_str()).map_err(|e| upstream(display, e))?;
            if strict {
                check_public_upstream(url).map_err(|e| upstream(display, e))?;
            }
        }
        Ok(discovery)
    }

    /// Starts a round trip to provider `name`.
    pub async fn begin(&self, name: &str, intent: Intent, login_hint: Option<&str>) -> Result<Begun, AppError> {
        let r = self.resolve(name).await?;
        if matches!(intent, Intent::Connect { .. }) && r.name.org().is_some() {
            return Err(AppError::NotFound);
        }
        let endpoints = self.endpoints(&r).await?;
        let flow = Flow {
            provider: r.name.to_string(),
            state: random_b64(self.app, 32),
            nonce: random_b64(self.app, 32),
            verifier: random_b64(self.app, 32),
            intent: match intent {
                Intent::SignIn { return_to, client_id } => FlowIntent::SignIn { return_to, client_id },
                Intent::Connect { account, session } => FlowIntent::Connect { account: account.0, session: session.0 },
            },
        };
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(flow.verifier.as_bytes()));
        let mut url = endpoints.authorize;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("response_type", "code")
                .append_pair("client_id", &r.config.client_id)
                .append_pair("redirect_uri", &self.redirect_uri(&r.name))
                .append_pair("scope", &r.config.scope_param())
                .append_pair("state", &flow.state)
                .append_pair("code_challenge", &challenge)
                .append_pair("code_challenge_method", "S256");
            if endpoints.oidc.is_some() {
                q.append_pair("nonce", &flow.nonce);
                if let Some(hint) = login_hint.filter(|h| !h.is_empty()) {
                    q.append_pair("login_hint", hint);
                }
            }
        }
        Ok(Begun { redirect: url.to_string(), cookie: flow.seal(self.app)? })
    }

    /// Completes a round trip. `current` is the browser's signed-in account
    /// and session, if any (a connection must finish where it started).
    pub async fn finish(
        &self,
        name: &str,
        cookie: Option<&str>,
        callback: Callback<'_>,
        current: Option<(AccountId, SessionId)>,
        client: &ClientInfo,
    ) -> Result<Finished, AppError> {
        let flow = cookie.and_then(|c| Flow::open(self.app, c, name, callback.state)).ok_or(AppError::InvalidLink)?;
        let r = self.resolve(name).await?;
        let display = r.config.display_name.clone();
        if let Some(error) = callback.error {
            let what = match error {
                "access_denied" => "you declined, or the provider refused, the sign-in".to_owned(),
                other => format!("the provider answered {:?}", other.chars().take(64).collect::<String>()),
            };
            return Err(upstream(&display, what));
        }
        let code = callback.code.filter(|c| !c.is_empty()).ok_or_else(|| upstream(&display, "no code came back"))?;
        let endpoints = self.endpoints(&r).await?;
        if let (Some(iss), Some(discovery)) = (callback.iss, &endpoints.oidc)
            && iss != discovery.issuer
        {
            return Err(upstream(&display, "the answer came from another issuer"));
        }
        let tokens = self.exchange(&r, &endpoints, code, &flow.verifier).await?;
        let profile = self.profile(&r, &endpoints, &tokens, &flow.nonce).await?;
        match flow.intent {
            FlowIntent::Connect { account, session } => {
                let account = AccountId::from_uuid(account);
                if current != Some((account, SessionId::from_uuid(session))) {
                    return Err(AppError::Forbidden("This connection was started in another session.".into()));
                }
                self.connect(&r, account, &profile).await?;
                Ok(Finished::Connected { display_name: display })
            }
            FlowIntent::SignIn { return_to, client_id } => match self.sign_in(&r, &profile, client).await? {
                Some(outcome) => Ok(Finished::SignedIn { outcome, return_to, client_id }),
                None => Ok(Finished::VerifyFirst { email: profile.email.unwrap_or_default(), display_name: display }),
            },
        }
    }

    async fn exchange(&self, r: &Resolved, e: &Endpoints, code: &str, verifier: &str) -> Result<Value, AppError> {
        let redirect_uri = self.redirect_uri(&r.name);
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri.as_str()),
            ("code_verifier", verifier),
        ];
        let basic = match e.client_auth {
            ClientAuth::ClientSecretBasic => Some((r.config.client_id.as_str(), r.secret.as_str())),
            ClientAuth::ClientSecretPost => {
                form.push(("client_id", &r.config.client_id));
                form.push(("client_secret", &r.secret));
                None
            }
        };
        let display = &r.config.display_name;
        let response = self.app.deps.web.post_form(&e.token, &form, basic).await.map_err(|e| upstream(display, e))?;
        json_body(display, response)
    }

    async fn profile(&self, r: &Resolved, e: &Endpoints, tokens: &Value, nonce: &str) -> Result<Profile, AppError> {
        let display = &r.config.display_name;
        let access_token = tokens.get("access_token").and_then(Value::as_str);
        match (&r.config.protocol, &e.oidc) {
            (Protocol::Oidc { .. }, Some(discovery)) => {
                let id_token = tokens
                    .get("id_token")
                    .and_then(Value::as_str)
                    .ok_or_else(|| upstream(display, "no ID token came back"))?;
                let jwks = serde_json::from_value(self.get_json(display, &discovery.jwks_uri, None).await?)
                    .map_err(|_| upstream(display, "its key set is unreadable"))?;
                let mut claims = oidc::validate_id_token(
                    id_token,
                    &jwks,
                    &discovery.issuer,
                    &r.config.client_id,
                    nonce,
                    self.app.now(),
                )
                .map_err(|e| upstream(display, e))?;
                // Claims the ID token lacks may be in user-info, whose `sub`
                // must be the same person (OIDC Core §5.3.2).
                if let (Some(userinfo), Some(token)) = (&discovery.userinfo_endpoint, access_token) {
                    let info = self.get_json(display, userinfo, Some(token)).await?;
                    if info.get("sub") != claims.get("sub") {
                        return Err(upstream(display, "user-info describes another person"));
                    }
                    if let (Some(c), Some(i)) = (claims.as_object_mut(), info.as_object()) {
                        for (k, v) in i {
                            c.entry(k.clone()).or_insert_with(|| v.clone());
                        }
                    }
                }
                map_profile(&claims, &oidc_claims()).map_err(|e| upstream(display, e))
            }
            (Protocol::Oauth2 { userinfo_url, emails, mapping, .. }, _) => {
                let token = access_token.ok_or_else(|| upstream(display, "no access token came back"))?;
                let doc = self.get_json(display, userinfo_url, Some(token)).await?;
                let mut profile = map_profile(&doc, mapping).map_err(|e| upstream(display, e))?;
                if let Some(list) = emails.as_ref().filter(|_| !profile.email_verified) {
                    let doc = self.get_json(display, &list.url, Some(token)).await?;
                    if let Some((email, verified)) = pick_email(&doc, list) {
                        profile.email = Some(email);
                        profile.email_verified = verified;
                    }
                }
                Ok(profile)
            }
            (Protocol::Oidc { .. }, None) => Err(AppError::internal_message("OIDC provider without discovery")),
        }
    }

    async fn connect(&self, r: &Resolved, account: AccountId, profile: &Profile) -> Result<(), AppError> {
        let taken = || {
            AppError::Conflict(format!(
                "This {} account is already connected to another Guildhall account.",
                r.config.display_name
            ))
        };
        let store = self.app.store();
        if let Some(existing) = store.identity(&r.name, &profile.subject).await? {
            return if existing.account == account { Ok(()) } else { Err(taken()) };
        }
        let identity = self.identity(r, account, profile);
        match store.connect_identity(&identity).await {
            Ok(()) => Ok(()),
            Err(StoreError::Conflict("identity")) => Err(taken()),
            Err(e) => Err(e.into()),
        }
    }

    fn identity(&self, r: &Resolved, account: AccountId, profile: &Profile) -> Identity {
        Identity {
            provider: r.name.clone(),
            subject: profile.subject.clone(),
            account,
            email: profile.email.clone(),
            created_at: self.app.now(),
        }
    }

    /// Signs in the identity's account, or creates one. `None`: an account
    /// was made whose address must be verified before it signs in.
    async fn sign_in(&self, r: &Resolved, profile: &Profile, client: &ClientInfo) -> Result<Option<Outcome>, AppError> {
        let store = self.app.store();
        let display = &r.config.display_name;
        let org = r.name.org();
        let email = profile.email.as_deref().map(Email::parse).transpose().map_err(|e| upstream(display, e))?;
        if let Some(org) = org {
            // An organization's provider speaks only for its own domains.
            let domains = store.org_domains(org).await?;
            let on_domain = email
                .as_ref()
                .is_some_and(|e| domains.iter().any(|d| d.verified_at.is_some() && d.domain.as_str() == e.domain()));
            if !on_domain {
                return Err(upstream(display, "the address it returned is not on the organization's domains"));
            }
        }
        let account = match store.identity(&r.name, &profile.subject).await? {
            Some(identity) => {
                let found = store.find_account(AccountLookup::Id(identity.account)).await?;
                found.ok_or(AppError::NotFound)?.account
            }
            None => match self.first_sign_in(r, org, profile, email).await? {
                Some(account) => account,
                None => return Ok(None),
            },
        };
        if account.status != AccountStatus::Active {
            return Err(AppError::AccountDeactivated);
        }
        // An organization's provider signs in only the accounts it manages;
        // other providers only accounts whose address is proven, and not
        // those whose organization requires its own provider.
        match org {
            Some(org) if account.managed_by != Some(org) => {
                return Err(AppError::Forbidden("This account is not managed by the organization.".into()));
            }
            Some(_) => {}
            None if !account.email_verified => {
                return Err(AppError::Forbidden(format!(
                    "Verify your email address first: open the link we sent to {}, then continue with {display}.",
                    account.email.as_str()
                )));
            }
            None if self.password_refused(&account).await? => {
                return Err(AppError::Forbidden(
                    "Your organization requires signing in through its identity provider.".into(),
                ));
            }
            None => {}
        }
        Ok(Some(self.app.signin().first_factor_passed(account, vec!["fed".to_owned()], client).await?))
    }

    /// An identity seen for the first time: an organization's provider
    /// takes over the managed account with that (verified) address; any
    /// other makes a new account, unless the address already has one. `None`:
    /// the new account's address must be verified first.
    async fn first_sign_in(
        &self,
        r: &Resolved,
        org: Option<OrgId>,
        profile: &Profile,
        email: Option<Email>,
    ) -> Result<Option<Account>, AppError> {
        let store = self.app.store();
        let display = &r.config.display_name;
        let Some(email) = email else {
            return Err(upstream(
                display,
                format!(
                    "it did not share an email address. Sign up with your email address, then connect {display} \
                     from your account page."
                ),
            ));
        };
        if let Some(existing) = store.find_account(AccountLookup::Email(&email)).await? {
            if org.is_some() && existing.account.managed_by == org {
                // Whoever registered an unverified address never proved it:
                // the provider may not inherit what they set up.
                if !existing.account.email_verified {
                    return Err(AppError::Conflict(
                        "An account with this address exists but its address is not verified. Verify it from \
                         that account first, or ask your organization's administrator."
                            .into(),
                    ));
                }
                let identity = self.identity(r, existing.account.id, profile);
                return match store.connect_identity(&identity).await {
                    Ok(()) => Ok(Some(existing.account)),
                    // Connected meanwhile (a second callback racing this one):
                    // to this account, or refused.
                    Err(StoreError::Conflict("identity")) => match store.identity(&r.name, &profile.subject).await? {
                        Some(i) if i.account == existing.account.id => Ok(Some(existing.account)),
                        _ => Err(AppError::Conflict("This identity is connected to another account.".into())),
                    },
                    Err(e) => Err(e.into()),
                };
            }
            return Err(AppError::Conflict(format!(
                "An account with this email address already exists. Sign in to it first, then connect {display} \
                 from your account page."
            )));
        }
        if org.is_none()
            && let Some(routed) = store.provider_for_domain(&email.domain()).await?
            && routed.required
        {
            return Err(AppError::Forbidden(format!(
                "Accounts on {} sign in through their organization's identity provider.",
                email.domain()
            )));
        }
        // An organization's provider vouches for addresses on its verified
        // domains; others only when they say the address is verified. An
        // unverified one gets a link and no session until it is opened, so
        // nobody signs in to an account on an address they do not hold.
        let verified = org.is_some() || profile.email_verified;
        let account = self
            .app
            .accounts()
            .create_from_identity(&email, verified, display, profile, |id| self.identity(r, id, profile))
            .await?;
        Ok(verified.then_some(account))
    }

    /// The identities connected to an account.
    pub async fn identities(&self, account: &Account) -> Result<Vec<IdentityView>, AppError> {
        let mut views = Vec::new();
        let providers = self.providers().await?;
        for identity in self.app.store().identities_of(account.id).await? {
            let display_name = match providers.iter().find(|p| p.name == identity.provider) {
                Some(p) => p.display_name.clone(),
                // An organization's provider (named after the org), or one
                // removed since.
                None => match self.app.store().provider(&identity.provider).await? {
                    Some(p) => p.config.display_name,
                    None => identity.provider.to_string(),
                },
            };
            views.push(IdentityView { identity, display_name });
        }
        Ok(views)
    }

    /// Disconnects one identity, never the last way to sign in.
    pub async fn disconnect(&self, account: &Account, provider: &str, subject: &str) -> Result<(), AppError> {
        let provider = ProviderName::parse_any(provider).map_err(|_| AppError::NotFound)?;
        match self.app.store().disconnect_identity(account.id, &provider, subject).await? {
            Some(true) => Ok(()),
            Some(false) => Err(AppError::Conflict(
                "This is your only way to sign in. Set a password or connect another provider first.".into(),
            )),
            None => Err(AppError::NotFound),
        }
    }

    /// Adds or replaces an operator's provider (`guildhall admin provider add`).
    pub async fn put_operator_provider(
        &self,
        name: &str,
        config: ProviderConfig,
        client_secret: &str,
    ) -> Result<ProviderName, AppError> {
        let name = ProviderName::parse(name).map_err(|e| AppError::invalid("name", e))?;
        config.validate().map_err(|e| AppError::invalid("config", e))?;
        if client_secret.is_empty() {
            return Err(AppError::invalid("client_secret", "The client secret is required."));
        }
        if self.app.settings().providers.iter().any(|p| p.name == name) {
            return Err(AppError::Conflict(format!("Provider {name} is defined in the config file.")));
        }
        let stored = StoredProvider {
            secret_sealed: self.app.seal(name.as_str().as_bytes(), client_secret.as_bytes())?,
            name: name.clone(),
            org: None,
            config,
            required: false,
            updated_at: self.app.now(),
        };
        self.app.store().put_provider(&stored, false, None).await?;
        Ok(name)
    }

    pub async fn remove_operator_provider(&self, name: &str) -> Result<(), AppError> {
        let name = ProviderName::parse(name).map_err(|_| AppError::NotFound)?;
        if self.app.store().delete_provider(&name, None).await? { Ok(()) } else { Err(AppError::NotFound) }
    }

    /// The operator's providers in the database, with their configuration.
    pub async fn operator_providers(&self) -> Result<Vec<StoredProvider>, AppError> {
        Ok(self.app.store().operator_providers().await?)
    }

    /// The organization's identity provider, if configured.
    pub async fn org_provider(&self, a: &OrgAdminOf) -> Result<Option<OrgProviderView>, AppError> {
        let name = ProviderName::for_org(a.org.id);
        let Some(p) = self.app.store().provider(&name).await? else { return Ok(None) };
        let Protocol::Oidc { issuer } = &p.config.protocol else { return Ok(None) };
        Ok(Some(OrgProviderView {
            issuer: issuer.to_string(),
            client_id: p.config.client_id.clone(),
            required: p.required,
            redirect_uri: self.redirect_uri(&name),
        }))
    }

    /// The redirect URI an organization registers at its provider.
    pub fn org_redirect_uri(&self, a: &OrgAdminOf) -> String {
        self.redirect_uri(&ProviderName::for_org(a.org.id))
    }

    /// Configures the organization's OpenID Connect provider, checking its
    /// discovery document first. An empty secret keeps the stored one.
    pub async fn set_org_provider(
        &self,
        a: &OrgAdminOf,
        issuer: &str,
        client_id: &str,
        client_secret: &str,
        required: bool,
    ) -> Result<(), AppError> {
        let name = ProviderName::for_org(a.org.id);
        let issuer = parse_upstream_url(issuer).map_err(|e| AppError::invalid("issuer", e))?;
        let strict = self.strict(&name);
        if strict {
            check_public_upstream(&issuer).map_err(|e| AppError::invalid("issuer", e))?;
        }
        let config = ProviderConfig {
            display_name: a.org.name.chars().take(64).collect(),
            client_id: client_id.trim().to_owned(),
            scopes: vec!["openid".into(), "email".into(), "profile".into()],
            protocol: Protocol::Oidc { issuer: issuer.clone() },
        };
        config.validate().map_err(|e| AppError::invalid("client_id", e))?;
        let existing = self.app.store().provider(&name).await?;
        let existing_issuer = existing.as_ref().and_then(|p| match &p.config.protocol {
            Protocol::Oidc { issuer } => Some(issuer.clone()),
            Protocol::Oauth2 { .. } => None,
        });
        let secret_sealed = match (client_secret.trim(), existing) {
            ("", Some(existing)) => existing.secret_sealed,
            ("", None) => return Err(AppError::invalid("client_secret", "The client secret is required.")),
            (secret, _) => self.app.seal(name.as_str().as_bytes(), secret.as_bytes())?,
        };
        // What failed is not told: the answer of an address an org admin
        // chose is none of their business beyond "it is not a provider".
        self.discover(&config.display_name, &issuer, strict).await.map_err(|e| match e {
            AppError::Upstream(_) => AppError::invalid(
                "issuer",
                "No OpenID Connect discovery document for this issuer was found at ISSUER/.well-known/openid-configuration.",
            ),
            e => e,
        })?;
        // Subjects are only unique per issuer: another issuer's may name
        // other people, so a new issuer starts without identities.
        let issuer_changed = existing_issuer.is_some_and(|old| old != issuer);
        let mut audit = self.app.orgs().audit(&a.actor, "idp.saved", format!("issuer:{issuer}"));
        audit.detail = Some(if required { "required" } else { "optional" }.to_owned());
        let stored =
            StoredProvider { name, org: Some(a.org.id), config, secret_sealed, required, updated_at: self.app.now() };
        Ok(self.app.store().put_provider(&stored, issuer_changed, Some(&audit)).await?)
    }

    /// Removes the organization's provider and the identities it made.
    pub async fn remove_org_provider(&self, a: &OrgAdminOf) -> Result<(), AppError> {
        let name = ProviderName::for_org(a.org.id);
        let audit = self.app.orgs().audit(&a.actor, "idp.removed", format!("provider:{name}"));
        if self.app.store().delete_provider(&name, Some(&audit)).await? { Ok(()) } else { Err(AppError::NotFound) }
    }
}

/// A JSON answer, or the provider's OAuth error (RFC 6749 §5.2), which some
/// providers (GitHub) send with status 200.
fn json_body(display: &str, response: WebResponse) -> Result<Value, AppError> {
    let doc: Option<Value> = serde_json::from_slice(&response.body).ok();
    if let Some(error) = doc.as_ref().and_then(|d| d.get("error")).and_then(Value::as_str) {
        return Err(upstream(display, format!("it answered {:?}", error.chars().take(64).collect::<String>())));
    }
    match doc {
        Some(doc) if (200..300).contains(&response.status) => Ok(doc),
        _ if response.status >= 400 => Err(upstream(display, format!("it answered with status {}", response.status))),
        _ => Err(upstream(display, "its answer was not JSON")),
    }
}
