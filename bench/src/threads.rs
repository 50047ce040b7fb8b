//! Thread pools side by side: concur, rayon (`spawn` + channel), the threadpool crate,
//! tokio's `spawn_blocking`, and CPython's ThreadPoolExecutor (a script, same run).

use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

use crate::harness::{measure, Contender, Measured};

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

/// CPython's numbers, if `python3` is there: (throughput, latency) per operation.
fn cpython(n_tp: u64, n_lat: u64, rounds: usize) -> Option<(Duration, Duration, String)> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/thread_pool.py");
    let out = Command::new("python3")
        .args([
            script,
            &n_tp.to_string(),
            &n_lat.to_string(),
            &rounds.to_string(),
        ])
        .output()
        .ok()?;
    if !out.status.success() {
        eprintln!(
            "concur-bench: the CPython script failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let field = |name: &str| -> Option<f64> {
        let rest = &text[text.find(&format!("\"{name}\": "))? + name.len() + 4..];
        rest[..rest.find([',', '}'])?]
            .trim()
            .trim_matches('"')
            .parse()
            .ok()
    };
    let version = {
        let rest = &text[text.find("\"version\": \"")? + 12..];
        rest[..rest.find('"')?].to_owned()
    };
    Some((
        Duration::from_nanos(field("throughput_ns")? as u64),
        Duration::from_nanos(field("latency_ns")? as u64),
        version,
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
    rows
}
