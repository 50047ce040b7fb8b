//! CPython `test_concurrent_futures/test_deadlock.py` (and the deadlock-prone cases of
//! `test_init.py`), ported: a task, its argument or its result that fails, panics, exits or
//! crashes at each step of the round trip resolves its handle and never hangs the pool.
//! Where Python breaks the whole pool, concur fails only the task (its documented
//! difference; `break_on_worker_death(true)` restores Python's behaviour).

use std::fs::File;
use std::io::{Read, Write};
use std::time::Duration;

use concur::{ProcessPoolExecutor, TaskError, WorkerExit};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::common;

/// How long a test waits before it calls a handle hung (a guard, never a synchronisation).
const HANG: Duration = Duration::from_secs(60);

/// What a hostile `Serialize` or `Deserialize` does.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
enum Fault {
    Error,
    Panic,
    Exit,
    Crash,
}

fn strike(fault: Fault) -> String {
    match fault {
        Fault::Error => "refused on purpose".to_owned(),
        Fault::Panic => panic!("a hostile serde impl panicked"),
        Fault::Exit => std::process::exit(7),
        Fault::Crash => {
            // SAFETY: raising a signal is safe; SIGSEGV's default action ends the process as
            // an invalid memory access would (CPython's `faulthandler._sigsegv()`).
            unsafe { libc::raise(libc::SIGSEGV) };
            unreachable!("SIGSEGV returned")
        }
    }
}

/// Encodes as its fault; decoding it strikes (CPython's `ErrorAtUnpickle` & co).
#[derive(Debug)]
struct BadDecode(Fault);

impl Serialize for BadDecode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> Deserialize<'de> for BadDecode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let fault = Fault::deserialize(d)?;
        Err(serde::de::Error::custom(strike(fault)))
    }
}

/// Encoding it strikes (CPython's `ErrorAtPickle` & co); decodes as its fault.
#[derive(Debug)]
struct BadEncode(Fault);

impl Serialize for BadEncode {
    fn serialize<S: Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom(strike(self.0)))
    }
}

impl<'de> Deserialize<'de> for BadEncode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Fault::deserialize(d).map(BadEncode)
    }
}

fn add_one(x: u64) -> u64 {
    x + 1
}

fn take_bad_decode(_: BadDecode) {}

fn take_bad_encode(_: BadEncode) {}

fn return_bad_encode(f: Fault) -> BadEncode {
    BadEncode(f)
}

fn return_bad_decode(f: Fault) -> BadDecode {
    BadDecode(f)
}

fn crash(_: ()) {
    strike(Fault::Crash);
}

fn exit(_: ()) {
    strike(Fault::Exit);
}

fn crash_with_data(data: Vec<u8>) -> usize {
    strike(Fault::Crash);
    data.len()
}

/// One worker, quiet panics: the tests look at how each fault resolves a handle.
fn pool() -> ProcessPoolExecutor {
    ProcessPoolExecutor::builder()
        .max_workers(1)
        .env("RUST_BACKTRACE", "0")
        .build()
        .unwrap()
}

/// Joins `h`, failing the test (rather than hanging it) if it never resolves.
fn resolve<T: std::fmt::Debug>(h: concur::JoinHandle<T>) -> Result<T, TaskError> {
    assert!(
        h.wait_timeout(HANG),
        "the handle never resolved: a deadlock"
    );
    h.join()
}

/// The pool still serves, on a worker of its own.
fn assert_serves(pool: &ProcessPoolExecutor) {
    assert_eq!(resolve(pool.submit(add_one, 41)), Ok(42));
}

fn serialization(r: Result<impl std::fmt::Debug, TaskError>) -> String {
    match r {
        Err(TaskError::Serialization(why)) => why,
        other => panic!("expected a serialization error, got {other:?}"),
    }
}

fn panicked(r: Result<impl std::fmt::Debug, TaskError>) -> String {
    match r {
        Err(TaskError::Panicked(why)) => why.to_string(),
        other => panic!("expected a panic, got {other:?}"),
    }
}

#[test]
fn an_argument_that_refuses_to_encode_fails_at_submit_and_the_pool_serves() {
    // test_deadlock.py ExecutorDeadlockTest.test_error_at_task_pickle
    let pool = pool();
    let why = serialization(resolve(
        pool.submit(take_bad_encode, BadEncode(Fault::Error)),
    ));
    assert!(why.contains("refused on purpose"), "{why}");
    assert_eq!(pool.stats().spawned, 0, "nothing was sent");
    assert_serves(&pool);
}

#[test]
fn an_argument_that_refuses_to_decode_in_the_worker_fails_only_its_task() {
    // test_deadlock.py ExecutorDeadlockTest.test_error_at_task_unpickle
    let pool = pool();
    let why = serialization(resolve(
        pool.submit(take_bad_decode, BadDecode(Fault::Error)),
    ));
    assert!(
        why.contains("in the worker") && why.contains("BadDecode"),
        "{why}"
    );
    assert_serves(&pool);
    assert_eq!(pool.stats().died, 0);
}

#[test]
fn an_argument_whose_decode_panics_in_the_worker_fails_only_its_task() {
    // test_deadlock.py ExecutorDeadlockTest.test_error_at_task_unpickle (a raise, not an error value)
    let pool = pool();
    let why = panicked(resolve(
        pool.submit(take_bad_decode, BadDecode(Fault::Panic)),
    ));
    assert!(why.contains("hostile serde impl"), "{why}");
    assert_serves(&pool);
    assert_eq!(pool.stats().died, 0);
}

#[test]
fn an_argument_whose_decode_exits_the_worker_fails_only_its_task() {
    // test_deadlock.py ExecutorDeadlockTest.test_exit_at_task_unpickle
    let pool = pool();
    assert_eq!(
        resolve(pool.submit(take_bad_decode, BadDecode(Fault::Exit))),
        Err(TaskError::WorkerDied(WorkerExit::Code(7)))
    );
    assert_serves(&pool);
}

#[test]
fn an_argument_whose_decode_crashes_the_worker_fails_only_its_task() {
    // test_deadlock.py ExecutorDeadlockTest.test_crash_at_task_unpickle
    let pool = pool();
    assert_eq!(
        resolve(pool.submit(take_bad_decode, BadDecode(Fault::Crash))),
        Err(TaskError::WorkerDied(WorkerExit::Signal(libc::SIGSEGV)))
    );
    assert_serves(&pool);
}

#[test]
fn a_crash_while_the_task_runs_fails_only_its_task() {
    // test_deadlock.py ExecutorDeadlockTest.test_crash_during_func_exec_on_worker
    let pool = pool();
    assert_eq!(
        resolve(pool.submit(crash, ())),
        Err(TaskError::WorkerDied(WorkerExit::Signal(libc::SIGSEGV)))
    );
    assert_serves(&pool);
}

#[test]
fn an_exit_while_the_task_runs_fails_only_its_task() {
    // test_deadlock.py ExecutorDeadlockTest.test_exit_during_func_exec_on_worker
    let pool = pool();
    assert_eq!(
        resolve(pool.submit(exit, ())),
        Err(TaskError::WorkerDied(WorkerExit::Code(7)))
    );
    assert_serves(&pool);
}

#[test]
fn with_break_on_worker_death_a_crash_in_a_task_breaks_the_pool_without_hanging() {
    // test_deadlock.py ExecutorDeadlockTest.test_crash_during_func_exec_on_worker (Python's
    // behaviour, opted into)
    let pool = ProcessPoolExecutor::builder()
        .max_workers(1)
        .break_on_worker_death(true)
        .build()
        .unwrap();
    assert_eq!(
        resolve(pool.submit(crash, ())),
        Err(TaskError::WorkerDied(WorkerExit::Signal(libc::SIGSEGV)))
    );
    let later = resolve(pool.submit(add_one, 1));
    assert!(matches!(later, Err(TaskError::Broken(_))), "{later:?}");
}

#[test]
fn a_result_whose_encode_crashes_the_worker_fails_only_its_task() {
    // test_deadlock.py ExecutorDeadlockTest.test_crash_during_result_pickle_on_worker
    let pool = pool();
    assert_eq!(
        resolve(pool.submit(return_bad_encode, Fault::Crash)).map(|_| ()),
        Err(TaskError::WorkerDied(WorkerExit::Signal(libc::SIGSEGV)))
    );
    assert_serves(&pool);
}

#[test]
fn a_result_whose_encode_exits_the_worker_fails_only_its_task() {
    // test_deadlock.py ExecutorDeadlockTest.test_exit_during_result_pickle_on_worker
    let pool = pool();
    assert_eq!(
        resolve(pool.submit(return_bad_encode, Fault::Exit)).map(|_| ()),
        Err(TaskError::WorkerDied(WorkerExit::Code(7)))
    );
    assert_serves(&pool);
}

#[test]
fn a_result_that_refuses_to_encode_in_the_worker_fails_only_its_task() {
    // test_deadlock.py ExecutorDeadlockTest.test_error_during_result_pickle_on_worker
    let pool = pool();
    let why = serialization(resolve(pool.submit(return_bad_encode, Fault::Error)));
    assert!(why.contains("refused on purpose"), "{why}");
    assert_serves(&pool);
    assert_eq!(pool.stats().died, 0);
}

#[test]
fn a_result_whose_encode_panics_in_the_worker_fails_only_its_task() {
    // test_deadlock.py ExecutorDeadlockTest.test_error_during_result_pickle_on_worker (a raise)
    let pool = pool();
    let why = panicked(resolve(pool.submit(return_bad_encode, Fault::Panic)));
    assert!(why.contains("hostile serde impl"), "{why}");
    assert_serves(&pool);
    assert_eq!(pool.stats().died, 0);
}

#[test]
fn a_result_that_refuses_to_decode_in_the_parent_fails_only_its_task() {
    // test_deadlock.py ExecutorDeadlockTest.test_error_during_result_unpickle_in_result_handler
    let pool = pool();
    let why = serialization(resolve(pool.submit(return_bad_decode, Fault::Error)));
    assert!(
        why.contains("result could not be decoded") && why.contains("BadDecode"),
        "{why}"
    );
    assert_serves(&pool);
}

#[test]
#[ignore = "known gap: postcard drops a Deserialize impl's own message (SerdeDeCustom), so a \
            decode refusal reads \"Serde Deserialization Error\"; encode keeps it (reason.rs)"]
fn a_decode_refusal_keeps_the_impl_s_own_message_as_an_encode_refusal_does() {
    // test_deadlock.py ExecutorDeadlockTest.test_error_at_task_unpickle: Python's error names its cause
    let pool = pool();
    let why = serialization(resolve(
        pool.submit(take_bad_decode, BadDecode(Fault::Error)),
    ));
    assert!(why.contains("refused on purpose"), "{why}");
    let why = serialization(resolve(pool.submit(return_bad_decode, Fault::Error)));
    assert!(why.contains("refused on purpose"), "{why}");
}

#[test]
fn a_result_whose_decode_panics_in_the_parent_fails_only_its_task() {
    // test_deadlock.py ExecutorDeadlockTest.test_exit_during_result_unpickle_in_result_handler
    // (a panic on the pool's thread is the nearest Rust has to SystemExit in the result handler)
    let pool = pool();
    let why = panicked(resolve(pool.submit(return_bad_decode, Fault::Panic)));
    assert!(why.contains("hostile serde impl"), "{why}");
    assert_serves(&pool);
}

#[test]
fn shutdown_with_a_crashing_task_in_flight_returns() {
    // test_deadlock.py ExecutorDeadlockTest.test_shutdown_deadlock
    for python_mode in [false, true] {
        let pool = ProcessPoolExecutor::builder()
            .max_workers(1)
            .break_on_worker_death(python_mode)
            .build()
            .unwrap();
        let h = pool.submit(crash, ());
        pool.shutdown();
        assert!(
            h.is_finished(),
            "shutdown returned before the task resolved"
        );
        assert_eq!(
            h.join(),
            Err(TaskError::WorkerDied(WorkerExit::Signal(libc::SIGSEGV)))
        );
        assert!(pool.worker_pids().is_empty());
    }
}

#[test]
fn shutdown_nowait_after_an_argument_that_refuses_to_encode_resolves_it() {
    // test_deadlock.py ExecutorDeadlockTest.test_shutdown_deadlock_pickle
    let pool = pool();
    let ran = pool.submit(add_one, 1);
    let bad = pool.submit(take_bad_encode, BadEncode(Fault::Error));
    pool.shutdown_nowait();
    serialization(resolve(bad));
    assert_eq!(resolve(ran), Ok(2));
    pool.shutdown();
    assert!(pool.worker_pids().is_empty());
}

#[test]
fn crashes_with_big_arguments_in_flight_fail_their_tasks_without_hanging() {
    // test_deadlock.py ExecutorDeadlockTest.test_crash_big_data (gh-94777)
    let pool = ProcessPoolExecutor::builder()
        .max_workers(2)
        .env("RUST_BACKTRACE", "0")
        .build()
        .unwrap();
    let data = vec![7u8; 4 << 20];
    let hs: Vec<_> = (0..6)
        .map(|_| pool.submit(crash_with_data, data.clone()))
        .collect();
    for h in hs {
        assert_eq!(
            resolve(h),
            Err(TaskError::WorkerDied(WorkerExit::Signal(libc::SIGSEGV)))
        );
    }
    // As CPython does it, through map: every item fails, and the map ends.
    let outcomes: Vec<_> = pool
        .map(crash_with_data, vec![data; 10])
        .timeout(HANG)
        .collect();
    assert_eq!(outcomes.len(), 10);
    for r in outcomes {
        assert!(
            matches!(r, Err(TaskError::WorkerDied(_))),
            "a crashed item fails with its worker: {r:?}"
        );
    }
    assert_serves(&pool);
}

/// Writes this worker's pid to the FIFO `started` (and keeps it open), then waits for a
/// byte on the FIFO `gate`; returns the pid.
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
fn a_worker_killed_while_the_pool_is_busy_fails_only_its_task() {
    // test_process_pool.py ProcessPoolExecutorTest.test_killed_child, with work queued behind
    let dir = std::env::temp_dir().join(format!("concur-busy-kill-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (started, gate) = (dir.join("started"), dir.join("gate"));
    common::make_fifo(&started);
    common::make_fifo(&gate);
    let arg = (
        started.to_str().unwrap().to_owned(),
        gate.to_str().unwrap().to_owned(),
    );
    let pool = ProcessPoolExecutor::builder()
        .max_workers(2)
        .tasks_in_flight_per_worker(1)
        .build()
        .unwrap();
    let hs: Vec<_> = (0..6).map(|_| pool.submit(gated, arg.clone())).collect();
    // Both workers are inside a task: each wrote its pid.
    let mut reader = File::open(&started).unwrap();
    let mut pid = |_| {
        let mut b = [0u8; 4];
        reader.read_exact(&mut b).unwrap();
        u32::from_le_bytes(b)
    };
    let busy = [pid(0), pid(1)];
    assert_ne!(busy[0], busy[1]);
    let mut alive = pool.worker_pids();
    alive.sort_unstable();
    let mut expect = busy.to_vec();
    expect.sort_unstable();
    assert_eq!(alive, expect, "the tasks run on the pool's workers");
    // SAFETY: kill(2) on a pid of our own child; no memory is involved.
    assert_eq!(unsafe { libc::kill(busy[0] as i32, libc::SIGKILL) }, 0);
    // Release the others; keep the write end open until every task has read its byte.
    let mut release = std::fs::OpenOptions::new().write(true).open(&gate).unwrap();
    release.write_all(&[1; 6]).unwrap();
    let outcomes: Vec<_> = hs.into_iter().map(resolve).collect();
    drop((release, reader));
    std::fs::remove_dir_all(dir).unwrap();
    let died: Vec<_> = outcomes.iter().filter(|r| r.is_err()).collect();
    assert_eq!(
        died,
        [&Err(TaskError::WorkerDied(WorkerExit::Signal(
            libc::SIGKILL
        )))],
        "{outcomes:?}"
    );
    assert!(outcomes
        .iter()
        .all(|r| r.as_ref().map_or(true, |p| *p != busy[0])));
    assert!(!pool.worker_pids().contains(&busy[0]));
}

fn init_exits() -> Result<(), String> {
    std::process::exit(5)
}

fn init_crashes() -> Result<(), String> {
    strike(Fault::Crash);
    Ok(())
}

#[test]
fn an_initializer_that_exits_or_crashes_breaks_the_pool_with_the_reason() {
    // test_deadlock.py / test_init.py: an exit in the initializer (FailingInitializerMixin)
    for init in [init_exits as fn() -> Result<(), String>, init_crashes] {
        let pool = ProcessPoolExecutor::builder()
            .max_workers(2)
            .initializer(init)
            .build()
            .unwrap();
        let hs: Vec<_> = (0..4).map(|i| pool.submit(add_one, i)).collect();
        for h in hs {
            let r = resolve(h);
            let why = match &r {
                Err(TaskError::Broken(why)) => why,
                other => panic!("expected the pool broken by its initializer, got {other:?}"),
            };
            assert!(why.starts_with("the initializer did not return"), "{why}");
        }
        let later = pool.submit(add_one, 1).join();
        assert!(matches!(later, Err(TaskError::Broken(_))), "{later:?}");
        assert!(
            pool.stats().spawned <= 2,
            "no worker respawned after the pool broke"
        );
        pool.shutdown();
        assert!(pool.worker_pids().is_empty());
    }
}

/// Descriptors of this process that are shared buffers.
fn shared_buffer_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|target| target.to_string_lossy().contains("concur-shared-buffer"))
        .count()
}

fn take_buffer_and_bad_encode(_: (concur::SharedBuffer, BadEncode)) {}

fn return_bad_decode_then_buffer(f: Fault) -> (BadDecode, concur::SharedBuffer) {
    (BadDecode(f), concur::SharedBuffer::new(64).unwrap())
}

#[test]
fn a_panicking_serde_impl_beside_a_shared_buffer_leaks_no_descriptor_and_no_stale_state() {
    // test_deadlock.py ExecutorDeadlockTest.test_error_at_task_pickle / test_error_during_result_unpickle_in_result_handler
    // (a raise beside data that crosses out of band)
    let pool = pool();
    // Encoding in the caller: the panic is the caller's own, it unwinds out of `submit`.
    let buf = concur::SharedBuffer::new(64).unwrap();
    let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        pool.submit(take_buffer_and_bad_encode, (buf, BadEncode(Fault::Panic)))
    }));
    assert!(
        unwound.is_err(),
        "a panicking Serialize unwinds out of submit"
    );
    assert_eq!(
        shared_buffer_fds(),
        0,
        "the copy of the buffer's descriptor leaked"
    );
    // This thread is not left encoding for a pool: outside one, a buffer refuses to serialize.
    let outside = concur::SharedBuffer::new(64).unwrap();
    assert!(
        postcard::to_allocvec(&outside).is_err(),
        "a stale table took the buffer"
    );
    drop(outside);
    assert_serves(&pool);
    // Decoding on the pool's thread: the panic fails the task; the buffer sent with it is closed.
    let why = panicked(resolve(
        pool.submit(return_bad_decode_then_buffer, Fault::Panic),
    ));
    assert!(why.contains("hostile serde impl"), "{why}");
    assert_serves(&pool);
    assert_eq!(
        shared_buffer_fds(),
        0,
        "the descriptor that came with the result leaked"
    );
}
