//! The event loop (`concur::aio`): one test binary, a module per part of the loop.
//!
//! Issue 16: each of these was a binary of its own, and each linked the whole crate. Only
//! tests that read or change process-wide state (descriptors, children, signal handlers,
//! a tokio runtime) stay in binaries of their own: `aio_process_leaks`, `aio_signal`,
//! `aio_tokio`. Nothing here counts process-wide things, so the modules run in parallel.

mod dns;
mod event_loop;
mod fs;
mod group;
#[cfg(feature = "hyper")]
mod hyper_io;
mod io;
mod net;
mod process;
mod regressions;
mod sync;
mod tasks_identity;
mod time_interval;
mod time_sleep;
mod time_virtual;
mod timeouts;
mod uring_io;
