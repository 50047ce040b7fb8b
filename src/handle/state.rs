//! The bits of a task's state word, one `AtomicUsize` per task.
//!
//! ```text
//!             claim()                    complete()
//!   PENDING ───────────▶ RUNNING ─────────────────────▶ DONE (+FAILED if the outcome is Err)
//!      │
//!      │ cancel()
//!      ▼
//!  CANCELLED
//! ```
//!
//! The two low bits are the phase. A phase only ever moves forward, and only one thread can
//! move it out of `PENDING` (a compare-and-swap), which is what makes `cancel` race-free
//! against a worker picking the task up: exactly one of them wins. The winner of `claim`
//! alone writes the result, before publishing `DONE` with release ordering.
//!
//! The flag bits are independent of the phase and preserved by every transition.

/// Phase: queued, not started. Only here can the task be claimed or cancelled.
pub(crate) const PENDING: usize = 0;
/// Phase: claimed by a runner (a worker, or a joiner helping), which alone may complete it.
pub(crate) const RUNNING: usize = 1;
/// Phase: the outcome is stored in the result slot and will not change.
pub(crate) const DONE: usize = 2;
/// Phase: cancelled before it ran; the outcome is `Err(TaskError::Cancelled)`, no slot used.
pub(crate) const CANCELLED: usize = 3;
/// Mask of the phase bits.
pub(crate) const PHASE: usize = 0b11;

/// Flag: someone registered in the waiter list (a parked thread, a waker, a callback, a
/// multi-handle wait). Set under the waiter lock; the thread that finishes the task takes
/// that lock only if this flag is set, so a task nobody waits for finishes lock-free.
pub(crate) const WAITERS: usize = 1 << 2;
/// Flag: set together with `DONE` or `CANCELLED` when the outcome is an error, so
/// `wait(.., FirstError, ..)` can tell without touching the result.
pub(crate) const FAILED: usize = 1 << 3;

/// Flag: the outcome has been taken out of the result slot (by `join`, a poll that
/// returned `Ready`, or a scope discarding it). Set by one atomic swap, so only one
/// party ever reads the slot.
pub(crate) const TAKEN: usize = 1 << 4;

/// Flag: an `on_outcome` callback was registered before the task finished (set with
/// `WAITERS`, under the waiter lock). The thread that completes the task then runs those
/// callbacks before it publishes `DONE`, lending them the outcome while nobody else can
/// reach it.
pub(crate) const OBSERVERS: usize = 1 << 5;

/// The bits above the flags carry a tag the mechanism chooses (the thread pool stores its
/// pool id there), so a task needs no extra word for it. No transition touches them.
pub(crate) const TAG_SHIFT: u32 = 6;

/// The phase of a state word.
pub(crate) fn phase(state: usize) -> usize {
    state & PHASE
}

/// `true` once the outcome is known (`DONE` or `CANCELLED`).
pub(crate) fn is_finished(state: usize) -> bool {
    phase(state) >= DONE
}
