//! Sealing secrets at rest and in flight under the master key: AES-256-GCM
//! with a random 96-bit nonce stored in front, and associated data that
//! binds a sealed value to its purpose (a signing key's id, a provider's
//! name), so one sealed value cannot be passed off as another.

use crate::oauth::MasterKey;
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

fn key(master: &MasterKey) -> Option<LessSafeKey> {
    UnboundKey::new(&AES_256_GCM, &master.0).ok().map(LessSafeKey::new)
}

/// `nonce ‖ ciphertext ‖ tag`. `nonce` must be random (never reused).
pub(crate) fn seal(master: &MasterKey, aad: &[u8], plaintext: &[u8], nonce: [u8; NONCE_LEN]) -> Option<Vec<u8>> {
    let mut buf = plaintext.to_vec();
    key(master)?.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad), &mut buf).ok()?;
    let mut out = nonce.to_vec();
    out.extend_from_slice(&buf);
    Some(out)
}

/// The plaintext, or `None` if the value was not sealed by this master key
/// with this associated data (or was altered).
pub(crate) fn open(master: &MasterKey, aad: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
    if sealed.len() <= NONCE_LEN {
        return None;
    }
    let (nonce, body) = sealed.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
    let mut buf = body.to_vec();
    let plain = key(master)?.open_in_place(nonce, Aad::from(aad), &mut buf).ok()?;
    Some(plain.to_vec())
}

impl crate::App {
    /// Seals `plaintext` for `aad` under this node's master key.
    pub(crate) fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, crate::AppError> {
        let mut nonce = [0u8; NONCE_LEN];
        self.deps.rng.fill(&mut nonce);
        seal(&self.settings().master_key, aad, plaintext, nonce)
            .ok_or_else(|| crate::AppError::internal_message("sealing failed"))
    }

    pub(crate) fn open_sealed(&self, aad: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
        open(&self.settings().master_key, aad, sealed)
    }

    /// Seals `value` as JSON with an expiry `ttl` from now, as base64url
    /// text for a cookie or a form field (flows, held sign-ins, WebAuthn
    /// ceremonies: state the browser carries and cannot read or forge).
    pub(crate) fn seal_for<T: Serialize>(
        &self,
        aad: &[u8],
        value: T,
        ttl: std::time::Duration,
    ) -> Result<String, crate::AppError> {
        let expiring = Expiring { value, expires_at: self.now().plus(ttl).as_millis() };
        let json = serde_json::to_vec(&expiring).map_err(crate::AppError::internal)?;
        Ok(URL_SAFE_NO_PAD.encode(self.seal(aad, &json)?))
    }

    /// The value `seal_for` sealed with this `aad`, if genuine and unexpired.
    pub(crate) fn open_for<T: DeserializeOwned>(&self, aad: &[u8], text: &str) -> Option<T> {
        let sealed = URL_SAFE_NO_PAD.decode(text).ok()?;
        let expiring: Expiring<T> = serde_json::from_slice(&self.open_sealed(aad, &sealed)?).ok()?;
        (self.now().as_millis() < expiring.expires_at).then_some(expiring.value)
    }
}

#[derive(Serialize, Deserialize)]
struct Expiring<T> {
    value: T,
    expires_at: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_the_same_key_and_purpose() {
        let a = MasterKey([1; 32]);
        let sealed = seal(&a, b"github", b"secret", [9; NONCE_LEN]).unwrap();
        assert_eq!(open(&a, b"github", &sealed).as_deref(), Some(&b"secret"[..]));
        assert_eq!(open(&MasterKey([2; 32]), b"github", &sealed), None);
        assert_eq!(open(&a, b"gitlab", &sealed), None);
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert_eq!(open(&a, b"github", &tampered), None);
        assert_eq!(open(&a, b"github", &sealed[..5]), None);
    }
}
