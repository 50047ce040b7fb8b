//! How much of the machine the run had: the kernel's CPU pressure and steal time over the
//! run, read from `/proc` (absent figures stay `None`: the verdicts then rest on the CPU
//! use of the rows alone).

use std::time::Instant;

/// A reading of the counters at one moment.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Snapshot {
    at: Instant,
    /// `/proc/pressure/cpu` `some total`: microseconds some task waited for a CPU.
    pressure_us: Option<u64>,
    /// `/proc/stat` steal ticks (a hypervisor gave the CPU to another guest).
    steal_ticks: Option<u64>,
}

/// What the counters said over the run.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Load {
    /// Share of the wall time during which some task waited for a CPU (0 to 1).
    pub(crate) pressure: Option<f64>,
    /// Share of the machine's CPU time stolen by a hypervisor (0 to 1).
    pub(crate) steal: Option<f64>,
}

fn pressure_us() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/pressure/cpu").ok()?;
    let line = text.lines().find(|l| l.starts_with("some "))?;
    line.split_whitespace()
        .find_map(|f| f.strip_prefix("total="))?
        .parse()
        .ok()
}

fn steal_ticks() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    let line = text.lines().find(|l| l.starts_with("cpu "))?;
    line.split_whitespace().nth(8)?.parse().ok()
}

impl Snapshot {
    pub(crate) fn now() -> Snapshot {
        Snapshot {
            at: Instant::now(),
            pressure_us: pressure_us(),
            steal_ticks: steal_ticks(),
        }
    }

    /// The load between this snapshot and now, on a machine of `cpus` CPUs.
    pub(crate) fn since(&self, cpus: usize) -> Load {
        let end = Snapshot::now();
        let wall = end.at.duration_since(self.at).as_secs_f64().max(1e-9);
        // USER_HZ is 100 on every Linux ABI in use.
        let ticks = 100.0 * wall * cpus.max(1) as f64;
        Load {
            pressure: match (self.pressure_us, end.pressure_us) {
                (Some(a), Some(b)) => Some((b.saturating_sub(a) as f64 / 1e6 / wall).min(1.0)),
                _ => None,
            },
            steal: match (self.steal_ticks, end.steal_ticks) {
                (Some(a), Some(b)) => Some((b.saturating_sub(a) as f64 / ticks).min(1.0)),
                _ => None,
            },
        }
    }
}
