//! [`ProcessPoolBuilder`]: every setting of a process pool.

use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use super::call;
use super::pool::Config;
use super::ProcessPoolExecutor;
use crate::Error;

/// Settings for a [`ProcessPoolExecutor`], from [`ProcessPoolExecutor::builder`].
///
/// ```
/// use std::time::Duration;
/// let pool = concur::ProcessPoolExecutor::builder()
///     .max_workers(2)
///     .max_tasks_per_child(1000)
///     .task_timeout(Duration::from_secs(60))
///     .build()
///     .unwrap();
/// assert_eq!(pool.max_workers(), 2);
/// ```
#[derive(Clone)]
pub struct ProcessPoolBuilder {
    config: Config,
}

fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

impl Default for ProcessPoolBuilder {
    fn default() -> Self {
        ProcessPoolBuilder {
            config: Config {
                max_workers: cpus(),
                max_tasks_per_child: None,
                memory_limit: None,
                task_timeout: None,
                initializer: None,
                env: Vec::new(),
                env_clear: false,
                cwd: None,
                max_frame: 1 << 30,
                in_flight: None,
                break_on_worker_death: false,
                chunk_size: None,
            },
        }
    }
}

impl ProcessPoolBuilder {
    /// The most worker processes at once. Default: one per CPU. Workers start when tasks
    /// arrive and no worker is idle, like Python's.
    ///
    /// ```
    /// let pool = concur::ProcessPoolExecutor::builder().max_workers(3).build().unwrap();
    /// assert_eq!(pool.max_workers(), 3);
    /// ```
    pub fn max_workers(mut self, n: usize) -> Self {
        self.config.max_workers = n;
        self
    }

    /// Replaces a worker after it has run `n` tasks (`max_tasks_per_child`): a fresh
    /// process frees whatever the tasks leaked.
    ///
    /// ```
    /// let pool = concur::ProcessPoolExecutor::builder().max_tasks_per_child(1).build().unwrap();
    /// # drop(pool);
    /// ```
    pub fn max_tasks_per_child(mut self, n: u64) -> Self {
        self.config.max_tasks_per_child = Some(n);
        self
    }

    /// Replaces a worker, between tasks, once its resident memory exceeds `bytes`.
    ///
    /// ```
    /// let pool = concur::ProcessPoolExecutor::builder().memory_limit(1 << 30).build().unwrap();
    /// # drop(pool);
    /// ```
    pub fn memory_limit(mut self, bytes: u64) -> Self {
        self.config.memory_limit = Some(bytes);
        self
    }

    /// A time limit for each task, from the moment its worker starts it. A task over its
    /// limit fails with [`TaskError::TimedOut`](crate::TaskError::TimedOut), and its
    /// worker is killed and replaced (nothing else can stop running code).
    ///
    /// ```
    /// let pool = concur::ProcessPoolExecutor::builder()
    ///     .task_timeout(std::time::Duration::from_secs(30))
    ///     .build()
    ///     .unwrap();
    /// # drop(pool);
    /// ```
    pub fn task_timeout(mut self, limit: Duration) -> Self {
        self.config.task_timeout = Some(limit);
        self
    }

    /// Runs `init` in each worker before its first task. If it returns an error or
    /// panics, or its worker dies in it (exits, crashes, is killed), the pool is broken:
    /// pending and later tasks fail with [`TaskError::Broken`](crate::TaskError::Broken),
    /// which carries the reason.
    ///
    /// ```
    /// use concur::{ProcessPoolExecutor, TaskError};
    /// fn no_db() -> Result<(), String> {
    ///     Err("no database".into())
    /// }
    /// let pool = ProcessPoolExecutor::builder().initializer(no_db).build().unwrap();
    /// let err = pool.submit(|x: u8| x, 1).join().unwrap_err();
    /// assert!(matches!(err, TaskError::Broken(why) if why.contains("no database")));
    /// ```
    pub fn initializer<E: fmt::Display + 'static>(mut self, init: fn() -> Result<(), E>) -> Self {
        self.config.initializer = Some(call::init(init));
        self
    }

    /// Sets an environment variable for the workers.
    ///
    /// ```
    /// fn read(_: ()) -> Option<String> {
    ///     std::env::var("GREETING").ok()
    /// }
    /// let pool = concur::ProcessPoolExecutor::builder().env("GREETING", "hi").build().unwrap();
    /// assert_eq!(pool.submit(read, ()).join().unwrap().as_deref(), Some("hi"));
    /// ```
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.config.env.push((key.into(), Some(value.into())));
        self
    }

    /// Removes an environment variable for the workers.
    ///
    /// ```
    /// let pool = concur::ProcessPoolExecutor::builder().env_remove("HOME").build().unwrap();
    /// # drop(pool);
    /// ```
    pub fn env_remove(mut self, key: impl Into<OsString>) -> Self {
        self.config.env.push((key.into(), None));
        self
    }

    /// Starts the workers with an empty environment (then [`env`](Self::env) adds to it).
    ///
    /// ```
    /// let pool = concur::ProcessPoolExecutor::builder().env_clear().build().unwrap();
    /// # drop(pool);
    /// ```
    pub fn env_clear(mut self) -> Self {
        self.config.env_clear = true;
        self.config.env.clear();
        self
    }

    /// The workers' working directory. Default: the parent's.
    ///
    /// ```
    /// fn cwd(_: ()) -> String {
    ///     std::env::current_dir().unwrap().display().to_string()
    /// }
    /// let pool = concur::ProcessPoolExecutor::builder().current_dir("/").build().unwrap();
    /// assert_eq!(pool.submit(cwd, ()).join().unwrap(), "/");
    /// ```
    pub fn current_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.config.cwd = Some(dir.into());
        self
    }

    /// The largest frame (an encoded argument or result) the pool sends or accepts, in
    /// bytes. Default: 1 GiB. A worker that sends more is killed and its task fails; an
    /// argument over it fails at `submit`. Large data belongs in a
    /// [`SharedBuffer`](crate::SharedBuffer), which costs a few bytes whatever its size.
    ///
    /// ```
    /// let pool = concur::ProcessPoolExecutor::builder().max_frame_bytes(1 << 20).build().unwrap();
    /// let err = pool.submit(|v: Vec<u8>| v.len(), vec![0; 2 << 20]).join().unwrap_err();
    /// assert!(matches!(err, concur::TaskError::Serialization(_)));
    /// ```
    pub fn max_frame_bytes(mut self, bytes: usize) -> Self {
        self.config.max_frame = bytes;
        self
    }

    /// How many tasks each worker is sent ahead, to hide the round trip. Default:
    /// adaptive (many for tiny tasks, one for long ones).
    ///
    /// ```
    /// let pool = concur::ProcessPoolExecutor::builder().tasks_in_flight_per_worker(1).build().unwrap();
    /// # drop(pool);
    /// ```
    pub fn tasks_in_flight_per_worker(mut self, n: usize) -> Self {
        self.config.in_flight = Some(n);
        self
    }

    /// Python's behaviour: a worker that dies breaks the whole pool (every pending and
    /// later task fails with [`TaskError::Broken`](crate::TaskError::Broken)). Default:
    /// off; only the task the worker was running fails, and the worker is replaced.
    ///
    /// ```
    /// let pool = concur::ProcessPoolExecutor::builder().break_on_worker_death(true).build().unwrap();
    /// # drop(pool);
    /// ```
    pub fn break_on_worker_death(mut self, yes: bool) -> Self {
        self.config.break_on_worker_death = yes;
        self
    }

    /// How many items of a [`map`](ProcessPoolExecutor::map) travel together. Default:
    /// chosen as it runs, so that a chunk takes about a millisecond or two.
    ///
    /// ```
    /// let pool = concur::ProcessPoolExecutor::builder().chunk_size(100).build().unwrap();
    /// # drop(pool);
    /// ```
    pub fn chunk_size(mut self, items: usize) -> Self {
        self.config.chunk_size = Some(items);
        self
    }

    /// Builds the pool. No worker starts until the first task arrives.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for zero workers, zero tasks per child, a zero chunk size
    /// or a zero in-flight count; [`Error::Io`] if the pool's thread cannot start.
    ///
    /// ```
    /// assert!(concur::ProcessPoolExecutor::builder().max_workers(0).build().is_err());
    /// ```
    pub fn build(self) -> Result<ProcessPoolExecutor, Error> {
        let c = &self.config;
        let zero = |what: &str| Err(Error::InvalidArgument(format!("{what} must be at least 1")));
        if c.max_workers == 0 {
            return zero("max_workers");
        }
        if c.max_tasks_per_child == Some(0) {
            return zero("max_tasks_per_child");
        }
        if c.chunk_size == Some(0) {
            return zero("chunk_size");
        }
        if c.in_flight == Some(0) {
            return zero("tasks_in_flight_per_worker");
        }
        if let Some((_, func)) = c.initializer {
            if let Err(why) = call::check_func(func) {
                return Err(Error::InvalidArgument(format!("the initializer: {why}")));
            }
        }
        if c.max_frame < 64 {
            return Err(Error::InvalidArgument(
                "max_frame_bytes must be at least 64".to_owned(),
            ));
        }
        ProcessPoolExecutor::from_config(self.config)
    }
}

impl fmt::Debug for ProcessPoolBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProcessPoolBuilder")
            .field("config", &self.config)
            .finish()
    }
}
