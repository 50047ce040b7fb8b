//! Looking at the loop's tasks from inside: [`TaskRef`], [`current_task`], [`all_tasks`]
//! and [`dump_tasks`].
//!
//! Every task carries a small record ([`Record`], in the loop's slab beside the task; only
//! the name is in the task's cell): where and when it was spawned, how often it was
//! polled and when last, and what it awaits when the loop knows (the leaf futures of this
//! crate say so as they return `Pending`: a sleep, a socket, a lock, another task, a
//! pool's handle). The bookkeeping is a few plain stores per poll, on the loop's own
//! thread; the loop's clock is read once per turn, not per poll.

use std::cell::{Cell, RefCell};
use std::fmt::{self, Write as _};
use std::panic::Location;
use std::rc::Rc;
use std::sync::Arc;

use super::driver::Direction;
use super::runtime::{with_current, Local};
use super::task::Control;

/// What a task waits for, as the leaf future that returned `Pending` told the loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Awaiting {
    /// No leaf of this crate said (a future of another crate, or the task was never
    /// suspended).
    Unknown,
    /// A sleep, timeout or interval, due at this loop time (ms).
    Timer { due_ms: u64 },
    /// A socket, pipe or other descriptor, to become readable or writable.
    Io(Direction),
    /// Another task of the loop, by id.
    Task(u64),
    /// A primitive of `aio::sync`: what is waited for, such as `"Mutex::lock"`.
    Primitive(&'static &'static str),
    /// A pool's [`JoinHandle`](crate::JoinHandle): a task on a thread or process pool.
    PoolTask,
}

/// A task's name, boxed where it is kept (one pointer in a task's cell: a name is rare,
/// and a cell's size decides the allocator's path).
#[derive(Debug, Clone)]
pub(super) struct TaskName(pub(super) String);

/// A task's record, beside it in the loop's slab (not in its cell, whose size decides
/// the allocator's path): where and when it was spawned, when it was last polled and how
/// often, and what its last poll said it waits for.
#[derive(Clone, Copy)]
pub(super) struct Record {
    pub(super) spawned_at: &'static Location<'static>,
    /// Loop time (ms) when it was spawned.
    pub(super) born_ms: u64,
    /// Loop time (ms) of its last poll; `NEVER` before the first.
    pub(super) last_poll_ms: u64,
    pub(super) polls: u64,
    /// What a leaf future of the poll numbered `noted_at` said it waits for: stale (so
    /// "unknown") once `polls` has moved on. Stamped rather than reset, so a poll that
    /// notes nothing writes nothing here.
    awaiting: Awaiting,
    noted_at: u64,
}

impl Record {
    pub(super) fn new(spawned_at: &'static Location<'static>, born_ms: u64) -> Self {
        Record {
            spawned_at,
            born_ms,
            last_poll_ms: NEVER,
            polls: 0,
            awaiting: Awaiting::Unknown,
            noted_at: 0,
        }
    }

    /// Counts a poll that starts at loop time `now_ms`; what it waits for is unknown
    /// until one of its leaf futures says (the old note goes stale, see `awaiting`).
    #[inline]
    pub(super) fn polled(&mut self, now_ms: u64) {
        self.polls += 1;
        self.last_poll_ms = now_ms;
    }

    /// Notes what the poll in progress waits for.
    #[inline]
    pub(super) fn note(&mut self, on: Awaiting) {
        self.awaiting = on;
        self.noted_at = self.polls;
    }

    /// What the last poll said it waits for (`Unknown` if it said nothing).
    pub(super) fn awaiting(&self) -> Awaiting {
        if self.noted_at == self.polls {
            self.awaiting
        } else {
            Awaiting::Unknown
        }
    }
}

/// Tells the running loop what the task being polled now waits for (called by the leaf
/// futures of this crate as they return `Pending`). Outside a loop: nothing.
pub(crate) fn note_awaiting(on: Awaiting) {
    with_current(|l| {
        if let Some(l) = l {
            l.note_awaiting(on);
        }
    });
}

/// `Meta::last_poll_ms` before the first poll.
const NEVER: u64 = u64::MAX;

/// `run`'s own future, seen as a task: it has no cell, so its record lives here.
pub(super) struct MainTask {
    pub(super) name: String,
    pub(super) record: RefCell<Record>,
    pub(super) finished: Cell<bool>,
    pub(super) running: Cell<bool>,
}

/// The id [`TaskRef::id`] gives `run`'s own future.
pub(super) const MAIN_ID: u64 = u64::MAX;

/// A task of the loop, whatever its output type: what [`current_task`] and
/// [`all_tasks`] return (asyncio's `Task` objects as those functions give them). It can
/// be asked about the task and cancel it; the outcome stays with the [`Task`] handle.
/// Cheap to clone; it belongs to its loop's thread.
///
/// `run`'s own future counts as a task too (asyncio's main task): named `"main"`, with
/// id `u64::MAX`; it cannot be cancelled (return from it instead).
///
/// ```
/// use concur::aio;
/// aio::run(async {
///     let t = aio::Builder::new().name("worker").spawn(async {
///         aio::current_task().unwrap().name().map(str::to_owned)
///     });
///     assert_eq!(t.await, Ok(Some("worker".to_owned())));
///     assert_eq!(aio::current_task().unwrap().name(), Some("main"));
/// });
/// ```
///
/// [`Task`]: super::Task
#[derive(Clone)]
pub struct TaskRef {
    inner: Inner,
}

#[derive(Clone)]
enum Inner {
    Task(Arc<dyn Control>),
    Main(Rc<MainTask>),
}

impl TaskRef {
    pub(super) fn of(cell: Arc<dyn Control>) -> Self {
        TaskRef {
            inner: Inner::Task(cell),
        }
    }

    pub(super) fn main(main: &Rc<MainTask>) -> Self {
        TaskRef {
            inner: Inner::Main(Rc::clone(main)),
        }
    }

    /// The task's id, as [`Task::id`](super::Task::id) gives it.
    ///
    /// ```
    /// use concur::aio;
    /// aio::run(async {
    ///     let t = aio::spawn(async { aio::current_task().unwrap().id() });
    ///     let id = t.id();
    ///     assert_eq!(t.await, Ok(id));
    /// });
    /// ```
    pub fn id(&self) -> u64 {
        match &self.inner {
            Inner::Task(c) => c.id(),
            Inner::Main(_) => MAIN_ID,
        }
    }

    /// The task's name, if it has one.
    ///
    /// ```
    /// use concur::aio;
    /// aio::run(async {
    ///     let t = aio::Builder::new().name("x").spawn(std::future::pending::<()>());
    ///     let names: Vec<_> = aio::all_tasks().iter().map(|t| t.name().map(str::to_owned)).collect();
    ///     assert!(names.contains(&Some("x".to_owned())));
    ///     t.cancel();
    /// });
    /// ```
    pub fn name(&self) -> Option<&str> {
        match &self.inner {
            Inner::Task(c) => c.name(),
            Inner::Main(m) => Some(&m.name),
        }
    }

    /// `true` once the task has finished.
    ///
    /// ```
    /// use concur::aio;
    /// aio::run(async {
    ///     let t = aio::spawn(async {});
    ///     let r = t.as_ref();
    ///     let _ = t.await;
    ///     assert!(r.is_finished());
    /// });
    /// ```
    pub fn is_finished(&self) -> bool {
        match &self.inner {
            Inner::Task(c) => c.is_finished(),
            Inner::Main(m) => m.finished.get(),
        }
    }

    /// `true` once cancellation was requested and the task has not finished yet.
    ///
    /// ```
    /// use concur::aio;
    /// aio::run(async {
    ///     let t = aio::spawn(std::future::pending::<()>());
    ///     let r = t.as_ref();
    ///     r.cancel();
    ///     assert!(r.is_cancelling());
    ///     let _ = t.await;
    ///     assert!(!r.is_cancelling());
    /// });
    /// ```
    pub fn is_cancelling(&self) -> bool {
        match &self.inner {
            Inner::Task(c) => c.is_cancelling() && !c.is_finished(),
            Inner::Main(_) => false,
        }
    }

    /// Requests the task's cancellation, as [`Task::cancel`](super::Task::cancel) does;
    /// `false` if it had finished, was already cancelled, or is `run`'s own future.
    ///
    /// ```
    /// use concur::{aio, TaskError};
    /// aio::run(async {
    ///     let t = aio::spawn(std::future::pending::<()>());
    ///     assert!(t.as_ref().cancel());
    ///     assert_eq!(t.await, Err(TaskError::Cancelled));
    /// });
    /// ```
    pub fn cancel(&self) -> bool {
        match &self.inner {
            Inner::Task(c) => c.request_cancel(),
            Inner::Main(_) => false,
        }
    }

    fn state(&self) -> &'static str {
        match &self.inner {
            Inner::Task(c) => state_of(&**c),
            Inner::Main(m) if m.finished.get() => "done",
            Inner::Main(m) if m.running.get() => "running",
            Inner::Main(_) => "pending",
        }
    }
}

impl PartialEq for TaskRef {
    fn eq(&self, other: &Self) -> bool {
        self.id() == other.id()
    }
}

impl Eq for TaskRef {}

impl fmt::Debug for TaskRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Task");
        d.field("id", &self.id());
        if let Some(name) = self.name() {
            d.field("name", &name);
        }
        d.field("state", &format_args!("{}", self.state())).finish()
    }
}

/// Where a task is: `"pending"` (waiting to be polled or woken), `"running"` (its own
/// code runs now), `"cancelling"` (cancellation requested, not yet finished) or `"done"`.
pub(super) fn state_of(c: &dyn Control) -> &'static str {
    if c.is_finished() {
        "done"
    } else if c.is_cancelling() {
        "cancelling"
    } else if c.is_busy() {
        "running"
    } else {
        "pending"
    }
}

/// The `Debug` of a [`Task`](super::Task): id, name, state.
pub(super) fn debug_task(f: &mut fmt::Formatter<'_>, c: &dyn Control) -> fmt::Result {
    let mut d = f.debug_struct("Task");
    d.field("id", &c.id());
    if let Some(name) = c.name() {
        d.field("name", &name);
    }
    d.field("state", &format_args!("{}", state_of(c))).finish()
}

/// The task being polled now: asyncio's `current_task()`. `None` outside an event loop;
/// inside `run`'s own future, the main task (named `"main"`).
///
/// ```
/// use concur::aio;
/// assert!(aio::current_task().is_none()); // no loop here
/// aio::run(async {
///     let me = aio::spawn(async { aio::current_task().unwrap().id() });
///     let id = me.id();
///     assert_eq!(me.await, Ok(id));
/// });
/// ```
pub fn current_task() -> Option<TaskRef> {
    with_current(|l| l.and_then(Local::current_task))
}

/// Every task of the running loop that has not finished, `run`'s own future first:
/// asyncio's `all_tasks()`. Empty outside an event loop.
///
/// ```
/// use concur::aio;
/// aio::run(async {
///     let t = aio::spawn(std::future::pending::<()>());
///     let ids: Vec<u64> = aio::all_tasks().iter().map(|t| t.id()).collect();
///     assert_eq!(ids.len(), 2); // main and t
///     assert!(ids.contains(&t.id()));
///     t.cancel();
/// });
/// ```
pub fn all_tasks() -> Vec<TaskRef> {
    with_current(|l| l.map(Local::all_tasks).unwrap_or_default())
}

/// A readable dump of every task of the running loop, one line each: id, name, state,
/// polls, age, time since its last poll, what it awaits (where the loop knows: a sleep
/// and how long is left, a socket and its direction, a lock or queue, another task, a
/// pool's task) and where it was spawned. Outside an event loop it says so.
///
/// Neither asyncio nor tokio has this in-process for a single-threaded loop. To get it
/// from a running program, print it from a task that listens for a signal (see
/// [`signal`](super::signal)), or from a slow-poll warning.
///
/// ```
/// use std::time::Duration;
/// use concur::aio;
/// aio::run(async {
///     let t = aio::Builder::new().name("ticker").spawn(aio::sleep(Duration::from_secs(60)));
///     aio::yield_now().await; // let it start and suspend
///     let dump = aio::dump_tasks();
///     assert!(dump.contains("\"ticker\": pending"));
///     assert!(dump.contains("awaiting a timer"));
///     t.cancel();
/// });
/// ```
pub fn dump_tasks() -> String {
    with_current(|l| match l {
        Some(l) => dump(l),
        None => "concur::aio: no event loop is running on this thread\n".to_owned(),
    })
}

fn dump(l: &Local) -> String {
    let now = l.now_ms();
    let tasks = l.all_tasks_with_records();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "concur::aio: {} task{} on the loop (running for {})",
        tasks.len(),
        if tasks.len() == 1 { "" } else { "s" },
        secs(now)
    );
    for (t, stats) in &tasks {
        if t.id() == MAIN_ID {
            out.push_str("  main task");
        } else {
            let _ = write!(out, "  task {}", t.id());
        }
        if let Some(name) = t.name() {
            let _ = write!(out, " {name:?}");
        }
        let polls = stats.polls;
        let _ = write!(
            out,
            ": {}, {polls} poll{}, age {}",
            t.state(),
            if polls == 1 { "" } else { "s" },
            secs(now.saturating_sub(stats.born_ms))
        );
        match stats.last_poll_ms {
            NEVER => out.push_str(", not polled yet"),
            at => {
                let _ = write!(out, ", last polled {} ago", secs(now.saturating_sub(at)));
            }
        }
        if t.state() == "pending" && polls > 0 {
            out.push_str(", awaiting ");
            describe(&mut out, stats.awaiting(), now);
        }
        let at = stats.spawned_at;
        let _ = writeln!(
            out,
            ", spawned at {}:{}:{}",
            at.file(),
            at.line(),
            at.column()
        );
    }
    out
}

fn describe(out: &mut String, on: Awaiting, now: u64) {
    let _ = match on {
        Awaiting::Unknown => write!(out, "something outside concur"),
        Awaiting::Timer { due_ms } if due_ms == u64::MAX => write!(out, "a timer (never due)"),
        Awaiting::Timer { due_ms } if due_ms <= now => write!(out, "a timer (due now)"),
        Awaiting::Timer { due_ms } => write!(out, "a timer ({} left)", secs(due_ms - now)),
        Awaiting::Io(Direction::Read) => write!(out, "I/O (to read)"),
        Awaiting::Io(Direction::Write) => write!(out, "I/O (to write)"),
        Awaiting::Task(id) => write!(out, "task {id}"),
        Awaiting::Primitive(what) => write!(out, "{what}"),
        Awaiting::PoolTask => write!(out, "a pool's task (a JoinHandle)"),
    };
}

/// Milliseconds as seconds, `1.234 s`.
fn secs(ms: u64) -> String {
    format!("{}.{:03} s", ms / 1000, ms % 1000)
}
