//! `aio::sync::Barrier`: reset, abort, n_waiting, parties and broken-barrier errors, as
//! asyncio.Barrier has them.

use std::rc::Rc;

use concur::aio::{
    self,
    sync::{Barrier, BrokenBarrier},
};

fn spawn_waiters(b: &Rc<Barrier>, n: usize) -> Vec<aio::Task<Result<bool, BrokenBarrier>>> {
    (0..n)
        .map(|_| {
            let b = b.clone();
            aio::spawn(async move { b.wait().await })
        })
        .collect()
}

#[test]
fn a_barrier_reports_its_parties_and_how_many_wait() {
    // CPython Lib/test/test_asyncio/test_locks.py BarrierTests.test_filling_task_by_task
    aio::run(async {
        let b = Rc::new(Barrier::new(3));
        assert_eq!(b.parties(), 3);
        assert_eq!(b.n_waiting(), 0);
        let tasks = spawn_waiters(&b, 2);
        aio::yield_now().await;
        assert_eq!(b.n_waiting(), 2);
        assert!(b.wait().await.unwrap(), "the last to arrive is the leader");
        assert_eq!(b.n_waiting(), 0);
        for t in tasks {
            assert_eq!(t.await.unwrap(), Ok(false));
        }
    });
}

#[test]
fn abort_fails_every_waiter_and_later_waits_until_reset() {
    // CPython Lib/test/test_asyncio/test_locks.py BarrierTests.test_abort_barrier (with waiters)
    aio::run(async {
        let b = Rc::new(Barrier::new(4));
        let tasks = spawn_waiters(&b, 3);
        aio::yield_now().await;
        assert_eq!(b.n_waiting(), 3);
        b.abort();
        assert!(b.is_broken());
        for t in tasks {
            assert_eq!(t.await.unwrap(), Err(BrokenBarrier));
        }
        assert_eq!(b.n_waiting(), 0);
        assert_eq!(b.wait().await, Err(BrokenBarrier));
        assert_eq!(b.n_waiting(), 0);
    });
}

#[test]
fn reset_fails_the_present_waiters_and_the_barrier_works_again() {
    // CPython Lib/test/test_asyncio/test_locks.py BarrierTests.test_reset_barrier_while_tasks_waiting
    aio::run(async {
        let b = Rc::new(Barrier::new(3));
        let tasks = spawn_waiters(&b, 2);
        aio::yield_now().await;
        b.reset();
        assert!(!b.is_broken());
        assert_eq!(b.n_waiting(), 0);
        for t in tasks {
            assert_eq!(t.await.unwrap(), Err(BrokenBarrier));
        }
        // A full generation passes after the reset.
        let tasks = spawn_waiters(&b, 3);
        let mut leaders = 0;
        for t in tasks {
            leaders += u32::from(t.await.unwrap().unwrap());
        }
        assert_eq!(leaders, 1);
    });
}

#[test]
fn reset_after_abort_makes_the_barrier_whole() {
    // CPython Lib/test/test_asyncio/test_locks.py BarrierTests.test_abort_barrier, then reset
    aio::run(async {
        let b = Rc::new(Barrier::new(2));
        b.abort();
        assert_eq!(b.wait().await, Err(BrokenBarrier));
        b.reset();
        assert!(!b.is_broken());
        let other = spawn_waiters(&b, 1).pop().unwrap();
        let here = b.wait().await.unwrap();
        assert_ne!(here, other.await.unwrap().unwrap());
    });
}

#[test]
fn reset_on_an_idle_barrier_changes_nothing() {
    // CPython Lib/test/test_asyncio/test_locks.py BarrierTests.test_reset_barrier
    aio::run(async {
        let b = Rc::new(Barrier::new(1));
        b.reset();
        assert!(!b.is_broken());
        assert_eq!(b.wait().await, Ok(true));
    });
}

#[test]
fn a_waiter_cancelled_after_the_release_does_not_disturb_the_next_generation() {
    // cancellation after the release; before it: CPython test_locks.py BarrierTests.test_filling_tasks_cancel_one, in tests/aio/sync/
    aio::run(async {
        let b = Rc::new(Barrier::new(2));
        let released = spawn_waiters(&b, 1).pop().unwrap();
        aio::yield_now().await;
        assert_eq!(b.wait().await, Ok(true)); // releases `released`, which has not run yet
        released.cancel(); // dropped while let go, before reading its outcome
        assert!(released.await.unwrap_err().is_cancelled());
        assert_eq!(b.n_waiting(), 0);
        let other = spawn_waiters(&b, 1).pop().unwrap();
        aio::yield_now().await;
        assert_eq!(b.n_waiting(), 1);
        assert_eq!(b.wait().await, Ok(true));
        assert_eq!(other.await.unwrap(), Ok(false));
    });
}

#[test]
fn a_broken_barrier_error_says_what_happened() {
    let msg = BrokenBarrier.to_string();
    assert!(msg.contains("broken"), "{msg}");
}
