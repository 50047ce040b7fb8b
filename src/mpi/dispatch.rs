//! Rank 0's side: the queue of tasks not sent yet, what each agent holds, and the loop of
//! rank 0's MPI thread that sends tasks to agents with room and delivers their results.
//!
//! Flow control is by credit: an agent holds at most `capacity` tasks (a few per local
//! worker), so everything else waits here, encoded, and a million queued tasks cost the
//! agents nothing. A task goes to the agent with the lowest share of its capacity in use.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::thread::Thread;
use std::time::Duration;

use mpi::topology::Rank;

use super::link::{Backoff, Incoming, Link, HEARTBEAT};
use super::task::{Job, Remote};
use super::wire::{self, FromAgent};
use crate::handle::TaskError;
use crate::process::remote::Reply;

/// Tasks an agent holds per local worker: enough that its workers never wait for the
/// next task to cross the network, few enough that a queue stays on rank 0.
pub(crate) const CREDITS_PER_WORKER: usize = 8;

/// A task and the outcome an agent sent for it, to deliver outside the lock.
type Delivery = (Arc<dyn Remote>, Result<Reply, TaskError>);

/// A task an agent holds.
struct Flight {
    /// `None` once the task was resolved here (cancelled, shut down): the agent's result
    /// for it only returns the credit.
    task: Option<Arc<dyn Remote>>,
}

/// What rank 0 knows of one agent.
pub(crate) struct Agent {
    pub(crate) rank: Rank,
    pub(crate) workers: usize,
    capacity: usize,
    in_flight: HashMap<u64, Flight>,
    /// Set when it broke the protocol: it gets no more tasks.
    lost: Option<String>,
    /// It said goodbye.
    gone: bool,
}

impl Agent {
    pub(crate) fn new(rank: Rank, workers: usize) -> Agent {
        Agent {
            rank,
            workers,
            capacity: workers.max(1) * CREDITS_PER_WORKER,
            in_flight: HashMap::new(),
            lost: None,
            gone: false,
        }
    }
}

/// How the executor is being shut down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Close {
    /// Every submitted task finishes first.
    Wait,
    /// Tasks not sent to an agent yet fail with `Shutdown`; the others finish.
    CancelPending,
    /// Every unfinished task fails with `Shutdown` now, and the agents stop theirs.
    Kill,
}

/// Everything rank 0's threads share.
pub(crate) struct State {
    queue: VecDeque<Job>,
    agents: Vec<Agent>,
    /// Cancel messages to send: (rank, task id).
    cancels: Vec<(Rank, u64)>,
    close: Option<Close>,
    /// The agents have been told to leave.
    told_to_leave: bool,
    /// Where the next tie between equally loaded agents starts.
    rotate: usize,
}

pub(crate) struct Shared {
    state: Mutex<State>,
    /// Rank 0's MPI thread, woken when there is something to send.
    thread: OnceLock<Thread>,
    next_id: AtomicU64,
}

impl Shared {
    pub(crate) fn new(agents: Vec<Agent>) -> Shared {
        Shared {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                agents,
                cancels: Vec::new(),
                close: None,
                told_to_leave: false,
                rotate: 0,
            }),
            thread: OnceLock::new(),
            next_id: AtomicU64::new(1),
        }
    }

    pub(crate) fn set_thread(&self, thread: Thread) {
        let _ = self.thread.set(thread);
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn wake(&self) {
        if let Some(t) = self.thread.get() {
            t.unpark();
        }
    }

    pub(crate) fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Queues a task (or fails it if the executor takes no more).
    pub(crate) fn submit(&self, job: Job) {
        let mut st = self.lock();
        if st.close.is_some() {
            drop(st);
            return job.task.abort(TaskError::Shutdown);
        }
        st.queue.push_back(job);
        drop(st);
        self.wake();
    }

    /// Resolves task `id`, which an agent holds, as cancelled, and has the agent stop it;
    /// `true` if it was found unfinished.
    pub(crate) fn cancel_running(&self, id: u64) -> bool {
        let mut st = self.lock();
        let found = st.agents.iter_mut().find_map(|a| {
            let task = a.in_flight.get_mut(&id)?.task.take()?;
            Some((a.rank, task))
        });
        let Some((rank, task)) = found else {
            return false;
        };
        st.cancels.push((rank, id));
        drop(st);
        self.wake();
        task.finish(Err(TaskError::Cancelled));
        true
    }

    /// Asks for the end; the MPI thread carries it out.
    pub(crate) fn close(&self, how: Close) {
        let mut st = self.lock();
        st.close = Some(match (st.close, how) {
            (Some(Close::Kill), _) | (_, Close::Kill) => Close::Kill,
            (Some(Close::CancelPending), _) | (_, Close::CancelPending) => Close::CancelPending,
            _ => Close::Wait,
        });
        drop(st);
        self.wake();
    }

    /// Tasks on rank 0 not sent yet, and tasks the agents hold.
    pub(crate) fn counts(&self) -> (usize, usize) {
        let st = self.lock();
        let held = st.agents.iter().map(|a| a.in_flight.len()).sum();
        (st.queue.len(), held)
    }
}

impl State {
    /// The agent with room and the lowest share of its capacity in use.
    fn least_loaded(&mut self) -> Option<usize> {
        let n = self.agents.len();
        let mut best: Option<usize> = None;
        for k in 0..n {
            let i = (self.rotate + k) % n;
            let a = &self.agents[i];
            if a.lost.is_some() || a.gone || a.in_flight.len() >= a.capacity {
                continue;
            }
            let better = match best {
                None => true,
                Some(b) => {
                    let b = &self.agents[b];
                    a.in_flight.len() * b.capacity < b.in_flight.len() * a.capacity
                }
            };
            if better {
                best = Some(i);
            }
        }
        self.rotate = self.rotate.wrapping_add(1);
        best
    }

    /// Moves queued tasks to agents with room: the messages to send, and the tasks that
    /// will never be sent, with why.
    fn dispatch(
        &mut self,
        out: &mut Vec<(Rank, Vec<u8>)>,
        unsent: &mut Vec<(Arc<dyn Remote>, TaskError)>,
    ) {
        if matches!(self.close, Some(Close::CancelPending | Close::Kill)) {
            unsent.extend(
                self.queue
                    .drain(..)
                    .map(|job| (job.task, TaskError::Shutdown)),
            );
        }
        while !self.queue.is_empty() {
            let Some(i) = self.least_loaded() else {
                if self.agents.iter().all(|a| a.lost.is_some()) {
                    // Nobody left to run them.
                    let err = TaskError::Broken(
                        "every MPI agent broke the protocol and was dropped".to_owned(),
                    );
                    unsent.extend(self.queue.drain(..).map(|job| (job.task, err.clone())));
                }
                return;
            };
            let job = self.queue.pop_front().expect("not empty");
            if !job.task.start() {
                continue; // cancelled while it waited here
            }
            let agent = &mut self.agents[i];
            agent.in_flight.insert(
                job.id,
                Flight {
                    task: Some(job.task),
                },
            );
            out.push((agent.rank, job.message));
        }
    }

    fn agent(&mut self, rank: Rank) -> Option<&mut Agent> {
        self.agents.iter_mut().find(|a| a.rank == rank)
    }

    /// Marks the agent at `rank` lost (it broke the protocol): every task it holds fails.
    fn lose(&mut self, rank: Rank, why: String, failed: &mut Vec<(Arc<dyn Remote>, TaskError)>) {
        log::error!("concur: MPI rank {rank} broke the protocol and is not used any more: {why}");
        let err = TaskError::Serialization(format!(
            "MPI rank {rank} broke the protocol and is not used any more: {why}"
        ));
        self.drop_agent(rank, why, err, failed);
    }

    /// Stops using the agent at `rank`: every task it holds fails with `err`.
    fn drop_agent(
        &mut self,
        rank: Rank,
        why: String,
        err: TaskError,
        failed: &mut Vec<(Arc<dyn Remote>, TaskError)>,
    ) {
        let Some(agent) = self.agent(rank) else {
            return;
        };
        for (_, flight) in agent.in_flight.drain() {
            if let Some(task) = flight.task {
                failed.push((task, err.clone()));
            }
        }
        agent.lost = Some(why);
    }

    /// `true` once nothing is queued and no agent holds a task.
    fn idle(&self) -> bool {
        self.queue.is_empty() && self.agents.iter().all(|a| a.in_flight.is_empty())
    }
}

/// Rank 0's MPI thread, from the moment every agent has started until every agent has
/// left: sends, receives, delivers, and checks that every agent is alive (a heartbeat
/// each way when nothing else was sent; an agent silent for `silence` is dropped, and
/// its tasks fail with `WorkerDied`). Returns whether MPI may be finalised: not after an
/// agent went silent (`MPI_Finalize` would wait for it).
pub(crate) fn run(shared: &Shared, link: &mut Link, silence: Duration) -> bool {
    let mut silent_ranks = false;
    let mut backoff = Backoff::default();
    let mut out = Vec::new();
    let mut unsent = Vec::new();
    let mut done: Vec<Delivery> = Vec::new();
    let mut failed = Vec::new();
    let mut heartbeats = Vec::new();
    // A result may come: an agent holds a task, or has been told to leave. (Heartbeats
    // wait: a rank expecting nothing still looks several times per heartbeat period.)
    let mut expecting;
    loop {
        let mut progressed = false;
        // What arrived, under the lock once for all of it.
        let mut arrived = Vec::new();
        while let Some(m) = link.receive(None) {
            arrived.push(m);
        }
        let finished = {
            let mut st = shared.lock();
            for m in arrived.drain(..) {
                // A heartbeat is not work: it must not keep the rank hot.
                progressed |= receive(&mut st, m, &mut done, &mut failed);
            }
            for (rank, id) in st.cancels.drain(..).collect::<Vec<_>>() {
                out.push((rank, wire::cancel(id)));
            }
            // Every agent still there hears from rank 0, a dropped one too: if it is alive
            // after all (it stalled), it must not take rank 0 for dead and leave, which
            // under a default `mpirun` would end the job; it leaves when told to.
            let present: Vec<(Rank, bool)> = st
                .agents
                .iter()
                .filter(|a| !a.gone)
                .map(|a| (a.rank, a.lost.is_some()))
                .collect();
            for (rank, lost) in present {
                let quiet = link.silent_from(rank);
                if !lost && quiet >= silence {
                    let why = format!("it has been silent for {quiet:?}");
                    log::error!("concur: MPI rank {rank} is lost: {why}; its tasks fail");
                    eprintln!("concur: MPI rank {rank} is lost: {why}; its tasks fail");
                    silent_ranks = true;
                    let err = TaskError::WorkerDied(crate::WorkerExit::Unknown);
                    st.drop_agent(rank, why, err, &mut failed);
                } else if link.quiet_to(rank) >= HEARTBEAT {
                    heartbeats.push(rank);
                }
            }
            st.dispatch(&mut out, &mut unsent);
            if st.close == Some(Close::Kill) {
                for agent in &mut st.agents {
                    for flight in agent.in_flight.values_mut() {
                        if let Some(task) = flight.task.take() {
                            failed.push((task, TaskError::Shutdown));
                        }
                    }
                }
            }
            let leave = match st.close {
                Some(Close::Kill) => true,
                Some(_) => st.idle(),
                None => false,
            };
            if leave && !st.told_to_leave {
                st.told_to_leave = true;
                let kill = st.close == Some(Close::Kill);
                for agent in &st.agents {
                    if !agent.gone {
                        out.push((agent.rank, wire::shutdown(kill, !silent_ranks)));
                    }
                }
            }
            expecting = st.told_to_leave || st.agents.iter().any(|a| !a.in_flight.is_empty());
            st.told_to_leave && st.agents.iter().all(|a| a.gone || a.lost.is_some())
        };
        // Outcomes are delivered outside the lock: a handle's callbacks run here.
        for (task, outcome) in done.drain(..) {
            task.finish(outcome);
        }
        for (task, err) in failed.drain(..) {
            task.finish(Err(err));
        }
        for (task, err) in unsent.drain(..) {
            task.abort(err);
        }
        for (rank, message) in out.drain(..) {
            progressed = true;
            link.send(rank, message);
        }
        for rank in heartbeats.drain(..) {
            link.send(rank, wire::heartbeat_to_agent());
        }
        expecting |= !link.progress();
        if finished {
            // Results that arrive while the last sends complete are late ones for
            // resolved tasks; nothing else can come.
            if !silent_ranks {
                link.flush(drop);
            }
            return !silent_ranks;
        }
        if progressed {
            backoff.reset();
        } else {
            backoff.idle(expecting);
        }
    }
}

/// Handles one incoming message; `false` if it was only a heartbeat.
fn receive(
    st: &mut State,
    m: Incoming,
    done: &mut Vec<Delivery>,
    failed: &mut Vec<(Arc<dyn Remote>, TaskError)>,
) -> bool {
    let (from, bytes) = match m {
        Incoming::Message { from, bytes } => (from, bytes),
        Incoming::TooLarge { from, len } => {
            let why = format!(
                "a message of {len} bytes, over the limit of {}",
                wire::MAX_MESSAGE
            );
            st.lose(from, why, failed);
            return true;
        }
    };
    let message = match wire::decode_from_agent(&bytes) {
        Ok(FromAgent::Heartbeat) => return false,
        Ok(m) => m,
        Err(e) => {
            st.lose(from, e.0, failed);
            return true;
        }
    };
    let told_to_leave = st.told_to_leave;
    let Some(agent) = st.agent(from) else {
        return true; // not an agent of this pool (rank 0 itself cannot send to itself)
    };
    if agent.lost.is_some() {
        return true; // dropped: nothing it says counts any more
    }
    let violation = match message {
        FromAgent::Done { id, outcome } => match agent.in_flight.remove(&id) {
            Some(Flight { task: Some(task) }) => {
                done.push((task, outcome));
                None
            }
            Some(Flight { task: None }) => None,
            None => Some(format!("a result for task {id}, which it does not hold")),
        },
        FromAgent::Bye if told_to_leave => {
            agent.gone = true;
            None
        }
        FromAgent::Bye => Some("it left before it was told to".to_owned()),
        FromAgent::Hello(_) => Some("a second hello".to_owned()),
        FromAgent::Heartbeat => None,
    };
    if let Some(why) = violation {
        st.lose(from, why, failed);
    }
    true
}
