//! hyper 1.x on the event loop: HTTP/1 and HTTP/2 clients and servers on `concur::aio`.
//!
//! hyper brings the protocol and leaves the runtime to its user through three traits; this
//! module gives it concur's:
//!
//! - **I/O**: [`TcpStream`] and [`UnixStream`] implement [`hyper::rt::Read`] and
//!   [`hyper::rt::Write`] themselves (reads go straight into hyper's buffer, no copy, no
//!   zeroing), and [`FuturesIo`] adapts any other `futures_io` stream (a child's pipes, a
//!   stream of another crate).
//! - **Spawning**: [`LocalExecutor`] runs hyper's background futures (HTTP/2 connection
//!   tasks, a client's connection driver) as tasks on the loop. They need not be `Send`, so
//!   request handlers may hold `Rc`s and `RefCell`s: the loop is single-threaded.
//! - **Time**: [`Timer`] gives hyper concur's timers (header read timeouts, HTTP/2
//!   keep-alive pings).
//!
//! A server and a client on one loop, over loopback:
//!
//! ```
//! use std::convert::Infallible;
//! use concur::aio::{self, hyper::{LocalExecutor, Timer}, net::{TcpListener, TcpStream}};
//! use http_body_util::{BodyExt, Full};
//! use hyper::{body::Bytes, server::conn::http1, service::service_fn, Request, Response};
//!
//! aio::run(async {
//!     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
//!     let addr = listener.local_addr().unwrap();
//!     aio::spawn(async move {
//!         loop {
//!             let (conn, _) = listener.accept().await.unwrap();
//!             let hello = service_fn(|req: Request<hyper::body::Incoming>| async move {
//!                 let body = format!("hello from {}", req.uri().path());
//!                 Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(body))))
//!             });
//!             aio::spawn(http1::Builder::new().timer(Timer).serve_connection(conn, hello));
//!         }
//!     });
//!
//!     let conn = TcpStream::connect(addr).await.unwrap();
//!     let (mut client, driver) = hyper::client::conn::http1::handshake(conn).await.unwrap();
//!     aio::spawn(driver); // the connection's I/O runs as its own task
//!     let req = Request::get("/page/1").body(Full::<Bytes>::default()).unwrap();
//!     let resp = client.send_request(req).await.unwrap();
//!     let body = resp.into_body().collect().await.unwrap().to_bytes();
//!     assert_eq!(&body[..], b"hello from /page/1");
//!     # let _ = LocalExecutor;
//! });
//! ```

use std::fmt;
use std::future::Future;
use std::mem::ManuallyDrop;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::thread::{self, ThreadId};
use std::time::{Duration, Instant};

use hyper::rt::{Read, ReadBufCursor, Write};

use super::net::{TcpStream, UnixStream};
use super::time::{sleep_until, Sleep};

/// hyper's `Read`/`Write` for a concur stream, straight on its socket.
macro_rules! hyper_io {
    ($ty:ty) => {
        impl Read for $ty {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                mut buf: ReadBufCursor<'_>,
            ) -> Poll<std::io::Result<()>> {
                // SAFETY: `poll_read_uninit` only writes into the slice (the OS fills it
                // with `read`) and returns how many bytes it wrote; exactly those are
                // then marked filled.
                let n = match self.poll_read_uninit(cx, unsafe { buf.as_mut() }) {
                    Poll::Ready(Ok(n)) => n,
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending => return Poll::Pending,
                };
                // SAFETY: the OS initialised the first `n` bytes of the unfilled part.
                unsafe { buf.advance(n) };
                Poll::Ready(Ok(()))
            }
        }

        impl Write for $ty {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<std::io::Result<usize>> {
                futures_io::AsyncWrite::poll_write(self, cx, buf)
            }

            fn poll_write_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &[std::io::IoSlice<'_>],
            ) -> Poll<std::io::Result<usize>> {
                futures_io::AsyncWrite::poll_write_vectored(self, cx, bufs)
            }

            fn is_write_vectored(&self) -> bool {
                true
            }

            fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
                futures_io::AsyncWrite::poll_flush(self, cx)
            }

            fn poll_shutdown(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
            ) -> Poll<std::io::Result<()>> {
                futures_io::AsyncWrite::poll_close(self, cx)
            }
        }
    };
}

hyper_io!(TcpStream);
hyper_io!(UnixStream);

/// Adapts any `futures_io::{AsyncRead, AsyncWrite}` stream to hyper's I/O traits.
///
/// concur's own sockets need no adapter. This one is for the others: a child process's
/// pipes, an in-memory stream, a TLS stream of another crate.
///
/// ```
/// use concur::aio::{self, hyper::FuturesIo, net::UnixStream};
/// use http_body_util::{BodyExt, Empty, Full};
/// use hyper::{body::Bytes, Request, Response};
///
/// aio::run(async {
///     let (a, b) = UnixStream::pair().unwrap();
///     // Any AsyncRead + AsyncWrite works; here, concur's own stream, wrapped anyway.
///     let serve = hyper::server::conn::http1::Builder::new().serve_connection(
///         FuturesIo::new(a),
///         hyper::service::service_fn(|_req| async {
///             Ok::<_, std::convert::Infallible>(Response::new(Full::new(Bytes::from("pong"))))
///         }),
///     );
///     aio::spawn(serve);
///     let (mut client, driver) = hyper::client::conn::http1::handshake(FuturesIo::new(b)).await.unwrap();
///     aio::spawn(driver);
///     let resp = client.send_request(Request::new(Empty::<Bytes>::new())).await.unwrap();
///     assert_eq!(&resp.into_body().collect().await.unwrap().to_bytes()[..], b"pong");
/// });
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct FuturesIo<T> {
    inner: T,
}

impl<T> FuturesIo<T> {
    /// Wraps `inner`.
    ///
    /// ```
    /// let io = concur::aio::hyper::FuturesIo::new(futures_lite::io::Cursor::new(vec![1u8, 2]));
    /// assert_eq!(io.get_ref().get_ref(), &[1, 2]);
    /// ```
    pub fn new(inner: T) -> Self {
        FuturesIo { inner }
    }

    /// The wrapped stream.
    ///
    /// ```
    /// let io = concur::aio::hyper::FuturesIo::new(futures_lite::io::empty());
    /// let _: &futures_lite::io::Empty = io.get_ref();
    /// ```
    pub fn get_ref(&self) -> &T {
        &self.inner
    }

    /// The wrapped stream, mutably.
    ///
    /// ```
    /// let mut io = concur::aio::hyper::FuturesIo::new(futures_lite::io::Cursor::new(vec![0u8]));
    /// io.get_mut().set_position(1);
    /// assert_eq!(io.get_ref().position(), 1);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.inner
    }

    /// Unwraps the stream.
    ///
    /// ```
    /// let io = concur::aio::hyper::FuturesIo::new(futures_lite::io::Cursor::new(vec![7u8]));
    /// assert_eq!(io.into_inner().into_inner(), vec![7]);
    /// ```
    pub fn into_inner(self) -> T {
        self.inner
    }
}

impl<T: futures_io::AsyncRead + Unpin> Read for FuturesIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: ReadBufCursor<'_>,
    ) -> Poll<std::io::Result<()>> {
        // A foreign `AsyncRead` takes `&mut [u8]`, so the unfilled part is zeroed first.
        // SAFETY: the slice is only written to (zeroed) before it is viewed as bytes.
        let unfilled = unsafe { buf.as_mut() };
        for b in unfilled.iter_mut() {
            b.write(0);
        }
        let len = unfilled.len();
        // SAFETY: all `len` bytes were initialised just above.
        let bytes =
            unsafe { std::slice::from_raw_parts_mut(unfilled.as_mut_ptr().cast::<u8>(), len) };
        match Pin::new(&mut self.inner).poll_read(cx, bytes) {
            Poll::Ready(Ok(n)) => {
                // SAFETY: the first `n <= len` bytes are initialised (all of them are).
                unsafe { buf.advance(n.min(len)) };
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T: futures_io::AsyncWrite + Unpin> Write for FuturesIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_close(cx)
    }
}

/// hyper's executor: spawns hyper's background futures as tasks on the running loop.
///
/// The futures need not be `Send`, so a service may keep `Rc`/`RefCell` state. HTTP/2
/// needs an executor (each stream is a task); HTTP/1 does not.
///
/// ```
/// use std::{cell::Cell, convert::Infallible, rc::Rc};
/// use concur::aio::{self, hyper::{LocalExecutor, Timer}, net::{TcpListener, TcpStream}};
/// use http_body_util::{BodyExt, Empty, Full};
/// use hyper::{body::Bytes, server::conn::http2, service::service_fn, Request, Response};
///
/// aio::run(async {
///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
///     let addr = listener.local_addr().unwrap();
///     let hits = Rc::new(Cell::new(0)); // !Send state in the handler
///     let counted = hits.clone();
///     aio::spawn(async move {
///         let (conn, _) = listener.accept().await.unwrap();
///         let svc = service_fn(move |_req| {
///             counted.set(counted.get() + 1);
///             async { Ok::<_, Infallible>(Response::new(Full::new(Bytes::from("h2")))) }
///         });
///         http2::Builder::new(LocalExecutor).timer(Timer).serve_connection(conn, svc).await
///     });
///     let conn = TcpStream::connect(addr).await.unwrap();
///     let (mut client, driver) =
///         hyper::client::conn::http2::handshake(LocalExecutor, conn).await.unwrap();
///     aio::spawn(driver);
///     let resp = client.send_request(Request::new(Empty::<Bytes>::new())).await.unwrap();
///     assert_eq!(&resp.into_body().collect().await.unwrap().to_bytes()[..], b"h2");
///     assert_eq!(hits.get(), 1);
/// });
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct LocalExecutor;

impl<F: Future + 'static> hyper::rt::Executor<F> for LocalExecutor {
    /// Spawns `fut` on the loop running on this thread, detached.
    ///
    /// # Panics
    ///
    /// Outside of an event loop, like [`aio::spawn`](super::spawn).
    fn execute(&self, fut: F) {
        drop(super::spawn(fut));
    }
}

/// hyper's timer, on concur's timer wheel.
///
/// Give it to a connection builder (`.timer(Timer)`) to enable hyper's time-outs, such as
/// `http1::Builder::header_read_timeout` and HTTP/2 keep-alive.
///
/// hyper requires its sleeps to be `Send + Sync`. concur's timers belong to one loop, so a
/// sleep made by this timer must be polled on its loop's thread: it panics with a clear
/// message elsewhere, and if it is dropped on another thread it is leaked instead of being
/// touched from there. (hyper keeps the sleeps of a connection inside that connection, so
/// this happens only if a user moves one on purpose.)
///
/// ```
/// use std::time::{Duration, Instant};
/// use concur::aio::{self, hyper::Timer};
/// use hyper::rt::Timer as _;
///
/// aio::run(async {
///     let start = Instant::now();
///     Timer.sleep(Duration::from_millis(5)).await;
///     assert!(start.elapsed() >= Duration::from_millis(5));
/// });
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Timer;

impl hyper::rt::Timer for Timer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        self.sleep_until(super::time::now() + duration)
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(HyperSleep {
            owner: None,
            inner: ManuallyDrop::new(sleep_until(deadline)),
        })
    }

    fn reset(&self, sleep: &mut Pin<Box<dyn hyper::rt::Sleep>>, new_deadline: Instant) {
        match sleep.as_mut().downcast_mut_pin::<HyperSleep>() {
            Some(ours) => ours.reset(new_deadline),
            None => *sleep = self.sleep_until(new_deadline),
        }
    }
}

/// A concur [`Sleep`] made `Send + Sync` for hyper by binding it to the thread that first
/// polls it.
struct HyperSleep {
    /// The thread whose loop armed the timer; `None` until the first poll.
    owner: Option<ThreadId>,
    inner: ManuallyDrop<Sleep>,
}

// SAFETY: the only thread-bound part of a `Sleep` is its armed timer (an `Rc` of the loop),
// which exists only after the first poll. From then on, every access (poll, reset, drop)
// checks that it runs on `owner`'s thread: poll and reset panic elsewhere, drop leaks.
// Before the first poll a `Sleep` holds a deadline and nothing else.
unsafe impl Send for HyperSleep {}
// SAFETY: `&HyperSleep` gives access to nothing (no method takes `&self`).
unsafe impl Sync for HyperSleep {}

impl HyperSleep {
    fn on_owner_thread(&self) -> bool {
        self.owner.is_none_or(|t| t == thread::current().id())
    }

    fn check_thread(&self) {
        assert!(
            self.on_owner_thread(),
            "concur::aio::hyper::Timer: a sleep was used on another thread than the event \
             loop it was armed on; drive hyper connections that use this timer on their loop"
        );
    }

    fn reset(self: Pin<&mut Self>, deadline: Instant) {
        self.check_thread();
        // SAFETY: `inner` is structurally pinned: it is never moved out of `self`.
        let inner = unsafe { self.map_unchecked_mut(|s| &mut *s.inner) };
        inner.reset(deadline);
    }
}

impl Future for HyperSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.check_thread();
        // SAFETY: `owner` is a plain field, not pinned; `inner` is structurally pinned and
        // is never moved out.
        let this = unsafe { self.get_unchecked_mut() };
        this.owner.get_or_insert_with(|| thread::current().id());
        // SAFETY: see above: `inner` stays where it is.
        unsafe { Pin::new_unchecked(&mut *this.inner) }.poll(cx)
    }
}

impl hyper::rt::Sleep for HyperSleep {}

impl Drop for HyperSleep {
    fn drop(&mut self) {
        if self.on_owner_thread() {
            // SAFETY: dropped exactly once, here, in place (never moved: see `poll`).
            unsafe { ManuallyDrop::drop(&mut self.inner) };
        } else {
            log::warn!(
                "concur::aio::hyper::Timer: a sleep was dropped on another thread than its \
                 event loop's; it is leaked"
            );
        }
    }
}

impl fmt::Debug for HyperSleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HyperSleep")
            .field("deadline", &self.inner.deadline())
            .finish()
    }
}
