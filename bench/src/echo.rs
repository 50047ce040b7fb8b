//! TCP echo over loopback: one server per event loop (concur::aio, tokio current_thread,
//! smol), driven by the same blocking Rust load generator in the same run.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::thread;

use crate::harness::{measure, Contender, Measured};

/// Runs `conns` client threads, each sending `per_conn` messages of `size` bytes and
/// reading each echo back before sending the next.
fn load(addr: SocketAddr, conns: usize, per_conn: u64, size: usize) {
    let clients: Vec<_> = (0..conns)
        .map(|_| {
            thread::spawn(move || {
                let mut s = TcpStream::connect(addr).expect("connect to the echo server");
                s.set_nodelay(true).unwrap();
                let msg = vec![7u8; size];
                let mut back = vec![0u8; size];
                for _ in 0..per_conn {
                    s.write_all(&msg).unwrap();
                    s.read_exact(&mut back).unwrap();
                }
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
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
    concur_server_reporting(conns, addr, None);
}

/// concur's echo server; with `cpu`, it sends there the CPU time its loop thread spent
/// serving (after every connection was accepted), for [`cost`].
fn concur_server_reporting(
    conns: usize,
    addr: mpsc::Sender<SocketAddr>,
    cpu: Option<mpsc::Sender<u64>>,
) {
    use concur::aio::{self, net::TcpListener};
    aio::run(async move {
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
        for t in tasks {
            t.await.unwrap();
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

/// CPU time this thread has run, from the kernel's scheduler statistics (nanoseconds).
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// `concur-bench echo-cost`: the CPU time concur's loop thread spends per round trip of
/// 1 KiB messages on one connection (its driver as `CONCUR_AIO_DRIVER` says), and the
/// wall time per round trip. Run it under `strace -f -c` for the system calls per round
/// trip (the load generator's are one write and one read per round trip).
pub(crate) fn cost(quick: bool) {
    let messages: u64 = if quick { 5_000 } else { 50_000 };
    let (tx, rx) = mpsc::channel();
    let (cpu_tx, cpu_rx) = mpsc::channel();
    let server = thread::spawn(move || concur_server_reporting(1, tx, Some(cpu_tx)));
    let addr = rx.recv().expect("the server reports its address");
    let start = std::time::Instant::now();
    load(addr, 1, messages, 1024);
    let wall = start.elapsed();
    server.join().unwrap();
    let cpu = cpu_rx.recv().unwrap();
    let driver = std::env::var("CONCUR_AIO_DRIVER").unwrap_or_else(|_| "auto".into());
    println!(
        "concur echo, 1 KiB, 1 connection, driver {driver}: {messages} round trips, \
         server CPU {:.2} us/round trip, wall {:.2} us/round trip",
        cpu as f64 / messages as f64 / 1e3,
        wall.as_secs_f64() * 1e6 / messages as f64
    );
}
