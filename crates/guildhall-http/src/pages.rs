//! The server-rendered pages. Plain HTML forms that work without JavaScript;
//! every form posts a CSRF token (see `csrf`).

mod account;
mod developer;
mod directory;
mod external;
mod invitations;
pub(crate) mod login;
mod mfa;
mod orgs;
mod password;
mod provisioning;
mod signup;
mod sites;
mod verify;
mod webhooks;
mod workspaces;

use crate::HttpState;
use crate::session::MaybeSignedIn;
use askama::Template;
use axum::Router;
use axum::http::header;
use axum::response::{Html, IntoResponse, Redirect};
use axum::routing::get;

pub fn router() -> Router<HttpState> {
    Router::new()
        .route("/", get(home))
        .route("/static/style.css", get(stylesheet))
        .route("/static/passkeys.js", get(passkeys_script))
        .merge(signup::router())
        .merge(login::router())
        .merge(external::router())
        .merge(mfa::router())
        .merge(verify::router())
        .merge(password::router())
        .merge(account::router())
        .merge(developer::router())
        .merge(directory::router())
        .merge(orgs::router())
        .merge(sites::router())
        .merge(workspaces::router())
        .merge(invitations::router())
        .merge(webhooks::router())
        .merge(provisioning::router())
}

async fn home(MaybeSignedIn(who): MaybeSignedIn) -> Redirect {
    Redirect::to(if who.is_some() { "/account" } else { "/login" })
}

async fn stylesheet() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=3600")],
        include_str!("../static/style.css"),
    )
}

async fn passkeys_script() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=3600")],
        include_str!("../static/passkeys.js"),
    )
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage<'a> {
    title: &'a str,
    text: &'a str,
    link_href: &'a str,
    link_text: &'a str,
}

/// A page with a title, a sentence and an optional link.
pub(crate) fn render_message(title: &str, text: &str, link_href: &str, link_text: &str) -> Html<String> {
    render(&MessagePage { title, text, link_href, link_text })
}

/// Renders a template; a template error is a bug, shown as a plain message.
pub(crate) fn render(t: &impl Template) -> Html<String> {
    Html(t.render().unwrap_or_else(|e| {
        tracing::error!(error = %e, "template failed");
        "<!doctype html><title>Error</title><p>Something went wrong.</p>".to_owned()
    }))
}

/// Fixed notices chosen by a query key, so no page reflects arbitrary text.
pub(crate) fn notice(key: Option<&str>) -> &'static str {
    match key {
        Some("signed-out") => "You are signed out.",
        Some("password-reset") => "Your password is set. Sign in with it.",
        Some("password-changed") => "Your password is changed. Your other sessions were signed out.",
        Some("verification-sent") => "We sent a new verification link. The previous one no longer works.",
        Some("verified") => "Your email address is verified.",
        Some("session-revoked") => "The session was revoked.",
        Some("link-updated") => "The linked product's groups are saved.",
        Some("link-deleted") => "The product is unlinked; its secret no longer works.",
        Some("org-created") => "The organization is created; you are its administrator.",
        Some("org-renamed") => "The organization is renamed.",
        Some("org-admin-added") => "The administrator is added.",
        Some("org-admin-removed") => "The administrator is removed.",
        Some("domain-added") => "The domain is added. Publish its TXT record, then verify it.",
        Some("domain-verified") => "The domain is verified; its accounts are now managed by the organization.",
        Some("domain-removed") => "The domain is removed; its accounts are personal again.",
        Some("account-updated") => "The account is updated.",
        Some("account-signed-out") => "The account is signed out everywhere.",
        Some("workspace-linked") => "The workspace is linked to the organization, permanently.",
        Some("consent-revoked") => "The product's access is withdrawn; its tokens no longer work.",
        Some("workspace-created") => "The workspace is created; you are its administrator.",
        Some("group-created") => "The group is created.",
        Some("group-deleted") => "The group is deleted.",
        Some("repository-created") => "The repository is created.",
        Some("repository-deleted") => "The repository is deleted.",
        Some("invited") => "The invitation is sent.",
        Some("already-in-groups") => "Nothing to do: that person is already in those groups.",
        Some("already-invited") => "Nothing sent: a pending invitation already covers those groups.",
        Some("invitation-resent") => "A new link is sent; the previous one no longer works.",
        Some("invitation-revoked") => "The invitation is revoked.",
        Some("settings-saved") => "The settings are saved.",
        Some("member-added") => "The member is added.",
        Some("already-member") => "Nothing to do: already a member.",
        Some("member-removed") => "The member is removed.",
        Some("not-a-member") => "Nothing to do: not a member.",
        Some("permission-set") => "The permission is saved.",
        Some("token-revoked") => "The token is revoked.",
        Some("mfa-required") => "Your organization requires two-step sign-in. Set up an authenticator app to go on.",
        Some("mfa-policy-saved") => "The two-step sign-in policy is saved.",
        Some("passkey-failed") => "That passkey did not sign you in. Try again, or use your password.",
        Some("totp-added") => "The authenticator app is set up.",
        Some("passkey-added") => "The passkey is added.",
        Some("passkey-renamed") => "The passkey is renamed.",
        Some("passkey-removed") => "The passkey is removed.",
        Some("totp-removed") => "The authenticator is removed; signing in no longer asks for its code.",
        Some("second-step-expired") => "The second step took too long. Sign in again.",
        Some("identity-connected") => "The account is connected; you can sign in with it.",
        Some("identity-disconnected") => "The account is disconnected; it no longer signs you in.",
        Some("idp-saved") => "The identity provider is saved.",
        Some("idp-removed") => "The identity provider is removed; members sign in with passwords again.",
        _ => "",
    }
}

/// One page of an audit log (a workspace's or an org's), newest first.
#[derive(Template)]
#[template(path = "audit.html")]
pub(crate) struct AuditPage {
    /// The workspace or org, and its page (`/workspaces/acme`).
    name: String,
    home: String,
    /// (when, who, action, target, detail, from)
    entries: Vec<(String, String, String, String, String, String)>,
    /// The id to page on from, if the page is full.
    next: String,
}

/// Entries shown per audit page.
pub(crate) const AUDIT_PER_PAGE: u32 = 100;

impl AuditPage {
    pub(crate) fn new(name: &str, home: String, log: Vec<(i64, guildhall_app::ports::Audit)>) -> Self {
        let next = if log.len() == AUDIT_PER_PAGE as usize {
            log.last().map(|(id, _)| id.to_string()).unwrap_or_default()
        } else {
            String::new()
        };
        let entries = log
            .into_iter()
            .map(|(_, e)| {
                (
                    e.at.rfc3339(),
                    e.actor_label,
                    e.action,
                    e.target,
                    e.detail.unwrap_or_default(),
                    e.ip.unwrap_or_default(),
                )
            })
            .collect();
        Self { name: name.to_owned(), home, entries, next }
    }
}

/// A signed-in admin of the `{ws}` workspace or the `{org}` organization,
/// for the pages of what both own alike (webhooks, provisioning). Anyone
/// else, members included, gets 404.
pub(crate) struct PageScopeAdmin {
    pub admin: guildhall_app::directory::ScopeAdmin,
    /// `/workspaces/acme` or `/orgs/initech`.
    pub base: String,
    pub name: String,
}

impl<S> axum::extract::FromRequestParts<S> for PageScopeAdmin
where
    crate::HttpState: axum::extract::FromRef<S>,
    S: Send + Sync,
{
    type Rejection = crate::error::PageError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, Self::Rejection> {
        use axum::extract::FromRef;
        use guildhall_app::directory::ScopeAdmin;
        let who = crate::session::SignedIn::from_request_parts(parts, state).await?;
        let Ok(client) = crate::client::Client::from_request_parts(parts, state).await;
        let http = crate::HttpState::from_ref(state);
        let actor = guildhall_app::workspaces::Actor { account: who.account, ip: client.0.ip };
        if let Ok(ws) = crate::path_param(parts, "ws").await {
            let member = http.app.workspaces().open(actor, &ws).await?;
            if !member.is_admin() {
                return Err(guildhall_app::AppError::NotFound.into());
            }
            let admin = member.admin()?;
            let w = admin.workspace();
            return Ok(Self {
                base: format!("/workspaces/{}", w.slug),
                name: w.name.clone(),
                admin: ScopeAdmin::workspace(&admin),
            });
        }
        let org = crate::path_param(parts, "org").await?;
        let a = http.app.orgs().open(actor, &org).await?;
        Ok(Self { base: format!("/orgs/{}", a.org.slug), name: a.org.name.clone(), admin: ScopeAdmin::org(&a) })
    }
}
