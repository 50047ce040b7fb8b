//! The shared handle: its state machine, its three kinds of waiter, its future.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use concur::{TaskError, ThreadPoolExecutor};

/// A task blocked until the returned sender sends (or is dropped).
fn gated(pool: &ThreadPoolExecutor) -> (mpsc::Sender<()>, concur::JoinHandle<u32>) {
    let (tx, rx) = mpsc::channel::<()>();
    let h = pool.submit(move || {
        let _ = rx.recv();
        7
    });
    (tx, h)
}

#[test]
fn cancel_racing_the_start_has_exactly_one_winner() {
    let pool = ThreadPoolExecutor::new(2);
    let ran = Arc::new(AtomicUsize::new(0));
    let mut cancelled = 0;
    for _ in 0..20_000 {
        let before = ran.load(Ordering::SeqCst);
        let r = Arc::clone(&ran);
        let h = pool.submit(move || {
            r.fetch_add(1, Ordering::SeqCst);
        });
        let won = h.cancel();
        let outcome = h.join();
        if won {
            cancelled += 1;
            assert_eq!(outcome, Err(TaskError::Cancelled));
        } else {
            assert_eq!(outcome, Ok(()));
            assert_eq!(
                ran.load(Ordering::SeqCst),
                before + 1,
                "a task that was not cancelled ran"
            );
        }
    }
    pool.shutdown();
    // Cancelled tasks never ran: the count of runs is exactly the losers of the race.
    assert_eq!(ran.load(Ordering::SeqCst), 20_000 - cancelled);
}

#[test]
fn cancel_of_a_running_task_is_refused_and_it_completes() {
    let pool = ThreadPoolExecutor::new(1);
    let (started_tx, started_rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let h = pool.submit(move || {
        started_tx.send(()).unwrap();
        go_rx.recv().unwrap();
        1
    });
    started_rx.recv().unwrap();
    assert!(h.is_running());
    assert!(!h.cancel());
    go_tx.send(()).unwrap();
    assert_eq!(h.join(), Ok(1));
}

#[test]
fn cancel_drops_what_the_task_captured_at_once() {
    let pool = ThreadPoolExecutor::new(1);
    let (tx, blocker) = gated(&pool);
    let captured = Arc::new(());
    let c = Arc::clone(&captured);
    let h = pool.submit(move || drop(c));
    assert!(h.cancel());
    assert_eq!(
        Arc::strong_count(&captured),
        1,
        "the closure was dropped by cancel"
    );
    assert!(h.is_cancelled() && h.is_finished());
    assert!(
        h.cancel(),
        "still cancelled: a second cancel says so, like Python"
    );
    tx.send(()).unwrap();
    assert_eq!(blocker.join(), Ok(7));
}

#[test]
fn callbacks_run_once_each_in_the_order_added() {
    let pool = ThreadPoolExecutor::new(1);
    let (tx, h) = gated(&pool);
    let (log_tx, log) = mpsc::channel();
    for i in 0..3 {
        let log_tx = log_tx.clone();
        h.on_done(move || log_tx.send(i).unwrap());
    }
    assert!(
        log.try_recv().is_err(),
        "no callback before the task finished"
    );
    tx.send(()).unwrap();
    assert!(h.wait_timeout(Duration::from_secs(30)));
    // Already done: runs now, or right after the others if they are still running.
    h.on_done(move || log_tx.send(3).unwrap());
    let order: Vec<i32> = log.iter().take(4).collect();
    assert_eq!(order, [0, 1, 2, 3]);
    assert!(log.try_recv().is_err(), "each callback ran once");
    assert_eq!(h.join(), Ok(7));
}

#[test]
fn a_panicking_callback_loses_no_other_callback_and_spares_the_pool() {
    let pool = ThreadPoolExecutor::new(1);
    let (tx, h) = gated(&pool);
    let (done_tx, done_rx) = mpsc::channel();
    let d1 = done_tx.clone();
    h.on_done(move || d1.send("first").unwrap());
    h.on_done(|| panic!("callback failure"));
    h.on_done(move || done_tx.send("third").unwrap());
    tx.send(()).unwrap();
    assert_eq!(done_rx.recv().unwrap(), "first");
    assert_eq!(done_rx.recv().unwrap(), "third");
    assert_eq!(h.join(), Ok(7));
    // The worker that ran the callbacks still serves.
    assert_eq!(pool.submit(|| 8).join(), Ok(8));
    assert_eq!(
        pool.stats().panicked,
        0,
        "a callback's panic is not the task's"
    );
}

#[test]
fn a_callback_added_after_completion_runs_on_the_caller() {
    let pool = ThreadPoolExecutor::new(1);
    let h = pool.submit(|| ());
    assert!(h.wait_timeout(Duration::from_secs(30)));
    let me = std::thread::current().id();
    let (tx, rx) = mpsc::channel();
    h.on_done(move || tx.send(std::thread::current().id()).unwrap());
    assert_eq!(rx.try_recv().unwrap(), me);
}

#[test]
fn wait_timeout_expires_while_the_task_runs_and_keeps_the_outcome() {
    let pool = ThreadPoolExecutor::new(1);
    let (tx, h) = gated(&pool);
    assert!(!h.wait_timeout(Duration::from_millis(5)));
    assert!(!h.wait_timeout(Duration::ZERO));
    assert!(!h.is_finished());
    tx.send(()).unwrap();
    assert!(h.wait_timeout(Duration::from_secs(30)));
    assert!(h.wait_timeout(Duration::ZERO));
    assert_eq!(h.join(), Ok(7));
}

#[test]
fn many_threads_can_wait_on_one_handle() {
    let pool = ThreadPoolExecutor::new(1);
    let (tx, h) = gated(&pool);
    let h = Arc::new(h);
    let waiters: Vec<_> = (0..4)
        .map(|_| {
            let h = Arc::clone(&h);
            std::thread::spawn(move || h.wait_timeout(Duration::from_secs(60)))
        })
        .collect();
    tx.send(()).unwrap();
    for w in waiters {
        assert!(w.join().unwrap());
    }
}

#[test]
fn the_handle_is_a_future_on_another_runtime() {
    let pool = ThreadPoolExecutor::new(2);
    let (tx, h) = gated(&pool);
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let quick = pool.submit(|| "quick");
    let out = rt.block_on(async move {
        let q = quick.await;
        tx.send(()).unwrap();
        (q, h.await)
    });
    assert_eq!(out, (Ok("quick"), Ok(7)));
}

#[test]
fn a_panic_becomes_an_error_with_its_message() {
    let pool = ThreadPoolExecutor::new(1);
    let h = pool.submit(|| -> u8 { panic!("task {} failed", 3) });
    let err = h.join().unwrap_err();
    assert_eq!(err, TaskError::Panicked("task 3 failed".into()));
    assert!(err.to_string().contains("task 3 failed"));
    let h = pool.submit(|| std::panic::panic_any(42u8));
    assert!(matches!(h.join(), Err(TaskError::Panicked(m)) if m.contains("non-string")));
    assert_eq!(pool.submit(|| 1).join(), Ok(1), "the worker survived");
}

#[test]
fn debug_names_the_state() {
    let pool = ThreadPoolExecutor::new(1);
    let (tx, h) = gated(&pool);
    let queued = pool.submit(|| ());
    assert_eq!(format!("{queued:?}"), "JoinHandle { state: \"pending\" }");
    queued.cancel();
    assert_eq!(format!("{queued:?}"), "JoinHandle { state: \"cancelled\" }");
    tx.send(()).unwrap();
    h.wait_timeout(Duration::from_secs(30));
    assert_eq!(format!("{h:?}"), "JoinHandle { state: \"finished\" }");
}

#[test]
fn polling_a_handle_after_its_outcome_panics_with_a_clear_message() {
    use std::future::Future;
    use std::task::{Context, Poll, Waker};
    let pool = ThreadPoolExecutor::new(1);
    let mut h = pool.submit(|| 3);
    assert!(h.wait_timeout(Duration::from_secs(30)));
    let mut cx = Context::from_waker(Waker::noop());
    assert_eq!(std::pin::Pin::new(&mut h).poll(&mut cx), Poll::Ready(Ok(3)));
    let again = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = std::pin::Pin::new(&mut h).poll(&mut cx);
    }));
    let msg = again.unwrap_err();
    let msg = msg.downcast_ref::<&str>().copied().unwrap_or_default();
    assert!(
        msg.contains("polled again after it returned its outcome"),
        "{msg}"
    );
}

/// `true` if `at` names a place in this file (`file:line:column`).
fn in_this_file(at: &str) -> bool {
    at.strip_prefix(concat!(file!(), ":"))
        .is_some_and(|rest| rest.split(':').all(|n| n.parse::<u32>().is_ok()))
}

#[test]
fn a_thread_pool_task_s_panic_carries_where_it_was_raised() {
    let pool = ThreadPoolExecutor::new(1);
    let err = pool
        .submit(|| -> u8 { panic!("at a known place") })
        .join()
        .unwrap_err();
    let TaskError::Panicked(p) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(p, "at a known place");
    let at = p.location().expect("a location");
    assert!(in_this_file(at), "{at}");
    assert_eq!(
        err.to_string(),
        format!("task panicked at {at}: at a known place")
    );
}

#[test]
fn an_event_loop_task_s_panic_carries_where_it_was_raised() {
    let task = async { concur::aio::spawn(async { panic!("in a loop task") }).await };
    let err: TaskError = concur::aio::run(task).unwrap_err();
    let TaskError::Panicked(p) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(p, "in a loop task");
    assert!(p.location().is_some_and(in_this_file), "{p:?}");
}
