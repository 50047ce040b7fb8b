//! Process pools side by side: concur's `ProcessPoolExecutor`, procspawn's `Pool`
//! (`procspawn_peer`), CPython's `ProcessPoolExecutor` (`python/process_pool.py`, same
//! run) and, for the CPU-bound row, rayon and a sequential loop on the same work.
//!
//! Every contender runs the same six measurements at the same sizes (`procspawn_peer`'s
//! `Sizes`), with one worker per CPU; each is repeated `rounds` times and the median kept.
//! The rows have different units, so this suite prints its own table: each cell is a
//! contender's value and, in brackets, concur's advantage over it (`3.0x`: concur is three
//! times better, whichever direction "better" is on that row; below 1, concur is behind).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use concur::{JoinHandle, ProcessPoolExecutor, SharedBuffer};
use rayon::prelude::*;
use serde_bytes::ByteBuf;

use crate::harness;
use crate::procspawn_peer::{self, count_primes, prime_chunks, Sizes};

/// The longest wait, in seconds, for one concur result (or one round of `map`): past it the
/// row is reported as hung, the pool is killed, and the suite goes on. 30, or 10 with
/// `--quick` (the slowest task here takes well under a second).
static TIMEOUT_S: AtomicU64 = AtomicU64::new(30);

fn join_timeout() -> Duration {
    Duration::from_secs(TIMEOUT_S.load(Ordering::Relaxed))
}

/// The contenders, in column order; concur is the first.
const COLUMNS: [&str; 4] = ["concur", "procspawn", "CPython", "rayon"];

/// Short names of the rows, for the notes.
const ROWS: [&str; 8] = [
    "round trip",
    "throughput",
    "map",
    "first result",
    "64 MiB ByteBuf",
    "64 MiB SharedBuffer",
    "64 MiB SharedBuffer sent back",
    "CPU-bound speed-up",
];

/// One row of the table.
pub(crate) struct Row {
    benchmark: &'static str,
    /// The unit of the values, printed after each.
    unit: &'static str,
    /// Whether a higher value is better (a rate, a speed-up) or a lower one (a time).
    higher_is_better: bool,
    /// The target for concur.
    target: &'static str,
    /// One cell per entry of `COLUMNS`.
    values: [Cell; 4],
}

/// A contender's result on one row.
#[derive(Clone, Copy)]
enum Cell {
    Value(f64),
    /// The measurement hung (no result within `join_timeout()`) or failed; the reason is in
    /// the notes under the table.
    Hung,
    Failed,
    /// Not measured here (CPython missing, or no such variant).
    Missing,
}

/// The table: its rows and the notes printed under it.
pub(crate) struct Table {
    rows: Vec<Row>,
    notes: Vec<String>,
}

/// concur's cell for `r`; a failure's reason goes to `notes`.
fn concur_cell(r: &Result<f64, String>, what: &str, notes: &mut Vec<String>) -> Cell {
    match r {
        Ok(v) => Cell::Value(*v),
        Err(e) => {
            notes.push(format!("concur, {what}: {e}"));
            if e.starts_with("HUNG") {
                Cell::Hung
            } else {
                Cell::Failed
            }
        }
    }
}

/// procspawn's cell (its failures carry their own notes).
fn peer_cell(v: Option<f64>) -> Cell {
    v.map_or(Cell::Failed, Cell::Value)
}

/// CPython's cell: missing if the script did not run.
fn py_cell(v: Option<f64>) -> Cell {
    v.map_or(Cell::Missing, Cell::Value)
}

// The jobs: plain `fn(A) -> R`, as a process pool needs.

fn inc(x: u64) -> u64 {
    x + 1
}

fn bump_bytes(mut buf: ByteBuf) -> ByteBuf {
    for b in buf.iter_mut() {
        *b = b.wrapping_add(1);
    }
    buf
}

fn bump_shared(mut buf: SharedBuffer) -> SharedBuffer {
    for b in buf.iter_mut() {
        *b = b.wrapping_add(1);
    }
    buf
}

// concur's side. Each function returns one sample, or why there is none.

/// Joins `h`, failing after `JOIN_TIMEOUT` instead of hanging the benchmark.
fn join<R>(h: JoinHandle<R>) -> Result<R, String> {
    if !h.wait_timeout(join_timeout()) {
        return Err(format!("HUNG: no result after {:?}", join_timeout()));
    }
    h.join().map_err(|e| format!("task failed: {e}"))
}

fn check(ok: bool, what: &str) -> Result<(), String> {
    if ok {
        Ok(())
    } else {
        Err(what.to_owned())
    }
}

/// Mean µs per submit-and-join of one tiny task.
fn round_trip(pool: &ProcessPoolExecutor, n: u64) -> Result<f64, String> {
    let t = Instant::now();
    for i in 0..n {
        check(join(pool.submit(inc, i))? == i + 1, "wrong result")?;
    }
    Ok(t.elapsed().as_secs_f64() / n as f64 * 1e6)
}

/// Tiny tasks per second, all submitted, then all joined.
fn throughput(pool: &ProcessPoolExecutor, n: u64) -> Result<f64, String> {
    let t = Instant::now();
    let handles: Vec<_> = (0..n).map(|i| pool.submit(inc, i)).collect();
    let mut total = 0;
    for h in handles {
        total += join(h)?;
    }
    let elapsed = t.elapsed().as_secs_f64();
    check(total == n * (n + 1) / 2, "wrong sum")?;
    Ok(n as f64 / elapsed)
}

/// Items per second of `map` (automatic chunking). `map` has no time limit of its own, so
/// a watchdog kills the pool if the round takes longer than `join_timeout()`, which fails the
/// item it waits on instead of hanging the benchmark.
fn map_items(pool: &ProcessPoolExecutor, n: u64) -> Result<f64, String> {
    let (done, finished) = mpsc::channel::<()>();
    let hung = &AtomicBool::new(false);
    thread::scope(|s| {
        s.spawn(move || {
            if finished.recv_timeout(join_timeout()).is_err() {
                hung.store(true, Ordering::SeqCst);
                pool.shutdown_kill();
            }
        });
        let t = Instant::now();
        let mut total = 0;
        let mut outcome = Ok(());
        for (i, r) in pool.map(inc, 0..n).enumerate() {
            match r {
                Ok(v) => total += v,
                Err(e) => {
                    outcome = Err(if hung.load(Ordering::SeqCst) {
                        format!("HUNG: item {i} of {n} not back after {:?}", join_timeout())
                    } else {
                        format!("item {i} failed: {e}")
                    });
                    break;
                }
            }
        }
        let elapsed = t.elapsed().as_secs_f64();
        let _ = done.send(());
        outcome?;
        check(total == n * (n + 1) / 2, "wrong sum")?;
        Ok(n as f64 / elapsed)
    })
}

/// Milliseconds from `new` to the first result; the pool's drop is not timed.
fn first_result(workers: usize) -> Result<f64, String> {
    let t = Instant::now();
    let pool = ProcessPoolExecutor::new(workers).map_err(|e| e.to_string())?;
    let v = join(pool.submit(inc, 1));
    let elapsed = t.elapsed();
    if v.is_err() {
        // Dropping the pool would wait for the task that did not come back.
        pool.shutdown_kill();
    }
    check(v? == 2, "wrong result")?;
    Ok(elapsed.as_secs_f64() * 1e3)
}

/// GB/s of a `ByteBuf` argument and result, serialized: 2 x its size over the round trip.
/// The argument is copied from `src` before the clock starts.
fn large_bytes(pool: &ProcessPoolExecutor, src: &[u8]) -> Result<f64, String> {
    let arg = ByteBuf::from(src.to_vec());
    let t = Instant::now();
    let out = join(pool.submit(bump_bytes, arg))?;
    let elapsed = t.elapsed().as_secs_f64();
    check(
        out.len() == src.len()
            && out[0] == src[0].wrapping_add(1)
            && out[255] == src[255].wrapping_add(1),
        "wrong bytes",
    )?;
    Ok(2.0 * src.len() as f64 / elapsed / 1e9)
}

/// GB/s of a `SharedBuffer` argument and result (the worker adds 1 to each byte in place):
/// the buffer is filled before the clock starts and goes back and forth round after round.
///
/// A buffer that came back from a worker is sealed against writes (the worker could
/// otherwise still write it while this process reads it), so the worker copies it on its
/// first write. With `fresh`, that copy is made here before the clock starts (the buffer
/// starts each round as one this process made): the zero-copy path. Without, it is timed.
fn large_shared(
    pool: &ProcessPoolExecutor,
    buf: &mut Option<SharedBuffer>,
    fresh: bool,
) -> Result<f64, String> {
    let mut arg = buf
        .take()
        .ok_or("the shared buffer was lost in an earlier round")?;
    if fresh {
        arg.make_writable()
            .map_err(|e| format!("make_writable: {e}"))?;
    }
    let (len, first) = (arg.len(), arg[0]);
    let t = Instant::now();
    let out = join(pool.submit(bump_shared, arg))?;
    let elapsed = t.elapsed().as_secs_f64();
    check(
        out.len() == len && out[0] == first.wrapping_add(1),
        "wrong bytes",
    )?;
    *buf = Some(out);
    Ok(2.0 * len as f64 / elapsed / 1e9)
}

/// Seconds of the prime count through the pool, one task per chunk.
fn cpu_concur(pool: &ProcessPoolExecutor, chunks: &[(u64, u64)], want: u64) -> Result<f64, String> {
    let t = Instant::now();
    let handles: Vec<_> = chunks
        .iter()
        .map(|&c| pool.submit(count_primes, c))
        .collect();
    let mut n = 0;
    for h in handles {
        n += join(h)?;
    }
    let elapsed = t.elapsed().as_secs_f64();
    check(n == want, "pool and sequential counts differ")?;
    Ok(elapsed)
}

/// Runs `sample` `rounds` times (at least once) and keeps the median; the first failure
/// ends the row, reported with the row's name on stderr.
fn median_of(
    what: &str,
    rounds: usize,
    mut sample: impl FnMut() -> Result<f64, String>,
) -> Result<f64, String> {
    let mut v = Vec::with_capacity(rounds);
    for _ in 0..rounds.max(1) {
        match sample() {
            Ok(x) => v.push(x),
            Err(e) => {
                eprintln!("concur-bench: concur's {what} failed: {e}");
                return Err(e);
            }
        }
    }
    Ok(median(v))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// A pool of `workers` processes, every one started (the warm-up is not timed).
fn warm_pool(workers: usize) -> Result<ProcessPoolExecutor, String> {
    let pool = ProcessPoolExecutor::new(workers).map_err(|e| format!("new failed: {e}"))?;
    let warm = (0..workers as u64 * 4)
        .map(|i| pool.submit(inc, i))
        .map(join)
        .collect::<Result<Vec<_>, _>>();
    match warm {
        Ok(_) => Ok(pool),
        Err(e) => {
            pool.shutdown_kill();
            Err(format!("warm-up failed: {e}"))
        }
    }
}

/// concur's numbers, in the order of the rows. A row that fails kills its pool (a hung
/// task would otherwise hold its drop forever); the next row starts a fresh one.
fn concur_side(sizes: Sizes, workers: usize, rounds: usize) -> [Result<f64, String>; 7] {
    eprintln!("  concur: first result");
    let first = median_of("first result", rounds, || first_result(workers));
    let mut pool: Option<ProcessPoolExecutor> = None;
    let mut row =
        |what: &str, sample: &mut dyn FnMut(&ProcessPoolExecutor) -> Result<f64, String>| {
            if pool.is_none() {
                match warm_pool(workers) {
                    Ok(p) => pool = Some(p),
                    Err(e) => {
                        eprintln!("concur-bench: concur's pool for the {what} row: {e}");
                        return Err(format!("a fresh pool: {e}"));
                    }
                }
            }
            eprintln!("  concur: {what}");
            let p = pool.as_ref().expect("a pool");
            let v = median_of(what, rounds, || sample(p));
            if v.is_err() {
                p.shutdown_kill();
                pool = None;
            }
            v
        };
    let rt = row("round trip", &mut |p| round_trip(p, sizes.round_trips));
    let tp = row("throughput", &mut |p| throughput(p, sizes.throughput));
    let map = row("map", &mut |p| map_items(p, sizes.map_items));
    let src: Vec<u8> = (0..sizes.large_bytes).map(|i| i as u8).collect();
    let bytes = row("64 MiB ByteBuf", &mut |p| large_bytes(p, &src));
    let mut shared = SharedBuffer::from_slice(&src)
        .map_err(|e| eprintln!("concur-bench: SharedBuffer::from_slice failed: {e}"))
        .ok();
    let shm = row("64 MiB SharedBuffer", &mut |p| {
        large_shared(p, &mut shared, true)
    });
    let again = row("64 MiB SharedBuffer sent back", &mut |p| {
        large_shared(p, &mut shared, false)
    });
    [rt, tp, map, first, bytes, shm, again]
}

/// The CPU-bound row, in-process contenders in alternation round by round: the medians of
/// the sequential, concur's and rayon's seconds.
fn cpu_side(limit: u64, workers: usize, rounds: usize) -> (f64, Result<f64, String>, f64) {
    let chunks = prime_chunks(limit);
    let rayon = rayon::ThreadPoolBuilder::new()
        .num_threads(workers)
        .build()
        .expect("rayon pool");
    let want: u64 = chunks.iter().map(|&c| count_primes(c)).sum();
    // Warm-up: every worker started and the code's pages touched, outside the clock.
    let small = prime_chunks(limit / 100);
    let small_want = small.iter().map(|&c| count_primes(c)).sum();
    let mut pool = warm_pool(workers).and_then(|p| match cpu_concur(&p, &small, small_want) {
        Ok(_) => Ok(p),
        Err(e) => {
            p.shutdown_kill();
            Err(format!("warm-up: {e}"))
        }
    });
    rayon.install(|| small.par_iter().map(|&c| count_primes(c)).sum::<u64>());
    let (mut seq, mut con, mut ray) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds.max(1) {
        let t = Instant::now();
        let n: u64 = chunks.iter().map(|&c| count_primes(c)).sum();
        seq.push(t.elapsed().as_secs_f64());
        assert_eq!(n, want);
        if let Ok(p) = &pool {
            match cpu_concur(p, &chunks, want) {
                Ok(s) => con.push(s),
                Err(e) => {
                    p.shutdown_kill();
                    pool = Err(e);
                }
            }
        }
        let t = Instant::now();
        let n: u64 = rayon.install(|| chunks.par_iter().map(|&c| count_primes(c)).sum());
        ray.push(t.elapsed().as_secs_f64());
        assert_eq!(n, want);
    }
    if let Err(e) = &pool {
        eprintln!("concur-bench: concur's CPU-bound row failed: {e}");
    }
    (median(seq), pool.map(|_| median(con)), median(ray))
}

/// CPython's numbers, if `python3` is there.
fn cpython(quick: bool, workers: usize, rounds: usize) -> Option<harness::PyJson> {
    let mut args = vec!["--workers".to_owned(), workers.to_string()];
    args.extend(["--rounds".to_owned(), rounds.to_string()]);
    if quick {
        args.push("--quick".to_owned());
    }
    harness::python_json("process_pool.py", &args)
}

/// Runs every contender on every row.
pub(crate) fn run(quick: bool, rounds: Option<usize>) -> Table {
    let rounds = rounds.unwrap_or(if quick { 3 } else { 7 });
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let sizes = Sizes::new(quick);
    TIMEOUT_S.store(if quick { 10 } else { 30 }, Ordering::Relaxed);
    eprintln!("process pools: {workers} workers each, {rounds} rounds");

    let t = Instant::now();
    let c = concur_side(sizes, workers, rounds);
    eprintln!("  concur: {:.1} s", t.elapsed().as_secs_f64());
    let t = Instant::now();
    let cpu_rounds = rounds.min(if quick { 3 } else { 5 });
    let (seq, cpu_concur, cpu_rayon) = cpu_side(sizes.prime_limit, workers, cpu_rounds);
    eprintln!(
        "  CPU-bound row (sequential, concur, rayon): {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let p = procspawn_peer::run(quick, workers, rounds);
    eprintln!("  procspawn: {:.1} s", t.elapsed().as_secs_f64());
    assert_eq!(
        p.cpu_limit, sizes.prime_limit,
        "procspawn counted other primes"
    );
    // CPython is about 50 times slower per operation: fewer rounds.
    let py_rounds = rounds.min(if quick { 1 } else { 3 });
    let t = Instant::now();
    let py = cpython(quick, workers, py_rounds);
    eprintln!("  CPython: {:.1} s", t.elapsed().as_secs_f64());
    match &py {
        Some(py) => eprintln!(
            "CPython {} ProcessPoolExecutor measured in the same run (primes below {})",
            py.str("version").unwrap_or("?"),
            py.num("cpu_limit").unwrap_or(0.0),
        ),
        None => eprintln!("concur-bench: python3 not found or failed: the CPython column is n/a"),
    }
    let py = |name: &str| py_cell(py.as_ref().and_then(|py| py.num(name)));
    let mut notes = vec![format!(
        "{workers} workers per pool; medians of {rounds} rounds (CPU-bound row: {cpu_rounds}, \
         CPython: {py_rounds}). Speed-ups: over a sequential count of the primes below {} \
         in this process ({seq:.2} s) for concur, procspawn and rayon; CPython's over its \
         own sequential count (primes below {}).",
        sizes.prime_limit,
        match py("cpu_limit") {
            Cell::Value(n) => n.to_string(),
            _ => "n/a".to_owned(),
        },
    )];
    let c: Vec<Cell> = c
        .iter()
        .zip(ROWS)
        .map(|(r, what)| concur_cell(r, what, &mut notes))
        .collect();
    let cpu_concur = concur_cell(&cpu_concur.map(|s| seq / s), ROWS[7], &mut notes);
    notes.extend(p.failures.iter().map(|f| format!("procspawn, {f}")));
    let p_speedup = peer_cell(p.cpu_pool_s.map(|s| seq / s));
    let rows = vec![
        Row {
            benchmark: "round trip of one tiny task (submit, join)",
            unit: "µs",
            higher_is_better: false,
            target: "< 20 µs",
            values: [
                c[0],
                peer_cell(p.round_trip_us),
                py("round_trip_us"),
                Cell::Missing,
            ],
        },
        Row {
            benchmark: if quick {
                "throughput: 5,000 tiny tasks submitted, then joined"
            } else {
                "throughput: 20,000 tiny tasks submitted, then joined"
            },
            unit: "tasks/s",
            higher_is_better: true,
            target: "≥ 100 k/s",
            values: [
                c[1],
                peer_cell(p.throughput_tasks_per_s),
                py("throughput_tasks_per_s"),
                Cell::Missing,
            ],
        },
        Row {
            benchmark: if quick {
                "map of 200,000 tiny items"
            } else {
                "map of 1,000,000 tiny items"
            },
            unit: "items/s",
            higher_is_better: true,
            target: "≥ 2 M/s",
            values: [
                c[2],
                peer_cell(p.map_items_per_s),
                py("map_items_per_s"),
                Cell::Missing,
            ],
        },
        Row {
            benchmark: "new pool to first result",
            unit: "ms",
            higher_is_better: false,
            target: "< 5 ms",
            values: [
                c[3],
                peer_cell(p.first_result_ms),
                py("first_result_ms"),
                Cell::Missing,
            ],
        },
        Row {
            benchmark: "64 MiB argument + result, serialized (ByteBuf; CPython bytes)",
            unit: "GB/s",
            higher_is_better: true,
            target: "-",
            values: [
                c[4],
                peer_cell(p.large_gb_per_s),
                py("large_gb_per_s"),
                Cell::Missing,
            ],
        },
        Row {
            benchmark: "64 MiB argument + result, shared memory (SharedBuffer; procspawn Shmem)",
            unit: "GB/s",
            higher_is_better: true,
            target: "≥ 5 GB/s",
            values: [
                c[5],
                peer_cell(p.large_shmem_gb_per_s),
                Cell::Missing,
                Cell::Missing,
            ],
        },
        Row {
            benchmark: "the same, the result sent back again (a buffer from a worker is \
                        read-only: the worker copies it on its first write)",
            unit: "GB/s",
            higher_is_better: true,
            target: "-",
            values: [c[6], Cell::Missing, Cell::Missing, Cell::Missing],
        },
        Row {
            benchmark: "CPU-bound speed-up over sequential (primes, 64 chunks)",
            unit: "x",
            higher_is_better: true,
            target: "within 5% of rayon",
            values: [
                cpu_concur,
                p_speedup,
                py("cpu_speedup"),
                Cell::Value(seq / cpu_rayon),
            ],
        },
    ];
    Table { rows, notes }
}

/// Prints the table: one row per benchmark, each contender's value and concur's advantage
/// over it in brackets (above 1: concur is ahead), then the notes.
pub(crate) fn print(table: &Table) {
    print!("| benchmark | better | target |");
    for n in COLUMNS {
        print!(" {n} |");
    }
    println!("\n|---|---|---|---:|---:|---:|---:|");
    for row in &table.rows {
        print!(
            "| {} | {} | {} |",
            row.benchmark,
            if row.higher_is_better {
                "higher"
            } else {
                "lower"
            },
            row.target
        );
        for (i, cell) in row.values.iter().enumerate() {
            match (cell, row.values[0]) {
                (Cell::Value(v), Cell::Value(b)) if i > 0 => {
                    let adv = if row.higher_is_better { b / v } else { v / b };
                    print!(" {} ({adv:.2}x) |", harness::fmt_value(*v, row.unit));
                }
                (Cell::Value(v), _) => print!(" {} |", harness::fmt_value(*v, row.unit)),
                (Cell::Hung, _) => print!(" **hung** |"),
                (Cell::Failed, _) => print!(" failed |"),
                (Cell::Missing, _) => print!(" n/a |"),
            }
        }
        println!();
    }
    println!();
    println!("- (Nx) after a peer's value: concur's advantage over it (above 1: concur ahead).");
    for note in &table.notes {
        println!("- {note}");
    }
}
