//! The baseline: how many Argon2id verifications this machine does per
//! second with nothing else in the way, one thread per core, each reusing one
//! memory area (the fastest way to run Argon2id at these parameters, and the
//! way the server's hashing threads do it). Written here against the argon2
//! crate directly, not through the server's code.

use crate::cpu;
use anyhow::{Context, Result};
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Block, Params, Version};
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
    Argon2::default().verify_password(PASSWORD, phc).map_err(|e| anyhow::anyhow!("argon2 verify: {e}"))
}

/// One verification computed into `memory` (cost, salt and output from the
/// PHC string), compared with the stored output.
fn verify_reusing(memory: &mut [Block], hash: &PasswordHash, params: &Params) -> Result<()> {
    let salt = hash.salt.as_ref().context("no salt")?;
    let expected = hash.hash.as_ref().context("no output")?;
    let mut out = vec![0u8; expected.len()];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password_into_with_memory(PASSWORD, salt.as_ref(), &mut out, memory)
        .map_err(|e| anyhow::anyhow!("argon2: {e}"))?;
    anyhow::ensure!(out.as_slice() == expected.as_bytes(), "argon2 output mismatch");
    Ok(())
}

/// Verifies on `threads` OS threads for `warmup + duration`, counting the
/// verifications that finish inside the measured window.
pub fn measure(params: Argon2Params, threads: usize, warmup: Duration, duration: Duration) -> Result<RawResult> {
    let phc = phc(params)?;
    verify(&phc)?;
    let hash = PasswordHash::new(&phc).map_err(|e| anyhow::anyhow!("phc: {e}"))?;
    let cost = Params::try_from(&hash).map_err(|e| anyhow::anyhow!("phc params: {e}"))?;
    let start = Instant::now();
    let window_start = start + warmup;
    let window_end = window_start + duration;
    let failed = AtomicBool::new(false);
    let (counts, usage) = std::thread::scope(|s| -> Result<(Vec<u64>, cpu::Usage)> {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut memory = vec![Block::default(); cost.block_count()];
                    let mut counted = 0u64;
                    loop {
                        let began = Instant::now();
                        if began >= window_end || failed.load(Ordering::Relaxed) {
                            break;
                        }
                        if verify_reusing(&mut memory, &hash, &cost).is_err() {
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
