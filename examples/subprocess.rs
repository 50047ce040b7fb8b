//! asyncio's `create_subprocess_exec` on concur's loop: three children run at once while
//! the loop keeps serving its other tasks, and one of them is fed through a pipe.
//!
//! `cargo run --example subprocess`

use std::process::Stdio;
use std::time::{Duration, Instant};

use concur::aio::{self, process::Command};
use futures_lite::{AsyncReadExt, AsyncWriteExt};

fn main() {
    aio::run(async {
        let start = Instant::now();

        // Three sleepers of 0.3 s each, waited for concurrently: about 0.3 s in all.
        let sleepers: Vec<_> = (0..3)
            .map(|_| aio::spawn(async { Command::new("sleep").arg("0.3").status().await }))
            .collect();

        // Meanwhile, a pipeline through `tr`: write in one task, read in this one.
        let mut tr = Command::new("tr")
            .args(["a-z", "A-Z"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("tr starts");
        let mut stdin = tr.stdin.take().expect("piped");
        let writer = aio::spawn(async move {
            stdin.write_all(b"hello from the loop\n").await?;
            stdin.close().await // end of file: tr finishes
        });
        let mut shouted = String::new();
        tr.stdout
            .take()
            .expect("piped")
            .read_to_string(&mut shouted)
            .await
            .expect("tr's output");
        writer
            .await
            .expect("the writer task")
            .expect("writing to tr");
        println!(
            "tr said {:?} ({})",
            shouted.trim_end(),
            tr.wait().await.expect("tr's status")
        );

        // And a ticker, to show the loop is not blocked by any of it.
        let ticker = aio::spawn(async {
            for i in 1..=3 {
                aio::sleep(Duration::from_millis(80)).await;
                println!("tick {i}");
            }
        });

        for s in sleepers {
            let status = s.await.expect("the sleeper task").expect("sleep runs");
            assert!(status.success());
        }
        ticker.await.expect("the ticker task");
        println!("three 0.3 s sleeps took {:.2?} together", start.elapsed());

        // `output` collects stdout and stderr: `await proc.communicate()`.
        let out = Command::new("sh")
            .args(["-c", "echo to stdout; echo to stderr >&2; exit 3"])
            .output()
            .await
            .expect("sh runs");
        println!(
            "sh exited with {:?}, stdout {:?}, stderr {:?}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    });
}
