//! The cheat sheet's ThreadPool: "`executor.submit()` starts the task right away (no
//! `await` needed)." The handle is only for the result; `as_completed` yields the results
//! in the order the tasks finish.
//!
//! `cargo run --release --example submit_starts_at_once`

use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use concur::{as_completed, ThreadPoolExecutor};

fn main() {
    let pool = ThreadPoolExecutor::new(4);
    let t0 = Instant::now();
    let (started, starts) = mpsc::channel();

    // Four tasks; the first submitted works longest, so it finishes last.
    let handles: Vec<_> = (0..4u64)
        .map(|i| {
            let started = started.clone();
            pool.submit(move || {
                started.send((i, t0.elapsed())).unwrap();
                thread::sleep(Duration::from_millis(100 * (4 - i)));
                format!("page {i}")
            })
        })
        .collect();

    // Nobody has joined anything, yet every task is running.
    for _ in 0..4 {
        let (i, at) = starts.recv().unwrap();
        println!("task {i} started at {at:>10.1?}, before any join");
    }
    println!("pool.stats() before any join: {:?}", pool.stats());

    // A fifth task, its handle dropped at once: it is detached, not cancelled, and runs
    // as soon as one of the 4 workers is free.
    drop(pool.submit(move || started.send((4, t0.elapsed())).unwrap()));
    let (i, at) = starts.recv().unwrap();
    println!("task {i} started at {at:>10.1?}, its handle long dropped");

    // The results, as they come: the reverse of the submission order here.
    for (index, result) in as_completed(handles) {
        println!(
            "as_completed: task {index} -> {:?} at {:?}",
            result.unwrap(),
            t0.elapsed()
        );
    }
}
