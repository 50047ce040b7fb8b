//! [`SharedBuffer`]: memory shared with worker processes, which crosses to a worker and
//! back by handle (a memfd descriptor), so large data costs no serialization.

use std::collections::BTreeSet;
use std::fmt;
use std::io;
use std::ops::{Deref, DerefMut};
use std::os::fd::{AsFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::{Mutex, PoisonError};

use rustix::fs::{MemfdFlags, SealFlags};
use rustix::mm::{MapFlags, ProtFlags};
use serde::de::Error as _;
use serde::ser::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::codec::{self, Sender};

/// A byte buffer in shared memory that a process pool passes to a worker and back without
/// copying: the cheat sheet's "large arrays" case done right.
///
/// Put it in a task's argument or result like any other value. What crosses the process
/// boundary is a handle to the memory (a Linux memfd descriptor), not its contents: a
/// 1 GiB buffer costs the same as an empty one. Its size is fixed at creation.
///
/// # One user at a time, and no writes under a slice
///
/// A slice of a buffer is an ordinary `&[u8]` or `&mut [u8]`, so nobody else may write
/// the memory while it lives, in this process or any other. Three rules make sure of it,
/// whatever safe code or a worker process does:
///
/// - **One buffer per memory in a process.** Every mapped buffer is listed, by its memory
///   (the memfd's device and inode), in a registry of the process. A buffer that arrives
///   over memory this process already has mapped is refused (a value that sent one buffer
///   twice, or a worker sending back a buffer the parent still holds), and so is a value
///   that serializes the same buffer twice.
/// - **A buffer crosses by move.** [`submit`](crate::ProcessPoolExecutor::submit) and
///   [`map`](crate::ProcessPoolExecutor::map) encode the argument, drop it, and only then
///   send it; an argument that kept one of its buffers alive in the parent (behind a
///   reference, an `Arc`, a static) fails with [`TaskError::Serialization`]. So a worker
///   gets its buffers writable, with no mapping of them left in the parent.
/// - **What a worker sends back is sealed.** A worker is another process, trusted with
///   nothing. When a buffer arrives from one, the parent seals its memory against writes
///   (`F_SEAL_WRITE`) before mapping it: from then on no process can write it (no
///   `write(2)`, no writable mapping, no hole punched), and the seal cannot be set at all
///   while any process still has a writable mapping, in which case the buffer is refused
///   (the task fails with [`TaskError::Serialization`] saying so). The parent maps a
///   sealed buffer read-only: reading it costs nothing, and the first mutable access
///   ([`as_mut_slice_of`](Self::as_mut_slice_of), `&mut buf[..]`,
///   [`make_writable`](Self::make_writable)) copies it into fresh memory of its own. A
///   sealed buffer sent to a worker stays sealed there, with the same copy on write.
///
/// Memory a worker wrote and sent back is thus read as it was when the parent received
/// it, never while it changes; its contents are still the worker's, to be checked like
/// any other result. A worker trusts its parent (the same program, checked when it
/// starts) and maps a buffer from it writable. Beyond any library's reach: a process
/// allowed to `ptrace` this one or to write its `/proc/<pid>/mem`.
///
/// [`TaskError::Serialization`]: crate::TaskError::Serialization
///
/// ```
/// use concur::{ProcessPoolExecutor, SharedBuffer};
///
/// fn double(mut buf: SharedBuffer) -> SharedBuffer {
///     for x in buf.as_mut_slice_of::<u32>() {
///         *x *= 2;
///     }
///     buf
/// }
///
/// let mut buf = SharedBuffer::new(4 * 1000).unwrap();
/// buf.as_mut_slice_of::<u32>().iter_mut().enumerate().for_each(|(i, x)| *x = i as u32);
/// let pool = ProcessPoolExecutor::new(1).unwrap();
/// let mut buf = pool.submit(double, buf).join().unwrap();
/// assert_eq!(buf.as_slice_of::<u32>()[999], 1998);
/// // It came from a worker: sealed, read without a copy; writing it here copies it once.
/// assert!(buf.is_sealed());
/// buf.as_mut_slice_of::<u32>()[0] = 7;
/// assert!(!buf.is_sealed());
/// ```
pub struct SharedBuffer {
    /// The mapping; dangling (and never dereferenced for more than 0 bytes) if `len == 0`.
    /// Writable and shared if `!sealed`; read-only and private if `sealed`.
    ptr: NonNull<u8>,
    len: usize,
    /// The memory is sealed against writes (`F_SEAL_WRITE`): nobody can change it.
    sealed: bool,
    /// This buffer's entry in the registry; released after the mapping is gone.
    claim: Claim,
    fd: OwnedFd,
}

/// Which memory a buffer is: the device and inode of its memfd (unique while it is open).
pub(crate) type Key = (u64, u64);

/// The memory mapped by a live [`SharedBuffer`] of this process.
static MAPPED: Mutex<BTreeSet<Key>> = Mutex::new(BTreeSet::new());

fn registry() -> std::sync::MutexGuard<'static, BTreeSet<Key>> {
    // The set is never left half-updated: a panic while it is held cannot corrupt it.
    MAPPED.lock().unwrap_or_else(PoisonError::into_inner)
}

/// `true` if a live buffer of this process maps the memory `key`.
pub(crate) fn is_mapped(key: Key) -> bool {
    registry().contains(&key)
}

/// A buffer's entry in the registry: taken before its memory is mapped, given back when
/// it is dropped (after `SharedBuffer::drop` has unmapped the memory).
struct Claim(Key);

impl Claim {
    /// Claims `key`, or `None` if a live buffer of this process already has.
    fn take(key: Key) -> Option<Claim> {
        // The lock is released before a `Claim` exists (dropping one takes it).
        let inserted = registry().insert(key);
        inserted.then(|| Claim(key))
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        registry().remove(&self.0);
    }
}

// `st_dev` and `st_ino` are narrower than `u64` on some targets.
#[allow(clippy::unnecessary_cast)]
fn key_of(stat: &rustix::fs::Stat) -> Key {
    (stat.st_dev as u64, stat.st_ino as u64)
}

// SAFETY: the buffer owns its mapping like a `Vec<u8>` owns its heap memory: `&self` gives
// shared access only, `&mut self` exclusive access, and nothing is tied to a thread. No
// other buffer maps the same memory in this process (the registry), and no other process
// writes it while this one may read it (it is sealed, or nobody else has it mapped).
unsafe impl Send for SharedBuffer {}
// SAFETY: see above.
unsafe impl Sync for SharedBuffer {}

/// Element types a [`SharedBuffer`] can be viewed as: plain numbers, for which every bit
/// pattern is a valid value.
///
/// ```
/// fn sum<T: concur::Plain + Into<f64>>(xs: &[T]) -> f64 {
///     xs.iter().map(|&x| x.into()).sum()
/// }
/// assert_eq!(sum(&[1.0f32, 2.0]), 3.0);
/// ```
///
/// # Safety
///
/// Implement it only for types without padding or invalid bit patterns.
pub unsafe trait Plain: Copy + Send + Sync + 'static {}

macro_rules! plain {
    ($($t:ty)*) => { $(
        // SAFETY: a primitive number: no padding, every bit pattern valid.
        unsafe impl Plain for $t {}
    )* };
}
plain!(u8 u16 u32 u64 u128 usize i8 i16 i32 i64 i128 isize f32 f64);

fn io_err(e: rustix::io::Errno) -> io::Error {
    io::Error::from(e)
}

impl SharedBuffer {
    /// A zero-filled shared buffer of `len` bytes.
    ///
    /// # Errors
    ///
    /// If the system cannot create or map the memory (out of memory, out of descriptors).
    ///
    /// ```
    /// let buf = concur::SharedBuffer::new(1 << 20).unwrap();
    /// assert_eq!(buf.len(), 1 << 20);
    /// assert!(buf.iter().all(|&b| b == 0));
    /// ```
    pub fn new(len: usize) -> io::Result<Self> {
        let fd = rustix::fs::memfd_create(
            "concur-shared-buffer",
            MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING,
        )
        .map_err(io_err)?;
        rustix::fs::ftruncate(&fd, len as u64).map_err(io_err)?;
        // The size is fixed from now on: neither side can shrink the memory under the
        // other's mapping (which would turn its reads into SIGBUS).
        rustix::fs::fcntl_add_seals(&fd, SealFlags::SHRINK | SealFlags::GROW).map_err(io_err)?;
        let key = key_of(&rustix::fs::fstat(&fd).map_err(io_err)?);
        let claim = Claim::take(key)
            .ok_or_else(|| io::Error::other("a new memfd is already mapped in this process"))?;
        Self::map(fd, len, claim, false)
    }

    /// A shared buffer holding a copy of `bytes`.
    ///
    /// # Errors
    ///
    /// As [`new`](Self::new).
    ///
    /// ```
    /// let buf = concur::SharedBuffer::from_slice(b"hello").unwrap();
    /// assert_eq!(&buf[..], b"hello");
    /// ```
    pub fn from_slice(bytes: &[u8]) -> io::Result<Self> {
        let mut buf = Self::new(bytes.len())?;
        buf.copy_from_slice(bytes);
        Ok(buf)
    }

    /// Maps `fd`, whose memory `claim` holds for this buffer: writable and shared, or, if
    /// `sealed` (the memory is sealed against writes), read-only and private (nobody can
    /// change the file, so a private mapping sees exactly its contents; and old kernels
    /// refuse shared mappings of a write-sealed memfd).
    fn map(fd: OwnedFd, len: usize, claim: Claim, sealed: bool) -> io::Result<Self> {
        if len == 0 {
            return Ok(SharedBuffer {
                ptr: NonNull::dangling(),
                len,
                sealed,
                claim,
                fd,
            });
        }
        let (prot, flags) = if sealed {
            (ProtFlags::READ, MapFlags::PRIVATE)
        } else {
            (ProtFlags::READ | ProtFlags::WRITE, MapFlags::SHARED)
        };
        // SAFETY: a fresh mapping of a file we hold, at an address the kernel picks; the
        // memory stays valid until `munmap` in `drop`, and the file cannot shrink under it
        // (it is sealed against shrinking).
        let ptr = unsafe { rustix::mm::mmap(std::ptr::null_mut(), len, prot, flags, &fd, 0) }
            .map_err(io_err)?;
        let ptr =
            NonNull::new(ptr.cast::<u8>()).ok_or_else(|| io::Error::other("mmap returned null"))?;
        Ok(SharedBuffer {
            ptr,
            len,
            sealed,
            claim,
            fd,
        })
    }

    /// Maps a descriptor that came from another process: it must be a memfd of exactly
    /// `len` bytes, not mapped by a live buffer of this process; it is sealed against
    /// shrinking before it is mapped, and, from a sender not trusted, against writes
    /// (refused if either cannot be done).
    fn from_received(fd: OwnedFd, len: u64, from: Sender) -> Result<Self, String> {
        let seals = rustix::fs::fcntl_get_seals(&fd)
            .map_err(|e| format!("a shared buffer descriptor is not a memfd ({e})"))?;
        let stat = rustix::fs::fstat(&fd)
            .map_err(|e| format!("a shared buffer could not be inspected ({e})"))?;
        if u64::try_from(stat.st_size).ok() != Some(len) {
            return Err(format!(
                "a shared buffer claims {len} bytes but holds {}",
                stat.st_size
            ));
        }
        let len =
            usize::try_from(len).map_err(|_| "a shared buffer too large to map".to_owned())?;
        let claim = Claim::take(key_of(&stat)).ok_or_else(|| {
            "a shared buffer arrived over memory this process already has mapped (the same \
             buffer sent twice, or one this process still holds); two live buffers over one \
             memory are refused"
                .to_owned()
        })?;
        let mut want = SealFlags::SHRINK;
        if from == Sender::Untrusted {
            want |= SealFlags::WRITE;
        }
        if !seals.contains(want) {
            rustix::fs::fcntl_add_seals(&fd, want).map_err(|e| match e {
                rustix::io::Errno::BUSY => "a shared buffer is still mapped writable by \
                     another process (or its pages are pinned), so it cannot be sealed \
                     against writes; refused"
                    .to_owned(),
                e => format!("a shared buffer could not be sealed ({e})"),
            })?;
        }
        let sealed = seals.contains(SealFlags::WRITE) || from == Sender::Untrusted;
        Self::map(fd, len, claim, sealed)
            .map_err(|e| format!("a shared buffer could not be mapped ({e})"))
    }

    /// `true` if the memory is sealed against writes, by every process: a buffer that came
    /// back from a worker. Reading it costs nothing; the first mutable access copies it.
    ///
    /// ```
    /// let mut buf = concur::SharedBuffer::new(8).unwrap();
    /// assert!(!buf.is_sealed(), "a new buffer is writable");
    /// buf[0] = 1;
    /// ```
    pub fn is_sealed(&self) -> bool {
        self.sealed
    }

    /// Makes the buffer writable: a sealed buffer (see [`is_sealed`](Self::is_sealed)) is
    /// copied into fresh shared memory, which this buffer then is; any other is left as it
    /// is. Mutable access does this by itself; call it to handle the error instead of a
    /// panic.
    ///
    /// # Errors
    ///
    /// As [`new`](Self::new), for the copy.
    ///
    /// ```
    /// let mut buf = concur::SharedBuffer::from_slice(b"abc").unwrap();
    /// buf.make_writable().unwrap();
    /// buf[0] = b'x';
    /// assert_eq!(&buf[..], b"xbc");
    /// ```
    pub fn make_writable(&mut self) -> io::Result<()> {
        if self.sealed {
            let mut copy = SharedBuffer::new(self.len)?;
            copy.as_mut_slice_of::<u8>()
                .copy_from_slice(self.as_slice_of::<u8>());
            *self = copy;
        }
        Ok(())
    }

    /// The size in bytes.
    ///
    /// ```
    /// assert_eq!(concur::SharedBuffer::new(3).unwrap().len(), 3);
    /// ```
    pub fn len(&self) -> usize {
        self.len
    }

    /// `true` if the buffer holds no bytes.
    ///
    /// ```
    /// assert!(concur::SharedBuffer::new(0).unwrap().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The buffer seen as a slice of `T` (its size must be a multiple of `T`'s).
    ///
    /// # Panics
    ///
    /// If the length is not a multiple of `size_of::<T>()`.
    ///
    /// ```
    /// let buf = concur::SharedBuffer::new(16).unwrap();
    /// assert_eq!(buf.as_slice_of::<f64>(), [0.0, 0.0]);
    /// ```
    pub fn as_slice_of<T: Plain>(&self) -> &[T] {
        let n = self.elements::<T>();
        // SAFETY: the mapping is page-aligned (so aligned for any `T`) and `len` bytes
        // long; `T: Plain` accepts any bit pattern; `&self` keeps it alive and unchanged
        // for the borrow: by this process (no other buffer maps this memory here, and
        // writing needs `&mut self`), and by every other (the memory is sealed against
        // writes, or no other process has it mapped: see the type's docs).
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr().cast::<T>(), n) }
    }

    /// The buffer seen as a mutable slice of `T` (its size must be a multiple of `T`'s). A
    /// sealed buffer (one that came back from a worker) is copied first, once: see
    /// [`make_writable`](Self::make_writable).
    ///
    /// # Panics
    ///
    /// If the length is not a multiple of `size_of::<T>()`, or if a sealed buffer cannot
    /// be copied (no memory, no descriptor).
    ///
    /// ```
    /// let mut buf = concur::SharedBuffer::new(8).unwrap();
    /// buf.as_mut_slice_of::<u32>()[1] = 7;
    /// assert_eq!(buf.as_slice_of::<u32>(), [0, 7]);
    /// ```
    pub fn as_mut_slice_of<T: Plain>(&mut self) -> &mut [T] {
        let n = self.elements::<T>();
        if let Err(e) = self.make_writable() {
            panic!("concur: a sealed SharedBuffer could not be copied to be written: {e}");
        }
        // SAFETY: as in `as_slice_of`; the mapping is writable (not sealed), no other
        // process has it mapped, and `&mut self` makes the access exclusive.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr().cast::<T>(), n) }
    }

    fn elements<T>(&self) -> usize {
        let size = std::mem::size_of::<T>().max(1);
        assert!(
            self.len % size == 0,
            "concur: a SharedBuffer of {} bytes is not a whole number of {}-byte elements",
            self.len,
            size
        );
        self.len / size
    }
}

impl Deref for SharedBuffer {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.as_slice_of::<u8>()
    }
}

impl DerefMut for SharedBuffer {
    fn deref_mut(&mut self) -> &mut [u8] {
        self.as_mut_slice_of::<u8>()
    }
}

impl Drop for SharedBuffer {
    fn drop(&mut self) {
        if self.len > 0 {
            // SAFETY: `ptr`/`len` is the mapping made in `map`, unmapped once, here; no
            // borrow of it can outlive `self`.
            let _ = unsafe { rustix::mm::munmap(self.ptr.as_ptr().cast(), self.len) };
        }
        // The fields go next: the registry entry (`claim`) only now that nothing here maps
        // the memory.
    }
}

impl fmt::Debug for SharedBuffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedBuffer")
            .field("len", &self.len)
            .field("sealed", &self.sealed)
            .field("fd", &self.fd.as_fd())
            .finish()
    }
}

/// On the wire: the index of its descriptor in the frame's side table, and its length.
#[derive(Serialize, Deserialize)]
#[serde(rename = "concur::SharedBuffer")]
struct Wire(u32, u64);

impl Serialize for SharedBuffer {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let index = codec::send_fd(self.fd.as_fd(), self.claim.0).map_err(S::Error::custom)?;
        Wire(index, self.len as u64).serialize(s)
    }
}

impl<'de> Deserialize<'de> for SharedBuffer {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let Wire(index, len) = Wire::deserialize(d)?;
        let (fd, from) = codec::take_fd(index).map_err(D::Error::custom)?;
        SharedBuffer::from_received(fd, len, from).map_err(|e| D::Error::custom(codec::fail(e)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Encodes `value` the way `submit` does: then it is gone from this process.
    fn send<T: Serialize>(value: T) -> (Vec<u8>, Vec<OwnedFd>) {
        let mut bytes = Vec::new();
        let mut fds = Vec::new();
        codec::encode_owned(value, &mut bytes, &mut fds).unwrap();
        (bytes, fds)
    }

    #[test]
    fn a_buffer_crosses_the_codec_by_descriptor() {
        let mut buf = SharedBuffer::new(1 << 20).unwrap();
        buf[12345] = 7;
        let (bytes, fds) = send(buf);
        assert!(bytes.len() < 16, "the contents are not serialized");
        assert_eq!(fds.len(), 1);
        let back: SharedBuffer = codec::decode_from_parent(&bytes, fds).unwrap();
        assert_eq!(back.len(), 1 << 20);
        assert_eq!(back[12345], 7);
        assert!(!back.is_sealed(), "from the parent: writable");
    }

    #[test]
    fn a_buffer_from_a_worker_is_sealed_and_copied_on_write() {
        let mut buf = SharedBuffer::new(4096).unwrap();
        buf[1] = 5;
        let (bytes, fds) = send(buf);
        let seal_holder = fds[0].try_clone().unwrap();
        let mut back: SharedBuffer = codec::decode(&bytes, fds).unwrap();
        assert!(back.is_sealed());
        let seals = rustix::fs::fcntl_get_seals(&seal_holder).unwrap();
        assert!(seals.contains(SealFlags::WRITE | SealFlags::SHRINK));
        assert!(
            rustix::io::pwrite(&seal_holder, &[9], 0).is_err(),
            "nobody can write"
        );
        assert_eq!(back[1], 5);
        back[1] = 6;
        assert!(!back.is_sealed(), "a copy of its own");
        assert_eq!(back[1], 6);
        let mut old = [0u8; 2];
        rustix::io::pread(&seal_holder, &mut old, 0).unwrap();
        assert_eq!(old, [0, 5], "the sealed memory did not change");
    }

    #[test]
    fn a_buffer_this_process_holds_is_refused_when_it_arrives() {
        let buf = SharedBuffer::new(8).unwrap();
        let mut bytes = Vec::new();
        let mut fds = Vec::new();
        codec::encode(&buf, &mut bytes, &mut fds).unwrap();
        for decoded in [
            codec::decode::<SharedBuffer>(&bytes, vec![fds[0].try_clone().unwrap()]),
            codec::decode_from_parent::<SharedBuffer>(&bytes, fds),
        ] {
            let e = decoded.unwrap_err();
            assert!(e.contains("already has mapped"), "{e}");
        }
        drop(buf);
    }

    #[test]
    fn two_descriptors_of_one_memory_in_one_value_are_refused() {
        let (_, mut fds) = send(SharedBuffer::new(8).unwrap());
        fds.push(fds[0].try_clone().unwrap());
        let mut bytes = Vec::new();
        codec::encode(&(Wire(0, 8), Wire(1, 8)), &mut bytes, &mut Vec::new()).unwrap();
        let e = codec::decode::<(SharedBuffer, SharedBuffer)>(&bytes, fds).unwrap_err();
        assert!(e.contains("already has mapped"), "{e}");
    }

    #[test]
    fn a_value_that_sends_one_buffer_twice_is_an_error() {
        let buf = SharedBuffer::new(8).unwrap();
        let e = codec::encode(&(&buf, &buf), &mut Vec::new(), &mut Vec::new()).unwrap_err();
        assert!(e.contains("same SharedBuffer twice"), "{e}");
    }

    #[test]
    fn a_value_that_keeps_its_buffer_alive_is_an_error() {
        let buf = SharedBuffer::new(8).unwrap();
        let e = codec::encode_owned(&buf, &mut Vec::new(), &mut Vec::new()).unwrap_err();
        assert!(e.contains("still alive in this process"), "{e}");
    }

    #[test]
    fn a_buffer_another_process_could_still_write_is_refused() {
        let (bytes, fds) = send(SharedBuffer::new(4096).unwrap());
        // Another process's writable mapping, as far as the kernel can tell.
        // SAFETY: a fresh mapping at an address the kernel picks, unmapped below.
        let p = unsafe {
            rustix::mm::mmap(
                std::ptr::null_mut(),
                4096,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::SHARED,
                &fds[0],
                0,
            )
        }
        .unwrap();
        let e = codec::decode::<SharedBuffer>(&bytes, fds).unwrap_err();
        assert!(e.contains("still mapped writable"), "{e}");
        // SAFETY: the mapping made above, unmapped once.
        unsafe { rustix::mm::munmap(p, 4096) }.unwrap();
    }

    #[test]
    fn outside_a_pool_it_does_not_serialize() {
        let buf = SharedBuffer::new(8).unwrap();
        assert!(postcard::to_allocvec(&buf).is_err());
    }

    #[test]
    fn a_buffer_whose_descriptor_is_missing_is_refused() {
        let (out, _fds) = send(SharedBuffer::new(8).unwrap());
        let e = codec::decode::<SharedBuffer>(&out, Vec::new()).unwrap_err();
        assert!(e.contains("did not arrive"), "{e}");
    }

    #[test]
    fn a_descriptor_of_the_wrong_size_is_refused() {
        let buf = SharedBuffer::new(8).unwrap();
        let mut out = Vec::new();
        codec::encode(&Wire(0, 4096), &mut out, &mut Vec::new()).unwrap();
        let fd = buf.fd.try_clone().unwrap();
        let e = codec::decode::<SharedBuffer>(&out, vec![fd]).unwrap_err();
        assert!(e.contains("claims 4096 bytes but holds 8"), "{e}");
    }

    #[test]
    fn a_descriptor_that_is_not_a_memfd_is_refused() {
        let file = std::fs::File::open("/proc/self/exe").unwrap();
        let mut out = Vec::new();
        codec::encode(&Wire(0, 1), &mut out, &mut Vec::new()).unwrap();
        let e = codec::decode::<SharedBuffer>(&out, vec![OwnedFd::from(file)]).unwrap_err();
        assert!(e.contains("not a memfd"), "{e}");
    }

    #[test]
    #[should_panic(expected = "not a whole number of 8-byte elements")]
    fn a_view_of_the_wrong_element_size_panics() {
        SharedBuffer::new(12).unwrap().as_slice_of::<u64>();
    }
}
