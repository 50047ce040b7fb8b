//! `JoinHandle::on_outcome`: done callbacks that see the outcome without taking it from
//! the handle's owner (Python passes the future to its `add_done_callback` callback),
//! on the thread pool, the process pool and `concur::promise()` handles.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};

use concur::{promise, ProcessPoolExecutor, TaskError, ThreadPoolExecutor};

/// What a callback saw, owned.
type Seen<T> = Result<T, TaskError>;

/// A callback that sends what it saw, owned, down `tx`.
fn record<T: Clone + Send + 'static>(
    tx: mpsc::Sender<Seen<T>>,
) -> impl FnOnce(Result<&T, &TaskError>) + Send + 'static {
    move |r: Result<&T, &TaskError>| tx.send(r.cloned().map_err(Clone::clone)).unwrap()
}

#[test]
fn a_callback_sees_a_promise_value_and_the_owner_still_gets_it() {
    // CPython Lib/test/test_concurrent_futures/test_future.py FutureTests.test_done_callback_with_result
    let (p, h) = promise::<u32>();
    let (tx, seen) = mpsc::channel();
    h.on_outcome(record(tx));
    assert!(seen.try_recv().is_err(), "not before the outcome");
    p.set(5);
    assert_eq!(
        seen.try_recv().unwrap(),
        Ok(5),
        "ran on the thread that set it"
    );
    assert_eq!(h.join(), Ok(5));
}

#[test]
fn a_callback_sees_a_promise_error() {
    // CPython Lib/test/test_concurrent_futures/test_future.py FutureTests.test_done_callback_with_exception
    let (p, h) = promise::<u32>();
    let (tx, seen) = mpsc::channel();
    h.on_outcome(record(tx));
    p.fail(TaskError::Failed("test".into()));
    assert_eq!(seen.recv().unwrap(), Err(TaskError::Failed("test".into())));
    assert_eq!(h.join(), Err(TaskError::Failed("test".into())));
}

#[test]
fn a_callback_sees_a_cancellation() {
    // CPython Lib/test/test_concurrent_futures/test_future.py FutureTests.test_done_callback_with_cancel
    let (p, h) = promise::<u32>();
    let (tx, seen) = mpsc::channel();
    h.on_outcome(record(tx));
    assert!(h.cancel());
    assert_eq!(seen.try_recv().unwrap(), Err(TaskError::Cancelled));
    assert!(p.is_cancelled());
}

#[test]
fn a_panicking_callback_leaves_the_others_and_the_outcome_alone() {
    // CPython Lib/test/test_concurrent_futures/test_future.py FutureTests.test_done_callback_raises
    let (p, h) = promise::<u32>();
    let raised = Arc::new(AtomicUsize::new(0));
    let counted = raised.clone();
    h.on_outcome(move |_| {
        counted.fetch_add(1, Ordering::SeqCst);
        panic!("doh!");
    });
    let (tx, seen) = mpsc::channel();
    h.on_outcome(record(tx));
    p.set(5); // the panic does not reach the setter
    assert_eq!(raised.load(Ordering::SeqCst), 1);
    assert_eq!(
        seen.try_recv().unwrap(),
        Ok(5),
        "the next callback still ran"
    );
    assert_eq!(h.join(), Ok(5));
}

#[test]
fn a_callback_added_after_success_runs_at_once_here() {
    // CPython Lib/test/test_concurrent_futures/test_future.py FutureTests.test_done_callback_already_successful
    let (p, h) = promise::<u32>();
    p.set(5);
    let here = std::thread::current().id();
    let (tx, rx) = mpsc::channel();
    h.on_outcome(move |r| {
        let r = r.copied().map_err(TaskError::clone);
        tx.send((r, std::thread::current().id())).unwrap()
    });
    assert_eq!(rx.try_recv().unwrap(), (Ok(5), here));
    assert_eq!(h.join(), Ok(5));
}

#[test]
fn a_callback_added_after_failure_runs_at_once() {
    // CPython Lib/test/test_concurrent_futures/test_future.py FutureTests.test_done_callback_already_failed
    let (p, h) = promise::<u32>();
    p.fail(TaskError::Failed("test".into()));
    let (tx, seen) = mpsc::channel();
    h.on_outcome(record(tx));
    assert_eq!(
        seen.try_recv().unwrap(),
        Err(TaskError::Failed("test".into()))
    );
}

#[test]
fn a_callback_added_after_cancellation_runs_at_once() {
    // CPython Lib/test/test_concurrent_futures/test_future.py FutureTests.test_done_callback_already_cancelled
    let (_p, h) = promise::<u32>();
    assert!(h.cancel());
    let (tx, seen) = mpsc::channel();
    h.on_outcome(record(tx));
    assert_eq!(seen.try_recv().unwrap(), Err(TaskError::Cancelled));
}

#[test]
fn a_panicking_callback_added_after_success_does_not_reach_the_caller() {
    // CPython Lib/test/test_concurrent_futures/test_future.py FutureTests.test_done_callback_raises_already_succeeded
    let (p, h) = promise::<u32>();
    p.set(5);
    h.on_outcome(|_| panic!("doh!"));
    let (tx, seen) = mpsc::channel();
    h.on_outcome(record(tx));
    assert_eq!(seen.try_recv().unwrap(), Ok(5));
    assert_eq!(h.join(), Ok(5));
}

#[test]
fn callbacks_run_in_the_order_added_and_before_the_handle_reports_finished() {
    let pool = ThreadPoolExecutor::new(1);
    let (release, gate) = mpsc::channel::<()>();
    let h = pool.submit(move || {
        gate.recv().unwrap();
        vec![1u8, 2, 3]
    });
    let order = Arc::new(Mutex::new(Vec::new()));
    for i in 0..3 {
        let order = order.clone();
        h.on_outcome(move |r: Result<&Vec<u8>, &TaskError>| {
            order.lock().unwrap().push((i, r.unwrap().len()));
        });
    }
    release.send(()).unwrap();
    // No wait for the callbacks: `join` returns after they ran.
    assert_eq!(h.join(), Ok(vec![1, 2, 3]));
    assert_eq!(*order.lock().unwrap(), vec![(0, 3), (1, 3), (2, 3)]);
}

#[test]
fn a_thread_pool_callback_sees_a_panic_as_an_error() {
    let pool = ThreadPoolExecutor::new(1);
    let (tx, rx) = mpsc::channel();
    let (release, gate) = mpsc::channel::<()>();
    let h = pool.submit(move || -> u8 {
        gate.recv().unwrap();
        panic!("boom")
    });
    h.on_outcome(move |r| tx.send(r.map_err(TaskError::is_panic).copied()).unwrap());
    release.send(()).unwrap();
    assert!(h.join().unwrap_err().is_panic());
    assert_eq!(rx.recv().unwrap(), Err(true));
}

fn double(x: u64) -> u64 {
    x * 2
}

#[test]
fn a_process_pool_callback_sees_the_value_and_the_owner_still_gets_it() {
    let pool = ProcessPoolExecutor::new(1).unwrap();
    let h = pool.submit(double, 21);
    let (tx, seen) = mpsc::channel();
    h.on_outcome(record(tx));
    assert_eq!(h.join(), Ok(42));
    assert_eq!(seen.try_recv().unwrap(), Ok(42), "ran before join returned");
    // And on a handle that has finished already.
    let h = pool.submit(double, 4);
    assert!(h.wait_timeout(std::time::Duration::from_secs(60)));
    let (tx, seen) = mpsc::channel();
    h.on_outcome(record(tx));
    assert_eq!(seen.try_recv().unwrap(), Ok(8));
    assert_eq!(h.join(), Ok(8));
}

#[test]
fn on_outcome_and_on_done_both_run_on_one_handle() {
    let (p, h) = promise::<String>();
    let (tx, rx) = mpsc::channel();
    let plain = tx.clone();
    h.on_done(move || plain.send("on_done".to_owned()).unwrap());
    h.on_outcome(move |r| tx.send(format!("on_outcome {}", r.unwrap())).unwrap());
    p.set("x".to_owned());
    let mut got: Vec<String> = rx.try_iter().collect();
    got.sort();
    assert_eq!(got, ["on_done", "on_outcome x"]);
    assert_eq!(h.join(), Ok("x".to_owned()));
}
