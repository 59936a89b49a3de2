//! JWTs from outside: access tokens presented to the API, userinfo and
//! introspection, and ID tokens from upstream identity providers. Only the
//! right key can make either pass; the target checks that nothing else
//! does, and that no input panics.
#![no_main]

use guildhall_app::external::validate_id_token;
use guildhall_app::oauth::verify_access_token;
use guildhall_core::Timestamp;
use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::JwkSet;
use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;

const ISSUER: &str = "https://id.example.com";
// An Ed25519 public key (RFC 8032 test vector 1) whose private key the
// fuzzer never has.
const X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";

static KEY: LazyLock<DecodingKey> =
    LazyLock::new(|| DecodingKey::from_ed_components(X).expect("the fixed Ed25519 key"));
static JWKS: LazyLock<JwkSet> = LazyLock::new(|| {
    serde_json::from_value(serde_json::json!({"keys": [
        {"kty": "OKP", "crv": "Ed25519", "x": X, "kid": "k1"},
        {"kty": "RSA", "n": "sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw", "e": "AQAB", "kid": "r1"}
    ]}))
    .expect("the fixed key set")
});

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else { return };
    let now = 1_800_000_000;
    let access = verify_access_token(token, |kid| (kid == "k1").then_some(&*KEY), ISSUER, now);
    assert!(access.is_err(), "a token nobody could sign passed: {token:?}");
    let id = validate_id_token(token, &JWKS, ISSUER, "client", "nonce", Timestamp::from_millis(now * 1000));
    assert!(id.is_err(), "an ID token nobody could sign passed: {token:?}");
});
