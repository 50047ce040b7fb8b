//! Thread-pool cases ported from CPython's `Lib/test/test_concurrent_futures/`.

use std::sync::mpsc;
use std::sync::{Arc, Barrier};

use concur::ThreadPoolExecutor;

/// Submits `tasks` tasks that block until released, waits until every one runs, and
/// returns how many worker threads the pool started for them.
fn threads_started_for_blocked_tasks(max_workers: usize, tasks: usize) -> usize {
    let pool = ThreadPoolExecutor::new(max_workers);
    let release = Arc::new(Barrier::new(tasks + 1));
    let (started_tx, started_rx) = mpsc::channel();
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            let release = Arc::clone(&release);
            let started = started_tx.clone();
            pool.submit(move || {
                started.send(()).unwrap();
                release.wait();
            })
        })
        .collect();
    for _ in 0..tasks {
        started_rx.recv().unwrap();
    }
    // Every task runs, each on its own thread: every decision to start a thread was
    // taken before one of these tasks started, so the count is final.
    let workers = pool.stats().workers;
    release.wait();
    for h in handles {
        h.join().unwrap();
    }
    workers
}

// CPython Lib/test/test_concurrent_futures/test_thread_pool.py ThreadPoolExecutorTest.test_idle_thread_reuse
// (and executor.py ThreadPoolShutdownTest.test_threads_terminate: three blocked tasks, three threads)
#[test]
fn blocked_tasks_start_one_thread_each_and_no_more() {
    for round in 0..40 {
        for (max, tasks) in [(5, 3), (8, 2), (8, 4), (8, 7)] {
            let workers = threads_started_for_blocked_tasks(max, tasks);
            assert_eq!(
                workers, tasks,
                "round {round}: {tasks} blocked tasks on a {max}-thread pool started {workers} threads"
            );
        }
    }
}

// CPython Lib/test/test_concurrent_futures/test_thread_pool.py ThreadPoolExecutorTest.test_idle_thread_reuse
#[test]
fn a_pool_reuses_its_idle_thread_for_tasks_one_after_another() {
    let pool = ThreadPoolExecutor::new(5);
    for i in 0..3 {
        assert_eq!(pool.submit(move || i * 2).join().unwrap(), i * 2);
    }
    assert_eq!(pool.stats().workers, 1);
}
