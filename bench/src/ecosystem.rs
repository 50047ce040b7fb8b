//! The Rust async ecosystem on concur's loop:
//! - a hyper 1.x hello-world HTTP/1 server on `concur::aio` and on tokio current_thread,
//!   loaded by the same blocking Rust load generator in the same run (requests per second
//!   and p99 latency);
//! - what a tokio socket costs inside `aio::run` (`aio::tokio::with_tokio`) against a
//!   concur socket there and a tokio socket on tokio itself: a 64-byte round trip.

use std::convert::Infallible;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};

use crate::harness::{fmt_time, measure, Contender, Measured};

const HELLO: &[u8] = b"Hello, World!";

async fn hello(_req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(HELLO))))
}

/// hyper on concur: accepts `conns` connections and serves each until the client closes.
fn concur_hyper(conns: usize, addr: mpsc::Sender<SocketAddr>) {
    use concur::aio::{self, hyper::Timer, net::TcpListener};
    aio::run(async move {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        addr.send(l.local_addr().unwrap()).unwrap();
        let mut tasks = Vec::new();
        for _ in 0..conns {
            let (c, _) = l.accept().await.unwrap();
            c.set_nodelay(true).unwrap();
            let svc = hyper::service::service_fn(hello);
            tasks.push(aio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .timer(Timer)
                    .serve_connection(c, svc),
            ));
        }
        for t in tasks {
            t.await.unwrap().unwrap();
        }
    });
}

/// hyper on tokio current_thread (hyper-util's adapters), the same service.
fn tokio_hyper(conns: usize, addr: mpsc::Sender<SocketAddr>) {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async move {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        addr.send(l.local_addr().unwrap()).unwrap();
        let mut tasks = Vec::new();
        for _ in 0..conns {
            let (c, _) = l.accept().await.unwrap();
            c.set_nodelay(true).unwrap();
            let svc = hyper::service::service_fn(hello);
            tasks.push(tokio::task::spawn_local(
                hyper::server::conn::http1::Builder::new()
                    .timer(TokioTimer::new())
                    .serve_connection(TokioIo::new(c), svc),
            ));
        }
        for t in tasks {
            t.await.unwrap().unwrap();
        }
    });
}

/// Reads one HTTP/1.1 response (headers, then a `content-length` body) from `s`; `buf`
/// keeps what was read past it.
fn read_response(s: &mut TcpStream, buf: &mut Vec<u8>) {
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = std::str::from_utf8(&buf[..end]).expect("an HTTP head is text");
            assert!(
                head.starts_with("HTTP/1.1 200"),
                "unexpected answer: {head}"
            );
            let len: usize = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse().ok())?
                })
                .expect("a content-length");
            while buf.len() < end + 4 + len {
                let n = s.read(&mut chunk).unwrap();
                assert!(n > 0, "the server closed mid-response");
                buf.extend_from_slice(&chunk[..n]);
            }
            assert_eq!(&buf[end + 4..end + 4 + len], HELLO);
            buf.drain(..end + 4 + len);
            return;
        }
        let n = s.read(&mut chunk).unwrap();
        assert!(n > 0, "the server closed mid-response");
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// One load run: `conns` client threads with keep-alive connections, each sending
/// `per_conn` requests one after the other. Returns the wall time and every latency.
fn load(conns: usize, per_conn: usize, serve: Server) -> (Duration, Vec<Duration>) {
    let (tx, rx) = mpsc::channel();
    let server = thread::spawn(move || serve(conns, tx));
    let addr = rx.recv().expect("the server reports its address");
    let start = Instant::now();
    let clients: Vec<_> = (0..conns)
        .map(|_| {
            thread::spawn(move || {
                let mut s = TcpStream::connect(addr).expect("connect to the HTTP server");
                s.set_nodelay(true).unwrap();
                let mut lat = Vec::with_capacity(per_conn);
                let mut buf = Vec::new();
                for _ in 0..per_conn {
                    let t = Instant::now();
                    s.write_all(b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n")
                        .unwrap();
                    read_response(&mut s, &mut buf);
                    lat.push(t.elapsed());
                }
                lat
            })
        })
        .collect();
    let mut lat = Vec::with_capacity(conns * per_conn);
    for c in clients {
        lat.extend(c.join().unwrap());
    }
    let wall = start.elapsed();
    server.join().unwrap();
    (wall, lat)
}

/// A server under test: it accepts this many connections and reports its address.
type Server = fn(usize, mpsc::Sender<SocketAddr>);

/// One row of the hyper table: a contender's median round.
pub(crate) struct HyperRow {
    pub(crate) conns: usize,
    pub(crate) server: &'static str,
    pub(crate) requests_per_s: f64,
    pub(crate) p50: Duration,
    pub(crate) p99: Duration,
}

fn hyper_rows(conns: usize, requests: usize, rounds: usize) -> Vec<HyperRow> {
    let per_conn = (requests / conns).max(1);
    let servers: [(&'static str, Server); 2] = [
        ("hyper on concur::aio", concur_hyper),
        ("hyper on tokio current_thread", tokio_hyper),
    ];
    // Warm-up, then alternate the servers round by round.
    for (_, s) in servers {
        load(conns, per_conn.div_ceil(10), s);
    }
    let mut runs: Vec<Vec<(f64, Duration, Duration)>> = vec![Vec::new(); servers.len()];
    for _ in 0..rounds {
        for ((_, s), r) in servers.iter().zip(&mut runs) {
            let (wall, mut lat) = load(conns, per_conn, *s);
            lat.sort();
            let rps = lat.len() as f64 / wall.as_secs_f64();
            let p = |q: f64| lat[((lat.len() as f64 * q) as usize).min(lat.len() - 1)];
            r.push((rps, p(0.50), p(0.99)));
        }
    }
    servers
        .iter()
        .zip(runs)
        .map(|((name, _), mut r)| {
            r.sort_by(|a, b| a.0.total_cmp(&b.0));
            let (rps, p50, p99) = r[r.len() / 2];
            HyperRow {
                conns,
                server: name,
                requests_per_s: rps,
                p50,
                p99,
            }
        })
        .collect()
}

/// The hyper hello-world rows: 1 and 64 keep-alive connections.
pub(crate) fn run_hyper(quick: bool, rounds: Option<usize>) -> Vec<HyperRow> {
    let (requests, default_rounds) = if quick { (2_000, 2) } else { (40_000, 5) };
    let rounds = rounds.unwrap_or(default_rounds);
    let mut rows = hyper_rows(1, requests / 4, rounds);
    rows.extend(hyper_rows(64, requests, rounds));
    rows
}

/// Prints the hyper table, with each server's throughput as a ratio to concur's.
pub(crate) fn print_hyper(rows: &[HyperRow]) {
    println!("| connections | server | requests/s | vs concur | p50 | p99 |");
    println!("|---:|---|---:|---:|---:|---:|");
    for pair in rows.chunks(2) {
        let base = pair[0].requests_per_s;
        for r in pair {
            println!(
                "| {} | {} | {:.0} | {:.2}x | {} | {} |",
                r.conns,
                r.server,
                r.requests_per_s,
                r.requests_per_s / base,
                fmt_time(r.p50),
                fmt_time(r.p99)
            );
        }
    }
}

/// A blocking echo server for one connection, on its own thread.
fn echo_thread() -> (SocketAddr, thread::JoinHandle<()>) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let t = thread::spawn(move || {
        let (mut c, _) = l.accept().unwrap();
        c.set_nodelay(true).unwrap();
        let mut buf = [0u8; 64];
        loop {
            match c.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => c.write_all(&buf[..n]).unwrap(),
            }
        }
    });
    (addr, t)
}

/// `n` round trips of 64 bytes on `s` (any stream with tokio's I/O traits: concur's own
/// implement them too).
async fn ping_pong<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(mut s: S, n: u64) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = [0u8; 64];
    for _ in 0..n {
        s.write_all(&[1; 64]).await.unwrap();
        s.read_exact(&mut buf).await.unwrap();
    }
}

fn round_trips_concur(n: u64) {
    use concur::aio::{self, net::TcpStream};
    let (addr, server) = echo_thread();
    aio::run(async move {
        let s = TcpStream::connect(addr).await.unwrap();
        s.set_nodelay(true).unwrap();
        ping_pong(s, n).await;
    });
    server.join().unwrap();
}

async fn tokio_ping_pong(addr: SocketAddr, n: u64) {
    let s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.set_nodelay(true).unwrap();
    ping_pong(s, n).await;
}

fn round_trips_tokio_in_concur(n: u64) {
    use concur::aio;
    let (addr, server) = echo_thread();
    aio::run(aio::tokio::with_tokio(tokio_ping_pong(addr, n)));
    server.join().unwrap();
}

fn round_trips_tokio(n: u64) {
    let (addr, server) = echo_thread();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(tokio_ping_pong(addr, n));
    server.join().unwrap();
}

/// The cost of a tokio socket inside concur's loop: a 64-byte round trip.
pub(crate) fn run_tokio_compat(quick: bool, rounds: Option<usize>) -> Vec<Measured> {
    let (n, default_rounds) = if quick { (2_000, 2) } else { (20_000, 5) };
    vec![measure(
        "64 B TCP round trip to a blocking echo thread (per round trip)",
        n,
        rounds.unwrap_or(default_rounds),
        vec![
            Contender::new("concur socket in aio::run", round_trips_concur),
            Contender::new(
                "tokio socket in aio::run (with_tokio)",
                round_trips_tokio_in_concur,
            ),
            Contender::new("tokio socket on tokio current_thread", round_trips_tokio),
        ],
    )]
}
