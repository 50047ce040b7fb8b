//! Unix signals on the loop: [`ctrl_c`], [`Signals`], and what [`run`](super::run) does on
//! Ctrl-C (Linux).
//!
//! A signal can arrive at any moment, on any thread, in the middle of anything; the only
//! safe thing a signal handler may do is very little. So the handler this module installs
//! only counts the delivery and writes to an eventfd of every event loop that listens, and
//! the loops take it from there: the task that waits in [`Signals::recv`] wakes up like a
//! task that waits on a socket. It is asyncio's `loop.add_signal_handler`, with a stream
//! instead of a callback:
//!
//! ```
//! use concur::aio::{self, signal::Signals};
//!
//! aio::run(async {
//!     let mut signals = Signals::new(&[libc::SIGHUP, libc::SIGUSR1]).unwrap();
//!     // Some other process (here: this one) sends a signal.
//!     rustix::process::kill_process(rustix::process::getpid(), rustix::process::Signal::USR1)
//!         .unwrap();
//!     assert_eq!(signals.recv().await, Some(libc::SIGUSR1));
//! });
//! ```
//!
//! ## What a listener sees
//!
//! - Every delivery after [`Signals::new`] returned, and possibly one that raced with it.
//!   Deliveries before are not reported.
//! - Deliveries of the same signal between two calls of [`recv`](Signals::recv) are
//!   reported once, as Unix itself merges pending signals of one kind. A program that
//!   needs to count events must not count signals.
//! - Every listener hears every delivery: two [`Signals`] (on one loop, or on loops on
//!   several threads) that listen to `SIGTERM` both see each `SIGTERM`.
//!
//! ## The process-wide handler
//!
//! A signal's action belongs to the whole process. The first listener of a signal (in any
//! loop) installs this module's handler and remembers the action it replaces; the last
//! one to go puts that action back (`loop.remove_signal_handler`). A handler that was
//! installed before (with `sigaction`, by the program or a library) is still called after
//! ours for every delivery; an ignored or default action is not, since the loop now
//! handles the signal. `SIGKILL` and `SIGSTOP` cannot be caught at all, and the fault
//! signals `SIGSEGV`, `SIGBUS`, `SIGILL` and `SIGFPE` report a bug in the thread that
//! receives them, which no event loop can handle later: [`Signals::new`] refuses them.
//!
//! ## Ctrl-C and `run`
//!
//! Like `asyncio.run` (Python 3.11 and later), [`run`](super::run) reacts to Ctrl-C
//! (`SIGINT`) while it runs, if `SIGINT` has its default action when `run` starts (or
//! this module's handler, from another loop): the main future is dropped, so its cleanup
//! (every `Drop`) runs, the tasks left are cancelled as at any exit of `run`, `SIGINT`
//! gets its previous action back, and then `run` raises `SIGINT` again, so the process
//! ends exactly as an uncaught Ctrl-C ends it: killed by signal 2, which is what a shell
//! or a parent process expects. A second Ctrl-C during that cleanup kills at once.
//!
//! `run` leaves `SIGINT` alone when the program set its own handler or ignores it, and
//! steps aside while a [`Signals`] of its loop listens for `SIGINT` ([`ctrl_c`] included):
//! then Ctrl-C is the program's business.
//!
//! ```
//! use concur::aio::{self, signal};
//!
//! let stopped = aio::run(async {
//!     let server = aio::spawn(async { std::future::pending::<()>().await }); // serves forever
//!     // The user presses Ctrl-C (here: the program raises SIGINT itself, once `ctrl_c`
//!     // listens; a spawned task starts after the main future's first poll).
//!     aio::spawn(async {
//!         // SAFETY: raise(3) only sends a signal to this thread.
//!         unsafe { libc::raise(libc::SIGINT) };
//!     });
//!     signal::ctrl_c().await.unwrap(); // a graceful stop instead of an interrupted one
//!     server.cancel();
//!     "stopped"
//! });
//! assert_eq!(stopped, "stopped");
//! ```
//!
//! If `SIGINT` is still caught after `run` raised it again (another loop on another thread
//! listens for it), `run` panics with a message that says it was interrupted: the output
//! of the dropped main future does not exist, so there is nothing to return.
//!
//! ## How it works
//!
//! Per signal number the module keeps a delivery counter; per loop that listens, one
//! eventfd, registered with the loop's reactor and published in a fixed table of 256
//! slots that the handler reads. The handler (async-signal-safe: atomics and `write(2)`
//! only) counts, writes 1 to every published eventfd, and calls the previous handler if
//! there was one. A listener remembers the count it has seen: when the eventfd wakes its
//! loop, each listener compares. A loop that stops listening empties its slot and waits
//! until no handler is between reading the table and writing, before it closes the
//! eventfd, so a handler never writes to a closed descriptor (or to a new file that reused
//! its number). At most 256 loops can listen at the same time.
//!
//! Signals are Linux-only here (eventfd, `sigaction`).

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::{poll_fn, Future};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::pin::pin;
use std::rc::{Rc, Weak};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Wake, Waker};

use libc::{c_int, c_void, siginfo_t};
use mio::unix::SourceFd;

use super::driver::Direction;
use super::registered::Registered;
use super::runtime::{current, poll_budget, Local};

/// The highest signal number on Linux (`SIGRTMAX`).
const MAX_SIGNAL: usize = 64;
/// Entries in the per-signal tables (index 0 is unused).
const NSIG: usize = MAX_SIGNAL + 1;
/// How many loops can listen for signals at the same time (one eventfd each).
const SLOTS: usize = 256;

/// Deliveries of each signal since the process started, counted by [`on_signal`] while
/// its handler is installed. Only ever incremented (wrapping), so a listener compares
/// with the value it saw last.
static DELIVERED: [AtomicUsize; NSIG] = [const { AtomicUsize::new(0) }; NSIG];

/// The eventfds of the loops that listen, or -1 for a free slot. [`on_signal`] writes to
/// each; a slot is emptied before its eventfd is closed ([`Slot`]'s `Drop`).
static WAKE_FDS: [AtomicI32; SLOTS] = [const { AtomicI32::new(-1) }; SLOTS];

/// Handlers now between reading [`WAKE_FDS`] and their last write to an eventfd. A loop
/// closes an eventfd it took out of the table only once this is 0.
static IN_HANDLER: AtomicUsize = AtomicUsize::new(0);

/// Per signal, the handler ours replaced, for [`on_signal`] to call after ours (`SIG_DFL`
/// or `SIG_IGN` when there is none to call). Written under [`ACTIONS`]'s lock before our
/// handler is installed.
static CHAINED: [AtomicUsize; NSIG] = [const { AtomicUsize::new(libc::SIG_DFL) }; NSIG];
/// Whether the handler in [`CHAINED`] takes three arguments (`SA_SIGINFO`).
static CHAINED_SIGINFO: [AtomicBool; NSIG] = [const { AtomicBool::new(false) }; NSIG];

/// Per signal: how many listeners hold our handler installed, and the action it replaced.
struct Installed {
    listeners: usize,
    /// `Some` exactly while our handler is installed for the signal.
    previous: Option<libc::sigaction>,
}

static ACTIONS: Mutex<[Installed; NSIG]> = Mutex::new(
    [const {
        Installed {
            listeners: 0,
            previous: None,
        }
    }; NSIG],
);

/// Locks [`ACTIONS`], ignoring poisoning: no code that can panic runs under the lock
/// between two updates of one entry.
fn actions() -> MutexGuard<'static, [Installed; NSIG]> {
    ACTIONS.lock().unwrap_or_else(|p| p.into_inner())
}

/// The handler: counts the delivery, wakes every listening loop, and calls the handler it
/// replaced. Async-signal-safe: atomics, `write(2)` and errno only.
extern "C" fn on_signal(signal: c_int, info: *mut siginfo_t, context: *mut c_void) {
    let Some(index) = usize::try_from(signal).ok().filter(|&s| s < NSIG) else {
        return;
    };
    // SAFETY: `__errno_location` has no preconditions; it returns this thread's errno.
    let errno = unsafe { libc::__errno_location() };
    // SAFETY: `errno` points to this thread's errno, valid for the thread's whole life.
    let saved = unsafe { errno.read() };
    DELIVERED[index].fetch_add(1, SeqCst);
    IN_HANDLER.fetch_add(1, SeqCst);
    let one: u64 = 1;
    for slot in &WAKE_FDS {
        let fd = slot.load(SeqCst);
        if fd >= 0 {
            // SAFETY: `fd` is an open eventfd: its loop empties the slot and then waits for
            // `IN_HANDLER` to drop to 0 before it closes it, and we raised `IN_HANDLER`
            // before reading the slot. `one` is 8 readable bytes. A full counter or any
            // other error only loses a wake-up of a loop that already has one pending.
            unsafe { libc::write(fd, (&raw const one).cast(), 8) };
        }
    }
    IN_HANDLER.fetch_sub(1, SeqCst);
    let chained = CHAINED[index].load(SeqCst);
    if chained != libc::SIG_DFL && chained != libc::SIG_IGN {
        if CHAINED_SIGINFO[index].load(SeqCst) {
            // SAFETY: `chained` is the `sa_sigaction` of the action ours replaced, and that
            // action had `SA_SIGINFO`: the kernel would have called it with these arguments.
            let handler: extern "C" fn(c_int, *mut siginfo_t, *mut c_void) =
                unsafe { std::mem::transmute::<usize, _>(chained) };
            handler(signal, info, context);
        } else {
            // SAFETY: as above, for an action without `SA_SIGINFO` (one argument).
            let handler: extern "C" fn(c_int) = unsafe { std::mem::transmute::<usize, _>(chained) };
            handler(signal);
        }
    }
    // SAFETY: as above; restores errno for the code the signal interrupted.
    unsafe { errno.write(saved) };
}

/// The address of [`on_signal`], as `sa_sigaction` holds it.
fn our_handler() -> usize {
    // One static, so every comparison sees one address: Rust does not promise that a
    // function's address is the same wherever it is taken (an optimised build may hold
    // copies of it in several codegen units).
    static OURS: extern "C" fn(c_int, *mut siginfo_t, *mut c_void) = on_signal;
    OURS as usize
}

/// An all-default action (`SIG_DFL`, no flags, empty mask).
fn blank_action() -> libc::sigaction {
    // SAFETY: `sigaction` is a plain C struct of integers, a signal set (all zero: empty)
    // and an optional function pointer (all zero: `None`); all zeros is a valid value.
    unsafe { std::mem::zeroed() }
}

/// Sets `signal`'s action to `new` (if given) and returns the action it had.
fn sigaction(signal: c_int, new: Option<&libc::sigaction>) -> io::Result<libc::sigaction> {
    let mut old = blank_action();
    let new = new.map_or(std::ptr::null(), |n| n as *const libc::sigaction);
    // SAFETY: `new` is null or points to a valid action; `old` is writable.
    if unsafe { libc::sigaction(signal, new, &mut old) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(old)
}

/// Installs [`on_signal`] for `signal`, to call `previous` after it.
fn install(signal: c_int, previous: &libc::sigaction) -> io::Result<()> {
    let index = signal as usize;
    CHAINED[index].store(previous.sa_sigaction, SeqCst);
    CHAINED_SIGINFO[index].store(previous.sa_flags & libc::SA_SIGINFO != 0, SeqCst);
    let mut ours = blank_action();
    ours.sa_sigaction = our_handler();
    ours.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
    sigaction(signal, Some(&ours)).map(drop)
}

/// One listener's hold on a signal: while one is alive, [`on_signal`] is its handler.
struct Listening {
    signal: c_int,
}

impl Listening {
    /// Listens to `signal` (already checked), installing the handler if nobody did.
    fn start(signal: c_int) -> io::Result<Listening> {
        let mut actions = actions();
        let entry = &mut actions[signal as usize];
        if entry.listeners == 0 {
            let previous = sigaction(signal, None)?;
            install(signal, &previous)?;
            entry.previous = Some(previous);
        }
        entry.listeners += 1;
        Ok(Listening { signal })
    }

    /// Listens to `signal` only if its action is the default one or already ours: `run`'s
    /// rule for `SIGINT`. `None` when the program handles or ignores it itself.
    fn start_if_default(signal: c_int) -> io::Result<Option<Listening>> {
        let mut actions = actions();
        let entry = &mut actions[signal as usize];
        let current = sigaction(signal, None)?;
        if entry.listeners > 0 {
            if current.sa_sigaction != our_handler() {
                return Ok(None); // someone replaced ours since: theirs now
            }
        } else if current.sa_sigaction == libc::SIG_DFL {
            install(signal, &current)?;
            entry.previous = Some(current);
        } else {
            return Ok(None);
        }
        entry.listeners += 1;
        Ok(Some(Listening { signal }))
    }
}

impl Drop for Listening {
    fn drop(&mut self) {
        let mut actions = actions();
        let entry = &mut actions[self.signal as usize];
        entry.listeners -= 1;
        if entry.listeners > 0 {
            return;
        }
        let Some(previous) = entry.previous.take() else {
            return;
        };
        // Put the previous action back, unless someone replaced ours meanwhile: then
        // theirs stays. Failing here would mean the signal number went bad: nothing to do.
        if let Ok(replaced) = sigaction(self.signal, Some(&previous)) {
            if replaced.sa_sigaction != our_handler() {
                let _ = sigaction(self.signal, Some(&replaced));
            }
        }
    }
}

/// The name of a standard signal, for messages.
fn name(signal: c_int) -> Option<&'static str> {
    Some(match signal {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGTRAP => "SIGTRAP",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGUSR1 => "SIGUSR1",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGUSR2 => "SIGUSR2",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        libc::SIGCHLD => "SIGCHLD",
        libc::SIGCONT => "SIGCONT",
        libc::SIGSTOP => "SIGSTOP",
        libc::SIGTSTP => "SIGTSTP",
        libc::SIGTTIN => "SIGTTIN",
        libc::SIGTTOU => "SIGTTOU",
        libc::SIGURG => "SIGURG",
        libc::SIGXCPU => "SIGXCPU",
        libc::SIGXFSZ => "SIGXFSZ",
        libc::SIGVTALRM => "SIGVTALRM",
        libc::SIGPROF => "SIGPROF",
        libc::SIGWINCH => "SIGWINCH",
        libc::SIGIO => "SIGIO",
        libc::SIGPWR => "SIGPWR",
        libc::SIGSYS => "SIGSYS",
        _ => return None,
    })
}

/// `signal` as people say it: `SIGTERM (15)`, or `signal 40`.
struct Named(c_int);

impl fmt::Display for Named {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match name(self.0) {
            Some(n) => write!(f, "{n} ({})", self.0),
            None => write!(f, "signal {}", self.0),
        }
    }
}

/// Refuses what no loop may listen to.
fn check(signal: c_int) -> io::Result<()> {
    let why = match signal {
        libc::SIGKILL | libc::SIGSTOP => "cannot be caught",
        libc::SIGSEGV | libc::SIGBUS | libc::SIGILL | libc::SIGFPE => {
            "reports a fault of the thread that receives it and cannot wait for an event loop"
        }
        s if s < 1 || s as usize > MAX_SIGNAL => "is not a signal number (1..=64)",
        _ => return Ok(()),
    };
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("concur::aio::signal: {} {why}", Named(signal)),
    ))
}

/// A loop's eventfd, as a source for its reactor.
struct EventFd(OwnedFd);

impl AsRawFd for EventFd {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.0.as_raw_fd()
    }
}

impl mio::event::Source for EventFd {
    fn register(
        &mut self,
        registry: &mio::Registry,
        token: mio::Token,
        interests: mio::Interest,
    ) -> io::Result<()> {
        SourceFd(&self.0.as_raw_fd()).register(registry, token, interests)
    }

    fn reregister(
        &mut self,
        registry: &mio::Registry,
        token: mio::Token,
        interests: mio::Interest,
    ) -> io::Result<()> {
        SourceFd(&self.0.as_raw_fd()).reregister(registry, token, interests)
    }

    fn deregister(&mut self, registry: &mio::Registry) -> io::Result<()> {
        SourceFd(&self.0.as_raw_fd()).deregister(registry)
    }
}

/// A loop's place in [`WAKE_FDS`].
struct Slot(usize);

impl Slot {
    fn take(fd: RawFd) -> io::Result<Slot> {
        WAKE_FDS
            .iter()
            .position(|s| s.compare_exchange(-1, fd, SeqCst, SeqCst).is_ok())
            .map(Slot)
            .ok_or_else(|| {
                io::Error::other(format!(
                    "concur::aio::signal: more than {SLOTS} event loops listen for signals at once"
                ))
            })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        WAKE_FDS[self.0].store(-1, SeqCst);
        // A handler that read the slot before it was emptied raised `IN_HANDLER` first;
        // once it is 0, none can still write to the eventfd, and it may be closed.
        while IN_HANDLER.load(SeqCst) != 0 {
            std::hint::spin_loop();
            std::thread::yield_now();
        }
    }
}

/// What one loop shares among its listeners: the eventfd the handler writes to.
struct LoopSignals {
    /// Declared before `io`, so the slot is emptied before the eventfd is closed.
    _slot: Slot,
    io: Registered<EventFd>,
    local: Rc<Local>,
    /// The loop's [`Signals`] that listen for `SIGINT`: while there is one, `run` leaves
    /// Ctrl-C to them.
    sigint_listeners: Cell<usize>,
    /// The `SIGINT` count `run` has seen, also moved on when a `SIGINT` listener goes
    /// (deliveries until then were its business).
    sigint_seen: Cell<usize>,
}

thread_local! {
    /// The signal half of the loop running on this thread, if something listens there.
    static THIS_LOOP: RefCell<Weak<LoopSignals>> = const { RefCell::new(Weak::new()) };
}

impl LoopSignals {
    /// The running loop's, created (eventfd, registration, slot) if nothing listens yet.
    fn of_current_loop(what: &str) -> io::Result<Rc<LoopSignals>> {
        let local = current(what);
        let known = THIS_LOOP.with(|t| t.borrow().upgrade());
        if let Some(s) = known.filter(|s| Rc::ptr_eq(&s.local, &local)) {
            return Ok(s);
        }
        let fd = rustix::event::eventfd(
            0,
            rustix::event::EventfdFlags::NONBLOCK | rustix::event::EventfdFlags::CLOEXEC,
        )?;
        let raw = fd.as_raw_fd();
        let io = Registered::new(EventFd(fd), what)?;
        let s = Rc::new(LoopSignals {
            _slot: Slot::take(raw)?,
            io,
            local,
            sigint_listeners: Cell::new(0),
            sigint_seen: Cell::new(DELIVERED[libc::SIGINT as usize].load(SeqCst)),
        });
        THIS_LOOP.with(|t| *t.borrow_mut() = Rc::downgrade(&s));
        Ok(s)
    }

    /// `Ready` when the handler has written to the eventfd since the last call (which
    /// drains it): the counts may have moved. `Pending` with the waker stored otherwise.
    fn poll_event(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            if self.io.poll_ready(cx, Direction::Read).is_pending() {
                return Poll::Pending;
            }
            let mut buf = [0u8; 8];
            match rustix::io::read(&self.io.source().0, &mut buf) {
                Ok(_) => return Poll::Ready(Ok(())),
                Err(rustix::io::Errno::AGAIN) => self.io.clear(Direction::Read),
                Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Poll::Ready(Err(e.into())),
            }
        }
    }
}

/// One signal a [`Signals`] listens to.
struct Listened {
    signal: c_int,
    /// The delivery count last reported (or at the start).
    seen: usize,
    _listening: Listening,
}

/// A stream of the deliveries of chosen signals to this process, on the running loop:
/// asyncio's `loop.add_signal_handler`, awaited instead of called back.
///
/// Signal numbers are `libc`'s constants (`libc::SIGTERM`, ...), 1 to 64. While a
/// `Signals` lives, its signals are handled by the loop and no longer have their default
/// action (a `SIGTERM` does not end the process); when the last listener of a signal
/// goes, its previous action is back. See the [module documentation](self) for what is
/// reported and when. A `Signals` belongs to the loop that created it (it is not `Send`).
///
/// ```
/// use concur::aio::{self, signal::Signals};
///
/// aio::run(async {
///     let mut signals = Signals::new(&[libc::SIGUSR1, libc::SIGUSR2]).unwrap();
///     for sent in [libc::SIGUSR2, libc::SIGUSR1] {
///         // SAFETY: raise(3) only sends a signal to this thread.
///         unsafe { libc::raise(sent) };
///         assert_eq!(signals.recv().await, Some(sent));
///     }
/// });
/// ```
pub struct Signals {
    shared: Rc<LoopSignals>,
    listened: Vec<Listened>,
    /// Where the next look for a delivery starts, so a busy signal cannot hide the others.
    next: usize,
}

impl Signals {
    /// Starts listening to `signals` (duplicates count once).
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::InvalidInput`] for an empty list, a number outside 1..=64,
    /// `SIGKILL`, `SIGSTOP`, or a fault signal (`SIGSEGV`, `SIGBUS`, `SIGILL`, `SIGFPE`);
    /// the message names the signal. Otherwise the operating system's error, if it refuses
    /// the handler (glibc keeps 32 and 33 for itself) or the loop's eventfd, or when more
    /// than 256 loops listen at once.
    ///
    /// # Panics
    ///
    /// Outside of an event loop.
    ///
    /// ```
    /// use std::io::ErrorKind;
    /// use concur::aio::{self, signal::Signals};
    ///
    /// aio::run(async {
    ///     assert!(Signals::new(&[libc::SIGTERM, libc::SIGHUP]).is_ok());
    ///     let refused = Signals::new(&[libc::SIGKILL]).unwrap_err();
    ///     assert_eq!(refused.kind(), ErrorKind::InvalidInput);
    ///     assert!(refused.to_string().contains("SIGKILL"));
    /// });
    /// ```
    pub fn new(signals: &[c_int]) -> io::Result<Signals> {
        if signals.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "concur::aio::signal: Signals::new needs at least one signal",
            ));
        }
        let mut unique: Vec<c_int> = Vec::with_capacity(signals.len());
        for &s in signals {
            check(s)?;
            if !unique.contains(&s) {
                unique.push(s);
            }
        }
        let shared = LoopSignals::of_current_loop("signal::Signals::new")?;
        let mut listened = Vec::with_capacity(unique.len());
        for signal in unique {
            // Counted before the handler goes in: a delivery racing with `new` is reported
            // rather than lost.
            let seen = DELIVERED[signal as usize].load(SeqCst);
            listened.push(Listened {
                signal,
                seen,
                _listening: Listening::start(signal)?,
            });
        }
        let signals = Signals {
            shared,
            listened,
            next: 0,
        };
        if signals.listens_to(libc::SIGINT) {
            let n = &signals.shared.sigint_listeners;
            n.set(n.get() + 1);
        }
        Ok(signals)
    }

    fn listens_to(&self, signal: c_int) -> bool {
        self.listened.iter().any(|l| l.signal == signal)
    }

    /// Waits for the next delivery of one of the signals and returns its number. `None`
    /// once the loop that created this `Signals` has ended (never while it runs).
    ///
    /// Deliveries of one signal that happen before they are received are reported once;
    /// deliveries of different signals are each reported, in turn.
    ///
    /// ```
    /// use concur::aio::{self, signal::Signals};
    ///
    /// aio::run(async {
    ///     let mut hangups = Signals::new(&[libc::SIGHUP]).unwrap();
    ///     let pid = rustix::process::getpid();
    ///     for _ in 0..3 {
    ///         rustix::process::kill_process(pid, rustix::process::Signal::HUP).unwrap();
    ///         assert_eq!(hangups.recv().await, Some(libc::SIGHUP)); // e.g. reload the config
    ///     }
    /// });
    /// ```
    pub async fn recv(&mut self) -> Option<c_int> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Polls for the next delivery: [`recv`](Self::recv) for code that implements
    /// `Future` or a stream by hand. `Pending` registers the task's waker.
    ///
    /// ```
    /// use std::future::poll_fn;
    /// use std::task::Poll;
    /// use concur::aio::{self, signal::Signals};
    ///
    /// aio::run(async {
    ///     let mut signals = Signals::new(&[libc::SIGUSR2]).unwrap();
    ///     // Nothing delivered yet.
    ///     poll_fn(|cx| {
    ///         assert!(signals.poll_recv(cx).is_pending());
    ///         Poll::Ready(())
    ///     })
    ///     .await;
    ///     // SAFETY: raise(3) only sends a signal to this thread.
    ///     unsafe { libc::raise(libc::SIGUSR2) };
    ///     assert_eq!(poll_fn(|cx| signals.poll_recv(cx)).await, Some(libc::SIGUSR2));
    /// });
    /// ```
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<c_int>> {
        if !self.shared.local.is_running() {
            return Poll::Ready(None);
        }
        if poll_budget(cx).is_pending() {
            return Poll::Pending;
        }
        loop {
            if let Some(signal) = self.take_delivered() {
                return Poll::Ready(Some(signal));
            }
            match self.shared.poll_event(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(e)) => {
                    log::error!("concur::aio::signal: reading the loop's eventfd failed: {e}");
                    return Poll::Ready(None);
                }
            }
        }
    }

    /// The next signal (from `next` on, round) whose count moved since it was last seen.
    fn take_delivered(&mut self) -> Option<c_int> {
        let n = self.listened.len();
        for i in 0..n {
            let at = (self.next + i) % n;
            let l = &mut self.listened[at];
            let now = DELIVERED[l.signal as usize].load(SeqCst);
            if now != l.seen {
                l.seen = now;
                self.next = (at + 1) % n;
                return Some(l.signal);
            }
        }
        None
    }
}

impl Drop for Signals {
    fn drop(&mut self) {
        if self.listens_to(libc::SIGINT) {
            let n = &self.shared.sigint_listeners;
            n.set(n.get() - 1);
            // Deliveries until now were this listener's: `run` must not act on them.
            let now = DELIVERED[libc::SIGINT as usize].load(SeqCst);
            self.shared.sigint_seen.set(now);
        }
    }
}

impl fmt::Debug for Signals {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<String> = self
            .listened
            .iter()
            .map(|l| Named(l.signal).to_string())
            .collect();
        f.debug_struct("Signals").field("signals", &names).finish()
    }
}

/// Waits for the next Ctrl-C (`SIGINT`): tokio's `signal::ctrl_c`, asyncio's
/// `loop.add_signal_handler(signal.SIGINT, ...)`.
///
/// It listens from its first poll until it completes or is dropped; meanwhile
/// [`run`](super::run) leaves Ctrl-C to it instead of interrupting the main future, so the
/// program can stop gracefully. It fails only as [`Signals::new`] can, or with an error
/// of kind `Other` if the loop ends first.
///
/// # Panics
///
/// When first polled outside of an event loop.
///
/// ```
/// use concur::aio::{self, signal};
///
/// aio::run(async {
///     let pid = rustix::process::getpid();
///     // Runs once the main future waits below, so `ctrl_c` already listens.
///     aio::spawn(async move {
///         rustix::process::kill_process(pid, rustix::process::Signal::INT).unwrap();
///     });
///     signal::ctrl_c().await.unwrap();
///     println!("Ctrl-C: shutting down");
/// });
/// ```
pub async fn ctrl_c() -> io::Result<()> {
    let mut signals = Signals::new(&[libc::SIGINT])?;
    match signals.recv().await {
        Some(_) => Ok(()),
        None => Err(io::Error::other(
            "concur::aio::signal::ctrl_c: the event loop ended",
        )),
    }
}

/// `run`'s watch over Ctrl-C, while the main future runs (see the module docs).
pub(super) struct CtrlC {
    watch: Option<Watch>,
}

struct Watch {
    shared: Rc<LoopSignals>,
    /// Taken (putting `SIGINT`'s action back) when Ctrl-C comes or watching fails.
    listening: RefCell<Option<Listening>>,
    /// The waker the watch leaves on the eventfd, so the main future's polls need not look
    /// at the eventfd unless it fired: one atomic load each.
    wake: Arc<WatchWake>,
    waker: Waker,
}

/// Wakes the main future when the loop's eventfd fires, and says so.
struct WatchWake {
    /// Set by a wake-up (and at the start): the watch must look again.
    fired: AtomicBool,
    main: Mutex<Option<Waker>>,
}

impl Wake for WatchWake {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.fired.store(true, SeqCst);
        if let Some(main) = &*self.main.lock().unwrap_or_else(|p| p.into_inner()) {
            main.wake_by_ref();
        }
    }
}

/// The main future was dropped because of Ctrl-C.
pub(super) struct Interrupted;

impl CtrlC {
    /// Starts watching, if `SIGINT` has its default action (or ours). Costs a few system
    /// calls; on failure `run` goes on without (and says so in the log).
    pub(super) fn watch() -> CtrlC {
        if cfg!(miri) {
            // Miri cannot install signal handlers; the loop's own code is what it checks.
            return CtrlC { watch: None };
        }
        let start = || -> io::Result<Option<Watch>> {
            let seen = DELIVERED[libc::SIGINT as usize].load(SeqCst);
            let Some(listening) = Listening::start_if_default(libc::SIGINT)? else {
                return Ok(None);
            };
            let shared = LoopSignals::of_current_loop("run")?;
            shared.sigint_seen.set(seen);
            let wake = Arc::new(WatchWake {
                fired: AtomicBool::new(true),
                main: Mutex::new(None),
            });
            Ok(Some(Watch {
                shared,
                listening: RefCell::new(Some(listening)),
                waker: Waker::from(Arc::clone(&wake)),
                wake,
            }))
        };
        match start() {
            Ok(watch) => CtrlC { watch },
            Err(e) => {
                log::warn!(
                    "concur::aio::run: cannot watch for Ctrl-C ({e}); SIGINT keeps its action"
                );
                CtrlC { watch: None }
            }
        }
    }

    /// `future`, or `Err(Interrupted)` (with `future` dropped) at a Ctrl-C that nobody on
    /// the loop listens for.
    pub(super) async fn guard<F: Future>(&self, future: F) -> Result<F::Output, Interrupted> {
        let mut future = pin!(future);
        poll_fn(|cx| {
            if self.interrupted(cx) {
                return Poll::Ready(Err(Interrupted));
            }
            future.as_mut().poll(cx).map(Ok)
        })
        .await
    }

    /// Whether a Ctrl-C came that `run` must act on. Otherwise `cx`'s task is woken when
    /// the loop's eventfd fires.
    fn interrupted(&self, cx: &mut Context<'_>) -> bool {
        let Some(w) = &self.watch else {
            return false;
        };
        // The handler counts before it writes to the eventfd: a delivery not seen here
        // yet will fire the eventfd, and then the watch's waker.
        if !w.wake.fired.load(SeqCst) {
            return false; // a plain load on x86: the main future's polls stay cheap
        }
        w.wake.fired.store(false, SeqCst);
        let mut listening = w.listening.borrow_mut();
        if listening.is_none() {
            return false;
        }
        {
            let mut main = w.wake.main.lock().unwrap_or_else(|p| p.into_inner());
            if !main.as_ref().is_some_and(|m| m.will_wake(cx.waker())) {
                *main = Some(cx.waker().clone());
            }
        }
        let cx = &mut Context::from_waker(&w.waker);
        loop {
            let now = DELIVERED[libc::SIGINT as usize].load(SeqCst);
            if now != w.shared.sigint_seen.get() {
                w.shared.sigint_seen.set(now);
                if w.shared.sigint_listeners.get() == 0 {
                    // SIGINT gets its action back now: a second Ctrl-C during the cleanup
                    // kills at once.
                    *listening = None;
                    return true;
                }
            }
            match w.shared.poll_event(cx) {
                Poll::Pending => return false,
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(e)) => {
                    log::error!("concur::aio::run: stopped watching for Ctrl-C: {e}");
                    *listening = None;
                    return false;
                }
            }
        }
    }
}

impl Interrupted {
    /// Raises `SIGINT` again, once the loop is cleaned up and `SIGINT` has its previous
    /// action back: the process ends as an uncaught Ctrl-C ends it. Panics if it survives.
    pub(super) fn resume(self) -> ! {
        // SAFETY: raise(3) has no preconditions; it sends SIGINT to this thread.
        unsafe { libc::raise(libc::SIGINT) };
        panic!(
            "concur::aio::run: interrupted by Ctrl-C (SIGINT); the main future and the \
             loop's tasks were dropped"
        )
    }
}
