//! The OpenID Connect provider over HTTP: discovery, JWKS, authorization,
//! token and userinfo endpoints. Mounted outside the same-origin guard:
//! these requests are authenticated by client credentials, codes and bearer
//! tokens, never by cookies alone (the authorization endpoint is a GET).

use crate::HttpState;
use crate::session::MaybeSignedIn;
use axum::extract::rejection::FormRejection;
use axum::extract::{Query, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Json, Router};
use base64::Engine;
use guildhall_app::AppError;
use guildhall_app::oauth::{Authorize, AuthorizeRequest, OAuthFailure};
use guildhall_core::Timestamp;
use guildhall_core::oauth::{CodeChallenge, Scopes};
use serde::Deserialize;
use serde_json::json;

pub fn router() -> Router<HttpState> {
    Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/oauth2/jwks", get(jwks))
        .route("/oauth2/authorize", get(authorize))
        .route("/oauth2/token", axum::routing::post(token))
        .route("/oauth2/userinfo", get(userinfo).post(userinfo))
        .route("/oauth2/introspect", axum::routing::post(introspect))
        .route("/oauth2/revoke", axum::routing::post(revoke))
        .route("/oauth2/end-session", get(end_session))
}

/// An RFC 6749 §5.2 error body (or a 500 for our own failures).
pub struct OAuthError(OAuthFailure);

impl From<OAuthFailure> for OAuthError {
    fn from(f: OAuthFailure) -> Self {
        Self(f)
    }
}

impl From<AppError> for OAuthError {
    fn from(e: AppError) -> Self {
        Self(OAuthFailure::App(e))
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        match self.0 {
            OAuthFailure::Protocol { error, description } => {
                let status = match error {
                    "invalid_client" | "invalid_token" => StatusCode::UNAUTHORIZED,
                    "insufficient_scope" => StatusCode::FORBIDDEN,
                    _ => StatusCode::BAD_REQUEST,
                };
                let mut res =
                    (status, Json(json!({ "error": error, "error_description": description }))).into_response();
                let challenge = match error {
                    "invalid_client" => Some("Basic realm=\"guildhall\"".to_owned()),
                    "invalid_token" | "insufficient_scope" => Some(format!("Bearer error=\"{error}\"")),
                    _ => None,
                };
                if let Some(v) = challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
                    res.headers_mut().insert(header::WWW_AUTHENTICATE, v);
                }
                res
            }
            OAuthFailure::App(e) => {
                tracing::error!(error = ?e, "oauth endpoint failed");
                (StatusCode::INTERNAL_SERVER_ERROR, Json(json!({ "error": "server_error" }))).into_response()
            }
        }
    }
}

async fn discovery(State(state): State<HttpState>) -> Json<serde_json::Value> {
    let iss = state.app.oauth().issuer().to_owned();
    Json(json!({
        "issuer": iss,
        "authorization_endpoint": format!("{iss}/oauth2/authorize"),
        "token_endpoint": format!("{iss}/oauth2/token"),
        "userinfo_endpoint": format!("{iss}/oauth2/userinfo"),
        "introspection_endpoint": format!("{iss}/oauth2/introspect"),
        "revocation_endpoint": format!("{iss}/oauth2/revoke"),
        "end_session_endpoint": format!("{iss}/oauth2/end-session"),
        "jwks_uri": format!("{iss}/oauth2/jwks"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["EdDSA"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": guildhall_core::oauth::OidcScope::ALL.map(|s| s.as_str()),
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "azp", "amr", "acr", "name",
            "preferred_username", "email", "email_verified", "groups"],
        "acr_values_supported": [
            guildhall_app::oauth::ACR_ONE_FACTOR,
            guildhall_app::oauth::ACR_MFA,
        ],
        "prompt_values_supported": ["none", "login", "consent"],
        "authorization_response_iss_parameter_supported": true,
    }))
}

async fn jwks(State(state): State<HttpState>) -> Result<Response, OAuthError> {
    let keys = state.app.oauth().jwks().await?;
    let mut res = Json(keys).into_response();
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    Ok(res)
}

#[derive(Deserialize)]
struct AuthorizeParams {
    response_type: Option<String>,
    client_id: Option<String>,
    redirect_uri: Option<String>,
    scope: Option<String>,
    state: Option<String>,
    nonce: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    prompt: Option<String>,
    max_age: Option<u64>,
    /// Pre-fills the sign-in form's email.
    login_hint: Option<String>,
    /// Set by us when we send the person to sign in for `prompt=login`.
    login_after: Option<i64>,
}

/// An error shown here, never redirected: the client or redirect URI is
/// not one we can trust (RFC 6749 §4.1.2.1).
fn error_page(message: &str) -> Response {
    (StatusCode::BAD_REQUEST, format!("This sign-in request is invalid: {message}")).into_response()
}

fn redirect_with(uri: &str, params: &[(&str, &str)]) -> Response {
    let Ok(mut url) = url::Url::parse(uri) else { return error_page("redirect_uri") };
    url.query_pairs_mut().extend_pairs(params);
    Redirect::to(url.as_str()).into_response()
}

/// The product and redirect URI of an authorization request, if both are
/// registered; otherwise the error page to show (never a redirect).
async fn registered(
    state: &HttpState,
    p: &AuthorizeParams,
) -> Result<Result<(guildhall_app::ports::Product, String), Response>, AppError> {
    let Some(product) = state.app.oauth().product(p.client_id.as_deref().unwrap_or_default()).await? else {
        return Ok(Err(error_page("unknown client_id")));
    };
    match p.redirect_uri.clone().filter(|r| product.redirect_uris.contains(r)) {
        Some(uri) => Ok(Ok((product, uri))),
        None => Ok(Err(error_page("redirect_uri is not registered for this product"))),
    }
}

async fn authorize(
    State(state): State<HttpState>,
    jar: axum_extra::extract::cookie::CookieJar,
    MaybeSignedIn(signed_in): MaybeSignedIn,
    RawQuery(raw): RawQuery,
    Query(p): Query<AuthorizeParams>,
) -> Result<Response, OAuthError> {
    let oauth = state.app.oauth();
    let (product, redirect_uri) = match registered(&state, &p).await? {
        Ok(found) => found,
        Err(page) => return Ok(page),
    };
    let iss = oauth.issuer().to_owned();
    let fail = |error: &str, description: &str| {
        let mut params = vec![("error", error), ("error_description", description), ("iss", iss.as_str())];
        if let Some(s) = p.state.as_deref() {
            params.push(("state", s));
        }
        redirect_with(&redirect_uri, &params)
    };
    if p.response_type.as_deref() != Some("code") {
        return Ok(fail("unsupported_response_type", "Only response_type=code is supported."));
    }
    let scopes = match Scopes::parse(p.scope.as_deref().unwrap_or_default()) {
        Ok(s) => s,
        Err(e) => return Ok(fail("invalid_scope", &e)),
    };
    let challenge = match p.code_challenge.as_deref() {
        Some(c) => match CodeChallenge::parse(c, p.code_challenge_method.as_deref()) {
            Ok(c) => Some(c),
            Err(e) => return Ok(fail("invalid_request", e)),
        },
        None => None,
    };
    if p.prompt.as_deref().is_some_and(|x| !matches!(x, "none" | "login" | "consent")) {
        return Ok(fail("invalid_request", "prompt must be none, login or consent."));
    }
    let req = AuthorizeRequest {
        product,
        redirect_uri: redirect_uri.clone(),
        scopes,
        state: p.state.clone(),
        nonce: p.nonce.clone(),
        challenge,
        prompt: p.prompt.clone(),
        max_age: p.max_age,
    };
    if let Some(s) = &signed_in {
        // A one-time password, or a missing second factor the person's
        // organization requires, signs nobody into a product.
        if s.account.must_change_password {
            return Ok(crate::error::PageError::MustChangePassword.into_response());
        }
        if state.app.mfa().enrolment_required(&s.account).await? {
            return Ok(crate::error::PageError::MfaEnrolmentRequired.into_response());
        }
    }
    let session = signed_in.as_ref().map(|s| (&s.session, &s.account));
    match oauth.authorize(&req, session, p.login_after.map(Timestamp::from_millis)).await {
        Ok(Authorize::Code(code)) => {
            let mut params = vec![("code", code.expose()), ("iss", iss.as_str())];
            if let Some(s) = p.state.as_deref() {
                params.push(("state", s));
            }
            Ok(redirect_with(&redirect_uri, &params))
        }
        Ok(Authorize::Consent) => {
            let Some(who) = signed_in else { return Err(AppError::Unauthenticated.into()) };
            let (jar, csrf) = crate::csrf::token(&state, jar);
            let page = ConsentPage {
                csrf,
                product: req.product.name.clone(),
                username: who.account.username.to_string(),
                scopes: req.scopes.iter().map(scope_text).collect(),
                request: raw.unwrap_or_default(),
            };
            Ok((jar, crate::pages::render(&page)).into_response())
        }
        Ok(Authorize::SignIn) => {
            // Back here after signing in; for prompt=login, only a sign-in
            // after this moment counts.
            let mut back = format!("/oauth2/authorize?{}", raw.unwrap_or_default());
            if (p.prompt.as_deref() == Some("login") || p.max_age.is_some()) && p.login_after.is_none() {
                back.push_str(&format!("&login_after={}", state.app.oauth().now().as_millis()));
            }
            let mut target = url::form_urlencoded::Serializer::new(String::new());
            target.append_pair("return_to", &back);
            if let Some(hint) = p.login_hint.as_deref() {
                target.append_pair("email", hint);
            }
            let target = target.finish();
            Ok(Redirect::to(&format!("/login?{target}")).into_response())
        }
        Err(OAuthFailure::Protocol { error, description }) => Ok(fail(error, &description)),
        Err(e) => Err(e.into()),
    }
}

#[derive(askama::Template)]
#[template(path = "consent.html")]
struct ConsentPage {
    csrf: String,
    product: String,
    username: String,
    scopes: Vec<&'static str>,
    /// The authorization request's query, sent back with the decision.
    request: String,
}

/// What a scope lets a product do, in the consent screen's words.
fn scope_text(s: guildhall_core::oauth::OidcScope) -> &'static str {
    use guildhall_core::oauth::OidcScope as S;
    match s {
        S::OpenId => "know who you are (your account id)",
        S::Profile => "see your name and username",
        S::Email => "see your email address",
        S::OfflineAccess => "keep access while you are away",
        S::WorkspacesRead => "read your workspaces, groups, repositories and permissions",
        S::Groups => "see which groups you belong to",
    }
}

/// The consent decision (`/oauth2/consent`, a CSRF-checked form): allow
/// remembers the scopes and resumes the authorization request; deny sends
/// `access_denied` back to the product.
pub(crate) fn consent_router() -> Router<HttpState> {
    Router::new().route("/oauth2/consent", axum::routing::post(decide_consent))
}

#[derive(Deserialize)]
struct ConsentForm {
    request: String,
    decision: String,
}

async fn decide_consent(
    State(state): State<HttpState>,
    who: crate::session::SignedIn,
    crate::csrf::CsrfForm(form): crate::csrf::CsrfForm<ConsentForm>,
) -> Result<Response, OAuthError> {
    let uri: axum::http::Uri = format!("/?{}", form.request).parse().map_err(|_| AppError::NotFound)?;
    let Ok(Query(p)) = Query::<AuthorizeParams>::try_from_uri(&uri) else { return Ok(error_page("malformed request")) };
    let (product, redirect_uri) = match registered(&state, &p).await? {
        Ok(found) => found,
        Err(page) => return Ok(page),
    };
    let iss = state.app.oauth().issuer().to_owned();
    if form.decision != "allow" {
        let mut params =
            vec![("error", "access_denied"), ("error_description", "The person said no."), ("iss", iss.as_str())];
        if let Some(s) = p.state.as_deref() {
            params.push(("state", s));
        }
        return Ok(redirect_with(&redirect_uri, &params));
    }
    let Ok(scopes) = Scopes::parse(p.scope.as_deref().unwrap_or_default()) else {
        return Ok(error_page("invalid scope"));
    };
    if !scopes.within(&Scopes::parse(&product.scopes).unwrap_or_default()) {
        return Ok(error_page("this product may not ask for these scopes"));
    }
    let req = AuthorizeRequest {
        product,
        redirect_uri,
        scopes,
        state: None,
        nonce: None,
        challenge: None,
        prompt: None,
        max_age: None,
    };
    state.app.oauth().grant_consent(&who.account, &req).await?;
    // Back to the authorization request, which now finds the consent (and
    // must not ask again for a prompt=consent it has just honoured).
    let back: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(
            url::form_urlencoded::parse(form.request.as_bytes()).filter(|(k, v)| !(k == "prompt" && v == "consent")),
        )
        .finish();
    Ok(Redirect::to(&format!("/oauth2/authorize?{back}")).into_response())
}

#[derive(Deserialize)]
struct TokenForm {
    grant_type: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
    scope: Option<String>,
    /// The token to introspect or revoke.
    token: Option<String>,
    refresh_token: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

/// The form body, or `invalid_request` (RFC 6749 §5.2) when it is not one.
fn token_form(form: Result<Form<TokenForm>, FormRejection>) -> Result<TokenForm, OAuthError> {
    form.map(|Form(f)| f)
        .map_err(|_| OAuthFailure::new("invalid_request", "The body must be application/x-www-form-urlencoded.").into())
}

/// `client_secret_basic` (RFC 6749 §2.3.1: form-urlencoded id and secret)
/// or `client_secret_post`; not both.
fn client_credentials(headers: &HeaderMap, form: &TokenForm) -> Result<(String, Option<String>), OAuthFailure> {
    let invalid = || OAuthFailure::new("invalid_client", "Client authentication failed.");
    let basic = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| {
        let (scheme, rest) = v.split_once(' ')?;
        scheme.eq_ignore_ascii_case("basic").then(|| rest.trim().to_owned())
    });
    match basic {
        Some(b64) => {
            if form.client_secret.is_some() {
                return Err(OAuthFailure::new("invalid_request", "Use one client authentication method."));
            }
            let decoded = base64::engine::general_purpose::STANDARD.decode(b64).map_err(|_| invalid())?;
            let text = String::from_utf8(decoded).map_err(|_| invalid())?;
            let (id, secret) = text.split_once(':').ok_or_else(invalid)?;
            let decode =
                |s: &str| url::form_urlencoded::parse(format!("x={s}").as_bytes()).next().map(|(_, v)| v.into_owned());
            Ok((decode(id).ok_or_else(invalid)?, Some(decode(secret).ok_or_else(invalid)?)))
        }
        None => Ok((form.client_id.clone().ok_or_else(invalid)?, form.client_secret.clone())),
    }
}

async fn token(
    State(state): State<HttpState>,
    headers: HeaderMap,
    form: Result<Form<TokenForm>, FormRejection>,
) -> Result<Response, OAuthError> {
    let form = token_form(form)?;
    let oauth = state.app.oauth();
    let (client_id, secret) = client_credentials(&headers, &form)?;
    let product = oauth.authenticate_client(&client_id, secret.as_deref()).await?;
    let response = match form.grant_type.as_deref() {
        Some("authorization_code") => {
            let code = form.code.as_deref().ok_or_else(|| OAuthFailure::new("invalid_request", "code is missing."))?;
            oauth.exchange_code(&product, code, form.redirect_uri.as_deref(), form.code_verifier.as_deref()).await?
        }
        Some("client_credentials") => oauth.client_credentials(&product, form.scope.as_deref()).await?,
        Some("refresh_token") => {
            let token = form
                .refresh_token
                .as_deref()
                .ok_or_else(|| OAuthFailure::new("invalid_request", "refresh_token is missing."))?;
            oauth.refresh(&product, token, form.scope.as_deref()).await?
        }
        Some(_) => return Err(OAuthFailure::new("unsupported_grant_type", "Unsupported grant_type.").into()),
        None => return Err(OAuthFailure::new("invalid_request", "grant_type is missing.").into()),
    };
    let mut res = Json(response).into_response();
    res.headers_mut().insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    Ok(res)
}

async fn userinfo(State(state): State<HttpState>, headers: HeaderMap) -> Result<Json<serde_json::Value>, OAuthError> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim().to_owned())
        .ok_or_else(|| OAuthFailure::new("invalid_token", "A bearer access token is required."))?;
    Ok(Json(state.app.oauth().userinfo(&bearer).await?))
}

/// Introspection (RFC 7662), for authenticated confidential products.
async fn introspect(
    State(state): State<HttpState>,
    headers: HeaderMap,
    form: Result<Form<TokenForm>, FormRejection>,
) -> Result<Json<serde_json::Value>, OAuthError> {
    let form = token_form(form)?;
    let oauth = state.app.oauth();
    let (client_id, secret) = client_credentials(&headers, &form)?;
    let product = oauth.authenticate_client(&client_id, secret.as_deref()).await?;
    if product.secret_hash.is_none() {
        return Err(OAuthFailure::new("invalid_client", "Introspection needs a confidential client.").into());
    }
    let token = form.token.as_deref().ok_or_else(|| OAuthFailure::new("invalid_request", "token is missing."))?;
    Ok(Json(oauth.introspect(&product, token).await?))
}

/// Revocation (RFC 7009): 200 whether or not the token was known.
async fn revoke(
    State(state): State<HttpState>,
    headers: HeaderMap,
    form: Result<Form<TokenForm>, FormRejection>,
) -> Result<StatusCode, OAuthError> {
    let form = token_form(form)?;
    let oauth = state.app.oauth();
    let (client_id, secret) = client_credentials(&headers, &form)?;
    let product = oauth.authenticate_client(&client_id, secret.as_deref()).await?;
    let token = form.token.as_deref().ok_or_else(|| OAuthFailure::new("invalid_request", "token is missing."))?;
    oauth.revoke(&product, token).await?;
    Ok(StatusCode::OK)
}

/// Where the browser goes after signing out: the product's registered
/// `post_logout_redirect_uri` (with its `state`), else the sign-in page.
pub(crate) fn after_logout(redirect: Option<&str>, state: Option<&str>) -> String {
    match redirect.and_then(|r| url::Url::parse(r).ok()) {
        Some(mut url) => {
            if let Some(s) = state {
                url.query_pairs_mut().append_pair("state", s);
            }
            url.into()
        }
        None => "/login?notice=signed-out".to_owned(),
    }
}

#[derive(Deserialize)]
struct EndSessionParams {
    id_token_hint: Option<String>,
    post_logout_redirect_uri: Option<String>,
    state: Option<String>,
    client_id: Option<String>,
}

/// RP-initiated logout. With an `id_token_hint` naming the signed-in person
/// (or nobody signed in) the session ends at once; otherwise the person
/// confirms on a page (a GET alone must not sign anyone out).
async fn end_session(
    State(state): State<HttpState>,
    jar: axum_extra::extract::cookie::CookieJar,
    MaybeSignedIn(who): MaybeSignedIn,
    Query(p): Query<EndSessionParams>,
) -> Result<Response, OAuthError> {
    let checked = match state
        .app
        .oauth()
        .end_session(p.client_id.as_deref(), p.id_token_hint.as_deref(), p.post_logout_redirect_uri.as_deref())
        .await
    {
        Ok(c) => c,
        Err(OAuthFailure::Protocol { description, .. }) => return Ok(error_page(&description)),
        Err(e) => return Err(e.into()),
    };
    let target = after_logout(checked.redirect.as_deref(), p.state.as_deref());
    let confirmed = who.as_ref().is_none_or(|w| checked.hint_account == Some(w.account.id));
    if confirmed {
        return Ok(crate::pages::login::end_session(&state, jar, who, &target).await?);
    }
    let Some(who) = who else { return Ok(Redirect::to(&target).into_response()) };
    let (jar, csrf) = crate::csrf::token(&state, jar);
    let page = crate::pages::login::LogoutPage {
        csrf,
        username: who.account.username.to_string(),
        client_id: p.client_id.clone().unwrap_or_default(),
        post_logout_redirect_uri: checked.redirect.unwrap_or_default(),
        state: p.state.unwrap_or_default(),
    };
    Ok((jar, crate::pages::render(&page)).into_response())
}
