//! [`Job`]: a thread-pool task. One allocation (64 bytes for a small closure, one cache
//! line) holds the closure and the shared [`Core`] its handle looks at; the id of the
//! pool it belongs to rides in the core's state word as its tag.

use std::panic::{catch_unwind, AssertUnwindSafe};

use super::worker;
use crate::handle::{Core, TaskCell, TaskError};
use crate::sync::UnsafeCell;

/// How a run attempt ended, for the pool's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ran {
    /// Someone else had already claimed or cancelled the task: nothing ran.
    Skipped,
    /// The closure returned.
    Completed,
    /// The closure panicked; the panic is the task's outcome.
    Panicked,
}

/// What the queue holds: a task with its types erased.
pub(super) trait Run: Send + Sync {
    /// Runs the task on this thread if it can still be claimed. `before_publish` runs
    /// after the closure returned and before the outcome is published (and the joiner
    /// woken), with how it ended: the pool counts it there, so a joiner reads counters
    /// that include its task, and a worker about to be idle says so in time for the
    /// joiner's next submission.
    fn run(&self, before_publish: &mut dyn FnMut(Ran)) -> Ran;
    /// Fails the task with `err` if it has not started (shutdown, broken pool).
    fn abort(&self, err: TaskError);
}

pub(super) struct Job<F, T> {
    core: Core<T>,
    /// Taken by whoever wins the task's state machine: the runner or the canceller.
    func: UnsafeCell<Option<F>>,
}

// SAFETY: `func` is touched only by the one thread that won the task's state machine
// (`claim` or `cancel` on the core), so it moves between threads but is never shared;
// that needs `F: Send` only. The core is `Sync` for `T: Send`.
unsafe impl<F: Send, T: Send> Sync for Job<F, T> {}

impl<F, T> Job<F, T>
where
    F: FnOnce() -> T + Send,
    T: Send,
{
    pub(super) fn new(f: F, pool: usize) -> Self {
        Job {
            // The pool whose workers may run this task inline (`TaskCell::run_inline`).
            core: Core::with_tag(pool),
            func: UnsafeCell::new(Some(f)),
        }
    }

    /// Takes the closure out.
    ///
    /// # Safety
    ///
    /// The caller won the task's state machine (holds its claim, or its cancel succeeded).
    unsafe fn take_func(&self) -> Option<F> {
        // SAFETY: by the caller's contract no other thread can be here at the same time.
        self.func.with_mut(|f| unsafe { (*f).take() })
    }
}

impl<F, T> Run for Job<F, T>
where
    F: FnOnce() -> T + Send,
    T: Send,
{
    fn run(&self, before_publish: &mut dyn FnMut(Ran)) -> Ran {
        let Some(claim) = self.core.claim() else {
            return Ran::Skipped;
        };
        // SAFETY: we hold the claim.
        let f = unsafe { self.take_func() }.expect("concur: a claimed task has its closure");
        let (outcome, ran) = match catch_unwind(AssertUnwindSafe(f)) {
            Ok(value) => (Ok(value), Ran::Completed),
            Err(payload) => (Err(TaskError::from_panic(payload)), Ran::Panicked),
        };
        before_publish(ran);
        claim.complete(outcome);
        ran
    }

    fn abort(&self, err: TaskError) {
        if let Some(claim) = self.core.claim() {
            // SAFETY: we hold the claim.
            let f = unsafe { self.take_func() };
            claim.complete(Err(err));
            // After the outcome is out: a panicking drop of what the closure captured
            // must not lose it, nor take down the thread that aborts (a worker).
            if let Err(payload) = catch_unwind(AssertUnwindSafe(move || drop(f))) {
                log::error!(
                    "concur: dropping an aborted task's closure panicked: {}",
                    crate::handle::panic_message(&*payload)
                );
            }
        }
    }
}

impl<F, T> TaskCell<T> for Job<F, T>
where
    F: FnOnce() -> T + Send,
    T: Send,
{
    fn core(&self) -> &Core<T> {
        &self.core
    }

    fn run_inline(&self) -> bool {
        !self.core.is_finished()
            && worker::run_here(self.core.tag(), |counted| Run::run(self, counted))
    }

    fn cancel(&self) -> bool {
        // SAFETY: `release` runs only when this cancel won the state machine.
        self.core.cancel(|| drop(unsafe { self.take_func() }))
    }
}
