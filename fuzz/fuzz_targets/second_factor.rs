//! What people type at the second step: TOTP codes and recovery codes.
#![no_main]

use guildhall_core::mfa::{check_totp, looks_like_recovery_code, recovery_code_hash};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 9 {
        return;
    }
    let (head, rest) = data.split_at(9);
    let mut clock = [0u8; 8];
    clock.copy_from_slice(&head[..8]);
    let now = u64::from_le_bytes(clock) >> 8;
    let Ok(code) = std::str::from_utf8(rest) else { return };
    let secret = b"12345678901234567890";
    if let Some(step) = check_totp(secret, code, now, None) {
        // A step once accepted is never accepted again.
        assert_eq!(check_totp(secret, code, now, Some(step)), None);
    }
    if looks_like_recovery_code(code) {
        assert_eq!(recovery_code_hash(code), recovery_code_hash(&code.to_uppercase()));
    }
});
