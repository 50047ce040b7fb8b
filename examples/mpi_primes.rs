//! Counting primes across the ranks of an MPI job: `concur::mpi::MpiPoolExecutor`, the
//! process pool's API beyond one machine.
//!
//! ```sh
//! scripts/install-mpi.sh                      # Open MPI and libclang, when missing
//! cargo build --release --features mpi --example mpi_primes
//! mpirun -n 3 target/release/examples/mpi_primes
//! ```
//!
//! As root, Open MPI also wants `OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1`;
//! with more ranks than cores, `OMPI_MCA_rmaps_base_oversubscribe=true` (README, "Beyond
//! one machine (MPI)"). Every rank runs this `main`; only rank 0 comes back from
//! `world()`, the other ranks serve its tasks and exit when it is done.

use std::time::Instant;

use concur::mpi::MpiPoolExecutor;

/// The primes in `[start, start + len)`, by trial division: CPU work worth sending away.
fn primes_in((start, len): (u64, u64)) -> u64 {
    (start..start + len)
        .filter(|&n| n >= 2 && (2..).take_while(|d| d * d <= n).all(|d| n % d != 0))
        .count() as u64
}

fn main() {
    let pool = match MpiPoolExecutor::world() {
        Ok(pool) => pool,
        Err(e) => {
            eprintln!("mpi_primes: {e}");
            std::process::exit(1);
        }
    };
    println!(
        "{} ranks, {} workers on the {} agents",
        pool.ranks(),
        pool.workers(),
        pool.ranks() - 1
    );

    // One task: its handle is concur's JoinHandle, as for every pool.
    let below_10k = pool.submit(primes_in, (0, 10_000));
    println!("primes below 10,000: {}", below_10k.join().unwrap());

    // `map`: blocks of 100,000 numbers, sent in chunks, results in order.
    let began = Instant::now();
    let blocks = 40u64;
    let per_block: Vec<u64> = pool
        .map(primes_in, (0..blocks).map(|b| (b * 100_000, 100_000)))
        .map(Result::unwrap)
        .collect();
    let total: u64 = per_block.iter().sum();
    println!(
        "primes below {}: {total} ({} blocks in {:.2?})",
        blocks * 100_000,
        per_block.len(),
        began.elapsed()
    );
    assert_eq!(total, 283_146, "pi(4,000,000)");
    // Dropping the pool shuts it down: the agents exit, and MPI is finalised everywhere.
}
