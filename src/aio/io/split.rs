//! [`split`]: one stream that reads and writes, as a read half and a write half with
//! an owner each.

use std::fmt;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};

use futures_io::{AsyncRead, AsyncWrite};

/// Splits `stream` into a read half and a write half, each with its own owner (two
/// tasks, say), for any type that reads and writes; [`ReadHalf::unsplit`] joins them.
///
/// The halves share the stream behind a lock held only while one of them polls it,
/// never across an `await`, so the halves do not wait on each other. For a concur
/// [`TcpStream`](crate::aio::net::TcpStream) prefer its own
/// [`into_split`](crate::aio::net::TcpStream::into_split), which needs no lock. The
/// halves are `Send` and `Sync` if the stream is `Send`.
///
/// ```
/// use concur::aio::{self, io::{self, AsyncReadExt, AsyncWriteExt}, net::UnixStream};
/// aio::run(async {
///     let (a, mut b) = UnixStream::pair().unwrap();
///     let (mut r, mut w) = io::split(a);
///     let writer = aio::spawn(async move {
///         w.write_all(b"from a").await.unwrap();
///         w
///     });
///     let mut got = [0u8; 6];
///     b.read_exact(&mut got).await.unwrap();
///     assert_eq!(&got, b"from a");
///     b.write_all(b"!").await.unwrap();
///     let mut one = [0u8; 1];
///     r.read_exact(&mut one).await.unwrap();
///     let _a: UnixStream = r.unsplit(writer.await.unwrap());
/// });
/// ```
pub fn split<T: AsyncRead + AsyncWrite>(stream: T) -> (ReadHalf<T>, WriteHalf<T>) {
    let inner = Arc::new(Mutex::new(stream));
    (
        ReadHalf {
            inner: inner.clone(),
        },
        WriteHalf { inner },
    )
}

/// The read half of [`split`]. Implements [`AsyncRead`].
///
/// ```
/// use concur::aio::{self, io::{self, AsyncReadExt}, net::UnixStream};
/// aio::run(async {
///     let (a, b) = UnixStream::pair().unwrap();
///     let (mut r, _w) = io::split(a);
///     drop(b);
///     assert_eq!(r.read(&mut [0u8; 1]).await.unwrap(), 0); // the peer is gone
/// });
/// ```
pub struct ReadHalf<T> {
    inner: Arc<Mutex<T>>,
}

/// The write half of [`split`]. Implements [`AsyncWrite`].
///
/// ```
/// use concur::aio::{self, io::{self, AsyncReadExt, AsyncWriteExt}, net::UnixStream};
/// aio::run(async {
///     let (a, mut b) = UnixStream::pair().unwrap();
///     let (_r, mut w) = io::split(a);
///     w.write_all(b"w").await.unwrap();
///     w.close().await.unwrap(); // shuts the stream's write side down
///     let mut got = Vec::new();
///     b.read_to_end(&mut got).await.unwrap();
///     assert_eq!(got, b"w");
/// });
/// ```
pub struct WriteHalf<T> {
    inner: Arc<Mutex<T>>,
}

/// Locks the shared stream; a panic in another half's poll does not make the stream
/// unusable (the stream's own state is what that poll left).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<T> ReadHalf<T> {
    /// Whether `other` is the write half that came with this one from [`split`].
    ///
    /// ```
    /// use concur::aio::{io, net::UnixStream};
    /// concur::aio::run(async {
    ///     let (a, b) = UnixStream::pair().unwrap();
    ///     let (r1, w1) = io::split(a);
    ///     let (_r2, w2) = io::split(b);
    ///     assert!(r1.is_pair_of(&w1));
    ///     assert!(!r1.is_pair_of(&w2));
    /// });
    /// ```
    pub fn is_pair_of(&self, other: &WriteHalf<T>) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// The stream back from its two halves.
    ///
    /// # Panics
    ///
    /// If `other` is not this half's pair ([`is_pair_of`](Self::is_pair_of)).
    ///
    /// ```
    /// use concur::aio::{io, net::UnixStream};
    /// concur::aio::run(async {
    ///     let (a, _b) = UnixStream::pair().unwrap();
    ///     let (r, w) = io::split(a);
    ///     let _a: UnixStream = r.unsplit(w);
    /// });
    /// ```
    pub fn unsplit(self, other: WriteHalf<T>) -> T {
        assert!(
            self.is_pair_of(&other),
            "ReadHalf::unsplit: the write half given is not the one split off with this \
             read half"
        );
        drop(other);
        match Arc::try_unwrap(self.inner) {
            Ok(m) => m.into_inner().unwrap_or_else(PoisonError::into_inner),
            // Only the two halves hold the `Arc`, and the write half is gone.
            Err(_) => unreachable!("a split stream was shared beyond its two halves"),
        }
    }
}

impl<T> WriteHalf<T> {
    /// Whether `other` is the read half that came with this one from [`split`].
    ///
    /// ```
    /// use concur::aio::{io, net::UnixStream};
    /// concur::aio::run(async {
    ///     let (a, _b) = UnixStream::pair().unwrap();
    ///     let (r, w) = io::split(a);
    ///     assert!(w.is_pair_of(&r));
    /// });
    /// ```
    pub fn is_pair_of(&self, other: &ReadHalf<T>) -> bool {
        other.is_pair_of(self)
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for ReadHalf<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *lock(&self.inner)).poll_read(cx, buf)
    }

    fn poll_read_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut [io::IoSliceMut<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *lock(&self.inner)).poll_read_vectored(cx, bufs)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for WriteHalf<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *lock(&self.inner)).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *lock(&self.inner)).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *lock(&self.inner)).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *lock(&self.inner)).poll_close(cx)
    }
}

impl<T> fmt::Debug for ReadHalf<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("io::ReadHalf").finish_non_exhaustive()
    }
}

impl<T> fmt::Debug for WriteHalf<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("io::WriteHalf").finish_non_exhaustive()
    }
}
