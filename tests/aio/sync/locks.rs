//! `Event`, `Condition` and `Semaphore` against CPython's
//! `Lib/test/test_asyncio/test_locks.py` (issue 14): the cases the contention tests do
//! not already cover. asyncio's `await asyncio.sleep(0)` is `aio::yield_now()` here, and
//! its timed sleeps run on the virtual clock.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use concur::aio::{
    self,
    sync::{Condition, Event, Mutex, Semaphore},
};

#[test]
fn event_set_then_cleared_before_the_waiters_run_still_releases_them() {
    // CPython Lib/test/test_asyncio/test_locks.py EventTests.test_clear_with_waiters
    aio::run(async {
        let ev = Rc::new(Event::new());
        let result = Rc::new(RefCell::new(Vec::new()));
        let t = aio::spawn({
            let (ev, result) = (ev.clone(), result.clone());
            async move {
                ev.wait().await;
                result.borrow_mut().push(1);
                true
            }
        });
        aio::yield_now().await;
        assert!(result.borrow().is_empty());
        ev.set();
        ev.clear();
        assert!(!ev.is_set());
        ev.set();
        ev.set();
        aio::yield_now().await;
        assert_eq!(*result.borrow(), [1]);
        assert!(t.is_finished());
        assert_eq!(t.await, Ok(true));
    });
}

#[test]
fn event_set_and_cleared_releases_the_waiters_that_were_waiting_and_no_later_one() {
    // CPython Lib/test/test_asyncio/test_locks.py EventTests.test_clear_with_waiters
    // (the same with the event left clear, and a waiter that came after: it waits)
    aio::run(async {
        let ev = Rc::new(Event::new());
        let spawn_waiter = || {
            let ev = ev.clone();
            aio::spawn(async move { ev.wait().await })
        };
        let early: Vec<_> = (0..3).map(|_| spawn_waiter()).collect();
        aio::yield_now().await;
        ev.set();
        ev.clear();
        let late = spawn_waiter();
        for t in early {
            assert_eq!(
                t.await,
                Ok(()),
                "a waiter that was waiting at set() is released"
            );
        }
        aio::yield_now().await;
        assert!(
            !late.is_finished(),
            "a waiter that came after clear() waits"
        );
        ev.set();
        assert_eq!(late.await, Ok(()));
    });
}

#[test]
fn a_timeout_around_a_condition_wait_leaves_the_mutex_unlocked() {
    // CPython Lib/test/test_asyncio/test_locks.py ConditionTests.test_timeout_in_block
    aio::run(async {
        aio::time::pause();
        let m = Mutex::new(0);
        let cond = Condition::new();
        let guard = m.lock().await;
        let r = aio::timeout(Duration::from_millis(500), cond.wait(guard)).await;
        assert!(r.is_err(), "the wait timed out");
        assert!(m.try_lock().is_some(), "the mutex is not left locked");
        // And the condition still works.
        let g = m.lock().await;
        let w = cond.wait(g);
        let notify = async {
            aio::yield_now().await;
            cond.notify(1);
        };
        let (g, ()) = futures_lite::future::zip(w, notify).await;
        drop(g);
        assert!(m.try_lock().is_some());
    });
}

#[test]
fn semaphore_hands_permits_out_in_fifo_order_round_after_round() {
    // CPython Lib/test/test_asyncio/test_locks.py SemaphoreTests.test_acquire_fifo_order
    aio::run(async {
        aio::time::pause();
        let sem = Rc::new(Semaphore::new(1));
        let result = Rc::new(RefCell::new(Vec::new()));
        let tasks: Vec<_> = ["c1", "c2", "c3"]
            .into_iter()
            .map(|tag| {
                let (sem, result) = (sem.clone(), result.clone());
                aio::spawn(async move {
                    for round in 1..=2 {
                        let permit = sem.acquire().await;
                        result.borrow_mut().push(format!("{tag}_{round}"));
                        aio::sleep(Duration::from_millis(10)).await;
                        drop(permit);
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(
            *result.borrow(),
            ["c1_1", "c2_1", "c3_1", "c1_2", "c2_2", "c3_2"]
        );
    });
}

#[test]
fn a_semaphore_reacquire_queues_behind_a_waiter_already_released() {
    // CPython Lib/test/test_asyncio/test_locks.py SemaphoreTests.test_acquire_fifo_order_2
    aio::run(async {
        let sem = Rc::new(Semaphore::new(1));
        let result = Rc::new(RefCell::new(Vec::new()));
        let (s, r) = (sem.clone(), result.clone());
        let t1 = aio::spawn(async move {
            s.acquire().await.forget();
            r.borrow_mut().push(1);
        });
        let (s, r) = (sem.clone(), result.clone());
        let t2 = aio::spawn(async move {
            let p = s.acquire().await;
            r.borrow_mut().push(2);
            drop(p);
            s.acquire().await.forget();
            r.borrow_mut().push(4);
        });
        let (s, r) = (sem.clone(), result.clone());
        let t3 = aio::spawn(async move {
            s.acquire().await.forget();
            r.borrow_mut().push(3);
        });
        aio::yield_now().await;
        sem.add_permits(1);
        sem.add_permits(1);
        for t in [t1, t2, t3] {
            t.await.unwrap();
        }
        assert_eq!(*result.borrow(), [1, 2, 3, 4]);
    });
}

#[test]
fn a_cancelled_semaphore_waiter_leaves_the_line_and_the_permits_go_to_the_next() {
    // CPython Lib/test/test_asyncio/test_locks.py SemaphoreTests.test_acquire_fifo_order_3
    aio::run(async {
        let sem = Rc::new(Semaphore::new(0));
        let result = Rc::new(RefCell::new(Vec::new()));
        let tasks: Vec<_> = (1..=3)
            .map(|i| {
                let (s, r) = (sem.clone(), result.clone());
                aio::spawn(async move {
                    s.acquire().await.forget();
                    r.borrow_mut().push(i);
                })
            })
            .collect();
        aio::yield_now().await;
        tasks[0].cancel();
        aio::yield_now().await;
        sem.add_permits(1);
        sem.add_permits(1);
        let mut tasks = tasks.into_iter();
        assert!(tasks.next().unwrap().await.unwrap_err().is_cancelled());
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(*result.borrow(), [2, 3]);
    });
}

#[test]
fn permits_released_at_once_reach_every_waiter_in_line_order() {
    // CPython Lib/test/test_asyncio/test_locks.py SemaphoreTests.test_acquire_fifo_order_4
    // (adapted: asyncio 3.13 wakes as many waiters as there are permits at once, so a task
    // started by the first runs after the third; concur wakes them in a chain, each by the
    // acquire before it, so that task may run between them. What a user relies on holds:
    // the permits go to the waiters in line order, none is lost, nothing hangs.)
    aio::run(async {
        let sem = Rc::new(Semaphore::new(0));
        let result = Rc::new(RefCell::new(Vec::new()));
        let t4 = Rc::new(Cell::new(None));
        let (s, r, t4_slot) = (sem.clone(), result.clone(), t4.clone());
        let t1 = aio::spawn(async move {
            assert_eq!(s.available_permits(), 0);
            s.acquire().await.forget();
            let r4 = r.clone();
            t4_slot.set(Some(aio::spawn(async move { r4.borrow_mut().push(4) })));
            r.borrow_mut().push(1);
        });
        let (s, r) = (sem.clone(), result.clone());
        let t2 = aio::spawn(async move {
            s.add_permits(1);
            s.add_permits(1);
            s.add_permits(1);
            // c1 has not taken its permit yet, and it is first in line: this waits.
            assert!(s.try_acquire().is_none());
            s.acquire().await.forget();
            r.borrow_mut().push(2);
        });
        let (s, r) = (sem.clone(), result.clone());
        let t3 = aio::spawn(async move {
            s.acquire().await.forget();
            r.borrow_mut().push(3);
        });
        aio::yield_now().await;
        aio::yield_now().await;
        for t in [t1, t2, t3] {
            t.await.unwrap();
        }
        t4.take().expect("c1 started c4").await.unwrap();
        let waiters: Vec<_> = result
            .borrow()
            .iter()
            .copied()
            .filter(|&i| i != 4)
            .collect();
        assert_eq!(waiters, [1, 2, 3], "{:?}", result.borrow());
        assert_eq!(result.borrow().len(), 4);
        assert_eq!(sem.available_permits(), 0, "every permit was taken");
    });
}
