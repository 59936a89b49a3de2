//! Signing keys: Ed25519 (JWS `EdDSA`), generated on first start, stored with
//! the private part sealed by the master key (AES-256-GCM), published in JWKS.

use crate::error::AppError;
use crate::ports::SigningKey;
use aws_lc_rs::aead::NONCE_LEN;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{DecodingKey, EncodingKey};
use sha2::{Digest, Sha256};

/// The 32-byte key that seals private signing keys at rest. `Debug` is
/// redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct MasterKey(pub [u8; 32]);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

/// A key ready to sign and verify.
pub(crate) struct LiveKey {
    pub kid: String,
    pub created_at: guildhall_core::Timestamp,
    pub encoding: EncodingKey,
    pub decoding: DecodingKey,
    pub jwk: serde_json::Value,
}

/// How long a new key is published before it signs: longer than the JWKS
/// `Cache-Control: max-age` (300 s), so relying parties that cache the key
/// set know the key before they meet a token signed with it.
pub(crate) const PUBLISH_LEAD: std::time::Duration = std::time::Duration::from_secs(600);

/// Slack added to a retired key's last token's lifetime before deletion.
const RETIRE_MARGIN: std::time::Duration = std::time::Duration::from_secs(300);

/// The key that signs now: the newest one published for at least
/// `PUBLISH_LEAD`, or, when none is (first start), the oldest.
pub(crate) fn signing_key(keys: &[std::sync::Arc<LiveKey>], now: guildhall_core::Timestamp) -> Option<&LiveKey> {
    let lead = i64::try_from(PUBLISH_LEAD.as_millis()).unwrap_or(i64::MAX);
    keys.iter().find(|k| now.as_millis() - k.created_at.as_millis() >= lead).or_else(|| keys.last()).map(|k| &**k)
}

/// The stored keys (newest first) that no token can still need: each key
/// stops signing when the next one does (`created_at + PUBLISH_LEAD`), and
/// its last tokens live `token_ttl` longer.
pub(crate) fn retired(
    stored: &[SigningKey],
    now: guildhall_core::Timestamp,
    token_ttl: std::time::Duration,
) -> Vec<&str> {
    stored
        .windows(2)
        .filter(|pair| pair[0].created_at.plus(PUBLISH_LEAD + token_ttl + RETIRE_MARGIN) < now)
        .map(|pair| pair[1].kid.as_str())
        .collect()
}

/// Makes a fresh Ed25519 key; `nonce` must be unique per sealing (random).
pub(crate) fn generate(
    master: &MasterKey,
    nonce: [u8; NONCE_LEN],
    now: guildhall_core::Timestamp,
) -> Result<SigningKey, AppError> {
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let pkcs8 = aws_lc_rs::signature::Ed25519KeyPair::generate_pkcs8(&rng)
        .map_err(|_| AppError::internal_message("key generation failed"))?;
    let pair = aws_lc_rs::signature::Ed25519KeyPair::from_pkcs8(pkcs8.as_ref())
        .map_err(|_| AppError::internal_message("generated key unreadable"))?;
    let x = URL_SAFE_NO_PAD.encode(aws_lc_rs::signature::KeyPair::public_key(&pair).as_ref());
    // RFC 7638 thumbprint as the key id: stable and derived from the key
    // (required members in lexicographic order, no whitespace).
    let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
    let kid = URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()));
    let jwk = serde_json::json!({"kty": "OKP", "crv": "Ed25519", "x": x, "alg": "EdDSA", "use": "sig", "kid": kid});
    let private_sealed = crate::sealed::seal(master, kid.as_bytes(), pkcs8.as_ref(), nonce)
        .ok_or_else(|| AppError::internal_message("sealing failed"))?;
    let public_jwk = jwk.to_string();
    Ok(SigningKey { kid, alg: "EdDSA".into(), private_sealed, public_jwk, created_at: now })
}

/// Unseals a stored key; a wrong master key is a clear error.
pub(crate) fn open(master: &MasterKey, key: &SigningKey) -> Result<LiveKey, AppError> {
    let wrong = || {
        AppError::internal_message(format!(
            "signing key {} cannot be unsealed: the master key differs from the one it was sealed with",
            key.kid
        ))
    };
    let pkcs8 = crate::sealed::open(master, key.kid.as_bytes(), &key.private_sealed).ok_or_else(wrong)?;
    let jwk: Jwk =
        serde_json::from_str(&key.public_jwk).map_err(|e| AppError::internal_message(format!("jwk: {e}")))?;
    let decoding = DecodingKey::from_jwk(&jwk).map_err(|e| AppError::internal_message(format!("jwk: {e}")))?;
    let public = serde_json::from_str(&key.public_jwk).map_err(|e| AppError::internal_message(format!("jwk: {e}")))?;
    Ok(LiveKey {
        kid: key.kid.clone(),
        created_at: key.created_at,
        encoding: EncodingKey::from_ed_der(&pkcs8),
        decoding,
        jwk: public,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::Algorithm;

    #[test]
    fn a_sealed_key_opens_only_with_its_master_key_and_signs_verifiably() {
        let master = MasterKey([7; 32]);
        let stored = generate(&master, [1; NONCE_LEN], guildhall_core::Timestamp::from_millis(0)).unwrap();
        assert!(!stored.public_jwk.contains("\"d\""), "the private key reached the JWK");
        let live = open(&master, &stored).unwrap();
        let mut header = jsonwebtoken::Header::new(Algorithm::EdDSA);
        header.kid = Some(live.kid.clone());
        let claims = serde_json::json!({"sub": "ada", "exp": 4_000_000_000u64});
        let jwt = jsonwebtoken::encode(&header, &claims, &live.encoding).unwrap();
        let mut v = jsonwebtoken::Validation::new(Algorithm::EdDSA);
        v.required_spec_claims.clear();
        assert!(jsonwebtoken::decode::<serde_json::Value>(&jwt, &live.decoding, &v).is_ok());
        assert!(open(&MasterKey([8; 32]), &stored).is_err(), "a wrong master key opened the key");
        let mut tampered = stored.clone();
        tampered.kid = "other".into();
        assert!(open(&master, &tampered).is_err(), "the key id is not bound to the sealed key");
    }
}
