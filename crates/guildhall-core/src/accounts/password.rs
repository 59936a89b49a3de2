//! The password policy: length bounds and a built-in list of common passwords.

const COMMON_PASSWORDS: &str = include_str!("common-passwords.txt");

/// Hard ceiling on password length in bytes (SPEC §1), whatever the settings
/// say: it bounds the work an attacker can make Argon2 do per request.
pub const MAX_PASSWORD_BYTES: usize = 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PasswordPolicy {
    /// Minimum length in characters (default 8).
    pub min_chars: usize,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self { min_chars: 8 }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("Use at least {0} characters.")]
    TooShort(usize),
    #[error("Use at most 1024 bytes.")]
    TooLong,
    #[error("That password is too common; choose one that is harder to guess.")]
    Common,
}

/// Checks a new password against the policy. Existing passwords are never
/// re-checked at sign-in: a policy change must not lock people out.
pub fn check_password(password: &str, policy: &PasswordPolicy) -> Result<(), PasswordError> {
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(PasswordError::TooLong);
    }
    if password.chars().count() < policy.min_chars {
        return Err(PasswordError::TooShort(policy.min_chars));
    }
    if is_common(password) {
        return Err(PasswordError::Common);
    }
    Ok(())
}

fn is_common(password: &str) -> bool {
    let lower = password.to_lowercase();
    COMMON_PASSWORDS.lines().filter(|l| !l.starts_with('#')).any(|l| l == lower)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_bounds_are_enforced() {
        let p = PasswordPolicy::default();
        assert_eq!(check_password("short", &p), Err(PasswordError::TooShort(8)));
        assert_eq!(check_password(&"x".repeat(1025), &p), Err(PasswordError::TooLong));
        assert!(check_password("correct horse battery", &p).is_ok());
        let strict = PasswordPolicy { min_chars: 12 };
        assert_eq!(check_password("elevenchars", &strict), Err(PasswordError::TooShort(12)));
    }

    #[test]
    fn common_passwords_are_refused_in_any_case() {
        let p = PasswordPolicy::default();
        assert_eq!(check_password("password123", &p), Err(PasswordError::Common));
        assert_eq!(check_password("PassWord123", &p), Err(PasswordError::Common));
        assert_eq!(check_password("qwertyuiop", &p), Err(PasswordError::Common));
    }

    #[test]
    fn length_counts_characters_not_bytes() {
        let p = PasswordPolicy::default();
        assert!(check_password("ééééééé", &p).is_err());
        assert!(check_password("éééééééé", &p).is_ok());
    }
}
