//! Regression tests for bugs found in review of the thread pool and the handle.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Barrier};
use std::time::Duration;

use concur::{FullPolicy, TaskError, ThreadPoolExecutor};

const LONG: Duration = Duration::from_secs(60);
// (A generous bound: tests fail on it instead of hanging; they never wait it out when correct.)

#[test]
fn a_task_waiting_for_a_later_task_gets_a_new_worker() {
    // Python's rule: a task that finds no idle worker gets a thread of its own.
    for _ in 0..50 {
        let pool = ThreadPoolExecutor::new(4);
        pool.submit(|| ()).join().unwrap(); // one worker, now idle
        let (tx, rx) = mpsc::channel::<()>();
        let b = pool.submit(move || rx.recv_timeout(LONG).is_ok());
        let c = pool.submit(move || tx.send(()).unwrap());
        assert_eq!(b.join(), Ok(true), "B waited for C, which never ran");
        c.join().unwrap();
    }
}

#[test]
fn blocking_tasks_each_get_a_worker_up_to_max() {
    // Eight tasks that can only finish together need eight threads at once.
    let pool = ThreadPoolExecutor::new(8);
    let barrier = Arc::new(Barrier::new(8));
    let hs: Vec<_> = (0..8)
        .map(|_| {
            let b = Arc::clone(&barrier);
            pool.submit(move || b.wait().is_leader())
        })
        .collect();
    let leaders = hs
        .into_iter()
        .filter(|_| true)
        .map(|h| h.join().unwrap())
        .filter(|&l| l)
        .count();
    assert_eq!(leaders, 1);
    assert_eq!(pool.stats().workers, 8);
}

struct PanicOnDrop;
impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            panic!("drop of a captured value failed");
        }
    }
}

#[test]
fn cancel_wakes_the_waiters_even_if_dropping_the_closure_panics() {
    let pool = ThreadPoolExecutor::new(1);
    let (go, rx) = mpsc::channel::<()>();
    let blocker = pool.submit(move || rx.recv().ok());
    let guard = PanicOnDrop;
    let h = Arc::new(pool.submit(move || drop(guard)));
    let (done_tx, done_rx) = mpsc::channel();
    let h2 = Arc::clone(&h);
    let waiter = std::thread::spawn(move || {
        // Registers as a waiter first, then blocks until woken.
        let finished = h2.wait_timeout(LONG);
        done_tx.send(finished).unwrap();
    });
    // Let the waiter park (it may also find the task already cancelled: still fine).
    std::thread::yield_now();
    let cancelled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| h.cancel()));
    assert!(
        cancelled.is_err(),
        "the drop's panic reaches the caller of cancel"
    );
    assert!(h.is_cancelled());
    assert_eq!(done_rx.recv_timeout(LONG), Ok(true), "the waiter was woken");
    waiter.join().unwrap();
    go.send(()).unwrap();
    blocker.join().unwrap();
}

#[test]
fn block_policy_on_a_worker_of_the_same_pool_runs_the_task_instead_of_deadlocking() {
    let pool = Arc::new(
        ThreadPoolExecutor::builder()
            .max_workers(1)
            .queue_bound(1, FullPolicy::Block)
            .build(),
    );
    let p = Arc::clone(&pool);
    let outer = pool.submit(move || {
        let subs: Vec<_> = (0..4).map(|i| p.submit(move || i)).collect();
        subs.into_iter().map(|h| h.join().unwrap()).sum::<i32>()
    });
    assert_eq!(outer.join(), Ok(6));
}

#[test]
fn caller_runs_counts_exactly_under_concurrent_submitters() {
    let pool = Arc::new(
        ThreadPoolExecutor::builder()
            .max_workers(1)
            .queue_bound(1, FullPolicy::CallerRuns)
            .build(),
    );
    let (go, rx) = mpsc::channel::<()>();
    pool.submit(move || rx.recv().ok());
    while pool.stats().running == 0 {
        std::thread::yield_now();
    }
    pool.submit(|| ()); // fills the one queue place
    let submitters: Vec<_> = (0..8)
        .map(|_| {
            let pool = Arc::clone(&pool);
            std::thread::spawn(move || {
                for _ in 0..20_000 {
                    pool.submit(|| ());
                }
            })
        })
        .collect();
    for s in submitters {
        s.join().unwrap();
    }
    go.send(()).unwrap();
    pool.shutdown();
    let s = pool.stats();
    assert_eq!((s.completed, s.running, s.queued), (8 * 20_000 + 2, 0, 0));
}

#[test]
fn wait_timeout_on_a_worker_does_not_run_the_task_inline() {
    let pool = Arc::new(ThreadPoolExecutor::new(1));
    let p = Arc::clone(&pool);
    let ran = Arc::new(AtomicUsize::new(0));
    let r = Arc::clone(&ran);
    let outer = pool.submit(move || {
        let inner = p.submit(move || r.fetch_add(1, Ordering::SeqCst));
        // The only worker is this one: the inner task cannot run, and a timed wait must
        // not run it here either (it could outlast the timeout).
        let finished = inner.wait_timeout(Duration::from_millis(1));
        (finished, inner.join().is_ok())
    });
    assert_eq!(outer.join(), Ok((false, true)));
    assert_eq!(ran.load(Ordering::SeqCst), 1);
}

struct CountDrop<'a>(&'a AtomicUsize);
impl Drop for CountDrop<'_> {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

struct PanicDrop;
impl Drop for PanicDrop {
    fn drop(&mut self) {
        panic!("an outcome's drop panicked");
    }
}

#[test]
fn a_panicking_outcome_drop_in_a_scope_still_drops_every_other_outcome_first() {
    let pool = ThreadPoolExecutor::new(1);
    let dropped = AtomicUsize::new(0);
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        pool.scope(|s| {
            s.submit(|| PanicDrop);
            for _ in 0..5 {
                s.submit(|| CountDrop(&dropped));
            }
        })
    }));
    assert!(r.is_err(), "the drop's panic is raised by scope");
    assert_eq!(
        dropped.load(Ordering::SeqCst),
        5,
        "every borrowed outcome was dropped in the scope"
    );
    assert_eq!(pool.submit(|| 1).join(), Ok(1));
}

#[test]
fn cancelling_twice_says_cancelled_both_times() {
    let pool = ThreadPoolExecutor::new(1);
    let (go, rx) = mpsc::channel::<()>();
    let blocker = pool.submit(move || rx.recv().ok());
    let h = pool.submit(|| ());
    assert!(h.cancel());
    assert!(h.cancel());
    assert_eq!(h.join(), Err(TaskError::Cancelled));
    go.send(()).unwrap();
    blocker.join().unwrap();
}

#[test]
fn tasks_a_spinning_worker_took_in_a_batch_reach_the_sleeping_workers() {
    // A spinning worker that steals a batch from the shared queue keeps the rest in its
    // own queue. It must wake a sleeper for them: the submitters woke nobody, because a
    // worker was spinning. Likewise a worker that takes one task while more wait in the
    // shared queue (its batch ended at a task not yet written when it looked). Six tasks
    // that can only finish together, on six warm workers; the second case shows up in a
    // few rounds per thousand, hence the number of rounds.
    let pool = ThreadPoolExecutor::new(6);
    let warm = Arc::new(Barrier::new(6));
    let hs: Vec<_> = (0..6)
        .map(|_| {
            let w = warm.clone();
            pool.submit(move || {
                w.wait();
            })
        })
        .collect();
    hs.into_iter().for_each(|h| h.join().unwrap());
    for round in 0..3000 {
        let (tx, rx) = mpsc::channel();
        let arrived = Arc::new(AtomicUsize::new(0));
        let hs: Vec<_> = (0..6)
            .map(|_| {
                let (tx, arrived) = (tx.clone(), arrived.clone());
                pool.submit(move || {
                    if arrived.fetch_add(1, Ordering::SeqCst) == 5 {
                        tx.send(()).unwrap();
                    }
                    // Wait until all six run at once (bounded, so a failure is not a hang).
                    let deadline = std::time::Instant::now() + LONG;
                    while arrived.load(Ordering::SeqCst) < 6 && std::time::Instant::now() < deadline
                    {
                        std::thread::yield_now();
                    }
                })
            })
            .collect();
        if rx.recv_timeout(LONG).is_err() {
            panic!("round {round}: six warm workers never ran six tasks at once: {pool:?}");
        }
        hs.into_iter().for_each(|h| h.join().unwrap());
    }
}

/// A value whose `Drop` panics: user code the pool runs when it drops a detached result.
struct PanicsOnDrop;

impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        panic!("PanicsOnDrop dropped");
    }
}

#[test]
fn a_panicking_drop_of_a_detached_result_leaves_the_worker_serving() {
    let pool = ThreadPoolExecutor::new(1);
    for _ in 0..3 {
        let (go, wait) = mpsc::channel::<()>();
        let detached = pool.submit(move || {
            wait.recv_timeout(LONG).unwrap();
            PanicsOnDrop
        });
        // Dropped before it finishes: the worker holds the last reference to its result.
        drop(detached);
        go.send(()).unwrap();
        // The one worker (or its replacement) still runs what comes next.
        assert_eq!(pool.submit(|| 7).join(), Ok(7));
        assert_eq!(pool.stats().workers, 1);
    }
}
