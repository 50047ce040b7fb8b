//! `aio::io`: the read/write/buffered helpers, ported from tokio's and asyncio's suites.

use std::cell::Cell;
use std::collections::VecDeque;
use std::io::{self, ErrorKind, IoSlice};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use concur::aio::{
    self,
    io::{
        self as aio_io, AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite,
        AsyncWriteExt, BufReader, BufWriter,
    },
    net::UnixStream,
};

/// One step of a [`Mock`] reader.
enum Step {
    Data(&'static [u8]),
    /// `Pending` once (the task is woken at once, so it is polled again).
    Pending,
    Err(ErrorKind, &'static str),
}

/// A reader that hands out its steps in order, a chunk per read (tokio_test's
/// `io::Builder`), then the end of the stream.
struct Mock(VecDeque<Step>);

impl Mock {
    fn new(steps: impl IntoIterator<Item = Step>) -> Self {
        Mock(steps.into_iter().collect())
    }
}

impl AsyncRead for Mock {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        match self.0.pop_front() {
            None => Poll::Ready(Ok(0)),
            Some(Step::Pending) => {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            Some(Step::Err(kind, msg)) => Poll::Ready(Err(io::Error::new(kind, msg))),
            Some(Step::Data(d)) => {
                let n = d.len().min(buf.len());
                buf[..n].copy_from_slice(&d[..n]);
                if n < d.len() {
                    self.0.push_front(Step::Data(&d[n..]));
                }
                Poll::Ready(Ok(n))
            }
        }
    }
}

use Step::{Data, Pending};

// tokio/tests/io_read_line.rs: read_line
#[test]
fn read_line_reads_each_line_with_its_newline() {
    aio::run(async {
        let mut buf = String::new();
        let mut rd: &[u8] = b"hello\nworld\n\n";
        assert_eq!(rd.read_line(&mut buf).await.unwrap(), 6);
        assert_eq!(buf, "hello\n");
        buf.clear();
        assert_eq!(rd.read_line(&mut buf).await.unwrap(), 6);
        assert_eq!(buf, "world\n");
        buf.clear();
        assert_eq!(rd.read_line(&mut buf).await.unwrap(), 1);
        assert_eq!(buf, "\n");
        buf.clear();
        assert_eq!(rd.read_line(&mut buf).await.unwrap(), 0);
        assert_eq!(buf, "");
    });
}

// tokio/tests/io_read_line.rs: read_line_not_all_ready
#[test]
fn read_line_across_chunks_appends() {
    aio::run(async {
        let mock = Mock::new([
            Data(b"Hello Wor"),
            Pending,
            Data(b"ld\nFizzBuz"),
            Pending,
            Data(b"z\n1\n2"),
        ]);
        let mut read = BufReader::new(mock);
        let mut line = "We say ".to_string();
        assert_eq!(
            read.read_line(&mut line).await.unwrap(),
            "Hello World\n".len()
        );
        assert_eq!(line, "We say Hello World\n");
        line = "I solve ".to_string();
        assert_eq!(read.read_line(&mut line).await.unwrap(), "FizzBuzz\n".len());
        assert_eq!(line, "I solve FizzBuzz\n");
        line.clear();
        assert_eq!(read.read_line(&mut line).await.unwrap(), 2);
        assert_eq!(line, "1\n");
        line.clear();
        assert_eq!(read.read_line(&mut line).await.unwrap(), 1);
        assert_eq!(line, "2");
    });
}

// tokio/tests/io_read_line.rs: read_line_invalid_utf8
#[test]
fn read_line_invalid_utf8_leaves_the_string() {
    aio::run(async {
        let mut read = BufReader::new(Mock::new([Data(b"Hello Wor\xffld.\n")]));
        let mut line = "Foo".to_string();
        let err = read.read_line(&mut line).await.expect_err("not UTF-8");
        assert_eq!(err.kind(), ErrorKind::InvalidData);
        assert!(
            err.to_string()
                .starts_with("stream did not contain valid UTF-8"),
            "{err}"
        );
        assert_eq!(line, "Foo");
    });
}

// tokio/tests/io_read_line.rs: read_line_fail
#[test]
fn read_line_error_keeps_what_was_read() {
    aio::run(async {
        let mock = Mock::new([
            Data(b"Hello Wor"),
            Step::Err(ErrorKind::Other, "The world has no end"),
        ]);
        let mut read = BufReader::new(mock);
        let mut line = "Foo".to_string();
        let err = read.read_line(&mut line).await.expect_err("the error");
        assert_eq!(err.kind(), ErrorKind::Other);
        assert_eq!(err.to_string(), "The world has no end");
        assert_eq!(line, "FooHello Wor");
    });
}

// tokio/tests/io_read_line.rs: read_line_fail_and_utf8_fail
#[test]
fn read_line_error_after_invalid_utf8_keeps_nothing() {
    aio::run(async {
        let mock = Mock::new([
            Data(b"Hello Wor"),
            Data(b"\xff\xff\xff"),
            Step::Err(ErrorKind::Other, "The world has no end"),
        ]);
        let mut read = BufReader::new(mock);
        let mut line = "Foo".to_string();
        let err = read.read_line(&mut line).await.expect_err("the error");
        assert_eq!(err.kind(), ErrorKind::Other);
        assert_eq!(err.to_string(), "The world has no end");
        assert_eq!(line, "Foo");
    });
}

// concur: a read_line dropped mid-line (a timeout) keeps the UTF-8 read so far.
#[test]
fn cancelled_read_line_keeps_the_partial_line() {
    aio::run(async {
        let (a, mut b) = UnixStream::pair().unwrap();
        b.write_all(b"partial ").await.unwrap();
        let mut r = BufReader::new(a);
        let mut line = String::new();
        let t = aio::timeout(Duration::ZERO, r.read_line(&mut line)).await;
        assert!(t.is_err(), "the line is not complete: the read must wait");
        assert_eq!(line, "partial ");
        b.write_all(b"line\n").await.unwrap();
        r.read_line(&mut line).await.unwrap();
        assert_eq!(line, "partial line\n");
    });
}

// tokio/tests/io_lines.rs: lines_inherent
#[test]
fn lines_strip_newlines_and_end_with_none() {
    aio::run(async {
        let rd: &[u8] = b"hello\r\nworld\n\n";
        let mut st = rd.lines();
        assert_eq!(st.next_line().await.unwrap().unwrap(), "hello");
        assert_eq!(st.next_line().await.unwrap().unwrap(), "world");
        assert_eq!(st.next_line().await.unwrap().unwrap(), "");
        assert!(st.next_line().await.unwrap().is_none());
    });
}

// concur: Lines::next_line is cancel safe: a cancelled call loses nothing.
#[test]
fn lines_next_line_is_cancel_safe() {
    aio::run(async {
        let (a, mut b) = UnixStream::pair().unwrap();
        let mut lines = BufReader::new(a).lines();
        b.write_all(b"first ha").await.unwrap();
        let t = aio::timeout(Duration::ZERO, lines.next_line()).await;
        assert!(t.is_err(), "half a line: next_line must wait");
        b.write_all(b"lf\nsecond\n").await.unwrap();
        drop(b);
        assert_eq!(
            lines.next_line().await.unwrap().as_deref(),
            Some("first half")
        );
        assert_eq!(lines.next_line().await.unwrap().as_deref(), Some("second"));
        assert_eq!(lines.next_line().await.unwrap(), None);
    });
}

// concur: a line that is not UTF-8 is an InvalidData error, and the next line still reads.
#[test]
fn lines_invalid_utf8_is_an_error_then_goes_on() {
    aio::run(async {
        let mut lines = (&b"ok\n\xff\nafter\n"[..]).lines();
        assert_eq!(lines.next_line().await.unwrap().as_deref(), Some("ok"));
        assert_eq!(
            lines.next_line().await.unwrap_err().kind(),
            ErrorKind::InvalidData
        );
        assert_eq!(lines.next_line().await.unwrap().as_deref(), Some("after"));
    });
}

// tokio/tests/io_read_exact.rs: read_exact
#[test]
fn read_exact_fills_the_buffer() {
    aio::run(async {
        let mut buf = Box::new([0; 8]);
        let mut rd: &[u8] = b"hello world";
        assert_eq!(rd.read_exact(&mut buf[..]).await.unwrap(), 8);
        assert_eq!(buf[..], b"hello wo"[..]);
    });
}

// tokio/tests/io_copy.rs: copy
#[test]
fn copy_counts_and_moves_every_byte() {
    struct Rd(bool);
    impl AsyncRead for Rd {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &mut [u8],
        ) -> Poll<io::Result<usize>> {
            if self.0 {
                self.0 = false;
                buf[..11].copy_from_slice(b"hello world");
                Poll::Ready(Ok(11))
            } else {
                Poll::Ready(Ok(0))
            }
        }
    }
    aio::run(async {
        let mut rd = Rd(true);
        let mut wr = Vec::new();
        assert_eq!(aio_io::copy(&mut rd, &mut wr).await.unwrap(), 11);
        assert_eq!(wr, b"hello world");
    });
}

/// A writer that keeps everything until it is flushed (tokio's io_copy.rs `BufferedWd`).
struct Buffered<W> {
    buf: Vec<u8>,
    inner: W,
}

impl<W: AsyncWrite + Unpin> AsyncWrite for Buffered<W> {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().buf.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        while !this.buf.is_empty() {
            let n = std::task::ready!(Pin::new(&mut this.inner).poll_write(cx, &this.buf))?;
            this.buf.drain(..n);
        }
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_close(cx)
    }
}

// tokio/tests/io_copy.rs: proxy (copy must flush its writer whenever the reader has
// nothing ready, or a buffering writer that feeds its own reader deadlocks; a UnixStream
// pair for tokio's duplex)
#[test]
fn copy_flushes_when_the_reader_waits() {
    aio::run(async {
        let (rd, wd) = UnixStream::pair().unwrap();
        let mut rd = rd.take(1024);
        let mut wd = Buffered {
            buf: Vec::new(),
            inner: wd,
        };
        wd.write_all(&[0x42; 512]).await.unwrap();
        wd.flush().await.unwrap();
        // A guard against the deadlock, not a timing assertion: it finishes at once.
        let copied = aio::timeout(Duration::from_secs(30), aio_io::copy(&mut rd, &mut wd)).await;
        let copied = copied.expect("copy deadlocked: it did not flush when the reader waited");
        assert_eq!(copied.unwrap(), 1024);
    });
}

// tokio/tests/io_copy.rs: copy_is_cooperative (a copy between two always-ready objects
// yields to the loop's other tasks now and then)
#[test]
fn copy_is_cooperative() {
    aio::run(async {
        let done = Rc::new(Cell::new(false));
        let copier = aio::spawn({
            let done = done.clone();
            async move {
                for _ in 0..100_000 {
                    let mut reader: &[u8] = b"hello";
                    let mut writer: Vec<u8> = vec![];
                    aio_io::copy(&mut reader, &mut writer).await.unwrap();
                }
                done.set(true);
            }
        });
        aio::yield_now().await; // the copier runs now, until it yields
        assert!(
            !done.get(),
            "the copier ran 100,000 copies without yielding once"
        );
        copier.cancel();
    });
}

// concur: copy_buf pumps a buffered reader through its own buffer.
#[test]
fn copy_buf_moves_everything() {
    aio::run(async {
        let data: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
        let mut r = BufReader::with_capacity(1000, &data[..]);
        let mut w = Vec::new();
        assert_eq!(aio_io::copy_buf(&mut r, &mut w).await.unwrap(), 100_000);
        assert_eq!(w, data);
    });
}

// concur: copy over a real socket pair, larger than its buffers.
#[test]
fn copy_between_sockets() {
    aio::run(async {
        let (mut a, b) = UnixStream::pair().unwrap();
        let (mut c, mut d) = UnixStream::pair().unwrap();
        let data: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
        let sender = aio::spawn({
            let data = data.clone();
            async move {
                a.write_all(&data).await.unwrap();
                a.close().await.unwrap();
            }
        });
        let pump = aio::spawn(async move {
            let mut b = b;
            let n = aio_io::copy(&mut b, &mut c).await.unwrap();
            c.close().await.unwrap();
            n
        });
        let mut got = Vec::new();
        d.read_to_end(&mut got).await.unwrap();
        sender.await.unwrap();
        assert_eq!(pump.await.unwrap(), data.len() as u64);
        assert_eq!(got, data);
    });
}

/// tokio's io_buf_reader.rs `MaybePending`: each read and each fill is `Pending` once
/// first; fills give at most two bytes.
struct MaybePending<'a> {
    inner: &'a [u8],
    ready_read: bool,
    ready_fill_buf: bool,
}

impl<'a> MaybePending<'a> {
    fn new(inner: &'a [u8]) -> Self {
        MaybePending {
            inner,
            ready_read: false,
            ready_fill_buf: false,
        }
    }
}

impl AsyncRead for MaybePending<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        if self.ready_read {
            self.ready_read = false;
            Pin::new(&mut self.inner).poll_read(cx, buf)
        } else {
            self.ready_read = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

impl AsyncBufRead for MaybePending<'_> {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        let this = self.get_mut();
        if this.ready_fill_buf {
            this.ready_fill_buf = false;
            let len = this.inner.len().min(2);
            Poll::Ready(Ok(&this.inner[..len]))
        } else {
            this.ready_fill_buf = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }

    fn consume(mut self: Pin<&mut Self>, amt: usize) {
        self.inner = &self.inner[amt..];
    }
}

/// tokio/tests/io_buf_reader.rs's `test_buffered_reader` steps, on any inner reader.
async fn buffered_reader_steps<R: AsyncRead + Unpin>(inner: R) {
    let mut reader = BufReader::with_capacity(2, inner);
    let mut buf = [0, 0, 0];
    assert_eq!(reader.read(&mut buf).await.unwrap(), 3);
    assert_eq!(buf, [5, 6, 7]);
    assert_eq!(reader.buffer(), []);
    let mut buf = [0, 0];
    assert_eq!(reader.read(&mut buf).await.unwrap(), 2);
    assert_eq!(buf, [0, 1]);
    assert_eq!(reader.buffer(), []);
    let mut buf = [0];
    assert_eq!(reader.read(&mut buf).await.unwrap(), 1);
    assert_eq!(buf, [2]);
    assert_eq!(reader.buffer(), [3]);
    let mut buf = [0, 0, 0];
    assert_eq!(reader.read(&mut buf).await.unwrap(), 1);
    assert_eq!(buf, [3, 0, 0]);
    assert_eq!(reader.buffer(), []);
    assert_eq!(reader.read(&mut buf).await.unwrap(), 1);
    assert_eq!(buf, [4, 0, 0]);
    assert_eq!(reader.buffer(), []);
    assert_eq!(reader.read(&mut buf).await.unwrap(), 0);
}

// tokio/tests/io_buf_reader.rs: test_buffered_reader
#[test]
fn buf_reader_serves_from_its_buffer_and_bypasses_it_for_large_reads() {
    aio::run(buffered_reader_steps(&[5u8, 6, 7, 0, 1, 2, 3, 4][..]));
}

// tokio/tests/io_buf_reader.rs: maybe_pending
#[test]
fn buf_reader_over_a_reader_that_is_pending_first() {
    aio::run(buffered_reader_steps(MaybePending::new(&[
        5, 6, 7, 0, 1, 2, 3, 4,
    ])));
}

// tokio/tests/io_buf_reader.rs: test_short_reads
#[test]
fn buf_reader_passes_short_reads_on() {
    struct ShortReader(Vec<usize>);
    impl AsyncRead for ShortReader {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            _: &mut [u8],
        ) -> Poll<io::Result<usize>> {
            Poll::Ready(Ok(if self.0.is_empty() {
                0
            } else {
                self.0.remove(0)
            }))
        }
    }
    aio::run(async {
        let mut reader = BufReader::new(ShortReader(vec![0, 1, 2, 0, 1, 0]));
        let mut buf = [0, 0];
        for want in [0, 1, 2, 0, 1, 0, 0] {
            assert_eq!(reader.read(&mut buf).await.unwrap(), want);
        }
    });
}

// tokio/tests/io_buf_reader.rs: maybe_pending_buf_read
#[test]
fn read_until_over_a_buffered_reader_that_is_pending_first() {
    aio::run(async {
        let inner = MaybePending::new(&[0, 1, 2, 3, 1, 0]);
        let mut reader = BufReader::with_capacity(2, inner);
        let mut v = Vec::new();
        reader.read_until(3, &mut v).await.unwrap();
        assert_eq!(v, [0, 1, 2, 3]);
        v.clear();
        reader.read_until(1, &mut v).await.unwrap();
        assert_eq!(v, [1]);
        v.clear();
        reader.read_until(8, &mut v).await.unwrap();
        assert_eq!(v, [0]);
        v.clear();
        reader.read_until(9, &mut v).await.unwrap();
        assert_eq!(v, []);
        // And straight on the AsyncBufRead, with its two-byte fills.
        let mut direct = MaybePending::new(&[9, 9, 9, 7, 9]);
        v.clear();
        assert_eq!(direct.read_until(7, &mut v).await.unwrap(), 4);
        assert_eq!(v, [9, 9, 9, 7]);
    });
}

/// tokio's io_buf_writer.rs `MaybePending`: every write is `Pending` once first.
struct PendingWriter {
    inner: Vec<u8>,
    ready: bool,
}

impl AsyncWrite for PendingWriter {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.ready {
            self.ready = false;
            Pin::new(&mut self.inner).poll_write(cx, buf)
        } else {
            self.ready = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_close(cx)
    }
}

/// tokio/tests/io_buf_writer.rs's `buf_writer` steps, on any inner writer that ends in
/// a `Vec` (read back through `get`).
async fn buf_writer_steps<W: AsyncWrite + Unpin>(inner: W, get: fn(&W) -> &Vec<u8>) {
    let mut writer = BufWriter::with_capacity(2, inner);
    assert_eq!(writer.write(&[0, 1]).await.unwrap(), 2);
    assert_eq!(writer.buffer(), []);
    assert_eq!(*get(writer.get_ref()), [0, 1]);
    assert_eq!(writer.write(&[2]).await.unwrap(), 1);
    assert_eq!(writer.buffer(), [2]);
    assert_eq!(*get(writer.get_ref()), [0, 1]);
    assert_eq!(writer.write(&[3]).await.unwrap(), 1);
    assert_eq!(writer.buffer(), [2, 3]);
    assert_eq!(*get(writer.get_ref()), [0, 1]);
    writer.flush().await.unwrap();
    assert_eq!(writer.buffer(), []);
    assert_eq!(*get(writer.get_ref()), [0, 1, 2, 3]);
    assert_eq!(writer.write(&[4]).await.unwrap(), 1);
    assert_eq!(writer.write(&[5]).await.unwrap(), 1);
    assert_eq!(writer.buffer(), [4, 5]);
    assert_eq!(*get(writer.get_ref()), [0, 1, 2, 3]);
    assert_eq!(writer.write(&[6]).await.unwrap(), 1);
    assert_eq!(writer.buffer(), [6]);
    assert_eq!(*get(writer.get_ref()), [0, 1, 2, 3, 4, 5]);
    assert_eq!(writer.write(&[7, 8]).await.unwrap(), 2);
    assert_eq!(writer.buffer(), []);
    assert_eq!(*get(writer.get_ref()), [0, 1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(writer.write(&[9, 10, 11]).await.unwrap(), 3);
    assert_eq!(writer.buffer(), []);
    assert_eq!(
        *get(writer.get_ref()),
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]
    );
    writer.flush().await.unwrap();
    assert_eq!(writer.buffer(), []);
    assert_eq!(
        *get(writer.get_ref()),
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]
    );
}

// tokio/tests/io_buf_writer.rs: buf_writer
#[test]
fn buf_writer_gathers_small_writes_and_passes_large_ones() {
    aio::run(buf_writer_steps(Vec::new(), |v| v));
}

// tokio/tests/io_buf_writer.rs: maybe_pending_buf_writer
#[test]
fn buf_writer_over_a_writer_that_is_pending_first() {
    aio::run(buf_writer_steps(
        PendingWriter {
            inner: Vec::new(),
            ready: false,
        },
        |w| &w.inner,
    ));
}

// tokio/tests/io_buf_writer.rs: buf_writer_inner_flushes
#[test]
fn buf_writer_flush_reaches_the_inner_writer() {
    aio::run(async {
        let mut w = BufWriter::with_capacity(3, Vec::new());
        assert_eq!(w.write(&[0, 1]).await.unwrap(), 2);
        assert!(w.get_ref().is_empty());
        w.flush().await.unwrap();
        assert_eq!(w.into_inner(), [0, 1]);
    });
}

// tokio/tests/io_buf_writer.rs: write_vectored_basic_on_non_vectored
#[test]
fn buf_writer_gathers_a_vectored_write() {
    aio::run(async {
        let msg = b"foo bar baz";
        let bufs = [
            IoSlice::new(&msg[0..4]),
            IoSlice::new(&msg[4..8]),
            IoSlice::new(&msg[8..]),
        ];
        let mut w = BufWriter::new(Vec::new());
        assert_eq!(w.write_vectored(&bufs).await.unwrap(), msg.len());
        assert_eq!(w.buffer(), &msg[..]);
        w.flush().await.unwrap();
        assert_eq!(w.get_ref(), msg);
    });
}

// tokio/tests/io_buf_writer.rs: write_vectored_empty_on_non_vectored
#[test]
fn buf_writer_empty_vectored_writes() {
    aio::run(async {
        let mut w = BufWriter::new(Vec::new());
        assert_eq!(w.write_vectored(&[]).await.unwrap(), 0);
        let empty = [IoSlice::new(&[]); 3];
        assert_eq!(w.write_vectored(&empty).await.unwrap(), 0);
        w.flush().await.unwrap();
        assert!(w.get_ref().is_empty());
    });
}

// concur: close flushes the buffer first, then closes (the peer reads all, then the end).
#[test]
fn buf_writer_close_flushes_then_closes() {
    aio::run(async {
        let (a, mut b) = UnixStream::pair().unwrap();
        let mut w = BufWriter::new(a);
        w.write_all(b"buffered").await.unwrap();
        w.close().await.unwrap();
        let mut got = Vec::new();
        b.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"buffered");
    });
}

/// tokio/tests/io_split.rs's `RW`: reads give `z`, writes take one byte (two vectored).
struct Rw;

impl AsyncRead for Rw {
    fn poll_read(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        buf[0] = b'z';
        Poll::Ready(Ok(1))
    }
}

impl AsyncWrite for Rw {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, _: &[u8]) -> Poll<io::Result<usize>> {
        Poll::Ready(Ok(1))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        _: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(Ok(2))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

// tokio/tests/io_split.rs: is_send_and_sync
#[test]
fn split_halves_are_send_and_sync() {
    fn assert_bound<T: Send + Sync>() {}
    assert_bound::<aio_io::ReadHalf<Rw>>();
    assert_bound::<aio_io::WriteHalf<Rw>>();
}

// tokio/tests/io_split.rs: split_stream_id
#[test]
fn split_halves_know_their_pair() {
    let (r1, w1) = aio_io::split(Rw);
    let (r2, w2) = aio_io::split(Rw);
    assert!(r1.is_pair_of(&w1));
    assert!(!r1.is_pair_of(&w2));
    assert!(r2.is_pair_of(&w2));
    assert!(!r2.is_pair_of(&w1));
    assert!(w1.is_pair_of(&r1));
}

// tokio/tests/io_split.rs: unsplit_ok
#[test]
fn unsplit_joins_a_pair() {
    let (r, w) = aio_io::split(Rw);
    let _: Rw = r.unsplit(w);
}

// tokio/tests/io_split.rs: unsplit_err1
#[test]
#[should_panic(expected = "not the one split off")]
fn unsplit_panics_on_a_foreign_write_half() {
    let (r, _) = aio_io::split(Rw);
    let (_, w) = aio_io::split(Rw);
    r.unsplit(w);
}

// tokio/tests/io_split.rs: unsplit_err2
#[test]
#[should_panic(expected = "not the one split off")]
fn unsplit_panics_on_a_foreign_write_half_made_first() {
    let (_, w) = aio_io::split(Rw);
    let (r, _) = aio_io::split(Rw);
    r.unsplit(w);
}

// tokio/tests/io_split.rs: method_delegation
#[test]
fn split_halves_delegate_every_method() {
    aio::run(async {
        let (mut r, mut w) = aio_io::split(Rw);
        let mut buf = [0; 1];
        assert_eq!(r.read(&mut buf).await.unwrap(), 1);
        assert_eq!(buf[0], b'z');
        assert_eq!(w.write(b"x").await.unwrap(), 1);
        assert_eq!(w.write_vectored(&[IoSlice::new(b"x")]).await.unwrap(), 2);
        w.flush().await.unwrap();
        w.shutdown().await.unwrap();
    });
}

// concur: split halves of a socket in two tasks at once.
#[test]
fn split_halves_of_a_socket_in_two_tasks() {
    aio::run(async {
        let (a, b) = UnixStream::pair().unwrap();
        let (mut r, mut w) = aio_io::split(a);
        let echo = aio::spawn(async move {
            let (mut br, mut bw) = aio_io::split(b);
            aio_io::copy(&mut br, &mut bw).await.unwrap()
        });
        let data = vec![9u8; 500_000];
        let writer = aio::spawn({
            let data = data.clone();
            async move {
                w.write_all(&data).await.unwrap();
                w.close().await.unwrap();
            }
        });
        let mut back = Vec::new();
        r.read_to_end(&mut back).await.unwrap();
        writer.await.unwrap();
        assert_eq!(back, data);
        assert_eq!(echo.await.unwrap(), data.len() as u64);
    });
}

// ---- python/cpython Lib/test/test_asyncio/test_streams.py, adapted ----

const DATA: &[u8] = b"line1\nline2\nline3\n";

// test_streams.py: test_readline (the line comes in chunks, after the read began)
#[test]
fn readline_waits_for_the_rest_of_the_line() {
    aio::run(async {
        let (a, mut b) = UnixStream::pair().unwrap();
        b.write_all(b"chunk1 ").await.unwrap();
        let mut r = BufReader::new(a);
        let feeder = aio::spawn(async move {
            b.write_all(b"chunk2 ").await.unwrap();
            b.write_all(b"chunk3 ").await.unwrap();
            b.write_all(b"\n chunk4").await.unwrap();
            b
        });
        let mut line = String::new();
        r.read_line(&mut line).await.unwrap();
        assert_eq!(line, "chunk1 chunk2 chunk3 \n");
        let _b = feeder.await.unwrap();
        let mut rest = [0u8; 7];
        r.read_exact(&mut rest).await.unwrap();
        assert_eq!(&rest, b" chunk4");
    });
}

// test_streams.py: test_readline_nolimit_nowait
#[test]
fn readline_with_all_data_there_leaves_the_rest_buffered() {
    aio::run(async {
        let mut r = BufReader::new(Mock::new([Data(&DATA[..6]), Data(&DATA[6..])]));
        let mut line = String::new();
        r.read_line(&mut line).await.unwrap();
        assert_eq!(line, "line1\n");
        let mut rest = Vec::new();
        r.read_to_end(&mut rest).await.unwrap();
        assert_eq!(rest, b"line2\nline3\n");
    });
}

// test_streams.py: test_readline_eof
#[test]
fn readline_at_eof_returns_the_unterminated_line() {
    aio::run(async {
        let mut r = BufReader::new(Mock::new([Data(b"some data")]));
        let mut line = String::new();
        assert_eq!(r.read_line(&mut line).await.unwrap(), 9);
        assert_eq!(line, "some data");
    });
}

// test_streams.py: test_readline_empty_eof
#[test]
fn readline_on_an_empty_stream_returns_nothing() {
    aio::run(async {
        let mut r = BufReader::new(Mock::new([]));
        let mut line = String::new();
        assert_eq!(r.read_line(&mut line).await.unwrap(), 0);
        assert_eq!(line, "");
    });
}

// test_streams.py: test_readline_read_byte_count
#[test]
fn read_after_readline_takes_the_next_bytes() {
    aio::run(async {
        let mut r = BufReader::new(Mock::new([Data(DATA)]));
        let mut line = String::new();
        r.read_line(&mut line).await.unwrap();
        let mut seven = [0u8; 7];
        r.read_exact(&mut seven).await.unwrap();
        assert_eq!(&seven, b"line2\nl");
        assert_eq!(r.buffer(), b"ine3\n");
    });
}

// test_streams.py: test_readline_exception
#[test]
fn readline_after_a_line_reports_the_error() {
    aio::run(async {
        let mut r = BufReader::new(Mock::new([
            Data(b"line\n"),
            Step::Err(ErrorKind::InvalidInput, "ValueError"),
        ]));
        let mut line = String::new();
        r.read_line(&mut line).await.unwrap();
        assert_eq!(line, "line\n");
        line.clear();
        let e = r.read_line(&mut line).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert_eq!(r.buffer(), b"");
    });
}

// test_streams.py: test_readuntil_multi_chunks (a single-byte separator: read_until's)
#[test]
fn read_until_across_chunks() {
    aio::run(async {
        let mut r = BufReader::new(Mock::new([
            Data(b"QWEa"),
            Pending,
            Data(b"XY"),
            Data(b"a"),
            Data(b"xxx"),
        ]));
        let mut v = Vec::new();
        r.read_until(b'a', &mut v).await.unwrap();
        assert_eq!(v, b"QWEa");
        v.clear();
        r.read_until(b'a', &mut v).await.unwrap();
        assert_eq!(v, b"XYa");
        v.clear();
        r.read_until(b'a', &mut v).await.unwrap(); // the end, no separator: what is left
        assert_eq!(v, b"xxx");
    });
}

// test_streams.py: test_readexactly_zero_or_less (zero; a negative count cannot be asked)
#[test]
fn readexactly_zero_reads_nothing() {
    aio::run(async {
        let mut r = BufReader::new(Mock::new([Data(DATA)]));
        let mut empty = [0u8; 0];
        assert_eq!(r.read_exact(&mut empty).await.unwrap(), 0);
        let mut all = Vec::new();
        r.read_to_end(&mut all).await.unwrap();
        assert_eq!(all, DATA);
    });
}

// test_streams.py: test_readexactly (the data comes after the read began)
#[test]
fn readexactly_waits_for_all_the_bytes() {
    aio::run(async {
        let (mut a, b) = UnixStream::pair().unwrap();
        let feeder = aio::spawn(async move {
            let mut b = b;
            b.write_all(DATA).await.unwrap();
            b.write_all(DATA).await.unwrap();
            b.write_all(DATA).await.unwrap();
            b
        });
        let mut buf = vec![0u8; 2 * DATA.len()];
        a.read_exact(&mut buf).await.unwrap();
        assert_eq!(buf, [DATA, DATA].concat());
        let _b = feeder.await.unwrap();
        let mut rest = vec![0u8; DATA.len()];
        a.read_exact(&mut rest).await.unwrap(); // the third copy is still there
        assert_eq!(rest, DATA);
    });
}

// test_streams.py: test_readexactly_eof (asyncio's IncompleteReadError: UnexpectedEof here,
// with the bytes that came at the front of the buffer and asyncio's wording)
#[test]
fn readexactly_eof_is_unexpected_eof_with_the_partial_bytes() {
    aio::run(async {
        let (mut a, mut b) = UnixStream::pair().unwrap();
        let n = 2 * DATA.len();
        let feeder = aio::spawn(async move {
            b.write_all(DATA).await.unwrap();
            b.close().await.unwrap();
        });
        let mut buf = vec![0u8; n];
        let e = a.read_exact(&mut buf).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::UnexpectedEof);
        assert!(
            e.to_string()
                .contains("18 bytes read on a total of 36 expected bytes"),
            "{e}"
        );
        assert_eq!(&buf[..DATA.len()], DATA);
        feeder.await.unwrap();
    });
}

// test_streams.py: test_readexactly_exception
#[test]
fn readexactly_reports_the_reader_error() {
    aio::run(async {
        let mut r = BufReader::new(Mock::new([
            Data(b"line\n"),
            Step::Err(ErrorKind::InvalidInput, "ValueError"),
        ]));
        let mut two = [0u8; 2];
        r.read_exact(&mut two).await.unwrap();
        assert_eq!(&two, b"li");
        let mut more = [0u8; 8];
        assert_eq!(
            r.read_exact(&mut more).await.unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
    });
}

// test_streams.py: test_read_limit (read(5) of "chunk"; concur's BufReader has no limit)
#[test]
fn read_to_end_and_to_string() {
    aio::run(async {
        let mut r = Mock::new([Data(b"ch"), Pending, Data(b"unk")]);
        let mut all = Vec::new();
        assert_eq!(r.read_to_end(&mut all).await.unwrap(), 5);
        assert_eq!(all, b"chunk");
        let mut s = String::from(">");
        let mut r = Mock::new([Data("grü".as_bytes()), Data("ße".as_bytes())]);
        assert_eq!(r.read_to_string(&mut s).await.unwrap(), 7);
        assert_eq!(s, ">grüße");
        let mut bad = Mock::new([Data(b"ok\xff")]);
        assert_eq!(
            bad.read_to_string(&mut s).await.unwrap_err().kind(),
            ErrorKind::InvalidData
        );
        assert_eq!(s, ">grüße");
    });
}

// concur: write_all to a writer that takes nothing is WriteZero, and says so.
#[test]
fn write_all_to_a_full_writer_is_write_zero() {
    aio::run(async {
        let mut sink = Zero;
        let e = sink.write_all(b"abc").await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::WriteZero);
        assert!(e.to_string().contains("0 of 3"), "{e}");
    });
}

/// A writer that takes nothing.
struct Zero;

impl AsyncWrite for Zero {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, _: &[u8]) -> Poll<io::Result<usize>> {
        Poll::Ready(Ok(0))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

// test_streams.py: test_read_zero
#[test]
fn read_into_an_empty_buffer_reads_nothing() {
    aio::run(async {
        let mut r = BufReader::new(Mock::new([Data(DATA)]));
        assert_eq!(r.read(&mut []).await.unwrap(), 0);
        let mut all = Vec::new();
        r.read_to_end(&mut all).await.unwrap();
        assert_eq!(all, DATA);
    });
}

// test_streams.py: test_read (the read waits for the data)
#[test]
fn read_waits_for_data() {
    aio::run(async {
        let (mut a, mut b) = UnixStream::pair().unwrap();
        let feeder = aio::spawn(async move { b.write_all(DATA).await.unwrap() });
        let mut buf = [0u8; 30];
        let n = a.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], &DATA[..n]);
        assert!(n > 0);
        feeder.await.unwrap();
    });
}

// test_streams.py: test_read_line_breaks
#[test]
fn read_stops_at_the_buffer_size_not_at_lines() {
    aio::run(async {
        let mut r = Mock::new([Data(b"line1line2")]);
        let mut five = [0u8; 5];
        assert_eq!(r.read(&mut five).await.unwrap(), 5);
        assert_eq!(&five, b"line1");
    });
}

// test_streams.py: test_read_eof
#[test]
fn read_at_eof_is_zero() {
    aio::run(async {
        let (mut a, b) = UnixStream::pair().unwrap();
        drop(b);
        assert_eq!(a.read(&mut [0u8; 1024]).await.unwrap(), 0);
    });
}

// test_streams.py: test_read_until_eof
#[test]
fn read_to_end_gathers_every_chunk() {
    aio::run(async {
        let (mut a, mut b) = UnixStream::pair().unwrap();
        let feeder = aio::spawn(async move {
            b.write_all(b"chunk1\n").await.unwrap();
            b.write_all(b"chunk2").await.unwrap();
        }); // dropping `b` ends the stream
        let mut all = Vec::new();
        a.read_to_end(&mut all).await.unwrap();
        assert_eq!(all, b"chunk1\nchunk2");
        feeder.await.unwrap();
    });
}

// test_streams.py: test_read_exception
#[test]
fn read_reports_the_reader_error() {
    aio::run(async {
        let mut r = BufReader::new(Mock::new([
            Data(b"line\n"),
            Step::Err(ErrorKind::InvalidInput, "ValueError"),
        ]));
        let mut two = [0u8; 2];
        assert_eq!(r.read(&mut two).await.unwrap(), 2);
        assert_eq!(&two, b"li");
        let mut rest = [0u8; 3];
        r.read_exact(&mut rest).await.unwrap(); // "ne\n" was buffered already
        assert_eq!(
            r.read(&mut two).await.unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
    });
}

/// test_streams.py's `MyServer.handle_client`: read a line, write it back, close.
async fn echo_one_line<S: AsyncRead + AsyncWrite + Unpin>(conn: S) {
    let mut conn = BufReader::new(conn);
    let mut line = String::new();
    conn.read_line(&mut line).await.unwrap();
    conn.write_all(line.as_bytes()).await.unwrap();
    conn.close().await.unwrap();
}

// test_streams.py: test_start_server
#[test]
fn line_echo_server_over_tcp() {
    use concur::aio::net::{TcpListener, TcpStream};
    aio::run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = aio::spawn(async move {
            let (conn, _) = listener.accept().await.unwrap();
            echo_one_line(conn).await;
        });
        let (r, mut w) = TcpStream::connect(addr).await.unwrap().into_split();
        w.write_all(b"hello world!\n").await.unwrap();
        let mut back = String::new();
        BufReader::new(r).read_line(&mut back).await.unwrap();
        assert_eq!(back, "hello world!\n");
        server.await.unwrap();
    });
}

// test_streams.py: test_start_unix_server
#[test]
fn line_echo_server_over_a_unix_socket() {
    use concur::aio::net::UnixListener;
    let dir = std::env::temp_dir().join(format!("concur-io-echo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("echo.sock");
    let _ = std::fs::remove_file(&path);
    aio::run(async {
        let listener = UnixListener::bind(&path).unwrap();
        let server = aio::spawn(async move {
            let (conn, _) = listener.accept().await.unwrap();
            echo_one_line(conn).await;
        });
        let mut c = BufReader::new(UnixStream::connect(&path).await.unwrap());
        c.write_all(b"hello world!\n").await.unwrap();
        let mut back = String::new();
        c.read_line(&mut back).await.unwrap();
        assert_eq!(back, "hello world!\n");
        server.await.unwrap();
    });
    std::fs::remove_dir_all(&dir).unwrap();
}

// test_streams.py: test_drain_raises (writing to a peer that closed ends in an error, not
// in a loop that never gives up)
#[test]
fn writing_to_a_closed_peer_fails() {
    use concur::aio::net::TcpStream;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let peer = std::thread::spawn(move || drop(listener.accept().unwrap()));
    let err = aio::run(async move {
        let mut s = TcpStream::connect(addr).await.unwrap();
        peer.join().unwrap(); // the peer has closed
        loop {
            if let Err(e) = s.write_all(b"foo\n").await {
                break e;
            }
        }
    });
    assert!(
        matches!(
            err.kind(),
            ErrorKind::ConnectionReset | ErrorKind::BrokenPipe | ErrorKind::ConnectionAborted
        ),
        "{err}"
    );
}

// test_streams.py: test_eof_feed_when_closing_writer (after closing our write side, a read
// sees the peer's end once the peer closes too)
#[test]
fn read_after_close_sees_the_end() {
    aio::run(async {
        let (mut a, mut b) = UnixStream::pair().unwrap();
        a.close().await.unwrap();
        let mut got = Vec::new();
        b.read_to_end(&mut got).await.unwrap(); // b sees a's end
        b.close().await.unwrap();
        assert_eq!(a.read(&mut [0u8; 8]).await.unwrap(), 0);
    });
}

// ---- seeking through the buffers (tokio's io_buf_reader.rs and io_buf_writer.rs) ----

use std::io::SeekFrom;

use concur::aio::io::{AsyncSeek, AsyncSeekExt};

/// An in-memory seekable reader and writer (`std::io::Cursor<Vec<u8>>`); with `pending`,
/// every write and every seek is `Pending` once first (tokio's `MaybePendingSeek`).
#[derive(Default)]
struct Cursor {
    data: Vec<u8>,
    pos: u64,
    pending: bool,
    ready_write: bool,
    ready_seek: bool,
}

impl Cursor {
    fn new(data: &[u8]) -> Self {
        Cursor {
            data: data.to_vec(),
            ..Cursor::default()
        }
    }

    fn pending(data: &[u8]) -> Self {
        Cursor {
            pending: true,
            ..Cursor::new(data)
        }
    }

    /// `Pending` once (waking the task) if this cursor pends, and `flag` says it is its turn.
    fn pend(pending: bool, flag: &mut bool, cx: &mut Context<'_>) -> bool {
        if !pending {
            return false;
        }
        *flag = !*flag;
        if *flag {
            cx.waker().wake_by_ref();
        }
        *flag
    }
}

impl AsyncRead for Cursor {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let start = (self.pos as usize).min(self.data.len());
        let n = (self.data.len() - start).min(buf.len());
        buf[..n].copy_from_slice(&self.data[start..start + n]);
        self.pos += n as u64;
        Poll::Ready(Ok(n))
    }
}

impl AsyncWrite for Cursor {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if Cursor::pend(this.pending, &mut this.ready_write, cx) {
            return Poll::Pending;
        }
        let start = this.pos as usize;
        if this.data.len() < start + buf.len() {
            this.data.resize(start + buf.len(), 0);
        }
        this.data[start..start + buf.len()].copy_from_slice(buf);
        this.pos += buf.len() as u64;
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl AsyncSeek for Cursor {
    fn poll_seek(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        pos: SeekFrom,
    ) -> Poll<io::Result<u64>> {
        let this = self.get_mut();
        if Cursor::pend(this.pending, &mut this.ready_seek, cx) {
            return Poll::Pending;
        }
        let (base, offset) = match pos {
            SeekFrom::Start(n) => {
                this.pos = n;
                return Poll::Ready(Ok(n));
            }
            SeekFrom::End(n) => (this.data.len() as u64, n),
            SeekFrom::Current(n) => (this.pos, n),
        };
        match base.checked_add_signed(offset) {
            Some(p) => {
                this.pos = p;
                Poll::Ready(Ok(p))
            }
            None => Poll::Ready(Err(io::Error::new(
                ErrorKind::InvalidInput,
                "invalid seek to a negative or overflowing position",
            ))),
        }
    }
}

/// `poll_fill_buf` once through, as an owned copy (tokio's `run_fill_buf!`).
async fn fill_buf<R: AsyncBufRead + Unpin>(r: &mut R) -> io::Result<Vec<u8>> {
    std::future::poll_fn(|cx| Pin::new(&mut *r).poll_fill_buf(cx).map_ok(<[u8]>::to_vec)).await
}

/// tokio's `test_buffered_reader_seek` steps, on a cursor over `[5, 6, 7, 0, 1, 2, 3, 4]`.
async fn buffered_reader_seek_steps(inner: Cursor) {
    let mut reader = BufReader::with_capacity(2, inner);
    assert_eq!(reader.seek(SeekFrom::Start(3)).await.unwrap(), 3);
    assert_eq!(fill_buf(&mut reader).await.unwrap(), [0, 1]);
    assert!(reader.seek(SeekFrom::Current(i64::MIN)).await.is_err());
    assert_eq!(fill_buf(&mut reader).await.unwrap(), [0, 1]);
    assert_eq!(reader.seek(SeekFrom::Current(1)).await.unwrap(), 4);
    assert_eq!(fill_buf(&mut reader).await.unwrap(), [1, 2]);
    Pin::new(&mut reader).consume(1);
    assert_eq!(reader.seek(SeekFrom::Current(-2)).await.unwrap(), 3);
}

// tokio/tests/io_buf_reader.rs: test_buffered_reader_seek
#[test]
fn buf_reader_seek_counts_from_what_was_consumed() {
    aio::run(buffered_reader_seek_steps(Cursor::new(&[
        5, 6, 7, 0, 1, 2, 3, 4,
    ])));
}

// tokio/tests/io_buf_reader.rs: maybe_pending_seek
#[test]
fn buf_reader_seek_over_a_seeker_that_is_pending_first() {
    aio::run(buffered_reader_seek_steps(Cursor::pending(&[
        5, 6, 7, 0, 1, 2, 3, 4,
    ])));
}

// tokio/tests/io_buf_reader.rs: test_buffered_reader_seek_underflow
#[test]
fn buf_reader_seek_beyond_i64_takes_two_steps() {
    /// Yields its position modulo 256 for each byte; positions wrap.
    struct PositionReader {
        pos: u64,
    }
    impl AsyncRead for PositionReader {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &mut [u8],
        ) -> Poll<io::Result<usize>> {
            for x in buf.iter_mut() {
                *x = self.pos as u8;
                self.pos = self.pos.wrapping_add(1);
            }
            Poll::Ready(Ok(buf.len()))
        }
    }
    impl AsyncSeek for PositionReader {
        fn poll_seek(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            pos: SeekFrom,
        ) -> Poll<io::Result<u64>> {
            self.pos = match pos {
                SeekFrom::Start(n) => n,
                SeekFrom::Current(n) => self.pos.wrapping_add(n as u64),
                SeekFrom::End(n) => u64::MAX.wrapping_add(n as u64),
            };
            Poll::Ready(Ok(self.pos))
        }
    }
    aio::run(async {
        let mut reader = BufReader::with_capacity(5, PositionReader { pos: 0 });
        assert_eq!(fill_buf(&mut reader).await.unwrap(), [0, 1, 2, 3, 4]);
        assert_eq!(reader.seek(SeekFrom::End(-5)).await.unwrap(), u64::MAX - 5);
        assert_eq!(fill_buf(&mut reader).await.unwrap().len(), 5);
        // This seek needs two seeks of the inner reader.
        let expected = 9_223_372_036_854_775_802;
        assert_eq!(
            reader.seek(SeekFrom::Current(i64::MIN)).await.unwrap(),
            expected
        );
        assert_eq!(fill_buf(&mut reader).await.unwrap().len(), 5);
        // Seeking by 0 empties the buffer.
        assert_eq!(reader.seek(SeekFrom::Current(0)).await.unwrap(), expected);
        assert_eq!(reader.get_ref().pos, expected);
    });
}

/// tokio's `buf_writer_seek` steps.
async fn buf_writer_seek_steps(inner: Cursor) {
    let mut w = BufWriter::with_capacity(3, inner);
    w.write_all(&[0, 1, 2, 3, 4, 5]).await.unwrap();
    w.write_all(&[6, 7]).await.unwrap();
    assert_eq!(w.seek(SeekFrom::Current(0)).await.unwrap(), 8);
    assert_eq!(w.get_ref().data, [0, 1, 2, 3, 4, 5, 6, 7]);
    assert_eq!(w.seek(SeekFrom::Start(2)).await.unwrap(), 2);
    w.write_all(&[8, 9]).await.unwrap();
    w.flush().await.unwrap();
    assert_eq!(w.into_inner().data, [0, 1, 8, 9, 4, 5, 6, 7]);
}

// tokio/tests/io_buf_writer.rs: buf_writer_seek
#[test]
fn buf_writer_seek_writes_the_buffer_out_first() {
    aio::run(buf_writer_seek_steps(Cursor::new(&[])));
}

// tokio/tests/io_buf_writer.rs: maybe_pending_buf_writer_seek
#[test]
fn buf_writer_seek_over_a_writer_that_is_pending_first() {
    aio::run(buf_writer_seek_steps(Cursor::pending(&[])));
}

// tokio/tests/io_buf_writer.rs: maybe_pending_buf_writer_inner_flushes
#[test]
fn buf_writer_flush_reaches_a_pending_writer() {
    aio::run(async {
        let mut w = BufWriter::with_capacity(
            3,
            PendingWriter {
                inner: Vec::new(),
                ready: false,
            },
        );
        assert_eq!(w.write(&[0, 1]).await.unwrap(), 2);
        assert!(w.get_ref().inner.is_empty());
        w.flush().await.unwrap();
        assert_eq!(w.into_inner().inner, [0, 1]);
    });
}

// concur: take limits reads and buffered reads, and leaves the rest in the reader.
#[test]
fn take_limits_plain_and_buffered_reads() {
    aio::run(async {
        let mut r: &[u8] = b"0123456789";
        let mut head = Vec::new();
        assert_eq!((&mut r).take(4).read_to_end(&mut head).await.unwrap(), 4);
        assert_eq!(head, b"0123");
        assert_eq!(r, b"456789");
        let mut lines = BufReader::new(&b"ab\ncd\nef\n"[..]).take(5).lines();
        assert_eq!(lines.next_line().await.unwrap().as_deref(), Some("ab"));
        assert_eq!(lines.next_line().await.unwrap().as_deref(), Some("cd"));
        assert_eq!(
            lines.next_line().await.unwrap(),
            None,
            "the limit ends the stream"
        );
        let mut t = lines.into_inner();
        assert_eq!(t.limit(), 0);
        t.set_limit(3);
        let mut rest = String::new();
        t.read_to_string(&mut rest).await.unwrap();
        assert_eq!(rest, "\nef"); // "cd" ended at the limit, before its newline
    });
}

// tokio/tests/io_buf_reader.rs: test_fill_buf_wrapper (a UnixStream pair for duplex)
#[test]
fn fill_buf_waits_and_does_not_consume() {
    aio::run(async {
        let (read, mut write) = UnixStream::pair().unwrap();
        let mut read = BufReader::new(read);
        write.write_all(b"hello world").await.unwrap();
        assert_eq!(read.fill_buf().await.unwrap(), b"hello world");
        Pin::new(&mut read).consume(b"hello ".len());
        assert_eq!(read.fill_buf().await.unwrap(), b"world");
        assert_eq!(read.fill_buf().await.unwrap(), b"world");
        Pin::new(&mut read).consume(b"world".len());
        {
            let mut fill = std::pin::pin!(read.fill_buf());
            let first = std::future::poll_fn(|cx| {
                Poll::Ready(std::future::Future::poll(fill.as_mut(), cx).is_ready())
            })
            .await;
            assert!(!first, "nothing buffered, nothing sent: fill_buf must wait");
            write.write_all(b"foo bar").await.unwrap();
            assert_eq!(fill.await.unwrap(), b"foo bar");
        }
        drop(write);
        assert_eq!(read.fill_buf().await.unwrap(), b"foo bar");
        Pin::new(&mut read).consume(b"foo bar".len());
        assert_eq!(read.fill_buf().await.unwrap(), b"");
    });
}

// concur: fill_buf's borrow outlives the future (its one unsafe block); polled by hand, no
// loop, so that Miri can run it (`cargo +nightly miri test --test aio io::fill_buf_by_hand`).
#[test]
fn fill_buf_by_hand() {
    let mut cx = Context::from_waker(std::task::Waker::noop());
    let mut r = BufReader::with_capacity(4, MaybePending::new(b"abcdef"));
    let slice = {
        let mut fut = r.fill_buf();
        loop {
            if let Poll::Ready(s) = std::future::Future::poll(Pin::new(&mut fut), &mut cx) {
                break s.unwrap();
            }
        }
    };
    assert_eq!(slice, b"abcd");
    Pin::new(&mut r).consume(4);
    let mut fut = r.fill_buf();
    let rest = loop {
        if let Poll::Ready(s) = std::future::Future::poll(Pin::new(&mut fut), &mut cx) {
            break s.unwrap().to_vec();
        }
    };
    assert_eq!(rest, b"ef");
}
