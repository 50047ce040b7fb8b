//! Sockets on the loop: TCP, UDP and Unix-domain, with `futures_io::{AsyncRead, AsyncWrite}`.
//!
//! Addresses are given as anything that implements [`ToSocketAddrs`]: a [`SocketAddr`],
//! `"127.0.0.1:8080"`, `("localhost", 8080)`, ... A host name is looked up on the default
//! thread pool (the system resolver blocks), so the loop keeps serving other tasks
//! meanwhile; an address that is already numeric costs no trip to the pool.

use std::fmt;
use std::future::poll_fn;
use std::io::{self, Read, Write};
use std::net::{
    IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, SocketAddrV4, SocketAddrV6,
    ToSocketAddrs as _,
};
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_io::{AsyncRead, AsyncWrite};

use super::reactor::{Direction, Registered};

/// An address to connect or bind to: the types of [`std::net::ToSocketAddrs`], for the
/// loop.
///
/// A numeric address ([`SocketAddr`], `(IpAddr, u16)`, `"127.0.0.1:80"`,
/// `("::1", 80)`, a `&[SocketAddr]`) is used at once. A host name (`"localhost:80"`,
/// `("example.com", 443)`) is looked up with the system resolver (`getaddrinfo`), which
/// blocks, so the lookup runs on the default thread pool, as [`to_thread`] would run it
/// (asyncio's `loop.getaddrinfo` does the same): the loop keeps running other tasks
/// until the answer comes back. A lookup error names the host.
///
/// The trait is sealed: it is implemented for the types above (owned or borrowed), not
/// by other crates.
///
/// ```
/// use std::net::{IpAddr, Ipv4Addr, SocketAddr};
/// use concur::aio::{self, net::TcpListener};
///
/// aio::run(async {
///     let a = TcpListener::bind("127.0.0.1:0").await.unwrap(); // numeric: no thread trip
///     let b = TcpListener::bind((IpAddr::V4(Ipv4Addr::LOCALHOST), 0)).await.unwrap();
///     let c = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await.unwrap();
///     let d = TcpListener::bind(("localhost", 0)).await.unwrap(); // a name: on the pool
///     for l in [a, b, c, d] {
///         assert!(l.local_addr().unwrap().ip().is_loopback());
///     }
/// });
/// ```
///
/// [`to_thread`]: crate::aio::to_thread
pub trait ToSocketAddrs: sealed::Sealed {}

/// The hidden half of [`ToSocketAddrs`], which other crates can neither name nor implement.
#[allow(unreachable_pub)] // nameable only inside this crate: that is the seal
mod sealed {
    use std::net::SocketAddr;

    pub trait Sealed {
        /// What it takes to turn `self` into socket addresses.
        fn lookup(&self) -> Lookup;
    }

    /// What an address needs to become socket addresses.
    #[derive(Debug)]
    pub enum Lookup {
        /// Numeric: resolved already, on the loop.
        Ready(Vec<SocketAddr>),
        /// `"host:port"` with a host name, for the system resolver.
        Name(String),
        /// A host name and a port, for the system resolver.
        HostPort(String, u16),
    }
}

use sealed::{Lookup, Sealed};

macro_rules! numeric_addr {
    ($($ty:ty),*) => {$(
        impl ToSocketAddrs for $ty {}
        impl Sealed for $ty {
            fn lookup(&self) -> Lookup {
                Lookup::Ready(vec![SocketAddr::from(*self)])
            }
        }
    )*};
}

numeric_addr!(
    SocketAddr,
    SocketAddrV4,
    SocketAddrV6,
    (IpAddr, u16),
    (Ipv4Addr, u16),
    (Ipv6Addr, u16)
);

impl ToSocketAddrs for [SocketAddr] {}
impl Sealed for [SocketAddr] {
    fn lookup(&self) -> Lookup {
        Lookup::Ready(self.to_vec())
    }
}

impl ToSocketAddrs for str {}
impl Sealed for str {
    fn lookup(&self) -> Lookup {
        match self.parse::<SocketAddr>() {
            Ok(a) => Lookup::Ready(vec![a]),
            Err(_) => Lookup::Name(self.to_owned()),
        }
    }
}

impl ToSocketAddrs for String {}
impl Sealed for String {
    fn lookup(&self) -> Lookup {
        self.as_str().lookup()
    }
}

impl ToSocketAddrs for (&str, u16) {}
impl Sealed for (&str, u16) {
    fn lookup(&self) -> Lookup {
        let (host, port) = *self;
        match host.parse::<IpAddr>() {
            Ok(ip) => Lookup::Ready(vec![SocketAddr::new(ip, port)]),
            Err(_) => Lookup::HostPort(host.to_owned(), port),
        }
    }
}

impl ToSocketAddrs for (String, u16) {}
impl Sealed for (String, u16) {
    fn lookup(&self) -> Lookup {
        (self.0.as_str(), self.1).lookup()
    }
}

impl<T: ToSocketAddrs + ?Sized> ToSocketAddrs for &T {}
impl<T: ToSocketAddrs + ?Sized> Sealed for &T {
    fn lookup(&self) -> Lookup {
        (**self).lookup()
    }
}

/// Resolves `addr`: at once if it is numeric, on the default thread pool if it names a
/// host (so the loop keeps running). A lookup error keeps its kind and names the host.
pub(crate) async fn resolve(addr: impl ToSocketAddrs) -> io::Result<Vec<SocketAddr>> {
    let (host, port) = match addr.lookup() {
        Lookup::Ready(addrs) => return Ok(addrs),
        Lookup::Name(name) => (name, None),
        Lookup::HostPort(host, port) => (host, Some(port)),
    };
    let name = host.clone();
    let job = move || {
        match port {
            None => name.as_str().to_socket_addrs(),
            Some(port) => (name.as_str(), port).to_socket_addrs(),
        }
        .map(Iterator::collect::<Vec<_>>)
    };
    match super::to_thread(job).await {
        Ok(Ok(addrs)) => Ok(addrs),
        Ok(Err(e)) => Err(io::Error::new(e.kind(), format!("{host}: {e}"))),
        Err(e) => Err(io::Error::other(format!(
            "{host}: the name lookup on the thread pool did not finish: {e}"
        ))),
    }
}

/// The error for an address that resolved to no socket address at all.
fn resolved_to_nothing() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "the address resolved to nothing",
    )
}

/// Tries `f` on each of the resolved `addrs` until one succeeds.
fn each_addr<T>(
    addrs: Vec<SocketAddr>,
    mut f: impl FnMut(SocketAddr) -> io::Result<T>,
) -> io::Result<T> {
    let mut last = None;
    for a in addrs {
        match f(a) {
            Ok(t) => return Ok(t),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(resolved_to_nothing))
}

/// A TCP server socket: `asyncio.start_server`'s listener.
///
/// ```
/// use concur::aio::{self, net::{TcpListener, TcpStream}};
/// use futures_lite::{AsyncReadExt, AsyncWriteExt}; // or futures::io's
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
        Ok(TcpListener {
            io: Registered::new(
                mio::net::TcpListener::from_std(std),
                "net::TcpListener::bind",
            )?,
        })
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
        let (s, addr) = poll_fn(|cx| self.io.poll_io(cx, Direction::Read, |l| l.accept())).await?;
        Ok((TcpStream::from_mio(s)?, addr))
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

/// A TCP connection: `asyncio.open_connection`'s stream. Implements
/// [`AsyncRead`] and [`AsyncWrite`]; see [`TcpListener`] for an example.
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
    io: Registered<mio::net::TcpStream>,
}

impl TcpStream {
    fn from_mio(s: mio::net::TcpStream) -> io::Result<Self> {
        Ok(TcpStream {
            io: Registered::new(s, "net::TcpStream")?,
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
        let stream = Self::from_mio(mio::net::TcpStream::connect(addr)?)?;
        // A non-blocking connect finishes when the socket becomes writable.
        loop {
            poll_fn(|cx| stream.io.poll_ready(cx, Direction::Write)).await;
            if let Some(e) = stream.io.source().take_error()? {
                return Err(e);
            }
            match stream.io.source().peer_addr() {
                Ok(_) => return Ok(stream),
                Err(e) if e.kind() == io::ErrorKind::NotConnected => {
                    stream.io.clear(Direction::Write)
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
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.io.source().shutdown(how)
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

/// `AsyncRead`/`AsyncWrite` for a registered stream whose `&S` reads and writes.
macro_rules! stream_io {
    ($ty:ty) => {
        #[cfg(any(feature = "hyper", feature = "tokio-io"))]
        impl $ty {
            /// Reads into memory that may not be initialised yet (hyper's and tokio's read
            /// buffers are not zeroed first): the bytes read are initialised by the OS.
            pub(super) fn poll_read_uninit(
                &self,
                cx: &mut Context<'_>,
                buf: &mut [std::mem::MaybeUninit<u8>],
            ) -> Poll<io::Result<usize>> {
                let len = buf.len();
                self.io.poll_stream_io(cx, Direction::Read, len, |s| {
                    rustix::io::read(s, &mut *buf)
                        .map(|(filled, _)| filled.len())
                        .map_err(io::Error::from)
                })
            }
        }

        impl AsyncRead for $ty {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut [u8],
            ) -> Poll<io::Result<usize>> {
                self.io
                    .poll_stream_io(cx, Direction::Read, buf.len(), |mut s| s.read(buf))
            }
        }

        impl AsyncWrite for $ty {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                self.io
                    .poll_stream_io(cx, Direction::Write, buf.len(), |mut s| s.write(buf))
            }

            fn poll_write_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &[io::IoSlice<'_>],
            ) -> Poll<io::Result<usize>> {
                let len = bufs.iter().map(|b| b.len()).sum();
                self.io
                    .poll_stream_io(cx, Direction::Write, len, |mut s| s.write_vectored(bufs))
            }

            fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(Ok(()))
            }

            fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(self.io.source().shutdown(Shutdown::Write))
            }
        }
    };
}

stream_io!(TcpStream);
stream_io!(UnixStream);

/// A UDP socket.
///
/// ```
/// use concur::aio::{self, net::UdpSocket};
///
/// aio::run(async {
///     let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
///     let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
///     a.send_to(b"ping", b.local_addr().unwrap()).await.unwrap();
///     let mut buf = [0u8; 16];
///     let (n, from) = b.recv_from(&mut buf).await.unwrap();
///     assert_eq!((&buf[..n], from), (&b"ping"[..], a.local_addr().unwrap()));
/// });
/// ```
pub struct UdpSocket {
    io: Registered<mio::net::UdpSocket>,
}

impl UdpSocket {
    /// Binds to `addr` (the first of its addresses that works). A host name is resolved
    /// on the thread pool while the loop keeps running (see [`ToSocketAddrs`]).
    ///
    /// # Panics
    ///
    /// Outside of an event loop.
    ///
    /// ```
    /// use concur::aio::{self, net::UdpSocket};
    /// aio::run(async {
    ///     let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     assert!(a.local_addr().unwrap().port() > 0);
    ///     drop(b);
    /// });
    /// ```
    pub async fn bind(addr: impl ToSocketAddrs) -> io::Result<UdpSocket> {
        let std = each_addr(resolve(addr).await?, std::net::UdpSocket::bind)?;
        std.set_nonblocking(true)?;
        Ok(UdpSocket {
            io: Registered::new(mio::net::UdpSocket::from_std(std), "net::UdpSocket::bind")?,
        })
    }

    /// Sets the default peer for [`send`](Self::send) and [`recv`](Self::recv): the first
    /// of `addr`'s addresses that works. A host name is resolved on the thread pool while
    /// the loop keeps running (see [`ToSocketAddrs`]).
    ///
    /// ```
    /// use concur::aio::{self, net::UdpSocket};
    /// aio::run(async {
    ///     let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     a.connect(b.local_addr().unwrap()).await.unwrap();
    ///     a.send(b"hi").await.unwrap();
    ///     let mut buf = [0u8; 2];
    ///     assert_eq!(b.recv(&mut buf).await.unwrap(), 2);
    /// });
    /// ```
    pub async fn connect(&self, addr: impl ToSocketAddrs) -> io::Result<()> {
        let addrs = resolve(addr).await?;
        each_addr(addrs, |a| self.io.source().connect(a))
    }

    /// Sends a datagram to `target`.
    ///
    /// ```
    /// use concur::aio::{self, net::UdpSocket};
    /// aio::run(async {
    ///     let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     assert_eq!(a.send_to(b"x", b.local_addr().unwrap()).await.unwrap(), 1);
    /// });
    /// ```
    pub async fn send_to(&self, buf: &[u8], target: SocketAddr) -> io::Result<usize> {
        poll_fn(|cx| {
            self.io
                .poll_io(cx, Direction::Write, |s| s.send_to(buf, target))
        })
        .await
    }

    /// Receives a datagram and its sender's address.
    ///
    /// ```
    /// use concur::aio::{self, net::UdpSocket};
    /// aio::run(async {
    ///     let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     a.send_to(b"x", b.local_addr().unwrap()).await.unwrap();
    ///     let mut buf = [0u8; 1];
    ///     assert_eq!(b.recv_from(&mut buf).await.unwrap(), (1, a.local_addr().unwrap()));
    /// });
    /// ```
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        poll_fn(|cx| self.io.poll_io(cx, Direction::Read, |s| s.recv_from(buf))).await
    }

    /// Sends a datagram to the connected peer.
    ///
    /// ```
    /// use concur::aio::{self, net::UdpSocket};
    /// aio::run(async {
    ///     let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     a.connect(b.local_addr().unwrap()).await.unwrap();
    ///     a.send(b"hi").await.unwrap();
    ///     let mut buf = [0u8; 2];
    ///     assert_eq!(b.recv(&mut buf).await.unwrap(), 2);
    /// });
    /// ```
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        poll_fn(|cx| self.io.poll_io(cx, Direction::Write, |s| s.send(buf))).await
    }

    /// Receives a datagram from the connected peer.
    ///
    /// ```
    /// use concur::aio::{self, net::UdpSocket};
    /// aio::run(async {
    ///     let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     a.connect(b.local_addr().unwrap()).await.unwrap();
    ///     a.send(b"hi").await.unwrap();
    ///     let mut buf = [0u8; 2];
    ///     assert_eq!(b.recv(&mut buf).await.unwrap(), 2);
    /// });
    /// ```
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        poll_fn(|cx| self.io.poll_io(cx, Direction::Read, |s| s.recv(buf))).await
    }

    /// The local address.
    ///
    /// ```
    /// use concur::aio::{self, net::UdpSocket};
    /// aio::run(async {
    ///     let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     assert_ne!(a.local_addr().unwrap(), b.local_addr().unwrap());
    /// });
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.source().local_addr()
    }
}

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UdpSocket")
            .field("local_addr", &self.local_addr().ok())
            .finish()
    }
}

/// A Unix-domain stream server socket.
///
/// ```
/// use concur::aio::{self, net::{UnixListener, UnixStream}};
///
/// aio::run(async {
///     let dir = std::env::temp_dir().join(format!("concur-doc-{}", std::process::id()));
///     std::fs::create_dir_all(&dir).unwrap();
///     let path = dir.join("sock");
///     let _ = std::fs::remove_file(&path);
///     let listener = UnixListener::bind(&path).unwrap();
///     let client = aio::spawn({
///         let path = path.clone();
///         async move { UnixStream::connect(&path).await.map(|_| ()) }
///     });
///     let (_conn, _) = listener.accept().await.unwrap();
///     client.await.unwrap().unwrap();
///     std::fs::remove_dir_all(&dir).unwrap();
/// });
/// ```
pub struct UnixListener {
    io: Registered<mio::net::UnixListener>,
}

impl UnixListener {
    /// Binds to the socket file `path` (which must not exist).
    ///
    /// # Panics
    ///
    /// Outside of an event loop.
    ///
    /// ```
    /// use concur::aio::{self, net::{UnixListener, UnixStream}};
    /// aio::run(async {
    ///     let path = std::env::temp_dir().join(format!("concur-doc-bind-{}", std::process::id()));
    ///     let _ = std::fs::remove_file(&path);
    ///     let listener = UnixListener::bind(&path).unwrap();
    ///     let p = path.clone();
    ///     let client = aio::spawn(async move { UnixStream::connect(&p).await.map(|_| ()) });
    ///     let (_conn, _) = listener.accept().await.unwrap();
    ///     client.await.unwrap().unwrap();
    ///     std::fs::remove_file(&path).unwrap();
    /// });
    /// ```
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixListener> {
        Ok(UnixListener {
            io: Registered::new(
                mio::net::UnixListener::bind(path)?,
                "net::UnixListener::bind",
            )?,
        })
    }

    /// Waits for a connection.
    ///
    /// ```
    /// use concur::aio::{self, net::{UnixListener, UnixStream}};
    /// aio::run(async {
    ///     let path = std::env::temp_dir().join(format!("concur-doc-accept-{}", std::process::id()));
    ///     let _ = std::fs::remove_file(&path);
    ///     let listener = UnixListener::bind(&path).unwrap();
    ///     let p = path.clone();
    ///     let client = aio::spawn(async move { UnixStream::connect(&p).await.map(|_| ()) });
    ///     let (_conn, _) = listener.accept().await.unwrap();
    ///     client.await.unwrap().unwrap();
    ///     std::fs::remove_file(&path).unwrap();
    /// });
    /// ```
    pub async fn accept(&self) -> io::Result<(UnixStream, std::os::unix::net::SocketAddr)> {
        let (s, addr) = poll_fn(|cx| self.io.poll_io(cx, Direction::Read, |l| l.accept())).await?;
        Ok((
            UnixStream {
                io: Registered::new(s, "net::UnixListener::accept")?,
            },
            addr,
        ))
    }
}

impl fmt::Debug for UnixListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixListener").finish_non_exhaustive()
    }
}

/// A Unix-domain stream connection. Implements [`AsyncRead`] and [`AsyncWrite`].
///
/// ```
/// use concur::aio::{self, net::UnixStream};
/// use futures_lite::{AsyncReadExt, AsyncWriteExt};
/// aio::run(async {
///     let (mut a, mut b) = UnixStream::pair().unwrap();
///     a.write_all(b"hi").await.unwrap();
///     a.close().await.unwrap();
///     let mut got = String::new();
///     b.read_to_string(&mut got).await.unwrap();
///     assert_eq!(got, "hi");
/// });
/// ```
pub struct UnixStream {
    io: Registered<mio::net::UnixStream>,
}

impl UnixStream {
    /// Connects to the socket file `path`.
    ///
    /// # Panics
    ///
    /// Outside of an event loop.
    ///
    /// ```
    /// use concur::aio::{self, net::{UnixListener, UnixStream}};
    /// aio::run(async {
    ///     let path = std::env::temp_dir().join(format!("concur-doc-connect-{}", std::process::id()));
    ///     let _ = std::fs::remove_file(&path);
    ///     let listener = UnixListener::bind(&path).unwrap();
    ///     let p = path.clone();
    ///     let client = aio::spawn(async move { UnixStream::connect(&p).await.map(|_| ()) });
    ///     let (_conn, _) = listener.accept().await.unwrap();
    ///     client.await.unwrap().unwrap();
    ///     std::fs::remove_file(&path).unwrap();
    /// });
    /// ```
    pub async fn connect(path: impl AsRef<Path>) -> io::Result<UnixStream> {
        let stream = UnixStream {
            io: Registered::new(
                mio::net::UnixStream::connect(path)?,
                "net::UnixStream::connect",
            )?,
        };
        poll_fn(|cx| stream.io.poll_ready(cx, Direction::Write)).await;
        if let Some(e) = stream.io.source().take_error()? {
            return Err(e);
        }
        Ok(stream)
    }

    /// A connected pair, like `socketpair(2)`.
    ///
    /// # Panics
    ///
    /// Outside of an event loop.
    ///
    /// ```
    /// use concur::aio::{self, net::UnixStream};
    /// use futures_lite::{AsyncReadExt, AsyncWriteExt};
    /// aio::run(async {
    ///     let (mut a, mut b) = UnixStream::pair().unwrap();
    ///     a.write_all(b"ping").await.unwrap();
    ///     let mut buf = [0u8; 4];
    ///     b.read_exact(&mut buf).await.unwrap();
    ///     assert_eq!(&buf, b"ping");
    /// });
    /// ```
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = mio::net::UnixStream::pair()?;
        Ok((
            UnixStream {
                io: Registered::new(a, "net::UnixStream::pair")?,
            },
            UnixStream {
                io: Registered::new(b, "net::UnixStream::pair")?,
            },
        ))
    }
}

impl fmt::Debug for UnixStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixStream").finish_non_exhaustive()
    }
}
