//! The window of tasks in flight behind both pools' `map` and `map_unordered`: one
//! engine for the thread pool and the process pool, which differ only in how they submit
//! a unit of work ([`Feed`]).
//!
//! A *unit* is one submission: one item on the thread pool, a chunk of items on the
//! process pool. A unit *lands* when its work is over (returned, panicked, or dropped
//! without running); the pool reports that to the [`Window`] (a thread-pool task from
//! inside its closure, a process-pool chunk through a [`Notify`] on its handle), which
//! counts the units not landed and, for `map_unordered`, queues the landed ones in the
//! order they landed.
//!
//! In order ([`InOrder`]): `base` units are kept in flight. The window grows, up to `cap`
//! items, wherever the workers would otherwise run out of work: when the consumer waits
//! for the head of the window and at most `base / 2` units are still unfinished (the
//! head is a big item, the workers are running out of work behind it), more units are
//! submitted while it waits, the window doubling each time (woken early enough, at a
//! quarter of the window still unfinished, to refill before the workers run dry), and
//! the window keeps that size for the rest of the map (a head that held the workers up
//! once will again); and when the consumer comes back (from its own work, or
//! from not being scheduled) to find the workers run dry, the number of units kept
//! unfinished doubles. So a lopsided input keeps every worker busy, a consumer that
//! keeps up never sees more than `base` units in flight, and memory stays bounded by
//! `cap` either way.
//!
//! As completed ([`AsDone`]): `base` units in flight, each yielded as it lands, so no
//! unit waits behind another; the window grows (up to `cap` items) only when the
//! consumer comes back to find the workers run dry, as above.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

use super::{JoinHandle, Notify, TaskError};
use crate::sync::Arc;

/// Locks `m`, ignoring poisoning (no critical section here can panic halfway). `std`'s
/// mutex even under loom, whose models do not cover the window.
fn relock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The slot a [`Notify`] on the head uses: it only wakes the consumer.
const HEAD: usize = usize::MAX;

/// How long a consumer that caught up with the workers lets results gather before it is
/// woken by one (see `InOrder::wait_head`).
const COALESCE: Duration = Duration::from_millis(1);

/// Where the units of one map report that they landed.
#[derive(Default)]
pub(crate) struct Window {
    /// Units submitted that have not landed.
    unfinished: AtomicUsize,
    /// The slots of landed units, in landing order (kept by `AsDone` only).
    landed: Mutex<VecDeque<usize>>,
    /// `true` while `AsDone` owns this window: then landings are queued.
    queue_landings: AtomicBool,
    /// The consumer is parked, or about to park: a landing that leaves at most `low`
    /// units unfinished must wake it.
    waiting: AtomicBool,
    /// See `waiting`; `usize::MAX` (every landing wakes) unless the consumer lowered it.
    low: AtomicUsize,
    consumer: Mutex<Option<Thread>>,
}

impl Window {
    /// The unit in `slot` landed.
    pub(crate) fn land(&self, slot: usize) {
        if self.queue_landings.load(Ordering::Relaxed) {
            relock(&self.landed).push_back(slot);
        }
        let left = self.unfinished.fetch_sub(1, Ordering::SeqCst) - 1;
        if left <= self.low.load(Ordering::Relaxed) {
            self.wake();
        }
    }

    fn wake(&self) {
        if self.waiting.load(Ordering::SeqCst) {
            if let Some(t) = &*relock(&self.consumer) {
                t.unpark();
            }
        }
    }

    fn unfinished(&self) -> usize {
        self.unfinished.load(Ordering::SeqCst)
    }

    fn pop_landed(&self) -> Option<usize> {
        relock(&self.landed).pop_front()
    }

    /// Parks this thread until `ready()` or `deadline`; `false` if the deadline passed
    /// first. Every landing (and the head's [`Notify`]) wakes it to look again.
    fn park_until(&self, deadline: Option<Instant>, mut ready: impl FnMut() -> bool) -> bool {
        *relock(&self.consumer) = Some(thread::current());
        self.waiting.store(true, Ordering::SeqCst);
        let ok = loop {
            // After `waiting` is set: a landing either is seen here or sees `waiting`.
            if ready() {
                break true;
            }
            match deadline {
                None => thread::park(),
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        break ready();
                    }
                    thread::park_timeout(d - now);
                }
            }
        };
        self.waiting.store(false, Ordering::SeqCst);
        ok
    }
}

impl Notify for Window {
    fn notify(&self, slot: usize, _failed: bool) {
        if slot == HEAD {
            self.wake();
        } else {
            self.land(slot);
        }
    }
}

/// Reports to its window, when dropped, that a thread-pool unit landed: the pool's task
/// owns it, so it drops when the task returns, panics, or is dropped unrun (cancelled,
/// refused, failed by a shutdown).
pub(crate) struct Landing {
    window: Arc<Window>,
    slot: usize,
}

impl Landing {
    pub(crate) fn new(window: &Arc<Window>, slot: usize) -> Self {
        Landing {
            window: Arc::clone(window),
            slot,
        }
    }
}

impl Drop for Landing {
    fn drop(&mut self) {
        self.window.land(self.slot);
    }
}

/// Registers `handle` to land in `window` under `slot` when it finishes (a process-pool
/// unit); lands it now if it already has.
pub(crate) fn land_when_done<T>(handle: &JoinHandle<T>, window: &Arc<Window>, slot: usize) {
    let notify: Arc<dyn Notify> = window.clone();
    if handle.core().add_notify(notify, slot).is_none() {
        window.land(slot);
    }
}

/// How a map submits its work.
pub(crate) trait Feed {
    /// What a unit's handle yields.
    type Out;
    /// Submits the next unit, arranging that it lands in `window` under `slot` (see
    /// [`Landing`], [`land_when_done`]); returns its handle and how many items it holds,
    /// or `None` once the input is exhausted.
    fn submit(
        &mut self,
        window: &Arc<Window>,
        slot: usize,
    ) -> Option<(JoinHandle<Self::Out>, usize)>;
    /// Takes no more input (the map timed out).
    fn close(&mut self);
    /// `true` if this thread must not park waiting for the pool (a worker of the very
    /// pool, whose waits run the task inline instead).
    fn must_not_park(&self) -> bool {
        false
    }
}

/// One submission: the handle of `len` consecutive items, the first at input index `first`.
pub(crate) struct Unit<T> {
    pub(crate) handle: JoinHandle<T>,
    pub(crate) first: usize,
    pub(crate) len: usize,
}

/// The window of a map, however its units are consumed.
struct Engine<S> {
    feed: S,
    window: Arc<Window>,
    /// Units kept in flight.
    base: usize,
    /// The most items in the window, while growing behind an unfinished head.
    cap: usize,
    /// Items in the window (submitted, not yielded).
    items: usize,
    /// The input index of the next item submitted.
    next_index: usize,
    exhausted: bool,
    deadline: Option<Instant>,
    /// The deadline passed: the iteration has ended.
    ended: bool,
}

impl<S> Engine<S> {
    fn set_timeout(&mut self, d: Duration) {
        self.deadline = Instant::now().checked_add(d);
    }
}

impl<S: Feed> Engine<S> {
    fn new(feed: S, base: usize, cap: usize, queue_landings: bool) -> Self {
        assert!(base > 0, "concur: map needs at least one task in flight");
        let window = Arc::new(Window::default());
        window
            .queue_landings
            .store(queue_landings, Ordering::Relaxed);
        window.low.store(usize::MAX, Ordering::Relaxed);
        Engine {
            feed,
            window,
            base,
            cap: cap.max(base),
            items: 0,
            next_index: 0,
            exhausted: false,
            deadline: None,
            ended: false,
        }
    }

    /// Submits one more unit under `slot`; `None` once the input is exhausted.
    fn submit(&mut self, slot: usize) -> Option<Unit<S::Out>> {
        if self.exhausted || self.ended {
            return None;
        }
        // Counted first: the unit can land before `submit` returns.
        self.window.unfinished.fetch_add(1, Ordering::SeqCst);
        match self.feed.submit(&self.window, slot) {
            Some((handle, len)) => {
                let unit = Unit {
                    handle,
                    first: self.next_index,
                    len,
                };
                self.next_index += len;
                self.items += len;
                Some(unit)
            }
            None => {
                self.window.unfinished.fetch_sub(1, Ordering::SeqCst);
                self.exhausted = true;
                None
            }
        }
    }

    fn end(&mut self) {
        self.ended = true;
        self.feed.close();
    }
}

/// `map`: units yielded in input order.
pub(crate) struct InOrder<S, T> {
    core: Engine<S>,
    in_flight: VecDeque<Unit<T>>,
    /// Units to keep unfinished (work the workers have): `base`, doubled (up to `cap`
    /// items in the window) each time the consumer comes back to find them run dry.
    target: usize,
}

impl<S: Feed<Out = T>, T> InOrder<S, T> {
    /// `base` units in flight, growing up to `cap` items behind an unfinished head.
    /// Submits the first units now (the work starts at once, as Python's map does).
    pub(crate) fn new(feed: S, base: usize, cap: usize) -> Self {
        let mut this = InOrder {
            core: Engine::new(feed, base, cap, false),
            in_flight: VecDeque::with_capacity(base.min(1024)),
            target: base,
        };
        this.fill();
        this
    }

    fn fill(&mut self) {
        let core = &mut self.core;
        // Past `base` only once the target was raised: a consumer that keeps up never
        // has more than `base` units ahead of it.
        while self.in_flight.len() < core.base
            || (self.target > core.base
                && core.window.unfinished() < self.target
                && core.items < core.cap)
        {
            match core.submit(0) {
                Some(unit) => self.in_flight.push_back(unit),
                None => break,
            }
        }
    }

    /// The next unit in input order, finished unless the caller's `join` may run it here
    /// (see [`Feed::must_not_park`]); `Err(TimedOut)` once, at the deadline.
    pub(crate) fn next(&mut self) -> Option<Result<Unit<T>, TaskError>> {
        if self.core.ended {
            return None;
        }
        let core = &self.core;
        if !core.exhausted
            && core.cap > core.base
            && core.window.unfinished() < (core.base / 2).max(1)
        {
            // The workers ran (nearly) dry while the consumer was away (busy, or not
            // scheduled): keep more work in flight from now on.
            self.target = (2 * self.target).min(core.cap);
        }
        self.fill();
        if self.in_flight.is_empty() {
            return None;
        }
        if !self.wait_head() {
            self.core.end();
            for unit in self.in_flight.drain(..) {
                unit.handle.cancel();
            }
            return Some(Err(TaskError::TimedOut));
        }
        let unit = self.in_flight.pop_front()?;
        self.core.items -= unit.len;
        self.fill();
        Some(Ok(unit))
    }

    /// Waits for the head of the window, growing it while workers would idle behind it;
    /// `false` if the deadline passed first.
    fn wait_head(&mut self) -> bool {
        let head = &self.in_flight[0].handle;
        if head.is_finished() {
            return true;
        }
        let grows = self.core.cap > self.core.base;
        if self.core.feed.must_not_park() || !grows {
            return match self.core.deadline {
                // `join` waits (or runs it here, on a worker of its pool).
                None => true,
                Some(d) => head.wait_timeout(d.saturating_duration_since(Instant::now())),
            };
        }
        // Most heads are a moment from done: look again a little before parking.
        for round in 0..crate::sync::SPIN_PAUSE_ROUNDS {
            if self.in_flight[0].handle.is_finished() {
                return true;
            }
            crate::sync::spin_pause(round);
        }
        // Woken when the workers are about to run dry: at most one unit each left.
        let low = (2 * self.core.base).max(self.in_flight.len() / 4);
        self.core.window.low.store(low, Ordering::Relaxed);
        let mut registered = false;
        // The consumer caught up with the workers. Woken by every head that lands, it
        // would be switched in once per item, on cores the workers fill: a context switch
        // away from a worker each time (most of what concur's map lost to rayon on the
        // lopsided benchmark). So it first lets the heads gather for up to `COALESCE`,
        // woken early only when the workers are about to run dry, and then yields all
        // that landed meanwhile in one go: at most `COALESCE` more latency per result,
        // paid only by a consumer that keeps up with many units in flight.
        let mut coalesced = false;
        loop {
            let head = &self.in_flight[0].handle;
            if head.is_finished() {
                return true;
            }
            let core = &mut self.core;
            if core.window.unfinished() <= low && !core.exhausted && core.items < core.cap {
                // Grow in batches, bigger as the window grows, so that the consumer
                // wakes a few times per big item, not once per small one.
                let high = (4 * core.base).max(2 * self.in_flight.len());
                while core.window.unfinished() < high && core.items < core.cap {
                    match core.submit(0) {
                        Some(unit) => self.in_flight.push_back(unit),
                        None => break,
                    }
                }
                // A head that held the workers up once will again: keep this much
                // work in flight from now on (up to `cap`).
                self.target = self.target.max(high.min(core.cap));
                continue;
            }
            if !coalesced {
                coalesced = true;
                let core = &self.core;
                let window = &core.window;
                let gather = Instant::now() + COALESCE;
                let until = core.deadline.map_or(gather, |d| d.min(gather));
                // Woken early when the workers are about to run dry, whether the window
                // can grow (it then grows) or not (the head, once done, frees room: a map
                // of a few big chunks, as the process pool's, must not wait here).
                let running_dry = window.park_until(Some(until), || window.unfinished() <= low);
                if !running_dry && core.deadline.is_some_and(|d| Instant::now() >= d) {
                    return self.in_flight[0].handle.is_finished();
                }
                continue;
            }
            let head = &self.in_flight[0].handle;
            if !registered {
                let notify: Arc<dyn Notify> = self.core.window.clone();
                if head.core().add_notify(notify, HEAD).is_none() {
                    return true;
                }
                registered = true;
            }
            let core = &self.core;
            let can_grow = !core.exhausted && core.items < core.cap;
            let window = &core.window;
            let woke = window.park_until(core.deadline, || {
                head.is_finished() || (can_grow && window.unfinished() <= low)
            });
            if !woke {
                return false;
            }
        }
    }
}

impl<S, T> InOrder<S, T> {
    pub(crate) fn set_timeout(&mut self, d: Duration) {
        self.core.set_timeout(d);
    }

    pub(crate) fn feed_mut(&mut self) -> &mut S {
        &mut self.core.feed
    }

    pub(crate) fn feed(&self) -> &S {
        &self.core.feed
    }

    /// Units in the window.
    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Items in the window.
    pub(crate) fn items_in_flight(&self) -> usize {
        self.core.items
    }
}

impl<S, T> Drop for InOrder<S, T> {
    /// Cancels the units not yielded: nobody will read them.
    fn drop(&mut self) {
        for unit in self.in_flight.drain(..) {
            unit.handle.cancel();
        }
    }
}

/// `map_unordered`: units yielded as they land.
pub(crate) struct AsDone<S, T> {
    core: Engine<S>,
    /// Units in the window by slot; `None`: a free slot (listed in `free`).
    slots: Vec<Option<Unit<T>>>,
    free: Vec<usize>,
    live: usize,
    /// Units to keep in flight: `base`, doubled (up to `cap` items) each time the
    /// consumer comes back to find the workers run dry, as for [`InOrder`].
    target: usize,
}

impl<S: Feed<Out = T>, T> AsDone<S, T> {
    /// `base` units in flight, more (up to `cap` items) if the consumer lags. Submits
    /// the first now.
    pub(crate) fn new(feed: S, base: usize, cap: usize) -> Self {
        let mut this = AsDone {
            core: Engine::new(feed, base, cap, true),
            slots: Vec::with_capacity(base.min(1024)),
            free: Vec::new(),
            live: 0,
            target: base,
        };
        this.fill();
        this
    }

    fn fill(&mut self) {
        while self.live < self.core.base
            || (self.live < self.target && self.core.items < self.core.cap)
        {
            let slot = self.free.pop().unwrap_or(self.slots.len());
            match self.core.submit(slot) {
                Some(unit) => {
                    if slot == self.slots.len() {
                        self.slots.push(Some(unit));
                    } else {
                        self.slots[slot] = Some(unit);
                    }
                    self.live += 1;
                }
                None => {
                    if slot < self.slots.len() {
                        self.free.push(slot);
                    }
                    break;
                }
            }
        }
    }

    fn take(&mut self, slot: usize) -> Unit<T> {
        let unit = self.slots[slot]
            .take()
            .expect("concur: a map unit landed twice");
        self.free.push(slot);
        self.live -= 1;
        self.core.items -= unit.len;
        unit
    }

    /// The next unit to land (finished, or about to: a thread-pool task lands as its
    /// closure returns, just before its handle has the outcome). At the deadline, once:
    /// `Err(i)`, `i` the smallest input index still unfinished, and every unit in flight
    /// is cancelled.
    pub(crate) fn next(&mut self) -> Option<Result<Unit<T>, usize>> {
        if self.core.ended {
            return None;
        }
        let core = &self.core;
        if !core.exhausted
            && core.cap > core.base
            && core.window.unfinished() < (core.base / 2).max(1)
        {
            // The workers ran (nearly) dry while the consumer was away.
            self.target = (2 * self.target).min(core.cap);
        }
        self.fill();
        if self.live == 0 {
            return None;
        }
        if self.core.feed.must_not_park() {
            // On a worker of the pool: the oldest unit, which `join` may run right here.
            let slot = (0..self.slots.len())
                .filter(|&i| self.slots[i].is_some())
                .min_by_key(|&i| self.slots[i].as_ref().map(|u| u.first))?;
            if let Some(d) = self.core.deadline {
                let h = &self.slots[slot].as_ref()?.handle;
                if !h.wait_timeout(d.saturating_duration_since(Instant::now())) {
                    return Some(self.time_out());
                }
            }
            let unit = self.take(slot);
            self.fill();
            return Some(Ok(unit));
        }
        loop {
            if let Some(slot) = self.core.window.pop_landed() {
                if self.slots.get(slot).is_some_and(Option::is_some) {
                    let unit = self.take(slot);
                    self.fill();
                    return Some(Ok(unit));
                }
                continue;
            }
            let window = Arc::clone(&self.core.window);
            if !window.park_until(self.core.deadline, || !relock(&window.landed).is_empty()) {
                return Some(self.time_out());
            }
        }
    }

    fn time_out(&mut self) -> Result<Unit<T>, usize> {
        let first = self.slots.iter().flatten().map(|u| u.first).min();
        self.core.end();
        self.cancel_all();
        Err(first.unwrap_or(self.core.next_index))
    }
}

impl<S, T> AsDone<S, T> {
    pub(crate) fn set_timeout(&mut self, d: Duration) {
        self.core.set_timeout(d);
    }

    pub(crate) fn feed_mut(&mut self) -> &mut S {
        &mut self.core.feed
    }

    pub(crate) fn feed(&self) -> &S {
        &self.core.feed
    }

    /// Units in the window.
    pub(crate) fn in_flight(&self) -> usize {
        self.live
    }

    /// Items in the window.
    pub(crate) fn items_in_flight(&self) -> usize {
        self.core.items
    }

    fn cancel_all(&mut self) {
        for unit in self.slots.iter_mut().filter_map(Option::take) {
            unit.handle.cancel();
        }
        self.live = 0;
    }
}

impl<S, T> Drop for AsDone<S, T> {
    /// Cancels the units not yielded: nobody will read them.
    fn drop(&mut self) {
        self.cancel_all();
    }
}

/// How many items per worker the default window of `map` may grow to behind an
/// unfinished head (see the module docs).
pub(crate) const GROWTH_PER_WORKER: usize = 1024;

/// The default window of both pools' `map` and `map_unordered`: `2 × workers` units in
/// flight, growing (in order only) up to [`GROWTH_PER_WORKER`]` × workers` items.
pub(crate) fn default_window(workers: usize) -> (usize, usize) {
    let workers = workers.max(1);
    (2 * workers, workers.saturating_mul(GROWTH_PER_WORKER))
}
