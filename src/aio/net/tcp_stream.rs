//! [`TcpStream`]: a TCP connection on the loop.

use std::fmt;
use std::future::poll_fn;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_io::{AsyncRead, AsyncWrite};

use super::addr::{resolve, resolved_to_nothing, ToSocketAddrs};
use super::split::{ReadHalf, WriteHalf};
use super::split_owned::{self, OwnedReadHalf, OwnedWriteHalf};
use crate::aio::driver::Direction;
use crate::aio::registered::Registered;

/// A TCP connection: `asyncio.open_connection`'s stream. Implements
/// [`AsyncRead`] and [`AsyncWrite`]; see [`TcpListener`](super::TcpListener) for an example.
///
/// ```
/// use concur::aio::{self, net::{TcpListener, TcpStream}};
/// aio::run(async {
///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
///     let addr = listener.local_addr().unwrap();
///     let accepted = aio::spawn(async move { listener.accept().await.map(|(s, _)| s.peer_addr()) });
///     let stream = TcpStream::connect(addr).await.unwrap();
///     assert_eq!(accepted.await.unwrap().unwrap().unwrap(), stream.local_addr().unwrap());
/// });
/// ```
pub struct TcpStream {
    pub(super) io: Registered<mio::net::TcpStream>,
}

impl TcpStream {
    pub(super) fn from_mio(s: mio::net::TcpStream) -> io::Result<Self> {
        Ok(TcpStream {
            io: Registered::new_stream(s, "net::TcpStream")?,
        })
    }

    /// Connects to `addr`, trying each of its addresses in turn. A host name is resolved
    /// on the thread pool while the loop keeps running (see [`ToSocketAddrs`]).
    ///
    /// # Panics
    ///
    /// Outside of an event loop.
    ///
    /// ```
    /// use concur::aio::{self, net::{TcpListener, TcpStream}};
    /// aio::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let addr = listener.local_addr().unwrap();
    ///     let client = aio::spawn(async move { TcpStream::connect(addr).await });
    ///     let (conn, peer) = listener.accept().await.unwrap();
    ///     let client = client.await.unwrap().unwrap();
    ///     assert_eq!(client.local_addr().unwrap(), peer);
    ///     assert_eq!(client.peer_addr().unwrap(), conn.local_addr().unwrap());
    ///     assert!(peer.port() > 0);
    /// });
    /// ```
    pub async fn connect(addr: impl ToSocketAddrs) -> io::Result<TcpStream> {
        let mut last = None;
        for a in resolve(addr).await? {
            match Self::connect_one(a).await {
                Ok(s) => return Ok(s),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(resolved_to_nothing))
    }

    async fn connect_one(addr: SocketAddr) -> io::Result<TcpStream> {
        Self::from_mio(mio::net::TcpStream::connect(addr)?)?
            .connected()
            .await
    }

    /// Waits until a non-blocking connect started on this stream finishes: the socket
    /// becomes writable, then either it has a peer or an error says why not.
    pub(super) async fn connected(self) -> io::Result<TcpStream> {
        loop {
            poll_fn(|cx| self.io.poll_ready(cx, Direction::Write)).await;
            if let Some(e) = self.io.source().take_error()? {
                return Err(e);
            }
            match self.io.source().peer_addr() {
                Ok(_) => return Ok(self),
                Err(e) if e.kind() == io::ErrorKind::NotConnected => {
                    self.io.clear(Direction::Write)
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The remote address.
    ///
    /// ```
    /// use concur::aio::{self, net::{TcpListener, TcpStream}};
    /// aio::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let addr = listener.local_addr().unwrap();
    ///     let client = aio::spawn(async move { TcpStream::connect(addr).await });
    ///     let (conn, peer) = listener.accept().await.unwrap();
    ///     let client = client.await.unwrap().unwrap();
    ///     assert_eq!(client.local_addr().unwrap(), peer);
    ///     assert_eq!(client.peer_addr().unwrap(), conn.local_addr().unwrap());
    ///     let _ = conn;
    /// });
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.source().peer_addr()
    }

    /// The local address.
    ///
    /// ```
    /// use concur::aio::{self, net::{TcpListener, TcpStream}};
    /// aio::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let addr = listener.local_addr().unwrap();
    ///     let client = aio::spawn(async move { TcpStream::connect(addr).await });
    ///     let (conn, peer) = listener.accept().await.unwrap();
    ///     let client = client.await.unwrap().unwrap();
    ///     assert_eq!(client.local_addr().unwrap(), peer);
    ///     assert_eq!(client.peer_addr().unwrap(), conn.local_addr().unwrap());
    ///     assert!(addr.ip().is_loopback());
    /// });
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.source().local_addr()
    }

    /// Sets `TCP_NODELAY` (disables Nagle's algorithm).
    ///
    /// ```
    /// use concur::aio::{self, net::{TcpListener, TcpStream}};
    /// aio::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let addr = listener.local_addr().unwrap();
    ///     let client = aio::spawn(async move { TcpStream::connect(addr).await });
    ///     let (conn, peer) = listener.accept().await.unwrap();
    ///     let client = client.await.unwrap().unwrap();
    ///     assert_eq!(client.local_addr().unwrap(), peer);
    ///     assert_eq!(client.peer_addr().unwrap(), conn.local_addr().unwrap());
    ///     client.set_nodelay(true).unwrap();
    /// });
    /// ```
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.io.source().set_nodelay(nodelay)
    }

    /// Shuts down the read, write or both halves.
    ///
    /// ```
    /// use concur::aio::{self, net::{TcpListener, TcpStream}};
    /// aio::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let addr = listener.local_addr().unwrap();
    ///     let client = aio::spawn(async move { TcpStream::connect(addr).await });
    ///     let (conn, peer) = listener.accept().await.unwrap();
    ///     let client = client.await.unwrap().unwrap();
    ///     assert_eq!(client.local_addr().unwrap(), peer);
    ///     assert_eq!(client.peer_addr().unwrap(), conn.local_addr().unwrap());
    ///     client.shutdown(std::net::Shutdown::Write).unwrap();
    /// });
    /// ```
    ///
    /// On the io_uring driver, shutting the write side down while a send is still in
    /// flight is done when that send completes (its bytes go first).
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        if how != Shutdown::Read {
            if let Some(r) = self.io.defer_shutdown_write() {
                if how == Shutdown::Both {
                    self.io.source().shutdown(Shutdown::Read)?;
                }
                return r;
            }
        }
        self.io.source().shutdown(how)
    }

    /// Whether `TCP_NODELAY` is set (see [`set_nodelay`](Self::set_nodelay)).
    ///
    /// ```
    /// use concur::aio::{self, net::{TcpListener, TcpStream}};
    /// aio::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    ///     let (server, _) = listener.accept().await.unwrap();
    ///     client.set_nodelay(true).unwrap();
    ///     assert!(client.nodelay().unwrap());
    ///     let _ = server;
    /// });
    /// ```
    pub fn nodelay(&self) -> io::Result<bool> {
        self.io.source().nodelay()
    }

    /// Sets `SO_LINGER`: what closing the socket does with data not yet sent. `None` (the
    /// default) closes at once and lets the OS send the rest in the background;
    /// `Some(Duration::ZERO)` discards it and resets the connection (the peer reads
    /// `ConnectionReset`); `Some(d)` makes the close wait up to `d` for the data to go.
    ///
    /// A non-zero linger makes dropping the stream block **the loop's thread** for up to
    /// `d` (Linux lingers in `close` even on a non-blocking socket), which is why tokio
    /// deprecated it; prefer [`set_zero_linger`](Self::set_zero_linger) or `None`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use concur::aio::{self, net::{TcpListener, TcpStream}};
    /// aio::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    ///     let (server, _) = listener.accept().await.unwrap();
    ///     client.set_linger(Some(Duration::from_secs(1))).unwrap();
    ///     assert_eq!(client.linger().unwrap(), Some(Duration::from_secs(1)));
    ///     client.set_linger(None).unwrap();
    ///     assert_eq!(client.linger().unwrap(), None);
    ///     let _ = server;
    /// });
    /// ```
    pub fn set_linger(&self, linger: Option<Duration>) -> io::Result<()> {
        rustix::net::sockopt::set_socket_linger(self.io.source(), linger).map_err(Into::into)
    }

    /// Sets a linger of zero: closing the socket discards unsent data and resets the
    /// connection (`RST`) instead of the orderly `FIN`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use concur::aio::{self, net::{TcpListener, TcpStream}};
    /// aio::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    ///     let (server, _) = listener.accept().await.unwrap();
    ///     client.set_zero_linger().unwrap();
    ///     assert_eq!(client.linger().unwrap(), Some(Duration::ZERO));
    ///     let _ = server;
    /// });
    /// ```
    pub fn set_zero_linger(&self) -> io::Result<()> {
        self.set_linger(Some(Duration::ZERO))
    }

    /// The `SO_LINGER` setting (see [`set_linger`](Self::set_linger)).
    ///
    /// ```
    /// use concur::aio::{self, net::{TcpListener, TcpStream}};
    /// aio::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    ///     let (server, _) = listener.accept().await.unwrap();
    ///     assert_eq!(client.linger().unwrap(), None); // the OS default
    ///     let _ = server;
    /// });
    /// ```
    pub fn linger(&self) -> io::Result<Option<Duration>> {
        rustix::net::sockopt::socket_linger(self.io.source()).map_err(Into::into)
    }

    /// Sets `IP_TTL`, the time-to-live of the packets this socket sends.
    ///
    /// ```
    /// use concur::aio::{self, net::{TcpListener, TcpStream}};
    /// aio::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    ///     client.set_ttl(100).unwrap();
    ///     assert_eq!(client.ttl().unwrap(), 100);
    /// });
    /// ```
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.io.source().set_ttl(ttl)
    }

    /// The `IP_TTL` setting (see [`set_ttl`](Self::set_ttl)).
    ///
    /// ```
    /// use concur::aio::{self, net::{TcpListener, TcpStream}};
    /// aio::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    ///     assert!(client.ttl().unwrap() > 0);
    /// });
    /// ```
    pub fn ttl(&self) -> io::Result<u32> {
        self.io.source().ttl()
    }

    /// Takes the socket's pending error (`SO_ERROR`), if any.
    ///
    /// ```
    /// use concur::aio::{self, net::{TcpListener, TcpStream}};
    /// aio::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    ///     let (server, _) = listener.accept().await.unwrap();
    ///     assert!(client.take_error().unwrap().is_none());
    ///     let _ = server;
    /// });
    /// ```
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.source().take_error()
    }

    /// Receives data without removing it from the socket's queue: the next read (or
    /// peek) sees the same bytes. Waits until there is some; 0 means the peer closed
    /// its side. Cancel safe: a cancelled peek consumed nothing.
    ///
    /// ```
    /// use concur::aio::io::{AsyncReadExt, AsyncWriteExt};
    /// use concur::aio::{self, net::{TcpListener, TcpStream}};
    /// aio::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    ///     let (server, _) = listener.accept().await.unwrap();
    ///     let mut server = server;
    ///     server.write_all(b"abc").await.unwrap();
    ///     let mut client = client;
    ///     let mut buf = [0u8; 8];
    ///     let n = client.peek(&mut buf).await.unwrap();
    ///     assert_eq!(&buf[..n], b"abc");
    ///     let m = client.read(&mut buf).await.unwrap(); // the same bytes again
    ///     assert_eq!(&buf[..m], b"abc");
    /// });
    /// ```
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        poll_fn(|cx| self.poll_peek(cx, buf)).await
    }

    /// [`peek`](Self::peek) as a poll function: `Pending` (with `cx`'s waker stored) until
    /// there is data or the read side ended.
    ///
    /// ```
    /// use std::future::poll_fn;
    /// use concur::aio::io::AsyncWriteExt;
    /// use concur::aio::{self, net::{TcpListener, TcpStream}};
    /// aio::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    ///     let (server, _) = listener.accept().await.unwrap();
    ///     let mut server = server;
    ///     server.write_all(b"x").await.unwrap();
    ///     let mut buf = [0u8; 1];
    ///     assert_eq!(poll_fn(|cx| client.poll_peek(cx, &mut buf)).await.unwrap(), 1);
    /// });
    /// ```
    pub fn poll_peek(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        self.io.poll_read_slice(cx, buf, true, |s, b| s.peek(b))
    }

    /// Waits until the socket may be read: data arrived, the peer closed its side, or an
    /// error is pending. The readiness can be spurious: a [`try_read`](Self::try_read)
    /// after it may still say [`WouldBlock`](io::ErrorKind::WouldBlock), and then the
    /// next `readable()` waits for the next event. A new stream starts out "ready" in both
    /// directions (the loop tries the OS first, and waits only after a "would block"),
    /// so its first `readable()` returns at once. Cancel safe.
    ///
    /// ```
    /// use std::io::ErrorKind;
    /// use concur::aio::io::AsyncWriteExt;
    /// use concur::aio::{self, net::{TcpListener, TcpStream}};
    /// aio::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    ///     let (server, _) = listener.accept().await.unwrap();
    ///     let mut server = server;
    ///     server.write_all(b"hello").await.unwrap();
    ///     let mut buf = [0u8; 16];
    ///     let n = loop {
    ///         client.readable().await.unwrap();
    ///         match client.try_read(&mut buf) {
    ///             Ok(n) => break n,
    ///             Err(e) if e.kind() == ErrorKind::WouldBlock => continue,
    ///             Err(e) => panic!("{e}"),
    ///         }
    ///     };
    ///     assert_eq!(&buf[..n], b"hello");
    /// });
    /// ```
    pub async fn readable(&self) -> io::Result<()> {
        poll_fn(|cx| self.poll_read_ready(cx)).await
    }

    /// Waits until the socket may be written: there is room in its send buffer, the
    /// connection ended, or an error is pending. Spurious like
    /// [`readable`](Self::readable). Cancel safe.
    ///
    /// ```
    /// use concur::aio::{self, net::{TcpListener, TcpStream}};
    /// aio::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    ///     let (server, _) = listener.accept().await.unwrap();
    ///     client.writable().await.unwrap();
    ///     assert_eq!(client.try_write(b"hi").unwrap(), 2);
    ///     let _ = server;
    /// });
    /// ```
    pub async fn writable(&self) -> io::Result<()> {
        poll_fn(|cx| self.poll_write_ready(cx)).await
    }

    /// [`readable`](Self::readable) as a poll function. An error only if the socket's
    /// loop has ended.
    ///
    /// ```
    /// use std::future::poll_fn;
    /// use concur::aio::io::AsyncWriteExt;
    /// use concur::aio::{self, net::{TcpListener, TcpStream}};
    /// aio::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    ///     let (server, _) = listener.accept().await.unwrap();
    ///     let mut client = client;
    ///     client.write_all(b"x").await.unwrap();
    ///     poll_fn(|cx| server.poll_read_ready(cx)).await.unwrap();
    /// });
    /// ```
    pub fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.io.poll_stream_read_ready(cx)
    }

    /// [`writable`](Self::writable) as a poll function. An error only if the socket's
    /// loop has ended.
    ///
    /// ```
    /// use std::future::poll_fn;
    /// use concur::aio::{self, net::{TcpListener, TcpStream}};
    /// aio::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    ///     let (server, _) = listener.accept().await.unwrap();
    ///     poll_fn(|cx| client.poll_write_ready(cx)).await.unwrap();
    ///     let _ = server;
    /// });
    /// ```
    pub fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.io.poll_stream_write_ready(cx)
    }

    /// Reads what is there without waiting: `Ok(0)` when the peer closed its side,
    /// [`WouldBlock`](io::ErrorKind::WouldBlock) when nothing is there yet (and then the
    /// read readiness is forgotten, so [`readable`](Self::readable) waits for new data).
    ///
    /// ```
    /// use std::io::ErrorKind;
    /// use concur::aio::{self, net::{TcpListener, TcpStream}};
    /// aio::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    ///     let (server, _) = listener.accept().await.unwrap();
    ///     let mut buf = [0u8; 4];
    ///     assert_eq!(server.try_read(&mut buf).unwrap_err().kind(), ErrorKind::WouldBlock);
    ///     let _ = client;
    /// });
    /// ```
    pub fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.try_read_slice(buf, |mut s, b| s.read(b))
    }

    /// [`try_read`](Self::try_read) into several buffers (`readv`).
    ///
    /// ```
    /// use std::io::{ErrorKind, IoSliceMut};
    /// use concur::aio::{self, net::{TcpListener, TcpStream}};
    /// aio::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    ///     let (server, _) = listener.accept().await.unwrap();
    ///     let (mut a, mut b) = ([0u8; 2], [0u8; 2]);
    ///     let mut bufs = [IoSliceMut::new(&mut a), IoSliceMut::new(&mut b)];
    ///     let e = server.try_read_vectored(&mut bufs).unwrap_err();
    ///     assert_eq!(e.kind(), ErrorKind::WouldBlock);
    ///     let _ = client;
    /// });
    /// ```
    pub fn try_read_vectored(&self, bufs: &mut [io::IoSliceMut<'_>]) -> io::Result<usize> {
        let len = bufs.iter().map(|b| b.len()).sum();
        let bufs = std::cell::RefCell::new(bufs);
        self.io.try_stream_read(
            len,
            |bytes| {
                let mut done = 0;
                for b in bufs.borrow_mut().iter_mut() {
                    let n = b.len().min(bytes.len() - done);
                    b[..n].copy_from_slice(&bytes[done..done + n]);
                    done += n;
                }
                done
            },
            |mut s| s.read_vectored(&mut bufs.borrow_mut()),
        )
    }

    /// Writes what fits without waiting: [`WouldBlock`](io::ErrorKind::WouldBlock) when
    /// the send buffer is full (and then the write readiness is forgotten, so
    /// [`writable`](Self::writable) waits until there is room).
    ///
    /// ```
    /// use concur::aio::{self, net::{TcpListener, TcpStream}};
    /// aio::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    ///     let (server, _) = listener.accept().await.unwrap();
    ///     assert_eq!(client.try_write(b"ping").unwrap(), 4);
    ///     let mut buf = [0u8; 4];
    ///     server.readable().await.unwrap();
    ///     assert_eq!(server.try_read(&mut buf).unwrap(), 4);
    /// });
    /// ```
    pub fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        self.io.try_stream_write(|mut s| s.write(buf))
    }

    /// [`try_write`](Self::try_write) from several buffers (`writev`).
    ///
    /// ```
    /// use std::io::IoSlice;
    /// use concur::aio::{self, net::{TcpListener, TcpStream}};
    /// aio::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    ///     let (server, _) = listener.accept().await.unwrap();
    ///     let bufs = [IoSlice::new(b"pi"), IoSlice::new(b"ng")];
    ///     assert_eq!(client.try_write_vectored(&bufs).unwrap(), 4);
    ///     let _ = server;
    /// });
    /// ```
    pub fn try_write_vectored(&self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        self.io.try_stream_write(|mut s| s.write_vectored(bufs))
    }

    /// Takes a connected [`std::net::TcpStream`] onto the running loop. The socket is
    /// set non-blocking here (a blocking socket would stall every task of the loop), so
    /// the caller need not do it; tokio leaves that to the caller.
    ///
    /// # Panics
    ///
    /// Outside of an event loop.
    ///
    /// ```
    /// use concur::aio::{self, io::AsyncWriteExt, net::TcpStream};
    /// aio::run(async {
    ///     let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    ///     let std = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    ///     let (mut peer, _) = listener.accept().unwrap();
    ///     let mut stream = TcpStream::from_std(std).unwrap();
    ///     stream.write_all(b"hi").await.unwrap();
    ///     // Blocking this thread next: hand the bytes to the kernel first (io_uring
    ///     // queues a write for the loop's next turn, which a blocked thread never gives).
    ///     stream.flush().await.unwrap();
    ///     let mut buf = [0u8; 2];
    ///     std::io::Read::read_exact(&mut peer, &mut buf).unwrap(); // blocking, std
    ///     assert_eq!(&buf, b"hi");
    /// });
    /// ```
    pub fn from_std(stream: std::net::TcpStream) -> io::Result<TcpStream> {
        stream.set_nonblocking(true)?;
        Ok(TcpStream {
            io: Registered::new_stream(
                mio::net::TcpStream::from_std(stream),
                "net::TcpStream::from_std",
            )?,
        })
    }

    /// Takes the socket off the loop as a [`std::net::TcpStream`], in blocking mode again
    /// (std's default; tokio's `into_std` leaves it non-blocking). Data the OS has
    /// buffered stays readable from the std stream. An error if the loop already took
    /// bytes from the socket that nobody has read (read ahead on epoll, received on
    /// io_uring): a std stream would lose them, so read them first. Writes the loop still
    /// holds (io_uring) are handed to the kernel first.
    ///
    /// ```
    /// use std::io::Read;
    /// use concur::aio::io::AsyncWriteExt;
    /// use concur::aio::{self, net::{TcpListener, TcpStream}};
    /// aio::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    ///     let (server, _) = listener.accept().await.unwrap();
    ///     let mut server = server;
    ///     server.write_all(b"later").await.unwrap();
    ///     let mut std = client.into_std().unwrap();
    ///     let mut buf = [0u8; 5];
    ///     std.read_exact(&mut buf).unwrap(); // blocking, std
    ///     assert_eq!(&buf, b"later");
    /// });
    /// ```
    pub fn into_std(self) -> io::Result<std::net::TcpStream> {
        // The registration owns the descriptor, so keep a duplicate of it: dropping
        // `self` deregisters and closes the original, and the duplicate is the socket.
        self.io.detach_stream()?;
        let fd = self.io.source().as_fd().try_clone_to_owned()?;
        drop(self);
        let stream = std::net::TcpStream::from(fd);
        stream.set_nonblocking(false)?;
        Ok(stream)
    }

    /// Splits the stream into a read half and a write half that borrow it, for two tasks
    /// (or two branches of one future) to read and write at the same time. Nothing is
    /// locked: reads and writes wait on the reactor independently.
    ///
    /// ```
    /// use concur::aio::{self, io::{AsyncReadExt, AsyncWriteExt}, net::{TcpListener, TcpStream}};
    /// aio::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let mut client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    ///     let (mut server, _) = listener.accept().await.unwrap();
    ///     let echo = aio::spawn(async move {
    ///         let (mut r, mut w) = server.split();
    ///         aio::io::copy(&mut r, &mut w).await.unwrap()
    ///     });
    ///     let (mut r, mut w) = client.split();
    ///     w.write_all(b"echo").await.unwrap();
    ///     w.close().await.unwrap();
    ///     let mut back = Vec::new();
    ///     r.read_to_end(&mut back).await.unwrap();
    ///     assert_eq!(back, b"echo");
    ///     assert_eq!(echo.await.unwrap(), 4);
    /// });
    /// ```
    pub fn split(&mut self) -> (ReadHalf<'_>, WriteHalf<'_>) {
        (ReadHalf::new(self), WriteHalf::new(self))
    }

    /// Splits the stream into owned halves, which can move into two tasks;
    /// [`OwnedReadHalf::reunite`] puts them back together. Dropping the write half shuts
    /// the write side down (the peer reads the end of the stream), unless it is
    /// handed to [`OwnedWriteHalf::forget`].
    ///
    /// ```
    /// use concur::aio::{self, io::{AsyncReadExt, AsyncWriteExt}, net::{TcpListener, TcpStream}};
    /// aio::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    ///     let (mut server, _) = listener.accept().await.unwrap();
    ///     let (mut r, mut w) = client.into_split();
    ///     let writer = aio::spawn(async move {
    ///         w.write_all(b"owned").await.unwrap();
    ///         w // dropping it here would shut the write side down
    ///     });
    ///     let mut buf = [0u8; 5];
    ///     server.read_exact(&mut buf).await.unwrap();
    ///     server.write_all(&buf).await.unwrap();
    ///     r.read_exact(&mut buf).await.unwrap();
    ///     assert_eq!(&buf, b"owned");
    ///     let stream = r.reunite(writer.await.unwrap()).unwrap();
    ///     assert!(stream.peer_addr().is_ok());
    /// });
    /// ```
    pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        split_owned::split_owned(self)
    }

    /// An `AsyncRead::poll_read` through a shared reference, for the halves.
    pub(super) fn poll_read_ref(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.io
            .poll_read_slice(cx, buf, false, |mut s, b| s.read(b))
    }

    /// An `AsyncWrite::poll_write` through a shared reference, for the halves.
    pub(super) fn poll_write_ref(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.io.poll_stream_write(cx, &[buf], |mut s| s.write(buf))
    }

    /// An `AsyncWrite::poll_flush` through a shared reference, for the halves: hands a
    /// queued send to the kernel on the io_uring driver.
    pub(super) fn poll_flush_ref(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.io.poll_stream_flush(cx)
    }

    /// What a half's close waits for before it shuts the write side down: the send in
    /// flight on the io_uring driver.
    pub(super) fn poll_drain_ref(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.io.poll_stream_drain(cx)
    }

    /// An `AsyncWrite::poll_write_vectored` through a shared reference, for the halves.
    pub(super) fn poll_write_vectored_ref(
        &self,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let slices: Vec<&[u8]> = bufs.iter().map(|b| &**b).collect();
        self.io
            .poll_stream_write(cx, &slices, |mut s| s.write_vectored(bufs))
    }
}

impl AsFd for TcpStream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.io.source().as_fd()
    }
}

impl AsRawFd for TcpStream {
    fn as_raw_fd(&self) -> RawFd {
        self.io.source().as_raw_fd()
    }
}

impl TryFrom<std::net::TcpStream> for TcpStream {
    type Error = io::Error;

    /// [`TcpStream::from_std`].
    fn try_from(stream: std::net::TcpStream) -> io::Result<TcpStream> {
        TcpStream::from_std(stream)
    }
}

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpStream")
            .field("local_addr", &self.local_addr().ok())
            .field("peer_addr", &self.peer_addr().ok())
            .finish()
    }
}

stream_io!(TcpStream);
