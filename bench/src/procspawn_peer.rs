//! procspawn's `Pool` on the process-pool benchmarks of concur-bench: the Rust peer of
//! `python/process_pool.py`, measuring the same six things at the same sizes.
//!
//! procspawn starts each worker by running this executable again, and the child takes over
//! inside `procspawn::init()`. So `main` must make this call its very first line, before
//! argument parsing or anything else (code before it would run again in every worker):
//!
//! ```text
//! procspawn_peer::init();
//! ```
//!
//! Without it every benchmark here reports `None` (procspawn panics "procspawn was not
//! initialized" before it starts a process, and that panic is caught).
//!
//! Every measurement is an `Option`: an error or a panic inside procspawn (it unwraps the
//! creation of its IPC channels, so running out of file descriptors panics) is caught,
//! reported on stderr and in `PeerResults::failures`, and leaves that one measurement
//! `None`; the others still run.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use procspawn::serde::{with_ipc_mode, Shmem};
use procspawn::{JoinHandle, Pool};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_bytes::ByteBuf;

/// Items per job in the map benchmark: procspawn has no `map`, so the items are cut into
/// chunks of this many, one `Pool::spawn` per chunk, joined in order (the counterpart of
/// `pool.map(f, items, chunksize=10_000)` in the CPython script).
pub(crate) const MAP_CHUNK: u64 = 10_000;

/// Chunks of the prime-counting range, run one after the other in-process or as one job
/// each through the pool.
pub(crate) const CPU_CHUNKS: u64 = 64;

/// The longest wait for one job: past it the job counts as failed rather than hanging the
/// benchmark (procspawn would otherwise wait forever on a worker that cannot be restarted).
const JOIN_TIMEOUT: Duration = Duration::from_secs(120);

/// procspawn's numbers; `None` where a measurement failed (the reason went to stderr).
#[derive(Debug, Clone, Default)]
pub(crate) struct PeerResults {
    /// Mean microseconds per submit-and-join of one tiny task (`x -> x + 1`).
    pub(crate) round_trip_us: Option<f64>,
    /// Tiny tasks per second, all submitted first, then all joined.
    pub(crate) throughput_tasks_per_s: Option<f64>,
    /// Seconds the throughput batch took.
    pub(crate) throughput_s: Option<f64>,
    /// Items per second of the chunked map (`MAP_CHUNK` items per job).
    pub(crate) map_items_per_s: Option<f64>,
    /// Milliseconds from `Pool::new` to the first tiny result, pool creation included.
    pub(crate) first_result_ms: Option<f64>,
    /// GB/s (1e9 bytes) of a 64 MiB `ByteBuf` argument plus a 64 MiB `ByteBuf` result,
    /// serialized through procspawn's IPC channel: 128 MiB over the round trip's time.
    pub(crate) large_gb_per_s: Option<f64>,
    /// Seconds of that round trip.
    pub(crate) large_s: Option<f64>,
    /// The same with procspawn's own `Shmem` (shared memory, read-only, so the worker
    /// writes its result into a new one): procspawn's fast path for bytes.
    pub(crate) large_shmem_gb_per_s: Option<f64>,
    /// Sequential time / pool time of counting primes by trial division.
    pub(crate) cpu_speedup: Option<f64>,
    /// Seconds of the sequential, in-process count (one run).
    pub(crate) cpu_seq_s: Option<f64>,
    /// Seconds of the count through the pool (the median over the rounds).
    pub(crate) cpu_pool_s: Option<f64>,
    /// N of the prime count (primes below N), for the caller to run its own contender on
    /// the same work: 1,000,000 with `quick`, else 5,000,000 (CPython's script defaults to
    /// 1/5 of that, being about 50 times slower per division; `--cpu-limit` sets it).
    pub(crate) cpu_limit: u64,
    /// Why each `None` above is `None`, one line per failed measurement.
    pub(crate) failures: Vec<String>,
}

/// What `main` must call first (see the module's documentation): in a worker process this
/// never returns; in the benchmark's own process it only records that procspawn is set up.
pub(crate) fn init() {
    procspawn::init();
}

/// The sizes of one run; the CPython script and concur's side use the same ones.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sizes {
    /// Submit-and-join round trips of one tiny task.
    pub(crate) round_trips: u64,
    /// Tiny tasks submitted, then joined.
    pub(crate) throughput: u64,
    /// Items of the map.
    pub(crate) map_items: u64,
    /// Bytes of the large argument (and of the result).
    pub(crate) large_bytes: usize,
    /// N of the prime count (primes below N).
    pub(crate) prime_limit: u64,
}

impl Sizes {
    /// The sizes for a full run, or for a `quick` one.
    pub(crate) fn new(quick: bool) -> Self {
        if quick {
            Sizes {
                round_trips: 2_000,
                throughput: 5_000,
                map_items: 200_000,
                large_bytes: 64 << 20,
                prime_limit: 1_000_000,
            }
        } else {
            Sizes {
                round_trips: 10_000,
                throughput: 20_000,
                map_items: 1_000_000,
                large_bytes: 64 << 20,
                prime_limit: 5_000_000,
            }
        }
    }
}

/// Runs the six benchmarks with `workers` worker processes (at least one), each `rounds`
/// times (at least once), and keeps each one's median; the order is the CPython script's:
/// the first result on a fresh pool, then the rest on one shared pool.
pub(crate) fn run(quick: bool, workers: usize, rounds: usize) -> PeerResults {
    let workers = workers.max(1);
    let sizes = Sizes::new(quick);
    let mut failures = Vec::new();
    let mut r = PeerResults {
        first_result_ms: guarded("first result", &mut failures, || {
            median_of(rounds, || first_result(workers))
        }),
        cpu_limit: sizes.prime_limit,
        ..PeerResults::default()
    };
    let Some(pool) = guarded("Pool::new", &mut failures, || {
        Pool::new(workers).map_err(|e| e.to_string())
    }) else {
        r.failures = failures;
        return r;
    };
    r.round_trip_us = guarded("round trip", &mut failures, || {
        median_of(rounds, || round_trip(&pool, sizes.round_trips))
    });
    // Medians of the times; the rates follow from them.
    if let Some(secs) = guarded("throughput", &mut failures, || {
        median_of(rounds, || throughput(&pool, sizes.throughput).map(|r| r.1))
    }) {
        r.throughput_tasks_per_s = Some(sizes.throughput as f64 / secs);
        r.throughput_s = Some(secs);
    }
    r.map_items_per_s = guarded("map", &mut failures, || {
        median_of(rounds, || map_items(&pool, sizes.map_items))
    });
    if let Some(secs) = guarded("64 MiB ByteBuf", &mut failures, || {
        median_of(rounds, || large(&pool, sizes.large_bytes).map(|r| r.1))
    }) {
        r.large_gb_per_s = Some(2.0 * sizes.large_bytes as f64 / secs / 1e9);
        r.large_s = Some(secs);
    }
    r.large_shmem_gb_per_s = guarded("64 MiB Shmem", &mut failures, || {
        median_of(rounds, || large_shmem(&pool, sizes.large_bytes))
    });
    // The sequential count is the caller's to measure (`count_primes` on `prime_chunks`);
    // here it runs once, for the speed-up of this peer alone; the pool time is a median.
    if let Some((speedup, seq, par)) = guarded("primes", &mut failures, || {
        let seq = cpu_sequential(sizes.prime_limit);
        let par = median_of(rounds, || cpu_pool(&pool, sizes.prime_limit, seq.1))?;
        Ok((seq.0 / par, seq.0, par))
    }) {
        r.cpu_speedup = Some(speedup);
        r.cpu_seq_s = Some(seq);
        r.cpu_pool_s = Some(par);
    }
    // Dropping the pool kills its processes, as `shutdown` would after the joins above.
    drop(pool);
    r.failures = failures;
    r
}

// The jobs. procspawn sends a function pointer, so each is a plain `fn(A) -> R`.

fn inc(x: u64) -> u64 {
    x + 1
}

fn inc_all(mut xs: Vec<u64>) -> Vec<u64> {
    for x in &mut xs {
        *x += 1;
    }
    xs
}

fn bump(mut buf: ByteBuf) -> ByteBuf {
    for b in buf.iter_mut() {
        *b = b.wrapping_add(1);
    }
    buf
}

fn bump_shmem(buf: Shmem) -> Shmem {
    let out: Vec<u8> = buf.iter().map(|b| b.wrapping_add(1)).collect();
    Shmem::from_bytes(&out)
}

/// The number of primes in `lo..hi`, by trial division: the CPU-bound job of every
/// contender.
pub(crate) fn count_primes((lo, hi): (u64, u64)) -> u64 {
    let mut n = 0;
    for k in lo.max(2)..hi {
        let mut d = 2;
        let mut prime = true;
        while d * d <= k {
            if k % d == 0 {
                prime = false;
                break;
            }
            d += 1;
        }
        n += u64::from(prime);
    }
    n
}

// The benchmarks.

fn first_result(workers: usize) -> Result<f64, String> {
    let t = Instant::now();
    let pool = Pool::new(workers).map_err(|e| e.to_string())?;
    let v = join(pool.spawn(1, inc))?;
    let elapsed = t.elapsed();
    check(v == 2, "wrong result")?;
    Ok(elapsed.as_secs_f64() * 1e3)
}

fn round_trip(pool: &Pool, n: u64) -> Result<f64, String> {
    join(pool.spawn(0, inc))?; // warm-up
    let t = Instant::now();
    for i in 0..n {
        check(join(pool.spawn(i, inc))? == i + 1, "wrong result")?;
    }
    Ok(t.elapsed().as_secs_f64() / n as f64 * 1e6)
}

fn throughput(pool: &Pool, n: u64) -> Result<(f64, f64), String> {
    let t = Instant::now();
    let mut handles = Vec::with_capacity(n as usize);
    for i in 0..n {
        // Each queued task holds IPC channels (file descriptors) until it runs: with many
        // queued, `Pool::spawn` panics on "Too many open files". Catch it here, to report
        // how many were queued and to join those before the pool is used again.
        match catch_unwind(AssertUnwindSafe(|| pool.spawn(i, inc))) {
            Ok(h) => handles.push(h),
            Err(p) => {
                let queued = handles.len();
                for h in handles {
                    join(h).ok();
                }
                return Err(format!(
                    "Pool::spawn panicked with {queued} of {n} tasks queued: {}",
                    panic_message(p.as_ref())
                ));
            }
        }
    }
    let mut total = 0;
    for h in handles {
        total += join(h)?;
    }
    let elapsed = t.elapsed().as_secs_f64();
    check(total == n * (n + 1) / 2, "wrong sum")?;
    Ok((n as f64 / elapsed, elapsed))
}

fn map_items(pool: &Pool, n: u64) -> Result<f64, String> {
    let t = Instant::now();
    let handles: Vec<_> = (0..n)
        .step_by(MAP_CHUNK as usize)
        .map(|lo| {
            let chunk: Vec<u64> = (lo..(lo + MAP_CHUNK).min(n)).collect();
            pool.spawn(chunk, inc_all)
        })
        .collect();
    let mut total = 0;
    for h in handles {
        total += join(h)?.iter().sum::<u64>();
    }
    let elapsed = t.elapsed().as_secs_f64();
    check(total == n * (n + 1) / 2, "wrong sum")?;
    Ok(n as f64 / elapsed)
}

fn large(pool: &Pool, size: usize) -> Result<(f64, f64), String> {
    let buf: Vec<u8> = (0..size).map(|i| i as u8).collect();
    let t = Instant::now();
    let out = join(pool.spawn(ByteBuf::from(buf), bump))?;
    let elapsed = t.elapsed().as_secs_f64();
    check(
        out.len() == size && out[0] == 1 && out[255] == 0,
        "wrong bytes",
    )?;
    Ok((2.0 * size as f64 / elapsed / 1e9, elapsed))
}

fn large_shmem(pool: &Pool, size: usize) -> Result<f64, String> {
    let buf: Vec<u8> = (0..size).map(|i| i as u8).collect();
    let t = Instant::now();
    // `Pool::spawn` (unlike `procspawn::spawn`) serializes its argument outside procspawn's
    // "IPC mode", so a `Shmem` goes out as plain bytes while the worker expects a shared
    // memory handle, and the worker panics with `SerdeDeCustom`. Entering the mode around
    // the call (`with_ipc_mode` is public) makes the argument go as shared memory.
    let handle = with_ipc_mode(|| pool.spawn(Shmem::from_bytes(&buf), bump_shmem));
    let out = join(handle)?;
    let elapsed = t.elapsed().as_secs_f64();
    check(
        out.len() == size && out[0] == 1 && out[255] == 0,
        "wrong bytes",
    )?;
    Ok(2.0 * size as f64 / elapsed / 1e9)
}

/// `0..limit` cut into `CPU_CHUNKS` ranges for `count_primes`.
pub(crate) fn prime_chunks(limit: u64) -> Vec<(u64, u64)> {
    let step = limit.div_ceil(CPU_CHUNKS).max(1);
    (0..limit)
        .step_by(step as usize)
        .map(|lo| (lo, (lo + step).min(limit)))
        .collect()
}

/// (seconds, count) of the sequential, in-process count.
fn cpu_sequential(limit: u64) -> (f64, u64) {
    let t = Instant::now();
    let n = prime_chunks(limit).into_iter().map(count_primes).sum();
    (t.elapsed().as_secs_f64(), n)
}

/// Seconds of the count through the pool, one job per chunk; `seq` is the right count.
fn cpu_pool(pool: &Pool, limit: u64, seq: u64) -> Result<f64, String> {
    let chunks = prime_chunks(limit);
    let t = Instant::now();
    let handles: Vec<_> = chunks
        .iter()
        .map(|&c| pool.spawn(c, count_primes))
        .collect();
    let mut par = 0;
    for h in handles {
        par += join(h)?;
    }
    let pool_s = t.elapsed().as_secs_f64();
    check(seq == par, "pool and sequential counts differ")?;
    Ok(pool_s)
}

// Error handling: nothing here panics out of `run`.

fn join<T: Serialize + DeserializeOwned>(mut h: JoinHandle<T>) -> Result<T, String> {
    h.join_timeout(JOIN_TIMEOUT).map_err(|e| e.to_string())
}

/// Runs `f` `rounds` times (at least once) and returns the median; the first error ends it.
fn median_of(rounds: usize, mut f: impl FnMut() -> Result<f64, String>) -> Result<f64, String> {
    let mut v = (0..rounds.max(1))
        .map(|_| f())
        .collect::<Result<Vec<f64>, String>>()?;
    v.sort_by(f64::total_cmp);
    Ok(v[v.len() / 2])
}

fn check(ok: bool, what: &str) -> Result<(), String> {
    if ok {
        Ok(())
    } else {
        Err(what.to_owned())
    }
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    crate::harness::panic_text(p).unwrap_or_else(|| "panic".to_owned())
}

/// Runs one measurement; an error or a panic is reported on stderr and in `failures`, and
/// gives `None`.
fn guarded<T>(
    what: &str,
    failures: &mut Vec<String>,
    f: impl FnOnce() -> Result<T, String>,
) -> Option<T> {
    // The panic is reported below, in one line: no message and backtrace from the hook.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let outcome = catch_unwind(AssertUnwindSafe(f));
    std::panic::set_hook(hook);
    let why = match outcome {
        Ok(Ok(v)) => return Some(v),
        Ok(Err(e)) => format!("{what} failed: {e}"),
        Err(p) => format!("{what} panicked: {}", panic_message(p.as_ref())),
    };
    eprintln!("concur-bench: procspawn {why}");
    failures.push(why);
    None
}
