//! `map` over lopsided work, side by side: concur's default window, concur with the
//! fixed `2 × workers` window that was the default before (`map_bounded`), concur's
//! `map_unordered`, rayon's `par_iter().map().collect()`, and CPython's
//! `ThreadPoolExecutor.map` (`python/lopsided_map.py`, same run, same items).
//!
//! An item is a "file" of some bytes, and the work is its SHA-256 (CPython's `hashlib`
//! releases the GIL while it hashes, so its threads run in parallel too). The sizes are a
//! fixed, generated distribution: the quantiles of a Pareto law whose top 1% of items
//! hold half the bytes, in an order shuffled by a fixed seed.

use std::io::Write;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::harness::{self, measure, Contender, Measured};

/// The item sizes: `n` quantiles of a Pareto law, `(i + ½) / n` for `i` in `0..n`, its
/// shape chosen (by bisection) so that the largest 1% of the items hold half of the
/// bytes; scaled to about `total` bytes, shuffled with a fixed xorshift.
pub(crate) fn sizes(n: usize, total: usize) -> Vec<usize> {
    let quantiles = |alpha: f64| -> Vec<f64> {
        (0..n)
            .map(|i| ((i as f64 + 0.5) / n as f64).powf(-1.0 / alpha))
            .collect()
    };
    let share = |q: &[f64]| -> f64 {
        // `q` is sorted largest first.
        q[..n.div_ceil(100)].iter().sum::<f64>() / q.iter().sum::<f64>()
    };
    // A smaller shape, a heavier tail: the share falls as `alpha` grows.
    let (mut lo, mut hi) = (0.5f64, 4.0f64);
    for _ in 0..60 {
        let mid = (lo + hi) / 2.0;
        if share(&quantiles(mid)) > 0.5 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let raw = quantiles((lo + hi) / 2.0);
    let sum: f64 = raw.iter().sum();
    let mut sizes: Vec<usize> = raw
        .iter()
        .map(|r| ((r / sum) * total as f64).ceil() as usize)
        .collect();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for i in (1..sizes.len()).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        sizes.swap(i, (x % (i as u64 + 1)) as usize);
    }
    sizes
}

/// The share of the bytes held by the largest 1% of items.
fn top_share(sizes: &[usize]) -> f64 {
    let mut s = sizes.to_vec();
    s.sort_unstable_by(|a, b| b.cmp(a));
    let top: usize = s[..s.len().div_ceil(100)].iter().sum();
    top as f64 / s.iter().sum::<usize>() as f64
}

/// The first 8 bytes of the SHA-256 of `data`.
fn hash(data: &[u8]) -> u64 {
    let d = Sha256::digest(data);
    u64::from_le_bytes(d[..8].try_into().expect("8 bytes"))
}

/// CPython's time per run on the same items, if `python3` is there.
fn cpython(sizes: &[usize], workers: usize, rounds: usize) -> Option<std::time::Duration> {
    let path = std::env::temp_dir().join(format!("concur-bench-lopsided-{}", std::process::id()));
    let mut f = std::fs::File::create(&path).ok()?;
    for s in sizes {
        writeln!(f, "{s}").ok()?;
    }
    drop(f);
    let out = harness::python_json(
        "lopsided_map.py",
        &[
            path.display().to_string(),
            workers.to_string(),
            rounds.to_string(),
        ],
    );
    let _ = std::fs::remove_file(&path);
    let out = out?;
    eprintln!(
        "CPython {} ThreadPoolExecutor.map measured in the same run",
        out.str("version")?
    );
    Some(std::time::Duration::from_nanos(
        out.num("per_run_ns")? as u64
    ))
}

pub(crate) fn run(quick: bool, rounds: Option<usize>) -> Vec<Measured> {
    let rounds = rounds.unwrap_or(if quick { 3 } else { 7 });
    let (n, total) = if quick {
        (2_000, 32 << 20)
    } else {
        (10_000, 256 << 20)
    };
    let workers = std::thread::available_parallelism().map_or(2, |c| c.get());
    let sizes = sizes(n, total);
    let data: Arc<Vec<u8>> = Arc::new(
        (0..*sizes.iter().max().expect("items"))
            .map(|i| (i * 31 % 251) as u8)
            .collect(),
    );
    let largest = *sizes.iter().max().expect("items");
    let expected: u64 = sizes.iter().fold(0, |acc, &s| acc ^ hash(&data[..s]));
    let pool = concur::ThreadPoolExecutor::new(workers);
    let rayon = rayon::ThreadPoolBuilder::new()
        .num_threads(workers)
        .build()
        .expect("rayon pool");
    let name = format!(
        "lopsided map: SHA-256 of {n} items, {} MiB, top 1% = {:.0}% of the bytes, largest {:.1}%, {workers} workers, per run",
        sizes.iter().sum::<usize>() >> 20,
        100.0 * top_share(&sizes),
        100.0 * largest as f64 / sizes.iter().sum::<usize>() as f64
    );
    let s = &sizes;
    let d = &data;
    let mut row = measure(
        &name,
        1,
        rounds,
        vec![
            Contender::new("concur map", |_| {
                let data = Arc::clone(d);
                let got = pool
                    .map(move |len: usize| hash(&data[..len]), s.iter().copied())
                    .fold(0, |acc, r| acc ^ r.expect("hashed"));
                assert_eq!(got, expected);
            }),
            Contender::new("concur map_bounded(2 x workers)", |_| {
                let data = Arc::clone(d);
                let got = pool
                    .map_bounded(
                        move |len: usize| hash(&data[..len]),
                        s.iter().copied(),
                        2 * workers,
                    )
                    .fold(0, |acc, r| acc ^ r.expect("hashed"));
                assert_eq!(got, expected);
            }),
            Contender::new("concur map_unordered", |_| {
                let data = Arc::clone(d);
                let got = pool
                    .map_unordered(move |len: usize| hash(&data[..len]), s.iter().copied())
                    .fold(0, |acc, (_, r)| acc ^ r.expect("hashed"));
                assert_eq!(got, expected);
            }),
            Contender::new("rayon par_iter", |_| {
                use rayon::prelude::*;
                let got: Vec<u64> =
                    rayon.install(|| s.par_iter().map(|&len| hash(&d[..len])).collect());
                assert_eq!(got.iter().fold(0, |acc, h| acc ^ h), expected);
            }),
        ],
    );
    // The sequential time, for scale.
    let t = std::time::Instant::now();
    let seq = sizes.iter().fold(0, |acc, &s| acc ^ hash(&data[..s]));
    assert_eq!(seq, expected);
    row.benchmark = format!(
        "{} (sequential: {})",
        row.benchmark,
        harness::fmt_time(t.elapsed())
    );
    row.per_op
        .push(("CPython", cpython(&sizes, workers, rounds)));
    vec![row]
}
