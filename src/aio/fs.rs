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
//! [`flush`]: AsyncWrite::poll_flush
//! [`close`]: AsyncWrite::poll_close

use std::collections::VecDeque;
use std::ffi::OsString;
use std::fmt;
use std::fs::{FileType, Metadata, Permissions};
use std::future::{poll_fn, Future};
use std::io::{self, IoSlice, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use futures_io::{AsyncRead, AsyncSeek, AsyncWrite};

use super::to_thread;
use crate::{JoinHandle, TaskError};

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

// ---------------------------------------------------------------------------------------
// Directories

/// How many entries one trip to the pool fetches.
const DIR_BATCH: usize = 32;

/// Opens a directory for listing: [`std::fs::read_dir`], on the thread pool. Take the
/// entries with [`ReadDir::next_entry`]; `.` and `..` are not among them, and the order
/// is the file system's.
///
/// ```
/// use concur::aio::{self, fs};
/// let dir = std::env::temp_dir().join(format!("concur-doc-ls-{}", std::process::id()));
/// aio::run(async {
///     fs::create_dir_all(&dir).await.unwrap();
///     for name in ["b", "a", "c"] {
///         fs::write(dir.join(name), name).await.unwrap();
///     }
///     let mut names = Vec::new();
///     let mut entries = fs::read_dir(&dir).await.unwrap();
///     while let Some(entry) = entries.next_entry().await.unwrap() {
///         names.push(entry.file_name().into_string().unwrap());
///     }
///     names.sort();
///     assert_eq!(names, ["a", "b", "c"]);
///     fs::remove_dir_all(&dir).await.unwrap();
/// });
/// ```
pub async fn read_dir(path: impl AsRef<Path>) -> io::Result<ReadDir> {
    let path: Arc<Path> = path.as_ref().into();
    let std = on_path(&*path, |p| std::fs::read_dir(p)).await?;
    Ok(ReadDir {
        path,
        entries: VecDeque::new(),
        std: Some(std),
        fetching: None,
    })
}

/// A batch of entries and the listing to go on with (`None`: the listing is over).
type Batch = (VecDeque<io::Result<DirEntry>>, Option<std::fs::ReadDir>);

/// The entries of a directory, fetched from the thread pool in batches of 32: made by
/// [`read_dir`].
///
/// [`next_entry`](Self::next_entry) is cancel-safe: a batch being fetched when its future
/// is dropped is kept for the next call.
///
/// ```
/// use concur::aio::{self, fs};
/// let dir = std::env::temp_dir().join(format!("concur-doc-readdir-{}", std::process::id()));
/// aio::run(async {
///     fs::create_dir_all(&dir).await.unwrap();
///     for i in 0..100 {
///         fs::write(dir.join(i.to_string()), "").await.unwrap();
///     }
///     let mut entries = fs::read_dir(&dir).await.unwrap(); // 4 trips to the pool for 100
///     let mut n = 0;
///     while entries.next_entry().await.unwrap().is_some() {
///         n += 1;
///     }
///     assert_eq!(n, 100);
///     fs::remove_dir_all(&dir).await.unwrap();
/// });
/// ```
pub struct ReadDir {
    /// The directory, for errors.
    path: Arc<Path>,
    /// Fetched and not taken yet.
    entries: VecDeque<io::Result<DirEntry>>,
    /// The listing, while it is here (not on the pool) and not over.
    std: Option<std::fs::ReadDir>,
    /// The batch being fetched.
    fetching: Option<JoinHandle<Batch>>,
}

impl ReadDir {
    /// The next entry, or `None` at the end of the listing. An error reading the
    /// directory names it; the listing may go on after it.
    ///
    /// ```
    /// use concur::aio::{self, fs};
    /// let dir = std::env::temp_dir().join(format!("concur-doc-next-{}", std::process::id()));
    /// aio::run(async {
    ///     fs::create_dir_all(&dir).await.unwrap();
    ///     fs::write(dir.join("only"), "").await.unwrap();
    ///     let mut entries = fs::read_dir(&dir).await.unwrap();
    ///     let entry = entries.next_entry().await.unwrap().unwrap();
    ///     assert_eq!(entry.file_name(), "only");
    ///     assert!(entries.next_entry().await.unwrap().is_none());
    ///     assert!(entries.next_entry().await.unwrap().is_none()); // and so on
    ///     fs::remove_dir_all(&dir).await.unwrap();
    /// });
    /// ```
    pub async fn next_entry(&mut self) -> io::Result<Option<DirEntry>> {
        poll_fn(|cx| self.poll_next_entry(cx)).await
    }

    /// The polling form of [`next_entry`](Self::next_entry), for hand-written futures and
    /// streams.
    ///
    /// ```
    /// use std::future::poll_fn;
    /// use concur::aio::{self, fs};
    /// let dir = std::env::temp_dir().join(format!("concur-doc-pollnext-{}", std::process::id()));
    /// aio::run(async {
    ///     fs::create_dir_all(&dir).await.unwrap();
    ///     let mut entries = fs::read_dir(&dir).await.unwrap();
    ///     assert!(poll_fn(|cx| entries.poll_next_entry(cx)).await.unwrap().is_none());
    ///     fs::remove_dir_all(&dir).await.unwrap();
    /// });
    /// ```
    pub fn poll_next_entry(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Option<DirEntry>>> {
        loop {
            if let Some(entry) = self.entries.pop_front() {
                return Poll::Ready(entry.map(Some));
            }
            if let Some(fetching) = &mut self.fetching {
                let fetched = ready!(Pin::new(fetching).poll(cx));
                self.fetching = None;
                match fetched {
                    Ok((entries, std)) => {
                        self.entries = entries;
                        self.std = std;
                        continue;
                    }
                    // The listing stayed on the pool: it is over.
                    Err(e) => return Poll::Ready(Err(with_path(&self.path, pool_error(&e)))),
                }
            }
            let Some(mut std) = self.std.take() else {
                return Poll::Ready(Ok(None));
            };
            let path = Arc::clone(&self.path);
            self.fetching = Some(to_thread(move || {
                let mut batch = VecDeque::with_capacity(DIR_BATCH);
                for _ in 0..DIR_BATCH {
                    match std.next() {
                        Some(entry) => batch
                            .push_back(entry.map(DirEntry::new).map_err(|e| with_path(&path, e))),
                        None => return (batch, None),
                    }
                }
                (batch, Some(std))
            }));
        }
    }
}

impl fmt::Debug for ReadDir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadDir")
            .field("path", &self.path)
            .field("fetched", &self.entries.len())
            .field("fetching", &self.fetching.is_some())
            .finish()
    }
}

/// An entry of a directory listing, from [`ReadDir::next_entry`].
///
/// ```
/// use concur::aio::{self, fs};
/// let dir = std::env::temp_dir().join(format!("concur-doc-entry-{}", std::process::id()));
/// aio::run(async {
///     fs::create_dir_all(dir.join("sub")).await.unwrap();
///     let mut entries = fs::read_dir(&dir).await.unwrap();
///     let entry = entries.next_entry().await.unwrap().unwrap();
///     assert_eq!(entry.path(), dir.join("sub"));
///     assert!(entry.file_type().await.unwrap().is_dir());
///     fs::remove_dir_all(&dir).await.unwrap();
/// });
/// ```
#[derive(Debug, Clone)]
pub struct DirEntry {
    std: Arc<std::fs::DirEntry>,
    /// Read on the pool with the entry (the listing usually knows it already).
    file_type: Option<FileType>,
}

impl DirEntry {
    fn new(std: std::fs::DirEntry) -> Self {
        DirEntry {
            file_type: std.file_type().ok(),
            std: Arc::new(std),
        }
    }

    /// The full path: the directory given to [`read_dir`] joined with the file name.
    ///
    /// ```
    /// use concur::aio::{self, fs};
    /// let dir = std::env::temp_dir().join(format!("concur-doc-entrypath-{}", std::process::id()));
    /// aio::run(async {
    ///     fs::create_dir_all(&dir).await.unwrap();
    ///     fs::write(dir.join("f.txt"), "").await.unwrap();
    ///     let entry = fs::read_dir(&dir).await.unwrap().next_entry().await.unwrap().unwrap();
    ///     assert_eq!(entry.path(), dir.join("f.txt"));
    ///     fs::remove_dir_all(&dir).await.unwrap();
    /// });
    /// ```
    pub fn path(&self) -> PathBuf {
        self.std.path()
    }

    /// The bare file name, without the directory.
    ///
    /// ```
    /// use concur::aio::{self, fs};
    /// let dir = std::env::temp_dir().join(format!("concur-doc-entryname-{}", std::process::id()));
    /// aio::run(async {
    ///     fs::create_dir_all(&dir).await.unwrap();
    ///     fs::write(dir.join("f.txt"), "").await.unwrap();
    ///     let entry = fs::read_dir(&dir).await.unwrap().next_entry().await.unwrap().unwrap();
    ///     assert_eq!(entry.file_name(), "f.txt");
    ///     fs::remove_dir_all(&dir).await.unwrap();
    /// });
    /// ```
    pub fn file_name(&self) -> OsString {
        self.std.file_name()
    }

    /// The entry's metadata, not following a symbolic link:
    /// [`std::fs::DirEntry::metadata`], on the thread pool. An error names the path.
    ///
    /// ```
    /// use concur::aio::{self, fs};
    /// let dir = std::env::temp_dir().join(format!("concur-doc-entrymeta-{}", std::process::id()));
    /// aio::run(async {
    ///     fs::create_dir_all(&dir).await.unwrap();
    ///     fs::write(dir.join("f"), "12345").await.unwrap();
    ///     let entry = fs::read_dir(&dir).await.unwrap().next_entry().await.unwrap().unwrap();
    ///     assert_eq!(entry.metadata().await.unwrap().len(), 5);
    ///     fs::remove_dir_all(&dir).await.unwrap();
    /// });
    /// ```
    pub async fn metadata(&self) -> io::Result<Metadata> {
        let std = Arc::clone(&self.std);
        blocking(move || std.metadata())
            .await
            .map_err(|e| with_path(&self.std.path(), e))
    }

    /// The entry's file type, not following a symbolic link. Usually known from the
    /// listing already; otherwise read on the thread pool.
    ///
    /// ```
    /// use concur::aio::{self, fs};
    /// let dir = std::env::temp_dir().join(format!("concur-doc-entrytype-{}", std::process::id()));
    /// aio::run(async {
    ///     fs::create_dir_all(&dir).await.unwrap();
    ///     fs::write(dir.join("f"), "").await.unwrap();
    ///     let entry = fs::read_dir(&dir).await.unwrap().next_entry().await.unwrap().unwrap();
    ///     let t = entry.file_type().await.unwrap();
    ///     assert!(t.is_file() && !t.is_dir());
    ///     fs::remove_dir_all(&dir).await.unwrap();
    /// });
    /// ```
    pub async fn file_type(&self) -> io::Result<FileType> {
        if let Some(t) = self.file_type {
            return Ok(t);
        }
        let std = Arc::clone(&self.std);
        blocking(move || std.file_type())
            .await
            .map_err(|e| with_path(&self.std.path(), e))
    }
}

// ---------------------------------------------------------------------------------------
// File

/// The default for [`File::set_max_buf_size`]: 64 KiB.
const DEFAULT_MAX_BUF_SIZE: usize = 64 * 1024;

/// An open file on the loop: [`std::fs::File`], whose calls run on the default thread
/// pool. Implements [`AsyncRead`], [`AsyncWrite`] and [`AsyncSeek`], so the extension
/// traits of `futures-lite` (or `futures::io`) give it `read_to_end`, `write_all`,
/// `seek` and the rest.
///
/// # How it works
///
/// The file and a buffer move together to the pool for each operation and come back
/// with its result, one operation at a time:
///
/// - A **read** fetches up to a chunk (64 KiB by default, see
///   [`set_max_buf_size`](Self::set_max_buf_size)) into the buffer and hands out what
///   was asked; the next reads are served from the buffer without a trip.
/// - A **write** copies the bytes (up to a chunk) into the buffer, sends the buffer to be
///   written, and returns at once: the caller goes on filling the next chunk while the
///   pool writes this one. The next operation waits for it first, and a write that
///   failed is reported then, by that operation, or by `flush` / `close`, which wait for
///   the writes in flight. So **flush or close a file you wrote** before you drop it:
///   dropping it lets the write in flight finish, but its error has no one to go to.
///   (The bytes reach the operating system; [`sync_all`](Self::sync_all) puts them on
///   the disk.)
/// - A **seek** waits for the work in flight and drops what was read ahead (a seek from
///   the current position counts from where the reader is, not from where the read-ahead
///   went). A write after a read also starts where the reader is.
///
/// ```
/// use std::io::SeekFrom;
/// use concur::aio::{self, fs::File};
/// use futures_lite::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
///
/// let path = std::env::temp_dir().join(format!("concur-doc-file-{}", std::process::id()));
/// aio::run(async {
///     let mut f = File::options().read(true).write(true).create(true).truncate(true)
///         .open(&path).await.unwrap();
///     f.write_all(b"hello world").await.unwrap();
///     f.seek(SeekFrom::Start(6)).await.unwrap();
///     let mut word = String::new();
///     f.read_to_string(&mut word).await.unwrap();
///     assert_eq!(word, "world");
///     f.close().await.unwrap();
///     std::fs::remove_file(&path).unwrap();
/// });
/// ```
pub struct File {
    state: State,
    /// The most a read fetches or a write carries in one trip.
    max_buf_size: usize,
    /// What the seek in flight was asked for, to tell its result from that of a seek
    /// whose future was dropped.
    seek: Option<SeekFrom>,
}

/// Where the file is.
enum State {
    /// Here, nothing in flight; the buffer may hold bytes read ahead (never bytes to
    /// write: a write leaves at once).
    Idle(std::fs::File, Buf),
    /// On the pool, with the buffer, doing an operation.
    Busy(JoinHandle<Done>),
    /// Gone: a job on the pool did not finish (a panic, a cancellation), and the file
    /// went with it. Every operation now fails.
    Lost(TaskError),
}

/// What a job on the pool gives back: its outcome, the buffer and the file.
struct Done {
    op: Operation,
    buf: Buf,
    file: std::fs::File,
}

/// The outcome of a job.
enum Operation {
    /// Bytes now in the buffer (0: the end of the file).
    Read(io::Result<usize>),
    /// The buffer was written (and emptied).
    Write(io::Result<()>),
    /// The new position.
    Seek(io::Result<u64>),
    /// `sync_all`, `sync_data`, `set_len`.
    Sync(io::Result<()>),
    /// `metadata`.
    Metadata(io::Result<Metadata>),
}

/// Bytes read ahead (`data[pos..]`), or bytes to write (on their way to the pool).
#[derive(Debug, Default)]
struct Buf {
    data: Vec<u8>,
    pos: usize,
}

impl Buf {
    fn unread(&self) -> usize {
        self.data.len() - self.pos
    }

    /// Copies out as much as fits in `dst`.
    fn copy_to(&mut self, dst: &mut [u8]) -> usize {
        let n = self.unread().min(dst.len());
        dst[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        if self.pos == self.data.len() {
            self.clear();
        }
        n
    }

    /// Empties the buffer; returns how many bytes read ahead it dropped.
    fn discard(&mut self) -> usize {
        let n = self.unread();
        self.clear();
        n
    }

    fn clear(&mut self) {
        self.data.clear();
        self.pos = 0;
    }

    /// On the pool: one read of up to `chunk` bytes.
    fn read_from(&mut self, file: &mut std::fs::File, chunk: usize) -> io::Result<usize> {
        self.clear();
        self.data.resize(chunk, 0);
        let res = loop {
            match file.read(&mut self.data) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                res => break res,
            }
        };
        self.data.truncate(*res.as_ref().unwrap_or(&0));
        res
    }

    /// On the pool: writes all of the buffer, which is empty afterwards.
    fn write_to(&mut self, file: &mut std::fs::File) -> io::Result<()> {
        let res = file.write_all(&self.data[self.pos..]);
        self.clear();
        res
    }
}

/// On the pool: moves the file position back over `n` bytes read ahead, so that the
/// position is the reader's again.
fn give_back(file: &mut std::fs::File, n: usize) -> io::Result<()> {
    if n == 0 {
        return Ok(());
    }
    let back = i64::try_from(n).map_err(|_| io::Error::other("read-ahead too large"))?;
    file.seek(SeekFrom::Current(-back)).map(drop)
}

/// The error of every operation on a lost file.
fn lost(e: &TaskError) -> io::Error {
    io::Error::other(format!(
        "the file is lost: a job on the thread pool did not finish: {e}"
    ))
}

impl File {
    /// Opens a file for reading: [`std::fs::File::open`], on the thread pool. An error
    /// names the path.
    ///
    /// ```
    /// use concur::aio::{self, fs::{self, File}};
    /// use futures_lite::AsyncReadExt;
    /// let path = std::env::temp_dir().join(format!("concur-doc-open-{}", std::process::id()));
    /// aio::run(async {
    ///     fs::write(&path, "contents").await.unwrap();
    ///     let mut s = String::new();
    ///     File::open(&path).await.unwrap().read_to_string(&mut s).await.unwrap();
    ///     assert_eq!(s, "contents");
    ///     fs::remove_file(&path).await.unwrap();
    ///     let err = File::open(&path).await.unwrap_err();
    ///     assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    ///     assert!(err.to_string().starts_with(&path.display().to_string()));
    /// });
    /// ```
    pub async fn open(path: impl AsRef<Path>) -> io::Result<File> {
        OpenOptions::new().read(true).open(path).await
    }

    /// Opens a file for writing, creating it or truncating it: [`std::fs::File::create`],
    /// on the thread pool.
    ///
    /// ```
    /// use concur::aio::{self, fs::{self, File}};
    /// use futures_lite::AsyncWriteExt;
    /// let path = std::env::temp_dir().join(format!("concur-doc-create-{}", std::process::id()));
    /// aio::run(async {
    ///     let mut f = File::create(&path).await.unwrap();
    ///     f.write_all(b"new").await.unwrap();
    ///     f.close().await.unwrap();
    ///     assert_eq!(fs::read(&path).await.unwrap(), b"new");
    ///     fs::remove_file(&path).await.unwrap();
    /// });
    /// ```
    pub async fn create(path: impl AsRef<Path>) -> io::Result<File> {
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .await
    }

    /// Creates a new file for reading and writing; fails with
    /// [`AlreadyExists`](io::ErrorKind::AlreadyExists) if it exists (atomically):
    /// [`std::fs::File::create_new`], on the thread pool.
    ///
    /// ```
    /// use concur::aio::{self, fs::{self, File}};
    /// let path = std::env::temp_dir().join(format!("concur-doc-createnew-{}", std::process::id()));
    /// aio::run(async {
    ///     File::create_new(&path).await.unwrap();
    ///     let err = File::create_new(&path).await.unwrap_err();
    ///     assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists);
    ///     fs::remove_file(&path).await.unwrap();
    /// });
    /// ```
    pub async fn create_new(path: impl AsRef<Path>) -> io::Result<File> {
        OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(path)
            .await
    }

    /// Options to open a file with: [`std::fs::File::options`].
    ///
    /// ```
    /// use concur::aio::{self, fs::{self, File}};
    /// use futures_lite::AsyncWriteExt;
    /// let path = std::env::temp_dir().join(format!("concur-doc-options-{}", std::process::id()));
    /// aio::run(async {
    ///     fs::write(&path, "log:").await.unwrap();
    ///     let mut f = File::options().append(true).open(&path).await.unwrap();
    ///     f.write_all(b" more").await.unwrap();
    ///     f.close().await.unwrap();
    ///     assert_eq!(fs::read(&path).await.unwrap(), b"log: more");
    ///     fs::remove_file(&path).await.unwrap();
    /// });
    /// ```
    pub fn options() -> OpenOptions {
        OpenOptions::new()
    }

    /// Wraps an open [`std::fs::File`]; its position is where reading and writing start.
    ///
    /// ```
    /// use concur::aio::{self, fs::File};
    /// use futures_lite::AsyncReadExt;
    /// let path = std::env::temp_dir().join(format!("concur-doc-fromstd-{}", std::process::id()));
    /// std::fs::write(&path, "abc").unwrap();
    /// let std_file = std::fs::File::open(&path).unwrap();
    /// aio::run(async {
    ///     let mut f = File::from_std(std_file);
    ///     let mut s = String::new();
    ///     f.read_to_string(&mut s).await.unwrap();
    ///     assert_eq!(s, "abc");
    /// });
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn from_std(file: std::fs::File) -> File {
        File {
            state: State::Idle(file, Buf::default()),
            max_buf_size: DEFAULT_MAX_BUF_SIZE,
            seek: None,
        }
    }

    /// Waits for the work in flight and returns the [`std::fs::File`], its position where
    /// this file's reader was (bytes read ahead are given back). A write that failed in
    /// the background is reported here (and the file is closed).
    ///
    /// ```
    /// use std::io::Read;
    /// use concur::aio::{self, fs::{self, File}};
    /// use futures_lite::AsyncReadExt;
    /// let path = std::env::temp_dir().join(format!("concur-doc-intostd-{}", std::process::id()));
    /// aio::run(async {
    ///     fs::write(&path, "head,tail").await.unwrap();
    ///     let mut f = File::open(&path).await.unwrap();
    ///     let mut head = [0u8; 5];
    ///     f.read_exact(&mut head).await.unwrap(); // reads ahead past the comma
    ///     let mut std_file = f.into_std().await.unwrap();
    ///     let mut rest = String::new();
    ///     std_file.read_to_string(&mut rest).unwrap(); // blocking: fine outside a loop
    ///     assert_eq!(rest, "tail");
    ///     fs::remove_file(&path).await.unwrap();
    /// });
    /// ```
    pub async fn into_std(mut self) -> io::Result<std::fs::File> {
        poll_fn(|cx| self.poll_idle(cx)).await?;
        if matches!(&self.state, State::Idle(_, buf) if buf.unread() > 0) {
            let op =
                self.run(|file, buf| Operation::Seek(give_back(file, buf.discard()).map(|()| 0)));
            expect_seek(op.await?)?;
        }
        match std::mem::replace(&mut self.state, State::Lost(TaskError::Cancelled)) {
            State::Idle(file, _) => Ok(file),
            _ => unreachable!("a finished job leaves the file idle"),
        }
    }

    /// Sets the most bytes a read fetches, or a write carries, in one trip to the pool
    /// (at least 1; 64 KiB by default). Larger chunks mean fewer trips for big transfers.
    ///
    /// ```
    /// use concur::aio::{self, fs::{self, File}};
    /// use futures_lite::AsyncReadExt;
    /// let path = std::env::temp_dir().join(format!("concur-doc-bufsize-{}", std::process::id()));
    /// aio::run(async {
    ///     fs::write(&path, vec![7u8; 1 << 20]).await.unwrap();
    ///     let mut f = File::open(&path).await.unwrap();
    ///     f.set_max_buf_size(1 << 20); // the whole MiB in one trip
    ///     let mut all = Vec::new();
    ///     f.read_to_end(&mut all).await.unwrap();
    ///     assert_eq!(all.len(), 1 << 20);
    ///     fs::remove_file(&path).await.unwrap();
    /// });
    /// ```
    pub fn set_max_buf_size(&mut self, max_buf_size: usize) {
        self.max_buf_size = max_buf_size.max(1);
    }

    /// Waits for the writes in flight, then flushes the file's data and metadata to the
    /// disk: [`std::fs::File::sync_all`], on the thread pool.
    ///
    /// ```
    /// use concur::aio::{self, fs::{self, File}};
    /// use futures_lite::AsyncWriteExt;
    /// let path = std::env::temp_dir().join(format!("concur-doc-syncall-{}", std::process::id()));
    /// aio::run(async {
    ///     let mut f = File::create(&path).await.unwrap();
    ///     f.write_all(b"durable").await.unwrap();
    ///     f.sync_all().await.unwrap();
    ///     assert_eq!(fs::read(&path).await.unwrap(), b"durable");
    ///     fs::remove_file(&path).await.unwrap();
    /// });
    /// ```
    pub async fn sync_all(&mut self) -> io::Result<()> {
        expect_sync(self.run(|file, _| Operation::Sync(file.sync_all())).await?)
    }

    /// Waits for the writes in flight, then flushes the file's data (and only the
    /// metadata needed to read it back) to the disk: [`std::fs::File::sync_data`], on the
    /// thread pool.
    ///
    /// ```
    /// use concur::aio::{self, fs::{self, File}};
    /// use futures_lite::AsyncWriteExt;
    /// let path = std::env::temp_dir().join(format!("concur-doc-syncdata-{}", std::process::id()));
    /// aio::run(async {
    ///     let mut f = File::create(&path).await.unwrap();
    ///     f.write_all(b"data").await.unwrap();
    ///     f.sync_data().await.unwrap();
    ///     fs::remove_file(&path).await.unwrap();
    /// });
    /// ```
    pub async fn sync_data(&mut self) -> io::Result<()> {
        expect_sync(
            self.run(|file, _| Operation::Sync(file.sync_data()))
                .await?,
        )
    }

    /// Truncates or extends (with zeros) the file to `size` bytes, after the writes in
    /// flight: [`std::fs::File::set_len`], on the thread pool. The position does not
    /// move (bytes read ahead are dropped).
    ///
    /// ```
    /// use concur::aio::{self, fs::{self, File}};
    /// use futures_lite::AsyncWriteExt;
    /// let path = std::env::temp_dir().join(format!("concur-doc-setlen-{}", std::process::id()));
    /// aio::run(async {
    ///     let mut f = File::create(&path).await.unwrap();
    ///     f.write_all(b"0123456789").await.unwrap();
    ///     f.set_len(4).await.unwrap();
    ///     assert_eq!(f.metadata().await.unwrap().len(), 4);
    ///     f.close().await.unwrap();
    ///     assert_eq!(fs::read(&path).await.unwrap(), b"0123");
    ///     fs::remove_file(&path).await.unwrap();
    /// });
    /// ```
    pub async fn set_len(&mut self, size: u64) -> io::Result<()> {
        let op = self.run(move |file, buf| {
            Operation::Sync(give_back(file, buf.discard()).and_then(|()| file.set_len(size)))
        });
        expect_sync(op.await?)
    }

    /// The file's metadata, after the writes in flight: [`std::fs::File::metadata`], on
    /// the thread pool.
    ///
    /// ```
    /// use concur::aio::{self, fs::{self, File}};
    /// use futures_lite::AsyncWriteExt;
    /// let path = std::env::temp_dir().join(format!("concur-doc-filemeta-{}", std::process::id()));
    /// aio::run(async {
    ///     let mut f = File::create(&path).await.unwrap();
    ///     f.write_all(b"12345").await.unwrap();
    ///     let meta = f.metadata().await.unwrap(); // sees the write
    ///     assert_eq!(meta.len(), 5);
    ///     fs::remove_file(&path).await.unwrap();
    /// });
    /// ```
    pub async fn metadata(&mut self) -> io::Result<Metadata> {
        match self
            .run(|file, _| Operation::Metadata(file.metadata()))
            .await?
        {
            Operation::Metadata(res) => res,
            _ => unreachable!("the job just started was a metadata job"),
        }
    }

    /// Waits for the job in flight, takes the file and buffer back, and returns the job's
    /// outcome (`None` if nothing was in flight). A write that failed is its error.
    fn poll_complete(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Option<Operation>>> {
        let State::Busy(job) = &mut self.state else {
            return Poll::Ready(match &self.state {
                State::Lost(e) => Err(lost(e)),
                _ => Ok(None),
            });
        };
        let done = ready!(Pin::new(job).poll(cx));
        Poll::Ready(match done {
            Ok(Done { op, buf, file }) => {
                self.state = State::Idle(file, buf);
                match op {
                    Operation::Write(Err(e)) => Err(e),
                    op => Ok(Some(op)),
                }
            }
            Err(e) => {
                let err = lost(&e);
                self.state = State::Lost(e);
                Err(err)
            }
        })
    }

    /// Waits until nothing is in flight (the file is idle).
    fn poll_idle(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while ready!(self.poll_complete(cx))?.is_some() {}
        Poll::Ready(Ok(()))
    }

    /// Sends the idle file and its buffer to the pool to do `job`.
    fn start<F>(&mut self, job: F)
    where
        F: FnOnce(&mut std::fs::File, &mut Buf) -> Operation + Send + 'static,
    {
        let State::Idle(mut file, mut buf) =
            std::mem::replace(&mut self.state, State::Lost(TaskError::Cancelled))
        else {
            unreachable!("a job starts only on an idle file")
        };
        self.state = State::Busy(to_thread(move || {
            let op = job(&mut file, &mut buf);
            Done { op, buf, file }
        }));
    }

    /// Waits for the work in flight, then runs `job` on the pool and returns its outcome.
    /// Dropped midway, the job still finishes and the file comes back to the next call.
    async fn run<F>(&mut self, job: F) -> io::Result<Operation>
    where
        F: FnOnce(&mut std::fs::File, &mut Buf) -> Operation + Send + 'static,
    {
        poll_fn(|cx| self.poll_idle(cx)).await?;
        self.start(job);
        let op = poll_fn(|cx| self.poll_complete(cx)).await?;
        Ok(op.expect("the job just started was in flight"))
    }

    /// `poll_write` and `poll_write_vectored`, for `len` bytes: `fill` copies into the
    /// buffer at most the bytes it is given room for and says how many.
    fn poll_write_with(
        &mut self,
        cx: &mut Context<'_>,
        len: usize,
        fill: impl FnOnce(&mut Vec<u8>, usize) -> usize,
    ) -> Poll<io::Result<usize>> {
        if len == 0 {
            return Poll::Ready(Ok(0));
        }
        ready!(self.poll_idle(cx))?;
        let State::Idle(_, buf) = &mut self.state else {
            unreachable!("poll_idle leaves the file idle")
        };
        // Bytes read ahead are given back first, so the write lands where the reader is.
        let back = buf.discard();
        let n = fill(&mut buf.data, self.max_buf_size);
        self.start(move |file, buf| {
            Operation::Write(give_back(file, back).and_then(|()| buf.write_to(file)))
        });
        Poll::Ready(Ok(n))
    }
}

fn expect_sync(op: Operation) -> io::Result<()> {
    match op {
        Operation::Sync(res) => res,
        _ => unreachable!("the job just started was a sync job"),
    }
}

fn expect_seek(op: Operation) -> io::Result<u64> {
    match op {
        Operation::Seek(res) => res,
        _ => unreachable!("the job just started was a seek job"),
    }
}

impl AsyncRead for File {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        dst: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let me = self.get_mut();
        loop {
            match &mut me.state {
                State::Idle(_, buf) if buf.unread() > 0 => {
                    return Poll::Ready(Ok(buf.copy_to(dst)));
                }
                State::Idle(..) if dst.is_empty() => return Poll::Ready(Ok(0)),
                State::Idle(..) => {
                    let chunk = me.max_buf_size;
                    me.start(move |file, buf| Operation::Read(buf.read_from(file, chunk)));
                }
                State::Busy(_) | State::Lost(_) => match ready!(me.poll_complete(cx))? {
                    // A read (this one's, or one whose future was dropped: the bytes
                    // are just as good) that found the end of the file.
                    Some(Operation::Read(Ok(0))) => return Poll::Ready(Ok(0)),
                    Some(Operation::Read(Err(e))) => return Poll::Ready(Err(e)),
                    _ => {}
                },
            }
        }
    }
}

impl AsyncWrite for File {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        src: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().poll_write_with(cx, src.len(), |data, room| {
            let n = src.len().min(room);
            data.extend_from_slice(&src[..n]);
            n
        })
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        srcs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let len = srcs.iter().map(|s| s.len()).sum();
        self.get_mut().poll_write_with(cx, len, |data, room| {
            let mut n = 0;
            for src in srcs {
                let take = src.len().min(room - n);
                data.extend_from_slice(&src[..take]);
                n += take;
                if n == room {
                    break;
                }
            }
            n
        })
    }

    /// Waits for the writes in flight; the error of one that failed is returned here.
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_idle(cx)
    }

    /// The same as `poll_flush`; the file itself closes when it is dropped.
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_idle(cx)
    }
}

impl AsyncSeek for File {
    fn poll_seek(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        pos: SeekFrom,
    ) -> Poll<io::Result<u64>> {
        let me = self.get_mut();
        loop {
            match &mut me.state {
                State::Idle(_, buf) => {
                    // Relative to the reader, who is behind the read-ahead.
                    let target = match pos {
                        SeekFrom::Current(n) => {
                            let back = i64::try_from(buf.unread()).ok();
                            match back.and_then(|b| n.checked_sub(b)) {
                                Some(n) => SeekFrom::Current(n),
                                None => {
                                    return Poll::Ready(Err(io::Error::new(
                                        io::ErrorKind::InvalidInput,
                                        "seek to a position out of range",
                                    )))
                                }
                            }
                        }
                        other => other,
                    };
                    buf.discard();
                    me.seek = Some(pos);
                    me.start(move |file, _| Operation::Seek(file.seek(target)));
                }
                State::Busy(_) | State::Lost(_) => {
                    if let Some(Operation::Seek(res)) = ready!(me.poll_complete(cx))? {
                        // This seek's job, or that of a dropped future: for the same
                        // target the answer is the same; otherwise seek again.
                        if me.seek.take() == Some(pos) {
                            return Poll::Ready(res);
                        }
                    }
                }
            }
        }
    }
}

impl fmt::Debug for File {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("File");
        match &self.state {
            State::Idle(file, buf) => d.field("std", file).field("read_ahead", &buf.unread()),
            State::Busy(_) => d.field("state", &"busy"),
            State::Lost(e) => d.field("lost", e),
        };
        d.field("max_buf_size", &self.max_buf_size).finish()
    }
}

/// How to open a [`File`]: [`std::fs::OpenOptions`], with an async
/// [`open`](Self::open) that runs on the thread pool.
///
/// ```
/// use concur::aio::{self, fs::{self, OpenOptions}};
/// use futures_lite::AsyncWriteExt;
/// let path = std::env::temp_dir().join(format!("concur-doc-openopts-{}", std::process::id()));
/// aio::run(async {
///     let mut f = OpenOptions::new().write(true).create_new(true).open(&path).await.unwrap();
///     f.write_all(b"x").await.unwrap();
///     f.close().await.unwrap();
///     let again = OpenOptions::new().write(true).create_new(true).open(&path).await;
///     assert_eq!(again.unwrap_err().kind(), std::io::ErrorKind::AlreadyExists);
///     fs::remove_file(&path).await.unwrap();
/// });
/// ```
#[derive(Debug, Clone)]
pub struct OpenOptions(std::fs::OpenOptions);

impl Default for OpenOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl From<std::fs::OpenOptions> for OpenOptions {
    /// ```
    /// use concur::aio::fs::OpenOptions;
    /// let mut std_opts = std::fs::OpenOptions::new();
    /// std_opts.read(true);
    /// let _opts = OpenOptions::from(std_opts);
    /// ```
    fn from(options: std::fs::OpenOptions) -> Self {
        OpenOptions(options)
    }
}

impl OpenOptions {
    /// No access at all yet: set at least one of `read`, `write`, `append`.
    ///
    /// ```
    /// use concur::aio::{self, fs::OpenOptions};
    /// let path = std::env::temp_dir();
    /// aio::run(async {
    ///     let err = OpenOptions::new().open(&path).await.unwrap_err();
    ///     assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    /// });
    /// ```
    pub fn new() -> Self {
        OpenOptions(std::fs::OpenOptions::new())
    }

    /// Opens for reading.
    ///
    /// ```
    /// let mut opts = concur::aio::fs::OpenOptions::new();
    /// opts.read(true);
    /// ```
    pub fn read(&mut self, read: bool) -> &mut Self {
        self.0.read(read);
        self
    }

    /// Opens for writing (from the start, over what is there, unless `truncate`).
    ///
    /// ```
    /// let mut opts = concur::aio::fs::OpenOptions::new();
    /// opts.write(true).create(true);
    /// ```
    pub fn write(&mut self, write: bool) -> &mut Self {
        self.0.write(write);
        self
    }

    /// Opens for appending: every write goes to the end of the file, wherever the
    /// position is.
    ///
    /// ```
    /// let mut opts = concur::aio::fs::OpenOptions::new();
    /// opts.append(true);
    /// ```
    pub fn append(&mut self, append: bool) -> &mut Self {
        self.0.append(append);
        self
    }

    /// Empties the file when opening it (needs `write`).
    ///
    /// ```
    /// let mut opts = concur::aio::fs::OpenOptions::new();
    /// opts.write(true).truncate(true);
    /// ```
    pub fn truncate(&mut self, truncate: bool) -> &mut Self {
        self.0.truncate(truncate);
        self
    }

    /// Creates the file if it does not exist (needs `write` or `append`).
    ///
    /// ```
    /// let mut opts = concur::aio::fs::OpenOptions::new();
    /// opts.write(true).create(true);
    /// ```
    pub fn create(&mut self, create: bool) -> &mut Self {
        self.0.create(create);
        self
    }

    /// Creates the file, failing with [`AlreadyExists`](io::ErrorKind::AlreadyExists) if
    /// it exists (atomically; `create` and `truncate` are then ignored).
    ///
    /// ```
    /// let mut opts = concur::aio::fs::OpenOptions::new();
    /// opts.write(true).create_new(true);
    /// ```
    pub fn create_new(&mut self, create_new: bool) -> &mut Self {
        self.0.create_new(create_new);
        self
    }

    /// The permission bits of a file this creates (before the umask): `0o666` by default.
    ///
    /// ```
    /// use concur::aio::{self, fs::{self, OpenOptions}};
    /// use std::os::unix::fs::PermissionsExt;
    /// let path = std::env::temp_dir().join(format!("concur-doc-mode-{}", std::process::id()));
    /// aio::run(async {
    ///     OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path).await.unwrap();
    ///     let mode = fs::metadata(&path).await.unwrap().permissions().mode();
    ///     assert_eq!(mode & 0o777, 0o600);
    ///     fs::remove_file(&path).await.unwrap();
    /// });
    /// ```
    #[cfg(unix)]
    pub fn mode(&mut self, mode: u32) -> &mut Self {
        std::os::unix::fs::OpenOptionsExt::mode(&mut self.0, mode);
        self
    }

    /// Extra `open(2)` flags, such as `O_NOFOLLOW` (the access mode bits are ignored).
    ///
    /// ```
    /// let mut opts = concur::aio::fs::OpenOptions::new();
    /// opts.read(true).custom_flags(0);
    /// ```
    #[cfg(unix)]
    pub fn custom_flags(&mut self, flags: i32) -> &mut Self {
        std::os::unix::fs::OpenOptionsExt::custom_flags(&mut self.0, flags);
        self
    }

    /// Opens `path` with these options: [`std::fs::OpenOptions::open`], on the thread
    /// pool. An error names the path.
    ///
    /// ```
    /// use concur::aio::{self, fs::OpenOptions};
    /// let path = std::env::temp_dir().join(format!("concur-doc-optsopen-{}", std::process::id()));
    /// aio::run(async {
    ///     let err = OpenOptions::new().read(true).open(&path).await.unwrap_err();
    ///     assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    ///     assert!(err.to_string().contains(&*path.to_string_lossy()));
    /// });
    /// ```
    pub async fn open(&self, path: impl AsRef<Path>) -> io::Result<File> {
        let options = self.0.clone();
        let file = on_path(path, move |p| options.open(p)).await?;
        Ok(File::from_std(file))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_lite::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn a_panic_on_the_pool_is_an_io_error_not_a_panic_on_the_loop() {
        let err = crate::aio::run(blocking(|| -> io::Result<()> { panic!("boom") })).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::Other);
        assert!(err.to_string().contains("boom"), "{err}");
    }

    #[test]
    fn a_file_whose_job_panicked_is_lost_and_says_so() {
        let path = std::env::temp_dir().join(format!("concur-fs-lost-{}", std::process::id()));
        std::fs::write(&path, "x").unwrap();
        let std_file = std::fs::File::open(&path).unwrap();
        crate::aio::run(async {
            let mut f = File::from_std(std_file);
            f.start(|_, _| panic!("the job broke"));
            let mut buf = [0u8; 1];
            let err = f.read(&mut buf).await.unwrap_err();
            assert!(err.to_string().contains("the job broke"), "{err}");
            // And from then on, every operation fails the same way.
            assert!(f
                .write_all(b"y")
                .await
                .unwrap_err()
                .to_string()
                .contains("lost"));
            assert!(f.flush().await.is_err());
            assert!(f.into_std().await.is_err());
        });
        std::fs::remove_file(&path).unwrap();
    }
}
