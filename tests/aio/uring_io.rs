//! TCP streams' receives and sends: what must hold on every driver, and on the io_uring
//! driver (`CONCUR_AIO_DRIVER=io_uring`) with the bytes moving through the ring. Each
//! test runs on the driver the environment chooses.

use std::future::{poll_fn, Future};
use std::io::ErrorKind;
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;

use concur::aio::io::{AsyncReadExt, AsyncWriteExt};
use concur::aio::{
    self,
    net::{TcpListener, TcpStream},
};

/// A connected pair: (client, server).
async fn pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let client = aio::spawn(async move { TcpStream::connect(addr).await.unwrap() });
    let (server, _) = listener.accept().await.unwrap();
    (client.await.unwrap(), server)
}

/// A task that reads `stream` to its end and returns what it read.
fn read_all(mut stream: TcpStream) -> aio::Task<Vec<u8>> {
    aio::spawn(async move {
        let mut got = Vec::new();
        stream.read_to_end(&mut got).await.unwrap();
        got
    })
}

/// A thread that accepts one connection on `listener`, reads it to its end (blocking)
/// and returns what it read.
fn accept_and_read_all(listener: std::net::TcpListener) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let (mut peer, _) = listener.accept().unwrap();
        let mut got = Vec::new();
        std::io::Read::read_to_end(&mut peer, &mut got).unwrap();
        got
    })
}

/// `len` bytes no two neighbouring windows of which are alike.
fn pattern(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).max(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

#[test]
fn forced_io_uring_driver_is_the_one_running() {
    aio::run(async {
        if std::env::var("CONCUR_AIO_DRIVER").as_deref() == Ok("io_uring") {
            assert_eq!(aio::driver(), aio::Driver::IoUring);
        }
    });
}

#[test]
fn large_transfers_both_ways_at_once_arrive_intact() {
    aio::run(async {
        let (client, server) = pair().await;
        let up = pattern(8 << 20, 1);
        let down = pattern(8 << 20, 2);
        let (mut cr, mut cw) = client.into_split();
        let (mut sr, mut sw) = server.into_split();
        let up2 = up.clone();
        let down2 = down.clone();
        let send_up = aio::spawn(async move {
            cw.write_all(&up2).await.unwrap();
            cw.close().await.unwrap();
        });
        let send_down = aio::spawn(async move {
            sw.write_all(&down2).await.unwrap();
            sw.close().await.unwrap();
        });
        let recv_up = aio::spawn(async move {
            let mut got = Vec::new();
            sr.read_to_end(&mut got).await.unwrap();
            got
        });
        let mut got_down = Vec::new();
        cr.read_to_end(&mut got_down).await.unwrap();
        send_up.await.unwrap();
        send_down.await.unwrap();
        assert!(recv_up.await.unwrap() == up, "the upload arrived changed");
        assert!(got_down == down, "the download arrived changed");
    });
}

#[test]
fn read_futures_dropped_while_waiting_lose_no_bytes() {
    aio::run(async {
        let (mut client, mut server) = pair().await;
        let data = pattern(1 << 20, 3);
        let data2 = data.clone();
        let writer = aio::spawn(async move {
            for chunk in data2.chunks(7_919) {
                client.write_all(chunk).await.unwrap();
                aio::yield_now().await;
            }
            client
        });
        let mut got = Vec::new();
        let mut size = 1usize;
        while got.len() < data.len() {
            size = size % 5_000 + 97;
            let mut buf = vec![0u8; size];
            // One poll of a read, then the future is dropped if it has to wait.
            let n = {
                let mut read = pin!(server.read(&mut buf));
                poll_fn(|cx| Poll::Ready(read.as_mut().poll(cx))).await
            };
            match n {
                Poll::Ready(n) => {
                    let n = n.unwrap();
                    assert!(n > 0, "end of stream after {} bytes", got.len());
                    got.extend_from_slice(&buf[..n]);
                }
                Poll::Pending => aio::yield_now().await,
            }
        }
        assert!(got == data, "bytes lost or reordered by dropped reads");
        drop(writer.await.unwrap());
        let mut rest = Vec::new();
        server.read_to_end(&mut rest).await.unwrap();
        assert!(rest.is_empty());
    });
}

#[test]
fn peek_sees_the_bytes_the_next_read_returns() {
    aio::run(async {
        let (mut client, mut server) = pair().await;
        client.write_all(b"peekaboo").await.unwrap();
        let mut buf = [0u8; 8];
        let mut seen = 0;
        while seen < 4 {
            seen = server.peek(&mut buf[..4]).await.unwrap();
        }
        assert_eq!(&buf[..4], b"peek");
        let mut all = [0u8; 8];
        server.read_exact(&mut all).await.unwrap();
        assert_eq!(&all, b"peekaboo");
    });
}

#[test]
fn peer_close_gives_end_of_stream_after_its_last_bytes() {
    aio::run(async {
        let (mut client, mut server) = pair().await;
        let waiting = aio::spawn(async move {
            let mut got = Vec::new();
            server.read_to_end(&mut got).await.unwrap();
            let mut buf = [0u8; 4];
            assert_eq!(
                server.read(&mut buf).await.unwrap(),
                0,
                "the end stays the end"
            );
            got
        });
        client.write_all(b"goodbye").await.unwrap();
        client.flush().await.unwrap();
        drop(client);
        assert_eq!(waiting.await.unwrap(), b"goodbye");
    });
}

#[test]
fn peer_reset_gives_an_error_to_a_waiting_read() {
    aio::run(async {
        let (client, mut server) = pair().await;
        let reader = aio::spawn(async move {
            let mut buf = [0u8; 64];
            loop {
                match server.read(&mut buf).await {
                    Ok(0) => panic!("an orderly end instead of a reset"),
                    Ok(_) => {}
                    Err(e) => return e.kind(),
                }
            }
        });
        aio::yield_now().await; // the read is waiting now (or will be: either is fine)
        client.set_zero_linger().unwrap();
        drop(client);
        assert_eq!(reader.await.unwrap(), ErrorKind::ConnectionReset);
    });
}

#[test]
fn writes_to_a_reset_peer_fail_on_a_later_operation() {
    aio::run(async {
        let (client, mut server) = pair().await;
        client.set_zero_linger().unwrap();
        drop(client);
        let chunk = vec![7u8; 64 * 1024];
        let mut failed = None;
        for _ in 0..10_000 {
            let r = match server.write_all(&chunk).await {
                Ok(()) => server.flush().await,
                Err(e) => Err(e),
            };
            if let Err(e) = r {
                failed = Some(e.kind());
                break;
            }
        }
        let kind = failed.expect("writes to a reset peer kept succeeding");
        assert!(
            matches!(kind, ErrorKind::ConnectionReset | ErrorKind::BrokenPipe),
            "{kind:?}"
        );
    });
}

#[test]
fn many_connections_echo_concurrently() {
    aio::run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        const CONNS: usize = 200;
        let server = aio::spawn(async move {
            let mut conns = Vec::new();
            for _ in 0..CONNS {
                let (mut c, _) = listener.accept().await.unwrap();
                conns.push(aio::spawn(async move {
                    let (mut r, mut w) = c.split();
                    aio::io::copy(&mut r, &mut w).await.unwrap()
                }));
            }
            let mut total = 0;
            for c in conns {
                total += c.await.unwrap();
            }
            total
        });
        let mut clients = Vec::new();
        for i in 0..CONNS {
            clients.push(aio::spawn(async move {
                let mut s = TcpStream::connect(addr).await.unwrap();
                let msg = pattern(20_000 + i, i as u32 + 10);
                let (mut r, mut w) = s.split();
                let send = async {
                    w.write_all(&msg).await.unwrap();
                    w.close().await.unwrap();
                };
                let recv = async {
                    let mut got = Vec::new();
                    r.read_to_end(&mut got).await.unwrap();
                    got
                };
                let ((), got) = futures_lite::future::zip(send, recv).await;
                assert!(got == msg, "connection {i} got other bytes back");
                msg.len() as u64
            }));
        }
        let mut sent = 0;
        for c in clients {
            sent += c.await.unwrap();
        }
        assert_eq!(server.await.unwrap(), sent);
    });
}

#[test]
fn owned_buffer_reads_and_writes_round_trip() {
    aio::run(async {
        let (mut client, mut server) = pair().await;
        let msg = pattern(300_000, 5);
        let (r, _) = client.write_all_owned(msg.clone()).await;
        r.unwrap();
        let mut got = Vec::with_capacity(msg.len());
        while got.len() < msg.len() {
            let (n, back) = server.read_owned(got).await;
            assert!(n.unwrap() > 0);
            got = back;
        }
        assert!(got == msg);
    });
}

#[test]
fn loop_ends_cleanly_with_reads_still_waiting() {
    // Each stream drops with a read waiting in the ring; the loop then ends. Nothing
    // may touch freed memory (a sanitizer or a crash would say so) or hang.
    for _ in 0..20 {
        aio::run(async {
            let (client, server) = pair().await;
            let keep = aio::spawn(async move {
                let mut server = server;
                let mut buf = [0u8; 16];
                let _ = server.read(&mut buf).await;
            });
            aio::yield_now().await;
            drop(keep);
            drop(client);
        });
    }
}

#[test]
fn a_flushed_message_reaches_the_peer_while_the_task_then_blocks_its_thread() {
    // The peer is a blocking std socket read on this very thread, after the write: the
    // loop gets no turn in between, so the flush must hand the bytes to the kernel itself
    // (on io_uring a write is queued for the loop's next turn; the flush submits it).
    aio::run(async {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let std = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut peer, _) = listener.accept().unwrap();
        let mut stream = TcpStream::from_std(std).unwrap();
        stream.write_all(b"hello").await.unwrap();
        stream.flush().await.unwrap();
        peer.set_read_timeout(Some(std::time::Duration::from_secs(30)))
            .unwrap();
        let mut buf = [0u8; 5];
        std::io::Read::read_exact(&mut peer, &mut buf).expect("the bytes left the loop");
        assert_eq!(&buf, b"hello");
    });
}

#[test]
fn written_messages_of_many_tasks_reach_their_peers_once_the_tasks_wait() {
    // Each task writes and then awaits its peer's answer: its bytes go out with the
    // loop's next turn, and every answer comes back.
    aio::run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut tasks = Vec::new();
        for i in 0..20u8 {
            let client = TcpStream::connect(addr).await.unwrap();
            let (server, _) = listener.accept().await.unwrap();
            tasks.push(aio::spawn(async move {
                let mut server = server;
                let mut buf = [0u8; 3];
                server.read_exact(&mut buf).await.unwrap();
                server.write_all(&buf).await.unwrap();
            }));
            tasks.push(aio::spawn(async move {
                let mut client = client;
                client.write_all(&[i, i, i]).await.unwrap();
                let mut buf = [0u8; 3];
                client.read_exact(&mut buf).await.unwrap();
                assert_eq!(buf, [i, i, i]);
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    });
}

/// A xorshift generator: the same "random" choices on every run.
struct Choices(u64);

impl Choices {
    fn next(&mut self, below: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % below as u64) as usize
    }
}

#[test]
fn reads_cancelled_at_random_points_lose_and_duplicate_no_byte() {
    // A read given one poll (`timeout(ZERO, ..)` cancels it if it is not ready at once)
    // at random points, with random sizes, between reads that wait: what the reader
    // assembles is exactly what the peer sent.
    aio::run(async {
        let (mut client, server) = pair().await;
        let sent = pattern(2 << 20, 7);
        let expect = sent.clone();
        let writer = aio::spawn(async move {
            let mut server = server;
            let mut choices = Choices(11);
            let mut at = 0;
            while at < sent.len() {
                let n = (1 + choices.next(20_000)).min(sent.len() - at);
                server.write_all(&sent[at..at + n]).await.unwrap();
                at += n;
                if choices.next(4) == 0 {
                    aio::yield_now().await;
                }
            }
            server.close().await.unwrap();
        });
        let mut got = Vec::new();
        let mut choices = Choices(5);
        let mut buf = vec![0u8; 40_000];
        loop {
            let len = 1 + choices.next(buf.len() - 1);
            let n = if choices.next(2) == 0 {
                match aio::timeout(Duration::ZERO, client.read(&mut buf[..len])).await {
                    Ok(n) => n.unwrap(),
                    Err(_) => continue, // cancelled while waiting
                }
            } else {
                client.read(&mut buf[..len]).await.unwrap()
            };
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        writer.await.unwrap();
        assert_eq!(got.len(), expect.len(), "bytes lost or duplicated");
        assert!(got == expect, "the bytes arrived out of order or changed");
    });
}

#[test]
fn writes_cancelled_at_random_points_send_exactly_what_they_reported() {
    // A write given one poll at random points: one that returned a count sent those
    // bytes, one that was cancelled sent none; the peer receives exactly the reported
    // bytes, in order.
    aio::run(async {
        let (client, server) = pair().await;
        let reader = read_all(server);
        let source = pattern(1 << 20, 9);
        let mut reported = Vec::new();
        let mut choices = Choices(3);
        let mut client = client;
        let mut at = 0;
        while at < source.len() {
            let n = (1 + choices.next(30_000)).min(source.len() - at);
            let chunk = &source[at..at + n];
            let wrote = if choices.next(2) == 0 {
                match aio::timeout(Duration::ZERO, client.write(chunk)).await {
                    Ok(w) => w.unwrap(),
                    Err(_) => 0, // cancelled: nothing was written
                }
            } else {
                client.write(chunk).await.unwrap()
            };
            reported.extend_from_slice(&chunk[..wrote]);
            at += wrote;
        }
        client.close().await.unwrap();
        let got = reader.await.unwrap();
        assert_eq!(got.len(), reported.len(), "bytes lost or duplicated");
        assert!(
            got == reported,
            "the peer got other bytes than were reported"
        );
    });
}

#[test]
fn a_stream_nobody_reads_holds_the_sender_back_and_loses_nothing() {
    // The reader reads one byte (so the stream is receiving) and then nothing while the
    // sender writes far more than the loop's receive buffers hold: the sender is held
    // back (its writes wait), and once the reader reads, every byte arrives in order.
    aio::run(async {
        let (client, mut server) = pair().await;
        let sent = pattern(16 << 20, 4);
        let expect = sent.clone();
        let (progress_tx, progress_rx) = aio::sync::oneshot::channel();
        let writer = aio::spawn(async move {
            let mut client = client;
            client.write_all(&sent[..1]).await.unwrap();
            let mut told = Some(progress_tx);
            let mut at = 1;
            while at < sent.len() {
                let end = (at + 64 * 1024).min(sent.len());
                client.write_all(&sent[at..end]).await.unwrap();
                at = end;
                if at >= 1 << 20 {
                    if let Some(tx) = told.take() {
                        let _ = tx.send(());
                    }
                }
            }
            client.close().await.unwrap();
        });
        let mut got = vec![0u8; 1];
        server.read_exact(&mut got).await.unwrap();
        // A mebibyte written past what was read: more than the receive buffers and the
        // stream's share of them; the rest waits in the sockets.
        progress_rx.await.unwrap();
        server.read_to_end(&mut got).await.unwrap();
        writer.await.unwrap();
        assert_eq!(got.len(), expect.len(), "bytes lost or duplicated");
        assert!(got == expect, "the bytes arrived out of order or changed");
    });
}

#[test]
fn more_streams_than_receive_buffers_each_get_their_bytes() {
    // 300 streams all receiving at once, each sent 20 KiB that nobody reads until every
    // sender is done: more than the loop's receive buffers can hold, so some streams
    // find none; each still gets all its bytes.
    const STREAMS: usize = 300;
    aio::run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let all_sent = std::rc::Rc::new(aio::sync::Barrier::new(STREAMS + 1));
        let mut readers = Vec::new();
        let mut writers = Vec::new();
        for i in 0..STREAMS {
            let client = TcpStream::connect(addr).await.unwrap();
            let (server, _) = listener.accept().await.unwrap();
            let data = pattern(20 * 1024, i as u32 + 100);
            let expect = data.clone();
            let sent = all_sent.clone();
            readers.push(aio::spawn(async move {
                let mut server = server;
                // One byte read: the stream is receiving from now on.
                let mut got = vec![0u8; 1];
                server.read_exact(&mut got).await.unwrap();
                sent.wait().await.unwrap();
                got.resize(expect.len(), 0);
                server.read_exact(&mut got[1..]).await.unwrap();
                assert!(got == expect, "a stream's bytes were lost or changed");
            }));
            writers.push(aio::spawn(async move {
                let mut client = client;
                client.write_all(&data).await.unwrap();
                client.flush().await.unwrap();
                client
            }));
        }
        let mut clients = Vec::new();
        for w in writers {
            clients.push(w.await.unwrap());
        }
        all_sent.wait().await.unwrap();
        for r in readers {
            r.await.unwrap();
        }
        drop(clients);
    });
}

#[test]
fn frames_read_exactly_are_served_in_order_by_read_peek_try_read_and_readable() {
    // A reader of fixed-size frames (which makes the epoll driver read ahead) gets every
    // frame in order, whichever way it asks: read_exact, peek, try_read, readable.
    aio::run(async {
        let (mut client, mut server) = pair().await;
        let frames: Vec<Vec<u8>> = (0..12).map(|i| vec![i as u8; 100]).collect();
        client.write_all(&frames[0]).await.unwrap();
        let mut buf = [0u8; 100];
        server.read_exact(&mut buf).await.unwrap();
        assert_eq!(buf[..], frames[0][..]);
        // The rest in one write: one receive may bring them all.
        client.write_all(&frames[1..].concat()).await.unwrap();
        client.flush().await.unwrap();
        server.read_exact(&mut buf).await.unwrap();
        assert_eq!(buf[..], frames[1][..]);
        let mut peeked = [0u8; 100];
        let n = server.peek(&mut peeked).await.unwrap();
        assert!(
            n > 0 && peeked[..n] == frames[2][..n],
            "peek shows the next frame"
        );
        server.readable().await.unwrap();
        let mut next = 2;
        let mut at = 0;
        while next < frames.len() {
            let n = match server.try_read(&mut buf[at..]) {
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    server.readable().await.unwrap();
                    continue;
                }
                Err(e) => panic!("try_read: {e}"),
            };
            assert!(n > 0, "no end of stream yet");
            at += n;
            if at == buf.len() {
                assert_eq!(buf[..], frames[next][..], "frame {next}");
                next += 1;
                at = 0;
            }
        }
    });
}

#[test]
fn into_std_refuses_to_drop_bytes_already_taken_from_the_socket() {
    // Bytes the loop took from the socket and the program has not read would be lost by
    // a std stream: into_std says so instead. (Read them first, and it succeeds.)
    aio::run(async {
        let (mut client, mut server) = pair().await;
        let mut buf = [0u8; 10];
        client.write_all(&[1; 10]).await.unwrap();
        server.read_exact(&mut buf).await.unwrap();
        client.write_all(&[2; 30]).await.unwrap();
        client.flush().await.unwrap();
        server.read_exact(&mut buf).await.unwrap();
        assert_eq!(buf, [2; 10]);
        drop(client); // a lost byte shows as an early end, not a hang
                      // The other 20 bytes may be in the loop's hands now: then into_std must refuse.
        match server.into_std() {
            Ok(mut std) => {
                let mut rest = [0u8; 20];
                std::io::Read::read_exact(&mut std, &mut rest).unwrap();
                assert_eq!(rest, [2; 20]);
            }
            Err(e) => assert!(e.to_string().contains("would be lost"), "{e}"),
        }
    });
}

#[test]
fn a_stream_dropped_right_after_writing_delivers_to_its_own_peer_only() {
    // The last write of a stream dropped in the same poll must reach its own peer: on
    // io_uring it may still be queued for the loop's next turn, and the sockets opened
    // next (here, before the loop turns) take the closed descriptor's number.
    aio::run(async {
        let (mut client, mut server) = pair().await;
        server.write_all(b"last words").await.unwrap();
        drop(server);
        let other = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let other_client = std::net::TcpStream::connect(other.local_addr().unwrap()).unwrap();
        let (other_server, _) = other.accept().unwrap();
        let mut got = Vec::new();
        client.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"last words");
        other_client.set_nonblocking(true).unwrap();
        let mut stray = [0u8; 16];
        let e = std::io::Read::read(&mut &other_client, &mut stray);
        assert!(
            matches!(&e, Err(e) if e.kind() == ErrorKind::WouldBlock),
            "bytes reached a stranger socket: {e:?}"
        );
        drop(other_server);
    });
}

#[test]
fn owned_writes_interleaved_with_borrowed_ones_keep_their_order_and_buffers() {
    // write_all_owned (no copy on io_uring) between ordinary writes: the peer gets the
    // bytes in the order written, and each owned buffer comes back whole.
    aio::run(async {
        let (mut client, server) = pair().await;
        let reader = read_all(server);
        let mut expect = Vec::new();
        for i in 0..20u32 {
            let owned = pattern(1 + (i as usize * 37_000) % 300_000, i);
            expect.extend_from_slice(&owned);
            let (r, back) = client.write_all_owned(owned.clone()).await;
            r.unwrap();
            assert!(back == owned, "the owned buffer came back changed");
            let borrowed = pattern(1 + i as usize * 11, i + 1000);
            client.write_all(&borrowed).await.unwrap();
            expect.extend_from_slice(&borrowed);
        }
        client.close().await.unwrap();
        let got = reader.await.unwrap();
        assert_eq!(got.len(), expect.len(), "bytes lost or duplicated");
        assert!(got == expect, "the bytes arrived out of order or changed");
    });
}

#[test]
fn a_loop_that_ends_right_after_a_large_write_delivers_all_of_it() {
    // The last write returned, then the loop ended: its bytes reach the peer in full
    // before the end of the stream, on io_uring too (where the write's send may still
    // be in flight when the loop ends).
    // Small socket buffers on both sides: the last send cannot be all in the kernel's
    // buffers when the write returns, so it is still in flight when the loop ends.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    set_buffer(&listener, libc::SO_RCVBUF);
    let addr = listener.local_addr().unwrap();
    let sent = pattern(4 << 20, 21);
    let expect = sent.clone();
    let reader = accept_and_read_all(listener);
    aio::run(async move {
        let socket = aio::net::TcpSocket::new_v4().unwrap();
        socket.set_send_buffer_size(4096).unwrap();
        let mut s = socket.connect(addr).await.unwrap();
        s.write_all(&sent).await.unwrap();
        // No flush, no close: the loop ends here.
    });
    let got = reader.join().unwrap();
    assert_eq!(got.len(), expect.len(), "bytes a write reported were lost");
    assert!(got == expect);
}

#[test]
fn into_std_after_a_large_write_keeps_the_bytes_in_order() {
    // A std write after into_std comes after every byte the loop's writes took.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let first = pattern(1 << 20, 22);
    let mut expect = first.clone();
    expect.extend_from_slice(b"after");
    let reader = accept_and_read_all(listener);
    aio::run(async move {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(&first).await.unwrap();
        let mut std = s.into_std().unwrap();
        std::io::Write::write_all(&mut std, b"after").unwrap();
    });
    let got = reader.join().unwrap();
    assert_eq!(got.len(), expect.len(), "bytes lost");
    assert!(got == expect, "the std write overtook the loop's bytes");
}

/// Sets the socket buffer `which` (`SO_RCVBUF`, `SO_SNDBUF`) of `fd` to its smallest.
fn set_buffer(fd: &impl std::os::fd::AsRawFd, which: libc::c_int) {
    let size: libc::c_int = 4096;
    // SAFETY: a valid socket descriptor and a pointer to an `int` of the given length.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            which,
            (&size as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "setsockopt: {}", std::io::Error::last_os_error());
}
