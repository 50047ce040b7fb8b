//! [`Mutex`]: asyncio's `Lock`, holding the data it protects.

use std::cell::{Cell, UnsafeCell};
use std::fmt;
use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::task::{Context, Poll};

use super::waiters::Waiters;
use crate::aio::runtime::poll_budget;

/// A lock for tasks on one loop: `asyncio.Lock`, holding the data it protects like
/// `std::sync::Mutex`. Waiting tasks get it in the order they asked (FIFO). Holding the
/// guard across an `.await` is fine: other tasks wait without blocking the thread.
///
/// ```
/// use std::rc::Rc;
/// use concur::aio::{self, sync::Mutex};
///
/// let total = aio::run(async {
///     let counter = Rc::new(Mutex::new(0));
///     let tasks: Vec<_> = (0..10)
///         .map(|_| {
///             let c = counter.clone();
///             aio::spawn(async move {
///                 let mut g = c.lock().await;
///                 let v = *g;
///                 aio::yield_now().await; // others run meanwhile, but wait for the lock
///                 *g = v + 1;
///             })
///         })
///         .collect();
///     for t in tasks {
///         t.await.unwrap();
///     }
///     let n = *counter.lock().await;
///     n
/// });
/// assert_eq!(total, 10);
/// ```
pub struct Mutex<T: ?Sized> {
    locked: Cell<bool>,
    waiters: Waiters,
    value: UnsafeCell<T>,
}

impl<T> Mutex<T> {
    /// A new, unlocked mutex.
    ///
    /// ```
    /// use concur::aio::{self, sync::Mutex};
    /// aio::run(async {
    ///     let mut m = Mutex::new(1);
    ///     {
    ///         let mut g = m.lock().await;
    ///         *g += 1;
    ///         assert!(m.is_locked());
    ///         assert!(m.try_lock().is_none());
    ///     }
    ///     *m.get_mut() += 1;
    ///     assert_eq!(m.into_inner(), 3);
    /// });
    /// ```
    pub fn new(value: T) -> Self {
        Mutex {
            locked: Cell::new(false),
            waiters: Waiters::new(&"Mutex::lock"),
            value: UnsafeCell::new(value),
        }
    }

    /// The protected value, consuming the mutex.
    ///
    /// ```
    /// use concur::aio::{self, sync::Mutex};
    /// aio::run(async {
    ///     let mut m = Mutex::new(1);
    ///     {
    ///         let mut g = m.lock().await;
    ///         *g += 1;
    ///         assert!(m.is_locked());
    ///         assert!(m.try_lock().is_none());
    ///     }
    ///     *m.get_mut() += 1;
    ///     assert_eq!(m.into_inner(), 3);
    /// });
    /// ```
    pub fn into_inner(self) -> T {
        self.value.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Waits for the lock, in FIFO order with the other waiters.
    ///
    /// ```
    /// use concur::aio::{self, sync::Mutex};
    /// aio::run(async {
    ///     let mut m = Mutex::new(1);
    ///     {
    ///         let mut g = m.lock().await;
    ///         *g += 1;
    ///         assert!(m.is_locked());
    ///         assert!(m.try_lock().is_none());
    ///     }
    ///     *m.get_mut() += 1;
    ///     assert_eq!(m.into_inner(), 3);
    /// });
    /// ```
    pub fn lock(&self) -> Lock<'_, T> {
        Lock {
            mutex: self,
            ticket: None,
        }
    }

    /// Takes the lock if it is free and nobody waits for it.
    ///
    /// ```
    /// use concur::aio::{self, sync::Mutex};
    /// aio::run(async {
    ///     let mut m = Mutex::new(1);
    ///     {
    ///         let mut g = m.lock().await;
    ///         *g += 1;
    ///         assert!(m.is_locked());
    ///         assert!(m.try_lock().is_none());
    ///     }
    ///     *m.get_mut() += 1;
    ///     assert_eq!(m.into_inner(), 3);
    /// });
    /// ```
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        if self.locked.get() || !self.waiters.is_empty() {
            return None;
        }
        self.locked.set(true);
        Some(MutexGuard { mutex: self })
    }

    /// `true` while some task holds the lock.
    ///
    /// ```
    /// use concur::aio::{self, sync::Mutex};
    /// aio::run(async {
    ///     let mut m = Mutex::new(1);
    ///     {
    ///         let mut g = m.lock().await;
    ///         *g += 1;
    ///         assert!(m.is_locked());
    ///         assert!(m.try_lock().is_none());
    ///     }
    ///     *m.get_mut() += 1;
    ///     assert_eq!(m.into_inner(), 3);
    /// });
    /// ```
    pub fn is_locked(&self) -> bool {
        self.locked.get()
    }

    /// The protected value, through an exclusive borrow (no locking needed).
    ///
    /// ```
    /// use concur::aio::{self, sync::Mutex};
    /// aio::run(async {
    ///     let mut m = Mutex::new(1);
    ///     {
    ///         let mut g = m.lock().await;
    ///         *g += 1;
    ///         assert!(m.is_locked());
    ///         assert!(m.try_lock().is_none());
    ///     }
    ///     *m.get_mut() += 1;
    ///     assert_eq!(m.into_inner(), 3);
    /// });
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
    }

    fn unlock(&self) {
        self.locked.set(false);
        self.waiters.wake_first();
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mutex")
            .field("locked", &self.locked.get())
            .finish_non_exhaustive()
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Self {
        Mutex::new(T::default())
    }
}

/// The future of [`Mutex::lock`]. Dropping it gives up its place in line.
///
/// ```
/// use concur::aio::{self, sync::Mutex};
/// aio::run(async {
///     let m = Mutex::new(5);
///     let lock = m.lock(); // a future: nothing happens until awaited
///     assert_eq!(*lock.await, 5);
/// });
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct Lock<'a, T: ?Sized> {
    mutex: &'a Mutex<T>,
    ticket: Option<u64>,
}

impl<'a, T: ?Sized> Future for Lock<'a, T> {
    type Output = MutexGuard<'a, T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<MutexGuard<'a, T>> {
        if poll_budget(cx).is_pending() {
            return Poll::Pending;
        }
        let m = self.mutex;
        if !m.locked.get() && m.waiters.is_first(self.ticket) {
            if let Some(t) = self.ticket.take() {
                m.waiters.remove(t);
            }
            m.locked.set(true);
            return Poll::Ready(MutexGuard { mutex: m });
        }
        match self.ticket {
            Some(t) => m.waiters.update(t, cx.waker()),
            None => self.ticket = Some(m.waiters.push(cx.waker())),
        }
        Poll::Pending
    }
}

impl<T: ?Sized> Drop for Lock<'_, T> {
    fn drop(&mut self) {
        if let Some(t) = self.ticket.take() {
            self.mutex.waiters.remove(t);
            // If the lock is free, the next in line may now take it.
            if !self.mutex.locked.get() {
                self.mutex.waiters.wake_first();
            }
        }
    }
}

impl<T: ?Sized> fmt::Debug for Lock<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lock")
            .field("ticket", &self.ticket)
            .finish()
    }
}

/// Access to the data of a locked [`Mutex`]; unlocks when dropped.
///
/// ```
/// use concur::aio::{self, sync::Mutex};
/// aio::run(async {
///     let m = Mutex::new(vec![1]);
///     m.lock().await.push(2); // the guard unlocks at the end of the statement
///     assert_eq!(*m.lock().await, [1, 2]);
/// });
/// ```
pub struct MutexGuard<'a, T: ?Sized> {
    mutex: &'a Mutex<T>,
}

impl<'a, T: ?Sized> MutexGuard<'a, T> {
    /// The mutex this guard locks (for [`Condition::wait`](super::Condition::wait)).
    pub(crate) fn mutex(guard: &Self) -> &'a Mutex<T> {
        guard.mutex
    }
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard exists only while `locked` is set by it, and the mutex is
        // `!Sync` (single thread), so no other reference to the value exists.
        unsafe { &*self.mutex.value.get() }
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`, and `&mut self` makes this borrow unique.
        unsafe { &mut *self.mutex.value.get() }
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        self.mutex.unlock();
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}
