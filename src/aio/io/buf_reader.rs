//! [`BufReader`]: reads a reader in large chunks, and serves small reads and lines from
//! its buffer.

use std::fmt;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use std::io::SeekFrom;

use futures_io::{AsyncBufRead, AsyncRead, AsyncSeek, AsyncWrite};

use super::DEFAULT_BUF_SIZE;

/// Adds a buffer to a reader: [`AsyncBufRead`] for any [`AsyncRead`], so that
/// [`read_line`](crate::aio::io::AsyncBufReadExt::read_line) and
/// [`lines`](crate::aio::io::AsyncBufReadExt::lines) work, and many small reads cost one
/// system call. A read as large as the buffer (with the buffer empty) goes straight to
/// the reader. Writes pass through to the reader if it also writes.
///
/// The reader must be `Unpin` (every concur stream is; `Box::pin` anything else).
///
/// ```
/// use concur::aio::{self, io::{AsyncBufReadExt, BufReader}};
/// aio::run(async {
///     let mut r = BufReader::new(&b"first line\nsecond"[..]);
///     let mut line = String::new();
///     r.read_line(&mut line).await.unwrap();
///     assert_eq!(line, "first line\n");
///     assert_eq!(r.buffer(), b"second"); // read ahead, not yet consumed
/// });
/// ```
pub struct BufReader<R> {
    inner: R,
    buf: Box<[u8]>,
    /// The unread bytes are `buf[pos..filled]`.
    pos: usize,
    filled: usize,
    /// A seek by more than `i64` can say in one step went back over the buffer first;
    /// this is the second step, still to do.
    seek_second: Option<i64>,
}

impl<R> BufReader<R> {
    /// A reader with an 8 KiB buffer.
    ///
    /// ```
    /// use concur::aio::io::BufReader;
    /// let r = BufReader::new(&b""[..]);
    /// assert_eq!(r.capacity(), 8 * 1024);
    /// ```
    pub fn new(inner: R) -> BufReader<R> {
        Self::with_capacity(DEFAULT_BUF_SIZE, inner)
    }

    /// A reader with a buffer of `capacity` bytes.
    ///
    /// ```
    /// use concur::aio::io::BufReader;
    /// let r = BufReader::with_capacity(16, &b""[..]);
    /// assert_eq!(r.capacity(), 16);
    /// ```
    pub fn with_capacity(capacity: usize, inner: R) -> BufReader<R> {
        BufReader {
            inner,
            buf: vec![0; capacity].into_boxed_slice(),
            pos: 0,
            filled: 0,
            seek_second: None,
        }
    }

    /// The underlying reader.
    ///
    /// ```
    /// use concur::aio::io::BufReader;
    /// let r = BufReader::new(&b"ab"[..]);
    /// assert_eq!(*r.get_ref(), b"ab");
    /// ```
    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    /// The underlying reader. Reading from it directly skips the bytes buffered here.
    ///
    /// ```
    /// use concur::aio::io::BufReader;
    /// let mut r = BufReader::new(&b"ab"[..]);
    /// *r.get_mut() = &b"c"[..];
    /// assert_eq!(*r.get_ref(), b"c");
    /// ```
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }

    /// The underlying reader back; the buffered bytes are lost.
    ///
    /// ```
    /// use concur::aio::io::BufReader;
    /// let r = BufReader::new(&b"ab"[..]);
    /// assert_eq!(r.into_inner(), b"ab");
    /// ```
    pub fn into_inner(self) -> R {
        self.inner
    }

    /// The bytes read ahead and not consumed yet.
    ///
    /// ```
    /// use concur::aio::{self, io::{AsyncReadExt, BufReader}};
    /// aio::run(async {
    ///     let mut r = BufReader::new(&b"abc"[..]);
    ///     let mut one = [0u8; 1];
    ///     r.read_exact(&mut one).await.unwrap();
    ///     assert_eq!(r.buffer(), b"bc");
    /// });
    /// ```
    pub fn buffer(&self) -> &[u8] {
        &self.buf[self.pos..self.filled]
    }

    /// The size of the buffer.
    ///
    /// ```
    /// use concur::aio::io::BufReader;
    /// assert_eq!(BufReader::with_capacity(3, &b""[..]).capacity(), 3);
    /// ```
    pub fn capacity(&self) -> usize {
        self.buf.len()
    }

    fn discard_buffer(&mut self) {
        self.pos = 0;
        self.filled = 0;
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for BufReader<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        // Nothing buffered and a large read: the buffer would only add a copy.
        if self.pos == self.filled && buf.len() >= self.buf.len() {
            let r = ready!(Pin::new(&mut self.inner).poll_read(cx, buf));
            self.discard_buffer();
            return Poll::Ready(r);
        }
        let available = ready!(self.as_mut().poll_fill_buf(cx))?;
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Poll::Ready(Ok(n))
    }
}

impl<R: AsyncRead + Unpin> AsyncBufRead for BufReader<R> {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        let this = self.get_mut();
        if this.pos >= this.filled {
            let n = ready!(Pin::new(&mut this.inner).poll_read(cx, &mut this.buf))?;
            this.pos = 0;
            this.filled = n;
        }
        Poll::Ready(Ok(&this.buf[this.pos..this.filled]))
    }

    fn consume(mut self: Pin<&mut Self>, amt: usize) {
        self.pos = (self.pos + amt).min(self.filled);
    }
}

/// Seeking discards the buffer. `SeekFrom::Current(n)` is counted from the position of
/// the reader as its user sees it (the buffered bytes not yet consumed are taken into
/// account), as std's `BufReader` does.
impl<R: AsyncRead + AsyncSeek + Unpin> AsyncSeek for BufReader<R> {
    fn poll_seek(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        pos: SeekFrom,
    ) -> Poll<io::Result<u64>> {
        let this = self.get_mut();
        if let Some(n) = this.seek_second {
            let r = ready!(Pin::new(&mut this.inner).poll_seek(cx, SeekFrom::Current(n)));
            this.seek_second = None;
            return Poll::Ready(r);
        }
        let SeekFrom::Current(n) = pos else {
            let r = ready!(Pin::new(&mut this.inner).poll_seek(cx, pos))?;
            this.discard_buffer();
            return Poll::Ready(Ok(r));
        };
        // The reader is `remainder` bytes ahead of what the user has consumed.
        let remainder = (this.filled - this.pos) as i64;
        if let Some(offset) = n.checked_sub(remainder) {
            let r = ready!(Pin::new(&mut this.inner).poll_seek(cx, SeekFrom::Current(offset)))?;
            this.discard_buffer();
            return Poll::Ready(Ok(r));
        }
        // `n - remainder` does not fit an i64: go back over the buffer, then by `n`.
        ready!(Pin::new(&mut this.inner).poll_seek(cx, SeekFrom::Current(-remainder)))?;
        this.discard_buffer();
        this.seek_second = Some(n);
        let r = ready!(Pin::new(&mut this.inner).poll_seek(cx, SeekFrom::Current(n)));
        this.seek_second = None;
        Poll::Ready(r)
    }
}

impl<R: AsyncWrite + Unpin> AsyncWrite for BufReader<R> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_close(cx)
    }
}

impl<R: fmt::Debug> fmt::Debug for BufReader<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BufReader")
            .field("reader", &self.inner)
            .field("buffered", &(self.filled - self.pos))
            .field("capacity", &self.buf.len())
            .finish()
    }
}
