//! [`Scope`]: tasks on a thread pool that borrow from the caller's stack, like
//! [`std::thread::scope`] but without starting a thread per task.

use std::fmt;
use std::marker::PhantomData;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::time::Duration;

use super::job::{Job, Run};
use super::ThreadPoolExecutor;
use crate::handle::{JoinHandle, TaskCell, TaskError};
use crate::sync::{lock, Arc, Mutex};

/// A scope of tasks that may borrow anything that outlives the call to
/// [`ThreadPoolExecutor::scope`]. Every task submitted through it has finished when that
/// call returns.
///
/// ```
/// let pool = concur::ThreadPoolExecutor::new(2);
/// let mut counts = [0usize; 2];
/// let text = "a scoped task may borrow this";
/// pool.scope(|s| {
///     let (a, b) = counts.split_at_mut(1);
///     s.submit(|| a[0] = text.matches('a').count());
///     s.submit(|| b[0] = text.len());
/// });
/// assert_eq!(counts, [3, 29]);
/// ```
pub struct Scope<'scope, 'env: 'scope> {
    pool: &'env ThreadPoolExecutor,
    /// Lifetime-erased (see `submit`), so the scope's drop glue does not name `'scope`.
    tasks: Mutex<Vec<Arc<dyn ScopeTask>>>,
    /// Invariant in `'scope` and `'env`, as in `std::thread::Scope`.
    scope: PhantomData<&'scope mut &'scope ()>,
    env: PhantomData<&'env mut &'env ()>,
}

/// What the scope needs of each of its tasks at the end.
trait ScopeTask: Send + Sync {
    /// Waits for the task to finish (running it here if this thread is a worker of its
    /// pool and it has not started).
    fn wait(&self);
    /// Takes and drops an outcome nobody took. A panic while dropping it is caught and
    /// returned, so every other outcome is still dropped before the scope ends.
    fn discard(&self) -> Discarded;
}

impl<F, T> ScopeTask for Job<F, T>
where
    F: FnOnce() -> T + Send,
    T: Send,
{
    fn wait(&self) {
        self.run_inline();
        self.core().wait(None);
    }

    fn discard(&self) -> Discarded {
        let outcome = self.core().take();
        let panic = match &outcome {
            Some(Err(TaskError::Panicked(msg))) => Some(String::from(msg.message())),
            _ => None,
        };
        let drop_panic = catch_unwind(AssertUnwindSafe(move || drop(outcome))).err();
        Discarded { panic, drop_panic }
    }
}

/// What discarding an untaken outcome found.
struct Discarded {
    /// The outcome was a panic nobody joined: its message.
    panic: Option<String>,
    /// Dropping the outcome's value panicked: the payload, re-raised after all are gone.
    drop_panic: Option<Box<dyn std::any::Any + Send>>,
}

pub(super) fn run<'env, F, R>(pool: &'env ThreadPoolExecutor, f: F) -> R
where
    F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> R,
{
    let scope = Scope {
        pool,
        tasks: Mutex::new(Vec::new()),
        scope: PhantomData,
        env: PhantomData,
    };
    let result = catch_unwind(AssertUnwindSafe(|| f(&scope)));
    let (unjoined_panic, drop_panic) = scope.finish_all();
    if let Some(payload) = drop_panic {
        resume_unwind(payload);
    }
    match result {
        Err(payload) => resume_unwind(payload),
        Ok(value) => {
            if let Some(msg) = unjoined_panic {
                panic!("concur: a scoped task panicked and was not joined: {msg}");
            }
            value
        }
    }
}

impl<'scope> Scope<'scope, '_> {
    /// Submits `f` to the pool; it may borrow anything that outlives the scope.
    ///
    /// ```
    /// let pool = concur::ThreadPoolExecutor::new(2);
    /// let words = vec!["tea", "coffee"];
    /// let longest = pool.scope(|s| {
    ///     let h = s.submit(|| words.iter().map(|w| w.len()).max());
    ///     h.join().unwrap()
    /// });
    /// assert_eq!(longest, Some(6));
    /// ```
    pub fn submit<F, T>(&'scope self, f: F) -> ScopedJoinHandle<'scope, T>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        let job = Arc::new(Job::new(f, self.pool.shared.id));
        let entry: Arc<dyn ScopeTask + 'scope> = job.clone();
        // SAFETY: only the lifetime bound changes; the scope finishes with this entry
        // (waits, takes the outcome) and drops it before `'scope` ends.
        let entry: Arc<dyn ScopeTask> = unsafe { std::mem::transmute(entry) };
        lock(&self.tasks).push(entry);
        let task: Arc<dyn Run + 'scope> = job.clone();
        // SAFETY: only the lifetime bound changes. `run` waits for this job to finish and
        // takes its outcome before `'scope` ends; the closure is consumed when it runs or
        // is dropped when it is cancelled or refused. After that the job holds neither an
        // `F` nor a `T`, so whoever drops the last `Arc` later (the queue, a handle)
        // touches nothing borrowed.
        let task: Arc<dyn Run> = unsafe { std::mem::transmute(task) };
        self.pool.offer(task, &*job);
        let cell: Arc<dyn TaskCell<T> + 'scope> = job;
        // SAFETY: as above; and the handle itself cannot outlive `'scope`.
        let cell: Arc<dyn TaskCell<T>> = unsafe { std::mem::transmute(cell) };
        ScopedJoinHandle {
            inner: JoinHandle::new(cell),
            scope: PhantomData,
        }
    }

    /// Waits for every task, including ones submitted meanwhile; then drops the outcomes
    /// nobody took. Returns the message of an untaken panic, if any, and the first panic
    /// raised while dropping an outcome. Nothing borrowed is left in any job afterwards,
    /// whatever panicked.
    #[allow(clippy::type_complexity)]
    fn finish_all(&self) -> (Option<String>, Option<Box<dyn std::any::Any + Send>>) {
        let (mut panic, mut drop_panic) = (None, None);
        loop {
            let mut finished = Vec::new();
            loop {
                let batch = std::mem::take(&mut *lock(&self.tasks));
                if batch.is_empty() {
                    break;
                }
                for t in &batch {
                    t.wait();
                }
                finished.extend(batch);
            }
            if finished.is_empty() {
                return (panic, drop_panic);
            }
            for t in finished {
                let d = t.discard();
                if panic.is_none() {
                    panic = d.panic;
                }
                if drop_panic.is_none() {
                    drop_panic = d.drop_panic;
                }
            }
        }
    }
}

impl fmt::Debug for Scope<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scope")
            .field("tasks", &lock(&self.tasks).len())
            .finish_non_exhaustive()
    }
}

/// The handle of a task submitted through a [`Scope`]; it cannot outlive the scope.
///
/// ```
/// let pool = concur::ThreadPoolExecutor::new(1);
/// let x = 20;
/// let y = pool.scope(|s| s.submit(|| x + 1).join());
/// assert_eq!(y, Ok(21));
/// ```
pub struct ScopedJoinHandle<'scope, T> {
    inner: JoinHandle<T>,
    scope: PhantomData<&'scope ()>,
}

impl<T> ScopedJoinHandle<'_, T> {
    /// Waits for the task and returns its outcome (see [`JoinHandle::join`]).
    ///
    /// ```
    /// let pool = concur::ThreadPoolExecutor::new(1);
    /// let v = [1, 2, 3];
    /// assert_eq!(pool.scope(|s| s.submit(|| v.len()).join()), Ok(3));
    /// ```
    pub fn join(self) -> Result<T, TaskError> {
        self.inner.join()
    }

    /// `true` once the task has finished (see [`JoinHandle::is_finished`]).
    ///
    /// ```
    /// let pool = concur::ThreadPoolExecutor::new(1);
    /// pool.scope(|s| {
    ///     let h = s.submit(|| ());
    ///     h.wait_timeout(std::time::Duration::from_secs(10));
    ///     assert!(h.is_finished());
    /// });
    /// ```
    pub fn is_finished(&self) -> bool {
        self.inner.is_finished()
    }

    /// Waits at most `timeout`; `true` if the task has finished (see
    /// [`JoinHandle::wait_timeout`]).
    ///
    /// ```
    /// let pool = concur::ThreadPoolExecutor::new(1);
    /// pool.scope(|s| assert!(s.submit(|| ()).wait_timeout(std::time::Duration::from_secs(10))));
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        self.inner.wait_timeout(timeout)
    }

    /// Cancels the task if it has not started (see [`JoinHandle::cancel`]).
    ///
    /// ```
    /// let pool = concur::ThreadPoolExecutor::new(1);
    /// pool.scope(|s| {
    ///     let h = s.submit(|| ());
    ///     if h.cancel() {
    ///         assert!(h.join().unwrap_err().is_cancelled());
    ///     }
    /// });
    /// ```
    pub fn cancel(&self) -> bool {
        self.inner.cancel()
    }
}

impl<T> fmt::Debug for ScopedJoinHandle<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ScopedJoinHandle")
            .field(&self.inner)
            .finish()
    }
}
