//! The reactor: the readiness of every I/O object the loop owns, from mio's `Poll` (epoll)
//! or from an io_uring (`uring.rs`: multishot polls), as the loop's driver says.
//! Registration is edge-triggered: an object is tried optimistically, and only after the
//! OS says "would block" does it wait for the next readiness event.

use std::cell::{Cell, RefCell};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use mio::{Events, Interest, Token};
use slab::Slab;

use super::driver::Driver;
use super::introspect::Awaiting;
use super::read_ahead::{self, ReadAhead};
use super::runtime::{current, poll_budget, Local};
use super::uring::{Ring, WRITE_POLL};
use super::uring_io::{self, ReadState, RingStream};

/// The token of the loop's cross-thread waker.
const WAKER_TOKEN: Token = Token(usize::MAX);

pub(crate) struct Reactor {
    backend: Backend,
    sources: RefCell<Slab<Rc<Readiness>>>,
    /// The wakers one poll collects, kept between polls for its capacity.
    to_wake: RefCell<Vec<Waker>>,
}

/// Where readiness comes from.
enum Backend {
    Epoll {
        poll: RefCell<mio::Poll>,
        events: RefCell<Events>,
    },
    /// Boxed: a ring is much larger than the epoll side.
    Uring(Box<Ring>),
}

/// What wakes a loop blocked in its reactor, from any thread.
pub(super) enum OsWaker {
    Mio(mio::Waker),
    /// The ring's eventfd (a duplicate), polled on the ring.
    EventFd(OwnedFd),
}

impl OsWaker {
    pub(super) fn wake(&self) -> io::Result<()> {
        match self {
            OsWaker::Mio(w) => w.wake(),
            OsWaker::EventFd(fd) => match rustix::io::write(fd, &1u64.to_ne_bytes()) {
                // A full counter (EAGAIN) is a wake-up still pending: enough.
                Ok(_) | Err(rustix::io::Errno::AGAIN) => Ok(()),
                Err(e) => Err(e.into()),
            },
        }
    }
}

/// Which way an operation goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    Read,
    Write,
}

/// What the reactor knows of one object: readiness per direction, and who waits (each
/// task waiting in a direction; several tasks may share a socket).
#[derive(Default)]
pub(super) struct Readiness {
    /// The io_uring driver's name for this registration (key and generation), and the
    /// descriptor its poll watches.
    token: Cell<u64>,
    fd: Cell<RawFd>,
    readable: Cell<bool>,
    writable: Cell<bool>,
    /// The OS reported the read (write) side closed or an error: that is final, so a
    /// partial transfer never makes the object wait for an event that will not come.
    read_closed: Cell<bool>,
    write_closed: Cell<bool>,
    read_wakers: RefCell<Vec<Waker>>,
    write_wakers: RefCell<Vec<Waker>>,
    /// io_uring: polled on demand, by a single-shot poll per direction armed only while
    /// a task waits for readiness (a stream whose reads and writes are ring operations
    /// needs readiness rarely: connecting, `readable()`, `try_*`); else by one multishot
    /// poll from registration on.
    lazy: Cell<bool>,
    /// The on-demand polls armed: bit 0 read, bit 1 write.
    armed: Cell<u8>,
}

/// The bit of [`Readiness::armed`] for `dir`.
fn armed_bit(dir: Direction) -> u8 {
    match dir {
        Direction::Read => 1,
        Direction::Write => 2,
    }
}

impl Readiness {
    fn flag(&self, dir: Direction) -> &Cell<bool> {
        match dir {
            Direction::Read => &self.readable,
            Direction::Write => &self.writable,
        }
    }

    fn wakers(&self, dir: Direction) -> &RefCell<Vec<Waker>> {
        match dir {
            Direction::Read => &self.read_wakers,
            Direction::Write => &self.write_wakers,
        }
    }

    /// Registers `waker` to hear of the next readiness in `dir`.
    fn wait(&self, dir: Direction, waker: &Waker) {
        let mut ws = self.wakers(dir).borrow_mut();
        if !ws.iter().any(|w| w.will_wake(waker)) {
            ws.push(waker.clone());
        }
    }
}

impl Reactor {
    /// A reactor on `driver` (never `Auto`: the loop resolved it).
    pub(super) fn new(driver: Driver) -> io::Result<Self> {
        let backend = match driver {
            Driver::IoUring => Backend::Uring(Box::new(Ring::new()?)),
            _ => Backend::Epoll {
                poll: RefCell::new(mio::Poll::new()?),
                events: RefCell::new(Events::with_capacity(1024)),
            },
        };
        Ok(Reactor {
            backend,
            sources: RefCell::new(Slab::new()),
            to_wake: RefCell::new(Vec::new()),
        })
    }

    pub(super) fn new_waker(&self) -> io::Result<OsWaker> {
        match &self.backend {
            Backend::Epoll { poll, .. } => Ok(OsWaker::Mio(mio::Waker::new(
                poll.borrow().registry(),
                WAKER_TOKEN,
            )?)),
            Backend::Uring(ring) => Ok(OsWaker::EventFd(ring.waker()?)),
        }
    }

    /// Waits at most `timeout` (forever if `None`) for readiness events and wakes the
    /// tasks waiting on them.
    pub(super) fn poll(&self, timeout: Option<Duration>) {
        let (poll, events) = match &self.backend {
            Backend::Epoll { poll, events } => (poll, events),
            Backend::Uring(ring) => return self.poll_ring(ring, timeout),
        };
        let mut events = events.borrow_mut();
        if let Err(e) = poll.borrow_mut().poll(&mut events, timeout) {
            if e.kind() != io::ErrorKind::Interrupted {
                log::error!("concur::aio: polling for I/O failed: {e}");
            }
            return;
        }
        // Taken out of its cell: a waker may do anything, even poll this reactor again.
        let mut wake = std::mem::take(&mut *self.to_wake.borrow_mut());
        {
            let sources = self.sources.borrow();
            for ev in events.iter() {
                if ev.token() == WAKER_TOKEN {
                    continue; // the remote queue is drained by the loop
                }
                let Some(r) = sources.get(ev.token().0) else {
                    continue;
                };
                if ev.is_read_closed() || ev.is_error() {
                    r.read_closed.set(true);
                }
                if ev.is_write_closed() || ev.is_error() {
                    r.write_closed.set(true);
                }
                if ev.is_readable() || ev.is_read_closed() || ev.is_error() {
                    r.readable.set(true);
                    wake.append(&mut r.read_wakers.borrow_mut());
                }
                if ev.is_writable() || ev.is_write_closed() || ev.is_error() {
                    r.writable.set(true);
                    wake.append(&mut r.write_wakers.borrow_mut());
                }
            }
        }
        drop(events);
        for w in wake.drain(..) {
            w.wake();
        }
        *self.to_wake.borrow_mut() = wake;
    }

    /// [`poll`](Self::poll) on the io_uring driver.
    fn poll_ring(&self, ring: &Ring, timeout: Option<Duration>) {
        let mut wake = std::mem::take(&mut *self.to_wake.borrow_mut());
        let mut rearm = Vec::new();
        let mut op_wakes = Vec::new();
        {
            let sources = self.sources.borrow();
            ring.wait(
                timeout,
                |ev| {
                    // A completion of a registration that is gone (or whose key was
                    // reused since) is stale: ignored, and never re-armed.
                    let token = ev.token & !WRITE_POLL;
                    let Some(r) = sources.get(ev.key).filter(|r| r.token.get() == token) else {
                        return;
                    };
                    if r.lazy.get() {
                        // A single-shot poll: ended. Armed again when a task waits.
                        let dir = if ev.token & WRITE_POLL != 0 {
                            Direction::Write
                        } else {
                            Direction::Read
                        };
                        r.armed.set(r.armed.get() & !armed_bit(dir));
                    }
                    if ev.read_closed {
                        r.read_closed.set(true);
                    }
                    if ev.write_closed {
                        r.write_closed.set(true);
                    }
                    if ev.readable {
                        r.readable.set(true);
                        wake.append(&mut r.read_wakers.borrow_mut());
                    }
                    if ev.writable {
                        r.writable.set(true);
                        wake.append(&mut r.write_wakers.borrow_mut());
                    }
                    if ev.ended && !r.lazy.get() && !(ev.read_closed && ev.write_closed) {
                        rearm.push((r.fd.get(), ev.token));
                    }
                },
                &mut op_wakes,
            );
        }
        wake.append(&mut op_wakes);
        for (fd, token) in rearm {
            ring.rearm(fd, token);
        }
        for w in wake.drain(..) {
            w.wake();
        }
        *self.to_wake.borrow_mut() = wake;
    }
}

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
        Self::new_with(source, what, false)
    }

    /// [`new`](Self::new); `lazy`: on io_uring, poll readiness only on demand.
    fn new_with(mut source: S, what: &str, lazy: bool) -> io::Result<Self> {
        let local = current(what);
        let readiness = Rc::new(Readiness {
            readable: Cell::new(true),
            writable: Cell::new(true),
            ..Readiness::default()
        });
        let key = local.reactor.sources.borrow_mut().insert(readiness.clone());
        let registered = match &local.reactor.backend {
            Backend::Epoll { poll, .. } => poll.borrow().registry().register(
                &mut source,
                Token(key),
                Interest::READABLE | Interest::WRITABLE,
            ),
            Backend::Uring(ring) => {
                let token = ring.token(key);
                readiness.token.set(token);
                readiness.fd.set(source.as_raw_fd());
                readiness.lazy.set(lazy);
                if lazy {
                    Ok(())
                } else {
                    ring.register(source.as_raw_fd(), token)
                }
            }
        };
        if let Err(e) = registered {
            local.reactor.sources.borrow_mut().remove(key);
            return Err(e);
        }
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
    /// writes go through the ring (`uring_io.rs`); on epoll it is the same as `new`.
    pub(super) fn new_stream(source: S, what: &str) -> io::Result<Self> {
        let ring_io = {
            let local = current(what);
            matches!(local.reactor.backend, Backend::Uring(_)) && uring_io::enabled()
        };
        let mut this = Self::new_with(source, what, ring_io)?;
        if ring_io {
            this.stream = Some(RingStream::new(this.source.as_raw_fd()));
        }
        if this.stream.is_none() {
            this.ahead = Some(RefCell::new(ReadAhead::default()));
        }
        Ok(this)
    }

    fn ring(&self) -> &Ring {
        match &self.local.reactor.backend {
            Backend::Uring(ring) => ring,
            Backend::Epoll { .. } => unreachable!("a ring stream on the epoll driver"),
        }
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
            let mut ra = ahead.borrow_mut();
            let bytes = ra.bytes();
            let n = copy(&bytes[..bytes.len().min(len)]);
            if !peek {
                ra.consume(n);
            }
            return Poll::Ready(Ok(n));
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
                let mut ra = ahead.borrow_mut();
                let bytes = ra.bytes();
                let n = copy(&bytes[..bytes.len().min(len)]);
                ra.consume(n);
                Poll::Ready(Ok(n))
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

    /// Parks the task until `stream`'s send in flight completes, noted in the task's
    /// record as waiting to write.
    fn wait_for_send<T>(&self, stream: &RingStream, cx: &Context<'_>) -> Poll<T> {
        stream.wait_write(cx.waker());
        self.local.note_awaiting(Awaiting::Io(Direction::Write));
        Poll::Pending
    }

    /// Hands a byte stream's queued send to the kernel, waits for it and reports its error
    /// (at once without ring I/O: the OS has the bytes already).
    pub(super) fn poll_stream_flush(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let Some(stream) = &self.stream else {
            return Poll::Ready(Ok(()));
        };
        if stream.sending() {
            // A send still queued for the loop's next turn goes to the kernel now.
            if let Err(e) = self.ring().submit_queued() {
                return Poll::Ready(Err(e));
            }
            return self.wait_for_send(stream, cx);
        }
        match stream.take_send_error() {
            Some(e) => Poll::Ready(Err(e)),
            None => Poll::Ready(Ok(())),
        }
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
                let bytes = ra.bytes();
                let n = copy(&bytes[..bytes.len().min(len)]);
                ra.consume(n);
                return Ok(n);
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
        uring_io::close(self.ring(), stream);
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
                self.arm_on_demand(dir);
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
            self.arm_on_demand(dir);
            self.local.note_awaiting(Awaiting::Io(dir));
            Poll::Pending
        }
    }

    /// On io_uring, for a registration polled on demand: arms its poll for `dir` unless
    /// one is armed already.
    fn arm_on_demand(&self, dir: Direction) {
        let r = &self.readiness;
        if !r.lazy.get() || r.armed.get() & armed_bit(dir) != 0 {
            return;
        }
        if let Backend::Uring(ring) = &self.local.reactor.backend {
            match ring.arm_once(r.fd.get(), r.token.get(), dir == Direction::Write) {
                Ok(()) => r.armed.set(r.armed.get() | armed_bit(dir)),
                Err(e) => log::error!("concur::aio: arming a poll on the io_uring failed: {e}"),
            }
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
        let closed = match dir {
            Direction::Read => &self.readiness.read_closed,
            Direction::Write => &self.readiness.write_closed,
        };
        if !closed.get() {
            self.clear(dir);
        }
    }
}

impl<S: mio::event::Source + AsRawFd> Drop for Registered<S> {
    fn drop(&mut self) {
        let reactor = &self.local.reactor;
        match &reactor.backend {
            Backend::Epoll { poll, .. } => {
                // Deregistering can only fail for a descriptor the OS already forgot.
                let _ = poll.borrow().registry().deregister(&mut self.source);
            }
            // Submitted now, before the descriptor is closed (the source drops after
            // this): the kernel's poll (and a receive) holds the file until it is gone.
            Backend::Uring(ring) => {
                if let Some(stream) = &self.stream {
                    uring_io::close_and_release(ring, stream);
                }
                let r = &self.readiness;
                if !r.lazy.get() {
                    ring.deregister(r.token.get());
                } else {
                    // Only the polls armed now (most often none: no system call).
                    if r.armed.get() & armed_bit(Direction::Read) != 0 {
                        ring.deregister(r.token.get());
                    }
                    if r.armed.get() & armed_bit(Direction::Write) != 0 {
                        ring.deregister(r.token.get() | WRITE_POLL);
                    }
                }
            }
        }
        reactor.sources.borrow_mut().try_remove(self.key);
    }
}
