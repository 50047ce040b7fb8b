//! The event loop's sync primitives (`concur::aio::sync`): one test binary, a module per
//! primitive (issue 16: each former `tests/aio_sync_*.rs` linked the whole crate on its own).
//! Nothing here counts process-wide things, so the modules run in parallel safely.

mod barrier;
mod contention;
mod notify;
mod once_cell;
mod oneshot;
mod queue_order;
mod queue_shutdown;
mod rwlock;
