//! [`ThreadPoolBuilder`]: every setting of a [`ThreadPoolExecutor`].

use std::fmt;
use std::sync::Arc;

use super::ThreadPoolExecutor;

/// What `submit` does when the pool's bounded queue is full
/// (see [`ThreadPoolBuilder::queue_bound`]).
///
/// ```
/// use concur::{FullPolicy, ThreadPoolExecutor};
/// let pool = ThreadPoolExecutor::builder()
///     .max_workers(1)
///     .queue_bound(100, FullPolicy::CallerRuns)
///     .build();
/// assert_eq!(pool.submit(|| 1).join(), Ok(1));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FullPolicy {
    /// Block the submitting thread until there is room (back-pressure).
    #[default]
    Block,
    /// Do not queue the task: its handle resolves to
    /// [`TaskError::Rejected`](crate::TaskError::Rejected). Use
    /// [`try_submit`](ThreadPoolExecutor::try_submit) to get the closure back instead.
    Reject,
    /// Run the task on the submitting thread, before `submit` returns.
    CallerRuns,
}

pub(super) type Initializer = Arc<dyn Fn() -> Result<(), String> + Send + Sync>;

/// The settings of a pool, fixed at `build`.
#[derive(Clone)]
pub(super) struct Config {
    pub(super) max_workers: usize,
    pub(super) name_prefix: String,
    pub(super) initializer: Option<Initializer>,
    pub(super) bound: Option<(usize, FullPolicy)>,
    pub(super) stack_size: Option<usize>,
}

/// Builds a [`ThreadPoolExecutor`] with settings beyond the number of workers.
///
/// ```
/// use concur::{FullPolicy, ThreadPoolExecutor};
///
/// let pool = ThreadPoolExecutor::builder()
///     .max_workers(4)
///     .thread_name_prefix("crawler")
///     .initializer(|| -> Result<(), String> { Ok(()) })
///     .queue_bound(1_000, FullPolicy::Block)
///     .build();
/// let name = pool.submit(|| std::thread::current().name().map(String::from)).join();
/// assert_eq!(name.unwrap().as_deref(), Some("crawler-0"));
/// ```
pub struct ThreadPoolBuilder {
    config: Config,
}

impl ThreadPoolBuilder {
    pub(super) fn new() -> Self {
        ThreadPoolBuilder {
            config: Config {
                max_workers: default_max_workers(),
                name_prefix: "concur-worker".to_owned(),
                initializer: None,
                bound: None,
                stack_size: None,
            },
        }
    }

    /// The most worker threads the pool starts (they start lazily, as work arrives).
    /// Default: `min(32, cpus + 4)`, like Python.
    ///
    /// # Panics
    ///
    /// If `n` is zero.
    ///
    /// ```
    /// let pool = concur::ThreadPoolExecutor::builder().max_workers(3).build();
    /// assert_eq!(pool.max_workers(), 3);
    /// ```
    pub fn max_workers(mut self, n: usize) -> Self {
        assert!(
            n > 0,
            "concur: a thread pool needs max_workers of at least 1"
        );
        self.config.max_workers = n;
        self
    }

    /// Worker threads are named `{prefix}-{index}`. Default: `concur-worker`.
    ///
    /// ```
    /// let pool = concur::ThreadPoolExecutor::builder().thread_name_prefix("io").build();
    /// # drop(pool);
    /// ```
    pub fn thread_name_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.config.name_prefix = prefix.into();
        self
    }

    /// Runs `init` on each worker thread when it starts, before any task. If it returns an
    /// error (or panics), the pool is broken, like Python's `BrokenThreadPool`: pending and
    /// later tasks fail with [`TaskError::Broken`](crate::TaskError::Broken), which carries
    /// the reason.
    ///
    /// ```
    /// use concur::{TaskError, ThreadPoolExecutor};
    /// let pool = ThreadPoolExecutor::builder()
    ///     .initializer(|| Err::<(), _>("no database"))
    ///     .build();
    /// let err = pool.submit(|| 1).join().unwrap_err();
    /// assert!(matches!(err, TaskError::Broken(why) if why.contains("no database")));
    /// ```
    pub fn initializer<E: fmt::Display>(
        mut self,
        init: impl Fn() -> Result<(), E> + Send + Sync + 'static,
    ) -> Self {
        self.config.initializer = Some(Arc::new(move || init().map_err(|e| e.to_string())));
        self
    }

    /// Bounds the queue of tasks waiting for a worker to `capacity`; `policy` says what
    /// `submit` does when it is full. Default: unbounded, like Python.
    ///
    /// # Panics
    ///
    /// If `capacity` is zero.
    ///
    /// ```
    /// use concur::{FullPolicy, ThreadPoolExecutor};
    /// let pool = ThreadPoolExecutor::builder().queue_bound(64, FullPolicy::Block).build();
    /// # drop(pool);
    /// ```
    pub fn queue_bound(mut self, capacity: usize, policy: FullPolicy) -> Self {
        assert!(capacity > 0, "concur: a queue bound must be at least 1");
        self.config.bound = Some((capacity, policy));
        self
    }

    /// The stack size of worker threads, in bytes. Default: Rust's (2 MiB).
    ///
    /// ```
    /// let pool = concur::ThreadPoolExecutor::builder().stack_size(4 << 20).build();
    /// # drop(pool);
    /// ```
    pub fn stack_size(mut self, bytes: usize) -> Self {
        self.config.stack_size = Some(bytes);
        self
    }

    /// Builds the pool. No thread starts until the first task arrives.
    ///
    /// ```
    /// let pool = concur::ThreadPoolExecutor::builder().build();
    /// assert_eq!(pool.stats().workers, 0);
    /// ```
    pub fn build(self) -> ThreadPoolExecutor {
        ThreadPoolExecutor::from_config(self.config)
    }
}

impl fmt::Debug for ThreadPoolBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThreadPoolBuilder")
            .field("max_workers", &self.config.max_workers)
            .field("thread_name_prefix", &self.config.name_prefix)
            .field("initializer", &self.config.initializer.is_some())
            .field("queue_bound", &self.config.bound)
            .finish()
    }
}

/// `min(32, cpus + 4)`, Python's default for I/O-bound pools.
pub(super) fn default_max_workers() -> usize {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    (cpus + 4).min(32)
}
