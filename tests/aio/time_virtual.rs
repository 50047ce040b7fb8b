//! The virtual clock (`aio::time::{pause, resume, advance, now}`), after tokio's
//! `tokio/tests/time_pause.rs` and `test-util`: timers tested without waiting.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use concur::aio;

#[test]
fn a_paused_clock_jumps_to_the_next_timer_when_the_loop_is_idle() {
    // tokio-rs/tokio tokio/tests/time_pause.rs paused_time_is_deterministic (auto-advance)
    aio::run(async {
        aio::time::pause();
        let start = aio::time::now();
        aio::sleep(Duration::from_secs(3600)).await;
        assert_eq!(aio::time::now() - start, Duration::from_secs(3600));
    });
}

#[test]
fn timers_under_a_paused_clock_fire_in_deadline_order() {
    // tokio-rs/tokio tokio/tests/time_pause.rs paused_time_stress_run (order is fixed)
    aio::run(async {
        aio::time::pause();
        let order = Rc::new(RefCell::new(Vec::new()));
        let start = aio::time::now();
        let tasks: Vec<_> = [5u64, 1, 4, 2, 3]
            .into_iter()
            .map(|s| {
                let order = order.clone();
                aio::spawn(async move {
                    aio::sleep(Duration::from_secs(s)).await;
                    order.borrow_mut().push((s, aio::time::now() - start));
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        let expected: Vec<_> = (1..=5u64).map(|s| (s, Duration::from_secs(s))).collect();
        assert_eq!(*order.borrow(), expected);
    });
}

#[test]
fn advance_fires_exactly_the_timers_it_reaches() {
    // tokio-rs/tokio tokio/tests/time_pause.rs advance_after_poll, sleep_no_poll
    aio::run(async {
        aio::time::pause();
        let fired = Rc::new(RefCell::new(Vec::new()));
        for ms in [100u64, 200, 300] {
            let fired = fired.clone();
            aio::spawn(async move {
                aio::sleep(Duration::from_millis(ms)).await;
                fired.borrow_mut().push(ms);
            });
        }
        aio::yield_now().await; // the three start their sleeps
        aio::time::advance(Duration::from_millis(99)).await;
        assert!(fired.borrow().is_empty());
        aio::time::advance(Duration::from_millis(1)).await;
        assert_eq!(*fired.borrow(), [100]);
        aio::time::advance(Duration::from_millis(200)).await;
        assert_eq!(*fired.borrow(), [100, 200, 300]);
    });
}

#[test]
fn a_timeout_under_a_paused_clock_expires_at_its_exact_deadline() {
    // tokio-rs/tokio tokio/tests/time_timeout.rs simultaneous_deadline_future_completion
    // with a paused clock (the deadline wins over a future that never completes)
    aio::run(async {
        aio::time::pause();
        let start = aio::time::now();
        let r = aio::timeout(Duration::from_secs(60), std::future::pending::<()>()).await;
        assert!(r.is_err());
        assert_eq!(aio::time::now() - start, Duration::from_secs(60));
        // And a future that finishes first wins.
        let r = aio::timeout(Duration::from_secs(60), aio::sleep(Duration::from_secs(59))).await;
        assert_eq!(r, Ok(()));
    });
}

#[test]
fn an_interval_under_a_paused_clock_ticks_on_its_grid() {
    // tokio-rs/tokio tokio/tests/time_interval.rs burst cases, with time under test control
    aio::run(async {
        aio::time::pause();
        let start = aio::time::now();
        let mut iv = aio::interval(Duration::from_millis(250));
        let mut at = Vec::new();
        for _ in 0..4 {
            at.push(iv.tick().await - start);
        }
        let expected: Vec<_> = (0..4u64).map(|i| Duration::from_millis(250 * i)).collect();
        assert_eq!(at, expected);
    });
}

#[test]
fn ready_io_runs_before_a_paused_clock_jumps_to_a_timer() {
    // tokio-rs/tokio tokio/tests/time_pause.rs (auto-advance only when the runtime is idle)
    use futures_lite::{AsyncReadExt, AsyncWriteExt};
    aio::run(async {
        aio::time::pause();
        let (mut a, mut b) = aio::net::UnixStream::pair().unwrap();
        let writer = aio::spawn(async move {
            aio::yield_now().await;
            a.write_all(b"x").await.unwrap();
            a
        });
        let mut buf = [0u8; 1];
        let r = aio::timeout(Duration::from_secs(10), b.read_exact(&mut buf)).await;
        assert!(
            matches!(r, Ok(Ok(()))),
            "the read won over the timer: {r:?}"
        );
        assert_eq!(&buf, b"x");
        drop(writer.await);
    });
}

#[test]
fn a_resumed_clock_runs_on_from_where_it_stood() {
    // tokio-rs/tokio tokio/src/time/clock.rs resume (documented behaviour)
    aio::run(async {
        aio::time::pause();
        let paused_at = aio::time::now();
        aio::time::advance(Duration::from_secs(100)).await;
        aio::time::resume();
        let resumed = aio::time::now();
        assert!(resumed - paused_at >= Duration::from_secs(100));
        // Real time moves it again: a real (short) sleep completes by itself.
        aio::sleep(Duration::from_millis(1)).await;
        assert!(aio::time::now() > resumed);
    });
}

#[test]
#[should_panic(expected = "the clock is not paused")]
fn advance_without_pause_is_refused_clearly() {
    // tokio-rs/tokio tokio/src/time/clock.rs advance panics "time is not frozen"
    aio::run(async {
        aio::time::advance(Duration::from_secs(1)).await;
    });
}

#[test]
fn sleep_is_elapsed_follows_the_virtual_clock() {
    // tokio-rs/tokio tokio/tests/time_sleep.rs is_elapsed
    aio::run(async {
        aio::time::pause();
        let sleep = aio::sleep(Duration::from_millis(10));
        assert!(!sleep.is_elapsed());
        aio::time::advance(Duration::from_millis(10)).await;
        assert!(sleep.is_elapsed());
    });
}
