//! [`Take`]: at most so many bytes of a reader, from [`AsyncReadExt::take`].
//!
//! [`AsyncReadExt::take`]: crate::aio::io::AsyncReadExt::take

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use futures_io::{AsyncBufRead, AsyncRead};

/// A reader that ends after `limit` bytes of the one it wraps (tokio's and std's
/// `Take`), from [`AsyncReadExt::take`](crate::aio::io::AsyncReadExt::take): a
/// length-prefixed body, say. Buffered if the inner reader is.
///
/// ```
/// use concur::aio::{self, io::AsyncReadExt};
/// aio::run(async {
///     let mut r: &[u8] = b"\x03abcdef";
///     let mut len = [0u8; 1];
///     r.read_exact(&mut len).await.unwrap();
///     let mut body = Vec::new();
///     (&mut r).take(u64::from(len[0])).read_to_end(&mut body).await.unwrap();
///     assert_eq!(body, b"abc");
///     assert_eq!(r, b"def"); // the rest is left
/// });
/// ```
#[derive(Debug)]
pub struct Take<R> {
    inner: R,
    limit: u64,
}

impl<R> Take<R> {
    pub(super) fn new(inner: R, limit: u64) -> Self {
        Take { inner, limit }
    }

    /// How many bytes may still be read.
    ///
    /// ```
    /// use concur::aio::{self, io::AsyncReadExt};
    /// aio::run(async {
    ///     let mut t = (&b"abcdef"[..]).take(4);
    ///     t.read_exact(&mut [0u8; 3]).await.unwrap();
    ///     assert_eq!(t.limit(), 1);
    /// });
    /// ```
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// Sets how many bytes may still be read (as if `take(limit)` were called afresh).
    ///
    /// ```
    /// use concur::aio::{self, io::AsyncReadExt};
    /// aio::run(async {
    ///     let mut t = (&b"abcdef"[..]).take(1);
    ///     t.set_limit(5);
    ///     let mut got = Vec::new();
    ///     t.read_to_end(&mut got).await.unwrap();
    ///     assert_eq!(got, b"abcde");
    /// });
    /// ```
    pub fn set_limit(&mut self, limit: u64) {
        self.limit = limit;
    }

    /// The inner reader.
    ///
    /// ```
    /// use concur::aio::io::AsyncReadExt;
    /// let t = (&b"ab"[..]).take(1);
    /// assert_eq!(*t.get_ref(), b"ab");
    /// ```
    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    /// The inner reader; reading from it directly does not count against the limit.
    ///
    /// ```
    /// use concur::aio::io::AsyncReadExt;
    /// let mut t = (&b"ab"[..]).take(1);
    /// *t.get_mut() = &b"c"[..];
    /// assert_eq!(*t.get_ref(), b"c");
    /// ```
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }

    /// The inner reader back.
    ///
    /// ```
    /// use concur::aio::io::AsyncReadExt;
    /// let t = (&b"ab"[..]).take(1);
    /// assert_eq!(t.into_inner(), b"ab");
    /// ```
    pub fn into_inner(self) -> R {
        self.inner
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for Take<R> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.limit == 0 {
            return Poll::Ready(Ok(0));
        }
        let max = usize::try_from(this.limit)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        let n = ready!(Pin::new(&mut this.inner).poll_read(cx, &mut buf[..max]))?;
        this.limit -= n as u64;
        Poll::Ready(Ok(n))
    }
}

impl<R: AsyncBufRead + Unpin> AsyncBufRead for Take<R> {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        let this = self.get_mut();
        if this.limit == 0 {
            return Poll::Ready(Ok(&[]));
        }
        let buf = ready!(Pin::new(&mut this.inner).poll_fill_buf(cx))?;
        let max = usize::try_from(this.limit)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        Poll::Ready(Ok(&buf[..max]))
    }

    fn consume(self: Pin<&mut Self>, amt: usize) {
        let this = self.get_mut();
        let amt = usize::try_from(this.limit).unwrap_or(usize::MAX).min(amt);
        this.limit -= amt as u64;
        Pin::new(&mut this.inner).consume(amt);
    }
}
