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
//! Every mechanism hands back the same [`JoinHandle`]: block on it
//! ([`join`](JoinHandle::join)), `.await` it on any async runtime, or get called back
//! ([`on_done`](JoinHandle::on_done)). A task's outcome always reaches its handle: a
//! value, or a [`TaskError`] that says what happened (a panic and its message, a
//! cancellation, a shutdown, ...). [`wait`] and [`as_completed`] watch many handles at once.
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
//! Where Rust differs from Python: there is no GIL, so threads speed up CPU-bound work
//! too, and shared memory is checked by the compiler (`Send`, `Sync`, `Mutex`).

#![doc(test(attr(deny(warnings))))]

pub mod aio;
mod error;
mod handle;
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
    Plain, ProcessMap, ProcessPoolBuilder, ProcessPoolExecutor, ProcessPoolStats, SharedBuffer,
};
pub use thread::{
    FullPolicy, Map, PoolStats, Scope, ScopedJoinHandle, ThreadPoolBuilder, ThreadPoolExecutor,
    TrySubmitError,
};
