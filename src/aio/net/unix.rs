//! [`UnixListener`] and [`UnixStream`]: Unix-domain stream sockets on the loop.

use std::fmt;
use std::future::poll_fn;
use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_io::{AsyncRead, AsyncWrite};

use crate::aio::driver::Direction;
use crate::aio::registered::Registered;

/// A Unix-domain stream server socket.
///
/// ```
/// use concur::aio::{self, net::{UnixListener, UnixStream}};
///
/// aio::run(async {
///     let dir = std::env::temp_dir().join(format!("concur-doc-{}", std::process::id()));
///     std::fs::create_dir_all(&dir).unwrap();
///     let path = dir.join("sock");
///     let _ = std::fs::remove_file(&path);
///     let listener = UnixListener::bind(&path).unwrap();
///     let client = aio::spawn({
///         let path = path.clone();
///         async move { UnixStream::connect(&path).await.map(|_| ()) }
///     });
///     let (_conn, _) = listener.accept().await.unwrap();
///     client.await.unwrap().unwrap();
///     std::fs::remove_dir_all(&dir).unwrap();
/// });
/// ```
pub struct UnixListener {
    io: Registered<mio::net::UnixListener>,
}

impl UnixListener {
    /// Binds to the socket file `path` (which must not exist).
    ///
    /// # Panics
    ///
    /// Outside of an event loop.
    ///
    /// ```
    /// use concur::aio::{self, net::{UnixListener, UnixStream}};
    /// aio::run(async {
    ///     let path = std::env::temp_dir().join(format!("concur-doc-bind-{}", std::process::id()));
    ///     let _ = std::fs::remove_file(&path);
    ///     let listener = UnixListener::bind(&path).unwrap();
    ///     let p = path.clone();
    ///     let client = aio::spawn(async move { UnixStream::connect(&p).await.map(|_| ()) });
    ///     let (_conn, _) = listener.accept().await.unwrap();
    ///     client.await.unwrap().unwrap();
    ///     std::fs::remove_file(&path).unwrap();
    /// });
    /// ```
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixListener> {
        Ok(UnixListener {
            io: Registered::new(
                mio::net::UnixListener::bind(path)?,
                "net::UnixListener::bind",
            )?,
        })
    }

    /// Waits for a connection.
    ///
    /// ```
    /// use concur::aio::{self, net::{UnixListener, UnixStream}};
    /// aio::run(async {
    ///     let path = std::env::temp_dir().join(format!("concur-doc-accept-{}", std::process::id()));
    ///     let _ = std::fs::remove_file(&path);
    ///     let listener = UnixListener::bind(&path).unwrap();
    ///     let p = path.clone();
    ///     let client = aio::spawn(async move { UnixStream::connect(&p).await.map(|_| ()) });
    ///     let (_conn, _) = listener.accept().await.unwrap();
    ///     client.await.unwrap().unwrap();
    ///     std::fs::remove_file(&path).unwrap();
    /// });
    /// ```
    pub async fn accept(&self) -> io::Result<(UnixStream, std::os::unix::net::SocketAddr)> {
        let (s, addr) = poll_fn(|cx| self.io.poll_io(cx, Direction::Read, |l| l.accept())).await?;
        Ok((
            UnixStream {
                io: Registered::new_stream(s, "net::UnixListener::accept")?,
            },
            addr,
        ))
    }
}

impl fmt::Debug for UnixListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixListener").finish_non_exhaustive()
    }
}

/// A Unix-domain stream connection. Implements [`AsyncRead`] and [`AsyncWrite`].
///
/// ```
/// use concur::aio::{self, net::UnixStream};
/// use concur::aio::io::{AsyncReadExt, AsyncWriteExt};
/// aio::run(async {
///     let (mut a, mut b) = UnixStream::pair().unwrap();
///     a.write_all(b"hi").await.unwrap();
///     a.close().await.unwrap();
///     let mut got = String::new();
///     b.read_to_string(&mut got).await.unwrap();
///     assert_eq!(got, "hi");
/// });
/// ```
pub struct UnixStream {
    io: Registered<mio::net::UnixStream>,
}

impl UnixStream {
    /// Connects to the socket file `path`.
    ///
    /// # Panics
    ///
    /// Outside of an event loop.
    ///
    /// ```
    /// use concur::aio::{self, net::{UnixListener, UnixStream}};
    /// aio::run(async {
    ///     let path = std::env::temp_dir().join(format!("concur-doc-connect-{}", std::process::id()));
    ///     let _ = std::fs::remove_file(&path);
    ///     let listener = UnixListener::bind(&path).unwrap();
    ///     let p = path.clone();
    ///     let client = aio::spawn(async move { UnixStream::connect(&p).await.map(|_| ()) });
    ///     let (_conn, _) = listener.accept().await.unwrap();
    ///     client.await.unwrap().unwrap();
    ///     std::fs::remove_file(&path).unwrap();
    /// });
    /// ```
    pub async fn connect(path: impl AsRef<Path>) -> io::Result<UnixStream> {
        let stream = UnixStream {
            io: Registered::new_stream(
                mio::net::UnixStream::connect(path)?,
                "net::UnixStream::connect",
            )?,
        };
        poll_fn(|cx| stream.io.poll_ready(cx, Direction::Write)).await;
        if let Some(e) = stream.io.source().take_error()? {
            return Err(e);
        }
        Ok(stream)
    }

    /// A connected pair, like `socketpair(2)`.
    ///
    /// # Panics
    ///
    /// Outside of an event loop.
    ///
    /// ```
    /// use concur::aio::{self, net::UnixStream};
    /// use concur::aio::io::{AsyncReadExt, AsyncWriteExt};
    /// aio::run(async {
    ///     let (mut a, mut b) = UnixStream::pair().unwrap();
    ///     a.write_all(b"ping").await.unwrap();
    ///     let mut buf = [0u8; 4];
    ///     b.read_exact(&mut buf).await.unwrap();
    ///     assert_eq!(&buf, b"ping");
    /// });
    /// ```
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = mio::net::UnixStream::pair()?;
        Ok((
            UnixStream {
                io: Registered::new_stream(a, "net::UnixStream::pair")?,
            },
            UnixStream {
                io: Registered::new_stream(b, "net::UnixStream::pair")?,
            },
        ))
    }

    /// The peer's address (unnamed for a [`pair`](Self::pair)).
    ///
    /// ```
    /// use concur::aio::{self, net::UnixStream};
    /// aio::run(async {
    ///     let (a, b) = UnixStream::pair().unwrap();
    ///     assert!(a.peer_addr().unwrap().as_pathname().is_none());
    ///     let _ = b;
    /// });
    /// ```
    pub fn peer_addr(&self) -> io::Result<std::os::unix::net::SocketAddr> {
        self.io.source().peer_addr()
    }

    /// The local address (unnamed for a [`pair`](Self::pair)).
    ///
    /// ```
    /// use concur::aio::{self, net::UnixStream};
    /// aio::run(async {
    ///     let (a, b) = UnixStream::pair().unwrap();
    ///     assert!(a.local_addr().unwrap().is_unnamed());
    ///     let _ = b;
    /// });
    /// ```
    pub fn local_addr(&self) -> io::Result<std::os::unix::net::SocketAddr> {
        self.io.source().local_addr()
    }

    /// Waits until the socket may be read (see [`TcpStream::readable`], which behaves
    /// the same). Cancel safe.
    ///
    /// [`TcpStream::readable`]: super::TcpStream::readable
    ///
    /// ```
    /// use concur::aio::io::AsyncWriteExt;
    /// use concur::aio::{self, net::UnixStream};
    /// aio::run(async {
    ///     let (a, b) = UnixStream::pair().unwrap();
    ///     let mut b = b;
    ///     b.write_all(b"x").await.unwrap();
    ///     a.readable().await.unwrap();
    ///     assert_eq!(a.try_read(&mut [0u8; 1]).unwrap(), 1);
    /// });
    /// ```
    pub async fn readable(&self) -> io::Result<()> {
        poll_fn(|cx| self.io.poll_stream_read_ready(cx)).await
    }

    /// Waits until the socket may be written (see [`TcpStream::writable`]). Cancel safe.
    ///
    /// [`TcpStream::writable`]: super::TcpStream::writable
    ///
    /// ```
    /// use concur::aio::{self, net::UnixStream};
    /// aio::run(async {
    ///     let (a, b) = UnixStream::pair().unwrap();
    ///     a.writable().await.unwrap();
    ///     assert_eq!(a.try_write(b"y").unwrap(), 1);
    ///     let _ = b;
    /// });
    /// ```
    pub async fn writable(&self) -> io::Result<()> {
        poll_fn(|cx| self.io.poll_stream_write_ready(cx)).await
    }

    /// Reads what is there without waiting; [`WouldBlock`](io::ErrorKind::WouldBlock)
    /// forgets the read readiness, so [`readable`](Self::readable) waits for new data.
    ///
    /// ```
    /// use concur::aio::{self, net::UnixStream};
    /// aio::run(async {
    ///     let (a, b) = UnixStream::pair().unwrap();
    ///     let e = a.try_read(&mut [0u8; 1]).unwrap_err();
    ///     assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock);
    ///     let _ = b;
    /// });
    /// ```
    pub fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.try_read_slice(buf, |mut s, b| s.read(b))
    }

    /// Writes what fits without waiting; [`WouldBlock`](io::ErrorKind::WouldBlock)
    /// forgets the write readiness, so [`writable`](Self::writable) waits for room.
    ///
    /// ```
    /// use concur::aio::{self, net::UnixStream};
    /// aio::run(async {
    ///     let (a, b) = UnixStream::pair().unwrap();
    ///     assert_eq!(a.try_write(b"now").unwrap(), 3);
    ///     let _ = b;
    /// });
    /// ```
    pub fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        self.io.try_stream_write(|mut s| s.write(buf))
    }

    /// Takes a connected [`std::os::unix::net::UnixStream`] onto the running loop; it is
    /// set non-blocking here (tokio leaves that to the caller).
    ///
    /// # Panics
    ///
    /// Outside of an event loop.
    ///
    /// ```
    /// use concur::aio::{self, io::AsyncReadExt, net::UnixStream};
    /// aio::run(async {
    ///     let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
    ///     std::io::Write::write_all(&mut b, b"std").unwrap();
    ///     let mut a = UnixStream::from_std(a).unwrap();
    ///     let mut buf = [0u8; 3];
    ///     a.read_exact(&mut buf).await.unwrap();
    ///     assert_eq!(&buf, b"std");
    /// });
    /// ```
    pub fn from_std(stream: std::os::unix::net::UnixStream) -> io::Result<UnixStream> {
        stream.set_nonblocking(true)?;
        Ok(UnixStream {
            io: Registered::new_stream(
                mio::net::UnixStream::from_std(stream),
                "net::UnixStream::from_std",
            )?,
        })
    }

    /// Takes the socket off the loop as a [`std::os::unix::net::UnixStream`], in blocking
    /// mode again (tokio's leaves it non-blocking). An error if the loop already took
    /// bytes from the socket that nobody has read (read ahead on epoll, received on
    /// io_uring): read them first. Writes the loop still holds (io_uring) are handed to
    /// the kernel first.
    ///
    /// ```
    /// use concur::aio::{self, io::AsyncWriteExt, net::UnixStream};
    /// aio::run(async {
    ///     let (a, mut b) = UnixStream::pair().unwrap();
    ///     b.write_all(b"to std").await.unwrap();
    ///     let mut a = a.into_std().unwrap();
    ///     let mut buf = [0u8; 6];
    ///     std::io::Read::read_exact(&mut a, &mut buf).unwrap(); // blocking, std
    ///     assert_eq!(&buf, b"to std");
    /// });
    /// ```
    pub fn into_std(self) -> io::Result<std::os::unix::net::UnixStream> {
        // The registration owns the descriptor, so keep a duplicate of it: dropping
        // `self` deregisters and closes the original, and the duplicate is the socket.
        self.io.detach_stream()?;
        let fd = self.io.source().as_fd().try_clone_to_owned()?;
        drop(self);
        let stream = std::os::unix::net::UnixStream::from(fd);
        stream.set_nonblocking(false)?;
        Ok(stream)
    }
}

impl fmt::Debug for UnixStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixStream").finish_non_exhaustive()
    }
}

stream_io!(UnixStream);

impl AsFd for UnixStream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.io.source().as_fd()
    }
}

impl AsRawFd for UnixStream {
    fn as_raw_fd(&self) -> RawFd {
        self.io.source().as_raw_fd()
    }
}
