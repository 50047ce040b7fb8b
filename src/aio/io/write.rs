//! [`AsyncWriteExt`]: `write`, `write_vectored`, `write_all`, `flush`, `close` as
//! futures.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use futures_io::AsyncWrite;

/// Writing helpers for every [`AsyncWrite`]: `tokio::io::AsyncWriteExt`'s, on the
/// `futures_io` trait. Implemented for all `AsyncWrite + Unpin` types.
///
/// ```
/// use concur::aio::{self, io::AsyncWriteExt};
/// aio::run(async {
///     let mut out = Vec::new();
///     out.write_all(b"hello").await.unwrap();
///     out.flush().await.unwrap();
///     assert_eq!(out, b"hello");
/// });
/// ```
pub trait AsyncWriteExt: AsyncWrite {
    /// Writes some of `buf`; how many bytes. Cancel safe: if it is dropped before it
    /// finishes, nothing was written.
    ///
    /// ```
    /// use concur::aio::{self, io::AsyncWriteExt};
    /// aio::run(async {
    ///     let mut out = Vec::new();
    ///     assert_eq!(out.write(b"abc").await.unwrap(), 3);
    /// });
    /// ```
    fn write<'a>(&'a mut self, buf: &'a [u8]) -> Write<'a, Self>
    where
        Self: Unpin,
    {
        Write { writer: self, buf }
    }

    /// Writes some of `bufs` (`writev`); how many bytes. Cancel safe.
    ///
    /// ```
    /// use std::io::IoSlice;
    /// use concur::aio::{self, io::AsyncWriteExt};
    /// aio::run(async {
    ///     let mut out = Vec::new();
    ///     let n = out.write_vectored(&[IoSlice::new(b"ab"), IoSlice::new(b"c")]).await.unwrap();
    ///     assert_eq!(&out[..n], &b"abc"[..n]);
    /// });
    /// ```
    fn write_vectored<'a>(&'a mut self, bufs: &'a [io::IoSlice<'a>]) -> WriteVectored<'a, Self>
    where
        Self: Unpin,
    {
        WriteVectored { writer: self, bufs }
    }

    /// Writes all of `buf`. A writer that accepts no more bytes is a
    /// [`WriteZero`](io::ErrorKind::WriteZero) error. Not cancel safe: after a
    /// cancellation part of `buf` may have been written, and how much is unknown.
    ///
    /// ```
    /// use concur::aio::{self, io::AsyncWriteExt};
    /// aio::run(async {
    ///     let mut out = Vec::new();
    ///     out.write_all(b"all of it").await.unwrap();
    ///     assert_eq!(out, b"all of it");
    /// });
    /// ```
    fn write_all<'a>(&'a mut self, buf: &'a [u8]) -> WriteAll<'a, Self>
    where
        Self: Unpin,
    {
        WriteAll {
            writer: self,
            buf,
            written: 0,
        }
    }

    /// Flushes what the writer buffers (a [`BufWriter`](crate::aio::io::BufWriter)'s
    /// buffer; sockets buffer nothing of their own). Cancel safe.
    ///
    /// ```
    /// use concur::aio::{self, io::{AsyncWriteExt, BufWriter}};
    /// aio::run(async {
    ///     let mut w = BufWriter::new(Vec::new());
    ///     w.write_all(b"buffered").await.unwrap();
    ///     assert!(w.get_ref().is_empty());
    ///     w.flush().await.unwrap();
    ///     assert_eq!(w.get_ref(), b"buffered");
    /// });
    /// ```
    fn flush(&mut self) -> Flush<'_, Self>
    where
        Self: Unpin,
    {
        Flush { writer: self }
    }

    /// Closes the writer (a buffering one flushes first): a socket's write side shuts down (the peer reads
    /// the end of the stream). tokio calls it `shutdown`, which is an alias.
    ///
    /// ```
    /// use concur::aio::{self, io::{AsyncReadExt, AsyncWriteExt}, net::UnixStream};
    /// aio::run(async {
    ///     let (mut a, mut b) = UnixStream::pair().unwrap();
    ///     a.write_all(b"last words").await.unwrap();
    ///     a.close().await.unwrap();
    ///     let mut got = Vec::new();
    ///     b.read_to_end(&mut got).await.unwrap(); // ends: `a` closed its side
    ///     assert_eq!(got, b"last words");
    /// });
    /// ```
    fn close(&mut self) -> Close<'_, Self>
    where
        Self: Unpin,
    {
        Close { writer: self }
    }

    /// [`close`](Self::close), by tokio's name.
    ///
    /// ```
    /// use concur::aio::{self, io::AsyncWriteExt};
    /// aio::run(async {
    ///     let mut out = Vec::new();
    ///     out.write_all(b"x").await.unwrap();
    ///     out.shutdown().await.unwrap();
    /// });
    /// ```
    fn shutdown(&mut self) -> Close<'_, Self>
    where
        Self: Unpin,
    {
        self.close()
    }
}

impl<W: AsyncWrite + ?Sized> AsyncWriteExt for W {}

/// The future of [`AsyncWriteExt::write`].
///
/// ```
/// use concur::aio::{self, io::{AsyncWriteExt, Write}};
/// aio::run(async {
///     let mut out = Vec::new();
///     let fut: Write<'_, Vec<u8>> = out.write(b"x");
///     assert_eq!(fut.await.unwrap(), 1);
/// });
/// ```
#[derive(Debug)]
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Write<'a, W: ?Sized> {
    writer: &'a mut W,
    buf: &'a [u8],
}

impl<W: AsyncWrite + Unpin + ?Sized> Future for Write<'_, W> {
    type Output = io::Result<usize>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        Pin::new(&mut *this.writer).poll_write(cx, this.buf)
    }
}

/// The future of [`AsyncWriteExt::write_vectored`].
///
/// ```
/// use std::io::IoSlice;
/// use concur::aio::{self, io::{AsyncWriteExt, WriteVectored}};
/// aio::run(async {
///     let mut out = Vec::new();
///     let bufs = [IoSlice::new(b"x")];
///     let fut: WriteVectored<'_, Vec<u8>> = out.write_vectored(&bufs);
///     assert_eq!(fut.await.unwrap(), 1);
/// });
/// ```
#[derive(Debug)]
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct WriteVectored<'a, W: ?Sized> {
    writer: &'a mut W,
    bufs: &'a [io::IoSlice<'a>],
}

impl<W: AsyncWrite + Unpin + ?Sized> Future for WriteVectored<'_, W> {
    type Output = io::Result<usize>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        Pin::new(&mut *this.writer).poll_write_vectored(cx, this.bufs)
    }
}

/// The future of [`AsyncWriteExt::write_all`].
///
/// ```
/// use concur::aio::{self, io::{AsyncWriteExt, WriteAll}};
/// aio::run(async {
///     let mut out = Vec::new();
///     let fut: WriteAll<'_, Vec<u8>> = out.write_all(b"xy");
///     fut.await.unwrap();
///     assert_eq!(out, b"xy");
/// });
/// ```
#[derive(Debug)]
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct WriteAll<'a, W: ?Sized> {
    writer: &'a mut W,
    buf: &'a [u8],
    written: usize,
}

impl<W: AsyncWrite + Unpin + ?Sized> Future for WriteAll<'_, W> {
    type Output = io::Result<()>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        while this.written < this.buf.len() {
            let n = ready!(Pin::new(&mut *this.writer).poll_write(cx, &this.buf[this.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::WriteZero,
                    format!(
                        "write_all: the writer took no more bytes after {} of {}",
                        this.written,
                        this.buf.len()
                    ),
                )));
            }
            this.written += n;
        }
        Poll::Ready(Ok(()))
    }
}

/// The future of [`AsyncWriteExt::flush`].
///
/// ```
/// use concur::aio::{self, io::{AsyncWriteExt, Flush}};
/// aio::run(async {
///     let mut out = Vec::new();
///     let fut: Flush<'_, Vec<u8>> = out.flush();
///     fut.await.unwrap();
/// });
/// ```
#[derive(Debug)]
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Flush<'a, W: ?Sized> {
    writer: &'a mut W,
}

impl<W: AsyncWrite + Unpin + ?Sized> Future for Flush<'_, W> {
    type Output = io::Result<()>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.get_mut().writer).poll_flush(cx)
    }
}

/// The future of [`AsyncWriteExt::close`] and [`AsyncWriteExt::shutdown`].
///
/// ```
/// use concur::aio::{self, io::{AsyncWriteExt, Close}};
/// aio::run(async {
///     let mut out = Vec::new();
///     let fut: Close<'_, Vec<u8>> = out.close();
///     fut.await.unwrap();
/// });
/// ```
#[derive(Debug)]
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Close<'a, W: ?Sized> {
    writer: &'a mut W,
}

impl<W: AsyncWrite + Unpin + ?Sized> Future for Close<'_, W> {
    type Output = io::Result<()>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.get_mut().writer).poll_close(cx)
    }
}
