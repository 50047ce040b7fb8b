//! [`Event`]: asyncio's `Event`.

use std::cell::Cell;
use std::fmt;
use std::future::poll_fn;
use std::task::Poll;

use super::waiters::{Ticket, Waiters};

/// A flag tasks can wait for: `asyncio.Event`. [`set`](Self::set) wakes every waiter;
/// [`clear`](Self::clear) makes later waiters wait again.
///
/// ```
/// use std::rc::Rc;
/// use concur::aio::{self, sync::Event};
///
/// aio::run(async {
///     let ready = Rc::new(Event::new());
///     let r = ready.clone();
///     let waiter = aio::spawn(async move { r.wait().await; "released" });
///     aio::yield_now().await;
///     assert!(!waiter.is_finished());
///     ready.set();
///     assert_eq!(waiter.await, Ok("released"));
/// });
/// ```
pub struct Event {
    set: Cell<bool>,
    waiters: Waiters,
}

impl Default for Event {
    fn default() -> Self {
        Self::new()
    }
}

impl Event {
    /// A new event, not set.
    ///
    /// ```
    /// use concur::aio::{self, sync::Event};
    /// aio::run(async {
    ///     let ev = Event::new();
    ///     assert!(!ev.is_set());
    ///     ev.set();
    ///     ev.wait().await; // set: returns at once
    ///     ev.clear();
    ///     assert!(!ev.is_set());
    /// });
    /// ```
    pub fn new() -> Self {
        Event {
            set: Cell::new(false),
            waiters: Waiters::new(&"Event::wait"),
        }
    }

    /// Sets the flag and wakes every waiting task.
    ///
    /// ```
    /// use concur::aio::{self, sync::Event};
    /// aio::run(async {
    ///     let ev = Event::new();
    ///     assert!(!ev.is_set());
    ///     ev.set();
    ///     ev.wait().await; // set: returns at once
    ///     ev.clear();
    ///     assert!(!ev.is_set());
    /// });
    /// ```
    pub fn set(&self) {
        self.set.set(true);
        self.waiters.drain_wake();
    }

    /// Clears the flag.
    ///
    /// ```
    /// use concur::aio::{self, sync::Event};
    /// aio::run(async {
    ///     let ev = Event::new();
    ///     assert!(!ev.is_set());
    ///     ev.set();
    ///     ev.wait().await; // set: returns at once
    ///     ev.clear();
    ///     assert!(!ev.is_set());
    /// });
    /// ```
    pub fn clear(&self) {
        self.set.set(false);
    }

    /// `true` if the flag is set.
    ///
    /// ```
    /// use concur::aio::{self, sync::Event};
    /// aio::run(async {
    ///     let ev = Event::new();
    ///     assert!(!ev.is_set());
    ///     ev.set();
    ///     ev.wait().await; // set: returns at once
    ///     ev.clear();
    ///     assert!(!ev.is_set());
    /// });
    /// ```
    pub fn is_set(&self) -> bool {
        self.set.get()
    }

    /// Waits until the flag is set (returns at once if it is).
    ///
    /// ```
    /// use concur::aio::{self, sync::Event};
    /// aio::run(async {
    ///     let ev = Event::new();
    ///     assert!(!ev.is_set());
    ///     ev.set();
    ///     ev.wait().await; // set: returns at once
    ///     ev.clear();
    ///     assert!(!ev.is_set());
    /// });
    /// ```
    pub async fn wait(&self) {
        let ticket = Ticket::new(&self.waiters);
        poll_fn(|cx| {
            // A `set` since we queued took us out of line: that wake-up is ours even if
            // the flag was cleared again meanwhile.
            if self.set.get() || ticket.was_served() {
                return Poll::Ready(());
            }
            ticket.wait(cx.waker());
            Poll::Pending
        })
        .await;
        ticket.done();
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("set", &self.set.get())
            .finish()
    }
}
