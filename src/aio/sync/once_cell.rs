//! [`OnceCell`]: tokio's `OnceCell`, a value set once, possibly by an async initializer.

use std::cell::UnsafeCell;
use std::fmt;
use std::future::Future;

use super::mutex::Mutex;

/// The error of [`OnceCell::set`]; hands the value back.
///
/// ```
/// use concur::aio::sync::{OnceCell, SetError};
/// let cell = OnceCell::new();
/// cell.set(1).unwrap();
/// assert_eq!(cell.set(2), Err(SetError::AlreadyInitialized(2)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetError<T> {
    /// The cell already holds a value.
    AlreadyInitialized(T),
    /// An initializer ([`OnceCell::get_or_init`]) is running.
    Initializing(T),
}

impl<T> SetError<T> {
    /// The value that was not set.
    ///
    /// ```
    /// use concur::aio::sync::OnceCell;
    /// let cell = OnceCell::new_with(Some(1));
    /// assert_eq!(cell.set(2).unwrap_err().into_inner(), 2);
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            SetError::AlreadyInitialized(v) | SetError::Initializing(v) => v,
        }
    }
}

impl<T> fmt::Display for SetError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SetError::AlreadyInitialized(_) => f.write_str("the OnceCell already holds a value"),
            SetError::Initializing(_) => {
                f.write_str("the OnceCell is being initialized by another task")
            }
        }
    }
}

impl<T: fmt::Debug> std::error::Error for SetError<T> {}

/// A cell set at most once, for tasks of one loop: `tokio::sync::OnceCell`.
/// [`get_or_init`](Self::get_or_init) runs one initializer at a time; the others wait for
/// its value. An initializer that is cancelled (or fails, in
/// [`get_or_try_init`](Self::get_or_try_init)) leaves the cell empty and the next waiter
/// runs its own.
///
/// ```
/// use std::rc::Rc;
/// use concur::aio::{self, sync::OnceCell};
///
/// aio::run(async {
///     let config = Rc::new(OnceCell::new());
///     let tasks: Vec<_> = (0..3).map(|i| {
///         let config = config.clone();
///         aio::spawn(async move {
///             *config.get_or_init(|| async move { aio::yield_now().await; i }).await
///         })
///     }).collect();
///     for t in tasks {
///         assert_eq!(t.await, Ok(0)); // the first initializer won; the others waited
///     }
/// });
/// ```
pub struct OnceCell<T> {
    value: UnsafeCell<Option<T>>,
    init: Mutex<()>,
}

impl<T> Default for OnceCell<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> OnceCell<T> {
    /// An empty cell.
    ///
    /// ```
    /// use concur::aio::sync::OnceCell;
    /// let cell: OnceCell<u32> = OnceCell::new();
    /// assert!(!cell.initialized());
    /// assert_eq!(cell.get(), None);
    /// ```
    pub fn new() -> Self {
        OnceCell {
            value: UnsafeCell::new(None),
            init: Mutex::new(()),
        }
    }

    /// A cell holding `value` if it is `Some`.
    ///
    /// ```
    /// use concur::aio::sync::OnceCell;
    /// assert_eq!(OnceCell::new_with(Some(3)).get(), Some(&3));
    /// ```
    pub fn new_with(value: Option<T>) -> Self {
        OnceCell {
            value: UnsafeCell::new(value),
            init: Mutex::new(()),
        }
    }

    /// The value, if set.
    ///
    /// ```
    /// use concur::aio::sync::OnceCell;
    /// let cell = OnceCell::new();
    /// assert_eq!(cell.get(), None);
    /// cell.set("x").unwrap();
    /// assert_eq!(cell.get(), Some(&"x"));
    /// ```
    pub fn get(&self) -> Option<&T> {
        // SAFETY: the value is written only while it is `None` (so no `&T` into it
        // exists), and never changed through `&self` after; the cell is `!Sync`.
        unsafe { (*self.value.get()).as_ref() }
    }

    /// `true` if the cell holds a value.
    ///
    /// ```
    /// use concur::aio::sync::OnceCell;
    /// assert!(OnceCell::new_with(Some(1)).initialized());
    /// ```
    pub fn initialized(&self) -> bool {
        self.get().is_some()
    }

    /// Sets the value if the cell is empty and no initializer runs.
    ///
    /// # Errors
    ///
    /// [`SetError::AlreadyInitialized`] or [`SetError::Initializing`], with the value.
    ///
    /// ```
    /// use concur::aio::sync::{OnceCell, SetError};
    /// let cell = OnceCell::new();
    /// assert_eq!(cell.set(1), Ok(()));
    /// assert_eq!(cell.set(2), Err(SetError::AlreadyInitialized(2)));
    /// ```
    pub fn set(&self, value: T) -> Result<(), SetError<T>> {
        if self.initialized() {
            return Err(SetError::AlreadyInitialized(value));
        }
        if self.init.is_locked() {
            return Err(SetError::Initializing(value));
        }
        self.store(value);
        Ok(())
    }

    /// The value, running `f` to make it if the cell is empty. One initializer runs at a
    /// time, the others wait in FIFO order; if it is cancelled the next one runs.
    ///
    /// ```
    /// use concur::aio::{self, sync::OnceCell};
    /// aio::run(async {
    ///     let cell = OnceCell::new();
    ///     assert_eq!(*cell.get_or_init(|| async { 1 }).await, 1);
    ///     assert_eq!(*cell.get_or_init(|| async { 2 }).await, 1); // already set
    /// });
    /// ```
    pub async fn get_or_init<F, Fut>(&self, f: F) -> &T
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = T>,
    {
        match self
            .get_or_try_init(|| async { Ok::<T, std::convert::Infallible>(f().await) })
            .await
        {
            Ok(v) => v,
            Err(never) => match never {},
        }
    }

    /// Like [`get_or_init`](Self::get_or_init) with a fallible initializer.
    ///
    /// # Errors
    ///
    /// The initializer's error; the cell stays empty and the next waiter runs its own.
    ///
    /// ```
    /// use concur::aio::{self, sync::OnceCell};
    /// aio::run(async {
    ///     let cell = OnceCell::new();
    ///     assert_eq!(cell.get_or_try_init(|| async { Err("no") }).await, Err("no"));
    ///     assert_eq!(cell.get_or_try_init(|| async { Ok::<_, &str>(5) }).await, Ok(&5));
    /// });
    /// ```
    pub async fn get_or_try_init<E, F, Fut>(&self, f: F) -> Result<&T, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        if let Some(v) = self.get() {
            return Ok(v);
        }
        let _turn = self.init.lock().await;
        if let Some(v) = self.get() {
            return Ok(v);
        }
        let value = f().await?;
        self.store(value);
        Ok(self.get().expect("just stored"))
    }

    /// The value, consuming the cell.
    ///
    /// ```
    /// use concur::aio::sync::OnceCell;
    /// assert_eq!(OnceCell::new_with(Some(4)).into_inner(), Some(4));
    /// ```
    pub fn into_inner(self) -> Option<T> {
        self.value.into_inner()
    }

    /// Takes the value out, leaving the cell empty.
    ///
    /// ```
    /// use concur::aio::sync::OnceCell;
    /// let mut cell = OnceCell::new_with(Some(4));
    /// assert_eq!(cell.take(), Some(4));
    /// assert!(!cell.initialized());
    /// ```
    pub fn take(&mut self) -> Option<T> {
        self.value.get_mut().take()
    }

    fn store(&self, value: T) {
        debug_assert!(!self.initialized());
        // SAFETY: the cell is empty (checked by every caller), so no `&T` into it exists;
        // the cell is `!Sync`, so no other thread touches it.
        unsafe { *self.value.get() = Some(value) };
    }
}

impl<T: fmt::Debug> fmt::Debug for OnceCell<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OnceCell")
            .field("value", &self.get())
            .finish()
    }
}
