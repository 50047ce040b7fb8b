//! ProcessPoolExecutor by behaviour: results, errors, isolation, control. Workers are this
//! test binary, started again (the hook before `main` makes them workers).

use std::time::Duration;

use concur::{ProcessPoolExecutor, SharedBuffer, TaskError, WorkerExit};

fn add_one(x: u64) -> u64 {
    x + 1
}

fn pid(_: ()) -> u32 {
    std::process::id()
}

#[test]
fn a_task_runs_in_another_process() {
    let pool = ProcessPoolExecutor::new(2).unwrap();
    assert_eq!(pool.submit(add_one, 41).join(), Ok(42));
    let worker = pool.submit(pid, ()).join().unwrap();
    assert_ne!(worker, std::process::id());
    assert!(pool.worker_pids().contains(&worker));
}

#[test]
fn many_tasks_all_come_back() {
    let pool = ProcessPoolExecutor::new(2).unwrap();
    let handles: Vec<_> = (0..2000u64).map(|i| pool.submit(add_one, i)).collect();
    for (i, h) in handles.into_iter().enumerate() {
        assert_eq!(h.join(), Ok(i as u64 + 1));
    }
}

#[test]
fn map_keeps_input_order() {
    let pool = ProcessPoolExecutor::new(2).unwrap();
    let out: Vec<u64> = pool
        .map(add_one, 0..100_000u64)
        .map(Result::unwrap)
        .collect();
    assert_eq!(out, (1..=100_000).collect::<Vec<_>>());
}

#[test]
fn a_panic_becomes_panicked_with_its_message() {
    fn boom(x: u32) -> u32 {
        panic!("bad input {x}")
    }
    let pool = ProcessPoolExecutor::new(1).unwrap();
    assert_eq!(
        pool.submit(boom, 7).join(),
        Err(TaskError::Panicked("bad input 7".into()))
    );
    // The worker survives a panic.
    assert_eq!(pool.submit(add_one, 1).join(), Ok(2));
    assert_eq!(pool.stats().spawned, 1);
}

#[test]
fn exit_fails_only_its_task() {
    fn exit3(_: ()) {
        std::process::exit(3)
    }
    let pool = ProcessPoolExecutor::new(1).unwrap();
    assert_eq!(
        pool.submit(exit3, ()).join(),
        Err(TaskError::WorkerDied(WorkerExit::Code(3)))
    );
    assert_eq!(pool.submit(add_one, 1).join(), Ok(2));
}

#[test]
fn a_timeout_kills_the_worker() {
    fn forever(_: ()) {
        loop {
            std::thread::park();
        }
    }
    let pool = ProcessPoolExecutor::builder()
        .max_workers(1)
        .task_timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let h = pool.submit(forever, ());
    assert_eq!(h.join(), Err(TaskError::TimedOut));
    assert_eq!(pool.submit(add_one, 1).join(), Ok(2));
}

#[test]
fn a_shared_buffer_goes_and_comes_back() {
    fn fill(mut b: SharedBuffer) -> SharedBuffer {
        b.iter_mut().for_each(|x| *x = 9);
        b
    }
    let pool = ProcessPoolExecutor::new(1).unwrap();
    let b = SharedBuffer::new(1 << 20).unwrap();
    let b = pool.submit(fill, b).join().unwrap();
    assert!(b.iter().all(|&x| x == 9));
}
