//! Files on the loop: the `std::fs` calls, run on the default thread pool and awaited,
//! as `asyncio.to_thread(open(...).read)` (or `aiofiles`) and `tokio::fs` do.
//!
//! # Why files go to threads
//!
//! The loop waits on sockets with `epoll`: the kernel says when a socket has data, and
//! until then the loop runs other tasks. A regular file has no such moment. `poll` and
//! `select` report it readable and writable at all times, and `epoll` refuses it
//! outright (`EPERM`), because a read of a file never answers "not yet" (`EAGAIN`): it
//! just blocks the thread until the disk (or the network file system) answers. Called on
//! the loop thread, `std::fs::read` would freeze every task for that long.
//!
//! So each call here goes to the default thread pool of [`to_thread`], and the task
//! awaits its [`JoinHandle`] while the loop keeps running the others. A trip costs a
//! hand-off to another thread and back (microseconds), so:
//!
//! - whole-file helpers ([`read`], [`write()`], [`read_to_string`], [`copy`], ...) make a
//!   single trip, and are the cheapest way to handle a file you read or write at once;
//! - a [`File`] buffers: a read fetches up to a chunk (64 KiB by default, see
//!   [`File::set_max_buf_size`]) and serves the next reads from it; a write copies the
//!   bytes into a buffer, returns at once, and writes them in the background;
//! - [`read_dir`] fetches entries in batches.
//!
//! # Errors
//!
//! A failed call returns the [`io::Error`] of `std::fs`, with the same [`kind`], and for
//! the calls that take a path the message starts with the path (`std`'s does not name
//! it): `"/tmp/missing.txt: No such file or directory (os error 2)"`. The error from
//! `std` stays reachable as the [`source`] of the one returned. If the pool cannot run a
//! call (it panicked or was cancelled there), that too is an `io::Error`, never a panic
//! on the loop.
//!
//! A write to a [`File`] that fails in the background is reported by the next operation
//! on the file, or by [`flush`]/[`close`]: it is never lost, provided the file is flushed
//! or closed before it is dropped (dropping it lets the write finish, but no one is left
//! to hear how it went).
//!
//! ```
//! use concur::aio::{self, fs};
//! use futures_lite::{AsyncReadExt, AsyncWriteExt};
//!
//! let dir = std::env::temp_dir().join(format!("concur-doc-fs-{}", std::process::id()));
//! aio::run(async {
//!     fs::create_dir_all(&dir).await.unwrap();
//!     let path = dir.join("notes.txt");
//!
//!     let mut file = fs::File::create(&path).await.unwrap();
//!     file.write_all(b"one\n").await.unwrap(); // buffered: returns at once
//!     file.write_all(b"two\n").await.unwrap();
//!     file.close().await.unwrap(); // waits for the writes, reports their errors
//!
//!     let mut text = String::new();
//!     fs::File::open(&path).await.unwrap().read_to_string(&mut text).await.unwrap();
//!     assert_eq!(text, "one\ntwo\n");
//!     assert_eq!(fs::read_to_string(&path).await.unwrap(), text); // one trip
//!
//!     // Many files at once: the loop waits on all of them together.
//!     let names = ["a", "b", "c"];
//!     for name in names {
//!         fs::write(dir.join(name), name).await.unwrap();
//!     }
//!     let all = aio::gather(names.map(|name| fs::read(dir.join(name)))).await;
//!     assert_eq!(all.into_iter().map(Result::unwrap).collect::<Vec<_>>(), [b"a", b"b", b"c"]);
//!
//!     let err = fs::read(dir.join("missing")).await.unwrap_err();
//!     assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
//!     assert!(err.to_string().contains("missing"));
//!     fs::remove_dir_all(&dir).await.unwrap();
//! });
//! ```
//!
//! [`to_thread`]: crate::aio::to_thread
//! [`kind`]: io::Error::kind
//! [`source`]: std::error::Error::source
//! [`flush`]: https://docs.rs/futures-io/0.3/futures_io/trait.AsyncWrite.html#tymethod.poll_flush
//! [`close`]: https://docs.rs/futures-io/0.3/futures_io/trait.AsyncWrite.html#tymethod.poll_close
//! [`JoinHandle`]: crate::JoinHandle

use std::fmt;
use std::fs::{Metadata, Permissions};
use std::io;
use std::path::{Path, PathBuf};

use super::to_thread;
use crate::TaskError;

mod dir;
mod file;

pub use dir::{read_dir, DirEntry, ReadDir};
pub use file::{File, OpenOptions};

// ---------------------------------------------------------------------------------------
// Errors and the trip to the pool

/// An error of `std::fs` with the path it was about: `"{path}: {error}"`.
#[derive(Debug)]
struct PathError {
    path: String,
    error: io::Error,
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.error)
    }
}

impl std::error::Error for PathError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

/// `error`, its message prefixed with `path`, its kind kept.
fn with_path(path: &Path, error: io::Error) -> io::Error {
    with_name(path.display().to_string(), error)
}

/// `error`, its message prefixed with `from -> to`, its kind kept.
fn with_paths(from: &Path, to: &Path, error: io::Error) -> io::Error {
    with_name(format!("{} -> {}", from.display(), to.display()), error)
}

fn with_name(path: String, error: io::Error) -> io::Error {
    io::Error::new(error.kind(), PathError { path, error })
}

/// The error for a call that the pool did not run to its end.
fn pool_error(e: &TaskError) -> io::Error {
    io::Error::other(format!(
        "the file operation on the thread pool did not finish: {e}"
    ))
}

/// Runs `f` on the default pool and awaits it; what went wrong there is an `io::Error`.
async fn blocking<T, F>(f: F) -> io::Result<T>
where
    F: FnOnce() -> io::Result<T> + Send + 'static,
    T: Send + 'static,
{
    to_thread(f).await.unwrap_or_else(|e| Err(pool_error(&e)))
}

/// Runs `f(path)` on the default pool; an error names the path.
async fn on_path<T, F>(path: impl AsRef<Path>, f: F) -> io::Result<T>
where
    F: FnOnce(&Path) -> io::Result<T> + Send + 'static,
    T: Send + 'static,
{
    let path = path.as_ref().to_owned();
    let there = path.clone();
    blocking(move || f(&there))
        .await
        .map_err(|e| with_path(&path, e))
}

/// Runs `f(from, to)` on the default pool; an error names both paths.
async fn on_paths<T, F>(from: impl AsRef<Path>, to: impl AsRef<Path>, f: F) -> io::Result<T>
where
    F: FnOnce(&Path, &Path) -> io::Result<T> + Send + 'static,
    T: Send + 'static,
{
    let (from, to) = (from.as_ref().to_owned(), to.as_ref().to_owned());
    let (a, b) = (from.clone(), to.clone());
    blocking(move || f(&a, &b))
        .await
        .map_err(|e| with_paths(&from, &to, e))
}

// ---------------------------------------------------------------------------------------
// Whole-file and path functions

/// Reads the whole file: [`std::fs::read`], on the thread pool.
///
/// ```
/// use concur::aio::{self, fs};
/// let path = std::env::temp_dir().join(format!("concur-doc-read-{}", std::process::id()));
/// aio::run(async {
///     fs::write(&path, [1u8, 2, 3]).await.unwrap();
///     assert_eq!(fs::read(&path).await.unwrap(), [1, 2, 3]);
///     fs::remove_file(&path).await.unwrap();
/// });
/// ```
pub async fn read(path: impl AsRef<Path>) -> io::Result<Vec<u8>> {
    on_path(path, |p| std::fs::read(p)).await
}

/// Reads the whole file as UTF-8: [`std::fs::read_to_string`], on the thread pool.
///
/// ```
/// use concur::aio::{self, fs};
/// let path = std::env::temp_dir().join(format!("concur-doc-rts-{}", std::process::id()));
/// aio::run(async {
///     fs::write(&path, "héllo").await.unwrap();
///     assert_eq!(fs::read_to_string(&path).await.unwrap(), "héllo");
///     fs::remove_file(&path).await.unwrap();
/// });
/// ```
pub async fn read_to_string(path: impl AsRef<Path>) -> io::Result<String> {
    on_path(path, |p| std::fs::read_to_string(p)).await
}

/// Creates or truncates the file and writes `contents` (copied first, to travel to the
/// pool): [`std::fs::write`], on the thread pool.
///
/// ```
/// use concur::aio::{self, fs};
/// let path = std::env::temp_dir().join(format!("concur-doc-write-{}", std::process::id()));
/// aio::run(async {
///     fs::write(&path, b"first").await.unwrap();
///     fs::write(&path, String::from("second")).await.unwrap(); // replaces
///     assert_eq!(fs::read(&path).await.unwrap(), b"second");
///     fs::remove_file(&path).await.unwrap();
/// });
/// ```
pub async fn write(path: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> io::Result<()> {
    let contents = contents.as_ref().to_vec();
    on_path(path, move |p| std::fs::write(p, contents)).await
}

/// Copies a file's contents and permissions; returns the number of bytes copied:
/// [`std::fs::copy`], on the thread pool.
///
/// ```
/// use concur::aio::{self, fs};
/// let dir = std::env::temp_dir().join(format!("concur-doc-copy-{}", std::process::id()));
/// aio::run(async {
///     fs::create_dir_all(&dir).await.unwrap();
///     fs::write(dir.join("a"), "data").await.unwrap();
///     assert_eq!(fs::copy(dir.join("a"), dir.join("b")).await.unwrap(), 4);
///     assert_eq!(fs::read(dir.join("b")).await.unwrap(), b"data");
///     fs::remove_dir_all(&dir).await.unwrap();
/// });
/// ```
pub async fn copy(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<u64> {
    on_paths(from, to, |a, b| std::fs::copy(a, b)).await
}

/// Creates a directory (its parent must exist): [`std::fs::create_dir`], on the thread
/// pool.
///
/// ```
/// use concur::aio::{self, fs};
/// let dir = std::env::temp_dir().join(format!("concur-doc-mkdir-{}", std::process::id()));
/// aio::run(async {
///     fs::create_dir(&dir).await.unwrap();
///     let err = fs::create_dir(&dir).await.unwrap_err();
///     assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists);
///     fs::remove_dir(&dir).await.unwrap();
/// });
/// ```
pub async fn create_dir(path: impl AsRef<Path>) -> io::Result<()> {
    on_path(path, |p| std::fs::create_dir(p)).await
}

/// Creates a directory and any missing parents: [`std::fs::create_dir_all`], on the
/// thread pool.
///
/// ```
/// use concur::aio::{self, fs};
/// let top = std::env::temp_dir().join(format!("concur-doc-mkdirs-{}", std::process::id()));
/// aio::run(async {
///     fs::create_dir_all(top.join("a/b/c")).await.unwrap();
///     assert!(fs::metadata(top.join("a/b/c")).await.unwrap().is_dir());
///     fs::remove_dir_all(&top).await.unwrap();
/// });
/// ```
pub async fn create_dir_all(path: impl AsRef<Path>) -> io::Result<()> {
    on_path(path, |p| std::fs::create_dir_all(p)).await
}

/// Removes a file: [`std::fs::remove_file`], on the thread pool.
///
/// ```
/// use concur::aio::{self, fs};
/// let path = std::env::temp_dir().join(format!("concur-doc-rm-{}", std::process::id()));
/// aio::run(async {
///     fs::write(&path, "x").await.unwrap();
///     fs::remove_file(&path).await.unwrap();
///     assert!(!fs::try_exists(&path).await.unwrap());
/// });
/// ```
pub async fn remove_file(path: impl AsRef<Path>) -> io::Result<()> {
    on_path(path, |p| std::fs::remove_file(p)).await
}

/// Removes an empty directory: [`std::fs::remove_dir`], on the thread pool.
///
/// ```
/// use concur::aio::{self, fs};
/// let dir = std::env::temp_dir().join(format!("concur-doc-rmdir-{}", std::process::id()));
/// aio::run(async {
///     fs::create_dir(&dir).await.unwrap();
///     fs::remove_dir(&dir).await.unwrap();
///     assert!(!fs::try_exists(&dir).await.unwrap());
/// });
/// ```
pub async fn remove_dir(path: impl AsRef<Path>) -> io::Result<()> {
    on_path(path, |p| std::fs::remove_dir(p)).await
}

/// Removes a directory and everything in it: [`std::fs::remove_dir_all`], on the thread
/// pool.
///
/// ```
/// use concur::aio::{self, fs};
/// let dir = std::env::temp_dir().join(format!("concur-doc-rmall-{}", std::process::id()));
/// aio::run(async {
///     fs::create_dir_all(dir.join("sub")).await.unwrap();
///     fs::write(dir.join("sub/file"), "x").await.unwrap();
///     fs::remove_dir_all(&dir).await.unwrap();
///     assert!(!fs::try_exists(&dir).await.unwrap());
/// });
/// ```
pub async fn remove_dir_all(path: impl AsRef<Path>) -> io::Result<()> {
    on_path(path, |p| std::fs::remove_dir_all(p)).await
}

/// Renames a file or directory, replacing `to` if it is a file: [`std::fs::rename`], on
/// the thread pool. An error names both paths.
///
/// ```
/// use concur::aio::{self, fs};
/// let dir = std::env::temp_dir().join(format!("concur-doc-mv-{}", std::process::id()));
/// aio::run(async {
///     fs::create_dir_all(&dir).await.unwrap();
///     fs::write(dir.join("old"), "x").await.unwrap();
///     fs::rename(dir.join("old"), dir.join("new")).await.unwrap();
///     assert_eq!(fs::read(dir.join("new")).await.unwrap(), b"x");
///     let err = fs::rename(dir.join("old"), dir.join("newer")).await.unwrap_err();
///     assert!(err.to_string().contains("old") && err.to_string().contains("newer"));
///     fs::remove_dir_all(&dir).await.unwrap();
/// });
/// ```
pub async fn rename(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<()> {
    on_paths(from, to, |a, b| std::fs::rename(a, b)).await
}

/// The metadata of a file or directory, following symbolic links: [`std::fs::metadata`],
/// on the thread pool.
///
/// ```
/// use concur::aio::{self, fs};
/// let path = std::env::temp_dir().join(format!("concur-doc-meta-{}", std::process::id()));
/// aio::run(async {
///     fs::write(&path, "1234").await.unwrap();
///     let meta = fs::metadata(&path).await.unwrap();
///     assert!(meta.is_file());
///     assert_eq!(meta.len(), 4);
///     fs::remove_file(&path).await.unwrap();
/// });
/// ```
pub async fn metadata(path: impl AsRef<Path>) -> io::Result<Metadata> {
    on_path(path, |p| std::fs::metadata(p)).await
}

/// The metadata of a path without following a symbolic link at its end:
/// [`std::fs::symlink_metadata`], on the thread pool.
///
/// ```
/// use concur::aio::{self, fs};
/// let dir = std::env::temp_dir().join(format!("concur-doc-lmeta-{}", std::process::id()));
/// aio::run(async {
///     fs::create_dir_all(&dir).await.unwrap();
///     fs::write(dir.join("target"), "x").await.unwrap();
///     std::os::unix::fs::symlink(dir.join("target"), dir.join("link")).unwrap();
///     assert!(fs::symlink_metadata(dir.join("link")).await.unwrap().is_symlink());
///     assert!(fs::symlink_metadata(dir.join("target")).await.unwrap().is_file());
///     fs::remove_dir_all(&dir).await.unwrap();
/// });
/// ```
pub async fn symlink_metadata(path: impl AsRef<Path>) -> io::Result<Metadata> {
    on_path(path, |p| std::fs::symlink_metadata(p)).await
}

/// The absolute path with every symbolic link and `.`/`..` resolved:
/// [`std::fs::canonicalize`], on the thread pool.
///
/// ```
/// use concur::aio::{self, fs};
/// let dir = std::env::temp_dir().join(format!("concur-doc-canon-{}", std::process::id()));
/// aio::run(async {
///     fs::create_dir_all(dir.join("sub")).await.unwrap();
///     let a = fs::canonicalize(dir.join("sub/..")).await.unwrap();
///     assert_eq!(a, fs::canonicalize(&dir).await.unwrap());
///     assert!(a.is_absolute());
///     fs::remove_dir_all(&dir).await.unwrap();
/// });
/// ```
pub async fn canonicalize(path: impl AsRef<Path>) -> io::Result<PathBuf> {
    on_path(path, |p| std::fs::canonicalize(p)).await
}

/// `Ok(true)` if the path exists, `Ok(false)` if it surely does not, an error if that
/// cannot be told (for example, a parent directory may not be searched):
/// [`std::fs::exists`], on the thread pool.
///
/// ```
/// use concur::aio::{self, fs};
/// let path = std::env::temp_dir().join(format!("concur-doc-exists-{}", std::process::id()));
/// aio::run(async {
///     assert!(!fs::try_exists(&path).await.unwrap());
///     fs::write(&path, "").await.unwrap();
///     assert!(fs::try_exists(&path).await.unwrap());
///     fs::remove_file(&path).await.unwrap();
/// });
/// ```
pub async fn try_exists(path: impl AsRef<Path>) -> io::Result<bool> {
    on_path(path, |p| std::fs::exists(p)).await
}

/// Makes `link` a new name of the file `original`: [`std::fs::hard_link`], on the thread
/// pool. An error names both paths.
///
/// ```
/// use concur::aio::{self, fs};
/// let dir = std::env::temp_dir().join(format!("concur-doc-ln-{}", std::process::id()));
/// aio::run(async {
///     fs::create_dir_all(&dir).await.unwrap();
///     fs::write(dir.join("a"), "shared").await.unwrap();
///     fs::hard_link(dir.join("a"), dir.join("b")).await.unwrap();
///     assert_eq!(fs::read(dir.join("b")).await.unwrap(), b"shared");
///     fs::remove_dir_all(&dir).await.unwrap();
/// });
/// ```
pub async fn hard_link(original: impl AsRef<Path>, link: impl AsRef<Path>) -> io::Result<()> {
    on_paths(original, link, |a, b| std::fs::hard_link(a, b)).await
}

/// The target of a symbolic link: [`std::fs::read_link`], on the thread pool.
///
/// ```
/// use concur::aio::{self, fs};
/// let dir = std::env::temp_dir().join(format!("concur-doc-readlink-{}", std::process::id()));
/// aio::run(async {
///     fs::create_dir_all(&dir).await.unwrap();
///     std::os::unix::fs::symlink("somewhere", dir.join("link")).unwrap();
///     assert_eq!(fs::read_link(dir.join("link")).await.unwrap(), std::path::Path::new("somewhere"));
///     let err = fs::read_link(dir.join("nothing")).await.unwrap_err();
///     assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
///     fs::remove_dir_all(&dir).await.unwrap();
/// });
/// ```
pub async fn read_link(path: impl AsRef<Path>) -> io::Result<PathBuf> {
    on_path(path, |p| std::fs::read_link(p)).await
}

/// Changes the permissions of a file or directory: [`std::fs::set_permissions`], on the
/// thread pool.
///
/// ```
/// use concur::aio::{self, fs};
/// let path = std::env::temp_dir().join(format!("concur-doc-chmod-{}", std::process::id()));
/// aio::run(async {
///     fs::write(&path, "x").await.unwrap();
///     let mut perm = fs::metadata(&path).await.unwrap().permissions();
///     perm.set_readonly(true);
///     fs::set_permissions(&path, perm).await.unwrap();
///     assert!(fs::metadata(&path).await.unwrap().permissions().readonly());
///     fs::remove_file(&path).await.unwrap();
/// });
/// ```
pub async fn set_permissions(path: impl AsRef<Path>, perm: Permissions) -> io::Result<()> {
    on_path(path, move |p| std::fs::set_permissions(p, perm)).await
}
