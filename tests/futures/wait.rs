//! `as_completed` and `wait` cases ported from CPython's `Lib/test/test_concurrent_futures/`.

use std::sync::mpsc;
use std::time::Duration;

use concur::{as_completed, promise, wait, JoinHandle, ReturnWhen, TaskError, ThreadPoolExecutor};

// CPython Lib/test/test_concurrent_futures/test_as_completed.py AsCompletedTests.test_zero_timeout
#[test]
fn as_completed_with_zero_timeout_yields_the_finished_and_hands_back_the_rest() {
    let pool = ThreadPoolExecutor::new(3);
    let (release, blocked) = mpsc::channel::<()>();
    let pending = pool.submit(move || blocked.recv().is_ok() as i32);
    let finished = [pool.submit(|| 7), pool.submit(|| -> i32 { panic!("boom") })];
    wait(&finished, ReturnWhen::AllCompleted, None);
    let [ok, failed] = finished;
    let mut it = as_completed(vec![ok, pending, failed]).timeout(Duration::ZERO);
    let mut yielded: Vec<(usize, bool)> = it.by_ref().map(|(i, r)| (i, r.is_ok())).collect();
    yielded.sort();
    assert_eq!(yielded, vec![(0, true), (2, false)]);
    assert!(it.next().is_none(), "the iteration stays ended");
    let pending = it.into_pending();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].0, 1);
    drop(release);
    let (_, h) = pending.into_iter().next().unwrap();
    assert_eq!(h.join().unwrap(), 0);
}

// CPython Lib/test/test_concurrent_futures/test_as_completed.py AsCompletedTests.test_future_times_out
#[test]
fn as_completed_ends_at_its_deadline_and_loses_no_handle() {
    let pool = ThreadPoolExecutor::new(2);
    let (release, blocked) = mpsc::channel::<u8>();
    let never_before_release = pool.submit(move || blocked.recv().unwrap());
    let mut it = as_completed(vec![never_before_release]).timeout(Duration::from_millis(20));
    assert!(
        it.next().is_none(),
        "a task that cannot finish is not yielded"
    );
    let mut pending = it.into_pending();
    assert_eq!(pending.len(), 1);
    release.send(5).unwrap();
    let (i, h) = pending.pop().unwrap();
    assert_eq!((i, h.join().unwrap()), (0, 5));
}

// concur: into_pending without a timeout hands back what was not yielded, finished or not.
#[test]
fn into_pending_returns_every_handle_not_yielded_in_input_order() {
    let pool = ThreadPoolExecutor::new(2);
    let handles: Vec<_> = (0..4).map(|i| pool.submit(move || i)).collect();
    wait(&handles, ReturnWhen::AllCompleted, None);
    let mut it = as_completed(handles);
    let (first, r) = it.next().unwrap();
    assert_eq!(r.unwrap(), first);
    let pending = it.into_pending();
    let indices: Vec<usize> = pending.iter().map(|(i, _)| *i).collect();
    let mut expected: Vec<usize> = (0..4).filter(|&i| i != first).collect();
    expected.sort();
    assert_eq!(indices, expected);
    for (i, h) in pending {
        assert_eq!(h.join().unwrap(), i);
    }
}

/// Handles already in each final state, as CPython's module-level `SUCCESSFUL_FUTURE`,
/// `EXCEPTION_FUTURE` and `CANCELLED_AND_NOTIFIED_FUTURE`.
fn successful() -> JoinHandle<i32> {
    let (p, h) = promise();
    p.set(42);
    h
}

fn failed() -> JoinHandle<i32> {
    let (p, h) = promise();
    p.fail(TaskError::Failed("OSError".into()));
    h
}

fn cancelled() -> JoinHandle<i32> {
    let (_p, h) = promise();
    assert!(h.cancel());
    h
}

/// A task on `pool` that runs until `gate` is dropped or sent to.
fn blocked(pool: &ThreadPoolExecutor) -> (mpsc::Sender<()>, JoinHandle<i32>) {
    let (tx, rx) = mpsc::channel::<()>();
    (tx, pool.submit(move || rx.recv().map_or(-1, |()| 1)))
}

// CPython Lib/test/test_concurrent_futures/test_wait.py WaitTests.test_first_completed
#[test]
fn first_completed_returns_the_task_that_finished_and_leaves_the_blocked_one() {
    let pool = ThreadPoolExecutor::new(2);
    let (gate, slow) = blocked(&pool);
    let quick = pool.submit(|| 21 * 2);
    assert!(quick.wait_timeout(Duration::from_secs(60)));
    let hs = [slow, quick];
    let w = wait(&hs, ReturnWhen::FirstCompleted, None);
    assert_eq!((w.done, w.not_done), (vec![1], vec![0]));
    drop(gate);
}

// CPython Lib/test/test_concurrent_futures/test_wait.py WaitTests.test_first_completed_some_already_completed
// (concur: a cancelled handle has finished, so it counts as done, as CANCELLED_AND_NOTIFIED)
#[test]
fn first_completed_with_some_already_finished_returns_them_at_once() {
    let pool = ThreadPoolExecutor::new(1);
    let (gate, slow) = blocked(&pool);
    let hs = [cancelled(), successful(), slow];
    let w = wait(&hs, ReturnWhen::FirstCompleted, None);
    assert_eq!((w.done, w.not_done), (vec![0, 1], vec![2]));
    drop(gate);
}

// CPython Lib/test/test_concurrent_futures/test_wait.py WaitTests.test_first_exception
#[test]
fn first_error_returns_at_the_failure_with_the_successes_before_it() {
    let pool = ThreadPoolExecutor::new(3);
    let (fail_gate, fails) = mpsc::channel::<()>();
    let (gate, slow) = blocked(&pool);
    let quick = pool.submit(|| 21 * 2);
    assert!(quick.wait_timeout(Duration::from_secs(60)));
    let raising = pool.submit(move || -> i32 {
        fails.recv().unwrap();
        panic!("this is an exception")
    });
    let hs = [quick, raising, slow];
    fail_gate.send(()).unwrap();
    let w = wait(&hs, ReturnWhen::FirstError, None);
    assert_eq!((w.done, w.not_done), (vec![0, 1], vec![2]));
    drop(gate);
    let [_, raising, _] = hs;
    assert!(raising.join().unwrap_err().is_panic());
}

// CPython Lib/test/test_concurrent_futures/test_wait.py WaitTests.test_first_exception_some_already_complete
// (concur: a cancellation is an error to FirstError, so the cancelled handle ends the wait
// at once, where Python waits for the first exception)
#[test]
fn first_error_with_finished_handles_counts_a_cancellation_as_an_error() {
    let pool = ThreadPoolExecutor::new(2);
    let (gate, slow) = blocked(&pool);
    let hs = [successful(), cancelled(), slow];
    let w = wait(&hs, ReturnWhen::FirstError, None);
    assert_eq!((w.done, w.not_done), (vec![0, 1], vec![2]));
    // Without the cancellation, the failure of a running task ends it.
    let (fail_gate, fails) = mpsc::channel::<()>();
    let raising = pool.submit(move || -> i32 {
        fails.recv().unwrap();
        panic!("divide by zero")
    });
    let [ok, _, slow] = hs;
    let hs = [ok, raising, slow];
    fail_gate.send(()).unwrap();
    let w = wait(&hs, ReturnWhen::FirstError, None);
    assert_eq!((w.done, w.not_done), (vec![0, 1], vec![2]));
    drop(gate);
}

// CPython Lib/test/test_concurrent_futures/test_wait.py WaitTests.test_first_exception_one_already_failed
#[test]
fn first_error_with_one_already_failed_returns_at_once() {
    let pool = ThreadPoolExecutor::new(1);
    let (gate, slow) = blocked(&pool);
    let hs = [failed(), slow];
    let w = wait(&hs, ReturnWhen::FirstError, None);
    assert_eq!((w.done, w.not_done), (vec![0], vec![1]));
    drop(gate);
}

// CPython Lib/test/test_concurrent_futures/test_wait.py WaitTests.test_all_completed
#[test]
fn all_completed_over_finished_failed_cancelled_and_running_handles_waits_for_all() {
    let pool = ThreadPoolExecutor::new(2);
    let (gate, slow) = blocked(&pool);
    let raising = pool.submit(|| -> i32 { panic!("boom") });
    let hs = [successful(), cancelled(), failed(), raising, slow];
    let opener = std::thread::spawn(move || gate.send(()).unwrap());
    let w = wait(&hs, ReturnWhen::AllCompleted, None);
    assert_eq!((w.done, w.not_done), (vec![0, 1, 2, 3, 4], vec![]));
    opener.join().unwrap();
    let outcomes: Vec<_> = hs.into_iter().map(JoinHandle::join).collect();
    assert_eq!(outcomes[0], Ok(42));
    assert_eq!(outcomes[1], Err(TaskError::Cancelled));
    assert_eq!(outcomes[2], Err(TaskError::Failed("OSError".into())));
    assert!(outcomes[3].as_ref().unwrap_err().is_panic());
    assert_eq!(outcomes[4], Ok(1));
}

// CPython Lib/test/test_concurrent_futures/test_wait.py WaitTests.test_timeout
#[test]
fn all_completed_with_a_timeout_reports_the_finished_and_the_one_still_running() {
    let pool = ThreadPoolExecutor::new(1);
    let (gate, slow) = blocked(&pool);
    let hs = [cancelled(), failed(), successful(), slow];
    let w = wait(
        &hs,
        ReturnWhen::AllCompleted,
        Some(Duration::from_millis(20)),
    );
    assert_eq!((w.done, w.not_done), (vec![0, 1, 2], vec![3]));
    drop(gate);
}

// CPython Lib/test/test_concurrent_futures/test_wait.py ThreadPoolWaitTests.test_pending_calls_race
#[test]
fn all_completed_over_a_hundred_tasks_released_at_once_sees_every_one() {
    let pool = ThreadPoolExecutor::new(8);
    // The event: every task blocks on the read side while this thread holds the write side.
    let event = std::sync::Arc::new(std::sync::RwLock::new(()));
    let set = event.write().unwrap();
    let hs: Vec<_> = (0..100)
        .map(|i| {
            let event = event.clone();
            pool.submit(move || {
                drop(event.read().unwrap());
                i
            })
        })
        .collect();
    drop(set);
    let w = wait(&hs, ReturnWhen::AllCompleted, None);
    assert_eq!(w.done, (0..100).collect::<Vec<_>>());
    assert!(w.not_done.is_empty());
}

#[cfg(feature = "process-pool")]
fn divmod((a, b): (i32, i32)) -> (i32, i32) {
    (a / b, a % b)
}

// CPython Lib/test/test_concurrent_futures/test_wait.py WaitTests.test_all_completed / test_first_exception
// on the process pool (CPython runs WaitTests on both pools)
#[cfg(feature = "process-pool")]
#[test]
fn wait_over_process_handles_mixed_with_finished_ones() {
    let pool = concur::ProcessPoolExecutor::builder()
        .max_workers(2)
        .env("RUST_BACKTRACE", "0")
        .build()
        .unwrap();
    let hs = [pool.submit(divmod, (2, 0)), pool.submit(divmod, (42, 1))];
    let w = wait(&hs, ReturnWhen::AllCompleted, None);
    assert_eq!((w.done, w.not_done), (vec![0, 1], vec![]));
    let w = wait(&hs, ReturnWhen::FirstError, None);
    assert!(w.done.contains(&0));
    let [failing, fine] = hs;
    assert!(failing.join().unwrap_err().is_panic());
    assert_eq!(fine.join(), Ok((42, 0)));
    let others = [successful(), failed(), cancelled()];
    let w = wait(&others, ReturnWhen::AllCompleted, None);
    assert_eq!(w.done, [0, 1, 2]);
}
