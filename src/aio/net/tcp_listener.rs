//! [`TcpListener`]: a TCP server socket on the loop.

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::task::{ready, Context, Poll};

use super::addr::{each_addr, resolve, ToSocketAddrs};
use super::TcpStream;
use crate::aio::driver::Direction;
use crate::aio::registered::Registered;

/// A TCP server socket: `asyncio.start_server`'s listener.
///
/// ```
/// use concur::aio::{self, net::{TcpListener, TcpStream}};
/// use concur::aio::io::{AsyncReadExt, AsyncWriteExt}; // no other crate needed
///
/// aio::run(async {
///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
///     let addr = listener.local_addr().unwrap();
///     let server = aio::spawn(async move {
///         let (mut conn, _) = listener.accept().await.unwrap();
///         let mut buf = [0u8; 5];
///         conn.read_exact(&mut buf).await.unwrap();
///         conn.write_all(&buf).await.unwrap(); // echo
///     });
///     let mut client = TcpStream::connect(addr).await.unwrap();
///     client.write_all(b"hello").await.unwrap();
///     let mut back = [0u8; 5];
///     client.read_exact(&mut back).await.unwrap();
///     assert_eq!(&back, b"hello");
///     server.await.unwrap();
/// });
/// ```
pub struct TcpListener {
    io: Registered<mio::net::TcpListener>,
}

impl TcpListener {
    /// Binds to `addr` (the first of its addresses that works). A host name is resolved
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
    ///     assert!(addr.port() > 0);
    /// });
    /// ```
    pub async fn bind(addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
        let std = each_addr(resolve(addr).await?, std::net::TcpListener::bind)?;
        std.set_nonblocking(true)?;
        Self::from_mio(
            mio::net::TcpListener::from_std(std),
            "net::TcpListener::bind",
        )
    }

    /// Registers `l` with the running loop (`what` names the caller if there is none).
    pub(super) fn from_mio(l: mio::net::TcpListener, what: &str) -> io::Result<Self> {
        Ok(TcpListener {
            io: Registered::new(l, what)?,
        })
    }

    /// Takes a listening [`std::net::TcpListener`] onto the running loop. The socket is
    /// set non-blocking here (a blocking `accept` would stall every task of the loop), so
    /// the caller need not do it; tokio leaves that to the caller.
    ///
    /// # Panics
    ///
    /// Outside of an event loop.
    ///
    /// ```
    /// use concur::aio::{self, net::{TcpListener, TcpStream}};
    /// aio::run(async {
    ///     let std = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    ///     let listener = TcpListener::from_std(std).unwrap();
    ///     let _c = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    ///     listener.accept().await.unwrap();
    /// });
    /// ```
    pub fn from_std(listener: std::net::TcpListener) -> io::Result<TcpListener> {
        listener.set_nonblocking(true)?;
        Self::from_mio(
            mio::net::TcpListener::from_std(listener),
            "net::TcpListener::from_std",
        )
    }

    /// Takes the listener off the loop as a [`std::net::TcpListener`], in blocking mode
    /// again (std's default; tokio's `into_std` leaves it non-blocking). Connections
    /// queued but not yet accepted stay queued.
    ///
    /// ```
    /// use concur::aio::{self, net::{TcpListener, TcpStream}};
    /// aio::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let _c = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    ///     let std = listener.into_std().unwrap();
    ///     std.accept().unwrap(); // blocking, std: the queued connection
    /// });
    /// ```
    pub fn into_std(self) -> io::Result<std::net::TcpListener> {
        // The registration owns the descriptor, so keep a duplicate of it: dropping
        // `self` deregisters and closes the original, and the duplicate is the socket.
        let fd = self.io.source().as_fd().try_clone_to_owned()?;
        drop(self);
        let listener = std::net::TcpListener::from(fd);
        listener.set_nonblocking(false)?;
        Ok(listener)
    }

    /// Waits for a connection.
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
    ///     assert!(peer.ip().is_loopback());
    /// });
    /// ```
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        poll_fn(|cx| self.poll_accept(cx)).await
    }

    /// [`accept`](Self::accept) as a poll function: `Pending` (with `cx`'s waker stored)
    /// until a connection comes.
    ///
    /// ```
    /// use std::future::poll_fn;
    /// use concur::aio::{self, net::{TcpListener, TcpStream}};
    /// aio::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    ///     let (_conn, peer) = poll_fn(|cx| listener.poll_accept(cx)).await.unwrap();
    ///     assert_eq!(peer, client.local_addr().unwrap());
    /// });
    /// ```
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        let (s, addr) = ready!(self.io.poll_io(cx, Direction::Read, |l| l.accept()))?;
        Poll::Ready(Ok((TcpStream::from_mio(s)?, addr)))
    }

    /// Sets `IP_TTL` for the connections this listener accepts.
    ///
    /// ```
    /// use concur::aio::{self, net::TcpListener};
    /// aio::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     listener.set_ttl(42).unwrap();
    ///     assert_eq!(listener.ttl().unwrap(), 42);
    /// });
    /// ```
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.io.source().set_ttl(ttl)
    }

    /// The `IP_TTL` setting (see [`set_ttl`](Self::set_ttl)).
    ///
    /// ```
    /// use concur::aio::{self, net::TcpListener};
    /// aio::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     assert!(listener.ttl().unwrap() > 0);
    /// });
    /// ```
    pub fn ttl(&self) -> io::Result<u32> {
        self.io.source().ttl()
    }

    /// The address this listener is bound to.
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
}

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpListener")
            .field("local_addr", &self.local_addr().ok())
            .finish()
    }
}

impl AsFd for TcpListener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.io.source().as_fd()
    }
}

impl AsRawFd for TcpListener {
    fn as_raw_fd(&self) -> RawFd {
        self.io.source().as_raw_fd()
    }
}

impl TryFrom<std::net::TcpListener> for TcpListener {
    type Error = io::Error;

    /// [`TcpListener::from_std`].
    fn try_from(listener: std::net::TcpListener) -> io::Result<TcpListener> {
        TcpListener::from_std(listener)
    }
}
