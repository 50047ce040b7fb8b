//! Subprocesses on the loop: asyncio's `create_subprocess_exec` (Linux).
//!
//! [`Command`] is [`std::process::Command`] with an asynchronous ending: it is configured
//! the same way and spawns with std's own `fork`/`exec` (or `posix_spawn`), but the
//! [`Child`] it returns is waited for, and its pipes are read and written, as tasks on the
//! running loop. While one task waits for a child, the loop goes on serving the others.
//!
//! ```
//! use std::process::Stdio;
//! use concur::aio::{self, process::Command};
//! use futures_lite::{AsyncReadExt, AsyncWriteExt}; // or futures::io's
//!
//! aio::run(async {
//!     // `output` collects everything the child writes: `await proc.communicate()`.
//!     let out = Command::new("echo").arg("hello").output().await.unwrap();
//!     assert!(out.status.success());
//!     assert_eq!(out.stdout, b"hello\n");
//!
//!     // Pipes: write to `cat` in one task while this one reads its answer.
//!     let mut cat = Command::new("cat")
//!         .stdin(Stdio::piped())
//!         .stdout(Stdio::piped())
//!         .spawn()
//!         .unwrap();
//!     let mut stdin = cat.stdin.take().unwrap();
//!     let writer = aio::spawn(async move {
//!         stdin.write_all(b"meow").await.unwrap();
//!         stdin.close().await.unwrap(); // cat sees end of file and exits
//!     });
//!     let mut heard = String::new();
//!     cat.stdout.take().unwrap().read_to_string(&mut heard).await.unwrap();
//!     writer.await.unwrap();
//!     assert_eq!(heard, "meow");
//!     assert!(cat.wait().await.unwrap().success());
//! });
//! ```
//!
//! # From asyncio
//!
//! | asyncio | `concur::aio::process` |
//! |---|---|
//! | `await create_subprocess_exec(prog, *args, stdout=PIPE)` | `Command::new(prog).args(args).stdout(Stdio::piped()).spawn()?` |
//! | `await proc.communicate()` | [`child.wait_with_output().await`](Child::wait_with_output), or [`Command::output`] |
//! | `await proc.wait()` | [`child.wait().await`](Child::wait) |
//! | `proc.returncode` | [`child.try_wait()`](Child::try_wait) |
//! | `proc.kill()` (then `await proc.wait()`) | [`child.start_kill()`](Child::start_kill) (or [`child.kill().await`](Child::kill), which also waits) |
//! | `proc.pid` | [`child.id()`](Child::id) |
//! | `proc.stdin.write(data); await proc.stdin.drain()` | `stdin.write_all(data).await` ([`ChildStdin`]) |
//! | `await proc.stdout.read(n)` | `stdout.read(&mut buf).await` ([`ChildStdout`]) |
//!
//! # How it works
//!
//! - **Pipes.** A child's [`ChildStdin`], [`ChildStdout`] and [`ChildStderr`] are std's
//!   pipe ends switched to non-blocking mode and registered with the loop's reactor when
//!   the child is spawned, like the sockets of [`net`](super::net). They implement
//!   `futures_io`'s [`AsyncWrite`] and [`AsyncRead`]. Closing a `ChildStdin`
//!   ([`AsyncWriteExt::close`](https://docs.rs/futures-lite/2/futures_lite/io/trait.AsyncWriteExt.html#method.close),
//!   or dropping it) closes the pipe, so the child reads end of file.
//! - **Exit.** At spawn, the child gets a *pidfd* (`pidfd_open(2)`, Linux 5.3): a
//!   descriptor that becomes readable when the process exits. It is registered with the
//!   reactor like a pipe, so [`Child::wait`] sleeps until the kernel reports the exit and
//!   then reaps the child with `waitpid`. No signal handler, no polling, no thread.
//!   Where `pidfd_open` is missing (`ENOSYS`, or `EPERM` from a seccomp filter), `wait`
//!   falls back to a thread of [`to_thread`](super::to_thread)'s pool that blocks in
//!   `waitid(WNOWAIT)` until the child exits (observing without reaping, so the `Child`
//!   still reaps it itself); the thread stays busy until the child exits even if `wait`
//!   is cancelled.
//! - **No zombies.** A process that has exited stays in the process table (a zombie)
//!   until its parent reaps it. Dropping a [`Child`] that was not reaped first sends it
//!   `SIGKILL` if [`Command::kill_on_drop`] was set, then tries to reap it at once; if it
//!   is still running, it is handed to a single process-wide background thread,
//!   `concur-reaper`, started on first need. That thread waits on the pidfds of all the
//!   orphans at once with its own epoll and reaps each one as it exits. A child dropped
//!   without `kill_on_drop` keeps running (as with std and tokio); it is reaped whenever
//!   it ends. Without pidfds, each orphan gets a thread of its own that blocks in
//!   `waitpid` (the fallback above).
//!
//! The loop never reaps children it did not spawn: it waits on each child by pidfd or by
//! pid, never with `waitpid(-1)`. Conversely, a program that reaps *any* child itself
//! (`waitpid(-1)`, or `SIGCHLD` set to `SIG_IGN`) takes the status away from us, and
//! `wait` then fails with `ECHILD`, as std's does.
//!
//! A [`Child`] and its pipes belong to the loop that spawned them (they are not `Send`);
//! used after that loop has ended, their operations fail with an error saying so.
//!
//! [`AsyncRead`]: https://docs.rs/futures-io/0.3/futures_io/trait.AsyncRead.html
//! [`AsyncWrite`]: https://docs.rs/futures-io/0.3/futures_io/trait.AsyncWrite.html

use std::ffi::OsStr;
use std::fmt;
use std::future::{poll_fn, Future};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;
use std::pin::{pin, Pin};
use std::process::{ExitStatus, Output, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};
use std::task::{Context, Poll};

use futures_io::{AsyncRead, AsyncWrite};
use mio::unix::pipe::{Receiver, Sender};
use mio::unix::SourceFd;
use mio::{Events, Interest, Token};
use rustix::io::Errno;
use rustix::process::{Pid, PidfdFlags, WaitId, WaitIdOptions, WaitOptions};
use slab::Slab;

use super::driver::Direction;
use super::registered::Registered;
use super::runtime::current;

/// A process builder: [`std::process::Command`] whose children are awaited on the loop.
///
/// Every setter returns `&mut Command`, so calls chain; a `Command` can spawn any number
/// of children. By default a child inherits this process's stdin, stdout and stderr
/// (except with [`output`](Command::output)).
///
/// ```
/// use concur::aio::{self, process::Command};
///
/// aio::run(async {
///     let status = Command::new("sh").args(["-c", "exit 3"]).status().await.unwrap();
///     assert_eq!(status.code(), Some(3));
/// });
/// ```
pub struct Command {
    std: std::process::Command,
    kill_on_drop: bool,
    /// Whether stdin was chosen by the user, which [`output`](Command::output) respects.
    stdin_set: bool,
}

impl Command {
    /// A command that runs `program`, found on `PATH` unless it is a path.
    ///
    /// ```
    /// use concur::aio::{self, process::Command};
    ///
    /// aio::run(async {
    ///     assert!(Command::new("true").status().await.unwrap().success());
    /// });
    /// ```
    pub fn new(program: impl AsRef<OsStr>) -> Command {
        Command::from(std::process::Command::new(program))
    }

    /// Adds one argument.
    ///
    /// ```
    /// use concur::aio::{self, process::Command};
    ///
    /// aio::run(async {
    ///     let out = Command::new("echo").arg("one").arg("two").output().await.unwrap();
    ///     assert_eq!(out.stdout, b"one two\n");
    /// });
    /// ```
    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Command {
        self.std.arg(arg);
        self
    }

    /// Adds several arguments.
    ///
    /// ```
    /// use concur::aio::{self, process::Command};
    ///
    /// aio::run(async {
    ///     let out = Command::new("printf").args(["%s-%s", "a", "b"]).output().await.unwrap();
    ///     assert_eq!(out.stdout, b"a-b");
    /// });
    /// ```
    pub fn args<I, S>(&mut self, args: I) -> &mut Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.std.args(args);
        self
    }

    /// Sets one environment variable of the child.
    ///
    /// ```
    /// use concur::aio::{self, process::Command};
    ///
    /// aio::run(async {
    ///     let out = Command::new("sh")
    ///         .args(["-c", "echo $GREETING"])
    ///         .env("GREETING", "hi")
    ///         .output()
    ///         .await
    ///         .unwrap();
    ///     assert_eq!(out.stdout, b"hi\n");
    /// });
    /// ```
    pub fn env(&mut self, key: impl AsRef<OsStr>, val: impl AsRef<OsStr>) -> &mut Command {
        self.std.env(key, val);
        self
    }

    /// Sets several environment variables of the child.
    ///
    /// ```
    /// use concur::aio::{self, process::Command};
    ///
    /// aio::run(async {
    ///     let out = Command::new("sh")
    ///         .args(["-c", "echo $A$B"])
    ///         .envs([("A", "1"), ("B", "2")])
    ///         .output()
    ///         .await
    ///         .unwrap();
    ///     assert_eq!(out.stdout, b"12\n");
    /// });
    /// ```
    pub fn envs<I, K, V>(&mut self, vars: I) -> &mut Command
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        self.std.envs(vars);
        self
    }

    /// Removes one environment variable from the child's environment.
    ///
    /// ```
    /// use concur::aio::{self, process::Command};
    ///
    /// aio::run(async {
    ///     let out = Command::new("sh")
    ///         .args(["-c", "echo \"[$GONE]\""])
    ///         .env("GONE", "here")
    ///         .env_remove("GONE")
    ///         .output()
    ///         .await
    ///         .unwrap();
    ///     assert_eq!(out.stdout, b"[]\n");
    /// });
    /// ```
    pub fn env_remove(&mut self, key: impl AsRef<OsStr>) -> &mut Command {
        self.std.env_remove(key);
        self
    }

    /// Starts the child with an empty environment (plus what [`env`](Command::env) adds).
    ///
    /// ```
    /// use concur::aio::{self, process::Command};
    ///
    /// aio::run(async {
    ///     // `/usr/bin/env` with no arguments lists its environment.
    ///     let out = Command::new("/usr/bin/env").env_clear().env("ONLY", "me").output().await.unwrap();
    ///     assert_eq!(out.stdout, b"ONLY=me\n");
    /// });
    /// ```
    pub fn env_clear(&mut self) -> &mut Command {
        self.std.env_clear();
        self
    }

    /// Sets the child's working directory.
    ///
    /// ```
    /// use concur::aio::{self, process::Command};
    ///
    /// aio::run(async {
    ///     let out = Command::new("pwd").current_dir("/").output().await.unwrap();
    ///     assert_eq!(out.stdout, b"/\n");
    /// });
    /// ```
    pub fn current_dir(&mut self, dir: impl AsRef<Path>) -> &mut Command {
        self.std.current_dir(dir);
        self
    }

    /// Sets the child's stdin; [`Stdio::piped`] gives the [`Child`] a [`ChildStdin`].
    ///
    /// ```
    /// use std::process::Stdio;
    /// use concur::aio::{self, process::Command};
    ///
    /// aio::run(async {
    ///     let mut child = Command::new("cat").stdin(Stdio::piped()).stdout(Stdio::null()).spawn().unwrap();
    ///     assert!(child.stdin.is_some());
    ///     assert!(child.wait().await.unwrap().success()); // `wait` closes stdin first
    /// });
    /// ```
    pub fn stdin(&mut self, cfg: impl Into<Stdio>) -> &mut Command {
        self.std.stdin(cfg);
        self.stdin_set = true;
        self
    }

    /// Sets the child's stdout; [`Stdio::piped`] gives the [`Child`] a [`ChildStdout`].
    ///
    /// ```
    /// use std::process::Stdio;
    /// use concur::aio::{self, process::Command};
    /// use futures_lite::AsyncReadExt;
    ///
    /// aio::run(async {
    ///     let mut child = Command::new("echo").arg("out").stdout(Stdio::piped()).spawn().unwrap();
    ///     let mut got = String::new();
    ///     child.stdout.take().unwrap().read_to_string(&mut got).await.unwrap();
    ///     assert_eq!(got, "out\n");
    ///     child.wait().await.unwrap();
    /// });
    /// ```
    pub fn stdout(&mut self, cfg: impl Into<Stdio>) -> &mut Command {
        self.std.stdout(cfg);
        self
    }

    /// Sets the child's stderr; [`Stdio::piped`] gives the [`Child`] a [`ChildStderr`].
    ///
    /// ```
    /// use std::process::Stdio;
    /// use concur::aio::{self, process::Command};
    /// use futures_lite::AsyncReadExt;
    ///
    /// aio::run(async {
    ///     let mut child = Command::new("sh")
    ///         .args(["-c", "echo oops >&2"])
    ///         .stderr(Stdio::piped())
    ///         .spawn()
    ///         .unwrap();
    ///     let mut got = String::new();
    ///     child.stderr.take().unwrap().read_to_string(&mut got).await.unwrap();
    ///     assert_eq!(got, "oops\n");
    ///     child.wait().await.unwrap();
    /// });
    /// ```
    pub fn stderr(&mut self, cfg: impl Into<Stdio>) -> &mut Command {
        self.std.stderr(cfg);
        self
    }

    /// Whether dropping a [`Child`] that has not been reaped sends it `SIGKILL` (default:
    /// `false`, the child keeps running). Either way the dropped child is reaped when it
    /// exits, by the `concur-reaper` thread (see the [module docs](self)).
    ///
    /// ```
    /// use concur::aio::{self, process::Command};
    ///
    /// aio::run(async {
    ///     let child = Command::new("sleep").arg("1000").kill_on_drop(true).spawn().unwrap();
    ///     drop(child); // killed now, reaped in the background
    /// });
    /// ```
    pub fn kill_on_drop(&mut self, kill_on_drop: bool) -> &mut Command {
        self.kill_on_drop = kill_on_drop;
        self
    }

    /// The std command inside, to read its configuration.
    ///
    /// ```
    /// use concur::aio::process::Command;
    ///
    /// let mut cmd = Command::new("ls");
    /// cmd.arg("-l");
    /// assert_eq!(cmd.as_std().get_program(), "ls");
    /// assert_eq!(cmd.as_std().get_args().collect::<Vec<_>>(), ["-l"]);
    /// ```
    pub fn as_std(&self) -> &std::process::Command {
        &self.std
    }

    /// The std command inside, to use settings this type does not wrap (such as
    /// [`std::os::unix::process::CommandExt`]'s `process_group` or `uid`). A stdin set
    /// through it counts as set for [`output`](Command::output) only if it was also set
    /// with [`stdin`](Command::stdin).
    ///
    /// ```
    /// use std::os::unix::process::CommandExt;
    /// use concur::aio::{self, process::Command};
    ///
    /// aio::run(async {
    ///     let mut cmd = Command::new("true");
    ///     cmd.as_std_mut().process_group(0); // the child leads a group of its own
    ///     assert!(cmd.status().await.unwrap().success());
    /// });
    /// ```
    pub fn as_std_mut(&mut self) -> &mut std::process::Command {
        &mut self.std
    }

    /// Starts the child, on the loop running on this thread.
    ///
    /// # Errors
    ///
    /// What [`std::process::Command::spawn`] returns, such as [`io::ErrorKind::NotFound`]
    /// for a program that does not exist; or the error of registering the child's pipes
    /// or pidfd with the loop (the child is then killed and reaped).
    ///
    /// # Panics
    ///
    /// Outside of an event loop (checked before anything is started).
    ///
    /// ```
    /// use std::io::ErrorKind;
    /// use concur::aio::{self, process::Command};
    ///
    /// aio::run(async {
    ///     let mut child = Command::new("true").spawn().unwrap();
    ///     assert!(child.id() > 0);
    ///     assert!(child.wait().await.unwrap().success());
    ///
    ///     let missing = Command::new("surely-no-such-program").spawn().unwrap_err();
    ///     assert_eq!(missing.kind(), ErrorKind::NotFound);
    /// });
    /// ```
    pub fn spawn(&mut self) -> io::Result<Child> {
        const WHAT: &str = "process::Command::spawn";
        drop(current(WHAT));
        let mut std = self.std.spawn()?;
        let stdin = std.stdin.take();
        let stdout = std.stdout.take();
        let stderr = std.stderr.take();
        // From here on the child exists: should anything fail, dropping `child` kills it
        // and hands it to the reaper, and the pipes' descriptors are closed.
        let mut child = Child {
            exit: Exit::Thread,
            std,
            kill_on_drop: true,
            stdin: None,
            stdout: None,
            stderr: None,
        };
        child.exit = Exit::open(child.id(), WHAT)?;
        if let Some(p) = stdin {
            child.stdin = Some(ChildStdin {
                io: Some(register(Sender::from(p), WHAT, |s| {
                    s.set_nonblocking(true)
                })?),
            });
        }
        if let Some(p) = stdout {
            child.stdout = Some(ChildStdout {
                io: register(Receiver::from(p), WHAT, |r| r.set_nonblocking(true))?,
            });
        }
        if let Some(p) = stderr {
            child.stderr = Some(ChildStderr {
                io: register(Receiver::from(p), WHAT, |r| r.set_nonblocking(true))?,
            });
        }
        child.kill_on_drop = self.kill_on_drop;
        Ok(child)
    }

    /// Runs the child to its end and collects its stdout and stderr, read concurrently
    /// (a child filling one pipe while the other is read cannot deadlock):
    /// `await proc.communicate()`.
    ///
    /// This sets the command's stdout and stderr to [`Stdio::piped`] (they stay so for
    /// later spawns); stdin is [`Stdio::null`] for this run unless it was set with
    /// [`stdin`](Command::stdin) (or the command came from a std one, whose stdin is left
    /// as it is).
    ///
    /// # Errors
    ///
    /// Those of [`spawn`](Command::spawn) and [`Child::wait_with_output`].
    ///
    /// ```
    /// use concur::aio::{self, process::Command};
    ///
    /// aio::run(async {
    ///     let out = Command::new("sh").args(["-c", "echo out; echo err >&2; exit 1"]).output().await.unwrap();
    ///     assert_eq!(out.status.code(), Some(1));
    ///     assert_eq!((&out.stdout[..], &out.stderr[..]), (&b"out\n"[..], &b"err\n"[..]));
    /// });
    /// ```
    pub async fn output(&mut self) -> io::Result<Output> {
        self.std.stdout(Stdio::piped()).stderr(Stdio::piped());
        let child = if self.stdin_set {
            self.spawn()
        } else {
            self.std.stdin(Stdio::null());
            let child = self.spawn();
            self.std.stdin(Stdio::inherit()); // the default of a plain `spawn`
            child
        };
        child?.wait_with_output().await
    }

    /// Runs the child to its end and returns its exit status; the child inherits this
    /// process's stdin, stdout and stderr unless they were set.
    ///
    /// # Errors
    ///
    /// Those of [`spawn`](Command::spawn) and [`Child::wait`].
    ///
    /// ```
    /// use concur::aio::{self, process::Command};
    ///
    /// aio::run(async {
    ///     assert!(!Command::new("false").status().await.unwrap().success());
    /// });
    /// ```
    pub async fn status(&mut self) -> io::Result<ExitStatus> {
        self.spawn()?.wait().await
    }
}

/// Wraps a std command; its stdin counts as set (see [`Command::output`]).
///
/// ```
/// use concur::aio::{self, process::Command};
///
/// aio::run(async {
///     let mut std = std::process::Command::new("echo");
///     std.arg("converted");
///     let out = Command::from(std).output().await.unwrap();
///     assert_eq!(out.stdout, b"converted\n");
/// });
/// ```
impl From<std::process::Command> for Command {
    fn from(std: std::process::Command) -> Command {
        Command {
            std,
            kill_on_drop: false,
            stdin_set: true,
        }
    }
}

impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Command")
            .field("std", &self.std)
            .field("kill_on_drop", &self.kill_on_drop)
            .finish()
    }
}

/// Makes `pipe` non-blocking and registers it with the loop.
fn register<S: mio::event::Source + AsRawFd>(
    pipe: S,
    what: &str,
    nonblocking: impl FnOnce(&S) -> io::Result<()>,
) -> io::Result<Registered<S>> {
    nonblocking(&pipe)?;
    Registered::new(pipe, what)
}

/// A pidfd as a `mio` event source: readable once the process has exited.
struct PidFd(OwnedFd);

impl AsRawFd for PidFd {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.0.as_raw_fd()
    }
}

impl mio::event::Source for PidFd {
    fn register(
        &mut self,
        registry: &mio::Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        SourceFd(&self.0.as_raw_fd()).register(registry, token, interests)
    }

    fn reregister(
        &mut self,
        registry: &mio::Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        SourceFd(&self.0.as_raw_fd()).reregister(registry, token, interests)
    }

    fn deregister(&mut self, registry: &mio::Registry) -> io::Result<()> {
        SourceFd(&self.0.as_raw_fd()).deregister(registry)
    }
}

/// How a [`Child`] learns that it has exited.
enum Exit {
    /// Its pidfd, registered with the loop.
    PidFd(Registered<PidFd>),
    /// No pidfds on this system: a pool thread blocks in `waitid` (see the module docs).
    Thread,
}

impl Exit {
    fn open(id: u32, what: &str) -> io::Result<Exit> {
        match rustix::process::pidfd_open(pid(id), PidfdFlags::empty()) {
            Ok(fd) => Ok(Exit::PidFd(Registered::new(PidFd(fd), what)?)),
            Err(Errno::NOSYS | Errno::PERM) => Ok(Exit::Thread),
            Err(e) => Err(e.into()),
        }
    }
}

/// The pid of a child of ours, as rustix wants it.
fn pid(id: u32) -> Pid {
    i32::try_from(id)
        .ok()
        .and_then(Pid::from_raw)
        .expect("std returned a valid pid for a child it spawned")
}

/// A running (or finished) child process: asyncio's `Process`.
///
/// Its pipes, when they were asked for with [`Stdio::piped`], are public fields to
/// [`take`](Option::take), so different tasks can write and read them at the same time.
/// Awaiting [`wait`](Child::wait) reaps the child; a child dropped unreaped is reaped in
/// the background (see the [module docs](self) and [`Command::kill_on_drop`]).
///
/// ```
/// use std::process::Stdio;
/// use concur::aio::{self, process::Command};
/// use futures_lite::AsyncReadExt;
///
/// aio::run(async {
///     let mut child = Command::new("sh").args(["-c", "echo $$"]).stdout(Stdio::piped()).spawn().unwrap();
///     let mut pid = String::new();
///     child.stdout.as_mut().unwrap().read_to_string(&mut pid).await.unwrap();
///     assert_eq!(pid.trim(), child.id().to_string());
///     assert!(child.wait().await.unwrap().success());
/// });
/// ```
///
/// A child belongs to the loop that spawned it, so it cannot be sent to another thread:
///
/// ```compile_fail,E0277
/// use concur::aio::{self, process::Command};
///
/// aio::run(async {
///     let child = Command::new("true").spawn().unwrap();
///     std::thread::spawn(move || drop(child)); // error: `Child` is not `Send`
/// });
/// ```
pub struct Child {
    /// The write end of the child's stdin, if it was [`Stdio::piped`].
    pub stdin: Option<ChildStdin>,
    /// The read end of the child's stdout, if it was [`Stdio::piped`].
    pub stdout: Option<ChildStdout>,
    /// The read end of the child's stderr, if it was [`Stdio::piped`].
    pub stderr: Option<ChildStderr>,
    /// Fields drop in order: the pipes close after `Drop::drop` has handed the child to
    /// the reaper, and the loop's pidfd registration goes after them.
    exit: Exit,
    std: std::process::Child,
    kill_on_drop: bool,
}

impl Child {
    /// The child's process id. It stays valid, naming this child, until the child is
    /// reaped.
    ///
    /// ```
    /// use concur::aio::{self, process::Command};
    ///
    /// aio::run(async {
    ///     let mut child = Command::new("true").spawn().unwrap();
    ///     assert_ne!(child.id(), std::process::id());
    ///     child.wait().await.unwrap();
    /// });
    /// ```
    pub fn id(&self) -> u32 {
        self.std.id()
    }

    /// Waits for the child to exit and reaps it: `await proc.wait()`. Closes the child's
    /// stdin first (drops [`stdin`](Child::stdin)), as std does, so a child reading it
    /// is not left waiting for input that cannot come. Once the child has been reaped,
    /// returns its status again at once.
    ///
    /// Cancel-safe: dropping the future before it finishes loses nothing.
    ///
    /// # Errors
    ///
    /// If the child's loop has ended, or if the status could not be collected (for
    /// instance `ECHILD` because something else reaped the child).
    ///
    /// ```
    /// use concur::aio::{self, process::Command};
    ///
    /// aio::run(async {
    ///     let mut child = Command::new("sh").args(["-c", "exit 7"]).spawn().unwrap();
    ///     assert_eq!(child.wait().await.unwrap().code(), Some(7));
    ///     assert_eq!(child.wait().await.unwrap().code(), Some(7)); // reaped: remembered
    /// });
    /// ```
    pub async fn wait(&mut self) -> io::Result<ExitStatus> {
        drop(self.stdin.take());
        match &self.exit {
            Exit::PidFd(pidfd) => {
                let std = &mut self.std;
                poll_fn(|cx| {
                    pidfd.poll_io(cx, Direction::Read, |_| match std.try_wait()? {
                        Some(status) => Ok(status),
                        None => Err(io::ErrorKind::WouldBlock.into()),
                    })
                })
                .await
            }
            Exit::Thread => loop {
                if let Some(status) = self.std.try_wait()? {
                    return Ok(status);
                }
                let pid = pid(self.id());
                let exited = super::to_thread(move || {
                    // Waits for the exit without reaping: `try_wait` reaps on this thread.
                    // (Only whether it worked comes back: the status holds a `siginfo_t`,
                    // which is not `Send` with every libc.)
                    rustix::process::waitid(
                        WaitId::Pid(pid),
                        WaitIdOptions::EXITED | WaitIdOptions::NOWAIT,
                    )
                    .map(drop)
                })
                .await;
                match exited {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => return Err(e.into()),
                    Err(e) => return Err(io::Error::other(e.to_string())),
                }
            },
        }
    }

    /// Reaps the child if it has exited, without waiting: `Ok(None)` while it runs.
    ///
    /// # Errors
    ///
    /// If the status could not be collected (see [`wait`](Child::wait)).
    ///
    /// ```
    /// use concur::aio::{self, process::Command};
    ///
    /// aio::run(async {
    ///     let mut child = Command::new("sleep").arg("1000").spawn().unwrap();
    ///     assert!(child.try_wait().unwrap().is_none()); // still sleeping
    ///     child.kill().await.unwrap();
    ///     assert!(child.try_wait().unwrap().is_some()); // `kill` waited for it
    /// });
    /// ```
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        self.std.try_wait()
    }

    /// Sends the child `SIGKILL` and returns without waiting; does nothing if the child
    /// has already been reaped.
    ///
    /// # Errors
    ///
    /// If the signal could not be sent.
    ///
    /// ```
    /// use std::os::unix::process::ExitStatusExt;
    /// use concur::aio::{self, process::Command};
    ///
    /// aio::run(async {
    ///     let mut child = Command::new("sleep").arg("1000").spawn().unwrap();
    ///     child.start_kill().unwrap();
    ///     assert_eq!(child.wait().await.unwrap().signal(), Some(9));
    /// });
    /// ```
    pub fn start_kill(&mut self) -> io::Result<()> {
        // std sends nothing once the child is reaped (its pid could be reused by then).
        self.std.kill()
    }

    /// Sends the child `SIGKILL` and waits for it to exit, reaping it:
    /// `proc.kill(); await proc.wait()`. Succeeds if the child had already exited.
    ///
    /// # Errors
    ///
    /// Those of [`start_kill`](Child::start_kill) and [`wait`](Child::wait).
    ///
    /// ```
    /// use std::os::unix::process::ExitStatusExt;
    /// use concur::aio::{self, process::Command};
    ///
    /// aio::run(async {
    ///     let mut child = Command::new("sleep").arg("1000").spawn().unwrap();
    ///     child.kill().await.unwrap();
    ///     assert_eq!(child.wait().await.unwrap().signal(), Some(9));
    ///     child.kill().await.unwrap(); // already gone: fine
    /// });
    /// ```
    pub async fn kill(&mut self) -> io::Result<()> {
        self.start_kill()?;
        self.wait().await.map(drop)
    }

    /// Closes stdin, then reads the child's stdout and stderr to their ends while waiting
    /// for it to exit, all concurrently. A pipe not taken from [`stdout`](Child::stdout) or
    /// [`stderr`](Child::stderr) (or not piped) gives an empty vector.
    ///
    /// # Errors
    ///
    /// The first error of reading a pipe or of [`wait`](Child::wait); the child is then
    /// dropped (and reaped in the background).
    ///
    /// ```
    /// use std::process::Stdio;
    /// use concur::aio::{self, process::Command};
    ///
    /// aio::run(async {
    ///     let child = Command::new("sh")
    ///         .args(["-c", "echo to-out; echo to-err >&2"])
    ///         .stdout(Stdio::piped())
    ///         .stderr(Stdio::piped())
    ///         .spawn()
    ///         .unwrap();
    ///     let out = child.wait_with_output().await.unwrap();
    ///     assert!(out.status.success());
    ///     assert_eq!((&out.stdout[..], &out.stderr[..]), (&b"to-out\n"[..], &b"to-err\n"[..]));
    /// });
    /// ```
    pub async fn wait_with_output(mut self) -> io::Result<Output> {
        drop(self.stdin.take());
        let stdout = read_to_end(self.stdout.take().map(|p| p.io));
        let stderr = read_to_end(self.stderr.take().map(|p| p.io));
        let (status, stdout, stderr) = try_join3(self.wait(), stdout, stderr).await?;
        Ok(Output {
            status,
            stdout,
            stderr,
        })
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        // The pipes are fields, dropped (closed) after this: a child waiting on its
        // stdin sees end of file then, and exits in the reaper's care.
        if self.kill_on_drop {
            // Does nothing for a child already reaped; fails only for one already gone.
            let _ = self.std.kill();
        }
        match self.std.try_wait() {
            Ok(Some(_)) | Err(_) => return, // reaped now or before, or not ours to reap
            Ok(None) => {}
        }
        let pidfd = match &self.exit {
            // A duplicate: the loop's registration goes away with `self.exit`.
            Exit::PidFd(pidfd) => pidfd.source().0.try_clone().ok(),
            Exit::Thread => None,
        };
        reaper::adopt(pid(self.id()), pidfd);
    }
}

impl fmt::Debug for Child {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Child")
            .field("id", &self.id())
            .field("stdin", &self.stdin)
            .field("stdout", &self.stdout)
            .field("stderr", &self.stderr)
            .field("kill_on_drop", &self.kill_on_drop)
            .finish_non_exhaustive()
    }
}

/// Reads `pipe` to its end (nothing if there is no pipe).
async fn read_to_end(pipe: Option<Registered<Receiver>>) -> io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    let Some(pipe) = pipe else {
        return Ok(buf);
    };
    loop {
        if buf.capacity() - buf.len() < 4096 {
            buf.reserve(buf.len().max(16 * 1024));
        }
        let len = buf.len();
        buf.resize(buf.capacity(), 0);
        let read = poll_fn(|cx| {
            let want = buf.len() - len;
            pipe.poll_stream_io(cx, Direction::Read, want, |mut r| r.read(&mut buf[len..]))
        })
        .await;
        match read {
            Ok(0) => {
                buf.truncate(len);
                return Ok(buf);
            }
            Ok(n) => buf.truncate(len + n),
            Err(e) => return Err(e),
        }
    }
}

/// Runs three fallible futures concurrently on this task; the first error wins.
async fn try_join3<A, B, C>(
    a: impl Future<Output = io::Result<A>>,
    b: impl Future<Output = io::Result<B>>,
    c: impl Future<Output = io::Result<C>>,
) -> io::Result<(A, B, C)> {
    let (mut a, mut b, mut c) = (pin!(a), pin!(b), pin!(c));
    let (mut ra, mut rb, mut rc) = (None, None, None);
    poll_fn(|cx| {
        if ra.is_none() {
            if let Poll::Ready(v) = a.as_mut().poll(cx) {
                ra = Some(v?);
            }
        }
        if rb.is_none() {
            if let Poll::Ready(v) = b.as_mut().poll(cx) {
                rb = Some(v?);
            }
        }
        if rc.is_none() {
            if let Poll::Ready(v) = c.as_mut().poll(cx) {
                rc = Some(v?);
            }
        }
        match (ra.take(), rb.take(), rc.take()) {
            (Some(a), Some(b), Some(c)) => Poll::Ready(Ok((a, b, c))),
            (a, b, c) => {
                (ra, rb, rc) = (a, b, c);
                Poll::Pending
            }
        }
    })
    .await
}

/// The write end of a child's stdin: implements [`AsyncWrite`]. Closing it
/// ([`poll_close`](AsyncWrite::poll_close), or dropping it) closes the pipe, so the child
/// reads end of file; writing after that fails with [`io::ErrorKind::BrokenPipe`].
///
/// ```
/// use std::process::Stdio;
/// use concur::aio::{self, process::Command};
/// use futures_lite::AsyncWriteExt;
///
/// aio::run(async {
///     let mut child = Command::new("sh")
///         .args(["-c", "read line; test \"$line\" = yes"])
///         .stdin(Stdio::piped())
///         .spawn()
///         .unwrap();
///     let mut stdin = child.stdin.take().unwrap();
///     stdin.write_all(b"yes\n").await.unwrap();
///     stdin.close().await.unwrap();
///     assert!(child.wait().await.unwrap().success());
/// });
/// ```
pub struct ChildStdin {
    /// `None` once closed.
    io: Option<Registered<Sender>>,
}

impl ChildStdin {
    fn open(&self) -> io::Result<&Registered<Sender>> {
        self.io.as_ref().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::BrokenPipe,
                "concur::aio::process::ChildStdin: written after it was closed",
            )
        })
    }
}

impl AsyncWrite for ChildStdin {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.open()?
            .poll_stream_io(cx, Direction::Write, buf.len(), |mut s| s.write(buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let len = bufs.iter().map(|b| b.len()).sum();
        self.open()?
            .poll_stream_io(cx, Direction::Write, len, |mut s| s.write_vectored(bufs))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(())) // a pipe has no user-space buffer
    }

    fn poll_close(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.io = None; // deregisters and closes the write end
        Poll::Ready(Ok(()))
    }
}

impl fmt::Debug for ChildStdin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChildStdin")
            .field(
                "fd",
                &self.io.as_ref().map(|io| io.source().as_fd().as_raw_fd()),
            )
            .finish()
    }
}

/// The read end of a pipe from a child, implementing [`AsyncRead`].
macro_rules! reader {
    ($ty:ident, $setter:ident, $fd:literal) => {
        #[doc = concat!("The read end of a child's ", stringify!($setter), ": implements [`AsyncRead`];")]
        #[doc = "reading returns `Ok(0)` once the child (and whoever shares the pipe) has"]
        #[doc = "closed it, usually by exiting."]
        #[doc = ""]
        #[doc = "```"]
        #[doc = "use std::process::Stdio;"]
        #[doc = "use concur::aio::{self, process::Command};"]
        #[doc = "use futures_lite::AsyncReadExt;"]
        #[doc = ""]
        #[doc = "aio::run(async {"]
        #[doc = concat!("    let mut child = Command::new(\"sh\").args([\"-c\", \"echo line >&", $fd, "\"])")]
        #[doc = concat!("        .", stringify!($setter), "(Stdio::piped()).spawn().unwrap();")]
        #[doc = "    let mut got = Vec::new();"]
        #[doc = concat!("    child.", stringify!($setter), ".take().unwrap().read_to_end(&mut got).await.unwrap();")]
        #[doc = "    assert_eq!(got, b\"line\\n\");"]
        #[doc = "    child.wait().await.unwrap();"]
        #[doc = "});"]
        #[doc = "```"]
        pub struct $ty {
            io: Registered<Receiver>,
        }

        impl AsyncRead for $ty {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut [u8],
            ) -> Poll<io::Result<usize>> {
                self.io
                    .poll_stream_io(cx, Direction::Read, buf.len(), |mut r| r.read(buf))
            }

            fn poll_read_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &mut [io::IoSliceMut<'_>],
            ) -> Poll<io::Result<usize>> {
                let len = bufs.iter().map(|b| b.len()).sum();
                self.io
                    .poll_stream_io(cx, Direction::Read, len, |mut r| r.read_vectored(bufs))
            }
        }

        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($ty))
                    .field("fd", &self.io.source().as_fd().as_raw_fd())
                    .finish()
            }
        }
    };
}

reader!(ChildStdout, stdout, "1");
reader!(ChildStderr, stderr, "2");

/// The process-wide reaper of dropped children (see the module docs).
mod reaper {
    use super::*;

    /// The token of the reaper's waker; orphans' tokens are their slab keys.
    const WAKER: Token = Token(usize::MAX);

    /// A dropped child still running, with a pidfd of its own.
    struct Orphan {
        pid: Pid,
        pidfd: OwnedFd,
    }

    /// What the loop threads share with the reaper thread. (std's `Mutex`, not
    /// `crate::sync`'s: this process-wide state is no part of the loom models.)
    struct Reaper {
        /// Orphans handed over and not yet seen by the reaper thread.
        new: Mutex<Vec<Orphan>>,
        /// Wakes the reaper thread's `poll` to look at `new`.
        waker: mio::Waker,
    }

    /// Locks `m`, ignoring poisoning: the vector is valid whatever panicked.
    fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
        m.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Hands a running child over to be reaped when it exits: to the reaper thread if it
    /// has a pidfd, else to a thread of its own blocked in `waitpid`.
    pub(super) fn adopt(pid: Pid, pidfd: Option<OwnedFd>) {
        let Some(pidfd) = pidfd else {
            return wait_on_own_thread(pid);
        };
        match reaper() {
            Some(r) => {
                lock(&r.new).push(Orphan { pid, pidfd });
                if let Err(e) = r.waker.wake() {
                    log::error!("concur::aio::process: could not wake the reaper: {e}");
                }
            }
            None => wait_on_own_thread(pid),
        }
    }

    /// The reaper, started on first use; `None` if it could not be started (logged).
    fn reaper() -> Option<&'static Reaper> {
        static REAPER: OnceLock<Option<Reaper>> = OnceLock::new();
        REAPER
            .get_or_init(|| match start() {
                Ok(r) => Some(r),
                Err(e) => {
                    log::error!(
                        "concur::aio::process: the reaper thread could not start ({e}); \
                         dropped children are reaped by a thread each"
                    );
                    None
                }
            })
            .as_ref()
    }

    fn start() -> io::Result<Reaper> {
        let poll = mio::Poll::new()?;
        let waker = mio::Waker::new(poll.registry(), WAKER)?;
        std::thread::Builder::new()
            .name("concur-reaper".into())
            .spawn(move || run(poll))?;
        Ok(Reaper {
            new: Mutex::new(Vec::new()),
            waker,
        })
    }

    /// The reaper thread: sleeps until an orphan exits or a new one comes, forever.
    fn run(mut poll: mio::Poll) {
        let mut events = Events::with_capacity(64);
        let mut orphans: Slab<Orphan> = Slab::new();
        loop {
            if let Err(e) = poll.poll(&mut events, None) {
                if e.kind() != io::ErrorKind::Interrupted {
                    // Cannot happen with a valid epoll descriptor; do not spin on it.
                    log::error!("concur::aio::process: the reaper stopped: {e}");
                    return;
                }
                continue;
            }
            for ev in events.iter() {
                if ev.token() == WAKER {
                    let Some(r) = reaper() else { continue };
                    let new = std::mem::take(&mut *lock(&r.new));
                    for orphan in new {
                        let entry = orphans.vacant_entry();
                        let token = Token(entry.key());
                        // Registered before the first try: an exit in between is still
                        // reported, as epoll reports a descriptor that is ready when added.
                        let registered = poll.registry().register(
                            &mut SourceFd(&orphan.pidfd.as_raw_fd()),
                            token,
                            Interest::READABLE,
                        );
                        if let Err(e) = registered {
                            log::error!(
                                "concur::aio::process: the reaper could not watch child {}: {e}",
                                orphan.pid.as_raw_nonzero()
                            );
                            wait_on_own_thread(orphan.pid);
                            continue;
                        }
                        if !try_reap(&orphan) {
                            entry.insert(orphan);
                        } else {
                            forget(&poll, &orphan);
                        }
                    }
                } else if let Some(orphan) = orphans.get(ev.token().0) {
                    if try_reap(orphan) {
                        let orphan = orphans.remove(ev.token().0);
                        forget(&poll, &orphan);
                    }
                }
            }
        }
    }

    /// Reaps `orphan` if it has exited; `true` when it is gone (reaped now, or by someone
    /// else: `ECHILD`).
    fn try_reap(orphan: &Orphan) -> bool {
        loop {
            match rustix::process::waitid(
                WaitId::PidFd(orphan.pidfd.as_fd()),
                WaitIdOptions::EXITED | WaitIdOptions::NOHANG,
            ) {
                Ok(Some(_)) => return true,
                Ok(None) => return false,
                Err(Errno::INTR) => {}
                Err(e) => {
                    if e != Errno::CHILD {
                        log::error!(
                            "concur::aio::process: the reaper could not reap child {}: {e}",
                            orphan.pid.as_raw_nonzero()
                        );
                    }
                    return true;
                }
            }
        }
    }

    /// Stops watching `orphan` (its pidfd is closed when it is dropped).
    fn forget(poll: &mio::Poll, orphan: &Orphan) {
        let _ = poll
            .registry()
            .deregister(&mut SourceFd(&orphan.pidfd.as_raw_fd()));
    }

    /// The fallback without pidfds: a thread that blocks until the child exits and reaps it.
    fn wait_on_own_thread(pid: Pid) {
        let spawned = std::thread::Builder::new()
            .name("concur-reaper-wait".into())
            .spawn(move || loop {
                match rustix::process::waitpid(Some(pid), WaitOptions::empty()) {
                    Err(Errno::INTR) => {}
                    _ => return,
                }
            });
        if let Err(e) = spawned {
            log::error!(
                "concur::aio::process: child {} will stay a zombie until this process exits: \
                 no thread to reap it ({e})",
                pid.as_raw_nonzero()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Waits until `pid` has left the process table (see `tests/aio/process.rs`).
    fn gone_eventually(pid: u32) -> bool {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::path::Path::new(&format!("/proc/{pid}")).exists() {
            if std::time::Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        true
    }

    /// The fallback for kernels without pidfds, forced on a kernel that has them.
    #[test]
    fn without_a_pidfd_a_child_is_waited_for_and_reaped_by_threads() {
        let pid = crate::aio::run(async {
            let mut child = Command::new("sh").args(["-c", "exit 4"]).spawn().unwrap();
            child.exit = Exit::Thread;
            assert_eq!(child.wait().await.unwrap().code(), Some(4));

            let mut sleeper = Command::new("sleep")
                .arg("1000")
                .kill_on_drop(true)
                .spawn()
                .unwrap();
            sleeper.exit = Exit::Thread;
            let pid = sleeper.id();
            drop(sleeper);
            pid
        });
        assert!(gone_eventually(pid), "process {pid} was not reaped");
    }
}
