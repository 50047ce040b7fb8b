//! Directory listings: [`read_dir`], [`ReadDir`], [`DirEntry`].

use std::collections::VecDeque;
use std::ffi::OsString;
use std::fmt;
use std::fs::{FileType, Metadata};
use std::future::{poll_fn, Future};
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use super::{blocking, on_path, pool_error, with_path};
use crate::aio::to_thread;
use crate::JoinHandle;

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
