//! What a measurement costs besides wall time: CPU time and peak memory.
//!
//! **CPU time** is this process's `getrusage(RUSAGE_SELF)` delta plus the
//! `getrusage(RUSAGE_CHILDREN)` delta. The second counts worker processes only once they
//! have been reaped, so a measurement that uses a process pool drops the pool inside its
//! window (its wall time then includes the shutdown, like leaving Python's `with` block).
//! Threads of this process that are not part of the workload are left out: the meter's
//! own sampler thread, and any thread named to [`Meter::start`] (the local page server,
//! which answers the I/O-bound downloads: the remote site's CPU is not the client's). Their
//! CPU time comes from `/proc/self/task/<tid>/schedstat` (nanoseconds).
//!
//! **Peak memory** is the largest sum, over this process and its child processes (found
//! through `/proc/self/task/*/children`), of the resident set size in
//! `/proc/<pid>/statm`, sampled every 2 ms by a thread of the meter. Pages several processes
//! have resident (the executable's code, shared memory) count once per process holding
//! them: a [`concur::SharedBuffer`] counts in the parent and again in the worker that
//! has it mapped while both do, and not at all while neither has touched its mapping, so
//! for shared memory the figure is an approximation (within a chunk or two of the array).

use std::io;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// How often the sampler reads resident memory.
const SAMPLE_EVERY: Duration = Duration::from_millis(2);

/// What one measurement used.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Usage {
    pub(crate) wall: Duration,
    /// CPU time of the workload: user + system, all threads and worker processes.
    pub(crate) cpu: Duration,
    /// The largest resident memory of this process plus its workers seen, in bytes.
    pub(crate) peak_bytes: u64,
}

/// A measurement in progress: [`Meter::start`], run the workload, [`Meter::finish`].
#[derive(Debug)]
pub(crate) struct Meter {
    started: Instant,
    self_cpu: Duration,
    children_cpu: Duration,
    /// Threads whose CPU time is not the workload's, with their CPU time at the start.
    excluded: Vec<(u32, Duration)>,
    stop: mpsc::Sender<()>,
    sampler: thread::JoinHandle<Sampled>,
}

#[derive(Debug)]
struct Sampled {
    peak_bytes: u64,
    /// The sampler thread's own CPU time.
    cpu: Duration,
}

impl Meter {
    /// Starts measuring; the CPU time of the threads `exclude` (ids from [`thread_id`])
    /// is left out of the result.
    pub(crate) fn start(exclude: &[u32]) -> io::Result<Meter> {
        let (stop, stopped) = mpsc::channel::<()>();
        let (ready, is_ready) = mpsc::channel::<()>();
        let sampler = thread::Builder::new()
            .name("concur-meter".into())
            .spawn(move || {
                let mut peak = resident_bytes();
                let _ = ready.send(());
                // Samples until told to stop (or the meter is gone), then once more.
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(SAMPLE_EVERY)
                {
                    peak = peak.max(resident_bytes());
                }
                peak = peak.max(resident_bytes());
                let cpu = thread_id().map_or(Duration::ZERO, thread_cpu);
                Sampled {
                    peak_bytes: peak,
                    cpu,
                }
            })?;
        // The first sample is taken before the workload starts.
        let _ = is_ready.recv();
        let excluded = exclude.iter().map(|&tid| (tid, thread_cpu(tid))).collect();
        Ok(Meter {
            self_cpu: rusage(libc::RUSAGE_SELF),
            children_cpu: rusage(libc::RUSAGE_CHILDREN),
            excluded,
            stop,
            sampler,
            started: Instant::now(),
        })
    }

    /// Stops measuring and says what the workload used since [`start`](Self::start).
    pub(crate) fn finish(self) -> Usage {
        let wall = self.started.elapsed();
        let self_cpu = rusage(libc::RUSAGE_SELF).saturating_sub(self.self_cpu);
        let children_cpu = rusage(libc::RUSAGE_CHILDREN).saturating_sub(self.children_cpu);
        let others: Duration = self
            .excluded
            .iter()
            .map(|&(tid, before)| thread_cpu(tid).saturating_sub(before))
            .sum();
        let _ = self.stop.send(());
        let sampled = self.sampler.join().unwrap_or(Sampled {
            peak_bytes: 0,
            cpu: Duration::ZERO,
        });
        Usage {
            wall,
            cpu: (self_cpu + children_cpu)
                .saturating_sub(others)
                .saturating_sub(sampled.cpu),
            peak_bytes: sampled.peak_bytes,
        }
    }
}

/// The calling thread's id (what `gettid` returns), from `/proc/thread-self`.
pub(crate) fn thread_id() -> Option<u32> {
    // The link reads `<pid>/task/<tid>`.
    let link = std::fs::read_link("/proc/thread-self").ok()?;
    link.file_name()?.to_str()?.parse().ok()
}

/// The CPU time a thread of this process has used (zero if it cannot be read).
fn thread_cpu(tid: u32) -> Duration {
    std::fs::read_to_string(format!("/proc/self/task/{tid}/schedstat"))
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .map_or(Duration::ZERO, Duration::from_nanos)
}

/// User plus system CPU time of `who` (`RUSAGE_SELF` or `RUSAGE_CHILDREN`).
fn rusage(who: libc::c_int) -> Duration {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: `usage` is a valid, writable `rusage`; `who` is one of the two constants.
    let rc = unsafe { libc::getrusage(who, usage.as_mut_ptr()) };
    if rc != 0 {
        return Duration::ZERO;
    }
    // SAFETY: zero-initialised (a valid `rusage`: plain integers), then filled in.
    let usage = unsafe { usage.assume_init() };
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec.max(0) as u64) + Duration::from_micros(t.tv_usec.max(0) as u64)
    };
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

fn page_size() -> u64 {
    // SAFETY: `sysconf` only reads a configuration value.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if n > 0 {
        n as u64
    } else {
        4096
    }
}

/// Resident pages of a process, from `/proc/<pid>/statm` (0 if it has gone).
fn resident_pages(pid: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/statm"))
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}

/// The child processes of this process (of any of its threads).
fn children() -> Vec<String> {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    let mut pids = Vec::new();
    for task in tasks.flatten() {
        if let Ok(list) = std::fs::read_to_string(task.path().join("children")) {
            pids.extend(list.split_whitespace().map(str::to_owned));
        }
    }
    pids
}

/// Resident bytes of this process plus its children, now.
fn resident_bytes() -> u64 {
    let pages: u64 = resident_pages("self")
        + children()
            .iter()
            .map(|pid| resident_pages(pid))
            .sum::<u64>();
    pages * page_size()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_cpu_and_memory_of_this_process() {
        let meter = Meter::start(&[]).unwrap();
        // Touch 32 MiB and spin a little, so both numbers have something to show.
        let mut v = vec![1u8; 32 << 20];
        let mut x = 0u64;
        for (i, b) in v.iter_mut().enumerate() {
            x = x.wrapping_mul(31).wrapping_add(i as u64 ^ u64::from(*b));
            *b = x as u8;
        }
        std::hint::black_box(&v);
        let usage = meter.finish();
        assert!(usage.peak_bytes >= 32 << 20, "{usage:?}");
        assert!(usage.cpu > Duration::ZERO, "{usage:?}");
    }

    #[test]
    fn knows_its_thread_ids_and_their_cpu_time() {
        let main = thread_id().unwrap();
        let other = thread::spawn(|| thread_id().unwrap()).join().unwrap();
        assert_ne!(main, other);
        // The kernel counts CPU time in ticks: a thread that has barely run (this one,
        // on a busy machine) may still read zero. Work until the count moves; it must.
        let give_up = std::time::Instant::now() + Duration::from_secs(60);
        let mut x = 1u64;
        while thread_cpu(main) == Duration::ZERO {
            for i in 0..1_000_000u64 {
                x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(i));
            }
            assert!(
                std::time::Instant::now() < give_up,
                "a minute of work on this thread and its CPU time still reads zero"
            );
        }
    }
}
