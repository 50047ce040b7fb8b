//! A closer look at the thread pools' no-op throughput row: where the time goes.
//!
//! `concur-bench threads` reports the time per task of "submit 200,000 no-op tasks, then
//! wait for all". This probe splits it into the submitting part and the rest, counts the
//! context switches of each kind of thread, and measures submitting alone (every worker
//! busy, so that no consumer touches the queue meanwhile). Run it under `perf record` to
//! see which instructions the submitter waits on.
//!
//! ```sh
//! cargo build --release -p concur-bench --example pool_probe
//! target/release/examples/pool_probe both 11 4     # concur and threadpool, alternating
//! target/release/examples/pool_probe concur 7 4    # concur alone (for perf)
//! target/release/examples/pool_probe threadpool 7 4
//! target/release/examples/pool_probe pure 7 4      # submitting with every worker busy
//! ```
//!
//! Arguments: mode, rounds (the median is reported), workers.

use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

const TASKS: usize = 200_000;

/// Per-task nanoseconds: (submitting, submitting and waiting).
#[derive(Default)]
struct Samples {
    submit: Vec<f64>,
    total: Vec<f64>,
}

impl Samples {
    fn push(&mut self, submitted: Duration, finished: Duration) {
        self.submit.push(per_task(submitted));
        self.total.push(per_task(finished));
    }

    fn medians(&mut self) -> (f64, f64) {
        (median(&mut self.submit), median(&mut self.total))
    }
}

fn per_task(d: Duration) -> f64 {
    d.as_nanos() as f64 / TASKS as f64
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn concur_round(pool: &concur::ThreadPoolExecutor) -> (Duration, Duration) {
    let t = Instant::now();
    let handles: Vec<_> = (0..TASKS).map(|_| pool.submit(|| ())).collect();
    let submitted = t.elapsed();
    for h in handles {
        h.join().unwrap();
    }
    (submitted, t.elapsed())
}

fn threadpool_round(pool: &threadpool::ThreadPool) -> (Duration, Duration) {
    let t = Instant::now();
    let (tx, rx) = mpsc::channel();
    for _ in 0..TASKS {
        let tx = tx.clone();
        pool.execute(move || tx.send(()).unwrap());
    }
    let submitted = t.elapsed();
    for _ in 0..TASKS {
        rx.recv().unwrap();
    }
    (submitted, t.elapsed())
}

/// Occupies every worker of a pool until the returned sender is dropped.
fn occupy(workers: usize, mut submit: impl FnMut(Box<dyn FnOnce() + Send>)) -> mpsc::Sender<()> {
    let (release, wait) = mpsc::channel::<()>();
    let wait = Arc::new(Mutex::new(wait));
    let started = Arc::new(std::sync::Barrier::new(workers + 1));
    for _ in 0..workers {
        let (wait, started) = (wait.clone(), started.clone());
        submit(Box::new(move || {
            started.wait();
            let _ = wait.lock().unwrap().recv();
        }));
    }
    started.wait();
    release
}

/// Voluntary and involuntary context switches so far: the main thread, concur's
/// workers, every other thread.
fn context_switches() -> String {
    let pid = std::process::id().to_string();
    let mut sums = [(0u64, 0u64); 3];
    for entry in std::fs::read_dir("/proc/self/task")
        .into_iter()
        .flatten()
        .flatten()
    {
        let status = std::fs::read_to_string(entry.path().join("status")).unwrap_or_default();
        let field = |key: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.trim().parse::<u64>().ok())
                .unwrap_or(0)
        };
        let kind = if entry.file_name().to_string_lossy() == pid {
            0
        } else if status
            .lines()
            .next()
            .unwrap_or("")
            .contains("concur-worker")
        {
            1
        } else {
            2
        };
        sums[kind].0 += field("voluntary_ctxt_switches:");
        sums[kind].1 += field("nonvoluntary_ctxt_switches:");
    }
    format!(
        "context switches (voluntary, involuntary): main {:?}, concur workers {:?}, others {:?}",
        sums[0], sums[1], sums[2]
    )
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mode = args.get(1).map_or("both", String::as_str).to_owned();
    let rounds: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(11);
    let workers: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(4);
    let concur = concur::ThreadPoolExecutor::new(workers);
    let threadpool = threadpool::ThreadPool::new(workers);
    let (mut c, mut t) = (Samples::default(), Samples::default());
    match mode.as_str() {
        "both" | "concur" | "threadpool" => {
            // One warm-up round each, not counted.
            for round in 0..=rounds {
                if mode != "threadpool" {
                    let (s, f) = concur_round(&concur);
                    if round > 0 {
                        c.push(s, f);
                    }
                }
                if mode != "concur" {
                    let (s, f) = threadpool_round(&threadpool);
                    if round > 0 {
                        t.push(s, f);
                    }
                }
            }
            let line = |name: &str, s: &mut Samples| {
                let (submit, total) = s.medians();
                println!("{name:>10}, {workers} workers: submit {submit:5.0} ns, total {total:5.0} ns per task");
                total
            };
            let c_total = (mode != "threadpool").then(|| line("concur", &mut c));
            let t_total = (mode != "concur").then(|| line("threadpool", &mut t));
            if let (Some(c_total), Some(t_total)) = (c_total, t_total) {
                println!("threadpool / concur: {:.2}", t_total / c_total);
            }
            println!("{}", context_switches());
        }
        "pure" => {
            for _ in 0..rounds {
                let release = occupy(workers, |f| drop(concur.submit(f)));
                let t0 = Instant::now();
                let handles: Vec<_> = (0..TASKS).map(|_| concur.submit(|| ())).collect();
                c.submit.push(per_task(t0.elapsed()));
                drop(release);
                handles.into_iter().for_each(|h| h.join().unwrap());

                let release = occupy(workers, |f| threadpool.execute(f));
                let (tx, rx) = mpsc::channel();
                let t0 = Instant::now();
                for _ in 0..TASKS {
                    let tx = tx.clone();
                    threadpool.execute(move || tx.send(()).unwrap());
                }
                t.submit.push(per_task(t0.elapsed()));
                drop(release);
                (0..TASKS).for_each(|_| rx.recv().unwrap());
            }
            println!(
                "submitting with every worker busy, {workers} workers: concur {:.0} ns, threadpool {:.0} ns per task",
                median(&mut c.submit),
                median(&mut t.submit)
            );
        }
        other => {
            eprintln!("pool_probe: unknown mode '{other}' (both, concur, threadpool, pure)");
            std::process::exit(2);
        }
    }
}
