//! [`copy`] and [`copy_buf`]: pump a reader into a writer until the reader ends.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use futures_io::{AsyncBufRead, AsyncRead, AsyncWrite};

use super::DEFAULT_BUF_SIZE;
use crate::aio::runtime::poll_budget;

/// Copies everything `reader` gives into `writer` until the reader ends, then flushes
/// the writer; how many bytes. Through an 8 KiB buffer; whenever the reader has nothing
/// ready, what was written so far is flushed (so a buffering writer in a proxy does not
/// sit on data the other side waits for). The writer is not closed.
///
/// Cooperative: on the loop, a copy between two always-ready objects (memory) yields
/// to the other tasks now and then, as the loop's sockets do. Not cancel safe: after a
/// cancellation, bytes read but not yet written are lost.
///
/// ```
/// use concur::aio::{self, io};
/// aio::run(async {
///     let mut reader: &[u8] = b"hello world";
///     let mut writer = Vec::new();
///     assert_eq!(io::copy(&mut reader, &mut writer).await.unwrap(), 11);
///     assert_eq!(writer, b"hello world");
/// });
/// ```
pub fn copy<'a, R, W>(reader: &'a mut R, writer: &'a mut W) -> Copy<'a, R, W>
where
    R: AsyncRead + Unpin + ?Sized,
    W: AsyncWrite + Unpin + ?Sized,
{
    Copy {
        reader,
        writer,
        buf: vec![0; DEFAULT_BUF_SIZE].into_boxed_slice(),
        pos: 0,
        filled: 0,
        read_done: false,
        need_flush: false,
        amt: 0,
    }
}

/// The future of [`copy`].
///
/// ```
/// use concur::aio::{self, io};
/// aio::run(async {
///     let (mut r, mut w): (&[u8], Vec<u8>) = (b"x", Vec::new());
///     let fut: io::Copy<'_, &[u8], Vec<u8>> = io::copy(&mut r, &mut w);
///     assert_eq!(fut.await.unwrap(), 1);
/// });
/// ```
#[derive(Debug)]
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Copy<'a, R: ?Sized, W: ?Sized> {
    reader: &'a mut R,
    writer: &'a mut W,
    buf: Box<[u8]>,
    /// The bytes read and not yet written are `buf[pos..filled]`.
    pos: usize,
    filled: usize,
    read_done: bool,
    /// Something was written since the last flush.
    need_flush: bool,
    amt: u64,
}

/// Writes `buf` out to `writer`, counting into `amt`.
fn poll_write_out<W: AsyncWrite + Unpin + ?Sized>(
    writer: &mut W,
    cx: &mut Context<'_>,
    buf: &[u8],
    amt: &mut u64,
    need_flush: &mut bool,
) -> Poll<io::Result<usize>> {
    let n = ready!(Pin::new(&mut *writer).poll_write(cx, buf))?;
    if n == 0 {
        return Poll::Ready(Err(io::Error::new(
            io::ErrorKind::WriteZero,
            format!("copy: the writer took no more bytes, after {amt}"),
        )));
    }
    *amt += n as u64;
    *need_flush = true;
    Poll::Ready(Ok(n))
}

/// Flushes `writer` if something was written since the last flush.
fn poll_flush_if_needed<W: AsyncWrite + Unpin + ?Sized>(
    writer: &mut W,
    cx: &mut Context<'_>,
    need_flush: &mut bool,
) -> Poll<io::Result<()>> {
    if *need_flush {
        ready!(Pin::new(&mut *writer).poll_flush(cx))?;
        *need_flush = false;
    }
    Poll::Ready(Ok(()))
}

impl<R, W> Future for Copy<'_, R, W>
where
    R: AsyncRead + Unpin + ?Sized,
    W: AsyncWrite + Unpin + ?Sized,
{
    type Output = io::Result<u64>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<u64>> {
        let this = self.get_mut();
        loop {
            if this.pos == this.filled && !this.read_done {
                ready!(poll_budget(cx));
                match Pin::new(&mut *this.reader).poll_read(cx, &mut this.buf) {
                    Poll::Pending => {
                        ready!(poll_flush_if_needed(this.writer, cx, &mut this.need_flush))?;
                        return Poll::Pending;
                    }
                    Poll::Ready(r) => {
                        let n = r?;
                        this.read_done = n == 0;
                        this.pos = 0;
                        this.filled = n;
                    }
                }
            }
            while this.pos < this.filled {
                let n = ready!(poll_write_out(
                    this.writer,
                    cx,
                    &this.buf[this.pos..this.filled],
                    &mut this.amt,
                    &mut this.need_flush
                ))?;
                this.pos += n;
            }
            if this.read_done {
                ready!(Pin::new(&mut *this.writer).poll_flush(cx))?;
                return Poll::Ready(Ok(this.amt));
            }
        }
    }
}

/// [`copy`] from a buffered reader, through its own buffer (no second one); how many
/// bytes. Not cancel safe, as [`copy`].
///
/// ```
/// use concur::aio::{self, io::{self, BufReader}};
/// aio::run(async {
///     let mut reader = BufReader::new(&b"buffered"[..]);
///     let mut writer = Vec::new();
///     assert_eq!(io::copy_buf(&mut reader, &mut writer).await.unwrap(), 8);
///     assert_eq!(writer, b"buffered");
/// });
/// ```
pub fn copy_buf<'a, R, W>(reader: &'a mut R, writer: &'a mut W) -> CopyBuf<'a, R, W>
where
    R: AsyncBufRead + Unpin + ?Sized,
    W: AsyncWrite + Unpin + ?Sized,
{
    CopyBuf {
        reader,
        writer,
        need_flush: false,
        amt: 0,
    }
}

/// The future of [`copy_buf`].
///
/// ```
/// use concur::aio::{self, io};
/// aio::run(async {
///     let (mut r, mut w): (&[u8], Vec<u8>) = (b"x", Vec::new());
///     let fut: io::CopyBuf<'_, &[u8], Vec<u8>> = io::copy_buf(&mut r, &mut w);
///     assert_eq!(fut.await.unwrap(), 1);
/// });
/// ```
#[derive(Debug)]
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct CopyBuf<'a, R: ?Sized, W: ?Sized> {
    reader: &'a mut R,
    writer: &'a mut W,
    need_flush: bool,
    amt: u64,
}

impl<R, W> Future for CopyBuf<'_, R, W>
where
    R: AsyncBufRead + Unpin + ?Sized,
    W: AsyncWrite + Unpin + ?Sized,
{
    type Output = io::Result<u64>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<u64>> {
        let this = self.get_mut();
        loop {
            ready!(poll_budget(cx));
            let available = match Pin::new(&mut *this.reader).poll_fill_buf(cx) {
                Poll::Pending => {
                    ready!(poll_flush_if_needed(this.writer, cx, &mut this.need_flush))?;
                    return Poll::Pending;
                }
                Poll::Ready(r) => r?,
            };
            if available.is_empty() {
                ready!(Pin::new(&mut *this.writer).poll_flush(cx))?;
                return Poll::Ready(Ok(this.amt));
            }
            let n = ready!(poll_write_out(
                this.writer,
                cx,
                available,
                &mut this.amt,
                &mut this.need_flush
            ))?;
            Pin::new(&mut *this.reader).consume(n);
        }
    }
}
