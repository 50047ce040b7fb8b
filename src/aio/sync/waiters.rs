//! [`Waiters`]: the FIFO list of tasks waiting on a primitive, shared by all of them.
//!
//! Each waiting future holds a ticket (an increasing number); the list maps tickets to
//! wakers in order, so "first in line" is the smallest ticket and a future that is
//! dropped (cancelled) while waiting removes its ticket in O(log n).

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::task::Waker;

#[derive(Debug, Default)]
pub(crate) struct Waiters {
    inner: RefCell<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    next: u64,
    queue: BTreeMap<u64, Waker>,
}

impl Waiters {
    /// Puts a new waiter at the end of the line; returns its ticket.
    pub(crate) fn push(&self, waker: &Waker) -> u64 {
        let mut inner = self.inner.borrow_mut();
        let ticket = inner.next;
        inner.next += 1;
        inner.queue.insert(ticket, waker.clone());
        ticket
    }

    /// Refreshes the waker of a ticket still in line.
    pub(crate) fn update(&self, ticket: u64, waker: &Waker) {
        if let Some(w) = self.inner.borrow_mut().queue.get_mut(&ticket) {
            if !w.will_wake(waker) {
                *w = waker.clone();
            }
        }
    }

    /// Leaves the line (served or cancelled).
    pub(crate) fn remove(&self, ticket: u64) {
        self.inner.borrow_mut().queue.remove(&ticket);
    }

    /// `true` if `ticket` is first in line (or nobody waits, for `None`).
    pub(crate) fn is_first(&self, ticket: Option<u64>) -> bool {
        let inner = self.inner.borrow();
        match (inner.queue.keys().next(), ticket) {
            (None, _) => true,
            (Some(first), Some(t)) => *first == t,
            (Some(_), None) => false,
        }
    }

    /// `true` if nobody waits.
    pub(crate) fn is_empty(&self) -> bool {
        self.inner.borrow().queue.is_empty()
    }

    /// Wakes the first waiter in line (it stays in line until it leaves).
    pub(crate) fn wake_first(&self) {
        let w = self.inner.borrow().queue.values().next().cloned();
        if let Some(w) = w {
            w.wake();
        }
    }

    /// Takes every waiter out of the line and wakes it: for broadcasts, where being woken
    /// is the whole message.
    pub(crate) fn drain_wake(&self) {
        let q = std::mem::take(&mut self.inner.borrow_mut().queue);
        q.into_values().for_each(Waker::wake);
    }

    /// Takes the first `n` waiters out of the line and wakes them; returns how many.
    pub(crate) fn pop_wake(&self, n: usize) -> usize {
        let mut ws = Vec::new();
        {
            let mut inner = self.inner.borrow_mut();
            while ws.len() < n {
                match inner.queue.pop_first() {
                    Some((_, w)) => ws.push(w),
                    None => break,
                }
            }
        }
        let k = ws.len();
        ws.into_iter().for_each(Waker::wake);
        k
    }

    /// `true` if `ticket` is no longer in line (it was popped by `pop_wake`/`drain_wake`).
    pub(crate) fn was_served(&self, ticket: u64) -> bool {
        !self.inner.borrow().queue.contains_key(&ticket)
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
