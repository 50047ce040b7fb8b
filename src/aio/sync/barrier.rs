//! [`Barrier`]: asyncio's `Barrier`.

use std::cell::Cell;
use std::fmt;
use std::future::poll_fn;
use std::task::Poll;

use super::waiters::Waiters;

/// Makes `n` tasks wait for each other: `asyncio.Barrier`. Reusable: once `n` have
/// arrived they are all released and the barrier counts again from zero.
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
///         leaders += t.await.unwrap() as u32;
///     }
///     assert_eq!(leaders, 1); // exactly one is told it was last to arrive
/// });
/// ```
pub struct Barrier {
    parties: usize,
    arrived: Cell<usize>,
    waiters: Waiters,
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
    ///     let b2 = b.clone();
    ///     let other = aio::spawn(async move { b2.wait().await });
    ///     let leader_here = b.wait().await;
    ///     assert_ne!(leader_here, other.await.unwrap()); // exactly one leader
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
            waiters: Waiters::default(),
        }
    }

    /// Waits until `parties` tasks are waiting; returns `true` in the one that arrived
    /// last (the "leader"). A waiter that is cancelled before the release no longer
    /// counts as arrived.
    ///
    /// ```
    /// use std::rc::Rc;
    /// use concur::aio::{self, sync::Barrier};
    /// aio::run(async {
    ///     let b = Rc::new(Barrier::new(2));
    ///     let b2 = b.clone();
    ///     let other = aio::spawn(async move { b2.wait().await });
    ///     let leader_here = b.wait().await;
    ///     assert_ne!(leader_here, other.await.unwrap()); // exactly one leader
    /// });
    /// ```
    pub async fn wait(&self) -> bool {
        let n = self.arrived.get() + 1;
        if n == self.parties {
            self.arrived.set(0);
            self.waiters.drain_wake();
            return true;
        }
        self.arrived.set(n);
        let arrival = Arrival {
            barrier: self,
            ticket: self.waiters.push(std::task::Waker::noop()),
        };
        poll_fn(|cx| {
            if self.waiters.was_served(arrival.ticket) {
                return Poll::Ready(());
            }
            self.waiters.update(arrival.ticket, cx.waker());
            Poll::Pending
        })
        .await;
        false
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
        if !b.waiters.was_served(self.ticket) {
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
            .finish()
    }
}
