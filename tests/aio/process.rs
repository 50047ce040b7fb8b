//! Subprocesses on the loop: pipes, exit statuses, killing, reaping (no zombies).

use std::io::ErrorKind;
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::time::{Duration, Instant};

use std::future::Future;

use concur::aio;
use concur::aio::process::{ChildStdin, ChildStdout, Command};
use futures_lite::{AsyncReadExt, AsyncWriteExt};

/// The state letter of process `pid` from `/proc/<pid>/stat` (`R`, `S`, `Z`, ...), or
/// `None` once the process is gone from the process table.
fn proc_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) S ...": the command may hold spaces and parentheses; the state
    // follows the last ')'.
    let after = &stat[stat.rfind(')')? + 1..];
    after.trim_start().chars().next()
}

/// Waits until `pid` is gone from the process table (neither running nor a zombie).
///
/// The reaper thread reaps in the background, so nothing in this process can be awaited
/// for it: this polls the external condition, yielding the CPU, up to a generous deadline
/// that only a failure reaches.
fn assert_reaped_eventually(pid: u32) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match proc_state(pid) {
            None => return,
            Some(state) if Instant::now() >= deadline => {
                panic!("process {pid} was not reaped: still in state {state}")
            }
            Some(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    }
}

/// Sends `data` through `cat`, writing with `write` and reading with `read` at the same
/// time, and checks that the same bytes came back and that `cat` exited with 0.
async fn echo_through_cat<W, R>(
    data: Vec<u8>,
    write: impl FnOnce(ChildStdin, Vec<u8>) -> W,
    read: impl FnOnce(ChildStdout) -> R,
) where
    W: Future<Output = ()> + 'static,
    R: Future<Output = Vec<u8>> + 'static,
{
    let mut cat = Command::new("cat")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let writer = aio::spawn(write(cat.stdin.take().unwrap(), data.clone()));
    let reader = aio::spawn(read(cat.stdout.take().unwrap()));
    writer.await.unwrap();
    let got = reader.await.unwrap();
    assert_eq!(got.len(), data.len());
    assert!(got == data, "the bytes came back changed");
    assert_eq!(cat.wait().await.unwrap().code(), Some(0));
}

#[test]
fn a_megabyte_echoes_through_cat_while_written_and_read_concurrently() {
    let data: Vec<u8> = (0..1 << 20).map(|i: u32| (i * 7 + i / 251) as u8).collect();
    aio::run(echo_through_cat(
        data,
        |mut stdin, sent| async move {
            stdin.write_all(&sent).await.unwrap();
            stdin.close().await.unwrap(); // cat reads end of file and exits
        },
        |mut stdout| async move {
            let mut got = Vec::new();
            stdout.read_to_end(&mut got).await.unwrap();
            got
        },
    ));
}

#[test]
fn writing_after_close_fails_with_broken_pipe() {
    aio::run(async {
        let mut cat = Command::new("cat")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdin = cat.stdin.take().unwrap();
        stdin.close().await.unwrap();
        let err = stdin.write_all(b"late").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BrokenPipe);
        assert!(cat.wait().await.unwrap().success());
    });
}

#[test]
fn output_collects_large_stdout_and_stderr_and_the_exit_code() {
    aio::run(async {
        // 300 000 bytes on each stream: far more than a pipe holds, so the child blocks
        // unless both are read at once.
        let out = Command::new("sh")
            .args([
                "-c",
                "head -c 300000 /dev/zero; head -c 300000 /dev/zero | tr '\\0' e >&2; exit 5",
            ])
            .output()
            .await
            .unwrap();
        assert_eq!(out.status.code(), Some(5));
        assert_eq!(out.stdout.len(), 300_000);
        assert!(out.stdout.iter().all(|&b| b == 0));
        assert_eq!(out.stderr.len(), 300_000);
        assert!(out.stderr.iter().all(|&b| b == b'e'));
    });
}

#[test]
fn output_gives_the_child_an_empty_stdin() {
    aio::run(async {
        // `cat` copies its stdin: with a null stdin it ends at once with nothing.
        let out = Command::new("cat").output().await.unwrap();
        assert!(out.status.success());
        assert!(out.stdout.is_empty());
    });
}

#[test]
fn a_killed_child_reports_sigkill_and_is_reaped() {
    let pid = aio::run(async {
        let mut child = Command::new("sleep").arg("1000").spawn().unwrap();
        let pid = child.id();
        assert!(child.try_wait().unwrap().is_none());
        child.kill().await.unwrap();
        let status = child.wait().await.unwrap();
        assert_eq!(status.signal(), Some(9));
        assert_eq!(status.code(), None);
        // Reaped by `wait`: not even a zombie is left.
        assert_eq!(proc_state(pid), None, "process {pid} is still in the table");
        pid
    });
    assert_eq!(proc_state(pid), None);
}

#[test]
fn start_kill_then_wait_reports_sigkill() {
    aio::run(async {
        let mut child = Command::new("sleep").arg("1000").spawn().unwrap();
        child.start_kill().unwrap();
        assert_eq!(child.wait().await.unwrap().signal(), Some(9));
        child.start_kill().unwrap(); // already reaped: nothing is sent, no error
    });
}

#[test]
fn a_dropped_running_child_with_kill_on_drop_is_killed_and_reaped() {
    let pid = aio::run(async {
        let child = Command::new("sleep")
            .arg("1000")
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let pid = child.id();
        drop(child);
        pid
    });
    assert_reaped_eventually(pid);
}

/// The names of this process's threads.
fn thread_names() -> Vec<String> {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.unwrap().path().join("comm")).ok())
        .map(|n| n.trim_end().to_owned())
        .collect()
}

#[test]
fn a_dropped_child_without_kill_on_drop_runs_on_and_is_reaped_when_it_exits() {
    let pid = aio::run(async {
        // `read` waits for a line on stdin; dropping the child closes its stdin, so the
        // shell exits on its own, after the drop.
        let child = Command::new("sh")
            .args(["-c", "read x; exit 0"])
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id();
        assert!(matches!(proc_state(pid), Some(s) if s != 'Z'));
        drop(child);
        pid
    });
    assert_reaped_eventually(pid);
    // The child could not exit before its stdin closed, after the drop had handed it
    // over: the one background thread reaped it.
    assert!(thread_names().iter().any(|n| n == "concur-reaper"));
}

#[test]
fn a_dropped_child_that_closed_its_output_is_reaped() {
    aio::run(async {
        let mut child = Command::new("sh")
            .args(["-c", "echo done"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id();
        // End of file on stdout means the shell has exited (or is about to).
        let mut out = String::new();
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .await
            .unwrap();
        drop(child);
        assert_reaped_eventually(pid);
    });
}

#[test]
fn a_missing_program_is_not_found() {
    aio::run(async {
        let err = Command::new("/no/such/program-concur-test")
            .spawn()
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound);
        let err = Command::new("no-such-program-concur-test")
            .output()
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound);
    });
}

#[test]
fn exit_codes_propagate() {
    aio::run(async {
        for code in [0, 1, 3, 42, 255] {
            let status = Command::new("sh")
                .args(["-c", &format!("exit {code}")])
                .status()
                .await
                .unwrap();
            assert_eq!(status.code(), Some(code));
        }
    });
}

#[test]
fn fifty_children_are_waited_for_concurrently() {
    aio::run(async {
        let tasks: Vec<_> = (0..50)
            .map(|i| {
                aio::spawn(async move {
                    let mut child = Command::new("sh")
                        .args(["-c", &format!("exit {}", i % 7)])
                        .spawn()
                        .unwrap();
                    (i, child.wait().await.unwrap())
                })
            })
            .collect();
        for t in tasks {
            let (i, status) = t.await.unwrap();
            assert_eq!(status.code(), Some(i % 7));
        }
    });
}

#[test]
fn wait_closes_stdin_so_a_reading_child_ends() {
    aio::run(async {
        let mut child = Command::new("cat")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        assert!(child.wait().await.unwrap().success());
        assert!(child.stdin.is_none());
    });
}

#[test]
fn wait_with_output_reads_what_the_child_writes() {
    aio::run(async {
        let mut child = Command::new("sh")
            .args(["-c", "read x; echo got $x; echo warn >&2"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"it\n").await.unwrap();
        drop(stdin);
        let out = child.wait_with_output().await.unwrap();
        assert!(out.status.success());
        assert_eq!(out.stdout, b"got it\n");
        assert_eq!(out.stderr, b"warn\n");
    });
}

#[test]
fn a_child_is_waited_for_while_other_tasks_run() {
    aio::run(async {
        let mut child = Command::new("cat")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let waiter = aio::spawn(async move { child.wait().await.unwrap() });
        // The waiter is parked on the child's pidfd; this task still runs, and ends it.
        aio::yield_now().await;
        stdin.write_all(b"x").await.unwrap();
        stdin.close().await.unwrap();
        assert!(waiter.await.unwrap().success());
    });
}

#[test]
fn a_childs_pipes_fail_clearly_after_its_loop_ended() {
    let mut child = aio::run(async {
        Command::new("cat")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap()
    });
    let mut stdout = child.stdout.take().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let pid = aio::run(async move {
        let mut buf = [0u8; 1];
        let err = stdout.read(&mut buf).await.unwrap_err();
        assert!(err.to_string().contains("event loop has ended"), "{err}");
        let err = stdin.write(b"x").await.unwrap_err();
        assert!(err.to_string().contains("event loop has ended"), "{err}");
        let err = child.wait().await.unwrap_err();
        assert!(err.to_string().contains("event loop has ended"), "{err}");
        let pid = child.id();
        drop(child); // killed and reaped all the same
        pid
    });
    assert_reaped_eventually(pid);
}

#[test]
#[should_panic(expected = "concur::aio::process::Command::spawn called outside of an event loop")]
fn spawning_outside_a_loop_panics_clearly() {
    let _ = Command::new("true").spawn();
}

#[test]
fn command_converts_from_std() {
    aio::run(async {
        let mut std = std::process::Command::new("sh");
        std.args(["-c", "echo $X"]).env("X", "from-std");
        let out = Command::from(std).output().await.unwrap();
        assert_eq!(out.stdout, b"from-std\n");
    });
}

#[test]
fn vectored_writes_and_reads_move_every_byte_and_see_the_end_of_the_pipe() {
    // Vectored reads and writes follow the same short-transfer rule as plain ones: a
    // short one forgets the readiness. The end of the pipe must still be read, not waited
    // for, after the last short read.
    use std::io::{IoSlice, IoSliceMut};
    let data: Vec<u8> = (0..300_000u32).map(|i| (i * 13 + i / 97) as u8).collect();
    aio::run(echo_through_cat(
        data,
        |mut stdin, sent| async move {
            let (mut front, mut back) = sent.split_at(sent.len() / 3);
            while !front.is_empty() || !back.is_empty() {
                let n = stdin
                    .write_vectored(&[IoSlice::new(front), IoSlice::new(back)])
                    .await
                    .unwrap();
                assert!(n > 0, "a vectored write moved nothing");
                let from_front = n.min(front.len());
                front = &front[from_front..];
                back = &back[n - from_front..];
            }
            stdin.close().await.unwrap();
        },
        |mut stdout| async move {
            let mut got = Vec::new();
            let (mut a, mut b) = ([0u8; 3000], [0u8; 5000]);
            loop {
                let mut bufs = [IoSliceMut::new(&mut a), IoSliceMut::new(&mut b)];
                let n = aio::timeout(Duration::from_secs(30), stdout.read_vectored(&mut bufs))
                    .await
                    .expect("the end of the pipe was read, not waited for")
                    .unwrap();
                if n == 0 {
                    return got;
                }
                got.extend_from_slice(&a[..n.min(a.len())]);
                got.extend_from_slice(&b[..n.saturating_sub(a.len())]);
            }
        },
    ));
}
