//! Synchronisation between the tasks of one event loop: asyncio's `Lock` (here [`Mutex`],
//! holding its data), [`Event`], [`Semaphore`], [`BoundedSemaphore`], [`Condition`],
//! [`Barrier`] and [`Queue`] (with [`LifoQueue`] and [`PriorityQueue`]); and tokio's
//! [`Notify`], [`RwLock`], [`OnceCell`] and [`oneshot`] channel.
//!
//! They are for tasks on the same loop (they are not `Sync`): waiting on one suspends the
//! task, never the thread. Every waiter is served in FIFO order, and a waiting future that
//! is dropped (cancelled) leaves the line without losing anyone's wake-up.
//!
//! A producer and two consumers through a bounded [`Queue`], the total kept under a
//! [`Mutex`]:
//!
//! ```
//! use std::rc::Rc;
//! use concur::aio::{self, sync::{Mutex, Queue}};
//!
//! let total = aio::run(async {
//!     let queue = Rc::new(Queue::bounded(2)); // `put` waits while two items wait
//!     let total = Rc::new(Mutex::new(0u32));
//!     let consumers: Vec<_> = (0..2)
//!         .map(|_| {
//!             let (queue, total) = (queue.clone(), total.clone());
//!             aio::spawn(async move {
//!                 while let Some(n) = queue.get().await {
//!                     *total.lock().await += n;
//!                 }
//!             })
//!         })
//!         .collect();
//!     for n in 1..=10 {
//!         queue.put(Some(n)).await;
//!     }
//!     for _ in 0..2 {
//!         queue.put(None).await; // one "no more" for each consumer
//!     }
//!     for c in consumers {
//!         c.await.unwrap();
//!     }
//!     *total.lock().await
//! });
//! assert_eq!(total, 55);
//! ```

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
