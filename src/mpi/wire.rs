//! The messages between rank 0 and its agents, encoded and decoded here without any MPI,
//! so the decoder can be tested (and fuzzed) on its own.
//!
//! Every message is one MPI byte message on the pool's own communicator: a kind byte,
//! fixed little-endian fields, and last a variable payload that runs to the end. A task
//! carries the process pool's own description of a task (the offsets of its trampoline
//! and function, and its postcard argument: `src/process/DESIGN.md`); a result carries
//! the reply of the agent's local pool. Every field is decoded with bounds checks: a
//! message is untrusted bytes, whoever sent it.

use std::fmt;

use crate::handle::{TaskError, WorkerExit};
use crate::process::remote::{EncodedTask, Reply};

/// Bumped whenever a message's layout changes; ranks of other versions refuse each other.
pub(crate) const VERSION: u32 = 1;

/// The largest message a rank receives: a task or result of the largest frame a local
/// pool carries (1 GiB), plus its fields. MPI counts are `i32`, so it must stay below
/// 2 GiB.
pub(crate) const MAX_MESSAGE: usize = (1 << 30) + 64;

// Rank 0 to an agent.
const START: u8 = 0x01;
const REFUSE: u8 = 0x02;
const TASK: u8 = 0x03;
const CANCEL: u8 = 0x04;
const SHUTDOWN: u8 = 0x05;
const HEARTBEAT_TO_AGENT: u8 = 0x06;

// An agent to rank 0.
const HELLO: u8 = 0x81;
const DONE: u8 = 0x82;
const BYE: u8 = 0x83;
const HEARTBEAT_FROM_AGENT: u8 = 0x84;

/// A message from rank 0 to an agent.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ToAgent<'a> {
    /// The agent's hello was accepted: serve.
    Start,
    /// The agent may not serve (another build, another version), and why.
    Refuse { reason: &'a [u8] },
    /// Run the task `id`.
    Task {
        id: u64,
        call: u64,
        func: u64,
        payload: &'a [u8],
    },
    /// Stop task `id` if it has not finished (its result is still sent).
    Cancel { id: u64 },
    /// Leave once every task has finished (`kill`: stop them first); finalise MPI on the
    /// way out unless a rank was lost (`MPI_Finalize` would wait for it forever).
    Shutdown { kill: bool, finalize: bool },
    /// Rank 0 is alive (sent when it has sent nothing else for a while).
    Heartbeat,
}

/// Who an agent is, as its hello says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Hello {
    pub(crate) version: u32,
    /// The build's fingerprint (`fingerprint.rs`).
    pub(crate) build: u64,
    pub(crate) workers: u32,
    pub(crate) pid: u32,
    /// The agent's host name.
    pub(crate) host: String,
    /// Why the agent cannot serve, if it cannot (sent after the host name and a NUL).
    pub(crate) problem: Option<String>,
}

/// A message from an agent to rank 0.
#[derive(Debug, PartialEq)]
pub(crate) enum FromAgent {
    Hello(Hello),
    /// Task `id` ended so.
    Done {
        id: u64,
        outcome: Result<Reply, TaskError>,
    },
    /// The agent has shut its pool down and is leaving.
    Bye,
    /// The agent is alive (sent when it has sent nothing else for a while).
    Heartbeat,
}

/// A message that breaks the protocol; says how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WireError(pub(crate) String);

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn err(msg: impl Into<String>) -> WireError {
    WireError(msg.into())
}

/// A checked reader over one message.
struct Fields<'a> {
    body: &'a [u8],
    what: &'static str,
}

impl<'a> Fields<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        if self.body.len() < n {
            return Err(err(format!("a truncated {} message", self.what)));
        }
        let (head, rest) = self.body.split_at(n);
        self.body = rest;
        Ok(head)
    }
    fn u8(&mut self) -> Result<u8, WireError> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, WireError> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }
    fn i32(&mut self) -> Result<i32, WireError> {
        Ok(i32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }
    fn u64(&mut self) -> Result<u64, WireError> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }
    fn rest(self) -> &'a [u8] {
        self.body
    }
    fn end(self) -> Result<(), WireError> {
        if self.body.is_empty() {
            Ok(())
        } else {
            Err(err(format!("trailing bytes after a {} message", self.what)))
        }
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The message that starts an agent.
pub(crate) fn start() -> Vec<u8> {
    vec![START]
}

/// The message that refuses an agent, with why.
pub(crate) fn refuse(reason: &str) -> Vec<u8> {
    let mut m = vec![REFUSE];
    m.extend_from_slice(reason.as_bytes());
    m
}

/// The message that sends task `id`.
pub(crate) fn task(id: u64, task: &EncodedTask) -> Vec<u8> {
    let mut m = Vec::with_capacity(25 + task.payload.len());
    m.push(TASK);
    m.extend_from_slice(&id.to_le_bytes());
    m.extend_from_slice(&task.call.to_le_bytes());
    m.extend_from_slice(&task.func.to_le_bytes());
    m.extend_from_slice(&task.payload);
    m
}

/// The message that cancels task `id`.
pub(crate) fn cancel(id: u64) -> Vec<u8> {
    let mut m = vec![CANCEL];
    m.extend_from_slice(&id.to_le_bytes());
    m
}

/// The message that ends an agent.
pub(crate) fn shutdown(kill: bool, finalize: bool) -> Vec<u8> {
    vec![SHUTDOWN, kill as u8, finalize as u8]
}

/// Rank 0's heartbeat.
pub(crate) fn heartbeat_to_agent() -> Vec<u8> {
    vec![HEARTBEAT_TO_AGENT]
}

/// An agent's heartbeat.
pub(crate) fn heartbeat_from_agent() -> Vec<u8> {
    vec![HEARTBEAT_FROM_AGENT]
}

/// Decodes a message rank 0 sent.
pub(crate) fn decode_to_agent(m: &[u8]) -> Result<ToAgent<'_>, WireError> {
    let (&kind, body) = m.split_first().ok_or_else(|| err("an empty message"))?;
    let mut f = Fields {
        body,
        what: "rank 0",
    };
    Ok(match kind {
        START => {
            f.what = "start";
            f.end()?;
            ToAgent::Start
        }
        REFUSE => ToAgent::Refuse { reason: f.rest() },
        TASK => {
            f.what = "task";
            ToAgent::Task {
                id: f.u64()?,
                call: f.u64()?,
                func: f.u64()?,
                payload: f.rest(),
            }
        }
        CANCEL => {
            f.what = "cancel";
            let m = ToAgent::Cancel { id: f.u64()? };
            f.end()?;
            m
        }
        SHUTDOWN => {
            f.what = "shutdown";
            let mut flag = || match f.u8()? {
                0 => Ok(false),
                1 => Ok(true),
                other => Err(err(format!("a shutdown message with flag {other}"))),
            };
            let kill = flag()?;
            let finalize = flag()?;
            f.end()?;
            ToAgent::Shutdown { kill, finalize }
        }
        HEARTBEAT_TO_AGENT => {
            f.what = "heartbeat";
            f.end()?;
            ToAgent::Heartbeat
        }
        other => {
            return Err(err(format!(
                "an unknown message kind {other:#x} from rank 0"
            )))
        }
    })
}

/// An agent's hello.
pub(crate) fn hello(h: &Hello) -> Vec<u8> {
    let mut m = vec![HELLO];
    m.extend_from_slice(&h.version.to_le_bytes());
    m.extend_from_slice(&h.build.to_le_bytes());
    m.extend_from_slice(&h.workers.to_le_bytes());
    m.extend_from_slice(&h.pid.to_le_bytes());
    m.extend_from_slice(h.host.replace('\0', "?").as_bytes());
    if let Some(problem) = &h.problem {
        m.push(0);
        m.extend_from_slice(problem.as_bytes());
    }
    m
}

// How a task ended, on the wire.
const VALUE: u8 = 0;
const PANICKED: u8 = 1;
const SERIALIZATION: u8 = 2;
const DIED_CODE: u8 = 3;
const DIED_SIGNAL: u8 = 4;
const DIED_UNKNOWN: u8 = 5;
const TIMED_OUT: u8 = 6;
const CANCELLED: u8 = 7;
const SHUT_DOWN: u8 = 8;
const BROKEN: u8 = 9;

/// The message that reports task `id`'s outcome.
pub(crate) fn done(id: u64, outcome: &Result<Reply, TaskError>) -> Vec<u8> {
    let (status, number, payload): (u8, i32, &[u8]) = match outcome {
        Ok(Reply::Value(bytes)) => (VALUE, 0, bytes),
        Ok(Reply::Panicked(msg)) => (PANICKED, 0, msg.as_bytes()),
        Ok(Reply::Serialization(msg)) => (SERIALIZATION, 0, msg.as_bytes()),
        Err(TaskError::WorkerDied(WorkerExit::Code(c))) => (DIED_CODE, *c, &[]),
        Err(TaskError::WorkerDied(WorkerExit::Signal(s))) => (DIED_SIGNAL, *s, &[]),
        Err(TaskError::WorkerDied(_)) => (DIED_UNKNOWN, 0, &[]),
        Err(TaskError::TimedOut) => (TIMED_OUT, 0, &[]),
        Err(TaskError::Cancelled) => (CANCELLED, 0, &[]),
        Err(TaskError::Shutdown) => (SHUT_DOWN, 0, &[]),
        Err(TaskError::Serialization(msg)) => (SERIALIZATION, 0, msg.as_bytes()),
        Err(TaskError::Panicked(p)) => {
            let wire = p.to_wire();
            return done_message(id, PANICKED, 0, wire.as_bytes());
        }
        Err(other) => {
            let why = match other {
                TaskError::Broken(why) => why.clone(),
                other => other.to_string(),
            };
            return done_message(id, BROKEN, 0, why.as_bytes());
        }
    };
    done_message(id, status, number, payload)
}

fn done_message(id: u64, status: u8, number: i32, payload: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(14 + payload.len());
    m.push(DONE);
    m.extend_from_slice(&id.to_le_bytes());
    m.push(status);
    m.extend_from_slice(&number.to_le_bytes());
    m.extend_from_slice(payload);
    m
}

/// The message an agent leaves with.
pub(crate) fn bye() -> Vec<u8> {
    vec![BYE]
}

/// Decodes a message an agent sent.
pub(crate) fn decode_from_agent(m: &[u8]) -> Result<FromAgent, WireError> {
    let (&kind, body) = m.split_first().ok_or_else(|| err("an empty message"))?;
    let mut f = Fields {
        body,
        what: "agent",
    };
    Ok(match kind {
        HELLO => {
            f.what = "hello";
            let version = f.u32()?;
            let build = f.u64()?;
            let workers = f.u32()?;
            let pid = f.u32()?;
            let rest = f.rest();
            let (host, problem) = match rest.iter().position(|&b| b == 0) {
                Some(at) => (text(&rest[..at]), Some(text(&rest[at + 1..]))),
                None => (text(rest), None),
            };
            FromAgent::Hello(Hello {
                version,
                build,
                workers,
                pid,
                host,
                problem,
            })
        }
        DONE => {
            f.what = "result";
            let id = f.u64()?;
            let status = f.u8()?;
            let number = f.i32()?;
            let payload = f.rest();
            let outcome = match status {
                VALUE => Ok(Reply::Value(payload.to_vec())),
                PANICKED => Ok(Reply::Panicked(text(payload))),
                SERIALIZATION => Ok(Reply::Serialization(text(payload))),
                DIED_CODE => Err(TaskError::WorkerDied(WorkerExit::Code(number))),
                DIED_SIGNAL => Err(TaskError::WorkerDied(WorkerExit::Signal(number))),
                DIED_UNKNOWN => Err(TaskError::WorkerDied(WorkerExit::Unknown)),
                TIMED_OUT => Err(TaskError::TimedOut),
                CANCELLED => Err(TaskError::Cancelled),
                SHUT_DOWN => Err(TaskError::Shutdown),
                BROKEN => Err(TaskError::Broken(text(payload))),
                other => return Err(err(format!("an unknown task status {other}"))),
            };
            FromAgent::Done { id, outcome }
        }
        BYE => {
            f.what = "bye";
            f.end()?;
            FromAgent::Bye
        }
        HEARTBEAT_FROM_AGENT => {
            f.what = "heartbeat";
            f.end()?;
            FromAgent::Heartbeat
        }
        other => {
            return Err(err(format!(
                "an unknown message kind {other:#x} from an agent"
            )))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_to_an_agent_round_trip() {
        let t = EncodedTask {
            call: 7,
            func: 9,
            payload: vec![1, 2, 3],
        };
        assert_eq!(
            decode_to_agent(&task(5, &t)),
            Ok(ToAgent::Task {
                id: 5,
                call: 7,
                func: 9,
                payload: &[1, 2, 3]
            })
        );
        assert_eq!(decode_to_agent(&start()), Ok(ToAgent::Start));
        assert_eq!(
            decode_to_agent(&refuse("no")),
            Ok(ToAgent::Refuse { reason: b"no" })
        );
        assert_eq!(decode_to_agent(&cancel(3)), Ok(ToAgent::Cancel { id: 3 }));
        assert_eq!(
            decode_to_agent(&shutdown(true, false)),
            Ok(ToAgent::Shutdown {
                kill: true,
                finalize: false
            })
        );
    }

    #[test]
    fn messages_from_an_agent_round_trip() {
        let h = Hello {
            version: VERSION,
            build: 0xfeed,
            workers: 4,
            pid: 77,
            host: "node1".into(),
            problem: Some("cannot start a pool".into()),
        };
        assert_eq!(decode_from_agent(&hello(&h)), Ok(FromAgent::Hello(h)));
        let outcomes = [
            Ok(Reply::Value(vec![9, 9])),
            Ok(Reply::Panicked("at\0boom".into())),
            Ok(Reply::Serialization("bad".into())),
            Err(TaskError::WorkerDied(WorkerExit::Signal(11))),
            Err(TaskError::WorkerDied(WorkerExit::Code(3))),
            Err(TaskError::WorkerDied(WorkerExit::Unknown)),
            Err(TaskError::TimedOut),
            Err(TaskError::Cancelled),
            Err(TaskError::Shutdown),
            Err(TaskError::Broken("init failed".into())),
        ];
        for outcome in outcomes {
            let m = done(42, &outcome);
            assert_eq!(
                decode_from_agent(&m),
                Ok(FromAgent::Done { id: 42, outcome })
            );
        }
        assert_eq!(decode_from_agent(&bye()), Ok(FromAgent::Bye));
        assert_eq!(
            decode_from_agent(&heartbeat_from_agent()),
            Ok(FromAgent::Heartbeat)
        );
        assert_eq!(
            decode_to_agent(&heartbeat_to_agent()),
            Ok(ToAgent::Heartbeat)
        );
    }

    #[test]
    fn truncated_unknown_and_trailing_messages_are_errors() {
        assert!(decode_from_agent(&[]).is_err());
        assert!(decode_to_agent(&[]).is_err());
        assert!(decode_to_agent(&[0x77]).is_err());
        assert!(decode_from_agent(&[0x77]).is_err());
        assert!(decode_to_agent(&[TASK, 1, 2, 3]).is_err());
        assert!(decode_to_agent(&[CANCEL, 1, 0, 0, 0, 0, 0, 0, 0, 9]).is_err());
        assert!(decode_to_agent(&[SHUTDOWN, 2, 1]).is_err());
        assert!(decode_to_agent(&[SHUTDOWN, 1]).is_err());
        assert!(decode_from_agent(&[DONE, 1, 0, 0, 0, 0, 0, 0, 0, 99, 0, 0, 0, 0]).is_err());
        assert!(decode_from_agent(&[BYE, 0]).is_err());
        assert!(decode_from_agent(&[HELLO, 1, 0]).is_err());
    }

    #[test]
    fn no_input_makes_the_decoders_panic() {
        // Every prefix of every valid message, and every single-byte change of it.
        let t = EncodedTask {
            call: 1,
            func: 2,
            payload: vec![3; 5],
        };
        let valid = [
            task(1, &t),
            cancel(2),
            shutdown(false, true),
            done(3, &Ok(Reply::Value(vec![1]))),
            hello(&Hello {
                version: 1,
                build: 2,
                workers: 3,
                pid: 4,
                host: "h".into(),
                problem: None,
            }),
        ];
        for m in &valid {
            for cut in 0..=m.len() {
                let _ = decode_to_agent(&m[..cut]);
                let _ = decode_from_agent(&m[..cut]);
            }
            for at in 0..m.len() {
                let mut bad = m.clone();
                bad[at] ^= 0xff;
                let _ = decode_to_agent(&bad);
                let _ = decode_from_agent(&bad);
            }
        }
    }
}
