//! Argon2id hashing on a fixed set of long-lived threads, one per core.
//!
//! Each thread owns one Argon2 memory area and reuses it for every
//! verification, so a burst of sign-ins neither allocates 19 MiB per attempt
//! (glibc would keep those blocks per arena, and the process would grow to
//! hundreds of MB) nor hops between blocking-pool threads (which left cores
//! idle while hashes queued). Requests queue in FIFO order. See
//! `BENCHMARKS.md` for the measurements behind this.

use crate::error::AppError;
use crate::settings::Argon2Params;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use subtle::ConstantTimeEq;
use tokio::sync::oneshot;

type Job = Box<dyn FnOnce(&mut Vec<Block>) + Send>;

#[derive(Clone)]
pub struct Passwords {
    params: Argon2Params,
    jobs: mpsc::Sender<Job>,
    /// A hash of a fixed password at the same cost, verified when an account
    /// does not exist so both cases take the same time.
    dummy_hash: Arc<OnceLock<String>>,
}

impl Passwords {
    pub fn new(params: Argon2Params) -> Self {
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        for i in 0..cores {
            let queue = queue.clone();
            let spawned = std::thread::Builder::new().name(format!("argon2-{i}")).spawn(move || {
                let mut memory = Vec::new();
                loop {
                    // The lock is held only while waiting for the next job.
                    let job = match queue.lock() {
                        Ok(q) => q.recv(),
                        Err(_) => return,
                    };
                    match job {
                        Ok(job) => job(&mut memory),
                        // Every `Passwords` is gone: the app shut down.
                        Err(_) => return,
                    }
                }
            });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "could not start a password hashing thread");
            }
        }
        Self { params, jobs, dummy_hash: Arc::new(OnceLock::new()) }
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Vec<Block>) -> Result<T, AppError> + Send + 'static,
    ) -> Result<T, AppError> {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |memory| {
            let _ = tx.send(f(memory));
        });
        self.jobs.send(job).map_err(|_| AppError::Internal("password hashing threads are gone".into()))?;
        rx.await.map_err(|_| AppError::Internal("password hashing thread failed".into()))?
    }

    /// A PHC string (`$argon2id$v=19$m=…`) for a new password.
    pub async fn hash(&self, password: &str) -> Result<String, AppError> {
        let params = self.params;
        let password = password.to_owned();
        self.run(move |_| hash_now(params, &password)).await
    }

    /// Whether `password` matches `phc`. A malformed stored hash never matches.
    pub async fn verify(&self, password: &str, phc: &str) -> Result<bool, AppError> {
        let password = password.to_owned();
        let phc = phc.to_owned();
        let limits = Limits::for_settings(self.params);
        self.run(move |memory| {
            let ok = verify_with(memory, &password, &phc, limits);
            // Keep only the configured cost's memory after an older, larger hash.
            if memory.len() > limits.usual_blocks {
                memory.truncate(limits.usual_blocks);
                memory.shrink_to_fit();
            }
            Ok(ok)
        })
        .await
    }

    /// Spends the time of one verification, for accounts that do not exist.
    pub async fn verify_dummy(&self, password: &str) -> Result<(), AppError> {
        let phc = match self.dummy_hash.get() {
            Some(h) => h.clone(),
            None => {
                let h = self.hash("guildhall-dummy-password").await?;
                self.dummy_hash.get_or_init(|| h).clone()
            }
        };
        self.verify(password, &phc).await.map(|_| ())
    }
}

fn argon2(params: Argon2Params) -> Result<Argon2<'static>, AppError> {
    let p = Params::new(params.memory_kib, params.iterations, params.parallelism, None)
        .map_err(|e| AppError::Internal(format!("argon2 parameters: {e}").into()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, p))
}

fn hash_now(params: Argon2Params, password: &str) -> Result<String, AppError> {
    let mut salt = [0u8; 16];
    rand::fill(&mut salt);
    argon2(params)?
        .hash_password_with_salt(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AppError::Internal(format!("argon2: {e}").into()))
}

/// Bounds on the cost a stored hash may ask for: a hostile or corrupt PHC
/// string must not make a hashing thread allocate gigabytes or spin for hours.
#[derive(Clone, Copy)]
struct Limits {
    max_memory_kib: u32,
    max_iterations: u32,
    max_parallelism: u32,
    usual_blocks: usize,
}

impl Limits {
    fn for_settings(p: Argon2Params) -> Self {
        Self {
            max_memory_kib: p.memory_kib.max(256 * 1024),
            max_iterations: p.iterations.max(16),
            max_parallelism: p.parallelism.max(16),
            usual_blocks: usize::try_from(p.memory_kib).unwrap_or(usize::MAX),
        }
    }
}

/// Verifies against the cost, salt and output recorded in the PHC string
/// (so hashes made under older settings keep working), within `limits`,
/// computing into `memory` and comparing in constant time.
fn verify_with(memory: &mut Vec<Block>, password: &str, phc: &str, limits: Limits) -> bool {
    let Ok(hash) = PasswordHash::new(phc) else { return false };
    let (Some(salt), Some(expected)) = (&hash.salt, &hash.hash) else { return false };
    let Ok(params) = Params::try_from(&hash) else { return false };
    if params.m_cost() > limits.max_memory_kib
        || params.t_cost() > limits.max_iterations
        || params.p_cost() > limits.max_parallelism
    {
        tracing::warn!("stored password hash asks for more than the allowed cost; refused");
        return false;
    }
    let Ok(algorithm) = Algorithm::try_from(hash.algorithm.as_str()) else { return false };
    let version = match hash.version.map(Version::try_from).transpose() {
        Ok(v) => v.unwrap_or_default(),
        Err(_) => return false,
    };
    let blocks = params.block_count();
    if memory.len() < blocks {
        memory.resize(blocks, Block::default());
    }
    let mut out = vec![0u8; expected.len()];
    let argon2 = Argon2::new(algorithm, version, params);
    argon2.hash_password_into_with_memory(password.as_bytes(), salt.as_ref(), &mut out, &mut memory[..blocks]).is_ok()
        && bool::from(out.as_slice().ct_eq(expected.as_bytes()))
}

/// Raw verification with the argon2 crate's own API, for the benchmark's
/// baseline and to cross-check `verify_with`.
pub fn verify_blocking(password: &str, phc: &str) -> bool {
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

    #[tokio::test]
    async fn reused_memory_agrees_with_the_crate_and_older_costs_still_verify() {
        let p = Passwords::new(CHEAP);
        let older =
            hash_blocking(Argon2Params { memory_kib: 128, iterations: 2, parallelism: 1 }, "old secret").unwrap();
        let newer = p.hash("new secret").await.unwrap();
        for _ in 0..3 {
            assert!(p.verify("old secret", &older).await.unwrap());
            assert!(p.verify("new secret", &newer).await.unwrap());
            assert!(!p.verify("new secret", &older).await.unwrap());
        }
        assert!(verify_blocking("old secret", &older) && verify_blocking("new secret", &newer));
        let tampered = newer.replace("$argon2id$", "$argon2i$");
        assert!(!p.verify("new secret", &tampered).await.unwrap());
    }

    #[tokio::test]
    async fn a_hostile_stored_cost_is_refused_without_running_it() {
        let p = Passwords::new(CHEAP);
        let good = p.hash("secret words").await.unwrap();
        for hostile in ["m=4294967295,t=1,p=1", "m=64,t=4000000000,p=1", "m=64,t=1,p=16777215"] {
            let phc = good.replace("m=64,t=1,p=1", hostile);
            assert_ne!(phc, good);
            let verdict = tokio::time::timeout(std::time::Duration::from_secs(5), p.verify("secret words", &phc)).await;
            assert!(!verdict.expect("a hostile hash stalled the pool").unwrap(), "{hostile}");
        }
        assert!(p.verify("secret words", &good).await.unwrap(), "the pool still works");
    }

    #[test]
    fn default_parameters_are_the_spec_defaults() {
        let h = hash_blocking(Argon2Params::default(), "x").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
    }
}
