//! [`ProcessMap`]: the iterator behind [`ProcessPoolExecutor::map`]: items go to workers in
//! chunks, a bounded window of them in flight (`handle::window`, shared with the thread
//! pool), and come back in input order; and [`ProcessMapUnordered`], as they finish.

use std::any::type_name;
use std::collections::VecDeque;
use std::fmt;
use std::os::fd::OwnedFd;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::call::{self, ChunkOut};
use super::codec::{self, MAX_FDS};
use super::ProcessPoolExecutor;
use crate::handle::window::{default_window, land_when_done, AsDone, Feed, InOrder, Window};
use crate::handle::{JoinHandle, PanicMessage, TaskError};
use crate::sync::Arc;

/// How long a chunk should run, for the automatic chunk size.
const TARGET_CHUNK_NS: u64 = 2_000_000;
/// The largest automatic chunk.
const MAX_CHUNK: usize = 1 << 16;
/// The most argument bytes an automatic chunk carries: with tiny items, bigger frames
/// only cost more (a map of 1,000,000 `u64`s ran at 30 M/s in chunks of 64 Ki items,
/// 45-50 M/s in chunks of 10,000: about 30 KiB), and the chunks keep every worker fed.
const CHUNK_BYTES: usize = 32 << 10;

/// Sends the items in chunks; a chunk lands in the window when its handle finishes.
pub(super) struct ProcessFeed<'a, A, R, I> {
    pool: &'a ProcessPoolExecutor,
    f: fn(A) -> R,
    items: Option<I>,
    /// Nanoseconds per item, once a chunk has reported.
    per_item_ns: Option<u64>,
    /// Encoded bytes per item, once a chunk was encoded.
    per_item_bytes: Option<usize>,
    /// Items taken from the input that did not fit in the last chunk, in order: they
    /// start the next. `Err`: an item that could not be encoded, and why.
    carry: VecDeque<Result<A, String>>,
}

impl<'a, A, R, I> ProcessFeed<'a, A, R, I>
where
    A: Serialize + DeserializeOwned + Send + 'static,
    R: Serialize + DeserializeOwned + Send + 'static,
    I: Iterator<Item = A>,
{
    fn new(pool: &'a ProcessPoolExecutor, f: fn(A) -> R, items: I) -> Self {
        ProcessFeed {
            pool,
            f,
            items: Some(items),
            per_item_ns: None,
            per_item_bytes: None,
            carry: VecDeque::new(),
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
        let size = match self.per_item_bytes {
            Some(bytes) => by_time.min((CHUNK_BYTES / bytes.max(1)).max(1)),
            None => by_time,
        };
        // Leave every worker a share of what is left, when the length is known.
        let left = self.items.as_ref().and_then(|it| it.size_hint().1);
        match left {
            Some(n) => size.min(n.div_ceil(self.pool.max_workers() * 4).max(1)),
            None => size,
        }
    }

    /// Joins a chunk of `n` items: its outcomes, one per item, in input order.
    fn outcomes(&mut self, handle: JoinHandle<ChunkOut<R>>, n: usize) -> Vec<Result<R, TaskError>> {
        chunk_outcomes(handle, n, &mut self.per_item_ns, "a worker")
    }
}

/// Joins a chunk of `n` items (of a process map, or of an MPI map, whose chunks run the
/// same trampoline): its outcomes, one per item, in input order, and the time an item
/// took folded into `per_item_ns`. A chunk that failed as a whole (its worker died, it
/// could not be encoded, it timed out) fails each of its items; `from` names who ran it.
pub(crate) fn chunk_outcomes<R>(
    handle: JoinHandle<ChunkOut<R>>,
    n: usize,
    per_item_ns: &mut Option<u64>,
    from: &str,
) -> Vec<Result<R, TaskError>> {
    match handle.join() {
        Ok((ran_ns, outs)) if outs.len() == n => {
            let per_item = ran_ns / n as u64;
            *per_item_ns = Some(match *per_item_ns {
                Some(old) => (old * 3 + per_item) / 4,
                None => per_item,
            });
            outs.into_iter()
                .map(|r| r.map_err(|m| TaskError::Panicked(PanicMessage::from_wire(m))))
                .collect()
        }
        Ok((_, outs)) => {
            let err = TaskError::Serialization(format!(
                "{from} returned {} results for a chunk of {n} items",
                outs.len()
            ));
            (0..n).map(|_| Err(err.clone())).collect()
        }
        Err(err) => (0..n).map(|_| Err(err.clone())).collect(),
    }
}

impl<A, R, I> Feed for ProcessFeed<'_, A, R, I>
where
    A: Serialize + DeserializeOwned + Send + 'static,
    R: Serialize + DeserializeOwned + Send + 'static,
    I: Iterator<Item = A>,
{
    type Out = ChunkOut<R>;

    fn submit(
        &mut self,
        window: &Arc<Window>,
        slot: usize,
    ) -> Option<(JoinHandle<ChunkOut<R>>, usize)> {
        if self.carry.is_empty() {
            // Take the chunk's first item now: no chunk is sent for an input that ran out.
            let Some(item) = self.items.as_mut().and_then(Iterator::next) else {
                self.items = None;
                return None;
            };
            self.carry.push_back(Ok(item));
        }
        let size = self.chunk_size();
        let max_frame = self.pool.shared.config.max_frame;
        let (call, func) = call::chunk(self.f);
        let (items, carry) = (&mut self.items, &mut self.carry);
        // An item that cannot be encoded, first in its chunk, fails it alone.
        let (mut n, mut bytes) = (1, None);
        let handle =
            self.pool
                .submit_raw::<ChunkOut<R>>(call, func, type_name::<A>(), |frame, fds| {
                    let start = frame.len();
                    n = encode_chunk(items, carry, size, max_frame, frame, fds)?;
                    bytes = Some(frame.len() - start);
                    Ok(n as u64)
                });
        if let Some(bytes) = bytes {
            self.per_item_bytes = Some(bytes / n.max(1));
        }
        land_when_done(&handle, window, slot);
        Some((handle, n))
    }

    fn close(&mut self) {
        self.items = None;
        self.carry.clear();
    }
}

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
    inner: InOrder<ProcessFeed<'a, A, R, I>, ChunkOut<R>>,
    ready: VecDeque<Result<R, TaskError>>,
}

impl<'a, A, R, I> ProcessMap<'a, A, R, I>
where
    A: Serialize + DeserializeOwned + Send + 'static,
    R: Serialize + DeserializeOwned + Send + 'static,
    I: Iterator<Item = A>,
{
    pub(super) fn new(pool: &'a ProcessPoolExecutor, f: fn(A) -> R, items: I) -> Self {
        let (base, cap) = default_window(pool.max_workers());
        Self::with_window(pool, f, items, base, cap)
    }

    /// At most `in_flight` chunks in flight, always (`map_bounded`).
    pub(super) fn bounded(
        pool: &'a ProcessPoolExecutor,
        f: fn(A) -> R,
        items: I,
        in_flight: usize,
    ) -> Self {
        Self::with_window(pool, f, items, in_flight, in_flight)
    }

    fn with_window(
        pool: &'a ProcessPoolExecutor,
        f: fn(A) -> R,
        items: I,
        base: usize,
        cap: usize,
    ) -> Self {
        ProcessMap {
            inner: InOrder::new(ProcessFeed::new(pool, f, items), base, cap),
            ready: VecDeque::new(),
        }
    }

    /// Gives the whole map `d`, from now, as `Executor.map(..., timeout=d)` does: the
    /// item still unfinished at the deadline yields `Err(TaskError::TimedOut)`, the
    /// chunks still in flight are cancelled (a running one with its worker, as
    /// [`JoinHandle::cancel`] does), and the iteration ends.
    ///
    /// ```
    /// use std::time::Duration;
    /// use concur::TaskError;
    /// fn slow(x: u64) -> u64 {
    ///     if x == 1 {
    ///         std::thread::sleep(Duration::from_secs(3600)); // stands for work that hangs
    ///     }
    ///     x
    /// }
    /// let pool = concur::ProcessPoolExecutor::builder().max_workers(1).chunk_size(1).build().unwrap();
    /// let mut it = pool.map(slow, [1, 2]).timeout(Duration::from_millis(200));
    /// assert_eq!(it.next(), Some(Err(TaskError::TimedOut)));
    /// assert_eq!(it.next(), None);
    /// ```
    pub fn timeout(mut self, d: Duration) -> Self {
        self.inner.set_timeout(d);
        self
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
            let unit = match self.inner.next()? {
                Ok(unit) => unit,
                Err(timed_out) => return Some(Err(timed_out)),
            };
            let outs = self.inner.feed_mut().outcomes(unit.handle, unit.len);
            self.ready.extend(outs);
        }
    }
}

impl<A, R, I> fmt::Debug for ProcessMap<'_, A, R, I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProcessMap")
            .field("chunks_in_flight", &self.inner.in_flight())
            .field("items_in_flight", &self.inner.items_in_flight())
            .field("ready", &self.ready.len())
            .finish()
    }
}

/// The outcomes of [`ProcessPoolExecutor::map_unordered`], as the chunks finish, each
/// with the index of its item in the input.
///
/// ```
/// let pool = concur::ProcessPoolExecutor::new(2).unwrap();
/// let mut out: Vec<_> = pool.map_unordered(|x: u32| x + 1, [10, 20]).collect();
/// out.sort_by_key(|(i, _)| *i);
/// assert_eq!(out, [(0, Ok(11)), (1, Ok(21))]);
/// ```
pub struct ProcessMapUnordered<'a, A, R, I> {
    inner: AsDone<ProcessFeed<'a, A, R, I>, ChunkOut<R>>,
    ready: VecDeque<(usize, Result<R, TaskError>)>,
}

impl<'a, A, R, I> ProcessMapUnordered<'a, A, R, I>
where
    A: Serialize + DeserializeOwned + Send + 'static,
    R: Serialize + DeserializeOwned + Send + 'static,
    I: Iterator<Item = A>,
{
    pub(super) fn new(pool: &'a ProcessPoolExecutor, f: fn(A) -> R, items: I) -> Self {
        let (base, cap) = default_window(pool.max_workers());
        ProcessMapUnordered {
            inner: AsDone::new(ProcessFeed::new(pool, f, items), base, cap),
            ready: VecDeque::new(),
        }
    }

    /// Gives the whole map `d`, from now, like [`ProcessMap::timeout`]: once the deadline
    /// passes with items unfinished, the next call yields `(i, Err(TaskError::TimedOut))`,
    /// `i` the smallest input index still unfinished; the chunks in flight are cancelled
    /// (a running one with its worker) and the iteration ends.
    ///
    /// ```
    /// use std::time::Duration;
    /// use concur::TaskError;
    /// fn slow(x: u64) -> u64 {
    ///     if x == 0 {
    ///         std::thread::sleep(Duration::from_secs(3600)); // stands for work that hangs
    ///     }
    ///     x
    /// }
    /// let pool = concur::ProcessPoolExecutor::builder().max_workers(2).chunk_size(1).build().unwrap();
    /// let mut it = pool.map_unordered(slow, [0, 1]).timeout(Duration::from_millis(500));
    /// assert_eq!(it.next(), Some((1, Ok(1))));
    /// assert_eq!(it.next(), Some((0, Err(TaskError::TimedOut))));
    /// assert_eq!(it.next(), None);
    /// ```
    pub fn timeout(mut self, d: Duration) -> Self {
        self.inner.set_timeout(d);
        self
    }
}

impl<A, R, I> Iterator for ProcessMapUnordered<'_, A, R, I>
where
    A: Serialize + DeserializeOwned + Send + 'static,
    R: Serialize + DeserializeOwned + Send + 'static,
    I: Iterator<Item = A>,
{
    type Item = (usize, Result<R, TaskError>);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(out) = self.ready.pop_front() {
                return Some(out);
            }
            let unit = match self.inner.next()? {
                Ok(unit) => unit,
                Err(first) => return Some((first, Err(TaskError::TimedOut))),
            };
            let first = unit.first;
            let outs = self.inner.feed_mut().outcomes(unit.handle, unit.len);
            self.ready
                .extend(outs.into_iter().enumerate().map(|(i, r)| (first + i, r)));
        }
    }
}

impl<A, R, I> fmt::Debug for ProcessMapUnordered<'_, A, R, I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProcessMapUnordered")
            .field("chunks_in_flight", &self.inner.in_flight())
            .field("items_in_flight", &self.inner.items_in_flight())
            .field("ready", &self.ready.len())
            .finish()
    }
}

/// Appends a chunk of up to `size` items to `frame` as a postcard `Vec<A>` (what
/// `call_chunk` decodes), taking `carry` first, then items from `items` (set to `None`
/// once they run out). The chunk is encoded whole, and dropped; if that carries more
/// descriptors than one value may, or more bytes than `max_frame`, or fails, it is encoded
/// again item by item, each dropped on its own, stopping before the item that does not
/// fit: it and the items after it go back to `carry`, to start the next chunk. Returns how
/// many items the chunk holds; an item that cannot be encoded ends the chunk before it,
/// or, first in its chunk, fails it.
fn encode_chunk<A: Serialize, I: Iterator<Item = A>>(
    items: &mut Option<I>,
    carry: &mut VecDeque<Result<A, String>>,
    size: usize,
    max_frame: usize,
    frame: &mut Vec<u8>,
    fds: &mut Vec<OwnedFd>,
) -> Result<usize, String> {
    let mut chunk = Vec::with_capacity(size.min(1024));
    while chunk.len() < size {
        match carry.pop_front() {
            Some(Ok(item)) => chunk.push(item),
            Some(Err(e)) if chunk.is_empty() => return Err(e),
            Some(Err(e)) => {
                carry.push_front(Err(e));
                break;
            }
            None => match items.as_mut().and_then(Iterator::next) {
                Some(item) => chunk.push(item),
                None => {
                    *items = None;
                    break;
                }
            },
        }
    }
    // Whole, as one value: what nearly every chunk is.
    let mut batch = codec::Batch::begin(fds);
    if let Ok(mark) = batch.push(&chunk, frame) {
        if batch.fds() <= MAX_FDS && (frame.len() <= max_frame || chunk.len() == 1) {
            let n = chunk.len();
            drop(chunk);
            batch.released_since(mark)?;
            batch.finish(fds);
            return Ok(n);
        }
        batch.undo(mark, frame);
    }
    // Item by item.
    let start = frame.len();
    let announced = chunk.len();
    push_varint(frame, announced);
    let counted = frame.len() - start;
    let mut n = 0;
    let mut rest = chunk.into_iter();
    for item in rest.by_ref() {
        let sent = match batch.push(&item, frame) {
            Ok(mark) if n > 0 && (batch.fds() > MAX_FDS || frame.len() > max_frame) => {
                // Too much for this chunk: the item starts the next one.
                batch.undo(mark, frame);
                carry.push_front(Ok(item));
                break;
            }
            Ok(mark) => {
                drop(item);
                batch
                    .released_since(mark)
                    .inspect_err(|_| batch.undo(mark, frame))
            }
            Err(e) => {
                drop(item);
                Err(e)
            }
        };
        if let Err(e) = sent {
            if n == 0 {
                // Fails alone; the items after it wait for the next chunk.
                let later: Vec<_> = rest.map(Ok).collect();
                for item in later.into_iter().rev() {
                    carry.push_front(item);
                }
                return Err(e);
            }
            carry.push_front(Err(e));
            break;
        }
        n += 1;
    }
    // What did not go waits, in order, behind the item the chunk stopped before (left
    // ones only remain after a stop).
    for (i, item) in rest.enumerate() {
        carry.insert(1 + i, Ok(item));
    }
    if batch.fds() > MAX_FDS {
        return Err(format!(
            "a value may carry at most {MAX_FDS} shared buffers, this one has {}",
            batch.fds()
        ));
    }
    batch.finish(fds);
    if n != announced {
        // Fewer items than announced: say so (in place unless the count got shorter).
        let mut count = Vec::new();
        push_varint(&mut count, n);
        frame.splice(start..start + counted, count);
    }
    Ok(n)
}

/// Appends `n` as postcard writes a sequence's length: a LEB128 varint.
fn push_varint(out: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk_of(items: Vec<u32>, size: usize) -> (Vec<u32>, usize, Option<Vec<u32>>) {
        let mut items = Some(items.into_iter());
        let mut carry = VecDeque::new();
        let (mut frame, mut fds) = (Vec::new(), Vec::new());
        let n = encode_chunk(&mut items, &mut carry, size, 1 << 20, &mut frame, &mut fds).unwrap();
        let rest = items.map(Iterator::collect);
        (codec::decode(&frame, fds).unwrap(), n, rest)
    }

    #[test]
    fn a_chunk_decodes_as_a_vec_whatever_its_count() {
        // The count announced (200: two bytes) shrinks to what the input held (one byte).
        assert_eq!(chunk_of(vec![1, 2, 3], 200), (vec![1, 2, 3], 3, None));
        let many: Vec<u32> = (0..300).collect();
        let (got, n, rest) = chunk_of(many.clone(), 250);
        assert_eq!((&got[..], n), (&many[..250], 250));
        assert_eq!(rest.unwrap(), many[250..]);
    }

    #[test]
    fn a_chunk_stops_before_the_descriptors_would_not_fit() {
        let buffers: Vec<_> = (0..100u8)
            .map(|i| crate::SharedBuffer::from_slice(&[i]).unwrap())
            .collect();
        let mut items = Some(buffers.into_iter());
        let mut carry = VecDeque::new();
        let (mut frame, mut fds) = (Vec::new(), Vec::new());
        let n = encode_chunk(&mut items, &mut carry, 100, 1 << 20, &mut frame, &mut fds).unwrap();
        assert_eq!((n, fds.len()), (MAX_FDS, MAX_FDS));
        // The rest wait, in order, for the next chunk.
        let waiting: Vec<u8> = carry.iter().map(|b| b.as_ref().unwrap()[0]).collect();
        assert_eq!(waiting, (64..100).collect::<Vec<u8>>());
        let got: Vec<crate::SharedBuffer> = codec::decode(&frame, fds).unwrap();
        assert!(got.iter().enumerate().all(|(i, b)| b[0] == i as u8));
    }
}
