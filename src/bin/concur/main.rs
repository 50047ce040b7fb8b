//! `concur`: the cheat sheet, measured. Runs a CPU-bound and an I/O-bound workload
//! sequentially and through each mechanism available, and prints what each gains.

mod workload;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use concur::{aio, ProcessPoolExecutor, ThreadPoolExecutor};

const HELP: &str = "\
concur: Python's concurrency cheat sheet, measured on this machine.

Runs a CPU-bound workload (counting primes) and an I/O-bound one (downloading pages from
a web server on loopback that answers after a delay, like a remote site), sequentially,
on the event loop and on a thread pool, and prints the wall time and speed-up of each.

USAGE:
    concur [--quick] [--help]

OPTIONS:
    --quick     smaller workloads (a run of a few seconds)
    -h, --help  print this help
";

struct Sizes {
    primes_below: u64,
    pages: usize,
    latency: Duration,
}

fn main() -> ExitCode {
    let mut quick = false;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--quick" => quick = true,
            "-h" | "--help" => {
                print!("{HELP}");
                return ExitCode::SUCCESS;
            }
            other => {
                eprintln!("concur: unknown option '{other}' (try --help)");
                return ExitCode::from(2);
            }
        }
    }
    let sizes = if quick {
        Sizes {
            primes_below: 2_000_000,
            pages: 40,
            latency: Duration::from_millis(20),
        }
    } else {
        Sizes {
            primes_below: 8_000_000,
            pages: 200,
            latency: Duration::from_millis(50),
        }
    };
    match run(&sizes) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("concur: {err}");
            ExitCode::FAILURE
        }
    }
}

struct Row {
    workload: &'static str,
    mechanism: String,
    wall: Duration,
}

fn run(sizes: &Sizes) -> Result<(), Box<dyn std::error::Error>> {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut rows = Vec::new();

    // CPU-bound: count primes, in 64 chunks so a pool can balance them.
    let chunks = workload::ranges(sizes.primes_below, 64);
    let t = Instant::now();
    let seq: u64 = chunks
        .iter()
        .map(|&(lo, hi)| workload::count_primes(lo, hi))
        .sum();
    rows.push(Row {
        workload: "cpu",
        mechanism: "sequential".into(),
        wall: t.elapsed(),
    });
    // The event loop: tasks take turns on one thread, so CPU work gains nothing.
    let t = Instant::now();
    let looped: u64 = aio::run(async {
        let tasks: Vec<_> = chunks
            .iter()
            .map(|&(lo, hi)| aio::spawn(async move { workload::count_primes(lo, hi) }))
            .collect();
        let mut n = 0;
        for task in tasks {
            n += task.await.unwrap_or(0);
        }
        n
    });
    rows.push(Row {
        workload: "cpu",
        mechanism: "event loop (1 thread)".into(),
        wall: t.elapsed(),
    });
    if looped != seq {
        return Err(format!("the event loop counted {looped} primes, sequential {seq}").into());
    }
    let pool = ThreadPoolExecutor::new(cpus);
    let t = Instant::now();
    let mut total = 0;
    for r in pool.map(|(lo, hi)| workload::count_primes(lo, hi), chunks.clone()) {
        total += r?;
    }
    rows.push(Row {
        workload: "cpu",
        mechanism: format!("thread pool ({cpus} workers)"),
        wall: t.elapsed(),
    });
    if total != seq {
        return Err(format!("the thread pool counted {total} primes, sequential {seq}").into());
    }
    drop(pool);
    // Processes: real parallelism too, at the price of starting them and of serializing
    // what goes in and out (a range in, a count out: next to nothing here).
    let t = Instant::now();
    let pool = ProcessPoolExecutor::new(cpus)?;
    let mut total = 0;
    let count = |(lo, hi): (u64, u64)| workload::count_primes(lo, hi);
    for r in pool.map(count, chunks) {
        total += r?;
    }
    rows.push(Row {
        workload: "cpu",
        mechanism: format!("process pool ({cpus} workers)"),
        wall: t.elapsed(),
    });
    if total != seq {
        return Err(format!("the process pool counted {total} primes, sequential {seq}").into());
    }
    drop(pool);

    // I/O-bound: download pages from a slow server.
    let server = workload::PageServer::start(sizes.latency, 16 * 1024)?;
    let addr = server.addr();
    let t = Instant::now();
    let mut bytes = 0;
    for page in 0..sizes.pages {
        bytes += workload::download(addr, page)? as u64;
    }
    rows.push(Row {
        workload: "io",
        mechanism: "sequential".into(),
        wall: t.elapsed(),
    });
    let t = Instant::now();
    let looped = aio::run(async move {
        let tasks: Vec<_> = (0..sizes.pages)
            .map(|page| aio::spawn(workload::download_async(addr, page)))
            .collect();
        let mut n = 0u64;
        for task in tasks {
            n += task
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())? as u64;
        }
        Ok::<u64, String>(n)
    })?;
    rows.push(Row {
        workload: "io",
        mechanism: "event loop (1 thread)".into(),
        wall: t.elapsed(),
    });
    if looped != bytes {
        return Err(format!("the event loop downloaded {looped} bytes, sequential {bytes}").into());
    }
    let pool = ThreadPoolExecutor::new(32);
    let t = Instant::now();
    let mut pooled = 0;
    for r in pool.map(move |page| workload::download(addr, page), 0..sizes.pages) {
        pooled += r?? as u64;
    }
    rows.push(Row {
        workload: "io",
        mechanism: "thread pool (32 workers)".into(),
        wall: t.elapsed(),
    });
    if pooled != bytes {
        return Err(
            format!("the thread pool downloaded {pooled} bytes, sequential {bytes}").into(),
        );
    }

    let t = Instant::now();
    let pool = ProcessPoolExecutor::new(16)?;
    let fetch = |(addr, page): (std::net::SocketAddr, usize)| {
        workload::download(addr, page).map_err(|e| e.to_string())
    };
    let mut pooled = 0;
    for r in pool.map(fetch, (0..sizes.pages).map(|page| (addr, page))) {
        pooled += r?? as u64;
    }
    rows.push(Row {
        workload: "io",
        mechanism: "process pool (16 workers)".into(),
        wall: t.elapsed(),
    });
    if pooled != bytes {
        return Err(
            format!("the process pool downloaded {pooled} bytes, sequential {bytes}").into(),
        );
    }
    drop(pool);

    println!(
        "CPU-bound: count primes below {}; I/O-bound: download {} pages of 16 KiB, {} ms latency each\n",
        sizes.primes_below,
        sizes.pages,
        sizes.latency.as_millis()
    );
    println!("| workload | mechanism | wall time | speed-up |");
    println!("|---|---|---:|---:|");
    for r in &rows {
        let base = rows
            .iter()
            .find(|b| b.workload == r.workload && b.mechanism == "sequential")
            .map_or(r.wall, |b| b.wall);
        println!(
            "| {} | {} | {:.3} s | {:.1}x |",
            r.workload,
            r.mechanism,
            r.wall.as_secs_f64(),
            base.as_secs_f64() / r.wall.as_secs_f64()
        );
    }
    println!(
        "\nThe event loop overlaps waiting (I/O) on one thread but cannot speed up computing.\n\
         No GIL in Rust: the thread pool speeds up CPU-bound work too (up to the {cpus} CPUs here);\n\
         the process pool does as well, after paying to start its workers (timed above)."
    );
    Ok(())
}
