//! The task dump from outside the process: [`serve_task_dumps`] answers `concur ps PID`.
//!
//! The loop listens on a Unix socket in Linux's abstract namespace, named
//! `concur-tasks.<pid>` (nothing on disk to clean up; it goes with the process). Every
//! connection gets the text of [`dump_tasks`](super::dump_tasks) and is closed. Who may
//! read it: a peer whose user (from `SO_PEERCRED`, which the kernel fills in, not the
//! peer) is the process's own effective user, or root; anyone else is closed on without
//! a byte, since task names and source locations are the program's business. Nothing is
//! read from a peer: it cannot make the loop do anything but write the dump.

use std::future::poll_fn;
use std::io;
use std::os::fd::AsFd;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixListener as StdUnixListener};

use super::driver::Direction;
use super::registered::Registered;
use super::task::Task;

/// The abstract socket name a process's dump is served on.
fn dump_socket_name(pid: u32) -> String {
    format!("concur-tasks.{pid}")
}

/// Serves this loop's task dump to other programs of the same user: each connection to
/// the abstract Unix socket `concur-tasks.<pid>` receives [`dump_tasks`]'s text, then
/// the end of the stream. `concur ps PID` (the crate's binary) prints it. The serving
/// task is named `"concur-task-dumps"`; cancel it (or end the loop) to stop serving.
///
/// Only a peer running as the process's effective user, or as root, gets the dump (the
/// kernel's `SO_PEERCRED` says who it is); others are disconnected. A peer is never
/// read from.
///
/// # Errors
///
/// If the socket cannot be made (another loop of this process already serves, for
/// instance: the name is per process).
///
/// # Panics
///
/// Outside of an event loop.
///
/// ```
/// use std::io::Read;
/// use std::os::linux::net::SocketAddrExt;
/// use concur::aio;
///
/// aio::run(async {
///     let server = aio::serve_task_dumps().unwrap();
///     // Another program (here a thread) connects, as `concur ps PID` does.
///     let reader = aio::to_thread(|| {
///         let name = format!("concur-tasks.{}", std::process::id());
///         let addr = std::os::unix::net::SocketAddr::from_abstract_name(name).unwrap();
///         let mut s = std::os::unix::net::UnixStream::connect_addr(&addr).unwrap();
///         let mut dump = String::new();
///         s.read_to_string(&mut dump).unwrap();
///         dump
///     });
///     let dump = reader.await.unwrap();
///     assert!(dump.contains("\"concur-task-dumps\""));
///     server.cancel();
/// });
/// ```
///
/// [`dump_tasks`]: super::dump_tasks
pub fn serve_task_dumps() -> io::Result<Task<()>> {
    let addr = SocketAddr::from_abstract_name(dump_socket_name(std::process::id()))?;
    let std_listener = StdUnixListener::bind_addr(&addr)?;
    std_listener.set_nonblocking(true)?;
    let listener = Registered::new(
        mio::net::UnixListener::from_std(std_listener),
        "serve_task_dumps",
    )?;
    let me = rustix::process::geteuid();
    Ok(super::Builder::new()
        .name("concur-task-dumps")
        .spawn(async move {
            loop {
                let accepted =
                    poll_fn(|cx| listener.poll_io(cx, Direction::Read, |l| l.accept())).await;
                let Ok((stream, _)) = accepted else {
                    // Out of descriptors, or the like: try the next connection.
                    continue;
                };
                let allowed = rustix::net::sockopt::socket_peercred(stream.as_fd())
                    .is_ok_and(|cred| cred.uid == me || cred.uid.is_root());
                if !allowed {
                    continue; // dropped: closed without a byte
                }
                let dump = super::dump_tasks();
                // Each reader on its own task, so a slow one holds up nobody.
                super::spawn(async move {
                    let _ = write_all(stream, dump.as_bytes()).await;
                });
            }
        }))
}

/// Writes `bytes` to a fresh connection on the loop, then closes it.
async fn write_all(stream: mio::net::UnixStream, mut bytes: &[u8]) -> io::Result<()> {
    let stream = Registered::new(stream, "serve_task_dumps")?;
    while !bytes.is_empty() {
        let n = poll_fn(|cx| {
            stream.poll_stream_io(cx, Direction::Write, bytes.len(), |s| {
                io::Write::write(&mut &*s, bytes)
            })
        })
        .await?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        bytes = &bytes[n..];
    }
    Ok(())
}

/// Reads the task dump of the program with process id `pid`, served by
/// [`serve_task_dumps`]: what `concur ps PID` prints. Blocking (not for use on a loop's
/// own thread for its own process: the loop could not answer while this waits).
///
/// # Errors
///
/// `ConnectionRefused` if that process serves no dump (or does not exist); an empty
/// dump if it runs as another user (it closes the connection at once).
///
/// ```no_run
/// let dump = concur::aio::fetch_task_dump(12345).unwrap();
/// print!("{dump}");
/// ```
pub fn fetch_task_dump(pid: u32) -> io::Result<String> {
    use std::io::Read;
    let addr = SocketAddr::from_abstract_name(dump_socket_name(pid))?;
    let mut stream = std::os::unix::net::UnixStream::connect_addr(&addr)?;
    let mut dump = String::new();
    stream.read_to_string(&mut dump)?;
    Ok(dump)
}
