//! A task of an [`MpiPoolExecutor`](super::MpiPoolExecutor) as rank 0 sees it: the cell
//! behind its [`JoinHandle`](crate::JoinHandle), and the message that describes it to an
//! agent, kept until it is sent.

use std::sync::{Arc, Weak};

use serde::de::DeserializeOwned;

use super::dispatch::Shared;
use crate::handle::{Core, TaskCell, TaskError};
use crate::process::remote::{self, Reply};

/// What the dispatcher needs of a task, whatever its result type.
pub(crate) trait Remote: Send + Sync {
    /// Moves the task to running as it is sent to an agent; `false` if it was cancelled
    /// first.
    fn start(&self) -> bool;
    /// Delivers the outcome of a started task; called once per started task (its
    /// in-flight entry is the proof, under the dispatcher's lock).
    fn finish(&self, outcome: Result<Reply, TaskError>);
    /// Fails a task that has not started, if it still can be.
    fn abort(&self, err: TaskError);
}

/// A task waiting on rank 0 for an agent with room.
pub(crate) struct Job {
    pub(crate) id: u64,
    /// The complete task message.
    pub(crate) message: Vec<u8>,
    pub(crate) task: Arc<dyn Remote>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job")
            .field("id", &self.id)
            .field("bytes", &self.message.len())
            .finish()
    }
}

/// The cell behind an MPI task's handle: the reply is decoded into a `T` on arrival.
pub(crate) struct MpiTask<T> {
    core: Core<T>,
    id: u64,
    pool: Weak<Shared>,
}

impl<T> MpiTask<T> {
    pub(crate) fn new(id: u64, pool: Weak<Shared>) -> Self {
        MpiTask {
            core: Core::with_tag(0),
            id,
            pool,
        }
    }
}

impl<T: DeserializeOwned + Send + 'static> Remote for MpiTask<T> {
    fn start(&self) -> bool {
        self.core.start()
    }

    fn finish(&self, outcome: Result<Reply, TaskError>) {
        let result = outcome.and_then(remote::decode_reply::<T>);
        // SAFETY: the dispatcher calls `finish` once per task whose `start` succeeded.
        unsafe { self.core.finish(result) };
    }

    fn abort(&self, err: TaskError) {
        if self.core.start() {
            // SAFETY: this call's `start` just succeeded.
            unsafe { self.core.finish(Err(err)) };
        }
    }
}

impl<T: DeserializeOwned + Send + 'static> TaskCell<T> for MpiTask<T> {
    fn core(&self) -> &Core<T> {
        &self.core
    }

    fn cancel(&self) -> bool {
        if self.core.cancel(|| {}) {
            return true;
        }
        if self.core.is_finished() {
            return false;
        }
        // On an agent: the dispatcher resolves it now and tells the agent to stop it.
        self.pool
            .upgrade()
            .is_some_and(|pool| pool.cancel_running(self.id))
    }
}
