//! CPython `test_concurrent_futures/test_shutdown.py`, ported to both pools: what shutting
//! down (waiting, not waiting, cancelling, dropping, exiting) does to the tasks and workers.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::mpsc;

use concur::{ProcessPoolExecutor, TaskError, ThreadPoolExecutor};

use crate::common;

fn add_one(x: u64) -> u64 {
    x + 1
}

fn pid(_: ()) -> u32 {
    std::process::id()
}

/// A descriptor that becomes readable when process `pid` exits; `None` if it is gone.
fn pidfd(pid: u32) -> Option<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    if fd < 0 {
        assert_eq!(
            std::io::Error::last_os_error().raw_os_error(),
            Some(libc::ESRCH)
        );
        return None;
    }
    // SAFETY: a fresh descriptor nobody else owns.
    Some(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Whether the process behind `fd` has exited now, or (with `wait`) within a minute, as a
/// hang guard.
fn exited(fd: &OwnedFd, wait: bool) -> bool {
    let mut p = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    unsafe { libc::poll(&mut p, 1, if wait { 60_000 } else { 0 }) == 1 }
}

#[test]
fn a_task_submitted_after_shutdown_fails_with_shutdown_on_both_pools() {
    // test_shutdown.py ExecutorShutdownTest.test_run_after_shutdown
    let threads = ThreadPoolExecutor::new(1);
    threads.shutdown();
    assert_eq!(threads.submit(|| 1).join(), Err(TaskError::Shutdown));
    let procs = ProcessPoolExecutor::new(1).unwrap();
    procs.shutdown();
    assert_eq!(procs.submit(add_one, 1).join(), Err(TaskError::Shutdown));
    assert_eq!(procs.stats().spawned, 0);
}

#[test]
fn shutdown_with_many_queued_tasks_runs_them_all_then_returns() {
    // test_shutdown.py ExecutorShutdownTest.test_hang_issue12364
    let threads = ThreadPoolExecutor::new(2);
    let (tx, rx) = mpsc::channel::<()>();
    let head = threads.submit(move || rx.recv().is_ok());
    let hs: Vec<_> = (0..100u64).map(|i| threads.submit(move || i * 2)).collect();
    tx.send(()).unwrap();
    threads.shutdown();
    assert!(hs.iter().all(concur::JoinHandle::is_finished));
    assert_eq!(head.join(), Ok(true));
    let got: Vec<u64> = hs.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(got, (0..100).map(|i| i * 2).collect::<Vec<_>>());

    let procs = ProcessPoolExecutor::new(2).unwrap();
    let hs: Vec<_> = (0..100).map(|i| procs.submit(add_one, i)).collect();
    procs.shutdown();
    assert!(hs.iter().all(concur::JoinHandle::is_finished));
    let got: Vec<u64> = hs.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(got, (1..101).collect::<Vec<_>>());
}

#[test]
fn after_shutdown_every_worker_process_has_exited_and_is_reaped() {
    // test_shutdown.py ProcessPoolShutdownTest.test_processes_terminate
    let pool = ProcessPoolExecutor::new(3).unwrap();
    let hs: Vec<_> = (0..9).map(|i| pool.submit(add_one, i)).collect();
    for h in hs {
        h.join().unwrap();
    }
    let pids = pool.worker_pids();
    assert!(!pids.is_empty());
    let fds: Vec<_> = pids.iter().filter_map(|&p| pidfd(p)).collect();
    pool.shutdown();
    for fd in &fds {
        assert!(exited(fd, false), "shutdown returned with a worker alive");
    }
    let children = common::children();
    assert!(pids.iter().all(|p| !children.contains(p)), "{children:?}");
    assert!(pool.worker_pids().is_empty());
}

#[test]
fn dropping_a_process_pool_finishes_its_work_and_ends_its_workers() {
    // test_shutdown.py ProcessPoolShutdownTest.test_context_manager_shutdown
    let pool = ProcessPoolExecutor::new(2).unwrap();
    let hs: Vec<_> = (0..10).map(|i| pool.submit(add_one, i)).collect();
    let first = pool.submit(pid, ()).join().unwrap();
    let fd = pidfd(first).expect("a worker that just answered is alive");
    drop(pool);
    assert!(exited(&fd, false), "drop returned with a worker alive");
    let got: Vec<u64> = hs.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(got, (1..11).collect::<Vec<_>>());
    assert!(!common::children().contains(&first));
}

fn good_or_failing(n: u64) -> u64 {
    assert_ne!(n, 2, "failing task");
    n
}

#[test]
fn max_tasks_per_child_a_failing_task_and_shutdown_nowait_end_cleanly() {
    // test_shutdown.py ProcessPoolShutdownTest.test_shutdown_gh_132969_case_1 / _case_2
    for max_workers in [2, 4] {
        let pool = ProcessPoolExecutor::builder()
            .max_workers(max_workers)
            .max_tasks_per_child(1)
            .env("RUST_BACKTRACE", "0")
            .build()
            .unwrap();
        let hs: Vec<_> = (1..=3).map(|n| pool.submit(good_or_failing, n)).collect();
        let mut result = 0;
        for h in hs {
            match h.join() {
                Ok(n) => result += n,
                Err(e) => {
                    assert!(e.is_panic(), "{e:?}");
                    break; // as CPython: stop at the first exception
                }
            }
        }
        assert_eq!(result, 1);
        let workers: Vec<_> = pool.worker_pids().into_iter().filter_map(pidfd).collect();
        pool.shutdown_nowait();
        for w in &workers {
            assert!(exited(w, true), "a worker outlived shutdown_nowait");
        }
        pool.shutdown(); // returns: the pool's thread has ended
        assert!(pool.worker_pids().is_empty());
    }
}

#[test]
fn a_task_cancelled_right_before_shutdown_does_not_hang_it() {
    // test_shutdown.py ExecutorShutdownTest.test_hang_gh94440
    let procs = ProcessPoolExecutor::new(1).unwrap();
    assert_eq!(procs.submit(add_one, 0).join(), Ok(1));
    let h = procs.submit(add_one, 1);
    h.cancel();
    procs.shutdown();
    assert!(h.is_finished());
    let threads = ThreadPoolExecutor::new(1);
    assert_eq!(threads.submit(|| 0).join(), Ok(0));
    let h = threads.submit(|| 1);
    h.cancel();
    threads.shutdown();
    assert!(h.is_finished());
}

#[test]
fn max_tasks_per_child_with_one_worker_and_shutdown_runs_every_task() {
    // test_process_pool.py ProcessPoolExecutorTest.test_max_tasks_early_shutdown
    let pool = ProcessPoolExecutor::builder()
        .max_workers(1)
        .max_tasks_per_child(1)
        .build()
        .unwrap();
    let hs: Vec<_> = (0..3).map(|_| pool.submit(pid, ())).collect();
    pool.shutdown();
    let pids: Vec<u32> = hs.into_iter().map(|h| h.join().unwrap()).collect();
    let distinct: std::collections::HashSet<_> = pids.iter().collect();
    assert_eq!(distinct.len(), 3, "{pids:?}");
    assert_eq!(pool.stats().spawned, 3);
    assert!(pool.worker_pids().is_empty());
}

#[test]
fn shutdown_cancel_pending_on_a_thread_pool_fails_the_queued_and_finishes_the_running() {
    // test_shutdown.py ExecutorShutdownTest.test_cancel_futures (thread pool)
    let pool = ThreadPoolExecutor::new(1);
    let (started_tx, started_rx) = mpsc::channel::<()>();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let running = pool.submit(move || {
        started_tx.send(()).unwrap();
        go_rx.recv().unwrap();
        1
    });
    started_rx.recv().unwrap();
    let queued: Vec<_> = (0..20).map(|i| pool.submit(move || i)).collect();
    std::thread::scope(|s| {
        let shut = s.spawn(|| pool.shutdown_cancel_pending());
        // The queued ones fail while the running one still holds its worker.
        for h in &queued {
            assert!(h.wait_timeout(std::time::Duration::from_secs(60)), "hung");
        }
        assert!(!running.is_finished());
        go_tx.send(()).unwrap();
        shut.join().unwrap();
    });
    assert_eq!(running.join(), Ok(1));
    for h in queued {
        assert!(matches!(
            h.join(),
            Err(TaskError::Shutdown | TaskError::Cancelled)
        ));
    }
}

/// Run by `the_shared_process_pool_s_workers_end_when_the_process_exits` in a process of
/// its own: hands a never-ending task to the shared process pool, prints the pid of the
/// worker running it, and returns without any shutdown.
#[test]
#[ignore = "a probe; runs only in a child process"]
fn shared_pool_exit_probe() {
    fn forever(path: String) {
        let _started = std::fs::OpenOptions::new().write(true).open(path).unwrap();
        loop {
            std::thread::park();
        }
    }
    let fifo = std::env::var("CONCUR_EXIT_PROBE_FIFO").unwrap();
    let pool = ProcessPoolExecutor::shared().unwrap();
    let h = pool.submit(forever, fifo.clone());
    drop(std::fs::File::open(&fifo).unwrap()); // the task runs
    println!("worker={}", pool.worker_pids()[0]);
    std::mem::forget(h);
}

#[test]
fn the_shared_process_pool_s_workers_end_when_the_process_exits() {
    // test_shutdown.py ExecutorShutdownTest.test_interpreter_shutdown / ProcessPoolShutdownTest
    // test_hang_issue39205: a process that exits with a pool still busy leaves no worker behind
    let dir = std::env::temp_dir().join(format!("concur-exit-probe-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fifo = dir.join("gate");
    common::make_fifo(&fifo);
    // Output to a file, not a pipe: a worker left behind would hold a pipe open forever.
    let log = dir.join("out");
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "shutdown::shared_pool_exit_probe",
            "--ignored",
            "--nocapture",
        ])
        .env("CONCUR_EXIT_PROBE_FIFO", &fifo)
        .stdin(std::process::Stdio::null())
        .stdout(std::fs::File::create(&log).unwrap())
        .status()
        .unwrap();
    let stdout = std::fs::read_to_string(&log).unwrap();
    std::fs::remove_dir_all(dir).unwrap();
    assert!(status.success(), "{status:?}: {stdout}");
    let worker: u32 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("worker="))
        .unwrap_or_else(|| panic!("the probe did not run: {stdout}"))
        .parse()
        .unwrap();
    if let Some(fd) = pidfd(worker) {
        assert!(exited(&fd, true), "worker {worker} outlived its parent");
    }
}
