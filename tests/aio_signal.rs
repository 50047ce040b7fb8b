//! Unix signals on the loop (`aio::signal`) and Ctrl-C in `aio::run`.
//!
//! Signal actions belong to the whole process, and every `aio::run` watches `SIGINT`, so
//! the tests of this file take turns ([`serial`]): a `SIGINT` raised by one test must not
//! reach another test's loop. What must happen to a whole process (being ended by Ctrl-C)
//! is tested in a child: this test binary, re-run on one `#[ignore]`d child test.

use std::env;
use std::future::pending;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Mutex, MutexGuard};
use std::time::Duration;

use concur::aio::{self, signal::Signals};
use rustix::process::{getpid, kill_process, Pid, Signal};

/// Makes the tests of this file run one at a time.
fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

/// Sends `signal` to this process (any of its threads may receive it).
fn send(signal: Signal) {
    kill_process(getpid(), signal).unwrap();
}

/// Raises `signal` in this thread: handled before this returns.
fn raise(signal: i32) {
    // SAFETY: raise(3) only sends a signal to this thread.
    assert_eq!(unsafe { libc::raise(signal) }, 0);
}

/// The current action of `signal` (its handler address, `SIG_DFL` or `SIG_IGN`).
fn handler_of(signal: i32) -> libc::sighandler_t {
    // SAFETY: all zeros is a valid `sigaction`.
    let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: a null new action only reads the current one.
    let r = unsafe { libc::sigaction(signal, std::ptr::null(), &mut old) };
    assert_eq!(r, 0);
    old.sa_sigaction
}

/// Sets `signal`'s handler (`SIG_DFL`, `SIG_IGN` or a function's address).
fn set_handler(signal: i32, handler: libc::sighandler_t) {
    // SAFETY: the handlers these tests install only touch atomics.
    let r = unsafe { libc::signal(signal, handler) };
    assert_ne!(r, libc::SIG_ERR);
}

/// Puts `SIG_DFL` back for its signal when dropped, even if the test fails, so that one
/// failure does not spread to the next tests.
struct ResetToDefault(i32);

impl Drop for ResetToDefault {
    fn drop(&mut self) {
        set_handler(self.0, libc::SIG_DFL);
    }
}

static USER_HANDLER_CALLS: AtomicUsize = AtomicUsize::new(0);

extern "C" fn user_handler(_: libc::c_int) {
    USER_HANDLER_CALLS.fetch_add(1, Ordering::SeqCst);
}

/// The handler's address, read from one static: Rust does not promise that a function's
/// address is the same everywhere it is taken (an optimised build may hold copies).
fn user_handler_address() -> libc::sighandler_t {
    static USER_HANDLER: extern "C" fn(libc::c_int) = user_handler;
    USER_HANDLER as libc::sighandler_t
}

#[test]
fn each_delivery_of_a_signal_reaches_the_stream() {
    let _serial = serial();
    aio::run(async {
        let mut signals = Signals::new(&[libc::SIGUSR1]).unwrap();
        for _ in 0..5 {
            send(Signal::USR1);
            assert_eq!(signals.recv().await, Some(libc::SIGUSR1));
        }
    });
}

#[test]
fn a_stream_tells_its_signals_apart_and_reports_each_pending_one() {
    let _serial = serial();
    aio::run(async {
        let mut signals = Signals::new(&[libc::SIGUSR1, libc::SIGUSR2]).unwrap();
        raise(libc::SIGUSR2);
        assert_eq!(signals.recv().await, Some(libc::SIGUSR2));
        raise(libc::SIGUSR1);
        assert_eq!(signals.recv().await, Some(libc::SIGUSR1));
        // Both delivered before the task looks: both reported, in some order.
        raise(libc::SIGUSR1);
        raise(libc::SIGUSR2);
        let mut got = [signals.recv().await.unwrap(), signals.recv().await.unwrap()];
        got.sort();
        assert_eq!(got, [libc::SIGUSR1, libc::SIGUSR2]);
    });
}

#[test]
fn deliveries_of_one_signal_before_recv_are_reported_once() {
    let _serial = serial();
    aio::run(async {
        let mut signals = Signals::new(&[libc::SIGUSR1, libc::SIGUSR2]).unwrap();
        for _ in 0..3 {
            raise(libc::SIGUSR1);
        }
        assert_eq!(signals.recv().await, Some(libc::SIGUSR1));
        // Nothing else is pending: the next one reported is the next one sent.
        raise(libc::SIGUSR2);
        assert_eq!(signals.recv().await, Some(libc::SIGUSR2));
    });
}

#[test]
fn two_listeners_on_one_loop_both_hear_a_signal() {
    let _serial = serial();
    aio::run(async {
        let mut first = Signals::new(&[libc::SIGUSR1]).unwrap();
        let mut second = Signals::new(&[libc::SIGUSR1]).unwrap();
        let other = aio::spawn(async move { second.recv().await });
        aio::yield_now().await; // `other` waits now
        send(Signal::USR1);
        assert_eq!(first.recv().await, Some(libc::SIGUSR1));
        assert_eq!(other.await.unwrap(), Some(libc::SIGUSR1));
    });
}

#[test]
fn loops_on_two_threads_both_hear_a_signal() {
    let _serial = serial();
    let (listening, ready) = mpsc::channel();
    let loops: Vec<_> = (0..2)
        .map(|_| {
            let listening = listening.clone();
            std::thread::spawn(move || {
                aio::run(async move {
                    let mut signals = Signals::new(&[libc::SIGUSR2]).unwrap();
                    listening.send(()).unwrap();
                    signals.recv().await
                })
            })
        })
        .collect();
    ready.recv().unwrap();
    ready.recv().unwrap();
    send(Signal::USR2);
    for l in loops {
        assert_eq!(l.join().unwrap(), Some(libc::SIGUSR2));
    }
}

#[test]
fn the_previous_action_is_back_after_the_last_listener_goes() {
    let _serial = serial();
    let _default = ResetToDefault(libc::SIGUSR2);
    set_handler(libc::SIGUSR2, libc::SIG_IGN);
    aio::run(async {
        let first = Signals::new(&[libc::SIGUSR2]).unwrap();
        let second = Signals::new(&[libc::SIGUSR2, libc::SIGUSR1]).unwrap();
        assert_ne!(handler_of(libc::SIGUSR2), libc::SIG_IGN);
        drop(first);
        assert_ne!(
            handler_of(libc::SIGUSR2),
            libc::SIG_IGN,
            "one listener left"
        );
        drop(second);
        assert_eq!(handler_of(libc::SIGUSR2), libc::SIG_IGN);
        assert_eq!(handler_of(libc::SIGUSR1), libc::SIG_DFL);
    });
}

#[test]
fn a_handler_installed_before_is_still_called_and_restored() {
    let _serial = serial();
    let _default = ResetToDefault(libc::SIGUSR1);
    set_handler(libc::SIGUSR1, user_handler_address());
    let before = USER_HANDLER_CALLS.load(Ordering::SeqCst);
    aio::run(async {
        let mut signals = Signals::new(&[libc::SIGUSR1]).unwrap();
        // Raised in this thread, so both handlers have run when `raise` returns (a signal
        // sent to the process may be handled by another thread, and the loop may see
        // the delivery before the handler it calls next has finished).
        raise(libc::SIGUSR1);
        assert_eq!(signals.recv().await, Some(libc::SIGUSR1));
        assert_eq!(USER_HANDLER_CALLS.load(Ordering::SeqCst), before + 1);
    });
    assert_eq!(handler_of(libc::SIGUSR1), user_handler_address());
}

#[test]
fn uncatchable_fault_and_invalid_signals_are_refused() {
    let _serial = serial();
    aio::run(async {
        for (signal, named) in [
            (libc::SIGKILL, "SIGKILL"),
            (libc::SIGSTOP, "SIGSTOP"),
            (libc::SIGSEGV, "SIGSEGV"),
            (libc::SIGBUS, "SIGBUS"),
            (libc::SIGILL, "SIGILL"),
            (libc::SIGFPE, "SIGFPE"),
            (0, "signal 0"),
            (-1, "signal -1"),
            (65, "signal 65"),
            (1000, "signal 1000"),
        ] {
            let e = Signals::new(&[libc::SIGUSR1, signal]).unwrap_err();
            assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput, "{named}");
            assert!(e.to_string().contains(named), "{e}");
        }
        let e = Signals::new(&[]).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
        // Nothing was installed on the way.
        assert_eq!(handler_of(libc::SIGUSR1), libc::SIG_DFL);
    });
}

#[test]
fn recv_returns_none_once_its_loop_has_ended() {
    let _serial = serial();
    let mut signals = aio::run(async { Signals::new(&[libc::SIGUSR1]).unwrap() });
    assert_eq!(aio::run(signals.recv()), None);
    drop(signals);
    assert_eq!(handler_of(libc::SIGUSR1), libc::SIG_DFL);
}

#[test]
fn ctrl_c_completes_on_sigint() {
    let _serial = serial();
    let done = aio::run(async {
        // Runs after the main future's first poll, so `ctrl_c` listens by then, and
        // `run` leaves this SIGINT to it.
        aio::spawn(async { send(Signal::INT) });
        aio::signal::ctrl_c().await.unwrap();
        "done"
    });
    assert_eq!(done, "done");
    assert_eq!(handler_of(libc::SIGINT), libc::SIG_DFL);
}

#[test]
fn run_catches_sigint_only_while_it_runs() {
    let _serial = serial();
    assert_eq!(handler_of(libc::SIGINT), libc::SIG_DFL);
    aio::run(async {
        assert_ne!(handler_of(libc::SIGINT), libc::SIG_DFL);
    });
    assert_eq!(handler_of(libc::SIGINT), libc::SIG_DFL);
}

#[test]
fn run_leaves_a_sigint_handler_of_the_program_alone() {
    let _serial = serial();
    let _default = ResetToDefault(libc::SIGINT);
    set_handler(libc::SIGINT, user_handler_address());
    let before = USER_HANDLER_CALLS.load(Ordering::SeqCst);
    let finished = aio::run(async {
        assert_eq!(handler_of(libc::SIGINT), user_handler_address());
        raise(libc::SIGINT);
        aio::yield_now().await; // the loop looks at its events: nothing for it
        "finished"
    });
    assert_eq!(finished, "finished");
    assert_eq!(USER_HANDLER_CALLS.load(Ordering::SeqCst), before + 1);
    assert_eq!(handler_of(libc::SIGINT), user_handler_address());
}

// ---- Ctrl-C that ends the process: children -------------------------------------------

/// Set (to the child test's name) in a child's environment; child tests do nothing without.
const CHILD: &str = "CONCUR_AIO_SIGNAL_CHILD";

/// Whether this process is the child that runs test `name`.
fn is_child(name: &str) -> bool {
    env::var(CHILD).is_ok_and(|v| v == name)
}

/// Prints its message when dropped.
struct Say(&'static str);

impl Drop for Say {
    fn drop(&mut self) {
        println!("{}", self.0);
    }
}

/// Whether the child's output line `l` is `line` (maybe after libtest's `test NAME ... `,
/// which ends without a newline).
fn said(l: &str, line: &str) -> bool {
    l.strip_suffix(line)
        .is_some_and(|before| before.is_empty() || before.ends_with(' '))
}

/// A child: this test binary, running the ignored test `name` alone.
struct Kid {
    child: Child,
    stdout: BufReader<std::process::ChildStdout>,
    /// Lines read so far.
    seen: Vec<String>,
    /// Kills a child that hangs, so a broken test fails instead of waiting forever.
    watchdog: Option<mpsc::Sender<()>>,
}

impl Kid {
    fn start(name: &str) -> Kid {
        let mut child = Command::new(env::current_exe().unwrap())
            .args([
                "--exact",
                name,
                "--nocapture",
                "--test-threads=1",
                "--ignored",
            ])
            .env(CHILD, name)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let pid = child.id() as i32;
        let (watchdog, stop) = mpsc::channel::<()>();
        std::thread::spawn(move || {
            if let Err(mpsc::RecvTimeoutError::Timeout) =
                stop.recv_timeout(Duration::from_secs(120))
            {
                // SAFETY: kill(2) with a pid we started and have not reaped.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        });
        Kid {
            child,
            stdout,
            seen: Vec::new(),
            watchdog: Some(watchdog),
        }
    }

    /// Reads until the child prints `line`.
    fn wait_for(&mut self, line: &str) {
        loop {
            let mut l = String::new();
            let n = self.stdout.read_line(&mut l).unwrap();
            assert!(
                n > 0,
                "the child ended before it printed {line:?}: {:?}",
                self.seen
            );
            let l = l.trim_end().to_string();
            self.seen.push(l.clone());
            if said(&l, line) {
                return;
            }
        }
    }

    fn signal(&self, signal: Signal) {
        let pid = Pid::from_raw(self.child.id() as i32).unwrap();
        kill_process(pid, signal).unwrap();
    }

    /// Waits for the child to end; its status and all it printed.
    fn finish(mut self) -> (ExitStatus, Vec<String>) {
        drop(self.child.stdin.take());
        let mut rest = String::new();
        self.stdout.read_to_string(&mut rest).unwrap();
        let status = self.child.wait().unwrap();
        drop(self.watchdog.take());
        self.seen.extend(rest.lines().map(str::to_string));
        (status, self.seen)
    }
}

#[test]
fn ctrl_c_in_run_drops_the_main_future_and_tasks_then_ends_the_process_by_sigint() {
    let _serial = serial();
    let mut kid = Kid::start("child_waits_forever_in_run");
    kid.wait_for("ready");
    kid.signal(Signal::INT);
    let (status, out) = kid.finish();
    assert_eq!(status.signal(), Some(libc::SIGINT), "{status:?}: {out:?}");
    let at = |line: &str| out.iter().position(|l| said(l, line));
    let main = at("main cleanup").unwrap_or_else(|| panic!("{out:?}"));
    let task = at("task cleanup").unwrap_or_else(|| panic!("{out:?}"));
    assert!(main < task, "the main future goes first: {out:?}");
    assert_eq!(at("run returned"), None, "{out:?}");
}

#[test]
#[ignore = "a child of ctrl_c_in_run_drops_the_main_future_and_tasks_then_ends_the_process_by_sigint"]
fn child_waits_forever_in_run() {
    if !is_child("child_waits_forever_in_run") {
        return;
    }
    aio::run(async {
        let _task = aio::spawn(async {
            let _cleanup = Say("task cleanup");
            pending::<()>().await
        });
        aio::yield_now().await; // the task runs, and holds its guard
        let _cleanup = Say("main cleanup");
        println!("ready");
        pending::<()>().await
    });
    println!("run returned");
}

#[test]
fn run_leaves_an_ignored_sigint_alone() {
    let _serial = serial();
    let mut kid = Kid::start("child_ignores_sigint");
    kid.wait_for("ready");
    kid.signal(Signal::INT); // discarded at once: the child ignores it
    let (status, out) = kid.finish(); // closes the child's stdin: it finishes
    assert!(status.success(), "{status:?}: {out:?}");
    assert!(out.iter().any(|l| said(l, "finished")), "{out:?}");
}

#[test]
#[ignore = "a child of run_leaves_an_ignored_sigint_alone"]
fn child_ignores_sigint() {
    if !is_child("child_ignores_sigint") {
        return;
    }
    set_handler(libc::SIGINT, libc::SIG_IGN);
    aio::run(async {
        println!("ready");
        // Until the parent closes our stdin.
        let read = aio::to_thread(|| std::io::stdin().read_to_end(&mut Vec::new()));
        read.await.unwrap().unwrap();
    });
    assert_eq!(handler_of(libc::SIGINT), libc::SIG_IGN);
    println!("finished");
}

#[test]
fn a_program_that_listens_for_ctrl_c_stops_gracefully() {
    let _serial = serial();
    let mut kid = Kid::start("child_listens_for_ctrl_c");
    kid.wait_for("ready");
    kid.signal(Signal::INT);
    let (status, out) = kid.finish();
    assert!(status.success(), "{status:?}: {out:?}");
    assert!(out.iter().any(|l| said(l, "graceful stop")), "{out:?}");
    assert!(out.iter().any(|l| said(l, "finished")), "{out:?}");
}

#[test]
#[ignore = "a child of a_program_that_listens_for_ctrl_c_stops_gracefully"]
fn child_listens_for_ctrl_c() {
    if !is_child("child_listens_for_ctrl_c") {
        return;
    }
    aio::run(async {
        let mut ctrl_c = Signals::new(&[libc::SIGINT]).unwrap();
        println!("ready");
        assert_eq!(ctrl_c.recv().await, Some(libc::SIGINT));
        println!("graceful stop");
    });
    assert_eq!(handler_of(libc::SIGINT), libc::SIG_DFL);
    println!("finished");
}
