//! `/api/v1/workspaces/{ws}/links`: products linked to a workspace, and the
//! endpoint they report their new users to (authenticated by the link's own
//! secret, not a person's token).

use super::caller::WsAdmin;
use super::json::{self, ApiJson};
use crate::HttpState;
use crate::error::ApiError;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use guildhall_app::AppError;
use guildhall_app::links::ReportOutcome;
use guildhall_app::ports::Link;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<HttpState> {
    OpenApiRouter::new()
        .routes(routes!(list_links, create_link))
        .routes(routes!(get_link, update_link, delete_link))
        .routes(routes!(rotate_link))
        .routes(routes!(link_invitations))
        .routes(routes!(report_user))
}

fn link(l: &Link) -> Value {
    json!({ "slug": l.slug, "name": l.name, "groups": l.default_groups, "auto_invite": !l.default_groups.is_empty(), "created_at": l.created_at.rfc3339() })
}

#[utoipa::path(get, path = "/workspaces/{ws}/links", tag = "links", summary = "The products linked to the workspace",
    params(("ws" = String, Path, description = "Workspace slug")),
    responses((status = 200, description = "Success"), (status = 403, description = "Not an administrator"), (status = 404, description = "Unknown, or not a member")),
    security(("bearer" = ["workspaces:admin"]), ("session" = [])))]
async fn list_links(State(state): State<HttpState>, WsAdmin(a): WsAdmin) -> Result<Json<Value>, ApiError> {
    let links = state.app.links().list(&a).await?;
    Ok(Json(json!({ "links": links.iter().map(link).collect::<Vec<_>>() })))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateLink {
    slug: String,
    name: String,
    /// Groups new users are invited to; empty or absent: none (off).
    #[serde(default)]
    groups: Vec<String>,
}

#[utoipa::path(post, path = "/workspaces/{ws}/links", tag = "links", summary = "Link a product; its secret is returned once",
    params(("ws" = String, Path, description = "Workspace slug")), request_body = CreateLink,
    responses((status = 201, description = "Linked"), (status = 403, description = "Not an administrator"), (status = 422, description = "Invalid input, unknown group or taken slug; nothing changed")),
    security(("bearer" = ["workspaces:admin"]), ("session" = [])))]
async fn create_link(
    State(state): State<HttpState>,
    WsAdmin(a): WsAdmin,
    ApiJson(body): ApiJson<CreateLink>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let (l, secret) = state.app.links().create(&a, &body.slug, &body.name, &body.groups).await?;
    let mut v = link(&l);
    v["secret"] = json!(secret.expose());
    Ok((StatusCode::CREATED, Json(v)))
}

#[utoipa::path(get, path = "/workspaces/{ws}/links/{link}", tag = "links", summary = "A linked product",
    params(("ws" = String, Path, description = "Workspace slug"), ("link" = String, Path, description = "Link slug")),
    responses((status = 200, description = "Success"), (status = 404, description = "Unknown")),
    security(("bearer" = ["workspaces:admin"]), ("session" = [])))]
async fn get_link(
    State(state): State<HttpState>,
    WsAdmin(a): WsAdmin,
    Path((_, slug)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(link(&state.app.links().get(&a, &slug).await?)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct UpdateLink {
    /// The groups new users are invited to; empty: automatic invitations off.
    groups: Vec<String>,
}

#[utoipa::path(patch, path = "/workspaces/{ws}/links/{link}", tag = "links", summary = "Choose the groups new users are invited to",
    params(("ws" = String, Path, description = "Workspace slug"), ("link" = String, Path, description = "Link slug")), request_body = UpdateLink,
    responses((status = 200, description = "Success"), (status = 404, description = "Unknown"), (status = 422, description = "Unknown group; nothing changed")),
    security(("bearer" = ["workspaces:admin"]), ("session" = [])))]
async fn update_link(
    State(state): State<HttpState>,
    WsAdmin(a): WsAdmin,
    Path((_, slug)): Path<(String, String)>,
    ApiJson(body): ApiJson<UpdateLink>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(link(&state.app.links().set_groups(&a, &slug, &body.groups).await?)))
}

#[utoipa::path(delete, path = "/workspaces/{ws}/links/{link}", tag = "links", summary = "Unlink a product (its secret stops working)",
    params(("ws" = String, Path, description = "Workspace slug"), ("link" = String, Path, description = "Link slug")),
    responses((status = 204, description = "Deleted"), (status = 404, description = "Unknown")),
    security(("bearer" = ["workspaces:admin"]), ("session" = [])))]
async fn delete_link(
    State(state): State<HttpState>,
    WsAdmin(a): WsAdmin,
    Path((_, slug)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state.app.links().delete(&a, &slug).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/workspaces/{ws}/links/{link}/rotate", tag = "links", summary = "New credentials (returned once); the old ones stop working",
    params(("ws" = String, Path, description = "Workspace slug"), ("link" = String, Path, description = "Link slug")),
    responses((status = 200, description = "Rotated"), (status = 404, description = "Unknown")),
    security(("bearer" = ["workspaces:admin"]), ("session" = [])))]
async fn rotate_link(
    State(state): State<HttpState>,
    WsAdmin(a): WsAdmin,
    Path((_, slug)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let secret = state.app.links().rotate(&a, &slug).await?;
    Ok(Json(json!({ "secret": secret.expose() })))
}

#[utoipa::path(get, path = "/workspaces/{ws}/links/{link}/invitations", tag = "links", summary = "The invitations the linked product caused",
    params(("ws" = String, Path, description = "Workspace slug"), ("link" = String, Path, description = "Link slug")),
    responses((status = 200, description = "Success"), (status = 404, description = "Unknown")),
    security(("bearer" = ["workspaces:admin"]), ("session" = [])))]
async fn link_invitations(
    State(state): State<HttpState>,
    WsAdmin(a): WsAdmin,
    Path((_, slug)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let list = state.app.links().invitations(&a, &slug).await?;
    Ok(Json(json!({ "invitations": list.iter().map(json::invitation).collect::<Vec<_>>() })))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct ReportUser {
    email: String,
    display_name: String,
    /// Groups for this user, replacing the link's configured ones.
    groups: Option<Vec<String>>,
}

#[utoipa::path(post, path = "/workspaces/{ws}/links/{link}/users", tag = "links",
    summary = "A linked product reports a new user (Bearer: the link's secret); Guildhall invites them",
    params(("ws" = String, Path, description = "Workspace slug"), ("link" = String, Path, description = "Link slug")), request_body = ReportUser,
    responses((status = 201, description = "Invited"), (status = 200, description = "Nothing to do (already in the groups, already invited, or nothing configured)"), (status = 401, description = "Not this link's secret"), (status = 422, description = "Invalid input or unknown group; nothing sent")),
    security(("link_secret" = [])))]
async fn report_user(
    State(state): State<HttpState>,
    headers: HeaderMap,
    Path((ws, slug)): Path<(String, String)>,
    ApiJson(body): ApiJson<ReportUser>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let secret = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim().to_owned())
        .ok_or(AppError::Unauthenticated)?;
    let outcome = state
        .app
        .links()
        .report_user(&secret, &ws, &slug, &body.email, &body.display_name, body.groups.as_deref())
        .await?;
    Ok(match outcome {
        ReportOutcome::Invited(inv) => {
            (StatusCode::CREATED, Json(json!({ "outcome": "invited", "invitation": json::invitation(&inv) })))
        }
        ReportOutcome::AlreadyInGroups => (
            StatusCode::OK,
            Json(
                json!({ "outcome": "already_in_groups", "detail": "The person is already in those groups; nothing was sent." }),
            ),
        ),
        ReportOutcome::AlreadyInvited(inv) => (
            StatusCode::OK,
            Json(
                json!({ "outcome": "already_invited", "detail": "A pending invitation already covers those groups; nothing was sent.", "invitation": json::invitation(&inv) }),
            ),
        ),
        ReportOutcome::NothingConfigured => (
            StatusCode::OK,
            Json(
                json!({ "outcome": "not_configured", "detail": "This link invites nobody automatically and no groups were given; nothing was sent." }),
            ),
        ),
    })
}
