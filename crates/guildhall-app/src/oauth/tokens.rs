//! Minting and checking JWTs: ID tokens (OIDC Core §2) and access tokens
//! (RFC 9068 shape, `typ: at+jwt`), signed with the newest key (EdDSA).

use super::{OAuthFailure, OAuthService};
use crate::ports::{Product, RefreshToken};
use guildhall_core::accounts::Account;
use guildhall_core::oauth::GrantType;
use guildhall_core::oauth::{OidcScope, Scopes};
use guildhall_core::{GrantId, Timestamp};
use jsonwebtoken::{Algorithm, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The token endpoint's success body (RFC 6749 §5.1).
#[derive(Clone, Debug, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: u64,
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

/// The person side of an issuance: whose tokens, from which grant.
pub(crate) struct PersonGrant<'a> {
    pub account: &'a Account,
    pub grant: GrantId,
    pub auth_time: Timestamp,
    pub amr: &'a [String],
    pub nonce: Option<&'a str>,
}

/// The authentication context class of a sign-in: two factors or one.
pub(crate) fn acr(amr: &[String]) -> &'static str {
    if amr.iter().any(|m| m == "mfa") { ACR_MFA } else { ACR_ONE_FACTOR }
}

pub const ACR_MFA: &str = "urn:guildhall:acr:mfa";
pub const ACR_ONE_FACTOR: &str = "urn:guildhall:acr:1fa";

/// The claims of our access tokens.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub client_id: String,
    pub scope: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    /// The grant the token came from: an authorization (code) or one
    /// `client_credentials` issuance. Revoking it revokes the token.
    pub gid: String,
}

/// The resource our access tokens are for: this server's REST API.
pub(crate) fn api_audience(issuer: &str) -> String {
    format!("{issuer}/api/v1")
}

/// Adds the claims the scopes allow to `base` (OIDC Core §5.4), and with
/// `groups` the person's groups as `workspace/group` strings.
pub(crate) async fn person_claims(
    svc: &OAuthService<'_>,
    account: &Account,
    scopes: &Scopes,
    mut base: Value,
) -> Result<Value, crate::AppError> {
    if scopes.contains(OidcScope::Profile) {
        base["name"] = json!(account.display_name.as_str());
        base["preferred_username"] = json!(account.username.as_str());
    }
    if scopes.contains(OidcScope::Email) {
        base["email"] = json!(account.email.as_str());
        base["email_verified"] = json!(account.email_verified);
    }
    if scopes.contains(OidcScope::Groups) {
        base["groups"] = json!(group_names(svc, account).await?);
    }
    Ok(base)
}

/// Every group the account is in, as sorted `workspace/group` strings.
async fn group_names(svc: &OAuthService<'_>, account: &Account) -> Result<Vec<String>, crate::AppError> {
    let store = svc.app.store();
    let mut names = Vec::new();
    for ws in store.workspaces_of(account.id).await? {
        let mine = store.account_groups(ws.id, account.id).await?;
        for g in store.groups(ws.id).await?.into_iter().filter(|g| mine.contains(&g.id)) {
            names.push(format!("{}/{}", ws.slug, g.slug));
        }
    }
    names.sort();
    Ok(names)
}

pub(crate) async fn issue(
    svc: &OAuthService<'_>,
    product: &Product,
    person: Option<PersonGrant<'_>>,
    scopes: &Scopes,
) -> Result<TokenResponse, OAuthFailure> {
    let keys = svc.keys().await?;
    let key = super::keys::signing_key(&keys, svc.app.now())
        .ok_or_else(|| OAuthFailure::App(crate::AppError::internal_message("no signing key")))?;
    let now = svc.app.now().as_millis() / 1000;
    let ttl = svc.app.settings().access_token_ttl.as_secs();
    let exp = now + i64::try_from(ttl).unwrap_or(600);
    let issuer = svc.issuer().to_owned();
    let client_id = product.id.to_string();
    let sign = |typ: &str, claims: &Value| {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(key.kid.clone());
        header.typ = Some(typ.to_owned());
        jsonwebtoken::encode(&header, claims, &key.encoding)
            .map_err(|e| OAuthFailure::App(crate::AppError::internal_message(format!("signing: {e}"))))
    };
    let access = AccessClaims {
        iss: issuer.clone(),
        sub: person.as_ref().map_or_else(|| client_id.clone(), |p| p.account.id.to_string()),
        aud: api_audience(&issuer),
        client_id: client_id.clone(),
        scope: scopes.to_string(),
        iat: now,
        exp,
        jti: svc.app.new_uuid().to_string(),
        gid: person.as_ref().map_or_else(|| svc.app.new_uuid().to_string(), |p| p.grant.to_string()),
    };
    let access_token = sign("at+jwt", &serde_json::to_value(&access).unwrap_or_default())?;
    let id_token = match &person {
        Some(p) if scopes.contains(OidcScope::OpenId) => {
            let mut claims = json!({
                "iss": issuer,
                "sub": p.account.id.to_string(),
                "aud": client_id,
                "azp": client_id,
                "iat": now,
                "exp": exp,
                "auth_time": p.auth_time.as_millis() / 1000,
                "acr": acr(p.amr),
            });
            if !p.amr.is_empty() {
                claims["amr"] = json!(p.amr);
            }
            if let Some(nonce) = p.nonce {
                claims["nonce"] = json!(nonce);
            }
            Some(sign("JWT", &person_claims(svc, p.account, scopes, claims).await?)?)
        }
        _ => None,
    };
    // offline_access: the next refresh token of the same grant.
    let offline = scopes.contains(OidcScope::OfflineAccess)
        && product.grant_types.iter().any(|g| g == GrantType::RefreshToken.as_str());
    let refresh_token = match &person {
        Some(p) if offline => {
            let secret = svc.app.new_token();
            let record = RefreshToken {
                hash: secret.hash(),
                grant: p.grant,
                product: product.id,
                account: p.account.id,
                scopes: scopes.to_string(),
                auth_time: p.auth_time,
                amr: p.amr.to_vec(),
                expires_at: svc.app.now().plus(svc.app.settings().refresh_token_ttl),
            };
            svc.app.store().create_refresh_token(&record).await?;
            Some(secret.expose().to_owned())
        }
        _ => None,
    };
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: ttl,
        scope: scopes.to_string(),
        id_token,
        refresh_token,
    })
}

/// Verifies one of our access tokens: signature (any live key), `typ`,
/// issuer, audience and expiry.
/// Why a token did not verify.
#[derive(Debug, PartialEq, Eq)]
pub enum Unverified {
    /// Signed with a key this node has not loaded (perhaps made by another
    /// node a moment ago).
    UnknownKey,
    Invalid,
}

pub(crate) fn verify_access(svc: &OAuthService<'_>, token: &str) -> Result<AccessClaims, Unverified> {
    let keys = svc.app.keys.snapshot();
    let key_for = |kid: &str| keys.iter().find(|k| k.kid == kid).map(|k| &k.decoding);
    verify_access_token(token, key_for, svc.issuer(), svc.app.now().as_millis() / 1000)
}

/// Checks an access token presented to the API, userinfo or introspection:
/// our `at+jwt` type, EdDSA by a key `key_for` knows, issuer, audience and
/// `exp` (against `now_secs`, the app's clock). Pure, and a fuzz target.
pub fn verify_access_token<'k>(
    token: &str,
    key_for: impl Fn(&str) -> Option<&'k jsonwebtoken::DecodingKey>,
    issuer: &str,
    now_secs: i64,
) -> Result<AccessClaims, Unverified> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| Unverified::Invalid)?;
    if header.alg != Algorithm::EdDSA || header.typ.as_deref() != Some("at+jwt") {
        return Err(Unverified::Invalid);
    }
    let key = header.kid.as_deref().and_then(key_for).ok_or(Unverified::UnknownKey)?;
    let mut v = Validation::new(Algorithm::EdDSA);
    v.set_issuer(&[issuer]);
    v.set_audience(&[api_audience(issuer)]);
    v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    v.leeway = 0;
    let data = jsonwebtoken::decode::<AccessClaims>(token, key, &v).map_err(|_| Unverified::Invalid)?;
    // `exp` is checked against the system clock by jsonwebtoken; check it
    // against ours too (tests move it).
    if data.claims.exp <= now_secs {
        return Err(Unverified::Invalid);
    }
    Ok(data.claims)
}

/// The subject and audience of an ID token we signed, expired or not (an
/// `id_token_hint` at end-session, OIDC RP-Initiated Logout §2).
pub(crate) fn verify_id_token_hint(svc: &OAuthService<'_>, token: &str) -> Option<(String, String)> {
    let header = jsonwebtoken::decode_header(token).ok()?;
    if header.alg != Algorithm::EdDSA {
        return None;
    }
    let keys = svc.app.keys.snapshot();
    let key = keys.iter().find(|k| Some(&k.kid) == header.kid.as_ref())?;
    let mut v = Validation::new(Algorithm::EdDSA);
    v.set_issuer(&[svc.issuer()]);
    v.validate_exp = false;
    v.validate_aud = false;
    v.set_required_spec_claims(&["iss", "sub", "aud"]);
    let claims = jsonwebtoken::decode::<Value>(token, &key.decoding, &v).ok()?.claims;
    Some((claims["sub"].as_str()?.to_owned(), claims["aud"].as_str()?.to_owned()))
}
