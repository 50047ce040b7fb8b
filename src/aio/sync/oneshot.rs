//! A one-shot channel: one value from a [`Sender`] to a [`Receiver`], as
//! `tokio::sync::oneshot`, for tasks of one loop.
//!
//! [`Sender::send`] hands the value back if the receiver is gone; the receiver gets
//! [`RecvError`] if the sender is dropped without sending.
//!
//! ```
//! use concur::aio::{self, sync::oneshot};
//!
//! aio::run(async {
//!     let (tx, rx) = oneshot::channel();
//!     aio::spawn(async move { tx.send(42).unwrap() });
//!     assert_eq!(rx.await, Ok(42));
//!
//!     let (tx, rx) = oneshot::channel::<u32>();
//!     drop(tx);
//!     assert_eq!(rx.await, Err(oneshot::RecvError));
//! });
//! ```

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

struct Shared<T> {
    value: RefCell<Option<T>>,
    /// The sender sent or was dropped.
    sender_done: Cell<bool>,
    /// The receiver was closed or dropped.
    receiver_closed: Cell<bool>,
    rx_waker: RefCell<Option<Waker>>,
    tx_waker: RefCell<Option<Waker>>,
}

/// A new one-shot channel.
///
/// ```
/// use concur::aio::{self, sync::oneshot};
/// aio::run(async {
///     let (tx, rx) = oneshot::channel();
///     tx.send("hi").unwrap();
///     assert_eq!(rx.await, Ok("hi"));
/// });
/// ```
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let shared = Rc::new(Shared {
        value: RefCell::new(None),
        sender_done: Cell::new(false),
        receiver_closed: Cell::new(false),
        rx_waker: RefCell::new(None),
        tx_waker: RefCell::new(None),
    });
    (
        Sender {
            shared: shared.clone(),
        },
        Receiver { shared },
    )
}

/// The error of a [`Receiver`] whose sender was dropped without sending.
///
/// ```
/// use concur::aio::sync::oneshot;
/// let (tx, mut rx) = oneshot::channel::<u8>();
/// drop(tx);
/// assert_eq!(rx.try_recv(), Err(oneshot::TryRecvError::Closed));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecvError;

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the oneshot sender was dropped without sending a value")
    }
}

impl std::error::Error for RecvError {}

/// The error of [`Receiver::try_recv`].
///
/// ```
/// use concur::aio::sync::oneshot::{self, TryRecvError};
/// let (tx, mut rx) = oneshot::channel::<u8>();
/// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
/// drop(tx);
/// assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TryRecvError {
    /// No value yet; the sender may still send.
    Empty,
    /// No value, and none will come: the sender was dropped (or the value was taken).
    Closed,
}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryRecvError::Empty => f.write_str("the oneshot channel has no value yet"),
            TryRecvError::Closed => {
                f.write_str("the oneshot channel is closed: the sender is gone with no value")
            }
        }
    }
}

impl std::error::Error for TryRecvError {}

/// The sending half of a [`channel`].
///
/// ```
/// use concur::aio::sync::oneshot;
/// let (tx, rx) = oneshot::channel();
/// drop(rx);
/// assert!(tx.is_closed());
/// assert_eq!(tx.send(1), Err(1)); // handed back: nobody will receive it
/// ```
pub struct Sender<T> {
    shared: Rc<Shared<T>>,
}

impl<T> Sender<T> {
    /// Sends the value.
    ///
    /// # Errors
    ///
    /// The value back, if the receiver was dropped or closed.
    ///
    /// ```
    /// use concur::aio::sync::oneshot;
    /// let (tx, mut rx) = oneshot::channel();
    /// assert_eq!(tx.send(1), Ok(()));
    /// assert_eq!(rx.try_recv(), Ok(1));
    /// ```
    pub fn send(self, value: T) -> Result<(), T> {
        if self.shared.receiver_closed.get() {
            return Err(value);
        }
        *self.shared.value.borrow_mut() = Some(value);
        Ok(()) // `self` drops here: marks the sender done and wakes the receiver
    }

    /// `true` if the receiver was dropped or closed: a send would fail.
    ///
    /// ```
    /// use concur::aio::sync::oneshot;
    /// let (tx, mut rx) = oneshot::channel::<u8>();
    /// assert!(!tx.is_closed());
    /// rx.close();
    /// assert!(tx.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.shared.receiver_closed.get()
    }

    /// Waits until the receiver is dropped or closed (to stop work nobody waits for).
    ///
    /// ```
    /// use concur::aio::{self, sync::oneshot};
    /// aio::run(async {
    ///     let (mut tx, rx) = oneshot::channel::<u8>();
    ///     aio::spawn(async move { drop(rx) });
    ///     tx.closed().await;
    ///     assert!(tx.is_closed());
    /// });
    /// ```
    pub async fn closed(&mut self) {
        poll_fn(|cx| {
            if self.shared.receiver_closed.get() {
                return Poll::Ready(());
            }
            *self.shared.tx_waker.borrow_mut() = Some(cx.waker().clone());
            Poll::Pending
        })
        .await;
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        self.shared.sender_done.set(true);
        if let Some(w) = self.shared.rx_waker.borrow_mut().take() {
            w.wake();
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("closed", &self.is_closed())
            .finish()
    }
}

/// The receiving half of a [`channel`]: a future of `Result<T, RecvError>`.
///
/// ```
/// use concur::aio::{self, sync::oneshot};
/// aio::run(async {
///     let (tx, rx) = oneshot::channel();
///     aio::spawn(async move { tx.send(7).unwrap() });
///     assert_eq!(rx.await, Ok(7));
/// });
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct Receiver<T> {
    shared: Rc<Shared<T>>,
}

impl<T> Receiver<T> {
    /// Takes the value if it was sent, without waiting.
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`] if nothing was sent yet, [`TryRecvError::Closed`] if the
    /// sender is gone without a value (or the value was already taken).
    ///
    /// ```
    /// use concur::aio::sync::oneshot::{self, TryRecvError};
    /// let (tx, mut rx) = oneshot::channel();
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    /// tx.send(3).unwrap();
    /// assert_eq!(rx.try_recv(), Ok(3));
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    /// ```
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        if let Some(v) = self.shared.value.borrow_mut().take() {
            return Ok(v);
        }
        if self.shared.sender_done.get() || self.shared.receiver_closed.get() {
            Err(TryRecvError::Closed)
        } else {
            Err(TryRecvError::Empty)
        }
    }

    /// Closes the channel: a later send fails and hands its value back. A value sent
    /// before can still be received.
    ///
    /// ```
    /// use concur::aio::sync::oneshot::{self, TryRecvError};
    /// let (tx, mut rx) = oneshot::channel();
    /// rx.close();
    /// assert_eq!(tx.send(1), Err(1));
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    /// ```
    pub fn close(&mut self) {
        self.shared.receiver_closed.set(true);
        if let Some(w) = self.shared.tx_waker.borrow_mut().take() {
            w.wake();
        }
    }
}

impl<T> Future for Receiver<T> {
    type Output = Result<T, RecvError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T, RecvError>> {
        let this = self.get_mut();
        match this.try_recv() {
            Ok(v) => Poll::Ready(Ok(v)),
            Err(TryRecvError::Closed) => Poll::Ready(Err(RecvError)),
            Err(TryRecvError::Empty) => {
                *this.shared.rx_waker.borrow_mut() = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.close();
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("sent", &self.shared.value.borrow().is_some())
            .field("sender_done", &self.shared.sender_done.get())
            .finish()
    }
}
