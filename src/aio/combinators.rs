//! Small tools of the task toolkit: [`yield_now`], [`gather`], [`to_thread`].

use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};

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
    std::future::poll_fn(move |cx| {
        let mut pending = false;
        for slot in &mut slots {
            if let Slot::Running(f) = slot {
                // SAFETY: the futures live in `slots`, which is owned by this closure
                // (itself pinned inside the async fn's state) and never resized, so they
                // do not move until dropped.
                let f = unsafe { Pin::new_unchecked(f) };
                match f.poll(cx) {
                    Poll::Ready(v) => *slot = Slot::Done(v),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
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
