//! `/api/v1/orgs`: organizations, their admins, domains (verified through
//! DNS) and managed accounts, and their audit log.

use super::caller::{ApiCaller, OrgAdmin};
use super::json::{self, ApiJson};
use crate::HttpState;
use crate::error::ApiError;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use guildhall_app::orgs::{DomainView, MemberFilter};
use guildhall_app::ports::Org;
use guildhall_core::accounts::Account;
use guildhall_core::scopes::Scope;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<HttpState> {
    OpenApiRouter::new()
        .routes(routes!(list_orgs, create_org))
        .routes(routes!(get_org, update_org))
        .routes(routes!(add_admin, remove_admin))
        .routes(routes!(list_domains, add_domain))
        .routes(routes!(verify_domain))
        .routes(routes!(remove_domain))
        .routes(routes!(managed_accounts))
        .routes(routes!(update_managed_account))
        .routes(routes!(end_managed_sessions))
        .routes(routes!(org_audit))
        .routes(routes!(list_linked_workspaces, link_workspace))
        .routes(routes!(org_members))
}

fn org(o: &Org) -> Value {
    json!({ "slug": o.slug, "name": o.name, "created_at": o.created_at.rfc3339() })
}

fn domain(d: &DomainView) -> Value {
    json!({
        "domain": d.domain.domain.as_str(),
        "verified": d.domain.verified_at.is_some(),
        "verified_at": d.domain.verified_at.map(|t| t.rfc3339()),
        "txt_record": d.record,
    })
}

fn managed(a: &Account) -> Value {
    json!({
        "username": a.username,
        "display_name": a.display_name,
        "email": a.email.as_str(),
        "status": a.status.as_str(),
    })
}

#[utoipa::path(get, path = "/orgs", tag = "orgs", summary = "The organizations you administer",
    responses((status = 200, description = "Success"), (status = 401, description = "Not authenticated"), (status = 403, description = "Missing scope")),
    security(("bearer" = ["orgs:read"]), ("session" = [])))]
async fn list_orgs(State(state): State<HttpState>, caller: ApiCaller) -> Result<Json<Value>, ApiError> {
    caller.require(Scope::OrgsRead)?;
    let orgs = state.app.orgs().mine(&caller.account).await?;
    Ok(Json(json!({ "orgs": orgs.iter().map(org).collect::<Vec<_>>() })))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateOrg {
    slug: String,
    name: String,
}

#[utoipa::path(post, path = "/orgs", tag = "orgs", summary = "Create an organization; you become its first administrator",
    request_body = CreateOrg,
    responses((status = 201, description = "Success"), (status = 401, description = "Not authenticated"), (status = 403, description = "Missing scope"), (status = 422, description = "Invalid input; nothing changed")),
    security(("bearer" = ["orgs:admin"]), ("session" = [])))]
async fn create_org(
    State(state): State<HttpState>,
    caller: ApiCaller,
    ApiJson(body): ApiJson<CreateOrg>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require(Scope::OrgsAdmin)?;
    let o = state.app.orgs().create(&caller.actor(), &body.slug, &body.name).await?;
    Ok((StatusCode::CREATED, Json(org(&o))))
}

#[utoipa::path(get, path = "/orgs/{org}", tag = "orgs", summary = "An organization, with its administrators",
    params(("org" = String, Path, description = "Organization slug")),
    responses((status = 200, description = "Success"), (status = 401, description = "Not authenticated"), (status = 404, description = "Unknown, or not an administrator"), (status = 403, description = "Missing scope")),
    security(("bearer" = ["orgs:read"]), ("session" = [])))]
async fn get_org(State(state): State<HttpState>, OrgAdmin(a, _): OrgAdmin) -> Result<Json<Value>, ApiError> {
    let admins = state.app.orgs().admins(&a).await?;
    let mut v = org(&a.org);
    v["admins"] = json!(admins.iter().map(json::person).collect::<Vec<_>>());
    Ok(Json(v))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct UpdateOrg {
    name: String,
}

#[utoipa::path(patch, path = "/orgs/{org}", tag = "orgs", summary = "Rename an organization",
    params(("org" = String, Path, description = "Organization slug")), request_body = UpdateOrg,
    responses((status = 200, description = "Success"), (status = 404, description = "Unknown, or not an administrator"), (status = 403, description = "Missing scope"), (status = 422, description = "Invalid input; nothing changed")),
    security(("bearer" = ["orgs:admin"]), ("session" = [])))]
async fn update_org(
    State(state): State<HttpState>,
    admin: OrgAdmin,
    ApiJson(body): ApiJson<UpdateOrg>,
) -> Result<Json<Value>, ApiError> {
    admin.require_admin_scope()?;
    let o = state.app.orgs().rename(&admin.0, &body.name).await?;
    Ok(Json(org(&o)))
}

#[utoipa::path(put, path = "/orgs/{org}/admins/{username}", tag = "orgs", summary = "Make an account an administrator",
    params(("org" = String, Path, description = "Organization slug"), ("username" = String, Path, description = "Account username")),
    responses((status = 204, description = "Done (or already so)"), (status = 404, description = "Unknown organization or account"), (status = 403, description = "Missing scope")),
    security(("bearer" = ["orgs:admin"]), ("session" = [])))]
async fn add_admin(
    State(state): State<HttpState>,
    admin: OrgAdmin,
    Path((_, username)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    admin.require_admin_scope()?;
    state.app.orgs().set_admin(&admin.0, &username, true).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(delete, path = "/orgs/{org}/admins/{username}", tag = "orgs", summary = "Remove an administrator (never the last)",
    params(("org" = String, Path, description = "Organization slug"), ("username" = String, Path, description = "Account username")),
    responses((status = 204, description = "Done (or was not one)"), (status = 404, description = "Unknown organization or account"), (status = 409, description = "The last administrator"), (status = 403, description = "Missing scope")),
    security(("bearer" = ["orgs:admin"]), ("session" = [])))]
async fn remove_admin(
    State(state): State<HttpState>,
    admin: OrgAdmin,
    Path((_, username)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    admin.require_admin_scope()?;
    state.app.orgs().set_admin(&admin.0, &username, false).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/orgs/{org}/domains", tag = "orgs", summary = "The organization's domains, with the TXT record each needs",
    params(("org" = String, Path, description = "Organization slug")),
    responses((status = 200, description = "Success"), (status = 404, description = "Unknown, or not an administrator")),
    security(("bearer" = ["orgs:read"]), ("session" = [])))]
async fn list_domains(State(state): State<HttpState>, OrgAdmin(a, _): OrgAdmin) -> Result<Json<Value>, ApiError> {
    let domains = state.app.orgs().domains(&a).await?;
    Ok(Json(json!({ "domains": domains.iter().map(domain).collect::<Vec<_>>() })))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct AddDomain {
    domain: String,
}

#[utoipa::path(post, path = "/orgs/{org}/domains", tag = "orgs", summary = "Claim a domain; publish the returned TXT record, then verify",
    params(("org" = String, Path, description = "Organization slug")), request_body = AddDomain,
    responses((status = 201, description = "Claimed"), (status = 404, description = "Unknown, or not an administrator"), (status = 422, description = "Invalid or already claimed; nothing changed"), (status = 403, description = "Missing scope")),
    security(("bearer" = ["orgs:admin"]), ("session" = [])))]
async fn add_domain(
    State(state): State<HttpState>,
    admin: OrgAdmin,
    ApiJson(body): ApiJson<AddDomain>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    admin.require_admin_scope()?;
    let d = state.app.orgs().add_domain(&admin.0, &body.domain).await?;
    Ok((StatusCode::CREATED, Json(domain(&d))))
}

#[utoipa::path(post, path = "/orgs/{org}/domains/{domain}/verify", tag = "orgs", summary = "Look the TXT record up in DNS; on success the domain's accounts become managed",
    params(("org" = String, Path, description = "Organization slug"), ("domain" = String, Path, description = "Domain")),
    responses((status = 200, description = "Verified"), (status = 404, description = "Unknown organization or domain"), (status = 409, description = "Verified by another organization"), (status = 422, description = "Record missing or wrong; nothing changed"), (status = 403, description = "Missing scope")),
    security(("bearer" = ["orgs:admin"]), ("session" = [])))]
async fn verify_domain(
    State(state): State<HttpState>,
    admin: OrgAdmin,
    Path((_, name)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    admin.require_admin_scope()?;
    let newly = state.app.orgs().verify_domain(&admin.0, &name).await?;
    Ok(Json(json!({ "verified": true, "newly_managed": newly.iter().map(managed).collect::<Vec<_>>() })))
}

#[utoipa::path(delete, path = "/orgs/{org}/domains/{domain}", tag = "orgs", summary = "Give a domain up; its managed accounts become personal again",
    params(("org" = String, Path, description = "Organization slug"), ("domain" = String, Path, description = "Domain")),
    responses((status = 204, description = "Removed"), (status = 404, description = "Unknown organization or domain"), (status = 403, description = "Missing scope")),
    security(("bearer" = ["orgs:admin"]), ("session" = [])))]
async fn remove_domain(
    State(state): State<HttpState>,
    admin: OrgAdmin,
    Path((_, name)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    admin.require_admin_scope()?;
    state.app.orgs().remove_domain(&admin.0, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/orgs/{org}/managed-accounts", tag = "orgs", summary = "The accounts the organization manages",
    params(("org" = String, Path, description = "Organization slug")),
    responses((status = 200, description = "Success"), (status = 404, description = "Unknown, or not an administrator")),
    security(("bearer" = ["orgs:read"]), ("session" = [])))]
async fn managed_accounts(State(state): State<HttpState>, OrgAdmin(a, _): OrgAdmin) -> Result<Json<Value>, ApiError> {
    let accounts = state.app.orgs().managed_accounts(&a).await?;
    Ok(Json(json!({ "accounts": accounts.iter().map(managed).collect::<Vec<_>>() })))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct UpdateManaged {
    display_name: Option<String>,
    /// `active` or `deactivated` (deactivating ends every session).
    status: Option<String>,
}

#[utoipa::path(patch, path = "/orgs/{org}/managed-accounts/{username}", tag = "orgs", summary = "Rename, deactivate or reactivate a managed account",
    params(("org" = String, Path, description = "Organization slug"), ("username" = String, Path, description = "Account username")),
    request_body = UpdateManaged,
    responses((status = 200, description = "Success"), (status = 404, description = "Unknown, or not managed by this organization"), (status = 422, description = "Invalid input; nothing changed"), (status = 403, description = "Missing scope")),
    security(("bearer" = ["orgs:admin"]), ("session" = [])))]
async fn update_managed_account(
    State(state): State<HttpState>,
    admin: OrgAdmin,
    Path((_, username)): Path<(String, String)>,
    ApiJson(body): ApiJson<UpdateManaged>,
) -> Result<Json<Value>, ApiError> {
    admin.require_admin_scope()?;
    let account = state
        .app
        .orgs()
        .update_managed(&admin.0, &username, body.display_name.as_deref(), body.status.as_deref())
        .await?;
    Ok(Json(managed(&account)))
}

#[utoipa::path(post, path = "/orgs/{org}/managed-accounts/{username}/end-sessions", tag = "orgs", summary = "Sign a managed account out everywhere",
    params(("org" = String, Path, description = "Organization slug"), ("username" = String, Path, description = "Account username")),
    responses((status = 204, description = "Done"), (status = 404, description = "Unknown, or not managed by this organization"), (status = 403, description = "Missing scope")),
    security(("bearer" = ["orgs:admin"]), ("session" = [])))]
async fn end_managed_sessions(
    State(state): State<HttpState>,
    admin: OrgAdmin,
    Path((_, username)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    admin.require_admin_scope()?;
    state.app.orgs().end_managed_sessions(&admin.0, &username).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/orgs/{org}/linked-workspaces", tag = "orgs", summary = "The workspaces linked to the organization",
    params(("org" = String, Path, description = "Organization slug")),
    responses((status = 200, description = "Success"), (status = 404, description = "Unknown, or not an administrator")),
    security(("bearer" = ["orgs:read"]), ("session" = [])))]
async fn list_linked_workspaces(
    State(state): State<HttpState>,
    OrgAdmin(a, _): OrgAdmin,
) -> Result<Json<Value>, ApiError> {
    let list = state.app.orgs().linked_workspaces(&a).await?;
    Ok(Json(json!({ "workspaces": list.iter().map(json::workspace).collect::<Vec<_>>() })))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct LinkWorkspace {
    workspace: String,
}

#[utoipa::path(post, path = "/orgs/{org}/linked-workspaces", tag = "orgs",
    summary = "Link a workspace to the organization, permanently (you must administer both; paid plan only)",
    params(("org" = String, Path, description = "Organization slug")), request_body = LinkWorkspace,
    responses((status = 201, description = "Linked"), (status = 403, description = "Not an administrator of the workspace, or missing scope"), (status = 404, description = "Unknown organization or workspace"), (status = 409, description = "Already linked, or not on the paid plan")),
    security(("bearer" = ["orgs:admin"]), ("session" = [])))]
async fn link_workspace(
    State(state): State<HttpState>,
    admin: OrgAdmin,
    ApiJson(body): ApiJson<LinkWorkspace>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    admin.require_admin_scope()?;
    let ws = state.app.orgs().link_workspace(&admin.0, &body.workspace).await?;
    Ok((StatusCode::CREATED, Json(json::workspace(&ws))))
}

#[derive(Deserialize, utoipa::IntoParams)]
struct MembersQuery {
    /// Only members of this linked workspace.
    workspace: Option<String>,
    /// Only managed (true) or only unmanaged (false) accounts.
    managed: Option<bool>,
    /// Case-insensitive search in username, display name and email.
    q: Option<String>,
}

#[utoipa::path(get, path = "/orgs/{org}/members", tag = "orgs",
    summary = "Central user management: every member of the linked workspaces and every managed account",
    params(("org" = String, Path, description = "Organization slug"), MembersQuery),
    responses((status = 200, description = "Success"), (status = 404, description = "Unknown, or not an administrator")),
    security(("bearer" = ["orgs:read"]), ("session" = [])))]
async fn org_members(
    State(state): State<HttpState>,
    OrgAdmin(a, _): OrgAdmin,
    Query(q): Query<MembersQuery>,
) -> Result<Json<Value>, ApiError> {
    let filter = MemberFilter { workspace: q.workspace.as_deref(), managed: q.managed, search: q.q.as_deref() };
    let members = state.app.orgs().members(&a, &filter).await?;
    let list: Vec<Value> = members
        .iter()
        .map(|m| {
            let mut v = managed(&m.account);
            if !m.managed {
                // A personal account's email stays private, as in workspaces.
                v["email"] = Value::Null;
            }
            v["managed"] = json!(m.managed);
            v["workspaces"] = json!(m.workspaces);
            v
        })
        .collect();
    Ok(Json(json!({ "members": list })))
}

#[derive(Deserialize, utoipa::IntoParams)]
struct AuditQuery {
    before: Option<i64>,
    limit: Option<u32>,
}

#[utoipa::path(get, path = "/orgs/{org}/audit", tag = "orgs", summary = "The organization's audit log, newest first",
    params(("org" = String, Path, description = "Organization slug"), AuditQuery),
    responses((status = 200, description = "Success"), (status = 404, description = "Unknown, or not an administrator")),
    security(("bearer" = ["orgs:read"]), ("session" = [])))]
async fn org_audit(
    State(state): State<HttpState>,
    OrgAdmin(a, _): OrgAdmin,
    Query(q): Query<AuditQuery>,
) -> Result<Json<Value>, ApiError> {
    let limit = q.limit.unwrap_or(100);
    let entries = state.app.orgs().audit_log(&a, q.before, limit).await?;
    let next = (entries.len() == limit.clamp(1, 500) as usize).then(|| entries.last().map(|(id, _)| *id)).flatten();
    Ok(Json(json!({ "entries": entries.iter().map(|(id, e)| json::audit(*id, e)).collect::<Vec<_>>(), "next": next })))
}
