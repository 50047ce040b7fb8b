//! Crates written for tokio, on `concur::aio`: tokio's I/O traits on concur's streams, and
//! futures that need a tokio reactor (`aio::tokio::with_tokio`).

use std::time::Duration;

use concur::aio::{
    self,
    net::{TcpListener, TcpStream, UnixStream},
};
use futures_lite::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::codec::{FramedRead, LengthDelimitedCodec};

#[test]
fn a_tokio_codec_reads_frames_from_a_concur_stream() {
    aio::run(async {
        let (mut a, b) = UnixStream::pair().unwrap();
        // The writer sends 200 length-prefixed frames of growing size through tokio's
        // write traits; the reader is tokio-util's FramedRead over the concur stream.
        let writer = aio::spawn(async move {
            for i in 0..200u32 {
                let body = vec![(i % 251) as u8; (i * 97) as usize];
                a.write_u32(body.len() as u32).await.unwrap();
                a.write_all(&body).await.unwrap();
            }
            a.shutdown().await.unwrap();
        });
        let mut frames = FramedRead::new(b, LengthDelimitedCodec::new());
        let mut i = 0u32;
        while let Some(frame) = frames.next().await {
            let frame = frame.unwrap();
            assert_eq!(frame.len(), (i * 97) as usize);
            assert!(frame.iter().all(|&x| x == (i % 251) as u8));
            i += 1;
        }
        assert_eq!(i, 200);
        writer.await.unwrap();
    });
}

#[test]
fn tokio_copy_echoes_through_concur_tcp_streams() {
    aio::run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let echo = aio::spawn(async move {
            let (conn, _) = listener.accept().await.unwrap();
            let (mut r, mut w) = tokio::io::split(conn);
            tokio::io::copy(&mut r, &mut w).await.unwrap()
        });
        let conn = TcpStream::connect(addr).await.unwrap();
        let (mut r, mut w) = tokio::io::split(conn);
        let data: Vec<u8> = (0..4 << 20).map(|i: u32| (i * 31 % 256) as u8).collect();
        let expected = data.clone();
        let send = aio::spawn(async move {
            w.write_all(&data).await.unwrap();
            w.shutdown().await.unwrap();
        });
        let mut back = Vec::new();
        r.read_to_end(&mut back).await.unwrap();
        send.await.unwrap();
        assert_eq!(echo.await.unwrap(), expected.len() as u64);
        assert!(back == expected, "4 MiB came back unchanged");
    });
}

#[test]
fn tokio_sockets_and_timers_work_inside_the_loop_with_a_tokio_reactor() {
    let got = aio::run(aio::tokio::with_tokio(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = aio::spawn(aio::tokio::with_tokio(async move {
            let mut served = 0;
            while served < 20 {
                let (mut conn, _) = listener.accept().await.unwrap();
                let mut buf = [0u8; 8];
                conn.read_exact(&mut buf).await.unwrap();
                conn.write_all(&buf).await.unwrap();
                served += 1;
            }
            served
        }));
        // Twenty clients at once, each echoing one value; the concur loop runs them all.
        let clients: Vec<_> = (0..20u64)
            .map(|i| {
                aio::spawn(aio::tokio::with_tokio(async move {
                    let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
                    tokio::time::sleep(Duration::from_millis(i % 3)).await;
                    c.write_all(&i.to_le_bytes()).await.unwrap();
                    let mut buf = [0u8; 8];
                    c.read_exact(&mut buf).await.unwrap();
                    u64::from_le_bytes(buf)
                }))
            })
            .collect();
        let mut sum = 0;
        for c in clients {
            sum += c.await.unwrap();
        }
        assert_eq!(server.await.unwrap(), 20);
        sum
    }));
    assert_eq!(got, (0..20).sum::<u64>());
}

#[test]
fn a_tokio_timer_that_is_cancelled_by_a_concur_timeout_is_dropped_cleanly() {
    aio::run(async {
        let r = aio::timeout(
            Duration::from_millis(5),
            // Created inside `with_tokio`'s future, where the reactor is entered.
            aio::tokio::with_tokio(async { tokio::time::sleep(Duration::from_secs(3600)).await }),
        )
        .await;
        assert!(r.is_err());
        // The runtime is still fine afterwards.
        aio::tokio::with_tokio(async { tokio::time::sleep(Duration::from_millis(1)).await }).await;
    });
}
