//! `aio::sync::{LifoQueue, PriorityQueue}`: the Queue core with another order, as
//! asyncio.LifoQueue and asyncio.PriorityQueue.

use std::rc::Rc;

use concur::aio::{
    self,
    sync::{LifoQueue, PriorityQueue, QueueShutDown},
};

#[test]
fn a_lifo_queue_hands_out_the_newest_item_first() {
    // CPython Lib/test/test_asyncio/test_queues.py LifoQueueTests.test_order
    aio::run(async {
        let q = LifoQueue::new();
        for v in [1, 3, 2] {
            q.put(v).await;
        }
        let mut got = Vec::new();
        while let Some(v) = q.get_nowait() {
            got.push(v);
        }
        assert_eq!(got, [2, 3, 1]);
    });
}

#[test]
fn a_priority_queue_hands_out_the_smallest_item_first() {
    // CPython Lib/test/test_asyncio/test_queues.py PriorityQueueTests.test_order
    aio::run(async {
        let q = PriorityQueue::new();
        for v in [1, 3, 2] {
            q.put(v).await;
        }
        let mut got = Vec::new();
        for _ in 0..3 {
            got.push(q.get().await);
        }
        assert_eq!(got, [1, 2, 3]);
    });
}

#[test]
fn a_bounded_priority_queue_makes_putters_wait() {
    // CPython Lib/test/test_asyncio/test_queues.py QueuePutTests.test_blocking_put (on a PriorityQueue)
    aio::run(async {
        let q = Rc::new(PriorityQueue::bounded(1));
        q.put(5).await;
        let putter = aio::spawn({
            let q = q.clone();
            async move { q.put(1).await }
        });
        aio::yield_now().await;
        assert!(!putter.is_finished());
        assert_eq!(q.get().await, 5);
        putter.await.unwrap();
        assert_eq!(q.get().await, 1);
        assert_eq!(q.maxsize(), Some(1));
    });
}

#[test]
fn a_waiting_getter_of_a_lifo_queue_is_woken_by_a_put() {
    aio::run(async {
        let q = Rc::new(LifoQueue::new());
        let getter = aio::spawn({
            let q = q.clone();
            async move { q.get().await }
        });
        aio::yield_now().await;
        assert!(!getter.is_finished());
        q.put("x").await;
        assert_eq!(getter.await, Ok("x"));
    });
}

#[test]
fn shutdown_and_join_work_the_same_on_every_order() {
    // CPython Lib/test/test_asyncio/test_queues.py _QueueShutdownTestMixin (run for LifoQueue and PriorityQueue)
    aio::run(async {
        let lifo = LifoQueue::new();
        lifo.put(1).await;
        lifo.put(2).await;
        lifo.shutdown();
        assert_eq!(lifo.send(3).await, Err(QueueShutDown(3)));
        assert_eq!(lifo.recv().await, Ok(2));
        assert_eq!(lifo.recv().await, Ok(1));
        assert!(lifo.recv().await.is_err());
        lifo.task_done();
        lifo.task_done();
        lifo.join().await;

        let prio = PriorityQueue::new();
        prio.put(2).await;
        prio.put(1).await;
        prio.shutdown_now();
        assert!(prio.is_empty());
        prio.join().await;
    });
}
