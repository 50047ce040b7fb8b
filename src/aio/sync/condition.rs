//! [`Condition`]: asyncio's `Condition`, used with a [`Mutex`].

use std::fmt;
use std::future::poll_fn;
use std::task::Poll;

use super::mutex::{Mutex, MutexGuard};
use super::waiters::{Ticket, Waiters};

/// Waiting for a state protected by a [`Mutex`] to change: `asyncio.Condition`.
/// [`wait`](Self::wait) releases the lock while it waits and takes it back before it
/// returns; [`notify`](Self::notify) wakes waiters in FIFO order.
///
/// ```
/// use std::rc::Rc;
/// use concur::aio::{self, sync::{Condition, Mutex}};
///
/// aio::run(async {
///     let state = Rc::new((Mutex::new(Vec::<u32>::new()), Condition::new()));
///     let s = state.clone();
///     let consumer = aio::spawn(async move {
///         let (items, cond) = &*s;
///         let guard = cond.wait_for(items.lock().await, |v| !v.is_empty()).await;
///         guard[0]
///     });
///     aio::yield_now().await;
///     state.0.lock().await.push(7);
///     state.1.notify_all();
///     assert_eq!(consumer.await, Ok(7));
/// });
/// ```
pub struct Condition {
    waiters: Waiters,
}

impl Default for Condition {
    fn default() -> Self {
        Self::new()
    }
}

impl Condition {
    /// A new condition.
    ///
    /// ```
    /// use std::rc::Rc;
    /// use concur::aio::{self, sync::{Condition, Mutex}};
    /// aio::run(async {
    ///     let s = Rc::new((Mutex::new(false), Condition::new()));
    ///     let s2 = s.clone();
    ///     let waiter = aio::spawn(async move {
    ///         let (ready, cond) = &*s2;
    ///         let g = cond.wait_for(ready.lock().await, |r| *r).await;
    ///         *g
    ///     });
    ///     aio::yield_now().await;
    ///     *s.0.lock().await = true;
    ///     s.1.notify_all();
    ///     assert_eq!(waiter.await, Ok(true));
    /// });
    /// ```
    pub fn new() -> Self {
        Condition {
            waiters: Waiters::new(&"Condition::wait"),
        }
    }

    /// Releases `guard`'s lock, waits for a notification, then locks again.
    ///
    /// ```
    /// use std::rc::Rc;
    /// use concur::aio::{self, sync::{Condition, Mutex}};
    /// aio::run(async {
    ///     let s = Rc::new((Mutex::new(false), Condition::new()));
    ///     let s2 = s.clone();
    ///     let waiter = aio::spawn(async move {
    ///         let (ready, cond) = &*s2;
    ///         let g = cond.wait_for(ready.lock().await, |r| *r).await;
    ///         *g
    ///     });
    ///     aio::yield_now().await;
    ///     *s.0.lock().await = true;
    ///     s.1.notify(1);
    ///     assert_eq!(waiter.await, Ok(true));
    /// });
    /// ```
    pub async fn wait<'a, T: ?Sized>(&self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
        let mutex: &'a Mutex<T> = MutexGuard::mutex(&guard);
        let ticket = Ticket::new(&self.waiters);
        // In line before the lock is released: a notification cannot slip between.
        ticket.wait(std::task::Waker::noop());
        drop(guard);
        // Dropped before this returns (the wait was cancelled), after a notification took
        // it out of line: the notification goes to the next waiter instead of being lost.
        let mut pass_on = PassOn {
            waiters: &self.waiters,
            ticket: &ticket,
            notified: false,
        };
        poll_fn(|cx| {
            if ticket.was_served() {
                return Poll::Ready(());
            }
            ticket.wait(cx.waker());
            Poll::Pending
        })
        .await;
        pass_on.notified = true;
        ticket.done();
        let guard = mutex.lock().await;
        std::mem::forget(pass_on); // returned with the lock: the notification is used
        guard
    }

    /// Waits until `ready` holds for the protected value (checked under the lock).
    ///
    /// ```
    /// use std::rc::Rc;
    /// use concur::aio::{self, sync::{Condition, Mutex}};
    /// aio::run(async {
    ///     let s = Rc::new((Mutex::new(false), Condition::new()));
    ///     let s2 = s.clone();
    ///     let waiter = aio::spawn(async move {
    ///         let (ready, cond) = &*s2;
    ///         let g = cond.wait_for(ready.lock().await, |r| *r).await;
    ///         *g
    ///     });
    ///     aio::yield_now().await;
    ///     *s.0.lock().await = true;
    ///     s.1.notify_all();
    ///     assert_eq!(waiter.await, Ok(true));
    /// });
    /// ```
    pub async fn wait_for<'a, T: ?Sized>(
        &self,
        mut guard: MutexGuard<'a, T>,
        mut ready: impl FnMut(&T) -> bool,
    ) -> MutexGuard<'a, T> {
        while !ready(&guard) {
            guard = self.wait(guard).await;
        }
        guard
    }

    /// Wakes up to `n` waiters.
    ///
    /// ```
    /// use std::rc::Rc;
    /// use concur::aio::{self, sync::{Condition, Mutex}};
    /// aio::run(async {
    ///     let s = Rc::new((Mutex::new(false), Condition::new()));
    ///     let s2 = s.clone();
    ///     let waiter = aio::spawn(async move {
    ///         let (ready, cond) = &*s2;
    ///         let g = cond.wait_for(ready.lock().await, |r| *r).await;
    ///         *g
    ///     });
    ///     aio::yield_now().await;
    ///     *s.0.lock().await = true;
    ///     s.1.notify(1);
    ///     assert_eq!(waiter.await, Ok(true));
    /// });
    /// ```
    pub fn notify(&self, n: usize) {
        self.waiters.pop_wake(n);
    }

    /// Wakes every waiter.
    ///
    /// ```
    /// use std::rc::Rc;
    /// use concur::aio::{self, sync::{Condition, Mutex}};
    /// aio::run(async {
    ///     let s = Rc::new((Mutex::new(false), Condition::new()));
    ///     let s2 = s.clone();
    ///     let waiter = aio::spawn(async move {
    ///         let (ready, cond) = &*s2;
    ///         let g = cond.wait_for(ready.lock().await, |r| *r).await;
    ///         *g
    ///     });
    ///     aio::yield_now().await;
    ///     *s.0.lock().await = true;
    ///     s.1.notify_all();
    ///     assert_eq!(waiter.await, Ok(true));
    /// });
    /// ```
    pub fn notify_all(&self) {
        self.waiters.drain_wake();
    }
}

/// Passes a notification its waiter took but never returned with on to the next waiter
/// (asyncio does the same since 3.13, gh-112202): a waiter cancelled once notified, or
/// while it takes the lock back. A waiter woken by `notify_all` passes one on too: a
/// spurious wake-up at worst, which a condition's waiters must expect anyway.
struct PassOn<'a, 'b> {
    waiters: &'a Waiters,
    ticket: &'b Ticket<'a>,
    notified: bool,
}

impl Drop for PassOn<'_, '_> {
    fn drop(&mut self) {
        if self.notified || self.ticket.was_served() {
            self.waiters.pop_wake(1);
        }
    }
}

impl fmt::Debug for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Condition").finish_non_exhaustive()
    }
}
