//! `concur`: the cheat sheet, measured. Runs a CPU-bound, an I/O-bound and a large-data
//! workload sequentially and through each mechanism available, and prints what each
//! gains and what it costs (CPU time, peak memory, bytes serialized).

mod data;
mod machine;
mod meter;
mod output;
mod progress;
mod python;
mod workload;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use concur::{aio, ProcessPoolExecutor, SharedBuffer, ThreadPoolExecutor};

use crate::meter::Meter;
use crate::progress::Progress;

const HELP: &str = "\
concur: Python's concurrency cheat sheet, measured on this machine.

Runs a CPU-bound workload (counting primes) and an I/O-bound one (downloading pages from
a web server on loopback that answers after a delay, like a remote site), sequentially,
on the event loop, on a thread pool and on a process pool; then a large-data one (one
array of f64 transformed element-wise) sequentially, on a thread pool (shared slices)
and on a process pool twice: serialized, then in shared memory. Prints the wall time,
speed-up, CPU time, CPU use, peak memory and bytes serialized of each, then the cheat
sheet's tables filled in from those measurements. It also reads how contended the
machine was (each CPU-bound row's CPU use against the cores it could use, the kernel's
/proc/pressure/cpu and steal time): a disturbed CPU-bound row runs again (best of 3, the
worst shown too), and the conclusions say when the machine, not the mechanism, held a
row down.

USAGE:
    concur [OPTIONS]
    concur ps PID        print the task dump of a running program whose event loop
                         serves one (concur::aio::serve_task_dumps), same user only

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
    --data-mib N         large data: the array's size in MiB, 1 to 4096
                         (default 64, --quick 16)
    --json               print the measurements as one JSON object on stdout instead of
                         the tables
    --markdown           print the tables as markdown (the default fits them to the
                         terminal's width, $COLUMNS or 80)
    --svg FILE           also write a bar chart of the speed-ups (SVG) to FILE
    --python             also run python/cheatsheet.py (the same workloads with CPython's
                         asyncio, ThreadPoolExecutor and ProcessPoolExecutor, against the
                         same server) with python3, and show its times side by side
    -h, --help           print this help

Progress goes to stderr while it runs: a bar on a terminal, else one line per step.
Exit codes: 0 success, 1 a measurement failed, 2 a bad option.
";

/// How big the workloads are.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sizes {
    pub(crate) primes_below: u64,
    pub(crate) pages: usize,
    pub(crate) latency: Duration,
    pub(crate) workers: usize,
    /// Large data: the array's size in MiB.
    pub(crate) data_mib: usize,
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
    markdown: bool,
    svg: Option<PathBuf>,
    python: bool,
}

#[derive(Debug)]
enum Parsed {
    Run(Options),
    Help,
    /// `concur ps PID`: print that program's task dump.
    Ps(u32),
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
    let mut markdown = false;
    let mut python = false;
    let mut svg = None;
    let (mut primes_below, mut pages, mut latency_ms, mut workers) = (None, None, None, None);
    let mut data_mib = None;
    let mut args = args.into_iter().peekable();
    if args.peek().map(String::as_str) == Some("ps") {
        args.next();
        let pid = number(
            "ps",
            args.next(),
            1,
            i32::MAX as u32,
            " (a process id)",
            "4242",
        )?;
        if let Some(extra) = args.next() {
            return Err(format!("ps takes one process id, got also '{extra}'"));
        }
        return Ok(Parsed::Ps(pid));
    }
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
            "--markdown" => markdown = true,
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
            "--data-mib" => data_mib = Some(number("--data-mib", value(), 1, 4096, " MiB", "64")?),
            "--svg" => match value() {
                Some(file) if !file.is_empty() => {
                    let path = PathBuf::from(&file);
                    // Fail now, not after the measurements.
                    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                        if !dir.is_dir() {
                            return Err(format!(
                                "--svg {file}: there is no directory {}: create it, or give another path (e.g. --svg chart.svg)",
                                dir.display()
                            ));
                        }
                    }
                    svg = Some(path)
                }
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
        data_mib: data_mib.unwrap_or(if quick { 16 } else { 64 }),
    };
    Ok(Parsed::Run(Options {
        sizes,
        json,
        markdown,
        svg,
        python,
    }))
}

/// `concur ps PID`.
fn ps(pid: u32) -> ExitCode {
    match aio::fetch_task_dump(pid) {
        Ok(dump) if dump.is_empty() => {
            eprintln!(
                "concur ps {pid}: the process closed the connection without a dump (it \
                 serves only its own user)"
            );
            ExitCode::FAILURE
        }
        Ok(dump) => {
            print!("{dump}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!(
                "concur ps {pid}: no task dump from process {pid} ({e}): its event loop must \
                 call concur::aio::serve_task_dumps()"
            );
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    let options = match parse_args(std::env::args().skip(1)) {
        Ok(Parsed::Run(options)) => options,
        Ok(Parsed::Help) => {
            print!("{HELP}");
            return ExitCode::SUCCESS;
        }
        Ok(Parsed::Ps(pid)) => return ps(pid),
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
    } else if options.markdown {
        output::tables(&report)
    } else {
        // The terminal's width, 80 columns when unknown.
        let width = std::env::var("COLUMNS")
            .ok()
            .and_then(|c| c.parse().ok())
            .unwrap_or(80);
        output::terminal(&report, width)
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
    /// `cpu`, `io` or `data`.
    pub(crate) workload: &'static str,
    /// `sequential`, `event_loop`, `thread_pool`, `process_pool` or (large data only)
    /// `process_pool_shm`.
    pub(crate) mechanism: &'static str,
    /// What the table shows, e.g. `thread pool (4 workers)`.
    pub(crate) label: String,
    pub(crate) wall: Duration,
    /// CPU time of all the threads and worker processes doing the work.
    pub(crate) cpu: Duration,
    /// Peak resident memory of this process plus its workers during the measurement.
    pub(crate) peak_bytes: u64,
    /// Bytes serialized to cross between processes (arguments and results, as postcard
    /// writes them); 0 within one process.
    pub(crate) serialized_bytes: u64,
    /// The machine's CPU pressure and steal over this row's measurement (the best try).
    pub(crate) load: machine::Load,
    /// Cores the row could keep busy on an idle machine (1 sequential, the workers for a
    /// pool on the CPU-bound work); 0 where CPU use says nothing (waiting, large data).
    pub(crate) expected_cores: f64,
    /// The wall time of every try, in seconds: a row disturbed by other work on the
    /// machine is measured again (up to [`TRIES`] times) and the best try kept.
    pub(crate) tries: Vec<f64>,
}

/// The most times a disturbed row is measured.
pub(crate) const TRIES: usize = 3;

impl Row {
    /// CPU time over wall time: how many cores the row kept busy on average.
    pub(crate) fn cores(&self) -> f64 {
        self.cpu.as_secs_f64() / self.wall.as_secs_f64().max(1e-9)
    }

    /// Why this row's figures are not those of an idle machine, if they are not: other
    /// work waited for or took the CPUs, or the row got fewer cores than it could use.
    /// Only rows whose figures CPU use explains (`expected_cores > 0`) are judged.
    /// A row that fills every CPU is judged by the cores it got alone.
    pub(crate) fn disturbed(&self) -> Option<String> {
        if self.expected_cores <= 0.0 {
            return None;
        }
        let mut why = Vec::new();
        if self.expected_cores > 0.0 && self.cores() < 0.9 * self.expected_cores {
            why.push(format!(
                "it got {:.1} of the {:.0} cores it could use",
                self.cores(),
                self.expected_cores
            ));
        }
        // Waiting for a CPU says "other work" only where the row leaves CPUs free: a pool
        // that fills every CPU makes its own threads (and the meter's) wait a little.
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        let own_waits = self.expected_cores >= cpus;
        if let Some(p) = self.load.pressure.filter(|p| *p >= 0.10 && !own_waits) {
            why.push(format!(
                "tasks waited for a CPU {:.0}% of the time",
                p * 100.0
            ));
        }
        if let Some(st) = self.load.steal.filter(|st| *st >= 0.05) {
            why.push(format!("{:.0}% of the CPU time was stolen", st * 100.0));
        }
        (!why.is_empty()).then(|| why.join(", "))
    }
}

/// Everything measured.
#[derive(Debug)]
pub(crate) struct Report {
    pub(crate) sizes: Sizes,
    pub(crate) cpus: usize,
    pub(crate) rows: Vec<Row>,
    /// The large-data result's checksum (every run agreed on it).
    pub(crate) data_checksum: f64,
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

type Error = Box<dyn std::error::Error>;

/// The rows measured so far, and the threads whose CPU time is not the workload's.
struct Rows {
    rows: Vec<Row>,
    exclude: Vec<u32>,
}

impl Rows {
    /// Runs `work` under a [`Meter`] and records it as a row; returns what `work` returned.
    fn measure<T>(
        &mut self,
        workload: &'static str,
        mechanism: &'static str,
        label: String,
        work: impl FnOnce() -> Result<(T, u64), Error>,
    ) -> Result<T, Error> {
        let mut work = Some(work);
        self.measure_tries(workload, mechanism, label, 0.0, 1, |_| {
            (work.take().expect("a row of one try runs once"))()
        })
    }

    /// Like [`measure`](Self::measure), on a row that can run again: while the machine
    /// disturbed it ([`Row::disturbed`]) it runs again, up to `tries` times in all, and
    /// the try with the shortest wall time is kept, with every try's wall time.
    fn measure_best<T>(
        &mut self,
        workload: &'static str,
        mechanism: &'static str,
        label: String,
        expected_cores: f64,
        mut work: impl FnMut() -> Result<(T, u64), Error>,
    ) -> Result<T, Error> {
        self.measure_tries(workload, mechanism, label, expected_cores, TRIES, |_| {
            work()
        })
    }

    fn measure_tries<T>(
        &mut self,
        workload: &'static str,
        mechanism: &'static str,
        label: String,
        expected_cores: f64,
        tries: usize,
        mut work: impl FnMut(usize) -> Result<(T, u64), Error>,
    ) -> Result<T, Error> {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let mut best: Option<(Row, T)> = None;
        let mut walls = Vec::new();
        for attempt in 0..tries {
            let snapshot = machine::Snapshot::now();
            let meter = Meter::start(&self.exclude)?;
            let outcome = work(attempt);
            let usage = meter.finish();
            let load = snapshot.since(cpus);
            let (value, serialized_bytes) = outcome?;
            walls.push(usage.wall.as_secs_f64());
            let row = Row {
                workload,
                mechanism,
                label: label.clone(),
                wall: usage.wall,
                cpu: usage.cpu,
                peak_bytes: usage.peak_bytes,
                serialized_bytes,
                load,
                expected_cores,
                tries: Vec::new(),
            };
            let undisturbed = row.disturbed().is_none();
            if best.as_ref().is_none_or(|(b, _)| row.wall < b.wall) {
                best = Some((row, value));
            }
            if undisturbed {
                break;
            }
        }
        let (mut row, value) = best.expect("at least one try");
        row.tries = walls;
        self.rows.push(row);
        Ok(value)
    }
}

/// Bytes postcard writes for `value`.
fn postcard_len<T: serde::Serialize>(value: &T) -> u64 {
    postcard::to_allocvec(value).map_or(0, |v| v.len() as u64)
}

fn run(options: &Options) -> Result<Report, Error> {
    let sizes = options.sizes;
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let workers = sizes.workers;
    let mut rows = Rows {
        rows: Vec::new(),
        exclude: Vec::new(),
    };
    let progress = Progress::new(if options.python { 13 } else { 12 });

    // CPU-bound: count primes, in 64 chunks so a pool can balance them.
    let chunks = workload::ranges(sizes.primes_below, 64);
    // Warm up (CPU clocks, caches) so the sequential baseline is not the one run that pays.
    std::hint::black_box(workload::count_primes(0, sizes.primes_below.min(200_000)));
    progress.step("cpu: sequential");
    let seq: u64 = rows.measure_best("cpu", "sequential", "sequential".into(), 1.0, || {
        let n = chunks
            .iter()
            .map(|&(lo, hi)| workload::count_primes(lo, hi))
            .sum();
        Ok((n, 0))
    })?;
    // The event loop: tasks take turns on one thread, so CPU work gains nothing.
    progress.step("cpu: event loop");
    let looped: u64 = rows.measure_best(
        "cpu",
        "event_loop",
        "event loop (1 thread)".into(),
        1.0,
        || {
            let n = aio::run(async {
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
            Ok((n, 0))
        },
    )?;
    if looped != seq {
        return Err(format!("the event loop counted {looped} primes, sequential {seq}").into());
    }
    progress.step(&format!("cpu: thread pool ({workers} workers)"));
    let pool = ThreadPoolExecutor::new(workers);
    let usable = workers.min(cpus) as f64;
    let total: u64 = rows.measure_best(
        "cpu",
        "thread_pool",
        format!("thread pool ({workers} workers)"),
        usable,
        || {
            let mut total = 0;
            for r in pool.map(|(lo, hi)| workload::count_primes(lo, hi), chunks.clone()) {
                total += r?;
            }
            Ok((total, 0))
        },
    )?;
    if total != seq {
        return Err(format!("the thread pool counted {total} primes, sequential {seq}").into());
    }
    drop(pool);
    // Processes: real parallelism too, at the price of starting them and of serializing
    // what goes in and out (a range in, a count out: next to nothing here).
    progress.step(&format!("cpu: process pool ({workers} workers)"));
    let total: u64 = rows.measure_best(
        "cpu",
        "process_pool",
        format!("process pool ({workers} workers)"),
        usable,
        || {
            let pool = ProcessPoolExecutor::new(workers)?;
            let mut total = 0;
            let mut bytes = 0;
            let count = |(lo, hi): (u64, u64)| workload::count_primes(lo, hi);
            for (r, arg) in pool.map(count, chunks.clone()).zip(&chunks) {
                let n = r?;
                bytes += postcard_len(arg) + postcard_len(&n);
                total += n;
            }
            drop(pool); // its workers exit and are reaped: their CPU time is counted
            Ok((total, bytes))
        },
    )?;
    if total != seq {
        return Err(format!("the process pool counted {total} primes, sequential {seq}").into());
    }

    // I/O-bound: download pages from a slow server. The server runs on a thread of this
    // process; its CPU time is the remote site's, not the client's, and is left out.
    let server = workload::PageServer::start(sizes.latency, PAGE_BYTES)?;
    rows.exclude.extend(server.thread_id());
    let addr = server.addr();
    progress.step("io: sequential");
    let bytes: u64 = rows.measure("io", "sequential", "sequential".into(), || {
        let mut bytes = 0;
        for page in 0..sizes.pages {
            bytes += workload::download(addr, page)? as u64;
        }
        Ok((bytes, 0))
    })?;
    progress.step("io: event loop");
    let looped: u64 = rows.measure("io", "event_loop", "event loop (1 thread)".into(), || {
        let n = aio::run(async move {
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
        Ok((n, 0))
    })?;
    if looped != bytes {
        return Err(format!("the event loop downloaded {looped} bytes, sequential {bytes}").into());
    }
    progress.step(&format!("io: thread pool ({IO_THREADS} workers)"));
    let pool = ThreadPoolExecutor::new(IO_THREADS);
    let pooled: u64 = rows.measure(
        "io",
        "thread_pool",
        format!("thread pool ({IO_THREADS} workers)"),
        || {
            let mut pooled = 0;
            for r in pool.map(move |page| workload::download(addr, page), 0..sizes.pages) {
                pooled += r?? as u64;
            }
            Ok((pooled, 0))
        },
    )?;
    if pooled != bytes {
        return Err(
            format!("the thread pool downloaded {pooled} bytes, sequential {bytes}").into(),
        );
    }
    drop(pool);

    progress.step(&format!("io: process pool ({IO_PROCESSES} workers)"));
    let pooled: u64 = rows.measure(
        "io",
        "process_pool",
        format!("process pool ({IO_PROCESSES} workers)"),
        || {
            let pool = ProcessPoolExecutor::new(IO_PROCESSES)?;
            let fetch = |(addr, page): (std::net::SocketAddr, usize)| {
                workload::download(addr, page).map_err(|e| e.to_string())
            };
            let (mut pooled, mut serialized) = (0, 0);
            for (page, r) in pool
                .map(fetch, (0..sizes.pages).map(|page| (addr, page)))
                .enumerate()
            {
                let r = r?;
                serialized += postcard_len(&(addr, page)) + postcard_len(&r);
                pooled += r? as u64;
            }
            drop(pool);
            Ok((pooled, serialized))
        },
    )?;
    if pooled != bytes {
        return Err(
            format!("the process pool downloaded {pooled} bytes, sequential {bytes}").into(),
        );
    }

    let data_checksum = large_data(&sizes, &mut rows, &progress)?.value();

    let python = if options.python {
        progress.step("CPython: python/cheatsheet.py (all its runs)");
        python::run(&sizes, addr)
    } else {
        python::Outcome::NotRequested
    };
    drop(server);
    progress.finish();
    Ok(Report {
        sizes,
        cpus,
        rows: rows.rows,
        data_checksum,
        python,
    })
}

/// The large-data rows: one array through each mechanism, checked against the
/// sequential run's checksum.
fn large_data(
    sizes: &Sizes,
    rows: &mut Rows,
    progress: &Progress,
) -> Result<data::Checksum, Error> {
    let workers = sizes.workers;
    let len = sizes.data_mib << 17; // 2^20 / 8 f64 per MiB
    let chunk = data::chunk_len(len);
    let array = || -> Result<Vec<f64>, Error> {
        let mut v = Vec::new();
        v.try_reserve_exact(len).map_err(|_| {
            format!(
                "cannot allocate {} MiB for the large-data workload (try a smaller --data-mib)",
                sizes.data_mib
            )
        })?;
        v.resize(len, 0.0);
        data::fill(&mut v, 0);
        Ok(v)
    };
    let check = |what: &str, sum: data::Checksum, seq: data::Checksum| {
        if sum == seq {
            Ok(())
        } else {
            Err(format!(
                "large data: the {what} computed checksum {}, sequential {}",
                sum.value(),
                seq.value()
            ))
        }
    };

    progress.step("data: sequential");
    let mut xs = array()?;
    rows.measure("data", "sequential", "sequential".into(), || {
        data::transform(&mut xs);
        Ok(((), 0))
    })?;
    let seq = data::Checksum::of(&xs);
    drop(xs);

    // Threads share the array: each task transforms its own slice of it, in place.
    progress.step(&format!("data: thread pool ({workers} workers)"));
    let mut xs = array()?;
    let pool = ThreadPoolExecutor::new(workers);
    rows.measure(
        "data",
        "thread_pool",
        format!("thread pool ({workers} workers), shared slices"),
        || {
            pool.scope(|s| {
                let tasks: Vec<_> = xs
                    .chunks_mut(chunk)
                    .map(|c| s.submit(move || data::transform(c)))
                    .collect();
                tasks.into_iter().try_for_each(|t| t.join())
            })?;
            Ok(((), 0))
        },
    )?;
    drop(pool);
    check("thread pool", data::Checksum::of(&xs), seq)?;
    drop(xs);

    // Processes by serialization: each chunk is copied into a message, through a pipe,
    // into the worker, and back the same way.
    progress.step(&format!(
        "data: process pool, serialized ({workers} workers)"
    ));
    let mut xs = array()?;
    rows.measure(
        "data",
        "process_pool",
        format!("process pool ({workers} workers), serialized"),
        || {
            let pool = ProcessPoolExecutor::new(workers)?;
            // Cells: the chunks are read (to send) and written (results) as they go.
            let cells = std::cell::Cell::from_mut(xs.as_mut_slice()).as_slice_of_cells();
            let to_send = cells
                .chunks(chunk)
                .map(|c| c.iter().map(std::cell::Cell::get).collect::<Vec<f64>>());
            let mut serialized = 0;
            for (back, dst) in pool
                .map(data::transform_vec, to_send)
                .zip(cells.chunks(chunk))
            {
                let back = back?;
                if back.len() != dst.len() {
                    return Err("large data: a chunk came back with the wrong length".into());
                }
                serialized += 2 * data::vec_bytes(back.len());
                dst.iter().zip(back).for_each(|(d, x)| d.set(x));
            }
            drop(pool);
            Ok(((), serialized))
        },
    )?;
    check("process pool (serialized)", data::Checksum::of(&xs), seq)?;
    drop(xs);

    // Processes with shared memory: the array lives in shared buffers from the start;
    // a chunk's descriptor goes to a worker, which transforms it in place, and comes back.
    progress.step(&format!(
        "data: process pool, shared memory ({workers} workers)"
    ));
    let mut buffers = Vec::new();
    for first in (0..len).step_by(chunk) {
        let n = chunk.min(len - first);
        let mut b = SharedBuffer::new(n * 8).map_err(|e| {
            format!("cannot create a shared buffer for the large-data workload: {e}")
        })?;
        data::fill(b.as_mut_slice_of::<f64>(), first);
        buffers.push(b);
    }
    let sizes_of: Vec<usize> = buffers.iter().map(|b| b.len()).collect();
    let back: Vec<SharedBuffer> = rows.measure(
        "data",
        "process_pool_shm",
        format!("process pool ({workers} workers), shared memory"),
        || {
            let pool = ProcessPoolExecutor::new(workers)?;
            let back = pool
                .map(data::transform_shared, buffers)
                .collect::<Result<Vec<_>, _>>()?;
            drop(pool);
            // A buffer is its descriptor's index in the message and its length, each way.
            let serialized = sizes_of.iter().map(|&b| 2 * data::shared_bytes(0, b)).sum();
            Ok((back, serialized))
        },
    )?;
    let mut sum = data::Checksum::new();
    for b in &back {
        sum.add(b.as_slice_of::<f64>());
    }
    check("process pool (shared memory)", sum, seq)?;
    Ok(seq)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Parsed, String> {
        parse_args(args.iter().map(|s| s.to_string()))
    }

    fn cpu_row(mechanism: &'static str, wall: f64, cpu: f64, expected: f64) -> Row {
        Row {
            workload: "cpu",
            mechanism,
            label: mechanism.replace('_', " "),
            wall: Duration::from_secs_f64(wall),
            cpu: Duration::from_secs_f64(cpu),
            peak_bytes: 1 << 20,
            serialized_bytes: 0,
            load: machine::Load::default(),
            expected_cores: expected,
            tries: vec![wall],
        }
    }

    fn report(rows: Vec<Row>) -> Report {
        Report {
            sizes: Sizes {
                primes_below: 10,
                pages: 1,
                latency: Duration::ZERO,
                workers: 2,
                data_mib: 1,
            },
            cpus: 2,
            rows,
            data_checksum: 0.0,
            python: python::Outcome::NotRequested,
        }
    }

    #[test]
    fn a_pool_that_got_one_of_its_two_cores_is_reported_contended_not_as_no_parallelism() {
        // Issue 16: "Real parallelism? No (1.2x)" under "the thread pool speeds up
        // CPU-bound work too", on a machine where other work held a core.
        let r = report(vec![
            cpu_row("sequential", 1.0, 1.0, 1.0),
            cpu_row("thread_pool", 0.83, 0.83, 2.0),
        ]);
        let text = output::tables(&r);
        assert!(text.contains("was CONTENDED"), "{text}");
        assert!(text.contains("it got 1.0 of the 2 cores"), "{text}");
        assert!(
            text.contains("Cannot tell: machine contended (1.2x"),
            "{text}"
        );
        assert!(!text.contains("speeds up CPU-bound work too"), "{text}");
        assert!(!text.contains("ran CPU-bound work in parallel"), "{text}");
    }

    #[test]
    fn an_idle_machine_gives_the_pool_its_speed_up_and_no_contention_note() {
        let r = report(vec![
            cpu_row("sequential", 1.0, 1.0, 1.0),
            cpu_row("thread_pool", 0.52, 1.0, 2.0),
        ]);
        let text = output::tables(&r);
        assert!(text.contains("was not contended"), "{text}");
        assert!(
            text.contains("The thread pool ran CPU-bound work in parallel: 1.9x"),
            "{text}"
        );
        assert!(text.contains("Yes (1.9x on CPU-bound work)"), "{text}");
    }

    #[test]
    fn the_terminal_layout_fits_80_columns_and_keeps_every_row() {
        // Issue 16: markdown lines of up to 310 characters wrapped in an 80-column terminal.
        let r = report(vec![
            cpu_row("sequential", 1.0, 1.0, 1.0),
            cpu_row("thread_pool", 0.83, 0.83, 2.0),
            cpu_row("process_pool", 0.6, 1.0, 2.0),
        ]);
        let text = output::terminal(&r, 80);
        for line in text.lines() {
            assert!(line.chars().count() <= 80, "{line:?} in:\n{text}");
        }
        assert!(text.contains("cpu  thread pool"), "{text}");
        assert!(text.contains("was CONTENDED"), "{text}");
        assert!(!text.contains("|---"), "{text}");
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
