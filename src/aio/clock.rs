//! The loop's clock: real time, or a virtual clock for tests ([`pause`], [`resume`],
//! [`advance`], as tokio's `test-util` has them).
//!
//! Every timer of the loop (sleeps, timeouts, intervals) reads this clock. Paused, it
//! stands still until [`advance`] moves it, and when the loop has nothing left to run it
//! jumps straight to the next timer: a test of a one-hour timeout takes no time and
//! always goes the same way.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::runtime::{current, with_current};

/// Set once any loop of the process has paused its clock: until then [`now`] is
/// `Instant::now()` without a look at the loop.
static EVER_PAUSED: AtomicBool = AtomicBool::new(false);

/// The clock of one loop.
pub(super) struct Clock {
    start: Instant,
    /// Set once the clock was ever paused: until then it is plain `Instant::now()`.
    virtualised: Cell<bool>,
    paused: Cell<bool>,
    /// Real elapsed time at the last resume, and the clock's elapsed time then (or, while
    /// paused, now).
    base_real: Cell<Duration>,
    base_virtual: Cell<Duration>,
}

impl Clock {
    pub(super) fn new() -> Self {
        Clock {
            start: Instant::now(),
            virtualised: Cell::new(false),
            paused: Cell::new(false),
            base_real: Cell::new(Duration::ZERO),
            base_virtual: Cell::new(Duration::ZERO),
        }
    }

    pub(super) fn start(&self) -> Instant {
        self.start
    }

    /// Time since the loop started, on this clock.
    pub(super) fn elapsed(&self) -> Duration {
        if !self.virtualised.get() {
            self.start.elapsed()
        } else if self.paused.get() {
            self.base_virtual.get()
        } else {
            self.base_virtual.get() + self.start.elapsed().saturating_sub(self.base_real.get())
        }
    }

    pub(super) fn now(&self) -> Instant {
        if self.virtualised.get() {
            self.start + self.elapsed()
        } else {
            Instant::now()
        }
    }

    pub(super) fn is_paused(&self) -> bool {
        self.paused.get()
    }

    fn pause(&self) {
        if !self.paused.get() {
            // Stopped on a whole millisecond (a jump of under 1 ms): the loop's timers
            // count milliseconds, so `sleep(d)` then `advance(d)` fires it exactly.
            let at = self.elapsed();
            let ms = Duration::from_millis(at.as_millis() as u64);
            let at = if ms < at {
                ms + Duration::from_millis(1)
            } else {
                ms
            };
            self.base_virtual.set(at);
            EVER_PAUSED.store(true, Ordering::Relaxed);
            self.virtualised.set(true);
            self.paused.set(true);
        }
    }

    fn resume(&self) {
        if self.paused.get() {
            self.base_real.set(self.start.elapsed());
            self.paused.set(false);
        }
    }

    /// Moves a paused clock forward by `by`.
    pub(super) fn advance(&self, by: Duration) {
        self.base_virtual.set(self.base_virtual.get() + by);
    }

    /// Moves a paused clock forward to `elapsed` (never back).
    pub(super) fn advance_to(&self, elapsed: Duration) {
        if elapsed > self.base_virtual.get() {
            self.base_virtual.set(elapsed);
        }
    }
}

/// Now, on the running loop's clock (virtual while [`pause`]d); `Instant::now()` outside
/// a loop. Deadlines given to [`sleep_until`](super::sleep_until) and
/// [`timeout_at`](super::timeout_at) are read on this clock: with a paused clock, take
/// them from here rather than from `Instant::now()`.
///
/// ```
/// use std::time::Duration;
/// use concur::aio;
///
/// aio::run(async {
///     aio::time::pause();
///     let before = aio::time::now();
///     aio::time::advance(Duration::from_secs(5)).await;
///     assert_eq!(aio::time::now() - before, Duration::from_secs(5));
/// });
/// ```
pub fn now() -> Instant {
    if !EVER_PAUSED.load(Ordering::Relaxed) {
        // No clock was ever paused (on this thread or any): every loop's is real time.
        return Instant::now();
    }
    with_current(|l| l.map_or_else(Instant::now, |l| l.clock.now()))
}

/// Stops the running loop's clock, for tests: time then moves only by [`advance`], or,
/// when every task waits and no I/O is ready, by jumping to the next timer that is due
/// (so `sleep(Duration::from_secs(3600))` returns at once, and in the right order with
/// the other timers). tokio's `time::pause`. Pausing a paused clock does nothing.
///
/// Only the loop's own timers follow the paused clock: `Instant::now()` does not (use
/// [`now`]), and neither do other threads (a pool's task, a `to_thread` job), so a
/// timeout around those expires as soon as the loop has nothing else to do.
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
///     aio::time::pause();
///     let slow = aio::sleep(Duration::from_secs(3600)); // an hour, in no time at all
///     assert_eq!(aio::timeout(Duration::from_secs(60), slow).await.is_err(), true);
/// });
/// ```
pub fn pause() {
    current("time::pause").clock.pause();
}

/// Lets a paused clock run again at the speed of real time, from where it stands:
/// tokio's `time::resume`. Resuming a running clock does nothing.
///
/// # Panics
///
/// Outside of an event loop.
///
/// ```
/// use concur::aio;
/// aio::run(async {
///     aio::time::pause();
///     aio::time::resume();
///     let t = aio::time::now();
///     std::thread::sleep(std::time::Duration::from_millis(2));
///     assert!(aio::time::now() > t); // running again
/// });
/// ```
pub fn resume() {
    current("time::resume").clock.resume();
}

/// Moves the paused clock forward by `by`, then lets the tasks whose timers came due
/// run before it returns: tokio's `time::advance`.
///
/// # Panics
///
/// Outside of an event loop, or if the clock is not paused.
///
/// ```
/// use std::{cell::Cell, rc::Rc, time::Duration};
/// use concur::aio;
///
/// aio::run(async {
///     aio::time::pause();
///     let fired = Rc::new(Cell::new(false));
///     let f = fired.clone();
///     let t = aio::spawn(async move {
///         aio::sleep(Duration::from_millis(500)).await;
///         f.set(true);
///     });
///     aio::yield_now().await; // let it start its sleep
///     aio::time::advance(Duration::from_millis(499)).await;
///     assert!(!fired.get());
///     aio::time::advance(Duration::from_millis(1)).await;
///     assert!(fired.get());
///     t.await.unwrap();
/// });
/// ```
pub async fn advance(by: Duration) {
    let local = current("time::advance");
    assert!(
        local.clock.is_paused(),
        "concur::aio::time::advance: the clock is not paused (call aio::time::pause() first)"
    );
    local.clock.advance(by);
    drop(local);
    // Timers are fired at the loop's next turn; yielding until then lets the tasks they
    // wake run before this returns.
    super::runtime::yield_to_timers().await;
}
