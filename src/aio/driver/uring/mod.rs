//! The io_uring backend: readiness of the loop's descriptors as polls on one ring, and
//! (`streams.rs`, `bufs.rs`) TCP streams' receives and sends as ring operations.
//!
//! The same names as the epoll backend (`../epoll.rs`): `new`, `waker`, `register`,
//! `deregister`, `poll`.
//!
//! One ring per loop, used only from the loop's thread (`SINGLE_ISSUER`, with
//! `COOP_TASKRUN` so completions need no interrupt). Each registered descriptor gets one
//! multishot `POLL_ADD` (in, out, hang-up, error), whose every completion is a readiness
//! edge, as mio's edge-triggered epoll gives; the loop waits with one `io_uring_enter`
//! per turn, its timeout the timer wheel's next deadline (`EXT_ARG`); the cross-thread
//! waker is an eventfd polled on the ring the same way.
//!
//! Every object of the loop runs on these polls unchanged; a TCP stream's receives and
//! sends go into the ring itself (`streams.rs`).
//!
//! A completion names its registration by `user_data`: the reactor's slab key and a
//! generation, so a completion that arrives after its registration was removed (or its
//! key reused) is recognised and ignored, and never re-arms a poll on a stranger's
//! descriptor.

use std::cell::{Cell, OnceCell, RefCell};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::rc::Rc;
use std::time::{Duration, Instant};

use io_uring::{cqueue, opcode, squeue, types, IoUring};
use slab::Slab;

mod bufs;
pub(in crate::aio) mod streams;

use super::{armed_bit, Direction, OsWaker, Readiness};
use bufs::BufRing;
use streams::{Ops, OP};

/// The `user_data` of the waker's poll.
const WAKER: u64 = u64::MAX;
/// The `user_data` of a removal (its completion says nothing we need).
const REMOVAL: u64 = u64::MAX - 1;
/// A tag no completion has: a wait for it returns after one round.
const NO_TAG: u64 = u64::MAX - 3;
/// How long a loop that ends waits for its sends, and then for its cancellations.
pub(in crate::aio) const LINGER: Duration = Duration::from_secs(5);
/// The `user_data` of a stream operation's cancellation.
pub(in crate::aio) const CANCEL: u64 = u64::MAX - 2;

/// The bit of a registration's key that marks the write-direction poll of a registration
/// polled on demand (its read-direction poll leaves it clear).
pub(in crate::aio) const WRITE_POLL: u64 = 1 << 31;

/// What a poll completion says about a descriptor.
pub(in crate::aio) struct Event {
    pub(in crate::aio) key: usize,
    /// The registration's full `user_data` (key and generation).
    pub(in crate::aio) token: u64,
    pub(in crate::aio) readable: bool,
    pub(in crate::aio) writable: bool,
    pub(in crate::aio) read_closed: bool,
    pub(in crate::aio) write_closed: bool,
    /// The poll ended (an error, or the kernel stopped it): arm it again if still wanted.
    pub(in crate::aio) ended: bool,
}

/// One loop's ring.
pub(in crate::aio) struct Ring {
    ring: RefCell<IoUring>,
    /// Completions taken while waiting for a removal, for the next `wait` to hand out.
    stashed: RefCell<Vec<cqueue::Entry>>,
    /// The cross-thread waker: written by any thread, polled on the ring.
    waker: OwnedFd,
    generation: Cell<u32>,
    /// The stream operations in flight, with their buffers (`streams.rs`).
    pub(in crate::aio) ops: RefCell<Ops>,
    /// Wakers collected by completions taken outside `wait` (while closing a stream),
    /// for the next `wait` to wake.
    pending_wakes: RefCell<Vec<std::task::Waker>>,
    /// The provided buffers of multishot receives, registered by the first receive
    /// (`None` inside: the kernel refused them).
    bufs: OnceCell<Option<BufRing>>,
    /// Multishot receives failed (a kernel before 6.0): one-shot ones only.
    multishot_off: Cell<bool>,
}

const MASK: u32 = (libc::POLLIN | libc::POLLOUT | libc::POLLRDHUP | libc::POLLPRI) as u32;

impl Ring {
    /// A ring for a loop on this thread, or why the kernel gives none.
    pub(in crate::aio) fn new() -> io::Result<Ring> {
        let ring = build()?;
        if !ring.params().is_feature_ext_arg() {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "the kernel's io_uring has no EXT_ARG (Linux 5.11 or later is needed)",
            ));
        }
        let mut probe = io_uring::Probe::new();
        ring.submitter().register_probe(&mut probe)?;
        for (code, what) in [
            (opcode::PollAdd::CODE, "POLL_ADD"),
            (opcode::PollRemove::CODE, "POLL_REMOVE"),
        ] {
            if !probe.is_supported(code) {
                return Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    format!("the kernel's io_uring has no {what}"),
                ));
            }
        }
        // SAFETY: `eventfd` returns a new descriptor we own, or -1 (checked).
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a fresh descriptor, owned by nobody else.
        let waker = unsafe { OwnedFd::from_raw_fd(fd) };
        let this = Ring {
            ring: RefCell::new(ring),
            stashed: RefCell::new(Vec::new()),
            waker,
            generation: Cell::new(0),
            ops: RefCell::new(Ops::default()),
            pending_wakes: RefCell::new(Vec::new()),
            bufs: OnceCell::new(),
            multishot_off: Cell::new(false),
        };
        this.arm_mask(this.waker.as_raw_fd(), WAKER, libc::POLLIN as u32)?;
        // Multishot polls are Linux 5.13; an older kernel fails the first poll.
        this.submit()?;
        Ok(this)
    }

    /// A second descriptor of the waker's eventfd, for other threads to write.
    pub(in crate::aio) fn waker(&self) -> io::Result<OsWaker> {
        Ok(OsWaker::EventFd(self.waker.try_clone()?))
    }

    /// Starts watching `source` (at `key`): a multishot poll from now on, or, for a
    /// registration polled on demand, nothing until a task waits.
    pub(in crate::aio) fn register<S: AsRawFd>(
        &self,
        source: &mut S,
        key: usize,
        r: &Readiness,
    ) -> io::Result<()> {
        let token = self.token(key);
        r.token.set(token);
        if r.lazy.get() {
            return Ok(());
        }
        self.arm(source.as_raw_fd(), token)
    }

    /// Stops watching a registration before its descriptor closes: removes its polls
    /// (for one polled on demand, only those armed now: most often none, and no system
    /// call).
    pub(in crate::aio) fn deregister<S>(&self, _: &mut S, r: &Readiness) {
        if !r.lazy.get() {
            return self.remove_poll(r.token.get());
        }
        if r.armed.get() & armed_bit(Direction::Read) != 0 {
            self.remove_poll(r.token.get());
        }
        if r.armed.get() & armed_bit(Direction::Write) != 0 {
            self.remove_poll(r.token.get() | WRITE_POLL);
        }
    }

    /// Waits at most `timeout` for completions; marks the objects of `sources` the polls
    /// name, applies stream operations' completions, and collects in `wake` the wakers to
    /// wake.
    pub(in crate::aio) fn poll(
        &self,
        timeout: Option<Duration>,
        sources: &Slab<Rc<Readiness>>,
        wake: &mut Vec<std::task::Waker>,
    ) {
        let mut rearm = Vec::new();
        let mut op_wakes = Vec::new();
        self.wait(
            timeout,
            |ev| {
                // A completion of a registration that is gone (or whose key was reused
                // since) is stale: ignored, and never re-armed.
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
                // (`event` makes a closed side readable or writable: `mark` records it.)
                if ev.readable {
                    r.mark(Direction::Read, ev.read_closed, wake);
                }
                if ev.writable {
                    r.mark(Direction::Write, ev.write_closed, wake);
                }
                if ev.ended && !r.lazy.get() && !(ev.read_closed && ev.write_closed) {
                    rearm.push((r.fd.get(), ev.token));
                }
            },
            &mut op_wakes,
        );
        wake.append(&mut op_wakes);
        for (fd, token) in rearm {
            self.rearm(fd, token);
        }
    }

    /// A fresh `user_data` for the registration at `key`.
    fn token(&self, key: usize) -> u64 {
        // 31 bits: the top bit of `user_data` marks stream operations.
        let g = self.generation.get().wrapping_add(1) & 0x7fff_ffff;
        self.generation.set(g);
        (u64::from(g) << 32) | key as u64
    }

    /// Removes the poll `token` before returning: the kernel's poll
    /// holds a reference to the file, so until it is gone, closing the descriptor would
    /// not close the socket (a peer would not see it close, a port would stay bound).
    /// A removal that finds the poll busy completing (`EALREADY`) is tried again once
    /// that completion has run.
    fn remove_poll(&self, token: u64) {
        for _ in 0..64 {
            let entry = opcode::PollRemove::new(token).build().user_data(REMOVAL);
            if self.push(&entry).is_err() {
                return;
            }
            match self.wait_removal() {
                Some(r) if r == -libc::EALREADY => continue,
                _ => return, // removed (0), or already gone (ENOENT), or the ring failed
            }
        }
        log::error!("concur::aio: an io_uring poll could not be removed");
    }

    /// Waits for the completion of the removal just queued; stashes the others.
    fn wait_removal(&self) -> Option<i32> {
        self.wait_tag(REMOVAL)
    }

    /// Queues `entry` (a cancellation, tagged `tag`) and waits for its completion.
    pub(in crate::aio) fn wait_for(&self, entry: &squeue::Entry, tag: u64) -> Option<i32> {
        self.push(entry).ok()?;
        self.wait_tag(tag)
    }

    /// Waits until `done`, applying stream operations' completions as they come and
    /// stashing the others; gives up at `deadline` (or if the ring fails). Whether `done`.
    pub(in crate::aio) fn wait_ops_settle(
        &self,
        mut done: impl FnMut() -> bool,
        deadline: Instant,
    ) -> bool {
        loop {
            if done() {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || self.round(NO_TAG, Some(left)).is_err() {
                return done();
            }
        }
    }

    /// Waits for the completion tagged `tag`; applies stream operations' completions
    /// (their wakers kept for the next `wait`) and stashes the others.
    fn wait_tag(&self, tag: u64) -> Option<i32> {
        loop {
            match self.round(tag, None) {
                Ok(Some(r)) => return Some(r),
                Ok(None) => {}
                Err(()) => return None,
            }
        }
    }

    /// One wait of at most `timeout` (forever if `None`) for a completion: applies stream
    /// operations' completions, stashes the others, and returns `tag`'s result if it came.
    fn round(&self, tag: u64, timeout: Option<Duration>) -> Result<Option<i32>, ()> {
        if let Err(e) = self.submit_and_wait(timeout) {
            log::error!("concur::aio: waiting on the io_uring failed: {e}");
            return Err(());
        }
        let cqes: Vec<cqueue::Entry> = self.ring.borrow_mut().completion().collect();
        let mut found = None;
        for cqe in cqes {
            let ud = cqe.user_data();
            if ud == tag && found.is_none() {
                found = Some(cqe.result());
            } else if is_op(ud) {
                let mut wakes = self.pending_wakes.borrow_mut();
                streams::complete(self, ud, cqe.result(), cqe.flags(), &mut wakes);
            } else {
                self.stashed.borrow_mut().push(cqe);
            }
        }
        Ok(found)
    }

    /// The provided buffers, if registered.
    fn bufs(&self) -> Option<&BufRing> {
        self.bufs.get().and_then(Option::as_ref)
    }

    /// The provided buffers for a new multishot receive: registered on first use;
    /// `None` where the kernel has none or multishot receives failed.
    fn recv_bufs(&self) -> Option<&BufRing> {
        if self.multishot_off.get() {
            return None;
        }
        self.bufs
            .get_or_init(|| match BufRing::new(&self.ring.borrow()) {
                Ok(bufs) => Some(bufs),
                Err(e) => {
                    log::debug!("concur::aio: no provided buffers on this io_uring: {e}");
                    None
                }
            })
            .as_ref()
    }

    /// Multishot receives failed with `EINVAL`: the kernel has none; one-shot from now.
    pub(in crate::aio) fn no_multishot(&self) {
        self.multishot_off.set(true);
    }

    /// Queues `entry`, which refers to no memory of ours (a cancellation).
    pub(in crate::aio) fn push_entry(&self, entry: &squeue::Entry) -> io::Result<()> {
        self.push(entry)
    }

    /// Queues a stream operation's `entry`.
    ///
    /// # Safety
    ///
    /// The memory `entry` names must stay valid until its completion is taken (the
    /// ring's table of operations owns it).
    pub(in crate::aio) unsafe fn push_op(&self, entry: &squeue::Entry) -> io::Result<()> {
        self.push(entry)
    }

    /// Arms one single-shot poll of `fd` for `write` (else read) readiness, for a
    /// registration polled on demand (`token` without [`WRITE_POLL`]).
    pub(in crate::aio) fn arm_once(&self, fd: RawFd, token: u64, write: bool) -> io::Result<()> {
        let (token, mask) = if write {
            (token | WRITE_POLL, libc::POLLOUT as u32)
        } else {
            (
                token,
                (libc::POLLIN | libc::POLLRDHUP | libc::POLLPRI) as u32,
            )
        };
        let entry = opcode::PollAdd::new(types::Fd(fd), mask)
            .build()
            .user_data(token);
        self.push(&entry)
    }

    fn arm(&self, fd: RawFd, token: u64) -> io::Result<()> {
        self.arm_mask(fd, token, MASK)
    }

    fn arm_mask(&self, fd: RawFd, token: u64, mask: u32) -> io::Result<()> {
        let entry = opcode::PollAdd::new(types::Fd(fd), mask)
            .multi(true)
            .build()
            .user_data(token);
        self.push(&entry)
    }

    /// Queues `entry`, making room by submitting when the queue is full.
    fn push(&self, entry: &squeue::Entry) -> io::Result<()> {
        let mut ring = self.ring.borrow_mut();
        for _ in 0..2 {
            // SAFETY: a poll, a removal and a cancellation refer to no memory of
            // ours; the descriptor of a poll stays open until its removal is submitted
            // (the reactor's `Registered` removes before it closes); a stream
            // operation's memory is kept valid by `push_op`'s caller.
            if unsafe { ring.submission().push(entry) }.is_ok() {
                return Ok(());
            }
            ring.submit()?;
        }
        Err(io::Error::other(
            "concur::aio: the io_uring submission queue stays full",
        ))
    }

    /// Hands the kernel what is queued, without waiting.
    pub(in crate::aio) fn submit(&self) -> io::Result<()> {
        self.ring.borrow_mut().submit().map(drop)
    }

    /// Hands the kernel what is queued, if anything is (no system call otherwise).
    pub(in crate::aio) fn submit_queued(&self) -> io::Result<()> {
        let mut ring = self.ring.borrow_mut();
        if ring.submission().is_empty() {
            return Ok(());
        }
        match ring.submit() {
            Ok(_) => Ok(()),
            // The kernel is short of room for now (completions to take first, memory):
            // what is queued stays queued, for the loop's next turn.
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::EAGAIN | libc::EBUSY | libc::EINTR)
                ) =>
            {
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Submits what is queued and waits at most `timeout` (forever if `None`) for one
    /// completion; a timeout or a signal is not an error.
    fn submit_and_wait(&self, timeout: Option<Duration>) -> io::Result<()> {
        let ring = self.ring.borrow();
        let submitter = ring.submitter();
        let waited = match timeout {
            None => submitter.submit_and_wait(1),
            Some(d) => {
                let ts = types::Timespec::from(d);
                submitter.submit_with_args(1, &types::SubmitArgs::new().timespec(&ts))
            }
        };
        match waited {
            Ok(_) => Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::ETIME) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Hands the kernel everything queued, taking completions to make room if it must:
    /// for what may not stay queued (a send naming a descriptor about to be closed).
    pub(in crate::aio) fn submit_all(&self) -> io::Result<()> {
        for _ in 0..64 {
            self.submit_queued()?;
            if self.ring.borrow_mut().submission().is_empty() {
                return Ok(());
            }
            if self.round(NO_TAG, Some(Duration::from_millis(1))).is_err() {
                break;
            }
        }
        Err(io::Error::other(
            "concur::aio: the io_uring would not take the queued operations",
        ))
    }

    /// Re-arms the waker's poll if it ended.
    fn rearm_waker(&self) {
        let _ = self.arm_mask(self.waker.as_raw_fd(), WAKER, libc::POLLIN as u32);
    }

    /// Submits what is queued and waits at most `timeout` (forever if `None`) for a
    /// completion; hands each poll completion to `each`, and applies each stream
    /// operation's completion, adding the wakers to wake to `wake`.
    pub(in crate::aio) fn wait(
        &self,
        timeout: Option<Duration>,
        mut each: impl FnMut(Event),
        wake: &mut Vec<std::task::Waker>,
    ) {
        let stashed = std::mem::take(&mut *self.stashed.borrow_mut());
        wake.append(&mut self.pending_wakes.borrow_mut());
        // Completions stashed by a removal are news already: don't block for more.
        let timeout = if stashed.is_empty() && wake.is_empty() {
            timeout
        } else {
            Some(Duration::ZERO)
        };
        match self.submit_and_wait(timeout) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {} // completions to take first
            Err(e) => log::error!("concur::aio: waiting on the io_uring failed: {e}"),
        }
        let mut rearm_waker = false;
        let mut events = stashed;
        events.extend(self.ring.borrow_mut().completion());
        for cqe in events {
            let token = cqe.user_data();
            let more = cqueue::more(cqe.flags());
            match token {
                WAKER => rearm_waker |= !more,
                REMOVAL | CANCEL => {}
                t if is_op(t) => streams::complete(self, t, cqe.result(), cqe.flags(), wake),
                _ => each(event(token, cqe.result(), more)),
            }
        }
        if rearm_waker {
            self.rearm_waker();
        }
    }

    /// Arms again the poll of a registration whose poll ended.
    pub(in crate::aio) fn rearm(&self, fd: RawFd, token: u64) {
        if let Err(e) = self.arm(fd, token) {
            log::error!("concur::aio: re-arming a poll on the io_uring failed: {e}");
        }
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        self.end_ops();
        // Every receive has ended (or its buffers were forgotten above): the kernel
        // takes no more buffers, and the memory is freed after this (a field).
        if let Some(bufs) = self.bufs() {
            bufs.unregister(&self.ring.borrow());
        }
    }
}

impl Ring {
    /// Cancels every stream operation and waits for their ends (`Drop`).
    fn end_ops(&mut self) {
        if self.ops.borrow().is_empty() {
            return;
        }
        let ops = &self.ops;
        // Sends first: a write reported their bytes as written, so let them reach the
        // peer while it reads, for a while (a peer that stopped reading would hold the
        // program's exit forever).
        if !self.wait_ops_settle(|| !ops.borrow().has_sends(), Instant::now() + LINGER) {
            log::warn!(
                "concur::aio: the loop ended with sends the peer had not taken after \
                 {LINGER:?}: cancelled, their bytes are lost (flush and close streams, or \
                 await their last writes' peers, before the loop ends)"
            );
        }
        // Then cancel every operation and wait for them: their buffers must outlive the
        // kernel's use. Kernels before 5.19 cannot cancel "any": each by its name then.
        let entry = opcode::AsyncCancel2::new(types::CancelBuilder::any())
            .build()
            .user_data(CANCEL);
        if self.wait_for(&entry, CANCEL) == Some(-libc::EINVAL) {
            let tokens = ops.borrow().tokens();
            for token in tokens {
                let _ = self.push(&opcode::AsyncCancel::new(token).build().user_data(CANCEL));
            }
        }
        self.wait_ops_settle(|| ops.borrow().is_empty(), Instant::now() + LINGER);
        self.pending_wakes.borrow_mut().clear();
        if !ops.borrow().is_empty() {
            // What will not finish is leaked, never freed under the kernel; a receive
            // that will not end may still take a provided buffer.
            std::mem::forget(std::mem::take(&mut *ops.borrow_mut()));
            if let Some(bufs) = self.bufs.take() {
                std::mem::forget(bufs);
            }
        }
    }
}

/// Whether `user_data` names a stream operation.
fn is_op(user_data: u64) -> bool {
    user_data & OP != 0 && user_data < CANCEL
}

/// Builds the ring with the flags the kernel takes, best first.
fn build() -> io::Result<IoUring> {
    let mut best = IoUring::builder();
    best.setup_single_issuer()
        .setup_defer_taskrun()
        .setup_cqsize(4096);
    let mut coop = IoUring::builder();
    coop.setup_single_issuer()
        .setup_coop_taskrun()
        .setup_taskrun_flag()
        .setup_cqsize(4096);
    let mut plain = IoUring::builder();
    plain.setup_cqsize(4096);
    // Best first: DEFER_TASKRUN (Linux 6.1) runs completions' work only when the loop
    // waits, in one batch; COOP_TASKRUN (5.19) and SINGLE_ISSUER (6.0) spare interrupts.
    let mut last = None;
    for builder in [best, coop, plain] {
        match builder.build(256) {
            Ok(ring) => return Ok(ring),
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.expect("three builders were tried"))
}

fn event(token: u64, result: i32, more: bool) -> Event {
    let key = (token & (WRITE_POLL - 1)) as usize;
    if result < 0 {
        // The poll failed (or was removed: then the reactor no longer knows the token).
        return Event {
            key,
            token,
            readable: true,
            writable: true,
            read_closed: result != -libc::ECANCELED,
            write_closed: result != -libc::ECANCELED,
            ended: true,
        };
    }
    let mask = result as u32;
    let has = |bits: i16| mask & bits as u32 != 0;
    let error = has(libc::POLLERR) || has(libc::POLLHUP);
    Event {
        key,
        token,
        readable: has(libc::POLLIN) || has(libc::POLLPRI) || has(libc::POLLRDHUP) || error,
        writable: has(libc::POLLOUT) || error,
        read_closed: has(libc::POLLRDHUP) || error,
        write_closed: error,
        ended: !more,
    }
}

/// Why this kernel gives a loop no io_uring driver, found out once per process by
/// building a ring (`None`: it does).
pub(in crate::aio) fn unavailable() -> Option<&'static str> {
    static WHY: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    WHY.get_or_init(|| {
        if let Ok(v) = std::fs::read_to_string("/proc/sys/kernel/io_uring_disabled") {
            if v.trim() == "2" {
                return Some(
                    "io_uring is disabled (/proc/sys/kernel/io_uring_disabled = 2)".into(),
                );
            }
        }
        Ring::new()
            .err()
            .map(|e| format!("the kernel refused an io_uring: {e}"))
    })
    .as_deref()
}
