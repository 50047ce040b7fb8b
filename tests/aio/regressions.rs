//! Regression tests for bugs found in review of the event loop.

use std::cell::{Cell, RefCell};
use std::future::Future as _;
use std::rc::Rc;
use std::time::Duration;

use concur::{aio, TaskError};

#[test]
#[allow(clippy::await_holding_refcell_ref)]
fn a_task_may_cancel_itself_and_its_siblings_from_drop_or_poll() {
    aio::run(async {
        let handles: Rc<RefCell<Vec<aio::Task<()>>>> = Rc::default();
        struct CancelAll(Rc<RefCell<Vec<aio::Task<()>>>>);
        impl Drop for CancelAll {
            fn drop(&mut self) {
                for t in self.0.borrow().iter() {
                    t.cancel();
                    let _ = t.is_finished();
                }
            }
        }
        for _ in 0..3 {
            let guard = CancelAll(handles.clone());
            let t = aio::spawn(async move {
                let _g = guard;
                std::future::pending::<()>().await
            });
            handles.borrow_mut().push(t);
        }
        aio::yield_now().await;
        handles.borrow()[0].cancel();
        // Cancelling the first drops its guard, which cancels the others (and asks
        // about itself while it is being torn down).
        // The guards only read the list, so holding a shared borrow here is fine.
        let w = aio::wait(&handles.borrow(), concur::ReturnWhen::AllCompleted, None).await;
        assert_eq!(w.done, [0, 1, 2]);
        let tasks = std::mem::take(&mut *handles.borrow_mut());
        for t in tasks {
            assert_eq!(t.await, Err(TaskError::Cancelled));
        }
    });
}

#[test]
fn the_first_child_panicking_still_cancels_the_others() {
    aio::run(async {
        let group = aio::TaskGroup::new();
        group.spawn(async { panic!("first child fails") });
        let slow = group.spawn(aio::sleep(Duration::from_secs(3600)));
        assert!(group.join().await.unwrap_err().is_panic());
        assert_eq!(slow.await, Err(TaskError::Cancelled));
    });
}

#[test]
fn sleeps_beyond_the_wheel_span_neither_hang_the_loop_nor_return_early() {
    aio::run(async {
        let far = aio::spawn(aio::sleep(Duration::from_secs(800 * 86_400)));
        let huge = aio::spawn(aio::sleep(Duration::from_millis(u64::MAX)));
        let max = aio::spawn(aio::sleep(Duration::MAX));
        aio::sleep(Duration::from_millis(5)).await; // the loop keeps turning
        assert!(!far.is_finished() && !huge.is_finished() && !max.is_finished());
        let t = aio::timeout(Duration::from_millis(u64::MAX), async { 3 }).await;
        assert_eq!(t, Ok(3));
        assert!(
            aio::timeout(Duration::from_millis(2), aio::sleep(Duration::MAX))
                .await
                .is_err()
        );
    });
}

#[test]
fn sleep_zero_yields_to_the_other_tasks() {
    aio::run(async {
        let flag = Rc::new(Cell::new(false));
        let f = flag.clone();
        let setter = aio::spawn(async move { f.set(true) });
        let mut spins = 0;
        while !flag.get() {
            aio::sleep(Duration::ZERO).await;
            spins += 1;
            assert!(spins < 1000, "sleep(0) never yielded");
        }
        setter.await.unwrap();
    });
}

#[test]
fn two_tasks_can_wait_on_one_socket() {
    aio::run(async {
        let sock = Rc::new(aio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap());
        let addr = sock.local_addr().unwrap();
        let readers: Vec<_> = (0..2)
            .map(|_| {
                let s = sock.clone();
                aio::spawn(async move {
                    let mut buf = [0u8; 8];
                    s.recv_from(&mut buf).await.unwrap().0
                })
            })
            .collect();
        aio::yield_now().await; // both wait
        let tx = aio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        tx.send_to(b"one", addr).await.unwrap();
        tx.send_to(b"two", addr).await.unwrap();
        for r in readers {
            assert_eq!(r.await, Ok(3));
        }
    });
}

#[test]
fn a_panicking_drop_at_shutdown_leaves_the_thread_able_to_run_again() {
    struct Boom;
    impl Drop for Boom {
        fn drop(&mut self) {
            panic!("drop failed");
        }
    }
    let r = std::panic::catch_unwind(|| {
        aio::run(async {
            let b = Boom;
            let _t = aio::spawn(async move {
                let _b = b;
                std::future::pending::<()>().await
            });
            aio::yield_now().await;
        })
    });
    // The task's drop panic is logged and contained; run returned normally.
    assert!(r.is_ok());
    assert_eq!(aio::run(async { 5 }), 5);
}

#[test]
fn a_sleep_armed_in_one_loop_works_in_the_next() {
    let mut s = Box::pin(aio::sleep(Duration::from_millis(20)));
    aio::run(async {
        let _ = aio::timeout(Duration::from_millis(1), s.as_mut()).await;
    });
    aio::run(async {
        s.as_mut().await;
    });
}

/// A `!Unpin` future that remembers where it was polled and, when dropped, whether it is
/// still there (`Pin`'s drop guarantee).
struct StaysPut {
    polled_at: Cell<usize>,
    /// How many drops ran, and how many of them ran somewhere else than the poll.
    drops: Rc<Cell<(u32, u32)>>,
    ready: bool,
    _pin: std::marker::PhantomPinned,
}

impl StaysPut {
    fn new(ready: bool, drops: &Rc<Cell<(u32, u32)>>) -> Self {
        StaysPut {
            polled_at: Cell::new(0),
            drops: drops.clone(),
            ready,
            _pin: std::marker::PhantomPinned,
        }
    }
}

impl std::future::Future for StaysPut {
    type Output = ();
    fn poll(self: std::pin::Pin<&mut Self>, _: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        self.polled_at.set(&*self as *const Self as usize);
        if self.ready {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    }
}

impl Drop for StaysPut {
    fn drop(&mut self) {
        let (n, moved) = self.drops.get();
        let here = self as *const Self as usize;
        let moved = moved + u32::from(self.polled_at.get() != 0 && self.polled_at.get() != here);
        self.drops.set((n + 1, moved));
    }
}

#[test]
fn a_pinned_future_is_dropped_where_it_was_polled() {
    let drops = Rc::new(Cell::new((0, 0)));
    let d = drops.clone();
    aio::run(async move {
        // Cancelled while suspended.
        let t = aio::spawn(StaysPut::new(false, &d));
        aio::yield_now().await;
        assert!(t.cancel());
        assert_eq!(t.await, Err(TaskError::Cancelled));
        // Finished normally.
        aio::spawn(StaysPut::new(true, &d)).await.unwrap();
        // Detached and finished.
        drop(aio::spawn(StaysPut::new(true, &d)));
        aio::yield_now().await;
        // Still suspended when `run` returns: dropped by the loop's shutdown.
        let _left = aio::spawn(StaysPut::new(false, &d));
        aio::yield_now().await;
    });
    assert_eq!(
        drops.get(),
        (4, 0),
        "(futures dropped, of which moved first)"
    );
}

#[test]
fn a_future_may_poll_its_own_handle_while_it_is_dropped() {
    // The drop of a task's future runs in place, with the task's stage borrowed; a handle
    // to that same task polled from there must wait, not panic on the borrow.
    let slot: Rc<RefCell<Option<aio::Task<()>>>> = Rc::default();
    struct PollsOwnHandle(Rc<RefCell<Option<aio::Task<()>>>>, Rc<Cell<bool>>);
    impl Drop for PollsOwnHandle {
        fn drop(&mut self) {
            if let Some(mut t) = self.0.borrow_mut().take() {
                let waker = std::task::Waker::noop();
                let mut cx = std::task::Context::from_waker(waker);
                let pending = std::pin::Pin::new(&mut t).poll(&mut cx).is_pending();
                self.1.set(pending && !t.is_finished());
            }
        }
    }
    let saw_pending = Rc::new(Cell::new(false));
    let (s, p) = (slot.clone(), saw_pending.clone());
    aio::run(async move {
        let guard = PollsOwnHandle(s.clone(), p);
        let t = aio::spawn(async move {
            let _g = guard;
            std::future::pending::<()>().await
        });
        aio::yield_now().await;
        assert!(t.cancel());
        *s.borrow_mut() = Some(t);
        aio::yield_now().await;
        aio::yield_now().await;
    });
    assert!(
        saw_pending.get(),
        "the handle polled from its own future's drop waited"
    );
}

#[test]
fn a_self_borrowing_async_block_sees_its_own_locals_when_cancelled() {
    // The async block borrows its own local across an await; the borrow's drop reads it.
    struct Guard<'a>(&'a String, Rc<Cell<usize>>);
    impl Drop for Guard<'_> {
        fn drop(&mut self) {
            self.1.set(self.0.len());
        }
    }
    let seen = Rc::new(Cell::new(usize::MAX));
    let s2 = seen.clone();
    aio::run(async move {
        let t = aio::spawn(async move {
            let s = String::from("hello, pinned world");
            let _g = Guard(&s, s2);
            std::future::pending::<()>().await;
        });
        aio::yield_now().await;
        assert!(t.cancel());
        assert_eq!(t.await, Err(TaskError::Cancelled));
    });
    assert_eq!(seen.get(), "hello, pinned world".len());
}

#[test]
fn a_waker_that_outlives_its_task_and_loop_is_released_on_another_thread() {
    // The task's waker is its cell: the last reference may go on another thread, after
    // the task finished, its outcome (not `Send`) was taken, and the loop ended.
    let (tx, rx) = std::sync::mpsc::channel::<std::task::Waker>();
    let out = aio::run(async move {
        let t = aio::spawn(async move {
            let w = std::future::poll_fn(|cx| std::task::Poll::Ready(cx.waker().clone())).await;
            tx.send(w).unwrap();
            Rc::new(5) // not Send
        });
        let detached_tx = std::sync::mpsc::channel::<std::task::Waker>();
        let (dtx, drx) = detached_tx;
        // A detached task whose waker also leaves the thread.
        drop(aio::spawn(async move {
            let w = std::future::poll_fn(|cx| std::task::Poll::Ready(cx.waker().clone())).await;
            dtx.send(w).unwrap();
            Rc::new(6)
        }));
        let v = *t.await.unwrap();
        aio::yield_now().await;
        (v, drx.recv().unwrap())
    });
    assert_eq!(out.0, 5);
    let w = rx.recv().unwrap();
    let w2 = out.1;
    std::thread::spawn(move || {
        // Waking a task of a loop that is gone does nothing; dropping releases the cells.
        w.wake_by_ref();
        w2.wake();
        drop(w);
    })
    .join()
    .unwrap();
}

#[test]
fn the_end_of_a_stream_is_seen_after_a_short_read() {
    // A short read empties the socket, so the loop stops trying it until the next event.
    // But when the peer's data and its close arrived together, and the loop has already
    // seen that (last) event, the end of the stream must still be read, not waited for.
    use futures_lite::AsyncReadExt;
    use std::io::Write;
    aio::run(async {
        let listener = aio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        client.write_all(&[7; 100]).unwrap();
        client.shutdown(std::net::Shutdown::Write).unwrap();
        let (mut conn, _) = listener.accept().await.unwrap();
        // Let the loop take the readiness event (data and end together) first.
        aio::sleep(Duration::from_millis(5)).await;
        let mut buf = [0u8; 1024];
        let read = aio::timeout(Duration::from_secs(10), async {
            let n = conn.read(&mut buf).await.unwrap();
            let end = conn.read(&mut buf).await.unwrap();
            (n, end)
        })
        .await;
        assert_eq!(
            read,
            Ok((100, 0)),
            "the end of the stream was read, not waited for"
        );
    });
}

/// Rounds of wakes each remote thread sends to each of its tasks.
const WAKE_ROUNDS: u64 = 2_000;

#[test]
fn remote_wakes_racing_the_loops_polls_are_never_lost() {
    // Issue 13: a waker on another thread that skipped on a relaxed "already scheduled?"
    // load could miss the loop clearing the flag (store buffering), and the task then
    // never saw its last value. Each remote thread here writes a round number into each
    // of its tasks' values and wakes them, as fast as it can, while the loop polls them;
    // a task finishes when it sees the last round. A lost last wake leaves its task
    // pending for good: the loop is then found idle with the task unfinished.
    use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
    use std::sync::{Arc, OnceLock};
    use std::task::{Context, Poll, Waker};

    const TASKS: usize = 64;
    const THREADS: usize = 2;

    struct Watch {
        value: Arc<AtomicU64>,
        waker: Arc<OnceLock<Waker>>,
        registered: Arc<AtomicUsize>,
    }
    impl std::future::Future for Watch {
        type Output = u64;
        fn poll(self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u64> {
            if self.waker.set(cx.waker().clone()).is_ok() {
                self.registered.fetch_add(1, Ordering::Release);
            }
            // A plain load, not a lock: nothing but the wake protocol orders it after
            // the remote thread's store.
            match self.value.load(Ordering::Acquire) {
                WAKE_ROUNDS => Poll::Ready(WAKE_ROUNDS),
                _ => Poll::Pending,
            }
        }
    }

    for _ in 0..5 {
        let registered = Arc::new(AtomicUsize::new(0));
        let slots: Vec<(Arc<AtomicU64>, Arc<OnceLock<Waker>>)> = (0..TASKS)
            .map(|_| (Arc::default(), Arc::default()))
            .collect();
        aio::run(async {
            let tasks: Vec<_> = slots
                .iter()
                .map(|(value, waker)| {
                    aio::spawn(Watch {
                        value: value.clone(),
                        waker: waker.clone(),
                        registered: registered.clone(),
                    })
                })
                .collect();
            let threads: Vec<_> = (0..THREADS)
                .map(|t| {
                    let mine: Vec<_> = slots.iter().skip(t).step_by(THREADS).cloned().collect();
                    let registered = registered.clone();
                    std::thread::spawn(move || {
                        while registered.load(Ordering::Acquire) < TASKS {
                            std::thread::yield_now(); // the loop polls each task once first
                        }
                        for round in 1..=WAKE_ROUNDS {
                            for (value, waker) in &mine {
                                // A plain store, then the wake (the waker's load of the
                                // flag could pass the store: store buffering).
                                value.store(round, Ordering::Release);
                                waker.get().unwrap().wake_by_ref();
                            }
                        }
                    })
                })
                .collect();
            // Every wake has returned once the threads are joined: each was queued for
            // the loop before `to_thread` wakes this future.
            aio::to_thread(move || threads.into_iter().try_for_each(|t| t.join()))
                .await
                .unwrap()
                .unwrap();
            // A task spawned now is polled in turn with the ids queued (in order, and
            // every `TICK` = 61 polls at most the loop takes the remote queue in): when it
            // has yielded a few hundred times, every task woken has been polled since its
            // last wake. One still unfinished then was never queued again.
            let check = aio::spawn(async move {
                for _ in 0..1_000 {
                    if tasks.iter().all(aio::Task::is_finished) {
                        return Ok(tasks);
                    }
                    aio::yield_now().await;
                }
                Err(tasks
                    .iter()
                    .enumerate()
                    .filter(|(_, t)| !t.is_finished())
                    .map(|(i, _)| i)
                    .collect::<Vec<_>>())
            });
            match check.await.unwrap() {
                Ok(tasks) => {
                    for t in tasks {
                        assert_eq!(t.await, Ok(WAKE_ROUNDS));
                    }
                }
                Err(lost) => panic!("lost wake-up: tasks {lost:?} did not see their last value"),
            }
        });
    }
}

/// A value whose drop counts itself, then panics.
struct PanicsOnDrop(Rc<Cell<u32>>);

impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        self.0.set(self.0.get() + 1);
        panic!("a drop that panics");
    }
}

/// A value whose drop counts itself.
struct CountsDrop(Rc<Cell<u32>>);

impl Drop for CountsDrop {
    fn drop(&mut self) {
        self.0.set(self.0.get() + 1);
    }
}

/// Runs `f` on a loop; `Err` with the panic's message if `run` panicked.
fn run_catching<T>(f: impl std::future::Future<Output = T>) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| aio::run(f))).map_err(|p| {
        p.downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_default()
    })
}

#[test]
fn a_panicking_drop_of_a_detached_output_does_not_escape_run() {
    // Issue 13: the output of a task whose handle is gone is dropped by the loop; a panic
    // there is logged, as tokio does, not raised out of `run` as some other failure.
    let dropped = Rc::new(Cell::new(0));
    let d = dropped.clone();
    let out = run_catching(async move {
        drop(aio::spawn(async move { PanicsOnDrop(d) }));
        let other = aio::spawn(async {
            aio::yield_now().await;
            7
        });
        aio::yield_now().await;
        aio::yield_now().await;
        other.await
    });
    assert_eq!(out, Ok(Ok(7)));
    assert_eq!(dropped.get(), 1, "the output was dropped once");
}

#[test]
fn a_panicking_drop_of_an_output_detached_once_finished_does_not_escape_run() {
    // The handle is dropped after the task finished: the handle's drop drops the output.
    let dropped = Rc::new(Cell::new(0));
    let d = dropped.clone();
    let out = run_catching(async move {
        let t = aio::spawn(async move { PanicsOnDrop(d) });
        while !t.is_finished() {
            aio::yield_now().await;
        }
        drop(t);
        aio::spawn(async { 8 }).await
    });
    assert_eq!(out, Ok(Ok(8)));
    assert_eq!(dropped.get(), 1);
}

#[test]
fn a_future_whose_drop_panics_when_cancelled_does_not_escape_run() {
    let dropped = Rc::new(Cell::new(0));
    let d = dropped.clone();
    let out = run_catching(async move {
        let t = aio::spawn(async move {
            let _bomb = PanicsOnDrop(d);
            std::future::pending::<()>().await
        });
        aio::yield_now().await;
        assert!(t.cancel());
        t.await
    });
    assert_eq!(out, Ok(Err(TaskError::Cancelled)));
    assert_eq!(dropped.get(), 1);
}

#[test]
fn futures_whose_drop_panics_at_shutdown_neither_escape_run_nor_keep_others_from_dropping() {
    let panicked = Rc::new(Cell::new(0));
    let dropped = Rc::new(Cell::new(0));
    let (p, d) = (panicked.clone(), dropped.clone());
    let out = run_catching(async move {
        for i in 0..6 {
            let (p, d) = (p.clone(), d.clone());
            // Detached, and pending when `run` returns: cancelled at shutdown.
            drop(aio::spawn(async move {
                let _count = CountsDrop(d);
                let _bomb = (i % 2 == 0).then(|| PanicsOnDrop(p));
                std::future::pending::<()>().await
            }));
        }
        aio::yield_now().await;
        5
    });
    assert_eq!(out, Ok(5));
    assert_eq!(panicked.get(), 3);
    assert_eq!(dropped.get(), 6, "every task's future was dropped");
}

#[test]
fn a_panicking_future_drop_while_run_unwinds_keeps_the_main_futures_panic() {
    // The main future panics; the tasks cancelled on the way out panic in their drops.
    // That must not abort the process (a panic while unwinding), and `run` reports the
    // main future's panic.
    let dropped = Rc::new(Cell::new(0));
    let d = dropped.clone();
    let out = run_catching(async move {
        drop(aio::spawn(async move {
            let _bomb = PanicsOnDrop(d);
            std::future::pending::<()>().await
        }));
        aio::yield_now().await;
        panic!("the main future fails");
    });
    assert_eq!(out, Err("the main future fails".to_string()));
    assert_eq!(dropped.get(), 1);
}

#[test]
fn a_task_that_cancels_itself_and_then_returns_resolves_cancelled() {
    // CPython Lib/test/test_asyncio/test_tasks.py BaseTaskTests.test_cancel_yield
    // (a task whose cancel() returned true ends cancelled, whatever its body returns)
    aio::run(async {
        let slot: Rc<RefCell<Option<aio::Task<i32>>>> = Rc::default();
        let accepted = Rc::new(Cell::new(false));
        let t = aio::spawn({
            let slot = slot.clone();
            let accepted = accepted.clone();
            async move {
                aio::yield_now().await;
                let me = slot.borrow();
                accepted.set(me.as_ref().expect("handle stored").cancel());
                7
            }
        });
        *slot.borrow_mut() = Some(t);
        let t = loop {
            aio::yield_now().await;
            let done = slot.borrow().as_ref().is_some_and(|t| t.is_finished());
            if done {
                break slot.borrow_mut().take().expect("stored");
            }
        };
        assert!(accepted.get(), "cancel() of a running task returns true");
        assert_eq!(t.await, Err(TaskError::Cancelled));
    });
}

#[test]
fn an_expired_timeout_wins_over_an_inner_future_not_ready_at_once() {
    // CPython Lib/test/test_asyncio/test_timeouts.py TimeoutTests.test_timeout_zero_sleep_zero
    // tokio tokio/tests/time_timeout.rs (a zero deadline reports Elapsed for a pending future)
    aio::run(async {
        let r = aio::timeout(Duration::ZERO, aio::sleep(Duration::ZERO)).await;
        assert_eq!(r, Err(aio::Elapsed));
        let r = aio::timeout(Duration::ZERO, aio::yield_now()).await;
        assert_eq!(r, Err(aio::Elapsed));
        // A future ready on its first poll still wins.
        let r = aio::timeout(Duration::ZERO, async { 3 }).await;
        assert_eq!(r, Ok(3));
    });
}

#[test]
fn a_running_timeout_can_be_moved_later_and_earlier() {
    // CPython Lib/test/test_asyncio/test_timeouts.py TimeoutTests.test_reschedule
    aio::run(async {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let inner = async move {
            // Never ready by itself: pending until the timeout gives up.
            std::future::pending::<()>().await;
            drop(tx);
        };
        let mut t = Box::pin(aio::timeout(Duration::from_secs(3600), inner));
        assert!(futures_lite_poll_once(t.as_mut()).await.is_none());
        let later = std::time::Instant::now() + Duration::from_secs(7200);
        t.as_mut().reset(later);
        assert_eq!(t.deadline(), later);
        assert!(futures_lite_poll_once(t.as_mut()).await.is_none());
        t.as_mut().reset(std::time::Instant::now());
        assert_eq!(t.await, Err(aio::Elapsed));
        assert!(rx.recv().is_err(), "the inner future was dropped");
    });
}

#[test]
fn timeout_at_a_past_deadline_lets_a_ready_future_finish_and_times_out_a_pending_one() {
    // tokio tokio/tests/time_timeout.rs completed_future_past_deadline, deadline_now_elapses
    aio::run(async {
        let past = std::time::Instant::now();
        assert_eq!(aio::timeout_at(past, async { 1 }).await, Ok(1));
        assert_eq!(
            aio::timeout_at(past, std::future::pending::<()>()).await,
            Err(aio::Elapsed)
        );
        assert!(aio::sleep_until(past).is_elapsed());
    });
}

/// Polls `f` once; `Some` if it finished.
async fn futures_lite_poll_once<F: std::future::Future + Unpin>(mut f: F) -> Option<F::Output> {
    std::future::poll_fn(|cx| {
        std::task::Poll::Ready(match std::pin::Pin::new(&mut f).poll(cx) {
            std::task::Poll::Ready(v) => Some(v),
            std::task::Poll::Pending => None,
        })
    })
    .await
}
