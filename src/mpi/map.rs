//! [`MpiMap`]: the iterator behind [`MpiPoolExecutor::map`]: items go to the agents in
//! chunks (a chunk is one task of the process pool's own `map` trampoline), a bounded
//! number in flight, and come back in input order.

use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::MpiPoolExecutor;
use crate::handle::{JoinHandle, PanicMessage, TaskError};
use crate::process::remote::ChunkOut;

/// How long a chunk should run, for the automatic chunk size: long enough that a round
/// trip between ranks is a small part of it.
const TARGET_CHUNK_NS: u64 = 5_000_000;
/// The largest automatic chunk.
const MAX_CHUNK: usize = 1 << 14;
/// The first chunks, before any has said how long its items take: small, since an item
/// could take seconds, but not one item each (a round trip between ranks costs more than
/// a tiny item).
const FIRST_CHUNK: usize = 4;

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
    /// Nanoseconds per item, once a chunk has reported.
    per_item_ns: Option<u64>,
    max_in_flight: usize,
    /// Set by [`chunk_size`](MpiMap::chunk_size).
    fixed_chunk: Option<usize>,
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
            per_item_ns: None,
            max_in_flight: 2 * pool.workers().max(1),
            fixed_chunk: None,
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
        self.fixed_chunk = Some(items.max(1));
        self
    }

    /// The size of the next chunk.
    fn next_chunk_size(&self) -> usize {
        if let Some(n) = self.fixed_chunk {
            return n;
        }
        let by_time = match self.per_item_ns {
            None => FIRST_CHUNK,
            Some(ns) => (TARGET_CHUNK_NS / ns.max(1)).clamp(1, MAX_CHUNK as u64) as usize,
        };
        // Leave every worker a share of what is left, when the length is known.
        match self.items.as_ref().and_then(|it| it.size_hint().1) {
            Some(n) => by_time.min(n.div_ceil(self.pool.workers().max(1) * 2).max(1)),
            None => by_time,
        }
    }

    fn fill(&mut self) {
        while self.in_flight.len() < self.max_in_flight {
            let size = self.next_chunk_size();
            let Some(items) = self.items.as_mut() else {
                return;
            };
            let chunk: Vec<A> = items.by_ref().take(size).collect();
            if chunk.len() < size {
                self.items = None;
            }
            if chunk.is_empty() {
                return;
            }
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
            match handle.join() {
                Ok((ran_ns, outs)) if outs.len() == n => {
                    let per_item = ran_ns / n as u64;
                    self.per_item_ns = Some(match self.per_item_ns {
                        Some(old) => (old * 3 + per_item) / 4,
                        None => per_item,
                    });
                    self.ready.extend(
                        outs.into_iter().map(|r| {
                            r.map_err(|m| TaskError::Panicked(PanicMessage::from_wire(m)))
                        }),
                    );
                }
                Ok((_, outs)) => {
                    let err = TaskError::Serialization(format!(
                        "an agent returned {} results for a chunk of {n} items",
                        outs.len()
                    ));
                    self.ready.extend((0..n).map(|_| Err(err.clone())));
                }
                // The chunk failed as a whole (its worker died, it could not be encoded,
                // it timed out): every item of it says so.
                Err(err) => self.ready.extend((0..n).map(|_| Err(err.clone()))),
            }
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
