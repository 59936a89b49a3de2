//! The OpenID Connect parts of an upstream round trip: discovery (OIDC
//! Discovery §4) and ID token validation (OIDC Core §3.1.3.7).

use guildhall_core::Timestamp;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;
use serde_json::Value;
use subtle::ConstantTimeEq;

/// What a provider's discovery document says (the parts used here).
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct Discovery {
    pub issuer: String,
    pub authorization_endpoint: url::Url,
    pub token_endpoint: url::Url,
    pub jwks_uri: url::Url,
    #[serde(default)]
    pub userinfo_endpoint: Option<url::Url>,
    #[serde(default)]
    pub token_endpoint_auth_methods_supported: Option<Vec<String>>,
}

/// Issuers compare as strings (OIDC Discovery §4.3); the configured URL may
/// only differ by the trailing slash a URL parser adds to a bare host.
pub(crate) fn same_issuer(configured: &str, announced: &str) -> bool {
    configured.trim_end_matches('/') == announced.trim_end_matches('/')
}

/// Signature algorithms accepted on ID tokens: asymmetric only (no `none`,
/// no HMAC with the client secret).
const ALGORITHMS: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// Clock skew allowed on `exp` and `iat`.
const LEEWAY_SECS: i64 = 60;

/// Checks an ID token and returns its claims: signature by a key in `jwks`
/// under an asymmetric algorithm, `iss`, `aud` (and `azp`), `exp`, `iat`
/// and `nonce`.
pub fn validate_id_token(
    token: &str,
    jwks: &JwkSet,
    issuer: &str,
    client_id: &str,
    nonce: &str,
    now: Timestamp,
) -> Result<Value, &'static str> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| "The ID token is malformed.")?;
    if !ALGORITHMS.contains(&header.alg) {
        return Err("The ID token is not signed with an accepted algorithm.");
    }
    let jwk = match &header.kid {
        Some(kid) => jwks.find(kid),
        None if jwks.keys.len() == 1 => jwks.keys.first(),
        None => None,
    }
    .ok_or("The ID token is signed with an unknown key.")?;
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).map_err(|_| "The provider's signing key is unusable.")?;
    let mut validation = Validation::new(header.alg);
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[client_id]);
    validation.set_required_spec_claims(&["iss", "aud", "sub", "exp", "iat"]);
    // Times are checked below against the app's clock.
    validation.validate_exp = false;
    let claims = jsonwebtoken::decode::<Value>(token, &key, &validation)
        .map_err(|_| "The ID token's signature, issuer or audience is wrong.")?
        .claims;
    let secs = |name: &str| claims.get(name).and_then(Value::as_i64).ok_or("The ID token lacks a time claim.");
    let now_secs = now.as_millis() / 1000;
    if secs("exp")? + LEEWAY_SECS < now_secs {
        return Err("The ID token has expired.");
    }
    if secs("iat")? - LEEWAY_SECS > now_secs {
        return Err("The ID token was issued in the future.");
    }
    let multiple_audiences = claims.get("aud").and_then(Value::as_array).is_some_and(|a| a.len() > 1);
    match claims.get("azp").and_then(Value::as_str) {
        Some(azp) if azp != client_id => return Err("The ID token was issued to another party."),
        None if multiple_audiences => return Err("The ID token was issued to another party."),
        _ => {}
    }
    let token_nonce = claims.get("nonce").and_then(Value::as_str).unwrap_or_default();
    if !bool::from(token_nonce.as_bytes().ct_eq(nonce.as_bytes())) {
        return Err("The ID token's nonce does not match this sign-in.");
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{EncodingKey, Header};
    use serde_json::json;

    fn keypair() -> (EncodingKey, JwkSet) {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let pkcs8 = aws_lc_rs::signature::Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        let pair = aws_lc_rs::signature::Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        use base64::Engine;
        let x = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(aws_lc_rs::signature::KeyPair::public_key(&pair).as_ref());
        let jwks =
            serde_json::from_value(json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": x, "kid": "k1"}]})).unwrap();
        (EncodingKey::from_ed_der(pkcs8.as_ref()), jwks)
    }

    fn sign(key: &EncodingKey, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some("k1".into());
        jsonwebtoken::encode(&header, claims, key).unwrap()
    }

    #[test]
    fn only_a_fresh_token_for_this_client_issuer_and_nonce_passes() {
        let (key, jwks) = keypair();
        let now = Timestamp::from_millis(1_700_000_000_000);
        let t = now.as_millis() / 1000;
        let good = json!({"iss": "https://idp", "aud": "me", "sub": "u1", "exp": t + 300, "iat": t, "nonce": "n"});
        let check = |claims: &Value| validate_id_token(&sign(&key, claims), &jwks, "https://idp", "me", "n", now);
        assert_eq!(check(&good).unwrap()["sub"], "u1");
        let with = |k: &str, v: Value| {
            let mut c = good.clone();
            c[k] = v;
            c
        };
        assert!(check(&with("iss", json!("https://other"))).is_err());
        assert!(check(&with("aud", json!("someone-else"))).is_err());
        assert!(check(&with("exp", json!(t - 3600))).is_err());
        assert!(check(&with("iat", json!(t + 3600))).is_err());
        assert!(check(&with("nonce", json!("other"))).is_err());
        assert!(check(&with("azp", json!("someone-else"))).is_err());
        assert!(check(&with("aud", json!(["me", "other"]))).is_err());
        assert!(
            check(
                &with("aud", json!(["me", "other"]))
                    .as_object()
                    .map(|o| {
                        let mut o = o.clone();
                        o.insert("azp".into(), json!("me"));
                        Value::Object(o)
                    })
                    .unwrap()
            )
            .is_ok()
        );
        let mut no_nonce = good.clone();
        no_nonce.as_object_mut().unwrap().remove("nonce");
        assert!(check(&no_nonce).is_err());
        // Another key, an HMAC token and a tampered payload all fail.
        let (other_key, _) = keypair();
        assert!(validate_id_token(&sign(&other_key, &good), &jwks, "https://idp", "me", "n", now).is_err());
        let hs = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &good, &EncodingKey::from_secret(b"s")).unwrap();
        assert!(validate_id_token(&hs, &jwks, "https://idp", "me", "n", now).is_err());
        let token = sign(&key, &good);
        let mut parts: Vec<&str> = token.split('.').collect();
        let forged = sign(&other_key, &with("sub", json!("admin")));
        parts[1] = forged.split('.').nth(1).unwrap();
        assert!(validate_id_token(&parts.join("."), &jwks, "https://idp", "me", "n", now).is_err());
    }

    #[test]
    fn issuers_differ_only_by_a_trailing_slash() {
        assert!(same_issuer("https://gitlab.com/", "https://gitlab.com"));
        assert!(!same_issuer("https://gitlab.com/", "https://evil.com"));
        assert!(!same_issuer("https://idp/a", "https://idp/b"));
    }
}
