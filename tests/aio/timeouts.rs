//! `aio::timeout` and `aio::timeout_at` against CPython's
//! `Lib/test/test_asyncio/test_timeouts.py` (issue 14), on the virtual clock where the
//! case only waits, so nothing here waits for real time to pass.
//!
//! Where Rust differs: a timeout is a future wrapping another, not a context manager that
//! cancels the task. So "the inner code was cancelled" is "the inner future was dropped"
//! (seen through a guard), and with nested timeouts of the same deadline the innermost one
//! reports it, as the value the outer future returns (tokio does the same).

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use concur::aio::{self, Elapsed};
use concur::TaskError;

/// Sets its flag when dropped: the future that owns it was cancelled (or finished).
struct Dropped(Rc<Cell<bool>>);

impl Drop for Dropped {
    fn drop(&mut self) {
        self.0.set(true);
    }
}

/// A future that sleeps `d` (on the loop's clock), setting `dropped` when it goes away.
async fn sleep_watched(d: Duration, dropped: Rc<Cell<bool>>) {
    let _guard = Dropped(dropped);
    aio::sleep(d).await;
}

#[test]
fn a_timeout_stops_a_longer_sleep_at_its_deadline() {
    // CPython Lib/test/test_asyncio/test_timeouts.py TimeoutTests.test_timeout_basic
    // CPython Lib/test/test_asyncio/test_timeouts.py TimeoutTests.test_waiter_cancelled
    aio::run(async {
        aio::time::pause();
        let start = aio::time::now();
        let dropped = Rc::new(Cell::new(false));
        let r = aio::timeout(
            Duration::from_millis(10),
            sleep_watched(Duration::from_secs(10), dropped.clone()),
        )
        .await;
        assert_eq!(r, Err(Elapsed));
        assert!(dropped.get(), "the sleep inside was cancelled");
        assert_eq!(aio::time::now() - start, Duration::from_millis(10));
    });
}

#[test]
fn timeout_at_stops_at_the_instant_it_was_given_and_reports_it() {
    // CPython Lib/test/test_asyncio/test_timeouts.py TimeoutTests.test_timeout_at_basic
    aio::run(async {
        aio::time::pause();
        let deadline = aio::time::now() + Duration::from_millis(10);
        let t = aio::timeout_at(deadline, aio::sleep(Duration::from_secs(10)));
        assert_eq!(t.deadline(), deadline, "when()");
        assert_eq!(t.await, Err(Elapsed));
        assert_eq!(aio::time::now(), deadline);
    });
}

#[test]
fn nested_timeouts_of_one_deadline_both_expire_and_the_inner_reports_it() {
    // CPython Lib/test/test_asyncio/test_timeouts.py TimeoutTests.test_nested_timeouts
    aio::run(async {
        aio::time::pause();
        let deadline = aio::time::now() + Duration::from_millis(10);
        let dropped = Rc::new(Cell::new(false));
        let inner = aio::timeout_at(
            deadline,
            sleep_watched(Duration::from_secs(10), dropped.clone()),
        );
        let r = aio::timeout_at(deadline, inner).await;
        // Python raises TimeoutError from the outer block only; here the inner timeout
        // finishes first (it is polled first) and the outer returns its value.
        assert_eq!(r, Ok(Err(Elapsed)));
        assert!(dropped.get(), "the sleep inside both was cancelled");
        assert_eq!(aio::time::now(), deadline);
    });
}

#[test]
fn a_timeout_that_is_not_reached_changes_nothing() {
    // CPython Lib/test/test_asyncio/test_timeouts.py TimeoutTests.test_timeout_not_called
    aio::run(async {
        aio::time::pause();
        let mut t = Box::pin(aio::timeout(Duration::from_secs(10), async {
            aio::sleep(Duration::from_millis(10)).await;
            "done"
        }));
        let deadline = t.deadline();
        assert_eq!(t.as_mut().await, Ok("done"));
        assert!(deadline > aio::time::now(), "when() is still ahead");
    });
}

#[test]
fn a_zero_timeout_stops_a_sleep_at_once() {
    // CPython Lib/test/test_asyncio/test_timeouts.py TimeoutTests.test_timeout_zero
    aio::run(async {
        aio::time::pause();
        let t0 = aio::time::now();
        let t = aio::timeout(Duration::ZERO, aio::sleep(Duration::from_secs(10)));
        let when = t.deadline();
        assert_eq!(t.await, Err(Elapsed));
        let t1 = aio::time::now();
        assert!(t0 <= when && when <= t1);
        assert_eq!(t1, t0, "no time passed");
    });
}

#[test]
fn a_deadline_in_the_past_stops_even_a_zero_sleep() {
    // CPython Lib/test/test_asyncio/test_timeouts.py TimeoutTests.test_timeout_in_the_past_sleep_zero
    aio::run(async {
        aio::time::pause();
        let t0 = aio::time::now();
        let past = t0.checked_sub(Duration::from_secs(11)).unwrap_or(t0);
        let t = aio::timeout_at(past, aio::sleep(Duration::ZERO));
        assert!(t.deadline() <= t0);
        assert_eq!(t.await, Err(Elapsed));
    });
}

#[test]
fn an_error_of_the_inner_future_passes_through_and_is_not_a_timeout() {
    // CPython Lib/test/test_asyncio/test_timeouts.py TimeoutTests.test_foreign_exception_passed
    aio::run(async {
        aio::time::pause();
        let r = aio::timeout(Duration::from_millis(10), async {
            Err::<(), _>("KeyError")
        })
        .await;
        assert_eq!(r, Ok(Err("KeyError")));
    });
}

#[test]
fn a_panic_while_the_timed_out_future_is_dropped_is_the_tasks_outcome() {
    // CPython Lib/test/test_asyncio/test_timeouts.py TimeoutTests.test_foreign_exception_on_timeout
    struct CrashOnDrop;
    impl Drop for CrashOnDrop {
        fn drop(&mut self) {
            panic!("crash in cleanup");
        }
    }
    let out = aio::run(async {
        aio::time::pause();
        aio::spawn(async {
            let crash = async {
                let _cleanup = CrashOnDrop; // Python's `finally: 1/0`
                aio::sleep(Duration::from_secs(1)).await;
            };
            let _ = aio::timeout(Duration::from_millis(10), crash).await;
            "the timeout swallowed the cleanup's panic"
        })
        .await
    });
    match out {
        Err(TaskError::Panicked(p)) => assert_eq!(p.message(), "crash in cleanup"),
        other => panic!("expected the cleanup's panic, got {other:?}"),
    }
}

#[test]
fn cancelling_a_task_inside_an_unexpired_timeout_is_a_cancellation_not_a_timeout() {
    // CPython Lib/test/test_asyncio/test_timeouts.py TimeoutTests.test_foreign_cancel_doesnt_timeout_if_not_expired
    aio::run(async {
        aio::time::pause();
        let timed_out = Rc::new(Cell::new(false));
        let t = aio::spawn({
            let timed_out = timed_out.clone();
            async move {
                let r = aio::timeout(Duration::from_secs(10), aio::sleep(Duration::from_secs(10)))
                    .await;
                timed_out.set(r.is_err());
            }
        });
        aio::yield_now().await; // it is inside the timeout
        assert!(t.cancel());
        assert_eq!(t.await, Err(TaskError::Cancelled));
        assert!(!timed_out.get(), "the timeout never reported");
    });
}

#[test]
fn a_timeout_that_expires_inside_a_task_does_not_cancel_the_task() {
    // CPython Lib/test/test_asyncio/test_timeouts.py TimeoutTests.test_outer_task_is_not_cancelled
    aio::run(async {
        aio::time::pause();
        let outer = aio::spawn(async {
            aio::timeout(
                Duration::from_millis(1),
                aio::sleep(Duration::from_secs(10)),
            )
            .await
            .is_err()
        });
        assert_eq!(outer.await, Ok(true), "the task finished, not cancelled");
    });
}

#[test]
fn the_outer_timeout_wins_when_the_loop_was_busy_past_its_deadline() {
    // CPython Lib/test/test_asyncio/test_timeouts.py TimeoutTests.test_nested_timeouts_concurrent
    // The loop is busy for real (a blocking call), so the real clock is used: only the
    // order of deadlines matters, never how long anything took.
    aio::run(async {
        let inner_done = Rc::new(Cell::new(false));
        let r = aio::timeout(Duration::from_millis(2), {
            let inner_done = inner_done.clone();
            async move {
                let r = aio::timeout(Duration::from_secs(3600), async {
                    std::thread::sleep(Duration::from_millis(10)); // crunching numbers
                    aio::sleep(Duration::from_secs(3600)).await;
                })
                .await;
                inner_done.set(true);
                r
            }
        })
        .await;
        assert_eq!(r, Err(Elapsed), "the outer timeout (2 ms) expired first");
        assert!(!inner_done.get(), "the inner timeout never finished");
    });
}

#[test]
fn after_the_inner_timeout_fires_the_outer_one_still_stops_what_follows() {
    // CPython Lib/test/test_asyncio/test_timeouts.py TimeoutTests.test_nested_timeouts_loop_busy
    aio::run(async {
        let reached_the_end = Rc::new(Cell::new(false));
        let inner_result = Rc::new(Cell::new(None));
        let r = aio::timeout(Duration::from_millis(20), {
            let (reached_the_end, inner_result) = (reached_the_end.clone(), inner_result.clone());
            async move {
                let r = aio::timeout(Duration::from_millis(2), async {
                    std::thread::sleep(Duration::from_millis(20)); // the loop is busy
                    aio::sleep(Duration::from_secs(3600)).await;
                })
                .await;
                inner_result.set(Some(r));
                // The outer deadline has passed: this sleep is cut short by it.
                aio::sleep(Duration::from_secs(3600)).await;
                reached_the_end.set(true);
            }
        })
        .await;
        assert_eq!(
            inner_result.get(),
            Some(Err(Elapsed)),
            "(2) caught its timeout"
        );
        assert_eq!(r, Err(Elapsed), "(1) stopped the sleep after it");
        assert!(!reached_the_end.get());
    });
}

#[test]
fn a_timeout_around_a_groups_join_cancels_the_groups_children() {
    // CPython Lib/test/test_asyncio/test_timeouts.py TimeoutTests.test_timeout_taskgroup
    // (Rust: the expired timeout drops `join`, which owns the group; dropping a group
    // cancels its children, so they are gone when the timeout returns)
    aio::run(async {
        aio::time::pause();
        let start = aio::time::now();
        let group = aio::TaskGroup::new();
        let dropped = Rc::new(Cell::new(false));
        let child = group.spawn(sleep_watched(Duration::from_secs(2), dropped.clone()));
        let r = aio::timeout(Duration::from_millis(10), group.join()).await;
        assert_eq!(r, Err(Elapsed));
        assert_eq!(aio::time::now() - start, Duration::from_millis(10));
        assert_eq!(child.await, Err(TaskError::Cancelled));
        assert!(dropped.get(), "the child's sleep was cancelled");
    });
}

#[test]
fn a_timeout_around_a_group_scope_cancels_the_body_and_the_children() {
    // CPython Lib/test/test_asyncio/test_timeouts.py TimeoutTests.test_timeout_taskgroup
    // (the `async with TaskGroup()` body waits in the group too)
    aio::run(async {
        aio::time::pause();
        let group = aio::TaskGroup::new();
        let tg = group.spawner();
        let (child_dropped, body_dropped) = (Rc::new(Cell::new(false)), Rc::new(Cell::new(false)));
        let (c, b) = (child_dropped.clone(), body_dropped.clone());
        let r = aio::timeout(
            Duration::from_millis(10),
            group.scope(async move {
                tg.spawn(sleep_watched(Duration::from_secs(2), c));
                sleep_watched(Duration::from_secs(1), b).await;
            }),
        )
        .await;
        assert_eq!(r, Err(Elapsed));
        assert!(body_dropped.get(), "the body was cancelled");
        aio::yield_now().await; // the loop drops the cancelled child at its next turn
        assert!(child_dropped.get(), "the child was cancelled");
    });
}

#[test]
fn a_timeout_stops_a_future_that_is_never_ready_but_keeps_waking_itself() {
    // tokio-rs/tokio tokio/tests/time_timeout.rs timeout_is_not_exhausted_by_future (and
    // its wasm twin, a `yield_now` loop). On the real clock: a task that never waits keeps
    // the loop busy, so a paused clock would never move on its own. Nothing is timed.
    aio::run(async {
        let r = aio::timeout(Duration::from_millis(1), async {
            loop {
                aio::yield_now().await;
            }
        })
        .await;
        assert_eq!(r, Err(Elapsed));
    });
}

#[test]
fn a_timeout_stops_a_loop_whose_every_await_is_ready_at_once() {
    // tokio-rs/tokio tokio/tests/time_timeout.rs timeout_is_not_exhausted_by_future (the
    // always-ready read of `io::empty()`; here an always-free semaphore, which takes from
    // the task's budget as I/O does). Real clock, as above; nothing is timed.
    aio::run(async {
        let sem = aio::sync::Semaphore::new(1);
        let r = aio::timeout(Duration::from_millis(1), async {
            loop {
                drop(sem.acquire().await);
            }
        })
        .await;
        assert_eq!(r, Err(Elapsed));
    });
}
