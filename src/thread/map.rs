//! [`Map`]: the lazy, order-preserving iterator behind [`ThreadPoolExecutor::map`].

use std::collections::VecDeque;
use std::fmt;
use std::iter::Fuse;
use std::time::{Duration, Instant};

use super::ThreadPoolExecutor;
use crate::handle::{JoinHandle, TaskError};
use crate::sync::Arc;

/// Results of [`ThreadPoolExecutor::map`], in input order. Holds at most its `in_flight`
/// tasks submitted ahead of the consumer; dropping it cancels those not started.
///
/// ```
/// let pool = concur::ThreadPoolExecutor::new(2);
/// let mut it = pool.map(|x: i32| 10 / x, [5, 0, 2]);
/// assert_eq!(it.next(), Some(Ok(2)));
/// assert!(it.next().unwrap().unwrap_err().is_panic()); // division by zero
/// assert_eq!(it.next(), Some(Ok(5)));
/// assert_eq!(it.next(), None);
/// ```
pub struct Map<'a, I, F, T> {
    pool: &'a ThreadPoolExecutor,
    f: Arc<F>,
    items: Fuse<I>,
    in_flight: VecDeque<JoinHandle<T>>,
    limit: usize,
    /// Set by [`timeout`](Map::timeout): the time by which every result must be in.
    deadline: Option<Instant>,
    /// The deadline passed: the iteration has ended.
    timed_out: bool,
}

impl<'a, I, F, A, T> Map<'a, I, F, T>
where
    I: Iterator<Item = A>,
    F: Fn(A) -> T + Send + Sync + 'static,
    A: Send + 'static,
    T: Send + 'static,
{
    pub(super) fn new(pool: &'a ThreadPoolExecutor, f: F, items: I, limit: usize) -> Self {
        assert!(limit > 0, "concur: map needs at least one task in flight");
        let mut map = Map {
            pool,
            f: Arc::new(f),
            items: items.fuse(),
            in_flight: VecDeque::with_capacity(limit.min(1024)),
            limit,
            deadline: None,
            timed_out: false,
        };
        // Like Python's map, the work starts now, not at the first `next`.
        map.fill();
        map
    }

    /// Gives the whole map `d`, from now, as `Executor.map(..., timeout=d)` does: the
    /// item still unfinished at the deadline yields `Err(TaskError::TimedOut)`, the tasks
    /// still in flight are cancelled, no more items are taken, and the iteration ends.
    ///
    /// ```
    /// use std::time::Duration;
    /// use concur::TaskError;
    /// let pool = concur::ThreadPoolExecutor::new(1);
    /// let (tx, rx) = std::sync::mpsc::channel::<()>();
    /// let rx = std::sync::Mutex::new(rx);
    /// // The first item waits for `tx`, which says nothing until the map has ended.
    /// let mut it = pool
    ///     .map(move |_: u32| rx.lock().unwrap().recv().ok(), [1, 2])
    ///     .timeout(Duration::from_millis(20));
    /// assert_eq!(it.next(), Some(Err(TaskError::TimedOut)));
    /// assert_eq!(it.next(), None, "the rest was cancelled");
    /// drop(tx);
    /// ```
    pub fn timeout(mut self, d: Duration) -> Self {
        self.deadline = Instant::now().checked_add(d);
        self
    }

    fn fill(&mut self) {
        while self.in_flight.len() < self.limit && !self.timed_out {
            let Some(item) = self.items.next() else {
                break;
            };
            let f = Arc::clone(&self.f);
            self.in_flight.push_back(self.pool.submit(move || f(item)));
        }
    }
}

impl<I, F, A, T> Iterator for Map<'_, I, F, T>
where
    I: Iterator<Item = A>,
    F: Fn(A) -> T + Send + Sync + 'static,
    A: Send + 'static,
    T: Send + 'static,
{
    type Item = Result<T, TaskError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.timed_out {
            return None;
        }
        let next = self.in_flight.pop_front()?;
        if let Some(deadline) = self.deadline {
            if !next.wait_timeout(deadline.saturating_duration_since(Instant::now())) {
                self.timed_out = true;
                next.cancel();
                for h in self.in_flight.drain(..) {
                    h.cancel();
                }
                return Some(Err(TaskError::TimedOut));
            }
        }
        self.fill();
        Some(next.join())
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let (lo, hi) = self.items.size_hint();
        let n = self.in_flight.len();
        (lo.saturating_add(n), hi.and_then(|hi| hi.checked_add(n)))
    }
}

impl<I, F, T> Drop for Map<'_, I, F, T> {
    fn drop(&mut self) {
        for h in &self.in_flight {
            h.cancel();
        }
    }
}

impl<I, F, T> fmt::Debug for Map<'_, I, F, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Map")
            .field("in_flight", &self.in_flight.len())
            .field("limit", &self.limit)
            .finish_non_exhaustive()
    }
}
