//! CPython `test_concurrent_futures/test_init.py`: the initializer runs in every worker
//! before its first task, and one that fails breaks the pool with its reason and leaves
//! nothing behind. (A worker that exits or crashes in its initializer:
//! `futures_deadlock.rs`.)

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use concur::{ProcessPoolExecutor, TaskError, ThreadPoolExecutor};

mod common;

/// The tests here count this process's descriptors, children and threads: one at a time.
static ALONE: Mutex<()> = Mutex::new(());

fn alone() -> std::sync::MutexGuard<'static, ()> {
    ALONE.lock().unwrap_or_else(|e| e.into_inner())
}

static INITIALIZED: AtomicBool = AtomicBool::new(false);

/// Marks the worker initialized, and leaves a file named by its pid in
/// `$CONCUR_INIT_DIR`; fails if it already ran in this process.
fn init_marks() -> Result<(), String> {
    let dir = std::env::var("CONCUR_INIT_DIR").map_err(|e| e.to_string())?;
    let path = std::path::Path::new(&dir).join(std::process::id().to_string());
    std::fs::File::create_new(path).map_err(|e| format!("ran twice? {e}"))?;
    INITIALIZED.store(true, Ordering::SeqCst);
    Ok(())
}

fn initialized(_: ()) -> (u32, bool) {
    (std::process::id(), INITIALIZED.load(Ordering::SeqCst))
}

#[test]
fn every_worker_process_runs_the_initializer_once_before_its_first_task() {
    // CPython Lib/test/test_concurrent_futures/test_init.py InitializerMixin.test_initializer
    let _alone = alone();
    let dir = std::env::temp_dir().join(format!("concur-init-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pool = ProcessPoolExecutor::builder()
        .max_workers(2)
        .max_tasks_per_child(1)
        .initializer(init_marks)
        .env("CONCUR_INIT_DIR", &dir)
        .build()
        .unwrap();
    let got: Vec<(u32, bool)> = (0..6)
        .map(|_| pool.submit(initialized, ()))
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().unwrap())
        .collect();
    pool.shutdown();
    assert!(got.iter().all(|&(_, ready)| ready), "{got:?}");
    let mut pids: Vec<u32> = got.iter().map(|&(p, _)| p).collect();
    pids.sort_unstable();
    pids.dedup();
    assert_eq!(pids.len(), 6, "one worker per task: {got:?}");
    let mut marked: Vec<u32> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_str().unwrap().parse().unwrap())
        .collect();
    marked.sort_unstable();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(
        marked, pids,
        "the initializer ran in exactly the workers that ran tasks"
    );
}

fn init_fails() -> Result<(), String> {
    Err("the database is down".to_owned())
}

fn add_one(x: u64) -> u64 {
    x + 1
}

#[test]
fn a_failing_initializer_breaks_the_process_pool_for_later_tasks_and_leaks_nothing() {
    // CPython Lib/test/test_concurrent_futures/test_init.py FailingInitializerMixin.test_initializer
    // and FailingInitializerResourcesTest (no leaked resources)
    let _alone = alone();
    let (fds, children) = (common::open_fds(), common::children());
    let pool = ProcessPoolExecutor::builder()
        .max_workers(2)
        .initializer(init_fails)
        .build()
        .unwrap();
    let hs: Vec<_> = (0..8).map(|i| pool.submit(add_one, i)).collect();
    for h in hs {
        let r = h.join();
        assert!(
            matches!(&r, Err(TaskError::Broken(why)) if why.contains("the database is down")),
            "{r:?}"
        );
    }
    // Later submissions fail at once, and start no worker.
    let spawned = pool.stats().spawned;
    let later = pool.submit(add_one, 1).join();
    assert!(
        matches!(&later, Err(TaskError::Broken(why)) if why.contains("the database is down")),
        "{later:?}"
    );
    assert_eq!(pool.stats().spawned, spawned);
    drop(pool);
    assert_eq!(common::children(), children, "every worker was reaped");
    assert_eq!(common::open_fds(), fds, "no descriptor leaked");
}

#[test]
fn a_failing_initializer_breaks_the_thread_pool_for_later_tasks_and_leaves_no_thread() {
    // CPython Lib/test/test_concurrent_futures/test_init.py FailingInitializerMixin.test_initializer
    // (thread pool)
    let _alone = alone();
    let pool = ThreadPoolExecutor::builder()
        .max_workers(3)
        .thread_name_prefix("initfail")
        .initializer(|| Err::<(), _>("no config"))
        .build();
    let hs: Vec<_> = (0..8).map(|i| pool.submit(move || i)).collect();
    for h in hs {
        let r = h.join();
        assert!(
            matches!(&r, Err(TaskError::Broken(why)) if why.contains("no config")),
            "{r:?}"
        );
    }
    assert!(matches!(
        pool.submit(|| 0).join(),
        Err(TaskError::Broken(_))
    ));
    drop(pool);
    assert_eq!(
        common::settles(0, || common::threads_named("initfail")),
        0,
        "every worker thread ended"
    );
}
