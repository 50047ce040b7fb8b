//! Sockets on the loop: TCP, UDP and Unix echo round trips.

use concur::aio::{
    self,
    net::{TcpListener, TcpStream, UdpSocket, UnixListener, UnixStream},
};
use futures_lite::{AsyncReadExt, AsyncWriteExt};

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
                    let (mut r, mut w) = futures_lite::io::split(s);
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
