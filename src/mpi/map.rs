//! [`MpiMap`] and [`MpiMapUnordered`]: the iterators behind [`MpiPoolExecutor::map`] and
//! [`MpiPoolExecutor::map_unordered`]: items go to the agents in chunks (a chunk is one
//! task of the process pool's own `map` trampoline), a bounded number in flight, and come
//! back in input order, or as their chunks finish.

use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::MpiPoolExecutor;
use crate::handle::window::{default_window, land_when_done, AsDone, Feed, Window};
use crate::handle::{JoinHandle, TaskError};
use crate::process::remote::{chunk_outcomes, ChunkOut};

/// How long a chunk should run, for the automatic chunk size: long enough that a round
/// trip between ranks is a small part of it.
const TARGET_CHUNK_NS: u64 = 5_000_000;
/// The largest automatic chunk.
const MAX_CHUNK: usize = 1 << 14;
/// The first chunks, before any has said how long its items take: small, since an item
/// could take seconds, but not one item each (a round trip between ranks costs more than
/// a tiny item).
const FIRST_CHUNK: usize = 4;

/// How both maps size their chunks (by how long items took, or fixed) and read a chunk's
/// outcomes.
#[derive(Debug, Default)]
struct Chunker {
    /// Nanoseconds per item, once a chunk has reported.
    per_item_ns: Option<u64>,
    /// Set by `chunk_size`.
    fixed: Option<usize>,
}

impl Chunker {
    /// Takes the next chunk from `items` (set to `None` once it runs out), sized for
    /// `workers` workers; `None` if it had no item left.
    fn take<A, I: Iterator<Item = A>>(
        &self,
        items: &mut Option<I>,
        workers: usize,
    ) -> Option<Vec<A>> {
        let left = items.as_ref().and_then(|it| it.size_hint().1);
        let size = self.size(left, workers);
        let chunk: Vec<A> = items.as_mut()?.by_ref().take(size).collect();
        if chunk.len() < size {
            *items = None;
        }
        (!chunk.is_empty()).then_some(chunk)
    }

    /// The size of the next chunk, `left` items being left of the input if known.
    fn size(&self, left: Option<usize>, workers: usize) -> usize {
        if let Some(n) = self.fixed {
            return n;
        }
        let by_time = match self.per_item_ns {
            None => FIRST_CHUNK,
            Some(ns) => (TARGET_CHUNK_NS / ns.max(1)).clamp(1, MAX_CHUNK as u64) as usize,
        };
        // Leave every worker a share of what is left, when the length is known.
        match left {
            Some(n) => by_time.min(n.div_ceil(workers.max(1) * 2).max(1)),
            None => by_time,
        }
    }

    /// Joins a chunk of `n` items: its outcomes, one per item, in input order.
    fn outcomes<R>(
        &mut self,
        handle: JoinHandle<ChunkOut<R>>,
        n: usize,
    ) -> Vec<Result<R, TaskError>> {
        chunk_outcomes(handle, n, &mut self.per_item_ns, "an agent")
    }
}

/// The outcomes of [`MpiPoolExecutor::map`], in input order.
///
/// ```no_run
/// let pool = concur::mpi::MpiPoolExecutor::world().unwrap();
/// let mut it = pool.map(|s: String| s.len(), ["a".to_owned(), "bcd".to_owned()]);
/// assert_eq!(it.next(), Some(Ok(1)));
/// assert_eq!(it.next(), Some(Ok(3)));
/// assert_eq!(it.next(), None);
/// ```
pub struct MpiMap<'a, A, R, I> {
    pool: &'a MpiPoolExecutor,
    f: fn(A) -> R,
    items: Option<I>,
    in_flight: VecDeque<(JoinHandle<ChunkOut<R>>, usize)>,
    ready: VecDeque<Result<R, TaskError>>,
    chunker: Chunker,
    max_in_flight: usize,
    /// Set by [`timeout`](MpiMap::timeout): the time by which every result must be in.
    deadline: Option<Instant>,
    /// The deadline passed: the iteration has ended.
    timed_out: bool,
}

impl<'a, A, R, I> MpiMap<'a, A, R, I>
where
    A: Serialize + DeserializeOwned + Send + 'static,
    R: Serialize + DeserializeOwned + Send + 'static,
    I: Iterator<Item = A>,
{
    pub(super) fn new(pool: &'a MpiPoolExecutor, f: fn(A) -> R, items: I) -> Self {
        MpiMap {
            pool,
            f,
            items: Some(items),
            in_flight: VecDeque::new(),
            ready: VecDeque::new(),
            chunker: Chunker::default(),
            max_in_flight: 2 * pool.workers().max(1),
            deadline: None,
            timed_out: false,
        }
    }

    /// Every result must be in within `d` of this call (`Executor.map`'s `timeout`):
    /// once it passes, the next item is `Err(TaskError::TimedOut)`, the chunks still in
    /// flight are cancelled (their workers stopped), and the iteration ends.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// fn forever(_: u32) {
    ///     loop {
    ///         std::thread::park();
    ///     }
    /// }
    /// let pool = concur::mpi::MpiPoolExecutor::world().unwrap();
    /// let mut it = pool.map(forever, [1, 2]).timeout(Duration::from_millis(100));
    /// assert_eq!(it.next(), Some(Err(concur::TaskError::TimedOut)));
    /// assert_eq!(it.next(), None);
    /// ```
    pub fn timeout(mut self, d: Duration) -> Self {
        self.deadline = Instant::now().checked_add(d);
        self
    }

    /// Sends `items` items per chunk (at least 1) instead of sizing chunks by how long
    /// items take (mpi4py's `chunksize`). Set it before the first `next`.
    ///
    /// ```no_run
    /// let pool = concur::mpi::MpiPoolExecutor::world().unwrap();
    /// let n = pool.map(|x: u32| x + 1, 0..10_000).chunk_size(256).filter(Result::is_ok).count();
    /// assert_eq!(n, 10_000);
    /// ```
    pub fn chunk_size(mut self, items: usize) -> Self {
        self.chunker.fixed = Some(items.max(1));
        self
    }

    fn fill(&mut self) {
        while self.in_flight.len() < self.max_in_flight {
            let Some(chunk) = self.chunker.take(&mut self.items, self.pool.workers()) else {
                return;
            };
            let n = chunk.len();
            let handle = self.pool.submit_chunk(self.f, chunk);
            self.in_flight.push_back((handle, n));
        }
    }
}

impl<A, R, I> Iterator for MpiMap<'_, A, R, I>
where
    A: Serialize + DeserializeOwned + Send + 'static,
    R: Serialize + DeserializeOwned + Send + 'static,
    I: Iterator<Item = A>,
{
    type Item = Result<R, TaskError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(out) = self.ready.pop_front() {
                return Some(out);
            }
            if self.timed_out {
                return None;
            }
            self.fill();
            let (handle, n) = self.in_flight.pop_front()?;
            if let Some(deadline) = self.deadline {
                if !handle.wait_timeout(deadline.saturating_duration_since(Instant::now())) {
                    self.timed_out = true;
                    self.items = None;
                    handle.cancel();
                    for (h, _) in self.in_flight.drain(..) {
                        h.cancel();
                    }
                    return Some(Err(TaskError::TimedOut));
                }
            }
            let outs = self.chunker.outcomes(handle, n);
            self.ready.extend(outs);
            // Keep the agents busy while the caller works through this chunk.
            self.fill();
        }
    }
}

impl<A, R, I> Drop for MpiMap<'_, A, R, I> {
    /// Cancels the chunks still in flight: nobody will read them.
    fn drop(&mut self) {
        for (handle, _) in self.in_flight.drain(..) {
            handle.cancel();
        }
    }
}

impl<A, R, I> fmt::Debug for MpiMap<'_, A, R, I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MpiMap")
            .field("chunks_in_flight", &self.in_flight.len())
            .field("ready", &self.ready.len())
            .field("done_reading", &self.items.is_none())
            .finish()
    }
}

/// Sends the items in chunks for [`MpiMapUnordered`]; a chunk lands in the shared window
/// (`handle::window`) when its handle finishes.
struct MpiFeed<'a, A, R, I> {
    pool: &'a MpiPoolExecutor,
    f: fn(A) -> R,
    items: Option<I>,
    chunker: Chunker,
}

impl<A, R, I> Feed for MpiFeed<'_, A, R, I>
where
    A: Serialize + DeserializeOwned + Send + 'static,
    R: Serialize + DeserializeOwned + Send + 'static,
    I: Iterator<Item = A>,
{
    type Out = ChunkOut<R>;

    fn submit(
        &mut self,
        window: &crate::sync::Arc<Window>,
        slot: usize,
    ) -> Option<(JoinHandle<ChunkOut<R>>, usize)> {
        let chunk = self.chunker.take(&mut self.items, self.pool.workers())?;
        let n = chunk.len();
        let handle = self.pool.submit_chunk(self.f, chunk);
        land_when_done(&handle, window, slot);
        Some((handle, n))
    }

    fn close(&mut self) {
        self.items = None;
    }
}

/// The outcomes of [`MpiPoolExecutor::map_unordered`], as their chunks finish, each with
/// the index of its item in the input (within a chunk, in input order).
///
/// ```no_run
/// let pool = concur::mpi::MpiPoolExecutor::world().unwrap();
/// let mut out: Vec<_> = pool.map_unordered(|x: u32| x + 1, [10, 20]).collect();
/// out.sort_by_key(|(i, _)| *i);
/// assert_eq!(out, [(0, Ok(11)), (1, Ok(21))]);
/// ```
pub struct MpiMapUnordered<'a, A, R, I> {
    /// Until the first `next`, so that `chunk_size` and `timeout` apply from the start.
    feed: Option<MpiFeed<'a, A, R, I>>,
    inner: Option<AsDone<MpiFeed<'a, A, R, I>, ChunkOut<R>>>,
    deadline: Option<Instant>,
    ready: VecDeque<(usize, Result<R, TaskError>)>,
}

impl<'a, A, R, I> MpiMapUnordered<'a, A, R, I>
where
    A: Serialize + DeserializeOwned + Send + 'static,
    R: Serialize + DeserializeOwned + Send + 'static,
    I: Iterator<Item = A>,
{
    pub(super) fn new(pool: &'a MpiPoolExecutor, f: fn(A) -> R, items: I) -> Self {
        MpiMapUnordered {
            feed: Some(MpiFeed {
                pool,
                f,
                items: Some(items),
                chunker: Chunker::default(),
            }),
            inner: None,
            deadline: None,
            ready: VecDeque::new(),
        }
    }

    /// Every result must be in within `d` of this call, as for [`MpiMap::timeout`]: once
    /// it passes with items unfinished, the next call yields `(i, Err(TaskError::TimedOut))`,
    /// `i` the smallest input index still unfinished; the chunks in flight are cancelled
    /// and the iteration ends.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// fn forever(_: u32) {
    ///     loop {
    ///         std::thread::park();
    ///     }
    /// }
    /// let pool = concur::mpi::MpiPoolExecutor::world().unwrap();
    /// let mut it = pool.map_unordered(forever, [1]).timeout(Duration::from_millis(100));
    /// assert_eq!(it.next(), Some((0, Err(concur::TaskError::TimedOut))));
    /// assert_eq!(it.next(), None);
    /// ```
    pub fn timeout(mut self, d: Duration) -> Self {
        self.deadline = Instant::now().checked_add(d);
        if let Some(inner) = self.inner.as_mut() {
            inner.set_timeout(d);
        }
        self
    }

    /// Sends `items` items per chunk (at least 1), as [`MpiMap::chunk_size`]. Set it
    /// before the first `next`.
    ///
    /// ```no_run
    /// let pool = concur::mpi::MpiPoolExecutor::world().unwrap();
    /// let n = pool.map_unordered(|x: u32| x + 1, 0..10_000).chunk_size(256).count();
    /// assert_eq!(n, 10_000);
    /// ```
    pub fn chunk_size(mut self, items: usize) -> Self {
        if let Some(feed) = self.feed.as_mut() {
            feed.chunker.fixed = Some(items.max(1));
        }
        self
    }
}

impl<A, R, I> Iterator for MpiMapUnordered<'_, A, R, I>
where
    A: Serialize + DeserializeOwned + Send + 'static,
    R: Serialize + DeserializeOwned + Send + 'static,
    I: Iterator<Item = A>,
{
    type Item = (usize, Result<R, TaskError>);

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(feed) = self.feed.take() {
            let (base, cap) = default_window(feed.pool.workers());
            let mut inner = AsDone::new(feed, base, cap);
            if let Some(d) = self.deadline {
                inner.set_timeout(d.saturating_duration_since(Instant::now()));
            }
            self.inner = Some(inner);
        }
        let inner = self.inner.as_mut()?;
        loop {
            if let Some(out) = self.ready.pop_front() {
                return Some(out);
            }
            let unit = match inner.next()? {
                Ok(unit) => unit,
                Err(first) => return Some((first, Err(TaskError::TimedOut))),
            };
            let first = unit.first;
            let outs = inner.feed_mut().chunker.outcomes(unit.handle, unit.len);
            self.ready
                .extend(outs.into_iter().enumerate().map(|(i, r)| (first + i, r)));
        }
    }
}

impl<A, R, I> fmt::Debug for MpiMapUnordered<'_, A, R, I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MpiMapUnordered")
            .field(
                "chunks_in_flight",
                &self.inner.as_ref().map_or(0, AsDone::in_flight),
            )
            .field("ready", &self.ready.len())
            .finish()
    }
}
