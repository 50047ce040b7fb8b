//! How the ranks of an `mpirun` become one pool: every rank starts its MPI thread, which
//! initialises MPI (funneled: it alone makes MPI calls); the agents say hello (who they
//! are, their build's fingerprint, their local workers); rank 0 checks every hello and
//! starts them all, or refuses them all and says why. Then rank 0's thread dispatches
//! and each agent's serves, until rank 0 shuts down.
//!
//! A panic on an MPI thread aborts the rank with a message: unwinding would drop the MPI
//! universe, and `MPI_Finalize` after a failure blocks forever (measured with Open MPI
//! 4.1, issue 18). The universe is therefore held in a `ManuallyDrop` and finalised only
//! on the normal way out.

use std::mem::ManuallyDrop;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Instant;

use mpi::topology::{Communicator, Rank};
use mpi::Threading;

use super::agent::{self, End};
use super::builder::Config;
use super::dispatch::{self, Agent, Shared};
use super::fingerprint;
use super::link::{Backoff, Incoming, Link};
use super::wire::{self, FromAgent, Hello};
use crate::ProcessPoolExecutor;

/// Set in the environment of an agent's local workers: a task cannot start a pool of its
/// own from there (it would initialise MPI in a worker).
pub(crate) const LOCAL_WORKER: &str = "CONCUR_MPI_LOCAL_WORKER";

/// Environment variables that launchers set for MPI ranks (Open MPI, PMIx, PMI, Slurm's
/// PMI, MPICH's Hydra): one of them tells a rank from a program started by hand.
const LAUNCHED_BY: &[&str] = &[
    "OMPI_COMM_WORLD_SIZE",
    "PMIX_RANK",
    "PMI_RANK",
    "PMI_SIZE",
    "MPI_LOCALNRANKS",
];

/// Prefixes of the variables an agent's local workers do not inherit: the launcher's
/// (and MPI libraries') settings, so nothing in a worker can take it for an MPI rank.
const NOT_INHERITED: &[&str] = &["OMPI_", "OPAL_", "PMIX_", "PMI_", "HYDRA_", "MPICH_"];

/// This rank, once MPI has said (-1 before): for the message of a panic.
static RANK: AtomicI32 = AtomicI32::new(-1);

/// What the MPI thread tells the thread that called `world()`.
pub(crate) enum Started {
    /// Rank 0: the pool is ready.
    Root {
        shared: Arc<Shared>,
        ranks: usize,
        workers: usize,
    },
    /// Another rank: it serves, and the process ends when rank 0 shuts down.
    Agent,
    /// No pool: why.
    Failed(String),
}

/// Why this process cannot become a rank of a pool, if it cannot: it is a local worker of
/// an agent, or no MPI launcher started it.
pub(crate) fn unusable_here() -> Option<String> {
    if std::env::var_os(LOCAL_WORKER).is_some() {
        return Some(
            "this process is a worker of an MPI agent's local pool: a task cannot start an \
             MpiPoolExecutor (it would initialise MPI in a worker)"
                .to_owned(),
        );
    }
    if LAUNCHED_BY.iter().all(|v| std::env::var_os(v).is_none()) {
        return Some(format!(
            "this process was not started by an MPI launcher (none of {} is set): run it \
             as `mpirun -n 3 {}` (or under `srun`)",
            LAUNCHED_BY.join(", "),
            std::env::args()
                .next()
                .unwrap_or_else(|| "./program".to_owned())
        ));
    }
    None
}

/// The body of every rank's MPI thread.
pub(crate) fn mpi_thread(config: Config, tx: mpsc::Sender<Started>) {
    let run = catch_unwind(AssertUnwindSafe(|| start(&config, &tx)));
    if let Err(payload) = run {
        eprintln!(
            "concur: the MPI thread of rank {} panicked ({}); aborting the rank, since \
             finalising MPI after a panic can block forever",
            RANK.load(Ordering::Relaxed),
            crate::handle::panic_message(&*payload)
        );
        std::process::abort();
    }
}

fn start(config: &Config, tx: &mpsc::Sender<Started>) {
    let Some((universe, threading)) = mpi::initialize_with_threading(Threading::Funneled) else {
        let _ = tx.send(Started::Failed(
            "MPI is already initialised (or finalised) in this process: one \
             MpiPoolExecutor per process, and MPI initialised by nothing else"
                .to_owned(),
        ));
        return;
    };
    // Finalised only on the normal way out (see the module's notes).
    let universe = ManuallyDrop::new(universe);
    let world = universe.world();
    let rank = world.rank();
    RANK.store(rank, Ordering::Relaxed);
    let mut link = Link::new(world.duplicate());
    drop(world);
    if threading < Threading::Funneled {
        // Only this thread makes MPI calls, but the library must know other threads exist.
        log::warn!("concur: the MPI library offers threading {threading:?}, not Funneled");
    }
    if rank == 0 {
        if root(config, &mut link, tx) {
            drop(link);
            drop(ManuallyDrop::into_inner(universe));
        } else {
            // A rank is lost: no more MPI calls at all (freeing the communicator is one).
            std::mem::forget(link);
        }
    } else {
        let _ = tx.send(Started::Agent);
        let (code, finalize) = serve(config, &mut link, rank);
        if finalize {
            drop(link);
            drop(ManuallyDrop::into_inner(universe));
        }
        std::process::exit(code);
    }
}

/// Rank 0: gathers the hellos, starts or refuses the agents, then dispatches until the
/// executor shuts down. Returns whether MPI may be finalised.
fn root(config: &Config, link: &mut Link, tx: &mpsc::Sender<Started>) -> bool {
    let size = link.size();
    if size < 2 {
        let _ = tx.send(Started::Failed(
            "an MpiPoolExecutor needs at least 2 ranks (rank 0 submits, the others serve \
             tasks): run `mpirun -n 3 ...`"
                .to_owned(),
        ));
        return true;
    }
    let build = fingerprint::of_this_build();
    let mut hellos: Vec<Option<Hello>> = vec![None; size as usize];
    let began = Instant::now();
    let mut backoff = Backoff::default();
    let mut problems = Vec::new();
    while hellos[1..].iter().any(Option::is_none) {
        let Some(m) = link.receive(None) else {
            if began.elapsed() > config.hello_timeout {
                let missing: Vec<String> = (1..size)
                    .filter(|&r| hellos[r as usize].is_none())
                    .map(|r| r.to_string())
                    .collect();
                eprintln!(
                    "concur: MPI ranks {} did not join the pool within {:?}: does every rank \
                     call MpiPoolExecutor::world()? Aborting the job.",
                    missing.join(", "),
                    config.hello_timeout
                );
                link.abort(70);
            }
            backoff.idle(true);
            continue;
        };
        backoff.reset();
        let (from, hello) = match m {
            Incoming::TooLarge { from, len } => (from, Err(format!("a hello of {len} bytes"))),
            Incoming::Message { from, bytes } => match wire::decode_from_agent(&bytes) {
                Ok(FromAgent::Hello(h)) => (from, Ok(h)),
                Ok(other) => (from, Err(format!("{other:?} instead of a hello"))),
                Err(e) => (from, Err(e.0)),
            },
        };
        match hello {
            Ok(h) if hellos[from as usize].is_none() => hellos[from as usize] = Some(h),
            Ok(_) => problems.push(format!("rank {from} said hello twice")),
            Err(e) => {
                problems.push(format!("rank {from} broke the protocol: {e}"));
                // Counted as there, so the start-up ends; it is refused below.
                hellos[from as usize] = Some(Hello {
                    version: 0,
                    build: 0,
                    workers: 0,
                    pid: 0,
                    host: String::new(),
                    problem: Some(e),
                });
            }
        }
    }
    let ours = match &build {
        Ok(b) => *b,
        Err(e) => {
            problems.push(format!("rank 0 cannot read its own executable: {e}"));
            0
        }
    };
    let mut agents = Vec::new();
    for (rank, hello) in hellos.iter().enumerate().skip(1) {
        let h = hello.as_ref().expect("every rank said hello");
        if let Some(p) = &h.problem {
            problems.push(format!("rank {rank} (host {}, pid {}): {p}", h.host, h.pid));
        } else if h.version != wire::VERSION {
            problems.push(format!(
                "rank {rank} (host {}, pid {}) speaks protocol version {}, rank 0 {}",
                h.host,
                h.pid,
                h.version,
                wire::VERSION
            ));
        } else if h.build != ours {
            problems.push(format!(
                "rank {rank} (host {}, pid {}) runs another build than rank 0 (its \
                 executable's contents differ): every rank must run the same binary",
                h.host, h.pid
            ));
        }
        agents.push(Agent::new(rank as Rank, h.workers as usize));
    }
    if !problems.is_empty() {
        let reason = format!("the MPI pool was refused: {}", problems.join("; "));
        for rank in 1..size {
            link.send(rank, wire::refuse(&reason));
        }
        link.flush(drop);
        let _ = tx.send(Started::Failed(reason));
        return true;
    }
    for rank in 1..size {
        link.send(rank, wire::start());
    }
    let workers = agents.iter().map(|a| a.workers).sum();
    let shared = Arc::new(Shared::new(agents));
    shared.set_thread(std::thread::current());
    let _ = tx.send(Started::Root {
        shared: shared.clone(),
        ranks: size as usize,
        workers,
    });
    dispatch::run(&shared, link, config.silence)
}

/// An agent: says hello, and serves once started. Returns the process's exit code, and
/// whether MPI may be finalised (not when rank 0 is gone: that would wait for it).
fn serve(config: &Config, link: &mut Link, rank: Rank) -> (i32, bool) {
    let pool = local_pool(config);
    let (workers, mut problem) = match &pool {
        Ok(p) => (p.max_workers() as u32, None),
        Err(e) => (0, Some(format!("its local process pool cannot start: {e}"))),
    };
    let build = fingerprint::of_this_build().unwrap_or_else(|e| {
        problem.get_or_insert(format!("it cannot read its own executable: {e}"));
        0
    });
    let host = mpi::environment::processor_name().unwrap_or_default();
    link.send(
        0,
        wire::hello(&Hello {
            version: wire::VERSION,
            build,
            workers,
            pid: std::process::id(),
            host,
            problem,
        }),
    );
    let end = match agent::await_start(link, config.hello_timeout + config.silence) {
        Ok(()) => match &pool {
            Ok(pool) => agent::serve(link, pool, config.silence),
            Err(_) => End::Protocol("started although its pool could not start".to_owned()),
        },
        Err(end) => end,
    };
    if let Ok(pool) = &pool {
        pool.shutdown_kill();
    }
    match end {
        End::Shutdown { finalize } => (0, finalize),
        End::Refused(why) => {
            eprintln!("concur: MPI rank {rank} does not serve: {why}");
            link.flush(drop);
            // Not an error code: an agent's makes `mpirun` kill the whole job at once,
            // rank 0 too, before it could report the error `world()` gave it.
            (0, true)
        }
        End::Orphaned(why) => {
            eprintln!("concur: MPI rank {rank} leaves: {why}; its workers were killed");
            (agent::EXIT_ORPHANED, false)
        }
        End::Protocol(why) => {
            eprintln!("concur: MPI rank {rank}: rank 0 broke the protocol ({why}); leaving");
            link.abort(agent::EXIT_PROTOCOL)
        }
    }
}

/// The agent's local process pool: the builder's settings, and none of the launcher's
/// environment.
fn local_pool(config: &Config) -> Result<ProcessPoolExecutor, crate::Error> {
    let mut b = ProcessPoolExecutor::builder().env(LOCAL_WORKER, "1");
    if let Some(n) = config.workers_per_rank {
        b = b.max_workers(n);
    }
    if let Some(t) = config.task_timeout {
        b = b.task_timeout(t);
    }
    for (key, _) in std::env::vars_os() {
        let inherited = key
            .to_str()
            .is_none_or(|k| !NOT_INHERITED.iter().any(|p| k.starts_with(p)));
        if !inherited {
            b = b.env_remove(key);
        }
    }
    b.build()
}
