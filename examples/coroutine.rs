//! The cheat sheet's async/await: "A coroutine must be 'brought to life' with `await` or
//! `asyncio.run`." In Rust a coroutine is a future: creating one runs none of its code;
//! `aio::run` (`asyncio.run`) or `.await` does.
//!
//! `cargo run --release --example coroutine`

use std::cell::Cell;
use std::thread;
use std::time::{Duration, Instant};

use concur::aio;

/// The cheat sheet's first example, line for line.
async fn cheat_sheet_main() {
    println!("Start");
    aio::sleep(Duration::from_secs(1)).await;
    println!("End");
}

/// A coroutine with a visible effect.
async fn bump(counter: &Cell<u32>) {
    counter.set(counter.get() + 1);
}

fn main() {
    // `asyncio.run(main())`
    let t = Instant::now();
    aio::run(cheat_sheet_main());
    println!("  (took {:?})\n", t.elapsed());

    // Created, never brought to life: nothing happens.
    let counter = Cell::new(0);
    let coroutine = bump(&counter);
    println!("coroutine created:    counter = {}", counter.get());
    // A bare `bump(&counter);` statement draws a warning (an error under `-D warnings`):
    //   warning: unused implementer of `Future` that must be used
    //   = note: futures do nothing unless you `.await` or poll them
    // (Python's "RuntimeWarning: coroutine 'bump' was never awaited".)
    drop(coroutine);
    println!("coroutine dropped:    counter = {}", counter.get());

    // Brought to life by `run`, then by `.await` inside another coroutine.
    aio::run(bump(&counter));
    println!("aio::run(bump(..)):   counter = {}", counter.get());
    aio::run(async {
        let _forgotten = bump(&counter); // never awaited: does nothing
        bump(&counter).await;
    });
    println!("one awaited, one not: counter = {}\n", counter.get());

    // Two tasks take turns on one thread: each `.await` hands the thread to the other.
    let t = Instant::now();
    aio::run(async {
        let tasks: Vec<_> = ["A", "B"]
            .into_iter()
            .map(|name| {
                aio::spawn(async move {
                    for step in 1..=3 {
                        println!("  task {name} step {step} on {:?}", thread::current().id());
                        aio::sleep(Duration::from_millis(100)).await; // waits, not blocks
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
    });
    println!(
        "2 tasks x 3 waits of 100 ms in {:?}, all on the main thread {:?}",
        t.elapsed(),
        thread::current().id()
    );
}
