//! [`Notify`]: tokio's `Notify`, a wake-up without data.

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::waiters::Waiters;

/// Wakes one waiting task, or all of them, with no data: `tokio::sync::Notify`.
///
/// [`notify_one`](Self::notify_one) wakes the first task waiting in
/// [`notified`](Self::notified) (FIFO), or, if none waits, stores one permit that the next
/// `notified()` takes at once (several calls store still one). A waiter woken by
/// `notify_one` that is dropped (cancelled) before it sees the wake-up passes it on to
/// the next waiter, or back as the permit. [`notify_waiters`](Self::notify_waiters) wakes
/// every [`Notified`] future created before the call, and stores no permit.
///
/// ```
/// use std::rc::Rc;
/// use concur::aio::{self, sync::Notify};
///
/// aio::run(async {
///     let notify = Rc::new(Notify::new());
///     let n = notify.clone();
///     let waiter = aio::spawn(async move { n.notified().await; "woken" });
///     aio::yield_now().await;
///     notify.notify_one();
///     assert_eq!(waiter.await, Ok("woken"));
/// });
/// ```
pub struct Notify {
    permit: Cell<bool>,
    /// How many times `notify_waiters` was called.
    generation: Cell<u64>,
    waiters: Waiters,
    /// Tickets taken out of line by `notify_one` that have not yet seen it.
    handed: RefCell<HashSet<u64>>,
}

impl Default for Notify {
    fn default() -> Self {
        Self::new()
    }
}

impl Notify {
    /// A new `Notify`, with no permit stored.
    ///
    /// ```
    /// use concur::aio::{self, sync::Notify};
    /// aio::run(async {
    ///     let notify = Notify::new();
    ///     notify.notify_one(); // nobody waits: stores a permit
    ///     notify.notified().await; // takes it at once
    /// });
    /// ```
    pub fn new() -> Self {
        Notify {
            permit: Cell::new(false),
            generation: Cell::new(0),
            waiters: Waiters::new(&"Notify::notified"),
            handed: RefCell::default(),
        }
    }

    /// Wakes the first waiting task, or stores a permit for the next
    /// [`notified`](Self::notified) if none waits.
    ///
    /// ```
    /// use concur::aio::{self, sync::Notify};
    /// aio::run(async {
    ///     let notify = Notify::new();
    ///     notify.notify_one();
    ///     notify.notify_one(); // still one permit
    ///     notify.notified().await;
    /// });
    /// ```
    pub fn notify_one(&self) {
        match self.waiters.pop_wake_ticket() {
            Some(t) => {
                self.handed.borrow_mut().insert(t);
            }
            None => self.permit.set(true),
        }
    }

    /// Wakes every [`Notified`] future created before this call (polled or not); stores
    /// no permit.
    ///
    /// ```
    /// use std::rc::Rc;
    /// use concur::aio::{self, sync::Notify};
    /// aio::run(async {
    ///     let notify = Rc::new(Notify::new());
    ///     let tasks: Vec<_> = (0..3).map(|_| {
    ///         let n = notify.clone();
    ///         aio::spawn(async move { n.notified().await })
    ///     }).collect();
    ///     aio::yield_now().await;
    ///     notify.notify_waiters();
    ///     for t in tasks { t.await.unwrap(); }
    /// });
    /// ```
    pub fn notify_waiters(&self) {
        self.generation.set(self.generation.get() + 1);
        self.waiters.drain_wake();
    }

    /// A future that completes when notified. It counts as waiting for
    /// [`notify_waiters`](Self::notify_waiters) from its creation, and for
    /// [`notify_one`](Self::notify_one) from its first poll.
    ///
    /// ```
    /// use concur::aio::{self, sync::Notify};
    /// aio::run(async {
    ///     let notify = Notify::new();
    ///     let notified = notify.notified(); // created: notify_waiters reaches it
    ///     notify.notify_waiters();
    ///     notified.await;
    /// });
    /// ```
    pub fn notified(&self) -> Notified<'_> {
        Notified {
            notify: self,
            generation: self.generation.get(),
            ticket: None,
            done: false,
        }
    }
}

impl fmt::Debug for Notify {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notify")
            .field("permit", &self.permit.get())
            .finish_non_exhaustive()
    }
}

/// The future of [`Notify::notified`]. Dropping it after a `notify_one` woke it, before it
/// completed, passes that wake-up on.
///
/// ```
/// use concur::aio::{self, sync::Notify};
/// aio::run(async {
///     let notify = Notify::new();
///     let notified = notify.notified();
///     notify.notify_one();
///     notified.await;
/// });
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct Notified<'a> {
    notify: &'a Notify,
    generation: u64,
    ticket: Option<u64>,
    done: bool,
}

impl Future for Notified<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let n = self.notify;
        if self.done {
            return Poll::Ready(());
        }
        let woken = match self.ticket {
            Some(t) => n.handed.borrow_mut().remove(&t) || n.generation.get() != self.generation,
            None => n.generation.get() != self.generation || n.permit.replace(false),
        };
        if woken {
            if let Some(t) = self.ticket.take() {
                n.waiters.remove(t); // still in line if woken by notify_waiters only
            }
            self.done = true;
            return Poll::Ready(());
        }
        match self.ticket {
            Some(t) => n.waiters.update(t, cx.waker()),
            None => self.ticket = Some(n.waiters.push(cx.waker())),
        }
        Poll::Pending
    }
}

impl Drop for Notified<'_> {
    fn drop(&mut self) {
        let Some(t) = self.ticket.take() else {
            return;
        };
        let n = self.notify;
        if n.handed.borrow_mut().remove(&t) {
            n.notify_one(); // a notify_one meant for us: pass it on
        } else {
            n.waiters.remove(t);
        }
    }
}

impl fmt::Debug for Notified<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notified")
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}
