//! Chaos: workers are killed at random while tasks stream through the pool. Every handle
//! still resolves (its value, or `WorkerDied` for the task a killed worker was running),
//! the pool keeps serving, and nothing is left behind.
//!
//! `CONCUR_SOAK=1` runs it ten times longer.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use concur::{ProcessPoolExecutor, TaskError, WorkerExit};

fn work(x: u64) -> u64 {
    // A little work, so that kills land inside tasks as well as between them.
    (0..200).fold(x, |acc, i| acc.wrapping_mul(31).wrapping_add(i))
}

fn expected(x: u64) -> u64 {
    (0..200).fold(x, |acc, i: u64| acc.wrapping_mul(31).wrapping_add(i))
}

/// A xorshift generator: random enough to choose victims, and repeatable.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn every_task_resolves_while_workers_are_killed_at_random() {
    let soak = std::env::var_os("CONCUR_SOAK").is_some();
    let tasks: u64 = if soak { 1_000_000 } else { 100_000 };
    let pool = Arc::new(ProcessPoolExecutor::new(4).unwrap());
    let done = Arc::new(AtomicBool::new(false));
    let kills = Arc::new(AtomicU64::new(0));
    let killer = {
        let (pool, done, kills) = (pool.clone(), done.clone(), kills.clone());
        std::thread::spawn(move || {
            let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
            while !done.load(Ordering::Relaxed) {
                let pids = pool.worker_pids();
                if !pids.is_empty() {
                    let victim = pids[(rng.next() % pids.len() as u64) as usize];
                    // SAFETY: kill(2) on a pid of the pool's own (unreaped) children.
                    if unsafe { libc::kill(victim as i32, libc::SIGKILL) } == 0 {
                        kills.fetch_add(1, Ordering::Relaxed);
                    }
                }
                // Pacing, not synchronisation: a kill every few milliseconds.
                std::thread::sleep(Duration::from_millis(2 + rng.next() % 5));
            }
        })
    };
    let handles: Vec<_> = (0..tasks).map(|i| pool.submit(work, i)).collect();
    let (mut ok, mut died) = (0u64, 0u64);
    for (i, h) in handles.into_iter().enumerate() {
        match h.join() {
            Ok(v) => {
                assert_eq!(v, expected(i as u64));
                ok += 1;
            }
            Err(TaskError::WorkerDied(WorkerExit::Signal(libc::SIGKILL))) => died += 1,
            Err(other) => panic!("task {i}: unexpected {other:?}"),
        }
    }
    done.store(true, Ordering::Relaxed);
    killer.join().unwrap();
    let kills = kills.load(Ordering::Relaxed);
    eprintln!("{tasks} tasks: {ok} ok, {died} failed with their killed worker; {kills} kills");
    assert_eq!(ok + died, tasks);
    assert!(
        died <= kills,
        "a kill fails at most the one task its worker was running"
    );
    // The pool still serves, with fresh workers.
    assert_eq!(pool.submit(work, 7).join(), Ok(expected(7)));
    let pool = Arc::try_unwrap(pool).expect("the killer is gone");
    let pids = pool.worker_pids();
    drop(pool);
    for pid in pids {
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists() || {
                let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
                stat.contains(") Z")
            }
        );
    }
}
