//! Sockets on the loop: TCP, UDP and Unix echo round trips.

use concur::aio::io::{AsyncReadExt, AsyncWriteExt};
use concur::aio::{
    self,
    net::{TcpListener, TcpStream, UdpSocket, UnixListener, UnixStream},
};

#[test]
fn tcp_echo_with_many_concurrent_clients() {
    aio::run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = aio::spawn(async move {
            let mut conns = Vec::new();
            for _ in 0..50 {
                let (mut conn, _) = listener.accept().await.unwrap();
                conns.push(aio::spawn(async move {
                    let mut buf = vec![0u8; 4096];
                    loop {
                        let n = conn.read(&mut buf).await.unwrap();
                        if n == 0 {
                            break;
                        }
                        conn.write_all(&buf[..n]).await.unwrap();
                    }
                }));
            }
            for c in conns {
                c.await.unwrap();
            }
        });
        let clients: Vec<_> = (0..50u8)
            .map(|i| {
                aio::spawn(async move {
                    let s = TcpStream::connect(addr).await.unwrap();
                    s.set_nodelay(true).unwrap();
                    let msg = vec![i; 100_000]; // larger than the socket buffers
                    let (mut r, mut w) = concur::aio::io::split(s);
                    let writer = aio::spawn(async move {
                        w.write_all(&msg).await.unwrap();
                        w.close().await.unwrap();
                    });
                    let mut back = Vec::new();
                    r.read_to_end(&mut back).await.unwrap();
                    writer.await.unwrap();
                    assert_eq!(back.len(), 100_000);
                    assert!(back.iter().all(|&b| b == i));
                })
            })
            .collect();
        for c in clients {
            c.await.unwrap();
        }
        server.await.unwrap();
    });
}

#[test]
fn tcp_connect_to_a_closed_port_fails() {
    let err = aio::run(async {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        drop(l);
        TcpStream::connect(addr).await.unwrap_err()
    });
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
}

#[test]
fn udp_echo() {
    aio::run(async {
        let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = server.local_addr().unwrap();
        let echo = aio::spawn(async move {
            let mut buf = [0u8; 1500];
            for _ in 0..100 {
                let (n, from) = server.recv_from(&mut buf).await.unwrap();
                server.send_to(&buf[..n], from).await.unwrap();
            }
        });
        let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        client.connect(addr).await.unwrap();
        for i in 0..100u32 {
            client.send(&i.to_le_bytes()).await.unwrap();
            let mut buf = [0u8; 4];
            assert_eq!(client.recv(&mut buf).await.unwrap(), 4);
            assert_eq!(u32::from_le_bytes(buf), i);
        }
        echo.await.unwrap();
    });
}

#[test]
fn unix_echo() {
    let dir = std::env::temp_dir().join(format!("concur-unix-echo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("echo.sock");
    let _ = std::fs::remove_file(&path);
    aio::run(async {
        let listener = UnixListener::bind(&path).unwrap();
        let server = aio::spawn(async move {
            let (mut conn, _) = listener.accept().await.unwrap();
            let mut buf = Vec::new();
            conn.read_to_end(&mut buf).await.unwrap();
            conn.write_all(&buf).await.unwrap();
        });
        let mut c = UnixStream::connect(&path).await.unwrap();
        c.write_all(b"over a unix socket").await.unwrap();
        c.close().await.unwrap();
        let mut back = Vec::new();
        c.read_to_end(&mut back).await.unwrap();
        assert_eq!(back, b"over a unix socket");
        server.await.unwrap();
    });
    std::fs::remove_dir_all(&dir).unwrap();
}

// ---- Peer cases: tokio-rs/tokio's tcp_*.rs and udp.rs, adapted to concur ----

use std::future::poll_fn;
use std::io::{ErrorKind, Read as _, Write as _};
use std::task::Poll;
use std::time::Duration;

use concur::aio::net::TcpSocket;

/// A connected pair on loopback: (client, server).
async fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (server, _) = listener.accept().await.unwrap();
    (client, server)
}

/// Polls `f` exactly once, in the calling task: whether it was ready. It yields first,
/// so that the poll starts with a fresh cooperative budget (a spent budget would make
/// anything look not ready).
async fn ready_once<F: std::future::Future>(f: F) -> bool {
    aio::yield_now().await;
    let mut f = std::pin::pin!(f);
    poll_fn(|cx| Poll::Ready(f.as_mut().poll(cx).is_ready())).await
}

/// Writes with `try_write` until the socket says WouldBlock; how many bytes went.
fn fill_send_buffer(s: &TcpStream) -> usize {
    let chunk = [7u8; 64 * 1024];
    let mut total = 0;
    loop {
        match s.try_write(&chunk) {
            Ok(n) => total += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => return total,
            Err(e) => panic!("try_write: {e}"),
        }
    }
}

// tokio/tests/tcp_split.rs: split
#[test]
fn split_halves_peek_read_and_write() {
    const MSG: &[u8] = b"split";
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let peer = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.write_all(MSG).unwrap();
        let mut buf = [0u8; 32];
        let n = s.read(&mut buf).unwrap();
        assert_eq!(&buf[..n], MSG);
    });
    aio::run(async {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let (mut r, mut w) = stream.split();
        let mut buf = [0u8; 32];
        let p1 = r.peek(&mut buf).await.unwrap();
        let p2 = r.peek(&mut buf).await.unwrap();
        assert_eq!(p1, p2);
        let n = r.read(&mut buf).await.unwrap();
        assert_eq!(n, p1);
        assert_eq!(&buf[..n], MSG);
        assert_eq!(w.write(MSG).await.unwrap(), MSG.len());
    });
    peer.join().unwrap();
}

// concur: the borrowed halves work from two branches at once (a read waits while a write
// goes on), without a lock: a reader parked on the stream does not stop the writer.
#[test]
fn split_halves_read_and_write_concurrently() {
    aio::run(async {
        let (mut client, mut server) = tcp_pair().await;
        let echo = aio::spawn(async move {
            let (mut r, mut w) = server.split();
            concur::aio::io::copy(&mut r, &mut w).await.unwrap()
        });
        let (mut r, mut w) = client.split();
        let msg = vec![3u8; 1 << 20]; // far more than the socket buffers hold
        let reader = async {
            let mut back = Vec::new();
            r.read_to_end(&mut back).await.unwrap();
            back
        };
        let writer = async {
            w.write_all(&msg).await.unwrap();
            w.close().await.unwrap();
        };
        let (back, ()) = join(reader, writer).await;
        assert_eq!(back.len(), msg.len());
        assert_eq!(echo.await.unwrap(), msg.len() as u64);
    });
}

/// Runs two futures in the same task until both finish (no combinator crate needed).
async fn join<A: std::future::Future, B: std::future::Future>(
    a: A,
    b: B,
) -> (A::Output, B::Output) {
    let mut a = std::pin::pin!(a);
    let mut b = std::pin::pin!(b);
    let (mut ra, mut rb) = (None, None);
    poll_fn(|cx| {
        if ra.is_none() {
            if let Poll::Ready(v) = a.as_mut().poll(cx) {
                ra = Some(v);
            }
        }
        if rb.is_none() {
            if let Poll::Ready(v) = b.as_mut().poll(cx) {
                rb = Some(v);
            }
        }
        if ra.is_some() && rb.is_some() {
            Poll::Ready((ra.take().unwrap(), rb.take().unwrap()))
        } else {
            Poll::Pending
        }
    })
    .await
}

// tokio/tests/tcp_into_split.rs: split
#[test]
fn into_split_halves_in_separate_tasks() {
    const MSG: &[u8] = b"split";
    aio::run(async {
        let (client, mut server) = tcp_pair().await;
        let (mut r, mut w) = client.into_split();
        let peer = aio::spawn(async move {
            assert_eq!(server.write(MSG).await.unwrap(), MSG.len());
            let mut buf = [0u8; 32];
            let n = server.read(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], MSG);
        });
        let writer = aio::spawn(async move {
            assert_eq!(w.write(MSG).await.unwrap(), MSG.len());
            w
        });
        let reader = aio::spawn(async move {
            let mut buf = [0u8; 32];
            let p1 = r.peek(&mut buf).await.unwrap();
            let p2 = r.peek(&mut buf).await.unwrap();
            assert_eq!(p1, p2);
            let n = r.read(&mut buf).await.unwrap();
            assert_eq!((n, &buf[..n]), (p1, MSG));
            r
        });
        peer.await.unwrap();
        let (r, w) = (reader.await.unwrap(), writer.await.unwrap());
        r.reunite(w).unwrap();
    });
}

// tokio/tests/tcp_into_split.rs: reunite
#[test]
fn reunite_refuses_halves_of_different_streams() {
    aio::run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (read1, write1) = TcpStream::connect(addr).await.unwrap().into_split();
        let (_read2, write2) = TcpStream::connect(addr).await.unwrap().into_split();
        let err = read1.reunite(write2).unwrap_err();
        assert!(err.to_string().contains("not halves of the same"), "{err}");
        let read1 = err.0;
        read1.reunite(write1).expect("the right halves reunite");
    });
}

// tokio/tests/tcp_into_split.rs: drop_write
#[test]
fn dropping_the_owned_write_half_shuts_the_write_side_down() {
    const MSG: &[u8] = b"split";
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let peer = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.write_all(MSG).unwrap();
        let mut buf = [0u8; 32];
        // The end of the stream, not more bytes: the client dropped its write half.
        let n = s.read(&mut buf).unwrap();
        drop(s);
        n
    });
    aio::run(async {
        let (mut r, w) = TcpStream::connect(addr).await.unwrap().into_split();
        let mut buf = [0u8; 32];
        let n = r.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], MSG);
        drop(w);
        // The peer read the end and closed: so do we.
        assert_eq!(r.read(&mut buf).await.unwrap(), 0);
    });
    assert_eq!(peer.join().unwrap(), 0);
}

// concur: OwnedWriteHalf::forget keeps the write side open (tokio's forget); the stream
// closes when the read half, its last owner, goes.
#[test]
fn a_forgotten_write_half_leaves_the_write_side_open() {
    aio::run(async {
        let (client, mut server) = tcp_pair().await;
        let (r, w) = client.into_split();
        w.forget();
        let mut buf = [0u8; 1];
        assert!(
            !ready_once(server.read(&mut buf)).await,
            "no end of stream yet"
        );
        drop(r);
        assert_eq!(server.read(&mut buf).await.unwrap(), 0);
    });
}

// tokio/tests/tcp_peek.rs: peek
#[test]
fn peek_then_read_the_same_bytes() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let left = std::net::TcpStream::connect(addr).unwrap();
    let (mut right, _) = listener.accept().unwrap();
    right.write_all(&[1, 2, 3, 4]).unwrap();
    aio::run(async move {
        let mut left: TcpStream = left.try_into().unwrap(); // still blocking: from_std sets it
        let mut buf = [0u8; 16];
        let n = left.peek(&mut buf).await.unwrap();
        assert_eq!(buf[..n], [1, 2, 3, 4]);
        let n = left.read(&mut buf).await.unwrap();
        assert_eq!(buf[..n], [1, 2, 3, 4]);
    });
}

// tokio/tests/tcp_socket.rs: basic_usage_v4
#[test]
fn tcp_socket_v4_listens_and_connects() {
    aio::run(async {
        let srv = TcpSocket::new_v4().unwrap();
        srv.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let srv = srv.listen(128).unwrap();
        let addr = srv.local_addr().unwrap();
        let cli = TcpSocket::new_v4().unwrap();
        let cli = cli.connect(addr).await.unwrap();
        let (_conn, peer) = srv.accept().await.unwrap();
        assert_eq!(cli.local_addr().unwrap(), peer);
    });
}

// tokio/tests/tcp_socket.rs: basic_usage_v6
#[test]
fn tcp_socket_v6_listens_and_connects() {
    aio::run(async {
        let srv = TcpSocket::new_v6().unwrap();
        if srv.bind("[::1]:0".parse().unwrap()).is_err() {
            eprintln!("no IPv6 loopback here: nothing to test");
            return;
        }
        let srv = srv.listen(128).unwrap();
        let addr = srv.local_addr().unwrap();
        let cli = TcpSocket::new_v6().unwrap().connect(addr).await.unwrap();
        let (_conn, peer) = srv.accept().await.unwrap();
        assert_eq!(cli.local_addr().unwrap(), peer);
    });
}

// tokio/tests/tcp_socket.rs: bind_before_connect
#[test]
fn tcp_socket_binds_before_connecting() {
    aio::run(async {
        let any: std::net::SocketAddr = "127.0.0.1:0".parse().unwrap();
        let srv = TcpSocket::new_v4().unwrap();
        srv.bind(any).unwrap();
        let srv = srv.listen(128).unwrap();
        let cli = TcpSocket::new_v4().unwrap();
        cli.bind(any).unwrap();
        let bound = cli.local_addr().unwrap();
        let cli = cli.connect(srv.local_addr().unwrap()).await.unwrap();
        assert_eq!(cli.local_addr().unwrap(), bound);
        srv.accept().await.unwrap();
    });
}

// concur: a TcpSocket connect to a closed port fails with ConnectionRefused, and names it.
#[test]
fn tcp_socket_connect_to_a_closed_port_is_refused() {
    let err = aio::run(async {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        drop(l);
        TcpSocket::new_v4()
            .unwrap()
            .connect(addr)
            .await
            .unwrap_err()
    });
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
}

// tokio/tests/tcp_socket.rs: basic_linger
#[test]
fn tcp_socket_zero_linger() {
    let srv = TcpSocket::new_v4().unwrap();
    srv.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    assert!(srv.linger().unwrap().is_none());
    srv.set_zero_linger().unwrap();
    assert_eq!(srv.linger().unwrap(), Some(Duration::ZERO));
}

/// tokio/tests/tcp_socket.rs's `test!` macro: the initial value differs, the set one
/// reads back (on v4 and v6).
macro_rules! sockopt_case {
    ($name:ident, $get:ident, $set:ident($arg:expr), $expected:expr) => {
        #[test]
        fn $name() {
            for s in [TcpSocket::new_v4(), TcpSocket::new_v6()] {
                let Ok(s) = s else { continue }; // no IPv6 here
                let initial = s.$get().unwrap();
                assert_ne!(initial, $arg, "initial value and argument are the same");
                s.$set($arg).unwrap();
                assert_eq!(s.$get().unwrap(), $expected, "set and get values differ");
            }
        }
    };
}

// tokio/tests/tcp_socket.rs: keepalive
sockopt_case!(tcp_socket_keepalive, keepalive, set_keepalive(true), true);
// tokio/tests/tcp_socket.rs: reuseaddr
sockopt_case!(tcp_socket_reuseaddr, reuseaddr, set_reuseaddr(true), true);
// tokio/tests/tcp_socket.rs: reuseport
sockopt_case!(tcp_socket_reuseport, reuseport, set_reuseport(true), true);
// tokio/tests/tcp_socket.rs: send_buffer_size (Linux doubles what is set)
sockopt_case!(
    tcp_socket_send_buffer_size,
    send_buffer_size,
    set_send_buffer_size(4096),
    8192
);
// tokio/tests/tcp_socket.rs: recv_buffer_size (Linux doubles what is set)
sockopt_case!(
    tcp_socket_recv_buffer_size,
    recv_buffer_size,
    set_recv_buffer_size(4096),
    8192
);
// tokio/tests/tcp_socket.rs: linger
sockopt_case!(
    tcp_socket_linger,
    linger,
    set_linger(Some(Duration::from_secs(10))),
    Some(Duration::from_secs(10))
);
// tokio/tests/tcp_socket.rs: nodelay
sockopt_case!(tcp_socket_nodelay, nodelay, set_nodelay(true), true);

// concur: two listeners share a port with SO_REUSEPORT.
#[test]
fn tcp_socket_reuseport_lets_two_listeners_share_a_port() {
    aio::run(async {
        let a = TcpSocket::new_v4().unwrap();
        a.set_reuseport(true).unwrap();
        a.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = a.local_addr().unwrap();
        let b = TcpSocket::new_v4().unwrap();
        b.set_reuseport(true).unwrap();
        b.bind(addr).unwrap();
        let (_la, _lb) = (a.listen(8).unwrap(), b.listen(8).unwrap());
        // Without the option the second bind is refused.
        let c = TcpSocket::new_v4().unwrap();
        assert_eq!(c.bind(addr).unwrap_err().kind(), ErrorKind::AddrInUse);
    });
}

// tokio/tests/tcp_stream.rs: set_linger
#[test]
fn stream_linger_set_and_read_back() {
    aio::run(async {
        let (stream, _server) = tcp_pair().await;
        stream.set_linger(Some(Duration::from_secs(1))).unwrap();
        assert_eq!(stream.linger().unwrap().unwrap().as_secs(), 1);
        stream.set_zero_linger().unwrap();
        assert_eq!(stream.linger().unwrap().unwrap().as_secs(), 0);
        stream.set_linger(None).unwrap();
        assert!(stream.linger().unwrap().is_none());
    });
}

// concur: a zero linger resets the connection on drop (the peer reads ConnectionReset).
#[test]
fn zero_linger_resets_the_connection_on_drop() {
    aio::run(async {
        let (client, mut server) = tcp_pair().await;
        client.set_zero_linger().unwrap();
        drop(client);
        let mut buf = [0u8; 16];
        match server.read(&mut buf).await {
            Ok(n) => panic!("read {n} bytes (0: an orderly end), not a reset"),
            Err(e) => assert_eq!(e.kind(), ErrorKind::ConnectionReset),
        }
    });
}

// tokio/tests/tcp_stream.rs: try_read_write (a new concur socket starts out optimistically
// "ready" in both directions, so the first readable() returns at once: one WouldBlock
// first, then it waits as tokio's does)
#[test]
fn try_read_try_write_and_readiness() {
    const DATA: &[u8] = &[2u8; 4000];
    aio::run(async {
        let (client, server) = tcp_pair().await;
        let e = server.try_read(&mut [0u8; 1]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::WouldBlock);
        assert!(!ready_once(server.readable()).await);

        client.writable().await.unwrap();
        assert_eq!(client.try_write(DATA).unwrap(), DATA.len());
        server.readable().await.unwrap(); // wakes once the data is there

        // Fill the send buffer; after the WouldBlock, writable() waits.
        let mut written = DATA.to_vec();
        loop {
            client.writable().await.unwrap();
            match client.try_write(DATA) {
                Ok(n) => written.extend(&DATA[..n]),
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => panic!("{e}"),
            }
        }
        assert!(
            !ready_once(client.writable()).await,
            "writable after WouldBlock"
        );

        let mut read = vec![0; written.len()];
        let mut i = 0;
        while i < read.len() {
            server.readable().await.unwrap();
            match server.try_read(&mut read[i..]) {
                Ok(n) => i += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => continue,
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(read, written);
        // Drained: the next try_read says WouldBlock, and readable() waits again.
        assert_eq!(
            server.try_read(&mut [0u8; 1]).unwrap_err().kind(),
            ErrorKind::WouldBlock
        );
        assert!(
            !ready_once(server.readable()).await,
            "readable after WouldBlock"
        );

        // The vectored forms.
        client.writable().await.unwrap();
        let bufs: Vec<_> = DATA.chunks(10).map(std::io::IoSlice::new).collect();
        let mut written = 0;
        loop {
            match client.try_write_vectored(&bufs) {
                Ok(n) => written += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => panic!("{e}"),
            }
        }
        let mut read = vec![0; written];
        let mut i = 0;
        while i < read.len() {
            server.readable().await.unwrap();
            let mut bufs: Vec<_> = read[i..]
                .chunks_mut(0x10000)
                .map(std::io::IoSliceMut::new)
                .collect();
            match server.try_read_vectored(&mut bufs) {
                Ok(n) => i += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => continue,
                Err(e) => panic!("{e}"),
            }
        }
        assert!(read.iter().all(|&b| b == 2));

        // The peer closing makes the stream readable, and a read says 0.
        drop(client);
        loop {
            server.readable().await.unwrap();
            match server.try_read(&mut [0u8; 16]) {
                Ok(0) => break,
                Ok(n) => panic!("{n} bytes after the end"),
                Err(e) if e.kind() == ErrorKind::WouldBlock => continue,
                Err(e) => panic!("{e}"),
            }
        }
    });
}

// tokio/tests/tcp_stream.rs: poll_read_ready (one WouldBlock first, as in try_read_write)
#[test]
fn poll_read_ready_follows_the_data() {
    aio::run(async {
        let (mut client, mut server) = tcp_pair().await;
        assert!(server.try_read(&mut [0u8; 1]).is_err());
        assert!(!ready_once(poll_fn(|cx| server.poll_read_ready(cx))).await);
        client.write_all(b"ping").await.unwrap();
        poll_fn(|cx| server.poll_read_ready(cx)).await.unwrap();
        let mut buf = [0u8; 4];
        server.read_exact(&mut buf).await.unwrap();
        // Drain until WouldBlock: then not readable.
        while server.try_read(&mut buf).is_ok() {}
        assert!(!ready_once(poll_fn(|cx| server.poll_read_ready(cx))).await);
        drop(client);
        poll_fn(|cx| server.poll_read_ready(cx)).await.unwrap();
    });
}

// tokio/tests/tcp_stream.rs: poll_write_ready
#[test]
fn poll_write_ready_follows_the_send_buffer() {
    aio::run(async {
        let (client, server) = tcp_pair().await;
        poll_fn(|cx| client.poll_write_ready(cx)).await.unwrap();
        assert!(fill_send_buffer(&client) > 0);
        assert!(!ready_once(poll_fn(|cx| client.poll_write_ready(cx))).await);
        drop(server);
        poll_fn(|cx| client.poll_write_ready(cx)).await.unwrap();
    });
}

// concur: readable()/writable() of the halves wait on the same readiness as the stream.
#[test]
fn owned_halves_readiness_and_try_io() {
    aio::run(async {
        let (client, mut server) = tcp_pair().await;
        let (r, w) = client.into_split();
        assert_eq!(
            r.try_read(&mut [0u8; 1]).unwrap_err().kind(),
            ErrorKind::WouldBlock
        );
        assert!(!ready_once(r.readable()).await);
        w.writable().await.unwrap();
        assert_eq!(w.try_write(b"abc").unwrap(), 3);
        let mut buf = [0u8; 3];
        server.read_exact(&mut buf).await.unwrap();
        server.write_all(b"xyz").await.unwrap();
        r.readable().await.unwrap();
        assert_eq!(r.try_read(&mut buf).unwrap(), 3);
        assert_eq!(&buf, b"xyz");
    });
}

// concur: from_std/into_std round trip keeps the connection and its buffered bytes.
#[test]
fn from_std_into_std_round_trip() {
    aio::run(async {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let listener = TcpListener::from_std(listener).unwrap();
        let (client, mut server) = {
            let c = TcpStream::connect(listener.local_addr().unwrap())
                .await
                .unwrap();
            (c, listener.accept().await.unwrap().0)
        };
        server.write_all(b"kept in the kernel").await.unwrap();
        let mut std = client.into_std().unwrap();
        let mut buf = [0u8; 18];
        std.read_exact(&mut buf).unwrap(); // blocking mode again
        assert_eq!(&buf, b"kept in the kernel");
        let mut again = TcpStream::from_std(std).unwrap();
        again.write_all(b"back").await.unwrap();
        let mut buf = [0u8; 4];
        server.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"back");
        // The listener goes back to std too, blocking.
        let std_listener = listener.into_std().unwrap();
        let _c = std::net::TcpStream::connect(std_listener.local_addr().unwrap()).unwrap();
        std_listener.accept().unwrap();
    });
}

const MSG: &[u8] = b"hello";

// tokio/tests/udp.rs: send_to_peek_from
#[test]
fn udp_peek_from_leaves_the_datagram() {
    aio::run(async {
        let sender = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let receiver = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        sender
            .send_to(MSG, receiver.local_addr().unwrap())
            .await
            .unwrap();
        for _ in 0..2 {
            let mut buf = [0u8; 32];
            let (n, addr) = receiver.peek_from(&mut buf).await.unwrap();
            assert_eq!((&buf[..n], addr), (MSG, sender.local_addr().unwrap()));
        }
        let mut buf = [0u8; 32];
        let (n, addr) = receiver.recv_from(&mut buf).await.unwrap();
        assert_eq!((&buf[..n], addr), (MSG, sender.local_addr().unwrap()));
    });
}

// tokio/tests/udp.rs: send_to_try_peek_from
#[test]
fn udp_try_peek_from_then_peek_and_recv() {
    aio::run(async {
        let sender = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let receiver = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        sender
            .send_to(MSG, receiver.local_addr().unwrap())
            .await
            .unwrap();
        let mut buf = [0u8; 32];
        loop {
            match receiver.try_peek_from(&mut buf) {
                Ok((n, addr)) => {
                    assert_eq!((&buf[..n], addr), (MSG, sender.local_addr().unwrap()));
                    break;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => receiver.readable().await.unwrap(),
                Err(e) => panic!("{e}"),
            }
        }
        let (n, _) = receiver.peek_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], MSG);
        let (n, _) = receiver.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], MSG);
    });
}

// tokio/tests/udp.rs: try_send_recv
#[test]
fn udp_try_send_and_try_recv_connected() {
    aio::run(async {
        let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        client.connect(server.local_addr().unwrap()).await.unwrap();
        server.connect(client.local_addr().unwrap()).await.unwrap();
        for _ in 0..5 {
            loop {
                client.writable().await.unwrap();
                match client.try_send(b"hello world") {
                    Ok(n) => break assert_eq!(n, 11),
                    Err(e) if e.kind() == ErrorKind::WouldBlock => continue,
                    Err(e) => panic!("{e}"),
                }
            }
            loop {
                server.readable().await.unwrap();
                let mut buf = [0; 512];
                match server.try_recv(&mut buf) {
                    Ok(n) => break assert_eq!(&buf[..n], b"hello world"),
                    Err(e) if e.kind() == ErrorKind::WouldBlock => continue,
                    Err(e) => panic!("{e}"),
                }
            }
        }
    });
}

// tokio/tests/udp.rs: try_send_to_recv_from
#[test]
fn udp_try_send_to_and_try_recv_from() {
    aio::run(async {
        let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let saddr = server.local_addr().unwrap();
        let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let caddr = client.local_addr().unwrap();
        for _ in 0..5 {
            loop {
                client.writable().await.unwrap();
                match client.try_send_to(b"hello world", saddr) {
                    Ok(n) => break assert_eq!(n, 11),
                    Err(e) if e.kind() == ErrorKind::WouldBlock => continue,
                    Err(e) => panic!("{e}"),
                }
            }
            loop {
                server.readable().await.unwrap();
                let mut buf = [0; 512];
                match server.try_recv_from(&mut buf) {
                    Ok((n, addr)) => {
                        break assert_eq!((&buf[..n], addr), (&b"hello world"[..], caddr))
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => continue,
                    Err(e) => panic!("{e}"),
                }
            }
        }
    });
}

// concur: after a try_recv_from WouldBlock, readable() waits until a datagram comes.
#[test]
fn udp_readable_waits_after_would_block() {
    aio::run(async {
        let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(
            b.try_recv_from(&mut buf).unwrap_err().kind(),
            ErrorKind::WouldBlock
        );
        assert!(!ready_once(b.readable()).await);
        a.send_to(b"late", b.local_addr().unwrap()).await.unwrap();
        b.readable().await.unwrap();
        assert_eq!(b.try_recv_from(&mut buf).unwrap().0, 4);
    });
}

// tokio/tests/udp.rs: send_recv (through from_std and back with into_std)
#[test]
fn udp_from_std_and_into_std() {
    aio::run(async {
        let a = UdpSocket::from_std(std::net::UdpSocket::bind("127.0.0.1:0").unwrap()).unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        a.connect(b.local_addr().unwrap()).await.unwrap();
        b.connect(a.local_addr().unwrap()).await.unwrap();
        assert_eq!(a.peer_addr().unwrap(), b.local_addr().unwrap());
        a.send(MSG).await.unwrap();
        let mut buf = [0u8; 32];
        let n = b.peek(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], MSG);
        let b = b.into_std().unwrap();
        let n = b.recv(&mut buf).unwrap(); // blocking, std: the datagram peeked is there
        assert_eq!(&buf[..n], MSG);
    });
}

// tokio/tests/udp.rs: send_to_recv_from
#[test]
fn udp_send_to_recv_from() {
    aio::run(async {
        let sender = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let receiver = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        sender
            .send_to(MSG, receiver.local_addr().unwrap())
            .await
            .unwrap();
        let mut buf = [0u8; 32];
        let (n, addr) = receiver.recv_from(&mut buf).await.unwrap();
        assert_eq!((&buf[..n], addr), (MSG, sender.local_addr().unwrap()));
    });
}

// tokio/tests/udp.rs: send_to_recv_closed_returns_err
#[test]
fn udp_recv_after_sending_to_a_closed_port_is_refused() {
    aio::run(async {
        let sender = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let receiver = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let receiver_addr = receiver.local_addr().unwrap();
        drop(receiver);
        sender.connect(receiver_addr).await.unwrap();
        sender.send(MSG).await.unwrap();
        let mut buf = [0u8; 32];
        // A guard against a hang, not a timing assertion: the error comes at once.
        let r = aio::timeout(Duration::from_secs(30), sender.recv(&mut buf)).await;
        let err = r
            .expect("recv waited instead of reporting the refused port")
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
    });
}

// tokio/tests/udp.rs: peek_sender
#[test]
fn udp_peek_sender_then_recv() {
    aio::run(async {
        let sender = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let receiver = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        sender
            .send_to(MSG, receiver.local_addr().unwrap())
            .await
            .unwrap();
        assert_eq!(
            receiver.peek_sender().await.unwrap(),
            sender.local_addr().unwrap()
        );
        let mut buf = [0u8; 32];
        let (n, addr) = receiver.recv_from(&mut buf).await.unwrap();
        assert_eq!((&buf[..n], addr), (MSG, sender.local_addr().unwrap()));
    });
}

// tokio/tests/udp.rs: try_peek_sender
#[test]
fn udp_try_peek_sender() {
    aio::run(async {
        let sender = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let receiver = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        sender
            .send_to(MSG, receiver.local_addr().unwrap())
            .await
            .unwrap();
        let from = loop {
            match receiver.try_peek_sender() {
                Ok(a) => break a,
                Err(e) if e.kind() == ErrorKind::WouldBlock => receiver.readable().await.unwrap(),
                Err(e) => panic!("{e}"),
            }
        };
        assert_eq!(from, sender.local_addr().unwrap());
        let mut buf = [0u8; 32];
        assert_eq!(receiver.recv_from(&mut buf).await.unwrap().0, MSG.len());
    });
}

// tokio/tests/udp.rs: split (one socket shared by two tasks: an Rc here, the loop being
// single-threaded)
#[test]
fn udp_socket_shared_by_two_tasks() {
    aio::run(async {
        let s = std::rc::Rc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
        let r = s.clone();
        let addr = s.local_addr().unwrap();
        aio::spawn(async move {
            s.send_to(MSG, addr).await.unwrap();
        });
        let mut buf = [0u8; 32];
        let (n, _) = r.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], MSG);
    });
}

// tokio/tests/udp.rs: try_send_spawn (without its last step, a send from another thread:
// concur's sockets belong to their loop's thread)
#[test]
fn udp_try_send_to_then_try_send_connected() {
    const MSG2: &[u8] = b"world!";
    aio::run(async {
        let sender = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let receiver = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        receiver
            .connect(sender.local_addr().unwrap())
            .await
            .unwrap();
        sender.writable().await.unwrap();
        assert_eq!(
            sender
                .try_send_to(MSG, receiver.local_addr().unwrap())
                .unwrap(),
            MSG.len()
        );
        let mut buf = [0u8; 32];
        let mut received = receiver.recv(&mut buf).await.unwrap();
        sender
            .connect(receiver.local_addr().unwrap())
            .await
            .unwrap();
        assert_eq!(sender.try_send(MSG2).unwrap(), MSG2.len());
        received += receiver.recv(&mut buf).await.unwrap();
        assert_eq!(received, MSG.len() + MSG2.len());
    });
}

// concur: poll_accept waits for a connection, and TTLs read back.
#[test]
fn poll_accept_and_ttl() {
    aio::run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        assert!(
            !ready_once(poll_fn(|cx| listener.poll_accept(cx))).await,
            "no client yet"
        );
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (conn, peer) = poll_fn(|cx| listener.poll_accept(cx)).await.unwrap();
        assert_eq!(peer, client.local_addr().unwrap());
        listener.set_ttl(33).unwrap();
        assert_eq!(listener.ttl().unwrap(), 33);
        conn.set_ttl(77).unwrap();
        assert_eq!(conn.ttl().unwrap(), 77);
    });
}

// tokio/tests/uds_stream.rs: try_read_write (compact: one WouldBlock, the wait, the data,
// a full send buffer, the drain)
#[test]
fn unix_try_read_try_write_and_readiness() {
    aio::run(async {
        let (a, b) = UnixStream::pair().unwrap();
        assert_eq!(
            b.try_read(&mut [0u8; 1]).unwrap_err().kind(),
            ErrorKind::WouldBlock
        );
        assert!(!ready_once(b.readable()).await);
        a.writable().await.unwrap();
        assert_eq!(a.try_write(b"ping").unwrap(), 4);
        b.readable().await.unwrap();
        let mut buf = [0u8; 4];
        assert_eq!(b.try_read(&mut buf).unwrap(), 4);
        assert_eq!(&buf, b"ping");
        let chunk = [1u8; 64 * 1024];
        let mut written = 0;
        loop {
            match a.try_write(&chunk) {
                Ok(n) => written += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => panic!("{e}"),
            }
        }
        assert!(!ready_once(a.writable()).await, "writable after WouldBlock");
        let mut read = 0;
        let mut big = vec![0u8; 64 * 1024];
        while read < written {
            b.readable().await.unwrap();
            match b.try_read(&mut big) {
                Ok(n) => read += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => continue,
                Err(e) => panic!("{e}"),
            }
        }
        a.writable().await.unwrap();
        assert!(a.peer_addr().unwrap().is_unnamed());
        // Off the loop and back.
        let a = UnixStream::from_std(a.into_std().unwrap()).unwrap();
        assert_eq!(a.try_write(b"!").unwrap(), 1);
    });
}

#[test]
fn owned_buffer_io_echoes_and_hands_the_buffers_back() {
    // compio/monoio's owned-buffer shape (no tokio peer case): read into spare capacity,
    // write all, the same Vec reused
    use concur::aio::net::{TcpListener, TcpStream};
    aio::run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = aio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = Vec::with_capacity(4096);
            loop {
                buf.clear();
                let (n, back) = s.read_owned(buf).await;
                buf = back;
                if n.unwrap() == 0 {
                    return;
                }
                let (w, back) = s.write_all_owned(buf).await;
                w.unwrap();
                buf = back;
            }
        });
        let mut client = TcpStream::connect(addr).await.unwrap();
        let message: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let (w, sent) = client.write_all_owned(message.clone()).await;
        w.unwrap();
        assert_eq!(sent, message, "the buffer comes back as it went");
        let mut got = Vec::with_capacity(message.len());
        let start_ptr = got.as_ptr();
        while got.len() < message.len() {
            let (n, back) = client.read_owned(got).await;
            assert!(n.unwrap() > 0);
            got = back;
        }
        assert_eq!(got, message);
        assert_eq!(
            got.as_ptr(),
            start_ptr,
            "read into spare capacity: never reallocated"
        );
        // A full buffer reads nothing and says so, without waiting.
        let (n, full) = client.read_owned(got).await;
        assert_eq!(n.unwrap(), 0);
        assert_eq!(full.len(), message.len());
        drop(client);
        server.await.unwrap();
    });
}

#[test]
fn owned_buffer_write_to_a_closed_peer_is_an_error_not_sigpipe() {
    use concur::aio::net::{TcpListener, TcpStream};
    aio::run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut client = TcpStream::connect(addr).await.unwrap();
        let (server_side, _) = listener.accept().await.unwrap();
        server_side.set_zero_linger().unwrap();
        drop(server_side); // RST
        let mut failed = false;
        for _ in 0..100 {
            let (r, _) = client.write_all_owned(vec![7u8; 65536]).await;
            if r.is_err() {
                failed = true;
                break;
            }
        }
        assert!(failed, "writing to a reset connection fails");
    });
}
