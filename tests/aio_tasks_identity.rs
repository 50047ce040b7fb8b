//! Task ids, `is_cancelling` and the states a `Task`'s `Debug` tells apart.

use std::cell::RefCell;
use std::rc::Rc;

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
    // tokio tokio/tests/task_id.rs task_ids_match / unique ids of live tasks
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
