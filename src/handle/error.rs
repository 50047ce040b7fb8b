//! [`TaskError`]: what can happen to a task instead of returning a value.

use std::any::Any;
use std::fmt;

/// Why a task produced no value. Every handle resolves to a value or to one of these;
/// nothing is silently dropped.
///
/// ```
/// use concur::{TaskError, ThreadPoolExecutor};
///
/// let pool = ThreadPoolExecutor::new(1);
/// let err = pool.submit(|| -> u32 { panic!("bad input: {}", 7) }).join().unwrap_err();
/// assert!(matches!(&err, TaskError::Panicked(msg) if msg == "bad input: 7"));
/// assert_eq!(err.to_string(), "task panicked: bad input: 7");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TaskError {
    /// The task panicked; carries the panic message (from a worker process too).
    Panicked(String),
    /// The task was cancelled before (or, where the mechanism allows it, while) running.
    Cancelled,
    /// Process pool: the worker running the task exited or was killed.
    WorkerDied(WorkerExit),
    /// A per-task time limit expired.
    TimedOut,
    /// Process pool: the argument or the result could not be encoded or decoded.
    Serialization(String),
    /// Submitted after shutdown, or cancelled by a shutdown that cancels pending work.
    Shutdown,
    /// The pool's bounded queue was full and its policy is to reject
    /// ([`FullPolicy::Reject`](crate::FullPolicy::Reject)).
    Rejected,
    /// The pool is broken (for example its initializer failed) and runs no more tasks;
    /// carries the reason.
    Broken(String),
    /// A task the caller declared fallible returned an error; carries its message (see
    /// [`TaskGroup::spawn_fallible`](crate::aio::TaskGroup::spawn_fallible)).
    Failed(String),
}

/// How a worker process ended: its exit code, or the signal that killed it.
///
/// ```
/// use concur::WorkerExit;
/// assert_eq!(WorkerExit::Code(3).to_string(), "exited with code 3");
/// assert_eq!(WorkerExit::Signal(9).to_string(), "was killed by signal 9 (SIGKILL)");
/// assert_eq!(WorkerExit::Signal(6).to_string(), "was killed by signal 6 (SIGABRT)");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum WorkerExit {
    /// The process called `exit` with this code.
    Code(i32),
    /// The process was killed by this signal.
    Signal(i32),
    /// The process ended in a way the platform could not tell.
    Unknown,
}

impl fmt::Display for WorkerExit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WorkerExit::Code(c) => write!(f, "exited with code {c}"),
            WorkerExit::Signal(s) => match signal_name(*s) {
                Some(name) => write!(f, "was killed by signal {s} ({name})"),
                None => write!(f, "was killed by signal {s}"),
            },
            WorkerExit::Unknown => f.write_str("ended for an unknown reason"),
        }
    }
}

/// The name of signal `sig` on this platform (`SIGABRT`), if it is a standard one.
fn signal_name(sig: i32) -> Option<&'static str> {
    const NAMES: &[(i32, &str)] = &[
        (libc::SIGHUP, "SIGHUP"),
        (libc::SIGINT, "SIGINT"),
        (libc::SIGQUIT, "SIGQUIT"),
        (libc::SIGILL, "SIGILL"),
        (libc::SIGTRAP, "SIGTRAP"),
        (libc::SIGABRT, "SIGABRT"),
        (libc::SIGBUS, "SIGBUS"),
        (libc::SIGFPE, "SIGFPE"),
        (libc::SIGKILL, "SIGKILL"),
        (libc::SIGUSR1, "SIGUSR1"),
        (libc::SIGSEGV, "SIGSEGV"),
        (libc::SIGUSR2, "SIGUSR2"),
        (libc::SIGPIPE, "SIGPIPE"),
        (libc::SIGALRM, "SIGALRM"),
        (libc::SIGTERM, "SIGTERM"),
        (libc::SIGCHLD, "SIGCHLD"),
        (libc::SIGCONT, "SIGCONT"),
        (libc::SIGSTOP, "SIGSTOP"),
        (libc::SIGTSTP, "SIGTSTP"),
        (libc::SIGTTIN, "SIGTTIN"),
        (libc::SIGTTOU, "SIGTTOU"),
        (libc::SIGURG, "SIGURG"),
        (libc::SIGXCPU, "SIGXCPU"),
        (libc::SIGXFSZ, "SIGXFSZ"),
        (libc::SIGVTALRM, "SIGVTALRM"),
        (libc::SIGPROF, "SIGPROF"),
        (libc::SIGWINCH, "SIGWINCH"),
        (libc::SIGIO, "SIGIO"),
        (libc::SIGSYS, "SIGSYS"),
    ];
    NAMES.iter().find(|(n, _)| *n == sig).map(|(_, name)| *name)
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskError::Panicked(msg) => write!(f, "task panicked: {msg}"),
            TaskError::Cancelled => f.write_str("task was cancelled"),
            TaskError::WorkerDied(how) => write!(f, "the worker running the task {how}"),
            TaskError::TimedOut => f.write_str("task exceeded its time limit"),
            TaskError::Serialization(msg) => write!(f, "task data could not be serialized: {msg}"),
            TaskError::Shutdown => f.write_str("task was not run: the executor was shut down"),
            TaskError::Rejected => f.write_str("task was rejected: the executor's queue is full"),
            TaskError::Broken(why) => write!(f, "task was not run: the executor is broken: {why}"),
            TaskError::Failed(why) => write!(f, "task failed: {why}"),
        }
    }
}

impl std::error::Error for TaskError {}

impl TaskError {
    /// `true` if the task panicked.
    ///
    /// ```
    /// assert!(concur::TaskError::Panicked("x".into()).is_panic());
    /// ```
    pub fn is_panic(&self) -> bool {
        matches!(self, TaskError::Panicked(_))
    }

    /// `true` if the task was cancelled (by its handle, not by a shutdown).
    ///
    /// ```
    /// assert!(concur::TaskError::Cancelled.is_cancelled());
    /// ```
    pub fn is_cancelled(&self) -> bool {
        matches!(self, TaskError::Cancelled)
    }

    /// Builds [`TaskError::Panicked`] from a caught panic payload.
    pub(crate) fn from_panic(payload: Box<dyn Any + Send>) -> Self {
        TaskError::Panicked(panic_message(&*payload))
    }
}

/// The message of a panic payload: the `&str` or `String` given to `panic!`.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}
