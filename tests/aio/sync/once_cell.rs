//! `aio::sync::OnceCell`, with tokio's semantics.

use std::cell::Cell;
use std::rc::Rc;

use concur::aio::{
    self,
    sync::{Event, OnceCell, SetError},
};

#[test]
fn set_then_get_returns_the_value() {
    // tokio tokio/tests/sync_once_cell.rs set_and_get
    let cell = OnceCell::new();
    assert_eq!(cell.get(), None);
    assert!(!cell.initialized());
    cell.set(5).unwrap();
    assert_eq!(cell.get(), Some(&5));
    assert!(cell.initialized());
}

#[test]
fn a_second_set_hands_the_value_back() {
    // tokio tokio/tests/sync_once_cell.rs set_twice
    let cell = OnceCell::new();
    cell.set(5).unwrap();
    assert_eq!(cell.set(6), Err(SetError::AlreadyInitialized(6)));
    assert_eq!(cell.get(), Some(&5));
}

#[test]
fn set_while_an_initializer_runs_fails_with_initializing() {
    // tokio tokio/tests/sync_once_cell.rs set_while_initializing
    aio::run(async {
        let cell = Rc::new(OnceCell::new());
        let (started, go) = (Rc::new(Event::new()), Rc::new(Event::new()));
        let init = aio::spawn({
            let (cell, started, go) = (cell.clone(), started.clone(), go.clone());
            async move {
                *cell
                    .get_or_init(|| async move {
                        started.set();
                        go.wait().await;
                        5
                    })
                    .await
            }
        });
        started.wait().await;
        assert_eq!(cell.set(6), Err(SetError::Initializing(6)));
        go.set();
        assert_eq!(init.await, Ok(5));
        assert_eq!(cell.get(), Some(&5));
    });
}

#[test]
fn concurrent_get_or_init_runs_one_initializer() {
    // tokio tokio/tests/sync_once_cell.rs get_or_init
    aio::run(async {
        let cell = Rc::new(OnceCell::new());
        let runs = Rc::new(Cell::new(0));
        let tasks: Vec<_> = (0..5)
            .map(|i| {
                let (cell, runs) = (cell.clone(), runs.clone());
                aio::spawn(async move {
                    *cell
                        .get_or_init(|| async move {
                            runs.set(runs.get() + 1);
                            aio::yield_now().await;
                            i
                        })
                        .await
                })
            })
            .collect();
        for t in tasks {
            assert_eq!(t.await, Ok(0));
        }
        assert_eq!(runs.get(), 1);
    });
}

#[test]
fn a_cancelled_initializer_lets_the_next_one_run() {
    // tokio tokio/tests/sync_once_cell.rs get_or_init_panic (cancellation instead of a panic)
    aio::run(async {
        let cell = Rc::new(OnceCell::new());
        let started = Rc::new(Event::new());
        let stuck = aio::spawn({
            let (cell, started) = (cell.clone(), started.clone());
            async move {
                *cell
                    .get_or_init(|| async move {
                        started.set();
                        std::future::pending::<u32>().await
                    })
                    .await
            }
        });
        started.wait().await;
        let next = aio::spawn({
            let cell = cell.clone();
            async move { *cell.get_or_init(|| async { 7 }).await }
        });
        aio::yield_now().await; // `next` waits for the running initializer
        assert!(!next.is_finished());
        stuck.cancel();
        assert!(stuck.await.unwrap_err().is_cancelled());
        assert_eq!(next.await, Ok(7));
        assert_eq!(cell.get(), Some(&7));
    });
}

#[test]
fn a_failed_initializer_leaves_the_cell_empty() {
    // tokio tokio/tests/sync_once_cell.rs get_or_try_init
    aio::run(async {
        let cell = OnceCell::new();
        let r: Result<&u32, &str> = cell.get_or_try_init(|| async { Err("boom") }).await;
        assert_eq!(r, Err("boom"));
        assert!(!cell.initialized());
        let r: Result<&u32, &str> = cell.get_or_try_init(|| async { Ok(3) }).await;
        assert_eq!(r, Ok(&3));
        let r: Result<&u32, &str> = cell.get_or_try_init(|| async { Ok(4) }).await;
        assert_eq!(r, Ok(&3));
    });
}

#[test]
fn the_value_is_dropped_with_the_cell_and_can_be_taken() {
    // tokio tokio/tests/sync_once_cell.rs drop_cell / drop_into_inner
    let marker = Rc::new(());
    let cell = OnceCell::new_with(Some(marker.clone()));
    assert_eq!(Rc::strong_count(&marker), 2);
    drop(cell);
    assert_eq!(Rc::strong_count(&marker), 1);
    let mut cell = OnceCell::new_with(Some(marker.clone()));
    assert!(cell.take().is_some());
    assert!(!cell.initialized());
    assert_eq!(cell.into_inner(), None);
    assert_eq!(Rc::strong_count(&marker), 1);
}

#[test]
fn set_errors_say_what_happened() {
    assert!(SetError::AlreadyInitialized(1)
        .to_string()
        .contains("already"));
    assert!(SetError::Initializing(1)
        .to_string()
        .contains("initialized"));
    assert_eq!(SetError::Initializing(9).into_inner(), 9);
}
