//! The process pool (`concur::ProcessPoolExecutor`): one test binary, a module per theme.
//!
//! Issue 16: each module was a binary of its own. Tests that count every descriptor or
//! child of this process (`process_leaks`, `fault_fd_exhaustion`), change how this binary
//! is built or started (`process_pool`, `process_worker_trust`) stay binaries of their own.

#[path = "../common/mod.rs"]
mod common;

mod chaos;
mod control;
mod data;
mod errors;
mod faults;
mod shared_buffer;
mod shared_library;
