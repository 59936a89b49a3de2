//! Organization pages: every org admin task (admins, domains and their
//! verification, managed accounts, linking workspaces, everyone in one
//! place, the audit log). Every page goes through the app's `OrgAdminOf`
//! capability, as the API does: non-admins get 404.

use crate::HttpState;
use crate::client::Client;
use crate::csrf::{self, CsrfForm};
use crate::error::PageError;
use crate::pages::{AUDIT_PER_PAGE, AuditPage, notice, render};
use crate::session::SignedIn;
use askama::Template;
use axum::Router;
use axum::extract::{FromRef, FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::cookie::CookieJar;
use guildhall_app::AppError;
use guildhall_app::external::OrgProviderView;
use guildhall_app::orgs::{DomainView, MemberFilter, OrgAdminOf, OrgMember};
use guildhall_app::ports::{Org, Workspace};
use guildhall_app::workspaces::Actor;
use guildhall_core::accounts::Account;
use serde::Deserialize;

pub fn router() -> Router<HttpState> {
    Router::new()
        .route("/orgs", get(list_orgs).post(create_org))
        .route("/orgs/{org}", get(show_org))
        .route("/orgs/{org}/settings", post(rename_org))
        .route("/orgs/{org}/admins", post(add_admin))
        .route("/orgs/{org}/admins/{username}/remove", post(remove_admin))
        .route("/orgs/{org}/domains", post(add_domain))
        .route("/orgs/{org}/domains/{domain}/verify", post(verify_domain))
        .route("/orgs/{org}/domains/{domain}/remove", post(remove_domain))
        .route("/orgs/{org}/managed/{username}", post(rename_managed))
        .route("/orgs/{org}/managed/{username}/status", post(set_managed_status))
        .route("/orgs/{org}/managed/{username}/end-sessions", post(end_managed_sessions))
        .route("/orgs/{org}/links", post(link_workspace))
        .route("/orgs/{org}/idp", post(set_idp))
        .route("/orgs/{org}/mfa-policy", post(set_mfa_policy))
        .route("/orgs/{org}/idp/remove", post(remove_idp))
        .route("/orgs/{org}/members", get(show_members))
        .route("/orgs/{org}/audit", get(show_audit))
}

/// The signed-in admin of the `{org}` organization; 404 for anyone else.
struct PageOrgAdmin(OrgAdminOf);

impl<S> FromRequestParts<S> for PageOrgAdmin
where
    HttpState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let who = SignedIn::from_request_parts(parts, state).await?;
        let Ok(client) = Client::from_request_parts(parts, state).await;
        let org = crate::path_param(parts, "org").await?;
        let http = HttpState::from_ref(state);
        let actor = Actor { account: who.account, ip: client.0.ip };
        Ok(Self(http.app.orgs().open(actor, &org).await?))
    }
}

fn back(a: &OrgAdminOf, notice: &str) -> Response {
    Redirect::to(&format!("/orgs/{}?notice={notice}", a.org.slug)).into_response()
}

#[derive(Template)]
#[template(path = "orgs.html")]
struct OrgsPage {
    csrf: String,
    orgs: Vec<Org>,
}

async fn list_orgs(State(state): State<HttpState>, jar: CookieJar, who: SignedIn) -> Result<Response, PageError> {
    let orgs = state.app.orgs().mine(&who.account).await?;
    let (jar, csrf) = csrf::token(&state, jar);
    Ok((jar, render(&OrgsPage { csrf, orgs })).into_response())
}

#[derive(Deserialize)]
struct CreateOrg {
    #[serde(default)]
    slug: String,
    #[serde(default)]
    name: String,
}

async fn create_org(
    State(state): State<HttpState>,
    who: SignedIn,
    Client(client): Client,
    CsrfForm(f): CsrfForm<CreateOrg>,
) -> Result<Response, PageError> {
    let actor = Actor { account: who.account, ip: client.ip };
    let org = state.app.orgs().create(&actor, &f.slug, &f.name).await?;
    Ok(Redirect::to(&format!("/orgs/{}?notice=org-created", org.slug)).into_response())
}

#[derive(Deserialize)]
struct NoticeQuery {
    notice: Option<String>,
}

#[derive(Template)]
#[template(path = "org.html")]
struct OrgPage {
    csrf: String,
    org: Org,
    notice: &'static str,
    admins: Vec<Account>,
    domains: Vec<DomainView>,
    managed: Vec<Account>,
    linked: Vec<Workspace>,
    idp: Option<OrgProviderView>,
    /// What to register at the identity provider.
    idp_redirect_uri: String,
}

async fn show_org(
    State(state): State<HttpState>,
    jar: CookieJar,
    PageOrgAdmin(a): PageOrgAdmin,
    Query(q): Query<NoticeQuery>,
) -> Result<Response, PageError> {
    let orgs = state.app.orgs();
    let page = OrgPage {
        csrf: String::new(),
        org: a.org.clone(),
        notice: notice(q.notice.as_deref()),
        admins: orgs.admins(&a).await?,
        domains: orgs.domains(&a).await?,
        managed: orgs.managed_accounts(&a).await?,
        linked: orgs.linked_workspaces(&a).await?,
        idp: state.app.external().org_provider(&a).await?,
        idp_redirect_uri: state.app.external().org_redirect_uri(&a),
    };
    let (jar, csrf) = csrf::token(&state, jar);
    Ok((jar, render(&OrgPage { csrf, ..page })).into_response())
}

#[derive(Deserialize)]
struct NameForm {
    #[serde(default)]
    name: String,
}

async fn rename_org(
    State(state): State<HttpState>,
    PageOrgAdmin(a): PageOrgAdmin,
    CsrfForm(f): CsrfForm<NameForm>,
) -> Result<Response, PageError> {
    state.app.orgs().rename(&a, &f.name).await?;
    Ok(back(&a, "org-renamed"))
}

#[derive(Deserialize)]
struct IdpForm {
    #[serde(default)]
    issuer: String,
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    client_secret: String,
    /// A checkbox: present when ticked.
    required: Option<String>,
}

async fn set_idp(
    State(state): State<HttpState>,
    PageOrgAdmin(a): PageOrgAdmin,
    CsrfForm(f): CsrfForm<IdpForm>,
) -> Result<Response, PageError> {
    let required = f.required.is_some();
    state.app.external().set_org_provider(&a, &f.issuer, &f.client_id, &f.client_secret, required).await?;
    Ok(back(&a, "idp-saved"))
}

#[derive(Deserialize)]
struct PolicyForm {
    /// A checkbox: present when ticked.
    require_mfa: Option<String>,
}

async fn set_mfa_policy(
    State(state): State<HttpState>,
    PageOrgAdmin(a): PageOrgAdmin,
    CsrfForm(f): CsrfForm<PolicyForm>,
) -> Result<Response, PageError> {
    state.app.orgs().set_require_mfa(&a, f.require_mfa.is_some()).await?;
    Ok(back(&a, "mfa-policy-saved"))
}

async fn remove_idp(
    State(state): State<HttpState>,
    PageOrgAdmin(a): PageOrgAdmin,
    CsrfForm(_): CsrfForm<serde::de::IgnoredAny>,
) -> Result<Response, PageError> {
    state.app.external().remove_org_provider(&a).await?;
    Ok(back(&a, "idp-removed"))
}

#[derive(Deserialize)]
struct UsernameForm {
    #[serde(default)]
    username: String,
}

async fn add_admin(
    State(state): State<HttpState>,
    PageOrgAdmin(a): PageOrgAdmin,
    CsrfForm(f): CsrfForm<UsernameForm>,
) -> Result<Response, PageError> {
    state.app.orgs().set_admin(&a, f.username.trim(), true).await?;
    Ok(back(&a, "org-admin-added"))
}

async fn remove_admin(
    State(state): State<HttpState>,
    PageOrgAdmin(a): PageOrgAdmin,
    Path((_, username)): Path<(String, String)>,
    CsrfForm(_): CsrfForm<serde::de::IgnoredAny>,
) -> Result<Response, PageError> {
    state.app.orgs().set_admin(&a, &username, false).await?;
    // Removing yourself leaves the org: go to the list.
    if username == a.actor.account.username.as_str() {
        return Ok(Redirect::to("/orgs").into_response());
    }
    Ok(back(&a, "org-admin-removed"))
}

#[derive(Deserialize)]
struct DomainForm {
    #[serde(default)]
    domain: String,
}

async fn add_domain(
    State(state): State<HttpState>,
    PageOrgAdmin(a): PageOrgAdmin,
    CsrfForm(f): CsrfForm<DomainForm>,
) -> Result<Response, PageError> {
    state.app.orgs().add_domain(&a, &f.domain).await?;
    Ok(back(&a, "domain-added"))
}

async fn verify_domain(
    State(state): State<HttpState>,
    PageOrgAdmin(a): PageOrgAdmin,
    Path((_, domain)): Path<(String, String)>,
    CsrfForm(_): CsrfForm<serde::de::IgnoredAny>,
) -> Result<Response, PageError> {
    state.app.orgs().verify_domain(&a, &domain).await?;
    Ok(back(&a, "domain-verified"))
}

async fn remove_domain(
    State(state): State<HttpState>,
    PageOrgAdmin(a): PageOrgAdmin,
    Path((_, domain)): Path<(String, String)>,
    CsrfForm(_): CsrfForm<serde::de::IgnoredAny>,
) -> Result<Response, PageError> {
    state.app.orgs().remove_domain(&a, &domain).await?;
    Ok(back(&a, "domain-removed"))
}

#[derive(Deserialize)]
struct RenameForm {
    #[serde(default)]
    display_name: String,
}

async fn rename_managed(
    State(state): State<HttpState>,
    PageOrgAdmin(a): PageOrgAdmin,
    Path((_, username)): Path<(String, String)>,
    CsrfForm(f): CsrfForm<RenameForm>,
) -> Result<Response, PageError> {
    state.app.orgs().update_managed(&a, &username, Some(&f.display_name), None).await?;
    Ok(back(&a, "account-updated"))
}

#[derive(Deserialize)]
struct StatusForm {
    #[serde(default)]
    status: String,
}

async fn set_managed_status(
    State(state): State<HttpState>,
    PageOrgAdmin(a): PageOrgAdmin,
    Path((_, username)): Path<(String, String)>,
    CsrfForm(f): CsrfForm<StatusForm>,
) -> Result<Response, PageError> {
    state.app.orgs().update_managed(&a, &username, None, Some(&f.status)).await?;
    Ok(back(&a, "account-updated"))
}

async fn end_managed_sessions(
    State(state): State<HttpState>,
    PageOrgAdmin(a): PageOrgAdmin,
    Path((_, username)): Path<(String, String)>,
    CsrfForm(_): CsrfForm<serde::de::IgnoredAny>,
) -> Result<Response, PageError> {
    state.app.orgs().end_managed_sessions(&a, &username).await?;
    Ok(back(&a, "account-signed-out"))
}

#[derive(Deserialize)]
struct LinkForm {
    #[serde(default)]
    workspace: String,
    confirm: Option<String>,
}

async fn link_workspace(
    State(state): State<HttpState>,
    PageOrgAdmin(a): PageOrgAdmin,
    CsrfForm(f): CsrfForm<LinkForm>,
) -> Result<Response, PageError> {
    if f.confirm.as_deref() != Some("permanent") {
        return Err(AppError::invalid("confirm", "Confirm that you understand the link is permanent.").into());
    }
    state.app.orgs().link_workspace(&a, f.workspace.trim()).await?;
    Ok(back(&a, "workspace-linked"))
}

#[derive(Deserialize)]
struct MembersQuery {
    workspace: Option<String>,
    managed: Option<String>,
    q: Option<String>,
}

#[derive(Template)]
#[template(path = "org_members.html")]
struct MembersPage {
    org: Org,
    members: Vec<OrgMember>,
    linked: Vec<Workspace>,
    workspace: String,
    managed: String,
    q: String,
}

async fn show_members(
    State(state): State<HttpState>,
    PageOrgAdmin(a): PageOrgAdmin,
    Query(q): Query<MembersQuery>,
) -> Result<Response, PageError> {
    let nonempty = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
    let (workspace, managed, search) = (nonempty(&q.workspace), nonempty(&q.managed), nonempty(&q.q));
    let filter = MemberFilter {
        workspace: workspace.as_deref(),
        managed: managed.as_deref().and_then(|m| m.parse().ok()),
        search: search.as_deref(),
    };
    let orgs = state.app.orgs();
    let page = MembersPage {
        members: orgs.members(&a, &filter).await?,
        linked: orgs.linked_workspaces(&a).await?,
        org: a.org.clone(),
        workspace: workspace.unwrap_or_default(),
        managed: managed.unwrap_or_default(),
        q: search.unwrap_or_default(),
    };
    Ok(render(&page).into_response())
}

#[derive(Deserialize)]
struct AuditQuery {
    before: Option<i64>,
}

async fn show_audit(
    State(state): State<HttpState>,
    PageOrgAdmin(a): PageOrgAdmin,
    Query(q): Query<AuditQuery>,
) -> Result<Response, PageError> {
    let log = state.app.orgs().audit_log(&a, q.before, AUDIT_PER_PAGE).await?;
    Ok(render(&AuditPage::new(&a.org.name, format!("/orgs/{}", a.org.slug), log)).into_response())
}
