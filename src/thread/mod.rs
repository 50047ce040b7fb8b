//! [`ThreadPoolExecutor`]: Python's `concurrent.futures.ThreadPoolExecutor`, and what it
//! lacks (a bounded queue with a policy, scoped tasks borrowing the caller's data,
//! counters, deadlock-free nested waits).

mod builder;
mod injector;
mod job;
mod map;
mod scope;
mod shared;
mod stats;
mod worker;

use std::fmt;

use self::builder::Config;
pub use self::builder::{FullPolicy, ThreadPoolBuilder};
use self::job::{Job, Run};
pub use self::map::{Map, MapUnordered};
pub use self::scope::{Scope, ScopedJoinHandle};
use self::shared::{Placed, Shared, Task};
pub use self::stats::PoolStats;
pub(crate) use self::worker::on_worker_thread;
use crate::handle::{JoinHandle, TaskError};
use crate::sync::{lock, Arc, Ordering};

/// A pool of threads that run closures: Python's `ThreadPoolExecutor`.
///
/// [`submit`](Self::submit) starts the task at once and returns a [`JoinHandle`]; there is
/// nothing to `await` first. Worker threads start lazily, as work arrives, up to
/// `max_workers`, and idle ones are reused before new ones start. Dropping the pool waits
/// for every submitted task, like leaving Python's `with` block.
///
/// Unlike Python, Rust has no GIL: threads speed up CPU-bound work too.
///
/// ```
/// use concur::ThreadPoolExecutor;
///
/// let pool = ThreadPoolExecutor::new(4);
/// let handles: Vec<_> = (1..=4u64).map(|n| pool.submit(move || n * 10)).collect();
/// let total: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
/// assert_eq!(total, 100);
///
/// let squares: Vec<u64> = pool.map(|x: u64| x * x, 1..=5).map(Result::unwrap).collect();
/// assert_eq!(squares, [1, 4, 9, 16, 25]);
/// ```
///
/// Shared memory is checked by the compiler: what a task captures must be `Send`.
///
/// ```compile_fail
/// let pool = concur::ThreadPoolExecutor::new(1);
/// let counter = std::rc::Rc::new(1); // not thread-safe: use Arc (and a Mutex to mutate)
/// pool.submit(move || *counter);
/// ```
///
/// A scoped task's handle cannot leave its scope, so borrowed data always outlives it.
///
/// ```compile_fail
/// let pool = concur::ThreadPoolExecutor::new(1);
/// let escaped = pool.scope(|s| s.submit(|| 1));
/// ```
pub struct ThreadPoolExecutor {
    shared: Arc<Shared>,
}

/// Why [`ThreadPoolExecutor::try_submit`] did not take a task; carries the closure back.
///
/// ```
/// use concur::{ThreadPoolExecutor, TrySubmitError};
/// let pool = ThreadPoolExecutor::new(1);
/// pool.shutdown();
/// match pool.try_submit(|| 1) {
///     Err(TrySubmitError::Shutdown(f)) => assert_eq!(f(), 1),
///     other => panic!("{other:?}"),
/// }
/// ```
#[non_exhaustive]
pub enum TrySubmitError<F> {
    /// The bounded queue is full.
    Full(F),
    /// The pool was shut down.
    Shutdown(F),
    /// The pool is broken (its initializer failed); the string says why.
    Broken(F, String),
}

impl<F> TrySubmitError<F> {
    /// The closure that was not submitted.
    ///
    /// ```
    /// # let pool = concur::ThreadPoolExecutor::new(1);
    /// # pool.shutdown();
    /// let f = pool.try_submit(|| 2).unwrap_err().into_inner();
    /// assert_eq!(f(), 2);
    /// ```
    pub fn into_inner(self) -> F {
        match self {
            TrySubmitError::Full(f)
            | TrySubmitError::Shutdown(f)
            | TrySubmitError::Broken(f, _) => f,
        }
    }
}

impl<F> fmt::Debug for TrySubmitError<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySubmitError::Full(_) => f.write_str("Full(..)"),
            TrySubmitError::Shutdown(_) => f.write_str("Shutdown(..)"),
            TrySubmitError::Broken(_, why) => write!(f, "Broken(.., {why:?})"),
        }
    }
}

impl<F> fmt::Display for TrySubmitError<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySubmitError::Full(_) => f.write_str("the thread pool's queue is full"),
            TrySubmitError::Shutdown(_) => f.write_str("the thread pool was shut down"),
            TrySubmitError::Broken(_, why) => write!(f, "the thread pool is broken: {why}"),
        }
    }
}

impl<F> std::error::Error for TrySubmitError<F> {}

impl ThreadPoolExecutor {
    /// A pool of at most `max_workers` threads.
    ///
    /// # Panics
    ///
    /// If `max_workers` is zero.
    ///
    /// ```
    /// let pool = concur::ThreadPoolExecutor::new(8);
    /// assert_eq!(pool.max_workers(), 8);
    /// ```
    pub fn new(max_workers: usize) -> Self {
        Self::builder().max_workers(max_workers).build()
    }

    /// The process-wide shared pool, for libraries that should not each start their own
    /// (loky's `get_reusable_executor`): created on first use with the default size
    /// (Python's default executor: `min(32, cpus + 4)` threads, started as tasks need
    /// them), threads named `concur-shared-N` ([`aio::to_thread`](crate::aio::to_thread)
    /// keeps a pool of its own, as asyncio's default executor). It lives until the process exits and is never dropped, so nothing
    /// waits for its tasks at exit (as for any thread that is still running then); it is
    /// shared, so do not shut it down: that would close it for every user.
    ///
    /// ```
    /// let pool = concur::ThreadPoolExecutor::shared();
    /// assert!(std::ptr::eq(pool, concur::ThreadPoolExecutor::shared()), "one per process");
    /// assert_eq!(pool.submit(|| 6 * 7).join(), Ok(42));
    /// ```
    pub fn shared() -> &'static ThreadPoolExecutor {
        static POOL: std::sync::OnceLock<ThreadPoolExecutor> = std::sync::OnceLock::new();
        POOL.get_or_init(|| {
            ThreadPoolExecutor::builder()
                .thread_name_prefix("concur-shared")
                .build()
        })
    }

    /// A builder for the other settings: thread names, an initializer, a bounded queue.
    ///
    /// ```
    /// let pool = concur::ThreadPoolExecutor::builder().max_workers(2).build();
    /// # drop(pool);
    /// ```
    pub fn builder() -> ThreadPoolBuilder {
        ThreadPoolBuilder::new()
    }

    fn from_config(config: Config) -> Self {
        // A task's panic reaches its handle with the place it was raised.
        crate::handle::record_panic_locations();
        ThreadPoolExecutor {
            shared: Arc::new(Shared::new(config)),
        }
    }

    /// The most threads this pool runs.
    ///
    /// ```
    /// assert_eq!(concur::ThreadPoolExecutor::new(3).max_workers(), 3);
    /// ```
    pub fn max_workers(&self) -> usize {
        self.shared.config.max_workers
    }

    /// Starts `f` on a worker thread and returns its handle.
    ///
    /// The task starts now, whether or not anyone waits for it. If the pool was shut down
    /// the handle resolves to [`TaskError::Shutdown`]; if it is broken, to
    /// [`TaskError::Broken`]; with a full bounded queue, the builder's [`FullPolicy`]
    /// decides.
    ///
    /// ```
    /// let pool = concur::ThreadPoolExecutor::new(2);
    /// let h = pool.submit(|| (1..=10).sum::<u32>());
    /// assert_eq!(h.join(), Ok(55));
    /// ```
    pub fn submit<T, F>(&self, f: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let job = Arc::new(Job::new(f, self.shared.id));
        self.offer(job.clone(), &*job);
        JoinHandle::new(job)
    }

    /// Offers a job (`task` for the queue, `this` the same job borrowed from the
    /// caller's reference); if it is refused, fails it with the reason.
    fn offer(&self, task: Task, this: &dyn Run) {
        if let Placed::Refused(err) = self.shared.place(task, this) {
            this.abort(err);
        }
    }

    /// Like [`submit`](Self::submit), but never blocks and never runs the task here: if
    /// the bounded queue is full, or the pool is shut down or broken, the closure comes
    /// back in the error.
    ///
    /// ```
    /// use concur::{FullPolicy, ThreadPoolExecutor, TrySubmitError};
    ///
    /// let pool = ThreadPoolExecutor::builder()
    ///     .max_workers(1)
    ///     .queue_bound(1, FullPolicy::Block)
    ///     .build();
    /// let (tx, rx) = std::sync::mpsc::channel::<()>();
    /// let busy = pool.submit(move || rx.recv().ok());
    /// while pool.stats().running == 0 {
    ///     std::thread::yield_now();
    /// }
    /// let queued = pool.try_submit(|| 1).unwrap();      // takes the one queue place
    /// assert!(matches!(pool.try_submit(|| 2), Err(TrySubmitError::Full(_))));
    /// tx.send(()).unwrap();
    /// assert_eq!(queued.join(), Ok(1));
    /// # busy.join().unwrap();
    /// ```
    pub fn try_submit<T, F>(&self, f: F) -> Result<JoinHandle<T>, TrySubmitError<F>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let shared = &self.shared;
        match shared.refusal() {
            Some(TaskError::Broken(why)) => return Err(TrySubmitError::Broken(f, why)),
            Some(_) => return Err(TrySubmitError::Shutdown(f)),
            None => {}
        }
        if let Some((capacity, _)) = shared.config.bound {
            if !shared.reserve(capacity) {
                return Err(TrySubmitError::Full(f));
            }
        }
        let job = Arc::new(Job::new(f, shared.id));
        shared.push(job.clone(), &*job);
        Ok(JoinHandle::new(job))
    }

    /// Applies `f` to every item on the pool and yields the results in input order:
    /// `Executor.map`. The input is read lazily, so an endless iterator works, and
    /// dropping the iterator cancels the tasks not started yet.
    ///
    /// The window of tasks submitted and not yet yielded starts at `2 × max_workers` and
    /// grows only where workers would otherwise go idle, up to `1024 × max_workers`
    /// tasks: while the result waited for (the head) is a big item and at most
    /// `max_workers` tasks are left unfinished behind it, more items are submitted as it
    /// runs; and when the consumer comes back (from its own work, or from not being
    /// scheduled on a busy machine) to find the workers run dry, the number kept in
    /// flight doubles. So lopsided work (a few items that cost as much as all the
    /// others) keeps every worker busy, a consumer that keeps up with an even load never
    /// has more than `2 × max_workers` tasks ahead of it, and the results held waiting
    /// are bounded either way. A consumer that has caught up with the workers lets
    /// results gather for up to 1 ms before it is woken for them (woken at once only to
    /// keep the workers fed), so it does not take a core from a worker once per item:
    /// results may reach it up to 1 ms after they are ready.
    /// [`map_bounded`](Self::map_bounded) sets a fixed window instead, and hands each
    /// result over as it is ready; [`map_unordered`](Self::map_unordered) yields results
    /// as they finish.
    ///
    /// ```
    /// let pool = concur::ThreadPoolExecutor::new(4);
    /// let firsts: Vec<u64> = pool
    ///     .map(|n: u64| n * 2, 0..)   // an endless input
    ///     .take(3)
    ///     .map(Result::unwrap)
    ///     .collect();
    /// assert_eq!(firsts, [0, 2, 4]);
    /// ```
    pub fn map<A, T, F, I>(&self, f: F, items: I) -> Map<'_, I::IntoIter, F, T>
    where
        F: Fn(A) -> T + Send + Sync + 'static,
        I: IntoIterator<Item = A>,
        A: Send + 'static,
        T: Send + 'static,
    {
        let (base, cap) = crate::handle::window::default_window(self.max_workers());
        Map::new(self, f, items.into_iter(), base, cap)
    }

    /// Like [`map`](Self::map), but yields each result as soon as its task finishes,
    /// with the index of its item in the input: `(usize, Result<T, TaskError>)`, as
    /// rayon's and mpi4py's unordered maps do. The input is read lazily, `2 ×
    /// max_workers` tasks in flight (a big item holds up no other result), more (up to
    /// `1024 × max_workers`) only if the consumer comes back to find the workers run dry,
    /// as for `map`; [`timeout`](MapUnordered::timeout) bounds the whole map; dropping
    /// the iterator cancels the tasks not started yet.
    ///
    /// Called from a task of this same pool, it cannot wait for "whichever finishes
    /// first" without risking the pool's last free worker: there it yields the oldest
    /// task in the window next, running it inline if it has not started.
    ///
    /// ```
    /// let pool = concur::ThreadPoolExecutor::new(2);
    /// let mut total = 0;
    /// let mut seen = vec![false; 100];
    /// for (i, r) in pool.map_unordered(|x: u64| x * x, 0..100) {
    ///     assert_eq!(r, Ok(i as u64 * i as u64));
    ///     seen[i] = true;
    ///     total += 1;
    /// }
    /// assert_eq!(total, 100);
    /// assert!(seen.iter().all(|&s| s));
    /// ```
    pub fn map_unordered<A, T, F, I>(&self, f: F, items: I) -> MapUnordered<'_, I::IntoIter, F, T>
    where
        F: Fn(A) -> T + Send + Sync + 'static,
        I: IntoIterator<Item = A>,
        A: Send + 'static,
        T: Send + 'static,
    {
        let (base, cap) = crate::handle::window::default_window(self.max_workers());
        MapUnordered::new(self, f, items.into_iter(), base, cap)
    }

    /// [`map`](Self::map) with at most `in_flight` tasks submitted and not yet yielded.
    ///
    /// # Panics
    ///
    /// If `in_flight` is zero.
    ///
    /// ```
    /// let pool = concur::ThreadPoolExecutor::new(2);
    /// let v: Vec<_> = pool.map_bounded(|s: &str| s.len(), ["a", "bb"], 1).collect();
    /// assert_eq!(v, [Ok(1), Ok(2)]);
    /// ```
    pub fn map_bounded<A, T, F, I>(
        &self,
        f: F,
        items: I,
        in_flight: usize,
    ) -> Map<'_, I::IntoIter, F, T>
    where
        F: Fn(A) -> T + Send + Sync + 'static,
        I: IntoIterator<Item = A>,
        A: Send + 'static,
        T: Send + 'static,
    {
        Map::new(self, f, items.into_iter(), in_flight, in_flight)
    }

    /// Runs `f` with a [`Scope`] whose tasks may borrow from the caller's stack, like
    /// [`std::thread::scope`]; returns once every task of the scope has finished.
    ///
    /// A task's panic reaches its [`ScopedJoinHandle`]; if nobody joined a task that
    /// panicked, `scope` panics after all tasks finished, as `std::thread::scope` does.
    ///
    /// ```
    /// let pool = concur::ThreadPoolExecutor::new(4);
    /// let data = vec![1u64, 2, 3, 4, 5, 6, 7, 8];
    /// let total: u64 = pool.scope(|s| {
    ///     let parts: Vec<_> = data.chunks(2).map(|c| s.submit(move || c.iter().sum::<u64>())).collect();
    ///     parts.into_iter().map(|h| h.join().unwrap()).sum()
    /// });
    /// assert_eq!(total, 36);
    /// ```
    pub fn scope<'env, F, R>(&'env self, f: F) -> R
    where
        F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> R,
    {
        scope::run(self, f)
    }

    /// The pool's counters: queued, running, completed, panicked tasks, and workers.
    ///
    /// ```
    /// let pool = concur::ThreadPoolExecutor::new(1);
    /// let _ = pool.submit(|| panic!("boom")).join();
    /// assert_eq!(pool.stats().panicked, 1);
    /// ```
    pub fn stats(&self) -> PoolStats {
        self.shared.stats()
    }

    /// Stops accepting tasks and waits until every submitted task has finished and every
    /// worker thread has exited: `shutdown(wait=True)`. Later submissions resolve to
    /// [`TaskError::Shutdown`]. Calling it again does nothing more.
    ///
    /// ```
    /// let pool = concur::ThreadPoolExecutor::new(2);
    /// let h = pool.submit(|| 1);
    /// pool.shutdown();
    /// assert!(h.is_finished());
    /// assert_eq!(pool.submit(|| 2).join(), Err(concur::TaskError::Shutdown));
    /// ```
    pub fn shutdown(&self) {
        self.shutdown_inner(false);
    }

    /// Like [`shutdown`](Self::shutdown), but first cancels every task that has not
    /// started (`shutdown(cancel_futures=True)`): their handles resolve to
    /// [`TaskError::Shutdown`]. Running tasks finish.
    ///
    /// ```
    /// use concur::{TaskError, ThreadPoolExecutor};
    /// let pool = ThreadPoolExecutor::new(1);
    /// let (tx, rx) = std::sync::mpsc::channel::<()>();
    /// let running = pool.submit(move || rx.recv().is_ok());
    /// while pool.stats().running == 0 { std::thread::yield_now(); }
    /// let pending = pool.submit(|| 1); // queued behind the running task
    /// std::thread::scope(|s| {
    ///     let pool = &pool;
    ///     // Lets the running task finish once the pending one has left the queue.
    ///     s.spawn(move || {
    ///         while pool.stats().queued > 0 {
    ///             std::thread::yield_now();
    ///         }
    ///         tx.send(()).unwrap();
    ///     });
    ///     pool.shutdown_cancel_pending(); // cancels `pending`, then waits for `running`
    /// });
    /// assert_eq!(pending.join(), Err(TaskError::Shutdown));
    /// assert_eq!(running.join(), Ok(true));
    /// ```
    pub fn shutdown_cancel_pending(&self) {
        self.shutdown_inner(true);
    }

    /// Stops accepting tasks and returns at once: `shutdown(wait=False)`. Submitted
    /// tasks still run; a background thread joins the workers once the queue is empty,
    /// so nothing leaks, and dropping the pool afterwards does not wait for them. A later
    /// [`shutdown`](Self::shutdown) waits for the end as usual.
    ///
    /// ```
    /// use concur::{TaskError, ThreadPoolExecutor};
    /// let pool = ThreadPoolExecutor::new(1);
    /// let (tx, rx) = std::sync::mpsc::channel::<u8>();
    /// let running = pool.submit(move || rx.recv().unwrap());
    /// pool.shutdown_nowait(); // returns though the task cannot finish yet
    /// assert_eq!(pool.submit(|| 0).join(), Err(TaskError::Shutdown));
    /// drop(pool); // does not wait either
    /// tx.send(3).unwrap();
    /// assert_eq!(running.join(), Ok(3));
    /// ```
    pub fn shutdown_nowait(&self) {
        let shared = &self.shared;
        shared.close();
        shared.terminate();
        if shared.detached.swap(true, Ordering::SeqCst) {
            return;
        }
        let reaper = Arc::clone(shared);
        let spawned = std::thread::Builder::new()
            .name(format!("{}-reaper", shared.config.name_prefix))
            .spawn(move || {
                let mut threads = lock(&reaper.threads);
                for t in threads.drain(..) {
                    let _ = t.join();
                }
                drop(threads);
                reaper.fail_queued(&TaskError::Shutdown);
            });
        if let Err(err) = spawned {
            // The workers still exit by themselves once the queue is empty; only the
            // joins are lost (their threads detach).
            log::warn!("concur: could not start the thread pool's reaper thread: {err}");
        }
    }

    fn shutdown_inner(&self, cancel_pending: bool) {
        let shared = &self.shared;
        shared.close();
        if cancel_pending {
            shared.fail_queued(&TaskError::Shutdown);
        }
        shared.terminate();
        if self.is_worker_thread() {
            // Shut down from one of its own tasks: this thread cannot wait for itself.
            // The others exit once the queue is empty; `Drop` or another call joins them.
            return;
        }
        // Held while joining, so a concurrent second call waits for the same end.
        let mut threads = lock(&shared.threads);
        for t in threads.drain(..) {
            // A worker's panics are caught per task; a join error carries no news.
            let _ = t.join();
        }
        // Nothing can be queued any more; fail what no worker was left to run.
        shared.fail_queued(&TaskError::Shutdown);
    }

    /// `true` on a worker thread of this pool.
    ///
    /// ```
    /// let pool = concur::ThreadPoolExecutor::new(1);
    /// assert!(!pool.is_worker_thread());
    /// # let pool = std::sync::Arc::new(pool);
    /// # let p = pool.clone();
    /// # assert!(pool.submit(move || p.is_worker_thread()).join().unwrap());
    /// ```
    pub fn is_worker_thread(&self) -> bool {
        worker::is_worker_of(self.shared.id)
    }
}

impl Default for ThreadPoolExecutor {
    /// A pool of `min(32, cpus + 4)` workers, Python's default.
    fn default() -> Self {
        Self::builder().build()
    }
}

impl Drop for ThreadPoolExecutor {
    /// Waits for every submitted task, like leaving Python's `with` block.
    fn drop(&mut self) {
        if self.shared.detached.load(Ordering::SeqCst) {
            // `shutdown_nowait` left the joins to its reaper thread.
            return;
        }
        self.shutdown_inner(false);
    }
}

impl fmt::Debug for ThreadPoolExecutor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThreadPoolExecutor")
            .field("max_workers", &self.max_workers())
            .field("stats", &self.stats())
            .finish()
    }
}
