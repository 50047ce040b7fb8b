//! [`AsyncReadExt`]: `read`, `read_exact`, `read_to_end`, `read_to_string` as futures.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use futures_io::AsyncRead;

use super::Take;

/// The most a [`read_to_end`](AsyncReadExt::read_to_end) hands to one read: the spare
/// capacity it offers is zeroed first (`futures_io` reads into initialised memory), so a
/// huge spare capacity is offered a slice at a time.
const READ_TO_END_CHUNK: usize = 64 * 1024;

/// Reading helpers for every [`AsyncRead`]: `tokio::io::AsyncReadExt`'s, on the
/// `futures_io` trait. Implemented for all `AsyncRead + Unpin` types.
///
/// ```
/// use concur::aio::{self, io::AsyncReadExt};
/// aio::run(async {
///     let mut r: &[u8] = b"hello world";
///     let mut word = [0u8; 5];
///     r.read_exact(&mut word).await.unwrap();
///     let mut rest = String::new();
///     r.read_to_string(&mut rest).await.unwrap();
///     assert_eq!((&word, rest.as_str()), (b"hello", " world"));
/// });
/// ```
pub trait AsyncReadExt: AsyncRead {
    /// Reads some bytes into `buf`; how many (0 at the end of the stream, or if `buf` is
    /// empty). Cancel safe: if it is dropped before it finishes, nothing was read.
    ///
    /// ```
    /// use concur::aio::{self, io::AsyncReadExt};
    /// aio::run(async {
    ///     let mut r: &[u8] = b"abc";
    ///     let mut buf = [0u8; 2];
    ///     assert_eq!(r.read(&mut buf).await.unwrap(), 2);
    ///     assert_eq!(r.read(&mut buf).await.unwrap(), 1);
    ///     assert_eq!(r.read(&mut buf).await.unwrap(), 0); // the end
    /// });
    /// ```
    fn read<'a>(&'a mut self, buf: &'a mut [u8]) -> Read<'a, Self>
    where
        Self: Unpin,
    {
        Read { reader: self, buf }
    }

    /// Reads exactly `buf.len()` bytes, and returns that number. A stream that ends
    /// first is an [`UnexpectedEof`](io::ErrorKind::UnexpectedEof) error that says how
    /// much came (asyncio's `IncompleteReadError`); `buf` then holds those bytes first.
    /// Not cancel safe: after a cancellation some bytes may have been read, and how many
    /// is unknown.
    ///
    /// ```
    /// use std::io::ErrorKind;
    /// use concur::aio::{self, io::AsyncReadExt};
    /// aio::run(async {
    ///     let mut r: &[u8] = b"hello";
    ///     let mut buf = [0u8; 4];
    ///     assert_eq!(r.read_exact(&mut buf).await.unwrap(), 4);
    ///     let e = r.read_exact(&mut buf).await.unwrap_err(); // one byte left
    ///     assert_eq!(e.kind(), ErrorKind::UnexpectedEof);
    /// });
    /// ```
    fn read_exact<'a>(&'a mut self, buf: &'a mut [u8]) -> ReadExact<'a, Self>
    where
        Self: Unpin,
    {
        ReadExact {
            reader: self,
            buf,
            filled: 0,
        }
    }

    /// Reads until the end of the stream, appending to `buf`; how many bytes were
    /// appended. Cancel safe in that the bytes read before a cancellation are in `buf`
    /// (as with [`read_until`](crate::aio::io::AsyncBufReadExt::read_until)); on an error
    /// likewise.
    ///
    /// ```
    /// use concur::aio::{self, io::AsyncReadExt};
    /// aio::run(async {
    ///     let mut r: &[u8] = b" world";
    ///     let mut buf = b"hello".to_vec();
    ///     assert_eq!(r.read_to_end(&mut buf).await.unwrap(), 6);
    ///     assert_eq!(buf, b"hello world");
    /// });
    /// ```
    fn read_to_end<'a>(&'a mut self, buf: &'a mut Vec<u8>) -> ReadToEnd<'a, Self>
    where
        Self: Unpin,
    {
        ReadToEnd {
            reader: self,
            buf,
            read: 0,
        }
    }

    /// Reads until the end of the stream, appending to `buf` if what came is UTF-8; how
    /// many bytes were appended. Bytes that are not UTF-8 are an
    /// [`InvalidData`](io::ErrorKind::InvalidData) error, and `buf` is left as it was.
    /// Not cancel safe: the bytes read before a cancellation are lost.
    ///
    /// ```
    /// use concur::aio::{self, io::AsyncReadExt};
    /// aio::run(async {
    ///     let mut r: &[u8] = "grüße".as_bytes();
    ///     let mut s = String::new();
    ///     assert_eq!(r.read_to_string(&mut s).await.unwrap(), 7);
    ///     assert_eq!(s, "grüße");
    ///     let mut bad: &[u8] = b"\xff";
    ///     assert!(bad.read_to_string(&mut s).await.is_err());
    ///     assert_eq!(s, "grüße"); // untouched
    /// });
    /// ```
    fn read_to_string<'a>(&'a mut self, buf: &'a mut String) -> ReadToString<'a, Self>
    where
        Self: Unpin,
    {
        ReadToString {
            reader: self,
            buf,
            bytes: Vec::new(),
            read: 0,
        }
    }

    /// A reader that ends after `limit` bytes of this one (std's and tokio's `take`);
    /// `(&mut r).take(n)` leaves `r` usable for the rest.
    ///
    /// ```
    /// use concur::aio::{self, io::AsyncReadExt};
    /// aio::run(async {
    ///     let mut head = String::new();
    ///     (&b"hello world"[..]).take(5).read_to_string(&mut head).await.unwrap();
    ///     assert_eq!(head, "hello");
    /// });
    /// ```
    fn take(self, limit: u64) -> Take<Self>
    where
        Self: Sized,
    {
        Take::new(self, limit)
    }
}

impl<R: AsyncRead + ?Sized> AsyncReadExt for R {}

/// The future of [`AsyncReadExt::read`].
///
/// ```
/// use concur::aio::{self, io::{AsyncReadExt, Read}};
/// aio::run(async {
///     let mut r: &[u8] = b"x";
///     let mut buf = [0u8; 1];
///     let fut: Read<'_, &[u8]> = r.read(&mut buf);
///     assert_eq!(fut.await.unwrap(), 1);
/// });
/// ```
#[derive(Debug)]
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Read<'a, R: ?Sized> {
    reader: &'a mut R,
    buf: &'a mut [u8],
}

impl<R: AsyncRead + Unpin + ?Sized> Future for Read<'_, R> {
    type Output = io::Result<usize>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        Pin::new(&mut *this.reader).poll_read(cx, this.buf)
    }
}

/// The future of [`AsyncReadExt::read_exact`].
///
/// ```
/// use concur::aio::{self, io::{AsyncReadExt, ReadExact}};
/// aio::run(async {
///     let mut r: &[u8] = b"xy";
///     let mut buf = [0u8; 2];
///     let fut: ReadExact<'_, &[u8]> = r.read_exact(&mut buf);
///     assert_eq!(fut.await.unwrap(), 2);
/// });
/// ```
#[derive(Debug)]
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct ReadExact<'a, R: ?Sized> {
    reader: &'a mut R,
    buf: &'a mut [u8],
    filled: usize,
}

impl<R: AsyncRead + Unpin + ?Sized> Future for ReadExact<'_, R> {
    type Output = io::Result<usize>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        while this.filled < this.buf.len() {
            let n =
                ready!(Pin::new(&mut *this.reader).poll_read(cx, &mut this.buf[this.filled..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "read_exact: the stream ended: {} bytes read on a total of {} \
                         expected bytes",
                        this.filled,
                        this.buf.len()
                    ),
                )));
            }
            this.filled += n;
        }
        Poll::Ready(Ok(this.filled))
    }
}

/// Reads from `reader` to its end, appending to `buf`; `read` counts what was appended.
/// `buf` holds only the bytes read whenever this returns (also `Pending` and errors).
pub(super) fn poll_read_to_end<R: AsyncRead + Unpin + ?Sized>(
    reader: &mut R,
    cx: &mut Context<'_>,
    buf: &mut Vec<u8>,
    read: &mut usize,
) -> Poll<io::Result<usize>> {
    loop {
        if buf.capacity() - buf.len() < 32 {
            buf.reserve(32.max(buf.len())); // at least doubles: amortised O(1) a byte
        }
        let filled = buf.len();
        let offer = (buf.capacity() - filled).min(READ_TO_END_CHUNK);
        buf.resize(filled + offer, 0);
        let r = Pin::new(&mut *reader).poll_read(cx, &mut buf[filled..]);
        let n = match &r {
            Poll::Ready(Ok(n)) => *n,
            _ => 0,
        };
        buf.truncate(filled + n);
        match r {
            Poll::Ready(Ok(0)) => return Poll::Ready(Ok(std::mem::take(read))),
            Poll::Ready(Ok(n)) => *read += n,
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending => return Poll::Pending,
        }
    }
}

/// The future of [`AsyncReadExt::read_to_end`].
///
/// ```
/// use concur::aio::{self, io::{AsyncReadExt, ReadToEnd}};
/// aio::run(async {
///     let mut r: &[u8] = b"all";
///     let mut buf = Vec::new();
///     let fut: ReadToEnd<'_, &[u8]> = r.read_to_end(&mut buf);
///     assert_eq!(fut.await.unwrap(), 3);
/// });
/// ```
#[derive(Debug)]
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct ReadToEnd<'a, R: ?Sized> {
    reader: &'a mut R,
    buf: &'a mut Vec<u8>,
    read: usize,
}

impl<R: AsyncRead + Unpin + ?Sized> Future for ReadToEnd<'_, R> {
    type Output = io::Result<usize>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        poll_read_to_end(this.reader, cx, this.buf, &mut this.read)
    }
}

/// The future of [`AsyncReadExt::read_to_string`].
///
/// ```
/// use concur::aio::{self, io::{AsyncReadExt, ReadToString}};
/// aio::run(async {
///     let mut r: &[u8] = b"text";
///     let mut s = String::new();
///     let fut: ReadToString<'_, &[u8]> = r.read_to_string(&mut s);
///     assert_eq!(fut.await.unwrap(), 4);
/// });
/// ```
#[derive(Debug)]
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct ReadToString<'a, R: ?Sized> {
    reader: &'a mut R,
    buf: &'a mut String,
    bytes: Vec<u8>,
    read: usize,
}

impl<R: AsyncRead + Unpin + ?Sized> Future for ReadToString<'_, R> {
    type Output = io::Result<usize>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let n = ready!(poll_read_to_end(
            this.reader,
            cx,
            &mut this.bytes,
            &mut this.read
        ))?;
        match std::str::from_utf8(&this.bytes) {
            Ok(s) => {
                this.buf.push_str(s);
                this.bytes.clear();
                Poll::Ready(Ok(n))
            }
            Err(e) => Poll::Ready(Err(invalid_utf8(e))),
        }
    }
}

/// The error for bytes that should have been UTF-8: tokio's wording, and where.
pub(super) fn invalid_utf8(e: std::str::Utf8Error) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!(
            "stream did not contain valid UTF-8 (the first bad byte at offset {})",
            e.valid_up_to()
        ),
    )
}
