//! `concur::aio`: a single-threaded event loop, Python's `asyncio` for Rust.
//!
//! One thread runs many tasks; a task runs until it awaits something that is not ready
//! (a timer, a socket, another task) and then yields the thread to the others. A future
//! does nothing until it is brought to life by [`run`] or `.await`, exactly as the cheat
//! sheet says of coroutines; [`spawn`] starts one as an independent [`Task`].
//!
//! ```
//! use std::time::Duration;
//! use concur::aio;
//!
//! let total = aio::run(async {
//!     let downloads: Vec<_> = (1..=3u64)
//!         .map(|i| aio::spawn(async move {
//!             aio::sleep(Duration::from_millis(10 * i)).await; // waiting, not blocking
//!             i
//!         }))
//!         .collect();
//!     let mut total = 0;
//!     for d in downloads {
//!         total += d.await.unwrap();
//!     }
//!     total
//! });
//! assert_eq!(total, 6);
//! ```
//!
//! Blocking work goes to a thread with [`to_thread`]; any pool's [`JoinHandle`] can be
//! awaited inside the loop (`run_in_executor`).
//!
//! [`JoinHandle`]: crate::JoinHandle

mod builder;
mod clock;
mod combinators;
mod driver;
pub mod fs;
mod group;
#[cfg(feature = "hyper")]
pub mod hyper;
mod introspect;
pub mod io;
#[cfg(all(test, concur_loom))]
mod loom_tests;
pub mod net;
pub mod process;
mod reactor;
mod runtime;
mod schedule;
pub mod signal;
pub mod sync;
mod task;
mod task_group;
pub mod time;
#[cfg(feature = "tokio-io")]
pub mod tokio;
mod wheel;

pub use builder::Builder;
pub use combinators::{gather, to_thread, yield_now, YieldNow};
pub use driver::{driver, Driver};
pub use group::{as_completed, shield, wait, AsCompleted};
pub use introspect::{all_tasks, current_task, dump_tasks, TaskRef};
pub(crate) use introspect::{note_awaiting, Awaiting};
pub use runtime::{run, spawn, warn_slow_polls};
pub use task::Task;
pub use task_group::{GroupSpawner, TaskGroup, TaskGroupError};
pub use time::{interval, sleep, sleep_until, timeout, Elapsed, Interval, Sleep, Timeout};
pub use time::{timeout_at, MissedTickBehavior};
