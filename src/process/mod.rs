//! [`ProcessPoolExecutor`]: Python's `concurrent.futures.ProcessPoolExecutor`, for Rust,
//! robust where Python's breaks.
//!
//! A task is a plain `fn(A) -> R` whose argument and result are serde values; several
//! arguments travel as a tuple. Workers are this same executable, started again: a hook
//! that runs before `main` turns them into workers, so **no code of your `main` runs in a
//! worker**, and nothing needs to be set up for binaries, examples, tests or doctests.
//!
//! ```
//! use concur::ProcessPoolExecutor;
//!
//! fn count_primes(below: u64) -> usize {
//!     (2..below).filter(|n| (2..*n).take_while(|d| d * d <= *n).all(|d| n % d != 0)).count()
//! }
//!
//! let pool = ProcessPoolExecutor::new(2).unwrap();
//! // `submit` starts the task in another process right away.
//! let h = pool.submit(count_primes, 10_000);
//! assert_eq!(h.join(), Ok(1229));
//! // `map` returns results in input order, sending items in chunks.
//! let counts: Vec<usize> = pool.map(count_primes, [10, 100, 1000]).map(Result::unwrap).collect();
//! assert_eq!(counts, [4, 25, 168]);
//! ```
//!
//! What a worker does cannot hurt the parent: a panic becomes
//! [`TaskError::Panicked`] with its message; a worker that
//! aborts, crashes, exits or is killed fails only the task it was running, with
//! [`TaskError::WorkerDied`], and is replaced. Large data
//! crosses in a [`SharedBuffer`] at no cost. The protocol, the lifecycle and what happens
//! on each failure are described in `src/process/DESIGN.md`.

mod board;
mod builder;
mod call;
mod channel;
mod codec;
mod image;
mod map;
mod pool;
mod protocol;
mod reason;
// The hooks the `mpi` feature's ranks use to carry tasks (src/mpi/).
#[cfg(feature = "mpi")]
pub(crate) mod remote;
mod shm;
mod task;
mod worker;

use std::fmt;
use std::os::fd::OwnedFd;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;

pub use self::builder::ProcessPoolBuilder;
pub use self::map::{ProcessMap, ProcessMapUnordered};
use self::pool::{Config, Shared};
pub use self::shm::{Plain, SharedBuffer};
use self::task::{Job, ProcTask};
use crate::handle::{JoinHandle, TaskError};
use crate::Error;

/// Makes this process a worker if a process pool started it, and otherwise does nothing.
///
/// On Linux a hook that runs before `main` already does this, so calling it is never
/// needed there; it is harmless as the first line of `main` (Python's
/// `if __name__ == "__main__":` guard, made explicit).
///
/// ```
/// // The first line of `main`:
/// concur::process::init();
/// // ... the program
/// ```
pub fn init() {
    worker::serve_if_worker();
}

/// Counters of a process pool, from [`ProcessPoolExecutor::stats`].
///
/// ```
/// let pool = concur::ProcessPoolExecutor::new(1).unwrap();
/// assert_eq!(pool.stats().workers, 0);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProcessPoolStats {
    /// Worker processes alive now.
    pub workers: usize,
    /// Worker processes started so far.
    pub spawned: u64,
    /// Workers that died unexpectedly (crashed, exited, killed from outside).
    pub died: u64,
    /// Workers replaced because they exceeded the memory limit.
    pub recycled: u64,
    /// Items whose result came back from a worker: one per task, one per item of a
    /// [`map`](ProcessPoolExecutor::map) (which sends them in chunks).
    pub completed: u64,
    /// Tasks waiting in the pool's queue for a worker.
    pub pending: usize,
    /// Tasks a worker has started and not finished (a worker says so on its claim board
    /// before it runs a task).
    pub running: usize,
    /// Tasks sent to a worker and not finished: the running ones, and those queued on a
    /// worker behind them (a pool sends short tasks ahead, see
    /// [`tasks_in_flight_per_worker`](ProcessPoolBuilder::tasks_in_flight_per_worker)).
    pub sent: usize,
}

/// A pool of worker processes: Python's `concurrent.futures.ProcessPoolExecutor`.
///
/// `submit` runs a `fn(A) -> R` in another process and returns a [`JoinHandle`], the same
/// handle the other mechanisms return: join it, `.await` it, or get called back. Dropping
/// the pool waits for every submitted task, like leaving Python's `with` block.
///
/// ```
/// fn square(x: u64) -> u64 {
///     x * x
/// }
/// let pool = concur::ProcessPoolExecutor::new(2).unwrap();
/// assert_eq!(pool.submit(square, 12).join(), Ok(144));
/// ```
pub struct ProcessPoolExecutor {
    shared: Arc<Shared>,
}

impl ProcessPoolExecutor {
    /// A pool of at most `max_workers` processes.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if `max_workers` is zero; [`Error::Io`] if the pool's
    /// thread cannot start.
    ///
    /// ```
    /// let pool = concur::ProcessPoolExecutor::new(4).unwrap();
    /// assert_eq!(pool.max_workers(), 4);
    /// ```
    pub fn new(max_workers: usize) -> Result<Self, Error> {
        Self::builder().max_workers(max_workers).build()
    }

    /// All the settings: `max_tasks_per_child`, an initializer, a task time limit, a
    /// memory limit, the workers' environment and directory, the chunk size of `map`...
    ///
    /// ```
    /// let pool = concur::ProcessPoolExecutor::builder().max_workers(2).build().unwrap();
    /// # drop(pool);
    /// ```
    pub fn builder() -> ProcessPoolBuilder {
        ProcessPoolBuilder::default()
    }

    fn from_config(config: Config) -> Result<Self, Error> {
        if !cfg!(target_os = "linux") {
            return Err(Error::Unsupported(
                "process pools need Linux (memfd, pidfd-free reaping)",
            ));
        }
        if let Some(why) = call::unusable_here() {
            return Err(Error::Unsupported(why));
        }
        Ok(ProcessPoolExecutor {
            shared: Shared::start(config)?,
        })
    }

    /// The most worker processes this pool runs at once.
    ///
    /// ```
    /// assert_eq!(concur::ProcessPoolExecutor::new(3).unwrap().max_workers(), 3);
    /// ```
    pub fn max_workers(&self) -> usize {
        self.shared.config.max_workers
    }

    /// Runs `f(arg)` in a worker process, starting now. The argument is encoded here (an
    /// argument that cannot be encoded fails the handle at once with
    /// [`TaskError::Serialization`]; a `Serialize` impl that panics unwinds out of
    /// `submit`, as the caller's own code, and leaves the pool as it was) and the result
    /// decoded when it comes back.
    ///
    /// A closure that captures nothing is a `fn` too: `pool.submit(|x: u32| x + 1, 1)`.
    ///
    /// ```
    /// let pool = concur::ProcessPoolExecutor::new(1).unwrap();
    /// let h = pool.submit(|(a, b): (u32, String)| format!("{b}{a}"), (7, "n".to_owned()));
    /// assert_eq!(h.join().unwrap(), "n7");
    /// ```
    pub fn submit<A, R>(&self, f: fn(A) -> R, arg: A) -> JoinHandle<R>
    where
        A: Serialize + DeserializeOwned + Send + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        let (call, func) = call::one(f);
        // Encoded and dropped before anything is sent: a buffer it carries is gone from
        // this process by the time a worker maps it.
        self.submit_raw(call, func, std::any::type_name::<A>(), |frame, fds| {
            codec::encode_owned(arg, frame, fds).map(|()| 1)
        })
    }

    /// Queues the task `call(func)` with the argument that `encode` appends to the frame
    /// (its descriptors to the list); `encode` returns how many items the task carries,
    /// `arg_type` names the argument's type in an error.
    fn submit_raw<R: DeserializeOwned + Send + 'static>(
        &self,
        call: u64,
        func: u64,
        arg_type: &'static str,
        encode: impl FnOnce(&mut Vec<u8>, &mut Vec<OwnedFd>) -> Result<u64, String>,
    ) -> JoinHandle<R> {
        let id = self.shared.next_id();
        let cell = Arc::new(ProcTask::<R>::new(id, Arc::downgrade(&self.shared)));
        let handle = JoinHandle::new(cell.clone());
        let mut frame = Vec::new();
        let mut fds = Vec::new();
        let open = protocol::begin_task(&mut frame, id, call, func);
        let mut items = 1;
        let encoded = encode(&mut frame, &mut fds).and_then(|n| {
            items = n;
            open.set_task_nfds(&mut frame, fds.len() as u32);
            open.finish(&mut frame, self.shared.config.max_frame)
                .map_err(|e| format!("{e}; send large data in a SharedBuffer"))
        });
        // A function a worker could not find is refused here, not jumped to there.
        let encoded = match call::check_func(func) {
            Ok(_) => encoded
                .map_err(|e| format!("the argument could not be encoded (type {arg_type}): {e}")),
            Err(e) => Err(format!("the task cannot be sent: {e}")),
        };
        let job = Job {
            id,
            frame,
            fds,
            task: cell,
            started: false,
            timeout: self.shared.config.task_timeout,
            items,
        };
        match encoded {
            Ok(()) => self.shared.submit(job),
            Err(e) => job.fail(TaskError::Serialization(e)),
        }
        handle
    }

    /// Runs `f` on every item in worker processes and yields the outcomes in input order:
    /// `Executor.map`. Items are read lazily and sent in chunks (sized as it runs, or
    /// [`chunk_size`](ProcessPoolBuilder::chunk_size)), with a bounded number of chunks
    /// in flight. An item that panics yields its own `Err`; the others are unaffected.
    /// Dropping the iterator cancels the chunks in flight.
    ///
    /// The window, as for [`ThreadPoolExecutor::map`](crate::ThreadPoolExecutor::map):
    /// `2 × max_workers` chunks, growing up to `1024 × max_workers` items only where
    /// workers would otherwise go idle (behind a head chunk that is still running, or
    /// when the consumer comes back to find them run dry). Chunks sent ahead to the
    /// worker that runs a big item wait behind it and count as work in flight; with
    /// items that take seconds, [`tasks_in_flight_per_worker(1)`](ProcessPoolBuilder::tasks_in_flight_per_worker)
    /// keeps them for the other workers.
    ///
    /// ```
    /// let pool = concur::ProcessPoolExecutor::new(2).unwrap();
    /// let out: Vec<u64> = pool.map(|x: u64| x * 2, 0..1000).map(Result::unwrap).collect();
    /// assert_eq!(out, (0..1000).map(|x| x * 2).collect::<Vec<_>>());
    /// ```
    pub fn map<A, R, I>(&self, f: fn(A) -> R, items: I) -> ProcessMap<'_, A, R, I::IntoIter>
    where
        A: Serialize + DeserializeOwned + Send + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
        I: IntoIterator<Item = A>,
    {
        ProcessMap::new(self, f, items.into_iter())
    }

    /// Like [`map`](Self::map), with at most `in_flight` chunks sent and not yet yielded,
    /// always (`Executor.map(..., buffersize=n)`, Python 3.14): the window never grows
    /// behind a slow head, so memory and read-ahead stay at `in_flight` chunks whatever
    /// the input. With `chunk_size(1)`, that is `in_flight` items.
    ///
    /// # Panics
    ///
    /// If `in_flight` is 0.
    ///
    /// ```
    /// let pool = concur::ProcessPoolExecutor::builder().max_workers(2).chunk_size(1).build().unwrap();
    /// let mut input = 0..100u64;
    /// let mut squares = pool.map_bounded(|x: u64| x * x, input.by_ref(), 3);
    /// assert_eq!(squares.next(), Some(Ok(0)));
    /// drop(squares);
    /// // One item yielded and three in flight at most: the rest was never read.
    /// assert!(input.next().unwrap() <= 4);
    /// ```
    pub fn map_bounded<A, R, I>(
        &self,
        f: fn(A) -> R,
        items: I,
        in_flight: usize,
    ) -> ProcessMap<'_, A, R, I::IntoIter>
    where
        A: Serialize + DeserializeOwned + Send + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
        I: IntoIterator<Item = A>,
    {
        ProcessMap::bounded(self, f, items.into_iter(), in_flight)
    }

    /// Like [`map`](Self::map), but yields the outcomes as their chunks finish, each
    /// with the index of its item in the input (`(usize, Result<R, TaskError>)`; within
    /// a chunk, in input order). Lazy over the input, `2 × max_workers` chunks in flight
    /// (more only if the consumer lags, as for `map`);
    /// [`timeout`](ProcessMapUnordered::timeout) bounds the whole map; dropping the
    /// iterator cancels the chunks in flight.
    ///
    /// ```
    /// let pool = concur::ProcessPoolExecutor::new(2).unwrap();
    /// let mut got: Vec<(usize, u64)> = pool
    ///     .map_unordered(|x: u64| x * 2, 0..100)
    ///     .map(|(i, r)| (i, r.unwrap()))
    ///     .collect();
    /// got.sort();
    /// assert_eq!(got, (0..100).map(|i| (i as usize, i * 2)).collect::<Vec<_>>());
    /// ```
    pub fn map_unordered<A, R, I>(
        &self,
        f: fn(A) -> R,
        items: I,
    ) -> ProcessMapUnordered<'_, A, R, I::IntoIter>
    where
        A: Serialize + DeserializeOwned + Send + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
        I: IntoIterator<Item = A>,
    {
        ProcessMapUnordered::new(self, f, items.into_iter())
    }

    /// The pids of the worker processes alive now.
    ///
    /// ```
    /// let pool = concur::ProcessPoolExecutor::new(1).unwrap();
    /// pool.submit(|x: u8| x, 1).join().unwrap();
    /// assert_eq!(pool.worker_pids().len(), 1);
    /// ```
    pub fn worker_pids(&self) -> Vec<u32> {
        self.shared.lock().workers().collect()
    }

    /// Counters: workers alive, started, died; tasks done, waiting, running.
    ///
    /// ```
    /// let pool = concur::ProcessPoolExecutor::new(1).unwrap();
    /// pool.submit(|x: u8| x, 1).join().unwrap();
    /// assert_eq!(pool.stats().completed, 1);
    /// ```
    pub fn stats(&self) -> ProcessPoolStats {
        let st = self.shared.lock();
        ProcessPoolStats {
            workers: st.workers().count(),
            spawned: st.counters.spawned,
            died: st.counters.died,
            recycled: st.counters.recycled,
            completed: st.counters.completed,
            pending: st.pending_len(),
            running: st.running(),
            sent: st.in_flight(),
        }
    }

    /// Stops accepting tasks and waits until every submitted task has finished and every
    /// worker has exited: `shutdown(wait=True)`. Later submissions fail with
    /// [`TaskError::Shutdown`].
    ///
    /// ```
    /// let pool = concur::ProcessPoolExecutor::new(1).unwrap();
    /// let h = pool.submit(|x: u8| x, 1);
    /// pool.shutdown();
    /// assert!(h.is_finished());
    /// assert_eq!(pool.submit(|x: u8| x, 2).join(), Err(concur::TaskError::Shutdown));
    /// ```
    pub fn shutdown(&self) {
        self.shared.shutdown(false, false);
    }

    /// Like [`shutdown`](Self::shutdown), but first fails every task that has not been
    /// sent to a worker with [`TaskError::Shutdown`] (`cancel_futures=True`). Running
    /// tasks finish.
    ///
    /// ```
    /// let pool = concur::ProcessPoolExecutor::new(1).unwrap();
    /// pool.shutdown_cancel_pending();
    /// assert_eq!(pool.stats().workers, 0);
    /// ```
    pub fn shutdown_cancel_pending(&self) {
        self.shared.shutdown(true, false);
    }

    /// Kills every worker now and fails every unfinished task with
    /// [`TaskError::Shutdown`] (Python's `kill_workers`). Returns once they are reaped.
    ///
    /// ```
    /// use concur::{ProcessPoolExecutor, TaskError};
    /// fn forever(_: ()) {
    ///     loop {
    ///         std::thread::park();
    ///     }
    /// }
    /// let pool = ProcessPoolExecutor::new(1).unwrap();
    /// let h = pool.submit(forever, ());
    /// pool.shutdown_kill();
    /// assert_eq!(h.join(), Err(TaskError::Shutdown));
    /// ```
    pub fn shutdown_kill(&self) {
        self.shared.shutdown(true, true);
    }

    /// Stops accepting tasks and returns at once: Python's `shutdown(wait=False)`. The
    /// tasks already submitted still run; the pool's thread then stops the workers, reaps
    /// them and exits by itself, so nothing leaks, and dropping the pool does not wait
    /// for it. A later [`shutdown`](Self::shutdown) waits for the end as usual.
    ///
    /// ```
    /// use concur::{ProcessPoolExecutor, TaskError};
    /// fn double(x: u64) -> u64 {
    ///     x * 2
    /// }
    /// let pool = ProcessPoolExecutor::new(1).unwrap();
    /// let h = pool.submit(double, 21);
    /// pool.shutdown_nowait();
    /// assert_eq!(pool.submit(double, 1).join(), Err(TaskError::Shutdown));
    /// drop(pool); // does not wait
    /// assert_eq!(h.join(), Ok(42), "submitted work still runs");
    /// ```
    pub fn shutdown_nowait(&self) {
        self.shared.shutdown_nowait();
    }

    /// The process-wide shared pool, for libraries that should not each start their own
    /// (loky's `get_reusable_executor`): created on first use with one worker per CPU,
    /// workers started as tasks need them. It lives until the process exits and is never
    /// dropped: its workers end when this process does (each sees its channel close), so
    /// nothing waits for them at exit. It is shared, so do not shut it down: that would
    /// close it for every user.
    ///
    /// # Errors
    ///
    /// As [`new`](Self::new), if the pool cannot be created (then the next call tries
    /// again).
    ///
    /// ```
    /// fn square(x: u64) -> u64 {
    ///     x * x
    /// }
    /// let pool = concur::ProcessPoolExecutor::shared().unwrap();
    /// assert!(std::ptr::eq(pool, concur::ProcessPoolExecutor::shared().unwrap()));
    /// assert_eq!(pool.submit(square, 7).join(), Ok(49));
    /// ```
    pub fn shared() -> Result<&'static ProcessPoolExecutor, Error> {
        static POOL: std::sync::OnceLock<ProcessPoolExecutor> = std::sync::OnceLock::new();
        static CREATING: std::sync::Mutex<()> = std::sync::Mutex::new(());
        if let Some(pool) = POOL.get() {
            return Ok(pool);
        }
        // One creator at a time, so two first callers do not both start a pool.
        let _one = CREATING
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(pool) = POOL.get() {
            return Ok(pool);
        }
        let pool = ProcessPoolExecutor::builder().build()?;
        Ok(POOL.get_or_init(|| pool))
    }

    /// Stops every worker now, politely first: `SIGTERM` to each, then, after a grace
    /// period of one second for those still alive, `SIGKILL` (Python 3.14's
    /// `terminate_workers`). The pool is shut down with them: every task not finished,
    /// running or queued, resolves [`TaskError::Shutdown`] at once, and none starts any
    /// more. Returns once the workers are reaped.
    ///
    /// ```
    /// use concur::ProcessPoolExecutor;
    /// fn forever(_: ()) {
    ///     loop {
    ///         std::thread::park();
    ///     }
    /// }
    /// let pool = ProcessPoolExecutor::new(1).unwrap();
    /// let h = pool.submit(forever, ());
    /// pool.terminate_workers();
    /// assert!(h.join().is_err());
    /// assert_eq!(pool.stats().workers, 0);
    /// ```
    pub fn terminate_workers(&self) {
        self.shared
            .terminate_workers(std::time::Duration::from_secs(1));
    }
}

impl Default for ProcessPoolExecutor {
    /// A pool with one worker per CPU.
    ///
    /// # Panics
    ///
    /// If the pool's thread cannot start.
    fn default() -> Self {
        Self::builder()
            .build()
            .unwrap_or_else(|e| panic!("concur: cannot create a process pool: {e}"))
    }
}

impl Drop for ProcessPoolExecutor {
    /// Waits for every submitted task, like leaving Python's `with` block.
    fn drop(&mut self) {
        self.shared.drop_pool();
    }
}

impl fmt::Debug for ProcessPoolExecutor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProcessPoolExecutor")
            .field("max_workers", &self.max_workers())
            .field("stats", &self.stats())
            .finish()
    }
}

/// Entry points for the fuzz targets in `fuzz/`; not part of the API.
#[doc(hidden)]
pub mod __fuzz {
    /// Runs the parent's decoding of a worker's byte stream over `data`: frame boundaries
    /// with the length cap, every frame kind, and the values a result carries. Must never
    /// panic, whatever `data` is.
    pub fn worker_stream(data: &[u8]) {
        super::fuzz_worker_stream(data);
    }

    /// Runs the worker's decoding of a parent's byte stream over `data`.
    pub fn parent_stream(data: &[u8]) {
        super::fuzz_parent_stream(data);
    }
}

fn fuzz_worker_stream(mut data: &[u8]) {
    use protocol::FromWorker;
    while let Ok(Some((s, e))) = protocol::next_frame(data, 1 << 20) {
        if let Ok(FromWorker::Done { payload, .. }) = protocol::decode_from_worker(&data[s..e]) {
            let _ = codec::decode::<u64>(payload, Vec::new());
            let _ = codec::decode::<(String, Vec<u8>, Option<f64>)>(payload, Vec::new());
            let _ = codec::decode::<call::ChunkOut<String>>(payload, Vec::new());
            let _ = codec::decode::<SharedBuffer>(payload, Vec::new());
        }
        data = &data[e..];
    }
}

fn fuzz_parent_stream(mut data: &[u8]) {
    use protocol::ToWorker;
    while let Ok(Some((s, e))) = protocol::next_frame(data, 1 << 20) {
        if let Ok(ToWorker::Task { arg, .. }) = protocol::decode_to_worker(&data[s..e]) {
            let _ = codec::decode::<Vec<String>>(arg, Vec::new());
        }
        data = &data[e..];
    }
}
