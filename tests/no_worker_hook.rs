//! A program built without the `process-pool` feature has no worker hook at all: started
//! with a worker's marker and a channel, it simply runs its `main`. (`.ci/run` runs this
//! file with `--no-default-features` too; with the feature it checks the opposite, and
//! `process_worker_trust.rs` covers what the hook refuses.)

use std::io::Read;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};

const MARKER: &str = "CONCUR_PROCESS_WORKER_V1";

/// What the child runs: this file's "main".
#[test]
fn helper_main_of_the_child() {
    if std::env::var_os("CONCUR_TEST_NO_HOOK_CHILD").is_some() {
        println!("main ran");
    }
}

#[test]
fn a_program_without_the_process_pool_feature_never_becomes_a_worker() {
    let meta = std::fs::metadata("/proc/self/exe").unwrap();
    use std::os::unix::fs::MetadataExt;
    // A marker as a pool would write it, but for a layout no build has (0): a worker
    // would refuse on its channel, which shows whether there is a worker at all.
    let marker = format!("{}:{}:{}:0:0", std::process::id(), meta.dev(), meta.ino());
    let (ours, theirs) = UnixStream::pair().unwrap();
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "helper_main_of_the_child", "--nocapture"])
        .env(MARKER, marker)
        .env("CONCUR_TEST_NO_HOOK_CHILD", "1")
        .stdin(OwnedFd::from(theirs))
        .stderr(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut sent = Vec::new();
    (&ours).read_to_end(&mut sent).unwrap();
    #[cfg(feature = "process-pool")]
    {
        // The other side of the coin, so that this test can fail: with the feature, and
        // the pool linked in, the same start makes a worker, which refuses on its channel.
        std::hint::black_box(concur::ProcessPoolExecutor::new as fn(_) -> _);
        assert_eq!(out.status.code(), Some(70), "{stdout}");
        assert_eq!(sent.get(4), Some(&0x82), "a REFUSED frame: {sent:?}");
        assert!(!stdout.contains("main ran"), "{stdout}");
    }
    #[cfg(not(feature = "process-pool"))]
    {
        assert!(out.status.success(), "{stdout}");
        assert!(stdout.contains("main ran"), "{stdout}");
        assert!(sent.is_empty(), "it spoke on the channel: {sent:?}");
    }
}
