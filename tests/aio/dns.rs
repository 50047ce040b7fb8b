//! Name resolution on the loop: host names are looked up on the default thread pool, so
//! the loop keeps running; numeric addresses never leave the loop.

use std::cell::Cell;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::rc::Rc;
use std::sync::{Arc, Condvar, Mutex};

use concur::aio::{
    self,
    net::{TcpListener, TcpStream, UdpSocket},
};
use futures_lite::{AsyncReadExt, AsyncWriteExt};

#[test]
fn connect_to_localhost_by_name() {
    aio::run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = aio::spawn(async move {
            let (mut conn, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 4];
            conn.read_exact(&mut buf).await.unwrap();
            conn.write_all(&buf).await.unwrap();
        });
        let name = format!("localhost:{port}");
        // `localhost` may also resolve to ::1, where nothing listens: connect tries each.
        let mut client = TcpStream::connect(name.as_str()).await.unwrap();
        client.write_all(b"ping").await.unwrap();
        let mut back = [0u8; 4];
        client.read_exact(&mut back).await.unwrap();
        assert_eq!(&back, b"ping");
        server.await.unwrap();
    });
}

#[test]
fn bind_by_name_and_udp_connect_by_name() {
    aio::run(async {
        let l = TcpListener::bind(("localhost", 0)).await.unwrap();
        assert!(l.local_addr().unwrap().ip().is_loopback());

        let a = UdpSocket::bind(String::from("localhost:0")).await.unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b_port = b.local_addr().unwrap().port();
        let a_addr = a.local_addr().unwrap();
        // Connect `b` by name to `a`, on `a`'s address family.
        let host = if a_addr.is_ipv4() {
            "localhost"
        } else {
            "127.0.0.1"
        };
        b.connect((host, a_addr.port())).await.unwrap();
        if a_addr.is_ipv4() {
            b.send(b"hi").await.unwrap();
            let mut buf = [0u8; 2];
            let (n, from) = a.recv_from(&mut buf).await.unwrap();
            assert_eq!((&buf[..n], from.port()), (&b"hi"[..], b_port));
        }
    });
}

#[test]
fn an_unresolvable_name_is_an_error_that_names_the_host() {
    // `.invalid` never resolves (RFC 2606); without a network the lookup fails fast.
    let err = aio::run(TcpStream::connect("no-such-host.invalid:80")).unwrap_err();
    assert!(err.to_string().contains("no-such-host.invalid"), "{err}");
    let err = aio::run(TcpStream::connect(("no-such-host.invalid", 80))).unwrap_err();
    assert!(err.to_string().contains("no-such-host.invalid"), "{err}");
}

#[test]
fn a_malformed_address_is_an_error() {
    let err = aio::run(TcpStream::connect("no port here")).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{err}");
}

/// Occupies every worker of the default pool until the returned gate is opened, so that
/// any job given to the pool meanwhile waits in its queue.
///
/// The blockers go one at a time, each once the one before has started: two queued at
/// once could be taken as a batch by one worker, the second stuck behind the first.
fn fill_the_default_pool() -> Arc<(Mutex<bool>, Condvar)> {
    // The default pool's size: `min(32, cpus + 4)`, as Python's default executor.
    let workers = (std::thread::available_parallelism().map_or(1, |n| n.get()) + 4).min(32);
    let gate = Arc::new((Mutex::new(false), Condvar::new()));
    let started = Arc::new((Mutex::new(0usize), Condvar::new()));
    for i in 1..=workers {
        let gate = Arc::clone(&gate);
        let s = Arc::clone(&started);
        drop(aio::to_thread(move || {
            *s.0.lock().unwrap() += 1;
            s.1.notify_all();
            let mut open = gate.0.lock().unwrap();
            while !*open {
                open = gate.1.wait(open).unwrap();
            }
        }));
        let mut n = started.0.lock().unwrap();
        while *n < i {
            n = started.1.wait(n).unwrap();
        }
    }
    gate
}

fn open(gate: &(Mutex<bool>, Condvar)) {
    *gate.0.lock().unwrap() = true;
    gate.1.notify_all();
}

/// One test does both (two tests filling the pool at once would wait on each other).
#[test]
fn numeric_addresses_skip_the_pool_and_names_wait_on_it_while_the_loop_runs() {
    aio::run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let port = addr.port();
        // The kernel completes the connections into the backlog; nobody needs to accept.

        let gate = fill_the_default_pool();

        // The pool is stuck, yet numeric addresses connect: they never went there.
        TcpStream::connect(addr).await.unwrap();
        TcpStream::connect(format!("127.0.0.1:{port}"))
            .await
            .unwrap();
        TcpStream::connect((IpAddr::V4(Ipv4Addr::LOCALHOST), port))
            .await
            .unwrap();
        TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let list = [SocketAddr::from(([127, 0, 0, 1], port))];
        TcpStream::connect(&list[..]).await.unwrap();

        // A name waits for the pool, and the loop goes on running other tasks meanwhile.
        let connected = Rc::new(Cell::new(false));
        let by_name = aio::spawn({
            let connected = Rc::clone(&connected);
            async move {
                let r = TcpStream::connect(("localhost", port)).await.map(drop);
                connected.set(true);
                r
            }
        });
        let ticks = Rc::new(Cell::new(0));
        let ticker = aio::spawn({
            let ticks = Rc::clone(&ticks);
            async move {
                for _ in 0..100 {
                    ticks.set(ticks.get() + 1);
                    aio::yield_now().await;
                }
            }
        });
        ticker.await.unwrap();
        assert_eq!(ticks.get(), 100);
        assert!(
            !connected.get(),
            "the name was resolved with the pool stuck"
        );

        open(&gate);
        by_name.await.unwrap().unwrap();
        assert!(connected.get());
        drop(listener);
    });
}
