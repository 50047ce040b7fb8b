//! `Interval`'s missed-tick behaviours and `reset`, as tokio's `time_interval.rs` has them.
//!
//! Lateness is made by blocking the loop's thread (not to order anything): every
//! assertion is a lower bound or a grid position that the blocking guarantees.

use std::time::{Duration, Instant};

use concur::aio::{self, MissedTickBehavior};

const P: Duration = Duration::from_millis(1);

/// Ticks once, blocks the loop past several periods, and returns the next two ticks.
async fn late_ticks(behavior: MissedTickBehavior) -> (Instant, Instant, Instant, Instant) {
    let mut iv = aio::interval(P);
    iv.set_missed_tick_behavior(behavior);
    let t0 = iv.tick().await;
    std::thread::sleep(P * 5);
    let woke = Instant::now();
    let t1 = iv.tick().await;
    let t2 = iv.tick().await;
    (t0, woke, t1, t2)
}

#[test]
fn burst_delivers_the_missed_ticks_on_the_original_grid() {
    // tokio tokio/tests/time_interval.rs burst
    aio::run(async {
        let (t0, _, t1, t2) = late_ticks(MissedTickBehavior::Burst).await;
        assert_eq!(t1, t0 + P);
        assert_eq!(t2, t0 + P * 2);
    });
}

#[test]
fn delay_shifts_the_schedule_to_one_period_after_the_late_tick() {
    // tokio tokio/tests/time_interval.rs delay
    aio::run(async {
        let (t0, woke, t1, t2) = late_ticks(MissedTickBehavior::Delay).await;
        assert_eq!(t1, t0 + P);
        assert!(
            t2 >= woke + P,
            "the next tick is a period after the late one"
        );
    });
}

#[test]
fn skip_drops_the_missed_ticks_and_stays_on_the_grid() {
    // tokio tokio/tests/time_interval.rs skip
    aio::run(async {
        let (t0, woke, t1, t2) = late_ticks(MissedTickBehavior::Skip).await;
        assert_eq!(t1, t0 + P);
        assert!(t2 > woke, "the missed ticks were dropped");
        assert_eq!((t2 - t0).as_nanos() % P.as_nanos(), 0, "on the grid");
    });
}

#[test]
fn reset_puts_the_next_tick_one_period_from_now() {
    // tokio tokio/tests/time_interval.rs reset
    aio::run(async {
        let mut iv = aio::interval(P);
        iv.set_missed_tick_behavior(MissedTickBehavior::Burst);
        let t0 = iv.tick().await;
        std::thread::sleep(P * 5);
        let before = Instant::now();
        iv.reset();
        let t1 = iv.tick().await;
        assert!(t1 >= before + P, "not the missed tick {:?}", t0 + P);
    });
}

#[test]
#[should_panic(expected = "concur::aio::interval: the period must be non-zero")]
fn an_interval_of_zero_period_is_refused_with_a_clear_panic() {
    // tokio tokio/tests/time_interval.rs interval_zero_duration
    let _ = aio::interval(Duration::ZERO);
}

#[test]
fn an_interval_of_the_largest_period_ticks_at_once_without_overflow() {
    // tokio tokio/tests/time_interval.rs interval_doesnt_panic_max_duration_when_polling
    aio::run(async {
        aio::time::pause();
        let start = aio::time::now();
        let mut iv = aio::interval(Duration::MAX);
        assert_eq!(iv.tick().await, start, "the first tick is at once");
        // The next one is beyond any clock: it does not come within a day.
        let next = aio::timeout(Duration::from_secs(86_400), iv.tick()).await;
        assert_eq!(next, Err(aio::Elapsed));
        iv.reset(); // one period from now: as far, and no overflow either
        let next = aio::timeout(Duration::from_secs(86_400), iv.tick()).await;
        assert_eq!(next, Err(aio::Elapsed));
    });
}
