//! The process pool against CPython's `test_process_pool.py` and `shutdown(wait=False)`:
//! concurrent.futures parity.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use concur::{ProcessPoolExecutor, TaskError};

use crate::common;

/// A descriptor that becomes readable when process `pid` exits.
fn pidfd(pid: u32) -> OwnedFd {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    assert!(fd >= 0, "pidfd_open: {}", std::io::Error::last_os_error());
    // SAFETY: a fresh descriptor nobody else owns.
    unsafe { OwnedFd::from_raw_fd(fd as i32) }
}

/// Waits until the process behind `fd` has exited (a minute at most, as a hang guard).
fn exited(fd: &OwnedFd) -> bool {
    let mut p = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    unsafe { libc::poll(&mut p, 1, 60_000) == 1 }
}

#[test]
fn shutdown_nowait_returns_at_once_runs_the_work_then_every_worker_exits() {
    // CPython Lib/test/test_concurrent_futures/test_shutdown.py ProcessPoolShutdownTest.test_shutdown_no_wait
    let dir = std::env::temp_dir().join(format!("concur-nowait-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fifo = dir.join("gate");
    common::make_fifo(&fifo);

    let pool = ProcessPoolExecutor::new(2).unwrap();
    let blocked = pool.submit(common::after_fifo_opens, fifo.to_str().unwrap().to_owned());
    let mut gate = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    let workers: Vec<OwnedFd> = pool.worker_pids().into_iter().map(pidfd).collect();
    assert!(!workers.is_empty());

    pool.shutdown_nowait(); // returns though a task cannot finish yet
    assert_eq!(
        pool.submit(common::after_fifo_opens, String::new()).join(),
        Err(TaskError::Shutdown)
    );
    drop(pool); // nor does this wait: the task still waits for the byte below
    gate.write_all(&[9]).unwrap();
    assert_eq!(blocked.join(), Ok(9), "submitted work still runs");
    for w in &workers {
        assert!(exited(w), "a worker is left running after shutdown_nowait");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Opens the FIFO at `path` for writing (which returns once the test opened it for
/// reading: the task has started), then never returns.
fn forever(path: String) {
    let _started = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    loop {
        std::thread::park();
    }
}

/// A new FIFO in a directory of its own; returns (directory, FIFO path).
fn new_fifo(name: &str) -> (std::path::PathBuf, String) {
    let dir = std::env::temp_dir().join(format!("concur-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fifo = dir.join("gate");
    common::make_fifo(&fifo);
    (dir, fifo.to_str().unwrap().to_owned())
}

/// Submits `forever` with `cancel_on_drop` and returns once it runs, with its worker.
fn running_forever(pool: &ProcessPoolExecutor, name: &str) -> (concur::JoinHandle<()>, OwnedFd) {
    let (dir, fifo) = new_fifo(name);
    let h = pool.submit(forever, fifo.clone()).cancel_on_drop();
    drop(File::open(&fifo).unwrap()); // returns once the task has opened its end
    std::fs::remove_dir_all(dir).unwrap();
    (h, pidfd(pool.worker_pids()[0]))
}

#[test]
fn dropping_a_cancel_on_drop_handle_stops_its_running_process_task() {
    // asyncio's run_in_executor: cancelling the awaiting future cancels the executor's.
    let pool = ProcessPoolExecutor::new(1).unwrap();
    let (h, worker) = running_forever(&pool, "drop");
    drop(h);
    assert!(exited(&worker), "the worker running the task was stopped");
    drop(pool); // would wait forever for the task otherwise
}

#[test]
fn a_loop_task_that_times_out_on_a_cancel_on_drop_handle_cancels_the_pool_task() {
    let pool = ProcessPoolExecutor::new(1).unwrap();
    let (h, worker) = running_forever(&pool, "timeout");
    let r = concur::aio::run(concur::aio::timeout(
        std::time::Duration::from_millis(20),
        h,
    ));
    assert!(r.is_err(), "the timeout fired");
    assert!(exited(&worker));
    drop(pool);
}

#[test]
fn a_plain_handle_dropped_leaves_its_task_running() {
    fn double(x: u64) -> u64 {
        x * 2
    }
    let pool = ProcessPoolExecutor::new(1).unwrap();
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let h = pool.submit(double, 4);
    h.on_done(move || done_tx.send(()).unwrap());
    drop(h);
    done_rx.recv().unwrap(); // the task still finished
    let joined = pool.submit(double, 5).cancel_on_drop().join();
    assert_eq!(
        joined,
        Ok(10),
        "a joined cancel_on_drop handle gives its value"
    );
}

/// Ignores SIGTERM, then does as `forever`.
fn deaf_forever(path: String) {
    // SAFETY: setting a signal's disposition to "ignore" installs no handler code.
    unsafe { libc::signal(libc::SIGTERM, libc::SIG_IGN) };
    forever(path)
}

#[test]
fn terminate_workers_stops_running_tasks_and_resolves_every_handle() {
    // CPython Lib/test/test_concurrent_futures/test_process_pool.py test_terminate_workers (3.14)
    let pool = ProcessPoolExecutor::new(1).unwrap();
    let (running, worker) = running_forever(&pool, "terminate");
    let queued = pool.submit(forever, String::new());
    pool.terminate_workers();
    assert!(exited(&worker));
    match running.join() {
        Err(TaskError::WorkerDied(_)) | Err(TaskError::Shutdown) => {}
        other => panic!("the running task must fail with its worker: {other:?}"),
    }
    assert_eq!(queued.join(), Err(TaskError::Shutdown));
    assert_eq!(
        pool.submit(forever, String::new()).join(),
        Err(TaskError::Shutdown)
    );
}

#[test]
fn terminate_workers_kills_a_worker_that_ignores_sigterm_after_the_grace_period() {
    // CPython Lib/test/test_concurrent_futures/test_process_pool.py test_kill_workers (3.14)
    let pool = ProcessPoolExecutor::new(1).unwrap();
    let (dir, fifo) = new_fifo("deaf");
    let h = pool.submit(deaf_forever, fifo.clone());
    drop(File::open(&fifo).unwrap()); // it runs, and ignores SIGTERM from now on
    std::fs::remove_dir_all(dir).unwrap();
    let worker = pidfd(pool.worker_pids()[0]);
    pool.terminate_workers();
    assert!(exited(&worker), "SIGKILL followed");
    assert!(h.join().is_err());
}

#[test]
fn the_shared_process_pool_is_one_pool_for_every_thread() {
    fn triple(x: u64) -> u64 {
        x * 3
    }
    let addrs: Vec<usize> = (0..4)
        .map(|_| std::thread::spawn(|| ProcessPoolExecutor::shared().unwrap() as *const _ as usize))
        .map(|t| t.join().unwrap())
        .collect();
    assert!(addrs.windows(2).all(|w| w[0] == w[1]), "{addrs:?}");
    let pool = ProcessPoolExecutor::shared().unwrap();
    assert_eq!(pool.submit(triple, 5).join(), Ok(15));
}

fn add_one(x: u64) -> u64 {
    x + 1
}

/// Writes this worker's pid to the FIFO `started` (keeping it open), then waits for a
/// byte on the FIFO `gate`.
fn gated((started, gate): (String, String)) -> u32 {
    let mut started = std::fs::OpenOptions::new()
        .write(true)
        .open(started)
        .unwrap();
    started
        .write_all(&std::process::id().to_le_bytes())
        .unwrap();
    common::after_fifo_opens(gate);
    std::process::id()
}

#[test]
fn a_saturated_pool_starts_max_workers_processes_and_no_more() {
    // CPython Lib/test/test_concurrent_futures/test_process_pool.py test_saturation
    let dir = std::env::temp_dir().join(format!("concur-saturation-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (started, gate) = (dir.join("started"), dir.join("gate"));
    common::make_fifo(&started);
    common::make_fifo(&gate);
    let arg = (
        started.to_str().unwrap().to_owned(),
        gate.to_str().unwrap().to_owned(),
    );
    let pool = ProcessPoolExecutor::new(3).unwrap();
    let hs: Vec<_> = (0..15 * 3)
        .map(|_| pool.submit(gated, arg.clone()))
        .collect();
    let mut reader = File::open(&started).unwrap();
    let mut running = Vec::new();
    for _ in 0..3 {
        let mut b = [0u8; 4];
        reader.read_exact(&mut b).unwrap();
        running.push(u32::from_le_bytes(b));
    }
    running.sort_unstable();
    running.dedup();
    assert_eq!(running.len(), 3, "three workers each run a task");
    let mut alive = pool.worker_pids();
    alive.sort_unstable();
    assert_eq!(alive, running);
    assert_eq!(pool.stats().spawned, 3);
    let children = common::children();
    assert_eq!(
        alive.iter().filter(|p| children.contains(p)).count(),
        3,
        "{children:?}"
    );
    let mut release = std::fs::OpenOptions::new().write(true).open(&gate).unwrap();
    release.write_all(&[1; 15 * 3]).unwrap();
    let pids: std::collections::HashSet<u32> = hs.into_iter().map(|h| h.join().unwrap()).collect();
    drop((release, reader));
    std::fs::remove_dir_all(dir).unwrap();
    assert!(pids.iter().all(|p| running.contains(p)), "{pids:?}");
    assert_eq!(pool.stats().spawned, 3);
}

#[test]
fn one_task_after_another_reuses_the_idle_worker() {
    // CPython Lib/test/test_concurrent_futures/test_process_pool.py test_idle_process_reuse_one
    let pool = ProcessPoolExecutor::new(4).unwrap();
    assert_eq!(pool.submit(add_one, 41).join(), Ok(42));
    assert_eq!(pool.submit(add_one, 1).join(), Ok(2));
    assert_eq!(pool.stats().spawned, 1);
    assert_eq!(pool.worker_pids().len(), 1);
}

#[test]
fn alternating_waited_and_unwaited_tasks_start_few_workers() {
    // CPython Lib/test/test_concurrent_futures/test_process_pool.py test_idle_process_reuse_multiple
    let pool = ProcessPoolExecutor::new(4).unwrap();
    assert_eq!(pool.submit(add_one, 12).join(), Ok(13));
    let a = pool.submit(add_one, 33);
    assert_eq!(pool.submit(add_one, 25).join(), Ok(26));
    let b = pool.submit(add_one, 18);
    assert_eq!(pool.submit(add_one, 1).join(), Ok(2));
    let c = pool.submit(add_one, 0);
    assert!(pool.stats().spawned <= 3, "{:?}", pool.stats());
    assert_eq!((a.join(), b.join(), c.join()), (Ok(34), Ok(19), Ok(1)));
}

/// A value that records, when dropped in a worker (not in the parent that encoded it),
/// the pid of the process that dropped it, in the file `path`.
#[derive(serde::Serialize, serde::Deserialize)]
struct DropMarker {
    path: String,
    parent: u32,
}

impl Drop for DropMarker {
    fn drop(&mut self) {
        if std::process::id() != self.parent {
            std::fs::write(&self.path, std::process::id().to_string()).unwrap();
        }
    }
}

fn consume(m: DropMarker) -> u32 {
    assert!(!std::path::Path::new(&m.path).exists());
    std::process::id()
}

fn keep(m: DropMarker) -> u32 {
    let pid = std::process::id();
    // A task that stores its argument somewhere the worker keeps: the drop never happens.
    std::mem::forget(m);
    pid
}

#[test]
fn a_task_s_argument_is_dropped_in_the_worker_when_the_task_ends() {
    // CPython Lib/test/test_concurrent_futures/test_process_pool.py test_ressources_gced_in_workers
    let dir = std::env::temp_dir().join(format!("concur-dropped-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let marker = |name: &str| DropMarker {
        path: dir.join(name).to_str().unwrap().to_owned(),
        parent: std::process::id(),
    };
    let pool = ProcessPoolExecutor::new(1).unwrap();
    let pid = pool.submit(consume, marker("consumed")).join().unwrap();
    let dropped_by = std::fs::read_to_string(dir.join("consumed")).expect("dropped in the worker");
    assert_eq!(dropped_by, pid.to_string());
    // The check can fail: a worker that keeps the value leaves no mark.
    pool.submit(keep, marker("kept")).join().unwrap();
    assert!(!dir.join("kept").exists());
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn map_gives_the_same_outcomes_whatever_the_chunk_size_and_refuses_zero() {
    // CPython Lib/test/test_concurrent_futures/test_process_pool.py test_map_chunksize
    fn pow((a, b): (u64, u32)) -> u64 {
        a.pow(b % 4)
    }
    let items: Vec<(u64, u32)> = (0..40).map(|i| (i, i as u32)).collect();
    let expect: Vec<u64> = items.iter().copied().map(pow).collect();
    for chunk in [1, 2, 5, 40, 1000] {
        let pool = ProcessPoolExecutor::builder()
            .max_workers(2)
            .chunk_size(chunk)
            .build()
            .unwrap();
        let got: Vec<u64> = pool.map(pow, items.clone()).map(Result::unwrap).collect();
        assert_eq!(got, expect, "chunk_size({chunk})");
    }
    let err = ProcessPoolExecutor::builder()
        .chunk_size(0)
        .build()
        .unwrap_err();
    assert!(matches!(err, concur::Error::InvalidArgument(_)), "{err}");
}

#[test]
fn a_worker_panic_carries_its_message_and_where_it_was_raised() {
    // CPython Lib/test/test_concurrent_futures/test_process_pool.py test_traceback
    fn raise(_: ()) {
        panic!("raised in the worker");
    }
    let pool = ProcessPoolExecutor::builder()
        .max_workers(1)
        .env("RUST_BACKTRACE", "0")
        .build()
        .unwrap();
    match pool.submit(raise, ()).join() {
        Err(TaskError::Panicked(p)) => {
            assert_eq!(p.message(), "raised in the worker");
            let at = p.location().expect("the worker's panic location");
            assert!(at.contains("tests/futures/process_pool.rs:"), "{at}");
        }
        other => panic!("expected the worker's panic, got {other:?}"),
    }
}

fn double(x: u64) -> u64 {
    x * 2
}

#[test]
fn a_backlog_behind_workers_at_their_task_limit_all_runs() {
    // CPython Lib/test/test_concurrent_futures/test_process_pool.py test_max_tasks_per_child_pending_tasks_gh115634
    for (max_workers, max_tasks, num_tasks) in [(1, 2, 6), (2, 2, 8)] {
        let pool = ProcessPoolExecutor::builder()
            .max_workers(max_workers)
            .max_tasks_per_child(max_tasks)
            .build()
            .unwrap();
        let hs: Vec<_> = (0..num_tasks).map(|i| pool.submit(double, i)).collect();
        let got: Vec<u64> = hs
            .into_iter()
            .map(|h| {
                assert!(
                    h.wait_timeout(std::time::Duration::from_secs(60)),
                    "stranded"
                );
                h.join().unwrap()
            })
            .collect();
        assert_eq!(got, (0..num_tasks).map(|i| i * 2).collect::<Vec<_>>());
        pool.shutdown_cancel_pending();
    }
}

/// Sends `i` through the FIFO `started` (opened for this one write), waits for a byte on
/// the FIFO `gate`, returns `i`.
fn report_wait_return((started, gate, i): (String, String, u8)) -> u8 {
    std::fs::OpenOptions::new()
        .write(true)
        .open(started)
        .unwrap()
        .write_all(&[i])
        .unwrap();
    common::after_fifo_opens(gate);
    i
}

/// A one-worker pool with `max_tasks_per_child(1)` and three `report_wait_return` tasks,
/// the first of them running: (pool, handles, gate path, directory).
fn stranded_setup(
    name: &str,
) -> (
    ProcessPoolExecutor,
    Vec<concur::JoinHandle<u8>>,
    String,
    std::path::PathBuf,
) {
    let dir = std::env::temp_dir().join(format!("concur-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (started, gate) = (dir.join("started"), dir.join("gate"));
    common::make_fifo(&started);
    common::make_fifo(&gate);
    let (s, g) = (
        started.to_str().unwrap().to_owned(),
        gate.to_str().unwrap().to_owned(),
    );
    let pool = ProcessPoolExecutor::builder()
        .max_workers(1)
        .max_tasks_per_child(1)
        .build()
        .unwrap();
    let hs: Vec<_> = (0..3u8)
        .map(|i| pool.submit(report_wait_return, (s.clone(), g.clone(), i)))
        .collect();
    let mut first = [9u8];
    File::open(&started)
        .unwrap()
        .read_exact(&mut first)
        .unwrap();
    assert_eq!(first, [0], "the first task runs");
    (pool, hs, g, dir)
}

/// Keeps a writer on the FIFO `gate` with bytes for every task until `done` returns.
fn with_gate_open<T>(gate: &str, done: impl FnOnce() -> T) -> T {
    let mut w = std::fs::OpenOptions::new().write(true).open(gate).unwrap();
    w.write_all(&[1; 3]).unwrap();
    done()
}

#[test]
fn shutdown_nowait_while_a_worker_is_at_its_task_limit_still_runs_the_rest() {
    // CPython Lib/test/test_concurrent_futures/test_process_pool.py test_shutdown_no_wait_max_tasks_gh119592
    // (the report for the started tasks reopens the FIFO each time)
    let (pool, hs, gate, dir) = stranded_setup("gh119592");
    pool.shutdown_nowait();
    let got: Vec<u8> = with_gate_open(&gate, || {
        // Each later task reports through `started`, which needs a reader.
        let started = dir.join("started");
        let reader = std::thread::spawn(move || {
            let mut seen = Vec::new();
            while seen.len() < 2 {
                let mut b = Vec::new();
                File::open(&started).unwrap().read_to_end(&mut b).unwrap();
                seen.extend(b);
            }
            seen
        });
        let got = hs.into_iter().map(|h| h.join().unwrap()).collect();
        assert_eq!(reader.join().unwrap(), [1, 2]);
        got
    });
    std::fs::remove_dir_all(dir).unwrap();
    assert_eq!(got, [0, 1, 2]);
    assert_eq!(pool.stats().spawned, 3);
}

#[test]
fn dropping_the_pool_while_a_worker_is_at_its_task_limit_runs_the_rest_first() {
    // CPython Lib/test/test_concurrent_futures/test_process_pool.py test_gc_during_max_tasks_worker_exit_gh152967
    // (concur: dropping the pool waits for its tasks, where Python fails them "garbage collected")
    let (pool, hs, gate, dir) = stranded_setup("gh152967");
    let got: Vec<u8> = with_gate_open(&gate, || {
        let started = dir.join("started");
        let reader = std::thread::spawn(move || {
            let mut seen = Vec::new();
            while seen.len() < 2 {
                let mut b = Vec::new();
                File::open(&started).unwrap().read_to_end(&mut b).unwrap();
                seen.extend(b);
            }
            seen
        });
        drop(pool);
        assert_eq!(reader.join().unwrap(), [1, 2]);
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    std::fs::remove_dir_all(dir).unwrap();
    assert_eq!(got, [0, 1, 2]);
}

#[test]
fn terminate_workers_with_a_backlog_fails_it_and_starts_no_replacement() {
    // CPython Lib/test/test_concurrent_futures/test_process_pool.py test_force_shutdown_during_max_tasks_worker_exit
    let (pool, mut hs, _gate, dir) = stranded_setup("force-max-tasks");
    pool.terminate_workers();
    let first = hs.remove(0).join();
    assert!(
        matches!(first, Err(TaskError::WorkerDied(_) | TaskError::Shutdown)),
        "{first:?}"
    );
    for h in hs {
        assert_eq!(h.join(), Err(TaskError::Shutdown));
    }
    std::fs::remove_dir_all(dir).unwrap();
    assert_eq!(pool.stats().spawned, 1, "no worker escaped the kill");
    assert!(pool.worker_pids().is_empty());
}

#[test]
fn a_worker_that_exits_says_with_which_code() {
    // CPython Lib/test/test_concurrent_futures/test_process_pool.py test_traceback_when_child_process_terminates_abruptly
    fn exit99(_: ()) {
        std::process::exit(99)
    }
    let pool = ProcessPoolExecutor::new(1).unwrap();
    let err = pool.submit(exit99, ()).join().unwrap_err();
    assert_eq!(
        err.to_string(),
        "the worker running the task exited with code 99"
    );
}

#[test]
fn terminate_workers_after_a_worker_died_or_before_any_started_is_harmless() {
    // CPython Lib/test/test_concurrent_futures/test_process_pool.py test_force_shutdown_workers_dead_workers /
    // test_force_shutdown_workers_not_started_yet
    fn exit1(_: ()) {
        std::process::exit(1)
    }
    let pool = ProcessPoolExecutor::new(1).unwrap();
    assert!(pool.submit(exit1, ()).join().is_err());
    pool.terminate_workers();
    assert!(pool.worker_pids().is_empty());
    let fresh = ProcessPoolExecutor::new(1).unwrap();
    fresh.terminate_workers();
    assert_eq!(fresh.stats().spawned, 0);
    assert_eq!(fresh.submit(add_one, 1).join(), Err(TaskError::Shutdown));
}
