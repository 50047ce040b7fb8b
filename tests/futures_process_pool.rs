//! The process pool's `shutdown(wait=False)`: concurrent.futures parity.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use concur::{ProcessPoolExecutor, TaskError};

/// Blocks until a byte can be read from the FIFO at `path`; returns it.
fn wait_for_fifo(path: String) -> u8 {
    let mut b = [0u8];
    File::open(path).unwrap().read_exact(&mut b).unwrap();
    b[0]
}

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
    let c_path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);

    let pool = ProcessPoolExecutor::new(2).unwrap();
    let blocked = pool.submit(wait_for_fifo, fifo.to_str().unwrap().to_owned());
    let mut gate = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    let workers: Vec<OwnedFd> = pool.worker_pids().into_iter().map(pidfd).collect();
    assert!(!workers.is_empty());

    pool.shutdown_nowait(); // returns though a task cannot finish yet
    assert_eq!(
        pool.submit(wait_for_fifo, String::new()).join(),
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
