//! The baseline: how many Argon2id verifications this machine does per
//! second with nothing else in the way, one per core, exactly as the server
//! verifies a password at sign-in.

use crate::cpu;
use anyhow::{Context, Result};
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use guildhall_app::settings::Argon2Params;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const PASSWORD: &[u8] = b"correct horse battery staple";

/// Verifications counted in one or more measured windows.
pub struct RawResult {
    pub threads: usize,
    pub verifications: u64,
    pub cpu: cpu::Usage,
}

impl RawResult {
    pub fn per_sec(&self) -> f64 {
        self.verifications as f64 / self.cpu.seconds.max(1e-9)
    }

    /// Several windows as one.
    pub fn combine(parts: &[RawResult]) -> RawResult {
        let cpu = cpu::Usage::combine(&parts.iter().map(|p| p.cpu.clone()).collect::<Vec<_>>());
        RawResult {
            threads: parts.first().map_or(0, |p| p.threads),
            verifications: parts.iter().map(|p| p.verifications).sum(),
            cpu,
        }
    }
}

/// A PHC string for `PASSWORD` at the given cost.
fn phc(params: Argon2Params) -> Result<String> {
    let p = Params::new(params.memory_kib, params.iterations, params.parallelism, None)
        .map_err(|e| anyhow::anyhow!("argon2 parameters: {e}"))?;
    let salt = *b"guildhall-bench!";
    let hash = Argon2::new(Algorithm::Argon2id, Version::V0x13, p)
        .hash_password_with_salt(PASSWORD, &salt)
        .map_err(|e| anyhow::anyhow!("argon2 hash: {e}"))?;
    Ok(hash.to_string())
}

fn verify(phc: &str) -> Result<()> {
    // The server's way: default instance, cost read from the PHC string.
    Argon2::default().verify_password(PASSWORD, phc).map_err(|e| anyhow::anyhow!("argon2 verify: {e}"))
}

/// Verifies on `threads` OS threads for `warmup + duration`, counting the
/// verifications that finish inside the measured window.
pub fn measure(params: Argon2Params, threads: usize, warmup: Duration, duration: Duration) -> Result<RawResult> {
    let phc = phc(params)?;
    verify(&phc)?;
    let start = Instant::now();
    let window_start = start + warmup;
    let window_end = window_start + duration;
    let failed = AtomicBool::new(false);
    let (counts, usage) = std::thread::scope(|s| -> Result<(Vec<u64>, cpu::Usage)> {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut counted = 0u64;
                    loop {
                        let began = Instant::now();
                        if began >= window_end || failed.load(Ordering::Relaxed) {
                            break;
                        }
                        if verify(&phc).is_err() {
                            failed.store(true, Ordering::Relaxed);
                            break;
                        }
                        let done = Instant::now();
                        if done >= window_start && done <= window_end {
                            counted += 1;
                        }
                    }
                    counted
                })
            })
            .collect();
        // Sample CPU at the window's edges from this (sleeping) thread.
        std::thread::sleep(window_start.saturating_duration_since(Instant::now()));
        let before = cpu::sample(&[std::process::id()])?;
        std::thread::sleep(window_end.saturating_duration_since(Instant::now()));
        let after = cpu::sample(&[std::process::id()])?;
        let counts = workers
            .into_iter()
            .map(|w| w.join().map_err(|_| anyhow::anyhow!("a hashing thread panicked")))
            .collect::<Result<Vec<u64>>>()?;
        Ok((counts, cpu::usage(&before, &after)))
    })?;
    anyhow::ensure!(!failed.load(Ordering::Relaxed), "an Argon2 verification failed");
    let mut cpu = usage;
    // Count over the nominal window, as the verifications were.
    cpu.seconds = duration.as_secs_f64();
    Ok(RawResult { threads, verifications: counts.iter().sum(), cpu })
}

/// The number of hashing threads: one per core, as the server allows.
pub fn default_threads() -> Result<usize> {
    Ok(std::thread::available_parallelism().context("available_parallelism")?.get())
}
