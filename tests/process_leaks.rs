//! A process pool leaves nothing behind: no descriptor per queued task, no zombie, no
//! worker outliving its parent however the parent dies.

mod common;
use common::{children, open_fds};

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use concur::ProcessPoolExecutor;

/// The tests here count the process's descriptors and children: one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn add_one(x: u64) -> u64 {
    x + 1
}

fn forever(_: ()) {
    loop {
        std::thread::park();
    }
}

/// `true` while `pid` exists and is not a zombie.
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat
                .rsplit(')')
                .next()
                .and_then(|s| s.split_whitespace().next());
            state != Some("Z") && state != Some("X")
        }
        Err(_) => false,
    }
}

#[test]
fn a_million_queued_tasks_cost_no_descriptor_each() {
    let _serial = serial();
    let pool = ProcessPoolExecutor::new(2).unwrap();
    // Warm up, so the workers' own descriptors are counted in the baseline.
    let warm: Vec<_> = (0..100).map(|i| pool.submit(add_one, i)).collect();
    warm.into_iter().for_each(|h| assert!(h.join().is_ok()));
    let before = open_fds();
    let handles: Vec<_> = (0..1_000_000u64).map(|i| pool.submit(add_one, i)).collect();
    let queued = open_fds();
    assert!(
        queued <= before + 2,
        "{before} descriptors before, {queued} with a million queued"
    );
    let mut sum = 0u64;
    for h in handles {
        sum += h.join().unwrap();
    }
    assert_eq!(sum, (1..=1_000_000u64).sum::<u64>());
    assert!(open_fds() <= before + 2);
}

#[test]
fn a_dropped_pool_leaves_no_process_and_no_descriptor() {
    let _serial = serial();
    let before_fds = open_fds();
    let before_children = children();
    let pool = ProcessPoolExecutor::new(3).unwrap();
    let hs: Vec<_> = (0..300).map(|i| pool.submit(add_one, i)).collect();
    hs.into_iter().for_each(|h| assert!(h.join().is_ok()));
    assert_eq!(pool.stats().workers, 3);
    let pids = pool.worker_pids();
    drop(pool);
    for pid in pids {
        assert!(!alive(pid), "worker {pid} outlived its pool");
        assert!(!children().contains(&pid), "worker {pid} was not reaped");
    }
    assert_eq!(children().len(), before_children.len());
    assert_eq!(open_fds(), before_fds);
}

/// Run as a child process by the test below: starts a pool with two busy workers, prints
/// their pids, and waits to be killed.
#[test]
fn parent_role_for_the_kill_test() {
    if std::env::var_os("CONCUR_TEST_ROLE").as_deref() != Some("parent".as_ref()) {
        return;
    }
    let pool = ProcessPoolExecutor::new(2).unwrap();
    let _busy: Vec<_> = (0..2).map(|_| pool.submit(forever, ())).collect();
    while pool.stats().running < 2 || pool.stats().workers < 2 {
        std::thread::yield_now();
    }
    let pids: Vec<String> = pool.worker_pids().iter().map(u32::to_string).collect();
    println!("PIDS {}", pids.join(" "));
    forever(());
}

#[test]
fn workers_die_with_a_parent_that_is_killed() {
    let _serial = serial();
    let mut parent = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "parent_role_for_the_kill_test",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("CONCUR_TEST_ROLE", "parent")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(parent.stdout.take().unwrap());
    let pids: Vec<u32> = stdout
        .lines()
        .map(Result::unwrap)
        .find_map(|l| l.split_once("PIDS ").map(|(_, pids)| pids.to_owned()))
        .expect("the parent printed its workers")
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect();
    assert_eq!(pids.len(), 2);
    assert!(pids.iter().all(|&p| alive(p)));
    parent.kill().unwrap();
    parent.wait().unwrap();
    let killed = Instant::now();
    while pids.iter().any(|&p| alive(p)) && killed.elapsed() < Duration::from_secs(1) {
        std::thread::sleep(Duration::from_millis(5));
    }
    let left: Vec<u32> = pids.iter().copied().filter(|&p| alive(p)).collect();
    assert!(
        left.is_empty(),
        "workers {left:?} outlived their killed parent by a second"
    );
}

#[test]
fn shared_buffers_leave_no_descriptor_or_mapping_behind() {
    fn touch(mut b: concur::SharedBuffer) -> concur::SharedBuffer {
        b[0] = 1;
        b
    }
    fn maps() -> usize {
        std::fs::read_to_string("/proc/self/maps")
            .unwrap()
            .lines()
            .filter(|l| l.contains("concur-shared-buffer"))
            .count()
    }
    let _serial = serial();
    let pool = ProcessPoolExecutor::builder()
        .max_workers(2)
        .env("RUST_BACKTRACE", "0") // one task panics on purpose: one line, not a backtrace
        .build()
        .unwrap();
    assert!(pool.submit(add_one, 1).join().is_ok());
    let before = open_fds();
    for _ in 0..50 {
        let b = concur::SharedBuffer::new(1 << 20).unwrap();
        let b = pool.submit(touch, b).join().unwrap();
        assert_eq!(b[0], 1);
    }
    // Cancelled and failed tasks carrying buffers release them too.
    let b = concur::SharedBuffer::new(4096).unwrap();
    let h = pool.submit(|_: concur::SharedBuffer| -> u8 { panic!("no") }, b);
    assert!(h.join().is_err());
    assert_eq!(open_fds(), before);
    assert_eq!(maps(), 0);
}
