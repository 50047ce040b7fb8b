//! A million tasks through the thread pool, from several submitters at once, with
//! cancellations and panics mixed in: every outcome arrives and every counter adds up.

use std::sync::Arc;

use concur::{TaskError, ThreadPoolExecutor};

#[test]
fn a_million_tasks_from_four_submitters_all_resolve() {
    const PER_SUBMITTER: u64 = 250_000;
    let pool = Arc::new(ThreadPoolExecutor::new(4));
    let submitters: Vec<_> = (0..4u64)
        .map(|t| {
            let pool = Arc::clone(&pool);
            std::thread::spawn(move || {
                let (mut sum, mut cancelled, mut panicked, mut missing) = (0u64, 0u64, 0u64, 0u64);
                let mut batch = Vec::with_capacity(10_000);
                for i in 0..PER_SUBMITTER {
                    let n = t * PER_SUBMITTER + i;
                    let h = pool.submit(move || {
                        if n % 100_000 == 99_999 {
                            panic!("planned failure {n}");
                        }
                        n
                    });
                    if n % 1_000 == 500 && h.cancel() {
                        cancelled += 1;
                    }
                    batch.push((n, h));
                    if batch.len() == 10_000 {
                        for (n, h) in batch.drain(..) {
                            match h.join() {
                                Ok(v) => {
                                    assert_eq!(v, n);
                                    sum += v;
                                }
                                Err(TaskError::Cancelled) => {
                                    assert_eq!(n % 1_000, 500, "only chosen tasks are cancelled");
                                    missing += n;
                                }
                                Err(TaskError::Panicked(m)) => {
                                    assert_eq!(m, format!("planned failure {n}"));
                                    panicked += 1;
                                    missing += n;
                                }
                                Err(e) => panic!("task {n}: {e}"),
                            }
                        }
                    }
                }
                assert!(batch.is_empty());
                (sum, cancelled, panicked, missing)
            })
        })
        .collect();
    let (mut sum, mut cancelled, mut panicked, mut missing) = (0, 0, 0, 0);
    for s in submitters {
        let (s, c, p, m) = s.join().unwrap();
        sum += s;
        cancelled += c;
        panicked += p;
        missing += m;
    }
    pool.shutdown();
    let stats = pool.stats();
    assert_eq!(panicked, 10);
    assert_eq!(stats.panicked as u64, panicked);
    assert_eq!(
        stats.completed as u64 + cancelled + panicked,
        4 * PER_SUBMITTER
    );
    assert_eq!((stats.queued, stats.running, stats.workers), (0, 0, 0));
    // Every value that was not cancelled or a planned failure arrived exactly once.
    let total: u64 = (0..4 * PER_SUBMITTER).sum();
    assert_eq!(sum + missing, total);
}

#[test]
fn a_million_mapped_items_arrive_in_order() {
    let pool = ThreadPoolExecutor::new(3);
    let mut expected = 0u64;
    for r in pool.map(|x: u64| x.wrapping_mul(2654435761), 0..1_000_000) {
        assert_eq!(r, Ok(expected.wrapping_mul(2654435761)));
        expected += 1;
    }
    assert_eq!(expected, 1_000_000);
}
