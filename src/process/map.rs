//! [`ProcessMap`]: the iterator behind [`ProcessPoolExecutor::map`]: items go to workers in
//! chunks, a bounded number in flight, and come back in input order.

use std::collections::VecDeque;
use std::fmt;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::call::{self, ChunkOut};
use super::codec;
use super::ProcessPoolExecutor;
use crate::handle::{JoinHandle, TaskError};

/// How long a chunk should run, for the automatic chunk size.
const TARGET_CHUNK_NS: u64 = 2_000_000;
/// The largest automatic chunk.
const MAX_CHUNK: usize = 1 << 16;

/// The outcomes of [`ProcessPoolExecutor::map`], in input order.
///
/// ```
/// let pool = concur::ProcessPoolExecutor::new(1).unwrap();
/// let mut it = pool.map(|s: String| s.len(), ["a".to_owned(), "bcd".to_owned()]);
/// assert_eq!(it.next(), Some(Ok(1)));
/// assert_eq!(it.next(), Some(Ok(3)));
/// assert_eq!(it.next(), None);
/// ```
pub struct ProcessMap<'a, A, R, I> {
    pool: &'a ProcessPoolExecutor,
    f: fn(A) -> R,
    items: Option<I>,
    in_flight: VecDeque<(JoinHandle<ChunkOut<R>>, usize)>,
    ready: VecDeque<Result<R, TaskError>>,
    /// Nanoseconds per item, once a chunk has reported.
    per_item_ns: Option<u64>,
    max_in_flight: usize,
}

impl<'a, A, R, I> ProcessMap<'a, A, R, I>
where
    A: Serialize + DeserializeOwned + Send + 'static,
    R: Serialize + DeserializeOwned + Send + 'static,
    I: Iterator<Item = A>,
{
    pub(super) fn new(pool: &'a ProcessPoolExecutor, f: fn(A) -> R, items: I) -> Self {
        ProcessMap {
            pool,
            f,
            items: Some(items),
            in_flight: VecDeque::new(),
            ready: VecDeque::new(),
            per_item_ns: None,
            max_in_flight: pool.max_workers() * 2,
        }
    }

    /// The size of the next chunk.
    fn chunk_size(&self) -> usize {
        if let Some(n) = self.pool.shared.config.chunk_size {
            return n;
        }
        let by_time = match self.per_item_ns {
            // Until a chunk has reported, one item at a time: an item could take seconds.
            None => 1,
            Some(ns) => (TARGET_CHUNK_NS / ns.max(1)).clamp(1, MAX_CHUNK as u64) as usize,
        };
        // Leave every worker a share of what is left, when the length is known.
        let left = self.items.as_ref().and_then(|it| it.size_hint().1);
        match left {
            Some(n) => by_time.min(n.div_ceil(self.pool.max_workers() * 4).max(1)),
            None => by_time,
        }
    }

    fn fill(&mut self) {
        while self.in_flight.len() < self.max_in_flight {
            let size = self.chunk_size();
            let Some(items) = self.items.as_mut() else {
                return;
            };
            let chunk: Vec<A> = items.by_ref().take(size).collect();
            if chunk.is_empty() {
                self.items = None;
                return;
            }
            let n = chunk.len();
            let (call, func) = call::chunk(self.f);
            let handle = self
                .pool
                .submit_raw::<ChunkOut<R>>(call, func, |frame, fds| {
                    codec::encode_owned(chunk, frame, fds)
                });
            self.in_flight.push_back((handle, n));
        }
    }
}

impl<A, R, I> Iterator for ProcessMap<'_, A, R, I>
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
            self.fill();
            let (handle, n) = self.in_flight.pop_front()?;
            match handle.join() {
                Ok((ran_ns, outs)) if outs.len() == n => {
                    let per_item = ran_ns / n as u64;
                    self.per_item_ns = Some(match self.per_item_ns {
                        Some(old) => (old * 3 + per_item) / 4,
                        None => per_item,
                    });
                    self.ready
                        .extend(outs.into_iter().map(|r| r.map_err(TaskError::Panicked)));
                }
                Ok((_, outs)) => {
                    let err = TaskError::Serialization(format!(
                        "a worker returned {} results for a chunk of {n} items",
                        outs.len()
                    ));
                    self.ready.extend((0..n).map(|_| Err(err.clone())));
                }
                Err(err) => self.ready.extend((0..n).map(|_| Err(err.clone()))),
            }
        }
    }
}

impl<A, R, I> Drop for ProcessMap<'_, A, R, I> {
    /// Cancels the chunks still in flight: nobody will read them.
    fn drop(&mut self) {
        for (handle, _) in self.in_flight.drain(..) {
            handle.cancel();
        }
    }
}

impl<A, R, I> fmt::Debug for ProcessMap<'_, A, R, I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProcessMap")
            .field("chunks_in_flight", &self.in_flight.len())
            .field("ready", &self.ready.len())
            .finish()
    }
}
