//! [`TcpSocket`]: a TCP socket to configure before it becomes a listener or a stream.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::time::Duration;

use rustix::net::{sockopt, AddressFamily, SocketFlags, SocketType};

use super::{TcpListener, TcpStream};

/// A TCP socket not yet listening or connected: set its options, [`bind`](Self::bind)
/// it, then [`listen`](Self::listen) or [`connect`](Self::connect). tokio's `TcpSocket`.
///
/// Until it listens or connects, the socket is not registered with any loop: creating
/// and configuring it works anywhere. The descriptor is non-blocking and close-on-exec
/// from the start.
///
/// ```
/// use concur::aio::{self, net::TcpSocket};
/// aio::run(async {
///     let server = TcpSocket::new_v4().unwrap();
///     server.set_reuseaddr(true).unwrap();
///     server.bind("127.0.0.1:0".parse().unwrap()).unwrap();
///     let listener = server.listen(128).unwrap();
///     let addr = listener.local_addr().unwrap();
///
///     let client = TcpSocket::new_v4().unwrap();
///     client.set_nodelay(true).unwrap();
///     let stream = client.connect(addr).await.unwrap();
///     let (_conn, peer) = listener.accept().await.unwrap();
///     assert_eq!(stream.local_addr().unwrap(), peer);
/// });
/// ```
pub struct TcpSocket {
    fd: OwnedFd,
}

/// Runs a rustix call and gives its error as an `io::Error` that names the operation.
fn named<T>(what: &str, r: rustix::io::Result<T>) -> io::Result<T> {
    r.map_err(|e| {
        let e = io::Error::from(e);
        io::Error::new(e.kind(), format!("TcpSocket::{what}: {e}"))
    })
}

impl TcpSocket {
    fn new(family: AddressFamily, what: &str) -> io::Result<TcpSocket> {
        let fd = named(
            what,
            rustix::net::socket_with(
                family,
                SocketType::STREAM,
                SocketFlags::NONBLOCK | SocketFlags::CLOEXEC,
                None,
            ),
        )?;
        Ok(TcpSocket { fd })
    }

    /// A new IPv4 TCP socket.
    ///
    /// ```
    /// let s = concur::aio::net::TcpSocket::new_v4().unwrap();
    /// assert!(!s.reuseaddr().unwrap());
    /// ```
    pub fn new_v4() -> io::Result<TcpSocket> {
        Self::new(AddressFamily::INET, "new_v4")
    }

    /// A new IPv6 TCP socket.
    ///
    /// ```
    /// let s = concur::aio::net::TcpSocket::new_v6().unwrap();
    /// assert!(!s.nodelay().unwrap());
    /// ```
    pub fn new_v6() -> io::Result<TcpSocket> {
        Self::new(AddressFamily::INET6, "new_v6")
    }

    /// Binds the socket to `addr` (port 0: the OS picks one).
    ///
    /// ```
    /// let s = concur::aio::net::TcpSocket::new_v4().unwrap();
    /// s.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    /// assert!(s.local_addr().unwrap().port() > 0);
    /// ```
    pub fn bind(&self, addr: SocketAddr) -> io::Result<()> {
        named("bind", rustix::net::bind(&self.fd, &addr))
            .map_err(|e| io::Error::new(e.kind(), format!("{e} (address {addr})")))
    }

    /// The address the socket is bound to.
    ///
    /// ```
    /// let s = concur::aio::net::TcpSocket::new_v4().unwrap();
    /// s.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    /// assert!(s.local_addr().unwrap().ip().is_loopback());
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        let any = named("local_addr", rustix::net::getsockname(&self.fd))?;
        SocketAddr::try_from(any).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                "TcpSocket::local_addr: the socket's address is not an IP address",
            )
        })
    }

    /// Turns the socket into a listener on the running loop, with a queue of `backlog`
    /// connections not yet accepted.
    ///
    /// # Panics
    ///
    /// Outside of an event loop.
    ///
    /// ```
    /// use concur::aio::{self, net::{TcpSocket, TcpStream}};
    /// aio::run(async {
    ///     let s = TcpSocket::new_v4().unwrap();
    ///     s.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    ///     let listener = s.listen(16).unwrap();
    ///     let _client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    ///     listener.accept().await.unwrap();
    /// });
    /// ```
    pub fn listen(self, backlog: u32) -> io::Result<TcpListener> {
        let backlog = i32::try_from(backlog).unwrap_or(i32::MAX);
        named("listen", rustix::net::listen(&self.fd, backlog))?;
        let std = std::net::TcpListener::from(self.fd);
        TcpListener::from_mio(
            mio::net::TcpListener::from_std(std),
            "net::TcpSocket::listen",
        )
    }

    /// Connects to `addr` on the running loop, and waits until the connection is made.
    ///
    /// # Panics
    ///
    /// Outside of an event loop.
    ///
    /// ```
    /// use concur::aio::{self, net::{TcpListener, TcpSocket}};
    /// aio::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let s = TcpSocket::new_v4().unwrap();
    ///     let stream = s.connect(listener.local_addr().unwrap()).await.unwrap();
    ///     assert_eq!(stream.peer_addr().unwrap(), listener.local_addr().unwrap());
    /// });
    /// ```
    pub async fn connect(self, addr: SocketAddr) -> io::Result<TcpStream> {
        match rustix::net::connect(&self.fd, &addr) {
            // Non-blocking: the connection goes on, and finishes when writable.
            Ok(()) | Err(rustix::io::Errno::INPROGRESS) | Err(rustix::io::Errno::INTR) => {}
            Err(e) => {
                let e = io::Error::from(e);
                return Err(io::Error::new(
                    e.kind(),
                    format!("TcpSocket::connect to {addr}: {e}"),
                ));
            }
        }
        let std = std::net::TcpStream::from(self.fd);
        TcpStream::from_mio(mio::net::TcpStream::from_std(std))?
            .connected()
            .await
    }

    /// Sets `SO_REUSEADDR`: bind to an address that a closed socket left in `TIME_WAIT`.
    ///
    /// ```
    /// let s = concur::aio::net::TcpSocket::new_v4().unwrap();
    /// s.set_reuseaddr(true).unwrap();
    /// assert!(s.reuseaddr().unwrap());
    /// ```
    pub fn set_reuseaddr(&self, reuseaddr: bool) -> io::Result<()> {
        named(
            "set_reuseaddr",
            sockopt::set_socket_reuseaddr(&self.fd, reuseaddr),
        )
    }

    /// Whether `SO_REUSEADDR` is set.
    ///
    /// ```
    /// let s = concur::aio::net::TcpSocket::new_v4().unwrap();
    /// assert!(!s.reuseaddr().unwrap());
    /// ```
    pub fn reuseaddr(&self) -> io::Result<bool> {
        named("reuseaddr", sockopt::socket_reuseaddr(&self.fd))
    }

    /// Sets `SO_REUSEPORT`: several sockets may bind the same address and port, and the
    /// OS spreads connections over them.
    ///
    /// ```
    /// let s = concur::aio::net::TcpSocket::new_v4().unwrap();
    /// s.set_reuseport(true).unwrap();
    /// assert!(s.reuseport().unwrap());
    /// ```
    pub fn set_reuseport(&self, reuseport: bool) -> io::Result<()> {
        named(
            "set_reuseport",
            sockopt::set_socket_reuseport(&self.fd, reuseport),
        )
    }

    /// Whether `SO_REUSEPORT` is set.
    ///
    /// ```
    /// let s = concur::aio::net::TcpSocket::new_v4().unwrap();
    /// assert!(!s.reuseport().unwrap());
    /// ```
    pub fn reuseport(&self) -> io::Result<bool> {
        named("reuseport", sockopt::socket_reuseport(&self.fd))
    }

    /// Sets `SO_SNDBUF`, the size of the send buffer. Linux doubles the value (for its
    /// bookkeeping), and [`send_buffer_size`](Self::send_buffer_size) reports the doubled
    /// one.
    ///
    /// ```
    /// let s = concur::aio::net::TcpSocket::new_v4().unwrap();
    /// s.set_send_buffer_size(4096).unwrap();
    /// assert_eq!(s.send_buffer_size().unwrap(), 8192); // Linux
    /// ```
    pub fn set_send_buffer_size(&self, size: u32) -> io::Result<()> {
        named(
            "set_send_buffer_size",
            sockopt::set_socket_send_buffer_size(&self.fd, size as usize),
        )
    }

    /// The size of the send buffer (`SO_SNDBUF`).
    ///
    /// ```
    /// let s = concur::aio::net::TcpSocket::new_v4().unwrap();
    /// assert!(s.send_buffer_size().unwrap() > 0);
    /// ```
    pub fn send_buffer_size(&self) -> io::Result<u32> {
        let n = named(
            "send_buffer_size",
            sockopt::socket_send_buffer_size(&self.fd),
        )?;
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }

    /// Sets `SO_RCVBUF`, the size of the receive buffer (doubled by Linux, as
    /// [`set_send_buffer_size`](Self::set_send_buffer_size)).
    ///
    /// ```
    /// let s = concur::aio::net::TcpSocket::new_v4().unwrap();
    /// s.set_recv_buffer_size(4096).unwrap();
    /// assert_eq!(s.recv_buffer_size().unwrap(), 8192); // Linux
    /// ```
    pub fn set_recv_buffer_size(&self, size: u32) -> io::Result<()> {
        named(
            "set_recv_buffer_size",
            sockopt::set_socket_recv_buffer_size(&self.fd, size as usize),
        )
    }

    /// The size of the receive buffer (`SO_RCVBUF`).
    ///
    /// ```
    /// let s = concur::aio::net::TcpSocket::new_v4().unwrap();
    /// assert!(s.recv_buffer_size().unwrap() > 0);
    /// ```
    pub fn recv_buffer_size(&self) -> io::Result<u32> {
        let n = named(
            "recv_buffer_size",
            sockopt::socket_recv_buffer_size(&self.fd),
        )?;
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }

    /// Sets `TCP_NODELAY` (disables Nagle's algorithm) for the stream it will become.
    ///
    /// ```
    /// let s = concur::aio::net::TcpSocket::new_v4().unwrap();
    /// s.set_nodelay(true).unwrap();
    /// assert!(s.nodelay().unwrap());
    /// ```
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        named("set_nodelay", sockopt::set_tcp_nodelay(&self.fd, nodelay))
    }

    /// Whether `TCP_NODELAY` is set.
    ///
    /// ```
    /// let s = concur::aio::net::TcpSocket::new_v4().unwrap();
    /// assert!(!s.nodelay().unwrap());
    /// ```
    pub fn nodelay(&self) -> io::Result<bool> {
        named("nodelay", sockopt::tcp_nodelay(&self.fd))
    }

    /// Sets `SO_KEEPALIVE`.
    ///
    /// ```
    /// let s = concur::aio::net::TcpSocket::new_v4().unwrap();
    /// s.set_keepalive(true).unwrap();
    /// assert!(s.keepalive().unwrap());
    /// ```
    pub fn set_keepalive(&self, keepalive: bool) -> io::Result<()> {
        named(
            "set_keepalive",
            sockopt::set_socket_keepalive(&self.fd, keepalive),
        )
    }

    /// Whether `SO_KEEPALIVE` is set.
    ///
    /// ```
    /// let s = concur::aio::net::TcpSocket::new_v4().unwrap();
    /// assert!(!s.keepalive().unwrap());
    /// ```
    pub fn keepalive(&self) -> io::Result<bool> {
        named("keepalive", sockopt::socket_keepalive(&self.fd))
    }

    /// Sets `SO_LINGER` (see [`TcpStream::set_linger`], and its warning about a non-zero
    /// linger blocking the loop when the stream is dropped).
    ///
    /// ```
    /// use std::time::Duration;
    /// let s = concur::aio::net::TcpSocket::new_v4().unwrap();
    /// s.set_linger(Some(Duration::from_secs(10))).unwrap();
    /// assert_eq!(s.linger().unwrap(), Some(Duration::from_secs(10)));
    /// ```
    pub fn set_linger(&self, linger: Option<Duration>) -> io::Result<()> {
        named("set_linger", sockopt::set_socket_linger(&self.fd, linger))
    }

    /// Sets a linger of zero: closing discards unsent data and resets the connection.
    ///
    /// ```
    /// use std::time::Duration;
    /// let s = concur::aio::net::TcpSocket::new_v4().unwrap();
    /// s.set_zero_linger().unwrap();
    /// assert_eq!(s.linger().unwrap(), Some(Duration::ZERO));
    /// ```
    pub fn set_zero_linger(&self) -> io::Result<()> {
        self.set_linger(Some(Duration::ZERO))
    }

    /// The `SO_LINGER` setting.
    ///
    /// ```
    /// let s = concur::aio::net::TcpSocket::new_v4().unwrap();
    /// assert_eq!(s.linger().unwrap(), None);
    /// ```
    pub fn linger(&self) -> io::Result<Option<Duration>> {
        named("linger", sockopt::socket_linger(&self.fd))
    }

    /// Takes the socket's pending error (`SO_ERROR`), if any.
    ///
    /// ```
    /// let s = concur::aio::net::TcpSocket::new_v4().unwrap();
    /// assert!(s.take_error().unwrap().is_none());
    /// ```
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        let r = named("take_error", sockopt::socket_error(&self.fd))?;
        Ok(r.err().map(io::Error::from))
    }
}

impl fmt::Debug for TcpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpSocket")
            .field("fd", &self.fd.as_raw_fd())
            .field("local_addr", &self.local_addr().ok())
            .finish()
    }
}

impl AsFd for TcpSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for TcpSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}
