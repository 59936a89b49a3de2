//! Who calls the API, and the workspace capabilities handlers receive.
//!
//! `ApiCaller` authenticates a bearer personal access token, or else the
//! browser session (which holds every scope). `WsMember` and `WsAdmin` take
//! the `{ws}` path parameter and yield the app's `MemberOf` / `AdminOf`
//! capability after checking the token's scope: this is the one place API
//! authorization happens. Non-members get 404, members without the role or
//! scope 403.

use crate::HttpState;
use crate::client::Client;
use crate::error::ApiError;
use crate::session::MaybeSignedIn;
use axum::extract::{FromRef, FromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use guildhall_app::AppError;
use guildhall_app::orgs::OrgAdminOf;
use guildhall_app::workspaces::{Actor, AdminOf, MemberOf};
use guildhall_core::accounts::Account;
use guildhall_core::problem::Problem;
use guildhall_core::scopes::{Grant, Scope};

pub struct ApiCaller {
    pub account: Account,
    pub grant: Grant,
    pub ip: Option<String>,
}

impl ApiCaller {
    pub fn actor(&self) -> Actor {
        Actor { account: self.account.clone(), ip: self.ip.clone() }
    }

    /// 403 unless the caller's token carries `needed` (or a wider scope).
    pub fn require(&self, needed: Scope) -> Result<(), ApiError> {
        if self.grant.allows(needed) {
            Ok(())
        } else {
            Err(ApiError(
                Problem::new("insufficient-scope", "The token lacks a required scope", 403)
                    .with_detail(format!("This needs a token with the {} scope.", needed.as_str())),
            ))
        }
    }

    /// 403 unless the caller is a browser session (some endpoints, such as
    /// minting tokens, are not open to tokens).
    pub fn require_session(&self) -> Result<(), ApiError> {
        match self.grant {
            Grant::Session => Ok(()),
            Grant::Token(_) => Err(AppError::Forbidden("Use a signed-in browser session for this.".into()).into()),
        }
    }
}

impl<S> FromRequestParts<S> for ApiCaller
where
    HttpState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let http = HttpState::from_ref(state);
        let Ok(Client(client)) = Client::from_request_parts(parts, state).await;
        let ip = client.ip;
        if let Some(header) = parts.headers.get(AUTHORIZATION) {
            let value = header.to_str().unwrap_or_default();
            // The scheme is case-insensitive (RFC 9110 §11.1).
            let bearer = value
                .split_once(' ')
                .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
                .map(|(_, token)| token)
                .unwrap_or_default();
            return match http.app.tokens().authenticate(bearer.trim()).await? {
                // As for sessions: a one-time password must be replaced first.
                Some((account, _)) if account.must_change_password => Err(AppError::Forbidden(
                    "This account must replace its one-time password before using the API.".into(),
                )
                .into()),
                Some((account, scopes)) => Ok(Self { account, grant: Grant::Token(scopes), ip }),
                None => {
                    Err(ApiError(Problem::new("invalid-token", "The access token is invalid, revoked or expired", 401)))
                }
            };
        }
        let MaybeSignedIn(who) = MaybeSignedIn::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::from(AppError::Unauthenticated))?;
        match who {
            Some(who) if !who.account.must_change_password => {
                // A second factor the person's organization requires comes first.
                let http = HttpState::from_ref(state);
                if http.app.mfa().enrolment_required(&who.account).await? {
                    return Err(AppError::Forbidden("Set up two-step sign-in first: /account/security".into()).into());
                }
                Ok(Self { account: who.account, grant: Grant::Session, ip })
            }
            _ => Err(AppError::Unauthenticated.into()),
        }
    }
}

async fn open_workspace<S>(parts: &mut Parts, state: &S, needed: Scope) -> Result<(MemberOf, ApiCaller), ApiError>
where
    HttpState: FromRef<S>,
    S: Send + Sync,
{
    let caller = ApiCaller::from_request_parts(parts, state).await?;
    let slug = crate::workspace_slug(parts).await?;
    let http = HttpState::from_ref(state);
    // Membership first: a non-member learns nothing, not even a scope problem.
    let member = http.app.workspaces().open(caller.actor(), &slug).await?;
    caller.require(needed)?;
    Ok((member, caller))
}

/// A member of the `{ws}` workspace, with a token allowing `workspaces:read`.
pub struct WsMember(pub MemberOf);

impl<S> FromRequestParts<S> for WsMember
where
    HttpState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        open_workspace(parts, state, Scope::WorkspacesRead).await.map(|(m, _)| Self(m))
    }
}

/// An administrator of the `{ws}` workspace, with `workspaces:admin`.
pub struct WsAdmin(pub AdminOf);

impl<S> FromRequestParts<S> for WsAdmin
where
    HttpState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let (member, caller) = open_workspace(parts, state, Scope::WorkspacesRead).await?;
        let admin = member.admin()?;
        caller.require(Scope::WorkspacesAdmin)?;
        Ok(Self(admin))
    }
}

/// An admin of the `{org}` organization, with a token allowing `orgs:read`
/// (and `orgs:admin` for changes: `OrgAdmin::require_admin_scope`). Anyone
/// else gets 404: orgs do not reveal themselves.
pub struct OrgAdmin(pub OrgAdminOf, pub ApiCaller);

impl OrgAdmin {
    pub fn require_admin_scope(&self) -> Result<(), ApiError> {
        self.1.require(Scope::OrgsAdmin)
    }
}

impl<S> FromRequestParts<S> for OrgAdmin
where
    HttpState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let caller = ApiCaller::from_request_parts(parts, state).await?;
        let slug = crate::path_param(parts, "org").await?;
        let http = HttpState::from_ref(state);
        let admin = http.app.orgs().open(caller.actor(), &slug).await?;
        caller.require(Scope::OrgsRead)?;
        Ok(Self(admin, caller))
    }
}

/// An admin of the `{ws}` workspace (`workspaces:admin`) or of the `{org}`
/// organization (`orgs:admin`), for what both own alike: webhooks and
/// provisioning connections. Members who are not admins learn nothing.
pub struct ScopeAdminCaller(pub guildhall_app::directory::ScopeAdmin);

impl<S> FromRequestParts<S> for ScopeAdminCaller
where
    HttpState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        use guildhall_app::directory::ScopeAdmin;
        if let Ok(slug) = crate::path_param(parts, "ws").await {
            let caller = ApiCaller::from_request_parts(parts, state).await?;
            let http = HttpState::from_ref(state);
            let member = http.app.workspaces().open(caller.actor(), &slug).await?;
            if !member.is_admin() {
                return Err(AppError::NotFound.into());
            }
            caller.require(Scope::WorkspacesAdmin)?;
            return Ok(Self(ScopeAdmin::workspace(&member.admin()?)));
        }
        let admin = OrgAdmin::from_request_parts(parts, state).await?;
        admin.require_admin_scope()?;
        Ok(Self(ScopeAdmin::org(&admin.0)))
    }
}
