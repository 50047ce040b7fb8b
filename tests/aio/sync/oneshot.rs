//! `aio::sync::oneshot`, with tokio's semantics.

use std::rc::Rc;

use concur::aio::{
    self,
    sync::{
        oneshot::{self, RecvError, TryRecvError},
        Event,
    },
};

#[test]
fn a_sent_value_is_received() {
    // tokio tokio/tests/sync_oneshot.rs send_recv
    aio::run(async {
        let (tx, rx) = oneshot::channel();
        assert!(tx.send(1).is_ok());
        assert_eq!(rx.await, Ok(1));
    });
}

#[test]
fn a_waiting_receiver_is_woken_by_the_send() {
    // tokio tokio/tests/sync_oneshot.rs async_send_recv
    aio::run(async {
        let (tx, rx) = oneshot::channel();
        let receiver = aio::spawn(rx);
        aio::yield_now().await;
        assert!(!receiver.is_finished());
        tx.send("v").unwrap();
        assert_eq!(receiver.await, Ok(Ok("v")));
    });
}

#[test]
fn dropping_the_sender_closes_the_receiver() {
    // tokio tokio/tests/sync_oneshot.rs close_tx
    aio::run(async {
        let (tx, rx) = oneshot::channel::<u32>();
        let receiver = aio::spawn(rx);
        aio::yield_now().await;
        drop(tx);
        assert_eq!(receiver.await, Ok(Err(RecvError)));
    });
}

#[test]
fn send_to_a_dropped_receiver_hands_the_value_back() {
    // tokio tokio/tests/sync_oneshot.rs close_rx
    let (tx, rx) = oneshot::channel();
    drop(rx);
    assert!(tx.is_closed());
    assert_eq!(tx.send(7), Err(7));
}

#[test]
fn sender_closed_waits_for_the_receiver_to_go() {
    // tokio tokio/tests/sync_oneshot.rs async_rx_closed
    aio::run(async {
        let (mut tx, rx) = oneshot::channel::<u32>();
        let go = Rc::new(Event::new());
        let watcher = aio::spawn({
            let go = go.clone();
            async move {
                go.set();
                tx.closed().await;
                tx.is_closed()
            }
        });
        go.wait().await;
        aio::yield_now().await;
        assert!(!watcher.is_finished());
        drop(rx);
        assert_eq!(watcher.await, Ok(true));
    });
}

#[test]
fn an_explicitly_closed_receiver_refuses_sends_but_keeps_an_earlier_value() {
    // tokio tokio/tests/sync_oneshot.rs explicit_close_try_recv / explicit_close_poll
    let (tx, mut rx) = oneshot::channel();
    tx.send(1).unwrap();
    rx.close();
    assert_eq!(rx.try_recv(), Ok(1));

    let (tx, mut rx) = oneshot::channel::<u32>();
    rx.close();
    assert!(tx.is_closed());
    assert_eq!(tx.send(2), Err(2));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    aio::run(async move { assert_eq!(rx.await, Err(RecvError)) });
}

#[test]
fn try_recv_tells_empty_from_closed_and_a_value_is_taken_once() {
    // tokio tokio/tests/sync_oneshot.rs try_recv_after_completion
    let (tx, mut rx) = oneshot::channel();
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    tx.send(17).unwrap();
    assert_eq!(rx.try_recv(), Ok(17));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
}

#[test]
fn an_unreceived_value_is_dropped_with_the_channel() {
    // tokio tokio/tests/sync_oneshot.rs drops_tasks (the value side)
    let marker = Rc::new(());
    let (tx, rx) = oneshot::channel();
    tx.send(marker.clone()).unwrap();
    assert_eq!(Rc::strong_count(&marker), 2);
    drop(rx);
    assert_eq!(Rc::strong_count(&marker), 1);
}

#[test]
fn errors_say_what_happened() {
    assert!(RecvError.to_string().contains("dropped"));
    assert!(TryRecvError::Empty.to_string().contains("no value yet"));
    assert!(TryRecvError::Closed.to_string().contains("closed"));
}
