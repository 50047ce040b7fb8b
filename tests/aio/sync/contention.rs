//! The loop's sync primitives under contention, with cancellation mixed in.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use concur::aio::{
    self,
    sync::{
        Barrier, BoundedSemaphore, Condition, Event, Mutex, Queue, QueueFull, RwLock, Semaphore,
    },
};

#[test]
fn mutex_serialises_critical_sections_in_fifo_order() {
    let order = aio::run(async {
        let m = Rc::new(Mutex::new(Vec::new()));
        let inside = Rc::new(Cell::new(0));
        let tasks: Vec<_> = (0..20)
            .map(|i| {
                let (m, inside) = (m.clone(), inside.clone());
                aio::spawn(async move {
                    let mut g = m.lock().await;
                    inside.set(inside.get() + 1);
                    assert_eq!(inside.get(), 1, "two tasks in the critical section");
                    aio::yield_now().await;
                    g.push(i);
                    inside.set(inside.get() - 1);
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        Rc::try_unwrap(m).unwrap().into_inner()
    });
    assert_eq!(order, (0..20).collect::<Vec<_>>());
}

#[test]
fn a_cancelled_lock_waiter_does_not_lose_the_lock_for_the_next() {
    aio::run(async {
        let m = Rc::new(Mutex::new(0));
        let g = m.lock().await;
        let first = aio::spawn({
            let m = m.clone();
            async move { *m.lock().await += 1 }
        });
        let second = aio::spawn({
            let m = m.clone();
            async move { *m.lock().await += 10 }
        });
        aio::yield_now().await; // both queue up
        first.cancel();
        aio::yield_now().await;
        drop(g);
        assert_eq!(second.await, Ok(()));
        assert!(first.await.unwrap_err().is_cancelled());
        assert_eq!(*m.lock().await, 10);
        assert!(m.try_lock().is_some());
    });
}

#[test]
fn semaphore_bounds_concurrency_and_survives_cancelled_waiters() {
    aio::run(async {
        let sem = Rc::new(Semaphore::new(3));
        let (now, peak) = (Rc::new(Cell::new(0)), Rc::new(Cell::new(0)));
        let tasks: Vec<_> = (0..30)
            .map(|_| {
                let (sem, now, peak) = (sem.clone(), now.clone(), peak.clone());
                aio::spawn(async move {
                    let _p = sem.acquire().await;
                    now.set(now.get() + 1);
                    peak.set(peak.get().max(now.get()));
                    aio::sleep(Duration::from_millis(1)).await;
                    now.set(now.get() - 1);
                })
            })
            .collect();
        aio::yield_now().await;
        for t in tasks.iter().skip(10).step_by(3) {
            t.cancel();
        }
        for t in tasks {
            let _ = t.await;
        }
        assert_eq!(peak.get(), 3);
        assert_eq!(sem.available_permits(), 3, "every permit came back");
    });
}

#[test]
fn event_releases_every_waiter_and_clear_rearms_it() {
    aio::run(async {
        let ev = Rc::new(Event::new());
        let released = Rc::new(Cell::new(0));
        let tasks: Vec<_> = (0..10)
            .map(|_| {
                let (ev, released) = (ev.clone(), released.clone());
                aio::spawn(async move {
                    ev.wait().await;
                    released.set(released.get() + 1);
                })
            })
            .collect();
        aio::yield_now().await;
        assert_eq!(released.get(), 0);
        ev.set();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(released.get(), 10);
        ev.clear();
        let late = aio::spawn({
            let ev = ev.clone();
            async move { ev.wait().await }
        });
        aio::yield_now().await;
        assert!(!late.is_finished());
        ev.set();
        late.await.unwrap();
    });
}

#[test]
fn condition_wakes_consumers_as_items_arrive() {
    aio::run(async {
        let shared = Rc::new((Mutex::new(Vec::<u32>::new()), Condition::new()));
        let consumers: Vec<_> = (0..5)
            .map(|_| {
                let s = shared.clone();
                aio::spawn(async move {
                    let (items, cond) = &*s;
                    let mut g = cond.wait_for(items.lock().await, |v| !v.is_empty()).await;
                    g.pop().unwrap()
                })
            })
            .collect();
        for i in 0..5 {
            aio::yield_now().await;
            shared.0.lock().await.push(i);
            shared.1.notify(1);
        }
        let mut got: Vec<u32> = Vec::new();
        for c in consumers {
            got.push(c.await.unwrap());
        }
        got.sort();
        assert_eq!(got, [0, 1, 2, 3, 4]);
    });
}

#[test]
fn barrier_releases_in_generations_and_ignores_cancelled_waiters() {
    aio::run(async {
        let b = Rc::new(Barrier::new(3));
        let quitter = aio::spawn({
            let b = b.clone();
            async move { b.wait().await }
        });
        aio::yield_now().await;
        quitter.cancel();
        aio::yield_now().await;
        for _generation in 0..3 {
            let tasks: Vec<_> = (0..3)
                .map(|_| {
                    let b = b.clone();
                    aio::spawn(async move { b.wait().await })
                })
                .collect();
            let mut leaders = 0;
            for t in tasks {
                leaders += u32::from(t.await.unwrap().unwrap());
            }
            assert_eq!(leaders, 1);
        }
    });
}

#[test]
fn queue_hands_items_over_in_order_with_back_pressure() {
    aio::run(async {
        let q = Rc::new(Queue::bounded(4));
        let producers: Vec<_> = (0..4)
            .map(|p| {
                let q = q.clone();
                aio::spawn(async move {
                    for i in 0..250 {
                        q.put(p * 1000 + i).await;
                        assert!(q.len() <= 4);
                    }
                })
            })
            .collect();
        let consumed = Rc::new(RefCell::new(Vec::new()));
        let consumers: Vec<_> = (0..3)
            .map(|_| {
                let (q, consumed) = (q.clone(), consumed.clone());
                aio::spawn(async move {
                    loop {
                        let v = q.get().await;
                        if v < 0 {
                            return;
                        }
                        consumed.borrow_mut().push(v);
                        q.task_done();
                    }
                })
            })
            .collect();
        for p in producers {
            p.await.unwrap();
        }
        q.join().await; // every item processed
        for _ in 0..3 {
            q.put(-1).await;
        }
        for c in consumers {
            c.await.unwrap();
        }
        let mut all = consumed.borrow().clone();
        assert_eq!(all.len(), 1000);
        // Each producer's items arrive in its own order.
        for p in 0..4 {
            let mine: Vec<_> = all.iter().copied().filter(|v| v / 1000 == p).collect();
            assert!(mine.windows(2).all(|w| w[0] < w[1]));
        }
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 1000);
    });
}

#[test]
fn queue_nowait_variants_never_wait() {
    let q = Queue::bounded(2);
    assert_eq!(q.get_nowait(), None);
    q.put_nowait('a').unwrap();
    q.put_nowait('b').unwrap();
    assert_eq!(q.put_nowait('c'), Err(QueueFull('c')));
    assert!(q.is_full());
    assert_eq!(q.get_nowait(), Some('a'));
    let unbounded = Queue::new();
    for i in 0..10_000 {
        unbounded.put_nowait(i).unwrap();
    }
    assert_eq!(unbounded.len(), 10_000);
}

#[test]
fn a_cancelled_getter_passes_its_item_on() {
    aio::run(async {
        let q = Rc::new(Queue::new());
        let first = aio::spawn({
            let q = q.clone();
            async move { q.get().await }
        });
        let second = aio::spawn({
            let q = q.clone();
            async move { q.get().await }
        });
        aio::yield_now().await;
        q.put_nowait(1).unwrap(); // wakes `first`...
        first.cancel(); // ...which is cancelled before it runs
        assert_eq!(second.await, Ok(1));
    });
}

/// Two tasks that wait on `cond` (each returns its number once woken with the lock);
/// returns them once both are in line.
async fn two_condition_waiters(
    m: &Rc<Mutex<()>>,
    cond: &Rc<Condition>,
) -> (aio::Task<u32>, aio::Task<u32>) {
    let spawn_waiter = |i: u32| {
        let (m, cond) = (m.clone(), cond.clone());
        aio::spawn(async move {
            let g = m.lock().await;
            let _g = cond.wait(g).await;
            i
        })
    };
    let (a, b) = (spawn_waiter(1), spawn_waiter(2));
    // Each takes the lock and joins the line within its first poll.
    aio::yield_now().await;
    aio::yield_now().await;
    (a, b)
}

/// A guard against a hang: a task that was never woken fails the test instead.
async fn woken(t: aio::Task<u32>) -> u32 {
    aio::timeout(Duration::from_secs(30), t)
        .await
        .expect("the other waiter was never woken: the notification was lost")
        .unwrap()
}

#[test]
fn a_notified_waiter_that_is_cancelled_passes_the_notification_on() {
    // CPython Lib/test/test_asyncio/test_locks.py ConditionTests.test_cancelled_error_wakeup (gh-112202)
    aio::run(async {
        let (m, cond) = (Rc::new(Mutex::new(())), Rc::new(Condition::new()));
        let (first, second) = two_condition_waiters(&m, &cond).await;
        cond.notify(1); // the first in line is notified ...
        assert!(first.cancel()); // ... and cancelled before it ran again
        assert_eq!(woken(second).await, 2);
        assert!(first.await.is_err());
    });
}

#[test]
fn a_notified_waiter_cancelled_while_it_retakes_the_lock_passes_the_notification_on() {
    // CPython Lib/test/test_asyncio/test_locks.py ConditionTests.test_cancelled_error_re_aquire (gh-112202)
    aio::run(async {
        let (m, cond) = (Rc::new(Mutex::new(())), Rc::new(Condition::new()));
        let (first, second) = two_condition_waiters(&m, &cond).await;
        let held = m.lock().await;
        cond.notify(1);
        // The first waiter sees its notification and waits for the lock, held here.
        aio::yield_now().await;
        aio::yield_now().await;
        assert!(first.cancel());
        drop(held);
        assert_eq!(woken(second).await, 2);
        assert!(first.await.is_err());
    });
}

#[test]
fn a_waiter_cancelled_before_any_notification_takes_none_with_it() {
    // CPython Lib/test/test_asyncio/test_locks.py ConditionTests.test_cancelled_wakeup
    aio::run(async {
        let (m, cond) = (Rc::new(Mutex::new(())), Rc::new(Condition::new()));
        let (first, second) = two_condition_waiters(&m, &cond).await;
        assert!(first.cancel());
        aio::yield_now().await;
        cond.notify(1); // only the second waits now: it gets this one
        assert_eq!(woken(second).await, 2);
        assert!(first.await.is_err());
    });
}

// ---------------------------------------------------------------------------------------
// A waiter that is woken and then cancelled before it runs passes its wake-up on (issue
// 14: the class of CPython's gh-112202, audited across every primitive of `aio::sync`).

/// `first` and `second` wait, in that order, for what `release` gives up. `release` wakes
/// `first`, which is cancelled before it runs: `second` must get what `first` would have.
async fn a_woken_then_cancelled_waiter_passes_it_on(
    first: aio::Task<()>,
    second: aio::Task<()>,
    release: impl FnOnce(),
) {
    // Each joins the line within its first poll.
    aio::yield_now().await;
    aio::yield_now().await;
    assert!(!first.is_finished() && !second.is_finished(), "both wait");
    release(); // wakes `first`...
    assert!(first.cancel(), "...which has not run yet");
    aio::timeout(Duration::from_secs(30), second)
        .await
        .expect("the wake-up was lost: the second waiter never got it")
        .unwrap();
    assert!(first.await.unwrap_err().is_cancelled());
}

#[test]
fn a_lock_waiter_woken_then_cancelled_passes_the_lock_on() {
    // CPython Lib/test/test_asyncio/test_locks.py LockTests.test_cancel_release_race
    aio::run(async {
        let m = Rc::new(Mutex::new(Vec::new()));
        let g = m.lock().await;
        let waiter = |i: u32| {
            let m = m.clone();
            aio::spawn(async move { m.lock().await.push(i) })
        };
        let (first, second) = (waiter(1), waiter(2));
        a_woken_then_cancelled_waiter_passes_it_on(first, second, || drop(g)).await;
        assert_eq!(*m.lock().await, [2]);
    });
}

#[test]
fn a_semaphore_waiter_woken_then_cancelled_passes_the_permit_on() {
    // CPython Lib/test/test_asyncio/test_locks.py SemaphoreTests.test_acquire_no_hang
    aio::run(async {
        let s = Rc::new(Semaphore::new(1));
        let held = s.acquire().await;
        let waiter = || {
            let s = s.clone();
            aio::spawn(async move { drop(s.acquire().await) })
        };
        let (first, second) = (waiter(), waiter());
        a_woken_then_cancelled_waiter_passes_it_on(first, second, || drop(held)).await;
        assert_eq!(s.available_permits(), 1, "no permit lost or made up");
    });
}

#[test]
fn a_bounded_semaphore_waiter_woken_then_cancelled_passes_the_permit_on() {
    // CPython Lib/test/test_asyncio/test_locks.py SemaphoreTests.test_acquire_no_hang (a BoundedSemaphore)
    aio::run(async {
        let s = Rc::new(BoundedSemaphore::new(1));
        let held = s.acquire().await;
        let waiter = || {
            let s = s.clone();
            aio::spawn(async move { drop(s.acquire().await) })
        };
        let (first, second) = (waiter(), waiter());
        a_woken_then_cancelled_waiter_passes_it_on(first, second, || drop(held)).await;
        assert_eq!(s.available_permits(), 1, "no permit lost or made up");
        assert!(s.release().is_err(), "still bounded by its initial value");
    });
}

#[test]
fn a_putter_woken_then_cancelled_passes_the_free_slot_on() {
    // CPython Lib/test/test_asyncio/test_queues.py QueuePutTests.test_cancelled_put_silence_value_error_exception
    aio::run(async {
        let q = Rc::new(Queue::bounded(1));
        q.put_nowait(0).unwrap();
        let putter = |i: u32| {
            let q = q.clone();
            aio::spawn(async move { q.put(i).await })
        };
        let (first, second) = (putter(1), putter(2));
        let taken = Cell::new(None);
        a_woken_then_cancelled_waiter_passes_it_on(first, second, || {
            taken.set(q.get_nowait());
        })
        .await;
        assert_eq!(taken.get(), Some(0));
        assert_eq!(
            q.get_nowait(),
            Some(2),
            "the cancelled put's item never went in"
        );
        assert!(q.is_empty());
    });
}

#[test]
fn a_writer_woken_then_cancelled_passes_the_lock_on_to_a_reader() {
    // tokio tokio/tests/sync_rwlock.rs (a woken waiter that is dropped hands its turn on)
    aio::run(async {
        let lock = Rc::new(RwLock::new(0));
        let w = lock.write().await;
        let writer = aio::spawn({
            let lock = lock.clone();
            async move { *lock.write().await += 1 }
        });
        let reader = aio::spawn({
            let lock = lock.clone();
            async move { assert_eq!(*lock.read().await, 0, "the cancelled writer never wrote") }
        });
        a_woken_then_cancelled_waiter_passes_it_on(writer, reader, || drop(w)).await;
        assert!(lock.try_write().is_some(), "nobody holds the lock");
    });
}

#[test]
fn a_reader_woken_then_cancelled_passes_the_lock_on_to_a_writer() {
    // tokio tokio/tests/sync_rwlock.rs (a woken waiter that is dropped hands its turn on)
    aio::run(async {
        let lock = Rc::new(RwLock::new(0));
        let w = lock.write().await;
        let reader = aio::spawn({
            let lock = lock.clone();
            async move { drop(lock.read().await) }
        });
        let writer = aio::spawn({
            let lock = lock.clone();
            async move { *lock.write().await += 1 }
        });
        a_woken_then_cancelled_waiter_passes_it_on(reader, writer, || drop(w)).await;
        assert_eq!(*lock.read().await, 1);
    });
}
