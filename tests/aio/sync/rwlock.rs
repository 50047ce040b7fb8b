//! `aio::sync::RwLock`, with tokio's fair, writer-preferring semantics.

use std::cell::RefCell;
use std::rc::Rc;

use concur::aio::{self, sync::RwLock};

#[test]
fn readers_share_the_lock() {
    // tokio tokio/tests/sync_rwlock.rs read_shared
    aio::run(async {
        let lock = RwLock::new(100);
        let r1 = lock.read().await;
        let r2 = lock.read().await;
        assert_eq!(*r1 + *r2, 200);
        assert!(lock.try_read().is_some());
    });
}

#[test]
fn a_writer_waits_for_the_readers_then_runs() {
    // tokio tokio/tests/sync_rwlock.rs write_shared_pending / write_shared_drop
    aio::run(async {
        let lock = Rc::new(RwLock::new(0));
        let r = lock.read().await;
        let writer = aio::spawn({
            let lock = lock.clone();
            async move { *lock.write().await += 1 }
        });
        aio::yield_now().await;
        assert!(!writer.is_finished());
        drop(r);
        writer.await.unwrap();
        assert_eq!(*lock.read().await, 1);
    });
}

#[test]
fn a_reader_waits_for_the_writer() {
    // tokio tokio/tests/sync_rwlock.rs read_exclusive_pending
    aio::run(async {
        let lock = Rc::new(RwLock::new(0));
        let mut w = lock.write().await;
        let reader = aio::spawn({
            let lock = lock.clone();
            async move { *lock.read().await }
        });
        aio::yield_now().await;
        assert!(!reader.is_finished());
        assert!(lock.try_read().is_none());
        *w = 5;
        drop(w);
        assert_eq!(reader.await, Ok(5));
    });
}

#[test]
fn writers_exclude_each_other() {
    // tokio tokio/tests/sync_rwlock.rs write_exclusive_pending
    aio::run(async {
        let lock = Rc::new(RwLock::new(0));
        let w = lock.write().await;
        let second = aio::spawn({
            let lock = lock.clone();
            async move { *lock.write().await += 1 }
        });
        aio::yield_now().await;
        assert!(!second.is_finished());
        assert!(lock.try_write().is_none());
        drop(w);
        second.await.unwrap();
        assert_eq!(lock.try_write().map(|g| *g), Some(1));
    });
}

#[test]
fn a_new_reader_does_not_overtake_a_waiting_writer() {
    // tokio tokio/tests/sync_rwlock.rs write_read_shared_pending / write_read_shared_drop_pending
    aio::run(async {
        let lock = Rc::new(RwLock::new(()));
        let order = Rc::new(RefCell::new(Vec::new()));
        let r = lock.read().await;
        let writer = aio::spawn({
            let (lock, order) = (lock.clone(), order.clone());
            async move {
                let _w = lock.write().await;
                order.borrow_mut().push("writer");
            }
        });
        aio::yield_now().await; // the writer waits behind `r`
        assert!(lock.try_read().is_none(), "a reader overtook the writer");
        let reader = aio::spawn({
            let (lock, order) = (lock.clone(), order.clone());
            async move {
                let _r = lock.read().await;
                order.borrow_mut().push("reader");
            }
        });
        aio::yield_now().await;
        assert!(!reader.is_finished());
        drop(r);
        writer.await.unwrap();
        reader.await.unwrap();
        assert_eq!(*order.borrow(), ["writer", "reader"]);
    });
}

#[test]
fn readers_queued_behind_a_writer_all_get_in_together() {
    aio::run(async {
        let lock = Rc::new(RwLock::new(0));
        let w = lock.write().await;
        let readers: Vec<_> = (0..3)
            .map(|_| {
                let lock = lock.clone();
                aio::spawn(async move {
                    let r = lock.read().await;
                    aio::yield_now().await; // hold it while the others come in
                    *r
                })
            })
            .collect();
        aio::yield_now().await;
        drop(w);
        for r in readers {
            assert_eq!(r.await, Ok(0));
        }
    });
}

#[test]
fn a_cancelled_writer_lets_the_readers_behind_it_in() {
    aio::run(async {
        let lock = Rc::new(RwLock::new(0));
        let r = lock.read().await;
        let writer = aio::spawn({
            let lock = lock.clone();
            async move { *lock.write().await += 1 }
        });
        aio::yield_now().await;
        let reader = aio::spawn({
            let lock = lock.clone();
            async move { *lock.read().await }
        });
        aio::yield_now().await;
        assert!(!reader.is_finished());
        writer.cancel();
        assert!(writer.await.unwrap_err().is_cancelled());
        assert_eq!(reader.await, Ok(0));
        drop(r);
        assert!(lock.try_write().is_some());
    });
}

#[test]
fn try_read_and_try_write_never_wait() {
    // tokio tokio/tests/sync_rwlock.rs try_write / try_read_try_write
    let lock = RwLock::new(15);
    {
        let r1 = lock.try_read().unwrap();
        assert_eq!(*r1, 15);
        assert!(lock.try_write().is_none());
        let r2 = lock.try_read().unwrap();
        assert_eq!(*r2, 15);
    }
    {
        let mut w = lock.try_write().unwrap();
        *w = 1515;
        assert!(lock.try_read().is_none());
    }
    assert_eq!(*lock.try_read().unwrap(), 1515);
}

#[test]
fn into_inner_and_get_mut_need_no_locking() {
    // tokio tokio/tests/sync_rwlock.rs into_inner
    let mut lock = RwLock::new(42);
    *lock.get_mut() += 1;
    assert_eq!(lock.into_inner(), 43);
}
