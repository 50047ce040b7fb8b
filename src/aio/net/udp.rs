//! [`UdpSocket`]: a UDP socket on the loop.

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};

use super::addr::{each_addr, resolve, ToSocketAddrs};
use crate::aio::driver::Direction;
use crate::aio::registered::Registered;

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

    /// The connected peer's address (see [`connect`](Self::connect)); `NotConnected`
    /// without one.
    ///
    /// ```
    /// use concur::aio::{self, net::UdpSocket};
    /// aio::run(async {
    ///     let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     a.connect(b.local_addr().unwrap()).await.unwrap();
    ///     assert_eq!(a.peer_addr().unwrap(), b.local_addr().unwrap());
    ///     assert_eq!(b.peer_addr().unwrap_err().kind(), std::io::ErrorKind::NotConnected);
    /// });
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.source().peer_addr()
    }

    /// Receives the next datagram and its sender's address without removing it from the
    /// queue: the next `recv_from` (or `peek_from`) gets the same datagram. A datagram
    /// longer than `buf` is cut to fit. Cancel safe.
    ///
    /// ```
    /// use concur::aio::{self, net::UdpSocket};
    /// aio::run(async {
    ///     let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     a.send_to(b"once", b.local_addr().unwrap()).await.unwrap();
    ///     let mut buf = [0u8; 8];
    ///     let (n, from) = b.peek_from(&mut buf).await.unwrap();
    ///     assert_eq!((&buf[..n], from), (&b"once"[..], a.local_addr().unwrap()));
    ///     let (m, _) = b.recv_from(&mut buf).await.unwrap(); // still there
    ///     assert_eq!(&buf[..m], b"once");
    /// });
    /// ```
    pub async fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        poll_fn(|cx| self.io.poll_io(cx, Direction::Read, |s| s.peek_from(buf))).await
    }

    /// Peeks at the next datagram from the connected peer (see
    /// [`peek_from`](Self::peek_from)).
    ///
    /// ```
    /// use concur::aio::{self, net::UdpSocket};
    /// aio::run(async {
    ///     let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     a.connect(b.local_addr().unwrap()).await.unwrap();
    ///     b.connect(a.local_addr().unwrap()).await.unwrap();
    ///     a.send(b"pk").await.unwrap();
    ///     let mut buf = [0u8; 2];
    ///     assert_eq!(b.peek(&mut buf).await.unwrap(), 2);
    ///     assert_eq!(b.recv(&mut buf).await.unwrap(), 2);
    /// });
    /// ```
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        poll_fn(|cx| self.io.poll_io(cx, Direction::Read, |s| s.peek(buf))).await
    }

    /// The sender of the next datagram, without receiving it (tokio's `peek_sender`).
    /// Cancel safe.
    ///
    /// ```
    /// use concur::aio::{self, net::UdpSocket};
    /// aio::run(async {
    ///     let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     a.send_to(b"who", b.local_addr().unwrap()).await.unwrap();
    ///     assert_eq!(b.peek_sender().await.unwrap(), a.local_addr().unwrap());
    ///     let mut buf = [0u8; 3];
    ///     assert_eq!(b.recv_from(&mut buf).await.unwrap(), (3, a.local_addr().unwrap()));
    /// });
    /// ```
    pub async fn peek_sender(&self) -> io::Result<SocketAddr> {
        poll_fn(|cx| {
            self.io.poll_io(cx, Direction::Read, |s| {
                s.peek_from(&mut []).map(|(_, a)| a)
            })
        })
        .await
    }

    /// [`peek_sender`](Self::peek_sender) without waiting.
    ///
    /// ```
    /// use std::io::ErrorKind;
    /// use concur::aio::{self, net::UdpSocket};
    /// aio::run(async {
    ///     let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     assert_eq!(b.try_peek_sender().unwrap_err().kind(), ErrorKind::WouldBlock);
    ///     a.send_to(b"who", b.local_addr().unwrap()).await.unwrap();
    ///     b.readable().await.unwrap();
    ///     assert_eq!(b.try_peek_sender().unwrap(), a.local_addr().unwrap());
    /// });
    /// ```
    pub fn try_peek_sender(&self) -> io::Result<SocketAddr> {
        self.io
            .try_io(Direction::Read, |s| s.peek_from(&mut []).map(|(_, a)| a))
    }

    /// Waits until a datagram may be received. The readiness can be spurious: a
    /// `try_recv*` after it may still say [`WouldBlock`](io::ErrorKind::WouldBlock), and
    /// then the next `readable()` waits for the next event. Cancel safe.
    ///
    /// ```
    /// use concur::aio::{self, net::UdpSocket};
    /// aio::run(async {
    ///     let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     a.send_to(b"r", b.local_addr().unwrap()).await.unwrap();
    ///     b.readable().await.unwrap();
    ///     assert_eq!(b.try_recv_from(&mut [0u8; 1]).unwrap().0, 1);
    /// });
    /// ```
    pub async fn readable(&self) -> io::Result<()> {
        poll_fn(|cx| self.io.poll_io(cx, Direction::Read, |_| Ok(()))).await
    }

    /// Waits until a datagram may be sent (spurious like [`readable`](Self::readable)).
    /// Cancel safe.
    ///
    /// ```
    /// use concur::aio::{self, net::UdpSocket};
    /// aio::run(async {
    ///     let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     a.writable().await.unwrap();
    ///     assert_eq!(a.try_send_to(b"w", b.local_addr().unwrap()).unwrap(), 1);
    /// });
    /// ```
    pub async fn writable(&self) -> io::Result<()> {
        poll_fn(|cx| self.io.poll_io(cx, Direction::Write, |_| Ok(()))).await
    }

    /// Sends a datagram to `target` without waiting: [`WouldBlock`](io::ErrorKind::WouldBlock)
    /// when the send buffer is full (and then [`writable`](Self::writable) waits for room).
    ///
    /// ```
    /// use concur::aio::{self, net::UdpSocket};
    /// aio::run(async {
    ///     let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     assert_eq!(a.try_send_to(b"now", b.local_addr().unwrap()).unwrap(), 3);
    /// });
    /// ```
    pub fn try_send_to(&self, buf: &[u8], target: SocketAddr) -> io::Result<usize> {
        self.io.try_io(Direction::Write, |s| s.send_to(buf, target))
    }

    /// Receives a datagram without waiting: [`WouldBlock`](io::ErrorKind::WouldBlock)
    /// when none is queued (and then [`readable`](Self::readable) waits for one).
    ///
    /// ```
    /// use std::io::ErrorKind;
    /// use concur::aio::{self, net::UdpSocket};
    /// aio::run(async {
    ///     let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     let mut buf = [0u8; 4];
    ///     assert_eq!(b.try_recv_from(&mut buf).unwrap_err().kind(), ErrorKind::WouldBlock);
    ///     a.send_to(b"ping", b.local_addr().unwrap()).await.unwrap();
    ///     b.readable().await.unwrap();
    ///     assert_eq!(b.try_recv_from(&mut buf).unwrap(), (4, a.local_addr().unwrap()));
    /// });
    /// ```
    pub fn try_recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io.try_io(Direction::Read, |s| s.recv_from(buf))
    }

    /// [`peek_from`](Self::peek_from) without waiting.
    ///
    /// ```
    /// use concur::aio::{self, net::UdpSocket};
    /// aio::run(async {
    ///     let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     a.send_to(b"pk", b.local_addr().unwrap()).await.unwrap();
    ///     b.readable().await.unwrap();
    ///     let mut buf = [0u8; 2];
    ///     assert_eq!(b.try_peek_from(&mut buf).unwrap(), (2, a.local_addr().unwrap()));
    ///     assert_eq!(b.try_recv_from(&mut buf).unwrap().0, 2); // still there
    /// });
    /// ```
    pub fn try_peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io.try_io(Direction::Read, |s| s.peek_from(buf))
    }

    /// Sends a datagram to the connected peer without waiting (see
    /// [`try_send_to`](Self::try_send_to)).
    ///
    /// ```
    /// use concur::aio::{self, net::UdpSocket};
    /// aio::run(async {
    ///     let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     a.connect(b.local_addr().unwrap()).await.unwrap();
    ///     assert_eq!(a.try_send(b"hi").unwrap(), 2);
    /// });
    /// ```
    pub fn try_send(&self, buf: &[u8]) -> io::Result<usize> {
        self.io.try_io(Direction::Write, |s| s.send(buf))
    }

    /// Receives a datagram from the connected peer without waiting (see
    /// [`try_recv_from`](Self::try_recv_from)).
    ///
    /// ```
    /// use concur::aio::{self, net::UdpSocket};
    /// aio::run(async {
    ///     let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     b.connect(a.local_addr().unwrap()).await.unwrap();
    ///     a.send_to(b"hi", b.local_addr().unwrap()).await.unwrap();
    ///     b.readable().await.unwrap();
    ///     assert_eq!(b.try_recv(&mut [0u8; 2]).unwrap(), 2);
    /// });
    /// ```
    pub fn try_recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.try_io(Direction::Read, |s| s.recv(buf))
    }

    /// Takes a bound [`std::net::UdpSocket`] onto the running loop. The socket is set
    /// non-blocking here, so the caller need not do it; tokio leaves that to the caller.
    ///
    /// # Panics
    ///
    /// Outside of an event loop.
    ///
    /// ```
    /// use concur::aio::{self, net::UdpSocket};
    /// aio::run(async {
    ///     let std = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    ///     let a = UdpSocket::from_std(std).unwrap();
    ///     let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     b.send_to(b"x", a.local_addr().unwrap()).await.unwrap();
    ///     assert_eq!(a.recv_from(&mut [0u8; 1]).await.unwrap().0, 1);
    /// });
    /// ```
    pub fn from_std(socket: std::net::UdpSocket) -> io::Result<UdpSocket> {
        socket.set_nonblocking(true)?;
        Ok(UdpSocket {
            io: Registered::new(
                mio::net::UdpSocket::from_std(socket),
                "net::UdpSocket::from_std",
            )?,
        })
    }

    /// Takes the socket off the loop as a [`std::net::UdpSocket`], in blocking mode again
    /// (tokio's leaves it non-blocking). Queued datagrams stay queued.
    ///
    /// ```
    /// use concur::aio::{self, net::UdpSocket};
    /// aio::run(async {
    ///     let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     b.send_to(b"x", a.local_addr().unwrap()).await.unwrap();
    ///     let std = a.into_std().unwrap();
    ///     assert_eq!(std.recv_from(&mut [0u8; 1]).unwrap().0, 1); // blocking, std
    /// });
    /// ```
    pub fn into_std(self) -> io::Result<std::net::UdpSocket> {
        // The registration owns the descriptor, so keep a duplicate of it: dropping
        // `self` deregisters and closes the original, and the duplicate is the socket.
        let fd = self.io.source().as_fd().try_clone_to_owned()?;
        drop(self);
        let socket = std::net::UdpSocket::from(fd);
        socket.set_nonblocking(false)?;
        Ok(socket)
    }
}

impl AsFd for UdpSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.io.source().as_fd()
    }
}

impl AsRawFd for UdpSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.io.source().as_raw_fd()
    }
}

impl TryFrom<std::net::UdpSocket> for UdpSocket {
    type Error = io::Error;

    /// [`UdpSocket::from_std`].
    fn try_from(socket: std::net::UdpSocket) -> io::Result<UdpSocket> {
        UdpSocket::from_std(socket)
    }
}

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UdpSocket")
            .field("local_addr", &self.local_addr().ok())
            .finish()
    }
}
