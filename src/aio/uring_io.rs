//! The io_uring driver's byte-stream I/O: a TCP stream's receives and sends as ring
//! operations instead of `read`/`write` system calls.
//!
//! A receive is one `IORING_OP_RECV` into a buffer the loop owns (held in the ring's
//! table of operations, not by the stream or the read future); its bytes are queued on
//! the stream ([`RingStream`]), and a read copies from that queue into the caller's
//! buffer, keeping what does not fit for the next read. Dropping a read future part way
//! therefore loses nothing: the bytes are the stream's, not the future's.
//!
//! A send copies the caller's bytes into a loop-owned buffer, submits `IORING_OP_SEND`
//! (`MSG_WAITALL`: the kernel completes it only when every byte is in the socket, or
//! with an error) and returns at once with the whole count. One send is in flight per
//! stream, which keeps the byte order; the next write waits for it. A send's error is
//! reported by the next write, flush or close; flush and close wait for the send.
//!
//! Receives and sends are submitted with the loop's next `io_uring_enter`, the same call
//! that waits for completions: the writes of every task of a turn reach the kernel in one
//! system call. So a write's bytes reach the kernel when its task next gives the loop a
//! turn (awaits something not ready, or ends), or at once when the task flushes: a task
//! that writes and then blocks its thread on the peer's answer (a blocking `std` read)
//! must flush first, as it must with a `BufWriter`.
//!
//! `CONCUR_AIO_URING_STREAMS=0` keeps streams on the ring's readiness polls with
//! `read`/`write` system calls (the driver's first stage), to compare the two.
//!
//! An operation is named by its `user_data`: [`OP`] set, a generation, and its key in the
//! ring's table, so a completion finds its own buffer and stream even after the stream
//! is gone. Closing a stream cancels its receive and waits for that cancellation before
//! the descriptor closes (the kernel's operation holds the file); a send in flight is
//! left to finish, as the kernel finishes sending a closed socket's buffered bytes.

use std::cell::RefCell;
use std::io;
use std::os::fd::RawFd;
use std::rc::Rc;
use std::task::Waker;

use io_uring::{opcode, types};
use slab::Slab;

use super::uring::{Ring, CANCEL};

/// The bit of `user_data` that marks a stream operation (polls leave it clear).
pub(super) const OP: u64 = 1 << 63;
/// The smallest receive buffer (a read asking for less still receives this much).
const RECV_MIN: usize = 16 * 1024;
/// The largest receive and send buffers.
const IO_MAX: usize = 256 * 1024;

/// Whether TCP streams do their I/O in the ring (not `CONCUR_AIO_URING_STREAMS=0`).
pub(super) fn enabled() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var("CONCUR_AIO_URING_STREAMS").as_deref() != Ok("0"))
}

/// One stream operation in flight: its buffer, and the stream it serves.
pub(super) struct Op {
    generation: u32,
    send: bool,
    buf: Vec<u8>,
    stream: Rc<RingStream>,
}

/// The table of operations in flight, owned by the ring.
#[derive(Default)]
pub(super) struct Ops {
    slab: Slab<Op>,
    generation: u32,
}

impl Ops {
    pub(super) fn is_empty(&self) -> bool {
        self.slab.is_empty()
    }

    fn insert(&mut self, send: bool, buf: Vec<u8>, stream: Rc<RingStream>) -> u64 {
        self.generation = self.generation.wrapping_add(1) & 0x7fff_ffff;
        let generation = self.generation;
        let key = self.slab.insert(Op {
            generation,
            send,
            buf,
            stream,
        });
        OP | (u64::from(generation) << 32) | key as u64
    }

    fn take(&mut self, token: u64) -> Option<Op> {
        let key = (token & u64::from(u32::MAX)) as usize;
        let generation = ((token >> 32) & 0x7fff_ffff) as u32;
        match self.slab.get(key) {
            Some(op) if op.generation == generation => Some(self.slab.remove(key)),
            _ => None,
        }
    }
}

/// A stream's side of ring I/O: the bytes received and not yet read, what is in flight,
/// the errors to report, and who waits.
pub(crate) struct RingStream {
    fd: RawFd,
    st: RefCell<State>,
}

#[derive(Default)]
struct State {
    /// Received bytes not yet read: `queue[pos..]`.
    queue: Vec<u8>,
    pos: usize,
    /// The receive in flight.
    recv: Option<u64>,
    /// The peer ended the stream (a receive returned 0).
    eof: bool,
    recv_error: Option<io::Error>,
    /// The send in flight.
    send: Option<u64>,
    send_error: Option<io::Error>,
    /// A send's buffer, kept for the next send.
    spare: Vec<u8>,
    /// `shutdown(Write)` asked for while a send was in flight: done when it completes.
    shutdown_after_send: bool,
    /// The stream is gone (its descriptor closed or closing): touch the fd no more.
    closed: bool,
    read_wakers: Vec<Waker>,
    write_wakers: Vec<Waker>,
}

fn add_waker(ws: &mut Vec<Waker>, w: &Waker) {
    if !ws.iter().any(|x| x.will_wake(w)) {
        ws.push(w.clone());
    }
}

/// What a read finds on a ring stream.
pub(crate) enum ReadState {
    /// Bytes copied (or 0 at the end of the stream).
    Done(usize),
    Failed(io::Error),
    /// Nothing yet: a receive is in flight (the waker is stored).
    Waiting,
}

impl RingStream {
    pub(super) fn new(fd: RawFd) -> Rc<RingStream> {
        Rc::new(RingStream {
            fd,
            st: RefCell::new(State::default()),
        })
    }

    /// Takes up to `max` queued bytes, hands them to `copy` (which returns how many it
    /// took) and, if `consume`, removes them; or reports the end of the stream or a
    /// receive's error; or stores `waker` and starts a receive if none is in flight.
    pub(super) fn read(
        self: &Rc<Self>,
        ring: &Ring,
        max: usize,
        consume: bool,
        waker: Option<&Waker>,
        copy: impl FnOnce(&[u8]) -> usize,
    ) -> ReadState {
        let mut st = self.st.borrow_mut();
        if st.pos < st.queue.len() {
            let end = st.queue.len().min(st.pos + max);
            let n = copy(&st.queue[st.pos..end]);
            if consume {
                st.pos += n;
                if st.pos == st.queue.len() {
                    st.queue.clear();
                    st.pos = 0;
                }
            }
            return ReadState::Done(n);
        }
        if max == 0 {
            return ReadState::Done(0);
        }
        if let Some(e) = st.recv_error.take() {
            return ReadState::Failed(e);
        }
        if st.eof {
            return ReadState::Done(0);
        }
        let Some(waker) = waker else {
            return ReadState::Waiting;
        };
        add_waker(&mut st.read_wakers, waker);
        if st.recv.is_none() {
            let mut buf = std::mem::take(&mut st.queue);
            buf.clear();
            let len = max.clamp(RECV_MIN, IO_MAX);
            buf.reserve(len);
            let cap = buf.capacity().min(IO_MAX);
            let ptr = buf.as_mut_ptr();
            let token = ring.ops.borrow_mut().insert(false, buf, self.clone());
            let entry = opcode::Recv::new(types::Fd(self.fd), ptr, cap as u32)
                .build()
                .user_data(token);
            // SAFETY: the buffer (`ptr`, `cap` bytes of capacity) is owned by the ring's
            // table of operations until this receive's completion is taken, and a
            // `Vec`'s heap memory does not move when the `Vec` does; the descriptor
            // stays open until the receive is cancelled and its cancellation waited for
            // (`close`).
            match unsafe { ring.push_op(&entry) } {
                Ok(()) => st.recv = Some(token),
                Err(e) => {
                    ring.ops.borrow_mut().take(token);
                    st.read_wakers.clear();
                    return ReadState::Failed(e);
                }
            }
        }
        ReadState::Waiting
    }

    /// Whether a read would return at once (bytes, the end, or an error).
    pub(super) fn read_ready(&self) -> bool {
        let st = self.st.borrow();
        st.pos < st.queue.len() || st.eof || st.recv_error.is_some()
    }

    /// Whether a receive is in flight (the socket's bytes go to it).
    pub(super) fn receiving(&self) -> bool {
        self.st.borrow().recv.is_some()
    }

    /// Whether bytes received by the ring wait to be read.
    pub(super) fn has_queued(&self) -> bool {
        let st = self.st.borrow();
        st.pos < st.queue.len()
    }

    /// Stores `waker` for the end of the receive in flight.
    pub(super) fn wait_read(&self, waker: &Waker) {
        add_waker(&mut self.st.borrow_mut().read_wakers, waker);
    }

    /// Whether a send is in flight.
    pub(super) fn sending(&self) -> bool {
        self.st.borrow().send.is_some()
    }

    /// Stores `waker` for the end of the send in flight.
    pub(super) fn wait_write(&self, waker: &Waker) {
        add_waker(&mut self.st.borrow_mut().write_wakers, waker);
    }

    /// A send's error not reported yet.
    pub(super) fn take_send_error(&self) -> Option<io::Error> {
        self.st.borrow_mut().send_error.take()
    }

    /// Copies `bufs` (up to [`IO_MAX`] bytes) into a loop-owned buffer and submits it;
    /// the caller has checked that no send is in flight.
    pub(super) fn send(self: &Rc<Self>, ring: &Ring, bufs: &[&[u8]]) -> io::Result<usize> {
        let mut st = self.st.borrow_mut();
        debug_assert!(st.send.is_none());
        let mut buf = std::mem::take(&mut st.spare);
        buf.clear();
        for b in bufs {
            let room = IO_MAX - buf.len();
            buf.extend_from_slice(&b[..b.len().min(room)]);
            if buf.len() == IO_MAX {
                break;
            }
        }
        let n = buf.len();
        if n == 0 {
            st.spare = buf;
            return Ok(0);
        }
        let ptr = buf.as_ptr();
        let token = ring.ops.borrow_mut().insert(true, buf, self.clone());
        let entry = opcode::Send::new(types::Fd(self.fd), ptr, n as u32)
            .flags(libc::MSG_NOSIGNAL | libc::MSG_WAITALL)
            .build()
            .user_data(token);
        // SAFETY: the buffer's `n` bytes are owned by the ring's table of operations
        // until this send's completion is taken (its heap memory does not move); the
        // kernel holds the file for the send's length, so closing the descriptor
        // meanwhile is harmless.
        match unsafe { ring.push_op(&entry) } {
            Ok(()) => {
                // Handed to the kernel with the loop's next `io_uring_enter`, together
                // with every other task's sends and receives of this turn (a flush hands
                // it over at once).
                st.send = Some(token);
                Ok(n)
            }
            Err(e) => {
                if let Some(op) = ring.ops.borrow_mut().take(token) {
                    st.spare = op.buf;
                }
                Err(e)
            }
        }
    }

    /// `shutdown(Write)`, after the send in flight if there is one.
    pub(super) fn shutdown_write(&self) -> Option<io::Result<()>> {
        let mut st = self.st.borrow_mut();
        if st.send.is_some() {
            st.shutdown_after_send = true;
            Some(Ok(()))
        } else {
            None // the caller shuts down now
        }
    }

    /// Marks the stream gone: no completion touches its descriptor again.
    pub(super) fn mark_closed(&self) {
        let mut st = self.st.borrow_mut();
        st.closed = true;
        st.shutdown_after_send = false;
    }

    /// The receive in flight, to cancel.
    pub(super) fn recv_token(&self) -> Option<u64> {
        self.st.borrow().recv
    }
}

/// Applies the completion of operation `token` (if it is still in the table): queues
/// received bytes, records the end or an error, frees or keeps the buffer, and collects
/// the wakers to wake.
pub(super) fn complete(ring: &Ring, token: u64, result: i32, wake: &mut Vec<Waker>) {
    let Some(mut op) = ring.ops.borrow_mut().take(token) else {
        return;
    };
    let stream = op.stream.clone();
    let mut st = stream.st.borrow_mut();
    if op.send {
        st.send = None;
        if result < 0 && result != -libc::ECANCELED {
            st.send_error = Some(io::Error::from_raw_os_error(-result));
        } else if result >= 0 && (result as usize) < op.buf.len() {
            st.send_error = Some(io::ErrorKind::WriteZero.into());
        }
        op.buf.clear();
        st.spare = op.buf;
        if st.shutdown_after_send && !st.closed {
            st.shutdown_after_send = false;
            // SAFETY: the stream is not closed, so `fd` is still its descriptor.
            unsafe { libc::shutdown(stream.fd, libc::SHUT_WR) };
        }
        wake.append(&mut st.write_wakers);
    } else {
        st.recv = None;
        match result {
            n if n > 0 => {
                // SAFETY: the kernel wrote `n` bytes (at most the capacity it was given)
                // at the start of the buffer.
                unsafe { op.buf.set_len(n as usize) };
                st.queue = op.buf;
                st.pos = 0;
            }
            0 => st.eof = true,
            e if e == -libc::ECANCELED => {}
            e => st.recv_error = Some(io::Error::from_raw_os_error(-e)),
        }
        wake.append(&mut st.read_wakers);
    }
}

/// Cancels `stream`'s receive in flight and waits until it has completed, so that the
/// kernel holds the file no more; then marks the stream closed.
pub(super) fn close(ring: &Ring, stream: &RingStream) {
    stream.mark_closed();
    for _ in 0..64 {
        let Some(token) = stream.recv_token() else {
            return;
        };
        let entry = opcode::AsyncCancel::new(token).build().user_data(CANCEL);
        if ring.wait_for(&entry, CANCEL).is_none() {
            return;
        }
        // The cancellation's answer may come before the receive's own completion.
        ring.wait_ops_settle(|| stream.recv_token() != Some(token));
    }
    log::error!("concur::aio: an io_uring receive could not be cancelled");
}
