//! The thread pool and the handle it returns (`concur::ThreadPoolExecutor`, `JoinHandle`,
//! `wait`, `as_completed`): one test binary, a module per theme.
//!
//! Issue 16: each module was a binary of its own. Tests that count threads count only those
//! of their own pool's name prefix, so the modules run in parallel.

#[path = "../common/mod.rs"]
mod common;

mod handle;
mod stress;
mod thread_pool;
mod thread_pool_regressions;
mod wait;
