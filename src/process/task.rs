//! A process-pool task as the parent sees it: the handle's [`Core`], the frame that
//! describes the task to a worker (kept until the task ends, to run it again elsewhere if
//! its worker dies before starting it), and the way back from a result frame to a value.

use std::os::fd::OwnedFd;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;

use super::codec;
use super::pool::Shared;
use super::protocol::Status;
use crate::handle::{Core, PanicMessage, TaskCell, TaskError};

/// How long a thread about to block on a short task looks for its result first.
const SPIN: Duration = Duration::from_micros(50);

/// How a task that ran (or was meant to) ended, as the pool learned it.
#[derive(Debug)]
pub(crate) enum Outcome<'a> {
    /// The worker sent a result frame.
    Reply {
        status: Status,
        payload: &'a [u8],
        fds: Vec<OwnedFd>,
    },
    /// The pool ended it: worker death, timeout, cancellation, shutdown, broken pool.
    Failed(TaskError),
}

/// What the pool needs of a task, whatever its result type.
pub(crate) trait Pending: Send + Sync {
    /// Moves the task to running; `false` if it was cancelled first.
    fn start(&self) -> bool;
    /// Delivers the outcome of a started task. The pool calls it exactly once per started
    /// task (its in-flight entry is the proof, under the pool's lock).
    fn finish(&self, outcome: Outcome<'_>);
    /// Fails a task that has not started, if it still can be.
    fn abort(&self, err: TaskError);
    /// `true` once the handle has its outcome.
    fn is_finished(&self) -> bool;
}

/// A task on its way to, or back from, a worker.
pub(crate) struct Job {
    pub(crate) id: u64,
    /// The complete task frame.
    pub(crate) frame: Vec<u8>,
    /// The descriptors the argument carries, sent along with the frame.
    pub(crate) fds: Vec<OwnedFd>,
    pub(crate) task: Arc<dyn Pending>,
    /// `true` once `task.start()` has succeeded (it is back in the queue after its worker
    /// died before running it).
    pub(crate) started: bool,
    pub(crate) timeout: Option<Duration>,
    /// The items it carries: 1 for a task, the chunk's length for a chunk of a `map`.
    pub(crate) items: u64,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job")
            .field("id", &self.id)
            .field("bytes", &self.frame.len())
            .field("fds", &self.fds.len())
            .field("started", &self.started)
            .finish()
    }
}

impl Job {
    /// Ends the job with `err`, started or not.
    pub(crate) fn fail(self, err: TaskError) {
        if self.started {
            self.task.finish(Outcome::Failed(err));
        } else {
            self.task.abort(err);
        }
    }
}

/// The cell behind a process pool's [`JoinHandle`](crate::JoinHandle).
pub(crate) struct ProcTask<R> {
    core: Core<R>,
    id: u64,
    pool: Weak<Shared>,
}

impl<R> ProcTask<R> {
    pub(crate) fn new(id: u64, pool: Weak<Shared>) -> Self {
        ProcTask {
            core: Core::with_tag(0),
            id,
            pool,
        }
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

impl<R: DeserializeOwned + Send + 'static> Pending for ProcTask<R> {
    fn start(&self) -> bool {
        self.core.start()
    }

    fn finish(&self, outcome: Outcome<'_>) {
        let result = match outcome {
            Outcome::Reply {
                status: Status::Ok,
                payload,
                fds,
            } => {
                // The result type's `Deserialize` is user code: contain its panics here,
                // on the pool's thread.
                match catch_unwind(AssertUnwindSafe(|| codec::decode::<R>(payload, fds))) {
                    Ok(Ok(value)) => Ok(value),
                    Ok(Err(e)) => Err(TaskError::Serialization(format!(
                        "the result could not be decoded (type {}): {e}",
                        std::any::type_name::<R>()
                    ))),
                    Err(p) => Err(TaskError::from_panic(p)),
                }
            }
            Outcome::Reply {
                status: Status::Panicked,
                payload,
                ..
            } => Err(TaskError::Panicked(PanicMessage::from_wire(text(payload)))),
            Outcome::Reply {
                status: Status::Serialization,
                payload,
                ..
            } => Err(TaskError::Serialization(text(payload))),
            Outcome::Failed(e) => Err(e),
        };
        // SAFETY: the pool calls `finish` once per task whose `start` succeeded.
        unsafe { self.core.finish(result) };
    }

    fn abort(&self, err: TaskError) {
        if self.core.start() {
            // SAFETY: this call's `start` just succeeded.
            unsafe { self.core.finish(Err(err)) };
        }
    }

    fn is_finished(&self) -> bool {
        self.core.is_finished()
    }
}

impl<R: DeserializeOwned + Send + 'static> TaskCell<R> for ProcTask<R> {
    fn core(&self) -> &Core<R> {
        &self.core
    }

    fn before_block(&self) {
        let Some(pool) = self.pool.upgrade() else {
            return;
        };
        if !pool.expect_soon() {
            return;
        }
        drop(pool);
        let began = Instant::now();
        while !self.core.is_finished() && began.elapsed() < SPIN {
            std::thread::yield_now();
        }
    }

    fn cancel(&self) -> bool {
        if self.core.cancel(|| {}) {
            return true;
        }
        if self.core.is_finished() {
            return false;
        }
        // Running on a worker (or queued again after its worker died): the pool stops it.
        self.pool
            .upgrade()
            .is_some_and(|pool| pool.cancel_running(self.id))
    }
}
