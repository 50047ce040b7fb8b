//! ThreadPoolExecutor: workers, shutdown, map, nested waits, bounded queues, scopes.

use crate::common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use concur::{
    as_completed, wait, FullPolicy, ReturnWhen, TaskError, ThreadPoolExecutor, TrySubmitError,
};

const LONG: Duration = Duration::from_secs(60);

/// Names of this process's threads (their `comm`, at most 15 bytes).
fn thread_names() -> Vec<String> {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|e| std::fs::read_to_string(e.ok()?.path().join("comm")).ok())
        .map(|s| s.trim_end().to_owned())
        .collect()
}

/// Blocks until the pool reports `n` running tasks (each task signals by running).
fn until_running(pool: &ThreadPoolExecutor, n: usize) {
    while pool.stats().running < n {
        std::thread::yield_now();
    }
}

#[test]
fn workers_start_lazily_and_idle_ones_are_reused() {
    let pool = ThreadPoolExecutor::new(8);
    assert_eq!(pool.stats().workers, 0, "no thread before the first task");
    for i in 0..100 {
        assert_eq!(pool.submit(move || i).join(), Ok(i));
        assert_eq!(
            pool.stats().workers,
            1,
            "a second worker started at task {i}"
        );
    }
    // One task at a time: the idle worker takes each one, no second thread starts.
    assert_eq!(pool.stats().workers, 1);
}

#[test]
fn workers_grow_to_max_under_blocking_load() {
    let pool = ThreadPoolExecutor::new(4);
    let (tx, rx) = mpsc::channel::<()>();
    let rx = Arc::new(std::sync::Mutex::new(rx));
    let hs: Vec<_> = (0..4)
        .map(|_| {
            let rx = Arc::clone(&rx);
            pool.submit(move || {
                let _ = rx.lock().unwrap().recv();
            })
        })
        .collect();
    until_running(&pool, 1);
    drop(tx);
    for h in hs {
        h.join().unwrap();
    }
    let w = pool.stats().workers;
    assert!((1..=4).contains(&w), "{w} workers");
    let more = ThreadPoolExecutor::new(3);
    let (tx, rx) = mpsc::channel::<()>();
    let rx = Arc::new(std::sync::Mutex::new(rx));
    let (started_tx, started_rx) = mpsc::channel();
    let hs: Vec<_> = (0..3)
        .map(|_| {
            let started = started_tx.clone();
            let rx = Arc::clone(&rx);
            more.submit(move || {
                started.send(()).unwrap();
                let _ = rx.lock().map(|r| r.recv());
            })
        })
        .collect();
    // Three tasks that all block need three workers; each starts only if one started.
    for _ in 0..3 {
        started_rx
            .recv_timeout(LONG)
            .expect("every blocked task got its own worker");
    }
    assert_eq!(more.stats().workers, 3);
    drop(tx);
    for h in hs {
        h.join().unwrap();
    }
}

#[test]
fn shutdown_waits_for_queued_work() {
    let pool = ThreadPoolExecutor::new(2);
    let done = Arc::new(AtomicUsize::new(0));
    let hs: Vec<_> = (0..100)
        .map(|_| {
            let d = Arc::clone(&done);
            pool.submit(move || d.fetch_add(1, Ordering::SeqCst))
        })
        .collect();
    pool.shutdown();
    assert_eq!(done.load(Ordering::SeqCst), 100);
    assert!(hs.iter().all(|h| h.is_finished()));
    assert_eq!(pool.stats().workers, 0, "every worker exited");
    assert_eq!(pool.submit(|| 1).join(), Err(TaskError::Shutdown));
    pool.shutdown(); // again: nothing more to do
}

#[test]
fn shutdown_cancel_pending_fails_queued_tasks_and_finishes_running_ones() {
    let pool = ThreadPoolExecutor::new(1);
    let (go, rx) = mpsc::channel::<()>();
    let running = pool.submit(move || rx.recv().is_ok());
    until_running(&pool, 1);
    let queued: Vec<_> = (0..10).map(|i| pool.submit(move || i)).collect();
    // Release the running task only once shutdown has failed the queued ones.
    queued[9].on_done(move || go.send(()).unwrap());
    pool.shutdown_cancel_pending();
    assert_eq!(running.join(), Ok(true));
    for h in queued {
        assert_eq!(h.join(), Err(TaskError::Shutdown));
    }
}

#[test]
fn dropping_the_pool_waits_for_all_submitted_work() {
    let done = Arc::new(AtomicUsize::new(0));
    {
        let pool = ThreadPoolExecutor::new(3);
        for _ in 0..1000 {
            let d = Arc::clone(&done);
            pool.submit(move || {
                d.fetch_add(1, Ordering::SeqCst);
            });
        }
    }
    assert_eq!(done.load(Ordering::SeqCst), 1000);
}

#[test]
fn no_thread_is_left_behind_after_drop() {
    let prefix = "leakcheck";
    {
        let pool = ThreadPoolExecutor::builder()
            .max_workers(6)
            .thread_name_prefix(prefix)
            .build();
        let hs: Vec<_> = (0..600).map(|i| pool.submit(move || i)).collect();
        wait(&hs, ReturnWhen::AllCompleted, None);
        assert!(thread_names().iter().any(|n| n.starts_with(prefix)));
    }
    // The kernel wakes a joiner as its thread exits, a moment before it removes the
    // thread from /proc: `settles` looks again until they are gone (bounded, so a leak fails).
    assert_eq!(
        common::settles(0, || common::threads_named(prefix)),
        0,
        "threads left behind: {:?}",
        thread_names()
    );
}

#[test]
fn a_task_can_shut_down_its_own_pool() {
    let pool = Arc::new(ThreadPoolExecutor::new(2));
    let p = Arc::clone(&pool);
    let h = pool.submit(move || {
        p.shutdown();
        p.submit(|| 1).join()
    });
    assert_eq!(h.join(), Ok(Err(TaskError::Shutdown)));
    pool.shutdown();
    assert_eq!(pool.stats().workers, 0);
}

#[test]
fn panics_are_counted_and_the_worker_survives() {
    let pool = ThreadPoolExecutor::new(1);
    for i in 0..10 {
        let h = pool.submit(move || {
            if i % 2 == 0 {
                panic!("even {i}");
            }
            i
        });
        match h.join() {
            Ok(v) => assert_eq!(v, i),
            Err(TaskError::Panicked(m)) => assert_eq!(m, format!("even {i}")),
            Err(e) => panic!("unexpected {e}"),
        }
    }
    let s = pool.stats();
    assert_eq!((s.completed, s.panicked, s.workers), (5, 5, 1));
}

#[test]
fn stats_count_queued_and_running_tasks() {
    let pool = ThreadPoolExecutor::new(1);
    let (go, rx) = mpsc::channel::<()>();
    let h = pool.submit(move || rx.recv().unwrap());
    until_running(&pool, 1);
    let queued: Vec<_> = (0..5).map(|_| pool.submit(|| ())).collect();
    let s = pool.stats();
    assert_eq!((s.running, s.queued), (1, 5));
    go.send(()).unwrap();
    h.join().unwrap();
    for q in queued {
        q.join().unwrap();
    }
    let s = pool.stats();
    assert_eq!((s.running, s.queued, s.completed), (0, 0, 6));
}

#[test]
fn map_returns_results_in_input_order() {
    let pool = ThreadPoolExecutor::new(4);
    // Later items finish first: order must still be the input's.
    let out: Vec<u64> = pool
        .map(
            |i: u64| {
                std::hint::black_box((0..(100 - i) * 1000).sum::<u64>());
                i
            },
            0..100,
        )
        .map(Result::unwrap)
        .collect();
    assert_eq!(out, (0..100).collect::<Vec<_>>());
}

#[test]
fn map_reads_an_endless_input_lazily_with_bounded_tasks_in_flight() {
    let pool = ThreadPoolExecutor::new(2);
    let pulled = Arc::new(AtomicUsize::new(0));
    let p = Arc::clone(&pulled);
    let endless = (0u64..).inspect(move |_| {
        p.fetch_add(1, Ordering::SeqCst);
    });
    let mut it = pool.map_bounded(|x| x * 3, endless, 4);
    assert_eq!(
        pulled.load(Ordering::SeqCst),
        4,
        "map starts the first tasks at once"
    );
    let first: Vec<u64> = it.by_ref().take(10).map(Result::unwrap).collect();
    assert_eq!(first, (0..10).map(|x| x * 3).collect::<Vec<_>>());
    assert_eq!(
        pulled.load(Ordering::SeqCst),
        14,
        "ten consumed plus four in flight"
    );
    drop(it);
}

#[test]
fn dropping_map_cancels_tasks_not_started() {
    let pool = ThreadPoolExecutor::new(1);
    let (go, rx) = mpsc::channel::<()>();
    let blocker = pool.submit(move || rx.recv().unwrap());
    until_running(&pool, 1);
    let ran = Arc::new(AtomicUsize::new(0));
    let r = Arc::clone(&ran);
    let it = pool.map_bounded(
        move |_: u32| {
            r.fetch_add(1, Ordering::SeqCst);
        },
        0..5,
        5,
    );
    drop(it);
    go.send(()).unwrap();
    blocker.join().unwrap();
    pool.shutdown();
    assert_eq!(ran.load(Ordering::SeqCst), 0);
}

#[test]
fn nested_join_with_one_worker_runs_the_inner_task_inline() {
    let pool = Arc::new(ThreadPoolExecutor::new(1));
    let p = Arc::clone(&pool);
    let outer = pool.submit(move || {
        let inner = p.submit(|| 20);
        let deeper = p.submit({
            let p = Arc::clone(&p);
            move || p.submit(|| 1).join().unwrap()
        });
        inner.join().unwrap() + deeper.join().unwrap() + 21
    });
    assert_eq!(outer.join(), Ok(42));
}

#[test]
fn nested_wait_and_as_completed_with_one_worker_do_not_deadlock() {
    let pool = Arc::new(ThreadPoolExecutor::new(1));
    let p = Arc::clone(&pool);
    let outer = pool.submit(move || {
        let hs: Vec<_> = (0..5).map(|i| p.submit(move || i)).collect();
        let w = wait(&hs, ReturnWhen::AllCompleted, None);
        assert_eq!(w.done.len(), 5);
        let more: Vec<_> = (0..5).map(|i| p.submit(move || i * 10)).collect();
        let mut got: Vec<_> = as_completed(more).map(|(_, r)| r.unwrap()).collect();
        got.sort();
        let first = p.submit(|| 7);
        let sum: i32 = hs.into_iter().map(|h| h.join().unwrap()).sum();
        sum + got.iter().sum::<i32>() + first.join().unwrap()
    });
    assert_eq!(outer.join(), Ok(10 + 100 + 7));
}

#[test]
fn map_and_scope_inside_a_task_of_a_one_worker_pool() {
    let pool = Arc::new(ThreadPoolExecutor::new(1));
    let p = Arc::clone(&pool);
    let outer = pool.submit(move || {
        let mapped: u32 = p.map(|x: u32| x + 1, 0..10).map(Result::unwrap).sum();
        let data = [1u32, 2, 3];
        let scoped = p.scope(|s| {
            let hs: Vec<_> = data.iter().map(|x| s.submit(move || x * 2)).collect();
            hs.into_iter().map(|h| h.join().unwrap()).sum::<u32>()
        });
        mapped + scoped
    });
    assert_eq!(outer.join(), Ok(55 + 12));
}

#[test]
fn a_failing_initializer_breaks_the_pool_with_its_reason() {
    let pool = ThreadPoolExecutor::builder()
        .max_workers(2)
        .initializer(|| Err::<(), _>("cannot open the database"))
        .build();
    let h = pool.submit(|| 1);
    match h.join() {
        Err(TaskError::Broken(why)) => assert!(why.contains("cannot open the database"), "{why}"),
        other => panic!("expected a broken pool, got {other:?}"),
    }
    match pool.submit(|| 2).join() {
        Err(TaskError::Broken(why)) => assert!(why.contains("initializer failed"), "{why}"),
        other => panic!("expected a broken pool, got {other:?}"),
    }
    assert!(matches!(
        pool.try_submit(|| 3),
        Err(TrySubmitError::Broken(_, _))
    ));
}

#[test]
fn a_panicking_initializer_breaks_the_pool() {
    let pool = ThreadPoolExecutor::builder()
        .initializer(|| -> Result<(), String> { panic!("no config file") })
        .build();
    let err = pool.submit(|| ()).join().unwrap_err();
    assert!(err.to_string().contains("no config file"), "{err}");
}

#[test]
fn the_initializer_runs_once_per_worker_before_its_tasks() {
    thread_local!(static READY: std::cell::Cell<bool> = const { std::cell::Cell::new(false) });
    let inits = Arc::new(std::sync::Mutex::new(Vec::new()));
    let i = Arc::clone(&inits);
    let pool = ThreadPoolExecutor::builder()
        .max_workers(3)
        .initializer(move || {
            i.lock().unwrap().push(std::thread::current().id());
            READY.with(|r| r.set(true));
            Ok::<(), String>(())
        })
        .build();
    let runners: Vec<_> = pool
        .map(
            |_: u32| READY.with(|r| r.get()).then(|| std::thread::current().id()),
            0..200,
        )
        .map(|r| r.unwrap().expect("the initializer ran before this task"))
        .collect();
    pool.shutdown();
    let inits = inits.lock().unwrap();
    let mut distinct = inits.clone();
    distinct.sort_by_key(|t| format!("{t:?}"));
    distinct.dedup();
    assert_eq!(distinct.len(), inits.len(), "once per worker");
    assert!(runners.iter().all(|t| inits.contains(t)));
    assert!((1..=3).contains(&inits.len()));
}

fn one_busy_worker(policy: FullPolicy, bound: usize) -> (ThreadPoolExecutor, mpsc::Sender<()>) {
    let pool = ThreadPoolExecutor::builder()
        .max_workers(1)
        .queue_bound(bound, policy)
        .build();
    let (go, rx) = mpsc::channel::<()>();
    pool.submit(move || {
        let _ = rx.recv();
    });
    until_running(&pool, 1);
    (pool, go)
}

#[test]
fn a_full_queue_with_reject_fails_the_task_and_try_submit_hands_it_back() {
    let (pool, go) = one_busy_worker(FullPolicy::Reject, 2);
    let a = pool.submit(|| 'a');
    let b = pool.submit(|| 'b');
    let c = pool.submit(|| 'c');
    assert_eq!(c.join(), Err(TaskError::Rejected));
    match pool.try_submit(|| 'd') {
        Err(TrySubmitError::Full(f)) => assert_eq!(f(), 'd'),
        other => panic!("expected Full, got {other:?}"),
    }
    go.send(()).unwrap();
    assert_eq!((a.join(), b.join()), (Ok('a'), Ok('b')));
    assert_eq!(
        pool.submit(|| 'e').join(),
        Ok('e'),
        "room again once drained"
    );
}

#[test]
fn a_full_queue_with_caller_runs_runs_the_task_in_the_submitter() {
    let (pool, go) = one_busy_worker(FullPolicy::CallerRuns, 1);
    let queued = pool.submit(|| std::thread::current().id());
    let me = std::thread::current().id();
    let ran_here = pool.submit(|| std::thread::current().id());
    assert!(ran_here.is_finished(), "ran before submit returned");
    assert_eq!(ran_here.join(), Ok(me));
    go.send(()).unwrap();
    assert_ne!(queued.join(), Ok(me));
}

#[test]
fn a_full_queue_with_block_blocks_the_submitter_until_there_is_room() {
    let (pool, go) = one_busy_worker(FullPolicy::Block, 1);
    let pool = Arc::new(pool);
    let queued = pool.submit(|| 1);
    let p = Arc::clone(&pool);
    let (submitted_tx, submitted_rx) = mpsc::channel();
    let submitter = std::thread::spawn(move || {
        let h = p.submit(|| 2);
        submitted_tx.send(()).unwrap();
        h.join()
    });
    // The submitter cannot get past a full queue while the worker is blocked.
    assert!(submitted_rx
        .recv_timeout(Duration::from_millis(50))
        .is_err());
    go.send(()).unwrap();
    submitted_rx.recv_timeout(LONG).unwrap();
    assert_eq!(submitter.join().unwrap(), Ok(2));
    assert_eq!(queued.join(), Ok(1));
}

#[test]
fn shutdown_releases_a_submitter_blocked_on_a_full_queue() {
    let (pool, go) = one_busy_worker(FullPolicy::Block, 1);
    let pool = Arc::new(pool);
    let queued = pool.submit(|| 1);
    let p = Arc::clone(&pool);
    let submitter = std::thread::spawn(move || p.submit(|| 2).join());
    let p = Arc::clone(&pool);
    let closer = std::thread::spawn(move || p.shutdown_cancel_pending());
    let blocked = submitter.join().unwrap();
    assert_eq!(blocked, Err(TaskError::Shutdown));
    go.send(()).unwrap();
    closer.join().unwrap();
    assert!(matches!(queued.join(), Ok(1) | Err(TaskError::Shutdown)));
}

#[test]
fn thread_names_carry_the_prefix() {
    let pool = ThreadPoolExecutor::builder()
        .thread_name_prefix("namecheck")
        .build();
    let name = pool
        .submit(|| std::thread::current().name().map(str::to_owned))
        .join();
    assert_eq!(name, Ok(Some("namecheck-0".to_owned())));
}

#[test]
fn default_has_pythons_worker_count() {
    let cpus = std::thread::available_parallelism().unwrap().get();
    assert_eq!(
        ThreadPoolExecutor::default().max_workers(),
        (cpus + 4).min(32)
    );
}

#[test]
#[should_panic(expected = "max_workers of at least 1")]
fn zero_workers_is_refused_with_a_clear_message() {
    // CPython Lib/test/test_concurrent_futures/executor.py ExecutorTest.test_max_workers_negative
    // (a `usize` cannot be negative; 0 is the invalid count left. The process pool's
    // builder returns `Err(InvalidArgument)` instead: its doctest `max_workers`.)
    let _ = ThreadPoolExecutor::new(0);
}

#[test]
fn scoped_tasks_borrow_and_mutate_the_callers_data() {
    let pool = ThreadPoolExecutor::new(4);
    let mut data: Vec<u64> = (0..1000).collect();
    pool.scope(|s| {
        for chunk in data.chunks_mut(100) {
            s.submit(move || chunk.iter_mut().for_each(|x| *x *= 2));
        }
    });
    assert_eq!(data.iter().sum::<u64>(), 2 * 999 * 1000 / 2);
}

#[test]
fn a_scope_waits_for_tasks_submitted_by_its_tasks() {
    let pool = ThreadPoolExecutor::new(2);
    let hits = AtomicUsize::new(0);
    pool.scope(|s| {
        for _ in 0..4 {
            s.submit(|| {
                s.submit(|| hits.fetch_add(1, Ordering::SeqCst));
                hits.fetch_add(1, Ordering::SeqCst)
            });
        }
    });
    assert_eq!(hits.load(Ordering::SeqCst), 8);
}

#[test]
fn an_unjoined_panic_in_a_scope_panics_the_scope_after_all_tasks_finish() {
    let pool = ThreadPoolExecutor::new(2);
    let finished = AtomicUsize::new(0);
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        pool.scope(|s| {
            s.submit(|| panic!("scoped failure"));
            for _ in 0..10 {
                s.submit(|| finished.fetch_add(1, Ordering::SeqCst));
            }
        })
    }));
    let msg = concur_panic_text(r.unwrap_err());
    assert!(msg.contains("scoped failure"), "{msg}");
    assert_eq!(finished.load(Ordering::SeqCst), 10);
    // A joined panic is the caller's to handle: no scope panic.
    let joined = pool.scope(|s| s.submit(|| panic!("handled")).join());
    assert!(joined.unwrap_err().is_panic());
}

fn concur_panic_text(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

#[test]
fn tasks_submitted_from_many_threads_all_run() {
    let pool = Arc::new(ThreadPoolExecutor::new(3));
    let submitters: Vec<_> = (0..4)
        .map(|t| {
            let pool = Arc::clone(&pool);
            std::thread::spawn(move || {
                let hs: Vec<_> = (0..5000u64).map(|i| pool.submit(move || i + t)).collect();
                hs.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
            })
        })
        .collect();
    let total: u64 = submitters.into_iter().map(|s| s.join().unwrap()).sum();
    assert_eq!(total, 4 * (4999 * 5000 / 2) + 5000 * (1 + 2 + 3));
}
