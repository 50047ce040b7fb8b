//! Crates written for tokio, on `concur::aio`.
//!
//! Two kinds of tokio crate exist, and each has its way in:
//!
//! 1. **Crates that only need tokio's I/O traits** (codecs, framed protocols, most TLS
//!    wrappers, `tokio::io::copy`, `BufReader`, `lines()`): with the `tokio-io` feature,
//!    concur's [`TcpStream`] and [`UnixStream`]
//!    implement [`tokio::io::AsyncRead`] and [`tokio::io::AsyncWrite`] themselves, so they
//!    plug in directly and run on the loop at full speed (reads go straight into tokio's
//!    buffer).
//! 2. **Crates that need a tokio reactor** (they create `tokio::net` sockets or
//!    `tokio::time` timers themselves, and panic with "there is no reactor running"
//!    elsewhere): with the `tokio-runtime` feature, wrap the future in [`with_tokio`]. Its
//!    tokio objects register with a small tokio runtime on a background thread (one
//!    worker, started on first use), which drives their I/O and timers and wakes the
//!    concur task across threads. The future itself still runs on the loop and may use
//!    concur's objects freely. Create the tokio objects *inside* the wrapped future
//!    (`with_tokio(async { tokio::time::sleep(d).await })`, not
//!    `with_tokio(tokio::time::sleep(d))`, whose argument is built before the reactor is
//!    entered).
//!
//!    What it costs: each wake-up of a tokio object crosses threads (tokio's thread sees
//!    the event, concur's loop is woken through its remote queue), so a round trip on a
//!    tokio socket inside the loop takes a few microseconds more than on a concur socket;
//!    `cargo run --release -p concur-bench -- ecosystem` measures it, and BENCHMARKS.md
//!    keeps the figures. Use concur's own sockets where you choose, and `with_tokio` for the
//!    crates that leave no choice.
//!
//! ```
//! # #[cfg(feature = "tokio-io")] {
//! use concur::aio::{self, net::{TcpListener, TcpStream}};
//! use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
//!
//! aio::run(async {
//!     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
//!     let addr = listener.local_addr().unwrap();
//!     aio::spawn(async move {
//!         let (mut conn, _) = listener.accept().await.unwrap();
//!         conn.write_all(b"first line\nsecond line\n").await.unwrap(); // tokio's write_all
//!     });
//!     let conn = TcpStream::connect(addr).await.unwrap();
//!     let mut lines = BufReader::new(conn).lines(); // tokio's BufReader and lines()
//!     assert_eq!(lines.next_line().await.unwrap().as_deref(), Some("first line"));
//!     assert_eq!(lines.next_line().await.unwrap().as_deref(), Some("second line"));
//!     assert_eq!(lines.next_line().await.unwrap(), None);
//! });
//! # }
//! ```

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::net::{TcpStream, UnixStream};

/// tokio's `AsyncRead`/`AsyncWrite` for a concur stream, straight on its socket.
macro_rules! tokio_io {
    ($ty:ty) => {
        impl AsyncRead for $ty {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut ReadBuf<'_>,
            ) -> Poll<io::Result<()>> {
                // SAFETY: `poll_read_uninit` only writes into the slice (the OS fills it
                // with `read`) and reports how many bytes it wrote.
                let unfilled = unsafe { buf.unfilled_mut() };
                let n = match self.poll_read_uninit(cx, unfilled) {
                    Poll::Ready(Ok(n)) => n,
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending => return Poll::Pending,
                };
                // SAFETY: the OS initialised the first `n` bytes of the unfilled part.
                unsafe { buf.assume_init(n) };
                buf.advance(n);
                Poll::Ready(Ok(()))
            }
        }

        impl AsyncWrite for $ty {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                futures_io::AsyncWrite::poll_write(self, cx, buf)
            }

            fn poll_write_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &[io::IoSlice<'_>],
            ) -> Poll<io::Result<usize>> {
                futures_io::AsyncWrite::poll_write_vectored(self, cx, bufs)
            }

            fn is_write_vectored(&self) -> bool {
                true
            }

            fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                futures_io::AsyncWrite::poll_flush(self, cx)
            }

            fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                futures_io::AsyncWrite::poll_close(self, cx)
            }
        }
    };
}

tokio_io!(TcpStream);
tokio_io!(UnixStream);

#[cfg(feature = "tokio-runtime")]
pub use reactor::{runtime, with_tokio, with_tokio_handle, WithTokio};

#[cfg(feature = "tokio-runtime")]
mod reactor {
    use std::future::Future;
    use std::pin::Pin;
    use std::sync::OnceLock;
    use std::task::{Context, Poll};

    /// The background tokio runtime behind [`with_tokio`]: one worker thread, I/O and time
    /// enabled, started on first use and kept for the life of the process.
    ///
    /// ```
    /// let rt = concur::aio::tokio::runtime();
    /// assert_eq!(rt.block_on(async { 2 + 2 }), 4);
    /// ```
    ///
    /// # Panics
    ///
    /// If the OS refuses to start its thread or its reactor.
    pub fn runtime() -> &'static tokio::runtime::Runtime {
        static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
        RUNTIME.get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("concur-tokio")
                .enable_all()
                .build()
                .unwrap_or_else(|e| panic!("concur::aio::tokio: could not start tokio: {e}"))
        })
    }

    /// Runs `future` on the concur loop with a tokio reactor available to it (see the
    /// [module docs](super)): tokio sockets and timers it creates are driven by
    /// [`runtime`]'s thread.
    ///
    /// ```
    /// use std::time::Duration;
    /// use concur::aio;
    ///
    /// let echoed = aio::run(aio::tokio::with_tokio(async {
    ///     // tokio's own socket types and timers, inside aio::run:
    ///     let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let addr = listener.local_addr().unwrap();
    ///     let server = aio::spawn(aio::tokio::with_tokio(async move {
    ///         let (mut conn, _) = listener.accept().await.unwrap();
    ///         let (mut r, mut w) = conn.split();
    ///         tokio::io::copy(&mut r, &mut w).await.unwrap();
    ///     }));
    ///     let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
    ///     tokio::time::sleep(Duration::from_millis(1)).await;
    ///     use tokio::io::{AsyncReadExt, AsyncWriteExt};
    ///     c.write_all(b"ping").await.unwrap();
    ///     let mut buf = [0u8; 4];
    ///     c.read_exact(&mut buf).await.unwrap();
    ///     drop(c);
    ///     server.await.unwrap();
    ///     buf
    /// }));
    /// assert_eq!(&echoed, b"ping");
    /// ```
    pub fn with_tokio<F: Future>(future: F) -> WithTokio<F> {
        with_tokio_handle(runtime().handle().clone(), future)
    }

    /// [`with_tokio`] with a runtime of your own (any flavour that runs on other threads
    /// than the loop's: a multi-thread runtime, or a current-thread one that a thread of
    /// yours drives with `block_on`).
    ///
    /// ```
    /// use concur::aio;
    ///
    /// let rt = tokio::runtime::Builder::new_multi_thread()
    ///     .worker_threads(1)
    ///     .enable_all()
    ///     .build()
    ///     .unwrap();
    /// let handle = rt.handle().clone();
    /// let n = aio::run(aio::tokio::with_tokio_handle(handle, async {
    ///     tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    ///     7
    /// }));
    /// assert_eq!(n, 7);
    /// ```
    pub fn with_tokio_handle<F: Future>(handle: tokio::runtime::Handle, future: F) -> WithTokio<F> {
        WithTokio {
            handle,
            future: std::mem::ManuallyDrop::new(future),
        }
    }

    /// The future of [`with_tokio`]: polls its inner future with a tokio runtime entered.
    ///
    /// ```
    /// use concur::aio;
    /// let f: aio::tokio::WithTokio<_> = aio::tokio::with_tokio(async { 1 });
    /// assert_eq!(aio::run(f), 1);
    /// ```
    #[must_use = "futures do nothing unless awaited"]
    #[derive(Debug)]
    pub struct WithTokio<F> {
        handle: tokio::runtime::Handle,
        future: std::mem::ManuallyDrop<F>,
    }

    impl<F: Future> Future for WithTokio<F> {
        type Output = F::Output;

        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
            // SAFETY: `future` is structurally pinned (never moved out of `self`); `handle`
            // is only read.
            let this = unsafe { self.get_unchecked_mut() };
            let _entered = this.handle.enter();
            // SAFETY: see above.
            unsafe { Pin::new_unchecked(&mut *this.future) }.poll(cx)
        }
    }

    impl<F> Drop for WithTokio<F> {
        fn drop(&mut self) {
            // tokio objects in the future deregister from their reactor when dropped; some
            // look for the runtime's context to do so.
            let _entered = self.handle.enter();
            // SAFETY: `future` is dropped in place (it may be pinned), once: `self` is being
            // dropped and the field is never touched again.
            unsafe { std::mem::ManuallyDrop::drop(&mut self.future) };
        }
    }
}
