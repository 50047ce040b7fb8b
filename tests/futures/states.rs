//! CPython `test_concurrent_futures/test_future.py` (`FutureTests`): a handle's states
//! (pending, running, cancelled, finished with a value or an error), what `cancel` does
//! in each, and a wait with a timeout, on thread-pool handles.

use std::sync::mpsc;
use std::time::Duration;

use concur::{JoinHandle, TaskError, ThreadPoolExecutor};

const HANG: Duration = Duration::from_secs(60);

/// One handle in each state, on a one-worker pool: (running, pending, finished with a
/// value, finished with a panic, cancelled), with the gate that ends the running one.
struct States {
    gate: mpsc::Sender<()>,
    running: JoinHandle<i32>,
    pending: JoinHandle<i32>,
    ok: JoinHandle<i32>,
    failed: JoinHandle<i32>,
    cancelled: JoinHandle<i32>,
    _pool: ThreadPoolExecutor,
}

fn states() -> States {
    let pool = ThreadPoolExecutor::new(1);
    let ok = pool.submit(|| 42);
    let failed = pool.submit(|| -> i32 { panic!("OSError") });
    assert!(ok.wait_timeout(HANG) && failed.wait_timeout(HANG));
    let (started_tx, started) = mpsc::channel::<()>();
    let (gate, rx) = mpsc::channel::<()>();
    let running = pool.submit(move || {
        started_tx.send(()).unwrap();
        rx.recv().map_or(-1, |()| 1)
    });
    started.recv().unwrap();
    let pending = pool.submit(|| 2);
    let cancelled = pool.submit(|| 3);
    assert!(cancelled.cancel());
    States {
        gate,
        running,
        pending,
        ok,
        failed,
        cancelled,
        _pool: pool,
    }
}

#[test]
fn is_running_is_finished_and_is_cancelled_in_every_state() {
    // CPython Lib/test/test_concurrent_futures/test_future.py FutureTests.test_cancelled / test_done / test_running
    let s = states();
    let flags = |h: &JoinHandle<i32>| (h.is_running(), h.is_finished(), h.is_cancelled());
    assert_eq!(flags(&s.pending), (false, false, false), "pending");
    assert_eq!(flags(&s.running), (true, false, false), "running");
    assert_eq!(flags(&s.cancelled), (false, true, true), "cancelled");
    assert_eq!(flags(&s.ok), (false, true, false), "finished");
    assert_eq!(flags(&s.failed), (false, true, false), "failed");
    s.gate.send(()).unwrap();
    assert_eq!(s.running.join(), Ok(1));
    assert_eq!(s.pending.join(), Ok(2));
}

#[test]
fn cancel_succeeds_on_pending_and_cancelled_handles_and_fails_on_running_and_finished_ones() {
    // CPython Lib/test/test_concurrent_futures/test_future.py FutureTests.test_cancel (a thread
    // pool cannot stop a running task, as Python's; concur's process pool can, see
    // process_control.rs cancel_of_a_running_task_kills_and_replaces_its_worker)
    let s = states();
    assert!(s.pending.cancel(), "pending");
    assert!(s.pending.is_cancelled());
    assert!(s.cancelled.cancel(), "already cancelled");
    assert!(!s.running.cancel(), "running");
    assert!(!s.running.is_cancelled());
    assert!(!s.ok.cancel(), "finished");
    assert!(!s.failed.cancel(), "failed");
    s.gate.send(()).unwrap();
    assert_eq!(s.running.join(), Ok(1));
    assert_eq!(s.pending.join(), Err(TaskError::Cancelled));
    assert_eq!(s.cancelled.join(), Err(TaskError::Cancelled));
    assert_eq!(s.ok.join(), Ok(42));
    assert!(s.failed.join().unwrap_err().is_panic());
}

#[test]
fn a_wait_with_a_timeout_expires_on_pending_and_running_handles_only() {
    // CPython Lib/test/test_concurrent_futures/test_future.py FutureTests.test_result_with_timeout /
    // test_exception_with_timeout
    let s = states();
    assert!(!s.pending.wait_timeout(Duration::ZERO));
    assert!(!s.running.wait_timeout(Duration::from_millis(10)));
    for finished in [&s.ok, &s.failed, &s.cancelled] {
        assert!(finished.wait_timeout(Duration::ZERO));
    }
    // The timeout took nothing from the handles.
    assert!(!s.running.is_finished() && s.running.is_running());
    s.gate.send(()).unwrap();
    assert_eq!(s.running.join(), Ok(1));
    assert_eq!(s.pending.join(), Ok(2));
    assert_eq!(s.ok.join(), Ok(42));
    match s.failed.join() {
        Err(TaskError::Panicked(p)) => assert_eq!(p.message(), "OSError"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_cancel_from_another_thread_ends_a_wait_with_cancelled() {
    // CPython Lib/test/test_concurrent_futures/test_future.py FutureTests.test_result_with_cancel
    let s = states();
    let pending = &s.pending;
    std::thread::scope(|scope| {
        scope.spawn(|| assert!(pending.cancel()));
        assert!(pending.wait_timeout(HANG), "the cancel woke the waiter");
    });
    let States {
        gate,
        running,
        pending,
        ..
    } = s;
    assert_eq!(pending.join(), Err(TaskError::Cancelled));
    drop(gate);
    assert_eq!(running.join(), Ok(-1));
}
