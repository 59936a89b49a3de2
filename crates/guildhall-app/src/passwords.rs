//! Argon2id hashing, run off the async threads and bounded to one hash per
//! core at a time, so a burst of sign-ins queues instead of thrashing memory.

use crate::error::AppError;
use crate::settings::Argon2Params;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::Arc;
use tokio::sync::Semaphore;

#[derive(Clone)]
pub struct Passwords {
    params: Argon2Params,
    permits: Arc<Semaphore>,
    /// A hash of a random password at the same cost, verified when an account
    /// does not exist so both cases take the same time.
    dummy_hash: Arc<std::sync::OnceLock<String>>,
}

impl Passwords {
    pub fn new(params: Argon2Params) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self { params, permits: Arc::new(Semaphore::new(cores)), dummy_hash: Arc::new(std::sync::OnceLock::new()) }
    }

    fn argon2(params: Argon2Params) -> Result<Argon2<'static>, AppError> {
        let p = Params::new(params.memory_kib, params.iterations, params.parallelism, None)
            .map_err(|e| AppError::Internal(format!("argon2 parameters: {e}").into()))?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, p))
    }

    /// A PHC string (`$argon2id$v=19$m=…`) for a new password.
    pub async fn hash(&self, password: &str) -> Result<String, AppError> {
        let params = self.params;
        let password = password.to_owned();
        self.run(move || hash_now(params, &password)).await
    }

    /// Whether `password` matches `phc`. A malformed stored hash never matches.
    pub async fn verify(&self, password: &str, phc: &str) -> Result<bool, AppError> {
        let password = password.to_owned();
        let phc = phc.to_owned();
        self.run(move || Ok(verify_now(&password, &phc))).await
    }

    /// Spends the time of one verification, for accounts that do not exist.
    pub async fn verify_dummy(&self, password: &str) -> Result<(), AppError> {
        let params = self.params;
        let dummy = self.dummy_hash.clone();
        let password = password.to_owned();
        self.run(move || {
            let phc = match dummy.get() {
                Some(h) => h.clone(),
                None => {
                    let h = hash_now(params, "guildhall-dummy-password")?;
                    dummy.get_or_init(|| h).clone()
                }
            };
            Ok(verify_now(&password, &phc))
        })
        .await
        .map(|_| ())
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> Result<T, AppError> + Send + 'static,
    ) -> Result<T, AppError> {
        let _permit = self.permits.acquire().await.map_err(AppError::internal)?;
        tokio::task::spawn_blocking(f).await.map_err(AppError::internal)?
    }
}

fn hash_now(params: Argon2Params, password: &str) -> Result<String, AppError> {
    let mut salt_bytes = [0u8; 16];
    rand::fill(&mut salt_bytes);
    Passwords::argon2(params)?
        .hash_password_with_salt(password.as_bytes(), &salt_bytes)
        .map(|h| h.to_string())
        .map_err(|e| AppError::Internal(format!("argon2: {e}").into()))
}

fn verify_now(password: &str, phc: &str) -> bool {
    // Verification reads the cost from the PHC string itself, so hashes made
    // under older parameters keep working.
    Argon2::default().verify_password(password.as_bytes(), phc).is_ok()
}

/// Raw hashing at the given parameters, for the benchmark's baseline.
pub fn hash_blocking(params: Argon2Params, password: &str) -> Result<String, AppError> {
    hash_now(params, password)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHEAP: Argon2Params = Argon2Params { memory_kib: 64, iterations: 1, parallelism: 1 };

    #[tokio::test]
    async fn hashes_verify_and_wrong_passwords_do_not() {
        let p = Passwords::new(CHEAP);
        let h = p.hash("correct horse").await.unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
        assert!(p.verify("correct horse", &h).await.unwrap());
        assert!(!p.verify("wrong horse", &h).await.unwrap());
        assert!(!p.verify("correct horse", "not a phc string").await.unwrap());
        p.verify_dummy("anything").await.unwrap();
    }

    #[test]
    fn default_parameters_are_the_spec_defaults() {
        let h = hash_blocking(Argon2Params::default(), "x").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
    }
}
