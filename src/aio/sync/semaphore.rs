//! [`Semaphore`]: asyncio's `Semaphore`.

use std::cell::Cell;
use std::fmt;
use std::future::poll_fn;
use std::task::Poll;

use super::waiters::{Ticket, Waiters};
use crate::aio::runtime::poll_budget;

/// A counter of permits: `asyncio.Semaphore`, for "at most N at a time" (for example
/// N downloads in flight). Waiters are served in FIFO order.
///
/// ```
/// use std::{cell::Cell, rc::Rc, time::Duration};
/// use concur::aio::{self, sync::Semaphore};
///
/// aio::run(async {
///     let slots = Rc::new(Semaphore::new(2));
///     let (now, peak) = (Rc::new(Cell::new(0)), Rc::new(Cell::new(0)));
///     let tasks: Vec<_> = (0..6).map(|_| {
///         let (slots, now, peak) = (slots.clone(), now.clone(), peak.clone());
///         aio::spawn(async move {
///             let _permit = slots.acquire().await;
///             now.set(now.get() + 1);
///             peak.set(peak.get().max(now.get()));
///             aio::sleep(Duration::from_millis(1)).await;
///             now.set(now.get() - 1);
///         })
///     }).collect();
///     for t in tasks { t.await.unwrap(); }
///     assert_eq!(peak.get(), 2);
/// });
/// ```
pub struct Semaphore {
    permits: Cell<usize>,
    waiters: Waiters,
}

impl Semaphore {
    /// A semaphore with `permits` permits.
    ///
    /// ```
    /// use concur::aio::{self, sync::Semaphore};
    /// aio::run(async {
    ///     let sem = Semaphore::new(1);
    ///     let permit = sem.acquire().await;
    ///     assert_eq!(sem.available_permits(), 0);
    ///     assert!(sem.try_acquire().is_none());
    ///     drop(permit);
    ///     sem.add_permits(1);
    ///     assert_eq!(sem.available_permits(), 2);
    ///     sem.try_acquire().unwrap().forget(); // kept for good
    ///     assert_eq!(sem.available_permits(), 1);
    /// });
    /// ```
    pub fn new(permits: usize) -> Self {
        Semaphore {
            permits: Cell::new(permits),
            waiters: Waiters::new(&"Semaphore::acquire"),
        }
    }

    /// Permits available now.
    ///
    /// ```
    /// use concur::aio::{self, sync::Semaphore};
    /// aio::run(async {
    ///     let sem = Semaphore::new(1);
    ///     let permit = sem.acquire().await;
    ///     assert_eq!(sem.available_permits(), 0);
    ///     assert!(sem.try_acquire().is_none());
    ///     drop(permit);
    ///     sem.add_permits(1);
    ///     assert_eq!(sem.available_permits(), 2);
    ///     sem.try_acquire().unwrap().forget(); // kept for good
    ///     assert_eq!(sem.available_permits(), 1);
    /// });
    /// ```
    pub fn available_permits(&self) -> usize {
        self.permits.get()
    }

    /// Waits for a permit; it is given back when the returned guard drops.
    ///
    /// ```
    /// use concur::aio::{self, sync::Semaphore};
    /// aio::run(async {
    ///     let sem = Semaphore::new(1);
    ///     let permit = sem.acquire().await;
    ///     assert_eq!(sem.available_permits(), 0);
    ///     assert!(sem.try_acquire().is_none());
    ///     drop(permit);
    ///     sem.add_permits(1);
    ///     assert_eq!(sem.available_permits(), 2);
    ///     sem.try_acquire().unwrap().forget(); // kept for good
    ///     assert_eq!(sem.available_permits(), 1);
    /// });
    /// ```
    pub async fn acquire(&self) -> SemaphorePermit<'_> {
        let ticket = Ticket::new(&self.waiters);
        poll_fn(|cx| {
            if poll_budget(cx).is_pending() {
                return Poll::Pending;
            }
            if self.permits.get() > 0 && ticket.is_first() {
                ticket.done();
                self.permits.set(self.permits.get() - 1);
                if self.permits.get() > 0 {
                    self.waiters.wake_first();
                }
                return Poll::Ready(());
            }
            ticket.wait(cx.waker());
            Poll::Pending
        })
        .await;
        SemaphorePermit { sem: self }
    }

    /// Takes a permit if one is free and nobody waits.
    ///
    /// ```
    /// use concur::aio::{self, sync::Semaphore};
    /// aio::run(async {
    ///     let sem = Semaphore::new(1);
    ///     let permit = sem.acquire().await;
    ///     assert_eq!(sem.available_permits(), 0);
    ///     assert!(sem.try_acquire().is_none());
    ///     drop(permit);
    ///     sem.add_permits(1);
    ///     assert_eq!(sem.available_permits(), 2);
    ///     sem.try_acquire().unwrap().forget(); // kept for good
    ///     assert_eq!(sem.available_permits(), 1);
    /// });
    /// ```
    pub fn try_acquire(&self) -> Option<SemaphorePermit<'_>> {
        if self.permits.get() == 0 || !self.waiters.is_empty() {
            return None;
        }
        self.permits.set(self.permits.get() - 1);
        Some(SemaphorePermit { sem: self })
    }

    /// Adds `n` permits (`release` without a guard).
    ///
    /// ```
    /// use concur::aio::{self, sync::Semaphore};
    /// aio::run(async {
    ///     let sem = Semaphore::new(1);
    ///     let permit = sem.acquire().await;
    ///     assert_eq!(sem.available_permits(), 0);
    ///     assert!(sem.try_acquire().is_none());
    ///     drop(permit);
    ///     sem.add_permits(1);
    ///     assert_eq!(sem.available_permits(), 2);
    ///     sem.try_acquire().unwrap().forget(); // kept for good
    ///     assert_eq!(sem.available_permits(), 1);
    /// });
    /// ```
    pub fn add_permits(&self, n: usize) {
        self.permits.set(self.permits.get() + n);
        self.waiters.wake_first();
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Semaphore")
            .field("permits", &self.permits.get())
            .finish()
    }
}

/// A permit of a [`Semaphore`]; given back when dropped.
///
/// ```
/// use concur::aio::{self, sync::Semaphore};
/// aio::run(async {
///     let sem = Semaphore::new(1);
///     {
///         let _permit = sem.acquire().await;
///         assert_eq!(sem.available_permits(), 0);
///     }
///     assert_eq!(sem.available_permits(), 1); // given back on drop
/// });
/// ```
pub struct SemaphorePermit<'a> {
    sem: &'a Semaphore,
}

impl SemaphorePermit<'_> {
    /// Keeps the permit taken for good (the semaphore has one permit fewer).
    ///
    /// ```
    /// use concur::aio::{self, sync::Semaphore};
    /// aio::run(async {
    ///     let sem = Semaphore::new(1);
    ///     let permit = sem.acquire().await;
    ///     assert_eq!(sem.available_permits(), 0);
    ///     assert!(sem.try_acquire().is_none());
    ///     drop(permit);
    ///     sem.add_permits(1);
    ///     assert_eq!(sem.available_permits(), 2);
    ///     sem.try_acquire().unwrap().forget(); // kept for good
    ///     assert_eq!(sem.available_permits(), 1);
    /// });
    /// ```
    pub fn forget(self) {
        std::mem::forget(self);
    }
}

impl Drop for SemaphorePermit<'_> {
    fn drop(&mut self) {
        self.sem.add_permits(1);
    }
}

impl fmt::Debug for SemaphorePermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphorePermit").finish()
    }
}

/// The error of [`BoundedSemaphore::release`] when every permit is already back: the
/// `ValueError` of `asyncio.BoundedSemaphore`.
///
/// ```
/// use concur::aio::sync::{BoundedSemaphore, ReleasedTooManyTimes};
/// let sem = BoundedSemaphore::new(1);
/// assert_eq!(sem.release(), Err(ReleasedTooManyTimes));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReleasedTooManyTimes;

impl fmt::Display for ReleasedTooManyTimes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BoundedSemaphore released too many times: every permit is already back")
    }
}

impl std::error::Error for ReleasedTooManyTimes {}

/// A [`Semaphore`] that never holds more permits than it started with:
/// `asyncio.BoundedSemaphore`. Permits come back when their guard drops, or by
/// [`release`](Self::release) for one kept with [`SemaphorePermit::forget`]; a release
/// above the initial number is an error, not a silent extra permit.
///
/// ```
/// use concur::aio::{self, sync::BoundedSemaphore};
/// aio::run(async {
///     let sem = BoundedSemaphore::new(2);
///     sem.acquire().await.forget(); // held with no guard
///     assert_eq!(sem.available_permits(), 1);
///     sem.release().unwrap(); // given back by hand
///     assert!(sem.release().is_err()); // one too many
///     assert_eq!(sem.available_permits(), 2);
/// });
/// ```
pub struct BoundedSemaphore {
    sem: Semaphore,
    limit: usize,
}

impl BoundedSemaphore {
    /// A bounded semaphore with `permits` permits, the most it will ever hold.
    ///
    /// ```
    /// use concur::aio::sync::BoundedSemaphore;
    /// let sem = BoundedSemaphore::new(3);
    /// assert_eq!(sem.available_permits(), 3);
    /// assert_eq!(sem.limit(), 3);
    /// ```
    pub fn new(permits: usize) -> Self {
        BoundedSemaphore {
            sem: Semaphore::new(permits),
            limit: permits,
        }
    }

    /// The number of permits it started with (and will never exceed).
    ///
    /// ```
    /// use concur::aio::sync::BoundedSemaphore;
    /// assert_eq!(BoundedSemaphore::new(3).limit(), 3);
    /// ```
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Permits available now.
    ///
    /// ```
    /// use concur::aio::sync::BoundedSemaphore;
    /// let sem = BoundedSemaphore::new(1);
    /// let permit = sem.try_acquire().unwrap();
    /// assert_eq!(sem.available_permits(), 0);
    /// drop(permit);
    /// assert_eq!(sem.available_permits(), 1);
    /// ```
    pub fn available_permits(&self) -> usize {
        self.sem.available_permits()
    }

    /// Waits for a permit (FIFO); it is given back when the returned guard drops.
    ///
    /// ```
    /// use concur::aio::{self, sync::BoundedSemaphore};
    /// aio::run(async {
    ///     let sem = BoundedSemaphore::new(1);
    ///     let permit = sem.acquire().await;
    ///     assert!(sem.try_acquire().is_none());
    ///     drop(permit);
    ///     assert!(sem.try_acquire().is_some());
    /// });
    /// ```
    pub async fn acquire(&self) -> SemaphorePermit<'_> {
        self.sem.acquire().await
    }

    /// Takes a permit if one is free and nobody waits.
    ///
    /// ```
    /// use concur::aio::sync::BoundedSemaphore;
    /// let sem = BoundedSemaphore::new(1);
    /// let permit = sem.try_acquire();
    /// assert!(permit.is_some());
    /// assert!(sem.try_acquire().is_none());
    /// ```
    pub fn try_acquire(&self) -> Option<SemaphorePermit<'_>> {
        self.sem.try_acquire()
    }

    /// Gives one permit back (one kept with [`SemaphorePermit::forget`]).
    ///
    /// # Errors
    ///
    /// [`ReleasedTooManyTimes`] if it already holds all its permits; nothing changes.
    ///
    /// ```
    /// use concur::aio::sync::{BoundedSemaphore, ReleasedTooManyTimes};
    /// let sem = BoundedSemaphore::new(1);
    /// sem.try_acquire().unwrap().forget();
    /// assert_eq!(sem.release(), Ok(()));
    /// assert_eq!(sem.release(), Err(ReleasedTooManyTimes));
    /// ```
    pub fn release(&self) -> Result<(), ReleasedTooManyTimes> {
        if self.sem.available_permits() >= self.limit {
            return Err(ReleasedTooManyTimes);
        }
        self.sem.add_permits(1);
        Ok(())
    }
}

impl fmt::Debug for BoundedSemaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BoundedSemaphore")
            .field("permits", &self.sem.available_permits())
            .field("limit", &self.limit)
            .finish()
    }
}
