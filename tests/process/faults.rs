//! A process pool under faults: whatever a worker does (panic, abort, crash, exit, being
//! killed, writing garbage to its channel), only the task it was running fails, with an
//! error that says what happened, and the pool goes on with a fresh worker.

use std::fs::File;
use std::io::Write;
use std::os::fd::FromRawFd;

use concur::{ProcessPoolExecutor, TaskError, WorkerExit};

fn add_one(x: u64) -> u64 {
    x + 1
}

fn forever(_: ()) {
    loop {
        std::thread::park();
    }
}

/// The pool still serves after the fault.
fn assert_healthy(pool: &ProcessPoolExecutor) {
    assert_eq!(pool.submit(add_one, 1).join(), Ok(2));
    assert!(pool.stats().workers <= pool.max_workers());
}

/// Waits until the pool has sent `n` tasks to workers.
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
fn a_panic_fails_only_its_task_and_the_worker_survives() {
    fn boom(x: u32) -> u32 {
        panic!("bad input {x}")
    }
    // A panic on purpose: one line from the worker, not a backtrace.
    let pool = ProcessPoolExecutor::builder()
        .max_workers(1)
        .env("RUST_BACKTRACE", "0")
        .build()
        .unwrap();
    let err = pool.submit(boom, 7).join().unwrap_err();
    assert_eq!(err, TaskError::Panicked("bad input 7".into()));
    // Where it was raised comes back from the worker too.
    let TaskError::Panicked(p) = &err else {
        unreachable!()
    };
    let at = p.location().expect("a location from the worker");
    assert!(at.starts_with(concat!(file!(), ":")), "{at}");
    assert!(err.to_string().contains(at), "{err}");
    assert_healthy(&pool);
    assert_eq!(pool.stats().spawned, 1, "a panic does not cost the worker");
    // So does each item's of a map.
    let items: Vec<_> = pool.map(boom, [1, 2]).collect();
    for item in items {
        let Err(TaskError::Panicked(p)) = item else {
            panic!("{item:?}")
        };
        assert!(
            p.location().is_some_and(|at| at.starts_with(file!())),
            "{p:?}"
        );
    }
}

#[test]
fn abort_fails_only_its_task() {
    fn abort(_: ()) {
        std::process::abort()
    }
    let pool = ProcessPoolExecutor::new(1).unwrap();
    let err = pool.submit(abort, ()).join().unwrap_err();
    assert_eq!(
        err,
        TaskError::WorkerDied(WorkerExit::Signal(libc::SIGABRT))
    );
    // The message names the signal, as a shell would.
    assert_eq!(
        err.to_string(),
        format!(
            "the worker running the task was killed by signal {} (SIGABRT)",
            libc::SIGABRT
        )
    );
    assert_healthy(&pool);
    assert_eq!(pool.stats().died, 1);
}

#[test]
fn a_segfault_fails_only_its_task() {
    fn segfault(_: ()) {
        // SAFETY: raising a signal is safe; the default action for SIGSEGV ends the process
        // exactly as an invalid memory access would.
        unsafe { libc::raise(libc::SIGSEGV) };
    }
    let pool = ProcessPoolExecutor::new(1).unwrap();
    assert_eq!(
        pool.submit(segfault, ()).join(),
        Err(TaskError::WorkerDied(WorkerExit::Signal(libc::SIGSEGV)))
    );
    assert_healthy(&pool);
}

#[test]
fn exit_with_a_code_fails_only_its_task() {
    fn exit3(_: ()) {
        std::process::exit(3)
    }
    let pool = ProcessPoolExecutor::new(2).unwrap();
    let others: Vec<_> = (0..20).map(|i| pool.submit(add_one, i)).collect();
    assert_eq!(
        pool.submit(exit3, ()).join(),
        Err(TaskError::WorkerDied(WorkerExit::Code(3)))
    );
    for (i, h) in others.into_iter().enumerate() {
        assert_eq!(
            h.join(),
            Ok(i as u64 + 1),
            "a task queued beside it is unaffected"
        );
    }
    assert_healthy(&pool);
}

#[test]
fn a_worker_killed_from_outside_fails_only_its_task() {
    let pool = ProcessPoolExecutor::builder()
        .max_workers(1)
        .tasks_in_flight_per_worker(4)
        .build()
        .unwrap();
    let victim = pool.submit(forever, ());
    let behind = pool.submit(add_one, 41);
    until_sent(&pool, 2);
    let pid = pool.worker_pids()[0];
    // SAFETY: kill(2) on a pid of our own child; no memory is involved.
    assert_eq!(unsafe { libc::kill(pid as i32, libc::SIGKILL) }, 0);
    assert_eq!(
        victim.join(),
        Err(TaskError::WorkerDied(WorkerExit::Signal(libc::SIGKILL)))
    );
    // The task queued behind it on the same worker never started: it runs elsewhere.
    assert_eq!(behind.join(), Ok(42));
    assert!(!pool.worker_pids().contains(&pid));
    assert_healthy(&pool);
}

#[test]
fn python_s_behaviour_is_opt_in_a_death_breaks_the_pool() {
    fn exit3(_: ()) {
        std::process::exit(3)
    }
    let pool = ProcessPoolExecutor::builder()
        .max_workers(1)
        .break_on_worker_death(true)
        .build()
        .unwrap();
    assert_eq!(
        pool.submit(exit3, ()).join(),
        Err(TaskError::WorkerDied(WorkerExit::Code(3)))
    );
    let err = pool.submit(add_one, 1).join().unwrap_err();
    assert!(
        matches!(&err, TaskError::Broken(why) if why.contains("exited with code 3")),
        "{err:?}"
    );
}

/// The worker's channel to the parent, found from inside a task.
fn channel() -> File {
    for entry in std::fs::read_dir("/proc/self/fd").unwrap() {
        let entry = entry.unwrap();
        let target = std::fs::read_link(entry.path()).unwrap_or_default();
        if target.to_string_lossy().starts_with("socket:") {
            let fd: i32 = entry.file_name().to_str().unwrap().parse().unwrap();
            // SAFETY: `fd` is open (just listed); the caller forgets the `File` rather than
            // closing a descriptor the worker owns.
            return unsafe { File::from_raw_fd(fd) };
        }
    }
    panic!("no channel found");
}

/// A task that turns its worker hostile: it writes `bytes` into the channel, then waits
/// to be killed.
fn hostile(bytes: Vec<u8>) {
    let mut chan = channel();
    chan.write_all(&bytes).unwrap();
    std::mem::forget(chan);
    forever(());
}

fn done_frame(id: u64, nfds: u32, payload: &[u8]) -> Vec<u8> {
    let mut body = vec![0x83];
    body.extend_from_slice(&id.to_le_bytes());
    body.push(0);
    body.extend_from_slice(&[0; 16]);
    body.extend_from_slice(&nfds.to_le_bytes());
    body.extend_from_slice(payload);
    let mut frame = (body.len() as u32).to_le_bytes().to_vec();
    frame.extend_from_slice(&body);
    frame
}

fn assert_killed_for(bytes: Vec<u8>, why: &str) {
    let pool = ProcessPoolExecutor::new(1).unwrap();
    let err = pool.submit(hostile, bytes).join().unwrap_err();
    assert!(
        matches!(&err, TaskError::Serialization(msg) if msg.contains("broke the protocol") && msg.contains(why)),
        "{err:?}"
    );
    assert_healthy(&pool);
}

#[test]
fn a_worker_that_writes_garbage_is_killed_and_its_task_failed() {
    assert_killed_for(vec![5, 0, 0, 0, 0x99, 1, 2, 3, 4], "unknown frame kind");
}

#[test]
fn a_worker_that_announces_a_huge_frame_is_killed_before_anything_is_allocated() {
    assert_killed_for(u32::MAX.to_le_bytes().to_vec(), "exceeds the limit");
}

#[test]
fn a_worker_that_answers_a_task_it_was_never_given_is_killed() {
    assert_killed_for(done_frame(0xdead_beef, 0, b""), "never given");
}

#[test]
fn a_worker_that_claims_descriptors_it_did_not_send_is_killed() {
    assert_killed_for(done_frame(1, 3, b""), "descriptors");
}

#[test]
fn a_worker_that_dies_in_the_middle_of_a_frame_fails_its_task() {
    fn truncated(_: ()) {
        let mut chan = channel();
        chan.write_all(&[100, 0, 0, 0, 0x83, 1, 2]).unwrap();
        std::process::exit(0);
    }
    let pool = ProcessPoolExecutor::new(1).unwrap();
    assert_eq!(
        pool.submit(truncated, ()).join(),
        Err(TaskError::WorkerDied(WorkerExit::Code(0)))
    );
    assert_healthy(&pool);
}

#[test]
fn a_worker_refuses_a_parent_of_another_build() {
    use std::io::Read;
    use std::os::unix::fs::MetadataExt;
    use std::os::unix::net::UnixStream;
    use std::os::unix::process::ExitStatusExt;

    // Start this test binary as a worker by hand, with a marker whose executable identity
    // (device, inode) is not its own: it must say why it refuses, and exit.
    let meta = std::fs::metadata("/proc/self/exe").unwrap();
    let marker = format!(
        "{}:{}:{}:0:0",
        std::process::id(),
        meta.dev(),
        meta.ino() + 1
    );
    let (ours, theirs) = UnixStream::pair().unwrap();
    let mut child = std::process::Command::new("/proc/self/exe")
        // Should it run its `main` instead, it runs no test (none that starts children).
        .args(["--exact", "no test has this name"])
        .env("CONCUR_PROCESS_WORKER_V1", marker)
        .stdin(std::os::fd::OwnedFd::from(theirs))
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut reply = Vec::new();
    (&ours).read_to_end(&mut reply).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(70), "{status:?} {:?}", status.signal());
    assert_eq!(reply[4], 0x82, "a REFUSED frame");
    let reason = String::from_utf8_lossy(&reply[5..]);
    assert!(reason.contains("not the parent's"), "{reason}");
}

/// Starts the one worker of `pool` on a task that never ends, and waits until it runs.
fn occupy(pool: &ProcessPoolExecutor) -> concur::JoinHandle<()> {
    let h = pool.submit(forever, ());
    until_running(pool, 1);
    h
}

/// One worker, one task on it at a time, and Python's rule: a worker death breaks it.
fn breakable_pool() -> ProcessPoolExecutor {
    ProcessPoolExecutor::builder()
        .max_workers(1)
        .tasks_in_flight_per_worker(1)
        .break_on_worker_death(true)
        .build()
        .unwrap()
}

#[test]
fn every_task_queued_when_a_death_breaks_the_pool_resolves_broken() {
    let pool = breakable_pool();
    let victim = occupy(&pool);
    // Never sent to a worker: they wait in the pool's queue.
    let queued: Vec<_> = (0..20).map(|i| pool.submit(add_one, i)).collect();
    let pid = pool.worker_pids()[0];
    // SAFETY: kill(2) on a pid of our own child; no memory is involved.
    assert_eq!(unsafe { libc::kill(pid as i32, libc::SIGKILL) }, 0);
    assert_eq!(
        victim.join(),
        Err(TaskError::WorkerDied(WorkerExit::Signal(libc::SIGKILL)))
    );
    for h in queued {
        let err = h.join().unwrap_err();
        assert!(
            matches!(&err, TaskError::Broken(why) if why.contains("was killed by signal 9 (SIGKILL)")),
            "{err:?}"
        );
    }
    // The pool's thread survived: later submissions resolve too.
    assert!(matches!(
        pool.submit(add_one, 1).join(),
        Err(TaskError::Broken(_))
    ));
}

#[test]
fn a_cancel_racing_a_pool_that_breaks_still_resolves_every_handle() {
    for round in 0..5 {
        let pool = breakable_pool();
        let victim = occupy(&pool);
        let queued: Vec<_> = (0..50).map(|i| pool.submit(add_one, i)).collect();
        let pid = pool.worker_pids()[0];
        let canceller = std::thread::scope(|s| {
            let t = s.spawn(|| queued.iter().filter(|h| h.cancel()).count());
            // SAFETY: kill(2) on a pid of our own child; no memory is involved.
            assert_eq!(unsafe { libc::kill(pid as i32, libc::SIGKILL) }, 0);
            t.join().unwrap()
        });
        assert!(victim.join().is_err());
        let mut cancelled = 0;
        for h in queued {
            match h.join() {
                Err(TaskError::Cancelled) => cancelled += 1,
                Err(TaskError::Broken(_)) => {}
                other => panic!("round {round}: {other:?}"),
            }
        }
        assert_eq!(cancelled, canceller, "round {round}");
    }
}

/// A result whose `Drop` panics in the parent (user code, run wherever the pool drops a
/// result nobody joined); the worker's own copy is disarmed.
#[derive(serde::Serialize, serde::Deserialize)]
struct PanicsOnDrop(u8, #[serde(skip, default = "armed")] bool);

fn armed() -> bool {
    true
}

impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        if self.1 {
            panic!("PanicsOnDrop({}) dropped", self.0);
        }
    }
}

/// Waits until something opens the FIFO at `path` for writing and sends a byte.
fn after_fifo_opens(path: String) -> PanicsOnDrop {
    use std::io::Read;
    let mut byte = [0u8; 1];
    File::open(&path).unwrap().read_exact(&mut byte).unwrap();
    PanicsOnDrop(byte[0], false)
}

#[test]
fn a_panicking_drop_of_a_detached_result_leaves_the_pool_serving() {
    let dir = std::env::temp_dir().join(format!("concur-fifo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pool = ProcessPoolExecutor::new(1).unwrap();
    for round in 0..3u8 {
        let path = dir.join(format!("fifo{round}"));
        let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
        // SAFETY: mkfifo(3) with a valid C string.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let detached = pool.submit(after_fifo_opens, path.to_str().unwrap().to_owned());
        drop(detached);
        // Opening blocks until the task opened the other end: it runs, detached.
        File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .write_all(&[round])
            .unwrap();
        // Its result is dropped on the pool's thread, which must go on serving.
        assert_eq!(pool.submit(add_one, 1).join(), Ok(2));
        std::fs::remove_file(&path).unwrap();
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
