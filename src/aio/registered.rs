//! An OS object registered with the running loop's reactor: the readiness protocol every
//! socket, pipe and descriptor of the loop goes through, and for byte streams the reads
//! and writes that are system calls on epoll (with read-ahead, `read_ahead.rs`) or ring
//! operations on io_uring (`driver/uring/streams.rs`).

use std::cell::RefCell;
use std::io;
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::task::{Context, Poll};

use super::driver::uring::streams::{self, ReadState, RingStream};
use super::driver::uring::{Ring, LINGER};
use super::driver::{Direction, Readiness};
use super::introspect::Awaiting;
use super::read_ahead::{self, ReadAhead};
use super::runtime::{current, poll_budget, Local};

/// Copies what fits of `bytes` into `buf`; how many.
fn copy_into(buf: &mut [u8], bytes: &[u8]) -> usize {
    let n = buf.len().min(bytes.len());
    buf[..n].copy_from_slice(&bytes[..n]);
    n
}

/// An OS object registered with the running loop's reactor.
pub(super) struct Registered<S: mio::event::Source + AsRawFd> {
    source: S,
    key: usize,
    readiness: Rc<Readiness>,
    local: Rc<Local>,
    /// A byte stream's receives and sends in the ring (io_uring driver, TCP streams).
    stream: Option<Rc<RingStream>>,
    /// A byte stream's read-ahead, where its reads are system calls (`read_ahead.rs`).
    ahead: Option<RefCell<ReadAhead>>,
}

impl<S: mio::event::Source + AsRawFd> Registered<S> {
    /// Registers `source` with the loop running on this thread.
    ///
    /// # Panics
    ///
    /// Outside of an event loop (`what` names the caller in the message).
    pub(super) fn new(source: S, what: &str) -> io::Result<Self> {
        Self::new_with(source, current(what), false)
    }

    /// [`new`](Self::new) on `local`'s loop; `lazy`: on io_uring, poll readiness only on
    /// demand.
    fn new_with(mut source: S, local: Rc<Local>, lazy: bool) -> io::Result<Self> {
        let (key, readiness) = local.reactor.register(&mut source, lazy)?;
        Ok(Registered {
            source,
            key,
            readiness,
            local,
            stream: None,
            ahead: None,
        })
    }

    /// [`new`](Self::new) for a byte stream: on the io_uring driver its reads and
    /// writes go through the ring (`driver/uring/streams.rs`), and its readiness is
    /// polled only on demand; where reads are system calls, they read ahead
    /// (`read_ahead.rs`).
    pub(super) fn new_stream(source: S, what: &str) -> io::Result<Self> {
        let local = current(what);
        let ring_io = local.reactor.ring().is_some() && streams::enabled();
        let mut this = Self::new_with(source, local, ring_io)?;
        if ring_io {
            this.stream = Some(RingStream::new(this.source.as_raw_fd()));
        } else {
            this.ahead = Some(RefCell::new(ReadAhead::default()));
        }
        Ok(this)
    }

    fn ring(&self) -> &Ring {
        self.local
            .reactor
            .ring()
            .expect("a ring stream on the epoll driver")
    }

    /// The checks every operation makes first: the loop still runs, and the task has
    /// budget left.
    fn enter(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if !self.local.is_running() {
            return Poll::Ready(Err(io::Error::other(
                "concur::aio: this I/O object's event loop has ended (aio::run returned); \
                 create I/O objects inside the loop that uses them",
            )));
        }
        if poll_budget(cx).is_pending() {
            return Poll::Pending;
        }
        Poll::Ready(Ok(()))
    }

    /// A byte stream's read of up to `len` bytes: from the ring's received bytes (handed
    /// to `copy`, which returns how many it took; kept unless `peek`), or by `op` on the
    /// socket when the stream has no ring I/O.
    pub(super) fn poll_stream_read(
        &self,
        cx: &mut Context<'_>,
        len: usize,
        peek: bool,
        copy: impl FnOnce(&[u8]) -> usize,
        op: impl FnMut(&S) -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        let Some(stream) = &self.stream else {
            return self.poll_read_ahead(cx, len, peek, copy, op);
        };
        if let Err(e) = std::task::ready!(self.enter(cx)) {
            return Poll::Ready(Err(e));
        }
        match stream.read(self.ring(), len, !peek, Some(cx.waker()), copy) {
            ReadState::Done(n) => Poll::Ready(Ok(n)),
            ReadState::Failed(e) => Poll::Ready(Err(e)),
            ReadState::Waiting => {
                self.local.note_awaiting(Awaiting::Io(Direction::Read));
                Poll::Pending
            }
        }
    }

    /// [`poll_stream_read`](Self::poll_stream_read) where reads are system calls: from
    /// the bytes read ahead first, then into the read-ahead buffer once the stream reads
    /// exactly what it asks for (`read_ahead.rs`), else by `op` into the caller's buffer.
    fn poll_read_ahead(
        &self,
        cx: &mut Context<'_>,
        len: usize,
        peek: bool,
        copy: impl FnOnce(&[u8]) -> usize,
        op: impl FnMut(&S) -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        let Some(ahead) = &self.ahead else {
            return if peek {
                self.poll_io(cx, Direction::Read, op)
            } else {
                self.poll_stream_io(cx, Direction::Read, len, op)
            };
        };
        if !ahead.borrow().bytes().is_empty() {
            if let Err(e) = std::task::ready!(self.enter(cx)) {
                return Poll::Ready(Err(e));
            }
            return Poll::Ready(Ok(ahead.borrow_mut().serve(len, !peek, copy)));
        }
        if peek {
            return self.poll_io(cx, Direction::Read, op);
        }
        if !ahead.borrow().wanted(len) {
            let r = self.poll_stream_io(cx, Direction::Read, len, op);
            if let Poll::Ready(Ok(n)) = r {
                ahead.borrow_mut().note_direct(n, len);
            }
            return r;
        }
        let got = self.poll_io(cx, Direction::Read, |s| {
            // SAFETY: the descriptor of the registered source, open while it lives.
            let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(s.as_raw_fd()) };
            let mut ra = ahead.borrow_mut();
            rustix::io::read(fd, rustix::buffer::spare_capacity(ra.spare())).map_err(Into::into)
        });
        match got {
            Poll::Ready(Ok(m)) if m > 0 => {
                if m < read_ahead::SIZE {
                    // Short: the socket is empty, so wait for the next event.
                    self.clear_unless_closed(Direction::Read);
                }
                Poll::Ready(Ok(ahead.borrow_mut().serve(len, true, copy)))
            }
            other => other,
        }
    }

    /// [`poll_stream_read`](Self::poll_stream_read) into `buf`; `op` reads the socket
    /// into the buffer it is given.
    pub(super) fn poll_read_slice(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
        peek: bool,
        mut op: impl FnMut(&S, &mut [u8]) -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        let len = buf.len();
        // Shared by the two closures, of which one runs.
        let buf = RefCell::new(buf);
        self.poll_stream_read(
            cx,
            len,
            peek,
            |bytes| copy_into(&mut buf.borrow_mut(), bytes),
            |s| op(s, &mut buf.borrow_mut()),
        )
    }

    /// [`try_stream_read`](Self::try_stream_read) into `buf`.
    pub(super) fn try_read_slice(
        &self,
        buf: &mut [u8],
        mut op: impl FnMut(&S, &mut [u8]) -> io::Result<usize>,
    ) -> io::Result<usize> {
        let len = buf.len();
        let buf = RefCell::new(buf);
        self.try_stream_read(
            len,
            |bytes| copy_into(&mut buf.borrow_mut(), bytes),
            |s| op(s, &mut buf.borrow_mut()),
        )
    }

    /// A byte stream's write of `bufs`: copied into the ring and submitted (the count
    /// returned at once), or by `op` on the socket when the stream has no ring I/O.
    pub(super) fn poll_stream_write(
        &self,
        cx: &mut Context<'_>,
        bufs: &[&[u8]],
        op: impl FnMut(&S) -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        let Some(stream) = &self.stream else {
            let len = bufs.iter().map(|b| b.len()).sum();
            return self.poll_stream_io(cx, Direction::Write, len, op);
        };
        if let Err(e) = std::task::ready!(self.enter(cx)) {
            return Poll::Ready(Err(e));
        }
        if let Some(e) = stream.take_send_error() {
            return Poll::Ready(Err(e));
        }
        if bufs.iter().all(|b| b.is_empty()) {
            return Poll::Ready(Ok(0));
        }
        if stream.sending() {
            return self.wait_for_send(stream, cx);
        }
        Poll::Ready(stream.send(self.ring(), bufs))
    }

    /// On the io_uring driver, sends all of `buf` without copying it (the ring owns it
    /// until the send completes), after the send in flight, and gives it back with the
    /// outcome; `Err(buf)` where this stream has no ring I/O (the caller writes it the
    /// usual way). Dropped part way, the buffer is freed once the kernel is done with it.
    pub(super) async fn send_owned(
        &self,
        buf: Vec<u8>,
    ) -> Result<(io::Result<()>, Vec<u8>), Vec<u8>> {
        let Some(stream) = &self.stream else {
            return Err(buf);
        };
        if u32::try_from(buf.len()).is_err() {
            return Err(buf);
        }
        // The send in flight first: the bytes keep their order.
        if let Err(e) = std::future::poll_fn(|cx| self.poll_send_done(stream, cx)).await {
            return Ok((Err(e), buf));
        }
        let token = match stream.send_owned(self.ring(), buf) {
            Ok(token) => token,
            Err((e, buf)) => return Ok((Err(e), buf)),
        };
        // Submitted with the loop's next turn; the buffer is free once the send is done.
        let flushed = std::future::poll_fn(|cx| self.poll_send_done(stream, cx)).await;
        match stream.take_returned(token) {
            Some(buf) => Ok((flushed, buf)),
            // Not completed (the ring failed while it waited): the ring keeps the buffer
            // until the kernel is done with it.
            None => Ok((
                flushed.and(Err(io::Error::other(
                    "concur::aio: the io_uring failed while an owned send was in flight",
                ))),
                Vec::new(),
            )),
        }
    }

    /// Parks the task until `stream`'s send in flight completes, noted in the task's
    /// record as waiting to write.
    fn wait_for_send<T>(&self, stream: &RingStream, cx: &Context<'_>) -> Poll<T> {
        stream.wait_write(cx.waker());
        self.local.note_awaiting(Awaiting::Io(Direction::Write));
        Poll::Pending
    }

    /// Hands a byte stream's queued send to the kernel and reports an error a send met
    /// (at once without ring I/O: the OS has the bytes already).
    pub(super) fn poll_stream_flush(&self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        let Some(stream) = &self.stream else {
            return Poll::Ready(Ok(()));
        };
        // A send still queued for the loop's next turn goes to the kernel now, which
        // then holds the bytes as a socket buffer does: flushed, as tokio's flush (a
        // no-op) means it. Waiting for the send's completion here made hyper, which
        // ends a message at its flush, take the peer's close that came in the same turn
        // for a message cut short (`IncompleteMessage`). The send's error, if it fails
        // later, comes with the next write, flush or close.
        if stream.sending() {
            if let Err(e) = self.ring().submit_queued() {
                return Poll::Ready(Err(e));
            }
        }
        Poll::Ready(stream.take_send_error().map_or(Ok(()), Err))
    }

    /// What a byte stream's close does before it shuts the write side down: hands a
    /// queued send to the kernel, waits until the send in flight has completed (so the
    /// end of the stream comes after its last bytes) and reports its error.
    pub(super) fn poll_stream_drain(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        std::task::ready!(self.poll_stream_flush(cx))?;
        match &self.stream {
            Some(stream) => self.poll_send_done(stream, cx),
            None => Poll::Ready(Ok(())),
        }
    }

    /// Waits until `stream`'s send in flight has completed; its error, if any.
    fn poll_send_done(&self, stream: &RingStream, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if stream.sending() {
            return self.wait_for_send(stream, cx);
        }
        Poll::Ready(stream.take_send_error().map_or(Ok(()), Err))
    }

    /// A byte stream's `shutdown(Write)`: after its send in flight, if any. `None`: do it
    /// now.
    pub(super) fn defer_shutdown_write(&self) -> Option<io::Result<()>> {
        self.stream.as_ref()?.shutdown_write()
    }

    /// Readiness for the `readable()` family on a byte stream: its received bytes or a
    /// receive in flight come first.
    pub(super) fn poll_stream_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Some(ahead) = &self.ahead {
            if !ahead.borrow().bytes().is_empty() {
                return Poll::Ready(Ok(()));
            }
        }
        if let Some(stream) = &self.stream {
            if stream.read_ready() {
                return Poll::Ready(Ok(()));
            }
            if stream.receiving() {
                if let Err(e) = std::task::ready!(self.enter(cx)) {
                    return Poll::Ready(Err(e));
                }
                stream.wait_read(cx.waker());
                self.local.note_awaiting(Awaiting::Io(Direction::Read));
                return Poll::Pending;
            }
        }
        self.poll_io(cx, Direction::Read, |_| Ok(()))
    }

    /// Readiness for the `writable()` family on a byte stream: a send in flight first.
    pub(super) fn poll_stream_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Some(stream) = &self.stream {
            if stream.sending() {
                if let Err(e) = std::task::ready!(self.enter(cx)) {
                    return Poll::Ready(Err(e));
                }
                return self.wait_for_send(stream, cx);
            }
        }
        self.poll_io(cx, Direction::Write, |_| Ok(()))
    }

    /// A non-blocking read on a byte stream: the ring's received bytes first; "would
    /// block" while a receive is in flight (the socket's next bytes are its); else `op`.
    pub(super) fn try_stream_read(
        &self,
        len: usize,
        copy: impl FnOnce(&[u8]) -> usize,
        op: impl FnMut(&S) -> io::Result<usize>,
    ) -> io::Result<usize> {
        if let Some(stream) = &self.stream {
            match stream.read(self.ring(), len, true, None, copy) {
                ReadState::Done(n) => return Ok(n),
                ReadState::Failed(e) => return Err(e),
                ReadState::Waiting if stream.receiving() => {
                    return Err(io::ErrorKind::WouldBlock.into())
                }
                ReadState::Waiting => {}
            }
            // Sends of this loop (to this socket's peer, say) may still sit in the
            // submission queue: submit them before concluding that nothing came.
            let mut op = op;
            return match self.try_io(Direction::Read, &mut op) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    let _ = self.ring().submit();
                    self.try_io(Direction::Read, op)
                }
                r => r,
            };
        }
        if let Some(ahead) = &self.ahead {
            let mut ra = ahead.borrow_mut();
            if !ra.bytes().is_empty() {
                return Ok(ra.serve(len, true, copy));
            }
        }
        self.try_io(Direction::Read, op)
    }

    /// A non-blocking write on a byte stream: "would block" while a send is in flight
    /// (the order of the bytes), its error if it failed; else `op`.
    pub(super) fn try_stream_write(
        &self,
        op: impl FnMut(&S) -> io::Result<usize>,
    ) -> io::Result<usize> {
        if let Some(stream) = &self.stream {
            if stream.sending() {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            if let Some(e) = stream.take_send_error() {
                return Err(e);
            }
        }
        self.try_io(Direction::Write, op)
    }

    /// Ends the stream's ring I/O before the socket leaves the loop (`into_std`): an
    /// error if bytes the ring received would be lost.
    pub(super) fn detach_stream(&self) -> io::Result<()> {
        if let Some(ahead) = &self.ahead {
            if !ahead.borrow().bytes().is_empty() {
                return Err(io::Error::other(
                    "concur::aio: bytes the stream already read ahead would be lost; \
                     read them before into_std",
                ));
            }
        }
        let Some(stream) = &self.stream else {
            return Ok(());
        };
        // The socket goes to blocking use, perhaps waiting for a peer that waits for this
        // loop's queued writes (to this socket or another): hand them to the kernel now.
        self.ring().submit_queued()?;
        // And this stream's send must be done: the ring moves it only while the loop
        // waits, so a blocking write after it would overtake its bytes (and a deferred
        // shutdown would never happen).
        let deadline = std::time::Instant::now() + LINGER;
        if !self.ring().wait_ops_settle(|| !stream.sending(), deadline) {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "concur::aio: into_std: the peer took no bytes of this stream's last write \
                 for 5 s; the io_uring still holds them",
            ));
        }
        streams::close(self.ring(), stream);
        if stream.has_queued() {
            return Err(io::Error::other(
                "concur::aio: bytes the io_uring already received would be lost; \
                 read them before into_std",
            ));
        }
        Ok(())
    }

    pub(super) fn source(&self) -> &S {
        &self.source
    }

    /// Runs `op` until it does not block: `Pending` (with the task's waker stored) while
    /// the OS says it would.
    pub(super) fn poll_io<R>(
        &self,
        cx: &mut Context<'_>,
        dir: Direction,
        mut op: impl FnMut(&S) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        if !self.local.is_running() {
            return Poll::Ready(Err(io::Error::other(
                "concur::aio: this I/O object's event loop has ended (aio::run returned); \
                 create I/O objects inside the loop that uses them",
            )));
        }
        if poll_budget(cx).is_pending() {
            return Poll::Pending;
        }
        let flag = self.readiness.flag(dir);
        loop {
            if !flag.get() {
                self.readiness.wait(dir, cx.waker());
                self.local.reactor.arm_on_demand(&self.readiness, dir);
                self.local.note_awaiting(Awaiting::Io(dir));
                return Poll::Pending;
            }
            match op(&self.source) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => flag.set(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                r => return Poll::Ready(r),
            }
        }
    }

    /// [`poll_io`](Self::poll_io) for a read or write of `len` bytes on a byte stream: one
    /// that moves fewer bytes than asked (but some) emptied the socket's receive buffer
    /// (or filled its send buffer), so the readiness is forgotten at once, and the next
    /// call waits for the next readiness event instead of trying the OS first only to hear
    /// "would block". (A change meanwhile raises a new edge, which the reactor records
    /// after this.)
    pub(super) fn poll_stream_io(
        &self,
        cx: &mut Context<'_>,
        dir: Direction,
        len: usize,
        op: impl FnMut(&S) -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        let r = self.poll_io(cx, dir, op);
        if let Poll::Ready(Ok(n)) = r {
            if n > 0 && n < len {
                self.clear_unless_closed(dir);
            }
        }
        r
    }

    /// Waits until the OS reports `dir` readiness (used by connect).
    pub(super) fn poll_ready(&self, cx: &mut Context<'_>, dir: Direction) -> Poll<()> {
        if self.readiness.flag(dir).get() {
            Poll::Ready(())
        } else {
            self.readiness.wait(dir, cx.waker());
            self.local.reactor.arm_on_demand(&self.readiness, dir);
            self.local.note_awaiting(Awaiting::Io(dir));
            Poll::Pending
        }
    }

    /// Runs `op` once on the source, without waiting (again if a signal interrupted
    /// it): the `try_*` operations. A "would block" forgets the readiness in `dir`, so
    /// the next wait waits for the OS's next event.
    pub(super) fn try_io<R>(
        &self,
        dir: Direction,
        mut op: impl FnMut(&S) -> io::Result<R>,
    ) -> io::Result<R> {
        loop {
            match op(&self.source) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.clear(dir);
                    return Err(e);
                }
                r => return r,
            }
        }
    }

    /// Forgets a readiness the OS reported, to wait for the next one.
    pub(super) fn clear(&self, dir: Direction) {
        self.readiness.flag(dir).set(false);
    }

    /// [`clear`](Self::clear), unless that side is closed: then no event would follow, and
    /// the next operation must go to the OS (to hear the end of the stream or the error).
    fn clear_unless_closed(&self, dir: Direction) {
        if !self.readiness.closed(dir) {
            self.clear(dir);
        }
    }
}

impl<S: mio::event::Source + AsRawFd> Drop for Registered<S> {
    fn drop(&mut self) {
        let reactor = &self.local.reactor;
        // Before the descriptor is closed (the source drops after this): the kernel's
        // receive and polls hold the file until they are gone.
        if let (Some(stream), Some(ring)) = (&self.stream, reactor.ring()) {
            streams::close_and_release(ring, stream);
        }
        reactor.deregister(&mut self.source, self.key, &self.readiness);
    }
}
