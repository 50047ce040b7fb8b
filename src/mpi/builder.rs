//! [`MpiPoolBuilder`]: the settings of an [`MpiPoolExecutor`](super::MpiPoolExecutor).

use std::fmt;
use std::time::Duration;

use super::MpiPoolExecutor;
use crate::Error;

/// Everything the builder decided.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) workers_per_rank: Option<usize>,
    pub(crate) task_timeout: Option<Duration>,
    pub(crate) hello_timeout: Duration,
    /// How long a rank may stay silent before the others count it lost.
    pub(crate) silence: Duration,
}

/// The settings of an [`MpiPoolExecutor`], from [`MpiPoolExecutor::builder`].
///
/// Every rank runs the same program, so every rank evaluates the builder: an agent uses
/// its own values for its local pool (a value computed from the host, say the number of
/// its CPUs, is that host's).
///
/// ```no_run
/// use std::time::Duration;
/// let pool = concur::mpi::MpiPoolExecutor::builder()
///     .workers_per_rank(4)
///     .task_timeout(Duration::from_secs(60))
///     .world()
///     .unwrap();
/// # drop(pool);
/// ```
pub struct MpiPoolBuilder {
    config: Config,
}

impl Default for MpiPoolBuilder {
    fn default() -> Self {
        MpiPoolBuilder {
            config: Config {
                workers_per_rank: None,
                task_timeout: None,
                hello_timeout: Duration::from_secs(60),
                silence: Duration::from_secs(10),
            },
        }
    }
}

impl MpiPoolBuilder {
    /// Worker processes of each agent's local pool (default: one per CPU of its host).
    ///
    /// ```no_run
    /// let pool = concur::mpi::MpiPoolExecutor::builder().workers_per_rank(2).world().unwrap();
    /// # drop(pool);
    /// ```
    pub fn workers_per_rank(mut self, n: usize) -> Self {
        self.config.workers_per_rank = Some(n);
        self
    }

    /// A time limit for each task, enforced by the agent's local pool as
    /// [`ProcessPoolBuilder::task_timeout`](crate::ProcessPoolBuilder::task_timeout) is:
    /// the task fails with [`TaskError::TimedOut`](crate::TaskError::TimedOut), its
    /// worker is replaced.
    ///
    /// ```no_run
    /// let pool = concur::mpi::MpiPoolExecutor::builder()
    ///     .task_timeout(std::time::Duration::from_secs(10))
    ///     .world()
    ///     .unwrap();
    /// # drop(pool);
    /// ```
    pub fn task_timeout(mut self, limit: Duration) -> Self {
        self.config.task_timeout = Some(limit);
        self
    }

    /// How long rank 0 waits for every other rank to join (default 60 s). A rank that
    /// has not joined by then (it never calls `world()`, say) makes rank 0 abort the
    /// whole job with a message naming it: a pool cannot start without it, and MPI
    /// cannot be finalised while it runs.
    ///
    /// ```no_run
    /// let pool = concur::mpi::MpiPoolExecutor::builder()
    ///     .join_timeout(std::time::Duration::from_secs(300))
    ///     .world()
    ///     .unwrap();
    /// # drop(pool);
    /// ```
    pub fn join_timeout(mut self, limit: Duration) -> Self {
        self.config.hello_timeout = limit;
        self
    }

    /// How long a rank may be silent before the others count it lost (default 10 s;
    /// every rank's MPI thread sends a heartbeat twice a second when it has nothing else
    /// to send). Rank 0 then resolves every task that rank held with
    /// [`TaskError::WorkerDied`](crate::TaskError::WorkerDied) and goes on with the
    /// other ranks; an agent whose rank 0 is silent kills its workers and exits. This
    /// matters only where the job survives a dead rank (`mpirun --enable-recovery`):
    /// under a default `mpirun`, a dead rank ends the whole job within seconds.
    ///
    /// ```no_run
    /// let pool = concur::mpi::MpiPoolExecutor::builder()
    ///     .rank_timeout(std::time::Duration::from_secs(30))
    ///     .world()
    ///     .unwrap();
    /// # drop(pool);
    /// ```
    pub fn rank_timeout(mut self, limit: Duration) -> Self {
        self.config.silence = limit;
        self
    }

    /// Joins the ranks of this MPI job into a pool: see [`MpiPoolExecutor::world`].
    ///
    /// # Errors
    ///
    /// As [`MpiPoolExecutor::world`]; also [`Error::InvalidArgument`] if
    /// `workers_per_rank` is zero.
    ///
    /// ```no_run
    /// let pool = concur::mpi::MpiPoolExecutor::builder().world().unwrap();
    /// # drop(pool);
    /// ```
    pub fn world(self) -> Result<MpiPoolExecutor, Error> {
        if self.config.silence < 2 * super::link::HEARTBEAT {
            return Err(Error::InvalidArgument(format!(
                "rank_timeout must be at least twice the heartbeat period ({:?})",
                super::link::HEARTBEAT
            )));
        }
        if self.config.workers_per_rank == Some(0) {
            return Err(Error::InvalidArgument(
                "workers_per_rank must be at least 1".to_owned(),
            ));
        }
        MpiPoolExecutor::from_config(self.config)
    }
}

impl fmt::Debug for MpiPoolBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MpiPoolBuilder")
            .field("workers_per_rank", &self.config.workers_per_rank)
            .field("task_timeout", &self.config.task_timeout)
            .field("join_timeout", &self.config.hello_timeout)
            .field("rank_timeout", &self.config.silence)
            .finish()
    }
}
