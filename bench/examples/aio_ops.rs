//! One event-loop operation, many times, for instruction counts under callgrind (steady
//! on a shared machine where wall time is not): `spawn` (100,000 tasks spawned and
//! awaited), `yield` (1,000 tasks x 100 yields), `sleep` (100,000 concurrent 1 ms
//! sleeps).
//!
//! ```sh
//! cargo build --release -p concur-bench --example aio_ops
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/examples/aio_ops yield
//! ```

use std::time::Duration;

use concur::aio;

fn main() {
    let which = std::env::args().nth(1).unwrap_or_default();
    aio::run(async {
        match which.as_str() {
            "spawn" => {
                let tasks: Vec<_> = (0..100_000u32)
                    .map(|i| aio::spawn(async move { i }))
                    .collect();
                let mut sum = 0u64;
                for t in tasks {
                    sum += u64::from(t.await.unwrap());
                }
                assert_eq!(sum, 4_999_950_000);
            }
            "yield" => {
                let tasks: Vec<_> = (0..1000)
                    .map(|_| {
                        aio::spawn(async {
                            for _ in 0..100 {
                                aio::yield_now().await;
                            }
                        })
                    })
                    .collect();
                for t in tasks {
                    t.await.unwrap();
                }
            }
            "sleep" => {
                let tasks: Vec<_> = (0..100_000)
                    .map(|_| aio::spawn(aio::sleep(Duration::from_millis(1))))
                    .collect();
                for t in tasks {
                    t.await.unwrap();
                }
            }
            other => {
                eprintln!("aio_ops: give spawn, yield or sleep (got {other:?})");
                std::process::exit(2);
            }
        }
    });
}
