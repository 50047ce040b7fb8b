//! The parent side of a process pool: the shared state, and the pool's thread, which
//! starts the workers, reads their results, enforces time limits and reaps the dead.
//! See `DESIGN.md` beside this file for the protocol, the lifecycle and the failure table.

use std::collections::{HashMap, VecDeque};
use std::ffi::OsString;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, ThreadId};
use std::time::{Duration, Instant};

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token, Waker};
use slab::Slab;

use super::board::{self, Board};
use super::call;
use super::channel::{self, Filled, ReadBuf, WriteBuf};
use super::protocol::{self, FromWorker};
use super::task::{Job, Outcome, Pending};
use super::worker::{self, Marker};
use crate::handle::{TaskError, WorkerExit};

/// The pool's own wake-ups; worker `k` is `Token(k + 1)`.
const WAKER: Token = Token(0);

/// How long the pool's thread looks for a result before it sleeps, when tasks are short.
const SPIN: Duration = Duration::from_micros(50);

/// Tasks shorter than this on average are "short" (worth waiting for actively).
const SHORT_TASK_NS: u64 = 20_000;

/// Bytes read from one worker per turn of the pool's thread, at most (then the others
/// get their turn).
const READ_PER_TURN: usize = 4 << 20;

/// Everything the builder decided.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) max_workers: usize,
    pub(crate) max_tasks_per_child: Option<u64>,
    pub(crate) memory_limit: Option<u64>,
    pub(crate) task_timeout: Option<Duration>,
    /// Offsets of the initializer's trampoline and function.
    pub(crate) initializer: Option<(u64, u64)>,
    pub(crate) env: Vec<(OsString, Option<OsString>)>,
    pub(crate) env_clear: bool,
    pub(crate) cwd: Option<PathBuf>,
    pub(crate) max_frame: usize,
    pub(crate) in_flight: Option<usize>,
    pub(crate) break_on_worker_death: bool,
    pub(crate) chunk_size: Option<usize>,
}

/// Counters, for [`stats`](crate::ProcessPoolExecutor::stats).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Counters {
    pub(crate) spawned: u64,
    pub(crate) died: u64,
    pub(crate) recycled: u64,
    pub(crate) completed: u64,
}

/// Why the pool killed a worker itself (its running task already has its outcome).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kill {
    Cancelled,
    TimedOut,
    Shutdown,
}

/// A task sent to a worker.
#[derive(Debug)]
struct Flight {
    job: Job,
    /// It was the `n`-th task sent to its worker (its slot on the claim board).
    n: u64,
    /// Its handle already has an outcome (cancelled or timed out); the worker's reply is
    /// still expected and then ignored.
    done: bool,
}

/// A live worker, as the shared state sees it.
#[derive(Debug)]
struct Slot {
    pid: u32,
    child: Child,
    sock: Arc<OwnedFd>,
    board: Board,
    w: WriteBuf,
    flights: VecDeque<Flight>,
    /// When its current head task (the first not done) became the head.
    head_since: Instant,
    dispatched: u64,
    /// Takes no more tasks; closed once its last one is back.
    draining: bool,
    /// Its channel was closed by the pool (it is expected to exit).
    closing: bool,
    killed: Option<Kill>,
    /// `WRITABLE` interest is registered.
    writable: bool,
    /// Its initializer (if the pool has one) has reported back.
    initialized: bool,
}

impl Slot {
    fn live_flights(&self) -> usize {
        self.flights.iter().filter(|f| !f.done).count()
    }

    /// When the task it runs exceeds its time limit, if it has one (not for a worker
    /// being killed: its tasks already have their outcome or go elsewhere).
    fn head_deadline(&self) -> Option<Instant> {
        if self.killed.is_some() {
            return None;
        }
        let head = self.flights.iter().find(|f| !f.done)?;
        Some(self.head_since + head.job.timeout?)
    }

    fn accepts(&self) -> bool {
        !self.draining
            && !self.closing
            && self.killed.is_none()
            && self.flights.len() < board::SLOTS - 1
    }

    /// Tasks the worker has started and not answered yet (at most one, unless a hostile
    /// worker says otherwise).
    fn started(&self) -> usize {
        self.flights
            .iter()
            .filter(|f| !f.done && self.board.started(f.n, f.job.id))
            .count()
    }

    fn kill(&mut self, why: Kill) {
        if self.killed.is_none() {
            self.killed = Some(why);
        }
        // Again after a gentler signal: `kill` is the last word.
        let _ = self.child.kill();
    }

    /// Sends the worker `signal`, as `kill` does `SIGKILL`; returns a descriptor that
    /// becomes readable when it exits, if `pidfd_open` works here.
    fn signal(&mut self, why: Kill, signal: rustix::process::Signal) -> Option<OwnedFd> {
        if self.killed.is_none() {
            self.killed = Some(why);
        }
        // While its slot exists the child is not reaped (the pool's thread waits for it
        // only after taking the slot out, under the state lock, which the caller
        // holds), so the pid is still this worker's: no stranger gets the signal.
        let pid = rustix::process::Pid::from_raw(i32::try_from(self.child.id()).ok()?)?;
        let exit = rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()).ok();
        let _ = rustix::process::kill_process(pid, signal);
        exit
    }
}

/// The state every handle, submitter and the pool's thread share.
#[derive(Debug, Default)]
pub(crate) struct State {
    pending: VecDeque<Job>,
    workers: Slab<Slot>,
    /// No more submissions.
    closed: bool,
    broken: Option<String>,
    /// A worker should be started (the pool's thread does it).
    want_spawn: bool,
    /// Average run time of recent tasks, for how many to send each worker ahead.
    avg_run_ns: u64,
    pub(crate) counters: Counters,
}

impl State {
    /// Tasks to send each worker ahead of the one it runs: many for tiny tasks (the round
    /// trip is the cost), one for long ones (so none waits behind another while a worker
    /// is free).
    fn depth(&self, config: &Config) -> usize {
        if let Some(n) = config.in_flight {
            return n;
        }
        match self.avg_run_ns {
            0 => 2,
            n if n < 20_000 => 16,
            n if n < 200_000 => 4,
            n if n < 2_000_000 => 2,
            _ => 1,
        }
    }

    pub(crate) fn pending_len(&self) -> usize {
        self.pending.len()
    }

    pub(crate) fn workers(&self) -> impl Iterator<Item = u32> + '_ {
        self.workers.iter().map(|(_, s)| s.pid)
    }

    /// Tasks a worker has started and not finished.
    pub(crate) fn running(&self) -> usize {
        self.workers.iter().map(|(_, s)| s.started()).sum()
    }

    /// Tasks sent to a worker that have not finished (started or not).
    pub(crate) fn in_flight(&self) -> usize {
        self.workers.iter().map(|(_, s)| s.live_flights()).sum()
    }

    /// Sends queued tasks to workers that can take them. Returns `true` if the pool's
    /// thread has something to do (start a worker, finish a write).
    fn dispatch(&mut self, config: &Config) -> bool {
        let mut wake = false;
        let depth = self.depth(config);
        let now = Instant::now();
        while let Some(job) = self.pending.front() {
            if !job.started && job.task.is_finished() {
                // Cancelled while queued.
                self.pending.pop_front();
                continue;
            }
            let idle = self
                .workers
                .iter()
                .find(|(_, s)| s.accepts() && s.live_flights() == 0)
                .map(|(k, _)| k);
            let target = match idle {
                Some(k) => k,
                None if self.workers.len() < config.max_workers && self.broken.is_none() => {
                    // Python's rule: no idle worker, room for one more: start it.
                    if !self.want_spawn {
                        self.want_spawn = true;
                        wake = true;
                    }
                    break;
                }
                None => {
                    let best = self
                        .workers
                        .iter()
                        .filter(|(_, s)| s.accepts())
                        .map(|(k, s)| (s.live_flights(), k))
                        .min();
                    match best {
                        Some((n, k)) if n < depth => k,
                        _ => break,
                    }
                }
            };
            let mut job = self.pending.pop_front().expect("a front job");
            if !job.started {
                if !job.task.start() {
                    continue;
                }
                job.started = true;
            }
            let slot = &mut self.workers[target];
            if slot.live_flights() == 0 {
                slot.head_since = now;
            }
            // Every descriptor is duplicated before anything is queued: a failure part way
            // leaves nothing of this job in the worker's buffer (no stray descriptor that
            // the next frame would be taken to carry).
            let copies: Result<Vec<OwnedFd>, _> = job.fds.iter().map(OwnedFd::try_clone).collect();
            let copies = match copies {
                Ok(copies) => copies,
                Err(e) => {
                    job.fail(TaskError::Serialization(format!(
                        "a shared buffer could not be duplicated to send: {e}"
                    )));
                    continue;
                }
            };
            slot.w.data.extend_from_slice(&job.frame);
            slot.w.fds.extend(copies);
            slot.board.queue(slot.dispatched, job.id);
            slot.flights.push_back(Flight {
                job,
                n: slot.dispatched,
                done: false,
            });
            slot.dispatched += 1;
            if config
                .max_tasks_per_child
                .is_some_and(|m| slot.dispatched >= m)
            {
                slot.draining = true;
            }
            if flush(slot) {
                wake = true;
            }
        }
        wake
    }
}

/// Sends what a worker's buffer holds, without blocking. `true` if some is left (the
/// pool's thread then waits for the socket to drain). A failed write is left for the
/// reader to discover (the worker is gone).
fn flush(slot: &mut Slot) -> bool {
    match slot.w.flush(slot.sock.as_fd(), false) {
        Ok(done) => !done,
        Err(_) => false,
    }
}

/// The parent side of a pool.
#[derive(Debug)]
pub(crate) struct Shared {
    state: Mutex<State>,
    waker: Waker,
    pub(crate) config: Config,
    next_id: AtomicU64,
    /// The pool's thread, once started, and its id.
    thread: Mutex<Option<thread::JoinHandle<()>>>,
    thread_id: Mutex<Option<ThreadId>>,
    exe: (u64, u64),
    /// `State::avg_run_ns`, readable without the lock.
    avg_run_ns: AtomicU64,
    /// Set by `shutdown_nowait`: dropping the pool leaves its thread to finish alone.
    detached: AtomicBool,
}

fn relock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    /// Starts the pool's thread.
    pub(crate) fn start(config: Config) -> io::Result<Arc<Shared>> {
        let exe = worker::current_exe_id()?;
        crate::handle::record_panic_locations();
        // Keep the worker hook linked into every program that can start workers.
        std::hint::black_box(&worker::HOOK);
        let poll = Poll::new()?;
        let waker = Waker::new(poll.registry(), WAKER)?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            waker,
            config,
            next_id: AtomicU64::new(1),
            thread: Mutex::new(None),
            thread_id: Mutex::new(None),
            exe,
            avg_run_ns: AtomicU64::new(0),
            detached: AtomicBool::new(false),
        });
        let for_thread = shared.clone();
        let handle = thread::Builder::new()
            .name("concur-process-pool".to_owned())
            .spawn(move || Manager::new(for_thread, poll).run())?;
        *relock(&shared.thread_id) = Some(handle.thread().id());
        *relock(&shared.thread) = Some(handle);
        Ok(shared)
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        relock(&self.state)
    }

    pub(crate) fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    fn wake(&self) {
        if let Err(e) = self.waker.wake() {
            log::error!("concur: could not wake the process pool's thread: {e}");
        }
    }

    /// `true` if tasks here are short: a result is usually microseconds away.
    pub(crate) fn expect_soon(&self) -> bool {
        self.avg_run_ns.load(Ordering::Relaxed) < SHORT_TASK_NS
    }

    /// Queues a job (or fails it if the pool takes no more).
    pub(crate) fn submit(&self, job: Job) {
        let mut st = self.lock();
        if let Some(why) = &st.broken {
            let err = TaskError::Broken(why.clone());
            drop(st);
            return job.fail(err);
        }
        if st.closed {
            drop(st);
            return job.fail(TaskError::Shutdown);
        }
        st.pending.push_back(job);
        let wake = st.dispatch(&self.config);
        drop(st);
        if wake {
            self.wake();
        }
    }

    /// Stops task `id`, which a worker has (or had, and it is queued again): `true` if it
    /// will not complete. A task the worker has not started is struck off on the claim
    /// board, so it never starts (the worker skips it); one it started is running, and
    /// its worker is killed.
    pub(crate) fn cancel_running(&self, id: u64) -> bool {
        let mut st = self.lock();
        for (_, slot) in st.workers.iter_mut() {
            let Some(pos) = slot.flights.iter().position(|f| f.job.id == id && !f.done) else {
                continue;
            };
            let n = slot.flights[pos].n;
            slot.flights[pos].done = true;
            let task = slot.flights[pos].job.task.clone();
            if !slot.board.cancel(n, id) {
                slot.kill(Kill::Cancelled);
            }
            drop(st);
            self.wake();
            task.finish(Outcome::Failed(TaskError::Cancelled));
            return true;
        }
        if let Some(pos) = st.pending.iter().position(|j| j.id == id) {
            let job = st.pending.remove(pos).expect("a job at a found position");
            drop(st);
            job.fail(TaskError::Cancelled);
            return true;
        }
        false
    }

    /// Takes no more tasks; with `cancel_pending`, fails the queued ones; with `kill`, also
    /// kills the workers (their running tasks fail with `Shutdown`). Then waits for the
    /// pool's thread to finish everything and exit (unless called on that thread).
    /// Asks every worker to stop (`SIGTERM`), gives them `grace` to exit, kills those
    /// still alive (`SIGKILL`), and ends the pool as [`shutdown`](Self::shutdown) with
    /// `kill` does: no task starts any more, every unfinished handle resolves
    /// [`TaskError::Shutdown`] at once, the thread is joined.
    pub(crate) fn terminate_workers(&self, grace: std::time::Duration) {
        let exits = self.end_now(Some(rustix::process::Signal::TERM));
        let deadline = Instant::now() + grace;
        for fd in &exits {
            let left = deadline.saturating_duration_since(Instant::now());
            let mut fds = [rustix::event::PollFd::new(fd, rustix::event::PollFlags::IN)];
            let timeout = rustix::event::Timespec::try_from(left).ok();
            let _ = rustix::event::poll(&mut fds, timeout.as_ref());
        }
        self.shutdown(true, true);
    }

    /// Closes the pool and returns at once: its thread runs what was submitted, reaps
    /// the workers and exits by itself; dropping the pool then does not wait for it.
    pub(crate) fn shutdown_nowait(&self) {
        self.lock().closed = true;
        self.detached.store(true, Ordering::SeqCst);
        self.wake();
    }

    /// The pool is dropped: as [`shutdown`](Self::shutdown), unless `shutdown_nowait`
    /// left the end to the pool's thread (its handle is dropped: it detaches).
    pub(crate) fn drop_pool(&self) {
        if self.detached.load(Ordering::SeqCst) {
            drop(relock(&self.thread).take());
            return;
        }
        self.shutdown(false, false);
    }

    /// Closes the pool, fails every queued and running task with `Shutdown`, and sends
    /// every worker `signal` (`SIGKILL` with `None`); returns descriptors that become
    /// readable as each signalled worker exits (where `pidfd_open` works).
    fn end_now(&self, signal: Option<rustix::process::Signal>) -> Vec<OwnedFd> {
        let mut exits = Vec::new();
        let mut running = Vec::new();
        let failed: Vec<Job> = {
            let mut st = self.lock();
            st.closed = true;
            for (_, slot) in st.workers.iter_mut() {
                for f in slot.flights.iter_mut().filter(|f| !f.done) {
                    f.done = true;
                    running.push(f.job.task.clone());
                }
                match signal {
                    None => slot.kill(Kill::Shutdown),
                    Some(signal) => {
                        if let Some(fd) = slot.signal(Kill::Shutdown, signal) {
                            exits.push(fd);
                        }
                    }
                }
            }
            st.pending.drain(..).collect()
        };
        for job in failed {
            job.fail(TaskError::Shutdown);
        }
        for task in running {
            task.finish(Outcome::Failed(TaskError::Shutdown));
        }
        exits
    }

    pub(crate) fn shutdown(&self, cancel_pending: bool, kill: bool) {
        if kill {
            self.end_now(None);
        } else {
            let failed: Vec<Job> = {
                let mut st = self.lock();
                st.closed = true;
                if cancel_pending {
                    st.pending.drain(..).collect()
                } else {
                    Vec::new()
                }
            };
            for job in failed {
                job.fail(TaskError::Shutdown);
            }
        }
        self.wake();
        if *relock(&self.thread_id) == Some(thread::current().id()) {
            // Called from a callback on the pool's own thread: it exits by itself.
            return;
        }
        if let Some(handle) = relock(&self.thread).take() {
            if handle.join().is_err() {
                log::error!("concur: the process pool's thread panicked");
            }
        }
    }
}

/// A worker's incoming side, which only the pool's thread touches.
#[derive(Debug)]
struct Reader {
    r: ReadBuf,
    sock: Arc<OwnedFd>,
    /// The worker closed its end or broke the protocol: reap it this turn.
    ended: Option<End>,
}

#[derive(Debug)]
enum End {
    Closed,
    Violation(String),
}

/// A result to hand to a handle once the lock is released.
enum Completion {
    /// The result frame's payload is `reader.unread()[start..end]`.
    Reply {
        task: Arc<dyn Pending>,
        reader: usize,
        status: protocol::Status,
        start: usize,
        end: usize,
        fds: Vec<OwnedFd>,
    },
    /// A task a worker had: started, so it is finished (never aborted).
    Failed(Arc<dyn Pending>, TaskError),
    /// A task of the pool's queue: started (its worker died before running it) or not,
    /// so it goes through [`Job::fail`], which knows which.
    Dropped(Job, TaskError),
}

/// The pool's thread.
struct Manager {
    shared: Arc<Shared>,
    poll: Poll,
    /// Keyed like the state's `workers`.
    readers: HashMap<usize, Reader>,
    argv0: OsString,
}

impl Manager {
    fn new(shared: Arc<Shared>, poll: Poll) -> Self {
        let argv0 = std::env::args_os()
            .next()
            .unwrap_or_else(|| "concur-worker".into());
        Manager {
            shared,
            poll,
            readers: HashMap::new(),
            argv0,
        }
    }

    fn run(mut self) {
        crate::handle::forbid_blocking(
            "a process pool's own thread, which reads its tasks' results and runs their \
             on_done callbacks",
        );
        let mut events = Events::with_capacity(64);
        // Workers with bytes left unread last turn (readiness is edge-triggered: no new
        // event will say so).
        let mut again: Vec<usize> = Vec::new();
        loop {
            events.clear();
            let timeout = if again.is_empty() {
                self.next_deadline()
                    .map(|d| d.saturating_duration_since(Instant::now()))
            } else {
                Some(Duration::ZERO)
            };
            if timeout != Some(Duration::ZERO) && self.expect_soon() {
                // A tiny task is out: its result is likely microseconds away, closer
                // than the kernel's wake-up of a sleeping thread. Look for it first.
                let began = Instant::now();
                while began.elapsed() < SPIN {
                    if self.poll.poll(&mut events, Some(Duration::ZERO)).is_ok()
                        && !events.is_empty()
                    {
                        break;
                    }
                    std::thread::yield_now();
                }
            }
            let polled = if events.is_empty() {
                self.poll.poll(&mut events, timeout)
            } else {
                Ok(())
            };
            if let Err(e) = polled {
                if e.kind() != io::ErrorKind::Interrupted {
                    log::error!("concur: the process pool cannot wait for its workers: {e}");
                    thread::sleep(Duration::from_millis(10));
                }
            }
            let mut ready: Vec<usize> = std::mem::take(&mut again);
            for ev in events.iter() {
                if ev.token() != WAKER && !ready.contains(&(ev.token().0 - 1)) {
                    ready.push(ev.token().0 - 1);
                }
            }
            for &k in &ready {
                if self.read(k) {
                    again.push(k);
                }
            }
            if self.turn(&ready) {
                break;
            }
        }
    }

    /// `true` if a task is out whose result should come back within microseconds.
    fn expect_soon(&self) -> bool {
        let st = self.shared.lock();
        st.avg_run_ns < SHORT_TASK_NS && st.workers.iter().any(|(_, s)| s.live_flights() > 0)
    }

    /// The earliest time limit of a running task.
    fn next_deadline(&self) -> Option<Instant> {
        let st = self.shared.lock();
        st.workers
            .iter()
            .filter_map(|(_, s)| s.head_deadline())
            .min()
    }

    /// Reads what worker `k` sent, without blocking; `true` if it stopped with bytes
    /// possibly left (its share of this turn is used up).
    fn read(&mut self, k: usize) -> bool {
        let max = self.shared.config.max_frame;
        let Some(reader) = self.readers.get_mut(&k) else {
            return false;
        };
        let mut total = 0;
        // Descriptors of results read but not decoded are held until this turn's parse:
        // stop before they could pass the reader's cap (the rest is read next turn).
        while reader.ended.is_none() && total < READ_PER_TURN && reader.r.has_room_for_fds() {
            // Grow towards what the frame announces, but only as fast as bytes arrive.
            let unread = reader.r.unread();
            let want = protocol::missing(unread)
                .min(unread.len().max(64 * 1024))
                .min(max);
            match reader.r.fill(reader.sock.as_fd(), want, false) {
                Ok(Filled::Bytes(n)) => total += n,
                Ok(Filled::WouldBlock) => break,
                Ok(Filled::Closed) => reader.ended = Some(End::Closed),
                Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                    reader.ended = Some(End::Violation(e.to_string()))
                }
                Err(_) => reader.ended = Some(End::Closed),
            }
        }
        reader.ended.is_none() && (total >= READ_PER_TURN || !reader.r.has_room_for_fds())
    }

    /// One turn under the lock, then the work that must not hold it. Returns `true` when
    /// the pool is shut down and every worker is gone.
    fn turn(&mut self, ready: &[usize]) -> bool {
        let shared = self.shared.clone();
        let config = &shared.config;
        let mut completions = Vec::new();
        let mut consumed: Vec<(usize, usize)> = Vec::new();
        let mut to_reap: Vec<(usize, Slot)> = Vec::new();
        let mut spawn = 0;
        {
            let mut st = shared.lock();
            for &k in ready {
                let used = self.parse(&mut st, k, &mut completions);
                consumed.push((k, used));
            }
            // Time limits.
            let now = Instant::now();
            for (_, slot) in st.workers.iter_mut() {
                if slot.head_deadline().is_some_and(|d| now >= d) {
                    let f = slot
                        .flights
                        .iter_mut()
                        .find(|f| !f.done)
                        .expect("a head task");
                    f.done = true;
                    completions.push(Completion::Failed(f.job.task.clone(), TaskError::TimedOut));
                    slot.kill(Kill::TimedOut);
                }
            }
            // Workers whose stream ended leave the state now (reaped below, unlocked).
            for (&k, reader) in self.readers.iter() {
                if reader.ended.is_some() {
                    if let Some(slot) = st.workers.try_remove(k) {
                        to_reap.push((k, slot));
                    }
                }
            }
            // Close workers that finished their quota, or all once shut down and idle.
            let closing_all = st.closed && st.pending.is_empty();
            for (_, slot) in st.workers.iter_mut() {
                if !slot.closing && slot.flights.is_empty() && (slot.draining || closing_all) {
                    slot.closing = true;
                    let _ = rustix::net::shutdown(slot.sock.as_fd(), rustix::net::Shutdown::Write);
                }
            }
            st.dispatch(config);
            if st.want_spawn {
                st.want_spawn = false;
                let waiting = st.pending.len();
                let room = config.max_workers.saturating_sub(st.workers.len());
                spawn = waiting.min(room);
            }
            // Wait for sockets that could not take everything.
            for (k, slot) in st.workers.iter_mut() {
                let want = !slot.w.is_empty() && flush(slot);
                if want != slot.writable {
                    let interest = if want {
                        Interest::READABLE | Interest::WRITABLE
                    } else {
                        Interest::READABLE
                    };
                    let fd = slot.sock.as_raw_fd();
                    if self
                        .poll
                        .registry()
                        .reregister(&mut SourceFd(&fd), Token(k + 1), interest)
                        .is_ok()
                    {
                        slot.writable = want;
                    }
                }
            }
        }
        // Reap outside the lock, then settle the fates of their tasks under it.
        let mut reaped = Vec::new();
        for (k, slot) in to_reap {
            reaped.push(k);
            let end = self
                .readers
                .get_mut(&k)
                .and_then(|r| r.ended.take())
                .expect("an ended reader");
            self.reap(slot, end, &mut completions);
        }
        self.complete(completions);
        for (k, used) in consumed {
            if let Some(reader) = self.readers.get_mut(&k) {
                reader.r.consume(used);
            }
        }
        for k in reaped {
            self.readers.remove(&k);
        }
        for _ in 0..spawn {
            if !self.spawn() {
                break;
            }
        }
        let st = shared.lock();
        st.closed && st.pending.is_empty() && st.workers.is_empty()
    }

    /// Decodes the complete frames worker `k` sent; returns how many bytes they used.
    fn parse(&mut self, st: &mut State, k: usize, completions: &mut Vec<Completion>) -> usize {
        let max = self.shared.config.max_frame;
        let memory_limit = self.shared.config.memory_limit;
        let Some(reader) = self.readers.get_mut(&k) else {
            return 0;
        };
        let Some(slot) = st.workers.get_mut(k) else {
            return 0;
        };
        let mut used = 0;
        let (all, fdq) = reader.r.split();
        let violation = loop {
            let unread = &all[used..];
            let (s, e) = match protocol::next_frame(unread, max) {
                Ok(Some(frame)) => frame,
                Ok(None) => break None,
                Err(e) => break Some(e.0),
            };
            let body = &unread[s..e];
            let msg = match protocol::decode_from_worker(body) {
                Ok(m) => m,
                Err(e) => break Some(e.0),
            };
            let at = used + s;
            match msg {
                FromWorker::Hello {
                    version,
                    pid,
                    layout,
                } => {
                    if version != protocol::VERSION || pid != slot.pid || layout != call::layout() {
                        break Some(format!(
                            "a worker greeted with version {version}, pid {pid}, layout {layout:#x}; \
                             expected version {}, pid {}, layout {:#x}",
                            protocol::VERSION,
                            slot.pid,
                            call::layout()
                        ));
                    }
                }
                FromWorker::Refused { reason } => {
                    let why = format!(
                        "a worker process refused to serve: {}",
                        String::from_utf8_lossy(reason)
                    );
                    st.broken.get_or_insert(why);
                    break None;
                }
                FromWorker::InitDone { error } => {
                    slot.initialized = true;
                    if !error.is_empty() {
                        let why =
                            format!("the initializer failed: {}", String::from_utf8_lossy(error));
                        st.broken.get_or_insert(why);
                    }
                }
                FromWorker::Skipped { id } => {
                    match slot.flights.iter().position(|f| f.job.id == id) {
                        Some(pos) if slot.flights[pos].done => {
                            slot.flights.remove(pos);
                        }
                        _ => {
                            break Some(format!(
                                "a worker skipped task {id}, which it was not asked to skip"
                            ))
                        }
                    }
                }
                FromWorker::Done {
                    id,
                    status,
                    run_ns,
                    rss,
                    nfds,
                    payload,
                } => {
                    let Some(pos) = slot.flights.iter().position(|f| f.job.id == id) else {
                        break Some(format!(
                            "a worker sent a result for task {id}, which it was never given"
                        ));
                    };
                    let Some(fds) = channel::take_fds(fdq, nfds) else {
                        break Some(format!(
                            "a worker's result claims {nfds} descriptors that did not arrive"
                        ));
                    };
                    let was_head = slot.flights.iter().position(|f| !f.done) == Some(pos);
                    let flight = slot
                        .flights
                        .remove(pos)
                        .expect("a flight at a found position");
                    if was_head {
                        slot.head_since = Instant::now();
                    }
                    st.avg_run_ns = (st.avg_run_ns * 7 + run_ns.min(10_000_000_000)) / 8;
                    self.shared
                        .avg_run_ns
                        .store(st.avg_run_ns, Ordering::Relaxed);
                    st.counters.completed += flight.job.items;
                    if memory_limit.is_some_and(|limit| rss > limit) && !slot.draining {
                        slot.draining = true;
                        st.counters.recycled += 1;
                    }
                    if !flight.done {
                        let start = at + (payload.as_ptr() as usize - body.as_ptr() as usize);
                        completions.push(Completion::Reply {
                            task: flight.job.task,
                            reader: k,
                            status,
                            start,
                            end: used + e,
                            fds,
                        });
                    }
                }
            }
            used += e;
        };
        if let Some(why) = violation {
            reader.ended = Some(End::Violation(why));
        }
        used
    }

    /// A worker's stream ended: make sure it is dead, collect its exit status, and settle
    /// the tasks it had.
    fn reap(&mut self, mut slot: Slot, end: End, completions: &mut Vec<Completion>) {
        let fd = slot.sock.as_raw_fd();
        let _ = self.poll.registry().deregister(&mut SourceFd(&fd));
        // Its reader stays until this turn's results (which may point into it) are out.
        // After EOF the process is exiting (or a hostile one pretends): SIGKILL cannot
        // change an exit status already set, and guarantees the wait below ends.
        let _ = slot.child.kill();
        let exit = match slot.child.wait() {
            Ok(status) => match (status.code(), status.signal()) {
                (Some(code), _) => WorkerExit::Code(code),
                (None, Some(sig)) => WorkerExit::Signal(sig),
                _ => WorkerExit::Unknown,
            },
            Err(_) => WorkerExit::Unknown,
        };
        let mut st = self.shared.lock();
        let broken_before = st.broken.clone();
        let expected = slot.closing && slot.flights.is_empty();
        // A worker that dies inside the initializer ran none of its tasks, and every
        // worker started after it would run the same initializer: as for an initializer
        // that fails, the pool is broken (no task is blamed, none respawns forever).
        let mut died_in_init = false;
        if !expected && slot.killed.is_none() {
            st.counters.died += 1;
            if exit == WorkerExit::Code(worker::EXIT_REFUSED) && st.broken.is_none() {
                st.broken = Some(
                    "a worker process refused to serve (its standard error says why)".to_owned(),
                );
            }
            if !slot.initialized && st.broken.is_none() {
                st.broken = Some(format!(
                    "the initializer did not return: its worker process {exit}"
                ));
                died_in_init = true;
            }
            if self.shared.config.break_on_worker_death && st.broken.is_none() {
                st.broken = Some(format!("a worker process {exit}"));
            }
        }
        let broken = st.broken.clone();
        let mut blamed = slot.killed.is_some() || died_in_init;
        let mut requeue = Vec::new();
        for flight in slot.flights.drain(..) {
            if flight.done {
                continue;
            }
            if let (Some(why), true) = (&broken, blamed || broken_before.is_some()) {
                completions.push(Completion::Failed(
                    flight.job.task,
                    TaskError::Broken(why.clone()),
                ));
            } else if !blamed {
                // The first task not done is the one it was running: a worker sends each
                // result before it starts its next task.
                blamed = true;
                let err = match &end {
                    End::Violation(why) => TaskError::Serialization(format!(
                        "the worker broke the protocol and was killed: {why}"
                    )),
                    End::Closed => TaskError::WorkerDied(exit),
                };
                completions.push(Completion::Failed(flight.job.task, err));
            } else {
                requeue.push(flight.job);
            }
        }
        // Not started by the dead worker: run them elsewhere, first.
        for job in requeue.into_iter().rev() {
            st.pending.push_front(job);
        }
        if let Some(why) = broken {
            for job in st.pending.drain(..) {
                completions.push(Completion::Dropped(job, TaskError::Broken(why.clone())));
            }
            for (_, other) in st.workers.iter_mut() {
                other.kill(Kill::Shutdown);
            }
        }
        if let End::Violation(why) = &end {
            log::error!(
                "concur: killed worker process {} for breaking the protocol: {why}",
                slot.pid
            );
        }
        st.dispatch(&self.shared.config);
        if !st.pending.is_empty() && st.workers.len() < self.shared.config.max_workers {
            st.want_spawn = true;
            drop(st);
            self.shared.wake();
        }
    }

    /// Hands outcomes to their handles (user callbacks run here: no lock is held).
    fn complete(&mut self, completions: Vec<Completion>) {
        for c in completions {
            match c {
                Completion::Reply {
                    task,
                    reader,
                    status,
                    start,
                    end,
                    fds,
                } => {
                    let payload = match self.readers.get(&reader) {
                        Some(r) => &r.r.unread()[start..end],
                        None => &[][..],
                    };
                    task.finish(Outcome::Reply {
                        status,
                        payload,
                        fds,
                    });
                }
                // The pool's lock made this the one place that ends these tasks: a
                // cancel either took them out of the pool's state first, or finds them
                // gone and fails the handle's own state machine (not started), which
                // `Job::fail` then respects.
                Completion::Failed(task, err) => task.finish(Outcome::Failed(err)),
                Completion::Dropped(job, err) => job.fail(err),
            }
        }
    }

    /// Starts one worker. `false` if it could not (the reason goes to the tasks waiting,
    /// if no worker is left to run them).
    fn spawn(&mut self) -> bool {
        let shared = self.shared.clone();
        let started = Board::new().and_then(|board| {
            let shared_fd = board.fd().try_clone()?;
            Ok((self.start_process()?, board, shared_fd))
        });
        match started {
            Ok(((child, sock), board, board_fd)) => {
                let sock = Arc::new(sock);
                let pid = child.id();
                let mut st = shared.lock();
                let entry = st.workers.vacant_entry();
                let k = entry.key();
                let fd = sock.as_raw_fd();
                if let Err(e) = self.poll.registry().register(
                    &mut SourceFd(&fd),
                    Token(k + 1),
                    Interest::READABLE,
                ) {
                    drop(st);
                    log::error!("concur: cannot watch a new worker process: {e}");
                    let mut child = child;
                    let _ = child.kill();
                    let _ = child.wait();
                    return false;
                }
                let mut w = WriteBuf::default();
                protocol::board(&mut w.data);
                w.fds.push_back(board_fd);
                if let Some((call, func)) = shared.config.initializer {
                    protocol::init(&mut w.data, call, func);
                }
                entry.insert(Slot {
                    pid,
                    child,
                    sock: sock.clone(),
                    board,
                    w,
                    flights: VecDeque::new(),
                    head_since: Instant::now(),
                    dispatched: 0,
                    draining: false,
                    closing: false,
                    killed: None,
                    writable: false,
                    initialized: shared.config.initializer.is_none(),
                });
                self.readers.insert(
                    k,
                    Reader {
                        r: ReadBuf::default(),
                        sock,
                        ended: None,
                    },
                );
                st.counters.spawned += 1;
                st.dispatch(&shared.config);
                flush(&mut st.workers[k]);
                true
            }
            Err(e) => {
                let mut st = shared.lock();
                if st.workers.is_empty() {
                    // Nobody is left to run what waits: tell them why, rather than hang.
                    let why = format!("could not start a worker process: {e}");
                    let failed: Vec<Job> = st.pending.drain(..).collect();
                    drop(st);
                    for job in failed {
                        job.fail(TaskError::Broken(why.clone()));
                    }
                } else {
                    log::warn!("concur: could not start another worker process: {e}");
                }
                false
            }
        }
    }

    /// Starts the executable again as a worker, its channel as standard input.
    fn start_process(&self) -> io::Result<(Child, OwnedFd)> {
        use rustix::net::{AddressFamily, SocketFlags, SocketType};
        let config = &self.shared.config;
        let (ours, theirs) = rustix::net::socketpair(
            AddressFamily::UNIX,
            SocketType::STREAM,
            SocketFlags::CLOEXEC,
            None,
        )?;
        rustix::io::ioctl_fionbio(&ours, true)?;
        let marker = Marker {
            parent: std::process::id(),
            exe: self.shared.exe,
            layout: call::layout(),
            report_rss: config.memory_limit.is_some(),
        };
        // `/proc/self/exe` in the child is the parent's executable, even if the file on
        // disk was replaced or removed since.
        let mut cmd = Command::new("/proc/self/exe");
        cmd.arg0(&self.argv0);
        if config.env_clear {
            cmd.env_clear();
        }
        for (key, value) in &config.env {
            match value {
                Some(v) => cmd.env(key, v),
                None => cmd.env_remove(key),
            };
        }
        if let Some(dir) = &config.cwd {
            cmd.current_dir(dir);
        }
        cmd.env(worker::MARKER, marker.to_os_string())
            .stdin(Stdio::from(theirs));
        let child = cmd.spawn()?;
        Ok((child, ours))
    }
}
