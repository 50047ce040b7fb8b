//! `concur-bench`: concur and its peers side by side in one process run, as ratios.
//!
//! `cargo run --release -p concur-bench -- [threads|map|aio|echo|ecosystem|processes] [--quick]`

mod aio;
mod echo;
mod echo_loop;
mod ecosystem;
mod harness;
mod lopsided;
mod memory;
#[cfg(feature = "mpi")]
mod mpi;
mod processes;
mod procspawn_peer;
mod threads;

use std::process::ExitCode;

const HELP: &str = "\
concur-bench: concur side by side with its peers, in one run, as ratios.

USAGE:
    cargo run --release -p concur-bench -- [SUITE...] [--quick]

SUITES:
    threads   thread pools: concur, rayon, threadpool, tokio spawn_blocking, CPython
    aio       event loops: concur::aio, tokio current_thread, smol, CPython asyncio, uvloop
    echo      TCP echo servers on each event loop, one blocking Rust load generator
    echo-cost the serving thread's CPU time per 1 KiB echo round trip: a blocking floor,
              concur::aio on epoll and on io_uring, tokio current_thread, monoio (not in
              the default run)
    echo-loop issue 17's setup: 1 KiB echo over 50 connections, clients and servers as
              tasks of one loop on one thread; its CPU time per round trip beside a floor
              (one blocking connection), concur on epoll and io_uring, tokio
              current_thread, monoio (not in the default run)
    ecosystem hyper 1.x hello-world server on concur::aio vs on tokio current_thread (one
              load generator: requests/s, p50, p99); a tokio socket inside aio::run
    map       map over lopsided work: concur's default window, a fixed 2 x workers window,
              map_unordered, rayon par_iter, CPython ThreadPoolExecutor.map
    processes process pools: concur, procspawn, CPython ProcessPoolExecutor (and rayon
              and a sequential loop on the CPU-bound row)
    mpi       MPI pools under mpirun -n 3: concur's MpiPoolExecutor, mpi4py.futures
              (build with --features mpi; not in the default set)
              (default: all suites)

OPTIONS:
    --quick       fewer operations and rounds (a smoke run, not a measurement)
    --rounds N    measured rounds per contender (the median is reported; default 7)
    --only ROW    echo-cost, echo-loop: that row alone (floor, concur-epoll, concur-io_uring, tokio,
                  monoio), to run under `strace -f -c`
    -h, --help
";

fn main() -> ExitCode {
    // First: procspawn's workers are this executable started again, and take over here
    // (concur's workers never get this far; a hook before `main` serves them).
    procspawn_peer::init();
    let mut quick = false;
    let mut rounds = None;
    let mut only = None;
    #[cfg(feature = "mpi")]
    let mut mpi_rank = false;
    let mut suites = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--memory-probe" {
            // Internal: a child process measuring one runtime's memory.
            let runtime = args.next().unwrap_or_default();
            let n = args
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or(1_000_000);
            memory::probe(&runtime, n);
        }
        match arg.as_str() {
            "--quick" => quick = true,
            "--rounds" => match args.next().and_then(|n| n.parse::<usize>().ok()) {
                Some(n) if n > 0 => rounds = Some(n),
                _ => {
                    eprintln!("concur-bench: --rounds needs a positive number");
                    return ExitCode::from(2);
                }
            },
            "--only" => match args.next() {
                Some(row) => only = Some(row),
                None => {
                    eprintln!("concur-bench: --only needs a row of echo-cost or echo-loop");
                    return ExitCode::from(2);
                }
            },
            "-h" | "--help" => {
                print!("{HELP}");
                return ExitCode::SUCCESS;
            }
            "threads" | "map" | "aio" | "echo" | "echo-cost" | "echo-loop" | "ecosystem"
            | "processes" | "mpi" => suites.push(arg),
            #[cfg(feature = "mpi")]
            "--mpi-rank" => mpi_rank = true,
            other => {
                eprintln!("concur-bench: unknown argument '{other}' (try --help)");
                return ExitCode::from(2);
            }
        }
    }
    #[cfg(feature = "mpi")]
    if mpi_rank {
        // Internal: a rank of the concur side's `mpirun` (see `mpi::run`).
        mpi::rank_main(quick, rounds.unwrap_or(1));
        return ExitCode::SUCCESS;
    }
    if suites.is_empty() {
        suites = ["threads", "map", "aio", "echo", "ecosystem", "processes"]
            .map(str::to_owned)
            .to_vec();
    }
    for suite in suites {
        if suite == "threads" {
            println!("## Thread pools\n");
            harness::print_table(&threads::run(quick, rounds));
            println!();
        }
        if suite == "map" {
            println!("## Lopsided map\n");
            harness::print_table(&lopsided::run(quick, rounds));
            println!();
        }
        if suite == "echo" {
            println!("## TCP echo over loopback\n");
            harness::print_table(&echo::run(quick, rounds));
            println!();
        }
        if suite == "echo-cost"
            && let Err(why) = echo::cost(quick, rounds, only.as_deref())
        {
            eprintln!("concur-bench: {why}");
            return ExitCode::from(2);
        }
        if suite == "echo-loop"
            && let Err(why) = echo_loop::run(quick, rounds, only.as_deref())
        {
            eprintln!("concur-bench: {why}");
            return ExitCode::from(2);
        }
        if suite == "ecosystem" {
            println!("## hyper hello-world over loopback\n");
            ecosystem::print_hyper(&ecosystem::run_hyper(quick, rounds));
            println!("\n## tokio sockets inside concur's loop\n");
            harness::print_table(&ecosystem::run_tokio_compat(quick, rounds));
            println!();
        }
        if suite == "aio" {
            println!("## Event loops\n");
            harness::print_table(&aio::run(quick, rounds));
            println!("\n| benchmark | concur | tokio | smol |\n|---|---:|---:|---:|");
            memory::print(&memory::run(quick), quick);
            println!();
        }
        if suite == "mpi" {
            #[cfg(feature = "mpi")]
            {
                println!("## MPI pools\n");
                mpi::run(quick, rounds);
                println!();
            }
            #[cfg(not(feature = "mpi"))]
            {
                eprintln!("concur-bench: the mpi suite needs `--features mpi` (and Open MPI)");
                return ExitCode::from(2);
            }
        }
        if suite == "processes" {
            println!("## Process pools\n");
            processes::print(&processes::run(quick, rounds));
            println!();
        }
    }
    ExitCode::SUCCESS
}
