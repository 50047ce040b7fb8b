//! The wake-up protocol between a task's wakers and the loop: when a wake puts the task
//! in a run queue, and what a poll is then sure to see.
//!
//! A waker promises that a poll which starts after it was called sees what the waker's
//! thread did before calling it. On the loop's own thread that is program order. From
//! another thread it takes read-modify-writes on both sides: with a plain load
//! ("already scheduled? then skip") on the waker's side and a plain store ("not
//! scheduled any more") on the loop's, the two threads can each miss the other's write
//! (store buffering: the loop clears the flag and reads the task's state, the waker
//! writes the state and reads the flag), and the wake-up is lost. The loom models in
//! `loom_tests.rs` check this protocol (and catch the plain one).
//!
//! So a task has two flags ([`ScheduleState`]):
//!
//! - `queued`, the loop thread's own: the task's id is in the local run queue. Only the
//!   loop's thread reads or writes it, so plain (relaxed) loads and stores suffice and a
//!   local wake costs no read-modify-write.
//! - `notified`, the remote wakers': set with `swap(true, AcqRel)`; the waker whose swap
//!   found it clear pushes the id on the [`RemoteQueue`], the others know that one did.
//!   The loop clears it with `swap(false, AcqRel)` before polling, which acquires what
//!   every waker that set it released. The loop looks with a relaxed load first and
//!   swaps only if it sees `true`: a `true` it cannot see yet belongs to a waker that
//!   pushed the id on the remote queue (or came after one that did), and the poll of that
//!   id comes after the loop took the queue's mutex, when the load sees it.
//!
//! The remote queue wakes the loop's epoll (its eventfd) for the first id after each
//! drain; `pending` says whether there are ids to drain. Its swaps are read-modify-writes
//! too; the drain's first look is a load, backed by the eventfd: a push that the load
//! misses was either made by the pusher that wrote the eventfd, which the loop's epoll
//! sees, or by one after it, found under the same mutex.

use crate::sync::{lock, AtomicBool, Mutex, Ordering};

/// A task's place in the run queues: see the [module docs](self).
pub(super) struct ScheduleState {
    /// The id is in the loop's local run queue (`run`'s main future's too). The loop's
    /// thread alone touches it.
    queued: AtomicBool,
    /// A waker on another thread woke the task, and the loop has not cleared it since.
    notified: AtomicBool,
}

impl ScheduleState {
    /// A task about to be polled for the first time (its id is in the local queue).
    pub(super) fn queued() -> Self {
        ScheduleState {
            queued: AtomicBool::new(true),
            notified: AtomicBool::new(false),
        }
    }

    /// A wake on the loop's thread: `true` if the caller must push the id on the local
    /// run queue (it is not there already). Loop thread only.
    #[inline]
    pub(super) fn wake_local(&self) -> bool {
        if self.queued.load(Ordering::Relaxed) {
            return false;
        }
        self.queued.store(true, Ordering::Relaxed);
        true
    }

    /// A wake on another thread: `true` if the caller must push the id on the remote
    /// queue (no other remote wake did since the loop last polled the task). Releases
    /// what the caller did before to the poll that follows.
    #[inline]
    pub(super) fn wake_remote(&self) -> bool {
        !self.notified.swap(true, Ordering::AcqRel)
    }

    /// Just before a poll, on the loop's thread: forgets both flags, so that a wake from
    /// now on queues the task again, and acquires what the remote wakers released.
    /// Returns whether the task was woken (in either queue) since its last poll.
    #[inline]
    pub(super) fn begin_poll(&self) -> bool {
        let queued = self.queued.load(Ordering::Relaxed);
        if queued {
            self.queued.store(false, Ordering::Relaxed);
        }
        // A relaxed look first, so a task only ever woken on the loop's thread costs no
        // read-modify-write (see the module docs for why a stale `false` is harmless).
        let notified =
            self.notified.load(Ordering::Relaxed) && self.notified.swap(false, Ordering::AcqRel);
        queued || notified
    }

    /// Whether a poll is due (the task was woken since its last poll). Loop thread only.
    #[inline]
    pub(super) fn is_woken(&self) -> bool {
        self.queued.load(Ordering::Relaxed) || self.notified.load(Ordering::Acquire)
    }
}

/// The ids that wakers on other threads queued for the loop.
pub(super) struct RemoteQueue {
    ids: Mutex<Vec<u64>>,
    /// `ids` has ids the loop has not drained yet.
    pending: AtomicBool,
}

impl RemoteQueue {
    pub(super) fn new() -> Self {
        RemoteQueue {
            ids: Mutex::new(Vec::new()),
            pending: AtomicBool::new(false),
        }
    }

    /// Queues `id`. `true` if the caller must wake the loop (the first id since the
    /// loop's last drain: the loop may be blocked in its reactor).
    pub(super) fn push(&self, id: u64) -> bool {
        lock(&self.ids).push(id);
        !self.pending.swap(true, Ordering::AcqRel)
    }

    /// Takes the ids queued so far (none, without taking the lock, if there are none).
    pub(super) fn drain(&self) -> Vec<u64> {
        if self.pending.load(Ordering::Acquire) && self.pending.swap(false, Ordering::AcqRel) {
            std::mem::take(&mut *lock(&self.ids))
        } else {
            Vec::new()
        }
    }
}
