//! `/account`: who you are and your sessions, each revocable.

use crate::HttpState;
use crate::csrf::{self, CsrfForm};
use crate::error::PageError;
use crate::pages::{notice, render, render_message};
use crate::session::{self, SignedIn};
use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::cookie::CookieJar;
use guildhall_app::ports::{AccessToken, Consent};
use guildhall_core::SessionId;
use guildhall_core::accounts::Account;
use serde::Deserialize;

pub fn router() -> Router<HttpState> {
    Router::new()
        .route("/account", get(show))
        .route("/account/sessions/{id}/revoke", post(revoke))
        .route("/account/tokens", post(create_token))
        .route("/account/tokens/{id}/revoke", post(revoke_token))
        .route("/account/consents/{product}/revoke", post(revoke_consent))
}

struct SessionRow {
    id: String,
    device: String,
    ip: String,
    created: String,
    last_seen: String,
    current: bool,
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    csrf: String,
    account: Account,
    sessions: Vec<SessionRow>,
    tokens: Vec<AccessToken>,
    consents: Vec<Consent>,
    /// Connected identities: (provider, subject, display name, email).
    identities: Vec<(String, String, String, String)>,
    /// (name, display name) of the providers one can connect.
    providers: Vec<(String, String)>,
    has_password: bool,
    notice: &'static str,
}

#[derive(Deserialize)]
struct NoticeQuery {
    notice: Option<String>,
}

async fn show(
    State(state): State<HttpState>,
    jar: CookieJar,
    who: SignedIn,
    Query(q): Query<NoticeQuery>,
) -> Result<Response, PageError> {
    let sessions = state
        .app
        .sessions()
        .list(&who.account)
        .await?
        .into_iter()
        .map(|s| SessionRow {
            id: s.id.to_string(),
            device: s.user_agent.unwrap_or_else(|| "Unknown device".to_owned()),
            ip: s.ip.unwrap_or_else(|| "unknown".to_owned()),
            created: s.created_at.rfc3339(),
            last_seen: s.last_seen_at.rfc3339(),
            current: s.id == who.session.id,
        })
        .collect();
    let tokens = state.app.tokens().list(&who.account).await?;
    let consents = state.app.oauth().consents(&who.account).await?;
    let external = state.app.external();
    let identities = external
        .identities(&who.account)
        .await?
        .into_iter()
        .map(|v| {
            let i = v.identity;
            (i.provider.to_string(), i.subject, v.display_name, i.email.unwrap_or_default())
        })
        .collect();
    let providers = crate::pages::login::provider_buttons(&state).await?;
    let has_password = state.app.accounts().has_password(&who.account).await?;
    let (jar, csrf) = csrf::token(&state, jar);
    let page = AccountPage {
        csrf,
        account: who.account,
        sessions,
        tokens,
        consents,
        identities,
        providers,
        has_password,
        notice: notice(q.notice.as_deref()),
    };
    Ok((jar, render(&page)).into_response())
}

async fn revoke(
    State(state): State<HttpState>,
    jar: CookieJar,
    who: SignedIn,
    Path(id): Path<String>,
    CsrfForm(_): CsrfForm<serde::de::IgnoredAny>,
) -> Result<Response, PageError> {
    let id: SessionId = id.parse().map_err(|_| PageError::BadRequest("That is not a session identifier."))?;
    state.app.sessions().revoke(&who.account, id).await?;
    if id == who.session.id {
        let jar = session::clear_cookie(&state, jar);
        return Ok((jar, Redirect::to("/login?notice=signed-out")).into_response());
    }
    Ok(Redirect::to("/account?notice=session-revoked").into_response())
}

#[derive(Deserialize)]
struct TokenForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    scopes: Vec<String>,
}

/// Shows the new token once, on this response only.
async fn create_token(
    State(state): State<HttpState>,
    who: SignedIn,
    CsrfForm(f): CsrfForm<TokenForm>,
) -> Result<Response, PageError> {
    let (token, secret) = state.app.tokens().create(&who.account, &f.name, &f.scopes).await?;
    Ok(render_message(
        "Token created",
        &format!(
            "Your token {} ({}) is: {} — copy it now; it is not shown again.",
            token.name,
            token.scopes.join(" "),
            secret.expose()
        ),
        "/account",
        "Back to your account",
    )
    .into_response())
}

async fn revoke_token(
    State(state): State<HttpState>,
    who: SignedIn,
    Path(id): Path<String>,
    CsrfForm(_): CsrfForm<serde::de::IgnoredAny>,
) -> Result<Response, PageError> {
    state.app.tokens().revoke(&who.account, &id).await?;
    Ok(Redirect::to("/account?notice=token-revoked").into_response())
}

/// Withdraws a product's consent; its tokens for this person stop working.
async fn revoke_consent(
    State(state): State<HttpState>,
    who: SignedIn,
    Path(product): Path<String>,
    CsrfForm(_): CsrfForm<serde::de::IgnoredAny>,
) -> Result<Response, PageError> {
    state.app.oauth().revoke_consent(&who.account, &product).await?;
    Ok(Redirect::to("/account?notice=consent-revoked").into_response())
}
