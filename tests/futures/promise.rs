//! `concur::promise`: a handle completed by user code (asyncio's and concurrent.futures'
//! hand-made `Future`, `set_result`/`set_exception`).

use std::sync::mpsc;
use std::time::Duration;

use concur::{aio, as_completed, promise, wait, ReturnWhen, TaskError};

#[test]
fn a_set_promise_gives_its_handle_the_value_from_another_thread() {
    // CPython Lib/test/test_concurrent_futures/test_future.py FutureTests.test_result_with_success
    let (p, h) = promise::<Vec<u8>>();
    let t = std::thread::spawn(move || p.set(vec![1, 2, 3]));
    assert_eq!(h.join(), Ok(vec![1, 2, 3]));
    t.join().unwrap();
}

#[test]
fn a_failed_promise_gives_its_handle_the_error() {
    // CPython Lib/test/test_concurrent_futures/test_future.py FutureTests.test_exception_with_success
    let (p, h) = promise::<u8>();
    p.fail(TaskError::Failed("bad input".into()));
    assert_eq!(h.join(), Err(TaskError::Failed("bad input".into())));
}

#[test]
fn a_dropped_promise_resolves_its_handle_with_an_error_that_says_so() {
    let (p, h) = promise::<u8>();
    std::thread::spawn(move || drop(p)).join().unwrap();
    match h.join() {
        Err(TaskError::Broken(why)) => assert!(why.contains("Promise was dropped"), "{why}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_cancelled_promise_handle_stays_cancelled_and_the_late_value_is_dropped() {
    // CPython Lib/test/test_concurrent_futures/test_future.py FutureTests.test_cancel
    let (p, h) = promise::<std::sync::Arc<()>>();
    assert!(h.cancel());
    assert!(p.is_cancelled());
    let value = std::sync::Arc::new(());
    p.set(value.clone());
    assert_eq!(
        std::sync::Arc::strong_count(&value),
        1,
        "the late value was dropped"
    );
    assert_eq!(h.join(), Err(TaskError::Cancelled));
}

#[test]
fn promise_handles_work_with_wait_as_completed_and_on_done() {
    // CPython Lib/test/test_concurrent_futures/test_wait.py and test_as_completed.py, with
    // hand-made futures
    let (p1, h1) = promise::<u32>();
    let (p2, h2) = promise::<u32>();
    let (tx, rx) = mpsc::channel();
    h2.on_done(move || tx.send("second done").unwrap());
    p2.set(2);
    assert_eq!(rx.recv().unwrap(), "second done");
    let handles = vec![h1, h2];
    let waited = wait(&handles, ReturnWhen::FirstCompleted, None);
    assert_eq!((waited.done, waited.not_done), (vec![1], vec![0]));
    p1.set(1);
    let mut all: Vec<_> = as_completed(handles)
        .map(|(i, r)| (i, r.unwrap()))
        .collect();
    all.sort();
    assert_eq!(all, [(0, 1), (1, 2)]);
}

#[test]
fn a_promise_handle_can_be_awaited_on_the_event_loop() {
    let got = aio::run(async {
        let (p, h) = promise::<&'static str>();
        aio::spawn(async move {
            aio::sleep(Duration::from_millis(1)).await;
            p.set("kept");
        });
        h.await
    });
    assert_eq!(got, Ok("kept"));
}
