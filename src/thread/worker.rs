//! The worker thread: its loop, and the thread-local that tells a task which pool's
//! worker it runs on (so `join` on a not-yet-started task of the same pool runs it here).

use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};

use super::job::Ran;
use super::shared::{Shared, Task};
use crate::handle::panic_message;
use crate::sync::{cv_wait, fence, lock, Arc, Ordering};

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
        let slot = &w.shared.counters.slots[w.slot];
        slot.starting();
        let ran = run(&mut |ran| slot.finished(ran));
        if ran == Ran::Skipped {
            slot.finished(ran);
        }
        ran != Ran::Skipped
    })
}

/// Rounds a worker spins looking for work before it sleeps: a pool fed in a loop finds
/// the next task within a microsecond or two, far sooner than a futex wake-up.
static SPIN_ROUNDS: std::sync::LazyLock<u32> = std::sync::LazyLock::new(|| {
    std::env::var("SPIN")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(16)
});

pub(super) fn main(shared: Arc<Shared>, slot: usize) {
    CURRENT.with(|c| {
        *c.borrow_mut() = Some(Current {
            shared: Arc::clone(&shared),
            slot,
        })
    });
    if initialize(&shared) {
        work(&shared, slot);
    }
    CURRENT.with(|c| c.borrow_mut().take());
    shared.spawned.fetch_sub(1, Ordering::AcqRel);
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

fn work(shared: &Shared, slot_index: usize) {
    let slot = &shared.counters.slots[slot_index];
    // Whether this worker already counts itself in `idle`.
    let mut idle = false;
    loop {
        let task = match shared.pop() {
            Some(task) => task,
            None => {
                if !idle {
                    shared.idle.fetch_add(1, Ordering::SeqCst);
                }
                let found = find_work(shared);
                shared.idle.fetch_sub(1, Ordering::SeqCst);
                idle = false;
                match found {
                    Some(task) => task,
                    None => return,
                }
            }
        };
        if idle {
            shared.idle.fetch_sub(1, Ordering::SeqCst);
            idle = false;
        }
        slot.dequeued();
        if shared.is_broken() {
            task.abort(shared.broken_task_error());
            continue;
        }
        slot.starting();
        // With nothing queued, this worker is about to be idle: count it so before the
        // joiner wakes, or the joiner's next submission would start a needless thread.
        let ran = task.run(&mut |ran| {
            slot.finished(ran);
            if shared.queue_is_empty() {
                shared.idle.fetch_add(1, Ordering::SeqCst);
                idle = true;
            }
        });
        if ran == Ran::Skipped {
            slot.finished(ran);
        }
    }
}

/// Spins, then sleeps, until a task arrives (`Some`) or the pool terminates (`None`).
fn find_work(shared: &Shared) -> Option<Task> {
    loop {
        for round in 0..*SPIN_ROUNDS {
            if let Some(task) = shared.pop() {
                return Some(task);
            }
            if shared.terminate.load(Ordering::Acquire) && shared.queue_is_empty() {
                return None;
            }
            crate::sync::spin_pause(round);
        }
        let mut s = lock(&shared.sleep);
        s.sleeping += 1;
        shared.sleepers.store(s.sleeping, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        loop {
            if !shared.queue_is_empty() || shared.terminate.load(Ordering::SeqCst) {
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
        if let Some(task) = shared.pop() {
            return Some(task);
        }
        if shared.terminate.load(Ordering::Acquire) && shared.queue_is_empty() {
            return None;
        }
    }
}
