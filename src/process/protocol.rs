//! The wire protocol between a pool and its workers: length-prefixed frames, encoded and
//! decoded here without any I/O, so the decoder can be fuzzed on its own
//! (`fuzz/fuzz_targets/worker_stream.rs`, `parent_stream.rs`).
//!
//! A frame is a 4-byte little-endian body length, then the body: one kind byte and that
//! kind's fields, all fixed-size little-endian integers, and last a variable-size payload
//! that runs to the end of the body. The parent caps the length of every frame it reads,
//! grows its buffer only as bytes actually arrive, and checks every field, so a hostile
//! worker can cost it at most one frame's worth of memory and then its life.

use std::fmt;

/// Bumped whenever a frame's layout changes; a worker of another version is refused.
pub(crate) const VERSION: u32 = 2;

/// Bytes of the length prefix.
pub(crate) const HEADER: usize = 4;

/// The largest frame body the format can carry at all.
pub(crate) const MAX_BODY: usize = u32::MAX as usize;

const TASK: u8 = 1;
const BOARD: u8 = 4;
const INIT: u8 = 3;

const HELLO: u8 = 0x81;
const REFUSED: u8 = 0x82;
const DONE: u8 = 0x83;
const SKIPPED: u8 = 0x84;
const INIT_DONE: u8 = 0x85;

/// Offset of the `nfds` field in a task frame (after the length, kind, id, call, func).
const TASK_NFDS_AT: usize = HEADER + 1 + 8 + 8 + 8;
/// Offset of the `nfds` field in a done frame (after the length, kind, id, status, run_ns, rss).
const DONE_NFDS_AT: usize = HEADER + 1 + 8 + 1 + 8 + 8;

/// A frame from the parent to a worker.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ToWorker<'a> {
    /// Run `func` through the trampoline `call` on the encoded argument `arg`, which
    /// carries `nfds` file descriptors sent alongside.
    Task {
        id: u64,
        call: u64,
        func: u64,
        nfds: u32,
        arg: &'a [u8],
    },
    /// The worker's claim board (`board.rs`): the one descriptor sent with this frame,
    /// before any task.
    Board,
    /// Run the pool's initializer `func` through the trampoline `call`, before any task.
    Init { call: u64, func: u64 },
}

/// How a task ended in the worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    /// The payload is the encoded result.
    Ok = 0,
    /// The payload is the panic message.
    Panicked = 1,
    /// The payload says what could not be encoded or decoded.
    Serialization = 2,
}

/// A frame from a worker to the parent.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum FromWorker<'a> {
    /// The first frame of a worker that accepted its parent: protocol version, pid, and a
    /// fingerprint of the executable's code layout.
    Hello { version: u32, pid: u32, layout: u64 },
    /// The worker will not serve this parent (another build, another version), and why.
    Refused { reason: &'a [u8] },
    /// Task `id` ended with `status`; it ran for `run_ns` nanoseconds; the worker's
    /// resident memory is `rss` bytes (0: not measured); `nfds` descriptors came along.
    Done {
        id: u64,
        status: Status,
        run_ns: u64,
        rss: u64,
        nfds: u32,
        payload: &'a [u8],
    },
    /// Task `id` was cancelled before it started.
    Skipped { id: u64 },
    /// The initializer ran: an empty `error` means it succeeded.
    InitDone { error: &'a [u8] },
}

/// A frame that breaks the protocol; says how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProtocolError(pub(crate) String);

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn err(msg: impl Into<String>) -> ProtocolError {
    ProtocolError(msg.into())
}

/// Where the next complete frame is in `buf`: `Ok(Some((body_start, body_end)))`,
/// `Ok(None)` if more bytes are needed, or an error if the length prefix exceeds
/// `max_body` (nothing is allocated for it).
pub(crate) fn next_frame(
    buf: &[u8],
    max_body: usize,
) -> Result<Option<(usize, usize)>, ProtocolError> {
    let Some(prefix) = buf.get(..HEADER) else {
        return Ok(None);
    };
    let len = u32::from_le_bytes(prefix.try_into().expect("4 bytes")) as usize;
    if len > max_body {
        return Err(err(format!(
            "a frame of {len} bytes exceeds the limit of {max_body} bytes"
        )));
    }
    if len == 0 {
        return Err(err("an empty frame"));
    }
    if buf.len() - HEADER < len {
        return Ok(None);
    }
    Ok(Some((HEADER, HEADER + len)))
}

/// How many bytes of the frame starting `buf` are still missing (0 if complete or if the
/// length prefix is incomplete): lets a reader grow its buffer to what is announced,
/// which the caller bounds by what it is willing to hold.
pub(crate) fn missing(buf: &[u8]) -> usize {
    match buf.get(..HEADER) {
        Some(prefix) => {
            let len = u32::from_le_bytes(prefix.try_into().expect("4 bytes")) as usize;
            (HEADER + len).saturating_sub(buf.len())
        }
        None => 0,
    }
}

/// A checked reader over one frame body.
struct Fields<'a> {
    body: &'a [u8],
    what: &'static str,
}

impl<'a> Fields<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], ProtocolError> {
        if self.body.len() < n {
            return Err(err(format!("a truncated {} frame", self.what)));
        }
        let (head, rest) = self.body.split_at(n);
        self.body = rest;
        Ok(head)
    }
    fn u8(&mut self) -> Result<u8, ProtocolError> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, ProtocolError> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }
    fn u64(&mut self) -> Result<u64, ProtocolError> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }
    fn rest(self) -> &'a [u8] {
        self.body
    }
    fn end(self) -> Result<(), ProtocolError> {
        if self.body.is_empty() {
            Ok(())
        } else {
            Err(err(format!("trailing bytes after a {} frame", self.what)))
        }
    }
}

/// Decodes a frame body a worker sent.
pub(crate) fn decode_from_worker(body: &[u8]) -> Result<FromWorker<'_>, ProtocolError> {
    let (&kind, body) = body.split_first().ok_or_else(|| err("an empty frame"))?;
    let mut f = Fields {
        body,
        what: "worker",
    };
    Ok(match kind {
        HELLO => {
            f.what = "hello";
            let m = FromWorker::Hello {
                version: f.u32()?,
                pid: f.u32()?,
                layout: f.u64()?,
            };
            f.end()?;
            m
        }
        REFUSED => FromWorker::Refused { reason: f.rest() },
        DONE => {
            f.what = "result";
            let id = f.u64()?;
            let status = match f.u8()? {
                0 => Status::Ok,
                1 => Status::Panicked,
                2 => Status::Serialization,
                other => return Err(err(format!("an unknown task status {other}"))),
            };
            FromWorker::Done {
                id,
                status,
                run_ns: f.u64()?,
                rss: f.u64()?,
                nfds: f.u32()?,
                payload: f.rest(),
            }
        }
        SKIPPED => {
            f.what = "skipped";
            let m = FromWorker::Skipped { id: f.u64()? };
            f.end()?;
            m
        }
        INIT_DONE => FromWorker::InitDone { error: f.rest() },
        other => return Err(err(format!("an unknown frame kind {other:#x}"))),
    })
}

/// Decodes a frame body the parent sent.
pub(crate) fn decode_to_worker(body: &[u8]) -> Result<ToWorker<'_>, ProtocolError> {
    let (&kind, body) = body.split_first().ok_or_else(|| err("an empty frame"))?;
    let mut f = Fields {
        body,
        what: "parent",
    };
    Ok(match kind {
        TASK => {
            f.what = "task";
            ToWorker::Task {
                id: f.u64()?,
                call: f.u64()?,
                func: f.u64()?,
                nfds: f.u32()?,
                arg: f.rest(),
            }
        }
        BOARD => {
            f.what = "board";
            f.end()?;
            ToWorker::Board
        }
        INIT => {
            f.what = "init";
            let m = ToWorker::Init {
                call: f.u64()?,
                func: f.u64()?,
            };
            f.end()?;
            m
        }
        other => return Err(err(format!("an unknown frame kind {other:#x}"))),
    })
}

/// A frame being appended to a buffer: the caller writes the payload after `begin_*`,
/// then `finish` fills in the length.
#[derive(Debug)]
#[must_use]
pub(crate) struct Open {
    start: usize,
}

impl Open {
    /// Fills in the length of the frame; on error (too large) removes it from `buf`.
    pub(crate) fn finish(self, buf: &mut Vec<u8>, max_body: usize) -> Result<(), ProtocolError> {
        let len = buf.len() - self.start - HEADER;
        if len > max_body.min(MAX_BODY) {
            buf.truncate(self.start);
            return Err(err(format!(
                "a frame of {len} bytes exceeds the limit of {} bytes",
                max_body.min(MAX_BODY)
            )));
        }
        buf[self.start..self.start + HEADER].copy_from_slice(&(len as u32).to_le_bytes());
        Ok(())
    }

    /// Sets the descriptor count of a task frame begun with [`begin_task`].
    pub(crate) fn set_task_nfds(&self, buf: &mut [u8], nfds: u32) {
        let at = self.start + TASK_NFDS_AT;
        buf[at..at + 4].copy_from_slice(&nfds.to_le_bytes());
    }

    /// Sets the status and descriptor count of a result frame begun with [`begin_done`].
    pub(crate) fn set_done(
        &self,
        buf: &mut [u8],
        status: Status,
        run_ns: u64,
        rss: u64,
        nfds: u32,
    ) {
        let at = self.start + HEADER + 1 + 8;
        buf[at] = status as u8;
        buf[at + 1..at + 9].copy_from_slice(&run_ns.to_le_bytes());
        buf[at + 9..at + 17].copy_from_slice(&rss.to_le_bytes());
        debug_assert_eq!(at + 17, self.start + DONE_NFDS_AT);
        buf[at + 17..at + 21].copy_from_slice(&nfds.to_le_bytes());
    }
}

fn begin(buf: &mut Vec<u8>, kind: u8) -> Open {
    let start = buf.len();
    buf.extend_from_slice(&[0; HEADER]);
    buf.push(kind);
    Open { start }
}

/// Begins a task frame; the encoded argument follows.
pub(crate) fn begin_task(buf: &mut Vec<u8>, id: u64, call: u64, func: u64) -> Open {
    let open = begin(buf, TASK);
    buf.extend_from_slice(&id.to_le_bytes());
    buf.extend_from_slice(&call.to_le_bytes());
    buf.extend_from_slice(&func.to_le_bytes());
    buf.extend_from_slice(&0u32.to_le_bytes());
    open
}

/// Begins a result frame for task `id`; the payload follows, then `set_done`.
pub(crate) fn begin_done(buf: &mut Vec<u8>, id: u64) -> Open {
    let open = begin(buf, DONE);
    buf.extend_from_slice(&id.to_le_bytes());
    buf.extend_from_slice(&[0; 1 + 8 + 8 + 4]);
    open
}

/// Appends a complete frame with fixed fields only.
fn fixed(buf: &mut Vec<u8>, kind: u8, fields: &[&[u8]]) {
    let open = begin(buf, kind);
    for f in fields {
        buf.extend_from_slice(f);
    }
    open.finish(buf, MAX_BODY).expect("a small frame");
}

/// Appends a board frame (its descriptor goes alongside).
pub(crate) fn board(buf: &mut Vec<u8>) {
    fixed(buf, BOARD, &[]);
}

/// Appends an init frame.
pub(crate) fn init(buf: &mut Vec<u8>, call: u64, func: u64) {
    fixed(buf, INIT, &[&call.to_le_bytes(), &func.to_le_bytes()]);
}

/// Appends a hello frame.
pub(crate) fn hello(buf: &mut Vec<u8>, pid: u32, layout: u64) {
    fixed(
        buf,
        HELLO,
        &[
            &VERSION.to_le_bytes(),
            &pid.to_le_bytes(),
            &layout.to_le_bytes(),
        ],
    );
}

/// Appends a refusal frame.
pub(crate) fn refused(buf: &mut Vec<u8>, reason: &str) {
    fixed(buf, REFUSED, &[reason.as_bytes()]);
}

/// Appends a skipped frame.
pub(crate) fn skipped(buf: &mut Vec<u8>, id: u64) {
    fixed(buf, SKIPPED, &[&id.to_le_bytes()]);
}

/// Appends an init-done frame (`error` empty on success).
pub(crate) fn init_done(buf: &mut Vec<u8>, error: &str) {
    fixed(buf, INIT_DONE, &[error.as_bytes()]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(buf: &[u8]) -> &[u8] {
        let (s, e) = next_frame(buf, 1 << 20).unwrap().unwrap();
        &buf[s..e]
    }

    #[test]
    fn a_task_frame_round_trips() {
        let mut buf = Vec::new();
        let open = begin_task(&mut buf, 7, 11, 13);
        buf.extend_from_slice(b"arg");
        open.set_task_nfds(&mut buf, 2);
        open.finish(&mut buf, 1 << 20).unwrap();
        assert_eq!(
            decode_to_worker(body(&buf)).unwrap(),
            ToWorker::Task {
                id: 7,
                call: 11,
                func: 13,
                nfds: 2,
                arg: b"arg"
            }
        );
    }

    #[test]
    fn a_done_frame_round_trips() {
        let mut buf = Vec::new();
        let open = begin_done(&mut buf, 9);
        buf.extend_from_slice(b"out");
        open.set_done(&mut buf, Status::Panicked, 5, 6, 1);
        open.finish(&mut buf, 1 << 20).unwrap();
        assert_eq!(
            decode_from_worker(body(&buf)).unwrap(),
            FromWorker::Done {
                id: 9,
                status: Status::Panicked,
                run_ns: 5,
                rss: 6,
                nfds: 1,
                payload: b"out"
            }
        );
    }

    #[test]
    fn small_frames_round_trip() {
        let mut buf = Vec::new();
        hello(&mut buf, 42, 99);
        assert_eq!(
            decode_from_worker(body(&buf)).unwrap(),
            FromWorker::Hello {
                version: VERSION,
                pid: 42,
                layout: 99
            }
        );
        buf.clear();
        skipped(&mut buf, 3);
        assert_eq!(
            decode_from_worker(body(&buf)).unwrap(),
            FromWorker::Skipped { id: 3 }
        );
        buf.clear();
        board(&mut buf);
        assert_eq!(decode_to_worker(body(&buf)).unwrap(), ToWorker::Board);
        buf.clear();
        init(&mut buf, 1, 2);
        assert_eq!(
            decode_to_worker(body(&buf)).unwrap(),
            ToWorker::Init { call: 1, func: 2 }
        );
    }

    #[test]
    fn an_oversized_length_is_refused_before_anything_is_read() {
        let buf = u32::MAX.to_le_bytes();
        let e = next_frame(&buf, 1024).unwrap_err();
        assert!(e.0.contains("exceeds the limit of 1024"), "{e}");
    }

    #[test]
    fn an_incomplete_frame_asks_for_more() {
        let mut buf = Vec::new();
        hello(&mut buf, 1, 2);
        for cut in 0..buf.len() {
            assert_eq!(next_frame(&buf[..cut], 1 << 20).unwrap(), None);
        }
        assert_eq!(missing(&buf[..HEADER + 2]), buf.len() - HEADER - 2);
    }

    #[test]
    fn truncated_and_unknown_frames_are_errors() {
        assert!(decode_from_worker(&[HELLO, 1, 2]).is_err());
        assert!(decode_from_worker(&[DONE, 1]).is_err());
        assert!(decode_from_worker(&[0x99]).is_err());
        assert!(decode_from_worker(&[]).is_err());
        let mut done = vec![DONE];
        done.extend_from_slice(&[0; 8]);
        done.push(7); // no such status
        done.extend_from_slice(&[0; 20]);
        assert!(decode_from_worker(&done)
            .unwrap_err()
            .0
            .contains("status 7"));
        let mut skipped = vec![SKIPPED];
        skipped.extend_from_slice(&[0; 9]);
        assert!(decode_from_worker(&skipped)
            .unwrap_err()
            .0
            .contains("trailing"));
    }

    #[test]
    fn a_frame_over_the_limit_is_not_written() {
        let mut buf = vec![1, 2, 3];
        let open = begin_task(&mut buf, 1, 2, 3);
        buf.extend_from_slice(&[0; 100]);
        assert!(open.finish(&mut buf, 64).is_err());
        assert_eq!(buf, [1, 2, 3]);
    }
}
