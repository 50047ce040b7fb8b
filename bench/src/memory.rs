//! Memory of 1,000,000 sleeping tasks, each runtime measured in a fresh process (this
//! binary started again with `--memory-probe`), as the growth of the resident set.

use std::process::Command;
use std::time::Duration;

/// Resident set size of this process, in bytes.
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Runs in the child: spawns `n` tasks sleeping an hour on `runtime`, lets each reach its
/// timer, and prints the resident-set growth per task.
pub(crate) fn probe(runtime: &str, n: u64) {
    let hour = Duration::from_secs(3600);
    let settle = Duration::from_millis(50);
    let before = rss();
    let after = match runtime {
        "concur" => concur::aio::run(async move {
            let tasks: Vec<_> = (0..n)
                .map(|_| concur::aio::spawn(concur::aio::sleep(hour)))
                .collect();
            concur::aio::sleep(settle).await;
            let r = rss();
            drop(tasks);
            r
        }),
        "tokio" => {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
                .unwrap();
            rt.block_on(async move {
                let tasks: Vec<_> = (0..n)
                    .map(|_| tokio::spawn(tokio::time::sleep(hour)))
                    .collect();
                tokio::time::sleep(settle).await;
                let r = rss();
                tasks.iter().for_each(|t| t.abort());
                r
            })
        }
        "smol" => {
            let ex = smol::LocalExecutor::new();
            futures_lite::future::block_on(ex.run(async {
                let tasks: Vec<_> = (0..n)
                    .map(|_| {
                        ex.spawn(async move {
                            async_io::Timer::after(hour).await;
                        })
                    })
                    .collect();
                async_io::Timer::after(settle).await;
                let r = rss();
                drop(tasks);
                r
            }))
        }
        other => panic!("unknown runtime {other}"),
    };
    println!("{}", after.saturating_sub(before) / n);
    // Exit without tearing a million tasks down: the number is printed.
    std::process::exit(0);
}

/// Bytes per sleeping task for each runtime, measured in child processes.
pub(crate) fn run(quick: bool) -> Vec<(&'static str, Option<u64>)> {
    let n: u64 = if quick { 100_000 } else { 1_000_000 };
    let exe = std::env::current_exe().expect("the bench binary knows its path");
    ["concur", "tokio", "smol"]
        .into_iter()
        .map(|rt| {
            let out = Command::new(&exe)
                .args(["--memory-probe", rt, &n.to_string()])
                .output()
                .ok()
                .filter(|o| o.status.success());
            let bytes = out.and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok());
            (rt, bytes)
        })
        .collect()
}

/// Prints the memory table.
pub(crate) fn print(rows: &[(&'static str, Option<u64>)], quick: bool) {
    let n = if quick { "100,000" } else { "1,000,000" };
    let base = rows.first().and_then(|r| r.1);
    print!("| memory of {n} sleeping tasks (per task) |");
    for (i, (_, b)) in rows.iter().enumerate() {
        match (b, base) {
            (Some(b), Some(base)) if i > 0 => {
                print!(" {b} B ({:.1}x) |", *b as f64 / base.max(1) as f64)
            }
            (Some(b), _) => print!(" {b} B |"),
            (None, _) => print!(" n/a |"),
        }
    }
    println!();
}
