//! Counters a user can read ([`PoolStats`]) and the per-worker slots they are summed from.

use crossbeam_utils::CachePadded;

use super::job::Ran;
use crate::sync::{AtomicUsize, Ordering};

/// A snapshot of a thread pool's counters, from [`ThreadPoolExecutor::stats`].
///
/// The counters are read one after another while the pool runs, so a snapshot of a busy
/// pool is approximate; a quiet pool's is exact.
///
/// [`ThreadPoolExecutor::stats`]: crate::ThreadPoolExecutor::stats
///
/// ```
/// let pool = concur::ThreadPoolExecutor::new(2);
/// pool.submit(|| ()).join().unwrap();
/// let s = pool.stats();
/// assert_eq!((s.completed, s.panicked, s.running), (1, 0, 0));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct PoolStats {
    /// Tasks waiting in the queue (a cancelled task counts until a worker discards it).
    pub queued: usize,
    /// Tasks running now.
    pub running: usize,
    /// Tasks that returned a value.
    pub completed: usize,
    /// Tasks that panicked.
    pub panicked: usize,
    /// Worker threads started and not yet exited.
    pub workers: usize,
}

/// One thread's counters, on its own cache line. A worker's slot has one writer, itself,
/// so it counts with plain loads and stores; the last slot is shared by every other
/// thread that runs or discards tasks (callers under `FullPolicy::CallerRuns`, shutdown)
/// and counts with atomic additions.
#[derive(Default)]
pub(super) struct Slot {
    shared: bool,
    dequeued: AtomicUsize,
    started: AtomicUsize,
    completed: AtomicUsize,
    panicked: AtomicUsize,
}

impl Slot {
    fn add(&self, counter: &AtomicUsize) {
        if self.shared {
            counter.fetch_add(1, Ordering::Relaxed);
        } else {
            counter.store(counter.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        }
    }

    pub(super) fn dequeued(&self) {
        self.add(&self.dequeued);
    }

    /// Runs a task counted in this slot: started before it runs, finished before its
    /// outcome is published (so a joiner reads counters that include it). `then` runs at
    /// that same moment; `run` is `Run::run` with the hook to call.
    pub(super) fn run(
        &self,
        run: impl FnOnce(&mut dyn FnMut(Ran)) -> Ran,
        mut then: impl FnMut(),
    ) -> Ran {
        self.starting();
        let ran = run(&mut |ran| {
            self.finished(ran);
            then();
        });
        if ran == Ran::Skipped {
            self.finished(ran);
        }
        ran
    }

    /// Counts a task as started before it runs, so `running` sees it.
    fn starting(&self) {
        self.add(&self.started);
    }

    /// Counts the end of a task counted by `starting`.
    fn finished(&self, ran: Ran) {
        match ran {
            Ran::Skipped if self.shared => {
                self.started.fetch_sub(1, Ordering::Relaxed);
            }
            Ran::Skipped => {
                let n = self.started.load(Ordering::Relaxed);
                self.started.store(n - 1, Ordering::Relaxed);
            }
            Ran::Completed => self.add(&self.completed),
            Ran::Panicked => self.add(&self.panicked),
        }
    }
}

/// All slots of a pool, plus the submitters' counter.
pub(super) struct Counters {
    pub(super) pushed: CachePadded<AtomicUsize>,
    pub(super) slots: Box<[CachePadded<Slot>]>,
}

impl Counters {
    /// Slots for `workers` workers and one for callers.
    pub(super) fn new(workers: usize) -> Self {
        Counters {
            pushed: CachePadded::new(AtomicUsize::new(0)),
            slots: (0..=workers)
                .map(|i| {
                    CachePadded::new(Slot {
                        shared: i == workers,
                        ..Slot::default()
                    })
                })
                .collect(),
        }
    }

    /// The slot callers use when they run a task themselves.
    pub(super) fn caller(&self) -> &Slot {
        self.slots.last().expect("there is always a caller slot")
    }

    /// Tasks submitted and not yet taken by a worker (in the shared queue or in a
    /// worker's local queue). Reads every slot: used only while the pool may still grow.
    pub(super) fn queued(&self) -> usize {
        let dequeued: usize = self
            .slots
            .iter()
            .map(|s| s.dequeued.load(Ordering::Relaxed))
            .sum();
        self.pushed.load(Ordering::Relaxed).saturating_sub(dequeued)
    }

    pub(super) fn snapshot(&self, workers: usize) -> PoolStats {
        let (mut dequeued, mut started, mut completed, mut panicked) = (0, 0, 0, 0);
        for s in self.slots.iter() {
            dequeued += s.dequeued.load(Ordering::Relaxed);
            started += s.started.load(Ordering::Relaxed);
            completed += s.completed.load(Ordering::Relaxed);
            panicked += s.panicked.load(Ordering::Relaxed);
        }
        PoolStats {
            queued: self.pushed.load(Ordering::Relaxed).saturating_sub(dequeued),
            running: started.saturating_sub(completed + panicked),
            completed,
            panicked,
            workers,
        }
    }
}
