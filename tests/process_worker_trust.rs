//! Who may make a program serve tasks. A process pool's worker is the program itself,
//! started again with a marker in its environment, so anyone who can start the program
//! can set that marker. A worker must refuse, with a message and without a byte on its
//! channel, unless the process at the other end of that channel is its real parent,
//! running the same executable as the same user, and the program runs without privileges
//! its starter may lack (setuid, setgid, file capabilities).

use std::io::Read;
use std::os::fd::OwnedFd;
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};

use concur::ProcessPoolExecutor;

const MARKER: &str = "CONCUR_PROCESS_WORKER_V1";
const EXIT_REFUSED: i32 = 70;

fn add_one(x: u64) -> u64 {
    x + 1
}

/// Arguments that make this test binary run no test at all, should a child run its `main`
/// (a hook that failed to refuse): never the tests that start children again.
const NO_TEST: [&str; 2] = ["--exact", "no test has this name"];

/// The marker a pool would write for a worker of this executable whose parent is `pid`.
fn marker_for(pid: &str) -> String {
    let meta = std::fs::metadata("/proc/self/exe").unwrap();
    format!("{pid}:{}:{}:0:0", meta.dev(), meta.ino())
}

/// What a would-be worker did: its exit code, its standard error, and the bytes it sent
/// on its channel.
struct Refusal {
    code: Option<i32>,
    stderr: String,
    sent: Vec<u8>,
}

/// Runs `cmd` with one end of a fresh socket pair as its standard input (the channel a
/// worker serves on), and collects what it did.
fn run_with_channel(mut cmd: Command) -> Refusal {
    let (ours, theirs) = UnixStream::pair().unwrap();
    cmd.stdin(OwnedFd::from(theirs))
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let child = cmd.spawn().unwrap();
    // Our copy of the worker's end goes with the command.
    drop(cmd);
    let out = child.wait_with_output().unwrap();
    let mut sent = Vec::new();
    (&ours).read_to_end(&mut sent).unwrap();
    Refusal {
        code: out.status.code(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        sent,
    }
}

fn assert_refused(r: &Refusal, why: &str) {
    assert_eq!(r.code, Some(EXIT_REFUSED), "{}", r.stderr);
    assert!(r.stderr.contains("refuses to serve"), "{}", r.stderr);
    assert!(r.stderr.contains(why), "{}", r.stderr);
    assert!(r.sent.is_empty(), "it spoke to a stranger: {:?}", r.sent);
}

/// This executable started by a shell, not by a pool; the marker names `parent`
/// (`$$` is the shell).
fn started_by_a_shell(parent: &str) -> Command {
    let exe = std::env::current_exe().unwrap();
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c")
        .arg(format!(
            // (A background command's standard input is /dev/null unless redirected.)
            "exec 3<&0; {MARKER}=\"{}\" \"$0\" \"$@\" <&3 3<&- & wait $!",
            marker_for(parent)
        ))
        .arg(exe)
        .args(NO_TEST)
        .env_remove(MARKER);
    cmd
}

#[test]
fn a_worker_whose_parent_is_not_the_one_the_marker_names_refuses_silently() {
    let r = run_with_channel(started_by_a_shell(&std::process::id().to_string()));
    assert_refused(&r, "its parent is process");
}

#[test]
fn a_worker_whose_channel_leads_to_another_process_than_its_parent_refuses_silently() {
    // The marker names the real parent (the shell), but the channel was made by this
    // test: the shell could have been handed anyone's socket.
    let r = run_with_channel(started_by_a_shell("$$"));
    assert_refused(&r, "the peer of its channel is process");
}

#[test]
fn a_worker_without_a_channel_refuses() {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(NO_TEST)
        .env(MARKER, marker_for(&std::process::id().to_string()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(EXIT_REFUSED), "{stderr}");
    assert!(stderr.contains("no channel"), "{stderr}");
}

#[test]
fn a_malformed_marker_is_refused_not_ignored() {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(NO_TEST).env(MARKER, "1:2:oops");
    let r = run_with_channel(cmd);
    assert_refused(&r, "is malformed");
}

/// `true` if `dir` is on a file system that honours setuid bits.
fn suid_allowed(dir: &std::path::Path) -> bool {
    let c = std::ffi::CString::new(dir.to_str().unwrap()).unwrap();
    // SAFETY: an all-zero `statvfs` is a valid value of this plain C struct.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: statvfs(3) with a valid C string and a valid out-parameter.
    let ok = unsafe { libc::statvfs(c.as_ptr(), &mut st) } == 0;
    ok && st.f_flag & libc::ST_NOSUID == 0
}

#[test]
fn a_setuid_copy_of_the_program_never_serves() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;

    // SAFETY: geteuid(2) has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: making a setuid-root binary needs root (CI runs as root)");
        return;
    }
    let dir = std::env::temp_dir().join(format!("concur-setuid-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    if !suid_allowed(&dir) {
        eprintln!("skipped: {} is mounted nosuid", dir.display());
        std::fs::remove_dir_all(&dir).unwrap();
        return;
    }
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let copy = dir.join("setuid-worker");
    std::fs::copy(std::env::current_exe().unwrap(), &copy).unwrap();
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o4755)).unwrap();

    // An unprivileged user starts the setuid-root copy with a marker that names its
    // real parent, as an attacker who read every field of a real marker would.
    let mut cmd = Command::new(&copy);
    cmd.args(NO_TEST)
        .env(MARKER, marker_for(&std::process::id().to_string()))
        .uid(65534)
        .gid(65534);
    let r = run_with_channel(cmd);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_refused(&r, "secure mode");
}

#[test]
fn a_pool_s_own_workers_pass_every_check() {
    let pool = ProcessPoolExecutor::new(2).unwrap();
    let hs: Vec<_> = (0..8).map(|i| pool.submit(add_one, i)).collect();
    let got: Vec<u64> = hs.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(got, (1..=8).collect::<Vec<_>>());
}
