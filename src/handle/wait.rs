//! Waiting on many handles at once: [`wait`] (`concurrent.futures.wait`) and
//! [`as_completed`]. Neither polls: each registers with every task and parks until a
//! finishing task wakes it.

use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

use super::{JoinHandle, Notify, TaskError};
use crate::sync::{cv_wait, lock, thread, Arc, AtomicBool, AtomicUsize, Condvar, Mutex, Ordering};

/// When [`wait`] returns: Python's `FIRST_COMPLETED`, `FIRST_EXCEPTION`, `ALL_COMPLETED`.
///
/// ```
/// use concur::{wait, ReturnWhen, ThreadPoolExecutor};
/// let pool = ThreadPoolExecutor::new(2);
/// let hs = vec![pool.submit(|| 1), pool.submit(|| 2)];
/// let w = wait(&hs, ReturnWhen::AllCompleted, None);
/// assert_eq!(w.done.len(), 2);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReturnWhen {
    /// As soon as any task has finished.
    FirstCompleted,
    /// As soon as any task has finished with an error (a panic, a cancellation, ...), or
    /// when all have finished.
    FirstError,
    /// When every task has finished.
    AllCompleted,
}

/// What [`wait`] found: indices into the slice it was given, each in ascending order.
///
/// ```
/// use concur::{wait, ReturnWhen, ThreadPoolExecutor};
/// let pool = ThreadPoolExecutor::new(1);
/// let hs = vec![pool.submit(|| ())];
/// let w = wait(&hs, ReturnWhen::AllCompleted, None);
/// assert_eq!((w.done, w.not_done), (vec![0], vec![]));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Waited {
    /// Indices of the handles that had finished when `wait` returned.
    pub done: Vec<usize>,
    /// Indices of the handles that had not.
    pub not_done: Vec<usize>,
}

/// Blocks until the condition `when` holds for `handles`, or `timeout` passes, and says
/// which finished: `concurrent.futures.wait`. Outcomes stay in the handles.
///
/// Called on a pool's worker without a timeout, it first runs that pool's not-yet-started
/// tasks among `handles` itself, so a task waiting on others never deadlocks its pool.
///
/// ```
/// use std::time::Duration;
/// use concur::{wait, ReturnWhen, ThreadPoolExecutor};
///
/// let pool = ThreadPoolExecutor::new(2);
/// let (tx, rx) = std::sync::mpsc::channel::<()>();
/// let hs = vec![pool.submit(move || { rx.recv().ok(); 1 }), pool.submit(|| 2)];
/// let w = wait(&hs, ReturnWhen::FirstCompleted, None);
/// assert_eq!(w.done, vec![1]);
/// let w = wait(&hs, ReturnWhen::AllCompleted, Some(Duration::from_millis(10)));
/// assert_eq!(w.not_done, vec![0]); // timed out: the first is still blocked
/// tx.send(()).unwrap();
/// ```
pub fn wait<T>(handles: &[JoinHandle<T>], when: ReturnWhen, timeout: Option<Duration>) -> Waited {
    let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
    // Running a task inline could outlast a timeout: only untimed waits help.
    if timeout.is_none() && crate::thread::on_worker_thread() {
        for h in handles {
            if satisfied(handles, when) {
                break;
            }
            h.cell().run_inline();
        }
    }
    if !satisfied(handles, when) {
        block_until(handles, when, deadline);
    }
    let (done, not_done) = (0..handles.len()).partition(|&i| handles[i].is_finished());
    Waited { done, not_done }
}

/// Checks the condition directly (one pass over the handles).
fn satisfied<T>(handles: &[JoinHandle<T>], when: ReturnWhen) -> bool {
    let mut all = true;
    for h in handles {
        match h.core().failed() {
            Some(true) if when == ReturnWhen::FirstError => return true,
            Some(_) if when == ReturnWhen::FirstCompleted => return true,
            Some(_) => {}
            None => all = false,
        }
    }
    all
}

fn block_until<T>(handles: &[JoinHandle<T>], when: ReturnWhen, deadline: Option<Instant>) {
    let latch = Arc::new(Latch {
        when,
        remaining: AtomicUsize::new(handles.len()),
        fired: AtomicBool::new(false),
        thread: thread::current(),
    });
    let mut keys = Vec::with_capacity(handles.len());
    for (i, h) in handles.iter().enumerate() {
        match h.core().add_notify(latch.clone(), i) {
            Some(key) => keys.push((i, key)),
            None => latch.arrive(h.core().failed() == Some(true)),
        }
    }
    if deadline.is_none() && !latch.fired.load(Ordering::Acquire) {
        super::assert_may_block();
    }
    while !latch.fired.load(Ordering::Acquire) {
        match deadline {
            None => thread::park(),
            Some(deadline) => {
                let now = Instant::now();
                if now >= deadline {
                    break;
                }
                #[cfg(not(concur_loom))]
                thread::park_timeout(deadline - now);
                #[cfg(concur_loom)]
                thread::yield_now();
            }
        }
    }
    for (i, key) in keys {
        handles[i].core().unregister(key);
    }
}

/// Counts finishing tasks for one `wait` call and unparks it when its condition holds.
struct Latch {
    when: ReturnWhen,
    remaining: AtomicUsize,
    fired: AtomicBool,
    thread: thread::Thread,
}

impl Latch {
    fn arrive(&self, failed: bool) {
        let last = self.remaining.fetch_sub(1, Ordering::AcqRel) == 1;
        let fire = match self.when {
            ReturnWhen::FirstCompleted => true,
            ReturnWhen::FirstError => failed || last,
            ReturnWhen::AllCompleted => last,
        };
        if fire && !self.fired.swap(true, Ordering::AcqRel) {
            self.thread.unpark();
        }
    }
}

impl Notify for Latch {
    fn notify(&self, _index: usize, failed: bool) {
        self.arrive(failed);
    }
}

/// Yields `(index, outcome)` for each handle as it finishes, in completion order:
/// `concurrent.futures.as_completed`. `index` is the handle's position in the input.
///
/// Called on a pool's worker, it runs that pool's not-yet-started tasks itself rather
/// than wait for them, so it never deadlocks its own pool.
///
/// ```
/// use concur::{as_completed, ThreadPoolExecutor};
///
/// let pool = ThreadPoolExecutor::new(4);
/// let handles: Vec<_> = (0..8u64).map(|i| pool.submit(move || i * i)).collect();
/// let mut seen: Vec<(usize, u64)> = as_completed(handles)
///     .map(|(i, r)| (i, r.unwrap()))
///     .collect();
/// seen.sort();
/// assert_eq!(seen[3], (3, 9));
/// ```
pub fn as_completed<T>(handles: impl IntoIterator<Item = JoinHandle<T>>) -> AsCompleted<T> {
    let handles: Vec<Option<JoinHandle<T>>> = handles.into_iter().map(Some).collect();
    let ready = Arc::new(ReadyQueue {
        queue: Mutex::new((VecDeque::new(), false)),
        cv: Condvar::new(),
    });
    let mut keys = Vec::with_capacity(handles.len());
    for (i, h) in handles.iter().enumerate() {
        let core = h.as_ref().expect("just built").core();
        match core.add_notify(ready.clone(), i) {
            Some(key) => keys.push(Some(key)),
            None => {
                lock(&ready.queue).0.push_back(i);
                keys.push(None);
            }
        }
    }
    AsCompleted {
        left: handles.len(),
        handles,
        keys,
        ready,
        deadline: None,
    }
}

/// The iterator returned by [`as_completed`]. Dropping it detaches the handles not yet
/// yielded (their tasks still run).
///
/// ```
/// use concur::{as_completed, ThreadPoolExecutor};
/// let pool = ThreadPoolExecutor::new(2);
/// let done = as_completed(vec![pool.submit(|| 1), pool.submit(|| 2)]);
/// assert_eq!(done.len(), 2);
/// let total: i32 = done.map(|(_, r)| r.unwrap()).sum();
/// assert_eq!(total, 3);
/// ```
pub struct AsCompleted<T> {
    handles: Vec<Option<JoinHandle<T>>>,
    keys: Vec<Option<u64>>,
    ready: Arc<ReadyQueue>,
    left: usize,
    /// Set by [`AsCompleted::timeout`]: iteration ends here.
    deadline: Option<Instant>,
}

/// Indices of finished handles, pushed by the finishing threads.
struct ReadyQueue {
    /// The indices, and whether the consumer is parked on `cv`.
    queue: Mutex<(VecDeque<usize>, bool)>,
    cv: Condvar,
}

impl Notify for ReadyQueue {
    fn notify(&self, index: usize, _failed: bool) {
        let mut q = lock(&self.queue);
        q.0.push_back(index);
        if q.1 {
            self.cv.notify_one();
        }
    }
}

impl<T> AsCompleted<T> {
    /// Ends the iteration at `d` from now: `concurrent.futures.as_completed(fs, timeout)`.
    /// Handles that finished by then are still yielded; once none is ready and the
    /// deadline has passed, `next` returns `None` (every time), and
    /// [`into_pending`](Self::into_pending) hands back the handles not yielded, so no
    /// outcome is lost (Python raises `TimeoutError` and the caller keeps its futures).
    /// With a timeout, [`len`](ExactSizeIterator::len) counts the handles not yet
    /// yielded, which the iteration may end before.
    ///
    /// ```
    /// use std::time::Duration;
    /// use concur::{as_completed, wait, ReturnWhen, ThreadPoolExecutor};
    ///
    /// let pool = ThreadPoolExecutor::new(2);
    /// let (tx, rx) = std::sync::mpsc::channel::<()>();
    /// let slow = pool.submit(move || rx.recv().is_ok());
    /// let fast = pool.submit(|| true);
    /// wait(std::slice::from_ref(&fast), ReturnWhen::AllCompleted, None);
    /// let mut done = as_completed(vec![fast, slow]).timeout(Duration::from_millis(10));
    /// assert_eq!(done.next().map(|(i, r)| (i, r.unwrap())), Some((0, true)));
    /// assert!(done.next().is_none()); // the deadline passed
    /// let pending = done.into_pending();
    /// assert_eq!(pending.len(), 1);
    /// drop(tx);
    /// let (i, slow) = pending.into_iter().next().unwrap();
    /// assert_eq!((i, slow.join().unwrap()), (1, false));
    /// ```
    #[must_use]
    pub fn timeout(mut self, d: Duration) -> Self {
        self.deadline = Instant::now().checked_add(d);
        self
    }

    /// Stops the iteration and hands back, with its index in the input, every handle not
    /// yielded yet (finished or not), in input order.
    ///
    /// ```
    /// use concur::{as_completed, ThreadPoolExecutor};
    ///
    /// let pool = ThreadPoolExecutor::new(2);
    /// let mut done = as_completed(vec![pool.submit(|| 1), pool.submit(|| 2)]);
    /// let (first, _) = done.next().unwrap();
    /// let pending = done.into_pending();
    /// assert_eq!(pending.len(), 1);
    /// assert_ne!(pending[0].0, first);
    /// ```
    pub fn into_pending(mut self) -> Vec<(usize, JoinHandle<T>)> {
        let handles = std::mem::take(&mut self.handles);
        let keys = std::mem::take(&mut self.keys);
        self.left = 0;
        handles
            .into_iter()
            .zip(keys)
            .enumerate()
            .filter_map(|(i, (h, key))| {
                let h = h?;
                if let Some(key) = key {
                    h.core().unregister(key);
                }
                Some((i, h))
            })
            .collect()
    }

    /// On a pool worker: runs one not-yet-started task of its pool here. `true` if one ran.
    fn help(&self) -> bool {
        crate::thread::on_worker_thread()
            && self.handles.iter().flatten().any(|h| h.cell().run_inline())
    }

    /// The next finished index; `None` once the deadline (if any) has passed first.
    fn next_index(&mut self) -> Option<usize> {
        loop {
            let mut q = lock(&self.ready.queue);
            if let Some(i) = q.0.pop_front() {
                return Some(i);
            }
            drop(q);
            if self.deadline.is_some_and(|d| Instant::now() >= d) {
                return None;
            }
            if self.help() {
                continue;
            }
            q = lock(&self.ready.queue);
            if q.0.is_empty() && self.deadline.is_none() {
                drop(q);
                super::assert_may_block();
                q = lock(&self.ready.queue);
            }
            while q.0.is_empty() {
                let Some(deadline) = self.deadline else {
                    q.1 = true;
                    q = cv_wait(&self.ready.cv, q);
                    q.1 = false;
                    continue;
                };
                let now = Instant::now();
                if now >= deadline {
                    return None;
                }
                q.1 = true;
                #[cfg(not(concur_loom))]
                {
                    q = match self.ready.cv.wait_timeout(q, deadline - now) {
                        Ok((g, _)) => g,
                        Err(p) => p.into_inner().0,
                    };
                }
                #[cfg(concur_loom)]
                {
                    drop(q);
                    thread::yield_now();
                    q = lock(&self.ready.queue);
                }
                q.1 = false;
            }
        }
    }
}

impl<T> Iterator for AsCompleted<T> {
    type Item = (usize, Result<T, TaskError>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        let i = self.next_index()?;
        self.left -= 1;
        self.keys[i] = None;
        let h = self.handles[i]
            .take()
            .expect("concur: as_completed saw a task finish twice");
        Some((i, h.join()))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl<T> ExactSizeIterator for AsCompleted<T> {}

impl<T> Drop for AsCompleted<T> {
    fn drop(&mut self) {
        for (h, key) in self.handles.iter().zip(&self.keys) {
            if let (Some(h), Some(key)) = (h, key) {
                h.core().unregister(*key);
            }
        }
    }
}

impl<T> fmt::Debug for AsCompleted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsCompleted")
            .field("left", &self.left)
            .finish_non_exhaustive()
    }
}
