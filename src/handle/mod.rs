//! The handle every mechanism returns: [`JoinHandle`], [`TaskError`], and the functions
//! that wait on many handles at once ([`wait`], [`as_completed`]).
//!
//! A handle can be waited on in three ways, all at once if you like: a thread blocks in
//! [`join`](JoinHandle::join) or [`wait_timeout`](JoinHandle::wait_timeout); a future
//! `.await`s it (it implements [`Future`] on any runtime); a callback runs when it
//! finishes ([`on_done`](JoinHandle::on_done)).

mod core;
mod error;
#[cfg(all(test, concur_loom))]
mod loom_tests;
mod promise;
mod state;
mod wait;
#[cfg_attr(not(feature = "process-pool"), allow(dead_code))]
pub(crate) mod window;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

pub(crate) use self::core::{Core, Notify};
#[cfg(feature = "process-pool")]
pub(crate) use self::error::note_location;
pub(crate) use self::error::{panic_message, record_panic_locations};
pub use self::error::{PanicMessage, TaskError, WorkerExit};
pub use self::promise::{promise, Promise};
pub use self::wait::{as_completed, wait, AsCompleted, ReturnWhen, Waited};
use crate::sync::Arc;

thread_local! {
    /// Set on a thread that must never block on a task: who it is.
    static NO_BLOCKING: std::cell::Cell<Option<&'static str>> =
        const { std::cell::Cell::new(None) };
}

/// Marks this thread as one that must never wait for a task without a time limit: a
/// thread the tasks themselves need (a process pool's thread, which reads their results
/// and runs their `on_done` callbacks). A wait there could only ever deadlock.
#[cfg_attr(not(feature = "process-pool"), allow(dead_code))]
pub(crate) fn forbid_blocking(who: &'static str) {
    NO_BLOCKING.with(|c| c.set(Some(who)));
}

/// Panics, with a message that says why, if this thread may not block on a task: better
/// a clear failure of one callback (callbacks run under `catch_unwind`) than a pool
/// that hangs for good.
pub(crate) fn assert_may_block() {
    if let Some(who) = NO_BLOCKING.with(std::cell::Cell::get) {
        panic!(
            "concur: this thread is {who}; waiting here for a task that has not finished \
             would deadlock it (the task's outcome can only arrive through this very \
             thread). In an on_done callback, do not join(): hand the handle to another \
             thread, or use wait_timeout"
        );
    }
}

/// What a mechanism keeps of a task, seen through its [`Core`].
pub(crate) trait TaskCell<T>: Send + Sync {
    /// The shared state, result and waiters.
    fn core(&self) -> &Core<T>;

    /// Runs the task on the calling thread if it has not started and this thread may run
    /// it (a worker of the task's own pool, which would otherwise wait on itself).
    /// Returns `true` if it ran here.
    fn run_inline(&self) -> bool {
        false
    }

    /// Called by a thread about to block on the task: a mechanism that expects the outcome
    /// within microseconds may look for it actively first (sleeping and being woken costs
    /// more than that).
    fn before_block(&self) {}

    /// Cancels the task; `true` if it will not run to completion.
    fn cancel(&self) -> bool {
        self.core().cancel(|| {})
    }
}

impl<T: Send> TaskCell<T> for Core<T> {
    fn core(&self) -> &Core<T> {
        self
    }
}

/// The result of a task running elsewhere: Python's `concurrent.futures.Future`, for every
/// mechanism of this crate.
///
/// Take the outcome by blocking ([`join`](Self::join)) or by `.await` (the handle is a
/// [`Future`] that works on any async runtime), or get called back
/// ([`on_done`](Self::on_done)). Dropping a handle detaches the task: it still runs.
///
/// ```
/// use concur::ThreadPoolExecutor;
///
/// let pool = ThreadPoolExecutor::new(2);
/// let h = pool.submit(|| 6 * 7);
/// h.on_done(|| println!("done"));
/// assert_eq!(h.join(), Ok(42));
/// ```
pub struct JoinHandle<T> {
    cell: Arc<dyn TaskCell<T>>,
    /// Set by [`cancel_on_drop`](JoinHandle::cancel_on_drop).
    cancel_on_drop: bool,
}

impl<T> JoinHandle<T> {
    pub(crate) fn new(cell: Arc<dyn TaskCell<T>>) -> Self {
        JoinHandle {
            cell,
            cancel_on_drop: false,
        }
    }

    pub(crate) fn core(&self) -> &Core<T> {
        self.cell.core()
    }

    pub(crate) fn cell(&self) -> &dyn TaskCell<T> {
        &*self.cell
    }

    /// Waits for the task and returns its outcome: `Future.result()`.
    ///
    /// Called on a worker of the pool that owns a task that has not started yet, the task
    /// runs right here instead, so a task that waits on another never deadlocks its pool.
    ///
    /// ```
    /// let pool = concur::ThreadPoolExecutor::new(1);
    /// assert_eq!(pool.submit(|| "hi").join(), Ok("hi"));
    /// ```
    pub fn join(self) -> Result<T, TaskError> {
        // Finished already (the common case when joining a batch): one atomic swap.
        if let Some(outcome) = self.core().take() {
            return outcome;
        }
        if !self.cell.run_inline() {
            self.cell.before_block();
        }
        self.core().wait(None);
        self.take()
    }

    /// The outcome of a finished task, which this handle alone takes.
    fn take(&self) -> Result<T, TaskError> {
        self.core()
            .take()
            .expect("concur: a finished task's outcome is taken once, by its handle")
    }

    /// Waits at most `timeout` for the task to finish; `true` if it has. The outcome stays
    /// in the handle. (Unlike [`join`](Self::join), it never runs the task here: that
    /// could outlast the timeout.)
    ///
    /// ```
    /// use std::time::Duration;
    /// let pool = concur::ThreadPoolExecutor::new(1);
    /// let h = pool.submit(|| 1);
    /// assert!(h.wait_timeout(Duration::from_secs(10)));
    /// assert!(h.is_finished());
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        if self.is_finished() {
            return true;
        }
        // No inline run here: the task could take longer than `timeout`.
        let deadline = Instant::now().checked_add(timeout);
        self.core().wait(deadline)
    }

    /// `true` once the task has finished, one way or another: `Future.done()`.
    ///
    /// ```
    /// let pool = concur::ThreadPoolExecutor::new(1);
    /// let h = pool.submit(|| ());
    /// h.wait_timeout(std::time::Duration::from_secs(10));
    /// assert!(h.is_finished());
    /// ```
    pub fn is_finished(&self) -> bool {
        self.core().is_finished()
    }

    /// `true` if the task is running right now.
    ///
    /// ```
    /// let pool = concur::ThreadPoolExecutor::new(1);
    /// let h = pool.submit(|| ());
    /// h.wait_timeout(std::time::Duration::from_secs(10));
    /// assert!(!h.is_running());
    /// ```
    pub fn is_running(&self) -> bool {
        self.core().is_running()
    }

    /// `true` if the task was cancelled before it ran.
    ///
    /// ```
    /// let pool = concur::ThreadPoolExecutor::new(1);
    /// let h = pool.submit(|| ());
    /// if h.cancel() {
    ///     assert!(h.is_cancelled());
    /// }
    /// ```
    pub fn is_cancelled(&self) -> bool {
        self.core().is_cancelled()
    }

    /// Cancels the task: `Future.cancel()`. Returns `true` if it will not run to
    /// completion; then the outcome is [`TaskError::Cancelled`] and what the task
    /// captured is dropped now. A thread pool cannot stop a task that already runs; a
    /// process pool can (it kills the worker).
    ///
    /// ```
    /// let pool = concur::ThreadPoolExecutor::new(1);
    /// let (tx, rx) = std::sync::mpsc::channel::<()>();
    /// let blocker = pool.submit(move || rx.recv());
    /// let queued = pool.submit(|| 1);
    /// assert!(queued.cancel()); // the only worker is busy, so it had not started
    /// assert_eq!(queued.join(), Err(concur::TaskError::Cancelled));
    /// tx.send(()).unwrap();
    /// blocker.join().unwrap().unwrap();
    /// ```
    pub fn cancel(&self) -> bool {
        self.cell.cancel()
    }

    /// Calls `f` once the task has finished: `add_done_callback`. Callbacks run in the order
    /// added, on the thread that finishes the task, or at once here if it already has. A
    /// callback that panics is logged; the others still run and nothing else is affected.
    ///
    /// Where that is, by mechanism: a thread pool's worker (the one that ran the task);
    /// a process pool's own thread (the one that reads every worker's results), for a
    /// handle awaited on the event loop too. Keep callbacks short and never block
    /// in them: whatever they wait for waits with them. On a process pool's thread, a
    /// `join()` (or a `wait` or `as_completed` without a timeout) of a task that has not
    /// finished could never return, so it panics with a message that says so instead.
    ///
    /// ```
    /// use std::sync::mpsc;
    /// let pool = concur::ThreadPoolExecutor::new(1);
    /// let (tx, rx) = mpsc::channel();
    /// let h = pool.submit(|| 5);
    /// h.on_done(move || tx.send("finished").unwrap());
    /// assert_eq!(rx.recv().unwrap(), "finished");
    /// ```
    pub fn on_done(&self, f: impl FnOnce() + Send + 'static) {
        self.core().on_done(Box::new(f));
    }

    /// Calls `f` with the task's outcome, borrowed, once it is known: Python's
    /// `add_done_callback`, whose callback gets the future and reads `result()` or
    /// `exception()` without taking them. The outcome stays in the handle for whoever
    /// joins or awaits it; `Err(&TaskError::Cancelled)` for a cancelled task.
    ///
    /// `f` runs on the thread that finishes the task (as for [`on_done`](Self::on_done)),
    /// *before* the handle reports it finished: once [`join`](Self::join) returns or
    /// [`is_finished`](Self::is_finished) says `true`, every `on_outcome` added before has
    /// run. Added after the task finished, `f` runs at once, here. Callbacks run in the
    /// order added; one that panics is logged and the others still run. The same rules
    /// as for `on_done` apply: keep it short, never block in it.
    ///
    /// The outcome is lent, so `T` must be `Sync` (threads holding the handle by
    /// reference may each add one at the same moment).
    ///
    /// # Panics
    ///
    /// If the handle already returned its outcome (it was awaited to completion).
    ///
    /// ```
    /// use std::sync::mpsc;
    /// use concur::TaskError;
    ///
    /// let pool = concur::ThreadPoolExecutor::new(1);
    /// let (tx, rx) = mpsc::channel();
    /// let h = pool.submit(|| 6 * 7);
    /// // The callback copies what it needs: the outcome is only lent to it.
    /// h.on_outcome(move |r: Result<&i32, &TaskError>| tx.send(r.is_ok()).unwrap());
    /// assert_eq!(h.join(), Ok(42), "the owner still gets the value");
    /// assert!(rx.recv().unwrap(), "and the callback saw it succeed");
    ///
    /// let (tx, rx) = mpsc::channel();
    /// let (promise, h) = concur::promise::<String>();
    /// h.on_outcome(move |r| tx.send(r.map(String::len).map_err(TaskError::clone)).unwrap());
    /// promise.fail(TaskError::Failed("no data".into()));
    /// assert_eq!(rx.recv().unwrap(), Err(TaskError::Failed("no data".into())));
    /// assert!(h.join().is_err());
    /// ```
    pub fn on_outcome(&self, f: impl FnOnce(Result<&T, &TaskError>) + Send + 'static)
    where
        T: Sync,
    {
        self.core().on_outcome(Box::new(f));
    }

    /// Makes dropping this handle [`cancel`](Self::cancel) the task, if it has not
    /// finished: asyncio's `run_in_executor`, whose future cancels the executor's when it
    /// is cancelled. A loop task that awaits the handle and is cancelled (or an
    /// [`aio::timeout`](crate::aio::timeout) around it that expires) drops it, so the
    /// pool's task is cancelled with it: a process task is stopped even while it runs
    /// (its worker is killed), a thread-pool task only if it has not started.
    ///
    /// ```
    /// use std::time::Duration;
    /// use concur::{aio, ProcessPoolExecutor};
    /// fn forever(_: ()) {
    ///     loop {
    ///         std::thread::park();
    ///     }
    /// }
    /// let pool = ProcessPoolExecutor::new(1).unwrap();
    /// let h = pool.submit(forever, ()).cancel_on_drop();
    /// let r = aio::run(aio::timeout(Duration::from_millis(50), h));
    /// assert!(r.is_err(), "timed out, and the task with it");
    /// drop(pool); // nothing left to wait for
    /// ```
    pub fn cancel_on_drop(mut self) -> Self {
        self.cancel_on_drop = true;
        self
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        if self.cancel_on_drop && !self.core().is_finished() {
            self.cell.cancel();
        }
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, TaskError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if self.core().poll_finished(cx).is_pending() {
            // Awaited on concur's loop: its task dumps say what this task waits for.
            crate::aio::note_awaiting(crate::aio::Awaiting::PoolTask);
            return Poll::Pending;
        }
        match self.core().take() {
            Some(outcome) => Poll::Ready(outcome),
            None => panic!("concur: a JoinHandle was polled again after it returned its outcome"),
        }
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let core = self.core();
        let state = if core.is_cancelled() {
            "cancelled"
        } else if core.is_finished() {
            "finished"
        } else if core.is_running() {
            "running"
        } else {
            "pending"
        };
        f.debug_struct("JoinHandle").field("state", &state).finish()
    }
}
