//! # concur
//!
//! The three concurrency mechanisms every Python programmer learns, for Rust, under one
//! API:
//!
//! | mechanism | here | Python |
//! |---|---|---|
//! | a pool of threads | [`ThreadPoolExecutor`] | `concurrent.futures.ThreadPoolExecutor` |
//! | a single-threaded event loop | [`aio`] | `asyncio` |
//! | a pool of processes | [`ProcessPoolExecutor`] | `concurrent.futures.ProcessPoolExecutor` |
//!
//! Both pools hand back the same [`JoinHandle`]: block on it
//! ([`join`](JoinHandle::join)), `.await` it on any async runtime, or get called back
//! ([`on_done`](JoinHandle::on_done)). A task's outcome always reaches its handle: a
//! value, or a [`TaskError`] that says what happened (a panic and its message, a
//! cancellation, a shutdown, ...). [`wait`] and [`as_completed`] watch many handles at once.
//! The event loop's tasks have a handle of their own, [`aio::Task`]: see
//! [below](#one-handle-for-the-pools-another-for-the-loop) how the two differ and how they mix.
//!
//! ```
//! use concur::{as_completed, ThreadPoolExecutor};
//!
//! let pool = ThreadPoolExecutor::new(4);
//! // `submit` starts the task right away: there is nothing to await first.
//! let pages: Vec<_> = ["a", "bb", "ccc"]
//!     .into_iter()
//!     .map(|page| pool.submit(move || page.len()))
//!     .collect();
//! let mut sizes: Vec<usize> = as_completed(pages).map(|(_, r)| r.unwrap()).collect();
//! sizes.sort();
//! assert_eq!(sizes, [1, 2, 3]);
//! ```
//!
//! The event loop runs futures on one thread, with asyncio's toolkit (`sleep`, `gather`,
//! `TaskGroup`, `Queue`, sockets, subprocesses, signals); a pool's handle can be awaited
//! inside it:
//!
//! ```
//! use std::time::Duration;
//! use concur::{aio, ThreadPoolExecutor};
//!
//! let pool = ThreadPoolExecutor::new(2);
//! let total = aio::run(async {
//!     let a = aio::spawn(async { aio::sleep(Duration::from_millis(1)).await; 1 });
//!     let b = aio::spawn(async { 2 });
//!     let c = pool.submit(|| 3); // a thread pool's JoinHandle, awaited on the loop
//!     a.await.unwrap() + b.await.unwrap() + c.await.unwrap()
//! });
//! assert_eq!(total, 6);
//! ```
//!
//! The process pool runs a plain `fn(A) -> R` in worker processes (arguments and results
//! are serde values; large data crosses as a [`SharedBuffer`] without a copy). No setup
//! line is needed: a hook that runs before `main` turns a process the pool started into a
//! worker.
//!
//! ```
//! # #[cfg(feature = "process-pool")] {
//! use concur::ProcessPoolExecutor;
//!
//! fn square(n: u64) -> u64 {
//!     n * n
//! }
//!
//! let pool = ProcessPoolExecutor::new(2).unwrap();
//! let handle = pool.submit(square, 7); // the same JoinHandle as the thread pool's
//! assert_eq!(handle.join().unwrap(), 49);
//! let squares: Vec<u64> = pool.map(square, [1, 2, 3]).map(Result::unwrap).collect();
//! assert_eq!(squares, [1, 4, 9]);
//! # }
//! ```
//!
//! Where Rust differs from Python: there is no GIL, so threads can run CPU-bound work in
//! parallel (as far as the machine has free cores: `cargo run --release` measures it), and
//! shared memory is checked by the compiler (`Send`, `Sync`, `Mutex`).
//!
//! ## One handle for the pools, another for the loop
//!
//! [`aio::spawn`] returns an [`aio::Task`], not a [`JoinHandle`]. The two share the error
//! type ([`TaskError`]: `Panicked`, `Cancelled`, ...), `cancel()`, and "dropping the handle
//! detaches the task, which runs on" (as asyncio's `Task` and concurrent.futures' `Future`
//! do). They differ where a loop differs from a pool:
//!
//! | | [`JoinHandle<T>`] (thread, process and MPI pools) | [`aio::Task<T>`] (the loop) |
//! |---|---|---|
//! | where it may go | any thread (`Send`) | only its loop's thread: a loop task's future and output may be `!Send` (`Rc`, `RefCell`) |
//! | how to wait | [`join`](JoinHandle::join) blocks; `.await` on any runtime; [`on_done`](JoinHandle::on_done) | `.await` on its loop (a blocking `join` there would stop the loop that runs the task) |
//! | many at once | [`wait`], [`as_completed`] (blocking) | [`aio::wait`], [`aio::as_completed`], [`aio::gather`], [`aio::TaskGroup`] |
//! | `cancel()` returns `true` | the task will never run, or its worker process was killed | the future is dropped at its next await point |
//!
//! They mix in one direction without any glue: a [`JoinHandle`] is a future, so a loop
//! task awaits it, and `aio::spawn(handle)` makes it an [`aio::Task`] for `aio::wait` and
//! groups. With [`JoinHandle::cancel_on_drop`], cancelling that loop task (or an
//! [`aio::timeout`] around the `.await`) cancels the pool's task too, as asyncio's
//! `run_in_executor` does:
//!
//! ```
//! use std::time::Duration;
//! use concur::{aio, ThreadPoolExecutor, TaskError};
//!
//! let pool = ThreadPoolExecutor::new(1);
//! aio::run(async {
//!     let busy = pool.submit(|| std::thread::sleep(Duration::from_millis(50)));
//!     let queued = pool.submit(|| 42).cancel_on_drop(); // waits behind `busy`
//!     let as_task = aio::spawn(queued); // a pool's handle, as a loop task
//!     assert!(as_task.cancel()); // drops the handle: the queued pool task is cancelled
//!     assert_eq!(as_task.await, Err(TaskError::Cancelled));
//!     busy.await.unwrap();
//! });
//! ```
//!
//! ## Platform
//!
//! concur targets Linux: the process pool and the event loop's signals and subprocesses
//! use its APIs (memfd, pidfd, eventfd, `PR_SET_PDEATHSIG`).
//!
//! ## Cargo features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `process-pool` | yes | [`ProcessPoolExecutor`], [`SharedBuffer`] and the worker hook (without it, no code that makes a process a worker is compiled in) |
//! | `hyper` | yes | hyper 1.x on the loop: `hyper::rt::{Read, Write}` for concur's streams, an executor and a timer (module `aio::hyper`) |
//! | `tokio-io` | no | concur's streams also implement `tokio::io::{AsyncRead, AsyncWrite}` |
//! | `tokio-runtime` | no | futures that need a tokio reactor (tokio's sockets, timers) run inside [`aio::run`]; implies `tokio-io` |
//! | `mpi` | no | `mpi::MpiPoolExecutor`: the same `submit`/`map`/[`JoinHandle`] across the ranks of an `mpirun` (needs Open MPI and libclang: `scripts/install-mpi.sh`); implies `process-pool` |
//!
//! ## Where to go next
//!
//! - [`ThreadPoolExecutor`] and [`ThreadPoolBuilder`]: bounded queues, scoped tasks, `map`.
//! - [`aio`]: the event loop, its tasks, time, sync primitives, sockets and subprocesses.
//! - [`ProcessPoolExecutor`] and [`ProcessPoolBuilder`]: limits, recycling, shutdown, and
//!   what each failure of a worker does.
//! - [`JoinHandle`] and [`TaskError`]: one handle and one error for all three.
//! - The repository's README (`cargo run --release` prints the cheat sheet measured on
//!   your machine) and RELIABILITY.md.

#![doc(test(attr(deny(warnings))))]

pub mod aio;
mod error;
mod handle;
#[cfg(all(target_os = "linux", feature = "mpi"))]
pub mod mpi;
#[cfg(all(target_os = "linux", feature = "process-pool"))]
pub mod process;
mod sync;
mod thread;

pub use error::Error;

pub use handle::{
    as_completed, promise, wait, AsCompleted, JoinHandle, PanicMessage, Promise, ReturnWhen,
    TaskError, Waited, WorkerExit,
};
#[cfg(all(target_os = "linux", feature = "process-pool"))]
pub use process::{
    Plain, ProcessMap, ProcessMapUnordered, ProcessPoolBuilder, ProcessPoolExecutor,
    ProcessPoolStats, SharedBuffer,
};
pub use thread::{
    FullPolicy, Map, MapUnordered, PoolStats, Scope, ScopedJoinHandle, ThreadPoolBuilder,
    ThreadPoolExecutor, TrySubmitError,
};
