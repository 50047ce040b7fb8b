//! [`promise`]: a [`JoinHandle`] completed by user code, the hand-made `Future` of asyncio
//! and concurrent.futures (`set_result`, `set_exception`).

use std::fmt;

use super::{Core, JoinHandle, TaskError};
use crate::sync::Arc;

/// What a dropped [`Promise`] resolves its handle with (C++ calls it a broken promise).
const DROPPED: &str = "the Promise was dropped before it was set";

/// A new [`Promise`] and the [`JoinHandle`] it completes. The handle is like any other:
/// [`join`](JoinHandle::join), [`wait`](crate::wait), [`as_completed`](crate::as_completed),
/// `.await` (on the event loop or any runtime) and [`on_done`](JoinHandle::on_done) all
/// work on it; [`cancel`](JoinHandle::cancel) succeeds until the promise is kept, and a
/// value set after that is dropped.
///
/// ```
/// let (promise, handle) = concur::promise::<u32>();
/// std::thread::spawn(move || promise.set(42));
/// assert_eq!(handle.join(), Ok(42));
///
/// let (promise, handle) = concur::promise::<u32>();
/// drop(promise); // never kept
/// assert!(matches!(handle.join(), Err(concur::TaskError::Broken(why)) if why.contains("dropped")));
/// ```
pub fn promise<T: Send + 'static>() -> (Promise<T>, JoinHandle<T>) {
    let core = Arc::new(Core::with_tag(0));
    let handle = JoinHandle::new(core.clone());
    (Promise { core }, handle)
}

/// The writing end of a [`promise`]: [`set`](Self::set) gives its handle a value,
/// [`fail`](Self::fail) an error; dropped unused, it fails the handle with
/// [`TaskError::Broken`], saying so. Either way the outcome reaches the handle once.
///
/// ```
/// use concur::TaskError;
/// let (promise, handle) = concur::promise::<String>();
/// promise.fail(TaskError::Failed("no such user".into()));
/// assert_eq!(handle.join(), Err(TaskError::Failed("no such user".into())));
/// ```
pub struct Promise<T> {
    core: Arc<Core<T>>,
}

impl<T> Promise<T> {
    /// Completes the handle with `v` (`Future.set_result`). If the handle was cancelled
    /// first, `v` is dropped.
    ///
    /// ```
    /// let (promise, handle) = concur::promise();
    /// promise.set("done");
    /// assert!(handle.is_finished());
    /// assert_eq!(handle.join(), Ok("done"));
    /// ```
    pub fn set(self, v: T) {
        self.complete(Ok(v));
    }

    /// Completes the handle with `e` (`Future.set_exception`). If the handle was
    /// cancelled first, nothing changes.
    ///
    /// ```
    /// use concur::TaskError;
    /// let (promise, handle) = concur::promise::<()>();
    /// promise.fail(TaskError::TimedOut);
    /// assert_eq!(handle.join(), Err(TaskError::TimedOut));
    /// ```
    pub fn fail(self, e: TaskError) {
        self.complete(Err(e));
    }

    /// `true` if the handle was cancelled: a value set now would be dropped.
    ///
    /// ```
    /// let (promise, handle) = concur::promise::<u8>();
    /// assert!(handle.cancel());
    /// assert!(promise.is_cancelled());
    /// ```
    pub fn is_cancelled(&self) -> bool {
        self.core.is_cancelled()
    }

    fn complete(&self, outcome: Result<T, TaskError>) {
        if let Some(claim) = self.core.claim() {
            claim.complete(outcome);
        }
    }
}

impl<T> Drop for Promise<T> {
    fn drop(&mut self) {
        // A no-op once set, failed or cancelled (the claim is taken).
        self.complete(Err(TaskError::Broken(DROPPED.to_owned())));
    }
}

impl<T> fmt::Debug for Promise<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Promise")
            .field("kept", &self.core.is_finished())
            .finish()
    }
}
