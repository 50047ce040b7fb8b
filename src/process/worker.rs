//! The worker side: a process pool's workers are this same executable, started again with
//! a marker in the environment. A hook that runs before `main` (an `.init_array` entry)
//! sees the marker and serves tasks instead, so no code of the program's `main` runs in a
//! worker; [`init`](crate::process::init) is the same check for a `main` that wants to be
//! explicit about it.

use std::ffi::OsString;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::time::{Duration, Instant};

use super::board::{Board, Claim};
use super::call;
use super::channel::{Filled, ReadBuf, WriteBuf};
use super::protocol::{self, Status, ToWorker, MAX_BODY};

/// The environment variable that makes a process a worker (removed as soon as it is read,
/// so processes a task starts do not inherit it).
pub(crate) const MARKER: &str = "CONCUR_PROCESS_WORKER_V1";

/// Exit code: the worker is not the same build as its parent.
pub(crate) const EXIT_REFUSED: i32 = 70;
/// Exit code: the parent broke the protocol or the channel failed.
const EXIT_CHANNEL: i32 = 71;

/// Runs before `main` in every process of a program that links concur.
#[cfg(target_os = "linux")]
#[used]
// SAFETY: the loader calls each `.init_array` entry as a C function that takes no
// arguments and returns nothing, before `main`; `HOOK` is one such function pointer.
#[unsafe(link_section = ".init_array")]
pub(crate) static HOOK: extern "C" fn() = hook;

#[cfg(target_os = "linux")]
extern "C" fn hook() {
    // Nothing may unwind out of an `extern "C"` function.
    if std::panic::catch_unwind(serve_if_worker).is_err() {
        std::process::exit(EXIT_CHANNEL);
    }
}

/// If this process was started as a worker, serves tasks until the parent closes the
/// channel, then exits; otherwise returns at once.
pub(crate) fn serve_if_worker() {
    let Some(marker) = std::env::var_os(MARKER) else {
        return;
    };
    // SAFETY: only the first call can get here: `HOOK` (this module exists on Linux
    // only, so the hook always does), run by the loader before `main`, when no code of
    // the program has run to start a second thread; no other thread reads or writes the
    // environment meanwhile. A later call (`process::init` from `main`) finds the marker
    // gone and returns above.
    unsafe { std::env::remove_var(MARKER) };
    // Anyone can set an environment variable: nothing below trusts it before these
    // checks. A privileged program (setuid, setgid, file capabilities) started by someone
    // else is the classic confused deputy: it never serves.
    if let Some(why) = secure_mode() {
        refuse(&why);
    }
    let Some(marker) = Marker::parse(&marker) else {
        refuse(&format!("{MARKER} is malformed"));
    };
    std::process::exit(serve(marker));
}

/// Ends a process that was asked to be a worker and may not be one: a message that says
/// why, exit code [`EXIT_REFUSED`], and not a byte to whoever holds the other end of its
/// standard input.
fn refuse(why: &str) -> ! {
    eprintln!(
        "concur: process {} was started as a process-pool worker ({MARKER} is set), \
         but {why}; it refuses to serve and exits",
        std::process::id()
    );
    std::process::exit(EXIT_REFUSED)
}

/// Why this process runs with privileges its starter may not have, if it does.
fn secure_mode() -> Option<String> {
    // SAFETY: getauxval only reads the auxiliary vector the kernel gave this process.
    let at_secure = unsafe { libc::getauxval(libc::AT_SECURE) };
    if at_secure != 0 {
        return Some("it runs in secure mode (setuid, setgid or file capabilities)".to_owned());
    }
    use rustix::process::{getegid, geteuid, getgid, getuid};
    if getuid() != geteuid() || getgid() != getegid() {
        return Some(format!(
            "its real and effective ids differ (uid {} / {}, gid {} / {})",
            getuid().as_raw(),
            geteuid().as_raw(),
            getgid().as_raw(),
            getegid().as_raw()
        ));
    }
    None
}

/// Why the process at the other end of `chan` is not this worker's pool, if it is not:
/// the channel's peer must be this process's real parent, of the same user, running the
/// very same executable file. (The marker names a parent too, but anyone can write it.)
fn stranger(chan: BorrowedFd<'_>, marker: &Marker) -> Option<String> {
    let parent = rustix::process::getppid().map_or(0, |p| p.as_raw_nonzero().get() as u32);
    if parent != marker.parent {
        return Some(format!(
            "its parent is process {parent}, not process {} that the marker names",
            marker.parent
        ));
    }
    let peer = match rustix::net::sockopt::socket_peercred(chan) {
        Ok(peer) => peer,
        Err(e) => return Some(format!("the peer of its channel cannot be identified: {e}")),
    };
    let peer_pid = peer.pid.as_raw_nonzero().get() as u32;
    if peer_pid != parent {
        return Some(format!(
            "the peer of its channel is process {peer_pid}, not its parent {parent}"
        ));
    }
    if peer.uid != rustix::process::getuid() || peer.gid != rustix::process::getgid() {
        return Some(format!(
            "the peer of its channel runs as uid {} gid {}, not as this process does",
            peer.uid.as_raw(),
            peer.gid.as_raw()
        ));
    }
    None
}

/// Why this worker is not the same build as its parent (whose identity [`stranger`]
/// checked), if it is not: the parent's executable file, the one the marker names and
/// this process's own must be one, with one code layout.
fn other_build(marker: &Marker) -> Option<String> {
    let parent = marker.parent;
    let exe_of = |path: &str| std::fs::metadata(path).map(|m| (m.dev(), m.ino()));
    match (exe_of(&format!("/proc/{parent}/exe")), current_exe_id()) {
        (Ok(theirs), Ok(ours)) if theirs != ours => {
            Some(format!("its parent {parent} runs another executable"))
        }
        (Ok(_), Ok(ours)) if ours != marker.exe => {
            Some("the worker's executable is not the parent's".to_owned())
        }
        (Ok(_), Ok(_)) if call::layout() != marker.layout => Some(
            "the worker's code layout differs from the parent's (not the same build)".to_owned(),
        ),
        (Ok(_), Ok(_)) => None,
        (Err(e), _) | (_, Err(e)) => Some(format!(
            "the worker cannot compare its executable with its parent's: {e}"
        )),
    }
}

/// What the parent put in the marker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Marker {
    /// The parent's pid: the worker stops if its parent is another process.
    pub(crate) parent: u32,
    /// Device and inode of the parent's executable.
    pub(crate) exe: (u64, u64),
    /// The parent's code layout fingerprint.
    pub(crate) layout: u64,
    /// Report resident memory with each result.
    pub(crate) report_rss: bool,
}

impl Marker {
    pub(crate) fn to_os_string(&self) -> OsString {
        format!(
            "{}:{}:{}:{}:{}",
            self.parent, self.exe.0, self.exe.1, self.layout, self.report_rss as u8
        )
        .into()
    }

    fn parse(s: &OsString) -> Option<Marker> {
        let s = s.to_str()?;
        let mut it = s.split(':');
        let m = Marker {
            parent: it.next()?.parse().ok()?,
            exe: (it.next()?.parse().ok()?, it.next()?.parse().ok()?),
            layout: it.next()?.parse().ok()?,
            report_rss: it.next()? == "1",
        };
        it.next().is_none().then_some(m)
    }
}

/// Device and inode of the running executable.
pub(crate) fn current_exe_id() -> io::Result<(u64, u64)> {
    let meta = std::fs::metadata("/proc/self/exe")?;
    Ok((meta.dev(), meta.ino()))
}

fn serve(marker: Marker) -> i32 {
    // Die with the parent's pool thread, whatever kills it; and check it is still there
    // (it could have died before the line above took effect).
    let _ = rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL));
    let chan = match take_channel() {
        Ok(chan) => chan,
        Err(e) => refuse(&format!("it has no channel to a parent: {e}")),
    };
    // Also closes the race with the line above: a parent that died before it took effect
    // is not the parent any more.
    if let Some(why) = stranger(chan.as_fd(), &marker) {
        refuse(&why);
    }
    // Rust programs ignore SIGPIPE (std's runtime does it before `main`, which a worker
    // never reaches); do the same, so a task writing to a closed pipe gets an error.
    // SAFETY: setting a signal's disposition to "ignore" installs no handler code.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    // A task's panic travels to its handle; here it is one line that names the worker.
    // (The default hook would say "thread '<unnamed>'": a worker runs before `main`.)
    // With RUST_BACKTRACE set, the default hook prints its backtrace as usual.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        // Where it was raised travels to the handle with the message.
        crate::handle::note_location(info);
        if std::env::var_os("RUST_BACKTRACE").is_some_and(|v| v != "0") {
            default_hook(info);
            return;
        }
        let at = info
            .location()
            .map(|l| format!(" at {l}"))
            .unwrap_or_default();
        eprintln!(
            "concur worker {}: panicked{at}: {}",
            std::process::id(),
            crate::handle::panic_message(info.payload())
        );
    }));

    let mut w = WriteBuf::default();
    if let Some(reason) = other_build(&marker) {
        // The peer is the parent (checked above): it hears why.
        protocol::refused(&mut w.data, &reason);
        let _ = w.flush(chan.as_fd(), true);
        return EXIT_REFUSED;
    }
    protocol::hello(&mut w.data, std::process::id(), call::layout());
    let mut worker = Worker {
        chan: chan.as_fd(),
        r: ReadBuf::default(),
        w,
        board: None,
        received: 0,
        statm: marker
            .report_rss
            .then(|| std::fs::File::open("/proc/self/statm").ok())
            .flatten(),
    };
    let code = match worker.run() {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("concur worker {}: {e}", std::process::id());
            EXIT_CHANNEL
        }
    };
    // The channel closes when the process is gone, not before: the parent takes the end
    // of the stream as the end of the process.
    std::process::exit(code)
}

/// Takes the channel the parent passed as standard input, and gives standard input a
/// harmless `/dev/null` instead.
fn take_channel() -> io::Result<OwnedFd> {
    let stdin = rustix::stdio::stdin();
    let kind = rustix::fs::fstat(stdin)?.st_mode & libc::S_IFMT;
    if kind != libc::S_IFSOCK {
        return Err(io::Error::other("standard input is not a socket"));
    }
    let chan = rustix::io::fcntl_dupfd_cloexec(stdin, 3)?;
    let null = std::fs::File::open("/dev/null")?;
    rustix::stdio::dup2_stdin(&null)?;
    Ok(chan)
}

/// How long an idle worker looks for its next task before it sleeps.
const SPIN: Duration = Duration::from_micros(50);

struct Worker<'a> {
    chan: BorrowedFd<'a>,
    r: ReadBuf,
    w: WriteBuf,
    /// Where this worker and its parent settle whether a task starts or is cancelled
    /// (the parent's first frame brings it).
    board: Option<Board>,
    /// Task frames received so far.
    received: u64,
    statm: Option<std::fs::File>,
}

impl Worker<'_> {
    fn run(&mut self) -> io::Result<()> {
        loop {
            let (start, end) = loop {
                match protocol::next_frame(self.r.unread(), MAX_BODY) {
                    Ok(Some(frame)) => break frame,
                    Ok(None) => {
                        self.w.flush(self.chan, true)?;
                        if self.wait_for_bytes()? == Filled::Closed {
                            return Ok(());
                        }
                    }
                    Err(e) => return Err(io::Error::new(io::ErrorKind::InvalidData, e.0)),
                }
            };
            self.handle(start, end)?;
            self.r.consume(end);
            // Every result leaves before the next task starts: if that task kills the
            // process, the parent must know exactly which task was running.
            self.w.flush(self.chan, true)?;
        }
    }

    /// Reads more of the stream. A parent that just got a result often sends the next
    /// task a few microseconds later: look for it for a moment before sleeping in the
    /// kernel, whose wake-up costs more than that.
    fn wait_for_bytes(&mut self) -> io::Result<Filled> {
        let want = protocol::missing(self.r.unread());
        let began = Instant::now();
        loop {
            match self.r.fill(self.chan, want, false)? {
                Filled::WouldBlock if began.elapsed() < SPIN => std::thread::yield_now(),
                Filled::WouldBlock => return self.r.fill(self.chan, want, true),
                got => return Ok(got),
            }
        }
    }

    /// Handles the frame at `start..end` of the unread bytes; returns how long it ran.
    fn handle(&mut self, start: usize, end: usize) -> io::Result<Duration> {
        let unread = self.r.unread();
        let body = &unread[start..end];
        let bad = |e: protocol::ProtocolError| io::Error::new(io::ErrorKind::InvalidData, e.0);
        match protocol::decode_to_worker(body).map_err(bad)? {
            ToWorker::Task {
                id,
                call,
                func,
                nfds,
                arg,
            } => {
                let arg_at = start + (arg.as_ptr() as usize - body.as_ptr() as usize);
                let fds = self.r.take_fds(nfds).ok_or_else(|| {
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        "a task's descriptors did not arrive",
                    )
                })?;
                let (call, func) = callable(call, func)?;
                let n = self.received;
                self.received += 1;
                let board = self.board.as_ref().ok_or_else(|| {
                    io::Error::new(io::ErrorKind::InvalidData, "a task came before the board")
                })?;
                match board.claim(n, id) {
                    Claim::Run => {}
                    Claim::Skip => {
                        protocol::skipped(&mut self.w.data, id);
                        return Ok(Duration::ZERO);
                    }
                    Claim::Unknown => {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            format!("task {id} is not on the board"),
                        ))
                    }
                }
                let arg = &self.r.unread()[arg_at..end];
                Ok(run_task(
                    &mut self.w,
                    id,
                    call,
                    func,
                    arg,
                    fds,
                    self.statm.as_ref(),
                ))
            }
            ToWorker::Board => {
                let fd = self.r.take_fds(1).and_then(|mut fds| fds.pop());
                let fd = fd.ok_or_else(|| {
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        "the board's descriptor did not arrive",
                    )
                })?;
                if self.board.is_some() {
                    return Err(io::Error::new(io::ErrorKind::InvalidData, "a second board"));
                }
                self.board = Some(Board::open(fd)?);
                Ok(Duration::ZERO)
            }
            ToWorker::Init { call, func } => {
                let mut msg = Vec::new();
                let (call, func) = callable(call, func)?;
                // SAFETY: the parent names `call_init::<E>` of this executable (the same
                // build, checked at start-up), paired with a `fn() -> Result<(), E>` of
                // the same `E`; `callable` checked both are code it could name.
                let status = unsafe { call(func, &[], Vec::new(), &mut msg, &mut Vec::new()) };
                let msg = String::from_utf8_lossy(&msg);
                let failed = status != Status::Ok;
                let reason = if failed && msg.is_empty() {
                    "the initializer failed"
                } else {
                    &msg
                };
                protocol::init_done(&mut self.w.data, if failed { reason } else { "" });
                self.w.flush(self.chan, true)?;
                if failed {
                    // The pool is broken now; nothing more to do here.
                    return Err(io::Error::other(format!("initializer failed: {reason}")));
                }
                Ok(Duration::ZERO)
            }
        }
    }
}

/// The trampoline and the function a frame names, if they are code a task can be: a
/// trampoline entry of this build, and a function of the main executable. Anything else
/// is a protocol violation, and the worker stops.
fn callable(call: u64, func: u64) -> io::Result<(call::Call, usize)> {
    let violation = |why: String| io::Error::new(io::ErrorKind::InvalidData, why);
    let call = call::trampoline(call).map_err(violation)?;
    let func = call::check_func(func).map_err(violation)?;
    Ok((call, func))
}

/// Runs one task and appends its result frame.
fn run_task(
    w: &mut WriteBuf,
    id: u64,
    call: call::Call,
    func: usize,
    arg: &[u8],
    fds: Vec<OwnedFd>,
    statm: Option<&std::fs::File>,
) -> Duration {
    let open = protocol::begin_done(&mut w.data, id);
    let mut out_fds = Vec::new();
    let began = Instant::now();
    // SAFETY: the parent names a trampoline (`call_one::<A, R>` or `call_chunk::<A, R>`)
    // of this executable (the same build, checked at start-up against the parent's
    // executable and code layout) paired with a `fn(A) -> R` of the same `A` and `R`;
    // `callable` checked that both are code a parent could name.
    let mut status = unsafe { call(func, arg, fds, &mut w.data, &mut out_fds) };
    let ran = began.elapsed();
    let rss = statm.map_or(0, resident_bytes);
    if status != Status::Ok {
        out_fds.clear();
    }
    open.set_done(
        &mut w.data,
        status,
        ran.as_nanos() as u64,
        rss,
        out_fds.len() as u32,
    );
    if let Err(e) = open.finish(&mut w.data, MAX_BODY) {
        // Too large for a frame: say so instead.
        out_fds.clear();
        status = Status::Serialization;
        let open = protocol::begin_done(&mut w.data, id);
        w.data.extend_from_slice(
            format!("the result is too large: {e}; send large data in a SharedBuffer").as_bytes(),
        );
        open.set_done(&mut w.data, status, ran.as_nanos() as u64, rss, 0);
        open.finish(&mut w.data, MAX_BODY)
            .expect("a short message fits");
    }
    w.fds.extend(out_fds);
    ran
}

/// The resident set size from `/proc/self/statm`, 0 if it cannot be read.
fn resident_bytes(statm: &std::fs::File) -> u64 {
    let mut buf = [0u8; 128];
    let n = rustix::io::pread(statm, &mut buf, 0).unwrap_or(0);
    let text = std::str::from_utf8(&buf[..n]).unwrap_or("");
    let pages: u64 = text
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    // SAFETY: sysconf only reads a system constant.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    pages * u64::try_from(page).unwrap_or(4096)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_marker_round_trips() {
        let m = Marker {
            parent: 12,
            exe: (3, 4),
            layout: 99,
            report_rss: true,
        };
        assert_eq!(Marker::parse(&m.to_os_string()), Some(m));
        assert_eq!(Marker::parse(&"1:2:3".into()), None);
        assert_eq!(Marker::parse(&"1:2:3:4:0:extra".into()), None);
    }

    #[test]
    fn a_frame_may_name_only_a_trampoline_and_a_function_of_the_program() {
        fn echo(x: u8) -> u8 {
            x
        }
        let (call, func) = call::one(echo);
        assert!(callable(call, func).is_ok());
        let heap = call::offset_of(&*Box::new(0u64) as *const u64 as usize);
        for (c, f) in [(func, func), (call, call), (heap, func), (call, heap)] {
            let err = callable(c, f).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{c:#x} {f:#x}");
        }
    }

    #[test]
    fn resident_memory_is_read() {
        let f = std::fs::File::open("/proc/self/statm").unwrap();
        assert!(resident_bytes(&f) > 0);
    }
}
