//! [`MpiPoolExecutor`]: the process pool's API across every rank of an `mpirun` (feature
//! `mpi`): Python's `mpi4py.futures.MPIPoolExecutor`, without `MPI_Comm_spawn`.
//!
//! Every rank of `mpirun -n N ./app` runs the same program and calls
//! [`MpiPoolExecutor::world`]. Rank 0 gets the executor; ranks 1..N-1 become *agents*:
//! they never return from `world()`, serve tasks, and exit the process when rank 0 shuts
//! down. An agent runs each task in a local [`ProcessPoolExecutor`](crate::ProcessPoolExecutor), so a task that
//! panics, aborts or segfaults fails only itself, as on one machine, and no MPI rank ever
//! runs user code. Tasks are plain `fn(A) -> R` with serde arguments and results, as for
//! the process pool, and the handles are the same [`JoinHandle`]: join them, await them,
//! [`wait`](crate::wait) for them, [`as_completed`](crate::as_completed), cancel them.
//!
//! ```no_run
//! use concur::mpi::MpiPoolExecutor;
//!
//! fn count_primes(below: u64) -> usize {
//!     (2..below).filter(|n| (2..*n).take_while(|d| d * d <= *n).all(|d| n % d != 0)).count()
//! }
//!
//! fn main() {
//!     // Every rank calls it; only rank 0 comes back.
//!     let pool = MpiPoolExecutor::world().expect("an MPI pool");
//!     let h = pool.submit(count_primes, 10_000);
//!     assert_eq!(h.join(), Ok(1229));
//!     let counts: Vec<usize> = pool.map(count_primes, [10, 100, 1000]).map(Result::unwrap).collect();
//!     assert_eq!(counts, [4, 25, 168]);
//! } // dropping the pool shuts it down: the agents exit, MPI is finalised
//! ```
//!
//! Run it with `mpirun -n 3 target/release/app` (as root, Open MPI also wants
//! `OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1`; with more ranks than cores,
//! `OMPI_MCA_rmaps_base_oversubscribe=true`), or under Slurm's `srun`. Every rank must run
//! the very same binary: rank 0 checks, and refuses the pool otherwise.
//!
//! Rank 0 must shut the pool down (drop it, or call [`shutdown`](MpiPoolExecutor::shutdown))
//! before its `main` returns: that is what finalises MPI on every rank. How the ranks talk,
//! and what each failure does, is in `src/mpi/DESIGN.md`.

mod agent;
mod builder;
mod dispatch;
mod fingerprint;
mod link;
mod map;
mod task;
mod wire;
mod world;

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;

use serde::de::DeserializeOwned;
use serde::Serialize;

use self::builder::Config;
pub use self::builder::MpiPoolBuilder;
use self::dispatch::{Close, Shared};
pub use self::map::{MpiMap, MpiMapUnordered};
use self::task::{Job, MpiTask, Remote};
use self::world::Started;
use crate::handle::{JoinHandle, TaskError};
use crate::process::remote::{self, ChunkOut, EncodedTask};
use crate::Error;

/// Counters of an MPI pool, from [`MpiPoolExecutor::stats`].
///
/// ```no_run
/// let pool = concur::mpi::MpiPoolExecutor::world().unwrap();
/// assert_eq!(pool.stats().queued, 0);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MpiPoolStats {
    /// Tasks waiting on rank 0 for an agent with room (flow control keeps every task
    /// beyond the agents' credits here).
    pub queued: usize,
    /// Tasks sent to an agent and not answered yet: at most 8 per worker of that agent.
    pub sent: usize,
}

/// Set once `world()` has started MPI in this process: MPI cannot start twice.
static STARTED: AtomicBool = AtomicBool::new(false);

/// A pool of worker processes across the ranks of an MPI job. See the [module](self)
/// documentation.
///
/// ```no_run
/// fn square(x: u64) -> u64 {
///     x * x
/// }
/// let pool = concur::mpi::MpiPoolExecutor::world().unwrap();
/// assert_eq!(pool.submit(square, 12).join(), Ok(144));
/// ```
pub struct MpiPoolExecutor {
    shared: Arc<Shared>,
    /// Rank 0's MPI thread, until shutdown joins it.
    thread: Mutex<Option<thread::JoinHandle<()>>>,
    thread_id: thread::ThreadId,
    ranks: usize,
    workers: usize,
}

impl MpiPoolExecutor {
    /// Joins every rank of this MPI job into one pool. Call it on every rank (the same
    /// program runs on each): rank 0 gets the executor; on every other rank it never
    /// returns: the rank serves tasks, and its process exits (code 0) when rank 0 shuts
    /// the pool down.
    ///
    /// # Errors
    ///
    /// [`Error::Io`], its message beginning with `MPI:` and saying why: this process was
    /// not started by an MPI launcher, or is a worker of an agent; MPI was started in this
    /// process before (one pool per process); the MPI thread cannot start; the job has
    /// only one rank; or rank 0 refused the pool because a rank runs another build or
    /// cannot start its local pool (the message names the ranks; the agents print it
    /// and exit with code 0, leaving the job's exit status to rank 0).
    ///
    /// ```no_run
    /// let pool = concur::mpi::MpiPoolExecutor::world().unwrap();
    /// println!("{} ranks, {} workers", pool.ranks(), pool.workers());
    /// ```
    pub fn world() -> Result<MpiPoolExecutor, Error> {
        Self::builder().world()
    }

    /// The settings: workers per rank, a task time limit, how long to wait for the ranks
    /// to join.
    ///
    /// ```no_run
    /// let pool = concur::mpi::MpiPoolExecutor::builder().workers_per_rank(2).world().unwrap();
    /// # drop(pool);
    /// ```
    pub fn builder() -> MpiPoolBuilder {
        MpiPoolBuilder::default()
    }

    fn from_config(config: Config) -> Result<Self, Error> {
        if let Some(why) = world::unusable_here() {
            return Err(mpi_error(why));
        }
        if STARTED.swap(true, Ordering::SeqCst) {
            return Err(mpi_error(
                "MpiPoolExecutor::world() was called before in this process: MPI starts \
                 once per process, so there is one pool per process",
            ));
        }
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = thread::Builder::new()
            .name("concur-mpi".to_owned())
            .spawn(move || world::mpi_thread(config, tx))?;
        match rx.recv() {
            Ok(Started::Root {
                shared,
                ranks,
                workers,
            }) => Ok(MpiPoolExecutor {
                shared,
                thread_id: thread.thread().id(),
                thread: Mutex::new(Some(thread)),
                ranks,
                workers,
            }),
            Ok(Started::Agent) => loop {
                // The MPI thread serves, and ends the process when rank 0 shuts down.
                thread::park();
            },
            Ok(Started::Failed(why)) => {
                let _ = thread.join();
                Err(mpi_error(why))
            }
            Err(_) => {
                let _ = thread.join();
                Err(mpi_error("the MPI thread ended before the pool started"))
            }
        }
    }

    /// The ranks of the MPI job, rank 0 included (`mpirun -n` ranks): rank 0 submits, the
    /// others serve.
    ///
    /// ```no_run
    /// let pool = concur::mpi::MpiPoolExecutor::world().unwrap();
    /// assert!(pool.ranks() >= 2);
    /// ```
    pub fn ranks(&self) -> usize {
        self.ranks
    }

    /// The worker processes of all the agents' local pools together: how many tasks run
    /// at once.
    ///
    /// ```no_run
    /// let pool = concur::mpi::MpiPoolExecutor::builder().workers_per_rank(2).world().unwrap();
    /// assert_eq!(pool.workers(), 2 * (pool.ranks() - 1));
    /// ```
    pub fn workers(&self) -> usize {
        self.workers
    }

    /// How many tasks wait on rank 0, and how many the agents hold.
    ///
    /// ```no_run
    /// let pool = concur::mpi::MpiPoolExecutor::world().unwrap();
    /// let stats = pool.stats();
    /// assert!(stats.sent <= 8 * pool.workers());
    /// ```
    pub fn stats(&self) -> MpiPoolStats {
        let (queued, sent) = self.shared.counts();
        MpiPoolStats { queued, sent }
    }

    /// Runs `f(arg)` on a worker of the least-loaded agent. The argument is encoded here
    /// (one that cannot be, or that carries a [`SharedBuffer`](crate::SharedBuffer),
    /// fails the handle at once with [`TaskError::Serialization`]); tasks wait on rank 0
    /// until an agent has room.
    ///
    /// ```no_run
    /// let pool = concur::mpi::MpiPoolExecutor::world().unwrap();
    /// let h = pool.submit(|(a, b): (u32, String)| format!("{b}{a}"), (7, "n".to_owned()));
    /// assert_eq!(h.join().unwrap(), "n7");
    /// ```
    pub fn submit<A, R>(&self, f: fn(A) -> R, arg: A) -> JoinHandle<R>
    where
        A: Serialize + DeserializeOwned + Send + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        self.submit_encoded(remote::encode_task(f, arg))
    }

    /// Sends a chunk of a `map`: its handle resolves to the chunk's outcomes.
    fn submit_chunk<A, R>(&self, f: fn(A) -> R, items: Vec<A>) -> JoinHandle<ChunkOut<R>>
    where
        A: Serialize + DeserializeOwned + Send + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        self.submit_encoded(remote::encode_chunk(f, items))
    }

    fn submit_encoded<T>(&self, encoded: Result<EncodedTask, String>) -> JoinHandle<T>
    where
        T: DeserializeOwned + Send + 'static,
    {
        let id = self.shared.next_id();
        let cell = Arc::new(MpiTask::<T>::new(id, Arc::downgrade(&self.shared)));
        let handle = JoinHandle::new(cell.clone());
        let message = encoded.and_then(|task| {
            let message = wire::task(id, &task);
            if message.len() > wire::MAX_MESSAGE {
                return Err(format!(
                    "the task's message of {} bytes exceeds the limit of {} bytes",
                    message.len(),
                    wire::MAX_MESSAGE
                ));
            }
            Ok(message)
        });
        match message {
            Ok(message) => self.shared.submit(Job {
                id,
                message,
                task: cell,
            }),
            Err(e) => cell.abort(TaskError::Serialization(e)),
        }
        handle
    }

    /// Runs `f` on every item across the agents and yields the outcomes in input order:
    /// `Executor.map`. Items are read lazily and sent in chunks (sized as it runs, or
    /// [`MpiMap::chunk_size`]), a bounded number in flight. An item that panics yields
    /// its own `Err`; the others are unaffected.
    ///
    /// ```no_run
    /// let pool = concur::mpi::MpiPoolExecutor::world().unwrap();
    /// let out: Vec<u64> = pool.map(|x: u64| x * 2, 0..1000).map(Result::unwrap).collect();
    /// assert_eq!(out, (0..1000).map(|x| x * 2).collect::<Vec<_>>());
    /// ```
    pub fn map<A, R, I>(&self, f: fn(A) -> R, items: I) -> MpiMap<'_, A, R, I::IntoIter>
    where
        A: Serialize + DeserializeOwned + Send + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
        I: IntoIterator<Item = A>,
    {
        MpiMap::new(self, f, items.into_iter())
    }

    /// Like [`map`](Self::map), but yields the outcomes as their chunks finish, each with
    /// the index of its item in the input (`(usize, Result<R, TaskError>)`; within a
    /// chunk, in input order), as mpi4py.futures and rayon users expect. Lazy over the
    /// input, with the window both pools' `map_unordered` use (`2 × workers` chunks in
    /// flight, more only if the consumer lags); [`MpiMapUnordered::timeout`] bounds the
    /// whole map; dropping the iterator cancels the chunks in flight.
    ///
    /// ```no_run
    /// let pool = concur::mpi::MpiPoolExecutor::world().unwrap();
    /// let mut got: Vec<(usize, u64)> = pool
    ///     .map_unordered(|x: u64| x * 2, 0..1000)
    ///     .map(|(i, r)| (i, r.unwrap()))
    ///     .collect();
    /// got.sort();
    /// assert_eq!(got, (0..1000).map(|i| (i as usize, i * 2)).collect::<Vec<_>>());
    /// ```
    pub fn map_unordered<A, R, I>(
        &self,
        f: fn(A) -> R,
        items: I,
    ) -> MpiMapUnordered<'_, A, R, I::IntoIter>
    where
        A: Serialize + DeserializeOwned + Send + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
        I: IntoIterator<Item = A>,
    {
        MpiMapUnordered::new(self, f, items.into_iter())
    }

    /// Stops accepting tasks, waits until every submitted task has finished, then ends
    /// the agents (their processes exit) and finalises MPI. Later submissions fail with
    /// [`TaskError::Shutdown`]. Dropping the pool does the same.
    ///
    /// ```no_run
    /// let pool = concur::mpi::MpiPoolExecutor::world().unwrap();
    /// let h = pool.submit(|x: u8| x, 1);
    /// pool.shutdown();
    /// assert!(h.is_finished());
    /// assert_eq!(pool.submit(|x: u8| x, 2).join(), Err(concur::TaskError::Shutdown));
    /// ```
    pub fn shutdown(&self) {
        self.close(Close::Wait);
    }

    /// Like [`shutdown`](Self::shutdown), but first fails every task still waiting on
    /// rank 0 (not sent to an agent) with [`TaskError::Shutdown`]; the others finish.
    ///
    /// ```no_run
    /// let pool = concur::mpi::MpiPoolExecutor::world().unwrap();
    /// pool.shutdown_cancel_pending();
    /// ```
    pub fn shutdown_cancel_pending(&self) {
        self.close(Close::CancelPending);
    }

    /// Fails every unfinished task with [`TaskError::Shutdown`] now, has every agent kill
    /// its workers, and returns once the agents have left.
    ///
    /// ```no_run
    /// fn forever(_: ()) {
    ///     loop {
    ///         std::thread::park();
    ///     }
    /// }
    /// let pool = concur::mpi::MpiPoolExecutor::world().unwrap();
    /// let h = pool.submit(forever, ());
    /// pool.shutdown_kill();
    /// assert_eq!(h.join(), Err(concur::TaskError::Shutdown));
    /// ```
    pub fn shutdown_kill(&self) {
        self.close(Close::Kill);
    }

    fn close(&self, how: Close) {
        self.shared.close(how);
        if thread::current().id() == self.thread_id {
            // A callback on the MPI thread: it finishes the shutdown itself.
            return;
        }
        let mut thread = self.thread.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(t) = thread.take() {
            // The thread aborts the process rather than panic (see `world.rs`).
            let _ = t.join();
        }
    }
}

/// The error of anything MPI refused, saying what.
fn mpi_error(why: impl Into<String>) -> Error {
    Error::Io(std::io::Error::other(format!("MPI: {}", why.into())))
}

impl Drop for MpiPoolExecutor {
    /// Waits for every submitted task, then ends the agents and finalises MPI.
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl fmt::Debug for MpiPoolExecutor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MpiPoolExecutor")
            .field("ranks", &self.ranks)
            .field("workers", &self.workers)
            .field("stats", &self.stats())
            .finish()
    }
}
