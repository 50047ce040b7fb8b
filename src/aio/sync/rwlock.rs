//! [`RwLock`]: tokio's fair reader-writer lock, holding the data it protects.

use std::cell::{Cell, UnsafeCell};
use std::fmt;
use std::future::poll_fn;
use std::ops::{Deref, DerefMut};
use std::task::Poll;

use super::waiters::{Ticket, Waiters};
use crate::aio::runtime::poll_budget;

/// A reader-writer lock for tasks on one loop: many readers or one writer, as
/// `tokio::sync::RwLock`. Fair: readers and writers queue in one FIFO line, and a reader
/// does not overtake a writer waiting ahead of it, so writers never starve.
///
/// ```
/// use std::rc::Rc;
/// use concur::aio::{self, sync::RwLock};
///
/// aio::run(async {
///     let lock = Rc::new(RwLock::new(0));
///     {
///         let r1 = lock.read().await;
///         let r2 = lock.read().await; // readers share
///         assert_eq!(*r1 + *r2, 0);
///         assert!(lock.try_write().is_none());
///     }
///     *lock.write().await += 1;
///     assert_eq!(*lock.read().await, 1);
/// });
/// ```
pub struct RwLock<T: ?Sized> {
    readers: Cell<usize>,
    writer: Cell<bool>,
    waiters: Waiters,
    value: UnsafeCell<T>,
}

impl<T> RwLock<T> {
    /// A new, unlocked lock.
    ///
    /// ```
    /// use concur::aio::sync::RwLock;
    /// let mut lock = RwLock::new(1);
    /// *lock.get_mut() += 1;
    /// assert_eq!(lock.into_inner(), 2);
    /// ```
    pub fn new(value: T) -> Self {
        RwLock {
            readers: Cell::new(0),
            writer: Cell::new(false),
            waiters: Waiters::new(&"RwLock::read or write"),
            value: UnsafeCell::new(value),
        }
    }

    /// The protected value, consuming the lock.
    ///
    /// ```
    /// use concur::aio::sync::RwLock;
    /// assert_eq!(RwLock::new(5).into_inner(), 5);
    /// ```
    pub fn into_inner(self) -> T {
        self.value.into_inner()
    }
}

impl<T: ?Sized> RwLock<T> {
    /// Waits for shared (read) access, in FIFO order with every other waiter.
    ///
    /// ```
    /// use concur::aio::{self, sync::RwLock};
    /// aio::run(async {
    ///     let lock = RwLock::new(vec![1]);
    ///     assert_eq!(lock.read().await.len(), 1);
    /// });
    /// ```
    pub async fn read(&self) -> RwLockReadGuard<'_, T> {
        let ticket = Ticket::new(&self.waiters);
        poll_fn(|cx| {
            if poll_budget(cx).is_pending() {
                return Poll::Pending;
            }
            if !self.writer.get() && ticket.is_first() {
                ticket.done();
                self.readers.set(self.readers.get() + 1);
                self.waiters.wake_first(); // a reader behind may share with us
                return Poll::Ready(());
            }
            ticket.wait(cx.waker());
            Poll::Pending
        })
        .await;
        RwLockReadGuard { lock: self }
    }

    /// Waits for exclusive (write) access, in FIFO order with every other waiter.
    ///
    /// ```
    /// use concur::aio::{self, sync::RwLock};
    /// aio::run(async {
    ///     let lock = RwLock::new(vec![1]);
    ///     lock.write().await.push(2);
    ///     assert_eq!(*lock.read().await, [1, 2]);
    /// });
    /// ```
    pub async fn write(&self) -> RwLockWriteGuard<'_, T> {
        let ticket = Ticket::new(&self.waiters);
        poll_fn(|cx| {
            if poll_budget(cx).is_pending() {
                return Poll::Pending;
            }
            if !self.writer.get() && self.readers.get() == 0 && ticket.is_first() {
                ticket.done();
                self.writer.set(true);
                return Poll::Ready(());
            }
            ticket.wait(cx.waker());
            Poll::Pending
        })
        .await;
        RwLockWriteGuard { lock: self }
    }

    /// Read access now, if no writer holds the lock and nobody waits.
    ///
    /// ```
    /// use concur::aio::sync::RwLock;
    /// let lock = RwLock::new(1);
    /// let r = lock.try_read().unwrap();
    /// assert!(lock.try_read().is_some());
    /// assert!(lock.try_write().is_none());
    /// drop(r);
    /// ```
    pub fn try_read(&self) -> Option<RwLockReadGuard<'_, T>> {
        if self.writer.get() || !self.waiters.is_empty() {
            return None;
        }
        self.readers.set(self.readers.get() + 1);
        Some(RwLockReadGuard { lock: self })
    }

    /// Write access now, if the lock is free and nobody waits.
    ///
    /// ```
    /// use concur::aio::sync::RwLock;
    /// let lock = RwLock::new(1);
    /// let w = lock.try_write().unwrap();
    /// assert!(lock.try_read().is_none());
    /// drop(w);
    /// assert!(lock.try_read().is_some());
    /// ```
    pub fn try_write(&self) -> Option<RwLockWriteGuard<'_, T>> {
        if self.writer.get() || self.readers.get() > 0 || !self.waiters.is_empty() {
            return None;
        }
        self.writer.set(true);
        Some(RwLockWriteGuard { lock: self })
    }

    /// The protected value, through an exclusive borrow (no locking needed).
    ///
    /// ```
    /// use concur::aio::sync::RwLock;
    /// let mut lock = RwLock::new(1);
    /// *lock.get_mut() = 2;
    /// assert_eq!(*lock.try_read().unwrap(), 2);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
    }
}

impl<T: Default> Default for RwLock<T> {
    fn default() -> Self {
        RwLock::new(T::default())
    }
}

impl<T: ?Sized> fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RwLock")
            .field("readers", &self.readers.get())
            .field("writer", &self.writer.get())
            .finish_non_exhaustive()
    }
}

/// Shared access to the data of an [`RwLock`]; released when dropped.
///
/// ```
/// use concur::aio::{self, sync::RwLock};
/// aio::run(async {
///     let lock = RwLock::new(3);
///     let guard = lock.read().await;
///     assert_eq!(*guard, 3);
/// });
/// ```
pub struct RwLockReadGuard<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
}

impl<T: ?Sized> Deref for RwLockReadGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: while a read guard lives `readers > 0`, so no write guard exists (and
        // none can be made); the lock is `!Sync`. Only shared borrows of the value exist.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T: ?Sized> Drop for RwLockReadGuard<'_, T> {
    fn drop(&mut self) {
        let l = self.lock;
        l.readers.set(l.readers.get() - 1);
        if l.readers.get() == 0 {
            l.waiters.wake_first();
        }
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockReadGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// Exclusive access to the data of an [`RwLock`]; released when dropped.
///
/// ```
/// use concur::aio::{self, sync::RwLock};
/// aio::run(async {
///     let lock = RwLock::new(3);
///     let mut guard = lock.write().await;
///     *guard += 1;
///     assert_eq!(*guard, 4);
/// });
/// ```
pub struct RwLockWriteGuard<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
}

impl<T: ?Sized> Deref for RwLockWriteGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: while the write guard lives `writer` is set, so no other guard exists;
        // the lock is `!Sync`.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T: ?Sized> DerefMut for RwLockWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`, and `&mut self` makes this borrow unique.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T: ?Sized> Drop for RwLockWriteGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.writer.set(false);
        self.lock.waiters.wake_first();
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockWriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}
