//! The large-data workload: one array of `f64` transformed element by element, in place.
//!
//! The cheat sheet's ProcessPool point "data is serialized" has a price that grows with
//! the data: here the array goes to the workers in chunks and comes back, either
//! serialized (`Vec<f64>`, every byte copied through a pipe both ways) or in
//! [`SharedBuffer`]s (only a descriptor crosses). `python/cheatsheet.py` computes exactly
//! the same numbers, so the checksums agree across languages.

use concur::SharedBuffer;

/// Chunks the array is cut into for the pools.
pub(crate) const CHUNKS: usize = 32;

/// Coefficients of the polynomial every element goes through (Horner: 30 flops).
const COEFFS: [f64; 16] = [
    0.5, -0.25, 0.125, 1.0, -0.75, 0.3, 0.2, -0.1, 0.05, 0.9, -0.6, 0.4, 0.1, -0.3, 0.7, 1.5,
];

/// The value of element `i` before the transform: spread over [-1, 1).
pub(crate) fn initial(i: usize) -> f64 {
    ((i as u64).wrapping_mul(2_654_435_761) % 1_000_003) as f64 / 1_000_003.0 * 2.0 - 1.0
}

/// Fills `xs`, which starts at element `first` of the array, with the initial values.
pub(crate) fn fill(xs: &mut [f64], first: usize) {
    for (i, x) in xs.iter_mut().enumerate() {
        *x = initial(first + i);
    }
}

/// Rounds of the polynomial per element.
const ROUNDS: usize = 2;

/// The transform, in place: each element goes [`ROUNDS`] times through a polynomial of
/// degree 15, squashed back into (-1, 1) after each (about 66 flops an element).
pub(crate) fn transform(xs: &mut [f64]) {
    for x in xs {
        let mut t = *x;
        for _ in 0..ROUNDS {
            let mut y = 0.0;
            for c in COEFFS {
                y = y * t + c;
            }
            t = y / (1.0 + y.abs());
        }
        *x = t;
    }
}

/// The process pool's task when the data is serialized: a chunk in, the chunk out.
pub(crate) fn transform_vec(mut chunk: Vec<f64>) -> Vec<f64> {
    transform(&mut chunk);
    chunk
}

/// The process pool's task with shared memory: only the buffer's descriptor travels.
pub(crate) fn transform_shared(mut chunk: SharedBuffer) -> SharedBuffer {
    transform(chunk.as_mut_slice_of::<f64>());
    chunk
}

/// The checksum the runs must agree on: the sum of the elements in index order (the same
/// operations in the same order give the same bits, in Rust and in CPython).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Checksum(f64);

impl Checksum {
    pub(crate) fn new() -> Self {
        Checksum(0.0)
    }

    pub(crate) fn add(&mut self, xs: &[f64]) {
        for &x in xs {
            self.0 += x;
        }
    }

    pub(crate) fn of(xs: &[f64]) -> Self {
        let mut sum = Self::new();
        sum.add(xs);
        sum
    }

    pub(crate) fn value(self) -> f64 {
        self.0
    }
}

impl PartialEq for Checksum {
    fn eq(&self, other: &Self) -> bool {
        self.0.to_bits() == other.0.to_bits()
    }
}

/// Elements per chunk, for `len` elements in [`CHUNKS`] chunks.
pub(crate) fn chunk_len(len: usize) -> usize {
    len.div_ceil(CHUNKS).max(1)
}

/// Bytes of a postcard varint holding `n`.
pub(crate) fn varint_len(mut n: u64) -> u64 {
    let mut bytes = 1;
    while n >= 0x80 {
        n >>= 7;
        bytes += 1;
    }
    bytes
}

/// Bytes postcard writes for a `Vec<f64>` of `len` elements.
pub(crate) fn vec_bytes(len: usize) -> u64 {
    varint_len(len as u64) + 8 * len as u64
}

/// Bytes postcard writes for a [`SharedBuffer`] of `bytes` bytes: the index of its
/// descriptor in the frame (at most the number of chunks) and its length.
pub(crate) fn shared_bytes(index: usize, bytes: usize) -> u64 {
    varint_len(index as u64) + varint_len(bytes as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_and_whole_transforms_agree_to_the_bit() {
        let n = 10_001;
        let mut whole = vec![0.0; n];
        fill(&mut whole, 0);
        let mut parts = whole.clone();
        transform(&mut whole);
        for c in parts.chunks_mut(chunk_len(n)) {
            let back = transform_vec(c.to_vec());
            c.copy_from_slice(&back);
        }
        assert!(Checksum::of(&whole) == Checksum::of(&parts));
        assert!(whole.iter().all(|x| x.is_finite()));
    }

    #[test]
    fn postcard_sizes_match_the_formulas() {
        let v = vec![1.5f64; 300];
        assert_eq!(
            postcard::to_allocvec(&v).unwrap().len() as u64,
            vec_bytes(300)
        );
        assert_eq!(varint_len(127), 1);
        assert_eq!(varint_len(128), 2);
    }
}
