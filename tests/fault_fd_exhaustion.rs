//! File-descriptor exhaustion (`RLIMIT_NOFILE` lowered, every descriptor taken) while the
//! thread pool, the event loop and the process pool run: every handle resolves with a
//! value or a typed error that names the cause, nothing hangs, and each mechanism serves
//! again once descriptors are free.
//!
//! The limit is process-wide, so the tests of this file take turns (`TURN`), and this
//! file is a test binary of its own.

use std::fs::File;
use std::io;
use std::sync::Mutex;

use concur::{aio, ProcessPoolExecutor, TaskError, ThreadPoolExecutor};

mod common;

static TURN: Mutex<()> = Mutex::new(());

/// Holds every free descriptor below a lowered soft limit; dropping it frees them and
/// restores the limit.
struct Exhausted {
    hog: Vec<File>,
    old: libc::rlimit,
}

impl Exhausted {
    /// Lowers the soft limit to just above the highest descriptor in use, then opens
    /// `/dev/null` until the OS says EMFILE.
    fn now() -> Exhausted {
        let mut old = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: `getrlimit` writes into the struct we pass.
        assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut old) }, 0);
        let highest = std::fs::read_dir("/proc/self/fd")
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u64>().ok())
            .max()
            .unwrap_or(2);
        let low = libc::rlimit {
            rlim_cur: highest + 1 + 64,
            rlim_max: old.rlim_max,
        };
        // SAFETY: plain system call with a valid struct.
        assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &low) }, 0);
        let mut hog = Vec::new();
        loop {
            match File::open("/dev/null") {
                Ok(f) => hog.push(f),
                Err(e) => {
                    assert_eq!(e.raw_os_error(), Some(libc::EMFILE), "{e}");
                    break;
                }
            }
        }
        assert!(!hog.is_empty(), "the limit left room to exhaust");
        Exhausted { hog, old }
    }

    /// Takes whatever descriptors were freed since (by workers that died, say).
    fn take_again(&mut self) {
        while let Ok(f) = File::open("/dev/null") {
            self.hog.push(f);
        }
    }

    /// Gives `n` descriptors back.
    fn free(&mut self, n: usize) {
        for _ in 0..n.min(self.hog.len()) {
            self.hog.pop();
        }
    }
}

impl Drop for Exhausted {
    fn drop(&mut self) {
        self.hog.clear();
        // SAFETY: plain system call with a valid struct.
        unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &self.old) };
    }
}

fn is_emfile(e: &io::Error) -> bool {
    e.raw_os_error() == Some(libc::EMFILE)
}

#[test]
fn thread_pool_tasks_resolve_while_no_descriptor_is_free() {
    let _turn = TURN.lock().unwrap_or_else(|p| p.into_inner());
    let pool = ThreadPoolExecutor::new(4);
    let mut exhausted = Exhausted::now();
    let handles: Vec<_> = (0..1_000)
        .map(|i| {
            pool.submit(move || {
                if i % 100 == 7 {
                    panic!("task {i} panics under exhaustion");
                }
                File::open("/dev/null").map(drop)
            })
        })
        .collect();
    let (mut emfile, mut panicked) = (0, 0);
    for h in handles {
        match h.join() {
            Ok(Err(e)) if is_emfile(&e) => emfile += 1,
            Err(TaskError::Panicked(m)) if m.contains("under exhaustion") => panicked += 1,
            other => panic!("unexpected outcome {other:?}"),
        }
    }
    assert_eq!((emfile, panicked), (990, 10));
    exhausted.free(usize::MAX);
    let ok = pool.submit(|| File::open("/dev/null").is_ok()).join();
    assert_eq!(
        ok,
        Ok(true),
        "the pool serves again once descriptors are free"
    );
    drop(exhausted);
}

#[test]
fn the_event_loop_reports_exhaustion_and_recovers() {
    let _turn = TURN.lock().unwrap_or_else(|p| p.into_inner());
    aio::run(async {
        let listener = aio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // A connection waits in the listener's backlog before descriptors run out.
        let waiting = std::net::TcpStream::connect(addr).unwrap();
        let mut exhausted = Exhausted::now();

        let accepted = listener.accept().await;
        assert!(
            matches!(&accepted, Err(e) if is_emfile(e)),
            "accept reports EMFILE: {accepted:?}"
        );
        let connected = aio::net::TcpStream::connect(addr).await;
        assert!(
            matches!(&connected, Err(e) if is_emfile(e)),
            "connect reports EMFILE: {connected:?}"
        );
        // Tasks, timers and the thread-pool bridge keep working without descriptors.
        let t = aio::spawn(async {
            aio::sleep(std::time::Duration::from_millis(1)).await;
            7
        });
        assert_eq!(t.await, Ok(7));
        let from_thread = aio::to_thread(|| File::open("/dev/null").is_err()).await;
        assert_eq!(from_thread, Ok(true));

        // One descriptor free: the connection still waiting in the backlog is accepted.
        exhausted.free(1);
        let (conn, peer) = listener.accept().await.expect("accepted after recovery");
        assert_eq!(peer, waiting.local_addr().unwrap());
        drop((conn, exhausted, waiting));
    });
}

#[test]
fn an_event_loop_that_cannot_get_descriptors_panics_with_the_reason() {
    let _turn = TURN.lock().unwrap_or_else(|p| p.into_inner());
    let exhausted = Exhausted::now();
    let r = std::panic::catch_unwind(|| aio::run(async { 1 }));
    drop(exhausted);
    let msg = r.expect_err("no loop without descriptors");
    let msg = msg.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(
        msg.contains("event loop could not be created") && msg.contains("open files"),
        "{msg}"
    );
    assert_eq!(aio::run(async { 2 }), 2, "a loop starts again afterwards");
}

fn abort(_: ()) {
    std::process::abort()
}

fn double(x: u64) -> u64 {
    x * 2
}

#[test]
fn the_process_pool_fails_cleanly_when_it_cannot_start_workers_and_recovers() {
    let _turn = TURN.lock().unwrap_or_else(|p| p.into_inner());
    let pool = ProcessPoolExecutor::new(2).unwrap();
    let warm: Vec<_> = (0..4).map(|i| pool.submit(double, i)).collect();
    for (i, h) in warm.into_iter().enumerate() {
        assert_eq!(h.join(), Ok(i as u64 * 2));
    }
    let mut exhausted = Exhausted::now();

    // The workers already running keep serving.
    let served: Vec<_> = (0..100).map(|i| pool.submit(double, i)).collect();
    for (i, h) in served.into_iter().enumerate() {
        assert_eq!(h.join(), Ok(i as u64 * 2));
    }

    // Kill every worker: no replacement can start now.
    for _ in 0..8 {
        if pool.worker_pids().is_empty() {
            break;
        }
        assert!(matches!(
            pool.submit(abort, ()).join(),
            Err(TaskError::WorkerDied(_))
        ));
    }
    assert!(pool.worker_pids().is_empty(), "every worker is gone");
    // Their channels were closed: take those descriptors too.
    exhausted.take_again();
    let starved = pool.submit(double, 21).join();
    match &starved {
        Err(TaskError::Broken(why)) => assert!(
            why.contains("could not start a worker process") && why.contains("open files"),
            "{why}"
        ),
        other => panic!("a task with no worker to run it must fail, not hang: {other:?}"),
    }

    // Descriptors back: the pool starts workers again.
    exhausted.free(usize::MAX);
    assert_eq!(pool.submit(double, 21).join(), Ok(42));
    drop(exhausted);
    pool.shutdown();
}

#[test]
fn a_process_pool_cannot_be_created_without_descriptors_and_says_why() {
    let _turn = TURN.lock().unwrap_or_else(|p| p.into_inner());
    let exhausted = Exhausted::now();
    let made = ProcessPoolExecutor::new(2);
    let outcome = match made {
        Err(e) => Err(e.to_string()),
        // Workers start lazily: then the first task must fail with the reason instead.
        Ok(pool) => Ok(pool.submit(double, 1).join()),
    };
    drop(exhausted);
    match outcome {
        Err(msg) => assert!(msg.contains("open files"), "{msg}"),
        Ok(Err(TaskError::Broken(why))) => assert!(why.contains("open files"), "{why}"),
        Ok(other) => panic!("unexpected outcome without descriptors: {other:?}"),
    }
}

fn first_bytes(bufs: Vec<concur::SharedBuffer>) -> Vec<u8> {
    bufs.iter().map(|b| b[0]).collect()
}

#[test]
fn a_task_whose_buffers_cannot_all_be_duplicated_fails_alone_and_the_next_gets_its_own() {
    use std::io::Write;
    let _turn = TURN.lock().unwrap_or_else(|p| p.into_inner());
    let dir = std::env::temp_dir().join(format!("concur-fifo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fifo = dir.join("gate");
    common::make_fifo(&fifo);
    let pool = ProcessPoolExecutor::builder()
        .max_workers(1)
        .tasks_in_flight_per_worker(1)
        .build()
        .unwrap();
    let buffers = |first: u8| -> Vec<concur::SharedBuffer> {
        (0..3)
            .map(|i| concur::SharedBuffer::from_slice(&[first + i]).unwrap())
            .collect()
    };
    // The worker waits on the FIFO, so the next task stays queued in the parent.
    let gate = pool.submit(common::after_fifo_opens, fifo.to_str().unwrap().to_owned());
    let mut writer = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    let three = buffers(10);
    let mut exhausted = Exhausted::now();
    exhausted.free(3);
    // Encoding takes the three descriptors freed; dropping the buffers frees theirs.
    let starved = pool.submit(first_bytes, three);
    exhausted.take_again();
    exhausted.free(1);
    // The worker goes on: the pool duplicates the queued task's descriptors to send them,
    // and only the first can be.
    writer.write_all(&[7]).unwrap();
    assert_eq!(gate.join(), Ok(7));
    match starved.join() {
        Err(TaskError::Serialization(why)) => assert!(why.contains("duplicated"), "{why}"),
        other => panic!("the task must fail for want of descriptors: {other:?}"),
    }
    drop(exhausted);
    // The next task's buffers arrive as its own, none left over from the failed one.
    assert_eq!(
        pool.submit(first_bytes, buffers(20)).join(),
        Ok(vec![20, 21, 22])
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
