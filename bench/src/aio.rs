//! Event loops side by side: concur::aio, tokio's current-thread runtime, smol's
//! LocalExecutor with async-io timers, and CPython's asyncio (and uvloop where installed).

use std::process::Command;
use std::time::Duration;

use crate::harness::{measure, Contender, Measured};

fn tokio_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
}

/// Spawn `n` empty tasks, then await them all.
fn spawn_join(n: u64, rounds: usize) -> Measured {
    let tokio = tokio_rt();
    let smol = smol::LocalExecutor::new();
    measure(
        "spawn and join (per task)",
        n,
        rounds,
        vec![
            Contender::new("concur", |n| {
                concur::aio::run(async move {
                    let ts: Vec<_> = (0..n)
                        .map(|i| concur::aio::spawn(async move { i }))
                        .collect();
                    for t in ts {
                        t.await.unwrap();
                    }
                })
            }),
            Contender::new("tokio", |n| {
                tokio.block_on(async move {
                    let ts: Vec<_> = (0..n).map(|i| tokio::spawn(async move { i })).collect();
                    for t in ts {
                        t.await.unwrap();
                    }
                })
            }),
            Contender::new("smol", |n| {
                futures_lite::future::block_on(smol.run(async {
                    let ts: Vec<_> = (0..n).map(|i| smol.spawn(async move { i })).collect();
                    for t in ts {
                        t.await;
                    }
                }))
            }),
        ],
    )
}

/// `tasks` tasks each yielding 100 times (time per yield).
fn yields(tasks: u64, rounds: usize) -> Measured {
    let tokio = tokio_rt();
    let smol = smol::LocalExecutor::new();
    const YIELDS: u64 = 100;
    measure(
        "1,000 tasks x 100 yields (per yield)",
        tasks * YIELDS,
        rounds,
        vec![
            Contender::new("concur", |n| {
                concur::aio::run(async move {
                    let ts: Vec<_> = (0..n / YIELDS)
                        .map(|_| {
                            concur::aio::spawn(async {
                                for _ in 0..YIELDS {
                                    concur::aio::yield_now().await;
                                }
                            })
                        })
                        .collect();
                    for t in ts {
                        t.await.unwrap();
                    }
                })
            }),
            Contender::new("tokio", |n| {
                tokio.block_on(async move {
                    let ts: Vec<_> = (0..n / YIELDS)
                        .map(|_| {
                            tokio::spawn(async {
                                for _ in 0..YIELDS {
                                    tokio::task::yield_now().await;
                                }
                            })
                        })
                        .collect();
                    for t in ts {
                        t.await.unwrap();
                    }
                })
            }),
            Contender::new("smol", |n| {
                futures_lite::future::block_on(smol.run(async {
                    let ts: Vec<_> = (0..n / YIELDS)
                        .map(|_| {
                            smol.spawn(async {
                                for _ in 0..YIELDS {
                                    futures_lite::future::yield_now().await;
                                }
                            })
                        })
                        .collect();
                    for t in ts {
                        t.await;
                    }
                }))
            }),
        ],
    )
}

/// `n` tasks each sleeping 1 ms, all at once (time per task, wall clock of the batch).
fn sleeps(n: u64, rounds: usize) -> Measured {
    let tokio = tokio_rt();
    let smol = smol::LocalExecutor::new();
    let ms = Duration::from_millis(1);
    measure(
        "100,000 concurrent 1 ms sleeps (per task)",
        n,
        rounds,
        vec![
            Contender::new("concur", |n| {
                concur::aio::run(async move {
                    let ts: Vec<_> = (0..n)
                        .map(|_| concur::aio::spawn(concur::aio::sleep(ms)))
                        .collect();
                    for t in ts {
                        t.await.unwrap();
                    }
                })
            }),
            Contender::new("tokio", |n| {
                tokio.block_on(async move {
                    let ts: Vec<_> = (0..n)
                        .map(|_| tokio::spawn(tokio::time::sleep(ms)))
                        .collect();
                    for t in ts {
                        t.await.unwrap();
                    }
                })
            }),
            Contender::new("smol", |n| {
                futures_lite::future::block_on(smol.run(async {
                    let ts: Vec<_> = (0..n)
                        .map(|_| {
                            smol.spawn(async move {
                                async_io::Timer::after(ms).await;
                            })
                        })
                        .collect();
                    for t in ts {
                        t.await;
                    }
                }))
            }),
        ],
    )
}

/// CPython's asyncio (and uvloop), per operation, in the order of the Rust benchmarks.
fn cpython(args: [u64; 3], rounds: usize) -> Vec<(&'static str, Vec<Option<Duration>>)> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/event_loop.py");
    let mut columns = Vec::new();
    for (name, flavour) in [("asyncio", "asyncio"), ("uvloop", "uvloop")] {
        let out = Command::new("python3")
            .arg(script)
            .arg(flavour)
            .args(args.iter().map(u64::to_string))
            .arg(rounds.to_string())
            .output();
        let values = match out {
            Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout)
                .split_whitespace()
                .map(|v| {
                    v.parse::<f64>()
                        .ok()
                        .map(|ns| Duration::from_nanos(ns as u64))
                })
                .collect(),
            Ok(o) => {
                eprintln!(
                    "concur-bench: {name} unavailable: {}",
                    String::from_utf8_lossy(&o.stderr)
                        .lines()
                        .last()
                        .unwrap_or("")
                );
                vec![None; 3]
            }
            Err(e) => {
                eprintln!("concur-bench: python3 not found ({e}): the {name} column is n/a");
                vec![None; 3]
            }
        };
        columns.push((name, values));
    }
    columns
}

pub(crate) fn run(quick: bool, rounds: Option<usize>) -> Vec<Measured> {
    let (spawns, tasks, sleepers, default_rounds) = if quick {
        (10_000, 100, 10_000, 3)
    } else {
        (100_000, 1_000, 100_000, 7)
    };
    let rounds = rounds.unwrap_or(default_rounds);
    let mut rows = vec![
        spawn_join(spawns, rounds),
        yields(tasks, rounds),
        sleeps(sleepers, rounds),
    ];
    for (name, values) in cpython([spawns / 10, tasks / 10, sleepers / 10], rounds.min(3)) {
        for (row, v) in rows
            .iter_mut()
            .zip(values.into_iter().chain(std::iter::repeat(None)))
        {
            row.per_op.push((name, v));
        }
    }
    rows
}
