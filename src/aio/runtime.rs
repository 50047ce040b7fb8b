//! The event loop: one thread, a run queue, a timer wheel and a reactor.
//!
//! ## Scheduling
//!
//! Tasks live in a slab owned by the loop's thread (`Local`), and the run queue is a
//! `VecDeque` of task ids behind a `RefCell`: the local path has no atomic read-modify-write.
//! A task's waker is its cell's `Arc` (see `task.rs`), whose `Header` holds the task id,
//! its `ScheduleState` and the loop's `Shared` half. Woken on the loop's thread it pushes
//! the id on the local queue; woken elsewhere it pushes the id on `Shared::remote` and, for
//! the first id of a batch, writes the loop's eventfd (a `mio::Waker`) so a loop blocked in
//! `epoll_wait` wakes up. `schedule.rs` has the protocol between the two sides, and why a
//! wake from another thread is never lost.
//!
//! ## Fairness
//!
//! The loop runs at most `TICK` tasks between two looks at the clock and the reactor, so a
//! flood of ready tasks cannot starve timers or I/O; and each task poll gets a budget of
//! `BUDGET` operations on the loop's I/O objects and primitives, after which they report
//! `Pending` (waking the task at once), so one busy task cannot starve the others.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::panic::Location;
use std::pin::pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use slab::Slab;

use super::clock::Clock;
use super::driver::Driver;
use super::driver::Reactor;
use super::introspect::{Awaiting, MainTask, Record, TaskName, TaskRef, MAIN_ID};
use super::schedule::{RemoteQueue, ScheduleState};
use super::signal::CtrlC;
use super::task::{Output, Runnable, Task, TaskCell};
use super::wheel::Wheel;
use crate::handle::TaskError;

/// Tasks run between two looks at timers and I/O.
const TICK: u32 = 61;
/// Operations one task poll may perform before the loop's objects make it yield.
const BUDGET: u32 = 128;
/// The id of `run`'s own future (never a slab key).
const MAIN: u64 = MAIN_ID;
/// `Local::polling` when no task is being polled.
const NOBODY: u64 = u64::MAX - 1;

/// The half of the loop that other threads may touch (through wakers).
pub(super) struct Shared {
    /// The ids woken from other threads.
    remote: RemoteQueue,
    pub(super) os_waker: super::driver::OsWaker,
    /// The thread the loop runs on.
    owner: std::thread::ThreadId,
}

impl Shared {
    fn push_remote(&self, id: u64) {
        if self.remote.push(id) {
            // The loop may be blocked in the reactor: wake it. An error here means the
            // loop is gone, and then there is nobody to wake.
            let _ = self.os_waker.wake();
        }
    }
}

/// What a task's waker needs, from any thread: the task's id, whether it is already in a
/// run queue, and the loop's shared half. The first part of every task cell; on its own
/// (in an `Arc`) the waker of `run`'s main future.
pub(super) struct Header {
    id: u64,
    state: ScheduleState,
    shared: Arc<Shared>,
}

impl Header {
    /// The header of a task about to be polled for the first time.
    fn new(id: u64, shared: &Arc<Shared>) -> Self {
        Header {
            id,
            state: ScheduleState::queued(),
            shared: Arc::clone(shared),
        }
    }

    /// The task's id in its loop (its slot and that slot's generation).
    pub(super) fn id(&self) -> u64 {
        self.id
    }

    /// Puts the task in its loop's run queue, unless it is there already.
    #[inline]
    pub(super) fn schedule(&self) {
        let local = CURRENT.with(Cell::get);
        // SAFETY: `CURRENT` points to the running loop's `Local` while `run` executes on
        // this thread and is null otherwise (see `run`).
        if let Some(local) = unsafe { local.as_ref() } {
            if Arc::ptr_eq(&local.shared, &self.shared) {
                // The loop's own thread: no read-modify-write. A remote wake racing with
                // it can at worst queue the task twice, which polls it once more.
                if self.state.wake_local() {
                    local.ready.borrow_mut().push_back(self.id);
                }
                return;
            }
        }
        // Another thread (or this one, after its loop ended): never skipped on a plain
        // load, which could miss the loop's clearing the flag (see `schedule.rs`).
        if self.state.wake_remote() {
            self.shared.push_remote(self.id);
        }
    }

    /// `true` on the thread of the task's loop (while it runs, or after).
    pub(super) fn on_loop_thread(&self) -> bool {
        self.shared.owner == std::thread::current().id()
    }
}

impl Wake for Header {
    fn wake(self: Arc<Self>) {
        self.schedule();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.schedule();
    }
}

struct Entry {
    task: Arc<dyn Runnable>,
    /// Birthplace, birth, polls, what it awaits (for dumps and warnings): here rather
    /// than in the cell, whose size decides the allocator's path.
    record: Record,
}

/// The loop's state, owned by its thread.
pub(super) struct Local {
    pub(super) shared: Arc<Shared>,
    tasks: RefCell<Slab<Entry>>,
    /// Generation of slab keys, so a stale waker cannot wake a task that reused a key.
    generation: Cell<u32>,
    ready: RefCell<VecDeque<u64>>,
    main_waker: Arc<Header>,
    pub(super) timers: RefCell<Wheel>,
    pub(super) clock: Clock,
    /// Loop time (ms) at the last turn: the time tasks are stamped with (born, polled).
    turn_ms: Cell<u64>,
    /// The task being polled now (`MAIN`, or `NOBODY`).
    polling: Cell<u64>,
    /// `run`'s own future, as a task.
    main: Rc<MainTask>,
    /// The I/O driver this loop runs on.
    driver: Driver,
    pub(super) reactor: Reactor,
    budget: Cell<u32>,
    /// Warn about a task whose single poll takes longer (asyncio's debug mode).
    slow_poll: Cell<Option<Duration>>,
    /// `false` once `run` has returned: the loop's objects then fail instead of waiting.
    running: Cell<bool>,
}

thread_local! {
    /// The loop running on this thread, if any.
    static CURRENT: Cell<*const Local> = const { Cell::new(std::ptr::null()) };
}

fn id_of(key: usize, generation: u32) -> u64 {
    (u64::from(generation) << 32) | key as u64
}

/// The slab key of the task `id` (the inverse of `id_of`, generation dropped).
fn key_of(id: u64) -> usize {
    (id & u64::from(u32::MAX)) as usize
}

impl Local {
    fn new(options: Options) -> std::io::Result<Self> {
        let driver = super::driver::resolve(options.driver);
        let reactor = Reactor::new(driver)?;
        let shared = Arc::new(Shared {
            remote: RemoteQueue::new(),
            os_waker: reactor.new_waker()?,
            owner: std::thread::current().id(),
        });
        Ok(Local {
            main_waker: Arc::new(Header::new(MAIN, &shared)),
            shared,
            tasks: RefCell::new(Slab::new()),
            generation: Cell::new(0),
            ready: RefCell::new(VecDeque::new()),
            timers: RefCell::new(Wheel::new()),
            clock: Clock::new(),
            turn_ms: Cell::new(0),
            polling: Cell::new(NOBODY),
            main: Rc::new(MainTask {
                name: options.name.map_or_else(|| "main".to_owned(), |n| n.0),
                record: RefCell::new(Record::new(options.called_at, 0)),
                finished: Cell::new(false),
                running: Cell::new(false),
            }),
            driver,
            reactor,
            budget: Cell::new(BUDGET),
            slow_poll: Cell::new(slow_poll_from_env()),
            running: Cell::new(true),
        })
    }

    /// Milliseconds since the loop started (on its clock), rounded down.
    pub(super) fn now_ms(&self) -> u64 {
        self.clock.elapsed().as_millis() as u64
    }

    /// The driver the loop runs on.
    pub(super) fn driver(&self) -> Driver {
        self.driver
    }

    /// Records what the poll in progress waits for.
    pub(super) fn note_awaiting(&self, on: Awaiting) {
        // Looked up here rather than kept at hand: polls that note nothing (a yield, a
        // future of another crate) then cost nothing more.
        match self.polling.get() {
            NOBODY => {}
            MAIN => {
                if let Ok(mut record) = self.main.record.try_borrow_mut() {
                    record.note(on);
                }
            }
            id => {
                let key = key_of(id);
                // Not borrowed during a poll (`run_task` lets go before polling); a note
                // from code that runs while it is (a drop inside the slab's own
                // bookkeeping) is skipped.
                if let Ok(mut tasks) = self.tasks.try_borrow_mut() {
                    if let Some(e) = tasks.get_mut(key) {
                        e.record.note(on);
                    }
                }
            }
        }
    }

    /// The task being polled now, if any.
    pub(super) fn current_task(&self) -> Option<TaskRef> {
        match self.polling.get() {
            MAIN => Some(TaskRef::main(&self.main)),
            NOBODY => None,
            id => {
                let key = key_of(id);
                let tasks = self.tasks.borrow();
                let e = tasks.get(key).filter(|e| e.task.header().id == id)?;
                Some(TaskRef::of(e.task.clone()))
            }
        }
    }

    /// Every task that has not finished, the main one first.
    pub(super) fn all_tasks(&self) -> Vec<TaskRef> {
        self.all_tasks_with_records()
            .into_iter()
            .map(|(t, _)| t)
            .collect()
    }

    /// [`all_tasks`](Self::all_tasks), each with its counts.
    pub(super) fn all_tasks_with_records(&self) -> Vec<(TaskRef, Record)> {
        let tasks = self.tasks.borrow();
        let mut all = Vec::with_capacity(tasks.len() + 1);
        if !self.main.finished.get() {
            all.push((TaskRef::main(&self.main), *self.main.record.borrow()));
        }
        all.extend(
            tasks
                .iter()
                .filter(|(_, e)| !e.task.is_finished())
                .map(|(_, e)| (TaskRef::of(e.task.clone()), e.record)),
        );
        all
    }

    /// The loop time (ms, rounded up so a timer never fires early) of `deadline`,
    /// saturating for deadlines too far to count.
    pub(super) fn deadline_ms(&self, deadline: Instant) -> u64 {
        let d = deadline.saturating_duration_since(self.clock.start());
        let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        if Duration::from_millis(ms) < d {
            ms.saturating_add(1)
        } else {
            ms
        }
    }

    pub(super) fn is_running(&self) -> bool {
        self.running.get()
    }

    pub(super) fn spawn<F: Future + 'static>(
        &self,
        future: F,
        name: Option<Box<TaskName>>,
        spawned_at: &'static Location<'static>,
    ) -> Task<F::Output> {
        let mut tasks = self.tasks.borrow_mut();
        let entry = tasks.vacant_entry();
        let generation = self.generation.get().wrapping_add(1);
        self.generation.set(generation);
        let id = id_of(entry.key(), generation);
        let cell = TaskCell::new(Header::new(id, &self.shared), name, future);
        entry.insert(Entry {
            task: cell.clone(),
            record: Record::new(spawned_at, self.turn_ms.get()),
        });
        self.ready.borrow_mut().push_back(id);
        Task::new(cell as Arc<dyn Output<F::Output>>)
    }

    /// Takes one operation from the current task's budget; `false` when it is spent
    /// (the caller then wakes the task and returns `Pending`).
    pub(super) fn consume_budget(&self) -> bool {
        let b = self.budget.get();
        if b == 0 {
            return false;
        }
        self.budget.set(b - 1);
        true
    }

    /// Polls the task `id`, if it still exists.
    fn run_task(&self, id: u64) {
        let key = key_of(id);
        let task = {
            let mut tasks = self.tasks.borrow_mut();
            let Some(e) = tasks.get_mut(key) else {
                return; // finished meanwhile: a stale wake
            };
            // One look through the `Arc` (for a `dyn` cell, finding its data takes a few
            // instructions: this is the loop's hottest path).
            let task = Arc::as_ptr(&e.task);
            // SAFETY: `task` points into the slab's `Arc`, alive while the slab is borrowed.
            let header = unsafe { (*task).header() };
            if header.id != id {
                return; // its slot was reused: a stale wake
            }
            // Polled even if not woken (a stale duplicate id): a spurious poll.
            header.state.begin_poll();
            e.record.polled(self.turn_ms.get());
            task
        };
        self.budget.set(BUDGET);
        let slow_poll = self.slow_poll.get();
        let started = slow_poll.map(|_| Instant::now());
        // SAFETY: the slab's `Arc` keeps the cell alive while it is polled: only this
        // function removes a task from the slab (below, after the poll), and `shut_down`,
        // which never runs during a poll. (Polling through the pointer spares the poll a
        // reference count; the slab may grow meanwhile, which moves the `Arc`, not the cell.)
        let cell = unsafe { &*task };
        self.polling.set(id);
        // SAFETY: `task` is `Arc::as_ptr` of the slab's `Arc` of this cell, alive (above).
        let finished = unsafe { cell.poll_task(task.cast()) };
        self.polling.set(NOBODY);
        if let (Some(limit), Some(started)) = (slow_poll, started) {
            let took = started.elapsed();
            if took > limit {
                let spawned_at = self
                    .tasks
                    .borrow()
                    .get(key)
                    .map_or(Location::caller(), |e| e.record.spawned_at);
                let name = cell.name().map(|n| format!(" {n:?}")).unwrap_or_default();
                log::warn!(
                    "concur::aio: the task{name} spawned at {spawned_at} blocked the event \
                     loop for {took:?} in one poll (more than {limit:?}): move blocking work \
                     to aio::to_thread"
                );
                if log::log_enabled!(log::Level::Debug) {
                    log::debug!("{}", super::introspect::dump_tasks());
                }
            }
        }
        if finished {
            let removed = self.tasks.borrow_mut().remove(key).task;
            // Dropped outside the borrow: a future's drop may spawn or wake.
            drop(removed);
        }
    }

    fn drain_remote(&self) {
        let ids = self.shared.remote.drain();
        if !ids.is_empty() {
            self.ready.borrow_mut().extend(ids);
        }
    }

    /// Fires due timers; returns how long the loop may block for the next one.
    fn fire_timers(&self) -> Option<Duration> {
        let mut fired = Vec::new();
        let wait = {
            let mut timers = self.timers.borrow_mut();
            let now = self.now_ms();
            self.turn_ms.set(now);
            let next = timers.next_expiration()?;
            if next <= now {
                timers.advance(now, &mut fired);
            }
            timers
                .next_expiration()
                .map(|next| Duration::from_millis(next.saturating_sub(self.now_ms())))
        };
        for w in fired {
            w.wake();
        }
        wait
    }

    /// Looks at timers and I/O; blocks in the reactor if there is nothing to run.
    fn turn(&self, may_block: bool) {
        self.drain_remote();
        let wait = self.fire_timers();
        let block = may_block && self.ready.borrow().is_empty();
        if block && self.clock.is_paused() {
            return self.turn_paused();
        }
        // Blocking with no timer armed waits for I/O or another thread's wake-up.
        let timeout = if block { wait } else { Some(Duration::ZERO) };
        self.reactor.poll(timeout);
        self.drain_remote();
        if block {
            self.fire_timers();
        }
    }

    /// A turn with nothing to run on a paused clock: what I/O is ready is taken first;
    /// if nothing is, the clock jumps to the next timer (tokio's auto-advance); with no
    /// timer armed, the loop blocks for I/O or another thread's wake-up.
    fn turn_paused(&self) {
        self.reactor.poll(Some(Duration::ZERO));
        self.drain_remote();
        if !self.ready.borrow().is_empty() || self.main_waker.state.is_woken() {
            return;
        }
        let next = self.timers.borrow().next_expiration();
        match next {
            Some(ms) if ms != u64::MAX => {
                self.clock.advance_to(Duration::from_millis(ms));
                self.fire_timers();
            }
            _ => {
                self.reactor.poll(None);
                self.drain_remote();
            }
        }
    }

    /// Fires the timers that are due now, from inside a task (`time::advance`).
    pub(super) fn fire_due_timers(&self) {
        self.fire_timers();
    }

    fn block_on<F: Future>(&self, future: F) -> F::Output {
        let mut future = pin!(future);
        let main_waker = Waker::from(Arc::clone(&self.main_waker));
        let mut cx = Context::from_waker(&main_waker);
        // The main future is polled in line, like a task: its first poll is queued here
        // (its state says so), and every wake queues it again, once. (Polling it out of
        // line as well, while its id stays queued, let each such poll add one more id:
        // a main future that kept yielding piled up ids ahead of every task.)
        self.ready.borrow_mut().push_back(MAIN);
        // Polls since the loop last looked at timers and I/O.
        let mut since_turn = 0;
        loop {
            while since_turn < TICK {
                let Some(id) = self.ready.borrow_mut().pop_front() else {
                    break;
                };
                if id == MAIN {
                    // `run`'s own future, woken on this thread: its turn in line.
                    if self.main_waker.state.begin_poll() {
                        self.budget.set(BUDGET);
                        self.main.record.borrow_mut().polled(self.turn_ms.get());
                        self.polling.set(MAIN);
                        self.main.running.set(true);
                        let polled = future.as_mut().poll(&mut cx);
                        self.main.running.set(false);
                        self.polling.set(NOBODY);
                        if let Poll::Ready(out) = polled {
                            self.main.finished.set(true);
                            return out;
                        }
                    }
                } else {
                    self.run_task(id);
                }
                since_turn += 1;
            }
            let idle = self.ready.borrow().is_empty() && !self.main_waker.state.is_woken();
            if idle || since_turn >= TICK {
                // Timers and I/O: every `TICK` polls, or when there is nothing to run.
                self.turn(idle);
                since_turn = 0;
            } else {
                self.drain_remote();
            }
        }
    }

    /// Cancels every task left (their futures are dropped here, on the loop's thread).
    fn shut_down(&self) {
        loop {
            let tasks: Vec<Arc<dyn Runnable>> = {
                let mut slab = self.tasks.borrow_mut();
                slab.drain().map(|e| e.task).collect()
            };
            if tasks.is_empty() {
                break;
            }
            for t in tasks {
                // A future's drop panicking is contained by `abort` (and its cell's drop);
                // anything else that panics here (a joiner's waker may be anyone's) is
                // logged too, so every task left is still cancelled and `run` returns (or
                // goes on unwinding) as it would have.
                let aborted = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    t.abort(TaskError::Cancelled);
                    drop(t);
                }));
                if let Err(payload) = aborted {
                    log::error!(
                        "concur::aio: cancelling a task at the end of run panicked: {}",
                        crate::handle::panic_message(&*payload)
                    );
                }
            }
        }
        self.running.set(false);
    }
}

/// The driver of the loop running on this thread; outside a loop, the one a loop started
/// now with [`Driver::Auto`] would get (the environment's `CONCUR_AIO_DRIVER` included).
///
/// ```
/// use concur::aio::{self, Driver};
/// let d = aio::run(async { aio::driver() });
/// assert_ne!(d, Driver::Auto); // always the driver chosen
/// ```
pub fn driver() -> Driver {
    with_current(|l| l.map(|l| l.driver())).unwrap_or_else(|| super::driver::resolve(Driver::Auto))
}

/// Runs `future` to completion on a new event loop on this thread and returns its
/// output: `asyncio.run`. Tasks still running when it finishes are cancelled (their
/// futures dropped) before `run` returns.
///
/// Ctrl-C (`SIGINT`, if it has its default action) drops the main future and the tasks,
/// then ends the process as Ctrl-C would have, unless a task listens for it with
/// [`signal::ctrl_c`](super::signal::ctrl_c) or [`Signals`](super::signal::Signals): see
/// the [`signal`](super::signal) module.
///
/// # Panics
///
/// If an event loop is already running on this thread (`await` the future instead), or
/// if the operating system refuses the loop's epoll or eventfd descriptors.
///
/// ```
/// use std::time::Duration;
/// use concur::aio;
///
/// // The cheat sheet's first example: a coroutine brought to life by `run`.
/// aio::run(async {
///     println!("Start");
///     aio::sleep(Duration::from_millis(10)).await;
///     println!("End");
/// });
/// ```
#[track_caller]
pub fn run<F: Future>(future: F) -> F::Output {
    run_with(
        Options {
            name: None,
            driver: Driver::Auto,
            called_at: Location::caller(),
        },
        future,
    )
}

/// How a loop is started: [`run`]'s defaults, or a [`Builder`](super::Builder)'s.
pub(super) struct Options {
    /// The main task's name (`"main"` if `None`).
    pub(super) name: Option<Box<TaskName>>,
    pub(super) driver: Driver,
    pub(super) called_at: &'static Location<'static>,
}

/// [`run`], with `options`.
pub(super) fn run_with<F: Future>(options: Options, future: F) -> F::Output {
    crate::handle::record_panic_locations();
    assert!(
        CURRENT.with(Cell::get).is_null(),
        "concur::aio::run called while an event loop is already running on this thread: \
         await the future (or spawn it) instead"
    );
    let local =
        Rc::new(Local::new(options).unwrap_or_else(|e| {
            panic!("concur::aio::run: the event loop could not be created: {e}")
        }));
    /// Forgets the loop on the way out, however `run` ends. Installed before the loop
    /// becomes current, so `CURRENT` never outlives the `Local` it points to.
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            CURRENT.with(|c| c.set(std::ptr::null()));
            // The thread-local may already be gone if the thread is exiting.
            let _ = LOCAL.try_with(|l| l.borrow_mut().take());
        }
    }
    /// Cancels what is left while the loop is still current (drops may use it).
    struct Exit(Rc<Local>);
    impl Drop for Exit {
        fn drop(&mut self) {
            self.0.shut_down();
        }
    }
    let _reset = Reset;
    LOCAL.with(|l| *l.borrow_mut() = Some(Rc::clone(&local)));
    CURRENT.with(|c| c.set(Rc::as_ptr(&local)));
    let exit = Exit(local);
    // Ctrl-C drops the main future, as in asyncio.run (see the `signal` module).
    let ctrl_c = CtrlC::watch();
    match exit.0.block_on(ctrl_c.guard(future)) {
        Ok(out) => out,
        Err(interrupted) => {
            drop(exit); // the tasks left are cancelled, as at any exit
            drop(ctrl_c);
            interrupted.resume() // raises SIGINT again: the process ends as by Ctrl-C
        }
    }
}

thread_local! {
    /// A counted reference to the running loop, for objects that must outlive a turn.
    static LOCAL: RefCell<Option<Rc<Local>>> = const { RefCell::new(None) };
}

/// The loop running on this thread; panics with `what` named if there is none.
pub(super) fn current(what: &str) -> Rc<Local> {
    LOCAL.with(|l| l.borrow().clone()).unwrap_or_else(|| {
        panic!("concur::aio::{what} called outside of an event loop: call it inside aio::run(...)")
    })
}

/// Runs `f` with the loop running on this thread, if any.
pub(super) fn with_current<R>(f: impl FnOnce(Option<&Local>) -> R) -> R {
    let p = CURRENT.with(Cell::get);
    // SAFETY: see `Header::schedule`.
    f(unsafe { p.as_ref() })
}

/// Starts `future` as a task on the running loop: `asyncio.create_task`. It starts at the
/// loop's next turn, whether or not the returned [`Task`] is awaited. The future need not
/// be `Send`.
///
/// # Panics
///
/// Outside of [`run`].
///
/// ```
/// use std::rc::Rc;
/// use concur::aio;
///
/// aio::run(async {
///     let shared = Rc::new(5); // not Send: fine on one thread
///     let s = shared.clone();
///     let t = aio::spawn(async move { *s * 2 });
///     assert_eq!(t.await, Ok(10));
/// });
/// ```
#[track_caller]
pub fn spawn<F: Future + 'static>(future: F) -> Task<F::Output> {
    let p = CURRENT.with(Cell::get);
    // SAFETY: see `Header::schedule`.
    match unsafe { p.as_ref() } {
        Some(local) => local.spawn(future, None, Location::caller()),
        None => panic!(
            "concur::aio::spawn called outside of an event loop: call it inside aio::run(...)"
        ),
    }
}

/// A future that fires the timers due now and returns once the tasks they woke have
/// had their turn (see `time::advance`).
pub(super) async fn yield_to_timers() {
    let mut fired = false;
    std::future::poll_fn(|cx| {
        if fired {
            return Poll::Ready(());
        }
        fired = true;
        with_current(|l| {
            if let Some(l) = l {
                l.fire_due_timers();
            }
        });
        // Queued behind the tasks the timers woke.
        cx.waker().wake_by_ref();
        Poll::Pending
    })
    .await
}

/// Takes one unit of the current task's budget. `Ready` if the task may go on; otherwise
/// wakes it and returns `Pending`, so it yields to the others. Outside a loop: `Ready`.
pub(super) fn poll_budget(cx: &mut Context<'_>) -> Poll<()> {
    with_current(|l| match l {
        Some(l) if !l.consume_budget() => {
            cx.waker().wake_by_ref();
            Poll::Pending
        }
        _ => Poll::Ready(()),
    })
}

/// The slow-poll threshold set by the environment: `CONCUR_AIO_DEBUG=1` (100 ms, like
/// asyncio's debug mode) or `CONCUR_AIO_DEBUG=<milliseconds>`.
fn slow_poll_from_env() -> Option<Duration> {
    let v = std::env::var("CONCUR_AIO_DEBUG").ok()?;
    match v.trim().parse::<u64>() {
        Ok(0) => None,
        Ok(1) | Err(_) => Some(Duration::from_millis(100)),
        Ok(ms) => Some(Duration::from_millis(ms)),
    }
}

/// Warns (through the `log` facade) about every task whose single poll blocks the loop
/// for longer than `threshold`, naming where the task was spawned: asyncio's
/// `slow_callback_duration` in debug mode. `None` turns it off (the default, unless the
/// `CONCUR_AIO_DEBUG` environment variable is set: `1` for 100 ms, or a number of ms).
///
/// # Panics
///
/// Outside of an event loop.
///
/// ```
/// use std::time::Duration;
/// use concur::aio;
///
/// aio::run(async {
///     aio::warn_slow_polls(Some(Duration::from_millis(50)));
///     // A task that calls std::thread::sleep(100 ms) would now be reported.
/// });
/// ```
pub fn warn_slow_polls(threshold: Option<Duration>) {
    with_current(|l| {
        match l {
        Some(l) => l.slow_poll.set(threshold),
        None => panic!(
            "concur::aio::warn_slow_polls called outside of an event loop: call it inside aio::run(...)"
        ),
    }
    })
}
