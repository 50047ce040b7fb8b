//! Ctrl-C on the event loop, two ways.
//!
//! 1. A program that listens (`aio::signal::ctrl_c`) stops gracefully: it finishes what it
//!    was doing and returns normally.
//! 2. A program that does not listen is interrupted by `aio::run`, as `asyncio.run` does:
//!    the main future and the tasks are dropped (their `Drop` runs), then the process ends
//!    by `SIGINT`, as any program ended by Ctrl-C.
//!
//! `cargo run --example ctrl_c` and press Ctrl-C twice (once per part). Run it in the
//! foreground: a non-interactive shell starts background jobs with `SIGINT` ignored, and
//! `aio::run` leaves an ignored `SIGINT` alone (part 2 then runs until killed otherwise).

use std::time::Duration;

use concur::aio;

/// Prints when dropped: the cleanup that Ctrl-C must not skip.
struct Cleanup(&'static str);

impl Drop for Cleanup {
    fn drop(&mut self) {
        println!("cleanup: {}", self.0);
    }
}

/// Prints a tick every half second, forever.
async fn work(name: &'static str) {
    let _cleanup = Cleanup(name);
    let mut tick = aio::interval(Duration::from_millis(500));
    for n in 0.. {
        tick.tick().await;
        println!("{name}: tick {n}");
    }
}

fn main() {
    println!("part 1: press Ctrl-C for a graceful stop");
    aio::run(async {
        let worker = aio::spawn(work("graceful worker"));
        aio::signal::ctrl_c().await.unwrap();
        println!("Ctrl-C: stopping the worker");
        worker.cancel();
    });
    println!("part 1 done\n");

    println!("part 2: press Ctrl-C to interrupt aio::run");
    aio::run(async {
        aio::spawn(work("background task"));
        work("main future").await;
    });
    unreachable!("aio::run does not return after Ctrl-C: the process ends by SIGINT");
}
