//! The io_uring driver's byte-stream I/O: a TCP stream's receives and sends as ring
//! operations instead of `read`/`write` system calls.
//!
//! A stream receives with one multishot `IORING_OP_RECV`, armed by its first read and
//! left armed: each message that arrives is delivered into a buffer the kernel takes from
//! the loop's provided buffer ring (`bufs.rs`) and completes with that buffer's id,
//! with no new request per message. The stream holds the buffer, with its bytes, until a
//! read has copied them all into the caller's buffer, then gives it back to the ring.
//! Dropping a read future part way therefore loses nothing: the bytes are the stream's,
//! not the future's.
//!
//! Back-pressure: a stream that holds [`HELD_MAX`] buffers nobody reads cancels its
//! receive (the socket's buffer, then TCP's window, holds the rest) and arms it again
//! when a read has emptied it. When the buffer ring runs dry, the kernel ends the
//! receives that find no buffer (`ENOBUFS`); such a stream receives once into a buffer
//! of its own (a one-shot `IORING_OP_RECV`, the path of kernels without multishot
//! receives too), so a stream never waits for another stream's reader.
//!
//! A send copies the caller's bytes into a loop-owned buffer (an owned send takes the
//! caller's `Vec` itself), queues `IORING_OP_SEND` (`MSG_WAITALL`: the kernel completes
//! it only when every byte is in the socket, or with an error) and returns at once with
//! the whole count. One send is in flight per stream, which keeps the byte order; the
//! next write waits for it. A send's error is reported by the next write, flush or
//! close; a flush hands the send to the kernel, a close waits for it (`DESIGN.md`).
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
use std::collections::VecDeque;
use std::io;
use std::os::fd::RawFd;
use std::rc::Rc;
use std::task::Waker;

use io_uring::{cqueue, opcode, types};
use slab::Slab;

use super::super::add_waker;
use super::bufs::{self, BufRing};
use super::{Ring, CANCEL};

/// The bit of `user_data` that marks a stream operation (polls leave it clear).
pub(in crate::aio) const OP: u64 = 1 << 63;
/// The smallest one-shot receive buffer (a read asking for less still receives this much).
const RECV_MIN: usize = 16 * 1024;
/// The largest receive and send buffers.
const IO_MAX: usize = 256 * 1024;
/// The provided buffers a stream may hold unread before it stops receiving.
const HELD_MAX: usize = 16;

/// Whether TCP streams do their I/O in the ring (not `CONCUR_AIO_URING_STREAMS=0`).
pub(in crate::aio) fn enabled() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var("CONCUR_AIO_URING_STREAMS").as_deref() != Ok("0"))
}

/// What an operation in flight is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A send of a loop-owned copy.
    Send,
    /// A send of the caller's own buffer, given back when it completes.
    SendOwned,
    /// A one-shot receive into the operation's own buffer.
    Recv,
    /// A multishot receive into provided buffers: completes many times.
    RecvMulti,
}

/// One stream operation in flight: its buffer, and the stream it serves.
pub(in crate::aio) struct Op {
    generation: u32,
    kind: Kind,
    buf: Vec<u8>,
    stream: Rc<RingStream>,
}

/// The table of operations in flight, owned by the ring.
#[derive(Default)]
pub(in crate::aio) struct Ops {
    slab: Slab<Op>,
    generation: u32,
}

impl Ops {
    pub(in crate::aio) fn is_empty(&self) -> bool {
        self.slab.is_empty()
    }

    /// Whether a send is in flight.
    pub(in crate::aio) fn has_sends(&self) -> bool {
        self.slab
            .iter()
            .any(|(_, op)| op.kind != Kind::RecvMulti && op.kind != Kind::Recv)
    }

    /// The `user_data` of every operation in flight.
    pub(in crate::aio) fn tokens(&self) -> Vec<u64> {
        self.slab
            .iter()
            .map(|(key, op)| OP | (u64::from(op.generation) << 32) | key as u64)
            .collect()
    }

    fn insert(&mut self, kind: Kind, buf: Vec<u8>, stream: Rc<RingStream>) -> u64 {
        self.generation = self.generation.wrapping_add(1) & 0x7fff_ffff;
        let generation = self.generation;
        let key = self.slab.insert(Op {
            generation,
            kind,
            buf,
            stream,
        });
        OP | (u64::from(generation) << 32) | key as u64
    }

    fn key(&self, token: u64) -> Option<usize> {
        let key = (token & u64::from(u32::MAX)) as usize;
        let generation = ((token >> 32) & 0x7fff_ffff) as u32;
        match self.slab.get(key) {
            Some(op) if op.generation == generation => Some(key),
            _ => None,
        }
    }

    fn take(&mut self, token: u64) -> Option<Op> {
        self.key(token).map(|key| self.slab.remove(key))
    }
}

/// Received bytes not yet read.
enum Segment {
    /// `start..end` of provided buffer `bid`.
    Provided { bid: u16, start: usize, end: usize },
    /// `buf[start..]`, from a one-shot receive.
    Own { buf: Vec<u8>, start: usize },
}

/// A stream's side of ring I/O: the bytes received and not yet read, what is in flight,
/// the errors to report, and who waits.
pub(in crate::aio) struct RingStream {
    fd: RawFd,
    st: RefCell<State>,
}

#[derive(Default)]
struct State {
    /// Received bytes not yet read, oldest first.
    received: VecDeque<Segment>,
    /// Provided buffers among them.
    held: usize,
    /// The receive in flight.
    recv: Option<u64>,
    /// It is multishot, and a cancellation of it was asked for (it holds too much).
    multishot: bool,
    cancelling: bool,
    /// The last multishot receive found no provided buffer: the next receives are
    /// one-shot until the ring has buffers again.
    starved: bool,
    /// A one-shot receive's buffer, kept for the next.
    spare_recv: Vec<u8>,
    /// The peer ended the stream (a receive returned 0).
    eof: bool,
    recv_error: Option<io::Error>,
    /// The send in flight.
    send: Option<u64>,
    send_error: Option<io::Error>,
    /// A send's buffer, kept for the next send.
    spare: Vec<u8>,
    /// The caller's buffer of an owned send that completed, to give back, with the
    /// send's token.
    returned: Option<(u64, Vec<u8>)>,
    /// `shutdown(Write)` asked for while a send was in flight: done when it completes.
    shutdown_after_send: bool,
    /// The stream is gone (its descriptor closed or closing): touch the fd no more.
    closed: bool,
    read_wakers: Vec<Waker>,
    write_wakers: Vec<Waker>,
}

impl State {
    /// The first unread bytes, if any.
    fn front<'a>(&'a self, bufs: Option<&'a BufRing>) -> Option<&'a [u8]> {
        match self.received.front()? {
            Segment::Own { buf, start } => Some(&buf[*start..]),
            Segment::Provided { bid, start, end } => {
                let bufs = bufs.expect("a provided buffer without the buffer ring");
                // SAFETY: a completion named `bid` and the stream has not given it back
                // (it does when the segment leaves `received`); the kernel wrote `end`
                // bytes into it.
                Some(unsafe { bufs.bytes(*bid, *start, *end) })
            }
        }
    }

    /// Marks the first `n` unread bytes read, giving emptied provided buffers back.
    fn consume(&mut self, mut n: usize, bufs: Option<&BufRing>) {
        while n > 0 {
            let Some(seg) = self.received.front_mut() else {
                return;
            };
            let left = match seg {
                Segment::Own { buf, start } => {
                    let take = n.min(buf.len() - *start);
                    *start += take;
                    n -= take;
                    buf.len() - *start
                }
                Segment::Provided { start, end, .. } => {
                    let take = n.min(*end - *start);
                    *start += take;
                    n -= take;
                    *end - *start
                }
            };
            if left == 0 {
                self.pop_front(bufs);
            }
        }
    }

    /// Drops the oldest segment; a provided buffer goes back to the ring, an own buffer
    /// is kept for the next one-shot receive.
    fn pop_front(&mut self, bufs: Option<&BufRing>) {
        match self.received.pop_front() {
            Some(Segment::Provided { bid, .. }) => {
                self.held -= 1;
                let bufs = bufs.expect("a provided buffer without the buffer ring");
                // SAFETY: the segment held `bid` since its completion, and is gone now
                // (no slice of it is alive: `front`'s borrow of `self` has ended).
                unsafe { bufs.give_back(bid) };
            }
            Some(Segment::Own { mut buf, .. }) => {
                buf.clear();
                self.spare_recv = buf;
            }
            None => {}
        }
    }
}

/// What a read finds on a ring stream.
pub(in crate::aio) enum ReadState {
    /// Bytes copied (or 0 at the end of the stream).
    Done(usize),
    Failed(io::Error),
    /// Nothing yet: a receive is in flight (the waker is stored).
    Waiting,
}

impl RingStream {
    pub(in crate::aio) fn new(fd: RawFd) -> Rc<RingStream> {
        Rc::new(RingStream {
            fd,
            st: RefCell::new(State::default()),
        })
    }

    /// Takes up to `max` received bytes, hands them to `copy` (which returns how many it
    /// took) and, if `consume`, removes them; or reports the end of the stream or a
    /// receive's error; or stores `waker` and starts a receive if none is in flight.
    pub(in crate::aio) fn read(
        self: &Rc<Self>,
        ring: &Ring,
        max: usize,
        consume: bool,
        waker: Option<&Waker>,
        copy: impl FnOnce(&[u8]) -> usize,
    ) -> ReadState {
        let mut st = self.st.borrow_mut();
        let bufs = ring.bufs();
        if let Some(bytes) = st.front(bufs) {
            let n = copy(&bytes[..bytes.len().min(max)]);
            if consume {
                st.consume(n, bufs);
                if st.received.is_empty() && st.recv.is_none() && !st.eof {
                    // Emptied after a receive stopped for holding too much: arm it
                    // again, so the next bytes are on their way before the next read
                    // (if it cannot be queued now, the next read tries again).
                    let _ = self.start_recv(ring, &mut st, max);
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
        if st.recv.is_none() {
            // Nothing received and no receive in flight (the stream's first read, or its
            // receive ended): ask the socket itself first, as a readiness loop would, so
            // bytes already there (this loop's own queued writes included, submitted
            // first) come back in this poll. Only then arm the ring's receive.
            if let Some(state) = self.receive_now(ring, &mut st, max, consume, copy) {
                return state;
            }
            add_waker(&mut st.read_wakers, waker);
            if let Err(e) = self.start_recv(ring, &mut st, max) {
                st.read_wakers.clear();
                return ReadState::Failed(e);
            }
            return ReadState::Waiting;
        }
        add_waker(&mut st.read_wakers, waker);
        ReadState::Waiting
    }

    /// A non-blocking `recv` on the socket, after handing the kernel this loop's queued
    /// operations: the bytes (given to `copy`; what it took removed if `consume`, the
    /// rest kept), the end, or an error; `None` if the socket has nothing yet.
    fn receive_now(
        &self,
        ring: &Ring,
        st: &mut State,
        max: usize,
        consume: bool,
        copy: impl FnOnce(&[u8]) -> usize,
    ) -> Option<ReadState> {
        if let Err(e) = ring.submit_queued() {
            return Some(ReadState::Failed(e));
        }
        let mut buf = std::mem::take(&mut st.spare_recv);
        buf.clear();
        buf.reserve(max.clamp(RECV_MIN, IO_MAX));
        // SAFETY: `fd` is the stream's descriptor, open while the stream is not closed
        // (a closed stream is never read: its object is gone).
        let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(self.fd) };
        let got = loop {
            match rustix::net::recv(
                fd,
                rustix::buffer::spare_capacity(&mut buf),
                rustix::net::RecvFlags::DONTWAIT,
            ) {
                Err(rustix::io::Errno::INTR) => continue,
                r => break r,
            }
        };
        match got {
            Ok((0, _)) => {
                st.spare_recv = buf;
                st.eof = true;
                Some(ReadState::Done(0))
            }
            Ok(_) => {
                let n = copy(&buf[..buf.len().min(max)]);
                let start = if consume { n } else { 0 };
                if start < buf.len() {
                    st.received.push_back(Segment::Own { buf, start });
                } else {
                    st.spare_recv = buf;
                }
                Some(ReadState::Done(n))
            }
            Err(rustix::io::Errno::AGAIN) => {
                st.spare_recv = buf;
                None
            }
            Err(e) => {
                st.spare_recv = buf;
                Some(ReadState::Failed(e.into()))
            }
        }
    }

    /// Starts a receive: multishot into provided buffers where the ring has them, else
    /// one-shot into a buffer of the stream's (of at least `max` bytes, within bounds).
    fn start_recv(self: &Rc<Self>, ring: &Ring, st: &mut State, max: usize) -> io::Result<()> {
        let multi = match ring.recv_bufs() {
            Some(bufs) => !st.starved || bufs.has_free(),
            None => false,
        };
        let (token, entry) = if multi {
            let token = ring
                .ops
                .borrow_mut()
                .insert(Kind::RecvMulti, Vec::new(), self.clone());
            let entry = opcode::RecvMulti::new(types::Fd(self.fd), bufs::GROUP)
                .build()
                .user_data(token);
            (token, entry)
        } else {
            let mut buf = std::mem::take(&mut st.spare_recv);
            buf.clear();
            buf.reserve(max.clamp(RECV_MIN, IO_MAX));
            let cap = buf.capacity().min(IO_MAX);
            let ptr = buf.as_mut_ptr();
            let token = ring.ops.borrow_mut().insert(Kind::Recv, buf, self.clone());
            let entry = opcode::Recv::new(types::Fd(self.fd), ptr, cap as u32)
                .build()
                .user_data(token);
            (token, entry)
        };
        // SAFETY: a one-shot receive's buffer (`cap` bytes of capacity) is owned by the
        // ring's table of operations until its completion is taken, and a `Vec`'s heap
        // memory does not move when the `Vec` does; a multishot receive writes only into
        // provided buffers, which outlive every receive (`bufs.rs`); the
        // descriptor stays open until the receive is cancelled and its end waited for
        // (`close`).
        match unsafe { ring.push_op(&entry) } {
            Ok(()) => {
                st.recv = Some(token);
                st.multishot = multi;
                st.cancelling = false;
                Ok(())
            }
            Err(e) => {
                if let Some(op) = ring.ops.borrow_mut().take(token) {
                    st.spare_recv = op.buf;
                }
                Err(e)
            }
        }
    }

    /// Whether a read would return at once (bytes, the end, or an error).
    pub(in crate::aio) fn read_ready(&self) -> bool {
        let st = self.st.borrow();
        !st.received.is_empty() || st.eof || st.recv_error.is_some()
    }

    /// Whether a receive is in flight (the socket's bytes go to it).
    pub(in crate::aio) fn receiving(&self) -> bool {
        self.st.borrow().recv.is_some()
    }

    /// Whether bytes received by the ring wait to be read.
    pub(in crate::aio) fn has_queued(&self) -> bool {
        !self.st.borrow().received.is_empty()
    }

    /// Gives back every provided buffer the stream holds (it is closed: nobody reads).
    fn release_all(&self, ring: &Ring) {
        let mut st = self.st.borrow_mut();
        while !st.received.is_empty() {
            st.pop_front(ring.bufs());
        }
    }

    /// Stores `waker` for the end of the receive in flight.
    pub(in crate::aio) fn wait_read(&self, waker: &Waker) {
        add_waker(&mut self.st.borrow_mut().read_wakers, waker);
    }

    /// Whether a send is in flight.
    pub(in crate::aio) fn sending(&self) -> bool {
        self.st.borrow().send.is_some()
    }

    /// Stores `waker` for the end of the send in flight.
    pub(in crate::aio) fn wait_write(&self, waker: &Waker) {
        add_waker(&mut self.st.borrow_mut().write_wakers, waker);
    }

    /// A send's error not reported yet.
    pub(in crate::aio) fn take_send_error(&self) -> Option<io::Error> {
        self.st.borrow_mut().send_error.take()
    }

    /// Copies `bufs` (up to [`IO_MAX`] bytes) into a loop-owned buffer and submits it;
    /// the caller has checked that no send is in flight.
    pub(in crate::aio) fn send(self: &Rc<Self>, ring: &Ring, bufs: &[&[u8]]) -> io::Result<usize> {
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
        match self.submit_send(ring, &mut st, Kind::Send, buf) {
            Ok(()) => Ok(n),
            Err((e, buf)) => {
                st.spare = buf;
                Err(e)
            }
        }
    }

    /// Sends `buf` itself, without a copy: the ring's table of operations owns it until
    /// the send completes, then [`take_returned`](Self::take_returned) gives it back. The
    /// caller has checked that no send is in flight; `buf` holds at most `u32::MAX` bytes.
    pub(in crate::aio) fn send_owned(
        self: &Rc<Self>,
        ring: &Ring,
        buf: Vec<u8>,
    ) -> Result<u64, (io::Error, Vec<u8>)> {
        let mut st = self.st.borrow_mut();
        debug_assert!(st.send.is_none() && u32::try_from(buf.len()).is_ok());
        self.submit_send(ring, &mut st, Kind::SendOwned, buf)?;
        Ok(st.send.expect("the send just queued"))
    }

    /// The buffer of the owned send `token`, once it completed.
    pub(in crate::aio) fn take_returned(&self, token: u64) -> Option<Vec<u8>> {
        let mut st = self.st.borrow_mut();
        match st.returned.take() {
            Some((t, buf)) if t == token => Some(buf),
            other => {
                st.returned = other;
                None
            }
        }
    }

    /// Queues the send of all of `buf` (`kind`: a copy, or the caller's own buffer).
    fn submit_send(
        self: &Rc<Self>,
        ring: &Ring,
        st: &mut State,
        kind: Kind,
        buf: Vec<u8>,
    ) -> Result<(), (io::Error, Vec<u8>)> {
        let (ptr, n) = (buf.as_ptr(), buf.len());
        let token = ring.ops.borrow_mut().insert(kind, buf, self.clone());
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
                Ok(())
            }
            Err(e) => {
                let op = ring.ops.borrow_mut().take(token);
                Err((e, op.map(|op| op.buf).unwrap_or_default()))
            }
        }
    }

    /// `shutdown(Write)`, after the send in flight if there is one.
    pub(in crate::aio) fn shutdown_write(&self) -> Option<io::Result<()>> {
        let mut st = self.st.borrow_mut();
        if st.send.is_some() {
            st.shutdown_after_send = true;
            Some(Ok(()))
        } else {
            None // the caller shuts down now
        }
    }

    /// Marks the stream gone: no completion touches its descriptor again.
    pub(in crate::aio) fn mark_closed(&self) {
        let mut st = self.st.borrow_mut();
        st.closed = true;
        st.shutdown_after_send = false;
    }

    /// The receive in flight, to cancel.
    pub(in crate::aio) fn recv_token(&self) -> Option<u64> {
        self.st.borrow().recv
    }
}

/// Applies the completion of operation `token` (if it is still in the table): queues
/// received bytes, records the end or an error, frees or keeps the buffer, and collects
/// the wakers to wake.
pub(in crate::aio) fn complete(
    ring: &Ring,
    token: u64,
    result: i32,
    flags: u32,
    wake: &mut Vec<Waker>,
) {
    let (kind, stream) = {
        let ops = ring.ops.borrow();
        let Some(key) = ops.key(token) else {
            return;
        };
        let op = &ops.slab[key];
        (op.kind, op.stream.clone())
    };
    if kind == Kind::RecvMulti {
        return complete_multishot(ring, token, result, flags, &stream, wake);
    }
    let Some(mut op) = ring.ops.borrow_mut().take(token) else {
        return;
    };
    let mut st = stream.st.borrow_mut();
    if kind != Kind::Recv {
        st.send = None;
        if result < 0 && result != -libc::ECANCELED {
            st.send_error = Some(io::Error::from_raw_os_error(-result));
        } else if result >= 0 && (result as usize) < op.buf.len() {
            st.send_error = Some(io::ErrorKind::WriteZero.into());
        }
        if kind == Kind::SendOwned {
            st.returned = Some((token, op.buf));
        } else {
            op.buf.clear();
            st.spare = op.buf;
        }
        if st.shutdown_after_send && !st.closed {
            st.shutdown_after_send = false;
            // SAFETY: the stream is not closed, so `fd` is still its descriptor.
            unsafe { libc::shutdown(stream.fd, libc::SHUT_WR) };
        }
        wake.append(&mut st.write_wakers);
        return;
    }
    st.recv = None;
    match result {
        n if n > 0 => {
            // SAFETY: the kernel wrote `n` bytes (at most the capacity it was given) at
            // the start of the buffer.
            unsafe { op.buf.set_len(n as usize) };
            st.received.push_back(Segment::Own {
                buf: op.buf,
                start: 0,
            });
        }
        0 => st.eof = true,
        e if e == -libc::ECANCELED => {}
        e => st.recv_error = Some(io::Error::from_raw_os_error(-e)),
    }
    wake.append(&mut st.read_wakers);
}

/// [`complete`] for one completion of a multishot receive: a message in a provided
/// buffer, or the receive's end.
fn complete_multishot(
    ring: &Ring,
    token: u64,
    result: i32,
    flags: u32,
    stream: &RingStream,
    wake: &mut Vec<Waker>,
) {
    let more = cqueue::more(flags);
    if !more {
        ring.ops.borrow_mut().take(token);
    }
    let mut st = stream.st.borrow_mut();
    if let Some(bid) = cqueue::buffer_select(flags) {
        let bufs = ring
            .bufs()
            .expect("a provided buffer without the buffer ring");
        bufs.taken(bid);
        // Kept even for a closed stream: `into_std` then refuses to drop them, and a
        // dropped stream gives them back (`release_all`).
        if result > 0 {
            st.received.push_back(Segment::Provided {
                bid,
                start: 0,
                end: (result as usize).min(bufs::SIZE),
            });
            st.held += 1;
        } else {
            // SAFETY: just named by this completion; nobody has a slice of it.
            unsafe { bufs.give_back(bid) };
        }
    }
    if !more {
        st.recv = None;
        st.multishot = false;
        match result {
            0 => st.eof = true,
            n if n > 0 => {}
            e if e == -libc::ENOBUFS => st.starved = true,
            e if e == -libc::ECANCELED => {}
            // A kernel without multishot receives: one-shot ones from now on.
            e if e == -libc::EINVAL => ring.no_multishot(),
            e => st.recv_error = Some(io::Error::from_raw_os_error(-e)),
        }
    } else if result > 0 {
        st.starved = false;
        if st.held >= HELD_MAX && !st.cancelling && !st.closed {
            // Nobody reads this stream: stop receiving until a read has emptied it.
            st.cancelling = true;
            let entry = opcode::AsyncCancel::new(token).build().user_data(CANCEL);
            let _ = ring.push_entry(&entry);
        }
    }
    wake.append(&mut st.read_wakers);
}

/// Cancels `stream`'s receive in flight and waits until it has completed, so that the
/// kernel holds the file no more; then marks the stream closed.
pub(in crate::aio) fn close(ring: &Ring, stream: &RingStream) {
    // A send still queued names the descriptor by number: it must reach the kernel (which
    // then holds the file) before the number is closed, and perhaps reused by another
    // socket. Submitted, it finishes as the kernel finishes a closed socket's bytes.
    if stream.sending() {
        if let Err(e) = ring.submit_all() {
            log::error!("concur::aio: submitting a closing stream's last send failed: {e}");
        }
    }
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
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        ring.wait_ops_settle(|| stream.recv_token() != Some(token), deadline);
    }
    log::error!("concur::aio: an io_uring receive could not be cancelled");
}

/// [`close`], then gives back the provided buffers the stream holds.
pub(in crate::aio) fn close_and_release(ring: &Ring, stream: &RingStream) {
    close(ring, stream);
    // Always safe: the stream's buffers are the loop's whatever is in flight.
    stream.release_all(ring);
}
