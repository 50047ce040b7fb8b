//! [`Barrier`]: asyncio's `Barrier`, with `reset`, `abort` and broken-barrier errors.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::fmt;
use std::future::poll_fn;
use std::task::Poll;

use super::waiters::Waiters;

/// The error of [`Barrier::wait`] on a broken barrier: `asyncio.BrokenBarrierError`. The
/// barrier was [aborted](Barrier::abort) (it stays broken until [reset](Barrier::reset)),
/// or it was reset while this task waited.
///
/// ```
/// use concur::aio::{self, sync::{Barrier, BrokenBarrier}};
/// aio::run(async {
///     let b = Barrier::new(2);
///     b.abort();
///     assert_eq!(b.wait().await, Err(BrokenBarrier));
/// });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BrokenBarrier;

impl fmt::Display for BrokenBarrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the barrier is broken: it was aborted, or reset while this task waited")
    }
}

impl std::error::Error for BrokenBarrier {}

/// Makes `n` tasks wait for each other: `asyncio.Barrier`. Reusable: once `n` have
/// arrived they are all released and the barrier counts again from zero.
/// [`abort`](Self::abort) breaks it (every waiter, present and future, gets
/// [`BrokenBarrier`]) until [`reset`](Self::reset); `reset` also fails the present
/// waiters with `BrokenBarrier` and starts counting again.
///
/// ```
/// use std::rc::Rc;
/// use concur::aio::{self, sync::Barrier};
///
/// aio::run(async {
///     let b = Rc::new(Barrier::new(3));
///     let tasks: Vec<_> = (0..3).map(|_| {
///         let b = b.clone();
///         aio::spawn(async move { b.wait().await })
///     }).collect();
///     let mut leaders = 0;
///     for t in tasks {
///         leaders += t.await.unwrap().unwrap() as u32;
///     }
///     assert_eq!(leaders, 1); // exactly one is told it was last to arrive
/// });
/// ```
pub struct Barrier {
    parties: usize,
    arrived: Cell<usize>,
    broken: Cell<bool>,
    waiters: Waiters,
    /// How each waiter taken out of line was let go (`true`: released; `false`: broken),
    /// until it reads it back (or is dropped).
    outcomes: RefCell<HashMap<u64, bool>>,
}

impl Barrier {
    /// A barrier for `parties` tasks.
    ///
    /// # Panics
    ///
    /// If `parties` is zero.
    ///
    /// ```
    /// use std::rc::Rc;
    /// use concur::aio::{self, sync::Barrier};
    /// aio::run(async {
    ///     let b = Rc::new(Barrier::new(2));
    ///     assert_eq!(b.parties(), 2);
    ///     let b2 = b.clone();
    ///     let other = aio::spawn(async move { b2.wait().await });
    ///     let leader_here = b.wait().await.unwrap();
    ///     assert_ne!(leader_here, other.await.unwrap().unwrap()); // exactly one leader
    /// });
    /// ```
    pub fn new(parties: usize) -> Self {
        assert!(
            parties > 0,
            "concur::aio::sync::Barrier needs at least one party"
        );
        Barrier {
            parties,
            arrived: Cell::new(0),
            broken: Cell::new(false),
            waiters: Waiters::new(&"Barrier::wait"),
            outcomes: RefCell::new(HashMap::new()),
        }
    }

    /// Waits until `parties` tasks are waiting; returns `Ok(true)` in the one that
    /// arrived last (the "leader"), `Ok(false)` in the others. A waiter that is
    /// cancelled before the release no longer counts as arrived.
    ///
    /// # Errors
    ///
    /// [`BrokenBarrier`] if the barrier is broken ([`abort`](Self::abort)ed) when called,
    /// or is aborted or [`reset`](Self::reset) while this task waits.
    ///
    /// ```
    /// use std::rc::Rc;
    /// use concur::aio::{self, sync::Barrier};
    /// aio::run(async {
    ///     let b = Rc::new(Barrier::new(2));
    ///     let b2 = b.clone();
    ///     let other = aio::spawn(async move { b2.wait().await });
    ///     let leader_here = b.wait().await.unwrap();
    ///     assert_ne!(leader_here, other.await.unwrap().unwrap()); // exactly one leader
    /// });
    /// ```
    pub async fn wait(&self) -> Result<bool, BrokenBarrier> {
        if self.broken.get() {
            return Err(BrokenBarrier);
        }
        let n = self.arrived.get() + 1;
        if n == self.parties {
            self.let_go(true);
            return Ok(true);
        }
        self.arrived.set(n);
        let arrival = Arrival {
            barrier: self,
            ticket: self.waiters.push(std::task::Waker::noop()),
        };
        let released = poll_fn(|cx| {
            if let Some(released) = self.outcomes.borrow_mut().remove(&arrival.ticket) {
                return Poll::Ready(released);
            }
            self.waiters.update(arrival.ticket, cx.waker());
            Poll::Pending
        })
        .await;
        if released {
            Ok(false)
        } else {
            Err(BrokenBarrier)
        }
    }

    /// Fails every waiting task with [`BrokenBarrier`] and starts counting again from
    /// zero; an aborted barrier is whole again. `asyncio.Barrier.reset`.
    ///
    /// ```
    /// use std::rc::Rc;
    /// use concur::aio::{self, sync::{Barrier, BrokenBarrier}};
    /// aio::run(async {
    ///     let b = Rc::new(Barrier::new(2));
    ///     let b2 = b.clone();
    ///     let waiter = aio::spawn(async move { b2.wait().await });
    ///     aio::yield_now().await;
    ///     assert_eq!(b.n_waiting(), 1);
    ///     b.reset();
    ///     assert_eq!(waiter.await.unwrap(), Err(BrokenBarrier));
    ///     assert_eq!(b.n_waiting(), 0);
    ///     assert!(!b.is_broken());
    /// });
    /// ```
    pub fn reset(&self) {
        self.broken.set(false);
        self.let_go(false);
    }

    /// Breaks the barrier: every waiting task, and every later [`wait`](Self::wait) until
    /// [`reset`](Self::reset), gets [`BrokenBarrier`]. `asyncio.Barrier.abort`.
    ///
    /// ```
    /// use std::rc::Rc;
    /// use concur::aio::{self, sync::{Barrier, BrokenBarrier}};
    /// aio::run(async {
    ///     let b = Rc::new(Barrier::new(3));
    ///     let b2 = b.clone();
    ///     let waiter = aio::spawn(async move { b2.wait().await });
    ///     aio::yield_now().await;
    ///     b.abort();
    ///     assert!(b.is_broken());
    ///     assert_eq!(waiter.await.unwrap(), Err(BrokenBarrier));
    ///     assert_eq!(b.wait().await, Err(BrokenBarrier));
    /// });
    /// ```
    pub fn abort(&self) {
        self.broken.set(true);
        self.let_go(false);
    }

    /// How many tasks wait at the barrier now.
    ///
    /// ```
    /// use std::rc::Rc;
    /// use concur::aio::{self, sync::Barrier};
    /// aio::run(async {
    ///     let b = Rc::new(Barrier::new(3));
    ///     let b2 = b.clone();
    ///     let _waiter = aio::spawn(async move { b2.wait().await });
    ///     aio::yield_now().await;
    ///     assert_eq!(b.n_waiting(), 1);
    /// });
    /// ```
    pub fn n_waiting(&self) -> usize {
        self.arrived.get()
    }

    /// The number of tasks it takes to pass the barrier.
    ///
    /// ```
    /// use concur::aio::sync::Barrier;
    /// assert_eq!(Barrier::new(4).parties(), 4);
    /// ```
    pub fn parties(&self) -> usize {
        self.parties
    }

    /// `true` once [`abort`](Self::abort)ed, until [`reset`](Self::reset).
    ///
    /// ```
    /// use concur::aio::sync::Barrier;
    /// let b = Barrier::new(2);
    /// b.abort();
    /// assert!(b.is_broken());
    /// b.reset();
    /// assert!(!b.is_broken());
    /// ```
    pub fn is_broken(&self) -> bool {
        self.broken.get()
    }

    /// Lets every waiter go, released (`true`) or broken (`false`), and counts from zero.
    fn let_go(&self, released: bool) {
        self.arrived.set(0);
        let tickets = self.waiters.drain_wake_tickets();
        let mut outcomes = self.outcomes.borrow_mut();
        outcomes.extend(tickets.into_iter().map(|t| (t, released)));
    }
}

/// A task waiting at the barrier; leaving before the release takes its arrival back.
struct Arrival<'a> {
    barrier: &'a Barrier,
    ticket: u64,
}

impl Drop for Arrival<'_> {
    fn drop(&mut self) {
        let b = self.barrier;
        if b.waiters.was_served(self.ticket) {
            // Let go (and maybe cancelled before it read how): nothing to pass on, a
            // release or a break is a broadcast.
            b.outcomes.borrow_mut().remove(&self.ticket);
        } else {
            b.waiters.remove(self.ticket);
            b.arrived.set(b.arrived.get() - 1);
        }
    }
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Barrier")
            .field("parties", &self.parties)
            .field("arrived", &self.arrived.get())
            .field("broken", &self.broken.get())
            .finish()
    }
}
