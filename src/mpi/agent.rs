//! An agent: a rank other than 0. It never runs user code itself: each task it receives
//! goes, as it came, to a local [`ProcessPoolExecutor`], so a task that panics, aborts,
//! segfaults or times out fails only itself, exactly as on one machine. The agent's MPI
//! thread receives tasks and cancellations from rank 0, and sends each result back as soon
//! as the local pool has it (the pool's callback wakes the thread), until rank 0 tells it
//! to leave.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use super::link::{Backoff, Incoming, Link, HEARTBEAT};
use super::wire::{self, ToAgent};
use crate::handle::JoinHandle;
use crate::process::remote::{EncodedTask, Reply};
use crate::ProcessPoolExecutor;

/// Exit code of an agent whose rank 0 broke the protocol.
pub(crate) const EXIT_PROTOCOL: i32 = 71;
/// Exit code of an agent whose rank 0 went silent.
pub(crate) const EXIT_ORPHANED: i32 = 72;

/// How an agent's service ended.
#[derive(Debug)]
pub(crate) enum End {
    /// Rank 0 told it to leave; it did, its pool shut down. `finalize`: MPI may be
    /// finalised (no rank was lost).
    Shutdown { finalize: bool },
    /// Rank 0 refused it, saying why.
    Refused(String),
    /// Rank 0 sent what it cannot understand.
    Protocol(String),
    /// Rank 0 went silent (it died, or the network between them did): leave without
    /// finalising MPI, which would wait for it forever.
    Orphaned(String),
}

/// Waits for rank 0's answer to this agent's hello.
pub(crate) fn await_start(link: &mut Link, limit: Duration) -> Result<(), End> {
    let mut backoff = Backoff::default();
    loop {
        match link.receive(Some(0)) {
            None if link.silent_from(0) > limit => {
                return Err(End::Orphaned(format!(
                    "rank 0 did not answer this rank's hello within {limit:?}"
                )))
            }
            None => backoff.idle(true),
            Some(Incoming::TooLarge { len, .. }) => {
                return Err(End::Protocol(format!("a message of {len} bytes")))
            }
            Some(Incoming::Message { bytes, .. }) => {
                return match wire::decode_to_agent(&bytes) {
                    Ok(ToAgent::Start) => Ok(()),
                    Ok(ToAgent::Refuse { reason }) => {
                        Err(End::Refused(String::from_utf8_lossy(reason).into_owned()))
                    }
                    Ok(other) => Err(End::Protocol(format!("{other:?} before the start"))),
                    Err(e) => Err(End::Protocol(e.0)),
                };
            }
        }
    }
}

/// Serves tasks from rank 0 through `pool` until rank 0 says to leave; then shuts the pool
/// down, sends the last results and a goodbye.
pub(crate) fn serve(link: &mut Link, pool: &ProcessPoolExecutor, silence: Duration) -> End {
    let me = std::thread::current();
    // Ids of tasks whose handles have resolved, pushed by the pool's callbacks.
    let finished: Arc<Mutex<Vec<u64>>> = Arc::default();
    let mut running: HashMap<u64, JoinHandle<Reply>> = HashMap::new();
    let mut backoff = Backoff::default();
    let mut leaving = None;
    let mut pool_closed = false;
    let mut may_finalize = true;
    loop {
        let mut progressed = false;
        while leaving.is_none() {
            let Some(m) = link.receive(Some(0)) else {
                break;
            };
            let bytes = match m {
                Incoming::Message { bytes, .. } => bytes,
                Incoming::TooLarge { len, .. } => {
                    return End::Protocol(format!(
                        "a message of {len} bytes, over the limit of {}",
                        wire::MAX_MESSAGE
                    ))
                }
            };
            let message = wire::decode_to_agent(&bytes);
            // A heartbeat is not work: it must not keep the rank hot (busy looking).
            progressed |= message != Ok(ToAgent::Heartbeat);
            match message {
                Ok(ToAgent::Task {
                    id,
                    call,
                    func,
                    payload,
                }) => {
                    if running.contains_key(&id) {
                        return End::Protocol(format!("task {id} sent twice"));
                    }
                    let task = EncodedTask {
                        call,
                        func,
                        payload: payload.to_vec(),
                    };
                    drop(bytes);
                    let handle = pool.submit_encoded(task);
                    let (finished, me) = (finished.clone(), me.clone());
                    handle.on_done(move || {
                        finished
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .push(id);
                        me.unpark();
                    });
                    running.insert(id, handle);
                }
                Ok(ToAgent::Cancel { id }) => {
                    // Unknown: it finished already and its result is on its way.
                    if let Some(h) = running.get(&id) {
                        h.cancel();
                    }
                }
                Ok(ToAgent::Shutdown { kill, finalize }) => {
                    leaving = Some(kill);
                    may_finalize = finalize;
                }
                Ok(ToAgent::Heartbeat) => {}
                Ok(other) => return End::Protocol(format!("{other:?} while serving")),
                Err(e) => return End::Protocol(e.0),
            }
        }
        if let (Some(kill), false) = (leaving, pool_closed) {
            // Returns once every task has resolved, its callback run.
            if kill {
                pool.shutdown_kill();
            } else {
                pool.shutdown();
            }
            pool_closed = true;
        }
        let ids = std::mem::take(&mut *finished.lock().unwrap_or_else(PoisonError::into_inner));
        for id in ids {
            let Some(handle) = running.remove(&id) else {
                continue;
            };
            progressed = true;
            link.send(0, wire::done(id, &handle.join()));
        }
        link.progress();
        if link.quiet_to(0) >= HEARTBEAT {
            link.send(0, wire::heartbeat_from_agent());
        }
        if link.silent_from(0) >= silence {
            return End::Orphaned(format!(
                "rank 0 has been silent for {:?}",
                link.silent_from(0)
            ));
        }
        if leaving.is_some() && running.is_empty() {
            link.send(0, wire::bye());
            link.flush(drop);
            return End::Shutdown {
                finalize: may_finalize,
            };
        }
        if progressed {
            backoff.reset();
        } else {
            backoff.idle(true);
        }
    }
}
