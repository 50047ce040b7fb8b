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
//! ## Names, groups, dumps, a clock for tests
//!
//! Name a task with [`Builder`]; [`current_task`], [`all_tasks`] and [`dump_tasks`] tell
//! what every task is doing (its state, polls, age, and what it awaits):
//!
//! ```
//! use std::time::Duration;
//! use concur::aio;
//!
//! aio::run(async {
//!     let t = aio::Builder::new().name("ticker").spawn(aio::sleep(Duration::from_secs(60)));
//!     aio::yield_now().await;
//!     let dump = aio::dump_tasks();
//!     assert!(dump.contains("\"ticker\": pending, 1 poll"));
//!     assert!(dump.contains("awaiting a timer"));
//!     t.cancel();
//! });
//! ```
//!
//! A [`TaskGroup`] ends together: the first failure cancels the other children and, in
//! [`TaskGroup::scope`], the group's own body; [`TaskGroupError`] lists every failure:
//!
//! ```
//! use std::time::Duration;
//! use concur::aio;
//!
//! aio::run(async {
//!     let group = aio::TaskGroup::new();
//!     let tg = group.spawner(); // children can add tasks too
//!     let out = group
//!         .scope(async move {
//!             tg.spawn(async { panic!("lost the connection") });
//!             aio::sleep(Duration::from_secs(3600)).await; // cancelled by the failure
//!         })
//!         .await;
//!     assert_eq!(out.unwrap_err().errors().len(), 1);
//! });
//! ```
//!
//! For tests, [`time::pause`] stops the loop's clock: time then moves only by
//! [`time::advance`], or, when every task waits, straight to the next timer:
//!
//! ```
//! use std::time::Duration;
//! use concur::aio;
//!
//! aio::run(async {
//!     aio::time::pause();
//!     let start = aio::time::now();
//!     let r = aio::timeout(Duration::from_secs(3600), std::future::pending::<()>()).await;
//!     assert!(r.is_err());
//!     assert_eq!(aio::time::now() - start, Duration::from_secs(3600)); // in no time
//! });
//! ```
//!
//! [`JoinHandle`]: crate::JoinHandle

mod builder;
mod clock;
mod combinators;
mod driver;
mod dump_server;
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
mod read_ahead;
mod registered;
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
pub use driver::Driver;
pub use dump_server::{fetch_task_dump, serve_task_dumps};
pub use group::{as_completed, shield, wait, AsCompleted};
pub use introspect::{all_tasks, current_task, dump_tasks, TaskRef};
pub(crate) use introspect::{note_awaiting, Awaiting};
pub use runtime::{driver, run, spawn, warn_slow_polls};
pub use task::Task;
pub use task_group::{GroupSpawner, TaskGroup, TaskGroupError};
pub use time::{interval, sleep, sleep_until, timeout, Elapsed, Interval, Sleep, Timeout};
pub use time::{timeout_at, MissedTickBehavior};
