//! `aio::sync::Queue`: shutdown, shutdown_now, maxsize, join and task_done, with the
//! semantics of asyncio.Queue in Python 3.13.

use std::rc::Rc;

use concur::aio::{
    self,
    sync::{Event, Queue, QueueFull, QueueShutDown},
};

#[test]
fn maxsize_is_the_bound_or_none() {
    // CPython Lib/test/test_asyncio/test_queues.py QueueBasicTests.test_maxsize
    assert_eq!(Queue::<u8>::bounded(2).maxsize(), Some(2));
    assert_eq!(Queue::<u8>::new().maxsize(), None);
}

#[test]
fn after_shutdown_puts_fail_and_gets_drain_the_rest_then_fail() {
    // CPython Lib/test/test_asyncio/test_queues.py _QueueShutdownTestMixin.test_shutdown_nonempty (the drain)
    aio::run(async {
        let q = Queue::new();
        q.put(1).await;
        q.put(2).await;
        q.shutdown();
        assert!(q.is_shutdown());
        assert_eq!(q.send(3).await, Err(QueueShutDown(3)));
        assert_eq!(q.put_nowait(4), Err(QueueFull(4)));
        assert_eq!(q.recv().await, Ok(1));
        assert_eq!(q.get_nowait(), Some(2));
        assert_eq!(q.recv().await, Err(QueueShutDown(())));
        assert_eq!(q.get_nowait(), None);
    });
}

#[test]
fn shutdown_wakes_waiting_getters_with_the_error() {
    // CPython Lib/test/test_asyncio/test_queues.py _QueueShutdownTestMixin.test_shutdown_empty
    aio::run(async {
        let q = Rc::new(Queue::<u32>::new());
        let getters: Vec<_> = (0..3)
            .map(|_| {
                let q = q.clone();
                aio::spawn(async move { q.recv().await })
            })
            .collect();
        aio::yield_now().await;
        q.shutdown();
        for g in getters {
            assert_eq!(g.await, Ok(Err(QueueShutDown(()))));
        }
    });
}

#[test]
fn shutdown_wakes_a_blocked_putter_and_hands_its_value_back() {
    // CPython Lib/test/test_asyncio/test_queues.py _QueueShutdownTestMixin.test_shutdown_nonempty (the waiting put)
    aio::run(async {
        let q = Rc::new(Queue::bounded(1));
        q.put(1).await;
        let putter = aio::spawn({
            let q = q.clone();
            async move { q.send(2).await }
        });
        aio::yield_now().await;
        assert!(!putter.is_finished());
        q.shutdown();
        assert_eq!(putter.await, Ok(Err(QueueShutDown(2))));
        assert_eq!(q.recv().await, Ok(1));
    });
}

#[test]
fn shutdown_now_drops_the_items_and_releases_join() {
    // CPython Lib/test/test_asyncio/test_queues.py _QueueShutdownTestMixin.test_shutdown_immediate
    aio::run(async {
        let q = Rc::new(Queue::new());
        let marker = Rc::new(());
        for _ in 0..3 {
            q.put(marker.clone()).await;
        }
        let joiner = aio::spawn({
            let q = q.clone();
            async move { q.join().await }
        });
        aio::yield_now().await;
        assert!(!joiner.is_finished());
        q.shutdown_now();
        assert_eq!(Rc::strong_count(&marker), 1, "the items were not dropped");
        assert!(q.is_empty());
        assert!(q.recv().await.is_err());
        joiner.await.unwrap();
    });
}

#[test]
fn shutdown_now_join_still_waits_for_items_already_taken() {
    // CPython Lib/test/test_asyncio/test_queues.py _QueueShutdownTestMixin.test_shutdown_immediate_with_unfinished
    aio::run(async {
        let q = Rc::new(Queue::new());
        q.put(1).await;
        q.put(2).await;
        assert_eq!(q.get().await, 1); // taken, not yet done
        q.shutdown_now();
        let joined = Rc::new(Event::new());
        let joiner = aio::spawn({
            let (q, joined) = (q.clone(), joined.clone());
            async move {
                q.join().await;
                joined.set();
            }
        });
        aio::yield_now().await;
        assert!(!joined.is_set());
        q.task_done();
        joiner.await.unwrap();
        assert!(joined.is_set());
    });
}

#[test]
fn join_waits_for_one_task_done_per_item() {
    // CPython Lib/test/test_asyncio/test_queues.py _QueueJoinTestMixin.test_task_done
    aio::run(async {
        let q = Rc::new(Queue::new());
        for i in 0..5 {
            q.put(i).await;
        }
        let done = Rc::new(Event::new());
        let joiner = aio::spawn({
            let (q, done) = (q.clone(), done.clone());
            async move {
                q.join().await;
                done.set();
            }
        });
        for _ in 0..5 {
            q.get().await;
            aio::yield_now().await;
            assert!(!done.is_set(), "join returned before every task_done");
            q.task_done();
        }
        joiner.await.unwrap();
        assert!(done.is_set());
    });
}

#[test]
fn join_on_an_empty_queue_returns_at_once() {
    // CPython Lib/test/test_asyncio/test_queues.py _QueueJoinTestMixin.test_join_empty_queue
    aio::run(async {
        let q = Queue::<u8>::new();
        q.join().await;
        q.join().await;
    });
}

#[test]
#[should_panic(expected = "task_done called more times than items were put")]
fn task_done_too_many_times_is_an_error() {
    // CPython Lib/test/test_asyncio/test_queues.py _QueueJoinTestMixin.test_task_done_underflow
    Queue::<u8>::new().task_done();
}

#[test]
#[should_panic(expected = "shut down and is empty")]
fn get_on_a_shut_down_empty_queue_panics_with_a_clear_message() {
    aio::run(async {
        let q = Queue::<u8>::new();
        q.shutdown();
        q.get().await;
    });
}

#[test]
fn the_shutdown_error_says_what_happened() {
    assert!(QueueShutDown(()).to_string().contains("shut down"));
}
