//! [`Waiters`]: the FIFO line of tasks waiting on a primitive, shared by all of them.
//!
//! Each waiting future holds a ticket (an increasing number); the line is a `VecDeque` of
//! (ticket, waker) in ticket order, so "first in line" is the front, joining is a push at
//! the back, and a future dropped (cancelled) while waiting finds its place by binary
//! search. The deque keeps its buffer: a primitive that is waited on over and over does
//! not allocate.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::task::Waker;

use crate::aio::{note_awaiting, Awaiting};

#[derive(Debug)]
pub(crate) struct Waiters {
    inner: RefCell<Inner>,
    /// What its waiters wait for, for task dumps (`"Mutex::lock"`).
    what: &'static &'static str,
}

impl Default for Waiters {
    fn default() -> Self {
        Waiters::new(&"a primitive of aio::sync")
    }
}

#[derive(Debug, Default)]
struct Inner {
    next: u64,
    queue: VecDeque<(u64, Waker)>,
}

impl Inner {
    fn position(&self, ticket: u64) -> Option<usize> {
        self.queue.binary_search_by_key(&ticket, |(t, _)| *t).ok()
    }
}

impl Waiters {
    /// An empty line of waiters for `what` (named in task dumps).
    pub(crate) fn new(what: &'static &'static str) -> Self {
        Waiters {
            inner: RefCell::default(),
            what,
        }
    }

    /// Puts a new waiter at the end of the line; returns its ticket.
    pub(crate) fn push(&self, waker: &Waker) -> u64 {
        note_awaiting(Awaiting::Primitive(self.what));
        let mut inner = self.inner.borrow_mut();
        let ticket = inner.next;
        inner.next += 1;
        inner.queue.push_back((ticket, waker.clone()));
        ticket
    }

    /// Refreshes the waker of a ticket still in line.
    pub(crate) fn update(&self, ticket: u64, waker: &Waker) {
        note_awaiting(Awaiting::Primitive(self.what));
        let mut inner = self.inner.borrow_mut();
        if let Some(i) = inner.position(ticket) {
            let w = &mut inner.queue[i].1;
            if !w.will_wake(waker) {
                *w = waker.clone();
            }
        }
    }

    /// Leaves the line (served or cancelled).
    pub(crate) fn remove(&self, ticket: u64) {
        let mut inner = self.inner.borrow_mut();
        if let Some(i) = inner.position(ticket) {
            inner.queue.remove(i);
        }
    }

    /// `true` if `ticket` is first in line (or nobody waits, for `None`).
    pub(crate) fn is_first(&self, ticket: Option<u64>) -> bool {
        let inner = self.inner.borrow();
        match (inner.queue.front(), ticket) {
            (None, _) => true,
            (Some((first, _)), Some(t)) => *first == t,
            (Some(_), None) => false,
        }
    }

    /// `true` if nobody waits.
    pub(crate) fn is_empty(&self) -> bool {
        self.inner.borrow().queue.is_empty()
    }

    /// Wakes the first waiter in line (it stays in line until it leaves).
    pub(crate) fn wake_first(&self) {
        let w = self.inner.borrow().queue.front().map(|(_, w)| w.clone());
        if let Some(w) = w {
            w.wake();
        }
    }

    /// Takes every waiter out of the line and wakes it: for broadcasts, where being woken
    /// is the whole message.
    pub(crate) fn drain_wake(&self) {
        let woken: Vec<Waker> = self
            .inner
            .borrow_mut()
            .queue
            .drain(..)
            .map(|(_, w)| w)
            .collect();
        woken.into_iter().for_each(Waker::wake);
    }

    /// Takes every waiter out of the line, wakes it, and returns the tickets taken out
    /// (for broadcasts whose outcome each waiter must read back).
    pub(crate) fn drain_wake_tickets(&self) -> Vec<u64> {
        let woken: Vec<(u64, Waker)> = self.inner.borrow_mut().queue.drain(..).collect();
        woken
            .into_iter()
            .map(|(t, w)| {
                w.wake();
                t
            })
            .collect()
    }

    /// Takes the first waiter out of the line, wakes it and returns its ticket.
    pub(crate) fn pop_wake_ticket(&self) -> Option<u64> {
        let first = self.inner.borrow_mut().queue.pop_front();
        first.map(|(t, w)| {
            w.wake();
            t
        })
    }

    /// Takes the first `n` waiters out of the line and wakes them; returns how many.
    pub(crate) fn pop_wake(&self, n: usize) -> usize {
        let woken: Vec<Waker> = {
            let mut inner = self.inner.borrow_mut();
            let k = n.min(inner.queue.len());
            inner.queue.drain(..k).map(|(_, w)| w).collect()
        };
        let k = woken.len();
        woken.into_iter().for_each(Waker::wake);
        k
    }

    /// `true` if `ticket` is no longer in line (it was popped by `pop_wake`/`drain_wake`).
    pub(crate) fn was_served(&self, ticket: u64) -> bool {
        self.inner.borrow().position(ticket).is_none()
    }
}

/// A waiting future's place in a [`Waiters`] line. Dropped while still in line (the
/// future was cancelled), it leaves and passes a wake-up on to the next in line, so a
/// wake-up meant for it is never lost.
pub(crate) struct Ticket<'a> {
    waiters: &'a Waiters,
    id: Cell<Option<u64>>,
}

impl<'a> Ticket<'a> {
    pub(crate) fn new(waiters: &'a Waiters) -> Self {
        Ticket {
            waiters,
            id: Cell::new(None),
        }
    }

    /// Joins the line with `waker`, or refreshes the waker if already in line.
    pub(crate) fn wait(&self, waker: &Waker) {
        match self.id.get() {
            Some(t) => self.waiters.update(t, waker),
            None => self.id.set(Some(self.waiters.push(waker))),
        }
    }

    /// `true` if first in line, or if nobody waits and this ticket is not in line.
    pub(crate) fn is_first(&self) -> bool {
        self.waiters.is_first(self.id.get())
    }

    /// `true` if in line and taken out of it by a broadcast (`drain_wake`, `pop_wake`).
    pub(crate) fn was_served(&self) -> bool {
        self.id.get().is_some_and(|t| self.waiters.was_served(t))
    }

    /// Leaves the line, served: no wake-up to pass on.
    pub(crate) fn done(&self) {
        if let Some(t) = self.id.take() {
            self.waiters.remove(t);
        }
    }

    /// Forgets a served place, to queue again.
    pub(crate) fn reset(&self) {
        self.id.set(None);
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        if let Some(t) = self.id.take() {
            self.waiters.remove(t);
            self.waiters.wake_first();
        }
    }
}
