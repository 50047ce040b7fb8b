//! Small tools of the task toolkit: [`yield_now`], [`gather`], [`to_thread`].

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Wake, Waker};

use crate::sync::{lock, Mutex};
use crate::{JoinHandle, ThreadPoolExecutor};

/// Yields the thread to the other ready tasks once: `await asyncio.sleep(0)`.
///
/// ```
/// use std::{cell::RefCell, rc::Rc};
/// use concur::aio;
///
/// let log = aio::run(async {
///     let log = Rc::new(RefCell::new(Vec::new()));
///     let l = log.clone();
///     let other = aio::spawn(async move { l.borrow_mut().push("other") });
///     aio::yield_now().await; // lets `other` run
///     log.borrow_mut().push("main");
///     other.await.unwrap();
///     Rc::try_unwrap(log).unwrap().into_inner()
/// });
/// assert_eq!(log, ["other", "main"]);
/// ```
pub fn yield_now() -> YieldNow {
    YieldNow { yielded: false }
}

/// The future of [`yield_now`].
///
/// ```
/// concur::aio::run(concur::aio::yield_now());
/// ```
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct YieldNow {
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// Runs the futures concurrently on the current task and returns their outputs in input
/// order: `asyncio.gather`. The futures need not be `'static` (they are not spawned).
///
/// ```
/// use std::time::Duration;
/// use concur::aio;
///
/// let out = aio::run(aio::gather((1..=3u64).map(|i| async move {
///     aio::sleep(Duration::from_millis(10 * (4 - i))).await; // the last finishes first
///     i * 10
/// })));
/// assert_eq!(out, [10, 20, 30]);
/// ```
pub async fn gather<F: Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let mut slots: Vec<Slot<F>> = futures.into_iter().map(Slot::Running).collect();
    let woken = Woken::new(slots.len());
    let mut left = slots.len();
    std::future::poll_fn(move |cx| {
        for i in woken.take(cx.waker()) {
            if let Slot::Running(f) = &mut slots[i] {
                // SAFETY: the futures live in `slots`' buffer, which this closure owns and
                // never resizes, so they do not move until dropped in place.
                let f = unsafe { Pin::new_unchecked(f) };
                if let Poll::Ready(v) = f.poll(&mut Context::from_waker(woken.waker(i))) {
                    slots[i] = Slot::Done(v);
                    left -= 1;
                }
            }
        }
        if left > 0 {
            return Poll::Pending;
        }
        Poll::Ready(
            slots
                .drain(..)
                .map(|s| match s {
                    Slot::Done(v) => v,
                    Slot::Running(_) => unreachable!("all finished"),
                })
                .collect(),
        )
    })
    .await
}

enum Slot<F: Future> {
    Running(F),
    Done(F::Output),
}

/// Which of many futures were woken, so a combinator polls only those: each future gets
/// its own waker, which records its index and wakes the combinator's task. Polling all of
/// them on every wake-up would make `n` futures cost `O(n²)`.
pub(super) struct Woken {
    shared: Arc<WokenShared>,
    wakers: Vec<Waker>,
}

struct WokenShared {
    indices: Mutex<Vec<usize>>,
    parent: Mutex<Option<Waker>>,
}

struct IndexWaker {
    shared: Arc<WokenShared>,
    index: usize,
}

impl Wake for IndexWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        lock(&self.shared.indices).push(self.index);
        let parent = lock(&self.shared.parent).clone();
        if let Some(w) = parent {
            w.wake();
        }
    }
}

impl Woken {
    /// `n` futures, all to be polled first.
    pub(super) fn new(n: usize) -> Self {
        let shared = Arc::new(WokenShared {
            indices: Mutex::new((0..n).collect()),
            parent: Mutex::new(None),
        });
        let wakers = (0..n)
            .map(|index| {
                Waker::from(Arc::new(IndexWaker {
                    shared: Arc::clone(&shared),
                    index,
                }))
            })
            .collect();
        Woken { shared, wakers }
    }

    /// Records `parent` as the task to wake, then takes the indices woken so far.
    pub(super) fn take(&self, parent: &Waker) -> Vec<usize> {
        {
            let mut p = lock(&self.shared.parent);
            match &*p {
                Some(w) if w.will_wake(parent) => {}
                _ => *p = Some(parent.clone()),
            }
        }
        std::mem::take(&mut *lock(&self.shared.indices))
    }

    /// Puts back indices taken but not handled yet.
    pub(super) fn put_back(&self, indices: impl IntoIterator<Item = usize>) {
        lock(&self.shared.indices).extend(indices);
    }

    /// The waker of future `i`.
    pub(super) fn waker(&self, i: usize) -> &Waker {
        &self.wakers[i]
    }
}

/// The pool behind [`to_thread`]: Python's default executor, `min(32, cpus + 4)` threads.
fn default_pool() -> &'static ThreadPoolExecutor {
    static POOL: OnceLock<ThreadPoolExecutor> = OnceLock::new();
    POOL.get_or_init(|| {
        ThreadPoolExecutor::builder()
            .thread_name_prefix("concur-to-thread")
            .build()
    })
}

/// Runs blocking `f` on the default thread pool and returns its handle, to `.await` in
/// the loop: `asyncio.to_thread`. The loop keeps serving other tasks meanwhile.
///
/// ```
/// use concur::aio;
///
/// let n = aio::run(async {
///     aio::to_thread(|| std::fs::read_dir(".").map(|d| d.count()).unwrap_or(0)).await
/// });
/// assert!(n.unwrap() > 0);
/// ```
pub fn to_thread<T, F>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    default_pool().submit(f)
}
