//! Workspace administration pages: workspaces, groups, repositories,
//! members, invitations, settings and the audit log. Every page goes through
//! the app's `MemberOf` / `AdminOf` capabilities, as the API does.

use crate::HttpState;
use crate::client::Client;
use crate::csrf::{self, CsrfForm};
use crate::error::PageError;
use crate::pages::{AUDIT_PER_PAGE, AuditPage, notice, render, render_message};
use crate::session::SignedIn;
use askama::Template;
use axum::Router;
use axum::extract::{FromRef, FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::cookie::CookieJar;
use guildhall_app::invitations::InviteOutcome;
use guildhall_app::ports::{Group, MembershipChange, Repository, Workspace};
use guildhall_app::workspaces::{Actor, AdminOf, GroupPatch, MemberOf, WorkspacePatch};
use guildhall_core::accounts::Account;
use guildhall_core::workspaces::{InvitationState, Permission};
use serde::Deserialize;

pub fn router() -> Router<HttpState> {
    Router::new()
        .route("/workspaces", get(list_workspaces).post(create_workspace))
        .route("/workspaces/{ws}", get(show_workspace))
        .route("/workspaces/{ws}/settings", post(save_settings))
        .route("/workspaces/{ws}/groups", post(create_group))
        .route("/workspaces/{ws}/groups/{group}", get(show_group))
        .route("/workspaces/{ws}/groups/{group}/members", post(add_member))
        .route("/workspaces/{ws}/groups/{group}/members/{username}/remove", post(remove_member))
        .route("/workspaces/{ws}/groups/{group}/permissions", post(set_group_permission))
        .route("/workspaces/{ws}/groups/{group}/settings", post(save_group))
        .route("/workspaces/{ws}/groups/{group}/delete", post(delete_group))
        .route("/workspaces/{ws}/repositories", post(create_repository))
        .route("/workspaces/{ws}/repositories/{repo}", get(show_repository))
        .route("/workspaces/{ws}/repositories/{repo}/grants", post(set_grant))
        .route("/workspaces/{ws}/repositories/{repo}/delete", post(delete_repository))
        .route("/workspaces/{ws}/invitations", post(invite))
        .route("/workspaces/{ws}/invitations/{id}/resend", post(resend_invitation))
        .route("/workspaces/{ws}/invitations/{id}/revoke", post(revoke_invitation))
        .route("/workspaces/{ws}/audit", get(show_audit))
        .route("/workspaces/{ws}/links", post(create_link))
        .route("/workspaces/{ws}/links/{link}/groups", post(set_link_groups))
        .route("/workspaces/{ws}/links/{link}/rotate", post(rotate_link))
        .route("/workspaces/{ws}/links/{link}/delete", post(delete_link))
}

fn permissions() -> Vec<&'static str> {
    Permission::ALL.iter().map(|p| p.as_str()).collect()
}

fn actor(who: SignedIn, client: Client) -> Actor {
    Actor { account: who.account, ip: client.0.ip }
}

/// The signed-in member of the workspace named by the `{ws}` path
/// parameter. Anyone else gets 404, through the app's `open`: the same
/// check as the API's.
struct PageMember(MemberOf);

impl<S> FromRequestParts<S> for PageMember
where
    HttpState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let who = SignedIn::from_request_parts(parts, state).await?;
        let Ok(client) = Client::from_request_parts(parts, state).await;
        let ws = crate::workspace_slug(parts).await?;
        let http = HttpState::from_ref(state);
        Ok(Self(http.app.workspaces().open(actor(who, client), &ws).await?))
    }
}

/// An administrator of the `{ws}` workspace (403 for other members).
struct PageAdmin(AdminOf);

impl<S> FromRequestParts<S> for PageAdmin
where
    HttpState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let PageMember(m) = PageMember::from_request_parts(parts, state).await?;
        Ok(Self(m.admin()?))
    }
}

fn back(ws: &str, rest: &str, notice: &str) -> Response {
    Redirect::to(&format!("/workspaces/{ws}{rest}?notice={notice}")).into_response()
}

#[derive(Template)]
#[template(path = "workspaces.html")]
struct WorkspacesPage {
    csrf: String,
    workspaces: Vec<Workspace>,
    form_error: String,
}

async fn list_workspaces(State(state): State<HttpState>, jar: CookieJar, who: SignedIn) -> Result<Response, PageError> {
    let workspaces = state.app.workspaces().mine(&who.account).await?;
    let (jar, csrf) = csrf::token(&state, jar);
    Ok((jar, render(&WorkspacesPage { csrf, workspaces, form_error: String::new() })).into_response())
}

#[derive(Deserialize)]
struct CreateWorkspace {
    #[serde(default)]
    slug: String,
    #[serde(default)]
    name: String,
    plan: Option<String>,
}

async fn create_workspace(
    State(state): State<HttpState>,
    who: SignedIn,
    client: Client,
    CsrfForm(f): CsrfForm<CreateWorkspace>,
) -> Result<Response, PageError> {
    let ws = state.app.workspaces().create(&actor(who, client), &f.slug, &f.name, f.plan.as_deref()).await?;
    Ok(back(ws.slug.as_str(), "", "workspace-created"))
}

#[derive(Deserialize)]
struct WorkspaceQuery {
    after: Option<String>,
    notice: Option<String>,
}

struct InvitationRow {
    id: String,
    email: String,
    groups: String,
    state: &'static str,
    expires: String,
    pending: bool,
    /// `link:<slug>` when a linked product caused it.
    via: String,
}

#[derive(Template)]
#[template(path = "workspace.html")]
struct WorkspacePage {
    csrf: String,
    ws: Workspace,
    admin: bool,
    notice: &'static str,
    groups: Vec<Group>,
    repositories: Vec<Repository>,
    /// (username, display name, groups)
    members: Vec<(String, String, String)>,
    next: String,
    invitations: Vec<InvitationRow>,
    links: Vec<LinkRow>,
    permissions: Vec<&'static str>,
}

struct LinkRow {
    slug: String,
    name: String,
    /// The groups its new users are invited to.
    groups: Vec<String>,
    invited: usize,
}

impl LinkRow {
    fn has(&self, group: &str) -> bool {
        self.groups.iter().any(|g| g == group)
    }
}

const MEMBERS_PER_PAGE: u32 = 50;

async fn show_workspace(
    State(state): State<HttpState>,
    jar: CookieJar,
    PageMember(m): PageMember,
    Query(q): Query<WorkspaceQuery>,
) -> Result<Response, PageError> {
    let service = state.app.workspaces();
    let groups = service.groups(&m).await?;
    let repositories = service.repositories(&m).await?;
    let page = service.members(&m, q.after.as_deref(), MEMBERS_PER_PAGE, false).await?;
    let next = if page.len() == MEMBERS_PER_PAGE as usize {
        page.last().map(|m| m.account.username.to_string()).unwrap_or_default()
    } else {
        String::new()
    };
    let members = page
        .iter()
        .map(|m| {
            let groups: Vec<&str> = m.groups.iter().map(|g| g.as_str()).collect();
            (m.account.username.to_string(), m.account.display_name.as_str().to_owned(), groups.join(", "))
        })
        .collect();
    let admin = m.is_admin();
    let (invitations, links) = match m.clone().admin() {
        Ok(a) => {
            let all = state.app.invitations().list(&a).await?;
            let links = state.app.links().list(&a).await?;
            let link_of = |id: Option<guildhall_core::LinkId>| {
                links.iter().find(|l| Some(l.id) == id).map_or_else(String::new, |l| format!("link:{}", l.slug))
            };
            let rows = links
                .iter()
                .map(|l| LinkRow {
                    slug: l.slug.to_string(),
                    name: l.name.clone(),
                    groups: l.default_groups.iter().map(|g| g.to_string()).collect(),
                    invited: all.iter().filter(|i| i.via_link == Some(l.id)).count(),
                })
                .collect();
            let invitations = all
                .iter()
                .map(|i| InvitationRow {
                    id: i.id.to_string(),
                    email: i.username.as_ref().map_or_else(|| i.email.to_string(), |u| format!("@{u}")),
                    groups: i.groups.iter().map(|g| g.as_str()).collect::<Vec<_>>().join(", "),
                    state: i.state.as_str(),
                    expires: i.expires_at.rfc3339(),
                    pending: i.state == InvitationState::Pending,
                    via: link_of(i.via_link),
                })
                .collect();
            (invitations, rows)
        }
        Err(_) => (Vec::new(), Vec::new()),
    };
    let (jar, csrf) = csrf::token(&state, jar);
    let page = WorkspacePage {
        csrf,
        ws: m.workspace,
        admin,
        notice: notice(q.notice.as_deref()),
        groups,
        repositories,
        members,
        next,
        invitations,
        links,
        permissions: permissions(),
    };
    Ok((jar, render(&page)).into_response())
}

#[derive(Deserialize)]
struct Settings {
    #[serde(default)]
    name: String,
    #[serde(default)]
    plan: String,
    #[serde(default)]
    invitations_accept_any_account: bool,
}

async fn save_settings(
    State(state): State<HttpState>,
    PageAdmin(a): PageAdmin,
    Path(ws): Path<String>,
    CsrfForm(f): CsrfForm<Settings>,
) -> Result<Response, PageError> {
    let patch = WorkspacePatch {
        name: Some(&f.name),
        plan: Some(&f.plan),
        invitations_accept_any_account: Some(f.invitations_accept_any_account),
    };
    state.app.workspaces().update(&a, patch).await?;
    Ok(back(&ws, "", "settings-saved"))
}

#[derive(Deserialize)]
struct CreateGroup {
    #[serde(default)]
    slug: String,
    #[serde(default)]
    name: String,
    default_permission: Option<String>,
}

async fn create_group(
    State(state): State<HttpState>,
    PageAdmin(a): PageAdmin,
    Path(ws): Path<String>,
    CsrfForm(f): CsrfForm<CreateGroup>,
) -> Result<Response, PageError> {
    state.app.workspaces().create_group(&a, &f.slug, &f.name, f.default_permission.as_deref()).await?;
    Ok(back(&ws, "", "group-created"))
}

#[derive(Template)]
#[template(path = "group.html")]
struct GroupPage {
    csrf: String,
    ws: Workspace,
    group: Group,
    admin: bool,
    notice: &'static str,
    members: Vec<Account>,
    repositories: Vec<Repository>,
    permissions: Vec<&'static str>,
}

#[derive(Deserialize)]
struct NoticeQuery {
    notice: Option<String>,
}

async fn show_group(
    State(state): State<HttpState>,
    jar: CookieJar,
    PageMember(m): PageMember,
    Path((_, group)): Path<(String, String)>,
    Query(q): Query<NoticeQuery>,
) -> Result<Response, PageError> {
    let service = state.app.workspaces();
    let group = service.group(&m, &group).await?;
    let members = service.group_members(&m, group.slug.as_str()).await?;
    let repositories = service.repositories(&m).await?;
    let (jar, csrf) = csrf::token(&state, jar);
    let page = GroupPage {
        csrf,
        admin: m.is_admin(),
        ws: m.workspace,
        group,
        notice: notice(q.notice.as_deref()),
        members,
        repositories,
        permissions: permissions(),
    };
    Ok((jar, render(&page)).into_response())
}

#[derive(Deserialize)]
struct UsernameForm {
    #[serde(default)]
    username: String,
}

async fn add_member(
    State(state): State<HttpState>,
    PageAdmin(a): PageAdmin,
    Path((ws, group)): Path<(String, String)>,
    CsrfForm(f): CsrfForm<UsernameForm>,
) -> Result<Response, PageError> {
    let done = state.app.workspaces().add_member(&a, &group, &f.username).await?;
    let note = if done == MembershipChange::Changed { "member-added" } else { "already-member" };
    Ok(back(&ws, &format!("/groups/{group}"), note))
}

async fn remove_member(
    State(state): State<HttpState>,
    PageAdmin(a): PageAdmin,
    Path((ws, group, username)): Path<(String, String, String)>,
    CsrfForm(_): CsrfForm<serde::de::IgnoredAny>,
) -> Result<Response, PageError> {
    let done = state.app.workspaces().remove_member(&a, &group, &username).await?;
    let note = if done == MembershipChange::Changed { "member-removed" } else { "not-a-member" };
    Ok(back(&ws, &format!("/groups/{group}"), note))
}

#[derive(Deserialize)]
struct PermissionForm {
    #[serde(default)]
    repo: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    permission: String,
}

/// `remove` in the form means: remove the permission.
fn chosen(p: &str) -> Option<&str> {
    (p != "remove").then_some(p)
}

async fn set_group_permission(
    State(state): State<HttpState>,
    PageAdmin(a): PageAdmin,
    Path((ws, group)): Path<(String, String)>,
    CsrfForm(f): CsrfForm<PermissionForm>,
) -> Result<Response, PageError> {
    state.app.workspaces().set_group_permission(&a, &group, &f.repo, chosen(&f.permission)).await?;
    Ok(back(&ws, &format!("/groups/{group}"), "permission-set"))
}

#[derive(Deserialize)]
struct GroupSettings {
    #[serde(default)]
    name: String,
    #[serde(default)]
    default_permission: String,
}

async fn save_group(
    State(state): State<HttpState>,
    PageAdmin(a): PageAdmin,
    Path((ws, group)): Path<(String, String)>,
    CsrfForm(f): CsrfForm<GroupSettings>,
) -> Result<Response, PageError> {
    let patch = GroupPatch { name: Some(&f.name), default_permission: Some(&f.default_permission) };
    state.app.workspaces().update_group(&a, &group, patch).await?;
    Ok(back(&ws, &format!("/groups/{group}"), "settings-saved"))
}

async fn delete_group(
    State(state): State<HttpState>,
    PageAdmin(a): PageAdmin,
    Path((ws, group)): Path<(String, String)>,
    CsrfForm(_): CsrfForm<serde::de::IgnoredAny>,
) -> Result<Response, PageError> {
    state.app.workspaces().delete_group(&a, &group).await?;
    Ok(back(&ws, "", "group-deleted"))
}

#[derive(Deserialize)]
struct CreateRepository {
    #[serde(default)]
    slug: String,
}

async fn create_repository(
    State(state): State<HttpState>,
    PageAdmin(a): PageAdmin,
    Path(ws): Path<String>,
    CsrfForm(f): CsrfForm<CreateRepository>,
) -> Result<Response, PageError> {
    state.app.workspaces().create_repository(&a, &f.slug, None, None).await?;
    Ok(back(&ws, "", "repository-created"))
}

#[derive(Template)]
#[template(path = "repository.html")]
struct RepositoryPage {
    csrf: String,
    ws: Workspace,
    repo: Repository,
    admin: bool,
    notice: &'static str,
    mine: &'static str,
    permissions: Vec<&'static str>,
}

async fn show_repository(
    State(state): State<HttpState>,
    jar: CookieJar,
    PageMember(m): PageMember,
    Path((_, repo)): Path<(String, String)>,
    Query(q): Query<NoticeQuery>,
) -> Result<Response, PageError> {
    let username = m.actor.account.username.to_string();
    let service = state.app.workspaces();
    let repo = service.repository(&m, &repo).await?;
    let mine = service.permission(&m, repo.slug.as_str(), &username).await?.as_str();
    let (jar, csrf) = csrf::token(&state, jar);
    let page = RepositoryPage {
        csrf,
        admin: m.is_admin(),
        ws: m.workspace,
        repo,
        notice: notice(q.notice.as_deref()),
        mine,
        permissions: permissions(),
    };
    Ok((jar, render(&page)).into_response())
}

async fn set_grant(
    State(state): State<HttpState>,
    PageAdmin(a): PageAdmin,
    Path((ws, repo)): Path<(String, String)>,
    CsrfForm(f): CsrfForm<PermissionForm>,
) -> Result<Response, PageError> {
    state.app.workspaces().set_grant(&a, &repo, &f.username, chosen(&f.permission)).await?;
    Ok(back(&ws, &format!("/repositories/{repo}"), "permission-set"))
}

async fn delete_repository(
    State(state): State<HttpState>,
    PageAdmin(a): PageAdmin,
    Path((ws, repo)): Path<(String, String)>,
    CsrfForm(_): CsrfForm<serde::de::IgnoredAny>,
) -> Result<Response, PageError> {
    state.app.workspaces().delete_repository(&a, &repo).await?;
    Ok(back(&ws, "", "repository-deleted"))
}

#[derive(Deserialize)]
struct InviteForm {
    #[serde(default)]
    who: String,
    #[serde(default)]
    groups: Vec<String>,
}

async fn invite(
    State(state): State<HttpState>,
    PageAdmin(a): PageAdmin,
    Path(ws): Path<String>,
    CsrfForm(f): CsrfForm<InviteForm>,
) -> Result<Response, PageError> {
    let note = match state.app.invitations().invite(&a, f.who.trim(), &f.groups).await? {
        InviteOutcome::Invited(_) => "invited",
        InviteOutcome::AlreadyInGroups => "already-in-groups",
        InviteOutcome::AlreadyInvited(_) => "already-invited",
    };
    Ok(back(&ws, "", note))
}

async fn resend_invitation(
    State(state): State<HttpState>,
    PageAdmin(a): PageAdmin,
    Path((ws, id)): Path<(String, String)>,
    CsrfForm(_): CsrfForm<serde::de::IgnoredAny>,
) -> Result<Response, PageError> {
    state.app.invitations().resend(&a, &id).await?;
    Ok(back(&ws, "", "invitation-resent"))
}

async fn revoke_invitation(
    State(state): State<HttpState>,
    PageAdmin(a): PageAdmin,
    Path((ws, id)): Path<(String, String)>,
    CsrfForm(_): CsrfForm<serde::de::IgnoredAny>,
) -> Result<Response, PageError> {
    state.app.invitations().revoke(&a, &id).await?;
    Ok(back(&ws, "", "invitation-revoked"))
}

#[derive(Deserialize)]
struct AuditQuery {
    before: Option<i64>,
}

async fn show_audit(
    State(state): State<HttpState>,
    PageAdmin(a): PageAdmin,
    Query(q): Query<AuditQuery>,
) -> Result<Response, PageError> {
    let log = state.app.workspaces().audit_log(&a, q.before, AUDIT_PER_PAGE).await?;
    let ws = a.workspace();
    Ok(render(&AuditPage::new(&ws.name, format!("/workspaces/{}", ws.slug), log)).into_response())
}

#[derive(Deserialize)]
struct LinkForm {
    #[serde(default)]
    slug: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    groups: Vec<String>,
}

/// Shows a link's secret, once.
fn secret_page(ws: &str, what: &str, secret: &str) -> Response {
    render_message(
        what,
        &format!("Give the product this secret now; it is not shown again: {secret}"),
        &format!("/workspaces/{ws}"),
        "Back to the workspace",
    )
    .into_response()
}

async fn create_link(
    State(state): State<HttpState>,
    PageAdmin(a): PageAdmin,
    Path(ws): Path<String>,
    CsrfForm(f): CsrfForm<LinkForm>,
) -> Result<Response, PageError> {
    let (link, secret) = state.app.links().create(&a, &f.slug, &f.name, &f.groups).await?;
    Ok(secret_page(&ws, &format!("{} is linked", link.name), secret.expose()))
}

#[derive(Deserialize)]
struct LinkGroupsForm {
    #[serde(default)]
    groups: Vec<String>,
}

async fn set_link_groups(
    State(state): State<HttpState>,
    PageAdmin(a): PageAdmin,
    Path((ws, link)): Path<(String, String)>,
    CsrfForm(f): CsrfForm<LinkGroupsForm>,
) -> Result<Response, PageError> {
    state.app.links().set_groups(&a, &link, &f.groups).await?;
    Ok(back(&ws, "", "link-updated"))
}

async fn rotate_link(
    State(state): State<HttpState>,
    PageAdmin(a): PageAdmin,
    Path((ws, link)): Path<(String, String)>,
    CsrfForm(_): CsrfForm<serde::de::IgnoredAny>,
) -> Result<Response, PageError> {
    let secret = state.app.links().rotate(&a, &link).await?;
    Ok(secret_page(&ws, "New secret", secret.expose()))
}

async fn delete_link(
    State(state): State<HttpState>,
    PageAdmin(a): PageAdmin,
    Path((ws, link)): Path<(String, String)>,
    CsrfForm(_): CsrfForm<serde::de::IgnoredAny>,
) -> Result<Response, PageError> {
    state.app.links().delete(&a, &link).await?;
    Ok(back(&ws, "", "link-deleted"))
}
