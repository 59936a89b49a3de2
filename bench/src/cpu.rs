//! CPU accounting from `/proc`, so every measured window also says who used
//! the CPU: the server, this harness, or something else on the machine.
//!
//! Linux reports both `/proc/stat` and `/proc/<pid>/stat` in USER_HZ ticks,
//! which is 100 per second on every mainstream architecture.

use anyhow::{Context, Result};
use std::time::Instant;

const TICKS_PER_SEC: f64 = 100.0;

/// Ticks since boot, for the whole machine and for a few processes.
#[derive(Clone, Debug)]
pub struct Sample {
    at: Instant,
    machine_busy: u64,
    /// (pid, utime + stime) for each process asked for; `None` if it is gone.
    procs: Vec<(u32, Option<u64>)>,
}

/// Where the CPU went between two samples, in cores (1.0 = one core busy).
#[derive(Clone, Debug, Default)]
pub struct Usage {
    /// Length of the window(s), in seconds.
    pub seconds: f64,
    pub machine: f64,
    /// Cores used by each process, in the order given to `sample`.
    pub procs: Vec<f64>,
}

impl Usage {
    /// Cores busy with neither of the given processes.
    pub fn other(&self) -> f64 {
        (self.machine - self.procs.iter().sum::<f64>()).max(0.0)
    }

    /// Cores used by the `i`th process asked for.
    pub fn proc(&self, i: usize) -> f64 {
        self.procs.get(i).copied().unwrap_or(0.0)
    }

    /// The average over several windows, weighted by their length.
    pub fn combine(parts: &[Usage]) -> Usage {
        let seconds: f64 = parts.iter().map(|u| u.seconds).sum();
        let n = parts.iter().map(|u| u.procs.len()).max().unwrap_or(0);
        let avg = |f: &dyn Fn(&Usage) -> f64| parts.iter().map(|u| f(u) * u.seconds).sum::<f64>() / seconds.max(1e-9);
        Usage { seconds, machine: avg(&|u| u.machine), procs: (0..n).map(|i| avg(&|u| u.proc(i))).collect() }
    }
}

pub fn sample(pids: &[u32]) -> Result<Sample> {
    let stat = std::fs::read_to_string("/proc/stat").context("reading /proc/stat")?;
    let line = stat.lines().next().context("/proc/stat is empty")?;
    // cpu user nice system idle iowait irq softirq steal guest guest_nice;
    // guest time is already counted in user, so stop at steal.
    let fields: Vec<u64> = line.split_whitespace().skip(1).take(8).filter_map(|f| f.parse().ok()).collect();
    anyhow::ensure!(fields.len() == 8, "unexpected /proc/stat line: {line}");
    let idle = fields[3] + fields[4];
    let machine_busy = fields.iter().sum::<u64>() - idle;
    let procs = pids.iter().map(|&pid| (pid, process_ticks(pid))).collect();
    Ok(Sample { at: Instant::now(), machine_busy, procs })
}

/// utime + stime of a process (all its threads), in ticks.
fn process_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold spaces: split after it.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state is field 3, utime 14 and stime 15 (1-based).
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

pub fn usage(before: &Sample, after: &Sample) -> Usage {
    let seconds = after.at.duration_since(before.at).as_secs_f64().max(1e-9);
    let cores = |ticks: u64| ticks as f64 / TICKS_PER_SEC / seconds;
    let procs = before
        .procs
        .iter()
        .zip(&after.procs)
        .map(|((_, b), (_, a))| match (b, a) {
            (Some(b), Some(a)) => cores(a.saturating_sub(*b)),
            _ => 0.0,
        })
        .collect();
    Usage { seconds, machine: cores(after.machine_busy.saturating_sub(before.machine_busy)), procs }
}
