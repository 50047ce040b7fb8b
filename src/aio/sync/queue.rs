//! [`Queue`]: asyncio's `Queue`, unbounded or bounded.

use std::cell::{Cell, RefCell};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::fmt;
use std::future::poll_fn;
use std::ops::Deref;
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

/// The error of [`Queue::send`] and [`Queue::recv`] on a queue that was
/// [shut down](Queue::shutdown): asyncio's `QueueShutDown`. [`send`](Queue::send) hands its
/// value back in it.
///
/// ```
/// use concur::aio::{self, sync::{Queue, QueueShutDown}};
/// aio::run(async {
///     let q = Queue::new();
///     q.shutdown();
///     assert_eq!(q.send(1).await, Err(QueueShutDown(1)));
///     assert_eq!(q.recv().await, Err(QueueShutDown(())));
/// });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueShutDown<T = ()>(pub T);

impl<T> fmt::Display for QueueShutDown<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the queue was shut down")
    }
}

impl<T: fmt::Debug> std::error::Error for QueueShutDown<T> {}

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
pub struct Queue<T, S = VecDeque<T>> {
    items: RefCell<S>,
    marker: std::marker::PhantomData<fn(T) -> T>,
    capacity: Option<usize>,
    getters: Waiters,
    putters: Waiters,
    unfinished: Cell<usize>,
    all_done: Waiters,
    shut_down: Cell<bool>,
}

impl<T> Queue<T> {
    /// An unbounded queue.
    ///
    /// ```
    /// use concur::aio::{self, sync::Queue};
    /// aio::run(async {
    ///     let q = Queue::new(); // unbounded: putting never waits
    ///     for i in 0..1000 {
    ///         q.put_nowait(i).unwrap();
    ///     }
    ///     assert_eq!(q.len(), 1000);
    ///     assert!(!q.is_full());
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
    ///     q.put_nowait('a').unwrap();
    ///     q.put_nowait('b').unwrap();
    ///     assert!(q.put_nowait('c').is_err()); // full: at most 2
    ///     assert_eq!(q.maxsize(), Some(2));
    /// });
    /// ```
    pub fn bounded(capacity: usize) -> Self {
        assert!(
            capacity > 0,
            "concur::aio::sync::Queue::bounded needs a capacity of at least 1"
        );
        Self::with_capacity(Some(capacity))
    }
}

impl<T, S: QueueOrder<T>> Queue<T, S> {
    pub(crate) fn with_capacity(capacity: Option<usize>) -> Self {
        Queue {
            items: RefCell::new(S::default()),
            marker: std::marker::PhantomData,
            capacity,
            getters: Waiters::new(&"Queue::get"),
            putters: Waiters::new(&"Queue::put"),
            unfinished: Cell::new(0),
            all_done: Waiters::new(&"Queue::join"),
            shut_down: Cell::new(false),
        }
    }

    /// Items in the queue.
    ///
    /// ```
    /// use concur::aio::{self, sync::Queue};
    /// aio::run(async {
    ///     let q = Queue::new();
    ///     assert_eq!(q.len(), 0);
    ///     q.put_nowait("x").unwrap();
    ///     q.put_nowait("y").unwrap();
    ///     assert_eq!(q.len(), 2);
    ///     q.get_nowait();
    ///     assert_eq!(q.len(), 1);
    /// });
    /// ```
    pub fn len(&self) -> usize {
        self.items.borrow().count()
    }

    /// `true` if the queue holds no item.
    ///
    /// ```
    /// use concur::aio::{self, sync::Queue};
    /// aio::run(async {
    ///     let q = Queue::new();
    ///     assert!(q.is_empty());
    ///     q.put_nowait(1).unwrap();
    ///     assert!(!q.is_empty());
    /// });
    /// ```
    pub fn is_empty(&self) -> bool {
        self.items.borrow().count() == 0
    }

    /// `true` if a bounded queue is at capacity.
    ///
    /// ```
    /// use concur::aio::{self, sync::Queue};
    /// aio::run(async {
    ///     let q = Queue::bounded(1);
    ///     assert!(!q.is_full());
    ///     q.put_nowait(1).unwrap();
    ///     assert!(q.is_full());
    ///     assert!(!Queue::<u8>::new().is_full()); // an unbounded queue never is
    /// });
    /// ```
    pub fn is_full(&self) -> bool {
        self.capacity.is_some_and(|c| self.len() >= c)
    }

    /// Adds `value` if there is room, or hands it back (also once the queue is
    /// [shut down](Self::shutdown): it takes no more).
    ///
    /// ```
    /// use concur::aio::{self, sync::Queue};
    /// aio::run(async {
    ///     let q = Queue::bounded(1);
    ///     assert!(q.put_nowait("first").is_ok());
    ///     let refused = q.put_nowait("second").unwrap_err();
    ///     assert_eq!(refused.0, "second"); // handed back, not lost
    /// });
    /// ```
    pub fn put_nowait(&self, value: T) -> Result<(), QueueFull<T>> {
        if self.shut_down.get() || self.is_full() || !self.putters.is_empty() {
            return Err(QueueFull(value));
        }
        self.push(value);
        Ok(())
    }

    fn push(&self, value: T) {
        self.items.borrow_mut().push(value);
        self.unfinished.set(self.unfinished.get() + 1);
        self.getters.wake_first();
    }

    /// Adds `value`, waiting (FIFO with other putters) while a bounded queue is full.
    ///
    /// ```
    /// use concur::aio::{self, sync::Queue};
    /// aio::run(async {
    ///     let q = std::rc::Rc::new(Queue::bounded(1));
    ///     q.put(1).await; // room: at once
    ///     let p = q.clone();
    ///     let producer = aio::spawn(async move { p.put(2).await }); // waits: the queue is full
    ///     aio::yield_now().await;
    ///     assert_eq!(q.len(), 1);
    ///     assert_eq!(q.get().await, 1); // makes room for the producer
    ///     producer.await.unwrap();
    ///     assert_eq!(q.get().await, 2);
    /// });
    /// ```
    ///
    /// # Panics
    ///
    /// If the queue was [shut down](Self::shutdown); [`send`](Self::send) reports that as
    /// an error instead.
    pub async fn put(&self, value: T) {
        if self.send(value).await.is_err() {
            panic!("concur::aio::sync::Queue::put on a queue that was shut down (use send to get the value back)");
        }
    }

    /// Like [`put`](Self::put), but a queue that is shut down (before or while this waits)
    /// hands the value back.
    ///
    /// # Errors
    ///
    /// [`QueueShutDown`] with the value, if the queue was shut down.
    ///
    /// ```
    /// use concur::aio::{self, sync::{Queue, QueueShutDown}};
    /// aio::run(async {
    ///     let q = Queue::bounded(1);
    ///     assert_eq!(q.send(1).await, Ok(()));
    ///     q.shutdown();
    ///     assert_eq!(q.send(2).await, Err(QueueShutDown(2)));
    ///     assert_eq!(q.recv().await, Ok(1)); // drained after shutdown
    /// });
    /// ```
    pub async fn send(&self, value: T) -> Result<(), QueueShutDown<T>> {
        let ticket = Ticket::new(&self.putters);
        let open = poll_fn(|cx| {
            if poll_budget(cx).is_pending() {
                return Poll::Pending;
            }
            if self.shut_down.get() {
                ticket.done();
                return Poll::Ready(false);
            }
            if !self.is_full() && ticket.is_first() {
                ticket.done();
                return Poll::Ready(true);
            }
            ticket.wait(cx.waker());
            Poll::Pending
        })
        .await;
        if !open {
            return Err(QueueShutDown(value));
        }
        self.push(value);
        if !self.is_full() {
            self.putters.wake_first();
        }
        Ok(())
    }

    /// Takes the oldest item, if any.
    ///
    /// ```
    /// use concur::aio::{self, sync::Queue};
    /// aio::run(async {
    ///     let q = Queue::new();
    ///     assert_eq!(q.get_nowait(), None); // empty: no waiting
    ///     q.put_nowait(7).unwrap();
    ///     assert_eq!(q.get_nowait(), Some(7));
    /// });
    /// ```
    pub fn get_nowait(&self) -> Option<T> {
        if !self.getters.is_empty() {
            return None;
        }
        self.pop()
    }

    fn pop(&self) -> Option<T> {
        let v = self.items.borrow_mut().pop()?;
        self.putters.wake_first();
        Some(v)
    }

    /// Takes the oldest item, waiting (FIFO with other getters) while the queue is empty.
    ///
    /// ```
    /// use concur::aio::{self, sync::Queue};
    /// aio::run(async {
    ///     let q = std::rc::Rc::new(Queue::new());
    ///     let c = q.clone();
    ///     let consumer = aio::spawn(async move { c.get().await }); // waits for an item
    ///     aio::yield_now().await;
    ///     q.put_nowait("job").unwrap();
    ///     assert_eq!(consumer.await, Ok("job"));
    /// });
    /// ```
    ///
    /// # Panics
    ///
    /// If the queue was [shut down](Self::shutdown) and is empty; [`recv`](Self::recv)
    /// reports that as an error instead.
    pub async fn get(&self) -> T {
        match self.recv().await {
            Ok(v) => v,
            Err(_) => panic!("concur::aio::sync::Queue::get on a queue that was shut down and is empty (use recv to handle it)"),
        }
    }

    /// Like [`get`](Self::get), but a queue that is shut down and empty (before or while
    /// this waits) is an error: after [`shutdown`](Self::shutdown) the items left are
    /// still handed out, then every `recv` fails.
    ///
    /// # Errors
    ///
    /// [`QueueShutDown`] if the queue was shut down and holds no item.
    ///
    /// ```
    /// use concur::aio::{self, sync::{Queue, QueueShutDown}};
    /// aio::run(async {
    ///     let q = Queue::new();
    ///     q.put(1).await;
    ///     q.shutdown();
    ///     assert_eq!(q.recv().await, Ok(1));
    ///     assert_eq!(q.recv().await, Err(QueueShutDown(())));
    /// });
    /// ```
    pub async fn recv(&self) -> Result<T, QueueShutDown> {
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
                    return Poll::Ready(Ok(v));
                }
            }
            if self.shut_down.get() && self.is_empty() {
                ticket.done();
                return Poll::Ready(Err(QueueShutDown(())));
            }
            if ticket.was_served() {
                ticket.reset(); // taken out of line by the shutdown's broadcast: queue again
            }
            ticket.wait(cx.waker());
            Poll::Pending
        })
        .await
    }

    /// Shuts the queue down (asyncio's `Queue.shutdown()`): every put, waiting or later,
    /// fails ([`send`](Self::send) hands its value back); the items left are still handed
    /// out, then every get fails. Waiting putters and getters are woken.
    ///
    /// ```
    /// use concur::aio::{self, sync::{Queue, QueueShutDown}};
    /// aio::run(async {
    ///     let q = Queue::new();
    ///     q.put("left").await;
    ///     q.shutdown();
    ///     assert!(q.is_shutdown());
    ///     assert_eq!(q.send("late").await, Err(QueueShutDown("late")));
    ///     assert_eq!(q.recv().await, Ok("left"));
    ///     assert!(q.recv().await.is_err());
    /// });
    /// ```
    pub fn shutdown(&self) {
        self.shut_down.set(true);
        self.getters.drain_wake();
        self.putters.drain_wake();
    }

    /// Shuts the queue down at once (asyncio's `Queue.shutdown(immediate=True)`): as
    /// [`shutdown`](Self::shutdown), and the items left are dropped and counted as done,
    /// so every get fails now and [`join`](Self::join) returns once the items already
    /// taken are marked done.
    ///
    /// ```
    /// use concur::aio::{self, sync::Queue};
    /// aio::run(async {
    ///     let q = Queue::new();
    ///     q.put(1).await;
    ///     q.put(2).await;
    ///     q.shutdown_now();
    ///     assert!(q.is_empty());
    ///     assert!(q.recv().await.is_err());
    ///     q.join().await; // the dropped items count as done
    /// });
    /// ```
    pub fn shutdown_now(&self) {
        self.shut_down.set(true);
        let dropped: S = std::mem::take(&mut *self.items.borrow_mut());
        let n = self.unfinished.get().saturating_sub(dropped.count());
        self.unfinished.set(n);
        drop(dropped);
        if n == 0 {
            self.all_done.drain_wake();
        }
        self.getters.drain_wake();
        self.putters.drain_wake();
    }

    /// `true` once [`shutdown`](Self::shutdown) or [`shutdown_now`](Self::shutdown_now)
    /// was called.
    ///
    /// ```
    /// use concur::aio::sync::Queue;
    /// let q = Queue::<u8>::new();
    /// assert!(!q.is_shutdown());
    /// q.shutdown();
    /// assert!(q.is_shutdown());
    /// ```
    pub fn is_shutdown(&self) -> bool {
        self.shut_down.get()
    }

    /// The most items the queue holds: `Some(n)` for [`bounded(n)`](Self::bounded), `None`
    /// for an unbounded queue (asyncio's `maxsize`, where 0 means unbounded).
    ///
    /// ```
    /// use concur::aio::sync::Queue;
    /// assert_eq!(Queue::<u8>::bounded(3).maxsize(), Some(3));
    /// assert_eq!(Queue::<u8>::new().maxsize(), None);
    /// ```
    pub fn maxsize(&self) -> Option<usize> {
        self.capacity
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
    ///     let q = Queue::new();
    ///     q.put_nowait(1).unwrap();
    ///     let item = q.get_nowait().unwrap();
    ///     // ... process item ...
    ///     q.task_done(); // one item put, one marked done
    ///     q.join().await; // returns at once: nothing is unfinished
    /// #     let _ = item;
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
    ///     let q = std::rc::Rc::new(Queue::new());
    ///     for i in 0..3 {
    ///         q.put_nowait(i).unwrap();
    ///     }
    ///     let w = q.clone();
    ///     let worker = aio::spawn(async move {
    ///         while let Some(_item) = w.get_nowait() {
    ///             w.task_done();
    ///         }
    ///     });
    ///     q.join().await; // until the worker marked all three done
    ///     worker.await.unwrap();
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

impl<T, S: QueueOrder<T>> fmt::Debug for Queue<T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Queue")
            .field("len", &self.len())
            .field("capacity", &self.capacity)
            .finish()
    }
}

mod sealed {
    pub trait Sealed {}
}

/// The order a [`Queue`] hands its items out in: its storage. Implemented by
/// `VecDeque<T>` (FIFO, [`Queue`]), `Vec<T>` (LIFO, [`LifoQueue`]) and
/// `BinaryHeap<Reverse<T>>` (smallest first, [`PriorityQueue`]); sealed.
///
/// ```
/// use concur::aio::sync::{LifoQueue, PriorityQueue, Queue};
/// let (fifo, lifo, prio) = (Queue::new(), LifoQueue::new(), PriorityQueue::new());
/// for v in [2, 1, 3] {
///     fifo.put_nowait(v).unwrap();
///     lifo.put_nowait(v).unwrap();
///     prio.put_nowait(v).unwrap();
/// }
/// assert_eq!(fifo.get_nowait(), Some(2));
/// assert_eq!(lifo.get_nowait(), Some(3));
/// assert_eq!(prio.get_nowait(), Some(1));
/// ```
pub trait QueueOrder<T>: Default + sealed::Sealed {
    /// Stores an item.
    #[doc(hidden)]
    fn push(&mut self, value: T);
    /// Takes the next item out, in this order.
    #[doc(hidden)]
    fn pop(&mut self) -> Option<T>;
    /// How many items are stored.
    #[doc(hidden)]
    fn count(&self) -> usize;
}

impl<T> sealed::Sealed for VecDeque<T> {}
impl<T> QueueOrder<T> for VecDeque<T> {
    fn push(&mut self, value: T) {
        self.push_back(value);
    }
    fn pop(&mut self) -> Option<T> {
        self.pop_front()
    }
    fn count(&self) -> usize {
        VecDeque::len(self)
    }
}

impl<T> sealed::Sealed for Vec<T> {}
impl<T> QueueOrder<T> for Vec<T> {
    fn push(&mut self, value: T) {
        Vec::push(self, value);
    }
    fn pop(&mut self) -> Option<T> {
        Vec::pop(self)
    }
    fn count(&self) -> usize {
        Vec::len(self)
    }
}

impl<T: Ord> sealed::Sealed for BinaryHeap<Reverse<T>> {}
impl<T: Ord> QueueOrder<T> for BinaryHeap<Reverse<T>> {
    fn push(&mut self, value: T) {
        BinaryHeap::push(self, Reverse(value));
    }
    fn pop(&mut self) -> Option<T> {
        BinaryHeap::pop(self).map(|Reverse(v)| v)
    }
    fn count(&self) -> usize {
        BinaryHeap::len(self)
    }
}

/// A last-in, first-out [`Queue`]: `asyncio.LifoQueue`. Every method of `Queue` (through
/// `Deref`): the same waiting, shutdown and join, only the order differs.
///
/// ```
/// use concur::aio::{self, sync::LifoQueue};
/// aio::run(async {
///     let q = LifoQueue::new();
///     for v in 1..=3 {
///         q.put(v).await;
///     }
///     assert_eq!(q.get().await, 3);
///     assert_eq!(q.get().await, 2);
/// });
/// ```
pub struct LifoQueue<T>(Queue<T, Vec<T>>);

impl<T> LifoQueue<T> {
    /// An unbounded LIFO queue.
    ///
    /// ```
    /// use concur::aio::sync::LifoQueue;
    /// let q = LifoQueue::new();
    /// q.put_nowait(1).unwrap();
    /// q.put_nowait(2).unwrap();
    /// assert_eq!(q.get_nowait(), Some(2));
    /// ```
    pub fn new() -> Self {
        LifoQueue(Queue::with_capacity(None))
    }

    /// A LIFO queue of at most `capacity` items.
    ///
    /// # Panics
    ///
    /// If `capacity` is zero.
    ///
    /// ```
    /// use concur::aio::sync::LifoQueue;
    /// let q = LifoQueue::bounded(1);
    /// q.put_nowait(1).unwrap();
    /// assert!(q.put_nowait(2).is_err());
    /// ```
    pub fn bounded(capacity: usize) -> Self {
        assert!(
            capacity > 0,
            "concur::aio::sync::LifoQueue::bounded needs a capacity of at least 1"
        );
        LifoQueue(Queue::with_capacity(Some(capacity)))
    }
}

impl<T> Default for LifoQueue<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Deref for LifoQueue<T> {
    type Target = Queue<T, Vec<T>>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl<T> fmt::Debug for LifoQueue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("LifoQueue").field(&self.0).finish()
    }
}

/// A [`Queue`] that hands out the smallest item first: `asyncio.PriorityQueue` (a binary
/// heap, as Python's `heapq`). Every method of `Queue` (through `Deref`); use
/// `(priority, item)` tuples for prioritised work.
///
/// ```
/// use concur::aio::{self, sync::PriorityQueue};
/// aio::run(async {
///     let q = PriorityQueue::new();
///     for job in [(2, "later"), (0, "urgent"), (1, "soon")] {
///         q.put(job).await;
///     }
///     assert_eq!(q.get().await, (0, "urgent"));
///     assert_eq!(q.get().await, (1, "soon"));
/// });
/// ```
pub struct PriorityQueue<T: Ord>(Queue<T, BinaryHeap<Reverse<T>>>);

impl<T: Ord> PriorityQueue<T> {
    /// An unbounded priority queue.
    ///
    /// ```
    /// use concur::aio::sync::PriorityQueue;
    /// let q = PriorityQueue::new();
    /// q.put_nowait(5).unwrap();
    /// q.put_nowait(1).unwrap();
    /// assert_eq!(q.get_nowait(), Some(1));
    /// ```
    pub fn new() -> Self {
        PriorityQueue(Queue::with_capacity(None))
    }

    /// A priority queue of at most `capacity` items.
    ///
    /// # Panics
    ///
    /// If `capacity` is zero.
    ///
    /// ```
    /// use concur::aio::sync::PriorityQueue;
    /// let q = PriorityQueue::bounded(1);
    /// q.put_nowait(1).unwrap();
    /// assert!(q.put_nowait(0).is_err());
    /// ```
    pub fn bounded(capacity: usize) -> Self {
        assert!(
            capacity > 0,
            "concur::aio::sync::PriorityQueue::bounded needs a capacity of at least 1"
        );
        PriorityQueue(Queue::with_capacity(Some(capacity)))
    }
}

impl<T: Ord> Default for PriorityQueue<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Ord> Deref for PriorityQueue<T> {
    type Target = Queue<T, BinaryHeap<Reverse<T>>>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl<T: Ord> fmt::Debug for PriorityQueue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PriorityQueue").field(&self.0).finish()
    }
}
