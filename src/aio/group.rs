//! Selection over tasks: [`shield`], [`wait`], [`as_completed`] (structured
//! concurrency, `TaskGroup`, is in `task_group.rs`).

use std::fmt;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use super::combinators::Woken;
use super::runtime::spawn;
use super::task::Task;
use super::time::sleep;
use crate::handle::{ReturnWhen, TaskError, Waited};

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
