//! [`Builder`]: a task or a loop with options (a name, an I/O driver).

use std::future::Future;
use std::panic::Location;

use super::driver::Driver;
use super::introspect::TaskName;
use super::runtime::{run_with, with_current, Options};
use super::task::Task;

/// Options for a task ([`spawn`](Self::spawn)) or for an event loop ([`run`](Self::run)):
/// tokio's `task::Builder` and `runtime::Builder` in one.
///
/// A name shows in [`Task::name`], in the task's `Debug`, in [`dump_tasks`] and in
/// slow-poll warnings; given to [`run`](Self::run) it names the main task.
///
/// ```
/// use concur::aio;
///
/// aio::Builder::new().name("server").run(async {
///     assert_eq!(aio::current_task().unwrap().name(), Some("server"));
///     let t = aio::Builder::new().name("client").spawn(async { 7 });
///     assert_eq!(t.name(), Some("client"));
///     assert_eq!(t.await, Ok(7));
/// });
/// ```
///
/// [`dump_tasks`]: super::dump_tasks
#[derive(Debug, Clone, Default)]
pub struct Builder {
    name: Option<Box<TaskName>>,
    driver: Driver,
}

impl Builder {
    /// No name, [`Driver::Auto`].
    ///
    /// ```
    /// let out = concur::aio::Builder::new().run(async { 1 });
    /// assert_eq!(out, 1);
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// The task's name (asyncio's `create_task(coro, name=...)`).
    ///
    /// ```
    /// use concur::aio;
    /// aio::run(async {
    ///     let t = aio::Builder::new().name(format!("worker-{}", 3)).spawn(async {});
    ///     assert_eq!(t.name(), Some("worker-3"));
    /// });
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(Box::new(TaskName(name.into())));
        self
    }

    /// The I/O driver of a loop started with [`run`](Self::run) (ignored by
    /// [`spawn`](Self::spawn): a task runs on its loop's driver). A driver asked for by
    /// name must be available: see [`run`](Self::run).
    ///
    /// ```
    /// use concur::aio::{self, Driver};
    /// let d = aio::Builder::new().driver(Driver::Epoll).run(async { aio::driver() });
    /// assert_eq!(d, Driver::Epoll);
    /// ```
    pub fn driver(mut self, driver: Driver) -> Self {
        self.driver = driver;
        self
    }

    /// Starts `future` as a task on the running loop, with this name: as
    /// [`spawn`](super::spawn).
    ///
    /// # Panics
    ///
    /// Outside of an event loop.
    ///
    /// ```
    /// use concur::aio;
    /// aio::run(async {
    ///     let t = aio::Builder::new().name("answer").spawn(async { 42 });
    ///     assert_eq!(t.await, Ok(42));
    /// });
    /// ```
    #[track_caller]
    pub fn spawn<F: Future + 'static>(self, future: F) -> Task<F::Output> {
        let at = Location::caller();
        with_current(|l| match l {
            Some(l) => l.spawn(future, self.name, at),
            None => panic!(
                "concur::aio::Builder::spawn called outside of an event loop: call it inside \
                 aio::run(...)"
            ),
        })
    }

    /// Runs `future` to completion on a new event loop on this thread, as
    /// [`run`](super::run) does, with this name for the main task and this driver.
    ///
    /// # Panics
    ///
    /// As [`run`](super::run); also if a driver asked for by name
    /// ([`Driver::IoUring`]) cannot be had here (the message says why). [`Driver::Auto`]
    /// never panics for that: it takes what works.
    ///
    /// ```
    /// use concur::aio;
    /// let out = aio::Builder::new().name("main-loop").run(async {
    ///     aio::current_task().unwrap().name().unwrap().len()
    /// });
    /// assert_eq!(out, 9);
    /// ```
    #[track_caller]
    pub fn run<F: Future>(self, future: F) -> F::Output {
        run_with(
            Options {
                name: self.name,
                driver: self.driver,
                called_at: Location::caller(),
            },
            future,
        )
    }
}
