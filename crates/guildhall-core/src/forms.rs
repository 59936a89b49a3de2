//! Browser form bodies (`application/x-www-form-urlencoded`, repeated keys
//! allowed): decoded only after the `csrf` field matched the token the
//! browser's cookie holds (double submit), compared in constant time.

use crate::tokens::secrets_equal;
use serde::Deserialize;
use serde::de::DeserializeOwned;

#[derive(Debug, PartialEq, Eq)]
pub enum FormError {
    /// No token, or not the cookie's.
    Csrf,
    /// The token matched but the fields do not fit the form.
    Malformed,
}

#[derive(Deserialize)]
struct TokenField {
    #[serde(default)]
    csrf: String,
}

/// The form, if its `csrf` field equals `expected` (which must not be empty).
pub fn decode_checked<T: DeserializeOwned>(body: &[u8], expected: &str) -> Result<T, FormError> {
    let presented = serde_html_form::from_bytes::<TokenField>(body).map(|f| f.csrf).unwrap_or_default();
    if expected.is_empty() || !secrets_equal(&presented, expected) {
        return Err(FormError::Csrf);
    }
    serde_html_form::from_bytes::<T>(body).map_err(|_| FormError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize, Debug, PartialEq)]
    struct Login {
        email: String,
        #[serde(default)]
        scopes: Vec<String>,
    }

    #[test]
    fn the_token_must_match_before_anything_is_decoded() {
        let ok: Login = decode_checked(b"csrf=t0k&email=a%40b.c&scopes=x&scopes=y", "t0k").unwrap();
        assert_eq!(ok, Login { email: "a@b.c".into(), scopes: vec!["x".into(), "y".into()] });
        assert_eq!(decode_checked::<Login>(b"csrf=other&email=a", "t0k"), Err(FormError::Csrf));
        assert_eq!(decode_checked::<Login>(b"email=a", "t0k"), Err(FormError::Csrf));
        assert_eq!(decode_checked::<Login>(b"csrf=&email=a", ""), Err(FormError::Csrf), "an empty cookie");
        assert_eq!(decode_checked::<Login>(b"csrf=t0k", "t0k"), Err(FormError::Malformed));
    }
}
