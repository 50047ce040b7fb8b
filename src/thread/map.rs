//! [`Map`] and [`MapUnordered`]: the lazy iterators behind [`ThreadPoolExecutor::map`]
//! and [`ThreadPoolExecutor::map_unordered`]. Their window of tasks in flight is the one
//! both pools share (`handle::window`); here is only how a thread-pool task is submitted.

use std::fmt;
use std::iter::Fuse;
use std::time::Duration;

use super::ThreadPoolExecutor;
use crate::handle::window::{AsDone, Feed, InOrder, Landing, Window};
use crate::handle::{JoinHandle, TaskError};
use crate::sync::Arc;

/// Submits one task per item; the task lands in the window as its closure ends.
pub(super) struct ThreadFeed<'a, I, F> {
    pool: &'a ThreadPoolExecutor,
    f: Arc<F>,
    items: Fuse<I>,
    closed: bool,
    on_worker: bool,
}

impl<'a, I: Iterator, F> ThreadFeed<'a, I, F> {
    pub(super) fn new(pool: &'a ThreadPoolExecutor, f: F, items: I) -> Self {
        ThreadFeed {
            pool,
            f: Arc::new(f),
            items: items.fuse(),
            closed: false,
            on_worker: pool.is_worker_thread(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.closed {
            return (0, Some(0));
        }
        self.items.size_hint()
    }
}

impl<I, F, A, T> Feed for ThreadFeed<'_, I, F>
where
    I: Iterator<Item = A>,
    F: Fn(A) -> T + Send + Sync + 'static,
    A: Send + 'static,
    T: Send + 'static,
{
    type Out = T;

    fn submit(&mut self, window: &Arc<Window>, slot: usize) -> Option<(JoinHandle<T>, usize)> {
        if self.closed {
            return None;
        }
        let item = self.items.next()?;
        let f = Arc::clone(&self.f);
        let landing = Landing::new(window, slot);
        let handle = self.pool.submit(move || {
            let _landing = landing;
            f(item)
        });
        Some((handle, 1))
    }

    fn close(&mut self) {
        self.closed = true;
    }

    fn must_not_park(&self) -> bool {
        self.on_worker
    }
}

/// Results of [`ThreadPoolExecutor::map`], in input order. Holds a bounded window of
/// tasks submitted ahead of the consumer (see `map` for its size); dropping it cancels
/// those not started.
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
    inner: InOrder<ThreadFeed<'a, I, F>, T>,
}

impl<'a, I, F, A, T> Map<'a, I, F, T>
where
    I: Iterator<Item = A>,
    F: Fn(A) -> T + Send + Sync + 'static,
    A: Send + 'static,
    T: Send + 'static,
{
    pub(super) fn new(
        pool: &'a ThreadPoolExecutor,
        f: F,
        items: I,
        base: usize,
        cap: usize,
    ) -> Self {
        Map {
            inner: InOrder::new(ThreadFeed::new(pool, f, items), base, cap),
        }
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
        self.inner.set_timeout(d);
        self
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
        Some(self.inner.next()?.and_then(|unit| unit.handle.join()))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let (lo, hi) = self.inner.feed().size_hint();
        let n = self.inner.in_flight();
        (lo.saturating_add(n), hi.and_then(|hi| hi.checked_add(n)))
    }
}

impl<I, F, T> fmt::Debug for Map<'_, I, F, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Map")
            .field("in_flight", &self.inner.in_flight())
            .finish_non_exhaustive()
    }
}

/// Results of [`ThreadPoolExecutor::map_unordered`], as the tasks finish, each with the
/// index of its item in the input. Holds a bounded window of tasks submitted ahead of the
/// consumer; dropping it cancels those not started.
///
/// ```
/// let pool = concur::ThreadPoolExecutor::new(2);
/// let mut out: Vec<(usize, Result<i32, concur::TaskError>)> =
///     pool.map_unordered(|x: i32| x * 10, [1, 2, 3]).collect();
/// out.sort_by_key(|(i, _)| *i);
/// assert_eq!(out, [(0, Ok(10)), (1, Ok(20)), (2, Ok(30))]);
/// ```
pub struct MapUnordered<'a, I, F, T> {
    inner: AsDone<ThreadFeed<'a, I, F>, T>,
}

impl<'a, I, F, A, T> MapUnordered<'a, I, F, T>
where
    I: Iterator<Item = A>,
    F: Fn(A) -> T + Send + Sync + 'static,
    A: Send + 'static,
    T: Send + 'static,
{
    pub(super) fn new(
        pool: &'a ThreadPoolExecutor,
        f: F,
        items: I,
        base: usize,
        cap: usize,
    ) -> Self {
        MapUnordered {
            inner: AsDone::new(ThreadFeed::new(pool, f, items), base, cap),
        }
    }

    /// Gives the whole map `d`, from now, like [`Map::timeout`]: once the deadline passes
    /// with items unfinished, the next call yields `(i, Err(TaskError::TimedOut))`, `i`
    /// the smallest input index still unfinished; the tasks still in flight are
    /// cancelled, no more items are taken, and the iteration ends.
    ///
    /// ```
    /// use std::time::Duration;
    /// use concur::TaskError;
    /// let pool = concur::ThreadPoolExecutor::new(2);
    /// let (tx, rx) = std::sync::mpsc::channel::<()>();
    /// let rx = std::sync::Mutex::new(rx);
    /// let mut it = pool
    ///     .map_unordered(move |x: u32| if x == 0 { rx.lock().unwrap().recv().ok(); } , [0, 1])
    ///     .timeout(Duration::from_millis(20));
    /// assert_eq!(it.next(), Some((1, Ok(()))), "the quick one first");
    /// assert_eq!(it.next(), Some((0, Err(TaskError::TimedOut))));
    /// assert_eq!(it.next(), None);
    /// drop(tx);
    /// ```
    pub fn timeout(mut self, d: Duration) -> Self {
        self.inner.set_timeout(d);
        self
    }
}

impl<I, F, A, T> Iterator for MapUnordered<'_, I, F, T>
where
    I: Iterator<Item = A>,
    F: Fn(A) -> T + Send + Sync + 'static,
    A: Send + 'static,
    T: Send + 'static,
{
    type Item = (usize, Result<T, TaskError>);

    fn next(&mut self) -> Option<Self::Item> {
        Some(match self.inner.next()? {
            Ok(unit) => (unit.first, unit.handle.join()),
            Err(first) => (first, Err(TaskError::TimedOut)),
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let (lo, hi) = self.inner.feed().size_hint();
        let n = self.inner.in_flight();
        (lo.saturating_add(n), hi.and_then(|hi| hi.checked_add(n)))
    }
}

impl<I, F, T> fmt::Debug for MapUnordered<'_, I, F, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MapUnordered")
            .field("in_flight", &self.inner.in_flight())
            .finish_non_exhaustive()
    }
}
