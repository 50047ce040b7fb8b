//! Subprocesses on the loop leave nothing behind: no descriptor, no zombie.
//!
//! This file holds one test on purpose: it counts the whole process's descriptors and
//! children, which tests running beside it on other threads would disturb.

mod common;
use common::children;

use std::process::Stdio;

use concur::aio::{self, process::Command};
use futures_lite::{AsyncReadExt, AsyncWriteExt};

fn open_fds() -> Vec<String> {
    let mut fds: Vec<String> = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let target = std::fs::read_link(e.path()).map(|t| t.display().to_string());
            format!(
                "{} -> {}",
                e.file_name().to_string_lossy(),
                target.unwrap_or_default()
            )
        })
        .collect();
    fds.sort();
    fds
}

/// One of every way a child is used: waited, output collected, piped, killed, dropped.
async fn batch() {
    let out = Command::new("sh")
        .args(["-c", "echo out; echo err >&2; exit 2"])
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(2));

    assert!(Command::new("true").status().await.unwrap().success());

    let mut cat = Command::new("cat")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = cat.stdin.take().unwrap();
    stdin.write_all(b"ping").await.unwrap();
    stdin.close().await.unwrap();
    let mut got = String::new();
    cat.stdout
        .as_mut()
        .unwrap()
        .read_to_string(&mut got)
        .await
        .unwrap();
    assert_eq!(got, "ping");
    assert!(cat.wait().await.unwrap().success());
    drop(cat); // stdout and stderr still held until here

    let mut sleeper = Command::new("sleep").arg("1000").spawn().unwrap();
    sleeper.kill().await.unwrap();

    // Dropped while running: killed, or left to end on its own when its stdin closes.
    drop(
        Command::new("sleep")
            .arg("1000")
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap(),
    );
    drop(
        Command::new("sh")
            .args(["-c", "read x"])
            .stdin(Stdio::piped())
            .spawn()
            .unwrap(),
    );

    assert!(Command::new("no-such-program-concur-leak-test")
        .spawn()
        .is_err());
}

#[test]
fn spawning_waiting_and_dropping_children_leaks_no_descriptor_and_no_zombie() {
    // Warm up: what is opened once per process (the reaper's epoll and eventfd, the
    // standard library's lazy state) is not a leak.
    aio::run(batch());
    assert!(
        common::settles(true, || children().is_empty()),
        "unreaped: {:?}",
        children()
    );
    let before = open_fds();

    for _ in 0..5 {
        aio::run(async {
            let tasks: Vec<_> = (0..10).map(|_| aio::spawn(batch())).collect();
            for t in tasks {
                t.await.unwrap();
            }
        });
    }

    assert!(
        common::settles(true, || children().is_empty()),
        "unreaped: {:?}",
        children()
    );
    // The reaper closes an orphan's pidfd just after reaping it.
    common::settles(true, || open_fds().len() <= before.len());
    assert_eq!(open_fds(), before);
}
