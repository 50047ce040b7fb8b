//! [`TaskGroup`]: structured concurrency, asyncio's `TaskGroup` and tokio's `JoinSet`.
//!
//! A group keeps a list of its children's controls and a count of those still running;
//! each child is wrapped in a [`Child`] future that reports its end (and any failure) to
//! the group's shared state when it is dropped, so nothing a child does, not even a
//! panic, can leave the group waiting for it. The first failure cancels the other
//! children and, under [`TaskGroup::scope`], the group's own body; every failure is kept
//! and reported together ([`TaskGroupError`]).

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fmt;
use std::future::{poll_fn, Future};
use std::ops::Deref;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::pin::{pin, Pin};
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use super::runtime::spawn;
use super::task::{Control, Task};
use crate::handle::{PanicMessage, TaskError};

/// A group of tasks that ends together: asyncio's `TaskGroup`. No child outlives it:
/// [`join`](Self::join) waits for all of them, and dropping the group without joining
/// cancels those still running. The first child that panics (or, if started with
/// [`spawn_fallible`](Self::spawn_fallible), returns `Err`) cancels the others, and `join`
/// reports every failure ([`TaskGroupError`]).
///
/// [`scope`](Self::scope) runs a body with the group, as `async with TaskGroup() as tg:`
/// does: a child's failure cancels the body too. Children (or anyone) can add tasks to
/// the group through a [`GroupSpawner`] ([`spawner`](Self::spawner)).
///
/// ```
/// use std::time::Duration;
/// use concur::{aio, TaskError};
///
/// aio::run(async {
///     let group = aio::TaskGroup::new();
///     let a = group.spawn(async { 1 });
///     let slow = group.spawn(aio::sleep(Duration::from_secs(3600)));
///     group.spawn(async { panic!("child failed") });
///     let err = group.join().await.unwrap_err();
///     assert_eq!(err, TaskError::Panicked("child failed".into())); // the one failure
///     assert_eq!(a.await, Ok(1));
///     assert_eq!(slow.await, Err(TaskError::Cancelled)); // cancelled by the failure
/// });
/// ```
pub struct TaskGroup {
    state: Rc<GroupState>,
}

#[derive(Default)]
struct GroupState {
    children: RefCell<Vec<Arc<dyn Control>>>,
    running: Cell<usize>,
    /// Every failure, in the order they happened.
    failures: RefCell<Vec<TaskError>>,
    /// Whoever waits for the group (`join`, `join_next`, `scope`).
    waker: Cell<Option<Waker>>,
    /// Children that finished and `join_next` has not reported: (task id, outcome).
    finished: RefCell<VecDeque<(u64, Result<(), TaskError>)>>,
    /// Joined or dropped: a task added now is cancelled at once.
    closed: Cell<bool>,
}

impl GroupState {
    fn cancel_all(&self) {
        let children = self.children.borrow().clone();
        for c in children {
            c.request_cancel();
        }
    }

    fn wake(&self) {
        if let Some(w) = self.waker.take() {
            w.wake();
        }
    }

    fn has_failed(&self) -> bool {
        !self.failures.borrow().is_empty()
    }

    /// Records a failure; the first one cancels the other children (and the body of a
    /// `scope`, which sees `has_failed`).
    ///
    /// As asyncio's `TaskGroup` does (its abort is a callback, run after the step of every
    /// task already scheduled), the cancellation waits for the children already scheduled
    /// in this turn of the loop to take their step: two children that fail in the same
    /// turn are both reported. Every other child is cancelled before its next step.
    fn fail(self: &Rc<Self>, err: TaskError) {
        let first = !self.has_failed();
        self.failures.borrow_mut().push(err);
        if first {
            let state = Rc::clone(self);
            // Behind every task scheduled now, in the loop's first-in, first-out queue.
            spawn(async move { state.cancel_all() });
        }
        self.wake();
    }

    /// Forgets the controls of children that have finished, so a long-lived group that
    /// keeps spawning does not keep every child's cell alive.
    fn prune(&self) {
        self.children.borrow_mut().retain(|c| !c.is_finished());
    }

    #[track_caller]
    fn start<F: Future + 'static>(
        self: &Rc<Self>,
        future: F,
        judge: Option<Judge<F::Output>>,
    ) -> Task<F::Output> {
        self.running.set(self.running.get() + 1);
        let id = Rc::new(Cell::new(0));
        let child = Child {
            future,
            state: Rc::clone(self),
            judge,
            id: Rc::clone(&id),
            outcome: None,
        };
        let task = spawn(child);
        id.set(task.id());
        if self.children.borrow().len() >= 64 {
            self.prune();
        }
        self.children.borrow_mut().push(task.control());
        if self.has_failed() || self.closed.get() {
            // The group already failed (or is over): a late child is cancelled at once.
            task.cancel();
        }
        task
    }

    /// Takes every failure recorded so far.
    fn outcome(&self) -> Result<(), TaskGroupError> {
        let errors = std::mem::take(&mut *self.failures.borrow_mut());
        if errors.is_empty() {
            Ok(())
        } else {
            Err(TaskGroupError { errors })
        }
    }

    /// `Ready` once no child runs.
    fn poll_all_done(&self, cx: &mut Context<'_>) -> Poll<()> {
        if self.running.get() == 0 {
            return Poll::Ready(());
        }
        self.waker.set(Some(cx.waker().clone()));
        Poll::Pending
    }
}

impl TaskGroup {
    /// An empty group.
    ///
    /// ```
    /// let group = concur::aio::TaskGroup::new();
    /// drop(group); // an empty group: nothing to wait for
    /// ```
    pub fn new() -> Self {
        TaskGroup {
            state: Rc::new(GroupState::default()),
        }
    }

    /// Starts `future` as a child task of the group; its handle can be awaited as usual.
    ///
    /// # Panics
    ///
    /// Outside of an event loop.
    ///
    /// ```
    /// use concur::aio;
    /// aio::run(async {
    ///     let group = aio::TaskGroup::new();
    ///     let child = group.spawn(async { 2 + 2 });
    ///     group.join().await.unwrap();
    ///     assert_eq!(child.await, Ok(4));
    /// });
    /// ```
    #[track_caller]
    pub fn spawn<F: Future + 'static>(&self, future: F) -> Task<F::Output> {
        self.state.start(future, None)
    }

    /// Starts a child whose `Err` counts as a failure, like an exception in asyncio's
    /// `TaskGroup`: the first child that panics or returns `Err` cancels the others, and
    /// [`join`](Self::join) reports it ([`TaskError::Failed`] with the error's message, or
    /// [`TaskError::Group`] when the error is an inner group's [`TaskGroupError`]).
    /// The child's own handle still gives the `Err` value itself.
    ///
    /// # Panics
    ///
    /// Outside of an event loop.
    ///
    /// ```
    /// use std::time::Duration;
    /// use concur::{aio, TaskError};
    /// aio::run(async {
    ///     let group = aio::TaskGroup::new();
    ///     let slow = group.spawn(aio::sleep(Duration::from_secs(3600)));
    ///     let bad = group.spawn_fallible(async { "x".parse::<u32>() });
    ///     let err = group.join().await.unwrap_err();
    ///     assert!(matches!(&err.errors()[0], TaskError::Failed(msg) if msg.contains("invalid digit")));
    ///     assert!(bad.await.unwrap().is_err());
    ///     assert_eq!(slow.await, Err(TaskError::Cancelled));
    /// });
    /// ```
    #[track_caller]
    pub fn spawn_fallible<T, E, F>(&self, future: F) -> Task<Result<T, E>>
    where
        E: fmt::Display + 'static,
        F: Future<Output = Result<T, E>> + 'static,
    {
        self.state.start(future, Some(judge_result::<T, E>))
    }

    /// A handle that adds tasks to this group from anywhere on the loop, a child
    /// included (asyncio's children call `tg.create_task` on their own group). It does
    /// not keep the group open: a task added once the group was joined or dropped is
    /// cancelled at once.
    ///
    /// ```
    /// use std::{cell::Cell, rc::Rc};
    /// use concur::aio;
    /// aio::run(async {
    ///     let group = aio::TaskGroup::new();
    ///     let spawner = group.spawner();
    ///     let count = Rc::new(Cell::new(0));
    ///     let c = count.clone();
    ///     group.spawn(async move {
    ///         c.set(c.get() + 1);
    ///         let c2 = c.clone();
    ///         spawner.spawn(async move { c2.set(c2.get() + 1) }); // a child adds a sibling
    ///     });
    ///     group.join().await.unwrap(); // waits for the sibling too
    ///     assert_eq!(count.get(), 2);
    /// });
    /// ```
    pub fn spawner(&self) -> GroupSpawner {
        GroupSpawner {
            state: Rc::clone(&self.state),
        }
    }

    /// Waits until every child has finished. `Err` with every failure if a child failed
    /// (the others were cancelled at the first); a child cancelled by its own handle is
    /// not a failure.
    ///
    /// ```
    /// use concur::aio;
    /// aio::run(async {
    ///     let group = aio::TaskGroup::new();
    ///     for i in 0..3 {
    ///         group.spawn(async move { aio::sleep(std::time::Duration::from_millis(i)).await });
    ///     }
    ///     assert_eq!(group.join().await, Ok(())); // all three finished
    /// });
    /// ```
    pub async fn join(self) -> Result<(), TaskGroupError> {
        poll_fn(|cx| self.state.poll_all_done(cx)).await;
        self.state.closed.set(true);
        self.state.outcome()
    }

    /// Runs `body` as the group's body and then waits for every child: asyncio's
    /// `async with TaskGroup() as tg: body`. The first failure of a child cancels the
    /// other children **and the body** (its future is dropped where it waits); a panic
    /// of the body cancels the children, waits for them, and goes on unwinding. `Ok` with
    /// the body's value if nothing failed; otherwise every failure.
    ///
    /// The body reaches the group through a [`spawner`](Self::spawner) taken before.
    ///
    /// ```
    /// use std::time::Duration;
    /// use concur::{aio, TaskError};
    /// aio::run(async {
    ///     let group = aio::TaskGroup::new();
    ///     let tg = group.spawner();
    ///     let out = group
    ///         .scope(async move {
    ///             tg.spawn(async { panic!("lost the connection") });
    ///             aio::sleep(Duration::from_secs(3600)).await; // cancelled by the failure
    ///             "never"
    ///         })
    ///         .await;
    ///     assert_eq!(out.unwrap_err(), TaskError::Panicked("lost the connection".into()));
    /// });
    /// ```
    pub async fn scope<F: Future>(self, body: F) -> Result<F::Output, TaskGroupError> {
        let mut body = pin!(Some(body));
        let mut value = None;
        let mut panic = None;
        poll_fn(|cx| {
            if let Some(fut) = body.as_mut().as_pin_mut() {
                if self.state.has_failed() {
                    // Cancelled by a child's failure: dropped in place, where it waits.
                    body.set(None);
                } else {
                    match catch_unwind(AssertUnwindSafe(|| fut.poll(cx))) {
                        Ok(Poll::Ready(v)) => {
                            value = Some(v);
                            body.set(None);
                        }
                        Ok(Poll::Pending) => {}
                        Err(payload) => {
                            body.set(None);
                            self.state.cancel_all();
                            panic = Some(payload);
                        }
                    }
                }
            }
            if body.is_some() {
                // The body runs on; children wake this future when they fail or end.
                self.state.waker.set(Some(cx.waker().clone()));
                return Poll::Pending;
            }
            self.state.poll_all_done(cx)
        })
        .await;
        self.state.closed.set(true);
        if let Some(payload) = panic {
            resume_unwind(payload);
        }
        self.state.outcome()?;
        Ok(value.expect("the body finished without failure"))
    }

    /// Waits for the next child to finish and says which (its [`Task::id`]) and how:
    /// `Ok(())` if it returned (its value stays with its own [`Task`] handle), or why it
    /// failed (a panic, an `Err` of a [`spawn_fallible`](Self::spawn_fallible) child, a
    /// cancellation). `None` once every child has finished and been reported: tokio's
    /// `JoinSet::join_next`.
    ///
    /// ```
    /// use concur::aio;
    /// aio::run(async {
    ///     let group = aio::TaskGroup::new();
    ///     let a = group.spawn(async { 1 });
    ///     let (id, outcome) = group.join_next().await.unwrap();
    ///     assert_eq!((id, outcome), (a.id(), Ok(())));
    ///     assert!(group.join_next().await.is_none());
    ///     assert_eq!(a.await, Ok(1));
    /// });
    /// ```
    pub async fn join_next(&self) -> Option<(u64, Result<(), TaskError>)> {
        poll_fn(|cx| {
            if let Some(next) = self.state.finished.borrow_mut().pop_front() {
                return Poll::Ready(Some(next));
            }
            if self.state.running.get() == 0 {
                return Poll::Ready(None);
            }
            self.state.waker.set(Some(cx.waker().clone()));
            Poll::Pending
        })
        .await
    }

    /// How many children are still running: tokio's `JoinSet::len`.
    ///
    /// ```
    /// use concur::aio;
    /// aio::run(async {
    ///     let group = aio::TaskGroup::new();
    ///     assert!(group.is_empty());
    ///     group.spawn(async {});
    ///     assert_eq!(group.len(), 1);
    ///     group.join().await.unwrap();
    /// });
    /// ```
    pub fn len(&self) -> usize {
        self.state.running.get()
    }

    /// `true` if no child is running.
    ///
    /// ```
    /// assert!(concur::aio::TaskGroup::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Cancels every child still running.
    ///
    /// ```
    /// use concur::{aio, TaskError};
    /// aio::run(async {
    ///     let group = aio::TaskGroup::new();
    ///     let child = group.spawn(std::future::pending::<()>());
    ///     group.cancel();
    ///     assert_eq!(child.await, Err(TaskError::Cancelled));
    /// });
    /// ```
    pub fn cancel(&self) {
        self.state.cancel_all();
    }
}

impl Default for TaskGroup {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TaskGroup {
    fn drop(&mut self) {
        self.state.closed.set(true);
        if self.state.running.get() > 0 {
            self.state.cancel_all();
        }
    }
}

impl fmt::Debug for TaskGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskGroup")
            .field("running", &self.state.running.get())
            .field("failures", &self.state.failures.borrow().len())
            .finish()
    }
}

/// Adds tasks to a [`TaskGroup`] from anywhere on its loop: see
/// [`TaskGroup::spawner`]. Cheap to clone.
///
/// ```
/// use concur::aio;
/// aio::run(async {
///     let group = aio::TaskGroup::new();
///     let s = group.spawner();
///     let t = s.spawn(async { 5 });
///     group.join().await.unwrap();
///     assert_eq!(t.await, Ok(5));
/// });
/// ```
#[derive(Clone)]
pub struct GroupSpawner {
    state: Rc<GroupState>,
}

impl GroupSpawner {
    /// [`TaskGroup::spawn`], on the group this spawner belongs to.
    ///
    /// # Panics
    ///
    /// Outside of an event loop.
    ///
    /// ```
    /// use concur::aio;
    /// aio::run(async {
    ///     let group = aio::TaskGroup::new();
    ///     let t = group.spawner().spawn(async { 'x' });
    ///     assert_eq!(group.len(), 1);
    ///     assert_eq!(t.await, Ok('x'));
    /// });
    /// ```
    #[track_caller]
    pub fn spawn<F: Future + 'static>(&self, future: F) -> Task<F::Output> {
        self.state.start(future, None)
    }

    /// [`TaskGroup::spawn_fallible`], on the group this spawner belongs to.
    ///
    /// # Panics
    ///
    /// Outside of an event loop.
    ///
    /// ```
    /// use concur::aio;
    /// aio::run(async {
    ///     let group = aio::TaskGroup::new();
    ///     group.spawner().spawn_fallible(async { Err::<(), _>("no route") });
    ///     assert_eq!(group.join().await.unwrap_err().errors().len(), 1);
    /// });
    /// ```
    #[track_caller]
    pub fn spawn_fallible<T, E, F>(&self, future: F) -> Task<Result<T, E>>
    where
        E: fmt::Display + 'static,
        F: Future<Output = Result<T, E>> + 'static,
    {
        self.state.start(future, Some(judge_result::<T, E>))
    }
}

impl fmt::Debug for GroupSpawner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GroupSpawner")
            .field("running", &self.state.running.get())
            .finish()
    }
}

/// Every failure of a [`TaskGroup`]'s children, in the order they happened: asyncio's
/// `ExceptionGroup`. Children cancelled because of the first failure are not failures
/// and are not listed. A group nested in another reports up as one failure of the outer
/// group, [`TaskError::Group`], which holds the inner group's failures.
///
/// As in asyncio, the first failure cancels the other children once those already
/// scheduled in the same turn of the loop have taken their step: children that fail in
/// that turn are listed too (two children that panic at once: two failures); every other
/// sibling is cancelled before its next step and cannot fail after. asyncio also lists a
/// failure raised by a cancelled child that catches its `CancelledError`; a Rust future
/// cannot do that (it is dropped where it waits; a panic in its drop is logged, not
/// raised). A child whose inner group failed, returning that group's error through
/// [`spawn_fallible`](TaskGroup::spawn_fallible), is listed as
/// [`TaskError::Group`] holding the inner failures, groups nesting as asyncio's
/// `ExceptionGroup`s do.
///
/// It dereferences to the first failure (the one that cancelled the rest), and compares
/// equal to a [`TaskError`] when that is its only failure.
///
/// ```
/// use concur::{aio, TaskError};
/// aio::run(async {
///     let group = aio::TaskGroup::new();
///     group.spawn(async { panic!("one") });
///     group.spawn(aio::sleep(std::time::Duration::from_secs(60))); // cancelled, not a failure
///     let err = group.join().await.unwrap_err();
///     assert_eq!(err.errors().len(), 1);
///     assert!(err.is_panic()); // the first failure, through Deref
///     assert_eq!(err, TaskError::Panicked("one".into()));
///     assert!(err.to_string().starts_with("1 task of the group failed: [1] "));
/// });
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskGroupError {
    errors: Vec<TaskError>,
}

impl TaskGroupError {
    /// Every failure, first first.
    ///
    /// ```
    /// use concur::aio;
    /// aio::run(async {
    ///     let group = aio::TaskGroup::new();
    ///     group.spawn_fallible(async { Err::<(), _>("bad") });
    ///     let err = group.join().await.unwrap_err();
    ///     assert_eq!(err.errors(), [concur::TaskError::Failed("bad".into())]);
    /// });
    /// ```
    pub fn errors(&self) -> &[TaskError] {
        &self.errors
    }

    /// Every failure, by value.
    ///
    /// ```
    /// use concur::aio;
    /// aio::run(async {
    ///     let group = aio::TaskGroup::new();
    ///     group.spawn_fallible(async { Err::<(), _>("bad") });
    ///     let errors = group.join().await.unwrap_err().into_errors();
    ///     assert_eq!(errors.len(), 1);
    /// });
    /// ```
    pub fn into_errors(self) -> Vec<TaskError> {
        self.errors
    }
}

impl Deref for TaskGroupError {
    type Target = TaskError;

    /// The first failure.
    fn deref(&self) -> &TaskError {
        &self.errors[0]
    }
}

impl PartialEq<TaskError> for TaskGroupError {
    fn eq(&self, other: &TaskError) -> bool {
        self.errors.len() == 1 && self.errors[0] == *other
    }
}

impl fmt::Display for TaskGroupError {
    /// ```
    /// use concur::aio;
    /// aio::run(async {
    ///     let group = aio::TaskGroup::new();
    ///     group.spawn_fallible(async { Err::<(), _>("disk full") });
    ///     let err = group.join().await.unwrap_err();
    ///     assert_eq!(err.to_string(), "1 task of the group failed: [1] task failed: disk full");
    /// });
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.errors.len();
        write!(
            f,
            "{n} task{} of the group failed:",
            if n == 1 { "" } else { "s" }
        )?;
        for (i, e) in self.errors.iter().enumerate() {
            write!(f, " [{}] {e}", i + 1)?;
            if i + 1 < n {
                f.write_str(";")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for TaskGroupError {}

impl From<TaskGroupError> for TaskError {
    /// One failure stays itself; several become one [`TaskError::Group`] holding them.
    ///
    /// ```
    /// use concur::{aio, TaskError};
    /// aio::run(async {
    ///     let group = aio::TaskGroup::new();
    ///     group.spawn(async { panic!("x") });
    ///     let err: TaskError = group.join().await.unwrap_err().into();
    ///     assert!(err.is_panic());
    /// });
    /// ```
    fn from(mut e: TaskGroupError) -> TaskError {
        if e.errors.len() == 1 {
            e.errors.pop().expect("one error")
        } else {
            TaskError::Group(e)
        }
    }
}

/// Says whether a child's output is a failure, and which.
type Judge<T> = fn(&T) -> Option<TaskError>;

/// An `Err` is [`TaskError::Failed`] with its message, or, when it is an inner group's
/// [`TaskGroupError`], that group nested whole ([`TaskError::Group`]).
fn judge_result<T, E: fmt::Display + 'static>(out: &Result<T, E>) -> Option<TaskError> {
    let err = out.as_ref().err()?;
    Some(
        match (err as &dyn std::any::Any).downcast_ref::<TaskGroupError>() {
            Some(group) => TaskError::Group(group.clone()),
            None => TaskError::Failed(err.to_string()),
        },
    )
}

/// A child's future: reports a panic (or an output its judge calls a failure) to the
/// group, and leaves it when done or dropped.
struct Child<F: Future> {
    future: F,
    state: Rc<GroupState>,
    judge: Option<Judge<F::Output>>,
    /// Its task's id, set once spawned.
    id: Rc<Cell<u64>>,
    /// How it ended, once it has: reported to `join_next` when it is dropped.
    outcome: Option<Result<(), TaskError>>,
}

impl<F: Future> Future for Child<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: `future` is structurally pinned (never moved out, dropped in place);
        // `state` is not pinned.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: as above.
        let future = unsafe { Pin::new_unchecked(&mut this.future) };
        match catch_unwind(AssertUnwindSafe(|| future.poll(cx))) {
            Ok(Poll::Ready(out)) => {
                this.outcome = Some(Ok(()));
                if let Some(err) = this.judge.and_then(|judge| judge(&out)) {
                    this.outcome = Some(Err(err.clone()));
                    this.state.fail(err);
                }
                Poll::Ready(out)
            }
            Ok(Poll::Pending) => Poll::Pending,
            Err(payload) => {
                let err = TaskError::Panicked(PanicMessage::caught(&*payload));
                this.outcome = Some(Err(err.clone()));
                this.state.fail(err);
                resume_unwind(payload)
            }
        }
    }
}

impl<F: Future> Drop for Child<F> {
    fn drop(&mut self) {
        // Dropped before it ended: cancelled (by the group, its handle or the loop).
        let outcome = self.outcome.take().unwrap_or(Err(TaskError::Cancelled));
        self.state
            .finished
            .borrow_mut()
            .push_back((self.id.get(), outcome));
        self.state.running.set(self.state.running.get() - 1);
        // `join` waits for the last, `join_next` for each.
        self.state.wake();
    }
}
