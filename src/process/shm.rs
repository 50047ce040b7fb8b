//! [`SharedBuffer`]: memory shared with worker processes, which crosses to a worker and
//! back by handle (a memfd descriptor), so large data costs no serialization.

use std::fmt;
use std::io;
use std::ops::{Deref, DerefMut};
use std::os::fd::{AsFd, OwnedFd};
use std::ptr::NonNull;

use rustix::fs::{MemfdFlags, SealFlags};
use rustix::mm::{MapFlags, ProtFlags};
use serde::de::Error as _;
use serde::ser::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::codec;

/// A byte buffer in shared memory that a process pool passes to a worker and back without
/// copying: the cheat sheet's "large arrays" case done right.
///
/// Put it in a task's argument or result like any other value. What crosses the process
/// boundary is a handle to the memory (a Linux memfd descriptor), not its contents: a
/// 1 GiB buffer costs the same as an empty one. Its size is fixed at creation.
///
/// A buffer moved into [`submit`](crate::ProcessPoolExecutor::submit) is gone from the
/// parent until the worker hands it back in its result, so at most one process uses it at
/// a time. (A worker you do not trust could keep a mapping and write later: treat the
/// contents of a buffer that came back as untrusted bytes, like any other result.)
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
/// let buf = pool.submit(double, buf).join().unwrap();
/// assert_eq!(buf.as_slice_of::<u32>()[999], 1998);
/// ```
pub struct SharedBuffer {
    /// The mapping; dangling (and never dereferenced for more than 0 bytes) if `len == 0`.
    ptr: NonNull<u8>,
    len: usize,
    fd: OwnedFd,
}

// SAFETY: the buffer owns its mapping like a `Vec<u8>` owns its heap memory: `&self` gives
// shared access only, `&mut self` exclusive access, and nothing is tied to a thread.
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
        Self::map(fd, len)
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

    fn map(fd: OwnedFd, len: usize) -> io::Result<Self> {
        if len == 0 {
            return Ok(SharedBuffer {
                ptr: NonNull::dangling(),
                len,
                fd,
            });
        }
        // SAFETY: a fresh shared mapping of a file we hold, at an address the kernel
        // picks; the memory stays valid until `munmap` in `drop`, and the file cannot
        // shrink under it (it is sealed against shrinking).
        let ptr = unsafe {
            rustix::mm::mmap(
                std::ptr::null_mut(),
                len,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::SHARED,
                &fd,
                0,
            )
        }
        .map_err(io_err)?;
        let ptr =
            NonNull::new(ptr.cast::<u8>()).ok_or_else(|| io::Error::other("mmap returned null"))?;
        Ok(SharedBuffer { ptr, len, fd })
    }

    /// Maps a descriptor that came from another process, which is not trusted: it must be
    /// a memfd of exactly `len` bytes, and it is sealed against shrinking before it is
    /// mapped (or refused if it cannot be).
    fn from_untrusted(fd: OwnedFd, len: u64) -> Result<Self, String> {
        let seals = rustix::fs::fcntl_get_seals(&fd)
            .map_err(|e| format!("a shared buffer descriptor is not a memfd ({e})"))?;
        if !seals.contains(SealFlags::SHRINK) {
            rustix::fs::fcntl_add_seals(&fd, SealFlags::SHRINK).map_err(|e| {
                format!("a shared buffer could not be sealed against shrinking ({e})")
            })?;
        }
        let size = rustix::fs::fstat(&fd)
            .map_err(|e| format!("a shared buffer could not be inspected ({e})"))?
            .st_size;
        if u64::try_from(size).ok() != Some(len) {
            return Err(format!(
                "a shared buffer claims {len} bytes but holds {size}"
            ));
        }
        let len =
            usize::try_from(len).map_err(|_| "a shared buffer too large to map".to_owned())?;
        Self::map(fd, len).map_err(|e| format!("a shared buffer could not be mapped ({e})"))
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
        // by this process for the borrow.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr().cast::<T>(), n) }
    }

    /// The buffer seen as a mutable slice of `T` (its size must be a multiple of `T`'s).
    ///
    /// # Panics
    ///
    /// If the length is not a multiple of `size_of::<T>()`.
    ///
    /// ```
    /// let mut buf = concur::SharedBuffer::new(8).unwrap();
    /// buf.as_mut_slice_of::<u32>()[1] = 7;
    /// assert_eq!(buf.as_slice_of::<u32>(), [0, 7]);
    /// ```
    pub fn as_mut_slice_of<T: Plain>(&mut self) -> &mut [T] {
        let n = self.elements::<T>();
        // SAFETY: as in `as_slice_of`, and `&mut self` makes the access exclusive.
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
    }
}

impl fmt::Debug for SharedBuffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedBuffer")
            .field("len", &self.len)
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
        let index = codec::send_fd(self.fd.as_fd()).map_err(S::Error::custom)?;
        Wire(index, self.len as u64).serialize(s)
    }
}

impl<'de> Deserialize<'de> for SharedBuffer {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let Wire(index, len) = Wire::deserialize(d)?;
        let fd = codec::take_fd(index).map_err(D::Error::custom)?;
        SharedBuffer::from_untrusted(fd, len).map_err(|e| D::Error::custom(codec::fail(e)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_crosses_the_codec_by_descriptor() {
        let mut buf = SharedBuffer::new(1 << 20).unwrap();
        buf[12345] = 7;
        let mut bytes = Vec::new();
        let mut fds = Vec::new();
        codec::encode(&buf, &mut bytes, &mut fds).unwrap();
        assert!(bytes.len() < 16, "the contents are not serialized");
        assert_eq!(fds.len(), 1);
        let back: SharedBuffer = codec::decode(&bytes, fds).unwrap();
        assert_eq!(back.len(), 1 << 20);
        assert_eq!(back[12345], 7);
        // The same memory, not a copy.
        buf[0] = 1;
        assert_eq!(back[0], 1);
    }

    #[test]
    fn outside_a_pool_it_does_not_serialize() {
        let buf = SharedBuffer::new(8).unwrap();
        assert!(postcard::to_allocvec(&buf).is_err());
    }

    #[test]
    fn a_buffer_whose_descriptor_is_missing_is_refused() {
        let buf = SharedBuffer::new(8).unwrap();
        let mut out = Vec::new();
        codec::encode(&buf, &mut out, &mut Vec::new()).unwrap();
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
