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
/// // The message says where, too: "task panicked at src/main.rs:5:37: bad input: 7".
/// assert!(err.to_string().starts_with("task panicked at "));
/// assert!(err.to_string().ends_with(": bad input: 7"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TaskError {
    /// The task panicked; carries the panic message and where it was raised (from a
    /// worker process too).
    Panicked(PanicMessage),
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
    /// A task group inside the task failed: every failure of that group, nested as
    /// asyncio nests an `ExceptionGroup` in the outer one (a child that returns its inner
    /// group's [`TaskGroupError`](crate::aio::TaskGroupError) through
    /// [`spawn_fallible`](crate::aio::TaskGroup::spawn_fallible), or a group's several
    /// failures turned into one `TaskError`).
    ///
    /// ```
    /// use concur::{aio, TaskError};
    /// aio::run(async {
    ///     let outer = aio::TaskGroup::new();
    ///     outer.spawn_fallible(async {
    ///         let inner = aio::TaskGroup::new();
    ///         inner.spawn(async { panic!("deep") });
    ///         inner.join().await
    ///     });
    ///     let err = outer.join().await.unwrap_err();
    ///     let TaskError::Group(inner) = &err.errors()[0] else { panic!("{err}") };
    ///     assert_eq!(inner.errors(), [TaskError::Panicked("deep".into())]);
    /// });
    /// ```
    Group(crate::aio::TaskGroupError),
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
            TaskError::Panicked(p) => match p.location() {
                Some(at) => write!(f, "task panicked at {at}: {}", p.message()),
                None => write!(f, "task panicked: {}", p.message()),
            },
            TaskError::Cancelled => f.write_str("task was cancelled"),
            TaskError::WorkerDied(how) => write!(f, "the worker running the task {how}"),
            TaskError::TimedOut => f.write_str("task exceeded its time limit"),
            TaskError::Serialization(msg) => write!(f, "task data could not be serialized: {msg}"),
            TaskError::Shutdown => f.write_str("task was not run: the executor was shut down"),
            TaskError::Rejected => f.write_str("task was rejected: the executor's queue is full"),
            TaskError::Broken(why) => write!(f, "task was not run: the executor is broken: {why}"),
            TaskError::Failed(why) => write!(f, "task failed: {why}"),
            TaskError::Group(inner) => write!(f, "task's group failed: {inner}"),
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

    /// Builds [`TaskError::Panicked`] from a panic payload caught on this thread, with the
    /// place the panic hook saw it raised.
    pub(crate) fn from_panic(payload: Box<dyn Any + Send>) -> Self {
        TaskError::Panicked(PanicMessage::caught(&*payload))
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

/// What a task's panic said, and where it was raised: the payload of
/// [`TaskError::Panicked`].
///
/// It reads as its message (it dereferences to `str` and compares equal to one); the
/// place (`file:line:column`) is there for reports. Two messages are equal when their
/// texts are, wherever they were raised.
///
/// ```
/// use concur::{PanicMessage, TaskError, ThreadPoolExecutor};
///
/// let pool = ThreadPoolExecutor::new(1);
/// let err = pool.submit(|| -> u8 { panic!("no input") }).join().unwrap_err();
/// let TaskError::Panicked(p) = err else { unreachable!() };
/// assert_eq!(p, "no input");
/// assert!(p.location().is_some_and(|at| at.contains(".rs:")));
/// assert_eq!(PanicMessage::from("no input"), p);
/// ```
#[derive(Debug, Clone, Eq)]
pub struct PanicMessage {
    message: String,
    location: Option<String>,
}

impl PanicMessage {
    /// A message with no known place.
    ///
    /// ```
    /// let p = concur::PanicMessage::new("boom");
    /// assert_eq!((p.message(), p.location()), ("boom", None));
    /// ```
    pub fn new(message: impl Into<String>) -> Self {
        PanicMessage {
            message: message.into(),
            location: None,
        }
    }

    /// The text given to `panic!`.
    ///
    /// ```
    /// assert_eq!(concur::PanicMessage::new("boom").message(), "boom");
    /// ```
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The same, as `String::as_str` would say it.
    ///
    /// ```
    /// assert_eq!(concur::PanicMessage::new("boom").as_str(), "boom");
    /// ```
    pub fn as_str(&self) -> &str {
        &self.message
    }

    /// Where the panic was raised (`src/lib.rs:12:5`), when concur's panic hook saw it.
    ///
    /// ```
    /// assert_eq!(concur::PanicMessage::new("boom").location(), None);
    /// ```
    pub fn location(&self) -> Option<&str> {
        self.location.as_deref()
    }

    /// The message of a payload caught on this thread, and the place this thread's
    /// last panic was raised (if the hook recorded one since).
    pub(crate) fn caught(payload: &(dyn Any + Send)) -> Self {
        let message = panic_message(payload);
        let location = take_location(&message);
        PanicMessage { message, location }
    }

    /// For a worker process: `location NUL message`, as [`from_wire`](Self::from_wire)
    /// reads it.
    #[cfg_attr(not(feature = "process-pool"), allow(dead_code))]
    pub(crate) fn to_wire(&self) -> String {
        format!(
            "{}\0{}",
            self.location.as_deref().unwrap_or(""),
            self.message
        )
    }

    /// Reads what [`to_wire`](Self::to_wire) wrote (untrusted: anything is a message).
    #[cfg_attr(not(feature = "process-pool"), allow(dead_code))]
    pub(crate) fn from_wire(text: String) -> Self {
        match text.split_once('\0') {
            Some((at, msg)) => PanicMessage {
                message: msg.to_owned(),
                location: (!at.is_empty()).then(|| at.to_owned()),
            },
            None => PanicMessage::new(text),
        }
    }
}

impl std::ops::Deref for PanicMessage {
    type Target = str;
    fn deref(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for PanicMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl PartialEq for PanicMessage {
    fn eq(&self, other: &Self) -> bool {
        self.message == other.message
    }
}

impl PartialEq<str> for PanicMessage {
    fn eq(&self, other: &str) -> bool {
        self.message == other
    }
}

impl PartialEq<&str> for PanicMessage {
    fn eq(&self, other: &&str) -> bool {
        self.message == *other
    }
}

impl PartialEq<String> for PanicMessage {
    fn eq(&self, other: &String) -> bool {
        &self.message == other
    }
}

impl PartialEq<PanicMessage> for str {
    fn eq(&self, other: &PanicMessage) -> bool {
        self == other.message
    }
}

impl PartialEq<PanicMessage> for &str {
    fn eq(&self, other: &PanicMessage) -> bool {
        *self == other.message
    }
}

impl PartialEq<PanicMessage> for String {
    fn eq(&self, other: &PanicMessage) -> bool {
        *self == other.message
    }
}

impl From<&str> for PanicMessage {
    fn from(message: &str) -> Self {
        PanicMessage::new(message)
    }
}

impl From<String> for PanicMessage {
    fn from(message: String) -> Self {
        PanicMessage::new(message)
    }
}

impl From<PanicMessage> for String {
    fn from(p: PanicMessage) -> String {
        p.message
    }
}

std::thread_local! {
    /// This thread's last panic as the hook saw it: its message and where it was raised.
    static LAST_PANIC: std::cell::RefCell<Option<(String, Option<String>)>> =
        const { std::cell::RefCell::new(None) };
}

/// Where the panic with `message` was raised, if it was this thread's last one (a panic
/// the hook did not see, under a hook a program set later, finds none).
fn take_location(message: &str) -> Option<String> {
    let (text, at) = LAST_PANIC.with(|l| l.borrow_mut().take())?;
    (text == message).then_some(at).flatten()
}

/// Records where a panic was raised, for the task that catches it. Called by concur's
/// panic hook (and by a worker process's own).
pub(crate) fn note_location(info: &std::panic::PanicHookInfo<'_>) {
    let at = info.location().map(|l| l.to_string());
    let text = panic_message(info.payload());
    // `try_with`: a panic while the thread-local is being torn down records nothing.
    let _ = LAST_PANIC.try_with(|l| {
        if let Ok(mut l) = l.try_borrow_mut() {
            *l = Some((text, at));
        }
    });
}

/// Installs, once per process, a panic hook that records where each panic was raised
/// and then runs the hook that was there before (the default one prints as usual). A
/// program that sets its own hook later simply gets messages without a place.
pub(crate) fn record_panic_locations() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    if std::thread::panicking() {
        return;
    }
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            note_location(info);
            previous(info);
        }));
    });
}
