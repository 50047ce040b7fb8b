//! Synchronisation between the tasks of one event loop: asyncio's `Lock` (here [`Mutex`],
//! holding its data), [`Event`], [`Semaphore`], [`BoundedSemaphore`], [`Condition`],
//! [`Barrier`] and [`Queue`] (with [`LifoQueue`] and [`PriorityQueue`]); and tokio's
//! [`Notify`], [`RwLock`], [`OnceCell`] and [`oneshot`] channel.
//!
//! They are for tasks on the same loop (they are not `Sync`): waiting on one suspends the
//! task, never the thread. Every waiter is served in FIFO order, and a waiting future that
//! is dropped (cancelled) leaves the line without losing anyone's wake-up.

mod barrier;
mod condition;
mod event;
mod mutex;
mod notify;
mod once_cell;
pub mod oneshot;
mod queue;
mod rwlock;
mod semaphore;
mod waiters;

pub use barrier::{Barrier, BrokenBarrier};
pub use condition::Condition;
pub use event::Event;
pub use mutex::{Lock, Mutex, MutexGuard};
pub use notify::{Notified, Notify};
pub use once_cell::{OnceCell, SetError};
pub use queue::{LifoQueue, PriorityQueue, Queue, QueueFull, QueueOrder, QueueShutDown};
pub use rwlock::{RwLock, RwLockReadGuard, RwLockWriteGuard};
pub use semaphore::{BoundedSemaphore, ReleasedTooManyTimes, Semaphore, SemaphorePermit};
