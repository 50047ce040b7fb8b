//! The pools against CPython's `Lib/test/test_concurrent_futures/` (issue 15): one test
//! binary, a module per CPython file or theme, each case citing its origin.
//!
//! Issue 16: each module was a binary of its own. The cases that count this process's
//! children or threads look only at the pools they made, so the modules run in parallel;
//! `futures_init` (which counts every thread of the process) stays a binary of its own.

#[path = "../common/mod.rs"]
mod common;

mod deadlock;
mod done_callbacks;
mod map;
mod process_pool;
mod promise;
mod shutdown;
mod states;
mod thread_pool;
mod wait;
