//! The cheat sheet's ProcessPool: `submit` runs the task in a new process; processes are
//! isolated; data is serialized; great for heavy computation and large data.
//!
//! `cargo run --release --example process_pool`

use std::time::Instant;

use concur::{ProcessPoolExecutor, SharedBuffer};

/// Heavy computation: count the primes below `n` by trial division.
fn count_primes(n: u64) -> usize {
    (2..n)
        .filter(|&k| (2..).take_while(|d| d * d <= k).all(|d| k % d != 0))
        .count()
}

/// Large data, done right: the worker normalizes the array in place, in shared memory.
fn normalize(mut data: SharedBuffer) -> SharedBuffer {
    let xs = data.as_mut_slice_of::<f64>();
    let max = xs.iter().cloned().fold(f64::MIN, f64::max);
    xs.iter_mut().for_each(|x| *x /= max);
    data
}

fn main() {
    // No setup line: workers are this program started again, and `main` never runs there.
    let pool = ProcessPoolExecutor::default();
    println!("{} worker processes at most", pool.max_workers());

    // `submit` starts the task in another process at once; the argument is serialized.
    let t = Instant::now();
    let handles: Vec<_> = (0..8)
        .map(|i| pool.submit(count_primes, 200_000 + i))
        .collect();
    let counts: Vec<usize> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    println!(
        "8 prime counts in parallel processes: {counts:?} in {:?}",
        t.elapsed()
    );

    // A panic in a worker is the task's error, not the program's end.
    let err = pool
        .submit(
            |s: String| s.parse::<u32>().expect("a number"),
            "seven".to_owned(),
        )
        .join()
        .unwrap_err();
    println!("a task that panicked: {err}");

    // 128 MiB of f64 through a worker without serializing it: only a handle travels.
    let mut data = SharedBuffer::new(128 << 20).unwrap();
    data.as_mut_slice_of::<f64>()
        .iter_mut()
        .enumerate()
        .for_each(|(i, x)| *x = i as f64);
    let t = Instant::now();
    let data = pool.submit(normalize, data).join().unwrap();
    let xs = data.as_slice_of::<f64>();
    println!(
        "normalized {} values in a worker in {:?}; last = {}",
        xs.len(),
        t.elapsed(),
        xs[xs.len() - 1]
    );
}
