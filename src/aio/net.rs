//! Sockets on the loop: TCP, UDP and Unix-domain, with `futures_io::{AsyncRead, AsyncWrite}`.
//!
//! Addresses are given as anything that implements [`ToSocketAddrs`]: a
//! [`SocketAddr`](std::net::SocketAddr), `"127.0.0.1:8080"`, `("localhost", 8080)`, ...
//! A host name is looked up on the default thread pool (the system resolver blocks), so
//! the loop keeps serving other tasks meanwhile; an address that is already numeric
//! costs no trip to the pool.
//!
//! | type | what it is | tokio's name |
//! |---|---|---|
//! | [`TcpListener`] | a TCP server socket | `tokio::net::TcpListener` |
//! | [`TcpStream`] | a TCP connection; [`split`](TcpStream::split) and [`into_split`](TcpStream::into_split) give halves for two tasks ([`tcp`]) | `tokio::net::TcpStream` |
//! | [`TcpSocket`] | a TCP socket to configure before it listens or connects | `tokio::net::TcpSocket` |
//! | [`UdpSocket`] | a UDP socket | `tokio::net::UdpSocket` |
//! | [`UnixListener`], [`UnixStream`] | Unix-domain stream sockets | `tokio::net::Unix*` |
//!
//! The streams implement [`futures_io::AsyncRead`] and [`futures_io::AsyncWrite`]; the
//! extension traits of [`aio::io`](crate::aio::io) (`read_exact`, `write_all`, `read_line`,
//! [`BufReader`](crate::aio::io::BufReader), ...) work on them without another crate.
//!
//! Every socket is registered with the reactor of the loop it is created in
//! (edge-triggered): an operation tries the OS first and waits for the next readiness
//! event only after the OS said "would block". `readable`/`writable` wait for that event;
//! `try_read`/`try_write` (and the UDP `try_*`) never wait, and a "would block" from them
//! forgets the readiness, so the next `readable()` waits again.
//!
//! `from_std` takes a socket made with `std::net` (or `std::os::unix::net`) onto the loop
//! and sets it non-blocking itself (tokio asks the caller to do that); `into_std` hands it
//! back in blocking mode, as std makes its sockets.
//!
//! A line-echo server and a client on one loop:
//!
//! ```
//! use concur::aio::{self, io::{AsyncBufReadExt, AsyncWriteExt, BufReader}, net::{TcpListener, TcpStream}};
//!
//! aio::run(async {
//!     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
//!     let addr = listener.local_addr().unwrap();
//!     aio::spawn(async move {
//!         let (stream, _) = listener.accept().await.unwrap();
//!         let (read, mut write) = stream.into_split();
//!         let mut lines = BufReader::new(read).lines();
//!         while let Some(line) = lines.next_line().await.unwrap() {
//!             write.write_all(format!("{line}\n").as_bytes()).await.unwrap();
//!         }
//!     });
//!     let stream = TcpStream::connect(addr).await.unwrap();
//!     let (read, mut write) = stream.into_split();
//!     write.write_all(b"hello\n").await.unwrap();
//!     let mut lines = BufReader::new(read).lines();
//!     assert_eq!(lines.next_line().await.unwrap().as_deref(), Some("hello"));
//! });
//! ```

/// `AsyncRead`/`AsyncWrite` for a registered stream whose `&S` reads and writes.
macro_rules! stream_io {
    ($ty:ty) => {
        #[cfg(any(feature = "hyper", feature = "tokio-io"))]
        impl $ty {
            /// Reads into memory that may not be initialised yet (hyper's and tokio's read
            /// buffers are not zeroed first): the bytes read are initialised by the OS.
            pub(in crate::aio) fn poll_read_uninit(
                &self,
                cx: &mut Context<'_>,
                buf: &mut [std::mem::MaybeUninit<u8>],
            ) -> Poll<io::Result<usize>> {
                let len = buf.len();
                let buf = std::cell::RefCell::new(buf);
                self.io.poll_stream_read(
                    cx,
                    len,
                    false,
                    |bytes| {
                        let mut buf = buf.borrow_mut();
                        for (d, b) in buf.iter_mut().zip(bytes) {
                            d.write(*b);
                        }
                        bytes.len().min(len)
                    },
                    |s| {
                        rustix::io::read(s, &mut **buf.borrow_mut())
                            .map(|(filled, _)| filled.len())
                            .map_err(io::Error::from)
                    },
                )
            }
        }

        impl AsyncRead for $ty {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut [u8],
            ) -> Poll<io::Result<usize>> {
                self.io
                    .poll_read_slice(cx, buf, false, |mut s, b| s.read(b))
            }
        }

        impl AsyncWrite for $ty {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                self.io.poll_stream_write(cx, &[buf], |mut s| s.write(buf))
            }

            fn poll_write_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &[io::IoSlice<'_>],
            ) -> Poll<io::Result<usize>> {
                let slices: Vec<&[u8]> = bufs.iter().map(|b| &**b).collect();
                self.io
                    .poll_stream_write(cx, &slices, |mut s| s.write_vectored(bufs))
            }

            fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                self.io.poll_stream_flush(cx)
            }

            fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                std::task::ready!(self.io.poll_stream_drain(cx))?;
                Poll::Ready(self.io.source().shutdown(Shutdown::Write))
            }
        }
    };
}

mod addr;
mod owned_io;
mod split;
mod split_owned;
mod tcp_listener;
mod tcp_socket;
mod tcp_stream;
mod udp;
mod unix;

pub use addr::ToSocketAddrs;

/// The halves of a [`TcpStream`]: borrowed ([`TcpStream::split`]) and owned
/// ([`TcpStream::into_split`]), where tokio has them (`tokio::net::tcp`).
///
/// ```
/// use concur::aio::{self, net::{tcp::{OwnedReadHalf, OwnedWriteHalf}, TcpListener, TcpStream}};
/// aio::run(async {
///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
///     let stream = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
///     let (r, w): (OwnedReadHalf, OwnedWriteHalf) = stream.into_split();
///     r.reunite(w).unwrap();
/// });
/// ```
pub mod tcp {
    pub use super::split::{ReadHalf, WriteHalf};
    pub use super::split_owned::{OwnedReadHalf, OwnedWriteHalf, ReuniteError};
}

pub use tcp_listener::TcpListener;
pub use tcp_socket::TcpSocket;
pub use tcp_stream::TcpStream;
pub use udp::UdpSocket;
pub use unix::{UnixListener, UnixStream};
