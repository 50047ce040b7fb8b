//! Owned-buffer I/O on a [`TcpStream`]: [`read_owned`](TcpStream::read_owned) and
//! [`write_all_owned`](TcpStream::write_all_owned), compio's and monoio's shape.
//!
//! The buffer is moved into the operation and handed back with its outcome. That is
//! what a completion-based driver (io_uring) needs to do I/O without a copy: the kernel
//! owns the memory while the operation is in flight, so a cancelled (dropped) operation
//! can never leave the kernel writing into memory the program has freed or reused. The
//! trade-off: the caller gives up the buffer for the operation's length (no borrowing a
//! slice of a larger structure), and dropping the future loses the buffer with it.
//!
//! On the io_uring driver, [`write_all_owned`](TcpStream::write_all_owned) hands the
//! buffer itself to the kernel: no copy into a loop-owned buffer, as a borrowed write
//! makes (the gain grows with the size: a 1 KiB copy costs less than the system call it
//! rides with, a 1 MiB one does not). A read copies once, from the buffer the kernel
//! received into (the loop's provided buffers, shared by every stream) into this one,
//! as a borrowed read does. On the epoll driver these are the borrowed operations with
//! the buffer passed along: the same results, no copy saved. A read goes into the
//! buffer's spare capacity (from its length up to its capacity, no zeroing first), so
//! the same `Vec` can be refilled without reallocating.

use std::future::poll_fn;
use std::io;

use super::TcpStream;

impl TcpStream {
    /// Reads into the spare capacity of `buf` (from `buf.len()` up to
    /// `buf.capacity()`), extending its length by what was read, and hands the buffer
    /// back with the count: `Ok(0)` at the end of the stream, or when `buf` has no spare
    /// capacity. See the module docs for why the buffer is owned.
    ///
    /// Cancel safety: dropping the future drops the buffer; no byte is lost from the
    /// stream (what was read is in the buffer only once the future returns).
    ///
    /// ```
    /// use concur::aio::{self, io::AsyncWriteExt, net::{TcpListener, TcpStream}};
    /// aio::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let addr = listener.local_addr().unwrap();
    ///     let server = aio::spawn(async move {
    ///         let (mut s, _) = listener.accept().await.unwrap();
    ///         s.write_all(b"hello").await.unwrap();
    ///     });
    ///     let mut client = TcpStream::connect(addr).await.unwrap();
    ///     let mut buf = Vec::with_capacity(64);
    ///     while buf.len() < 5 {
    ///         let (n, back) = client.read_owned(buf).await;
    ///         assert!(n.unwrap() > 0);
    ///         buf = back;
    ///     }
    ///     assert_eq!(buf, b"hello");
    ///     server.await.unwrap();
    /// });
    /// ```
    pub async fn read_owned(&mut self, buf: Vec<u8>) -> (io::Result<usize>, Vec<u8>) {
        let spare = buf.capacity() - buf.len();
        if spare == 0 {
            return (Ok(0), buf);
        }
        let buf = std::cell::RefCell::new(buf);
        let r = poll_fn(|cx| {
            self.io.poll_stream_read(
                cx,
                spare,
                false,
                // The io_uring driver's received bytes: appended, as a receive would.
                |bytes| {
                    let n = bytes.len().min(spare);
                    buf.borrow_mut().extend_from_slice(&bytes[..n]);
                    n
                },
                |s| {
                    rustix::net::recv(
                        s,
                        rustix::buffer::spare_capacity(&mut *buf.borrow_mut()),
                        rustix::net::RecvFlags::empty(),
                    )
                    .map(|(n, _)| n)
                    .map_err(Into::into)
                },
            )
        })
        .await;
        let buf = buf.into_inner();
        (r, buf)
    }

    /// Writes every byte of `buf`, then hands it back (for reuse). See the module docs
    /// for why the buffer is owned.
    ///
    /// Cancel safety: none, as with `write_all`: dropping the future part way leaves an
    /// unknown prefix of `buf` written.
    ///
    /// ```
    /// use concur::aio::{self, io::AsyncReadExt, net::{TcpListener, TcpStream}};
    /// aio::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let addr = listener.local_addr().unwrap();
    ///     let server = aio::spawn(async move {
    ///         let (mut s, _) = listener.accept().await.unwrap();
    ///         let mut got = Vec::new();
    ///         s.read_to_end(&mut got).await.unwrap();
    ///         got
    ///     });
    ///     let mut client = TcpStream::connect(addr).await.unwrap();
    ///     let (r, buf) = client.write_all_owned(b"ping".to_vec()).await;
    ///     r.unwrap();
    ///     assert_eq!(buf, b"ping"); // handed back
    ///     drop(client);
    ///     assert_eq!(server.await.unwrap(), b"ping");
    /// });
    /// ```
    pub async fn write_all_owned(&mut self, buf: Vec<u8>) -> (io::Result<()>, Vec<u8>) {
        // On the io_uring driver: the buffer itself goes to the kernel, no copy.
        let buf = match self.io.send_owned(buf).await {
            Ok(done) => return done,
            Err(buf) => buf,
        };
        let mut done = 0;
        while done < buf.len() {
            let rest = &buf[done..];
            let r = poll_fn(|cx| {
                self.io.poll_stream_write(cx, &[rest], |s| {
                    // MSG_NOSIGNAL: a closed peer is an error, never SIGPIPE.
                    rustix::net::send(s, rest, rustix::net::SendFlags::NOSIGNAL).map_err(Into::into)
                })
            })
            .await;
            match r {
                Ok(0) => return (Err(io::ErrorKind::WriteZero.into()), buf),
                Ok(n) => done += n,
                Err(e) => return (Err(e), buf),
            }
        }
        // The last send's outcome (io_uring driver: it may still be in flight).
        let r = poll_fn(|cx| self.io.poll_stream_flush(cx)).await;
        (r, buf)
    }
}
