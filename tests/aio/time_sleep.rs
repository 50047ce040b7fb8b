//! `aio::Sleep` against tokio's `tokio/tests/time_sleep.rs` (issue 14): `reset` earlier,
//! later, into the past and after firing, and wakers that drop sleeps while the timer
//! fires. All on the virtual clock: nothing here waits for real time to pass.
//!
//! Where concur differs: a sleep that is due when first polled (or first polled after a
//! `reset`) yields once before it is ready, as `asyncio.sleep(0)` does; tokio's is ready
//! at once. The cases below allow that one yield and check the clock did not move.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use concur::aio::{self, Sleep};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Polls `f` once with `waker`.
fn poll_with<F: Future + ?Sized>(f: Pin<&mut F>, waker: &Waker) -> Poll<F::Output> {
    f.poll(&mut Context::from_waker(waker))
}

/// Polls `f` once with the current task's waker (`futures::poll!`).
async fn poll_once<F: Future + Unpin>(f: &mut F) -> Poll<F::Output> {
    let mut f = Some(f);
    std::future::poll_fn(|cx| Poll::Ready(Pin::new(f.take().expect("polled once")).poll(cx))).await
}

/// A waker that counts its wakes.
struct Count(AtomicUsize);

impl Wake for Count {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn resetting_a_pending_sleep_later_moves_its_wake_up_later() {
    // tokio tokio/tests/time_sleep.rs reset_future_sleep_before_fire
    aio::run(async {
        aio::time::pause();
        let start = aio::time::now();
        let mut sleep = Box::pin(aio::sleep_until(start + ms(100)));
        assert!(poll_once(&mut sleep).await.is_pending());
        sleep.as_mut().reset(aio::time::now() + ms(200));
        sleep.await;
        assert_eq!(aio::time::now() - start, ms(200));
    });
}

#[test]
fn resetting_a_pending_sleep_earlier_before_the_loop_turns_wakes_it_earlier() {
    // tokio tokio/tests/time_sleep.rs reset_past_sleep_before_turn
    aio::run(async {
        aio::time::pause();
        let start = aio::time::now();
        let mut sleep = Box::pin(aio::sleep_until(start + ms(100)));
        assert!(poll_once(&mut sleep).await.is_pending());
        sleep.as_mut().reset(start + ms(80));
        sleep.await;
        assert_eq!(aio::time::now() - start, ms(80));
    });
}

#[test]
fn resetting_a_pending_sleep_earlier_after_time_passed_wakes_it_at_the_new_deadline() {
    // tokio tokio/tests/time_sleep.rs reset_past_sleep_before_fire
    aio::run(async {
        aio::time::pause();
        let start = aio::time::now();
        let mut sleep = Box::pin(aio::sleep_until(start + ms(100)));
        assert!(poll_once(&mut sleep).await.is_pending());
        aio::sleep(ms(10)).await;
        sleep.as_mut().reset(start + ms(80));
        sleep.await;
        assert_eq!(aio::time::now() - start, ms(80));
    });
}

#[test]
fn a_fired_sleep_reset_to_a_later_deadline_sleeps_again_until_it() {
    // tokio tokio/tests/time_sleep.rs reset_future_sleep_after_fire
    aio::run(async {
        aio::time::pause();
        let start = aio::time::now();
        let mut sleep = Box::pin(aio::sleep_until(start + ms(100)));
        sleep.as_mut().await;
        assert_eq!(aio::time::now() - start, ms(100));
        sleep.as_mut().reset(start + ms(110));
        sleep.await;
        assert_eq!(aio::time::now() - start, ms(110));
    });
}

#[test]
fn a_pending_sleep_reset_into_the_past_completes_without_the_clock_moving() {
    // tokio tokio/tests/time_sleep.rs reset_sleep_to_past
    aio::run(async {
        aio::time::pause();
        let start = aio::time::now();
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let mut sleep = Box::pin(aio::sleep_until(start + ms(100)));
        assert!(poll_with(sleep.as_mut(), &waker).is_pending());
        aio::sleep(ms(50)).await;
        assert_eq!(
            count.0.load(Ordering::SeqCst),
            0,
            "not woken before its time"
        );
        sleep.as_mut().reset(start + ms(40));
        // concur yields once (and wakes itself) where tokio is ready at once.
        if poll_with(sleep.as_mut(), &waker).is_pending() {
            assert_eq!(
                count.0.load(Ordering::SeqCst),
                1,
                "the yield wakes the task"
            );
            assert!(poll_with(sleep.as_mut(), &waker).is_ready());
        }
        assert_eq!(aio::time::now() - start, ms(50));
    });
}

#[test]
fn a_fired_sleep_reset_far_ahead_is_pending_again() {
    // tokio tokio/tests/time_sleep.rs reset_after_firing
    aio::run(async {
        aio::time::pause();
        let mut timer = Box::pin(aio::sleep(ms(1)));
        let deadline = timer.deadline();
        timer.as_mut().await;
        assert!(poll_with(timer.as_mut(), Waker::noop()).is_ready());
        timer
            .as_mut()
            .reset(aio::time::now() + Duration::from_secs(600));
        assert_ne!(deadline, timer.deadline());
        assert!(poll_with(timer.as_mut(), Waker::noop()).is_pending());
        assert!(poll_with(timer.as_mut(), Waker::noop()).is_pending());
        assert!(!timer.is_elapsed());
    });
}

#[test]
fn a_sleep_rescheduled_into_another_slot_can_be_dropped_after_its_old_slot_fired() {
    // tokio tokio/tests/time_sleep.rs drop_after_reschedule_at_new_scheduled_time
    aio::run(async {
        aio::time::pause();
        let start = aio::time::now();
        let mut a = Box::pin(aio::sleep(ms(5)));
        let mut b = Box::pin(aio::sleep(ms(5)));
        let mut c = Box::pin(aio::sleep(ms(10)));
        let _ = poll_once(&mut a).await;
        let _ = poll_once(&mut b).await;
        let _ = poll_once(&mut c).await;
        b.as_mut().reset(start + ms(10));
        a.await;
        assert_eq!(aio::time::now() - start, ms(5));
        drop(b);
        c.await;
        assert_eq!(aio::time::now() - start, ms(10));
    });
}

/// Sleeps kept by a waker. Only the loop's thread touches them (the wakers below are
/// woken and dropped by the loop): the `Send`/`Sync` that `Waker::from` asks for is never
/// used across threads.
struct Sleeps(Mutex<Vec<Pin<Box<Sleep>>>>);

// SAFETY: see above: the sleeps never leave the test's loop thread.
unsafe impl Send for Sleeps {}
// SAFETY: as above.
unsafe impl Sync for Sleeps {}

/// Drops every sleep of the list when woken, noting a panic there.
struct DropOnWake {
    panicked: AtomicBool,
    list: Arc<Sleeps>,
}

impl Wake for DropOnWake {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let taken = std::mem::take(&mut *self.list.0.lock().unwrap());
            drop(taken);
        }));
        if r.is_err() {
            self.panicked.store(true, Ordering::SeqCst);
        }
    }
}

#[test]
fn a_waker_may_drop_other_sleeps_when_the_timer_wakes_it() {
    // tokio tokio/tests/time_sleep.rs drop_from_wake
    aio::run(async {
        aio::time::pause();
        let list = Arc::new(Sleeps(Mutex::new(Vec::new())));
        let wake = Arc::new(DropOnWake {
            panicked: AtomicBool::new(false),
            list: list.clone(),
        });
        let waker = Waker::from(wake.clone());
        for _ in 0..100 {
            let mut timer = Box::pin(aio::sleep(ms(10)));
            assert!(poll_with(timer.as_mut(), &waker).is_pending());
            list.0.lock().unwrap().push(timer);
        }
        drop(waker);
        aio::sleep(ms(11)).await;
        assert!(
            !wake.panicked.load(Ordering::SeqCst),
            "panicked when dropping timers"
        );
        assert!(list.0.lock().unwrap().is_empty(), "the wake dropped them");
    });
}

/// A waker that owns sleeps: its last drop drops them.
struct OwnsSleeps {
    _sleeps: Sleeps,
}

impl Wake for OwnsSleeps {
    fn wake(self: Arc<Self>) {}
}

#[test]
fn a_waker_whose_drop_drops_other_sleeps_may_be_dropped_by_the_timer() {
    // tokio tokio/tests/time_sleep.rs drop_from_wake (the waker's drop, not its wake,
    // drops the sleeps: the wheel drops a waker when a sleep is dropped, re-polled with
    // another waker, or reset)
    aio::run(async {
        aio::time::pause();
        // Each case: a sleep polled with a waker that owns other armed sleeps, then that
        // waker released by the wheel in one of the three ways.
        for how in ["drop", "repoll", "reset"] {
            let owned: Vec<_> = (0..10)
                .map(|i| {
                    let mut s = Box::pin(aio::sleep(ms(10 + i)));
                    assert!(poll_with(s.as_mut(), Waker::noop()).is_pending());
                    s
                })
                .collect();
            let waker = Waker::from(Arc::new(OwnsSleeps {
                _sleeps: Sleeps(Mutex::new(owned)),
            }));
            let mut sleep = Box::pin(aio::sleep(ms(5)));
            assert!(poll_with(sleep.as_mut(), &waker).is_pending());
            drop(waker); // the wheel holds the last reference
            match how {
                "drop" => drop(sleep),
                "repoll" => {
                    assert!(poll_with(sleep.as_mut(), Waker::noop()).is_pending());
                    sleep.await;
                }
                _ => {
                    sleep.as_mut().reset(aio::time::now() + ms(1));
                    sleep.await;
                }
            }
        }
        // The wheel is whole: a sleep still fires on time.
        let start = aio::time::now();
        aio::sleep(ms(3)).await;
        assert_eq!(aio::time::now() - start, ms(3));
    });
}
