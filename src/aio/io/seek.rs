//! [`AsyncSeekExt`]: `seek` and `stream_position` as futures.

use std::future::Future;
use std::io::{self, SeekFrom};
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_io::AsyncSeek;

/// Seeking helpers for every [`AsyncSeek`] (a [`BufReader`](crate::aio::io::BufReader) or
/// [`BufWriter`](crate::aio::io::BufWriter) over a seekable object): tokio's
/// `AsyncSeekExt`, on the `futures_io` trait. Implemented for all `AsyncSeek + Unpin`
/// types.
///
/// ```
/// use std::io::SeekFrom;
/// use concur::aio::{self, io::{AsyncReadExt, AsyncSeekExt, BufReader}};
/// # use std::{io, pin::Pin, task::{Context, Poll}};
/// # use concur::aio::io::{AsyncRead, AsyncSeek};
/// # struct Bytes(&'static [u8], u64);
/// # impl AsyncRead for Bytes {
/// #     fn poll_read(mut self: Pin<&mut Self>, _: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
/// #         let rest = &self.0[self.1 as usize..];
/// #         let n = rest.len().min(buf.len());
/// #         buf[..n].copy_from_slice(&rest[..n]);
/// #         self.1 += n as u64;
/// #         Poll::Ready(Ok(n))
/// #     }
/// # }
/// # impl AsyncSeek for Bytes {
/// #     fn poll_seek(mut self: Pin<&mut Self>, _: &mut Context<'_>, pos: SeekFrom) -> Poll<io::Result<u64>> {
/// #         self.1 = match pos { SeekFrom::Start(n) => n, SeekFrom::End(n) => (self.0.len() as i64 + n) as u64, SeekFrom::Current(n) => (self.1 as i64 + n) as u64 };
/// #         Poll::Ready(Ok(self.1))
/// #     }
/// # }
/// aio::run(async {
///     let mut r = BufReader::new(Bytes(b"hello world", 0)); // a seekable reader
///     assert_eq!(r.seek(SeekFrom::Start(6)).await.unwrap(), 6);
///     let mut word = String::new();
///     r.read_to_string(&mut word).await.unwrap();
///     assert_eq!(word, "world");
///     assert_eq!(r.stream_position().await.unwrap(), 11);
/// });
/// ```
pub trait AsyncSeekExt: AsyncSeek {
    /// Moves to `pos`; the new position from the start.
    ///
    /// ```
    /// use std::io::SeekFrom;
    /// use concur::aio::{self, io::{AsyncSeekExt, AsyncWriteExt, BufWriter}};
    /// # use std::{io, pin::Pin, task::{Context, Poll}};
    /// # use concur::aio::io::{AsyncSeek, AsyncWrite};
    /// # struct Sink(u64);
    /// # impl AsyncWrite for Sink {
    /// #     fn poll_write(mut self: Pin<&mut Self>, _: &mut Context<'_>, b: &[u8]) -> Poll<io::Result<usize>> { self.0 += b.len() as u64; Poll::Ready(Ok(b.len())) }
    /// #     fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> { Poll::Ready(Ok(())) }
    /// #     fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> { Poll::Ready(Ok(())) }
    /// # }
    /// # impl AsyncSeek for Sink {
    /// #     fn poll_seek(mut self: Pin<&mut Self>, _: &mut Context<'_>, pos: SeekFrom) -> Poll<io::Result<u64>> {
    /// #         if let SeekFrom::Start(n) = pos { self.0 = n }
    /// #         Poll::Ready(Ok(self.0))
    /// #     }
    /// # }
    /// aio::run(async {
    ///     let mut w = BufWriter::new(Sink(0)); // a seekable writer
    ///     w.write_all(b"abc").await.unwrap();
    ///     // The buffer is written out before the writer moves.
    ///     assert_eq!(w.seek(SeekFrom::Current(0)).await.unwrap(), 3);
    /// });
    /// ```
    fn seek(&mut self, pos: SeekFrom) -> Seek<'_, Self>
    where
        Self: Unpin,
    {
        Seek { seeker: self, pos }
    }

    /// The current position from the start: `seek(SeekFrom::Current(0))`.
    ///
    /// ```
    /// use std::io::SeekFrom;
    /// use concur::aio::{self, io::AsyncSeekExt};
    /// # use std::{io, pin::Pin, task::{Context, Poll}};
    /// # use concur::aio::io::AsyncSeek;
    /// # struct At(u64);
    /// # impl AsyncSeek for At {
    /// #     fn poll_seek(mut self: Pin<&mut Self>, _: &mut Context<'_>, pos: SeekFrom) -> Poll<io::Result<u64>> {
    /// #         if let SeekFrom::Start(n) = pos { self.0 = n }
    /// #         Poll::Ready(Ok(self.0))
    /// #     }
    /// # }
    /// aio::run(async {
    ///     let mut s = At(0);
    ///     s.seek(SeekFrom::Start(42)).await.unwrap();
    ///     assert_eq!(s.stream_position().await.unwrap(), 42);
    /// });
    /// ```
    fn stream_position(&mut self) -> Seek<'_, Self>
    where
        Self: Unpin,
    {
        self.seek(SeekFrom::Current(0))
    }
}

impl<S: AsyncSeek + ?Sized> AsyncSeekExt for S {}

/// The future of [`AsyncSeekExt::seek`] and [`AsyncSeekExt::stream_position`].
///
/// ```
/// use std::io::SeekFrom;
/// use concur::aio::{self, io::{AsyncSeekExt, Seek}};
/// # use std::{io, pin::Pin, task::{Context, Poll}};
/// # use concur::aio::io::AsyncSeek;
/// # struct At(u64);
/// # impl AsyncSeek for At {
/// #     fn poll_seek(self: Pin<&mut Self>, _: &mut Context<'_>, _: SeekFrom) -> Poll<io::Result<u64>> {
/// #         Poll::Ready(Ok(self.0))
/// #     }
/// # }
/// aio::run(async {
///     let mut s = At(7);
///     let fut: Seek<'_, At> = s.stream_position();
///     assert_eq!(fut.await.unwrap(), 7);
/// });
/// ```
#[derive(Debug)]
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Seek<'a, S: ?Sized> {
    seeker: &'a mut S,
    pos: SeekFrom,
}

impl<S: AsyncSeek + Unpin + ?Sized> Future for Seek<'_, S> {
    type Output = io::Result<u64>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<u64>> {
        let this = self.get_mut();
        Pin::new(&mut *this.seeker).poll_seek(cx, this.pos)
    }
}
