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
// (and test_shutdown.py ThreadPoolShutdownTest.test_threads_terminate: three blocked tasks, three threads)
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

/// Sends on its channel when the thread that holds it exits (thread-local destructor).
struct ExitSignal(mpsc::Sender<()>);

impl Drop for ExitSignal {
    fn drop(&mut self) {
        let _ = self.0.send(());
    }
}

thread_local! {
    static ON_EXIT: std::cell::RefCell<Option<ExitSignal>> = const { std::cell::RefCell::new(None) };
}

// CPython Lib/test/test_concurrent_futures/test_shutdown.py ThreadPoolShutdownTest.test_shutdown_no_wait
// (and ExecutorShutdownTest.test_cancel_futures_wait_false's "work finishes in the background")
#[test]
fn shutdown_nowait_returns_at_once_then_runs_the_work_and_every_thread_exits() {
    let (exited_tx, exited_rx) = mpsc::channel();
    let exited_tx = std::sync::Mutex::new(exited_tx);
    let pool = ThreadPoolExecutor::builder()
        .max_workers(3)
        .initializer(move || -> Result<(), String> {
            let tx = exited_tx.lock().unwrap().clone();
            ON_EXIT.with(|s| *s.borrow_mut() = Some(ExitSignal(tx)));
            Ok(())
        })
        .build();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let release_rx = std::sync::Arc::new(std::sync::Mutex::new(release_rx));
    let (started_tx, started_rx) = mpsc::channel();
    let handles: Vec<_> = (0..3)
        .map(|i| {
            let release = std::sync::Arc::clone(&release_rx);
            let started = started_tx.clone();
            pool.submit(move || {
                started.send(()).unwrap();
                release.lock().unwrap().recv().unwrap();
                i
            })
        })
        .collect();
    for _ in 0..3 {
        started_rx.recv().unwrap();
    }
    let queued = pool.submit(|| 10);
    // Returns while every worker is blocked: it cannot have waited for them.
    pool.shutdown_nowait();
    assert_eq!(pool.submit(|| 0).join(), Err(concur::TaskError::Shutdown));
    let workers = pool.stats().workers;
    assert_eq!(workers, 3);
    drop(pool); // does not wait either
    for _ in 0..3 {
        release_tx.send(()).unwrap();
    }
    let mut results: Vec<i32> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    results.sort();
    assert_eq!(results, vec![0, 1, 2]);
    assert_eq!(queued.join(), Ok(10), "queued work still runs");
    for _ in 0..workers {
        exited_rx.recv().expect("every worker thread exits");
    }
}

#[test]
fn dropping_a_cancel_on_drop_handle_cancels_its_queued_thread_task() {
    // asyncio's run_in_executor: cancelling the awaiting future cancels the executor's.
    let pool = concur::ThreadPoolExecutor::new(1);
    let (release, gate) = std::sync::mpsc::channel::<()>();
    let blocker = pool.submit(move || gate.recv().is_ok());
    let ran = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = ran.clone();
    let queued = pool
        .submit(move || flag.store(true, std::sync::atomic::Ordering::SeqCst))
        .cancel_on_drop();
    drop(queued);
    release.send(()).unwrap();
    assert_eq!(blocker.join(), Ok(true));
    drop(pool);
    assert!(
        !ran.load(std::sync::atomic::Ordering::SeqCst),
        "the queued task never ran"
    );
}

#[test]
fn the_shared_thread_pool_is_one_pool_for_every_thread() {
    let addrs: Vec<usize> = (0..4)
        .map(|_| std::thread::spawn(|| concur::ThreadPoolExecutor::shared() as *const _ as usize))
        .map(|t| t.join().unwrap())
        .collect();
    assert!(addrs.windows(2).all(|w| w[0] == w[1]), "{addrs:?}");
    let name = concur::ThreadPoolExecutor::shared()
        .submit(|| std::thread::current().name().map(str::to_owned))
        .join()
        .unwrap();
    assert!(name.unwrap().starts_with("concur-shared"));
}

// CPython Lib/test/test_concurrent_futures/test_thread_pool.py ThreadPoolExecutorTest.test_saturation
#[test]
fn fifteen_blocked_tasks_per_worker_start_exactly_max_workers_threads() {
    let pool = ThreadPoolExecutor::new(4);
    let jobs = 15 * pool.max_workers();
    let (release, gate) = mpsc::channel::<()>();
    let gate = Arc::new(std::sync::Mutex::new(gate));
    let (started_tx, started_rx) = mpsc::channel();
    let handles: Vec<_> = (0..jobs)
        .map(|_| {
            let (gate, started) = (Arc::clone(&gate), started_tx.clone());
            pool.submit(move || {
                started.send(()).unwrap();
                gate.lock().unwrap().recv().unwrap(); // sem.acquire()
            })
        })
        .collect();
    // Four run (and block); the other 56 wait in the queue: four threads, no more.
    for _ in 0..pool.max_workers() {
        started_rx.recv().unwrap();
    }
    assert_eq!(pool.stats().workers, pool.max_workers());
    for _ in 0..jobs {
        release.send(()).unwrap(); // sem.release()
    }
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(pool.stats().workers, pool.max_workers());
}

// CPython Lib/test/test_concurrent_futures/executor.py ExecutorTest.test_submit, test_submit_keyword, test_map
// (keyword arguments are what a closure captures; ProcessPoolExecutorTest's halves take a plain fn)
#[test]
fn submit_and_map_give_what_the_function_returns_on_both_pools() {
    fn pow((base, exp): (u64, u32)) -> u64 {
        base.pow(exp)
    }
    let threads = ThreadPoolExecutor::new(2);
    assert_eq!(threads.submit(|| pow((2, 8))).join(), Ok(256));
    let (base, exp) = (3, 4);
    assert_eq!(threads.submit(move || pow((base, exp))).join(), Ok(81));
    let got: Vec<_> = threads.map(pow, (0..10).map(|i| (i, 2))).collect();
    assert_eq!(got, (0..10).map(|i| Ok(i * i)).collect::<Vec<_>>());

    let processes = concur::ProcessPoolExecutor::new(2).unwrap();
    assert_eq!(processes.submit(pow, (2, 8)).join(), Ok(256));
    for chunk in [1, 2, 5, 100] {
        let chunked = concur::ProcessPoolExecutor::builder()
            .max_workers(2)
            .chunk_size(chunk)
            .build()
            .unwrap();
        let got: Vec<_> = chunked.map(pow, (0..10).map(|i| (i, 2))).collect();
        assert_eq!(got, (0..10).map(|i| Ok(i * i)).collect::<Vec<_>>());
    }
}

// CPython Lib/test/test_concurrent_futures/executor.py ExecutorTest.test_swallows_falsey_exceptions (gh-132063)
// Python lost an exception whose value was falsey; here: a panic with an empty message or
// a payload that is not text is still a panic, on both pools.
#[test]
fn a_panic_with_an_empty_or_non_text_payload_is_still_reported() {
    fn empty(_: ()) {
        panic!("");
    }
    fn number(_: ()) {
        std::panic::panic_any(0u8);
    }
    let threads = ThreadPoolExecutor::new(1);
    for task in [empty, number] {
        let err = threads.submit(move || task(())).join().unwrap_err();
        assert!(err.is_panic(), "{err:?}");
    }
    let processes = concur::ProcessPoolExecutor::builder()
        .max_workers(1)
        .env("RUST_BACKTRACE", "0") // panics on purpose: one line each, not a backtrace
        .build()
        .unwrap();
    for task in [empty, number] {
        let err = processes.submit(task, ()).join().unwrap_err();
        assert!(err.is_panic(), "{err:?}");
    }
}

// CPython Lib/test/test_concurrent_futures/test_thread_pool.py ThreadPoolExecutorTest.test_process_fork_from_a_threadpool (bpo-43944)
// concur never forks: a process pool started from a thread-pool worker re-executes the
// binary like any other, and serves.
#[test]
fn a_process_pool_started_inside_a_thread_pool_task_serves() {
    fn triple(x: u64) -> u64 {
        x * 3
    }
    let threads = ThreadPoolExecutor::new(1);
    let out = threads
        .submit(|| {
            let processes = concur::ProcessPoolExecutor::new(1).unwrap();
            let out = processes.submit(triple, 14).join();
            processes.shutdown();
            out
        })
        .join()
        .unwrap();
    assert_eq!(out, Ok(42));
}
