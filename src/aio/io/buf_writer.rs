//! [`BufWriter`]: gathers small writes, and hands them to the writer in large chunks.

use std::fmt;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use std::io::SeekFrom;

use futures_io::{AsyncBufRead, AsyncRead, AsyncSeek, AsyncWrite};

use super::DEFAULT_BUF_SIZE;

/// Adds a buffer to a writer: small writes are gathered and written when the buffer is
/// full, on [`flush`](crate::aio::io::AsyncWriteExt::flush) and on
/// [`close`](crate::aio::io::AsyncWriteExt::close). A write as large as the buffer goes
/// straight to the writer (after what is buffered). Reads pass through to the writer if
/// it also reads.
///
/// **Flush before dropping it**: a drop cannot wait, so what is still buffered then is
/// lost (as with tokio's `BufWriter`).
///
/// ```
/// use concur::aio::{self, io::{AsyncWriteExt, BufWriter}};
/// aio::run(async {
///     let mut w = BufWriter::new(Vec::new());
///     for i in 0..3 {
///         w.write_all(format!("{i},").as_bytes()).await.unwrap();
///     }
///     assert!(w.get_ref().is_empty()); // all in the buffer
///     w.flush().await.unwrap();
///     assert_eq!(w.get_ref(), b"0,1,2,");
/// });
/// ```
pub struct BufWriter<W> {
    inner: W,
    buf: Vec<u8>,
    /// How much of `buf` the writer has taken during a flush that is under way.
    written: usize,
    capacity: usize,
}

impl<W> BufWriter<W> {
    /// A writer with an 8 KiB buffer.
    ///
    /// ```
    /// use concur::aio::io::BufWriter;
    /// assert_eq!(BufWriter::new(Vec::<u8>::new()).capacity(), 8 * 1024);
    /// ```
    pub fn new(inner: W) -> BufWriter<W> {
        Self::with_capacity(DEFAULT_BUF_SIZE, inner)
    }

    /// A writer with a buffer of `capacity` bytes.
    ///
    /// ```
    /// use concur::aio::io::BufWriter;
    /// assert_eq!(BufWriter::with_capacity(4, Vec::<u8>::new()).capacity(), 4);
    /// ```
    pub fn with_capacity(capacity: usize, inner: W) -> BufWriter<W> {
        BufWriter {
            inner,
            buf: Vec::with_capacity(capacity),
            written: 0,
            capacity,
        }
    }

    /// The underlying writer.
    ///
    /// ```
    /// use concur::aio::io::BufWriter;
    /// assert!(BufWriter::new(Vec::<u8>::new()).get_ref().is_empty());
    /// ```
    pub fn get_ref(&self) -> &W {
        &self.inner
    }

    /// The underlying writer. Writing to it directly overtakes the bytes buffered here.
    ///
    /// ```
    /// use concur::aio::io::BufWriter;
    /// let mut w = BufWriter::new(Vec::<u8>::new());
    /// w.get_mut().push(1);
    /// assert_eq!(w.get_ref(), &[1]);
    /// ```
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.inner
    }

    /// The underlying writer back; the buffered bytes are lost (flush first).
    ///
    /// ```
    /// use concur::aio::{self, io::{AsyncWriteExt, BufWriter}};
    /// aio::run(async {
    ///     let mut w = BufWriter::new(Vec::new());
    ///     w.write_all(b"kept").await.unwrap();
    ///     w.flush().await.unwrap();
    ///     assert_eq!(w.into_inner(), b"kept");
    /// });
    /// ```
    pub fn into_inner(self) -> W {
        self.inner
    }

    /// The bytes buffered and not yet written.
    ///
    /// ```
    /// use concur::aio::{self, io::{AsyncWriteExt, BufWriter}};
    /// aio::run(async {
    ///     let mut w = BufWriter::new(Vec::new());
    ///     w.write_all(b"wait").await.unwrap();
    ///     assert_eq!(w.buffer(), b"wait");
    /// });
    /// ```
    pub fn buffer(&self) -> &[u8] {
        &self.buf[self.written..]
    }

    /// The size of the buffer.
    ///
    /// ```
    /// use concur::aio::io::BufWriter;
    /// assert_eq!(BufWriter::with_capacity(9, Vec::<u8>::new()).capacity(), 9);
    /// ```
    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

impl<W: AsyncWrite + Unpin> BufWriter<W> {
    /// Writes out the whole buffer.
    fn poll_flush_buf(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut r = Ok(());
        while self.written < self.buf.len() {
            match Pin::new(&mut self.inner).poll_write(cx, &self.buf[self.written..]) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(0)) => {
                    r = Err(io::Error::new(
                        io::ErrorKind::WriteZero,
                        format!(
                            "BufWriter: the writer took no more bytes, {} buffered bytes \
                             not written",
                            self.buf.len() - self.written
                        ),
                    ));
                    break;
                }
                Poll::Ready(Ok(n)) => self.written += n,
                Poll::Ready(Err(e)) => {
                    r = Err(e);
                    break;
                }
            }
        }
        self.buf.drain(..self.written);
        self.written = 0;
        Poll::Ready(r)
    }
}

impl<W: AsyncWrite + Unpin> AsyncWrite for BufWriter<W> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.buf.len() + buf.len() > self.capacity {
            ready!(self.poll_flush_buf(cx))?;
        }
        if buf.len() >= self.capacity {
            Pin::new(&mut self.inner).poll_write(cx, buf)
        } else {
            self.buf.extend_from_slice(buf);
            Poll::Ready(Ok(buf.len()))
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        if self.buf.len() + total > self.capacity {
            ready!(self.poll_flush_buf(cx))?;
        }
        if total >= self.capacity {
            Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
        } else {
            for b in bufs {
                self.buf.extend_from_slice(b);
            }
            Poll::Ready(Ok(total))
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_flush_buf(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_flush_buf(cx))?;
        Pin::new(&mut self.inner).poll_close(cx)
    }
}

/// Seeking writes the buffer out first.
impl<W: AsyncWrite + AsyncSeek + Unpin> AsyncSeek for BufWriter<W> {
    fn poll_seek(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        pos: SeekFrom,
    ) -> Poll<io::Result<u64>> {
        ready!(self.poll_flush_buf(cx))?;
        Pin::new(&mut self.inner).poll_seek(cx, pos)
    }
}

impl<W: AsyncRead + Unpin> AsyncRead for BufWriter<W> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<W: AsyncBufRead + Unpin> AsyncBufRead for BufWriter<W> {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        Pin::new(&mut self.get_mut().inner).poll_fill_buf(cx)
    }

    fn consume(mut self: Pin<&mut Self>, amt: usize) {
        Pin::new(&mut self.inner).consume(amt)
    }
}

impl<W: fmt::Debug> fmt::Debug for BufWriter<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BufWriter")
            .field("writer", &self.inner)
            .field("buffered", &(self.buf.len() - self.written))
            .field("capacity", &self.capacity)
            .finish()
    }
}
