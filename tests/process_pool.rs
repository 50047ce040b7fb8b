//! ProcessPoolExecutor's basics: a task runs in another process and its result comes back.
//! (Faults, controls, data and leaks have their own files: `process_*.rs`.) Workers are this
//! test binary, started again (the hook before `main` makes them workers).

use concur::{ProcessPoolExecutor, SharedBuffer};

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
