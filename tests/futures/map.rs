//! `map(..).timeout(d)` on both pools: concurrent.futures' `Executor.map(timeout=)`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use concur::{ProcessPoolExecutor, TaskError, ThreadPoolExecutor};

#[test]
fn thread_map_yields_timed_out_for_the_item_past_the_deadline_and_cancels_the_rest() {
    // CPython Lib/test/test_concurrent_futures/executor.py ExecutorTest.test_map_timeout
    let pool = ThreadPoolExecutor::new(1);
    let (release, gate) = mpsc::channel::<()>();
    let gate = Mutex::new(gate);
    let ran = Arc::new(AtomicUsize::new(0));
    let counted = ran.clone();
    let mut it = pool
        .map(
            move |x: u32| {
                counted.fetch_add(1, Ordering::SeqCst);
                if x == 1 {
                    // Stands for work that outlasts the deadline: it ends once the map has.
                    let _ = gate.lock().unwrap().recv();
                }
                x
            },
            [1, 2, 3],
        )
        .timeout(Duration::from_millis(50));
    assert_eq!(it.next(), Some(Err(TaskError::TimedOut)));
    assert_eq!(it.next(), None, "the iteration ends at the timeout");
    drop(it);
    drop(release);
    drop(pool); // waits for item 1
    assert_eq!(
        ran.load(Ordering::SeqCst),
        1,
        "items 2 and 3 were cancelled, never run"
    );
}

fn hang_on_one(x: u64) -> u64 {
    if x == 1 {
        loop {
            std::thread::park(); // stands for work that hangs
        }
    }
    x
}

#[test]
fn process_map_yields_timed_out_and_cancels_the_chunks_in_flight() {
    // CPython Lib/test/test_concurrent_futures/executor.py ExecutorTest.test_map_timeout
    let pool = ProcessPoolExecutor::builder()
        .max_workers(1)
        .chunk_size(1)
        .build()
        .unwrap();
    let mut it = pool
        .map(hang_on_one, [1, 2, 3])
        .timeout(Duration::from_millis(100));
    assert_eq!(it.next(), Some(Err(TaskError::TimedOut)));
    assert_eq!(it.next(), None);
    drop(it);
    // The hanging item's worker was killed with its cancel: the pool serves again.
    assert_eq!(pool.submit(hang_on_one, 7).join(), Ok(7));
}

#[test]
fn a_map_whose_items_all_finish_in_time_is_not_cut_short() {
    let pool = ThreadPoolExecutor::new(2);
    let out: Vec<_> = pool
        .map(|x: u32| x * 2, 0..100)
        .timeout(Duration::from_secs(3600))
        .collect();
    assert_eq!(out, (0..100).map(|x| Ok(x * 2)).collect::<Vec<_>>());
    let procs = ProcessPoolExecutor::new(2).unwrap();
    let out: Vec<_> = procs
        .map(hang_on_one, [0, 2, 3])
        .timeout(Duration::from_secs(3600))
        .collect();
    assert_eq!(out, vec![Ok(0), Ok(2), Ok(3)]);
}

/// An input that counts the items taken from it.
fn counted<I: Iterator>(
    items: I,
    taken: &Arc<AtomicUsize>,
) -> impl Iterator<Item = I::Item> + use<I> {
    let taken = taken.clone();
    items.inspect(move |_| {
        taken.fetch_add(1, Ordering::SeqCst);
    })
}

// concur: the lopsided case of issue 15 (a big item at the head must not idle the workers).
#[test]
fn thread_map_grows_its_window_behind_an_unfinished_head_up_to_its_bound() {
    let pool = ThreadPoolExecutor::new(2);
    let cap = 1024 * pool.max_workers();
    let (release, gate) = mpsc::channel::<()>();
    let gate = Mutex::new(gate);
    let (report, finished) = mpsc::channel::<usize>();
    let report = Mutex::new(report);
    let done = Arc::new(AtomicUsize::new(0));
    let taken = Arc::new(AtomicUsize::new(0));
    let counter = done.clone();
    std::thread::scope(|s| {
        let consumer = s.spawn(|| {
            pool.map(
                move |x: usize| {
                    if x == 0 {
                        // The head: a big item, finished only when the test says so.
                        gate.lock().unwrap().recv().unwrap();
                    } else {
                        let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
                        report.lock().unwrap().send(n).unwrap();
                    }
                    x
                },
                counted(0..cap * 4, &taken),
            )
            .map(Result::unwrap)
            .take(cap + 10)
            .collect::<Vec<_>>()
        });
        // Every item of the grown window but the head runs while the head is unfinished:
        // with the fixed 2 x workers window only 3 could.
        for _ in 1..cap {
            let n = finished
                .recv_timeout(Duration::from_secs(120))
                .expect("the workers went idle behind the head");
            assert!(n < cap, "more items ran than the window holds");
        }
        assert_eq!(
            taken.load(Ordering::SeqCst),
            cap,
            "the window stops growing at 1024 x workers items"
        );
        release.send(()).unwrap();
        let out = consumer.join().unwrap();
        assert_eq!(
            out,
            (0..cap + 10).collect::<Vec<_>>(),
            "still in input order"
        );
    });
}

// concur: an even load never runs further ahead than the base window.
#[test]
fn thread_map_takes_two_per_worker_from_the_input_at_first() {
    // CPython Lib/test/test_concurrent_futures/executor.py ExecutorTest.test_map_buffersize_when_buffer_is_full (3.14; concur's default window, 2 x workers)
    let pool = ThreadPoolExecutor::new(3);
    let taken = Arc::new(AtomicUsize::new(0));
    let it = pool.map(|x: u32| x, counted(0..100, &taken));
    pool.shutdown(); // every task submitted has finished
    assert_eq!(taken.load(Ordering::SeqCst), 6);
    drop(it);
    let bounded = ThreadPoolExecutor::new(3);
    let mut ints = 0..4;
    let it = bounded.map_bounded(|x: u32| x, ints.by_ref(), 2);
    bounded.shutdown();
    drop(it);
    assert_eq!(ints.next(), Some(2), "only `in_flight` items were taken");
}

#[test]
fn thread_map_bounded_works_on_an_endless_input() {
    // CPython Lib/test/test_concurrent_futures/executor.py ExecutorTest.test_map_buffersize_on_infinite_iterable (3.14)
    let pool = ThreadPoolExecutor::new(2);
    let mut it = pool.map_bounded(|x: u64| x.to_string(), 0.., 2);
    assert_eq!(it.next(), Some(Ok("0".to_owned())));
    assert_eq!(it.next(), Some(Ok("1".to_owned())));
    assert_eq!(it.next(), Some(Ok("2".to_owned())));
    let mut unordered = pool.map_unordered(|x: u64| x, 0..);
    let mut seen: Vec<usize> = (0..5).map(|_| unordered.next().unwrap().0).collect();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 5, "each index once");
}

#[test]
fn thread_map_yields_an_exception_in_its_place() {
    // CPython Lib/test/test_concurrent_futures/executor.py ExecutorTest.test_map_exception
    let pool = ThreadPoolExecutor::new(2);
    // Python raises ZeroDivisionError in the third's place and goes on (3.14), as concur
    // yields the third's panic.
    let mut it = pool.map(
        |(a, b): (i32, i32)| (a / b, a % b),
        [(5, 2), (5, 3), (5, 0), (5, 5)],
    );
    assert_eq!(it.next(), Some(Ok((2, 1))));
    assert_eq!(it.next(), Some(Ok((1, 2))));
    assert!(
        it.next().unwrap().unwrap_err().is_panic(),
        "division by zero"
    );
    assert_eq!(it.next(), Some(Ok((1, 0))));
    assert_eq!(it.next(), None);
    assert_eq!(it.next(), None);
}

fn divmod((a, b): (i32, i32)) -> (i32, i32) {
    (a / b, a % b)
}

#[test]
fn process_map_yields_an_exception_in_its_place_within_a_chunk() {
    // CPython Lib/test/test_concurrent_futures/executor.py ExecutorTest.test_map_exception (the chunksize=3 half)
    let pool = ProcessPoolExecutor::builder()
        .max_workers(2)
        .chunk_size(3)
        .env("RUST_BACKTRACE", "0") // a panic on purpose: one line, not a backtrace
        .build()
        .unwrap();
    let mut it = pool.map(divmod, [(5, 2), (5, 0), (5, 3), (5, 5)]);
    assert_eq!(it.next(), Some(Ok((2, 1))));
    assert!(
        it.next().unwrap().unwrap_err().is_panic(),
        "division by zero"
    );
    assert_eq!(it.next(), Some(Ok((1, 2))));
    assert_eq!(it.next(), Some(Ok((1, 0))));
    assert_eq!(it.next(), None);
}

#[test]
fn a_timed_out_error_from_the_task_is_not_the_maps_timeout() {
    // CPython Lib/test/test_concurrent_futures/executor.py ExecutorTest.test_map_timeout_from_callable
    let pool = ThreadPoolExecutor::new(2);
    let timeout_on_one = |x: u32| {
        if x == 1 {
            Err(TaskError::TimedOut)
        } else {
            Ok(x)
        }
    };
    for timeout in [None, Some(Duration::from_secs(3600))] {
        let it = pool.map(timeout_on_one, 0..4);
        let it = match timeout {
            Some(d) => it.timeout(d),
            None => it,
        };
        let got: Vec<_> = it.collect();
        assert_eq!(
            got,
            [
                Ok(Ok(0)),
                Ok(Err(TaskError::TimedOut)),
                Ok(Ok(2)),
                Ok(Ok(3))
            ],
            "the task's own TimedOut is its value; the map goes on"
        );
    }
}

#[test]
fn map_bounded_keeps_input_order_whatever_the_bound() {
    // CPython Lib/test/test_concurrent_futures/executor.py ExecutorTest.test_map_buffersize (3.14) and test_map_buffersize_on_empty_iterable
    let pool = ThreadPoolExecutor::new(2);
    for bound in [1, 2, 4, 8] {
        let got: Vec<_> = pool
            .map_bounded(|x: u32| x.to_string(), 0..4, bound)
            .collect();
        assert_eq!(got, ["0", "1", "2", "3"].map(|s| Ok(s.to_owned())));
        assert_eq!(pool.map_bounded(|x: u32| x, [], bound).next(), None);
    }
}

#[test]
#[should_panic(expected = "at least one task in flight")]
fn map_bounded_refuses_a_zero_bound() {
    // CPython Lib/test/test_concurrent_futures/executor.py ExecutorTest.test_map_buffersize_value_validation (3.14)
    let pool = ThreadPoolExecutor::new(1);
    let _ = pool.map_bounded(|x: u32| x, [1], 0);
}

#[test]
fn shutting_down_with_a_process_map_in_flight_does_not_hang() {
    // CPython Lib/test/test_concurrent_futures/executor.py ExecutorTest.test_shutdown_race_issue12456
    let pool = ProcessPoolExecutor::new(2).unwrap();
    let it = pool.map(hang_on_one, vec![2u64; pool.max_workers() + 1]);
    pool.shutdown();
    let got: Vec<_> = it.collect();
    assert_eq!(
        got,
        vec![Ok(2); 3],
        "what was sent before the shutdown finished"
    );
}

#[test]
fn a_map_timeout_cancels_the_items_queued_behind_a_busy_pool() {
    // CPython Lib/test/test_concurrent_futures/test_thread_pool.py ThreadPoolExecutorTest.test_executor_map_current_future_cancel
    let pool = ThreadPoolExecutor::new(1);
    let log = Arc::new(Mutex::new(Vec::<String>::new()));
    let (stop, stopped) = mpsc::channel::<()>();
    let stopped = Arc::new(Mutex::new(stopped));
    let log_n_wait = {
        let (log, stopped) = (log.clone(), stopped.clone());
        move |ident: &'static str| {
            log.lock().unwrap().push(format!("{ident} started"));
            let _ = stopped.lock().unwrap().recv();
            log.lock().unwrap().push(format!("{ident} stopped"));
        }
    };
    let first = {
        let f = log_n_wait.clone();
        pool.submit(move || f("first"))
    };
    let mut it = pool
        .map(log_n_wait, ["second", "third"])
        .timeout(Duration::ZERO);
    assert_eq!(it.next(), Some(Err(TaskError::TimedOut)));
    drop(it);
    drop(stop);
    first.join().unwrap();
    drop(pool);
    assert_eq!(*log.lock().unwrap(), ["first started", "first stopped"]);
}

#[test]
fn thread_map_unordered_yields_what_finished_first_with_its_index() {
    let pool = ThreadPoolExecutor::new(2);
    let (release, gate) = mpsc::channel::<()>();
    let gate = Mutex::new(gate);
    let mut it = pool.map_unordered(
        move |x: u32| {
            if x == 0 {
                gate.lock().unwrap().recv().unwrap();
            }
            x * 10
        },
        0..20,
    );
    // Item 0 cannot finish yet: the 19 others come first, each with its index.
    let mut early: Vec<(usize, u32)> = (0..19)
        .map(|_| {
            let (i, r) = it.next().unwrap();
            (i, r.unwrap())
        })
        .collect();
    early.sort();
    assert_eq!(
        early,
        (1..20).map(|i| (i, i as u32 * 10)).collect::<Vec<_>>()
    );
    release.send(()).unwrap();
    assert_eq!(it.next(), Some((0, Ok(0))));
    assert_eq!(it.next(), None);
}

#[test]
fn thread_map_unordered_times_out_and_cancels_the_rest() {
    // CPython Lib/test/test_concurrent_futures/executor.py ExecutorTest.test_map_timeout (for map_unordered)
    let pool = ThreadPoolExecutor::new(1);
    let (release, gate) = mpsc::channel::<()>();
    let gate = Mutex::new(gate);
    let ran = Arc::new(AtomicUsize::new(0));
    let counted = ran.clone();
    let mut it = pool
        .map_unordered(
            move |x: u32| {
                counted.fetch_add(1, Ordering::SeqCst);
                if x == 0 {
                    let _ = gate.lock().unwrap().recv();
                }
                x
            },
            [0, 1, 2],
        )
        .timeout(Duration::from_millis(50));
    assert_eq!(it.next(), Some((0, Err(TaskError::TimedOut))));
    assert_eq!(it.next(), None);
    drop(it);
    drop(release);
    drop(pool);
    assert_eq!(ran.load(Ordering::SeqCst), 1, "items 1 and 2 never ran");
}

#[test]
fn dropping_a_thread_map_unordered_cancels_what_has_not_started() {
    let pool = ThreadPoolExecutor::new(1);
    let (release, gate) = mpsc::channel::<()>();
    let gate = Mutex::new(gate);
    let (started, running) = mpsc::channel::<()>();
    let ran = Arc::new(AtomicUsize::new(0));
    let counted = ran.clone();
    let it = pool.map_unordered(
        move |_: u32| {
            counted.fetch_add(1, Ordering::SeqCst);
            let _ = started.send(());
            let _ = gate.lock().unwrap().recv();
        },
        0..10,
    );
    running.recv().unwrap();
    drop(it);
    drop(release);
    drop(pool);
    assert_eq!(ran.load(Ordering::SeqCst), 1, "only the running one ran");
}

#[test]
fn thread_map_unordered_on_a_worker_of_its_own_pool_does_not_deadlock() {
    let pool = Arc::new(ThreadPoolExecutor::new(1));
    let inner = pool.clone();
    let total = pool
        .submit(move || {
            inner
                .map_unordered(|x: u32| x, 0..10)
                .map(|(_, r)| r.unwrap())
                .sum::<u32>()
        })
        .join();
    assert_eq!(total, Ok(45));
}

#[test]
fn process_map_unordered_yields_every_item_once_with_its_index() {
    let pool = ProcessPoolExecutor::new(2).unwrap();
    let mut got: Vec<(usize, u64)> = pool
        .map_unordered(hang_on_one, (2..200).chain([0]))
        .map(|(i, r)| (i, r.unwrap()))
        .collect();
    got.sort();
    let want: Vec<(usize, u64)> = (2..200).chain([0]).enumerate().collect();
    assert_eq!(got, want);
}

#[test]
fn process_map_unordered_times_out_yields_the_hung_index_and_cancels_its_chunk() {
    // CPython Lib/test/test_concurrent_futures/executor.py ExecutorTest.test_map_timeout (for map_unordered)
    let pool = ProcessPoolExecutor::builder()
        .max_workers(2)
        .chunk_size(1)
        .build()
        .unwrap();
    let mut it = pool
        .map_unordered(hang_on_one, [5, 1, 3])
        .timeout(Duration::from_millis(300));
    let mut quick: Vec<(usize, Result<u64, TaskError>)> =
        vec![it.next().unwrap(), it.next().unwrap()];
    quick.sort_by_key(|(i, _)| *i);
    assert_eq!(quick, vec![(0, Ok(5)), (2, Ok(3))]);
    assert_eq!(it.next(), Some((1, Err(TaskError::TimedOut))));
    assert_eq!(it.next(), None);
    drop(it);
    assert_eq!(
        pool.submit(hang_on_one, 9).join(),
        Ok(9),
        "the pool serves again"
    );
}

// concur: a consumer that comes back to find the workers run dry gets more work kept in flight.
#[test]
fn thread_map_keeps_more_in_flight_once_the_workers_ran_dry_waiting_for_the_consumer() {
    let pool = ThreadPoolExecutor::new(2);
    let base = 2 * pool.max_workers();
    let taken = Arc::new(AtomicUsize::new(0));
    let (report, finished) = mpsc::channel::<()>();
    let report = Mutex::new(report);
    let mut it = pool.map(
        move |x: usize| {
            report.lock().unwrap().send(()).unwrap();
            x
        },
        counted(0..100_000, &taken),
    );
    // The consumer is away until every task of the first window has run.
    for _ in 0..base {
        finished.recv().unwrap();
    }
    assert_eq!(
        taken.load(Ordering::SeqCst),
        base,
        "nothing more without the consumer"
    );
    assert_eq!(it.next(), Some(Ok(0)));
    assert!(
        // The first window (one of which may still be ending) plus enough to have twice
        // as many unfinished: without the doubling, one more item.
        taken.load(Ordering::SeqCst) >= base + 2 * base - 1,
        "twice the work kept unfinished from now on, not one more item ({} taken)",
        taken.load(Ordering::SeqCst)
    );
}

// concur: the same growth on the process pool, whose chunks land through their handles.
#[test]
fn process_map_grows_its_window_behind_a_hung_head() {
    // One task sent ahead per worker: none waits behind the hung one on its worker (those
    // would count as unfinished work, and the window grows when little is unfinished).
    let pool = ProcessPoolExecutor::builder()
        .max_workers(2)
        .chunk_size(1)
        .tasks_in_flight_per_worker(1)
        .build()
        .unwrap();
    let taken = Arc::new(AtomicUsize::new(0));
    std::thread::scope(|s| {
        let input = counted(1u64.., &taken);
        let consumer = s.spawn(|| pool.map(hang_on_one, input).next());
        // The head (item 1) hangs; with the fixed window of 2 x workers chunks, 4 items
        // would be taken and no more.
        let give_up = std::time::Instant::now() + Duration::from_secs(60);
        while taken.load(Ordering::SeqCst) < 200 && std::time::Instant::now() < give_up {
            std::thread::yield_now();
        }
        let grown = taken.load(Ordering::SeqCst);
        pool.terminate_workers(); // fails the hung head, which ends the consumer's wait
        let first = consumer.join().unwrap();
        assert!(
            grown >= 200,
            "the window did not grow behind the hung head ({grown} taken)"
        );
        assert!(grown <= 1024 * pool.max_workers());
        assert!(matches!(first, Some(Err(_))), "{first:?}");
    });
}

fn to_text(x: u32) -> String {
    x.to_string()
}

fn identity(x: u64) -> u64 {
    x
}

#[test]
fn process_map_bounded_keeps_input_order_whatever_the_bound() {
    // CPython Lib/test/test_concurrent_futures/executor.py ExecutorTest.test_map_buffersize and test_map_buffersize_on_empty_iterable (3.14, ProcessPoolExecutorTest)
    let pool = ProcessPoolExecutor::builder()
        .max_workers(2)
        .chunk_size(1)
        .build()
        .unwrap();
    for bound in [1, 2, 4, 8] {
        let got: Vec<_> = pool.map_bounded(to_text, 0..4, bound).collect();
        assert_eq!(got, ["0", "1", "2", "3"].map(|s| Ok(s.to_owned())));
        assert_eq!(pool.map_bounded(to_text, [], bound).next(), None);
    }
}

#[test]
fn process_map_bounded_reads_no_further_than_its_bound() {
    // CPython Lib/test/test_concurrent_futures/executor.py ExecutorTest.test_map_buffersize_when_buffer_is_full and test_map_buffersize_on_infinite_iterable (3.14, ProcessPoolExecutorTest)
    let pool = ProcessPoolExecutor::builder()
        .max_workers(2)
        .chunk_size(1)
        .build()
        .unwrap();
    let taken = Arc::new(AtomicUsize::new(0));
    let mut it = pool.map_bounded(identity, counted(0.., &taken), 2);
    assert_eq!(it.next(), Some(Ok(0)));
    assert_eq!(it.next(), Some(Ok(1)));
    drop(it);
    // Two yielded, and at most two more taken to refill the window: an endless input
    // is read no further, whatever the workers did meanwhile.
    assert!(taken.load(Ordering::SeqCst) <= 4, "{taken:?}");
    // A hung head does not let the window grow as the default one does.
    let taken = Arc::new(AtomicUsize::new(0));
    let mut it = pool
        .map_bounded(hang_on_one, counted(1.., &taken), 3)
        .timeout(Duration::from_millis(200));
    assert_eq!(it.next(), Some(Err(TaskError::TimedOut)));
    assert_eq!(taken.load(Ordering::SeqCst), 3, "only the bound was read");
}

#[test]
#[should_panic(expected = "at least one task in flight")]
fn process_map_bounded_refuses_a_zero_bound() {
    // CPython Lib/test/test_concurrent_futures/executor.py ExecutorTest.test_map_buffersize_value_validation (3.14, ProcessPoolExecutorTest)
    let pool = ProcessPoolExecutor::new(1).unwrap();
    let _ = pool.map_bounded(identity, [1], 0);
}
