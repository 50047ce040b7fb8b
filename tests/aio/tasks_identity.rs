//! Task ids, `is_cancelling` and the states a `Task`'s `Debug` tells apart.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use concur::{aio, TaskError};

#[test]
fn debug_tells_pending_running_cancelling_and_done_apart() {
    // CPython Lib/test/test_asyncio/test_tasks.py BaseTaskTests.test_task_repr
    aio::run(async {
        let slot: Rc<RefCell<Option<aio::Task<()>>>> = Rc::default();
        let seen_inside = Rc::new(RefCell::new(String::new()));
        let t = aio::spawn({
            let slot = slot.clone();
            let seen_inside = seen_inside.clone();
            async move {
                aio::yield_now().await;
                *seen_inside.borrow_mut() = format!("{:?}", slot.borrow().as_ref().unwrap());
                std::future::pending::<()>().await
            }
        });
        assert!(format!("{t:?}").contains("pending"), "{t:?}");
        *slot.borrow_mut() = Some(t);
        while seen_inside.borrow().is_empty() {
            aio::yield_now().await;
        }
        assert!(
            seen_inside.borrow().contains("running"),
            "{}",
            seen_inside.borrow()
        );
        let t = slot.borrow_mut().take().unwrap();
        assert!(t.cancel());
        assert!(t.is_cancelling());
        assert!(format!("{t:?}").contains("cancelling"), "{t:?}");
        let done = aio::spawn(async {});
        aio::yield_now().await;
        assert!(format!("{done:?}").contains("done"), "{done:?}");
        assert!(!t.is_cancelling(), "finished: no longer cancelling");
        assert_eq!(t.await, Err(TaskError::Cancelled));
    });
}

#[test]
fn live_tasks_have_distinct_ids() {
    // tokio tokio/tests/task_id.rs task_ids_match_current_thread / unique ids of live tasks
    aio::run(async {
        let tasks: Vec<_> = (0..100)
            .map(|_| aio::spawn(std::future::pending::<()>()))
            .collect();
        let mut ids: Vec<u64> = tasks.iter().map(|t| t.id()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 100);
        for t in &tasks {
            assert!(format!("{t:?}").contains(&t.id().to_string()));
            t.cancel();
        }
    });
}

#[test]
fn a_task_is_named_by_its_builder_and_unnamed_by_default() {
    // CPython Lib/test/test_asyncio/test_tasks.py BaseTaskTests.test_bare_create_named_task
    // (names given at creation)
    aio::run(async {
        let named = aio::Builder::new().name("fetch-42").spawn(async {});
        let unnamed = aio::spawn(async {});
        assert_eq!(named.name(), Some("fetch-42"));
        assert_eq!(unnamed.name(), None);
        assert!(format!("{named:?}").contains("fetch-42"), "{named:?}");
        named.await.unwrap();
        unnamed.await.unwrap();
    });
}

#[test]
fn current_task_is_the_task_being_polled_and_main_inside_run() {
    // CPython Lib/test/test_asyncio/test_tasks.py BaseTaskTests.test_current_task
    assert!(aio::current_task().is_none(), "no loop, no current task");
    aio::Builder::new().name("entry").run(async {
        let main = aio::current_task().expect("run's future is a task");
        assert_eq!(main.name(), Some("entry"));
        let inner = aio::Builder::new().name("inner").spawn(async {
            let me = aio::current_task().unwrap();
            aio::yield_now().await;
            // Still itself after a suspension.
            (
                me.id(),
                aio::current_task().unwrap().id(),
                me.name().map(str::to_owned),
            )
        });
        let id = inner.id();
        let (before, after, name) = inner.await.unwrap();
        assert_eq!((before, after), (id, id));
        assert_eq!(name.as_deref(), Some("inner"));
        assert_eq!(aio::current_task().unwrap(), main);
    });
    assert!(aio::current_task().is_none(), "the loop has ended");
}

#[test]
fn all_tasks_lists_the_unfinished_tasks_and_main() {
    // CPython Lib/asyncio/tasks.py all_tasks(): only tasks not done (no test of its own in
    // test_tasks.py; its callers' tests rely on it)
    aio::run(async {
        let waiting: Vec<_> = (0..3)
            .map(|i| {
                aio::Builder::new()
                    .name(format!("w{i}"))
                    .spawn(std::future::pending::<()>())
            })
            .collect();
        let done = aio::spawn(async {});
        aio::yield_now().await;
        assert!(done.is_finished());
        let mut names: Vec<String> = aio::all_tasks()
            .iter()
            .map(|t| t.name().unwrap_or("?").to_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["main", "w0", "w1", "w2"]);
        let ids: Vec<u64> = aio::all_tasks().iter().map(|t| t.id()).collect();
        assert!(!ids.contains(&done.id()));
        for t in &waiting {
            assert!(t.as_ref().cancel());
        }
        for t in waiting {
            assert_eq!(t.await, Err(TaskError::Cancelled));
        }
        assert_eq!(aio::all_tasks().len(), 1, "only main is left");
    });
    assert!(aio::all_tasks().is_empty(), "outside a loop");
}

#[test]
fn a_task_ref_cancels_and_reports_as_the_task_does() {
    // tokio-rs/tokio tokio/tests/task_abort.rs test_abort_without_panic_3157 (abort
    // through a second handle)
    aio::run(async {
        let t = aio::spawn(std::future::pending::<u8>());
        let r = t.as_ref();
        assert!(!r.is_finished() && !r.is_cancelling());
        assert!(r.cancel());
        assert!(!r.cancel(), "cancelled once");
        assert!(r.is_cancelling() && t.is_cancelling());
        assert_eq!(t.await, Err(TaskError::Cancelled));
        assert!(r.is_finished());
        assert!(format!("{r:?}").contains("done"), "{r:?}");
    });
}

#[test]
fn the_main_task_cannot_be_cancelled_through_its_ref() {
    // asyncio lets a main task be cancelled; here run's future returns its own value,
    // so its TaskRef refuses (documented on TaskRef).
    let out = aio::run(async {
        let main = aio::current_task().unwrap();
        assert!(!main.cancel());
        assert!(!main.is_cancelling());
        assert_eq!(main.id(), u64::MAX);
        7
    });
    assert_eq!(out, 7);
}

#[test]
fn a_dump_names_each_task_its_state_and_what_it_awaits() {
    // No peer case: asyncio 3.14's `python -m asyncio ps` and tokio's unstable dumps
    // show the same facts from outside.
    use std::time::Duration;
    aio::run(async {
        aio::time::pause();
        let lock = Rc::new(aio::sync::Mutex::new(()));
        let held = lock.lock().await;
        let sleeper = aio::Builder::new()
            .name("sleeper")
            .spawn(aio::sleep(Duration::from_secs(90)));
        let locker = aio::Builder::new().name("locker").spawn({
            let lock = lock.clone();
            async move {
                drop(lock.lock().await);
            }
        });
        let joiner = aio::Builder::new().name("joiner").spawn(async move {
            let _ = sleeper.await;
        });
        let queue = Rc::new(aio::sync::Queue::<u8>::new());
        let getter = aio::Builder::new().name("getter").spawn({
            let q = queue.clone();
            async move { q.get().await }
        });
        let pool_waiter = aio::Builder::new()
            .name("pool-waiter")
            .spawn(async { concur::promise::<u8>().1.await });
        aio::yield_now().await;
        aio::yield_now().await;
        let dump = aio::dump_tasks();
        let line = |name: &str| {
            dump.lines()
                .find(|l| l.contains(&format!("{name:?}")))
                .unwrap_or_else(|| panic!("no line for {name} in:\n{dump}"))
                .to_owned()
        };
        assert!(
            dump.starts_with("concur::aio: 6 tasks on the loop"),
            "{dump}"
        );
        assert!(line("main").contains("running"), "{dump}");
        let s = line("sleeper");
        assert!(s.contains("pending, 1 poll,"), "{s}");
        assert!(s.contains("awaiting a timer (90.000 s left)"), "{s}");
        assert!(s.contains("tests/aio/tasks_identity.rs"), "{s}");
        assert!(line("locker").contains("awaiting Mutex::lock"), "{dump}");
        assert!(line("joiner").contains("awaiting task "), "{dump}");
        assert!(line("getter").contains("awaiting Queue::get"), "{dump}");
        assert!(line("pool-waiter").contains("JoinHandle"), "{dump}");
        drop(held);
        queue.put_nowait(1).unwrap();
        assert_eq!(getter.await, Ok(1));
        locker.await.unwrap();
        joiner.cancel();
        pool_waiter.cancel();
        let _ = (joiner.await, pool_waiter.await);
    });
    assert!(aio::dump_tasks().contains("no event loop"));
}

#[test]
fn a_socket_wait_shows_its_direction_in_the_dump() {
    aio::run(async {
        let listener = aio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let acceptor = aio::Builder::new().name("acceptor").spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 1];
            futures_lite::AsyncReadExt::read(&mut s, &mut buf)
                .await
                .unwrap()
        });
        let client = aio::net::TcpStream::connect(addr).await.unwrap();
        // The acceptor waits to read from its accepted stream.
        loop {
            aio::yield_now().await;
            let dump = aio::dump_tasks();
            let line = dump.lines().find(|l| l.contains("\"acceptor\"")).unwrap();
            if line.contains("awaiting I/O (to read)") {
                break;
            }
        }
        drop(client);
        assert_eq!(acceptor.await, Ok(0));
    });
}

#[test]
// The task awaits its handle in place, in the slot, so that the outcome can be read there
// afterwards: the borrow across the await is the point.
#[allow(clippy::await_holding_refcell_ref)]
fn a_task_that_awaits_its_own_handle_fails_clearly_instead_of_hanging() {
    // CPython Lib/test/test_asyncio/test_tasks.py BaseTaskTests.test_task_awaits_on_itself
    // (asyncio raises RuntimeError "Task cannot await on itself" in the task; here the
    // task panics with a message that says so, and its handle reports it)
    aio::run(async {
        aio::time::pause();
        let slot: Rc<RefCell<Option<aio::Task<()>>>> = Rc::default();
        let s = slot.clone();
        let t = aio::spawn(async move {
            aio::yield_now().await;
            let mut me = s.borrow_mut();
            let _ = me.as_mut().expect("the handle is in the slot").await;
        });
        let seen = t.as_ref();
        *slot.borrow_mut() = Some(t);
        // Waits on the virtual clock: a hang shows as the timeout, not as a stuck test.
        let ended = aio::timeout(Duration::from_secs(60), async {
            while !seen.is_finished() {
                aio::sleep(Duration::from_secs(1)).await;
            }
        })
        .await;
        assert!(ended.is_ok(), "the task that awaits itself hangs");
        let t = slot.borrow_mut().take().unwrap();
        match t.await {
            Err(TaskError::Panicked(msg)) => {
                assert!(msg.contains("cannot await its own handle"), "{msg}")
            }
            other => panic!("{other:?}"),
        }
    });
}
