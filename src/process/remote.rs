//! What another transport needs to carry this pool's tasks beyond one machine (the `mpi`
//! feature, `src/mpi/`): a task encoded as the offsets and payload of a task frame, a
//! received one run by a local pool just as it came, and its reply left undecoded until
//! it is back where it was submitted.
//!
//! Nothing here trusts the bytes it is given: offsets are checked as a worker checks them
//! ([`check_offsets`]) before a task is queued, payloads are decoded by the trampolines
//! with bounds checks and caught panics, and a reply is decoded on the submitting side
//! with [`codec::decode`], as one from a worker.

use std::os::fd::OwnedFd;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Weak};

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::call;
pub(crate) use super::call::ChunkOut;
use super::codec;
pub(crate) use super::map::chunk_outcomes;
use super::pool::Shared;
use super::protocol::{self, Status};
use super::task::{Job, Outcome, Pending};
use super::ProcessPoolExecutor;
use crate::handle::{Core, JoinHandle, PanicMessage, TaskCell, TaskError};

/// A task as it travels: the offsets of its trampoline and function (valid in every
/// process of this build) and its encoded argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EncodedTask {
    pub(crate) call: u64,
    pub(crate) func: u64,
    pub(crate) payload: Vec<u8>,
}

/// How a task ended, its payload still encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reply {
    /// The encoded result.
    Value(Vec<u8>),
    /// The panic message, as a worker sends it (location and message).
    Panicked(String),
    /// What could not be encoded or decoded.
    Serialization(String),
}

/// Why a value that carries a `SharedBuffer` cannot travel this way (yet).
const NO_BUFFERS: &str = "a SharedBuffer cannot be sent to another MPI rank (its memory \
                          is local to this machine): send the bytes as a Vec<u8>";

fn encode_plain<T: Serialize>(value: T, what: &str) -> Result<Vec<u8>, String> {
    let mut payload = Vec::new();
    let mut fds: Vec<OwnedFd> = Vec::new();
    codec::encode_owned(value, &mut payload, &mut fds).map_err(|e| {
        format!(
            "{what} could not be encoded (type {}): {e}",
            std::any::type_name::<T>()
        )
    })?;
    if fds.is_empty() {
        Ok(payload)
    } else {
        Err(NO_BUFFERS.to_owned())
    }
}

/// `f(arg)` as it travels. Fails if the argument cannot be encoded, carries a
/// `SharedBuffer`, or `f` is not code of the main executable.
pub(crate) fn encode_task<A, R>(f: fn(A) -> R, arg: A) -> Result<EncodedTask, String>
where
    A: Serialize + DeserializeOwned,
    R: Serialize,
{
    let (call, func) = call::one(f);
    call::check_func(func).map_err(|e| format!("the task cannot be sent: {e}"))?;
    Ok(EncodedTask {
        call,
        func,
        payload: encode_plain(arg, "the argument")?,
    })
}

/// A chunk of a `map` of `f` as it travels: its reply decodes as a [`ChunkOut<R>`].
pub(crate) fn encode_chunk<A, R>(f: fn(A) -> R, items: Vec<A>) -> Result<EncodedTask, String>
where
    A: Serialize + DeserializeOwned,
    R: Serialize,
{
    let (call, func) = call::chunk(f);
    call::check_func(func).map_err(|e| format!("the task cannot be sent: {e}"))?;
    Ok(EncodedTask {
        call,
        func,
        payload: encode_plain(items, "the arguments")?,
    })
}

/// Why `call` and `func` are not a task of this build, if they are not: `call` must name
/// a trampoline entry and `func` code of the main executable, as a worker requires.
pub(crate) fn check_offsets(call: u64, func: u64) -> Result<(), String> {
    call::trampoline(call)?;
    call::check_func(func)?;
    Ok(())
}

/// The fingerprint of this build's code layout that workers check (`call::layout`).
pub(crate) fn layout() -> u64 {
    call::layout()
}

/// Decodes a reply into the task's outcome. The result type's `Deserialize` is user
/// code: a panic in it becomes the task's error.
pub(crate) fn decode_reply<T: DeserializeOwned>(reply: Reply) -> Result<T, TaskError> {
    match reply {
        Reply::Value(bytes) => {
            match catch_unwind(AssertUnwindSafe(|| codec::decode::<T>(&bytes, Vec::new()))) {
                Ok(Ok(value)) => Ok(value),
                Ok(Err(e)) => Err(TaskError::Serialization(format!(
                    "the result could not be decoded (type {}): {e}",
                    std::any::type_name::<T>()
                ))),
                Err(p) => Err(TaskError::from_panic(p)),
            }
        }
        Reply::Panicked(text) => Err(TaskError::Panicked(PanicMessage::from_wire(text))),
        Reply::Serialization(text) => Err(TaskError::Serialization(text)),
    }
}

impl ProcessPoolExecutor {
    /// Queues a task that arrived encoded, as it came; its handle resolves to the reply,
    /// undecoded. The offsets are checked first ([`check_offsets`]): a task that names
    /// anything else fails with [`TaskError::Serialization`] and nothing is sent.
    pub(crate) fn submit_encoded(&self, task: EncodedTask) -> JoinHandle<Reply> {
        let id = self.shared.next_id();
        let cell = Arc::new(EncodedCell {
            core: Core::with_tag(0),
            id,
            pool: Arc::downgrade(&self.shared),
        });
        let handle = JoinHandle::new(cell.clone());
        let mut frame = Vec::with_capacity(protocol::HEADER + 29 + task.payload.len());
        let open = protocol::begin_task(&mut frame, id, task.call, task.func);
        frame.extend_from_slice(&task.payload);
        drop(task.payload);
        let checked = check_offsets(task.call, task.func)
            .map_err(|e| format!("the task cannot be run here: {e}"))
            .and_then(|()| {
                open.finish(&mut frame, self.shared.config.max_frame)
                    .map_err(|e| e.to_string())
            });
        let job = Job {
            id,
            frame,
            fds: Vec::new(),
            task: cell,
            started: false,
            timeout: self.shared.config.task_timeout,
            items: 1,
        };
        match checked {
            Ok(()) => self.shared.submit(job),
            Err(e) => job.fail(TaskError::Serialization(e)),
        }
        handle
    }
}

/// The cell of a task submitted encoded: its outcome is the reply itself.
struct EncodedCell {
    core: Core<Reply>,
    id: u64,
    pool: Weak<Shared>,
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

impl Pending for EncodedCell {
    fn start(&self) -> bool {
        self.core.start()
    }

    fn finish(&self, outcome: Outcome<'_>) {
        let result = match outcome {
            // Descriptors cannot travel on: a result that carries some is refused.
            Outcome::Reply {
                status: Status::Ok,
                fds,
                ..
            } if !fds.is_empty() => Ok(Reply::Serialization(NO_BUFFERS.to_owned())),
            Outcome::Reply {
                status: Status::Ok,
                payload,
                ..
            } => Ok(Reply::Value(payload.to_vec())),
            Outcome::Reply {
                status: Status::Panicked,
                payload,
                ..
            } => Ok(Reply::Panicked(text(payload))),
            Outcome::Reply {
                status: Status::Serialization,
                payload,
                ..
            } => Ok(Reply::Serialization(text(payload))),
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

impl TaskCell<Reply> for EncodedCell {
    fn core(&self) -> &Core<Reply> {
        &self.core
    }

    fn cancel(&self) -> bool {
        if self.core.cancel(|| {}) {
            return true;
        }
        if self.core.is_finished() {
            return false;
        }
        self.pool
            .upgrade()
            .is_some_and(|pool| pool.cancel_running(self.id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn double(x: u64) -> u64 {
        x * 2
    }

    fn boom(_: u8) -> u8 {
        panic!("boom")
    }

    #[test]
    fn an_encoded_task_runs_in_a_local_pool_and_its_reply_decodes() {
        let pool = ProcessPoolExecutor::builder()
            .max_workers(1)
            .env("RUST_BACKTRACE", "0") // `boom` panics on purpose: one line, not a backtrace
            .build()
            .unwrap();
        let task = encode_task(double, 21).unwrap();
        let reply = pool.submit_encoded(task).join().unwrap();
        assert_eq!(decode_reply::<u64>(reply), Ok(42));
        let chunk = encode_chunk(double, vec![1, 2, 3]).unwrap();
        let reply = pool.submit_encoded(chunk).join().unwrap();
        let (_, outs) = decode_reply::<ChunkOut<u64>>(reply).unwrap();
        assert_eq!(outs, vec![Ok(2), Ok(4), Ok(6)]);
        let reply = pool.submit_encoded(encode_task(boom, 1).unwrap()).join();
        assert!(matches!(reply, Ok(Reply::Panicked(_))));
        assert!(decode_reply::<u8>(reply.unwrap()).unwrap_err().is_panic());
    }

    #[test]
    fn offsets_that_name_no_task_are_refused_before_anything_is_sent() {
        let pool = ProcessPoolExecutor::new(1).unwrap();
        let mut task = encode_task(double, 1).unwrap();
        task.call = task.func;
        let err = pool.submit_encoded(task).join().unwrap_err();
        assert!(
            matches!(&err, TaskError::Serialization(m) if m.contains("cannot be run here")),
            "{err}"
        );
        assert_eq!(pool.stats().spawned, 0);
    }

    #[test]
    fn a_shared_buffer_does_not_travel() {
        fn len(b: crate::SharedBuffer) -> usize {
            b.len()
        }
        let buf = crate::SharedBuffer::new(16).unwrap();
        let err = encode_task(len, buf).unwrap_err();
        assert!(err.contains("SharedBuffer cannot be sent"), "{err}");
    }
}
