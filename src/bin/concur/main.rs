//! `concur`: the cheat sheet, measured. Runs a CPU-bound and an I/O-bound workload
//! sequentially and through each mechanism available, and prints what each gains.

mod output;
mod python;
mod workload;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use concur::{aio, ProcessPoolExecutor, ThreadPoolExecutor};

const HELP: &str = "\
concur: Python's concurrency cheat sheet, measured on this machine.

Runs a CPU-bound workload (counting primes) and an I/O-bound one (downloading pages from
a web server on loopback that answers after a delay, like a remote site), sequentially,
on the event loop, on a thread pool and on a process pool, and prints the wall time and
speed-up of each, then the cheat sheet's tables filled in from those measurements.

USAGE:
    concur [OPTIONS]

OPTIONS:
    --quick              smaller workloads (a run of a few seconds); the options below
                         override its sizes
    --primes-below N     CPU-bound: count the primes below N, 1 to 10000000000
                         (default 8000000, --quick 2000000)
    --workers N          thread and process pool size for the CPU-bound work, 1 to 1024
                         (default: the number of CPUs)
    --pages N            I/O-bound: download N pages of 16 KiB, 1 to 100000
                         (default 200, --quick 40)
    --latency-ms N       the server's delay before answering each page, 0 to 60000 ms
                         (default 50, --quick 20)
    --json               print the measurements as one JSON object on stdout instead of
                         the tables
    --svg FILE           also write a bar chart of the speed-ups (SVG) to FILE
    --python             also run python/cheatsheet.py (the same workloads with CPython's
                         asyncio, ThreadPoolExecutor and ProcessPoolExecutor, against the
                         same server) with python3, and show its times side by side
    -h, --help           print this help

Progress goes to stderr while it runs (only when stderr is a terminal).
Exit codes: 0 success, 1 a measurement failed, 2 a bad option.
";

/// How big the workloads are.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sizes {
    pub(crate) primes_below: u64,
    pub(crate) pages: usize,
    pub(crate) latency: Duration,
    pub(crate) workers: usize,
}

/// Page size the server answers with.
pub(crate) const PAGE_BYTES: usize = 16 * 1024;
/// Thread pool size for the I/O-bound work.
const IO_THREADS: usize = 32;
/// Process pool size for the I/O-bound work.
const IO_PROCESSES: usize = 16;

#[derive(Debug)]
struct Options {
    sizes: Sizes,
    json: bool,
    svg: Option<PathBuf>,
    python: bool,
}

#[derive(Debug)]
enum Parsed {
    Run(Options),
    Help,
}

fn number<T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy>(
    option: &str,
    value: Option<String>,
    min: T,
    max: T,
    unit: &str,
    example: &str,
) -> Result<T, String> {
    let Some(value) = value else {
        return Err(format!("{option} needs a value (e.g. {option} {example})"));
    };
    let clean = value.replace('_', "");
    let n: T = clean.parse().map_err(|_| {
        format!("{option} expects a whole number, got '{value}' (e.g. {option} {example})")
    })?;
    if n < min || n > max {
        return Err(format!(
            "{option} {value} is out of range: give {min} to {max}{unit} (e.g. {option} {example})"
        ));
    }
    Ok(n)
}

fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Parsed, String> {
    let mut quick = false;
    let mut json = false;
    let mut python = false;
    let mut svg = None;
    let (mut primes_below, mut pages, mut latency_ms, mut workers) = (None, None, None, None);
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        // `--opt=value` is the same as `--opt value`.
        let (name, mut inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = || inline.take().or_else(|| args.next());
        match name.as_str() {
            "--quick" => quick = true,
            "--json" => json = true,
            "--python" => python = true,
            "-h" | "--help" => return Ok(Parsed::Help),
            "--primes-below" => {
                primes_below = Some(number(
                    "--primes-below",
                    value(),
                    1u64,
                    10_000_000_000,
                    "",
                    "2000000",
                )?)
            }
            "--pages" => pages = Some(number("--pages", value(), 1, 100_000, " pages", "200")?),
            "--latency-ms" => {
                latency_ms = Some(number(
                    "--latency-ms",
                    value(),
                    0u64,
                    60_000,
                    " milliseconds",
                    "50",
                )?)
            }
            "--workers" => workers = Some(number("--workers", value(), 1, 1024, " workers", "4")?),
            "--svg" => match value() {
                Some(file) if !file.is_empty() => svg = Some(PathBuf::from(file)),
                _ => return Err("--svg needs a file name (e.g. --svg chart.svg)".into()),
            },
            _ => return Err(format!("unknown option '{arg}' (try --help)")),
        }
        if inline.is_some() {
            return Err(format!("{name} takes no value (try --help)"));
        }
    }
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let sizes = Sizes {
        primes_below: primes_below.unwrap_or(if quick { 2_000_000 } else { 8_000_000 }),
        pages: pages.unwrap_or(if quick { 40 } else { 200 }),
        latency: Duration::from_millis(latency_ms.unwrap_or(if quick { 20 } else { 50 })),
        workers: workers.unwrap_or(cpus),
    };
    Ok(Parsed::Run(Options {
        sizes,
        json,
        svg,
        python,
    }))
}

fn main() -> ExitCode {
    let options = match parse_args(std::env::args().skip(1)) {
        Ok(Parsed::Run(options)) => options,
        Ok(Parsed::Help) => {
            print!("{HELP}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("concur: {message}");
            return ExitCode::from(2);
        }
    };
    let report = match run(&options) {
        Ok(report) => report,
        Err(err) => {
            eprintln!("concur: {err}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(path) = &options.svg {
        if let Err(err) = std::fs::write(path, output::svg(&report)) {
            eprintln!("concur: cannot write {}: {err}", path.display());
            return ExitCode::FAILURE;
        }
    }
    let text = if options.json {
        output::json(&report)
    } else {
        output::tables(&report)
    };
    let mut stdout = std::io::stdout().lock();
    if stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .is_err()
    {
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// One measurement.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    /// `cpu` or `io`.
    pub(crate) workload: &'static str,
    /// `sequential`, `event_loop`, `thread_pool` or `process_pool`.
    pub(crate) mechanism: &'static str,
    /// What the table shows, e.g. `thread pool (4 workers)`.
    pub(crate) label: String,
    pub(crate) wall: Duration,
}

/// Everything measured.
#[derive(Debug)]
pub(crate) struct Report {
    pub(crate) sizes: Sizes,
    pub(crate) cpus: usize,
    pub(crate) rows: Vec<Row>,
    pub(crate) python: python::Outcome,
}

impl Report {
    /// The speed-up of `row` over its workload's sequential run.
    pub(crate) fn speedup(rows: &[Row], row: &Row) -> f64 {
        let base = rows
            .iter()
            .find(|b| b.workload == row.workload && b.mechanism == "sequential")
            .map_or(row.wall, |b| b.wall);
        base.as_secs_f64() / row.wall.as_secs_f64().max(1e-9)
    }
}

/// Step-by-step progress on stderr, only when stderr is a terminal.
struct Progress {
    enabled: bool,
    total: usize,
    done: usize,
    started: Instant,
}

impl Progress {
    fn new(total: usize) -> Self {
        Progress {
            enabled: std::io::stderr().is_terminal(),
            total,
            done: 0,
            started: Instant::now(),
        }
    }

    fn step(&mut self, what: &str) {
        self.done += 1;
        if self.enabled {
            eprint!(
                "\r\x1b[2K[{}/{}] {what} ... ({:.1} s so far)",
                self.done,
                self.total,
                self.started.elapsed().as_secs_f64()
            );
        }
    }

    fn finish(&self) {
        if self.enabled {
            eprint!("\r\x1b[2K");
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

fn run(options: &Options) -> Result<Report, Box<dyn std::error::Error>> {
    let sizes = options.sizes;
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let workers = sizes.workers;
    let mut rows = Vec::new();
    let mut progress = Progress::new(if options.python { 9 } else { 8 });
    let push = |rows: &mut Vec<Row>, workload, mechanism, label: String, wall| {
        rows.push(Row {
            workload,
            mechanism,
            label,
            wall,
        })
    };

    // CPU-bound: count primes, in 64 chunks so a pool can balance them.
    let chunks = workload::ranges(sizes.primes_below, 64);
    // Warm up (CPU clocks, caches) so the sequential baseline is not the one run that pays.
    std::hint::black_box(workload::count_primes(0, sizes.primes_below.min(200_000)));
    progress.step("cpu: sequential");
    let t = Instant::now();
    let seq: u64 = chunks
        .iter()
        .map(|&(lo, hi)| workload::count_primes(lo, hi))
        .sum();
    push(
        &mut rows,
        "cpu",
        "sequential",
        "sequential".into(),
        t.elapsed(),
    );
    // The event loop: tasks take turns on one thread, so CPU work gains nothing.
    progress.step("cpu: event loop");
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
    push(
        &mut rows,
        "cpu",
        "event_loop",
        "event loop (1 thread)".into(),
        t.elapsed(),
    );
    if looped != seq {
        return Err(format!("the event loop counted {looped} primes, sequential {seq}").into());
    }
    progress.step(&format!("cpu: thread pool ({workers} workers)"));
    let pool = ThreadPoolExecutor::new(workers);
    let t = Instant::now();
    let mut total = 0;
    for r in pool.map(|(lo, hi)| workload::count_primes(lo, hi), chunks.clone()) {
        total += r?;
    }
    push(
        &mut rows,
        "cpu",
        "thread_pool",
        format!("thread pool ({workers} workers)"),
        t.elapsed(),
    );
    if total != seq {
        return Err(format!("the thread pool counted {total} primes, sequential {seq}").into());
    }
    drop(pool);
    // Processes: real parallelism too, at the price of starting them and of serializing
    // what goes in and out (a range in, a count out: next to nothing here).
    progress.step(&format!("cpu: process pool ({workers} workers)"));
    let t = Instant::now();
    let pool = ProcessPoolExecutor::new(workers)?;
    let mut total = 0;
    let count = |(lo, hi): (u64, u64)| workload::count_primes(lo, hi);
    for r in pool.map(count, chunks) {
        total += r?;
    }
    push(
        &mut rows,
        "cpu",
        "process_pool",
        format!("process pool ({workers} workers)"),
        t.elapsed(),
    );
    if total != seq {
        return Err(format!("the process pool counted {total} primes, sequential {seq}").into());
    }
    drop(pool);

    // I/O-bound: download pages from a slow server.
    let server = workload::PageServer::start(sizes.latency, PAGE_BYTES)?;
    let addr = server.addr();
    progress.step("io: sequential");
    let t = Instant::now();
    let mut bytes = 0;
    for page in 0..sizes.pages {
        bytes += workload::download(addr, page)? as u64;
    }
    push(
        &mut rows,
        "io",
        "sequential",
        "sequential".into(),
        t.elapsed(),
    );
    progress.step("io: event loop");
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
    push(
        &mut rows,
        "io",
        "event_loop",
        "event loop (1 thread)".into(),
        t.elapsed(),
    );
    if looped != bytes {
        return Err(format!("the event loop downloaded {looped} bytes, sequential {bytes}").into());
    }
    progress.step(&format!("io: thread pool ({IO_THREADS} workers)"));
    let pool = ThreadPoolExecutor::new(IO_THREADS);
    let t = Instant::now();
    let mut pooled = 0;
    for r in pool.map(move |page| workload::download(addr, page), 0..sizes.pages) {
        pooled += r?? as u64;
    }
    push(
        &mut rows,
        "io",
        "thread_pool",
        format!("thread pool ({IO_THREADS} workers)"),
        t.elapsed(),
    );
    if pooled != bytes {
        return Err(
            format!("the thread pool downloaded {pooled} bytes, sequential {bytes}").into(),
        );
    }
    drop(pool);

    progress.step(&format!("io: process pool ({IO_PROCESSES} workers)"));
    let t = Instant::now();
    let pool = ProcessPoolExecutor::new(IO_PROCESSES)?;
    let fetch = |(addr, page): (std::net::SocketAddr, usize)| {
        workload::download(addr, page).map_err(|e| e.to_string())
    };
    let mut pooled = 0;
    for r in pool.map(fetch, (0..sizes.pages).map(|page| (addr, page))) {
        pooled += r?? as u64;
    }
    push(
        &mut rows,
        "io",
        "process_pool",
        format!("process pool ({IO_PROCESSES} workers)"),
        t.elapsed(),
    );
    if pooled != bytes {
        return Err(
            format!("the process pool downloaded {pooled} bytes, sequential {bytes}").into(),
        );
    }
    drop(pool);

    let python = if options.python {
        progress.step("CPython: python/cheatsheet.py (all eight runs)");
        python::run(&sizes, addr)
    } else {
        python::Outcome::NotRequested
    };
    drop(server);
    progress.finish();
    Ok(Report {
        sizes,
        cpus,
        rows,
        python,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Parsed, String> {
        parse_args(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn options_override_quick_in_any_order() {
        let Ok(Parsed::Run(o)) = parse(&["--pages=7", "--quick", "--latency-ms", "0"]) else {
            panic!()
        };
        assert_eq!(o.sizes.pages, 7);
        assert_eq!(o.sizes.latency, Duration::ZERO);
        assert_eq!(o.sizes.primes_below, 2_000_000);
    }

    #[test]
    fn bad_values_name_the_problem_and_the_fix() {
        let err = parse(&["--pages", "0"]).unwrap_err();
        assert!(
            err.contains("--pages 0 is out of range: give 1 to 100000"),
            "{err}"
        );
        let err = parse(&["--workers", "x"]).unwrap_err();
        assert!(err.contains("expects a whole number"), "{err}");
        let err = parse(&["--primes-below"]).unwrap_err();
        assert!(err.contains("needs a value"), "{err}");
        let err = parse(&["--json=1"]).unwrap_err();
        assert!(err.contains("takes no value"), "{err}");
    }
}
