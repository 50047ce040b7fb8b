//! What crosses a process pool's boundary: values in a compact serde format, errors that
//! say which side could not encode or decode what, `map` in input order, and shared
//! memory that crosses by handle.

use std::sync::atomic::{AtomicUsize, Ordering};

use concur::{ProcessPoolExecutor, SharedBuffer, TaskError};
use serde::de::Error as _;
use serde::ser::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Serializes only if `.0` is true, deserializes only if it reads `true`.
#[derive(Debug)]
struct Picky(bool);

impl Serialize for Picky {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.0 {
            s.serialize_bool(true)
        } else {
            Err(S::Error::custom("picky refuses"))
        }
    }
}

impl<'de> Deserialize<'de> for Picky {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let _ = bool::deserialize(d)?;
        Err(D::Error::custom("picky will not be decoded"))
    }
}

fn serialization_error(r: Result<impl std::fmt::Debug, TaskError>) -> String {
    match r {
        Err(TaskError::Serialization(msg)) => msg,
        other => panic!("expected a serialization error, got {other:?}"),
    }
}

#[test]
fn an_argument_that_cannot_be_encoded_fails_at_once() {
    fn take(_: Picky) -> u8 {
        1
    }
    let pool = ProcessPoolExecutor::new(1).unwrap();
    let msg = serialization_error(pool.submit(take, Picky(false)).join());
    assert!(msg.contains("argument could not be encoded"), "{msg}");
    assert_eq!(pool.stats().spawned, 0, "nothing was sent");
}

#[test]
fn an_argument_that_cannot_be_decoded_in_the_worker_fails_its_task() {
    fn take(_: Picky) -> u8 {
        1
    }
    let pool = ProcessPoolExecutor::new(1).unwrap();
    let msg = serialization_error(pool.submit(take, Picky(true)).join());
    assert!(
        msg.contains("argument could not be decoded in the worker"),
        "{msg}"
    );
    assert_eq!(pool.submit(|x: u8| x, 3).join(), Ok(3));
}

#[test]
fn a_result_that_cannot_be_encoded_fails_its_task() {
    fn give(_: ()) -> Picky {
        Picky(false)
    }
    let pool = ProcessPoolExecutor::new(1).unwrap();
    let msg = serialization_error(pool.submit(give, ()).join());
    assert!(
        msg.contains("result could not be encoded in the worker"),
        "{msg}"
    );
    assert_eq!(pool.submit(|x: u8| x, 3).join(), Ok(3));
}

#[test]
fn a_result_that_cannot_be_decoded_fails_its_task() {
    fn give(_: ()) -> Picky {
        Picky(true)
    }
    let pool = ProcessPoolExecutor::new(1).unwrap();
    let msg = serialization_error(pool.submit(give, ()).join());
    assert!(msg.contains("result could not be decoded"), "{msg}");
}

#[test]
fn an_argument_over_the_frame_limit_fails_and_says_what_to_do() {
    let pool = ProcessPoolExecutor::builder()
        .max_frame_bytes(1024)
        .build()
        .unwrap();
    let msg = serialization_error(pool.submit(|v: Vec<u8>| v.len(), vec![7; 4096]).join());
    assert!(
        msg.contains("exceeds the limit of 1024") && msg.contains("SharedBuffer"),
        "{msg}"
    );
}

#[test]
fn several_arguments_travel_as_a_tuple() {
    fn describe((name, n, xs): (String, u32, Vec<f64>)) -> String {
        format!("{name}:{n}:{}", xs.iter().sum::<f64>())
    }
    let pool = ProcessPoolExecutor::new(1).unwrap();
    let h = pool.submit(describe, ("a".to_owned(), 2, vec![0.5, 1.0]));
    assert_eq!(h.join().unwrap(), "a:2:1.5");
}

fn square(x: u64) -> u64 {
    x * x
}

#[test]
fn map_returns_results_in_input_order_with_any_chunk_size() {
    for chunk in [1, 7, 1000, 1_000_000] {
        let pool = ProcessPoolExecutor::builder()
            .max_workers(2)
            .chunk_size(chunk)
            .build()
            .unwrap();
        let out: Vec<u64> = pool.map(square, 0..5000u64).map(Result::unwrap).collect();
        assert_eq!(
            out,
            (0..5000).map(square).collect::<Vec<_>>(),
            "chunk {chunk}"
        );
    }
}

#[test]
fn map_of_nothing_is_empty_and_starts_no_worker() {
    let pool = ProcessPoolExecutor::new(2).unwrap();
    assert_eq!(pool.map(square, Vec::new()).count(), 0);
    assert_eq!(pool.stats().spawned, 0);
}

#[test]
fn an_item_that_panics_fails_alone() {
    fn picky(x: u32) -> u32 {
        assert!(x != 13, "unlucky {x}");
        x
    }
    let pool = ProcessPoolExecutor::builder()
        .max_workers(2)
        .chunk_size(10)
        .env("RUST_BACKTRACE", "0") // a panic on purpose: one line, not a backtrace
        .build()
        .unwrap();
    let out: Vec<_> = pool.map(picky, 0..30u32).collect();
    for (i, r) in out.into_iter().enumerate() {
        if i == 13 {
            assert_eq!(r, Err(TaskError::Panicked("unlucky 13".into())));
        } else {
            assert_eq!(r, Ok(i as u32));
        }
    }
}

#[test]
fn map_reads_its_input_lazily() {
    static PULLED: AtomicUsize = AtomicUsize::new(0);
    let pool = ProcessPoolExecutor::builder()
        .max_workers(1)
        .chunk_size(10)
        .build()
        .unwrap();
    let items = (0..1_000_000u64).inspect(|_| {
        PULLED.fetch_add(1, Ordering::Relaxed);
    });
    let mut results = pool.map(square, items);
    assert_eq!(results.next(), Some(Ok(0)));
    let pulled = PULLED.load(Ordering::Relaxed);
    // The window keeps 2 chunks per worker in flight and, behind a slow head (a worker
    // still starting on a loaded machine), grows up to 1,024 per worker: bounded, far
    // from the million an eager map would read.
    assert!(
        pulled <= (2 + 1_024) * 10,
        "only a bounded number of chunks is read ahead ({pulled})"
    );
}

#[test]
fn a_large_shared_buffer_crosses_without_being_copied() {
    fn bump(mut b: SharedBuffer) -> SharedBuffer {
        for x in b.as_mut_slice_of::<u64>() {
            *x += 1;
        }
        b
    }
    let pool = ProcessPoolExecutor::builder()
        .max_frame_bytes(4096)
        .build()
        .unwrap();
    let mut b = SharedBuffer::new(64 << 20).unwrap();
    b.as_mut_slice_of::<u64>()
        .iter_mut()
        .enumerate()
        .for_each(|(i, x)| *x = i as u64);
    // 64 MiB through a pool whose frames are capped at 4 KiB: only a handle travels.
    let b = pool.submit(bump, b).join().unwrap();
    let xs = b.as_slice_of::<u64>();
    assert_eq!(xs.len(), 8 << 20);
    assert!(xs.iter().enumerate().all(|(i, &x)| x == i as u64 + 1));
}

#[test]
fn shared_buffers_inside_other_values_travel_too() {
    fn total(parts: Vec<(String, SharedBuffer)>) -> (usize, SharedBuffer) {
        let n = parts
            .iter()
            .map(|(_, b)| b.iter().map(|&x| x as usize).sum::<usize>())
            .sum();
        let mut out = SharedBuffer::new(3).unwrap();
        out.copy_from_slice(b"sum");
        (n, out)
    }
    let pool = ProcessPoolExecutor::new(1).unwrap();
    let parts = (0..5)
        .map(|i| {
            (
                format!("part{i}"),
                SharedBuffer::from_slice(&[1; 10]).unwrap(),
            )
        })
        .collect::<Vec<_>>();
    let (n, label) = pool.submit(total, parts).join().unwrap();
    assert_eq!(n, 50);
    assert_eq!(&label[..], b"sum");
}

#[test]
fn large_serialized_values_cross_both_ways() {
    fn echo_reversed(mut v: Vec<u8>) -> Vec<u8> {
        v.reverse();
        v
    }
    let pool = ProcessPoolExecutor::new(2).unwrap();
    let data: Vec<u8> = (0..(24 << 20)).map(|i: u32| (i % 251) as u8).collect();
    let mut expected = data.clone();
    expected.reverse();
    let hs: Vec<_> = (0..2)
        .map(|_| pool.submit(echo_reversed, data.clone()))
        .collect();
    for h in hs {
        assert!(h.join().unwrap() == expected);
    }
}
