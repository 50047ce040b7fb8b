//! [`Task`]: a future spawned on the loop, and the cell the loop polls it in.
//!
//! One allocation per task: an `Arc` holding the cell's [`Header`] (the task's id, its
//! scheduling flags, see `schedule.rs`, and the loop's shared half: what a waker needs,
//! from any thread) and the loop-only part (the future or its outcome, the joiner's
//! waker, flags), which only the loop's thread touches. The task's `Waker` is that same
//! `Arc` through a vtable of our own, so a poll needs no waker of its own and no
//! reference-count traffic.
//!
//! What may reach another thread is a waker, and through it the last reference: see
//! `TaskCell`'s `Drop` for why the loop-only part is empty by then.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::mem::ManuallyDrop;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

use super::introspect::TaskName;
use super::runtime::Header;
use crate::handle::TaskError;

/// Where a task is in its life.
enum Stage<F: Future> {
    /// Not finished: the future, pinned in the cell.
    Running(F),
    /// Finished; the outcome waits for the `Task` handle (if any) to take it.
    /// (The error is boxed: errors are rare, and a small cell is a cheap allocation.)
    Finished(Result<F::Output, Box<TaskError>>),
    /// The outcome was taken, or dropped with a detached handle.
    Consumed,
}

/// The loop's view of a task, types erased.
pub(super) trait Runnable: Control {
    /// The id, scheduling flags and loop of the task.
    fn header(&self) -> &Header;
    /// Polls the future once, with the task's own waker. `true` when the task is finished
    /// (or was cancelled).
    ///
    /// # Safety
    ///
    /// `this` is `Arc::as_ptr` of a live `Arc` of this very cell, kept alive during the
    /// call (the task's waker is made from it).
    unsafe fn poll_task(&self, this: *const ()) -> bool;
    /// Drops the future (on the loop thread) and records `err` as the outcome.
    fn abort(&self, err: TaskError);
}

/// A task: what wakers need (`header`, touched from any thread) and what only the loop's
/// thread touches (the rest).
pub(super) struct TaskCell<F: Future> {
    header: Header,
    /// Its name, if it has one (the rest of its record is in the loop's slab).
    name: Option<Box<TaskName>>,
    stage: ManuallyDrop<RefCell<Stage<F>>>,
    /// The waker of whoever awaits the `Task` handle.
    join_waker: Cell<Option<Waker>>,
    /// The handle was dropped: the outcome is dropped as soon as it exists.
    detached: Cell<bool>,
    /// Cancellation was requested; the loop drops the future at its next turn.
    cancel_requested: Cell<bool>,
}

impl<F: Future + 'static> TaskCell<F> {
    /// A new task cell, in its one allocation.
    pub(super) fn new(header: Header, name: Option<Box<TaskName>>, future: F) -> Arc<Self> {
        // `TaskCell` is neither `Send` nor `Sync`: only its wakers (our vtable below) and
        // their last reference may reach other threads, and that is argued there.
        #[allow(clippy::arc_with_non_send_sync)]
        Arc::new(TaskCell {
            header,
            name,
            stage: ManuallyDrop::new(RefCell::new(Stage::Running(future))),
            join_waker: Cell::new(None),
            detached: Cell::new(false),
            cancel_requested: Cell::new(false),
        })
    }

    // The task's `Waker`: the `Arc`'s own pointer with this vtable. Every waker of the
    // task is made by `raw_waker`, so all of them compare equal (`Waker::will_wake`).
    const VTABLE: RawWakerVTable = RawWakerVTable::new(
        Self::clone_waker,
        Self::wake,
        Self::wake_by_ref,
        Self::drop_waker,
    );

    fn raw_waker(cell: *const Self) -> RawWaker {
        RawWaker::new(cell.cast(), &Self::VTABLE)
    }

    /// A waker that borrows the reference of the `Arc` that `cell` comes from: no count is
    /// taken, and it must not be dropped (hence `ManuallyDrop`); clones of it take their
    /// own count.
    ///
    /// # Safety
    ///
    /// `cell` comes from `Arc::as_ptr` of a live `Arc<TaskCell<F>>` (with the provenance
    /// of the whole allocation: the vtable reaches the counts through it), and the waker
    /// does not outlive that `Arc`.
    unsafe fn borrowed_waker(cell: *const Self) -> ManuallyDrop<Waker> {
        // SAFETY: per the contract, the pointer is what `Arc::into_raw` would give, as the
        // vtable expects; the vtable's functions keep the contract of `RawWakerVTable`
        // (see each). Not dropping it leaves the count alone.
        ManuallyDrop::new(unsafe { Waker::from_raw(Self::raw_waker(cell)) })
    }

    // SAFETY (for the four functions below): `ptr` comes from `raw_waker` on a live
    // `Arc<TaskCell<F>>` whose count includes one for this waker (or, for the borrowed
    // waker, whose count the poll's owner holds). They touch only `header`, which is made
    // of atomics and an `Arc<Shared>` (safe from any thread), and the reference count.
    // The last count may so be released on another thread: see `Drop` below.
    unsafe fn clone_waker(ptr: *const ()) -> RawWaker {
        // SAFETY: see above; the new waker owns the count taken here.
        unsafe { Arc::increment_strong_count(ptr.cast::<Self>()) };
        Self::raw_waker(ptr.cast())
    }

    unsafe fn wake(ptr: *const ()) {
        // SAFETY: see above.
        unsafe { Self::wake_by_ref(ptr) };
        // SAFETY: see above; this consumes the waker's count.
        unsafe { Self::drop_waker(ptr) };
    }

    unsafe fn wake_by_ref(ptr: *const ()) {
        // SAFETY: see above: the cell is alive while the waker is.
        let cell = unsafe { &*ptr.cast::<Self>() };
        cell.header.schedule();
    }

    unsafe fn drop_waker(ptr: *const ()) {
        // SAFETY: see above; releases the waker's count.
        unsafe { Arc::decrement_strong_count(ptr.cast::<Self>()) };
    }
}

impl<F: Future> Drop for TaskCell<F> {
    fn drop(&mut self) {
        // The last reference may be a waker's, released on any thread. By then the loop
        // has dropped the future (`finish`, at the latest when `run` shuts the loop down)
        // and the outcome was taken or dropped by the `Task` handle (which never leaves
        // the loop's thread, and detaches when dropped): the stage is `Consumed`, and
        // dropping it touches nothing thread-bound. An outcome still here means the last
        // reference went on the loop's thread (the handle's or the loop's own).
        let stage = self.stage.get_mut();
        let consumed = matches!(stage, Stage::Consumed);
        if consumed || self.header.on_loop_thread() {
            let stage = &mut self.stage;
            // A panic in the drop is logged: it would otherwise unwind out of whatever
            // released the last reference (the loop, a handle's drop, a waker's).
            drop_logged(
                // SAFETY: dropped once, here, in place (a running future is pinned); if the
                // drop panics, the stage counts as dropped all the same.
                AssertUnwindSafe(|| unsafe { ManuallyDrop::drop(stage) }),
                "a task's future or output",
            );
        } else if matches!(stage, Stage::Finished(_)) {
            // Not expected (see above); an outcome is not pinned, so it can be leaked
            // rather than dropped on a thread it may not belong to.
            log::error!("concur::aio: a task's outcome outlived its loop's thread; leaked");
        } else {
            // A future still running here would be dropped on the wrong thread, or its
            // memory freed without its drop (breaking `Pin`): neither may happen.
            eprintln!(
                "concur::aio: internal error: a running task's last reference was released \
                 on another thread than its loop's"
            );
            std::process::abort();
        }
    }
}

/// Runs `f`, a drop, logging rather than raising a panic in it (`what` names what was
/// dropped): a value the loop drops for nobody in particular (a detached task's output, a
/// cancelled future) must not make `run` fail, nor stop the loop. tokio does the same.
fn drop_logged(f: impl FnOnce() + std::panic::UnwindSafe, what: &str) {
    if let Err(payload) = catch_unwind(f) {
        log::error!(
            "concur::aio: dropping {what} panicked: {}",
            crate::handle::panic_message(&*payload)
        );
        // A payload whose own drop panics is leaked rather than raised.
        if let Err(again) = catch_unwind(AssertUnwindSafe(move || drop(payload))) {
            std::mem::forget(again);
        }
    }
}

impl<F: Future> TaskCell<F> {
    fn finish(&self, outcome: Result<F::Output, TaskError>) {
        // A detached task's outcome is dropped here, once nothing is borrowed.
        let (next, orphan) = if self.detached.get() {
            (Stage::Consumed, Some(outcome))
        } else {
            (Stage::Finished(outcome.map_err(Box::new)), None)
        };
        let mut stage = self.stage.borrow_mut();
        if let Stage::Running(fut) = &mut *stage {
            // The future was pinned where it lies, so `Pin` requires that it be dropped
            // right there: never moved out first. Its drop runs while the stage is
            // borrowed; code in that drop which asks about this task finds it "not
            // finished" (see `is_finished`), and a handle polled from there waits.
            let fut: *mut F = fut;
            // SAFETY: `fut` points at the live future inside the stage, which we hold
            // borrowed. It is dropped exactly once, here, in place; if its drop panics it
            // counts as dropped all the same. The stage is then overwritten with `write`,
            // which does not drop the old value again.
            let dropped =
                catch_unwind(AssertUnwindSafe(|| unsafe { std::ptr::drop_in_place(fut) }));
            // SAFETY: the stage's only owned value (the future) was dropped just above;
            // writing over it leaks nothing and drops nothing twice.
            unsafe { std::ptr::write(&mut *stage, next) };
            drop(stage);
            if let Err(payload) = dropped {
                log::error!(
                    "concur::aio: dropping a finished or cancelled task's future panicked: {}",
                    crate::handle::panic_message(&*payload)
                );
            }
        } else {
            // Not running (finished before): nothing pinned is left to drop.
            *stage = next;
        }
        if let Some(w) = self.join_waker.take() {
            w.wake();
        }
        if let Some(outcome) = orphan {
            drop_logged(
                AssertUnwindSafe(move || drop(outcome)),
                "a detached task's output",
            );
        }
    }
}

impl<F: Future + 'static> Runnable for TaskCell<F> {
    fn header(&self) -> &Header {
        &self.header
    }

    unsafe fn poll_task(&self, this: *const ()) -> bool {
        // SAFETY: per this function's contract.
        let waker = unsafe { Self::borrowed_waker(this.cast()) };
        let mut cx = Context::from_waker(&waker);
        let cx = &mut cx;
        if self.cancel_requested.get() {
            self.abort(TaskError::Cancelled);
            return true;
        }
        self.poll_stage(cx)
    }

    fn abort(&self, err: TaskError) {
        let running = self
            .stage
            .try_borrow()
            .is_ok_and(|s| matches!(*s, Stage::Running(_)));
        if running {
            self.finish(Err(err));
        }
    }
}

impl<F: Future + 'static> TaskCell<F> {
    /// Polls the future once; `true` when the task is finished.
    fn poll_stage(&self, cx: &mut Context<'_>) -> bool {
        let polled = {
            let mut stage = self.stage.borrow_mut();
            let Stage::Running(fut) = &mut *stage else {
                return true;
            };
            // SAFETY: the future lives in the cell, which is behind an `Arc` and never
            // moves; it is only ever dropped in place (by `finish`, with `drop_in_place`,
            // or with the cell itself).
            let fut = unsafe { Pin::new_unchecked(fut) };
            catch_unwind(AssertUnwindSafe(|| fut.poll(cx)))
        };
        match polled {
            Ok(Poll::Pending) => false,
            Ok(Poll::Ready(v)) => {
                // A task whose cancellation was accepted (`cancel()` returned `true`, from
                // its own body or a waker it triggered) ends cancelled, whatever its body
                // returned: asyncio's rule, and what `cancel`'s docs promise.
                if self.cancel_requested.get() {
                    self.finish(Err(TaskError::Cancelled));
                    drop_logged(
                        AssertUnwindSafe(move || drop(v)),
                        "a cancelled task's output",
                    );
                } else {
                    self.finish(Ok(v));
                }
                true
            }
            Err(payload) => {
                self.finish(Err(TaskError::from_panic(payload)));
                true
            }
        }
    }
}

/// What a task group or `wait` needs of a task, whatever its output type.
pub(super) trait Control {
    fn is_finished(&self) -> bool;
    /// `true` if finished with an error (a panic or a cancellation).
    fn is_failed(&self) -> bool;
    /// Registers `cx`'s waker to be woken when the task finishes; `Ready` if it has.
    fn poll_finished(&self, cx: &mut Context<'_>) -> Poll<()>;
    fn request_cancel(&self) -> bool;
    /// `true` while the task's future is being polled or dropped (its own code is running).
    fn is_busy(&self) -> bool;
    /// The task's id in its loop.
    fn id(&self) -> u64;
    /// `true` once cancellation was requested (and accepted).
    fn is_cancelling(&self) -> bool;
    /// The task's name, if it has one.
    fn name(&self) -> Option<&str>;
}

/// What a [`Task`] handle needs of its cell.
pub(super) trait Output<T>: Control {
    fn poll_output(&self, cx: &mut Context<'_>) -> Poll<Result<T, TaskError>>;
    fn detach(&self);
}

impl<F: Future> Control for TaskCell<F> {
    fn is_finished(&self) -> bool {
        // Borrowed: the task is being polled or torn down right now (this is its own
        // code asking), so it has not finished.
        self.stage
            .try_borrow()
            .is_ok_and(|s| !matches!(*s, Stage::Running(_)))
    }

    fn is_failed(&self) -> bool {
        self.stage
            .try_borrow()
            .is_ok_and(|s| matches!(*s, Stage::Finished(Err(_))))
    }

    fn poll_finished(&self, cx: &mut Context<'_>) -> Poll<()> {
        if self.is_finished() {
            return Poll::Ready(());
        }
        self.join_waker.set(Some(cx.waker().clone()));
        Poll::Pending
    }

    fn is_busy(&self) -> bool {
        self.stage.try_borrow().is_err()
    }

    fn id(&self) -> u64 {
        self.header.id()
    }

    fn is_cancelling(&self) -> bool {
        self.cancel_requested.get()
    }

    fn name(&self) -> Option<&str> {
        self.name.as_deref().map(|n| n.0.as_str())
    }

    fn request_cancel(&self) -> bool {
        if self.is_finished() || self.cancel_requested.get() {
            return false;
        }
        self.cancel_requested.set(true);
        self.header.schedule();
        true
    }
}

impl<F: Future> Output<F::Output> for TaskCell<F> {
    fn poll_output(&self, cx: &mut Context<'_>) -> Poll<Result<F::Output, TaskError>> {
        // Borrowed: the task is being polled or its future dropped right now, and this is
        // that code asking; the outcome does not exist yet.
        let Ok(mut stage) = self.stage.try_borrow_mut() else {
            // Polled with this very task's waker while its future runs: the task awaits
            // its own handle, and would wait for itself forever. asyncio raises "Task
            // cannot await on itself" there; this panics in the task, which ends it with
            // that message. (A future's drop polling the handle has no such waker, and
            // waits; a panic is not raised again while one unwinds.)
            if cx.waker().data() == (self as *const Self).cast() && !std::thread::panicking() {
                panic!(
                    "concur::aio: a task cannot await its own handle (task {}): it would \
                     wait for itself forever",
                    self.header.id()
                );
            }
            self.join_waker.set(Some(cx.waker().clone()));
            return Poll::Pending;
        };
        if matches!(&*stage, Stage::Running(_)) {
            // The future stays where it is: it is pinned.
            self.join_waker.set(Some(cx.waker().clone()));
            return Poll::Pending;
        }
        match std::mem::replace(&mut *stage, Stage::Consumed) {
            Stage::Finished(outcome) => Poll::Ready(outcome.map_err(|e| *e)),
            _ => panic!("concur: a Task was polled again after it returned its outcome"),
        }
    }

    fn detach(&self) {
        self.detached.set(true);
        let outcome = match self.stage.try_borrow_mut() {
            // An outcome is not pinned: it may be moved out, and dropped unborrowed.
            Ok(mut stage) if matches!(&*stage, Stage::Finished(_)) => {
                Some(std::mem::replace(&mut *stage, Stage::Consumed))
            }
            _ => None,
        };
        if let Some(outcome) = outcome {
            // Dropped for nobody: a panic in it is logged, not raised in the handle's
            // owner (which may be any task, or `run`'s main future).
            drop_logged(
                AssertUnwindSafe(move || drop(outcome)),
                "a detached task's output",
            );
        }
    }
}

/// A future running on the event loop: asyncio's `Task`, from [`spawn`](super::spawn).
///
/// Await it for the outcome ([`TaskError::Panicked`] if the future panicked,
/// [`TaskError::Cancelled`] if it was cancelled). Dropping the handle detaches the task:
/// it keeps running. A `Task` belongs to its loop's thread.
///
/// ```
/// use concur::aio;
///
/// let out = aio::run(async {
///     let t = aio::spawn(async { 40 + 2 });
///     t.await
/// });
/// assert_eq!(out, Ok(42));
/// ```
pub struct Task<T> {
    // Not `Send`: `dyn Output<T>` is neither `Send` nor `Sync`, so the handle (and with it
    // the outcome) stays on the loop's thread.
    cell: Arc<dyn Output<T>>,
}

impl<T> Task<T> {
    pub(super) fn new(cell: Arc<dyn Output<T>>) -> Self {
        Task { cell }
    }

    /// The task's controls, whatever its output type.
    pub(super) fn control(&self) -> Arc<dyn Control>
    where
        T: 'static,
    {
        self.cell.clone()
    }

    /// `true` if the task finished with an error (a panic or a cancellation).
    pub(super) fn is_failed(&self) -> bool {
        self.cell.is_failed()
    }

    /// Registers to be woken when the task finishes, without taking its outcome.
    pub(super) fn poll_finished(&self, cx: &mut Context<'_>) -> Poll<()> {
        self.cell.poll_finished(cx)
    }

    /// Requests cancellation: the future is dropped at the loop's next turn (at the await
    /// point where it is suspended) and the task's outcome becomes
    /// [`TaskError::Cancelled`]. Returns `false` if it had already finished or was already
    /// cancelled.
    ///
    /// ```
    /// use std::time::Duration;
    /// use concur::{aio, TaskError};
    ///
    /// aio::run(async {
    ///     let t = aio::spawn(aio::sleep(Duration::from_secs(3600)));
    ///     assert!(t.cancel());
    ///     assert_eq!(t.await, Err(TaskError::Cancelled));
    /// });
    /// ```
    pub fn cancel(&self) -> bool {
        self.cell.request_cancel()
    }

    /// `true` once the task has finished (or been cancelled).
    ///
    /// ```
    /// use concur::aio;
    /// aio::run(async {
    ///     let t = aio::spawn(async {});
    ///     aio::yield_now().await;
    ///     assert!(t.is_finished());
    /// });
    /// ```
    pub fn is_finished(&self) -> bool {
        self.cell.is_finished()
    }

    /// The task's id: unique among the loop's live tasks (tokio's `Task::id`).
    ///
    /// ```
    /// use concur::aio;
    /// aio::run(async {
    ///     let a = aio::spawn(async {});
    ///     let b = aio::spawn(async {});
    ///     assert_ne!(a.id(), b.id());
    /// });
    /// ```
    pub fn id(&self) -> u64 {
        self.cell.id()
    }

    /// `true` once cancellation was requested and the task has not finished yet:
    /// asyncio's `Task.cancelling()` (as a flag: a Rust task is cancelled at most once).
    ///
    /// ```
    /// use std::time::Duration;
    /// use concur::aio;
    /// aio::run(async {
    ///     let t = aio::spawn(aio::sleep(Duration::from_secs(3600)));
    ///     assert!(!t.is_cancelling());
    ///     t.cancel();
    ///     assert!(t.is_cancelling());
    ///     let _ = t.await;
    /// });
    /// ```
    pub fn is_cancelling(&self) -> bool {
        self.cell.is_cancelling() && !self.cell.is_finished()
    }

    /// The task's name, if it was given one ([`Builder::name`](super::Builder::name)):
    /// asyncio's `Task.get_name()`.
    ///
    /// ```
    /// use concur::aio;
    /// aio::run(async {
    ///     let t = aio::Builder::new().name("fetcher").spawn(async {});
    ///     assert_eq!(t.name(), Some("fetcher"));
    ///     assert_eq!(aio::spawn(async {}).name(), None);
    /// });
    /// ```
    pub fn name(&self) -> Option<&str> {
        self.cell.name()
    }

    /// The same task as an untyped [`TaskRef`](super::TaskRef), as
    /// [`current_task`](super::current_task) and [`all_tasks`](super::all_tasks) give it.
    ///
    /// ```
    /// use concur::aio;
    /// aio::run(async {
    ///     let t = aio::spawn(async {});
    ///     assert_eq!(t.as_ref().id(), t.id());
    /// });
    /// ```
    pub fn as_ref(&self) -> super::TaskRef
    where
        T: 'static,
    {
        super::TaskRef::of(self.cell.clone())
    }
}

impl<T> Future for Task<T> {
    type Output = Result<T, TaskError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let polled = self.cell.poll_output(cx);
        if polled.is_pending() {
            super::introspect::note_awaiting(super::introspect::Awaiting::Task(self.cell.id()));
        }
        polled
    }
}

impl<T> Drop for Task<T> {
    fn drop(&mut self) {
        self.cell.detach();
    }
}

impl<T> fmt::Debug for Task<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        super::introspect::debug_task(f, &*self.cell)
    }
}
