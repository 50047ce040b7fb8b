//! Timers on the loop's wheel: [`sleep`], [`sleep_until`], [`timeout`], [`interval`].

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use super::introspect::{note_awaiting, Awaiting};
use super::runtime::{current, Local};

pub use super::clock::{advance, now, pause, resume};

/// Waits until `deadline`: `asyncio.sleep` with an absolute time.
///
/// # Panics
///
/// When first polled outside of an event loop.
///
/// ```
/// use std::time::{Duration, Instant};
/// use concur::aio;
///
/// aio::run(async {
///     let deadline = Instant::now() + Duration::from_millis(5);
///     aio::sleep_until(deadline).await;
///     assert!(Instant::now() >= deadline);
/// });
/// ```
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep {
        deadline,
        timer: None,
        yielded: false,
    }
}

/// Waits for `duration`: `asyncio.sleep`. The task yields to the others meanwhile; the
/// thread is not blocked.
///
/// # Panics
///
/// When first polled outside of an event loop.
///
/// ```
/// use std::time::Duration;
/// use concur::aio;
///
/// aio::run(async {
///     let a = aio::spawn(aio::sleep(Duration::from_millis(20)));
///     let b = aio::spawn(aio::sleep(Duration::from_millis(20)));
///     let t = std::time::Instant::now();
///     let _ = (a.await, b.await);
///     assert!(t.elapsed() < Duration::from_millis(40) * 10); // concurrently, not 40 ms
/// });
/// ```
pub fn sleep(duration: Duration) -> Sleep {
    sleep_until(now().checked_add(duration).unwrap_or_else(far_future))
}

fn far_future() -> Instant {
    now() + Duration::from_secs(86_400 * 365 * 30)
}

/// The future of [`sleep`] and [`sleep_until`]. Dropping it cancels the timer (O(1)).
///
/// ```
/// use std::time::Duration;
/// use concur::aio;
/// aio::run(async {
///     let nap: aio::Sleep = aio::sleep(Duration::from_millis(1));
///     nap.await;
/// });
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct Sleep {
    deadline: Instant,
    /// The loop and the timer's key in its wheel, once armed.
    timer: Option<(Rc<Local>, usize)>,
    /// A sleep that is due when first polled still yields once, like `asyncio.sleep(0)`.
    yielded: bool,
}

impl Sleep {
    /// When this sleep ends.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let d = Instant::now() + Duration::from_secs(1);
    /// assert_eq!(concur::aio::sleep_until(d).deadline(), d);
    /// ```
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// `true` once the deadline has passed (whether or not the sleep was awaited):
    /// tokio's `Sleep::is_elapsed`.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use concur::aio;
    /// assert!(aio::sleep_until(Instant::now()).is_elapsed());
    /// assert!(!aio::sleep(Duration::from_secs(3600)).is_elapsed());
    /// ```
    pub fn is_elapsed(&self) -> bool {
        now() >= self.deadline
    }

    /// Moves the deadline (re-arming a sleep that already ended).
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use concur::aio;
    /// aio::run(async {
    ///     let mut s = Box::pin(aio::sleep(Duration::from_secs(3600)));
    ///     s.as_mut().reset(Instant::now());
    ///     s.await; // returns at once
    /// });
    /// ```
    pub fn reset(self: Pin<&mut Self>, deadline: Instant) {
        let this = self.get_mut();
        this.deadline = deadline;
        if let Some((local, key)) = this.timer.take() {
            disarm(&local, key);
        }
        this.yielded = false;
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if let Some((local, key)) = &this.timer {
            if is_current(local) {
                let replaced = {
                    let mut timers = local.timers.borrow_mut();
                    if timers.has_fired(*key) {
                        return Poll::Ready(());
                    }
                    timers.set_waker(*key, cx.waker())
                };
                // Dropped with the wheel released: see `disarm`.
                drop(replaced);
                note_awaiting(Awaiting::Timer {
                    due_ms: local.deadline_ms(this.deadline),
                });
                return Poll::Pending;
            }
            // Armed by a loop that has ended (or is not this one): arm again here.
            let (old, key) = this.timer.take().expect("just matched");
            disarm(&old, key);
        }
        if now() >= this.deadline {
            if this.yielded {
                return Poll::Ready(());
            }
            this.yielded = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let local = current("sleep");
        let ms = local.deadline_ms(this.deadline);
        let key = local.timers.borrow_mut().insert(ms, cx.waker().clone());
        this.timer = Some((local, key));
        note_awaiting(Awaiting::Timer { due_ms: ms });
        Poll::Pending
    }
}

/// `true` if `local` is the loop running on this thread.
fn is_current(local: &Rc<Local>) -> bool {
    super::runtime::with_current(|l| l.is_some_and(|l| std::ptr::eq(l, Rc::as_ptr(local))))
}

/// Removes the timer `key` from `local`'s wheel, dropping its waker only once the wheel
/// is released: a waker's drop may drop other sleeps (the last reference to a future that
/// owns them), whose own `disarm` borrows the wheel again.
fn disarm(local: &Local, key: usize) {
    let waker = local.timers.borrow_mut().remove(key);
    drop(waker);
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let Some((local, key)) = self.timer.take() {
            disarm(&local, key);
        }
    }
}

impl fmt::Debug for Sleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sleep")
            .field("deadline", &self.deadline)
            .finish()
    }
}

/// The error of [`timeout`]: the time ran out before the future finished.
///
/// ```
/// assert_eq!(concur::aio::Elapsed.to_string(), "the time limit expired before the future finished");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed;

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the time limit expired before the future finished")
    }
}

impl std::error::Error for Elapsed {}

/// Runs `future` for at most `duration`: `asyncio.timeout` / `wait_for`. If time runs
/// out, the future is dropped (cancelled at its await point) and the result is
/// `Err(Elapsed)`.
///
/// ```
/// use std::time::Duration;
/// use concur::aio;
///
/// aio::run(async {
///     let slow = aio::sleep(Duration::from_secs(3600));
///     assert_eq!(aio::timeout(Duration::from_millis(5), slow).await, Err(aio::Elapsed));
///     assert_eq!(aio::timeout(Duration::from_secs(5), async { 7 }).await, Ok(7));
/// });
/// ```
pub fn timeout<F: Future>(duration: Duration, future: F) -> Timeout<F> {
    Timeout {
        future,
        sleep: sleep(duration),
    }
}

/// Runs `future` until `deadline` at most: [`timeout`] with an absolute time
/// (`asyncio.timeout_at`, tokio's `timeout_at`). A deadline already past still lets a
/// future that is ready on its first poll finish; otherwise the result is `Err(Elapsed)`.
///
/// ```
/// use std::time::{Duration, Instant};
/// use concur::aio;
///
/// aio::run(async {
///     let deadline = Instant::now() + Duration::from_millis(5);
///     let slow = aio::sleep(Duration::from_secs(3600));
///     assert_eq!(aio::timeout_at(deadline, slow).await, Err(aio::Elapsed));
///     assert_eq!(aio::timeout_at(Instant::now(), async { 7 }).await, Ok(7));
/// });
/// ```
pub fn timeout_at<F: Future>(deadline: Instant, future: F) -> Timeout<F> {
    Timeout {
        future,
        sleep: sleep_until(deadline),
    }
}

/// The future of [`timeout`] and [`timeout_at`]. Its deadline can be read
/// ([`deadline`](Self::deadline), asyncio's `Timeout.when()`) and moved while it runs
/// ([`reset`](Self::reset), asyncio's `Timeout.reschedule()`).
///
/// ```
/// use std::time::Duration;
/// use concur::aio;
/// aio::run(async {
///     let limited: aio::Timeout<_> = aio::timeout(Duration::from_secs(1), async { "fast" });
///     assert_eq!(limited.await, Ok("fast"));
/// });
/// ```
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct Timeout<F> {
    future: F,
    sleep: Sleep,
}

impl<F> Timeout<F> {
    /// When the time runs out: asyncio's `Timeout.when()`.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let d = Instant::now() + Duration::from_secs(1);
    /// assert_eq!(concur::aio::timeout_at(d, async {}).deadline(), d);
    /// ```
    pub fn deadline(&self) -> Instant {
        self.sleep.deadline
    }

    /// Moves the deadline, earlier or later, also while the timeout runs: asyncio's
    /// `Timeout.reschedule()`.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use concur::aio;
    /// aio::run(async {
    ///     let mut t = Box::pin(aio::timeout(Duration::from_millis(1), aio::sleep(Duration::from_secs(3600))));
    ///     let later = Instant::now() + Duration::from_secs(7200);
    ///     t.as_mut().reset(later);
    ///     assert_eq!(t.deadline(), later);
    ///     t.as_mut().reset(Instant::now());
    ///     assert_eq!(t.await, Err(aio::Elapsed));
    /// });
    /// ```
    pub fn reset(self: Pin<&mut Self>, deadline: Instant) {
        // SAFETY: only `sleep`, which is not structurally pinned (it is `Unpin`), is
        // touched; `future` is not moved.
        let this = unsafe { self.get_unchecked_mut() };
        Pin::new(&mut this.sleep).reset(deadline);
    }
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `future` is structurally pinned: never moved out of `self`, and dropped
        // in place; `sleep` is `Unpin` and not pinned.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: as above.
        let future = unsafe { Pin::new_unchecked(&mut this.future) };
        if let Poll::Ready(v) = future.poll(cx) {
            return Poll::Ready(Ok(v));
        }
        // An expired deadline wins over a future that is not ready: the sleep's first
        // poll would yield once before reporting it (as `sleep(ZERO)` does), and the
        // future could finish meanwhile. Once armed, the wheel reports the deadline.
        if this.sleep.timer.is_none() && now() >= this.sleep.deadline {
            return Poll::Ready(Err(Elapsed));
        }
        match Pin::new(&mut this.sleep).poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(Elapsed)),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Ticks every `period`, starting now: for periodic work (`tick().await` in a loop).
/// A late tick does not shift the schedule: the next one stays on the original grid.
///
/// # Panics
///
/// If `period` is zero.
///
/// ```
/// use std::time::Duration;
/// use concur::aio;
///
/// aio::run(async {
///     let mut every = aio::interval(Duration::from_millis(2));
///     for _ in 0..3 {
///         every.tick().await;
///     }
/// });
/// ```
pub fn interval(period: Duration) -> Interval {
    assert!(
        !period.is_zero(),
        "concur::aio::interval: the period must be non-zero"
    );
    Interval {
        next: now(),
        period,
        sleep: None,
        missed: MissedTickBehavior::Skip,
    }
}

/// What an [`Interval`] does when a tick comes late (the task was busy past one or more
/// periods), as tokio's `MissedTickBehavior`. concur's default is [`Skip`](Self::Skip)
/// (tokio's is `Burst`).
///
/// ```
/// use std::time::Duration;
/// use concur::aio::{self, MissedTickBehavior};
/// aio::run(async {
///     let mut iv = aio::interval(Duration::from_millis(1));
///     iv.set_missed_tick_behavior(MissedTickBehavior::Delay);
///     assert_eq!(iv.missed_tick_behavior(), MissedTickBehavior::Delay);
///     iv.tick().await;
/// });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MissedTickBehavior {
    /// The missed ticks all come at once, back to back, then the schedule goes on on its
    /// original grid.
    Burst,
    /// The next tick comes one period after the late one: the grid shifts.
    Delay,
    /// The missed ticks are dropped: the next tick is the grid's next point after now.
    #[default]
    Skip,
}

/// The ticker of [`interval`].
///
/// ```
/// use std::time::Duration;
/// use concur::aio;
/// aio::run(async {
///     let mut every_ms: aio::Interval = aio::interval(Duration::from_millis(1));
///     every_ms.tick().await;
/// });
/// ```
#[derive(Debug)]
pub struct Interval {
    next: Instant,
    period: Duration,
    sleep: Option<Pin<Box<Sleep>>>,
    missed: MissedTickBehavior,
}

impl Interval {
    /// Waits for the next tick and returns its scheduled time.
    ///
    /// ```
    /// use std::time::Duration;
    /// use concur::aio;
    /// aio::run(async {
    ///     let mut iv = aio::interval(Duration::from_millis(1));
    ///     let first = iv.tick().await;
    ///     let second = iv.tick().await;
    ///     assert!(second > first);
    /// });
    /// ```
    pub async fn tick(&mut self) -> Instant {
        let at = self.next;
        match &mut self.sleep {
            Some(s) => s.as_mut().reset(at),
            None => self.sleep = Some(Box::pin(sleep_until(at))),
        }
        if let Some(s) = &mut self.sleep {
            s.as_mut().await;
        }
        let now = now();
        // A period beyond any clock (`Duration::MAX`) puts the next tick in the far future
        // rather than overflowing `Instant` (tokio's
        // `interval_doesnt_panic_max_duration_when_polling`).
        self.next = at.checked_add(self.period).unwrap_or_else(far_future);
        if self.next <= now {
            match self.missed {
                MissedTickBehavior::Burst => {}
                MissedTickBehavior::Delay => {
                    self.next = now.checked_add(self.period).unwrap_or_else(far_future);
                }
                MissedTickBehavior::Skip => {
                    // Missed ticks are skipped, keeping to the grid.
                    let behind = (now - self.next).as_nanos() / self.period.as_nanos() + 1;
                    let behind = u32::try_from(behind).unwrap_or(u32::MAX);
                    self.next = self
                        .next
                        .checked_add(self.period * behind)
                        .or_else(|| now.checked_add(self.period))
                        .unwrap_or_else(far_future);
                }
            }
        }
        at
    }

    /// Sets what happens when ticks are missed (see [`MissedTickBehavior`]).
    ///
    /// ```
    /// use std::time::Duration;
    /// use concur::aio::{self, MissedTickBehavior};
    /// let mut iv = aio::interval(Duration::from_secs(1));
    /// iv.set_missed_tick_behavior(MissedTickBehavior::Burst);
    /// assert_eq!(iv.missed_tick_behavior(), MissedTickBehavior::Burst);
    /// ```
    pub fn set_missed_tick_behavior(&mut self, behavior: MissedTickBehavior) {
        self.missed = behavior;
    }

    /// What happens when ticks are missed.
    ///
    /// ```
    /// use std::time::Duration;
    /// use concur::aio::{self, MissedTickBehavior};
    /// assert_eq!(aio::interval(Duration::from_secs(1)).missed_tick_behavior(), MissedTickBehavior::Skip);
    /// ```
    pub fn missed_tick_behavior(&self) -> MissedTickBehavior {
        self.missed
    }

    /// Restarts the schedule: the next tick comes one period from now (tokio's
    /// `Interval::reset`).
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use concur::aio;
    /// aio::run(async {
    ///     let mut iv = aio::interval(Duration::from_millis(1));
    ///     iv.tick().await;
    ///     let before = Instant::now();
    ///     iv.reset();
    ///     assert!(iv.tick().await >= before + Duration::from_millis(1));
    /// });
    /// ```
    pub fn reset(&mut self) {
        self.next = now().checked_add(self.period).unwrap_or_else(far_future);
    }

    /// The period between ticks.
    ///
    /// ```
    /// use std::time::Duration;
    /// assert_eq!(concur::aio::interval(Duration::from_secs(2)).period(), Duration::from_secs(2));
    /// ```
    pub fn period(&self) -> Duration {
        self.period
    }
}
