//! `as_completed` cases ported from CPython's `Lib/test/test_concurrent_futures/`.

use std::sync::mpsc;
use std::time::Duration;

use concur::{as_completed, wait, ReturnWhen, ThreadPoolExecutor};

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
