//! [`TcpStream::split`]'s halves: a read half and a write half that borrow the stream.
//!
//! Both halves hold a shared reference to the stream: the reactor keeps the read and the
//! write readiness (and their waiting tasks) apart, so the halves need no lock.

use std::io;
use std::net::{Shutdown, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_io::{AsyncRead, AsyncWrite};

use super::TcpStream;

/// The read half of a [`TcpStream`], from [`TcpStream::split`]. Implements
/// [`AsyncRead`].
///
/// ```
/// use concur::aio::{self, io::{AsyncReadExt, AsyncWriteExt}, net::{TcpListener, TcpStream}};
/// aio::run(async {
///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
///     let mut client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
///     let (mut server, _) = listener.accept().await.unwrap();
///     server.write_all(b"hey").await.unwrap();
///     let (mut r, _w) = client.split();
///     let mut buf = [0u8; 3];
///     r.read_exact(&mut buf).await.unwrap();
///     assert_eq!(&buf, b"hey");
/// });
/// ```
#[derive(Debug)]
pub struct ReadHalf<'a>(&'a TcpStream);

/// The write half of a [`TcpStream`], from [`TcpStream::split`]. Implements
/// [`AsyncWrite`]; its `close` shuts the write side down (the peer reads the end of the
/// stream) and leaves the read half working.
///
/// ```
/// use concur::aio::{self, io::{AsyncReadExt, AsyncWriteExt}, net::{TcpListener, TcpStream}};
/// aio::run(async {
///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
///     let mut client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
///     let (mut server, _) = listener.accept().await.unwrap();
///     let (_r, mut w) = client.split();
///     w.write_all(b"bye").await.unwrap();
///     w.close().await.unwrap();
///     let mut got = Vec::new();
///     server.read_to_end(&mut got).await.unwrap();
///     assert_eq!(got, b"bye");
/// });
/// ```
#[derive(Debug)]
pub struct WriteHalf<'a>(&'a TcpStream);

impl<'a> ReadHalf<'a> {
    pub(super) fn new(stream: &'a TcpStream) -> Self {
        ReadHalf(stream)
    }

    /// [`TcpStream::peek`] on the stream.
    ///
    /// ```
    /// use concur::aio::{self, io::AsyncWriteExt, net::{TcpListener, TcpStream}};
    /// aio::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let mut client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    ///     let (mut server, _) = listener.accept().await.unwrap();
    ///     server.write_all(b"p").await.unwrap();
    ///     let (r, _w) = client.split();
    ///     let mut buf = [0u8; 1];
    ///     assert_eq!(r.peek(&mut buf).await.unwrap(), 1);
    /// });
    /// ```
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.peek(buf).await
    }

    /// [`TcpStream::readable`] on the stream.
    ///
    /// ```
    /// use concur::aio::{self, io::AsyncWriteExt, net::{TcpListener, TcpStream}};
    /// aio::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let mut client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    ///     let (mut server, _) = listener.accept().await.unwrap();
    ///     server.write_all(b"r").await.unwrap();
    ///     let (r, _w) = client.split();
    ///     r.readable().await.unwrap();
    ///     let mut buf = [0u8; 1];
    ///     assert_eq!(r.try_read(&mut buf).unwrap(), 1);
    /// });
    /// ```
    pub async fn readable(&self) -> io::Result<()> {
        self.0.readable().await
    }

    /// [`TcpStream::try_read`] on the stream.
    ///
    /// ```
    /// use concur::aio::{self, net::{TcpListener, TcpStream}};
    /// aio::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let mut client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    ///     let (r, _w) = client.split();
    ///     let e = r.try_read(&mut [0u8; 1]).unwrap_err();
    ///     assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock);
    ///     drop(listener);
    /// });
    /// ```
    pub fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.try_read(buf)
    }

    /// The stream's remote address.
    ///
    /// ```
    /// use concur::aio::{self, net::{TcpListener, TcpStream}};
    /// aio::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let addr = listener.local_addr().unwrap();
    ///     let mut client = TcpStream::connect(addr).await.unwrap();
    ///     let (r, _w) = client.split();
    ///     assert_eq!(r.peer_addr().unwrap(), addr);
    /// });
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.0.peer_addr()
    }

    /// The stream's local address.
    ///
    /// ```
    /// use concur::aio::{self, net::{TcpListener, TcpStream}};
    /// aio::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let mut client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    ///     let (_, peer) = listener.accept().await.unwrap();
    ///     let (r, _w) = client.split();
    ///     assert_eq!(r.local_addr().unwrap(), peer);
    /// });
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.local_addr()
    }
}

impl<'a> WriteHalf<'a> {
    pub(super) fn new(stream: &'a TcpStream) -> Self {
        WriteHalf(stream)
    }

    /// [`TcpStream::writable`] on the stream.
    ///
    /// ```
    /// use concur::aio::{self, net::{TcpListener, TcpStream}};
    /// aio::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let mut client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    ///     let (_r, w) = client.split();
    ///     w.writable().await.unwrap();
    ///     assert_eq!(w.try_write(b"w").unwrap(), 1);
    ///     drop(listener);
    /// });
    /// ```
    pub async fn writable(&self) -> io::Result<()> {
        self.0.writable().await
    }

    /// [`TcpStream::try_write`] on the stream.
    ///
    /// ```
    /// use concur::aio::{self, net::{TcpListener, TcpStream}};
    /// aio::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let mut client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    ///     let (_r, w) = client.split();
    ///     assert_eq!(w.try_write(b"ok").unwrap(), 2);
    ///     drop(listener);
    /// });
    /// ```
    pub fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        self.0.try_write(buf)
    }

    /// The stream's remote address.
    ///
    /// ```
    /// use concur::aio::{self, net::{TcpListener, TcpStream}};
    /// aio::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let addr = listener.local_addr().unwrap();
    ///     let mut client = TcpStream::connect(addr).await.unwrap();
    ///     let (_r, w) = client.split();
    ///     assert_eq!(w.peer_addr().unwrap(), addr);
    /// });
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.0.peer_addr()
    }

    /// The stream's local address.
    ///
    /// ```
    /// use concur::aio::{self, net::{TcpListener, TcpStream}};
    /// aio::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let mut client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    ///     let (_, peer) = listener.accept().await.unwrap();
    ///     let (_r, w) = client.split();
    ///     assert_eq!(w.local_addr().unwrap(), peer);
    /// });
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.local_addr()
    }
}

impl AsRef<TcpStream> for ReadHalf<'_> {
    fn as_ref(&self) -> &TcpStream {
        self.0
    }
}

impl AsRef<TcpStream> for WriteHalf<'_> {
    fn as_ref(&self) -> &TcpStream {
        self.0
    }
}

impl AsyncRead for ReadHalf<'_> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.0.poll_read_ref(cx, buf)
    }
}

impl AsyncWrite for WriteHalf<'_> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.0.poll_write_ref(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.0.poll_write_vectored_ref(cx, bufs)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.0.poll_flush_ref(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        std::task::ready!(self.0.poll_drain_ref(cx))?;
        Poll::Ready(self.0.shutdown(Shutdown::Write))
    }
}
