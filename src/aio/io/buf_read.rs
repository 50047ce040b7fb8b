//! [`AsyncBufReadExt`]: `read_until`, `read_line`, `lines`, `split` on a buffered reader.

use std::future::Future;
use std::io;
use std::mem;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use futures_io::AsyncBufRead;

use super::read::invalid_utf8;

/// Helpers for every [`AsyncBufRead`] (a [`BufReader`](crate::aio::io::BufReader), a
/// `&[u8]`): `tokio::io::AsyncBufReadExt`'s, on the `futures_io` trait. Implemented for
/// all `AsyncBufRead + Unpin` types.
///
/// ```
/// use concur::aio::{self, io::AsyncBufReadExt};
/// aio::run(async {
///     let mut lines = (&b"one\ntwo\r\nthree"[..]).lines();
///     let mut got = Vec::new();
///     while let Some(line) = lines.next_line().await.unwrap() {
///         got.push(line);
///     }
///     assert_eq!(got, ["one", "two", "three"]);
/// });
/// ```
pub trait AsyncBufReadExt: AsyncBufRead {
    /// Waits until the reader has bytes buffered (or has ended), and returns them without
    /// consuming them; [`consume`](AsyncBufRead::consume) says how many were used. An
    /// empty slice: the end of the stream. Cancel safe.
    ///
    /// ```
    /// use std::pin::Pin;
    /// use concur::aio::{self, io::{AsyncBufRead, AsyncBufReadExt, BufReader}};
    /// aio::run(async {
    ///     let mut r = BufReader::new(&b"hello world"[..]);
    ///     assert_eq!(r.fill_buf().await.unwrap(), b"hello world");
    ///     Pin::new(&mut r).consume(6);
    ///     assert_eq!(r.fill_buf().await.unwrap(), b"world");
    /// });
    /// ```
    fn fill_buf(&mut self) -> FillBuf<'_, Self>
    where
        Self: Unpin,
    {
        FillBuf { reader: Some(self) }
    }

    /// Reads up to and including `byte` (or to the end of the stream), appending to
    /// `buf`; how many bytes were appended (0: the stream had ended). Cancel safe: the
    /// bytes read before a cancellation are in `buf`, and calling it again goes on.
    ///
    /// ```
    /// use concur::aio::{self, io::AsyncBufReadExt};
    /// aio::run(async {
    ///     let mut r: &[u8] = b"key=value";
    ///     let mut key = Vec::new();
    ///     assert_eq!(r.read_until(b'=', &mut key).await.unwrap(), 4);
    ///     assert_eq!(key, b"key=");
    /// });
    /// ```
    fn read_until<'a>(&'a mut self, byte: u8, buf: &'a mut Vec<u8>) -> ReadUntil<'a, Self>
    where
        Self: Unpin,
    {
        ReadUntil {
            reader: self,
            byte,
            buf,
            read: 0,
        }
    }

    /// Reads a line, up to and including its `\n` (or to the end of the stream),
    /// appending it to `buf`; how many bytes were appended (0: the stream had ended).
    /// A line that is not UTF-8 is an [`InvalidData`](io::ErrorKind::InvalidData)
    /// error and leaves `buf` as it was; another error leaves in `buf` what was read
    /// before it, if that is UTF-8. Not quite cancel safe: on a cancellation the bytes
    /// read so far stay in `buf` only if they are UTF-8 (not when the cancellation cuts a
    /// character in two); [`Lines::next_line`] loses nothing.
    ///
    /// ```
    /// use concur::aio::{self, io::AsyncBufReadExt};
    /// aio::run(async {
    ///     let mut r: &[u8] = b"hello\nworld";
    ///     let mut line = String::new();
    ///     assert_eq!(r.read_line(&mut line).await.unwrap(), 6);
    ///     assert_eq!(line, "hello\n");
    ///     line.clear();
    ///     assert_eq!(r.read_line(&mut line).await.unwrap(), 5);
    ///     assert_eq!(line, "world"); // the last line needs no newline
    ///     assert_eq!(r.read_line(&mut line).await.unwrap(), 0);
    /// });
    /// ```
    fn read_line<'a>(&'a mut self, buf: &'a mut String) -> ReadLine<'a, Self>
    where
        Self: Unpin,
    {
        ReadLine {
            reader: self,
            buf,
            bytes: Vec::new(),
            read: 0,
        }
    }

    /// The lines of the stream, without their `\n` or `\r\n`, one per
    /// [`next_line`](Lines::next_line).
    ///
    /// ```
    /// use concur::aio::{self, io::AsyncBufReadExt};
    /// aio::run(async {
    ///     let mut lines = (&b"a\r\nb\n"[..]).lines();
    ///     assert_eq!(lines.next_line().await.unwrap().as_deref(), Some("a"));
    ///     assert_eq!(lines.next_line().await.unwrap().as_deref(), Some("b"));
    ///     assert_eq!(lines.next_line().await.unwrap(), None);
    /// });
    /// ```
    fn lines(self) -> Lines<Self>
    where
        Self: Sized,
    {
        Lines {
            reader: self,
            buf: Vec::new(),
            read: 0,
        }
    }

    /// The segments of the stream separated by `byte`, without it, one per
    /// [`next_segment`](Split::next_segment).
    ///
    /// ```
    /// use concur::aio::{self, io::{AsyncBufReadExt, BufReader}};
    /// aio::run(async {
    ///     // (`&[u8]` has a `split` of its own: a BufReader, or the trait's path, avoids it)
    ///     let mut parts = BufReader::new(&b"a,b,,c"[..]).split(b',');
    ///     let mut got = Vec::new();
    ///     while let Some(p) = parts.next_segment().await.unwrap() {
    ///         got.push(p);
    ///     }
    ///     assert_eq!(got, [&b"a"[..], b"b", b"", b"c"]);
    /// });
    /// ```
    fn split(self, byte: u8) -> Split<Self>
    where
        Self: Sized,
    {
        Split {
            reader: self,
            byte,
            buf: Vec::new(),
            read: 0,
        }
    }
}

impl<R: AsyncBufRead + ?Sized> AsyncBufReadExt for R {}

/// The future of [`AsyncBufReadExt::fill_buf`].
///
/// ```
/// use concur::aio::{self, io::{AsyncBufReadExt, FillBuf}};
/// aio::run(async {
///     let mut r: &[u8] = b"abc";
///     let fut: FillBuf<'_, &[u8]> = r.fill_buf();
///     assert_eq!(fut.await.unwrap(), b"abc");
/// });
/// ```
#[derive(Debug)]
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct FillBuf<'a, R: ?Sized> {
    /// Taken out when the future completes: the slice it returns borrows the reader.
    reader: Option<&'a mut R>,
}

impl<'a, R: AsyncBufRead + Unpin + ?Sized> Future for FillBuf<'a, R> {
    type Output = io::Result<&'a [u8]>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&'a [u8]>> {
        let reader = self
            .reader
            .take()
            .expect("FillBuf polled again after it completed");
        match Pin::new(&mut *reader).poll_fill_buf(cx) {
            Poll::Ready(Ok(slice)) => {
                let slice: *const [u8] = slice;
                // SAFETY: `slice` borrows from `*reader`, a `&'a mut R` that this future
                // has given up for good (taken out of `self.reader` above, never put
                // back), so nothing else can reach the reader for the rest of `'a` and
                // the slice may live that long. The borrow checker refuses this only
                // because the borrow is returned from one branch (NLL's "problem case
                // #3", which Polonius accepts); futures-util's `FillBuf` does the same.
                Poll::Ready(Ok(unsafe { &*slice }))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                self.reader = Some(reader);
                Poll::Pending
            }
        }
    }
}

/// Reads into `buf` up to and including `byte`; `read` counts the bytes appended over
/// the calls of one operation, and is reset when it finishes.
fn poll_read_until<R: AsyncBufRead + Unpin + ?Sized>(
    reader: &mut R,
    cx: &mut Context<'_>,
    byte: u8,
    buf: &mut Vec<u8>,
    read: &mut usize,
) -> Poll<io::Result<usize>> {
    loop {
        let (found, used) = {
            let available = match ready!(Pin::new(&mut *reader).poll_fill_buf(cx)) {
                Ok(a) => a,
                Err(e) => {
                    *read = 0;
                    return Poll::Ready(Err(e));
                }
            };
            match available.iter().position(|&b| b == byte) {
                Some(i) => {
                    buf.extend_from_slice(&available[..=i]);
                    (true, i + 1)
                }
                None => {
                    buf.extend_from_slice(available);
                    (false, available.len())
                }
            }
        };
        Pin::new(&mut *reader).consume(used);
        *read += used;
        if found || used == 0 {
            return Poll::Ready(Ok(mem::take(read)));
        }
    }
}

/// The future of [`AsyncBufReadExt::read_until`].
///
/// ```
/// use concur::aio::{self, io::{AsyncBufReadExt, ReadUntil}};
/// aio::run(async {
///     let mut r: &[u8] = b"a;b";
///     let mut buf = Vec::new();
///     let fut: ReadUntil<'_, &[u8]> = r.read_until(b';', &mut buf);
///     assert_eq!(fut.await.unwrap(), 2);
/// });
/// ```
#[derive(Debug)]
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct ReadUntil<'a, R: ?Sized> {
    reader: &'a mut R,
    byte: u8,
    buf: &'a mut Vec<u8>,
    read: usize,
}

impl<R: AsyncBufRead + Unpin + ?Sized> Future for ReadUntil<'_, R> {
    type Output = io::Result<usize>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        poll_read_until(this.reader, cx, this.byte, this.buf, &mut this.read)
    }
}

/// The future of [`AsyncBufReadExt::read_line`]. Dropped before it finishes, it leaves
/// the bytes read so far in the string if they are UTF-8.
///
/// ```
/// use concur::aio::{self, io::{AsyncBufReadExt, ReadLine}};
/// aio::run(async {
///     let mut r: &[u8] = b"line\n";
///     let mut s = String::new();
///     let fut: ReadLine<'_, &[u8]> = r.read_line(&mut s);
///     assert_eq!(fut.await.unwrap(), 5);
/// });
/// ```
#[derive(Debug)]
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct ReadLine<'a, R: ?Sized> {
    reader: &'a mut R,
    buf: &'a mut String,
    /// The line so far, until it is known to be UTF-8.
    bytes: Vec<u8>,
    read: usize,
}

impl<R: ?Sized> ReadLine<'_, R> {
    /// Appends the bytes read so far to the string if they are UTF-8, and forgets them.
    fn keep_if_utf8(&mut self) -> Result<(), std::str::Utf8Error> {
        let r = std::str::from_utf8(&self.bytes).map(|s| self.buf.push_str(s));
        self.bytes.clear();
        r
    }
}

impl<R: AsyncBufRead + Unpin + ?Sized> Future for ReadLine<'_, R> {
    type Output = io::Result<usize>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = ready!(poll_read_until(
            this.reader,
            cx,
            b'\n',
            &mut this.bytes,
            &mut this.read
        ));
        let utf8 = this.keep_if_utf8();
        Poll::Ready(match (r, utf8) {
            (Err(e), _) => Err(e),
            (Ok(_), Err(e)) => Err(invalid_utf8(e)),
            (Ok(n), Ok(())) => Ok(n),
        })
    }
}

impl<R: ?Sized> Drop for ReadLine<'_, R> {
    fn drop(&mut self) {
        // Cancelled mid-line (or finished: then nothing is left to keep).
        let _ = self.keep_if_utf8();
    }
}

/// The lines of a buffered reader, from [`AsyncBufReadExt::lines`]: tokio's `Lines`,
/// read with [`next_line`](Self::next_line).
///
/// ```
/// use concur::aio::{self, io::{AsyncBufReadExt, BufReader}, net::UnixStream};
/// use concur::aio::io::AsyncWriteExt;
/// aio::run(async {
///     let (a, mut b) = UnixStream::pair().unwrap();
///     b.write_all(b"first\nsecond\n").await.unwrap();
///     b.close().await.unwrap();
///     let mut lines = BufReader::new(a).lines();
///     assert_eq!(lines.next_line().await.unwrap().as_deref(), Some("first"));
///     assert_eq!(lines.next_line().await.unwrap().as_deref(), Some("second"));
///     assert_eq!(lines.next_line().await.unwrap(), None);
/// });
/// ```
#[derive(Debug)]
pub struct Lines<R> {
    reader: R,
    /// The line being read: kept across cancelled `next_line` calls.
    buf: Vec<u8>,
    read: usize,
}

impl<R: AsyncBufRead + Unpin> Lines<R> {
    /// The next line, without its `\n` or `\r\n`; `None` at the end of the stream. A
    /// line that is not UTF-8 is an [`InvalidData`](io::ErrorKind::InvalidData) error
    /// (and is skipped). Cancel safe: a cancelled call loses nothing, the next one goes
    /// on with the same line.
    ///
    /// ```
    /// use concur::aio::{self, io::AsyncBufReadExt};
    /// aio::run(async {
    ///     let mut lines = (&b"x\n\ny"[..]).lines();
    ///     assert_eq!(lines.next_line().await.unwrap().as_deref(), Some("x"));
    ///     assert_eq!(lines.next_line().await.unwrap().as_deref(), Some(""));
    ///     assert_eq!(lines.next_line().await.unwrap().as_deref(), Some("y"));
    ///     assert_eq!(lines.next_line().await.unwrap(), None);
    /// });
    /// ```
    pub async fn next_line(&mut self) -> io::Result<Option<String>> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next_line(cx)).await
    }

    /// [`next_line`](Self::next_line) as a poll function.
    ///
    /// ```
    /// use std::future::poll_fn;
    /// use std::pin::Pin;
    /// use concur::aio::{self, io::AsyncBufReadExt};
    /// aio::run(async {
    ///     let mut lines = (&b"p\n"[..]).lines();
    ///     let line = poll_fn(|cx| Pin::new(&mut lines).poll_next_line(cx)).await;
    ///     assert_eq!(line.unwrap().as_deref(), Some("p"));
    /// });
    /// ```
    pub fn poll_next_line(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<Option<String>>> {
        let this = self.get_mut();
        let n = ready!(poll_read_until(
            &mut this.reader,
            cx,
            b'\n',
            &mut this.buf,
            &mut this.read
        ))?;
        if n == 0 && this.buf.is_empty() {
            return Poll::Ready(Ok(None));
        }
        if this.buf.last() == Some(&b'\n') {
            this.buf.pop();
            if this.buf.last() == Some(&b'\r') {
                this.buf.pop();
            }
        }
        match String::from_utf8(mem::take(&mut this.buf)) {
            Ok(line) => Poll::Ready(Ok(Some(line))),
            Err(e) => Poll::Ready(Err(invalid_utf8(e.utf8_error()))),
        }
    }
}

impl<R> Lines<R> {
    /// The reader.
    ///
    /// ```
    /// use concur::aio::io::AsyncBufReadExt;
    /// let lines = (&b"abc"[..]).lines();
    /// assert_eq!(lines.get_ref().len(), 3);
    /// ```
    pub fn get_ref(&self) -> &R {
        &self.reader
    }

    /// The reader, to use directly (reading from it skips what `Lines` read).
    ///
    /// ```
    /// use concur::aio::io::AsyncBufReadExt;
    /// let mut lines = (&b"abc"[..]).lines();
    /// *lines.get_mut() = &b"x"[..];
    /// assert_eq!(lines.get_ref().len(), 1);
    /// ```
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.reader
    }

    /// The reader back; a line half read is lost.
    ///
    /// ```
    /// use concur::aio::io::AsyncBufReadExt;
    /// let lines = (&b"abc"[..]).lines();
    /// assert_eq!(lines.into_inner(), b"abc");
    /// ```
    pub fn into_inner(self) -> R {
        self.reader
    }
}

/// The segments of a buffered reader separated by a byte, from
/// [`AsyncBufReadExt::split`]: tokio's `Split`, read with
/// [`next_segment`](Self::next_segment).
///
/// ```
/// use concur::aio::{self, io::{AsyncBufReadExt, BufReader}};
/// aio::run(async {
///     let mut s = BufReader::new(&b"1 2"[..]).split(b' ');
///     assert_eq!(s.next_segment().await.unwrap(), Some(b"1".to_vec()));
///     assert_eq!(s.next_segment().await.unwrap(), Some(b"2".to_vec()));
///     assert_eq!(s.next_segment().await.unwrap(), None);
/// });
/// ```
#[derive(Debug)]
pub struct Split<R> {
    reader: R,
    byte: u8,
    buf: Vec<u8>,
    read: usize,
}

impl<R: AsyncBufRead + Unpin> Split<R> {
    /// The next segment, without the separator; `None` at the end of the stream. Cancel
    /// safe, as [`Lines::next_line`].
    ///
    /// ```
    /// use concur::aio::{self, io::{AsyncBufReadExt, BufReader}};
    /// aio::run(async {
    ///     let mut s = BufReader::new(&b"a\0b\0"[..]).split(0);
    ///     assert_eq!(s.next_segment().await.unwrap(), Some(b"a".to_vec()));
    ///     assert_eq!(s.next_segment().await.unwrap(), Some(b"b".to_vec()));
    ///     assert_eq!(s.next_segment().await.unwrap(), None);
    /// });
    /// ```
    pub async fn next_segment(&mut self) -> io::Result<Option<Vec<u8>>> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next_segment(cx)).await
    }

    /// [`next_segment`](Self::next_segment) as a poll function.
    ///
    /// ```
    /// use std::future::poll_fn;
    /// use std::pin::Pin;
    /// use concur::aio::{self, io::{AsyncBufReadExt, BufReader}};
    /// aio::run(async {
    ///     let mut s = BufReader::new(&b"q"[..]).split(b'|');
    ///     let seg = poll_fn(|cx| Pin::new(&mut s).poll_next_segment(cx)).await;
    ///     assert_eq!(seg.unwrap(), Some(b"q".to_vec()));
    /// });
    /// ```
    pub fn poll_next_segment(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<Option<Vec<u8>>>> {
        let this = self.get_mut();
        let n = ready!(poll_read_until(
            &mut this.reader,
            cx,
            this.byte,
            &mut this.buf,
            &mut this.read
        ))?;
        if n == 0 && this.buf.is_empty() {
            return Poll::Ready(Ok(None));
        }
        if this.buf.last() == Some(&this.byte) {
            this.buf.pop();
        }
        Poll::Ready(Ok(Some(mem::take(&mut this.buf))))
    }
}
