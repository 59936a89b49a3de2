//! Second factors (SPEC §2): TOTP (RFC 6238: SHA-1, 6 digits, 30-second
//! steps, one step of skew either way, each step accepted once) and
//! recovery codes (single use, shown once, stored as SHA-256).

use sha2::{Digest, Sha256};
use totp_rs::{Builder, Secret, Totp};

/// Length of a TOTP step, in seconds.
pub const TOTP_STEP_SECS: u64 = 30;

/// How many recovery codes a set has.
pub const RECOVERY_CODES: usize = 10;

fn totp(secret: &[u8], account: &str) -> Option<Totp> {
    Builder::new()
        .with_secret(Secret::from(secret.to_vec()))
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(TOTP_STEP_SECS)
        .with_issuer(Some("Guildhall"))
        .with_account_name(account.replace(':', ""))
        .build()
        .ok()
}

/// The `otpauth://` URL an authenticator app scans (as a QR code) or takes
/// as text.
pub fn otpauth_url(secret: &[u8], account: &str) -> Option<String> {
    totp(secret, account)?.to_url().ok()
}

/// The secret as base32, for typing into an app by hand.
pub fn secret_base32(secret: &[u8]) -> String {
    Secret::from(secret.to_vec()).to_base32()
}

/// The step `code` is valid for at `now_secs`, if it is valid and its step
/// comes after `last_step` (a used step is never accepted again).
pub fn check_totp(secret: &[u8], code: &str, now_secs: u64, last_step: Option<i64>) -> Option<i64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let step = i64::try_from(totp(secret, "")?.check(&code, now_secs)?).ok()?;
    last_step.is_none_or(|last| step > last).then_some(step)
}

/// The code for `now_secs`: what an authenticator app shows.
pub fn totp_code(secret: &[u8], now_secs: u64) -> Option<String> {
    Some(totp(secret, "")?.generate(now_secs).to_string())
}

/// The same from the base32 key a person types into an app.
pub fn totp_code_base32(key: &str, now_secs: u64) -> Option<String> {
    let secret = Secret::try_from_base32(key.trim()).ok()?;
    totp_code(secret.as_ref(), now_secs)
}

/// A recovery code from 10 random bytes: 16 base32 characters in groups of
/// four, such as `k3j9-2mxq-…`.
pub fn recovery_code(random: [u8; 10]) -> String {
    let raw = base32_lower(&random);
    raw.as_bytes().chunks(4).map(|c| String::from_utf8_lossy(c).into_owned()).collect::<Vec<_>>().join("-")
}

fn base32_lower(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut out = String::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

/// Whether typed text has the shape of a recovery code (16 base32
/// characters, dashes and spaces aside), as opposed to a TOTP code.
pub fn looks_like_recovery_code(input: &str) -> bool {
    normalize_recovery_code(input).is_some_and(|c| c.len() == 16)
}

/// Lowercase ASCII letters and digits without separators; `None` for any
/// other character (so no Unicode case mapping can turn one input into
/// another's code: `ŉ` upper-cases to `ʼN`).
fn normalize_recovery_code(input: &str) -> Option<String> {
    let mut out = String::with_capacity(16);
    for c in input.chars() {
        match c {
            '-' | ' ' | '\t' => {}
            c if c.is_ascii_alphanumeric() => out.push(c.to_ascii_lowercase()),
            _ => return None,
        }
    }
    Some(out)
}

/// What is stored for a recovery code: SHA-256 of its normalized form
/// (the codes carry 80 random bits, so a fast hash is enough). Input that
/// is not a code hashes to something no code hashes to.
pub fn recovery_code_hash(input: &str) -> [u8; 32] {
    match normalize_recovery_code(input) {
        Some(code) => Sha256::digest(code.as_bytes()).into(),
        None => Sha256::digest([b"not a code:".as_slice(), input.as_bytes()].concat()).into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 6238 appendix B, SHA-1 secret "12345678901234567890" (8 digits
    // there; the same HOTP truncated to 6 here).
    const SECRET: &[u8] = b"12345678901234567890";

    #[test]
    fn codes_match_the_rfc_vectors_and_each_step_is_accepted_once() {
        assert_eq!(totp_code(SECRET, 59).unwrap(), "287082");
        assert_eq!(totp_code(SECRET, 1_111_111_109).unwrap(), "081804");
        let now = 1_111_111_109;
        let step = check_totp(SECRET, "081804", now, None).unwrap();
        assert_eq!(step, (now / 30) as i64);
        assert_eq!(check_totp(SECRET, "081 804", now, None), Some(step), "spaces are ignored");
        assert_eq!(check_totp(SECRET, "081804", now, Some(step)), None, "a used step is refused");
        // One step of skew either way, not two.
        assert!(check_totp(SECRET, "081804", now + 30, None).is_some());
        assert!(check_totp(SECRET, "081804", now + 61, None).is_none());
        for bad in ["", "12345", "1234567", "abcdef", "000000"] {
            assert!(check_totp(SECRET, bad, now, None).is_none(), "{bad}");
        }
    }

    #[test]
    fn the_otpauth_url_names_the_issuer_and_the_account() {
        let url = otpauth_url(SECRET, "ada@example.com").unwrap();
        assert!(url.starts_with("otpauth://totp/Guildhall:ada%40example.com?"), "{url}");
        assert!(url.contains(&format!("secret={}", secret_base32(SECRET))));
        assert!(url.contains("issuer=Guildhall"));
        assert_eq!(totp_code_base32(&secret_base32(SECRET), 59), totp_code(SECRET, 59));
    }

    #[test]
    fn recovery_codes_are_readable_and_hash_the_same_however_typed() {
        let code = recovery_code([0xff; 10]);
        assert_eq!(code.len(), 19);
        assert_eq!(code.matches('-').count(), 3);
        assert!(looks_like_recovery_code(&code));
        assert!(looks_like_recovery_code(&code.to_uppercase().replace('-', " ")));
        assert!(!looks_like_recovery_code("123456"));
        assert_eq!(recovery_code_hash(&code), recovery_code_hash(&code.to_uppercase().replace('-', "")));
        assert_ne!(recovery_code_hash(&code), recovery_code_hash(&recovery_code([0; 10])));
        // Found by the fuzz target: Unicode case mapping must not make a code.
        assert!(!looks_like_recovery_code("zzzzzzzpzz-kkknŉ"));
        assert!(looks_like_recovery_code("ZZZZZZZPZZKKKNKK"));
    }
}
