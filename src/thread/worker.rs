//! The worker thread: its loop, and the thread-local that tells a task which pool's
//! worker it runs on (so `join` on a not-yet-started task of the same pool runs it here).

use std::cell::{Ref, RefCell};
use std::panic::{catch_unwind, AssertUnwindSafe};

use super::job::Ran;
use super::shared::{Shared, Stealers, Task};
use crate::handle::panic_message;
use crate::sync::{cv_wait, fence, lock, Arc, Ordering};
use crossbeam_deque::Worker;

/// The pool this thread works for, and its counter slot.
struct Current {
    shared: Arc<Shared>,
    slot: usize,
}

thread_local! {
    static CURRENT: RefCell<Option<Current>> = const { RefCell::new(None) };
}

/// `true` on a worker thread of any pool of this crate.
pub(crate) fn on_worker_thread() -> bool {
    CURRENT.with(|c| c.borrow().is_some())
}

/// `true` on a worker thread of the pool `id`.
pub(super) fn is_worker_of(id: usize) -> bool {
    CURRENT.with(|c| c.borrow().as_ref().is_some_and(|w| w.shared.id == id))
}

/// Runs `run` here if this thread is a worker of the pool `pool`, counting it in this
/// worker's slot. `true` if the task ran.
pub(super) fn run_here(pool: usize, run: impl FnOnce(&mut dyn FnMut(Ran)) -> Ran) -> bool {
    CURRENT.with(|c| {
        let c = c.borrow();
        let Some(w) = c.as_ref().filter(|w| w.shared.id == pool) else {
            return false;
        };
        w.shared.counters.slots[w.slot].run(run, || {}) != Ran::Skipped
    })
}

/// Rounds a worker spins looking for work before it sleeps: a pool fed in a loop finds
/// the next task within a microsecond or two, far sooner than a futex wake-up.
const SPIN_ROUNDS: u32 = crate::sync::SPIN_PAUSE_ROUNDS + 10;

pub(super) fn main(shared: Arc<Shared>, slot: usize) {
    CURRENT.with(|c| {
        *c.borrow_mut() = Some(Current {
            shared: Arc::clone(&shared),
            slot,
        })
    });
    let leaving = Leaving(&shared);
    // Counted as idle since `spawn_worker` reserved this thread (until it takes a task).
    let counted = Counted(true, &shared);
    if initialize(&shared) {
        work(&shared, slot, counted);
    } else {
        drop(counted);
    }
    drop(leaving);
}

/// A worker's way out, taken however it leaves: also if something unwinds out of its
/// loop (a bug of this crate, or a panic that escaped user code). Then the pool still
/// knows it has one worker fewer, and another worker is woken or started for whatever
/// waits, including the tasks left in this worker's local queue (others steal them).
struct Leaving<'a>(&'a Arc<Shared>);

impl Drop for Leaving<'_> {
    fn drop(&mut self) {
        CURRENT.with(|c| c.borrow_mut().take());
        self.0.spawned.fetch_sub(1, Ordering::AcqRel);
        if std::thread::panicking() {
            log::error!("concur: a thread-pool worker panicked outside a task; replacing it");
            crate::sync::full_fence();
            self.0.wake_or_spawn();
        }
    }
}

/// Runs the pool's initializer; on failure breaks the pool and returns `false`.
fn initialize(shared: &Shared) -> bool {
    let Some(init) = &shared.config.initializer else {
        return true;
    };
    let why = match catch_unwind(AssertUnwindSafe(|| init())) {
        Ok(Ok(())) => return true,
        Ok(Err(msg)) => format!("the initializer failed: {msg}"),
        Err(payload) => format!("the initializer panicked: {}", panic_message(&*payload)),
    };
    log::error!("concur: thread pool is broken: {why}");
    shared.break_pool(why);
    false
}

/// A worker's view of the queues: its own local queue first, then a batch from the
/// shared queue, then half of another worker's local queue.
struct Queues<'a> {
    shared: &'a Arc<Shared>,
    local: Worker<Task>,
    me: usize,
    /// This worker's copy of the other workers' stealers.
    stealers: RefCell<Stealers>,
}

impl Queues<'_> {
    fn next(&self) -> Option<Task> {
        if let Some(task) = self.local.pop() {
            return Some(task);
        }
        let (task, more_queued) = match self.shared.steal_batch(&self.local) {
            Some(taken) => taken,
            None => (self.stealers().steal(&self.local, self.me)?, false),
        };
        // More work than this worker can start now, in the shared queue, in its own queue
        // (the rest of a batch) or in any worker's queue (the other half of what it stole,
        // or a batch another worker took): wake or start a helper. Nobody else would:
        // wake-ups are not tied to tasks, and the one that brought this worker here (a
        // submitter's, or a spinner's baton) may have been meant for any of them; the
        // submitters of the rest counted on a spinner, or woke a worker that took one
        // task. The fence orders the batch's publication before reading who spins or
        // sleeps (the other half of the protocol is the sleeper's fence; see shared.rs).
        crate::sync::full_fence();
        if more_queued || !self.local.is_empty() || self.local_work_waits() {
            self.shared.wake_or_spawn();
        }
        Some(task)
    }

    /// The other workers' stealers, brought up to date if a worker started since.
    fn stealers(&self) -> Ref<'_, Stealers> {
        self.stealers.borrow_mut().refresh(self.shared);
        self.stealers.borrow()
    }

    /// `true` if any worker's local queue holds tasks.
    fn local_work_waits(&self) -> bool {
        self.stealers().any_work()
    }

    /// `true` if work waits anywhere: in the shared queue, this worker's local queue or
    /// another worker's.
    fn work_waits(&self) -> bool {
        !self.is_empty() || self.local_work_waits()
    }

    /// After a fence, wakes or starts a helper if work waits anywhere: for when others may
    /// have counted on this worker (as a spinner, or as an idle worker) and it just
    /// stopped being one. Whoever counted on it either sees the change (and wakes or
    /// starts a worker itself) or published work that this look sees.
    fn pass_on_waiting_work(&self) {
        crate::sync::full_fence();
        if self.work_waits() {
            self.shared.wake_or_spawn();
        }
    }

    /// Nothing left for this worker: its local queue and the shared queue are empty.
    fn is_empty(&self) -> bool {
        self.local.is_empty() && self.shared.queue_is_empty()
    }

    /// At shutdown, once nothing is left for this worker, nor on its way into the shared
    /// queue (a submitter between its claim of a slot and its write hides the tasks behind
    /// that slot from `is_empty`).
    fn may_exit(&self) -> bool {
        self.shared.terminate.load(Ordering::SeqCst)
            && self.local.is_empty()
            && self.shared.queue_is_drained()
    }

    /// `true` while the pool may still start workers, the only time `idle` is read.
    fn counts_idle(&self) -> bool {
        self.shared.spawned.load(Ordering::Relaxed) < self.shared.config.max_workers
    }

    /// Counts this worker in `idle` (`true`), or stops counting it (`false`); `counted`
    /// says whether it is counted now. Once the pool has all its workers nobody reads
    /// `idle`, and idle workers stop writing to its cache line.
    fn set_idle(&self, counted: &mut bool, idle: bool) {
        if idle == *counted || (idle && !self.counts_idle()) {
            return;
        }
        if idle {
            self.shared.idle.fetch_add(1, Ordering::SeqCst);
        } else {
            self.shared.idle.fetch_sub(1, Ordering::SeqCst);
        }
        *counted = idle;
    }
}

fn work<'a>(shared: &'a Arc<Shared>, slot_index: usize, mut counted: Counted<'a>) {
    let slot = &shared.counters.slots[slot_index];
    let local = Worker::new_fifo();
    let me = shared.register(&local);
    let queues = Queues {
        shared,
        local,
        me,
        stealers: RefCell::new(shared.stealers()),
    };
    // Whether this worker counts itself in `idle` now (uncounted however it leaves).
    let idle = &mut counted.0;
    loop {
        let task = match queues.next() {
            Some(task) => task,
            None => {
                queues.set_idle(idle, true);
                match find_work(&queues) {
                    Some(task) => task,
                    None => {
                        queues.set_idle(idle, false);
                        return;
                    }
                }
            }
        };
        // Count the task as taken before this worker stops counting as idle: a submitter
        // reads `idle` first, then the queue, and must never see one task fewer queued
        // and one worker fewer idle at once (it would start a needless thread).
        shared.taken();
        slot.dequeued();
        if *idle {
            queues.set_idle(idle, false);
            // A submitter that read `idle` before this worker stopped counting, and the
            // queue after it took its task, left its own task to an idle worker that is
            // not idle any more (and may block on that very task): look once more. (Only
            // while the pool may still grow; a full pool never counts `idle`.)
            queues.pass_on_waiting_work();
        }
        if shared.is_broken() {
            task.abort(shared.broken_error());
            continue;
        }
        // With nothing queued, this worker is about to be idle: count it so before the
        // joiner wakes, or the joiner's next submission would start a needless thread.
        slot.run(
            |hook| task.run(hook),
            || {
                if queues.counts_idle() && queues.is_empty() {
                    queues.set_idle(idle, true);
                }
            },
        );
    }
}

/// Whether a worker counts itself in `idle`; if it leaves while counted (something
/// unwound out of its loop), the count is taken back, or submitters would rely on an
/// idle worker that is gone.
struct Counted<'a>(bool, &'a Arc<Shared>);

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        if self.0 {
            self.1.idle.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// Spins, then sleeps, until a task arrives (`Some`) or the pool terminates (`None`).
fn find_work(queues: &Queues<'_>) -> Option<Task> {
    let shared = queues.shared;
    loop {
        if shared.spinning.fetch_add(1, Ordering::SeqCst) < shared.max_spinners {
            for round in 0..SPIN_ROUNDS {
                if let Some(task) = queues.next() {
                    let last = shared.spinning.fetch_sub(1, Ordering::SeqCst) == 1;
                    // While a worker spins, submitters wake nobody, and neither does a
                    // worker that kept part of a batch in its local queue: they count on
                    // the spinner. It took one task; if any is left anywhere, pass the
                    // baton. (With other spinners left, they will find the work.)
                    if last {
                        queues.pass_on_waiting_work();
                    }
                    return Some(task);
                }
                if queues.may_exit() {
                    shared.spinning.fetch_sub(1, Ordering::SeqCst);
                    return None;
                }
                crate::sync::spin_pause(round);
            }
        }
        shared.spinning.fetch_sub(1, Ordering::SeqCst);
        let mut s = lock(&shared.sleep);
        s.sleeping += 1;
        shared.sleepers.store(s.sleeping, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        loop {
            if queues.work_waits() || shared.terminate.load(Ordering::SeqCst) {
                // Leave without a wake-up: undo our registration, unless a submitter
                // already claimed us (then consume its wake-up instead).
                if s.wakes > 0 {
                    s.wakes -= 1;
                } else {
                    s.sleeping -= 1;
                    shared.sleepers.store(s.sleeping, Ordering::SeqCst);
                }
                break;
            }
            s = cv_wait(&shared.sleep_cv, s);
            if s.wakes > 0 {
                s.wakes -= 1;
                break;
            }
        }
        drop(s);
        if let Some(task) = queues.next() {
            return Some(task);
        }
        if queues.may_exit() {
            return None;
        }
    }
}
