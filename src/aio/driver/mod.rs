//! The loop's I/O drivers, and the one place that chooses between them.
//!
//! Two backends wait for the loop's I/O, and export the same names: `epoll::Epoll` (mio's
//! `Poll`) and `uring::Ring` (an io_uring), each with `new`, `waker`, `register`,
//! `deregister` and `poll`. The [`Reactor`] holds the one chosen when the loop starts and
//! forwards to it, so the runtime never knows which one it runs on; the only code that
//! does is the io_uring's own byte-stream I/O (`uring/streams.rs`), which the registration of a
//! TCP stream (`registered.rs`) uses where the ring is there. How the io_uring driver
//! owns buffers, cancels, falls back, and which kernel features it takes: `DESIGN.md`
//! beside this file.
//!
//! Which driver a loop runs on: [`Driver`], chosen when the loop starts.
//!
//! `Driver::Auto` (the default) takes the best driver the kernel allows. The environment
//! variable `CONCUR_AIO_DRIVER` (`epoll` or `io_uring`) overrides `Auto`, not a driver a
//! program asked for by name. The environment is not trusted to crash a program: an
//! unknown value, or a driver the kernel does not allow, is reported on the log and the
//! loop falls back to one that works.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::rc::Rc;
use std::task::Waker;
use std::time::Duration;

use slab::Slab;

mod epoll;
pub(super) mod uring;

use epoll::Epoll;
use uring::Ring;

/// An event loop's I/O driver: what waits for sockets, pipes and timers.
///
/// ```
/// use concur::aio::{self, Driver};
///
/// let d = aio::Builder::new().driver(Driver::Epoll).run(async { aio::driver() });
/// assert_eq!(d, Driver::Epoll);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Driver {
    /// The best driver the kernel allows (never what [`driver`](crate::aio::driver()) reports: it reports the
    /// one chosen).
    #[default]
    Auto,
    /// Linux's io_uring.
    IoUring,
    /// epoll, through mio: works everywhere concur does.
    Epoll,
}

impl fmt::Display for Driver {
    /// ```
    /// assert_eq!(concur::aio::Driver::IoUring.to_string(), "io_uring");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Driver::Auto => "auto",
            Driver::IoUring => "io_uring",
            Driver::Epoll => "epoll",
        })
    }
}

/// Why the kernel gives no io_uring driver (`None`: it does).
fn io_uring_unavailable() -> Option<&'static str> {
    uring::unavailable()
}

/// The driver a loop asked for `wanted` runs on.
///
/// # Panics
///
/// If a program asked for [`Driver::IoUring`] by name and it cannot be had.
pub(super) fn resolve(wanted: Driver) -> Driver {
    match wanted {
        Driver::Epoll => Driver::Epoll,
        Driver::IoUring => match io_uring_unavailable() {
            None => Driver::IoUring,
            Some(why) => panic!("concur::aio: the io_uring driver was asked for: {why}"),
        },
        Driver::Auto => {
            let forced = std::env::var_os("CONCUR_AIO_DRIVER");
            match forced.as_ref().and_then(|v| v.to_str()) {
                None if forced.is_none() => auto(),
                Some("" | "auto") => auto(),
                Some("epoll") => Driver::Epoll,
                Some("io_uring" | "io-uring" | "iouring") => match io_uring_unavailable() {
                    None => Driver::IoUring,
                    Some(why) => {
                        log::warn!(
                            "concur::aio: CONCUR_AIO_DRIVER=io_uring, but {why}: using epoll"
                        );
                        Driver::Epoll
                    }
                },
                _ => {
                    log::warn!(
                        "concur::aio: CONCUR_AIO_DRIVER={:?} is not a driver (epoll, io_uring, \
                         auto): ignored",
                        forced.unwrap_or_default()
                    );
                    auto()
                }
            }
        }
    }
}

/// What `Auto` takes: epoll. The io_uring driver costs a few percent less CPU per echo
/// round trip, but a write on it reaches the kernel at the loop's next turn, so a program
/// that blocks the loop's thread after a write without flushing would wait forever there
/// and not on epoll; io_uring is chosen by name or by `CONCUR_AIO_DRIVER=io_uring`
/// (`DESIGN.md`, "Why Auto is epoll").
fn auto() -> Driver {
    Driver::Epoll
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
pub(in crate::aio) struct Readiness {
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

/// Adds `w` to the wakers `ws` unless one of them wakes the same task.
fn add_waker(ws: &mut Vec<Waker>, w: &Waker) {
    if !ws.iter().any(|x| x.will_wake(w)) {
        ws.push(w.clone());
    }
}

/// The bit of [`Readiness::armed`] for `dir`.
fn armed_bit(dir: Direction) -> u8 {
    match dir {
        Direction::Read => 1,
        Direction::Write => 2,
    }
}

impl Readiness {
    /// Whether the OS last said `dir` is ready (optimistically true at first).
    pub(in crate::aio) fn flag(&self, dir: Direction) -> &Cell<bool> {
        match dir {
            Direction::Read => &self.readable,
            Direction::Write => &self.writable,
        }
    }

    /// Whether the OS reported that side closed or an error (final).
    pub(in crate::aio) fn closed(&self, dir: Direction) -> bool {
        match dir {
            Direction::Read => self.read_closed.get(),
            Direction::Write => self.write_closed.get(),
        }
    }

    fn wakers(&self, dir: Direction) -> &RefCell<Vec<Waker>> {
        match dir {
            Direction::Read => &self.read_wakers,
            Direction::Write => &self.write_wakers,
        }
    }

    /// Registers `waker` to hear of the next readiness in `dir`.
    pub(in crate::aio) fn wait(&self, dir: Direction, waker: &Waker) {
        add_waker(&mut self.wakers(dir).borrow_mut(), waker);
    }

    /// Records what an event says and collects the wakers to wake.
    fn mark(&self, dir: Direction, closed: bool, wake: &mut Vec<Waker>) {
        if closed {
            match dir {
                Direction::Read => self.read_closed.set(true),
                Direction::Write => self.write_closed.set(true),
            }
        }
        self.flag(dir).set(true);
        wake.append(&mut self.wakers(dir).borrow_mut());
    }
}

/// What wakes a loop blocked in its reactor, from any thread.
pub(in crate::aio) enum OsWaker {
    Mio(mio::Waker),
    /// The ring's eventfd (a duplicate), polled on the ring.
    EventFd(OwnedFd),
}

impl OsWaker {
    pub(in crate::aio) fn wake(&self) -> io::Result<()> {
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

/// The reactor: the readiness of every I/O object the loop owns, from the backend the
/// loop's driver chose. Registration is edge-triggered: an object is tried
/// optimistically, and only after the OS says "would block" does it wait for the next
/// readiness event.
pub(crate) struct Reactor {
    backend: Backend,
    sources: RefCell<Slab<Rc<Readiness>>>,
    /// The wakers one poll collects, kept between polls for its capacity.
    to_wake: RefCell<Vec<Waker>>,
}

/// The backend chosen.
enum Backend {
    Epoll(Epoll),
    /// Boxed: a ring is much larger than the epoll side.
    Uring(Box<Ring>),
}

impl Reactor {
    /// A reactor on `driver` (never `Auto`: the loop resolved it).
    pub(in crate::aio) fn new(driver: Driver) -> io::Result<Self> {
        let backend = match driver {
            Driver::IoUring => Backend::Uring(Box::new(Ring::new()?)),
            _ => Backend::Epoll(Epoll::new()?),
        };
        Ok(Reactor {
            backend,
            sources: RefCell::new(Slab::new()),
            to_wake: RefCell::new(Vec::new()),
        })
    }

    /// What another thread uses to wake this loop's wait.
    pub(in crate::aio) fn new_waker(&self) -> io::Result<OsWaker> {
        match &self.backend {
            Backend::Epoll(b) => b.waker(),
            Backend::Uring(b) => b.waker(),
        }
    }

    /// The io_uring, on that driver (for the byte-stream I/O it does itself).
    pub(in crate::aio) fn ring(&self) -> Option<&Ring> {
        match &self.backend {
            Backend::Uring(ring) => Some(ring),
            Backend::Epoll(_) => None,
        }
    }

    /// Waits at most `timeout` (forever if `None`) for readiness events and wakes the
    /// tasks waiting on them.
    pub(in crate::aio) fn poll(&self, timeout: Option<Duration>) {
        // Taken out of its cell: a waker may do anything, even poll this reactor again.
        let mut wake = std::mem::take(&mut *self.to_wake.borrow_mut());
        {
            let sources = self.sources.borrow();
            match &self.backend {
                Backend::Epoll(b) => b.poll(timeout, &sources, &mut wake),
                Backend::Uring(b) => b.poll(timeout, &sources, &mut wake),
            }
        }
        for w in wake.drain(..) {
            w.wake();
        }
        *self.to_wake.borrow_mut() = wake;
    }

    /// Starts watching `source`; `lazy`: on io_uring, poll its readiness only on demand
    /// ([`arm_on_demand`](Self::arm_on_demand)). Readiness starts optimistic (both ways).
    pub(in crate::aio) fn register<S: mio::event::Source + AsRawFd>(
        &self,
        source: &mut S,
        lazy: bool,
    ) -> io::Result<(usize, Rc<Readiness>)> {
        let readiness = Rc::new(Readiness {
            readable: Cell::new(true),
            writable: Cell::new(true),
            fd: Cell::new(source.as_raw_fd()),
            lazy: Cell::new(lazy && matches!(self.backend, Backend::Uring(_))),
            ..Readiness::default()
        });
        let key = self.sources.borrow_mut().insert(readiness.clone());
        let registered = match &self.backend {
            Backend::Epoll(b) => b.register(source, key, &readiness),
            Backend::Uring(b) => b.register(source, key, &readiness),
        };
        match registered {
            Ok(()) => Ok((key, readiness)),
            Err(e) => {
                self.sources.borrow_mut().remove(key);
                Err(e)
            }
        }
    }

    /// Stops watching `source` (registered at `key`) before it is closed.
    pub(in crate::aio) fn deregister<S: mio::event::Source + AsRawFd>(
        &self,
        source: &mut S,
        key: usize,
        readiness: &Readiness,
    ) {
        match &self.backend {
            Backend::Epoll(b) => b.deregister(source, readiness),
            Backend::Uring(b) => b.deregister(source, readiness),
        }
        self.sources.borrow_mut().try_remove(key);
    }

    /// Arms the poll for `dir` of a registration polled on demand, unless one is armed
    /// (nothing to do on epoll, or for a registration polled all along).
    pub(in crate::aio) fn arm_on_demand(&self, r: &Readiness, dir: Direction) {
        if !r.lazy.get() || r.armed.get() & armed_bit(dir) != 0 {
            return;
        }
        if let Backend::Uring(ring) = &self.backend {
            match ring.arm_once(r.fd.get(), r.token.get(), dir == Direction::Write) {
                Ok(()) => r.armed.set(r.armed.get() | armed_bit(dir)),
                Err(e) => log::error!("concur::aio: arming a poll on the io_uring failed: {e}"),
            }
        }
    }
}
