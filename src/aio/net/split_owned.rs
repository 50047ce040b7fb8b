//! [`TcpStream::into_split`]'s halves: owned, for two tasks, and
//! [`reunite`](OwnedReadHalf::reunite)-able.
//!
//! The halves share the stream through an `Rc` (the loop is single-threaded, and a
//! stream never leaves its loop's thread). The write half shuts the write side down when
//! dropped, as tokio's does, so a peer waiting for the end of the stream hears it.

use std::error::Error;
use std::fmt;
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use futures_io::{AsyncRead, AsyncWrite};

use super::TcpStream;

/// The read half of a [`TcpStream`], from [`TcpStream::into_split`]. Implements
/// [`AsyncRead`].
///
/// ```
/// use concur::aio::{self, io::{AsyncReadExt, AsyncWriteExt}, net::{TcpListener, TcpStream}};
/// aio::run(async {
///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
///     let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
///     let (mut server, _) = listener.accept().await.unwrap();
///     let (mut r, _w) = client.into_split();
///     let reader = aio::spawn(async move {
///         let mut buf = [0u8; 2];
///         r.read_exact(&mut buf).await.unwrap();
///         buf
///     });
///     server.write_all(b"ok").await.unwrap();
///     assert_eq!(&reader.await.unwrap(), b"ok");
/// });
/// ```
#[derive(Debug)]
pub struct OwnedReadHalf {
    inner: Rc<TcpStream>,
}

/// The write half of a [`TcpStream`], from [`TcpStream::into_split`]. Implements
/// [`AsyncWrite`]. Dropping it (or `close`) shuts the write side down, unless it was
/// given to [`forget`](Self::forget).
///
/// ```
/// use concur::aio::{self, io::{AsyncReadExt, AsyncWriteExt}, net::{TcpListener, TcpStream}};
/// aio::run(async {
///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
///     let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
///     let (mut server, _) = listener.accept().await.unwrap();
///     let (_r, mut w) = client.into_split();
///     aio::spawn(async move {
///         w.write_all(b"done").await.unwrap();
///     }); // the task drops `w` when it ends: the write side shuts down
///     let mut got = Vec::new();
///     server.read_to_end(&mut got).await.unwrap();
///     assert_eq!(got, b"done");
/// });
/// ```
#[derive(Debug)]
pub struct OwnedWriteHalf {
    inner: Rc<TcpStream>,
    /// Cleared by [`OwnedWriteHalf::forget`], a successful `close`, and `reunite`.
    shutdown_on_drop: bool,
}

/// The halves given to `reunite` came from different streams; both are handed back.
///
/// ```
/// use concur::aio::{self, net::{TcpListener, TcpStream}};
/// aio::run(async {
///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
///     let addr = listener.local_addr().unwrap();
///     let (r1, _w1) = TcpStream::connect(addr).await.unwrap().into_split();
///     let (_r2, w2) = TcpStream::connect(addr).await.unwrap().into_split();
///     let err = r1.reunite(w2).unwrap_err();
///     assert!(err.to_string().contains("not halves of the same"));
///     let (_r1, _w2) = (err.0, err.1); // nothing lost
/// });
/// ```
#[derive(Debug)]
pub struct ReuniteError(pub OwnedReadHalf, pub OwnedWriteHalf);

impl fmt::Display for ReuniteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "tried to reunite a read half and a write half that are not halves of the same \
             TcpStream (read half's stream {:?}, write half's stream {:?})",
            self.0.inner.local_addr().ok(),
            self.1.inner.local_addr().ok()
        )
    }
}

impl Error for ReuniteError {}

pub(super) fn split_owned(stream: TcpStream) -> (OwnedReadHalf, OwnedWriteHalf) {
    let inner = Rc::new(stream);
    (
        OwnedReadHalf {
            inner: inner.clone(),
        },
        OwnedWriteHalf {
            inner,
            shutdown_on_drop: true,
        },
    )
}

fn reunite(read: OwnedReadHalf, mut write: OwnedWriteHalf) -> Result<TcpStream, ReuniteError> {
    if !Rc::ptr_eq(&read.inner, &write.inner) {
        return Err(ReuniteError(read, write));
    }
    write.shutdown_on_drop = false;
    drop(write);
    match Rc::try_unwrap(read.inner) {
        Ok(stream) => Ok(stream),
        // Only the two halves ever hold the `Rc`, and the write half is gone.
        Err(_) => unreachable!("a TcpStream's halves were shared beyond the two of them"),
    }
}

impl OwnedReadHalf {
    /// Puts the stream back together from its two halves; halves of different streams
    /// are refused with both handed back.
    ///
    /// ```
    /// use concur::aio::{self, net::{TcpListener, TcpStream}};
    /// aio::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let stream = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    ///     let local = stream.local_addr().unwrap();
    ///     let (r, w) = stream.into_split();
    ///     let stream = r.reunite(w).unwrap();
    ///     assert_eq!(stream.local_addr().unwrap(), local);
    /// });
    /// ```
    pub fn reunite(self, other: OwnedWriteHalf) -> Result<TcpStream, ReuniteError> {
        reunite(self, other)
    }

    /// [`TcpStream::peek`] on the stream.
    ///
    /// ```
    /// use concur::aio::{self, io::AsyncWriteExt, net::{TcpListener, TcpStream}};
    /// aio::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    ///     let (mut server, _) = listener.accept().await.unwrap();
    ///     server.write_all(b"p").await.unwrap();
    ///     let (r, _w) = client.into_split();
    ///     let mut buf = [0u8; 1];
    ///     assert_eq!(r.peek(&mut buf).await.unwrap(), 1);
    /// });
    /// ```
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.peek(buf).await
    }

    /// [`TcpStream::readable`] on the stream.
    ///
    /// ```
    /// use concur::aio::{self, io::AsyncWriteExt, net::{TcpListener, TcpStream}};
    /// aio::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    ///     let (mut server, _) = listener.accept().await.unwrap();
    ///     server.write_all(b"r").await.unwrap();
    ///     let (r, _w) = client.into_split();
    ///     r.readable().await.unwrap();
    ///     assert_eq!(r.try_read(&mut [0u8; 1]).unwrap(), 1);
    /// });
    /// ```
    pub async fn readable(&self) -> io::Result<()> {
        self.inner.readable().await
    }

    /// [`TcpStream::try_read`] on the stream.
    ///
    /// ```
    /// use concur::aio::{self, net::{TcpListener, TcpStream}};
    /// aio::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    ///     let (r, _w) = client.into_split();
    ///     let e = r.try_read(&mut [0u8; 1]).unwrap_err();
    ///     assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock);
    ///     drop(listener);
    /// });
    /// ```
    pub fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.try_read(buf)
    }

    /// The stream's remote address.
    ///
    /// ```
    /// use concur::aio::{self, net::{TcpListener, TcpStream}};
    /// aio::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let addr = listener.local_addr().unwrap();
    ///     let (r, _w) = TcpStream::connect(addr).await.unwrap().into_split();
    ///     assert_eq!(r.peer_addr().unwrap(), addr);
    /// });
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.peer_addr()
    }

    /// The stream's local address.
    ///
    /// ```
    /// use concur::aio::{self, net::{TcpListener, TcpStream}};
    /// aio::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let (r, _w) = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap().into_split();
    ///     let (_, peer) = listener.accept().await.unwrap();
    ///     assert_eq!(r.local_addr().unwrap(), peer);
    /// });
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

impl OwnedWriteHalf {
    /// Puts the stream back together from its two halves (see
    /// [`OwnedReadHalf::reunite`]).
    ///
    /// ```
    /// use concur::aio::{self, net::{TcpListener, TcpStream}};
    /// aio::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let (r, w) = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap().into_split();
    ///     assert!(w.reunite(r).is_ok());
    /// });
    /// ```
    pub fn reunite(self, other: OwnedReadHalf) -> Result<TcpStream, ReuniteError> {
        reunite(other, self)
    }

    /// Drops the write half without shutting the write side down: the peer does not
    /// read the end of the stream until the read half (the last owner) is dropped too.
    ///
    /// ```
    /// use concur::aio::{self, net::{TcpListener, TcpStream}};
    /// aio::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let (r, w) = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap().into_split();
    ///     w.forget();
    ///     assert!(r.peer_addr().is_ok());
    /// });
    /// ```
    pub fn forget(mut self) {
        self.shutdown_on_drop = false;
    }

    /// [`TcpStream::writable`] on the stream.
    ///
    /// ```
    /// use concur::aio::{self, net::{TcpListener, TcpStream}};
    /// aio::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let (_r, w) = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap().into_split();
    ///     w.writable().await.unwrap();
    ///     assert_eq!(w.try_write(b"w").unwrap(), 1);
    /// });
    /// ```
    pub async fn writable(&self) -> io::Result<()> {
        self.inner.writable().await
    }

    /// [`TcpStream::try_write`] on the stream.
    ///
    /// ```
    /// use concur::aio::{self, net::{TcpListener, TcpStream}};
    /// aio::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let (_r, w) = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap().into_split();
    ///     assert_eq!(w.try_write(b"ok").unwrap(), 2);
    /// });
    /// ```
    pub fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        self.inner.try_write(buf)
    }

    /// The stream's remote address.
    ///
    /// ```
    /// use concur::aio::{self, net::{TcpListener, TcpStream}};
    /// aio::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let addr = listener.local_addr().unwrap();
    ///     let (_r, w) = TcpStream::connect(addr).await.unwrap().into_split();
    ///     assert_eq!(w.peer_addr().unwrap(), addr);
    /// });
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.peer_addr()
    }

    /// The stream's local address.
    ///
    /// ```
    /// use concur::aio::{self, net::{TcpListener, TcpStream}};
    /// aio::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let (_r, w) = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap().into_split();
    ///     let (_, peer) = listener.accept().await.unwrap();
    ///     assert_eq!(w.local_addr().unwrap(), peer);
    /// });
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

impl Drop for OwnedWriteHalf {
    fn drop(&mut self) {
        if self.shutdown_on_drop {
            // Fails only if the connection is gone already, which is the same end.
            let _ = self.inner.shutdown(Shutdown::Write);
        }
    }
}

impl AsRef<TcpStream> for OwnedReadHalf {
    fn as_ref(&self) -> &TcpStream {
        &self.inner
    }
}

impl AsRef<TcpStream> for OwnedWriteHalf {
    fn as_ref(&self) -> &TcpStream {
        &self.inner
    }
}

impl AsyncRead for OwnedReadHalf {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.inner.poll_read_ref(cx, buf)
    }
}

impl AsyncWrite for OwnedWriteHalf {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.inner.poll_write_ref(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.inner.poll_write_vectored_ref(cx, bufs)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.inner.poll_flush_ref(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        std::task::ready!(self.inner.poll_drain_ref(cx))?;
        let r = self.inner.shutdown(Shutdown::Write);
        if r.is_ok() {
            self.shutdown_on_drop = false;
        }
        Poll::Ready(r)
    }
}
