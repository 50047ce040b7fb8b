//! TCP echo over loopback: one server per event loop (concur::aio, tokio current_thread,
//! smol), driven by the same blocking Rust load generator in the same run; and
//! `echo-cost`, the serving thread's CPU time per round trip of concur on each driver
//! beside a blocking floor, tokio current_thread and monoio.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::thread;

use crate::harness::{measure, Contender, Measured};

/// Runs `conns` client threads, each sending `per_conn` messages of `size` bytes and
/// reading each echo back before sending the next; returns how many `write` and `read`
/// calls the clients made in all (what `write_all` and `read_exact` would make: counted
/// so that `echo-cost` can take the load generator's share out of `strace -c` totals).
fn load(addr: SocketAddr, conns: usize, per_conn: u64, size: usize) -> u64 {
    let clients: Vec<_> = (0..conns)
        .map(|_| {
            thread::spawn(move || {
                let mut s = TcpStream::connect(addr).expect("connect to the echo server");
                s.set_nodelay(true).unwrap();
                let msg = vec![7u8; size];
                let mut back = vec![0u8; size];
                let mut calls = 0;
                for _ in 0..per_conn {
                    let mut sent = 0;
                    while sent < size {
                        sent += s.write(&msg[sent..]).unwrap();
                        calls += 1;
                    }
                    let mut got = 0;
                    while got < size {
                        match s.read(&mut back[got..]).unwrap() {
                            0 => panic!("the echo server closed the connection early"),
                            n => got += n,
                        }
                        calls += 1;
                    }
                }
                calls
            })
        })
        .collect();
    clients.into_iter().map(|c| c.join().unwrap()).sum()
}

/// Starts `serve` on its own thread (it accepts `conns` connections, echoes each until
/// EOF, then returns), drives it with the load generator and waits for it to end.
fn with_server(
    conns: usize,
    per_conn: u64,
    size: usize,
    serve: fn(usize, mpsc::Sender<SocketAddr>),
) {
    let (tx, rx) = mpsc::channel();
    let server = thread::spawn(move || serve(conns, tx));
    let addr = rx.recv().expect("the server reports its address");
    load(addr, conns, per_conn, size);
    server.join().unwrap();
}

/// Echoes one connection until EOF (any `futures_io` stream: concur's and smol's).
async fn echo_conn<S: futures_lite::AsyncRead + futures_lite::AsyncWrite + Unpin>(mut c: S) {
    use futures_lite::{AsyncReadExt, AsyncWriteExt};
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = c.read(&mut buf).await.unwrap();
        if n == 0 {
            break;
        }
        c.write_all(&buf[..n]).await.unwrap();
    }
}

fn concur_server(conns: usize, addr: mpsc::Sender<SocketAddr>) {
    concur_server_reporting(conns, addr, None, concur::aio::Driver::Auto);
}

/// concur's echo server on a loop with `driver`; with `cpu`, it sends there the CPU time
/// its loop thread spent serving (after every connection was accepted), for [`cost`].
fn concur_server_reporting(
    conns: usize,
    addr: mpsc::Sender<SocketAddr>,
    cpu: Option<mpsc::Sender<u64>>,
    driver: concur::aio::Driver,
) {
    use concur::aio::{self, net::TcpListener};
    aio::Builder::new().driver(driver).run(async move {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        addr.send(l.local_addr().unwrap()).unwrap();
        let mut tasks = Vec::new();
        for _ in 0..conns {
            let (c, _) = l.accept().await.unwrap();
            c.set_nodelay(true).unwrap();
            tasks.push(aio::spawn(echo_conn(c)));
        }
        let start = cpu.as_ref().map(|_| thread_cpu_ns());
        for t in tasks {
            t.await.unwrap();
        }
        if let (Some(cpu), Some(start)) = (cpu, start) {
            cpu.send(thread_cpu_ns() - start).unwrap();
        }
    });
}

fn tokio_server(conns: usize, addr: mpsc::Sender<SocketAddr>) {
    tokio_server_reporting(conns, addr, None);
}

/// tokio current_thread's echo server; with `cpu`, as [`concur_server_reporting`].
fn tokio_server_reporting(
    conns: usize,
    addr: mpsc::Sender<SocketAddr>,
    cpu: Option<mpsc::Sender<u64>>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .unwrap();
    rt.block_on(async move {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        addr.send(l.local_addr().unwrap()).unwrap();
        let mut tasks = Vec::new();
        for _ in 0..conns {
            let (mut c, _) = l.accept().await.unwrap();
            c.set_nodelay(true).unwrap();
            tasks.push(tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                loop {
                    let n = c.read(&mut buf).await.unwrap();
                    if n == 0 {
                        break;
                    }
                    c.write_all(&buf[..n]).await.unwrap();
                }
            }));
        }
        let start = cpu.as_ref().map(|_| thread_cpu_ns());
        for t in tasks {
            t.await.unwrap();
        }
        if let (Some(cpu), Some(start)) = (cpu, start) {
            cpu.send(thread_cpu_ns() - start).unwrap();
        }
    });
}

fn smol_server(conns: usize, addr: mpsc::Sender<SocketAddr>) {
    let ex = smol::LocalExecutor::new();
    futures_lite::future::block_on(ex.run(async {
        let l = async_io::Async::<std::net::TcpListener>::bind(([127, 0, 0, 1], 0)).unwrap();
        addr.send(l.get_ref().local_addr().unwrap()).unwrap();
        let mut tasks = Vec::new();
        for _ in 0..conns {
            let (c, _) = l.accept().await.unwrap();
            c.get_ref().set_nodelay(true).unwrap();
            tasks.push(ex.spawn(echo_conn(c)));
        }
        for t in tasks {
            t.await;
        }
    }));
}

fn echo(conns: usize, size: usize, messages: u64, rounds: usize) -> Measured {
    let per_conn = (messages / conns as u64).max(1);
    let label = format!(
        "TCP echo, {} B messages, {conns} connection{} (per message)",
        size,
        if conns == 1 { "" } else { "s" }
    );
    measure(
        &label,
        per_conn * conns as u64,
        rounds,
        vec![
            Contender::new("concur", move |_| {
                with_server(conns, per_conn, size, concur_server)
            }),
            Contender::new("tokio", move |_| {
                with_server(conns, per_conn, size, tokio_server)
            }),
            Contender::new("smol", move |_| {
                with_server(conns, per_conn, size, smol_server)
            }),
        ],
    )
}

pub(crate) fn run(quick: bool, rounds: Option<usize>) -> Vec<Measured> {
    let (scale, default_rounds) = if quick { (1, 2) } else { (10, 5) };
    let rounds = rounds.unwrap_or(default_rounds);
    vec![
        echo(1, 1024, 2_000 * scale, rounds),
        echo(100, 1024, 2_000 * scale, rounds),
        echo(1, 64 * 1024, 200 * scale, rounds),
        echo(100, 64 * 1024, 200 * scale, rounds),
    ]
}

/// CPU time this thread has run (`CLOCK_THREAD_CPUTIME_ID`, nanoseconds).
pub(crate) fn thread_cpu_ns() -> u64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid, writable timespec for the call to fill.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    assert_eq!(
        rc,
        0,
        "clock_gettime(CLOCK_THREAD_CPUTIME_ID): {}",
        std::io::Error::last_os_error()
    );
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

/// One server of [`cost`]: on the thread it is started on, it sends its address, serves
/// one connection until EOF and sends the CPU time that thread spent serving (from the
/// accept to the end); `Err` says why it cannot run here (the row is skipped).
type CostServer = fn(mpsc::Sender<SocketAddr>, mpsc::Sender<u64>) -> Result<(), String>;

/// A row of [`cost`]: the name `--only` takes, the label, the server.
struct CostRow {
    key: &'static str,
    label: &'static str,
    serve: CostServer,
}

/// The rows of [`cost`], in the order of its table.
const COST_ROWS: [CostRow; 5] = [
    CostRow {
        key: "floor",
        label: "floor: a blocking thread, read/write",
        serve: floor_server,
    },
    CostRow {
        key: "concur-epoll",
        label: "concur::aio, epoll",
        serve: |addr, cpu| {
            concur_server_reporting(1, addr, Some(cpu), concur::aio::Driver::Epoll);
            Ok(())
        },
    },
    CostRow {
        key: "concur-io_uring",
        label: "concur::aio, io_uring",
        serve: |addr, cpu| {
            concur_server_reporting(1, addr, Some(cpu), concur::aio::Driver::IoUring);
            Ok(())
        },
    },
    CostRow {
        key: "tokio",
        label: "tokio current_thread",
        serve: |addr, cpu| {
            tokio_server_reporting(1, addr, Some(cpu));
            Ok(())
        },
    },
    CostRow {
        key: "monoio",
        label: "monoio 0.2, io_uring, owned buffers",
        serve: monoio_server,
    },
];

/// The floor of [`cost`]: one blocking connection served by a plain thread doing `read`
/// and `write` (no event loop, no readiness wait).
fn floor_server(addr: mpsc::Sender<SocketAddr>, cpu: mpsc::Sender<u64>) -> Result<(), String> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    addr.send(l.local_addr().unwrap()).unwrap();
    let (mut c, _) = l.accept().unwrap();
    c.set_nodelay(true).unwrap();
    let start = thread_cpu_ns();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = c.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        c.write_all(&buf[..n]).unwrap();
    }
    cpu.send(thread_cpu_ns() - start).unwrap();
    Ok(())
}

/// monoio's echo server for [`cost`]: one thread, its io_uring driver, and its owned-buffer
/// API as its own echo example uses it (`read` into a `Vec`, `write_all` of that `Vec`).
fn monoio_server(addr: mpsc::Sender<SocketAddr>, cpu: mpsc::Sender<u64>) -> Result<(), String> {
    use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
    let mut rt = monoio::RuntimeBuilder::<monoio::IoUringDriver>::new()
        .build()
        .map_err(|e| format!("monoio's io_uring runtime cannot start here: {e}"))?;
    rt.block_on(async move {
        let l = monoio::net::TcpListener::bind("127.0.0.1:0").unwrap();
        addr.send(l.local_addr().unwrap()).unwrap();
        let (mut c, _) = l.accept().await.unwrap();
        c.set_nodelay(true).unwrap();
        let start = thread_cpu_ns();
        monoio::spawn(async move {
            let mut buf = Vec::with_capacity(64 * 1024);
            loop {
                let (n, b) = c.read(buf).await;
                if n.unwrap() == 0 {
                    break;
                }
                let (res, b) = c.write_all(b).await;
                res.unwrap();
                buf = b;
                buf.clear();
            }
        })
        .await;
        cpu.send(thread_cpu_ns() - start).unwrap();
    });
    Ok(())
}

/// One run of a [`cost`] row: its serving thread's CPU time, the wall time, and the load
/// generator's `read` and `write` calls (nanoseconds, nanoseconds, calls).
fn cost_once(serve: CostServer, messages: u64) -> Result<(u64, u64, u64), String> {
    let (tx, rx) = mpsc::channel();
    let (cpu_tx, cpu_rx) = mpsc::channel();
    let server = thread::Builder::new()
        .name("echo-server".into())
        .spawn(move || serve(tx, cpu_tx))
        .unwrap();
    let Ok(addr) = rx.recv() else {
        return Err(match server.join() {
            Ok(Err(why)) => why,
            Ok(Ok(())) => "the server ended before it listened".into(),
            Err(panic) => crate::harness::panic_text(panic.as_ref())
                .unwrap_or_else(|| "the server panicked".into()),
        });
    };
    let start = std::time::Instant::now();
    let calls = load(addr, 1, messages, 1024);
    let wall = start.elapsed().as_nanos() as u64;
    server.join().unwrap()?;
    Ok((cpu_rx.recv().unwrap(), wall, calls))
}

/// `concur-bench echo-cost`: the CPU time per round trip of 1 KiB messages on one
/// connection, counted on the serving thread only (`CLOCK_THREAD_CPUTIME_ID`, from the
/// accept to EOF), and the wall time per round trip, for a floor (a blocking thread),
/// concur's loop on epoll and on io_uring, tokio current_thread and monoio, driven by the
/// same blocking load generator in one run (`rounds` rounds in alternation, the median of
/// each); with `only`, that row alone (for `strace -f -c`, see BENCHMARKS.md).
/// `CONCUR_AIO_DRIVER` does not move the concur rows (each names its driver);
/// `CONCUR_AIO_URING_STREAMS=0` still makes the io_uring row a poller only.
pub(crate) fn cost(quick: bool, rounds: Option<usize>, only: Option<&str>) -> Result<(), String> {
    let messages: u64 = if quick { 5_000 } else { 50_000 };
    let rounds = rounds.unwrap_or(if quick { 1 } else { 3 });
    let rows = crate::harness::pick_rows(&COST_ROWS, |r| r.key, only)?;
    // A warm-up run of each (threads, allocator, sockets) at a tenth of the messages.
    let (samples, skipped) = crate::harness::run_rounds(&rows, rounds, |r, warm_up| {
        cost_once(r.serve, if warm_up { messages / 10 } else { messages })
    });
    // Per row: the median CPU and wall nanoseconds per round trip, the client's calls.
    let per_rt: Vec<Option<(f64, f64, f64)>> = samples
        .into_iter()
        .zip(&skipped)
        .map(|(mut s, skip)| {
            if skip.is_some() || s.is_empty() {
                return None;
            }
            let calls = s.iter().map(|x| x.2).sum::<u64>() as f64 / s.len() as f64;
            s.sort_by_key(|x| x.0);
            let cpu = s[s.len() / 2].0;
            s.sort_by_key(|x| x.1);
            let wall = s[s.len() / 2].1;
            let m = messages as f64;
            Some((cpu as f64 / m, wall as f64 / m, calls / m))
        })
        .collect();
    let cpu_of = |key: &str| {
        rows.iter()
            .zip(&per_rt)
            .find(|(r, _)| r.key == key)
            .and_then(|(_, c)| c.map(|c| c.0))
    };
    let (concur, floor) = (cpu_of("concur-io_uring"), cpu_of("floor"));
    let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) => format!("{:.2}", a / b),
        _ => "-".into(),
    };
    println!(
        "## TCP echo cost: 1 KiB messages, 1 connection, {messages} round trips, median of \
         {rounds} round{}\n",
        if rounds == 1 { "" } else { "s" }
    );
    println!(
        "| server | serving thread's CPU µs per round trip | x concur io_uring | x floor \
         | wall µs per round trip |\n|---|---:|---:|---:|---:|"
    );
    for ((r, c), skip) in rows.iter().zip(&per_rt).zip(&skipped) {
        match (c, skip) {
            (Some((cpu, wall, _)), _) => println!(
                "| {} | {:.2} | {} | {} | {:.2} |",
                r.label,
                cpu / 1e3,
                ratio(Some(*cpu), concur),
                ratio(Some(*cpu), floor),
                wall / 1e3
            ),
            (None, why) => println!(
                "| {} | skipped: {} | | | |",
                r.label,
                why.as_deref().unwrap_or("no sample")
            ),
        }
    }
    if let Some(calls) = per_rt.iter().flatten().map(|c| c.2).reduce(f64::max) {
        let ran = per_rt.iter().flatten().count() as u64;
        let all = (messages / 10 + rounds as u64 * messages) * ran;
        println!(
            "\nThe load generator made {calls:.3} read and write calls per round trip, and \
             this run {all} round trips in all, warm-up included (for `strace -f -c`: \
             BENCHMARKS.md)."
        );
    }
    if only.is_none() {
        print_targets(concur, cpu_of);
    }
    Ok(())
}

/// Prints issue 17's targets: concur io_uring's CPU per round trip (`concur`) as a ratio of
/// each peer's (`cpu_of` a row's key), met or not.
pub(crate) fn print_targets(concur: Option<f64>, cpu_of: impl Fn(&str) -> Option<f64>) {
    println!("\nTargets (concur io_uring's CPU per round trip as a ratio, this run):");
    for (key, name, most) in [
        ("tokio", "tokio current_thread", 0.77),
        ("monoio", "monoio", 1.0),
        ("floor", "the floor", 1.10),
    ] {
        let line = match (concur, cpu_of(key)) {
            (Some(c), Some(o)) => {
                let r = c / o;
                let met = if r <= most { "met" } else { "not met" };
                format!("{r:.2} x {name} (target <= {most:.2}): {met}")
            }
            _ => format!("{name}: no measurement"),
        };
        println!("- {line}");
    }
}
