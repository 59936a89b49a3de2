//! JSON request bodies whose rejections are problem+json, and the JSON
//! shapes of the API's resources.

use crate::error::ApiError;
use axum::extract::{FromRequest, Request};
use guildhall_app::ports::{AccessToken, Audit, Group, Invitation, Repository, Workspace};
use guildhall_core::accounts::Account;
use guildhall_core::problem::Problem;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// A JSON body; malformed or mistyped bodies get a 400/422 problem.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Self(v)),
            Err(e) => {
                let status = e.status().as_u16();
                let slug = if status == 415 { "unsupported-media-type" } else { "malformed-body" };
                Err(ApiError(
                    Problem::new(slug, "The request body is not acceptable", status).with_detail(e.body_text()),
                ))
            }
        }
    }
}

pub fn workspace(w: &Workspace) -> Value {
    json!({
        "slug": w.slug,
        "name": w.name,
        "plan": w.plan,
        "invitations_accept_any_account": w.invitations_accept_any_account,
        "organization": w.organization,
        "created_at": w.created_at.rfc3339(),
    })
}

pub fn group(g: &Group) -> Value {
    json!({
        "slug": g.slug,
        "name": g.name,
        "default_permission": g.default_permission,
        "administrators": g.is_admins,
    })
}

pub fn repository(r: &Repository) -> Value {
    json!({ "slug": r.slug, "name": r.name, "private": r.private })
}

pub fn person(a: &Account) -> Value {
    json!({ "username": a.username, "display_name": a.display_name })
}

pub fn invitation(i: &Invitation) -> Value {
    json!({
        "id": i.id,
        // Invited by username: the account's email stays private.
        "email": if i.username.is_some() { None } else { Some(&i.email) },
        "username": i.username,
        "state": i.state.as_str(),
        "groups": i.groups,
        "created_at": i.created_at.rfc3339(),
        "expires_at": i.expires_at.rfc3339(),
    })
}

pub fn audit(id: i64, a: &Audit) -> Value {
    json!({
        "id": id,
        "at": a.at.rfc3339(),
        "actor": a.actor_label,
        "action": a.action,
        "target": a.target,
        "detail": a.detail,
        "ip": a.ip,
    })
}

pub fn access_token(t: &AccessToken) -> Value {
    json!({
        "id": t.id,
        "name": t.name,
        "scopes": t.scopes,
        "created_at": t.created_at.rfc3339(),
        "last_used_at": t.last_used_at.map(|t| t.rfc3339()),
    })
}
