//! Structured concurrency and selection over tasks: [`TaskGroup`], [`shield`],
//! [`wait`], [`as_completed`].

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fmt;
use std::future::{poll_fn, Future};
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use super::combinators::Woken;
use super::runtime::spawn;
use super::task::{Control, Task};
use super::time::sleep;
use crate::handle::{PanicMessage, ReturnWhen, TaskError, Waited};

/// A group of tasks that ends together: asyncio's `TaskGroup`. No child outlives it:
/// [`join`](Self::join) waits for all of them, and dropping the group without joining
/// cancels those still running. The first child that panics (or, if started with
/// [`spawn_fallible`](Self::spawn_fallible), returns `Err`) cancels the others, and `join`
/// reports it.
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
///     assert_eq!(err, TaskError::Panicked("child failed".into()));
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
    failure: RefCell<Option<TaskError>>,
    waker: Cell<Option<Waker>>,
    /// Children that finished and `join_next` has not reported: (task id, outcome).
    finished: RefCell<VecDeque<(u64, Result<(), TaskError>)>>,
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
        self.start(future, None)
    }

    /// Starts a child whose `Err` counts as a failure, like an exception in asyncio's
    /// `TaskGroup`: the first child that panics or returns `Err` cancels the others, and
    /// [`join`](Self::join) reports it ([`TaskError::Failed`] with the error's message).
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
    ///     assert!(matches!(err, TaskError::Failed(msg) if msg.contains("invalid digit")));
    ///     assert!(bad.await.unwrap().is_err());
    ///     assert_eq!(slow.await, Err(TaskError::Cancelled));
    /// });
    /// ```
    #[track_caller]
    pub fn spawn_fallible<T, E, F>(&self, future: F) -> Task<Result<T, E>>
    where
        E: fmt::Display,
        F: Future<Output = Result<T, E>> + 'static,
    {
        self.start(
            future,
            Some(|out: &Result<T, E>| out.as_ref().err().map(E::to_string)),
        )
    }

    #[track_caller]
    fn start<F: Future + 'static>(
        &self,
        future: F,
        judge: Option<Judge<F::Output>>,
    ) -> Task<F::Output> {
        let state = Rc::clone(&self.state);
        state.running.set(state.running.get() + 1);
        let id = Rc::new(Cell::new(0));
        let child = Child {
            future,
            state: Rc::clone(&state),
            judge,
            id: Rc::clone(&id),
            outcome: None,
        };
        let task = spawn(child);
        id.set(task.id());
        state.children.borrow_mut().push(task.control());
        if state.failure.borrow().is_some() {
            // The group already failed: a late child is cancelled at once.
            task.cancel();
        }
        task
    }

    /// Waits until every child has finished. `Err` with the first failure if a child
    /// failed (the others were cancelled then).
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
    pub async fn join(self) -> Result<(), TaskError> {
        poll_fn(|cx| {
            if self.state.running.get() == 0 {
                return Poll::Ready(());
            }
            self.state.waker.set(Some(cx.waker().clone()));
            Poll::Pending
        })
        .await;
        match self.state.failure.borrow_mut().take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
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
        if self.state.running.get() > 0 {
            self.state.cancel_all();
        }
    }
}

impl fmt::Debug for TaskGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskGroup")
            .field("running", &self.state.running.get())
            .finish()
    }
}

/// Says whether a child's output is a failure, and why.
type Judge<T> = fn(&T) -> Option<String>;

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

impl GroupState {
    /// Records the group's first failure and cancels the other children.
    fn fail(&self, err: TaskError) {
        if self.failure.borrow().is_none() {
            *self.failure.borrow_mut() = Some(err);
            // The others: the failing child (the one running now) keeps its outcome.
            let children = self.children.borrow().clone();
            for c in children.iter().filter(|c| !c.is_busy()) {
                c.request_cancel();
            }
            self.wake();
        }
    }
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
                if let Some(why) = this.judge.and_then(|judge| judge(&out)) {
                    this.outcome = Some(Err(TaskError::Failed(why.clone())));
                    this.state.fail(TaskError::Failed(why));
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

/// Protects `future` from the cancellation of whoever awaits it: `asyncio.shield`. It
/// runs as its own task; if the awaiting future is dropped, that task goes on.
///
/// ```
/// use std::{cell::Cell, rc::Rc, time::Duration};
/// use concur::aio;
///
/// aio::run(async {
///     let saved = Rc::new(Cell::new(false));
///     let s = saved.clone();
///     let critical = aio::shield(async move {
///         aio::sleep(Duration::from_millis(5)).await;
///         s.set(true);
///     });
///     // The caller gives up after 1 ms; the shielded work still completes.
///     let _ = aio::timeout(Duration::from_millis(1), critical).await;
///     aio::sleep(Duration::from_millis(20)).await;
///     assert!(saved.get());
/// });
/// ```
#[track_caller]
pub fn shield<F: Future + 'static>(future: F) -> Task<F::Output> {
    spawn(future)
}

/// Waits until the condition `when` holds for `tasks`, or `timeout` passes:
/// `asyncio.wait`. Returns which finished (indices); the outcomes stay in the tasks.
///
/// ```
/// use std::time::Duration;
/// use concur::{aio, ReturnWhen};
///
/// aio::run(async {
///     let tasks = vec![
///         aio::spawn(aio::sleep(Duration::from_secs(3600))),
///         aio::spawn(aio::sleep(Duration::from_millis(1))),
///     ];
///     let w = aio::wait(&tasks, ReturnWhen::FirstCompleted, None).await;
///     assert_eq!((w.done, w.not_done), (vec![1], vec![0]));
/// });
/// ```
pub async fn wait<T>(tasks: &[Task<T>], when: ReturnWhen, timeout: Option<Duration>) -> Waited {
    let mut deadline = timeout.map(sleep);
    poll_fn(|cx| {
        let mut all = true;
        let mut hit = false;
        for t in tasks {
            if t.poll_finished(cx).is_ready() {
                hit |= match when {
                    ReturnWhen::FirstCompleted => true,
                    ReturnWhen::FirstError => t.is_failed(),
                    ReturnWhen::AllCompleted => false,
                };
            } else {
                all = false;
            }
        }
        if hit || all {
            return Poll::Ready(());
        }
        let expired = deadline
            .as_mut()
            .is_some_and(|d| Pin::new(d).poll(cx).is_ready());
        if expired {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
    let (done, not_done) = (0..tasks.len()).partition(|&i| tasks[i].is_finished());
    Waited { done, not_done }
}

/// Yields `(index, outcome)` for each task as it finishes: asyncio's `as_completed`.
///
/// ```
/// use std::time::Duration;
/// use concur::aio;
///
/// aio::run(async {
///     let tasks = (0..3u64).map(|i| aio::spawn(async move {
///         aio::sleep(Duration::from_millis(10 * (3 - i))).await;
///         i
///     }));
///     let mut done = aio::as_completed(tasks);
///     let mut order = Vec::new();
///     while let Some((i, outcome)) = done.next().await {
///         assert_eq!(outcome, Ok(i as u64));
///         order.push(i);
///     }
///     assert_eq!(order, [2, 1, 0]);
/// });
/// ```
pub fn as_completed<T>(tasks: impl IntoIterator<Item = Task<T>>) -> AsCompleted<T> {
    let tasks: Vec<Option<Task<T>>> = tasks.into_iter().map(Some).collect();
    AsCompleted {
        woken: Woken::new(tasks.len()),
        left: tasks.len(),
        tasks,
    }
}

/// The stream of [`as_completed`]; call [`next`](Self::next) until it returns `None`.
///
/// ```
/// use concur::aio;
/// aio::run(async {
///     let mut done = aio::as_completed(vec![aio::spawn(async { 1 }), aio::spawn(async { 2 })]);
///     let mut sum = 0;
///     while let Some((_, outcome)) = done.next().await {
///         sum += outcome.unwrap();
///     }
///     assert_eq!(sum, 3);
/// });
/// ```
pub struct AsCompleted<T> {
    tasks: Vec<Option<Task<T>>>,
    /// Which tasks were woken since the last look: only those are polled.
    woken: Woken,
    left: usize,
}

impl<T> AsCompleted<T> {
    /// The next task to finish, with its index in the input; `None` when all are done.
    ///
    /// ```
    /// use concur::aio;
    /// aio::run(async {
    ///     let mut done = aio::as_completed([aio::spawn(async { 'a' })]);
    ///     assert_eq!(done.next().await, Some((0, Ok('a'))));
    ///     assert_eq!(done.next().await, None);
    /// });
    /// ```
    pub async fn next(&mut self) -> Option<(usize, Result<T, TaskError>)> {
        if self.left == 0 {
            return None;
        }
        poll_fn(|cx| {
            let mut ready = self.woken.take(cx.waker()).into_iter();
            while let Some(i) = ready.next() {
                let Some(task) = &mut self.tasks[i] else {
                    continue;
                };
                let mut cx_i = Context::from_waker(self.woken.waker(i));
                if let Poll::Ready(outcome) = Pin::new(task).poll(&mut cx_i) {
                    self.tasks[i] = None;
                    self.left -= 1;
                    self.woken.put_back(ready);
                    return Poll::Ready(Some((i, outcome)));
                }
            }
            Poll::Pending
        })
        .await
    }
}

impl<T> fmt::Debug for AsCompleted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsCompleted")
            .field("left", &self.left)
            .finish()
    }
}
