//! Soak: many tasks through each mechanism, in batches, with random panics in tasks and in
//! `on_done` callbacks, while the process's resident memory and open descriptors are
//! sampled after every batch. Every outcome must arrive (no callback lost to a panicking
//! neighbour), and after the warm-up batches memory and descriptors must stay flat.
//!
//! Fast mode (CI): 400,000 thread-pool tasks, 400,000 event-loop tasks, 40,000
//! process-pool tasks. `CONCUR_SOAK=1` runs 5,000,000 / 5,000,000 / 1,000,000 and prints
//! the samples (`-- --nocapture`). The three run one after another in one test, so that
//! the samples of one are not disturbed by another.

mod common;
use common::open_fds;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use concur::{aio, ProcessPoolExecutor, TaskError, ThreadPoolExecutor};

/// Resident memory of this process, in KiB.
fn rss_kib() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4
}

/// Samples taken after each batch; checks that they stay flat once warm.
struct Samples {
    name: &'static str,
    rss: Vec<u64>,
    fds: Vec<usize>,
}

impl Samples {
    fn new(name: &'static str) -> Self {
        Samples {
            name,
            rss: Vec::new(),
            fds: Vec::new(),
        }
    }

    fn take(&mut self) {
        self.rss.push(rss_kib());
        self.fds.push(open_fds());
    }

    /// After `warm` batches, resident memory may wander by allocator noise (`slack_kib`)
    /// but not grow with the number of tasks; descriptors must not change at all.
    fn assert_flat(&self, warm: usize, slack_kib: u64) {
        let rss = &self.rss[warm..];
        let fds = &self.fds[warm..];
        let (lo, hi) = (rss.iter().min().unwrap(), rss.iter().max().unwrap());
        if std::env::var_os("CONCUR_SOAK").is_some() {
            println!(
                "{}: {} batches; RSS KiB after warm-up min {lo} max {hi} (first {}, last {}); fds {:?}",
                self.name,
                self.rss.len(),
                rss[0],
                rss[rss.len() - 1],
                fds.iter().min()..=fds.iter().max()
            );
            let every = (self.rss.len() / 12).max(1);
            let trace: Vec<_> = self.rss.iter().step_by(every).collect();
            println!("  RSS KiB every {every} batches: {trace:?}");
        }
        assert!(
            hi - lo <= slack_kib,
            "{}: resident memory grew from {lo} KiB to {hi} KiB over the batches: {:?}",
            self.name,
            self.rss
        );
        assert!(
            fds.iter().all(|&n| n == fds[0]),
            "{}: open descriptors changed over the batches: {:?}",
            self.name,
            self.fds
        );
    }
}

/// A repeatable coin: `true` once in `n` for task `i`.
fn one_in(i: u64, n: u64) -> bool {
    i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32 & 0xffff < 0x10000 / n
}

/// The outcomes of tasks that return `i * 2` or panic with "task {i} fails".
#[derive(Default)]
struct Tally {
    values: u64,
    panics: u64,
}

impl Tally {
    fn count(&mut self, i: u64, outcome: Result<u64, TaskError>) {
        match outcome {
            Ok(v) => {
                assert_eq!(v, i * 2);
                self.values += 1;
            }
            Err(TaskError::Panicked(m)) => {
                assert_eq!(m, format!("task {i} fails"));
                self.panics += 1;
            }
            Err(other) => panic!("task {i}: {other:?}"),
        }
    }
}

fn thread_pool(batches: u64, per_batch: u64) {
    let pool = ThreadPoolExecutor::new(4);
    let mut samples = Samples::new("thread pool");
    let callbacks = Arc::new(AtomicU64::new(0));
    let mut tally = Tally::default();
    for b in 0..batches {
        let handles: Vec<_> = (b * per_batch..(b + 1) * per_batch)
            .map(|i| {
                let h = pool.submit(move || {
                    if one_in(i, 100) {
                        panic!("task {i} fails");
                    }
                    i * 2
                });
                // A callback that panics now and then, and one after it that must still run.
                h.on_done(move || {
                    if one_in(i ^ 0x55, 50) {
                        panic!("callback of {i} fails");
                    }
                });
                let counted = callbacks.clone();
                h.on_done(move || {
                    counted.fetch_add(1, Ordering::Relaxed);
                });
                (i, h)
            })
            .collect();
        for (i, h) in handles {
            tally.count(i, h.join());
        }
        samples.take();
    }
    drop(pool); // waits for the workers, and so for every callback
    assert_eq!(tally.values + tally.panics, batches * per_batch);
    assert_eq!(callbacks.load(Ordering::Relaxed), batches * per_batch);
    samples.assert_flat(2, 16 * 1024);
}

fn event_loop(batches: u64, per_batch: u64) {
    let mut samples = Samples::new("event loop");
    aio::run(async {
        let mut tally = Tally::default();
        for b in 0..batches {
            let tasks: Vec<_> = (b * per_batch..(b + 1) * per_batch)
                .map(|i| {
                    (
                        i,
                        aio::spawn(async move {
                            if one_in(i, 3) {
                                aio::yield_now().await;
                            }
                            if one_in(i, 100) {
                                panic!("task {i} fails");
                            }
                            i * 2
                        }),
                    )
                })
                .collect();
            for (i, t) in tasks {
                tally.count(i, t.await);
            }
            samples.take();
        }
        assert_eq!(tally.values + tally.panics, batches * per_batch);
    });
    samples.assert_flat(2, 16 * 1024);
}

fn checked(i: u64) -> u64 {
    if i % 1000 == 999 {
        panic!("task {i} fails");
    }
    i.wrapping_mul(3)
}

fn process_pool(batches: u64, per_batch: u64) {
    // Its tasks panic on purpose: their workers say so in one line, not a backtrace each
    // (the environment may set RUST_BACKTRACE), so a real failure stands out.
    let pool = ProcessPoolExecutor::builder()
        .max_workers(2)
        .env("RUST_BACKTRACE", "0")
        .build()
        .unwrap();
    let mut samples = Samples::new("process pool");
    let (mut values, mut panics) = (0u64, 0u64);
    for b in 0..batches {
        let handles: Vec<_> = (b * per_batch..(b + 1) * per_batch)
            .map(|i| (i, pool.submit(checked, i)))
            .collect();
        for (i, h) in handles {
            match h.join() {
                Ok(v) => {
                    assert_eq!(v, i * 3);
                    values += 1;
                }
                Err(TaskError::Panicked(m)) => {
                    assert!(m.contains(&format!("task {i} fails")), "{m}");
                    panics += 1;
                }
                Err(other) => panic!("task {i}: {other:?}"),
            }
        }
        samples.take();
    }
    assert_eq!(values + panics, batches * per_batch);
    assert_eq!(panics, batches * per_batch / 1000);
    samples.assert_flat(2, 16 * 1024);
}

#[test]
fn memory_and_descriptors_stay_flat_while_millions_of_tasks_pass() {
    // Thousands of panics are expected: keep their messages off the output.
    std::panic::set_hook(Box::new(|_| {}));
    let soak = std::env::var_os("CONCUR_SOAK").is_some();
    let k = if soak { 25 } else { 2 };
    // Each mechanism leaves nothing behind once it is dropped: no thread, no descriptor.
    let before = (common::threads(), open_fds());
    thread_pool(10 * k, 20_000);
    assert_eq!(
        common::settles(before, || (common::threads(), open_fds())),
        before,
        "after the thread pool"
    );
    event_loop(10 * k, 20_000);
    assert_eq!(
        common::settles(before, || (common::threads(), open_fds())),
        before,
        "after the event loop"
    );
    process_pool(
        if soak { 150 } else { 4 },
        if soak { 20_000 } else { 10_000 },
    );
    assert_eq!(
        common::settles(before, || (common::threads(), open_fds())),
        before,
        "after the process pool"
    );
    let _ = std::panic::take_hook();
}
