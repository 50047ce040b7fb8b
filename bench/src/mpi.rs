//! MPI pools side by side: concur's `MpiPoolExecutor` and mpi4py.futures'
//! `MPIPoolExecutor` (`python/mpi_pool.py`), each under its own `mpirun -n 3`, in one run.
//!
//! Both are launched statically (no `MPI_Comm_spawn`): rank 0 measures, ranks 1 and 2
//! serve tasks. mpi4py's workers run one task at a time each; concur's agents are given one
//! local worker each (`workers_per_rank(1)`), so both pools have two task runners. Every
//! measurement is repeated `rounds` times and the median kept; the table gives concur's
//! advantage on each row (above 1: concur is ahead, whichever direction is better).
//!
//! `cargo run --release -p concur-bench --features mpi -- mpi` (Open MPI from
//! `scripts/install-mpi.sh`, mpi4py from `pip install mpi4py`).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_bytes::ByteBuf;

use crate::harness::{self, PyJson};

/// The flag that makes this executable a rank of the concur side's `mpirun`.
pub(crate) const RANK_FLAG: &str = "--mpi-rank";

/// Items per chunk of `map` on both sides (mpi4py's `chunksize`).
const MAP_CHUNK: usize = 1_000;

/// Bytes of the large argument, and of its result.
const LARGE: usize = 16 << 20;

fn inc(x: u64) -> u64 {
    x + 1
}

fn bump_bytes(mut buf: ByteBuf) -> ByteBuf {
    for b in buf.iter_mut() {
        *b = b.wrapping_add(1);
    }
    buf
}

/// The sizes of one run: round trips, the batch of the throughput row, the map's items.
fn sizes(quick: bool) -> (u64, u64, u64) {
    if quick {
        (200, 2_000, 20_000)
    } else {
        (2_000, 20_000, 200_000)
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// One rank of the concur side: rank 0 measures and prints one JSON object (the keys of
/// `python/mpi_pool.py`); the other ranks serve tasks inside `world()` and never return.
pub(crate) fn rank_main(quick: bool, rounds: usize) {
    let pool = concur::mpi::MpiPoolExecutor::builder()
        .workers_per_rank(1)
        .join_timeout(Duration::from_secs(120))
        .world()
        .unwrap_or_else(|e| panic!("concur-bench: no MPI pool: {e}"));
    let (trips, batch, items) = sizes(quick);
    assert_eq!(pool.submit(inc, 0).join(), Ok(1), "the agents are up");
    let data = ByteBuf::from((0..LARGE).map(|i| (i % 251) as u8).collect::<Vec<u8>>());
    let mut round_trip = Vec::new();
    let mut throughput = Vec::new();
    let mut mapped = Vec::new();
    let mut large = Vec::new();
    for _ in 0..rounds {
        let t = Instant::now();
        for i in 0..trips {
            assert_eq!(pool.submit(inc, i).join(), Ok(i + 1));
        }
        round_trip.push(t.elapsed().as_secs_f64() / trips as f64 * 1e6);

        let t = Instant::now();
        let handles: Vec<_> = (0..batch).map(|i| pool.submit(inc, i)).collect();
        let sum: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(sum, batch * (batch + 1) / 2);
        throughput.push(batch as f64 / t.elapsed().as_secs_f64());

        let t = Instant::now();
        let sum: u64 = pool
            .map(inc, 0..items)
            .chunk_size(MAP_CHUNK)
            .map(Result::unwrap)
            .sum();
        assert_eq!(sum, items * (items + 1) / 2);
        mapped.push(items as f64 / t.elapsed().as_secs_f64());

        let t = Instant::now();
        let out = pool.submit(bump_bytes, data.clone()).join().unwrap();
        let took = t.elapsed().as_secs_f64();
        assert!(out.len() == LARGE && out[1] == 2);
        large.push(2.0 * LARGE as f64 / took / 1e9);
    }
    println!(
        "{{\"round_trip_us\": {}, \"throughput_tasks_per_s\": {}, \"map_items_per_s\": {}, \
         \"large_gb_per_s\": {}, \"workers\": {}}}",
        median(round_trip),
        median(throughput),
        median(mapped),
        median(large),
        pool.workers()
    );
    pool.shutdown();
}

/// `mpirun -n 3` with Open MPI's settings for this machine: as root, more ranks than
/// cores, TCP on loopback, and a safety net that ends a hung job.
fn mpirun() -> Command {
    let mut cmd = Command::new("mpirun");
    cmd.args(["--timeout", "600", "-n", "3"])
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .env("OMPI_MCA_rmaps_base_oversubscribe", "true")
        .env("OMPI_MCA_btl_tcp_if_include", "lo")
        .env("OMPI_MCA_oob_tcp_if_include", "lo")
        .stdin(Stdio::null());
    cmd
}

/// Runs `cmd` and returns the JSON object it printed last; `None` (reason on stderr) if it
/// could not run or failed.
fn json_of(what: &str, cmd: &mut Command) -> Option<PyJson> {
    let out = match cmd.output() {
        Ok(out) => out,
        Err(e) => {
            eprintln!("concur-bench: cannot run mpirun for {what} ({e}): scripts/install-mpi.sh");
            return None;
        }
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().rev().find(|l| l.starts_with('{'));
    match (out.status.success(), line) {
        (true, Some(line)) => Some(PyJson::parse(line)),
        _ => {
            eprintln!(
                "concur-bench: the {what} side failed ({}): {}{}",
                out.status,
                stdout,
                String::from_utf8_lossy(&out.stderr)
            );
            None
        }
    }
}

/// Runs both sides and prints the table.
pub(crate) fn run(quick: bool, rounds: Option<usize>) {
    let rounds = rounds.unwrap_or(if quick { 1 } else { 5 });
    let mut args = vec![RANK_FLAG.to_owned(), "--rounds".into(), rounds.to_string()];
    if quick {
        args.push("--quick".into());
    }
    let exe = std::env::current_exe().expect("the bench's own path");
    let concur = json_of("concur", mpirun().arg(exe).args(&args));
    let script = format!("{}/python/mpi_pool.py", env!("CARGO_MANIFEST_DIR"));
    let python = json_of(
        "mpi4py.futures",
        mpirun()
            .args(["python3", "-m", "mpi4py.futures", &script])
            .args(&args[1..]),
    );
    let (trips, batch, items) = sizes(quick);
    let rows: [(&str, &str, &str, bool); 4] = [
        ("round_trip_us", "round trip (submit, join)", "µs", false),
        (
            "throughput_tasks_per_s",
            "tasks per second (submit all, join all)",
            "tasks/s",
            true,
        ),
        (
            "map_items_per_s",
            "map items per second, chunks of 1,000",
            "items/s",
            true,
        ),
        (
            "large_gb_per_s",
            "16 MiB bytes there and back",
            "GB/s",
            true,
        ),
    ];
    println!("{trips} round trips, {batch} tasks, {items} map items; median of {rounds}");
    println!("2 agents x 1 worker (concur), 2 worker ranks (mpi4py)\n");
    println!("| benchmark | concur | mpi4py.futures | concur's advantage |");
    println!("|---|---:|---:|---:|");
    for (key, name, unit, higher_is_better) in rows {
        let c = concur.as_ref().and_then(|j| j.num(key));
        let p = python.as_ref().and_then(|j| j.num(key));
        let cell = |v: Option<f64>| v.map_or("n/a".to_owned(), |v| harness::fmt_value(v, unit));
        let advantage = match (c, p) {
            (Some(c), Some(p)) if c > 0.0 && p > 0.0 => {
                format!("{:.1}x", if higher_is_better { c / p } else { p / c })
            }
            _ => "n/a".to_owned(),
        };
        println!("| {name} | {} | {} | {advantage} |", cell(c), cell(p));
    }
    if let Some(v) = python.as_ref().and_then(|j| j.str("version")) {
        println!("\nmpi4py {v}");
    }
}
