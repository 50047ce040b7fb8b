//! [`Queue`]: asyncio's `Queue`, unbounded or bounded.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fmt;
use std::future::poll_fn;
use std::task::Poll;

use super::waiters::{Ticket, Waiters};
use crate::aio::runtime::poll_budget;

/// The error of [`Queue::put_nowait`] on a full queue; hands the value back.
///
/// ```
/// use concur::aio::sync::{Queue, QueueFull};
/// let q = Queue::bounded(1);
/// q.put_nowait(1).unwrap();
/// assert_eq!(q.put_nowait(2), Err(QueueFull(2)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueFull<T>(pub T);

impl<T> fmt::Display for QueueFull<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the queue is full")
    }
}

impl<T: fmt::Debug> std::error::Error for QueueFull<T> {}

/// A FIFO queue between tasks of one loop: `asyncio.Queue`. [`get`](Self::get) waits
/// while it is empty; on a bounded queue [`put`](Self::put) waits while it is full.
///
/// ```
/// use std::rc::Rc;
/// use concur::aio::{self, sync::Queue};
///
/// let got = aio::run(async {
///     let q = Rc::new(Queue::bounded(2));
///     let producer = aio::spawn({
///         let q = q.clone();
///         async move {
///             for i in 0..5 {
///                 q.put(i).await; // waits while two items are queued
///             }
///         }
///     });
///     let mut got = Vec::new();
///     for _ in 0..5 {
///         got.push(q.get().await);
///     }
///     producer.await.unwrap();
///     got
/// });
/// assert_eq!(got, [0, 1, 2, 3, 4]);
/// ```
pub struct Queue<T> {
    items: RefCell<VecDeque<T>>,
    capacity: Option<usize>,
    getters: Waiters,
    putters: Waiters,
    unfinished: Cell<usize>,
    all_done: Waiters,
}

impl<T> Queue<T> {
    /// An unbounded queue.
    ///
    /// ```
    /// use concur::aio::{self, sync::Queue};
    /// aio::run(async {
    ///     let q = Queue::bounded(2);
    ///     q.put(1).await;
    ///     q.put_nowait(2).unwrap();
    ///     assert!(q.is_full() && q.len() == 2 && !q.is_empty());
    ///     assert_eq!(q.get().await, 1);
    ///     assert_eq!(q.get_nowait(), Some(2));
    ///     q.task_done();
    ///     q.task_done();
    ///     q.join().await; // every item was marked done
    ///     assert!(Queue::<u8>::new().is_empty());
    /// });
    /// ```
    pub fn new() -> Self {
        Self::with_capacity(None)
    }

    /// A queue of at most `capacity` items.
    ///
    /// # Panics
    ///
    /// If `capacity` is zero.
    ///
    /// ```
    /// use concur::aio::{self, sync::Queue};
    /// aio::run(async {
    ///     let q = Queue::bounded(2);
    ///     q.put(1).await;
    ///     q.put_nowait(2).unwrap();
    ///     assert!(q.is_full() && q.len() == 2 && !q.is_empty());
    ///     assert_eq!(q.get().await, 1);
    ///     assert_eq!(q.get_nowait(), Some(2));
    ///     q.task_done();
    ///     q.task_done();
    ///     q.join().await; // every item was marked done
    ///     assert!(Queue::<u8>::new().is_empty());
    /// });
    /// ```
    pub fn bounded(capacity: usize) -> Self {
        assert!(
            capacity > 0,
            "concur::aio::sync::Queue::bounded needs a capacity of at least 1"
        );
        Self::with_capacity(Some(capacity))
    }

    fn with_capacity(capacity: Option<usize>) -> Self {
        Queue {
            items: RefCell::new(VecDeque::new()),
            capacity,
            getters: Waiters::default(),
            putters: Waiters::default(),
            unfinished: Cell::new(0),
            all_done: Waiters::default(),
        }
    }

    /// Items in the queue.
    ///
    /// ```
    /// use concur::aio::{self, sync::Queue};
    /// aio::run(async {
    ///     let q = Queue::bounded(2);
    ///     q.put(1).await;
    ///     q.put_nowait(2).unwrap();
    ///     assert!(q.is_full() && q.len() == 2 && !q.is_empty());
    ///     assert_eq!(q.get().await, 1);
    ///     assert_eq!(q.get_nowait(), Some(2));
    ///     q.task_done();
    ///     q.task_done();
    ///     q.join().await; // every item was marked done
    ///     assert!(Queue::<u8>::new().is_empty());
    /// });
    /// ```
    pub fn len(&self) -> usize {
        self.items.borrow().len()
    }

    /// `true` if the queue holds no item.
    ///
    /// ```
    /// use concur::aio::{self, sync::Queue};
    /// aio::run(async {
    ///     let q = Queue::bounded(2);
    ///     q.put(1).await;
    ///     q.put_nowait(2).unwrap();
    ///     assert!(q.is_full() && q.len() == 2 && !q.is_empty());
    ///     assert_eq!(q.get().await, 1);
    ///     assert_eq!(q.get_nowait(), Some(2));
    ///     q.task_done();
    ///     q.task_done();
    ///     q.join().await; // every item was marked done
    ///     assert!(Queue::<u8>::new().is_empty());
    /// });
    /// ```
    pub fn is_empty(&self) -> bool {
        self.items.borrow().is_empty()
    }

    /// `true` if a bounded queue is at capacity.
    ///
    /// ```
    /// use concur::aio::{self, sync::Queue};
    /// aio::run(async {
    ///     let q = Queue::bounded(2);
    ///     q.put(1).await;
    ///     q.put_nowait(2).unwrap();
    ///     assert!(q.is_full() && q.len() == 2 && !q.is_empty());
    ///     assert_eq!(q.get().await, 1);
    ///     assert_eq!(q.get_nowait(), Some(2));
    ///     q.task_done();
    ///     q.task_done();
    ///     q.join().await; // every item was marked done
    ///     assert!(Queue::<u8>::new().is_empty());
    /// });
    /// ```
    pub fn is_full(&self) -> bool {
        self.capacity.is_some_and(|c| self.len() >= c)
    }

    /// Adds `value` if there is room, or hands it back.
    ///
    /// ```
    /// use concur::aio::{self, sync::Queue};
    /// aio::run(async {
    ///     let q = Queue::bounded(2);
    ///     q.put(1).await;
    ///     q.put_nowait(2).unwrap();
    ///     assert!(q.is_full() && q.len() == 2 && !q.is_empty());
    ///     assert_eq!(q.get().await, 1);
    ///     assert_eq!(q.get_nowait(), Some(2));
    ///     q.task_done();
    ///     q.task_done();
    ///     q.join().await; // every item was marked done
    ///     assert!(Queue::<u8>::new().is_empty());
    /// });
    /// ```
    pub fn put_nowait(&self, value: T) -> Result<(), QueueFull<T>> {
        if self.is_full() || !self.putters.is_empty() {
            return Err(QueueFull(value));
        }
        self.push(value);
        Ok(())
    }

    fn push(&self, value: T) {
        self.items.borrow_mut().push_back(value);
        self.unfinished.set(self.unfinished.get() + 1);
        self.getters.wake_first();
    }

    /// Adds `value`, waiting (FIFO with other putters) while a bounded queue is full.
    ///
    /// ```
    /// use concur::aio::{self, sync::Queue};
    /// aio::run(async {
    ///     let q = Queue::bounded(2);
    ///     q.put(1).await;
    ///     q.put_nowait(2).unwrap();
    ///     assert!(q.is_full() && q.len() == 2 && !q.is_empty());
    ///     assert_eq!(q.get().await, 1);
    ///     assert_eq!(q.get_nowait(), Some(2));
    ///     q.task_done();
    ///     q.task_done();
    ///     q.join().await; // every item was marked done
    ///     assert!(Queue::<u8>::new().is_empty());
    /// });
    /// ```
    pub async fn put(&self, value: T) {
        let ticket = Ticket::new(&self.putters);
        poll_fn(|cx| {
            if poll_budget(cx).is_pending() {
                return Poll::Pending;
            }
            if !self.is_full() && ticket.is_first() {
                ticket.done();
                return Poll::Ready(());
            }
            ticket.wait(cx.waker());
            Poll::Pending
        })
        .await;
        self.push(value);
        if !self.is_full() {
            self.putters.wake_first();
        }
    }

    /// Takes the oldest item, if any.
    ///
    /// ```
    /// use concur::aio::{self, sync::Queue};
    /// aio::run(async {
    ///     let q = Queue::bounded(2);
    ///     q.put(1).await;
    ///     q.put_nowait(2).unwrap();
    ///     assert!(q.is_full() && q.len() == 2 && !q.is_empty());
    ///     assert_eq!(q.get().await, 1);
    ///     assert_eq!(q.get_nowait(), Some(2));
    ///     q.task_done();
    ///     q.task_done();
    ///     q.join().await; // every item was marked done
    ///     assert!(Queue::<u8>::new().is_empty());
    /// });
    /// ```
    pub fn get_nowait(&self) -> Option<T> {
        if !self.getters.is_empty() {
            return None;
        }
        self.pop()
    }

    fn pop(&self) -> Option<T> {
        let v = self.items.borrow_mut().pop_front()?;
        self.putters.wake_first();
        Some(v)
    }

    /// Takes the oldest item, waiting (FIFO with other getters) while the queue is empty.
    ///
    /// ```
    /// use concur::aio::{self, sync::Queue};
    /// aio::run(async {
    ///     let q = Queue::bounded(2);
    ///     q.put(1).await;
    ///     q.put_nowait(2).unwrap();
    ///     assert!(q.is_full() && q.len() == 2 && !q.is_empty());
    ///     assert_eq!(q.get().await, 1);
    ///     assert_eq!(q.get_nowait(), Some(2));
    ///     q.task_done();
    ///     q.task_done();
    ///     q.join().await; // every item was marked done
    ///     assert!(Queue::<u8>::new().is_empty());
    /// });
    /// ```
    pub async fn get(&self) -> T {
        let ticket = Ticket::new(&self.getters);
        poll_fn(|cx| {
            if poll_budget(cx).is_pending() {
                return Poll::Pending;
            }
            if ticket.is_first() {
                if let Some(v) = self.pop() {
                    ticket.done();
                    if !self.is_empty() {
                        self.getters.wake_first();
                    }
                    return Poll::Ready(v);
                }
            }
            ticket.wait(cx.waker());
            Poll::Pending
        })
        .await
    }

    /// Marks one item taken with `get` as processed (`Queue.task_done`).
    ///
    /// # Panics
    ///
    /// If called more times than items were put.
    ///
    /// ```
    /// use concur::aio::{self, sync::Queue};
    /// aio::run(async {
    ///     let q = Queue::bounded(2);
    ///     q.put(1).await;
    ///     q.put_nowait(2).unwrap();
    ///     assert!(q.is_full() && q.len() == 2 && !q.is_empty());
    ///     assert_eq!(q.get().await, 1);
    ///     assert_eq!(q.get_nowait(), Some(2));
    ///     q.task_done();
    ///     q.task_done();
    ///     q.join().await; // every item was marked done
    ///     assert!(Queue::<u8>::new().is_empty());
    /// });
    /// ```
    pub fn task_done(&self) {
        let n = self.unfinished.get();
        assert!(
            n > 0,
            "concur::aio::sync::Queue::task_done called more times than items were put"
        );
        self.unfinished.set(n - 1);
        if n == 1 {
            self.all_done.drain_wake();
        }
    }

    /// Waits until every item put has been marked with [`task_done`](Self::task_done).
    ///
    /// ```
    /// use concur::aio::{self, sync::Queue};
    /// aio::run(async {
    ///     let q = Queue::bounded(2);
    ///     q.put(1).await;
    ///     q.put_nowait(2).unwrap();
    ///     assert!(q.is_full() && q.len() == 2 && !q.is_empty());
    ///     assert_eq!(q.get().await, 1);
    ///     assert_eq!(q.get_nowait(), Some(2));
    ///     q.task_done();
    ///     q.task_done();
    ///     q.join().await; // every item was marked done
    ///     assert!(Queue::<u8>::new().is_empty());
    /// });
    /// ```
    pub async fn join(&self) {
        let ticket = Ticket::new(&self.all_done);
        poll_fn(|cx| {
            if self.unfinished.get() == 0 {
                return Poll::Ready(());
            }
            if ticket.was_served() {
                ticket.reset(); // woken by a broadcast: queue again
            }
            ticket.wait(cx.waker());
            Poll::Pending
        })
        .await;
        ticket.done();
    }
}

impl<T> Default for Queue<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> fmt::Debug for Queue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Queue")
            .field("len", &self.len())
            .field("capacity", &self.capacity)
            .finish()
    }
}
