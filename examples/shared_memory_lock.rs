//! The cheat sheet's ThreadPool: "Shared memory: be careful (use `Lock` and the like)."
//! Four tasks of a pool add 1 to one counter 100 000 times each; the total must be
//! 400 000. Rust's compiler refuses the unsynchronized version outright, and a lock must
//! cover the whole read-modify-write, on threads and on the event loop alike.
//!
//! `cargo run --release --example shared_memory_lock`

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use concur::{aio, ThreadPoolExecutor};

const TASKS: u64 = 4;
const ADDS: u64 = 100_000;

fn main() {
    let pool = ThreadPoolExecutor::new(TASKS as usize);

    // In Python, `counter += 1` from several threads loses updates. In Rust it does not
    // compile: with `let mut counter = 0u64;` and `s.submit(|| for _ in 0..ADDS { counter
    // += 1 })` below, rustc says
    //
    //   error[E0499]: cannot borrow `counter` as mutable more than once at a time
    //     |             s.submit(|| {
    //     |             -        ^^ `counter` was mutably borrowed here in the previous
    //     |                         iteration of the loop
    //     |                 counter += 1;
    //     |                 ------- borrows occur due to use of `counter` in closure
    //
    // (`submit` outside a scope says E0373 instead: the closure may outlive `counter`.)

    // The fix: a `Mutex` (Python's `Lock`, holding the data it guards) ...
    let counter = Mutex::new(0u64);
    pool.scope(|s| {
        for _ in 0..TASKS {
            s.submit(|| {
                for _ in 0..ADDS {
                    *counter.lock().unwrap() += 1;
                }
            });
        }
    });
    println!("std::sync::Mutex:     {}", counter.into_inner().unwrap());

    // ... or, for a single number, an atomic: no lock at all.
    let counter = AtomicU64::new(0);
    pool.scope(|s| {
        for _ in 0..TASKS {
            s.submit(|| {
                for _ in 0..ADDS {
                    counter.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    });
    println!("AtomicU64::fetch_add: {}", counter.into_inner());

    // Still a trap in safe Rust: each access locked, but the lock let go between the read
    // and the write. Two tasks read the same value and one increment is lost.
    let counter = Mutex::new(0u64);
    pool.scope(|s| {
        for _ in 0..TASKS {
            s.submit(|| {
                for _ in 0..ADDS {
                    let v = *counter.lock().unwrap();
                    std::thread::yield_now(); // another task may write meanwhile
                    *counter.lock().unwrap() = v + 1;
                }
            });
        }
    });
    let n = counter.into_inner().unwrap();
    println!(
        "read, unlock, write:  {n} ({} updates lost)",
        TASKS * ADDS - n
    );

    // The event loop has the same trap with one thread: a task that awaits between its
    // read and its write lets the others read the same value.
    let counter = Cell::new(0u64);
    aio::run(aio::gather((0..TASKS).map(|_| async {
        let v = counter.get();
        aio::yield_now().await; // the others run here
        counter.set(v + 1);
    })));
    println!("aio, no lock:         {} of {TASKS}", counter.get());

    // `aio::sync::Mutex` (`asyncio.Lock`) may be held across the await: the others wait
    // for it without blocking the thread.
    let counter = aio::sync::Mutex::new(0u64);
    aio::run(aio::gather((0..TASKS).map(|_| async {
        let mut guard = counter.lock().await;
        let v = *guard;
        aio::yield_now().await;
        *guard = v + 1;
    })));
    println!("aio::sync::Mutex:     {} of {TASKS}", counter.into_inner());
}
