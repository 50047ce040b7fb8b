//! [`File`] and [`OpenOptions`]: an open file whose calls run on the thread pool.

use std::fmt;
use std::fs::Metadata;
use std::future::{poll_fn, Future};
use std::io::{self, IoSlice, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use futures_io::{AsyncRead, AsyncSeek, AsyncWrite};

use super::on_path;
use crate::aio::to_thread;
use crate::{JoinHandle, TaskError};

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
    use super::super::blocking;
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
