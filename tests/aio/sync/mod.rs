//! The event loop's sync primitives (`concur::aio::sync`), a module per primitive.

mod barrier;
mod contention;
mod locks;
mod notify;
mod once_cell;
mod oneshot;
mod queue_order;
mod queue_shutdown;
mod rwlock;
