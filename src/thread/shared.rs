//! [`Shared`]: what the pool's handle, its workers and its jobs all see: the queue, the
//! sleep/wake protocol, the submission gate and the counters.
//!
//! ## Waking workers without losing a wake-up
//!
//! A worker that finds no work spins a little (if fewer than `max_spinners` already do),
//! then registers as a sleeper under the `sleep` lock, checks the queue once more and
//! waits on the condvar. A submitter pushes, then (after a `SeqCst` fence) reads the
//! spinner and sleeper counts, and wakes a sleeper only if nobody spins. The fences on
//! both sides make it impossible for the worker to miss the task and the submitter to
//! miss the sleeper at once. A spinner that finds work while more is queued wakes the
//! next worker itself, so a flood of tasks wakes workers off the submitter's path: a
//! busy pool's submit costs no lock and no system call.
//!
//! Wake-ups are not tied to tasks: the one that brought a worker to the queue may have
//! been issued for any task in it. So every worker that takes work while more is left
//! anywhere (the shared queue, its own local queue, another worker's) wakes a helper;
//! and the last spinner to leave looks everywhere once more after its fence.
//!
//! ## Shutdown without losing a task
//!
//! The same fence pattern guards shutdown: a submitter pushes, fences, then reads
//! `closed`; shutdown sets `closed`, fences, and only then lets workers exit on an empty
//! queue. A submitter that sees `closed` after its push fails its own task with
//! `TaskError::Shutdown` (a no-op if a worker already took it), so a task that raced with
//! shutdown is either run or failed, never stranded. New workers start only under the
//! `threads` lock and only while the pool is open, so shutdown joins every thread.

use std::sync::OnceLock;

use crossbeam_deque::{Steal, Stealer, Worker};
use crossbeam_utils::CachePadded;

use super::builder::{Config, FullPolicy};
use super::injector::Injector;
use super::job::Run;
use super::stats::{Counters, PoolStats};
use super::worker;
use crate::handle::TaskError;
use crate::sync::{
    cv_wait, fence, lock, read, write, Arc, AtomicBool, AtomicUsize, Condvar, Mutex, Ordering,
    RwLock,
};

pub(super) type Task = Arc<dyn Run>;

/// Most tasks a worker takes from the shared queue at once (the rest go to its local
/// queue, where idle workers can steal them).
const BATCH: usize = 16;

/// Where a task went when it was offered to the pool.
pub(super) enum Placed {
    /// In the queue; a worker will run it.
    Queued,
    /// Run on the submitting thread (`FullPolicy::CallerRuns`); it is finished.
    RanHere,
    /// Not accepted; it is still pending and the caller must fail or hand it back.
    Refused(TaskError),
}

/// The sleeping side of the wake protocol, under `Shared::sleep`.
#[derive(Default)]
pub(super) struct Sleep {
    /// Workers waiting on the condvar, not yet claimed by a wake-up.
    pub(super) sleeping: usize,
    /// Wake-ups issued and not yet consumed by a waking worker.
    pub(super) wakes: usize,
}

pub(super) struct Shared {
    pub(super) id: usize,
    pub(super) config: Config,
    /// The shared queue submitters push to; workers take batches from it.
    queue: Injector<Task>,
    /// The other end of each worker's local queue, for stealing when idle. Replaced
    /// whole when a worker registers; workers keep a copy ([`Stealers`]) and read it
    /// without this lock.
    stealers: RwLock<Arc<[Stealer<Task>]>>,
    /// Bumped after each change of `stealers`: a worker's copy is current while this is
    /// the generation it was taken at.
    stealers_generation: CachePadded<AtomicUsize>,
    /// Tasks in the queue, kept only when the queue is bounded.
    bounded_len: AtomicUsize,
    /// Submitters blocked on a full queue (only `FullPolicy::Block`).
    blocked_submitters: AtomicUsize,
    space: Mutex<()>,
    space_cv: Condvar,

    /// Set by shutdown: no task is accepted any more.
    closed: AtomicBool,
    /// Set after `closed`: a worker that finds the queue empty exits.
    pub(super) terminate: AtomicBool,
    /// Set by `shutdown_nowait`: a reaper thread joins the workers, so dropping the pool
    /// does not wait for them.
    pub(super) detached: AtomicBool,
    broken: AtomicBool,
    broken_why: OnceLock<String>,

    /// Mirror of `Sleep::sleeping`, written under the lock, read lock-free by submitters.
    /// (The fields written while tasks flow each have a cache line of their own, so that
    /// a submitter reading `closed` or `spawned` does not miss because a worker just
    /// counted itself spinning or idle.)
    pub(super) sleepers: CachePadded<AtomicUsize>,
    pub(super) sleep: CachePadded<Mutex<Sleep>>,
    pub(super) sleep_cv: Condvar,

    /// Workers spinning for work. At most `max_spinners` spin at once: more would only
    /// burn the CPUs the submitters and busy workers need. While one spins, a submitter
    /// wakes nobody.
    pub(super) spinning: CachePadded<AtomicUsize>,
    pub(super) max_spinners: usize,
    /// Workers that are looking for work (spinning or asleep), counted only while the
    /// pool may still start workers: it is read only to decide whether to start one.
    pub(super) idle: CachePadded<AtomicUsize>,
    /// Worker threads started (never more than `max_workers`) and not yet exited.
    pub(super) spawned: AtomicUsize,
    /// Index for the next worker thread's name and counter slot.
    next_index: AtomicUsize,
    pub(super) threads: Mutex<Vec<std::thread::JoinHandle<()>>>,

    pub(super) counters: Counters,
}

static NEXT_POOL_ID: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(1);

impl Shared {
    pub(super) fn new(config: Config) -> Self {
        let workers = config.max_workers;
        Shared {
            id: NEXT_POOL_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            config,
            queue: Injector::new(),
            stealers: RwLock::new(Arc::from(Vec::new())),
            stealers_generation: CachePadded::new(AtomicUsize::new(0)),
            bounded_len: AtomicUsize::new(0),
            blocked_submitters: AtomicUsize::new(0),
            space: Mutex::new(()),
            space_cv: Condvar::new(),
            closed: AtomicBool::new(false),
            terminate: AtomicBool::new(false),
            detached: AtomicBool::new(false),
            broken: AtomicBool::new(false),
            broken_why: OnceLock::new(),
            sleepers: CachePadded::new(AtomicUsize::new(0)),
            sleep: CachePadded::new(Mutex::new(Sleep::default())),
            sleep_cv: Condvar::new(),
            spinning: CachePadded::new(AtomicUsize::new(0)),
            max_spinners: std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1)),
            idle: CachePadded::new(AtomicUsize::new(0)),
            spawned: AtomicUsize::new(0),
            next_index: AtomicUsize::new(0),
            threads: Mutex::new(Vec::new()),
            counters: Counters::new(workers),
        }
    }

    /// Why the pool accepts no task, if it does not.
    pub(super) fn refusal(&self) -> Option<TaskError> {
        if self.broken.load(Ordering::Acquire) {
            Some(self.broken_error())
        } else if self.closed.load(Ordering::Acquire) {
            Some(TaskError::Shutdown)
        } else {
            None
        }
    }

    /// The error that tasks of a broken pool get.
    pub(super) fn broken_error(&self) -> TaskError {
        let why = self
            .broken_why
            .get()
            .map_or("unknown reason", String::as_str);
        TaskError::Broken(why.to_owned())
    }

    /// Offers `task` to the pool, applying the queue bound's policy. `this` is the same
    /// task, borrowed from the caller's own reference (its handle): the queue takes
    /// `task`, and the caller never pays for a second reference count.
    pub(super) fn place(self: &Arc<Self>, task: Task, this: &dyn Run) -> Placed {
        if let Some(err) = self.refusal() {
            return Placed::Refused(err);
        }
        if let Some((capacity, policy)) = self.config.bound {
            if !self.reserve(capacity) {
                match policy {
                    FullPolicy::Reject => return Placed::Refused(TaskError::Rejected),
                    FullPolicy::CallerRuns => return self.run_in_caller(this),
                    // A worker of this pool blocking on its own queue would be one
                    // worker fewer to drain it: it runs the task itself instead.
                    FullPolicy::Block if super::worker::is_worker_of(self.id) => {
                        return self.run_in_caller(this)
                    }
                    FullPolicy::Block => {
                        if let Err(err) = self.reserve_blocking(capacity) {
                            return Placed::Refused(err);
                        }
                    }
                }
            }
        }
        self.push(task, this);
        Placed::Queued
    }

    /// Runs `task` on the submitting thread, counted in the callers' slot.
    fn run_in_caller(&self, task: &dyn Run) -> Placed {
        self.counters.caller().run(|hook| task.run(hook), || {});
        Placed::RanHere
    }

    /// Tries to take a place in a bounded queue without waiting. Public to `try_submit`.
    pub(super) fn reserve(&self, capacity: usize) -> bool {
        self.bounded_len
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < capacity).then_some(n + 1)
            })
            .is_ok()
    }

    fn reserve_blocking(&self, capacity: usize) -> Result<(), TaskError> {
        let mut g = lock(&self.space);
        self.blocked_submitters.fetch_add(1, Ordering::SeqCst);
        let result = loop {
            if let Some(err) = self.refusal() {
                break Err(err);
            }
            if self.reserve(capacity) {
                break Ok(());
            }
            g = cv_wait(&self.space_cv, g);
        };
        self.blocked_submitters.fetch_sub(1, Ordering::SeqCst);
        drop(g);
        result
    }

    fn notify_space(&self) {
        if self.blocked_submitters.load(Ordering::SeqCst) > 0 {
            let _g = lock(&self.space);
            self.space_cv.notify_all();
        }
    }

    /// Queues the task, then wakes or starts a worker. If the pool closed or broke
    /// meanwhile, fails the task (unless a worker already took it): see the module docs.
    /// `this` is the same task, borrowed from the caller's reference (see `place`).
    pub(super) fn push(self: &Arc<Self>, task: Task, this: &dyn Run) {
        self.queue.push(task);
        crate::sync::increment_then_fence(&self.counters.pushed);
        if self.closed.load(Ordering::SeqCst) {
            this.abort(TaskError::Shutdown);
        } else if self.broken.load(Ordering::SeqCst) {
            this.abort(self.broken_error());
        } else {
            self.wake_or_spawn();
        }
    }

    /// Makes sure someone will run what is queued: Python's rule first (a task that finds
    /// no idle worker gets a new thread, up to `max_workers`), then a wake-up if nobody
    /// is spinning.
    pub(super) fn wake_or_spawn(self: &Arc<Self>) {
        if self.spawned.load(Ordering::Relaxed) < self.config.max_workers {
            // `idle` first: see the worker loop for why the order matters.
            let idle = self.idle.load(Ordering::SeqCst);
            if self.counters.queued() > idle {
                self.spawn_worker();
            }
        }
        if self.spinning.load(Ordering::SeqCst) > 0 {
            // A worker is looking for work right now and will find this task.
            return;
        }
        if self.sleepers.load(Ordering::SeqCst) > 0 {
            self.wake_one();
        }
    }

    pub(super) fn wake_one(&self) {
        let mut s = lock(&self.sleep);
        if s.sleeping > 0 {
            s.sleeping -= 1;
            s.wakes += 1;
            self.sleepers.store(s.sleeping, Ordering::SeqCst);
            self.sleep_cv.notify_one();
        }
    }

    /// Starts one more worker thread if the pool is open and below `max_workers`.
    fn spawn_worker(self: &Arc<Self>) {
        // Under the lock shutdown joins under, so it joins every thread started. Shutdown
        // holds that lock while it joins the workers, and a worker may be here (passing
        // on work): so never wait for the lock once the pool is closed.
        let mut threads = loop {
            if self.closed.load(Ordering::SeqCst) {
                return;
            }
            match self.threads.try_lock() {
                Ok(g) => break g,
                Err(std::sync::TryLockError::Poisoned(p)) => break p.into_inner(),
                Err(std::sync::TryLockError::WouldBlock) => std::thread::yield_now(),
            }
        };
        if self.closed.load(Ordering::SeqCst) {
            return;
        }
        // Decide again under the lock: a submitter and a worker passing on a batch may
        // both have counted the same waiting task before either's new worker counted as
        // idle, and only one thread is owed to it. (`idle` first, as in `wake_or_spawn`.)
        let idle = self.idle.load(Ordering::SeqCst);
        if self.counters.queued() <= idle {
            return;
        }
        let reserved = self
            .spawned
            .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |n| {
                (n < self.config.max_workers).then_some(n + 1)
            })
            .is_ok();
        if !reserved {
            return;
        }
        // The new worker counts as idle from now until it takes its first task: it is on
        // its way to the queue, and a submitter (or a worker passing on a batch) that
        // counted only running workers would start a thread for a task it will take.
        self.idle.fetch_add(1, Ordering::SeqCst);
        let index = self.next_index.fetch_add(1, Ordering::Relaxed);
        let mut builder =
            std::thread::Builder::new().name(format!("{}-{index}", self.config.name_prefix));
        if let Some(size) = self.config.stack_size {
            builder = builder.stack_size(size);
        }
        let shared = Arc::clone(self);
        // Slots are reused by index modulo their number: a worker that replaces an exited
        // one (never in this pool today) would share its slot, which stays correct.
        let slot = index % self.config.max_workers;
        match builder.spawn(move || worker::main(shared, slot)) {
            Ok(thread) => threads.push(thread),
            Err(err) => {
                drop(threads);
                self.idle.fetch_sub(1, Ordering::SeqCst);
                let left = self.spawned.fetch_sub(1, Ordering::AcqRel) - 1;
                if left == 0 {
                    self.break_pool(format!("could not start a worker thread: {err}"));
                } else {
                    log::warn!("concur: could not start another worker thread: {err}");
                }
            }
        }
    }

    /// Takes one task from the shared queue or, failing that, from a worker's local
    /// queue. Used by threads that are not workers (shutdown, a broken pool's drain).
    fn take_any(&self) -> Option<Task> {
        if let Some(task) = self.queue.pop() {
            return Some(task);
        }
        let stealers = read(&self.stealers);
        stealers.iter().find_map(|s| steal_from(|| s.steal()))
    }

    /// Moves a batch of tasks from the shared queue into `local` and returns one of them,
    /// with whether more are waiting in the shared queue.
    pub(super) fn steal_batch(&self, local: &Worker<Task>) -> Option<(Task, bool)> {
        self.queue.steal_batch_and_pop(local, BATCH)
    }

    /// Registers a new worker's local queue so others can steal from it; returns its
    /// position among the stealers.
    pub(super) fn register(&self, local: &Worker<Task>) -> usize {
        let mut stealers = write(&self.stealers);
        let mut all = stealers.to_vec();
        all.push(local.stealer());
        *stealers = Arc::from(all);
        // Under the lock, so the generation a reader sees is never older than the list.
        self.stealers_generation.fetch_add(1, Ordering::SeqCst);
        stealers.len() - 1
    }

    /// The current list of stealers, for a worker's copy.
    pub(super) fn stealers(&self) -> Stealers {
        let list = read(&self.stealers);
        Stealers {
            generation: self.stealers_generation.load(Ordering::SeqCst),
            list: Arc::clone(&list),
        }
    }

    /// A task was taken to run (or to fail): frees its place in a bounded queue.
    pub(super) fn taken(&self) {
        if self.config.bound.is_some() {
            self.bounded_len.fetch_sub(1, Ordering::SeqCst);
            self.notify_space();
        }
    }

    /// `true` if no task is in the shared queue or on its way in (see
    /// `Injector::is_drained`): what a worker checks before it exits at shutdown.
    pub(super) fn queue_is_drained(&self) -> bool {
        self.queue.is_drained()
    }

    /// `true` if the shared queue is empty (workers' local queues are not looked at).
    pub(super) fn queue_is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Fails every task still in the queue with `err`.
    pub(super) fn fail_queued(&self, err: &TaskError) {
        let slot = self.counters.caller();
        while let Some(task) = self.take_any() {
            self.taken();
            slot.dequeued();
            task.abort(err.clone());
        }
    }

    pub(super) fn is_broken(&self) -> bool {
        self.broken.load(Ordering::Acquire)
    }

    /// Marks the pool broken (its initializer failed) and fails what is queued.
    pub(super) fn break_pool(&self, why: String) {
        let _ = self.broken_why.set(why);
        self.broken.store(true, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        self.fail_queued(&self.broken_error());
        self.notify_space_all();
    }

    fn notify_space_all(&self) {
        let _g = lock(&self.space);
        self.space_cv.notify_all();
    }

    /// Stops accepting tasks and releases submitters blocked on a full queue.
    pub(super) fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        self.notify_space_all();
    }

    /// Tells the workers to exit once the queue is empty, and wakes them all.
    pub(super) fn terminate(&self) {
        self.terminate.store(true, Ordering::SeqCst);
        let _s = lock(&self.sleep);
        self.sleep_cv.notify_all();
    }

    pub(super) fn stats(&self) -> PoolStats {
        self.counters.snapshot(self.spawned.load(Ordering::Relaxed))
    }
}

/// A worker's copy of the stealers: reading it takes no lock, so idle workers looking
/// at each other's queues write to no shared cache line.
pub(super) struct Stealers {
    generation: usize,
    list: Arc<[Stealer<Task>]>,
}

impl Stealers {
    /// Brings the copy up to date if a worker registered since it was taken. Called after
    /// a fence (the sleep and baton checks), it sees every worker registered before that
    /// fence, which is what the wake-up protocol needs: a worker publishes work only after
    /// it registered.
    pub(super) fn refresh(&mut self, shared: &Shared) {
        if shared.stealers_generation.load(Ordering::SeqCst) != self.generation {
            *self = shared.stealers();
        }
    }

    /// `true` if some worker's local queue holds tasks (which an idle worker can steal).
    pub(super) fn any_work(&self) -> bool {
        self.list.iter().any(|s| !s.is_empty())
    }

    /// Steals half of another worker's local queue into `local`, starting after `me`.
    pub(super) fn steal(&self, local: &Worker<Task>, me: usize) -> Option<Task> {
        let n = self.list.len();
        (1..n).find_map(|k| steal_from(|| self.list[(me + k) % n].steal_batch_and_pop(local)))
    }
}

/// Retries a steal until it succeeds or finds nothing.
fn steal_from(mut steal: impl FnMut() -> Steal<Task>) -> Option<Task> {
    loop {
        match steal() {
            Steal::Success(task) => return Some(task),
            Steal::Empty => return None,
            Steal::Retry => std::hint::spin_loop(),
        }
    }
}
