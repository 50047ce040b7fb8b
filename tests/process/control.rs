//! A process pool's controls: cancel, time limits, worker recycling, initializer,
//! shutdown variants, and awaiting its handles on the event loop.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use concur::{ProcessPoolExecutor, TaskError};

use crate::common;
use common::{after_fifo_opens, make_fifo};

fn add_one(x: u64) -> u64 {
    x + 1
}

fn pid(_: ()) -> u32 {
    std::process::id()
}

fn forever(_: ()) {
    loop {
        std::thread::park();
    }
}

fn until_sent(pool: &ProcessPoolExecutor, n: usize) {
    while pool.stats().sent < n {
        std::thread::yield_now();
    }
}

fn until_running(pool: &ProcessPoolExecutor, n: usize) {
    while pool.stats().running < n {
        std::thread::yield_now();
    }
}

#[test]
fn cancel_of_a_running_task_kills_and_replaces_its_worker() {
    let pool = ProcessPoolExecutor::new(1).unwrap();
    let h = pool.submit(forever, ());
    until_running(&pool, 1);
    let before = pool.worker_pids();
    assert!(h.cancel());
    assert_eq!(h.join(), Err(TaskError::Cancelled));
    let after = pool.submit(pid, ()).join().unwrap();
    assert!(
        !before.contains(&after),
        "a fresh worker runs the next task"
    );
    assert_eq!(
        pool.stats().died,
        0,
        "a worker killed on purpose did not 'die'"
    );
}

#[test]
fn cancel_of_a_task_queued_on_a_busy_worker_leaves_the_worker_alone() {
    let pool = ProcessPoolExecutor::builder()
        .max_workers(1)
        .tasks_in_flight_per_worker(4)
        .task_timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let blocker = pool.submit(forever, ());
    let queued = pool.submit(add_one, 1);
    until_sent(&pool, 2);
    assert!(queued.cancel());
    assert_eq!(queued.join(), Err(TaskError::Cancelled));
    assert!(blocker.cancel());
    assert_eq!(blocker.join(), Err(TaskError::Cancelled));
    assert_eq!(pool.submit(add_one, 2).join(), Ok(3));
}

#[test]
fn cancel_before_a_worker_takes_it_costs_nothing() {
    let pool = ProcessPoolExecutor::builder()
        .max_workers(1)
        .tasks_in_flight_per_worker(1)
        .build()
        .unwrap();
    let blocker = pool.submit(forever, ());
    let queued = pool.submit(add_one, 1);
    until_running(&pool, 1);
    assert!(queued.cancel());
    assert!(queued.is_cancelled());
    assert!(blocker.cancel());
    assert_eq!(queued.join(), Err(TaskError::Cancelled));
    assert_eq!(pool.submit(add_one, 5).join(), Ok(6));
}

#[test]
fn a_finished_task_cannot_be_cancelled() {
    let pool = ProcessPoolExecutor::new(1).unwrap();
    let h = pool.submit(add_one, 1);
    assert!(h.wait_timeout(Duration::from_secs(60)));
    assert!(!h.cancel());
    assert_eq!(h.join(), Ok(2));
}

#[test]
fn a_task_over_its_time_limit_fails_and_the_pool_goes_on() {
    let pool = ProcessPoolExecutor::builder()
        .max_workers(1)
        .task_timeout(Duration::from_millis(100))
        .build()
        .unwrap();
    let slow = pool.submit(forever, ());
    let next = pool.submit(add_one, 1);
    assert_eq!(slow.join(), Err(TaskError::TimedOut));
    assert_eq!(next.join(), Ok(2));
}

#[test]
fn max_tasks_per_child_replaces_workers() {
    let pool = ProcessPoolExecutor::builder()
        .max_workers(1)
        .max_tasks_per_child(2)
        .build()
        .unwrap();
    let pids: Vec<u32> = (0..6)
        .map(|_| pool.submit(pid, ()).join().unwrap())
        .collect();
    let distinct: HashSet<u32> = pids.iter().copied().collect();
    assert_eq!(distinct.len(), 3, "{pids:?}");
    assert_eq!(pids[0], pids[1]);
    assert_ne!(pids[1], pids[2]);
    assert_eq!(pool.stats().spawned, 3);
    assert_eq!(pool.stats().died, 0);
}

#[test]
fn a_worker_over_the_memory_limit_is_replaced_between_tasks() {
    fn leak(mb: usize) -> u32 {
        let v = vec![1u8; mb << 20];
        std::mem::forget(v);
        std::process::id()
    }
    let pool = ProcessPoolExecutor::builder()
        .max_workers(1)
        .memory_limit(64 << 20)
        .build()
        .unwrap();
    let first = pool.submit(leak, 128).join().unwrap();
    let second = pool.submit(pid, ()).join().unwrap();
    assert_ne!(first, second);
    assert_eq!(pool.stats().recycled, 1);
    assert_eq!(pool.stats().died, 0);
}

#[test]
fn the_initializer_runs_before_the_first_task() {
    // Each worker process has its own copy; the test's process never sets its own.
    static INITIALIZED: AtomicBool = AtomicBool::new(false);
    fn init() -> Result<(), String> {
        INITIALIZED.store(true, Ordering::SeqCst);
        Ok(())
    }
    fn read(_: ()) -> bool {
        INITIALIZED.load(Ordering::SeqCst)
    }
    let pool = ProcessPoolExecutor::builder()
        .max_workers(2)
        .initializer(init)
        .build()
        .unwrap();
    for _ in 0..4 {
        assert!(pool.submit(read, ()).join().unwrap());
    }
}

#[test]
fn a_panicking_initializer_breaks_the_pool_with_the_reason() {
    fn init() -> Result<(), String> {
        panic!("no config file")
    }
    let pool = ProcessPoolExecutor::builder()
        .initializer(init)
        .env("RUST_BACKTRACE", "0") // a panic on purpose: one line, not a backtrace
        .build()
        .unwrap();
    let err = pool.submit(add_one, 1).join().unwrap_err();
    assert!(
        matches!(&err, TaskError::Broken(why) if why.contains("no config file")),
        "{err:?}"
    );
    let later = pool.submit(add_one, 2).join().unwrap_err();
    assert!(matches!(later, TaskError::Broken(_)));
}

#[test]
fn every_task_queued_behind_a_failing_initializer_resolves_broken_with_its_reason() {
    fn init() -> Result<(), String> {
        Err("no database".to_owned())
    }
    let pool = ProcessPoolExecutor::builder()
        .max_workers(2)
        .tasks_in_flight_per_worker(1)
        .initializer(init)
        .build()
        .unwrap();
    // Most of them never reach a worker: they are queued when the pool breaks.
    let handles: Vec<_> = (0..64).map(|i| pool.submit(add_one, i)).collect();
    for h in handles {
        let err = h.join().unwrap_err();
        assert!(
            matches!(&err, TaskError::Broken(why) if why.contains("no database")),
            "{err:?}"
        );
    }
}

#[test]
fn shutdown_cancel_pending_fails_what_no_worker_took() {
    fn slow(ms: u64) -> u64 {
        std::thread::sleep(Duration::from_millis(ms));
        ms
    }
    let pool = ProcessPoolExecutor::builder()
        .max_workers(1)
        .tasks_in_flight_per_worker(1)
        .build()
        .unwrap();
    let running = pool.submit(slow, 100);
    until_running(&pool, 1);
    let pending: Vec<_> = (0..5).map(|i| pool.submit(add_one, i)).collect();
    pool.shutdown_cancel_pending();
    assert_eq!(running.join(), Ok(100));
    for h in pending {
        assert_eq!(h.join(), Err(TaskError::Shutdown));
    }
    assert_eq!(pool.submit(add_one, 1).join(), Err(TaskError::Shutdown));
    assert!(pool.worker_pids().is_empty());
}

#[test]
fn shutdown_kill_stops_running_tasks() {
    let pool = ProcessPoolExecutor::new(2).unwrap();
    let hs: Vec<_> = (0..2).map(|_| pool.submit(forever, ())).collect();
    until_running(&pool, 2);
    pool.shutdown_kill();
    for h in hs {
        assert_eq!(h.join(), Err(TaskError::Shutdown));
    }
    assert!(pool.worker_pids().is_empty());
}

#[test]
fn dropping_the_pool_waits_for_submitted_work() {
    let pool = ProcessPoolExecutor::new(2).unwrap();
    let hs: Vec<_> = (0..100).map(|i| pool.submit(add_one, i)).collect();
    drop(pool);
    for (i, h) in hs.into_iter().enumerate() {
        assert!(h.is_finished());
        assert_eq!(h.join(), Ok(i as u64 + 1));
    }
}

#[test]
fn handles_are_awaited_on_the_event_loop() {
    let pool = ProcessPoolExecutor::new(2).unwrap();
    let sum = concur::aio::run(async {
        let a = pool.submit(add_one, 1);
        let b = pool.submit(add_one, 2);
        a.await.unwrap() + b.await.unwrap()
    });
    assert_eq!(sum, 5);
}

#[test]
fn on_done_callbacks_run_for_process_tasks() {
    let pool = ProcessPoolExecutor::new(1).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let h = pool.submit(add_one, 1);
    h.on_done(move || tx.send("done").unwrap());
    assert_eq!(rx.recv().unwrap(), "done");
    assert_eq!(h.join(), Ok(2));
}

/// Keeps a CPU busy for about `us` microseconds.
fn spin_micros(us: u64) -> u64 {
    let began = std::time::Instant::now();
    while began.elapsed() < Duration::from_micros(us) {
        std::hint::spin_loop();
    }
    us
}

/// Leaves a trace that it ran: creates the file at `path`.
fn touch(path: String) {
    std::fs::write(path, b"ran").unwrap();
}

#[test]
fn a_cancelled_task_queued_on_a_worker_never_runs() {
    // Each round sends a task ahead to a worker right behind a short one, and cancels it
    // about when the worker turns to it: `true` must mean it did not run and will not,
    // unless it had started, and then it is stopped like a running task (it ran anyway,
    // undisturbed, 7 times in 200 when the skip was a message to the worker).
    let dir = std::env::temp_dir().join(format!("concur-cancel-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pool = ProcessPoolExecutor::builder()
        .max_workers(1)
        .tasks_in_flight_per_worker(4)
        .build()
        .unwrap();
    // The worker is up before the first round counts spawned workers.
    assert_eq!(pool.submit(add_one, 0).join(), Ok(1));
    let mut cancelled = 0;
    for round in 0..300 {
        let path = dir.join(format!("r{round}"));
        // The head task runs a little while, and the cancel comes a little later, by
        // amounts that vary from round to round: together they sweep the moment the
        // worker turns from the head task to the victim (the result does not depend on
        // either; they only vary the interleaving).
        let spawned = pool.stats().spawned;
        let first = pool.submit(spin_micros, round % 150);
        let victim = pool.submit(touch, path.to_str().unwrap().to_owned());
        spin_micros((round * 7) % 150);
        let said = victim.cancel();
        // The worker runs its tasks in order: once this is back, the victim has run if
        // it ever will (or its worker was killed).
        assert_eq!(pool.submit(add_one, 0).join(), Ok(1));
        first.join().unwrap();
        let outcome = victim.join();
        if said {
            cancelled += 1;
            assert_eq!(outcome, Err(TaskError::Cancelled), "round {round}");
            // Either it never started, or it had just started and was stopped the way
            // a running task is: its worker was killed (and replaced).
            let killed = pool.stats().spawned > spawned;
            assert!(
                !path.exists() || killed,
                "round {round}: cancel() said true, but it ran, undisturbed"
            );
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(cancelled > 0, "no round cancelled anything");
}

fn release_fifo(path: &std::path::Path, byte: u8) {
    use std::io::Write;
    let mut f = std::fs::File::options().write(true).open(path).unwrap();
    f.write_all(&[byte]).unwrap();
}

#[test]
fn an_on_done_callback_that_joins_a_task_of_its_own_pool_fails_clearly_instead_of_deadlocking() {
    let dir = std::env::temp_dir().join(format!("concur-ondone-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (a, b) = (dir.join("a"), dir.join("b"));
    make_fifo(&a);
    make_fifo(&b);
    let pool = ProcessPoolExecutor::new(2).unwrap();
    let first = pool.submit(after_fifo_opens, a.to_str().unwrap().to_owned());
    let second = pool.submit(after_fifo_opens, b.to_str().unwrap().to_owned());
    let (tx, rx) = std::sync::mpsc::channel();
    // Registered before `first` finishes: it runs on the thread that finishes it, the
    // pool's own, which `second`'s outcome must come through.
    first.on_done(move || {
        let joined = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| second.join()));
        tx.send(joined.map_err(|p| p.downcast_ref::<String>().cloned().unwrap_or_default()))
            .unwrap();
    });
    release_fifo(&a, 1);
    let msg = rx.recv().unwrap().unwrap_err();
    assert!(msg.contains("would deadlock"), "{msg}");
    release_fifo(&b, 2);
    assert_eq!(first.join(), Ok(1));
    // The pool goes on.
    assert_eq!(pool.submit(add_one, 1).join(), Ok(2));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn completed_counts_the_items_of_a_map_not_its_chunks() {
    let pool = ProcessPoolExecutor::new(2).unwrap();
    let out: Vec<u64> = pool.map(add_one, 0..1000).map(Result::unwrap).collect();
    assert_eq!(out.len(), 1000);
    pool.submit(add_one, 1).join().unwrap();
    let stats = pool.stats();
    assert_eq!(stats.completed, 1001);
    assert_eq!((stats.running, stats.sent, stats.pending), (0, 0, 0));
}
