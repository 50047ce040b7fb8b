//! `map(..).timeout(d)` on both pools: concurrent.futures' `Executor.map(timeout=)`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use concur::{ProcessPoolExecutor, TaskError, ThreadPoolExecutor};

#[test]
fn thread_map_yields_timed_out_for_the_item_past_the_deadline_and_cancels_the_rest() {
    // CPython Lib/test/test_concurrent_futures/executor.py ExecutorTest.test_map_timeout
    let pool = ThreadPoolExecutor::new(1);
    let (release, gate) = mpsc::channel::<()>();
    let gate = Mutex::new(gate);
    let ran = Arc::new(AtomicUsize::new(0));
    let counted = ran.clone();
    let mut it = pool
        .map(
            move |x: u32| {
                counted.fetch_add(1, Ordering::SeqCst);
                if x == 1 {
                    // Stands for work that outlasts the deadline: it ends once the map has.
                    let _ = gate.lock().unwrap().recv();
                }
                x
            },
            [1, 2, 3],
        )
        .timeout(Duration::from_millis(50));
    assert_eq!(it.next(), Some(Err(TaskError::TimedOut)));
    assert_eq!(it.next(), None, "the iteration ends at the timeout");
    drop(it);
    drop(release);
    drop(pool); // waits for item 1
    assert_eq!(
        ran.load(Ordering::SeqCst),
        1,
        "items 2 and 3 were cancelled, never run"
    );
}

fn hang_on_one(x: u64) -> u64 {
    if x == 1 {
        loop {
            std::thread::park(); // stands for work that hangs
        }
    }
    x
}

#[test]
fn process_map_yields_timed_out_and_cancels_the_chunks_in_flight() {
    // CPython Lib/test/test_concurrent_futures/executor.py ExecutorTest.test_map_timeout
    let pool = ProcessPoolExecutor::builder()
        .max_workers(1)
        .chunk_size(1)
        .build()
        .unwrap();
    let mut it = pool
        .map(hang_on_one, [1, 2, 3])
        .timeout(Duration::from_millis(100));
    assert_eq!(it.next(), Some(Err(TaskError::TimedOut)));
    assert_eq!(it.next(), None);
    drop(it);
    // The hanging item's worker was killed with its cancel: the pool serves again.
    assert_eq!(pool.submit(hang_on_one, 7).join(), Ok(7));
}

#[test]
fn a_map_whose_items_all_finish_in_time_is_not_cut_short() {
    let pool = ThreadPoolExecutor::new(2);
    let out: Vec<_> = pool
        .map(|x: u32| x * 2, 0..100)
        .timeout(Duration::from_secs(3600))
        .collect();
    assert_eq!(out, (0..100).map(|x| Ok(x * 2)).collect::<Vec<_>>());
    let procs = ProcessPoolExecutor::new(2).unwrap();
    let out: Vec<_> = procs
        .map(hang_on_one, [0, 2, 3])
        .timeout(Duration::from_secs(3600))
        .collect();
    assert_eq!(out, vec![Ok(0), Ok(2), Ok(3)]);
}
