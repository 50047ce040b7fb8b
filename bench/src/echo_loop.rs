//! `echo-loop`: issue 17's own setup. TCP echo of 1 KiB messages over 50 connections,
//! the clients and the servers as tasks of one loop on one thread, so that the loop's
//! whole cost per round trip (two writes, two reads, and its waits) is on that thread:
//! its CPU time per round trip, beside a floor (one blocking connection whose two ends a
//! single thread drives: write, read, write, read) and tokio current_thread and monoio
//! running the same tasks.
//!
//! Each side reads with `read_exact` (the messages have a fixed size), as a user of
//! these runtimes writes a framed protocol; syscalls per round trip come from
//! `strace -f -c` on one row (`--only`), see BENCHMARKS.md.

use std::io::{Read, Write};
use std::thread;

use crate::echo::thread_cpu_ns;

/// The size of a message.
const SIZE: usize = 1024;
/// Connections, each a client task and a server task.
const CONNS: usize = 50;

/// What one run of a row measured: CPU and wall nanoseconds from the moment every
/// connection was up to the last echo.
struct Sample {
    cpu: u64,
    wall: u64,
}

/// A row: the name `--only` takes, its label, and the run (`per_conn` round trips on each
/// of [`CONNS`] connections; the floor runs `CONNS * per_conn` on one).
struct Row {
    key: &'static str,
    label: &'static str,
    run: fn(u64) -> Result<Sample, String>,
}

const ROWS: [Row; 5] = [
    Row {
        key: "floor",
        label: "floor: one thread, one blocking connection, write/read/write/read",
        run: floor,
    },
    Row {
        key: "concur-epoll",
        label: "concur::aio, epoll",
        run: |n| concur(n, concur::aio::Driver::Epoll),
    },
    Row {
        key: "concur-io_uring",
        label: "concur::aio, io_uring",
        run: |n| concur(n, concur::aio::Driver::IoUring),
    },
    Row {
        key: "tokio",
        label: "tokio current_thread",
        run: tokio,
    },
    Row {
        key: "monoio",
        label: "monoio 0.2, io_uring, owned buffers",
        run: monoio,
    },
];

/// Starts the clock: CPU of this thread and wall time.
fn start() -> (u64, std::time::Instant) {
    (thread_cpu_ns(), std::time::Instant::now())
}

fn stop((cpu, wall): (u64, std::time::Instant)) -> Sample {
    Sample {
        cpu: thread_cpu_ns() - cpu,
        wall: wall.elapsed().as_nanos() as u64,
    }
}

/// The floor: both ends of one connection driven by this thread with blocking calls.
fn floor(per_conn: u64) -> Result<Sample, String> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let mut client = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (mut server, _) = l.accept().unwrap();
    client.set_nodelay(true).unwrap();
    server.set_nodelay(true).unwrap();
    let msg = [7u8; SIZE];
    let mut buf = [0u8; SIZE];
    let t = start();
    for _ in 0..per_conn * CONNS as u64 {
        client.write_all(&msg).unwrap();
        server.read_exact(&mut buf).unwrap();
        server.write_all(&buf).unwrap();
        client.read_exact(&mut buf).unwrap();
    }
    Ok(stop(t))
}

fn concur(per_conn: u64, driver: concur::aio::Driver) -> Result<Sample, String> {
    use concur::aio::io::{AsyncReadExt, AsyncWriteExt};
    use concur::aio::{self, net::TcpListener, net::TcpStream};
    aio::Builder::new().driver(driver).run(async move {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let mut clients = Vec::new();
        let mut servers = Vec::new();
        for _ in 0..CONNS {
            let c = TcpStream::connect(addr).await.unwrap();
            let (s, _) = l.accept().await.unwrap();
            c.set_nodelay(true).unwrap();
            s.set_nodelay(true).unwrap();
            clients.push(c);
            servers.push(s);
        }
        let t = start();
        let mut tasks = Vec::new();
        for mut s in servers {
            tasks.push(aio::spawn(async move {
                let mut buf = [0u8; SIZE];
                while s.read_exact(&mut buf).await.is_ok() {
                    s.write_all(&buf).await.unwrap();
                }
            }));
        }
        for mut c in clients {
            tasks.push(aio::spawn(async move {
                let msg = [7u8; SIZE];
                let mut buf = [0u8; SIZE];
                for _ in 0..per_conn {
                    c.write_all(&msg).await.unwrap();
                    c.read_exact(&mut buf).await.unwrap();
                }
                // Dropped: the server sees the end of the stream.
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        Ok(stop(t))
    })
}

fn tokio(per_conn: u64) -> Result<Sample, String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .unwrap();
    rt.block_on(async move {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let mut pairs = Vec::new();
        for _ in 0..CONNS {
            let c = tokio::net::TcpStream::connect(addr).await.unwrap();
            let (s, _) = l.accept().await.unwrap();
            c.set_nodelay(true).unwrap();
            s.set_nodelay(true).unwrap();
            pairs.push((c, s));
        }
        let t = start();
        let mut tasks = Vec::new();
        for (mut c, mut s) in pairs {
            tasks.push(tokio::spawn(async move {
                let mut buf = [0u8; SIZE];
                while s.read_exact(&mut buf).await.is_ok() {
                    s.write_all(&buf).await.unwrap();
                }
            }));
            tasks.push(tokio::spawn(async move {
                let msg = [7u8; SIZE];
                let mut buf = [0u8; SIZE];
                for _ in 0..per_conn {
                    c.write_all(&msg).await.unwrap();
                    c.read_exact(&mut buf).await.unwrap();
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        Ok(stop(t))
    })
}

fn monoio(per_conn: u64) -> Result<Sample, String> {
    use monoio::io::{AsyncReadRentExt, AsyncWriteRentExt};
    let mut rt = monoio::RuntimeBuilder::<monoio::IoUringDriver>::new()
        .build()
        .map_err(|e| format!("monoio's io_uring runtime cannot start here: {e}"))?;
    rt.block_on(async move {
        let l = monoio::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let mut pairs = Vec::new();
        for _ in 0..CONNS {
            let c = monoio::net::TcpStream::connect(addr).await.unwrap();
            let (s, _) = l.accept().await.unwrap();
            c.set_nodelay(true).unwrap();
            s.set_nodelay(true).unwrap();
            pairs.push((c, s));
        }
        let t = start();
        let mut tasks = Vec::new();
        for (mut c, mut s) in pairs {
            tasks.push(monoio::spawn(async move {
                let mut buf = vec![0u8; SIZE];
                loop {
                    let (r, b) = s.read_exact(buf).await;
                    if r.is_err() {
                        break;
                    }
                    let (r, b) = s.write_all(b).await;
                    r.unwrap();
                    buf = b;
                }
            }));
            tasks.push(monoio::spawn(async move {
                let mut msg = vec![7u8; SIZE];
                let mut buf = vec![0u8; SIZE];
                for _ in 0..per_conn {
                    let (r, m) = c.write_all(msg).await;
                    r.unwrap();
                    msg = m;
                    let (r, b) = c.read_exact(buf).await;
                    r.unwrap();
                    buf = b;
                }
            }));
        }
        for task in tasks {
            task.await;
        }
        Ok(stop(t))
    })
}

/// Runs `row` on a thread of its own (a loop per run, as a program would have).
fn run_row(row: &Row, per_conn: u64) -> Result<Sample, String> {
    let run = row.run;
    match thread::Builder::new()
        .name("echo-loop".into())
        .spawn(move || run(per_conn))
        .unwrap()
        .join()
    {
        Ok(r) => r,
        Err(panic) => {
            Err(crate::harness::panic_text(panic.as_ref())
                .unwrap_or_else(|| "the row panicked".into()))
        }
    }
}

/// `concur-bench echo-loop`: the table of CPU and wall time per round trip, each row's
/// median of `rounds` runs, the rows in alternation; with `only`, that row alone.
pub(crate) fn run(quick: bool, rounds: Option<usize>, only: Option<&str>) -> Result<(), String> {
    let per_conn: u64 = if quick { 200 } else { 2_000 };
    let trips = per_conn * CONNS as u64;
    let rounds = rounds.unwrap_or(if quick { 1 } else { 5 });
    let rows = crate::harness::pick_rows(&ROWS, |r| r.key, only)?;
    // A warm-up run of each at a tenth of the round trips.
    let (samples, skipped) = crate::harness::run_rounds(&rows, rounds, |r, warm_up| {
        run_row(r, if warm_up { per_conn / 10 } else { per_conn })
    });
    let per_rt: Vec<Option<(f64, f64)>> = samples
        .into_iter()
        .zip(&skipped)
        .map(|(mut s, skip)| {
            if skip.is_some() || s.is_empty() {
                return None;
            }
            s.sort_by_key(|x| x.cpu);
            let cpu = s[s.len() / 2].cpu;
            s.sort_by_key(|x| x.wall);
            let wall = s[s.len() / 2].wall;
            Some((cpu as f64 / trips as f64, wall as f64 / trips as f64))
        })
        .collect();
    let cpu_of = |key: &str| {
        rows.iter()
            .zip(&per_rt)
            .find(|(r, _)| r.key == key)
            .and_then(|(_, c)| c.map(|c| c.0))
    };
    let (concur, floor) = (cpu_of("concur-io_uring"), cpu_of("floor"));
    let ratio = |a: f64, b: Option<f64>| b.map_or("-".into(), |b| format!("{:.2}", a / b));
    println!(
        "## TCP echo on one loop: 1 KiB messages, {CONNS} connections, clients and servers \
         on one thread, {trips} round trips, median of {rounds} round{}\n",
        if rounds == 1 { "" } else { "s" }
    );
    println!(
        "| row | CPU µs per round trip | x concur io_uring | x floor | wall µs per round \
         trip |\n|---|---:|---:|---:|---:|"
    );
    for ((r, c), skip) in rows.iter().zip(&per_rt).zip(&skipped) {
        match (c, skip) {
            (Some((cpu, wall)), _) => println!(
                "| {} | {:.2} | {} | {} | {:.2} |",
                r.label,
                cpu / 1e3,
                ratio(*cpu, concur),
                ratio(*cpu, floor),
                wall / 1e3
            ),
            (None, why) => println!(
                "| {} | skipped: {} | | | |",
                r.label,
                why.as_deref().unwrap_or("no sample")
            ),
        }
    }
    let all = (per_conn / 10 + rounds as u64 * per_conn) * CONNS as u64;
    println!(
        "\nEach row ran {all} round trips in all, warm-up included (to divide `strace -f -c` \
         totals of an `--only` run by: BENCHMARKS.md)."
    );
    if only.is_none() {
        crate::echo::print_targets(concur, cpu_of);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_row_echoes_and_reports_a_time() {
        for row in &super::ROWS {
            match (row.run)(2) {
                Ok(s) => assert!(s.wall > 0, "{}: no time measured", row.key),
                // Only a runtime the kernel refuses may be left out.
                Err(why) => assert!(why.contains("cannot start"), "{}: {why}", row.key),
            }
        }
    }
}
