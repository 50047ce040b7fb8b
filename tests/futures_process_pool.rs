//! The process pool's `shutdown(wait=False)`: concurrent.futures parity.

use std::fs::File;
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use concur::{ProcessPoolExecutor, TaskError};

mod common;

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
