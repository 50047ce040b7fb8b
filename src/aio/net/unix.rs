//! [`UnixListener`] and [`UnixStream`]: Unix-domain stream sockets on the loop.

use std::fmt;
use std::future::poll_fn;
use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_io::{AsyncRead, AsyncWrite};

use crate::aio::reactor::{Direction, Registered};

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
                io: Registered::new(s, "net::UnixListener::accept")?,
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
/// use futures_lite::{AsyncReadExt, AsyncWriteExt};
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
            io: Registered::new(
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
    /// use futures_lite::{AsyncReadExt, AsyncWriteExt};
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
                io: Registered::new(a, "net::UnixStream::pair")?,
            },
            UnixStream {
                io: Registered::new(b, "net::UnixStream::pair")?,
            },
        ))
    }
}

impl fmt::Debug for UnixStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixStream").finish_non_exhaustive()
    }
}

stream_io!(UnixStream);
