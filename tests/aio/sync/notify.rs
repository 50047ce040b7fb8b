//! `aio::sync::Notify` (tokio's semantics) and `BoundedSemaphore` (asyncio's).

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use concur::aio::{
    self,
    sync::{BoundedSemaphore, Notify, ReleasedTooManyTimes},
};

/// A waker that records whether it was woken.
#[derive(Default)]
struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// A future polled by hand, to see exactly when it is woken and ready.
struct Probe<F> {
    fut: Pin<Box<F>>,
    flag: Arc<Flag>,
}

impl<F: Future> Probe<F> {
    fn new(fut: F) -> Self {
        Probe {
            fut: Box::pin(fut),
            flag: Arc::default(),
        }
    }
    fn poll(&mut self) -> Poll<F::Output> {
        self.flag.0.store(false, Ordering::SeqCst);
        let waker = Waker::from(self.flag.clone());
        self.fut.as_mut().poll(&mut Context::from_waker(&waker))
    }
    fn is_woken(&self) -> bool {
        self.flag.0.load(Ordering::SeqCst)
    }
}

#[test]
fn notify_one_before_waiting_stores_a_permit() {
    // tokio tokio/tests/sync_notify.rs notify_notified_one
    let notify = Notify::new();
    let mut notified = Probe::new(notify.notified());
    notify.notify_one();
    assert!(notified.poll().is_ready());
}

#[test]
fn notify_one_wakes_a_waiting_task() {
    // tokio tokio/tests/sync_notify.rs notified_one_notify
    let notify = Notify::new();
    let mut notified = Probe::new(notify.notified());
    assert!(notified.poll().is_pending());
    notify.notify_one();
    assert!(notified.is_woken());
    assert!(notified.poll().is_ready());
}

#[test]
fn notify_one_wakes_only_the_first_waiter() {
    // tokio tokio/tests/sync_notify.rs notified_multi_notify
    let notify = Notify::new();
    let mut n1 = Probe::new(notify.notified());
    let mut n2 = Probe::new(notify.notified());
    assert!(n1.poll().is_pending());
    assert!(n2.poll().is_pending());
    notify.notify_one();
    assert!(n1.is_woken());
    assert!(!n2.is_woken());
    assert!(n1.poll().is_ready());
    assert!(n2.poll().is_pending());
}

#[test]
fn a_stored_permit_serves_one_waiter_only() {
    // tokio tokio/tests/sync_notify.rs notify_notified_multi
    let notify = Notify::new();
    notify.notify_one();
    notify.notify_one(); // still one permit
    let mut n1 = Probe::new(notify.notified());
    let mut n2 = Probe::new(notify.notified());
    assert!(n1.poll().is_ready());
    assert!(n2.poll().is_pending());
    notify.notify_one();
    assert!(n2.is_woken());
    assert!(n2.poll().is_ready());
}

#[test]
fn a_dropped_waiter_leaves_the_line() {
    // tokio tokio/tests/sync_notify.rs notified_drop_notified_notify
    let notify = Notify::new();
    let mut n1 = Probe::new(notify.notified());
    let mut n2 = Probe::new(notify.notified());
    assert!(n1.poll().is_pending());
    drop(n1);
    assert!(n2.poll().is_pending());
    notify.notify_one();
    assert!(n2.is_woken());
    assert!(n2.poll().is_ready());
}

#[test]
fn a_woken_waiter_dropped_passes_the_notification_on() {
    // tokio tokio/tests/sync_notify.rs notified_multi_notify_drop_one
    let notify = Notify::new();
    let mut n1 = Probe::new(notify.notified());
    let mut n2 = Probe::new(notify.notified());
    assert!(n1.poll().is_pending());
    assert!(n2.poll().is_pending());
    notify.notify_one();
    assert!(n1.is_woken());
    assert!(!n2.is_woken());
    drop(n1);
    assert!(n2.is_woken());
    assert!(n2.poll().is_ready());
}

#[test]
fn a_woken_waiter_dropped_with_nobody_else_gives_the_permit_back() {
    let notify = Notify::new();
    let mut n1 = Probe::new(notify.notified());
    assert!(n1.poll().is_pending());
    notify.notify_one();
    drop(n1);
    let mut n2 = Probe::new(notify.notified());
    assert!(n2.poll().is_ready());
}

#[test]
fn notify_waiters_wakes_all_and_stores_no_permit() {
    // tokio tokio/tests/sync_notify.rs notify_one_after_dropped_all
    let notify = Notify::new();
    let mut n1 = Probe::new(notify.notified());
    assert!(n1.poll().is_pending());
    notify.notify_waiters();
    assert!(n1.is_woken());
    let mut later = Probe::new(notify.notified());
    assert!(later.poll().is_pending(), "notify_waiters stored a permit");
    drop(later);
    notify.notify_one();
    drop(n1); // woken by notify_waiters only: passes nothing on, the permit stays
    let mut n2 = Probe::new(notify.notified());
    assert!(n2.poll().is_ready());
}

#[test]
fn notify_waiters_reaches_futures_created_but_not_yet_polled() {
    // tokio tokio/tests/sync_notify.rs test_notify_one_not_enabled (the notify_waiters side)
    let notify = Notify::new();
    let mut created = Probe::new(notify.notified());
    notify.notify_waiters();
    assert!(created.poll().is_ready());
}

#[test]
fn the_latest_waker_is_the_one_woken() {
    // tokio tokio/tests/sync_notify.rs test_waker_update
    let notify = Notify::new();
    let mut fut = Box::pin(notify.notified());
    assert!(fut
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
        .is_pending());
    let flag = Arc::new(Flag::default());
    let waker = Waker::from(flag.clone());
    assert!(fut
        .as_mut()
        .poll(&mut Context::from_waker(&waker))
        .is_pending());
    notify.notify_one();
    assert!(flag.0.load(Ordering::SeqCst));
}

#[test]
fn a_cancelled_task_woken_by_notify_one_passes_it_on_in_the_loop() {
    aio::run(async {
        let notify = Rc::new(Notify::new());
        let first = aio::spawn({
            let n = notify.clone();
            async move { n.notified().await }
        });
        let second = aio::spawn({
            let n = notify.clone();
            async move { n.notified().await }
        });
        aio::yield_now().await; // both wait
        notify.notify_one(); // meant for `first`
        first.cancel(); // which is cancelled before it runs
        assert!(first.await.unwrap_err().is_cancelled());
        assert_eq!(second.await, Ok(()));
    });
}

#[test]
fn bounded_semaphore_refuses_a_release_above_its_initial_value() {
    // CPython Lib/test/test_asyncio/test_locks.py SemaphoreTests.test_release_not_acquired
    let sem = BoundedSemaphore::new(2);
    assert_eq!(sem.release(), Err(ReleasedTooManyTimes));
    assert_eq!(sem.available_permits(), 2);
    sem.try_acquire().unwrap().forget();
    assert_eq!(sem.release(), Ok(()));
    assert_eq!(sem.release(), Err(ReleasedTooManyTimes));
    assert_eq!(sem.available_permits(), 2);
    assert!(ReleasedTooManyTimes.to_string().contains("too many"));
}

#[test]
fn bounded_semaphore_release_wakes_a_waiter() {
    // CPython Lib/test/test_asyncio/test_locks.py SemaphoreTests.test_acquire (with a BoundedSemaphore)
    aio::run(async {
        let sem = Rc::new(BoundedSemaphore::new(1));
        sem.acquire().await.forget();
        let waiter = aio::spawn({
            let sem = sem.clone();
            async move {
                let _p = sem.acquire().await;
            }
        });
        aio::yield_now().await;
        assert!(!waiter.is_finished());
        sem.release().unwrap();
        waiter.await.unwrap();
        assert_eq!(sem.available_permits(), 1);
        assert_eq!(sem.release(), Err(ReleasedTooManyTimes));
    });
}
