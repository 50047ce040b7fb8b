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

/// `n` round trips between two tasks through two queues (time per round trip).
fn ping_pong(n: u64, rounds: usize) -> Measured {
    let tokio = tokio_rt();
    let smol = smol::LocalExecutor::new();
    measure(
        "100,000 ping-pong round trips through two queues",
        n,
        rounds,
        vec![
            Contender::new("concur", |n| {
                use concur::aio::{self, sync::Queue};
                use std::rc::Rc;
                aio::run(async move {
                    let (ping, pong) = (Rc::new(Queue::new()), Rc::new(Queue::new()));
                    let (p, q) = (ping.clone(), pong.clone());
                    let echo = aio::spawn(async move {
                        for _ in 0..n {
                            let v: u64 = p.get().await;
                            q.put(v).await;
                        }
                    });
                    for i in 0..n {
                        ping.put(i).await;
                        assert_eq!(pong.get().await, i);
                    }
                    echo.await.unwrap();
                })
            }),
            Contender::new("tokio", |n| {
                tokio.block_on(async move {
                    let (ping_tx, mut ping_rx) = tokio::sync::mpsc::unbounded_channel::<u64>();
                    let (pong_tx, mut pong_rx) = tokio::sync::mpsc::unbounded_channel::<u64>();
                    let echo = tokio::spawn(async move {
                        while let Some(v) = ping_rx.recv().await {
                            pong_tx.send(v).unwrap();
                        }
                    });
                    for i in 0..n {
                        ping_tx.send(i).unwrap();
                        assert_eq!(pong_rx.recv().await, Some(i));
                    }
                    drop(ping_tx);
                    echo.await.unwrap();
                })
            }),
            Contender::new("smol", |n| {
                futures_lite::future::block_on(smol.run(async {
                    let (ping_tx, ping_rx) = smol::channel::unbounded::<u64>();
                    let (pong_tx, pong_rx) = smol::channel::unbounded::<u64>();
                    let echo = smol.spawn(async move {
                        while let Ok(v) = ping_rx.recv().await {
                            pong_tx.send(v).await.unwrap();
                        }
                    });
                    for i in 0..n {
                        ping_tx.send(i).await.unwrap();
                        assert_eq!(pong_rx.recv().await, Ok(i));
                    }
                    drop(ping_tx);
                    echo.await;
                }))
            }),
        ],
    )
}

/// CPython's asyncio (and uvloop), per operation, in the order of the Rust benchmarks.
fn cpython(args: [u64; 4], rounds: usize) -> Vec<(&'static str, Vec<Option<Duration>>)> {
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
                vec![None; 4]
            }
            Err(e) => {
                eprintln!("concur-bench: python3 not found ({e}): the {name} column is n/a");
                vec![None; 4]
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
        ping_pong(spawns, rounds),
    ];
    let args = [spawns / 10, tasks / 10, sleepers / 10, spawns / 10];
    for (name, values) in cpython(args, rounds.min(3)) {
        for (row, v) in rows
            .iter_mut()
            .zip(values.into_iter().chain(std::iter::repeat(None)))
        {
            row.per_op.push((name, v));
        }
    }
    rows
}
