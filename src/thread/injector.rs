//! [`Injector`]: the pool's shared queue, where submitters push and idle workers take
//! batches from.
//!
//! An unbounded FIFO of blocks of [`BLOCK_CAP`] slots, linked in order. It is written for
//! the case that decides a pool's throughput: one or a few submitters feeding workers
//! that keep up, so that the queue is nearly empty and the consumers wait at the very
//! slot the next push writes. Each cache line the two sides share costs a transfer
//! between cores per task, so the design keeps them apart:
//!
//! - Producers own the tail (an index and the current block) and nothing else: consumers
//!   never read it on their way to a task (only the shutdown drain does, to wait for
//!   pushes in progress: `is_drained`). A consumer learns that slot `i` holds a task
//!   from the slot itself (its `ready` flag, written last by the producer), so the only
//!   line a push shares with the consumers is the slot's own.
//! - Consumers own the head and never write to a slot: a block is released by a count
//!   of the slots taken from it (`taken`, on the block's first line), added once per
//!   batch, instead of a mark on every slot. The producer writes a slot once, with a
//!   plain store; it never waits for the consumers.
//! - A consumer reads the slots at the head before it claims them (to know how many are
//!   ready), so a block may be read after it was released. Blocks are therefore freed
//!   through crossbeam-epoch: a consumer is pinned while it looks, and a released block
//!   is freed once no pinned thread can still see it. Producers look at a block only
//!   after their claim of one of its slots, which keeps it alive.
//!
//! Positions are counted in laps of `BLOCK_CAP + 1`: offsets `0..BLOCK_CAP` are slots,
//! and offset `BLOCK_CAP` means "the side that took the last slot is moving to the next
//! block", during which the others wait a moment.

use std::cell::UnsafeCell;
use std::mem::MaybeUninit;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering};

use crossbeam_deque::Worker;
use crossbeam_epoch as epoch;
use crossbeam_utils::{Backoff, CachePadded};

/// Slots per block. 31 slots of 24 bytes and a 128-byte header stay under 1 KiB, which
/// keeps a block in the thread caches of common allocators (glibc's tcache among them).
const BLOCK_CAP: usize = 31;
/// Positions per block: its slots, then the one that marks the move to the next block.
const LAP: usize = BLOCK_CAP + 1;

struct Slot<T> {
    task: UnsafeCell<MaybeUninit<T>>,
    /// Set (release) by the producer once `task` is written; never cleared.
    ready: AtomicBool,
}

impl<T> Slot<T> {
    fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// Writes the task and marks the slot ready.
    ///
    /// # Safety
    ///
    /// The caller claimed this slot as a producer; nobody else writes it.
    unsafe fn publish(&self, task: T) {
        // SAFETY: by the caller's contract we are the only writer, and no consumer reads
        // the task before `ready` is set below.
        unsafe { self.task.get().write(MaybeUninit::new(task)) };
        self.ready.store(true, Ordering::Release);
    }

    /// Moves the task out.
    ///
    /// # Safety
    ///
    /// The caller claimed this slot as a consumer and saw it ready; nobody reads it again.
    unsafe fn take(&self) -> T {
        // SAFETY: by the caller's contract nobody else touches the slot.
        let task = unsafe { self.task.get().read() };
        // SAFETY: ready, so the producer wrote the task (`publish`).
        unsafe { task.assume_init() }
    }
}

#[repr(C)]
struct Block<T> {
    /// The header: consumers count here, producers never look.
    header: Header<T>,
    slots: [Slot<T>; BLOCK_CAP],
}

/// 128 bytes, so that `taken` never shares a cache line with a slot however the block is
/// placed. (Not a 64-byte alignment instead: over-aligned boxes take the allocator's
/// slow path.)
#[repr(C)]
struct Header<T> {
    /// The block after this one, set by the producer that claimed this block's last slot
    /// before it writes that slot.
    next: AtomicPtr<Block<T>>,
    /// Slots whose task a consumer has taken out; the one that brings it to `BLOCK_CAP`
    /// releases the block.
    taken: AtomicUsize,
    _pad: [u8; 112],
}

impl<T> Block<T> {
    fn new() -> Box<Self> {
        Box::new(Block {
            header: Header {
                next: AtomicPtr::new(ptr::null_mut()),
                taken: AtomicUsize::new(0),
                _pad: [0; 112],
            },
            slots: std::array::from_fn(|_| Slot {
                task: UnsafeCell::new(MaybeUninit::uninit()),
                ready: AtomicBool::new(false),
            }),
        })
    }

    /// How many consecutive slots from `offset` (at most `limit`, within the block) are
    /// ready.
    fn ready_run(&self, offset: usize, limit: usize) -> usize {
        let end = (offset + limit).min(BLOCK_CAP);
        self.slots[offset..end]
            .iter()
            .take_while(|slot| slot.is_ready())
            .count()
    }

    /// The next block; set before the last slot is marked ready, so whoever saw that
    /// slot ready finds it at once (the loop is a safety net).
    fn wait_next(&self) -> *mut Block<T> {
        let backoff = Backoff::new();
        loop {
            let next = self.header.next.load(Ordering::Acquire);
            if !next.is_null() {
                return next;
            }
            backoff.snooze();
        }
    }
}

/// One end of the queue: a position and the block that holds it.
struct End<T> {
    index: AtomicUsize,
    block: AtomicPtr<Block<T>>,
}

/// The shared queue of a thread pool; see the module docs.
pub(super) struct Injector<T> {
    head: CachePadded<End<T>>,
    tail: CachePadded<End<T>>,
}

// SAFETY: tasks move between threads through the queue (`T: Send`), and every slot is
// written by the one producer that claimed it and read by the one consumer that claimed
// it, ordered by the slot's `ready` flag (release/acquire).
unsafe impl<T: Send> Send for Injector<T> {}
// SAFETY: as above; the queue never hands out `&T`.
unsafe impl<T: Send> Sync for Injector<T> {}

impl<T> Injector<T> {
    pub(super) fn new() -> Self {
        let block = Box::into_raw(Block::new());
        Injector {
            head: CachePadded::new(End {
                index: AtomicUsize::new(0),
                block: AtomicPtr::new(block),
            }),
            tail: CachePadded::new(End {
                index: AtomicUsize::new(0),
                block: AtomicPtr::new(block),
            }),
        }
    }

    /// Appends `task`. Lock-free; one atomic read-modify-write on the tail, which
    /// consumers never touch, and a plain store to publish the slot.
    pub(super) fn push(&self, task: T) {
        let backoff = Backoff::new();
        let mut next_block: Option<Box<Block<T>>> = None;
        let mut tail = self.tail.index.load(Ordering::Acquire);
        loop {
            let offset = tail % LAP;
            if offset == BLOCK_CAP {
                // Another producer is installing the next block.
                backoff.snooze();
                tail = self.tail.index.load(Ordering::Acquire);
                continue;
            }
            // The block of `tail`: it changes only after the index passed this lap's
            // last slot, so if the claim below succeeds, this is the claimed slot's block.
            let block = self.tail.block.load(Ordering::Acquire);
            if offset + 1 == BLOCK_CAP && next_block.is_none() {
                next_block = Some(Block::new());
            }
            match self.tail.index.compare_exchange_weak(
                tail,
                tail + 1,
                Ordering::SeqCst,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    // SAFETY: the claim makes slot `offset` of `block` ours to write. The
                    // block stays allocated until every one of its slots has been taken,
                    // which ours cannot be before it is published below.
                    let block = unsafe { &*block };
                    if offset + 1 == BLOCK_CAP {
                        let next = Box::into_raw(next_block.take().expect("allocated"));
                        self.tail.block.store(next, Ordering::Release);
                        self.tail.index.fetch_add(1, Ordering::Release);
                        block.header.next.store(next, Ordering::Release);
                    }
                    // SAFETY: the slot is ours (the claim above).
                    unsafe { block.slots[offset].publish(task) };
                    return;
                }
                Err(current) => {
                    tail = current;
                    backoff.spin();
                }
            }
        }
    }

    /// Takes up to `limit` tasks from the head: returns the first and pushes the others
    /// onto `dest`, in order, with whether the slot after them already holds a task (work
    /// left here for someone else). Takes at most the tasks of one block, and only tasks
    /// already written; `None` if the slot at the head holds none yet.
    pub(super) fn steal_batch_and_pop(&self, dest: &Worker<T>, limit: usize) -> Option<(T, bool)> {
        self.take_run(limit, |task| dest.push(task))
    }

    /// Takes one task from the head; `None` only once the queue is drained. A slot that a
    /// producer has claimed but not written yet is waited for (it hides the tasks behind
    /// it): this is for shutdown and for a broken pool, which must fail every task.
    pub(super) fn pop(&self) -> Option<T> {
        let backoff = Backoff::new();
        loop {
            if let Some((task, _)) = self.take_run(1, |_| unreachable!("a run of one has no rest"))
            {
                return Some(task);
            }
            if self.is_drained() {
                return None;
            }
            backoff.snooze();
        }
    }

    /// `true` if no task is in the queue or on its way in: every position a producer
    /// claimed has been taken. Unlike [`is_empty`](Self::is_empty) it reads the tail, so
    /// it is for the rare paths (a worker deciding to exit at shutdown), not the hot one.
    pub(super) fn is_drained(&self) -> bool {
        let head = self.head.index.load(Ordering::SeqCst);
        head >= self.tail.index.load(Ordering::SeqCst)
    }

    /// Claims a run of up to `limit` ready tasks at the head; returns the first and hands
    /// the others to `rest`, in order; and says whether the next slot is ready too.
    fn take_run(&self, limit: usize, mut rest: impl FnMut(T)) -> Option<(T, bool)> {
        debug_assert!(limit > 0);
        let guard = epoch::pin();
        let backoff = Backoff::new();
        loop {
            let head = self.head.index.load(Ordering::Acquire);
            let offset = head % LAP;
            if offset == BLOCK_CAP {
                // A consumer is moving the head to the next block.
                backoff.snooze();
                continue;
            }
            let block_ptr = self.head.block.load(Ordering::Acquire);
            // SAFETY: `block_ptr` was the head's block after this thread was pinned, so it
            // is freed (if it is released at all) only after `guard` is dropped. It may no
            // longer be the block of `head`: then the claim below fails.
            let block = unsafe { &*block_ptr };
            let ready = block.ready_run(offset, limit);
            if ready == 0 {
                // Empty, unless the head moved meanwhile and `block` was not its block.
                if self.head.index.load(Ordering::Acquire) == head {
                    return None;
                }
                continue;
            }
            let end = offset + ready;
            if self
                .head
                .index
                .compare_exchange_weak(head, head + ready, Ordering::SeqCst, Ordering::Relaxed)
                .is_err()
            {
                backoff.spin();
                continue;
            }
            // The claim succeeded, so `block` is the block of positions `head..head +
            // ready`, whose slots were seen ready and are now ours alone.
            let more = if end == BLOCK_CAP {
                // We took the last slot: move the head to the next block. The index reads
                // `BLOCK_CAP` meanwhile, which makes the others wait.
                let next = block.wait_next();
                self.head.block.store(next, Ordering::Release);
                self.head.index.store(head + ready + 1, Ordering::Release);
                // SAFETY: `next` is the head's block now, which we see while pinned.
                unsafe { &*next }.slots[0].is_ready()
            } else {
                block.slots[end].is_ready()
            };
            // SAFETY: claimed and seen ready (above); each slot is read once.
            let first = unsafe { block.slots[offset].take() };
            for slot in &block.slots[offset + 1..end] {
                // SAFETY: as for `first`.
                rest(unsafe { slot.take() });
            }
            // SAFETY: this thread took `ready` slots out and touches them no more.
            unsafe { release(block_ptr, ready, &guard) };
            return Some((first, more));
        }
    }

    /// `true` if the slot at the head holds no task yet. A consumer moving to the next
    /// block counts as not empty (it is a moment, and what follows is unknown).
    ///
    /// A slot claimed by a producer that has not written it yet hides the tasks behind
    /// it: that is enough for the wake-up protocol (that producer wakes a worker after it
    /// writes), not for deciding that nothing will come ([`is_drained`](Self::is_drained)).
    pub(super) fn is_empty(&self) -> bool {
        let _guard = epoch::pin();
        loop {
            let head = self.head.index.load(Ordering::Acquire);
            let offset = head % LAP;
            if offset == BLOCK_CAP {
                return false;
            }
            // SAFETY: pinned, as in `take_run`.
            let block = unsafe { &*self.head.block.load(Ordering::Acquire) };
            let ready = block.slots[offset].is_ready();
            // The block matches `head` if the head did not move meanwhile (positions never
            // repeat, and the block changes only after the index passed this lap).
            if self.head.index.load(Ordering::Acquire) == head {
                return !ready;
            }
        }
    }
}

/// Counts `n` slots of `block` as taken; the consumer that takes the last one frees the
/// block once no pinned thread can see it any more.
///
/// # Safety
///
/// The caller took `n` slots of `block` out and will not touch them again.
unsafe fn release<T>(block: *mut Block<T>, n: usize, guard: &epoch::Guard) {
    // SAFETY: `block` is allocated: this thread's own slots were not counted yet.
    let header = unsafe { &(*block).header };
    let taken = header.taken.fetch_add(n, Ordering::AcqRel) + n;
    if taken == BLOCK_CAP {
        // The head moved past this block before its last slot was counted (whoever took
        // the last slot moved it first), so no thread pinned from now on can reach it.
        // SAFETY: every slot was read out (its `MaybeUninit` holds nothing to drop), and
        // only this thread saw the count reach `BLOCK_CAP`, so the box is freed once.
        let free = move || drop(unsafe { Box::from_raw(block) });
        // SAFETY: `free` runs after every thread pinned before now has unpinned, and no
        // thread pinned later can reach the block (above).
        unsafe { guard.defer_unchecked(free) };
    }
}

impl<T> Drop for Injector<T> {
    fn drop(&mut self) {
        let tail = *self.tail.index.get_mut();
        // `&mut self`: no producer or consumer is left. Every position in `head..tail`
        // that is a slot holds a written task (each producer finished its push), and the
        // blocks from the head's on are owned by the queue alone (the ones before it were
        // released).
        // SAFETY: the head's block is allocated and ours (above).
        let mut block = unsafe { Box::from_raw(*self.head.block.get_mut()) };
        for position in *self.head.index.get_mut()..tail {
            let offset = position % LAP;
            if offset < BLOCK_CAP {
                // SAFETY: written and never taken (above).
                drop(unsafe { block.slots[offset].take() });
            } else {
                // SAFETY: the next block exists (the tail is past this one) and is ours.
                block = unsafe { Box::from_raw(*block.header.next.get_mut()) };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn drain(q: &Injector<usize>) -> Vec<usize> {
        let local = Worker::new_fifo();
        let mut out = Vec::new();
        while let Some((first, _)) = q.steal_batch_and_pop(&local, 7) {
            out.push(first);
            while let Some(t) = local.pop() {
                out.push(t);
            }
        }
        out
    }

    #[test]
    fn tasks_come_out_in_the_order_they_went_in_across_many_blocks() {
        let q = Injector::new();
        assert!(q.is_empty());
        for i in 0..1000 {
            q.push(i);
        }
        assert!(!q.is_empty());
        assert_eq!(drain(&q), (0..1000).collect::<Vec<_>>());
        assert!(q.is_empty());
        q.push(5);
        assert_eq!(q.pop(), Some(5));
        assert_eq!(q.pop(), None);
    }

    #[test]
    fn a_batch_stops_at_the_limit_and_at_the_end_of_a_block() {
        let q = Injector::new();
        for i in 0..BLOCK_CAP + 5 {
            q.push(i);
        }
        let local = Worker::new_fifo();
        assert_eq!(q.steal_batch_and_pop(&local, 4), Some((0, true)));
        assert_eq!(local.len(), 3);
        assert_eq!(q.steal_batch_and_pop(&local, 1000), Some((4, true)));
        assert_eq!(
            local.len(),
            3 + BLOCK_CAP - 5,
            "the rest of the first block only"
        );
        assert_eq!(
            q.steal_batch_and_pop(&local, 1000),
            Some((BLOCK_CAP, false)),
            "the last run says that nothing is left"
        );
    }

    #[test]
    fn a_slot_claimed_but_not_written_yet_is_waited_for_by_pop_and_counts_as_not_drained() {
        let q = Arc::new(Injector::new());
        q.push(1);
        // A producer claims slot 1 and is preempted before it writes it...
        let claimed = q.tail.index.fetch_add(1, Ordering::SeqCst);
        // ...while another publishes slot 2 behind it.
        q.push(2);
        assert_eq!(q.pop(), Some(1));
        assert!(q.is_empty(), "the head slot holds nothing yet");
        assert!(!q.is_drained(), "two tasks are on their way");
        let producer = {
            let q = Arc::clone(&q);
            std::thread::spawn(move || {
                // SAFETY: slot `claimed` of the first block is ours, as claimed above.
                let block = unsafe { &*q.tail.block.load(Ordering::Acquire) };
                // SAFETY: as above; nobody else writes it.
                unsafe { block.slots[claimed % LAP].publish(7) };
            })
        };
        assert_eq!(q.pop(), Some(7), "pop waits for the claimed slot");
        assert_eq!(q.pop(), Some(2), "and then finds what was behind it");
        assert_eq!(q.pop(), None);
        assert!(q.is_drained());
        producer.join().unwrap();
    }

    #[test]
    fn dropping_the_queue_drops_the_tasks_left_in_it() {
        let tracker = Arc::new(());
        let q = Injector::new();
        for _ in 0..100 {
            q.push(Arc::clone(&tracker));
        }
        let local = Worker::new_fifo();
        drop(q.steal_batch_and_pop(&local, 10));
        drop(local);
        assert_eq!(Arc::strong_count(&tracker), 91);
        drop(q);
        assert_eq!(Arc::strong_count(&tracker), 1);
    }

    #[test]
    fn many_producers_and_consumers_pass_every_task_exactly_once() {
        const PRODUCERS: usize = 4;
        const CONSUMERS: usize = 4;
        #[cfg(miri)]
        const PER: usize = 40;
        #[cfg(not(miri))]
        const PER: usize = 50_000;
        let q = Arc::new(Injector::new());
        let done = Arc::new(AtomicUsize::new(0));
        let producers: Vec<_> = (0..PRODUCERS)
            .map(|p| {
                let q = Arc::clone(&q);
                std::thread::spawn(move || {
                    for i in 0..PER {
                        q.push(p * PER + i);
                    }
                })
            })
            .collect();
        let consumers: Vec<_> = (0..CONSUMERS)
            .map(|c| {
                let (q, done) = (Arc::clone(&q), Arc::clone(&done));
                std::thread::spawn(move || {
                    let local = Worker::new_fifo();
                    let mut seen = Vec::new();
                    // Each producer's tasks must come out in its order, per consumer.
                    let mut last = [None::<usize>; PRODUCERS];
                    loop {
                        let got = q.steal_batch_and_pop(&local, 1 + c * 5);
                        let Some((first, _)) = got else {
                            if done.load(Ordering::Acquire) == PRODUCERS && q.is_empty() {
                                break;
                            }
                            std::thread::yield_now();
                            continue;
                        };
                        for t in std::iter::once(first).chain(std::iter::from_fn(|| local.pop())) {
                            let p = t / PER;
                            assert!(last[p].is_none_or(|l| l < t), "out of order: {t}");
                            last[p] = Some(t);
                            seen.push(t);
                        }
                    }
                    seen
                })
            })
            .collect();
        for p in producers {
            p.join().unwrap();
        }
        done.store(PRODUCERS, Ordering::Release);
        let mut all: Vec<usize> = consumers
            .into_iter()
            .flat_map(|c| c.join().unwrap())
            .collect();
        all.sort_unstable();
        assert_eq!(all, (0..PRODUCERS * PER).collect::<Vec<_>>());
    }
}
