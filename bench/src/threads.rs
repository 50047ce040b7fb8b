//! Thread pools side by side: concur, rayon (`spawn` + channel), the threadpool crate,
//! tokio's `spawn_blocking`, and CPython's ThreadPoolExecutor (a script, same run).

use std::sync::mpsc;
use std::time::Duration;

use crate::harness::{self, measure, Contender, Measured};

/// No-op tasks: submit `n`, then wait for all; 4 workers.
fn throughput(n: u64, rounds: usize) -> Measured {
    let concur = concur::ThreadPoolExecutor::new(4);
    let rayon = rayon::ThreadPoolBuilder::new()
        .num_threads(4)
        .build()
        .unwrap();
    let threadpool = threadpool::ThreadPool::new(4);
    let tokio = tokio::runtime::Builder::new_current_thread()
        .max_blocking_threads(4)
        .build()
        .unwrap();
    measure(
        "no-op submit-and-join throughput, 4 workers (per task)",
        n,
        rounds,
        vec![
            Contender::new("concur", |n| {
                let hs: Vec<_> = (0..n).map(|_| concur.submit(|| ())).collect();
                for h in hs {
                    h.join().unwrap();
                }
            }),
            Contender::new("rayon", |n| {
                let (tx, rx) = mpsc::channel();
                for _ in 0..n {
                    let tx = tx.clone();
                    rayon.spawn(move || tx.send(()).unwrap());
                }
                for _ in 0..n {
                    rx.recv().unwrap();
                }
            }),
            Contender::new("threadpool", |n| {
                let (tx, rx) = mpsc::channel();
                for _ in 0..n {
                    let tx = tx.clone();
                    threadpool.execute(move || tx.send(()).unwrap());
                }
                for _ in 0..n {
                    rx.recv().unwrap();
                }
            }),
            Contender::new("tokio spawn_blocking", |n| {
                tokio.block_on(async {
                    let hs: Vec<_> = (0..n).map(|_| tokio::task::spawn_blocking(|| ())).collect();
                    for h in hs {
                        h.await.unwrap();
                    }
                })
            }),
        ],
    )
}

/// One no-op task submitted and joined at a time; 1 worker.
fn latency(n: u64, rounds: usize) -> Measured {
    let concur = concur::ThreadPoolExecutor::new(1);
    let rayon = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let threadpool = threadpool::ThreadPool::new(1);
    let tokio = tokio::runtime::Builder::new_current_thread()
        .max_blocking_threads(1)
        .build()
        .unwrap();
    measure(
        "submit-then-join round trip, 1 worker",
        n,
        rounds,
        vec![
            Contender::new("concur", |n| {
                for _ in 0..n {
                    concur.submit(|| ()).join().unwrap();
                }
            }),
            Contender::new("rayon", |n| {
                let (tx, rx) = mpsc::channel();
                for _ in 0..n {
                    let tx = tx.clone();
                    rayon.spawn(move || tx.send(()).unwrap());
                    rx.recv().unwrap();
                }
            }),
            Contender::new("threadpool", |n| {
                let (tx, rx) = mpsc::channel();
                for _ in 0..n {
                    let tx = tx.clone();
                    threadpool.execute(move || tx.send(()).unwrap());
                    rx.recv().unwrap();
                }
            }),
            Contender::new("tokio spawn_blocking", |n| {
                tokio.block_on(async {
                    for _ in 0..n {
                        tokio::task::spawn_blocking(|| ()).await.unwrap();
                    }
                })
            }),
        ],
    )
}

/// Counts primes in `lo..hi` by trial division: CPU-bound, no shared data.
fn count_primes(lo: u64, hi: u64) -> u64 {
    (lo..hi)
        .filter(|&n| n >= 2 && (2..).take_while(|d| d * d <= n).all(|d| n % d != 0))
        .count() as u64
}

/// CPU-bound work in 256 chunks on one worker per CPU: how the pools scale with cores.
/// `n` is the upper bound of the primes counted per run.
fn scaling(n: u64, rounds: usize) -> Measured {
    let cpus = std::thread::available_parallelism().map_or(1, |c| c.get());
    let step = n.div_ceil(256);
    let chunks: Vec<(u64, u64)> = (0..n)
        .step_by(step as usize)
        .map(|lo| (lo, (lo + step).min(n)))
        .collect();
    let expected: u64 = chunks.iter().map(|&(lo, hi)| count_primes(lo, hi)).sum();
    // Sequential time first (median of the rounds), for the label.
    let mut seq: Vec<Duration> = (0..rounds.max(1))
        .map(|_| {
            let t = std::time::Instant::now();
            let total: u64 = chunks.iter().map(|&(lo, hi)| count_primes(lo, hi)).sum();
            assert_eq!(total, expected);
            t.elapsed()
        })
        .collect();
    seq.sort();
    let seq = seq[seq.len() / 2];
    let concur = concur::ThreadPoolExecutor::new(cpus);
    let rayon = rayon::ThreadPoolBuilder::new()
        .num_threads(cpus)
        .build()
        .unwrap();
    let threadpool = threadpool::ThreadPool::new(cpus);
    let name = format!(
        "CPU-bound: primes below {n} in 256 chunks, {cpus} workers, per run (sequential: {})",
        harness::fmt_time(seq)
    );
    let c = &chunks;
    let mut row = measure(
        &name,
        1,
        rounds,
        vec![
            Contender::new("concur", |_| {
                let total: u64 = concur
                    .map(|(lo, hi)| count_primes(lo, hi), c.iter().copied())
                    .map(Result::unwrap)
                    .sum();
                assert_eq!(total, expected);
            }),
            Contender::new("rayon", |_| {
                use rayon::prelude::*;
                let total: u64 =
                    rayon.install(|| c.par_iter().map(|&(lo, hi)| count_primes(lo, hi)).sum());
                assert_eq!(total, expected);
            }),
            Contender::new("threadpool", |_| {
                let (tx, rx) = mpsc::channel();
                for &(lo, hi) in c {
                    let tx = tx.clone();
                    threadpool.execute(move || tx.send(count_primes(lo, hi)).unwrap());
                }
                let total: u64 = (0..c.len()).map(|_| rx.recv().unwrap()).sum();
                assert_eq!(total, expected);
            }),
        ],
    );
    row.per_op.push(("tokio spawn_blocking", None));
    row
}

/// CPython's numbers, if `python3` is there: (throughput, latency) per operation.
fn cpython(n_tp: u64, n_lat: u64, rounds: usize) -> Option<(Duration, Duration, String)> {
    let out = harness::python_json(
        "thread_pool.py",
        &[n_tp.to_string(), n_lat.to_string(), rounds.to_string()],
    )?;
    Some((
        Duration::from_nanos(out.num("throughput_ns")? as u64),
        Duration::from_nanos(out.num("latency_ns")? as u64),
        out.str("version")?.to_owned(),
    ))
}

pub(crate) fn run(quick: bool, rounds: Option<usize>) -> Vec<Measured> {
    let (n_tp, n_lat, default_rounds) = if quick {
        (20_000, 5_000, 3)
    } else {
        (200_000, 50_000, 7)
    };
    let rounds = rounds.unwrap_or(default_rounds);
    let mut rows = vec![throughput(n_tp, rounds), latency(n_lat, rounds)];
    match cpython(n_tp / 10, n_lat / 10, rounds) {
        Some((tp, lat, version)) => {
            eprintln!("CPython {version} ThreadPoolExecutor measured in the same run");
            rows[0].per_op.push(("CPython", Some(tp)));
            rows[1].per_op.push(("CPython", Some(lat)));
        }
        None => {
            eprintln!("concur-bench: python3 not found or failed: the CPython column is n/a");
            for r in &mut rows {
                r.per_op.push(("CPython", None));
            }
        }
    }
    // After the CPython columns (which have no such row): the scaling row.
    let primes_below = if quick { 300_000 } else { 3_000_000 };
    let mut scale = scaling(primes_below, rounds);
    scale.per_op.push(("CPython", None));
    rows.push(scale);
    rows
}
