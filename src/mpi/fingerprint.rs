//! The same-build check across ranks: every rank of a pool must run the very same
//! program, since a task names its function by an offset in the executable (see
//! `src/process/DESIGN.md`). On one machine a process pool compares device and inode;
//! across machines the files differ, so ranks compare the executable's contents and its
//! code layout instead.

use std::io::{self, Read};

use crate::process::remote;

/// A fingerprint of this build: a hash of the bytes of the running executable
/// (`/proc/self/exe`, whatever its path) and of its length, mixed with the code layout
/// the process pool checks. Two ranks of the same build always agree; two builds that
/// differ in one byte disagree unless the 64-bit hash collides.
pub(crate) fn of_this_build() -> io::Result<u64> {
    let mut file = std::fs::File::open("/proc/self/exe")?;
    let mut hash = Hash::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut len = 0u64;
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hash.write(&buf[..n]);
        len += n as u64;
    }
    Ok(hash.finish() ^ len.rotate_left(17) ^ remote::layout().rotate_left(41))
}

/// A fast 64-bit hash of a byte stream, eight bytes a step (FxHash's mixing with a
/// final avalanche): quick even in a debug build, and not meant to resist an adversary
/// (a rank that wants to lie can send any fingerprint).
struct Hash {
    state: u64,
    /// Bytes carried over from the previous `write`, fewer than eight.
    tail: [u8; 8],
    tail_len: usize,
}

const K: u64 = 0x517c_c1b7_2722_0a95;

impl Hash {
    fn new() -> Hash {
        Hash {
            state: 0x9e37_79b9_7f4a_7c15,
            tail: [0; 8],
            tail_len: 0,
        }
    }

    fn word(&mut self, w: u64) {
        self.state = (self.state.rotate_left(5) ^ w).wrapping_mul(K);
    }

    fn write(&mut self, mut bytes: &[u8]) {
        if self.tail_len > 0 {
            let take = (8 - self.tail_len).min(bytes.len());
            self.tail[self.tail_len..self.tail_len + take].copy_from_slice(&bytes[..take]);
            self.tail_len += take;
            bytes = &bytes[take..];
            if self.tail_len < 8 {
                return;
            }
            self.word(u64::from_le_bytes(self.tail));
            self.tail_len = 0;
        }
        let mut words = bytes.chunks_exact(8);
        for w in words.by_ref() {
            self.word(u64::from_le_bytes(w.try_into().expect("8 bytes")));
        }
        let rest = words.remainder();
        self.tail[..rest.len()].copy_from_slice(rest);
        self.tail_len = rest.len();
    }

    fn finish(mut self) -> u64 {
        if self.tail_len > 0 {
            let mut last = [0u8; 8];
            last[..self.tail_len].copy_from_slice(&self.tail[..self.tail_len]);
            self.word(u64::from_le_bytes(last) ^ (self.tail_len as u64) << 56);
        }
        // splitmix64's finaliser: every input bit reaches every output bit.
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(parts: &[&[u8]]) -> u64 {
        let mut h = Hash::new();
        for p in parts {
            h.write(p);
        }
        h.finish()
    }

    #[test]
    fn the_hash_does_not_depend_on_how_the_bytes_are_split() {
        let data: Vec<u8> = (0..100u8).collect();
        let whole = hash(&[&data]);
        for cut in 0..data.len() {
            assert_eq!(hash(&[&data[..cut], &data[cut..]]), whole, "cut at {cut}");
        }
        assert_eq!(hash(&[&data[..3], &data[3..5], &data[5..]]), whole);
    }

    #[test]
    fn one_byte_changes_the_hash() {
        let data = vec![7u8; 64];
        let base = hash(&[&data]);
        for at in 0..data.len() {
            let mut other = data.clone();
            other[at] ^= 1;
            assert_ne!(hash(&[&other]), base, "byte {at}");
        }
        assert_ne!(hash(&[b"ab"]), hash(&[b"ab\0"]));
    }

    #[test]
    fn this_build_has_one_fingerprint() {
        assert_eq!(of_this_build().unwrap(), of_this_build().unwrap());
    }
}
