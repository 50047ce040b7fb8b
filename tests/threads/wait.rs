//! `wait` in its three modes and with timeouts, and `as_completed` order.

use std::sync::mpsc;
use std::time::Duration;

use concur::{as_completed, wait, JoinHandle, ReturnWhen, TaskError, ThreadPoolExecutor};

/// `n` tasks on their own workers, each blocked until its gate is opened; task `i`
/// returns `i`, or panics if `fail(i)`.
fn gated_tasks(
    pool: &ThreadPoolExecutor,
    n: usize,
    fail: impl Fn(usize) -> bool,
) -> (Vec<mpsc::Sender<()>>, Vec<JoinHandle<usize>>) {
    (0..n)
        .map(|i| {
            let (tx, rx) = mpsc::channel::<()>();
            let fails = fail(i);
            let h = pool.submit(move || {
                let _ = rx.recv();
                assert!(!fails, "task {i} fails");
                i
            });
            (tx, h)
        })
        .unzip()
}

#[test]
fn first_completed_returns_when_one_finishes() {
    let pool = ThreadPoolExecutor::new(4);
    let (gates, hs) = gated_tasks(&pool, 4, |_| false);
    gates[2].send(()).unwrap();
    let w = wait(&hs, ReturnWhen::FirstCompleted, None);
    assert_eq!(w.done, [2]);
    assert_eq!(w.not_done, [0, 1, 3]);
    drop(gates);
}

#[test]
fn all_completed_waits_for_every_task() {
    let pool = ThreadPoolExecutor::new(4);
    let (gates, hs) = gated_tasks(&pool, 4, |_| false);
    let opener = std::thread::spawn(move || {
        for g in gates.into_iter().rev() {
            g.send(()).unwrap();
        }
    });
    let w = wait(&hs, ReturnWhen::AllCompleted, None);
    assert_eq!(w.done, [0, 1, 2, 3]);
    assert!(w.not_done.is_empty());
    opener.join().unwrap();
}

#[test]
fn first_error_returns_at_the_first_failure() {
    let pool = ThreadPoolExecutor::new(4);
    let (gates, hs) = gated_tasks(&pool, 4, |i| i == 1);
    gates[0].send(()).unwrap(); // succeeds: not enough to return
    gates[1].send(()).unwrap(); // fails: returns
    let w = wait(&hs, ReturnWhen::FirstError, None);
    assert!(w.done.contains(&1));
    assert!(w.not_done.contains(&2) && w.not_done.contains(&3));
    drop(gates);
}

#[test]
fn first_error_without_errors_waits_for_all() {
    let pool = ThreadPoolExecutor::new(4);
    let (gates, hs) = gated_tasks(&pool, 3, |_| false);
    for g in &gates {
        g.send(()).unwrap();
    }
    let w = wait(&hs, ReturnWhen::FirstError, None);
    assert_eq!(w.done, [0, 1, 2]);
}

#[test]
fn wait_times_out_and_reports_what_is_pending() {
    let pool = ThreadPoolExecutor::new(4);
    let (gates, hs) = gated_tasks(&pool, 3, |_| false);
    gates[0].send(()).unwrap();
    assert!(hs[0].wait_timeout(Duration::from_secs(30)));
    for when in [ReturnWhen::AllCompleted, ReturnWhen::FirstError] {
        let w = wait(&hs, when, Some(Duration::from_millis(10)));
        assert_eq!((w.done, w.not_done), (vec![0], vec![1, 2]));
    }
    let w = wait(&hs[1..], ReturnWhen::FirstCompleted, Some(Duration::ZERO));
    assert_eq!(w.not_done, [0, 1]);
    drop(gates);
    // After the gates close the tasks finish; the handles still hold their outcomes.
    let w = wait(&hs, ReturnWhen::AllCompleted, None);
    assert_eq!(w.done.len(), 3);
    let outcomes: Vec<_> = hs.into_iter().map(JoinHandle::join).collect();
    assert_eq!(outcomes, [Ok(0), Ok(1), Ok(2)]);
}

#[test]
fn wait_on_nothing_returns_at_once() {
    let hs: Vec<JoinHandle<()>> = Vec::new();
    for when in [
        ReturnWhen::FirstCompleted,
        ReturnWhen::FirstError,
        ReturnWhen::AllCompleted,
    ] {
        assert_eq!(wait(&hs, when, None), concur::Waited::default());
    }
}

#[test]
fn as_completed_yields_in_completion_order_with_input_indices() {
    // CPython Lib/test/test_concurrent_futures/test_as_completed.py AsCompletedTests.test_no_timeout
    let pool = ThreadPoolExecutor::new(5);
    let (gates, hs) = gated_tasks(&pool, 5, |i| i == 4);
    let order = [3, 0, 4, 2, 1];
    let mut it = as_completed(hs);
    assert_eq!(it.len(), 5);
    for &i in &order {
        gates[i].send(()).unwrap();
        let (index, outcome) = it.next().unwrap();
        assert_eq!(index, i);
        match outcome {
            Ok(v) => assert_eq!(v, i),
            Err(e) => assert!(i == 4 && e.is_panic(), "{e}"),
        }
    }
    assert!(it.next().is_none());
}

#[test]
fn as_completed_yields_finished_tasks_first_in_input_order() {
    let pool = ThreadPoolExecutor::new(2);
    let hs: Vec<_> = (0..3).map(|i| pool.submit(move || i)).collect();
    for h in &hs {
        assert!(h.wait_timeout(Duration::from_secs(30)));
    }
    let got: Vec<_> = as_completed(hs).collect();
    assert_eq!(got, [(0, Ok(0)), (1, Ok(1)), (2, Ok(2))]);
}

#[test]
fn as_completed_reports_cancelled_tasks() {
    let pool = ThreadPoolExecutor::new(1);
    let (gates, mut hs) = gated_tasks(&pool, 1, |_| false);
    hs.push(pool.submit(|| 99));
    assert!(hs[1].cancel());
    let mut it = as_completed(hs);
    assert_eq!(it.next().unwrap(), (1, Err(TaskError::Cancelled)));
    gates[0].send(()).unwrap();
    assert_eq!(it.next().unwrap(), (0, Ok(0)));
}

#[test]
fn dropping_as_completed_early_detaches_the_rest() {
    let pool = ThreadPoolExecutor::new(2);
    let (gates, hs) = gated_tasks(&pool, 2, |_| false);
    gates[1].send(()).unwrap();
    let mut it = as_completed(hs);
    assert_eq!(it.next().unwrap().0, 1);
    drop(it);
    drop(gates);
    pool.shutdown();
    assert_eq!(pool.stats().completed, 2);
}
