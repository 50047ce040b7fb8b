//! The event loop: ordering, fairness, cancellation, timers, cross-thread wakes, misuse.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use concur::{aio, TaskError, ThreadPoolExecutor};

/// Counts its drops: proves a cancelled future was really dropped.
struct DropCount(Rc<RefCell<usize>>);
impl Drop for DropCount {
    fn drop(&mut self) {
        *self.0.borrow_mut() += 1;
    }
}

#[test]
fn spawned_tasks_start_in_order_and_yield_round_robin() {
    let log = aio::run(async {
        let log = Rc::new(RefCell::new(Vec::new()));
        let tasks: Vec<_> = (0..3)
            .map(|i| {
                let log = log.clone();
                aio::spawn(async move {
                    for round in 0..3 {
                        log.borrow_mut().push((round, i));
                        aio::yield_now().await;
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        Rc::try_unwrap(log).unwrap().into_inner()
    });
    let expected: Vec<_> = (0..3).flat_map(|r| (0..3).map(move |i| (r, i))).collect();
    assert_eq!(log, expected);
}

#[test]
fn a_task_starts_without_being_awaited() {
    let ran = aio::run(async {
        let ran = Rc::new(RefCell::new(false));
        let r = ran.clone();
        let _detached = aio::spawn(async move { *r.borrow_mut() = true });
        aio::yield_now().await;
        *ran.borrow()
    });
    assert!(ran);
}

#[test]
fn a_panicking_task_reports_its_message_and_the_loop_goes_on() {
    let (err, after) = aio::run(async {
        let t = aio::spawn(async { panic!("task exploded") });
        let err = t.await.unwrap_err();
        (err, aio::spawn(async { 5 }).await)
    });
    assert_eq!(err, TaskError::Panicked("task exploded".into()));
    assert_eq!(after, Ok(5));
}

#[test]
fn cancelling_drops_the_future_at_every_kind_of_await_point() {
    let drops = Rc::new(RefCell::new(0));
    let d = drops.clone();
    aio::run(async move {
        let (pending_tx, _keep) = std::sync::mpsc::channel::<()>();
        let pool = ThreadPoolExecutor::new(1);
        let (gate_tx, gate_rx) = std::sync::mpsc::channel::<()>();
        let blocked = pool.submit(move || gate_rx.recv().ok());
        let listener = aio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let other = aio::spawn(aio::sleep(Duration::from_secs(3600)));
        let tasks = vec![
            spawn_guarded(&d, async { aio::sleep(Duration::from_secs(3600)).await }),
            spawn_guarded(&d, async move {
                let mut buf = [0u8; 8];
                let _ = listener.recv_from(&mut buf).await;
            }),
            spawn_guarded(&d, async move {
                let _ = blocked.await;
            }),
            spawn_guarded(&d, async move {
                let _ = other.await;
            }),
            spawn_guarded(&d, std::future::pending::<()>()),
        ];
        aio::yield_now().await; // every task reaches its await point
        for t in &tasks {
            assert!(!t.is_finished());
            assert!(t.cancel());
            assert!(!t.cancel(), "cancel is reported once");
        }
        for t in tasks {
            assert_eq!(t.await, Err(TaskError::Cancelled));
        }
        gate_tx.send(()).unwrap();
        drop(pending_tx);
    });
    assert_eq!(*drops.borrow(), 5);
}

fn spawn_guarded(
    drops: &Rc<RefCell<usize>>,
    f: impl Future<Output = ()> + 'static,
) -> aio::Task<()> {
    let guard = DropCount(drops.clone());
    aio::spawn(async move {
        let _guard = guard;
        f.await
    })
}

#[test]
fn run_cancels_the_tasks_left_when_it_returns() {
    let drops = Rc::new(RefCell::new(0));
    let d = drops.clone();
    aio::run(async move {
        for _ in 0..10 {
            spawn_guarded(&d, std::future::pending());
        }
        aio::yield_now().await;
    });
    assert_eq!(*drops.borrow(), 10);
}

#[test]
fn timers_fire_in_deadline_order_never_early() {
    let order = aio::run(async {
        let start = Instant::now();
        let log = Rc::new(RefCell::new(Vec::new()));
        let delays = [30u64, 5, 20, 0, 10, 15, 1];
        let tasks: Vec<_> = delays
            .iter()
            .map(|&ms| {
                let log = log.clone();
                aio::spawn(async move {
                    aio::sleep(Duration::from_millis(ms)).await;
                    assert!(start.elapsed() >= Duration::from_millis(ms), "woke early");
                    log.borrow_mut().push(ms);
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        Rc::try_unwrap(log).unwrap().into_inner()
    });
    assert_eq!(order, [0, 1, 5, 10, 15, 20, 30]);
}

#[test]
fn cancelled_timers_never_fire() {
    let fired = aio::run(async {
        let fired = Rc::new(RefCell::new(0));
        let tasks: Vec<_> = (0..1000)
            .map(|i| {
                let fired = fired.clone();
                aio::spawn(async move {
                    aio::sleep(Duration::from_millis(1 + i % 5)).await;
                    *fired.borrow_mut() += 1;
                })
            })
            .collect();
        for (i, t) in tasks.iter().enumerate() {
            if i % 2 == 0 {
                t.cancel();
            }
        }
        for t in tasks {
            let _ = t.await;
        }
        *fired.borrow()
    });
    assert_eq!(fired, 500);
}

#[test]
fn timeout_cancels_the_slow_future_and_interval_keeps_its_grid() {
    aio::run(async {
        let drops = Rc::new(RefCell::new(0));
        let guard = DropCount(drops.clone());
        let slow = async move {
            let _g = guard;
            aio::sleep(Duration::from_secs(3600)).await
        };
        assert_eq!(
            aio::timeout(Duration::from_millis(2), slow).await,
            Err(aio::Elapsed)
        );
        assert_eq!(*drops.borrow(), 1);
        let mut iv = aio::interval(Duration::from_millis(3));
        let t0 = iv.tick().await;
        let t1 = iv.tick().await;
        let t2 = iv.tick().await;
        // Ticks stay on the grid: a late tick skips whole periods, never shifts it.
        let period = Duration::from_millis(3).as_nanos();
        for gap in [t1 - t0, t2 - t1] {
            assert!(
                gap.as_nanos() > 0 && gap.as_nanos() % period == 0,
                "{gap:?}"
            );
        }
    });
}

#[test]
fn another_thread_can_wake_a_task() {
    struct Flag(std::sync::Arc<std::sync::Mutex<(bool, Option<std::task::Waker>)>>);
    impl Future for Flag {
        type Output = ();
        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            let mut s = self.0.lock().unwrap();
            if s.0 {
                Poll::Ready(())
            } else {
                s.1 = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
    for _ in 0..200 {
        let state = std::sync::Arc::new(std::sync::Mutex::new((false, None::<std::task::Waker>)));
        let s2 = state.clone();
        aio::run(async move {
            let task = aio::spawn(Flag(state));
            let waker_thread = std::thread::spawn(move || loop {
                let mut s = s2.lock().unwrap();
                if let Some(w) = s.1.take() {
                    s.0 = true;
                    drop(s);
                    w.wake();
                    return;
                }
                drop(s);
                std::thread::yield_now();
            });
            task.await.unwrap(); // the loop blocks in epoll until the thread's wake
            waker_thread.join().unwrap();
        });
    }
}

#[test]
fn pool_handles_and_to_thread_are_awaited_in_the_loop() {
    let pool = ThreadPoolExecutor::new(2);
    let (a, b) = aio::run(async {
        let a = pool.submit(|| 6 * 7).await;
        let b = aio::to_thread(|| std::thread::current().name().map(str::to_owned)).await;
        (a, b)
    });
    assert_eq!(a, Ok(42));
    assert!(b.unwrap().unwrap().starts_with("concur-to-thread"));
}

#[test]
fn gather_returns_outputs_in_input_order() {
    let out = aio::run(aio::gather((0..50u64).map(|i| async move {
        aio::sleep(Duration::from_millis(50 - i)).await;
        i
    })));
    assert_eq!(out, (0..50).collect::<Vec<_>>());
}

#[test]
#[should_panic(expected = "already running on this thread")]
fn run_inside_run_panics_with_a_clear_message() {
    aio::run(async {
        aio::run(async {});
    });
}

#[test]
#[should_panic(expected = "spawn called outside of an event loop")]
fn spawn_outside_a_loop_panics_with_a_clear_message() {
    drop(aio::spawn(async {}));
}

#[test]
fn a_socket_used_after_its_loop_ended_fails_clearly() {
    let sock = aio::run(aio::net::UdpSocket::bind("127.0.0.1:0")).unwrap();
    let err = aio::run(async move {
        let mut buf = [0u8; 4];
        sock.recv_from(&mut buf).await.unwrap_err()
    });
    assert!(err.to_string().contains("event loop has ended"), "{err}");
}

#[test]
fn a_busy_task_cannot_starve_the_others() {
    // A task that always finds data ready would never yield on its own; the budget makes
    // the loop's sockets return Pending after a while so the flag setter runs.
    use futures_lite::{AsyncReadExt, AsyncWriteExt};
    aio::run(async {
        let (mut a, mut b) = aio::net::UnixStream::pair().unwrap();
        a.write_all(&vec![1u8; 64 * 1024]).await.unwrap();
        let flag = Rc::new(RefCell::new(false));
        let f = flag.clone();
        let setter = aio::spawn(async move { *f.borrow_mut() = true });
        let mut byte = [0u8; 1];
        let mut reads = 0;
        while !*flag.borrow() {
            b.read_exact(&mut byte).await.unwrap();
            reads += 1;
            assert!(reads < 64 * 1024, "the setter never ran");
        }
        setter.await.unwrap();
    });
}

#[test]
fn endlessly_yielding_tasks_do_not_starve_timers_or_io() {
    aio::run(async {
        for _ in 0..3 {
            drop(aio::spawn(async {
                loop {
                    aio::yield_now().await;
                }
            }));
        }
        aio::sleep(Duration::from_millis(5)).await; // a timer still fires
        let a = aio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b = aio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        a.send_to(b"x", b.local_addr().unwrap()).await.unwrap();
        let mut buf = [0u8; 1];
        // The datagram may not have arrived yet: this waits on the reactor.
        assert_eq!(b.recv_from(&mut buf).await.unwrap().0, 1);
    });
}

#[test]
fn a_main_future_that_keeps_yielding_lets_a_new_task_run_at_once() {
    // Each poll of the main future out of line used to leave one more of its ids in the
    // run queue: after 100,000 yields a new task waited ~1,700 polls of the main future.
    aio::run(async {
        for _ in 0..100_000 {
            aio::yield_now().await;
        }
        let t = aio::spawn(async {});
        let mut yields = 0;
        while !t.is_finished() {
            aio::yield_now().await;
            yields += 1;
        }
        assert_eq!(
            yields, 1,
            "the new task ran only after {yields} yields of main"
        );
    });
}

#[test]
fn many_tasks_woken_from_many_threads_all_finish() {
    let pool = ThreadPoolExecutor::new(4);
    let total = aio::run(async {
        let tasks: Vec<_> = (0..2000u64)
            .map(|i| {
                let h = pool.submit(move || i * 2);
                aio::spawn(async move { h.await.unwrap() })
            })
            .collect();
        let mut total = 0;
        for t in tasks {
            total += t.await.unwrap();
        }
        total
    });
    assert_eq!(total, 2 * (1999 * 2000 / 2));
}

#[test]
fn the_driver_asked_for_by_name_is_the_one_the_loop_runs_on() {
    let d = aio::Builder::new()
        .driver(aio::Driver::Epoll)
        .run(async { aio::driver() });
    assert_eq!(d, aio::Driver::Epoll);
    let auto = aio::run(async { aio::driver() });
    assert_ne!(
        auto,
        aio::Driver::Auto,
        "the driver chosen is reported, never Auto"
    );
}

/// Prints the driver a loop gets (run by the test below, in a child process).
#[test]
#[ignore = "a probe run in a child process by the_environment_chooses_the_driver_but_cannot_break_the_loop"]
fn driver_probe() {
    let d = aio::run(async { aio::driver() });
    println!("driver={d}");
}

#[test]
fn the_environment_chooses_the_driver_but_cannot_break_the_loop() {
    // An unknown value, an empty one, or a driver the kernel may refuse: the loop starts
    // all the same, on a driver that works.
    for (value, expect) in [
        ("epoll", Some("epoll")),
        // io_uring where the kernel allows it, epoll where it does not.
        ("io_uring", None),
        ("nonsense", None),
        ("", None),
        ("\u{1b}[31mred", None),
    ] {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "event_loop::driver_probe",
                "--ignored",
                "--nocapture",
            ])
            .env("CONCUR_AIO_DRIVER", value)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "CONCUR_AIO_DRIVER={value:?}: {out:?}");
        let got = stdout
            .lines()
            .find_map(|l| l.strip_prefix("driver="))
            .unwrap_or_else(|| panic!("the probe did not run: {stdout}"));
        match expect {
            Some(e) => assert_eq!(got, e, "CONCUR_AIO_DRIVER={value:?}"),
            None => assert!(got == "epoll" || got == "io_uring", "{got}"),
        }
    }
}

#[test]
fn the_io_uring_driver_runs_the_loop_where_the_kernel_allows_it() {
    // Asked for by name: the loop runs on the ring, timers, sockets and cross-thread
    // wakes included (the whole aio suite also runs on it in CI).
    let probe = std::panic::catch_unwind(|| {
        aio::Builder::new()
            .driver(aio::Driver::IoUring)
            .run(async { aio::driver() })
    });
    let Ok(driver) = probe else {
        eprintln!("skipped: this kernel gives no io_uring (the panic above says why)");
        return;
    };
    assert_eq!(driver, aio::Driver::IoUring);
    let pool = ThreadPoolExecutor::new(1);
    let out = aio::Builder::new().driver(aio::Driver::IoUring).run(async {
        let (mut a, mut b) = aio::net::UnixStream::pair().unwrap();
        use concur::aio::io::{AsyncReadExt, AsyncWriteExt};
        a.write_all(b"ring").await.unwrap();
        let mut buf = [0u8; 4];
        b.read_exact(&mut buf).await.unwrap();
        aio::sleep(Duration::from_millis(1)).await;
        // A wake from another thread reaches a loop blocked in the ring.
        let from_thread = pool.submit(|| 7).await.unwrap();
        (buf, from_thread)
    });
    assert_eq!(out, (*b"ring", 7));
}
