//! `/invitations/{token}`: see an invitation, sign in or sign up, accept.

use crate::HttpState;
use crate::client::Client;
use crate::csrf::{self, CsrfForm};
use crate::error::PageError;
use crate::pages::{render, render_message};
use crate::session::{MaybeSignedIn, SignedIn};
use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum_extra::extract::cookie::CookieJar;
use guildhall_app::workspaces::Actor;
use guildhall_core::workspaces::InvitationState;

pub fn router() -> Router<HttpState> {
    Router::new().route("/invitations/{token}", get(show).post(accept))
}

#[derive(Template)]
#[template(path = "invitation.html")]
struct InvitationPage {
    csrf: String,
    token: String,
    workspace: String,
    groups: String,
    email: String,
    signed_in_as: String,
    problem: String,
    return_to: String,
}

async fn show(
    State(state): State<HttpState>,
    jar: CookieJar,
    MaybeSignedIn(who): MaybeSignedIn,
    Path(token): Path<String>,
) -> Result<Response, PageError> {
    let (inv, ws) = state.app.invitations().preview(&token).await?;
    let problem = match inv.state {
        InvitationState::Accepted => "This invitation was already used.",
        InvitationState::Revoked => "This invitation was withdrawn.",
        InvitationState::Pending => "",
    };
    let (jar, csrf) = csrf::token(&state, jar);
    let page = InvitationPage {
        csrf,
        return_to: format!("/invitations/{token}"),
        token,
        workspace: ws.name,
        groups: inv.groups.iter().map(|g| g.as_str()).collect::<Vec<_>>().join(", "),
        email: inv.email.to_string(),
        signed_in_as: who.map(|w| w.account.email.to_string()).unwrap_or_default(),
        problem: problem.to_owned(),
    };
    Ok((jar, render(&page)).into_response())
}

async fn accept(
    State(state): State<HttpState>,
    who: SignedIn,
    Client(client): Client,
    Path(token): Path<String>,
    CsrfForm(_): CsrfForm<serde::de::IgnoredAny>,
) -> Result<Response, PageError> {
    let actor = Actor { account: who.account, ip: client.ip };
    let ws = state.app.invitations().accept(&token, &actor).await?;
    Ok(render_message(
        "Invitation accepted",
        &format!("You are now a member of {}.", ws.name),
        "/account",
        "Go to your account",
    )
    .into_response())
}
