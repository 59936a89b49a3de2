//! `/scim/v2/workspaces/{ws}/…` (read) and `/scim/v2/orgs/{org}/…` (read
//! and write): the SCIM 2.0 service provider (RFC 7644, ADR 0011).
//!
//! Bearer tokens only (a directory token, or an admin's personal token with
//! the `scim` scope): no cookies, so no CSRF. Every error is a SCIM Error
//! body (`application/scim+json`), never problem+json.

use crate::HttpState;
use crate::api::directory::directory_access;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRef, FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use guildhall_app::AppError;
use guildhall_app::directory::DirectoryAccess;
use guildhall_app::scim::{Kind, ListQuery, ScimFailure, project};
use guildhall_core::scim::{PatchRequest, ScimError, ScimType, discovery, schema};
use serde::{Deserialize, Serialize};
use serde_json::Value;

const SCIM_JSON: &str = "application/scim+json";

pub fn router() -> Router<HttpState> {
    let scoped = Router::new()
        .route("/ServiceProviderConfig", get(service_provider_config).fallback(method_not_allowed))
        .route("/Schemas", get(schemas).fallback(method_not_allowed))
        .route("/Schemas/{id}", get(schema_by_id).fallback(method_not_allowed))
        .route("/ResourceTypes", get(resource_types).fallback(method_not_allowed))
        .route("/ResourceTypes/{id}", get(resource_type_by_id).fallback(method_not_allowed))
        .route("/Users", get(list_users).post(create_user))
        .route("/Users/.search", axum::routing::post(search_users))
        .route("/Users/{id}", get(get_user).put(replace_user).patch(patch_user).delete(delete_user))
        .route("/Groups", get(list_groups).post(create_group))
        .route("/Groups/.search", axum::routing::post(search_groups))
        .route("/Groups/{id}", get(get_group).put(replace_group).patch(patch_group).delete(delete_group))
        .route("/.search", axum::routing::post(search_everything))
        .route("/{*rest}", any(not_found));
    Router::new()
        .nest("/scim/v2/workspaces/{ws}", scoped.clone())
        .nest("/scim/v2/orgs/{org}", scoped)
        .route("/scim/v2/{*rest}", any(not_found))
}

/// A SCIM error response.
pub struct ScimResponseError(StatusCode, Value);

impl ScimResponseError {
    fn new(status: u16, scim_type: Option<ScimType>, detail: &str) -> Self {
        Self(
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            discovery::error_body(status, scim_type, detail),
        )
    }
}

impl IntoResponse for ScimResponseError {
    fn into_response(self) -> Response {
        let mut res = (self.0, axum::Json(self.1)).into_response();
        res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON));
        if self.0 == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"scim\""));
        }
        res
    }
}

impl From<ScimError> for ScimResponseError {
    fn from(e: ScimError) -> Self {
        Self::new(e.status(), Some(e.scim_type), &e.detail)
    }
}

impl From<AppError> for ScimResponseError {
    fn from(e: AppError) -> Self {
        match e {
            AppError::NotFound => Self::new(404, None, "Not found."),
            AppError::Unauthenticated => Self::new(401, None, "A valid bearer token is required."),
            AppError::Forbidden(why) => Self::new(403, None, &why),
            AppError::Conflict(why) => Self::new(409, Some(ScimType::Uniqueness), &why),
            AppError::Invalid(errors) => {
                let text: Vec<String> = errors.0.iter().map(|(f, m)| format!("{f}: {m}")).collect();
                Self::new(400, Some(ScimType::InvalidValue), &text.join(" "))
            }
            AppError::Throttled { .. } => Self::new(429, None, "Too many requests."),
            other => {
                let api = crate::error::ApiError::from(other);
                Self::new(api.0.status, None, api.0.detail.as_deref().unwrap_or("Internal error."))
            }
        }
    }
}

impl From<ScimFailure> for ScimResponseError {
    fn from(e: ScimFailure) -> Self {
        match e {
            ScimFailure::Scim(e) => e.into(),
            ScimFailure::App(e) => e.into(),
            ScimFailure::Precondition => {
                Self::new(412, None, "The resource changed: its version does not match If-Match.")
            }
            ScimFailure::ReadOnly => Self::new(
                405,
                None,
                "A workspace's SCIM endpoint is read-only; an organization's directory writes at /scim/v2/orgs/{org}/.",
            ),
        }
    }
}

type Result<T> = std::result::Result<T, ScimResponseError>;

/// The caller's right to the directory the path names. Bearer tokens only.
pub struct Scim(DirectoryAccess, String);

impl<S> FromRequestParts<S> for Scim
where
    HttpState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ScimResponseError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self> {
        if !parts.headers.contains_key(header::AUTHORIZATION) {
            return Err(AppError::Unauthenticated.into());
        }
        let d = directory_access(parts, state).await?;
        let http = HttpState::from_ref(state);
        let root = http.config.public_url.as_str().trim_end_matches('/');
        let base = match (&d.workspace, &d.org) {
            (Some(w), _) => format!("{root}/scim/v2/workspaces/{}", w.slug),
            (None, Some(o)) => format!("{root}/scim/v2/orgs/{}", o.slug),
            (None, None) => return Err(AppError::NotFound.into()),
        };
        Ok(Self(d, base))
    }
}

fn scim_json(status: StatusCode, body: impl Serialize) -> Response {
    let mut res = (status, axum::Json(body)).into_response();
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON));
    res
}

async fn not_found() -> ScimResponseError {
    ScimResponseError::new(404, None, "No such SCIM endpoint.")
}

/// A search across resource types (RFC 7644 §3.4.3).
async fn search_everything(State(s): State<HttpState>, Scim(d, base): Scim, body: Bytes) -> Result<Response> {
    let q = search_params(&body)?.query()?;
    let page = s.app.scim().search_all(&d, &q, &base).await?;
    Ok(listed(page))
}

async fn method_not_allowed() -> ScimResponseError {
    ScimResponseError::new(405, None, "This endpoint is read-only.")
}

async fn service_provider_config(Scim(_, base): Scim) -> Response {
    scim_json(StatusCode::OK, discovery::service_provider_config(&base))
}

async fn schemas(Scim(_, base): Scim) -> Response {
    scim_json(StatusCode::OK, discovery::schemas(&base))
}

async fn schema_by_id(Scim(_, base): Scim, Path(params): Path<Vec<(String, String)>>) -> Result<Response> {
    let id = last(&params);
    let found = schema::RESOURCE_SCHEMAS.iter().find(|s| s.id.eq_ignore_ascii_case(id)).ok_or(AppError::NotFound)?;
    Ok(scim_json(StatusCode::OK, discovery::schema_document(found, &base)))
}

async fn resource_types(Scim(_, base): Scim) -> Response {
    scim_json(StatusCode::OK, discovery::resource_types(&base))
}

async fn resource_type_by_id(Scim(_, base): Scim, Path(params): Path<Vec<(String, String)>>) -> Result<Response> {
    let id = last(&params);
    let found = schema::RESOURCE_SCHEMAS.iter().find(|s| s.name.eq_ignore_ascii_case(id)).ok_or(AppError::NotFound)?;
    Ok(scim_json(StatusCode::OK, discovery::resource_type(found, &base)))
}

/// The last path parameter (the resource id after `{ws}` or `{org}`).
fn last(params: &[(String, String)]) -> &str {
    params.last().map_or("", |(_, v)| v.as_str())
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct ListParams {
    filter: Option<String>,
    sort_by: Option<String>,
    sort_order: Option<String>,
    start_index: Option<Value>,
    count: Option<Value>,
    attributes: Option<Value>,
    excluded_attributes: Option<Value>,
}

impl ListParams {
    /// The listing query.
    fn query(self) -> Result<ListQuery> {
        Ok(ListQuery {
            filter: self.filter,
            sort_by: self.sort_by,
            sort_order: self.sort_order,
            start_index: integer("startIndex", self.start_index.as_ref())?,
            count: integer("count", self.count.as_ref())?,
            attributes: attribute_list(self.attributes.as_ref()),
            excluded_attributes: attribute_list(self.excluded_attributes.as_ref()),
        })
    }
}

fn integer(name: &str, v: Option<&Value>) -> Result<Option<i64>> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(|| bad_param(name)),
        Some(Value::String(s)) => s.trim().parse().map(Some).map_err(|_| bad_param(name)),
        Some(_) => Err(bad_param(name)),
    }
}

fn bad_param(name: &str) -> ScimResponseError {
    ScimResponseError::new(400, Some(ScimType::InvalidValue), &format!("{name} is an integer."))
}

/// `attributes` as a query string (comma-separated) or a search body (array).
fn attribute_list(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Array(items) => Some(items.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(",")),
        _ => None,
    }
}

async fn list(state: &HttpState, d: &DirectoryAccess, base: &str, kind: Kind, p: ListParams) -> Result<Response> {
    let q = p.query()?;
    let page = state.app.scim().list(d, kind, &q, base).await?;
    Ok(listed(page))
}

fn listed(page: guildhall_app::scim::ListPage) -> Response {
    scim_json(StatusCode::OK, discovery::ListResponse::new(page.resources, page.total, page.start_index))
}

fn query(q: std::result::Result<Query<ListParams>, axum::extract::rejection::QueryRejection>) -> Result<ListParams> {
    q.map(|Query(p)| p).map_err(|e| ScimResponseError::new(400, Some(ScimType::InvalidValue), &e.body_text()))
}

fn body_json(body: &Bytes) -> Result<Value> {
    serde_json::from_slice(body)
        .map_err(|_| ScimResponseError::new(400, Some(ScimType::InvalidSyntax), "The body is not valid JSON."))
}

fn search_params(body: &Bytes) -> Result<ListParams> {
    let v = body_json(body)?;
    let str_of = |k: &str| v[k].as_str().map(str::to_owned);
    Ok(ListParams {
        filter: str_of("filter"),
        sort_by: str_of("sortBy"),
        sort_order: str_of("sortOrder"),
        start_index: v.get("startIndex").cloned(),
        count: v.get("count").cloned(),
        attributes: v.get("attributes").cloned(),
        excluded_attributes: v.get("excludedAttributes").cloned(),
    })
}

type QueryResult = std::result::Result<Query<ListParams>, axum::extract::rejection::QueryRejection>;

async fn list_users(State(s): State<HttpState>, Scim(d, base): Scim, q: QueryResult) -> Result<Response> {
    list(&s, &d, &base, Kind::Users, query(q)?).await
}

async fn list_groups(State(s): State<HttpState>, Scim(d, base): Scim, q: QueryResult) -> Result<Response> {
    list(&s, &d, &base, Kind::Groups, query(q)?).await
}

async fn search_users(State(s): State<HttpState>, Scim(d, base): Scim, body: Bytes) -> Result<Response> {
    list(&s, &d, &base, Kind::Users, search_params(&body)?).await
}

async fn search_groups(State(s): State<HttpState>, Scim(d, base): Scim, body: Bytes) -> Result<Response> {
    list(&s, &d, &base, Kind::Groups, search_params(&body)?).await
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Projection {
    attributes: Option<String>,
    excluded_attributes: Option<String>,
}

fn one(mut resource: Value, status: StatusCode, headers: &HeaderMap, p: &Projection) -> Response {
    // A client that holds this version gets 304 (RFC 7644 §3.14).
    let version = resource["meta"]["version"].as_str().unwrap_or_default().to_owned();
    if let Some(inm) = headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok())
        && status == StatusCode::OK
        && guildhall_app::scim::etag_matches(&resource, Some(inm))
    {
        let mut res = StatusCode::NOT_MODIFIED.into_response();
        if let Ok(v) = HeaderValue::from_str(&version) {
            res.headers_mut().insert(header::ETAG, v);
        }
        return res;
    }
    project(&mut resource, p.attributes.as_deref(), p.excluded_attributes.as_deref());
    let location = resource["meta"]["location"].as_str().and_then(|l| HeaderValue::from_str(l).ok());
    let mut res = scim_json(status, resource);
    if let Ok(v) = HeaderValue::from_str(&version) {
        res.headers_mut().insert(header::ETAG, v);
    }
    if status == StatusCode::CREATED
        && let Some(l) = location
    {
        res.headers_mut().insert(header::LOCATION, l);
    }
    res
}

fn if_match(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::IF_MATCH).and_then(|v| v.to_str().ok())
}

fn projection(
    q: std::result::Result<Query<Projection>, axum::extract::rejection::QueryRejection>,
) -> Result<Projection> {
    q.map(|Query(p)| p).map_err(|e| ScimResponseError::new(400, Some(ScimType::InvalidValue), &e.body_text()))
}

type ProjectionQuery = std::result::Result<Query<Projection>, axum::extract::rejection::QueryRejection>;
type Params = Path<Vec<(String, String)>>;

async fn get_user(
    State(s): State<HttpState>,
    Scim(d, base): Scim,
    Path(p): Params,
    h: HeaderMap,
    q: ProjectionQuery,
) -> Result<Response> {
    let r = s.app.scim().get(&d, Kind::Users, last(&p), &base).await?;
    Ok(one(r, StatusCode::OK, &h, &projection(q)?))
}

async fn get_group(
    State(s): State<HttpState>,
    Scim(d, base): Scim,
    Path(p): Params,
    h: HeaderMap,
    q: ProjectionQuery,
) -> Result<Response> {
    let r = s.app.scim().get(&d, Kind::Groups, last(&p), &base).await?;
    Ok(one(r, StatusCode::OK, &h, &projection(q)?))
}

async fn create_user(
    State(s): State<HttpState>,
    Scim(d, base): Scim,
    h: HeaderMap,
    q: ProjectionQuery,
    body: Bytes,
) -> Result<Response> {
    let r = s.app.scim().create_user(&d, &body_json(&body)?, &base).await?;
    Ok(one(r, StatusCode::CREATED, &h, &projection(q)?))
}

async fn create_group(
    State(s): State<HttpState>,
    Scim(d, base): Scim,
    h: HeaderMap,
    q: ProjectionQuery,
    body: Bytes,
) -> Result<Response> {
    let r = s.app.scim().create_group(&d, &body_json(&body)?, &base).await?;
    Ok(one(r, StatusCode::CREATED, &h, &projection(q)?))
}

async fn replace_user(
    State(s): State<HttpState>,
    Scim(d, base): Scim,
    Path(p): Params,
    h: HeaderMap,
    q: ProjectionQuery,
    body: Bytes,
) -> Result<Response> {
    let r = s.app.scim().replace_user(&d, last(&p), &body_json(&body)?, if_match(&h), &base).await?;
    Ok(one(r, StatusCode::OK, &HeaderMap::new(), &projection(q)?))
}

async fn replace_group(
    State(s): State<HttpState>,
    Scim(d, base): Scim,
    Path(p): Params,
    h: HeaderMap,
    q: ProjectionQuery,
    body: Bytes,
) -> Result<Response> {
    let r = s.app.scim().replace_group(&d, last(&p), &body_json(&body)?, if_match(&h), &base).await?;
    Ok(one(r, StatusCode::OK, &HeaderMap::new(), &projection(q)?))
}

async fn patch_user(
    State(s): State<HttpState>,
    Scim(d, base): Scim,
    Path(p): Params,
    h: HeaderMap,
    q: ProjectionQuery,
    body: Bytes,
) -> Result<Response> {
    let patch = PatchRequest::parse(&body)?;
    let r = s.app.scim().patch_user(&d, last(&p), &patch, if_match(&h), &base).await?;
    Ok(one(r, StatusCode::OK, &HeaderMap::new(), &projection(q)?))
}

async fn patch_group(
    State(s): State<HttpState>,
    Scim(d, base): Scim,
    Path(p): Params,
    h: HeaderMap,
    q: ProjectionQuery,
    body: Bytes,
) -> Result<Response> {
    let patch = PatchRequest::parse(&body)?;
    let r = s.app.scim().patch_group(&d, last(&p), &patch, if_match(&h), &base).await?;
    Ok(one(r, StatusCode::OK, &HeaderMap::new(), &projection(q)?))
}

async fn delete_user(
    State(s): State<HttpState>,
    Scim(d, base): Scim,
    Path(p): Params,
    h: HeaderMap,
) -> Result<StatusCode> {
    s.app.scim().delete_user(&d, last(&p), if_match(&h), &base).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn delete_group(
    State(s): State<HttpState>,
    Scim(d, base): Scim,
    Path(p): Params,
    h: HeaderMap,
) -> Result<StatusCode> {
    s.app.scim().delete_group(&d, last(&p), if_match(&h), &base).await?;
    Ok(StatusCode::NO_CONTENT)
}
