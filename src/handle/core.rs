//! [`Core`]: the part of a task that every mechanism shares. It holds the state word, the
//! result slot and the waiters, and it is what a [`JoinHandle`](super::JoinHandle) looks at.

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use super::error::{panic_message, TaskError};
use super::state::{self, CANCELLED, DONE, FAILED, OBSERVERS, PENDING, RUNNING, TAKEN, WAITERS};
use crate::sync::{lock, thread, Arc, AtomicUsize, Mutex, MutexGuard, Ordering, UnsafeCell};

/// Something that wants to hear when one of several tasks finishes (`wait`,
/// `as_completed`). Called on the finishing thread, outside the task's lock.
pub(crate) trait Notify: Send + Sync {
    /// The task registered under `index` finished; `failed` if its outcome is an error.
    fn notify(&self, index: usize, failed: bool);
}

type Callback = Box<dyn FnOnce() + Send>;

/// An `on_outcome` callback: sees the outcome, borrowed, before the handle has it.
pub(crate) type Observer<T> = Box<dyn FnOnce(Result<&T, &TaskError>) + Send>;

enum Wake {
    Thread(thread::Thread),
    Notify(Arc<dyn Notify>, usize),
}

struct Blocked {
    key: u64,
    wake: Wake,
}

/// Everyone waiting for the task. Guarded by `Core::waiters`.
struct Waiters<T> {
    /// Parked threads and multi-handle waits, woken at completion (order irrelevant).
    blocked: Vec<Blocked>,
    /// The waker of the one future polling the handle.
    waker: Option<Waker>,
    /// `on_done` callbacks, in the order added.
    callbacks: VecDeque<Callback>,
    /// A thread is running callbacks; new ones are appended for it to run, keeping order.
    draining: bool,
    /// Key for the next `blocked` entry, so a timed-out waiter can remove itself.
    next_key: u64,
    /// `on_outcome` callbacks, in the order added: run by the completing thread before it
    /// publishes `DONE` (nobody can take the outcome then), or, for a cancelled task,
    /// with the other callbacks.
    observers: VecDeque<Observer<T>>,
}

impl<T> Default for Waiters<T> {
    fn default() -> Self {
        Waiters {
            blocked: Vec::new(),
            waker: None,
            callbacks: VecDeque::new(),
            draining: false,
            next_key: 0,
            observers: VecDeque::new(),
        }
    }
}

/// The locked waiter list (always allocated while locked through `lock_waiters`).
struct WaitersGuard<'a, T>(MutexGuard<'a, Option<Box<Waiters<T>>>>);

impl<T> std::ops::Deref for WaitersGuard<'_, T> {
    type Target = Waiters<T>;
    fn deref(&self) -> &Waiters<T> {
        self.0.as_deref().expect("allocated by lock_waiters")
    }
}

impl<T> std::ops::DerefMut for WaitersGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut Waiters<T> {
        self.0.as_deref_mut().expect("allocated by lock_waiters")
    }
}

/// The shared heart of a task: state word, result slot, waiters.
pub(crate) struct Core<T> {
    state: AtomicUsize,
    /// The error is boxed: errors are rare, and a small slot keeps a queued task small.
    result: UnsafeCell<Option<Result<T, Box<TaskError>>>>,
    /// Allocated by the first waiter: most tasks finish before anyone waits, and a queued
    /// task should cost little memory.
    waiters: Mutex<Option<Box<Waiters<T>>>>,
}

// SAFETY: the result slot is written only by the thread that won `claim` (the `Claim` is
// the proof), before `DONE` is published with release ordering, and read only by the one
// thread that set `TAKEN` after `DONE` was published (acquire ordering); so a `T`
// moves between threads (needs `T: Send`) but is never shared (`T: Sync` not needed).
unsafe impl<T: Send> Send for Core<T> {}
// SAFETY: see above: `&Core<T>` never gives out `&T`.
unsafe impl<T: Send> Sync for Core<T> {}

/// Spin rounds a joiner tries before it parks: most tasks a caller waits for right after
/// submitting are a microsecond from done, and a park/unpark pair costs several.
#[cfg(not(concur_loom))]
const SPIN_ROUNDS: u32 = crate::sync::SPIN_PAUSE_ROUNDS + 4;
#[cfg(concur_loom)]
const SPIN_ROUNDS: u32 = 0;

impl<T> Core<T> {
    /// A task not started yet, carrying `tag` in the high bits of its state word.
    pub(crate) fn with_tag(tag: usize) -> Self {
        debug_assert!(tag < 1 << (usize::BITS - state::TAG_SHIFT));
        Core {
            state: AtomicUsize::new(PENDING | (tag << state::TAG_SHIFT)),
            result: UnsafeCell::new(None),
            waiters: Mutex::new(None),
        }
    }

    /// The tag given to `with_tag`.
    pub(crate) fn tag(&self) -> usize {
        self.state.load(Ordering::Relaxed) >> state::TAG_SHIFT
    }

    /// Locks the waiter list, creating it if this is the first waiter.
    fn lock_waiters(&self) -> WaitersGuard<'_, T> {
        let mut g = lock(&self.waiters);
        g.get_or_insert_with(Box::default);
        WaitersGuard(g)
    }

    fn load(&self) -> usize {
        self.state.load(Ordering::Acquire)
    }

    /// `true` once the outcome is known.
    pub(crate) fn is_finished(&self) -> bool {
        state::is_finished(self.load())
    }

    /// `true` if the task has been claimed by a runner but has not finished.
    pub(crate) fn is_running(&self) -> bool {
        state::phase(self.load()) == RUNNING
    }

    /// `true` if the task was cancelled before it ran.
    pub(crate) fn is_cancelled(&self) -> bool {
        state::phase(self.load()) == CANCELLED
    }

    /// Moves `PENDING` to `RUNNING`. The returned claim is the only way to complete the
    /// task; `None` if it was already claimed or cancelled.
    pub(crate) fn claim(&self) -> Option<Claim<'_, T>> {
        let mut cur = self.state.load(Ordering::Relaxed);
        loop {
            if state::phase(cur) != PENDING {
                return None;
            }
            match self.state.compare_exchange_weak(
                cur,
                cur | RUNNING,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Some(Claim { core: self }),
                Err(actual) => cur = actual,
            }
        }
    }

    /// Moves `PENDING` to `RUNNING` for a runner that completes the task later, from any
    /// thread, with [`finish`](Self::finish) (a process pool: the result arrives on the
    /// pool's own thread). `false` if it was already claimed or cancelled.
    #[cfg_attr(not(feature = "process-pool"), allow(dead_code))]
    pub(crate) fn start(&self) -> bool {
        match self.claim() {
            Some(claim) => {
                std::mem::forget(claim);
                true
            }
            None => false,
        }
    }

    /// Publishes the outcome of a task moved to `RUNNING` by [`start`](Self::start).
    ///
    /// # Safety
    ///
    /// The caller's `start` returned `true`, and this is the only `finish` for it.
    #[cfg_attr(not(feature = "process-pool"), allow(dead_code))]
    pub(crate) unsafe fn finish(&self, outcome: Result<T, TaskError>) {
        self.complete(outcome);
    }

    /// Moves `PENDING` to `CANCELLED`; if this call won, runs `release` (drop what the
    /// task would have consumed) and then wakes the waiters, even if `release` panics
    /// (the panic then goes on after the wake-up). `true` if the task is cancelled, by
    /// this call or an earlier one; `false` if it started or finished first.
    pub(crate) fn cancel(&self, release: impl FnOnce()) -> bool {
        let mut cur = self.state.load(Ordering::Relaxed);
        loop {
            match state::phase(cur) {
                PENDING => {}
                CANCELLED => return true,
                _ => return false,
            }
            match self.state.compare_exchange_weak(
                cur,
                cur | CANCELLED | FAILED,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(prev) => {
                    let released = catch_unwind(AssertUnwindSafe(release));
                    self.woken_by(prev);
                    if let Err(payload) = released {
                        std::panic::resume_unwind(payload);
                    }
                    return true;
                }
                Err(actual) => cur = actual,
            }
        }
    }

    /// Stores the outcome and publishes `DONE`. Only `Claim::complete` calls this.
    fn complete(&self, outcome: Result<T, TaskError>) {
        let failed = if outcome.is_err() { FAILED } else { 0 };
        // SAFETY: the caller holds the task's one `Claim`, so no other thread writes the
        // slot, and nobody reads it before `DONE` is published just below.
        self.result
            .with_mut(|slot| unsafe { *slot = Some(outcome.map_err(Box::new)) });
        // A compare-and-swap, not a blind flip: an `on_outcome` registered meanwhile sets
        // `OBSERVERS`, and then its callback must run before `DONE`.
        let mut cur = self.state.load(Ordering::Acquire);
        loop {
            if cur & OBSERVERS != 0 {
                self.complete_observed(failed);
                return;
            }
            debug_assert_eq!(state::phase(cur), RUNNING);
            match self.state.compare_exchange_weak(
                cur,
                (cur ^ (RUNNING ^ DONE)) | failed,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(prev) => {
                    self.woken_by(prev);
                    return;
                }
                Err(actual) => cur = actual,
            }
        }
    }

    /// `complete` with `on_outcome` callbacks registered: runs them, and any registered
    /// while they run, on this thread, lending them the outcome that only this thread
    /// can reach before `DONE`; then publishes `DONE` under the waiter lock, so that a
    /// later registration sees the task finished and runs its callback itself.
    fn complete_observed(&self, failed: usize) {
        let mut w = self.lock_waiters();
        loop {
            let batch = std::mem::take(&mut w.observers);
            if batch.is_empty() {
                break;
            }
            drop(w);
            self.result.with_mut(|slot| {
                // SAFETY: `DONE` is not published, so the slot (written by this thread,
                // which holds the claim) is read by nobody else, and not written again.
                let outcome = unsafe { &*slot }
                    .as_ref()
                    .expect("concur: the outcome is stored before the callbacks run");
                for ob in batch {
                    run_observer(ob, outcome.as_ref().map_err(|e| &**e));
                }
            });
            w = self.lock_waiters();
        }
        let prev = self
            .state
            .fetch_xor((RUNNING ^ DONE) | failed, Ordering::AcqRel);
        debug_assert_eq!(state::phase(prev), RUNNING);
        self.wake_locked(w);
    }

    /// After a transition to a finished phase from `prev`: wake whoever registered.
    fn woken_by(&self, prev: usize) {
        if prev & WAITERS == 0 {
            return;
        }
        self.wake_locked(self.lock_waiters());
    }

    /// Wakes whoever registered, given the locked list of a finished task.
    fn wake_locked(&self, mut w: WaitersGuard<'_, T>) {
        let failed = self.load() & FAILED != 0;
        let blocked = std::mem::take(&mut w.blocked);
        let waker = w.waker.take();
        // Left only on a cancelled task (`complete_observed` ran the others).
        let observers = std::mem::take(&mut w.observers);
        let callbacks = if w.draining {
            VecDeque::new()
        } else {
            w.draining = !w.callbacks.is_empty();
            std::mem::take(&mut w.callbacks)
        };
        drop(w);
        for b in blocked {
            match b.wake {
                Wake::Thread(t) => t.unpark(),
                Wake::Notify(n, index) => n.notify(index, failed),
            }
        }
        if let Some(waker) = waker {
            waker.wake();
        }
        for ob in observers {
            run_observer(ob, Err(&TaskError::Cancelled));
        }
        if !callbacks.is_empty() {
            self.drain_callbacks(callbacks);
        }
    }

    /// Runs callbacks in order, then any added meanwhile, until none is left. The caller
    /// set `draining`; this clears it.
    fn drain_callbacks(&self, mut batch: VecDeque<Callback>) {
        loop {
            for cb in batch.drain(..) {
                if let Err(payload) = catch_unwind(AssertUnwindSafe(cb)) {
                    log::error!(
                        "an on_done callback panicked (other callbacks still run): {}",
                        panic_message(&*payload)
                    );
                }
            }
            let mut w = self.lock_waiters();
            if w.callbacks.is_empty() {
                w.draining = false;
                return;
            }
            batch = std::mem::take(&mut w.callbacks);
        }
    }

    /// Registers under the lock: sets `WAITERS` and returns the state before. Whoever
    /// finishes the task after this will take the lock and see what was registered.
    fn mark_waiting(&self) -> usize {
        self.state.fetch_or(WAITERS, Ordering::AcqRel)
    }

    /// Runs `f` once the task is finished: at once on this thread if it already is,
    /// otherwise on the thread that finishes it. Callbacks run in the order added; a
    /// panicking callback is logged and the others still run.
    pub(crate) fn on_done(&self, f: Callback) {
        let mut w = self.lock_waiters();
        let prev = self.mark_waiting();
        w.callbacks.push_back(f);
        if !state::is_finished(prev) || w.draining {
            return;
        }
        // Finished and nobody is running callbacks: this thread does, in order.
        w.draining = true;
        let batch = std::mem::take(&mut w.callbacks);
        drop(w);
        self.drain_callbacks(batch);
    }

    /// Runs `f` with the outcome, borrowed: before the task is published as finished, on
    /// the thread that finishes it (see `complete_observed`); at once on this thread if
    /// it already has finished. The caller holds the task's handle by reference, so
    /// nobody can take the outcome meanwhile; callers on several threads at once each
    /// read it, hence `T: Sync`.
    pub(crate) fn on_outcome(&self, f: Observer<T>)
    where
        T: Sync,
    {
        let mut w = self.lock_waiters();
        let prev = self.state.fetch_or(WAITERS | OBSERVERS, Ordering::AcqRel);
        if !state::is_finished(prev) {
            w.observers.push_back(f);
            return;
        }
        drop(w);
        if state::phase(prev) == CANCELLED {
            run_observer(f, Err(&TaskError::Cancelled));
            return;
        }
        assert!(
            prev & TAKEN == 0,
            "concur: on_outcome on a handle that already returned its outcome (it was awaited)"
        );
        self.result.with_mut(|slot| {
            // SAFETY: `DONE` was observed with acquire ordering, so the outcome is written
            // and will not be written again; it is not taken (checked above) and cannot be
            // while the caller borrows the handle, the only party that takes it; other
            // readers only read (`T: Sync`).
            let outcome = unsafe { &*slot }
                .as_ref()
                .expect("concur: a finished task that was not taken holds its outcome");
            run_observer(f, outcome.as_ref().map_err(|e| &**e));
        });
    }

    /// Blocks this thread until the task finishes or `deadline` passes; `true` if finished.
    pub(crate) fn wait(&self, deadline: Option<Instant>) -> bool {
        if self.is_finished() {
            return true;
        }
        if deadline.is_none() {
            super::assert_may_block();
        }
        for round in 0..SPIN_ROUNDS {
            if self.is_finished() {
                return true;
            }
            crate::sync::spin_pause(round);
        }
        let key = {
            let mut w = self.lock_waiters();
            if state::is_finished(self.mark_waiting()) {
                return true;
            }
            let key = w.next_key;
            w.next_key += 1;
            w.blocked.push(Blocked {
                key,
                wake: Wake::Thread(thread::current()),
            });
            key
        };
        loop {
            if self.is_finished() {
                return true;
            }
            match deadline {
                None => thread::park(),
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        self.unregister(key);
                        return self.is_finished();
                    }
                    park_timeout(deadline - now);
                }
            }
        }
    }

    /// Registers `n` to be told (with `index`) when the task finishes. `None` if it
    /// already has: then nothing was registered. The key lets the caller unregister.
    pub(crate) fn add_notify(&self, n: Arc<dyn Notify>, index: usize) -> Option<u64> {
        let mut w = self.lock_waiters();
        if state::is_finished(self.mark_waiting()) {
            return None;
        }
        let key = w.next_key;
        w.next_key += 1;
        w.blocked.push(Blocked {
            key,
            wake: Wake::Notify(n, index),
        });
        Some(key)
    }

    /// Removes a registration made by `wait` or `add_notify`, if still there.
    pub(crate) fn unregister(&self, key: u64) {
        let mut w = self.lock_waiters();
        if let Some(pos) = w.blocked.iter().position(|b| b.key == key) {
            w.blocked.swap_remove(pos);
        }
    }

    /// `Ready` once finished; otherwise stores the waker to be woken at completion.
    pub(crate) fn poll_finished(&self, cx: &mut Context<'_>) -> Poll<()> {
        if self.is_finished() {
            return Poll::Ready(());
        }
        let mut w = self.lock_waiters();
        match &w.waker {
            Some(old) if old.will_wake(cx.waker()) => {}
            _ => w.waker = Some(cx.waker().clone()),
        }
        if state::is_finished(self.mark_waiting()) {
            w.waker = None;
            return Poll::Ready(());
        }
        Poll::Pending
    }

    /// `Some(true)` if finished with an error, `Some(false)` if finished with a value,
    /// `None` if not finished.
    pub(crate) fn failed(&self) -> Option<bool> {
        let s = self.load();
        state::is_finished(s).then_some(s & FAILED != 0)
    }

    /// Takes the outcome out of a finished task, once: `None` if it is not finished or
    /// was taken before. The `TAKEN` bit makes the taker unique even where two parties
    /// could race for it (a scope discarding what a handle in a dropped value joins).
    pub(crate) fn take(&self) -> Option<Result<T, TaskError>> {
        let prev = self.state.fetch_or(TAKEN, Ordering::AcqRel);
        if !state::is_finished(prev) {
            self.state.fetch_and(!TAKEN, Ordering::AcqRel);
            return None;
        }
        if prev & TAKEN != 0 {
            return None;
        }
        if state::phase(prev) == CANCELLED {
            return Some(Err(TaskError::Cancelled));
        }
        // SAFETY: `DONE` was observed with acquire ordering, so the completer's write is
        // visible and over, and the `TAKEN` bit we set makes us the slot's only reader.
        let outcome = self.result.with_mut(|slot| unsafe { (*slot).take() });
        outcome.map(|r| r.map_err(|e| *e))
    }
}

impl<T> Drop for Core<T> {
    /// The last reference to a finished task whose handle was dropped (a detached task)
    /// goes away wherever the mechanism happens to be: a pool's worker, a process pool's
    /// thread. The outcome's `Drop` is user code; a panic there must not take that
    /// thread down with the tasks it serves, so it is caught and logged.
    fn drop(&mut self) {
        // SAFETY: `&mut self`: nobody else can touch the slot.
        let outcome = self.result.with_mut(|slot| unsafe { (*slot).take() });
        if outcome.is_none() {
            return;
        }
        if let Err(payload) = catch_unwind(AssertUnwindSafe(move || drop(outcome))) {
            log::error!(
                "concur: dropping the result of a task nobody joined panicked: {}",
                panic_message(&*payload)
            );
        }
    }
}

/// Runs one `on_outcome` callback; a panic is logged and goes no further.
fn run_observer<T>(f: Observer<T>, outcome: Result<&T, &TaskError>) {
    if let Err(payload) = catch_unwind(AssertUnwindSafe(move || f(outcome))) {
        log::error!(
            "an on_outcome callback panicked (other callbacks still run): {}",
            panic_message(&*payload)
        );
    }
}

#[cfg(not(concur_loom))]
fn park_timeout(d: std::time::Duration) {
    thread::park_timeout(d);
}

#[cfg(concur_loom)]
fn park_timeout(_: std::time::Duration) {
    // loom has no time: a timed park is modelled as a spurious wake-up.
    thread::yield_now();
}

/// The right to complete a task, given to the one thread whose `claim` won.
/// Dropping it unused (the runner itself panicked) completes the task with an error, so
/// the outcome still reaches the handle.
pub(crate) struct Claim<'a, T> {
    core: &'a Core<T>,
}

impl<T> Claim<'_, T> {
    /// Publishes the outcome and wakes every waiter.
    pub(crate) fn complete(self, outcome: Result<T, TaskError>) {
        let core = self.core;
        std::mem::forget(self);
        core.complete(outcome);
    }
}

impl<T> Drop for Claim<'_, T> {
    fn drop(&mut self) {
        self.core.complete(Err(TaskError::Panicked(
            "the task was abandoned before it finished".into(),
        )));
    }
}
