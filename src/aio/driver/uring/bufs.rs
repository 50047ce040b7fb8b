//! The io_uring driver's provided buffers: one ring of receive buffers per loop, from
//! which the kernel takes a buffer for each message a multishot receive delivers
//! (`IORING_REGISTER_PBUF_RING`, Linux 5.19).
//!
//! Ownership moves in a circle, and only along it: a buffer is the kernel's from the
//! moment it is published on the ring until a completion names it (its id in the
//! completion's flags); then it is the loop's (a stream holds it, with the bytes it
//! carries) until the stream has handed every byte to a reader, or is closed, and gives
//! it back ([`BufRing::give_back`]), which publishes it on the ring again. Rust code reads
//! a buffer only while it is the loop's, so the kernel never writes under a reference.
//!
//! The memory outlives the kernel's use of it: the loop's ring cancels every receive and
//! waits for them before it unregisters the buffer ring and frees the memory, and leaks
//! it rather than free it under a receive that will not end.

use std::alloc::{self, Layout};
use std::cell::Cell;
use std::io;
use std::sync::atomic::{AtomicU16, Ordering};

use io_uring::types::BufRingEntry;
use io_uring::IoUring;

/// The buffer group id of the loop's receive buffers.
pub(super) const GROUP: u16 = 0;
/// Buffers in the ring (a power of two).
const ENTRIES: u16 = 128;
/// The size of a buffer.
pub(super) const SIZE: usize = 8 * 1024;

/// A registered ring of receive buffers and their memory.
pub(super) struct BufRing {
    /// The ring the kernel takes buffers from: `ENTRIES` entries, page-aligned.
    entries: *mut BufRingEntry,
    /// The buffers: `ENTRIES * SIZE` bytes.
    memory: *mut u8,
    /// The next entry to publish (the kernel reads the published tail).
    tail: Cell<u16>,
    /// Buffers published and not yet named by a completion.
    kernel_has: Cell<u16>,
}

fn entries_layout() -> Layout {
    let size = usize::from(ENTRIES) * std::mem::size_of::<BufRingEntry>();
    Layout::from_size_align(size, 4096).expect("a page-aligned layout")
}

fn memory_layout() -> Layout {
    Layout::from_size_align(usize::from(ENTRIES) * SIZE, 64).expect("a buffer layout")
}

impl BufRing {
    /// Allocates the buffers, registers the ring with `ring` and publishes every buffer.
    pub(super) fn new(ring: &IoUring) -> io::Result<BufRing> {
        // SAFETY: both layouts have a non-zero size.
        let entries = unsafe { alloc::alloc_zeroed(entries_layout()) }.cast::<BufRingEntry>();
        // SAFETY: as above. Zeroed: the pages are mapped on first use, not now.
        let memory = unsafe { alloc::alloc_zeroed(memory_layout()) };
        if entries.is_null() || memory.is_null() {
            if !entries.is_null() {
                // SAFETY: from `alloc_zeroed` with this layout.
                unsafe { alloc::dealloc(entries.cast(), entries_layout()) };
            }
            if !memory.is_null() {
                // SAFETY: from `alloc_zeroed` with this layout.
                unsafe { alloc::dealloc(memory, memory_layout()) };
            }
            return Err(io::ErrorKind::OutOfMemory.into());
        }
        let this = BufRing {
            entries,
            memory,
            tail: Cell::new(0),
            kernel_has: Cell::new(0),
        };
        // SAFETY: `entries` is page-aligned memory for `ENTRIES` entries, which stays
        // valid until it is unregistered (`Drop`'s caller, `Ring`, unregisters first).
        unsafe {
            ring.submitter().register_buf_ring_with_flags(
                this.entries as u64,
                ENTRIES,
                GROUP,
                0,
            )?;
        }
        for bid in 0..ENTRIES {
            this.publish(bid);
        }
        Ok(this)
    }

    /// Publishes buffer `bid` on the ring: from now on it is the kernel's.
    fn publish(&self, bid: u16) {
        let tail = self.tail.get();
        let index = usize::from(tail & (ENTRIES - 1));
        // SAFETY: `index < ENTRIES`; the entry at the tail is not one the kernel reads
        // (it reads only published entries, and at most `ENTRIES` are: this one was
        // consumed, since its buffer came back to us).
        let entry = unsafe { &mut *self.entries.wrapping_add(index) };
        // `bid < ENTRIES`: the buffer lies inside `memory`.
        entry.set_addr(self.memory.wrapping_add(usize::from(bid) * SIZE) as u64);
        entry.set_len(SIZE as u32);
        entry.set_bid(bid);
        let tail = tail.wrapping_add(1);
        self.tail.set(tail);
        // SAFETY: `entries` is the ring's base, its entries initialised (zeroed at least).
        let tail_field = unsafe { BufRingEntry::tail(self.entries) }.cast_mut();
        // SAFETY: the tail field is a naturally aligned `u16` of ours for the ring's
        // life, which the kernel only reads (with an acquire load).
        let shared = unsafe { AtomicU16::from_ptr(tail_field) };
        shared.store(tail, Ordering::Release);
        self.kernel_has.set(self.kernel_has.get() + 1);
    }

    /// Whether the kernel has a buffer to receive into.
    pub(super) fn has_free(&self) -> bool {
        self.kernel_has.get() > 0
    }

    /// Notes that a completion named buffer `bid`: it is the loop's now.
    pub(super) fn taken(&self, bid: u16) {
        debug_assert!(bid < ENTRIES);
        self.kernel_has.set(self.kernel_has.get().saturating_sub(1));
    }

    /// Gives buffer `bid` back to the kernel.
    ///
    /// # Safety
    ///
    /// `bid` was named by a completion and not given back since, and no slice of it
    /// ([`bytes`](Self::bytes)) is alive.
    pub(super) unsafe fn give_back(&self, bid: u16) {
        self.publish(bid);
    }

    /// The bytes `start..end` of buffer `bid`.
    ///
    /// # Safety
    ///
    /// `bid` is the loop's (named by a completion, not given back), `end <= SIZE`, and
    /// the kernel wrote at least `end` bytes into it.
    pub(super) unsafe fn bytes(&self, bid: u16, start: usize, end: usize) -> &[u8] {
        debug_assert!(bid < ENTRIES && start <= end && end <= SIZE);
        let first = self.memory.wrapping_add(usize::from(bid) * SIZE + start);
        // SAFETY: inside `memory` (the caller's bounds) and initialised (zeroed, then
        // written by the kernel); the loop's, so nobody writes while the slice lives.
        unsafe { std::slice::from_raw_parts(first, end - start) }
    }

    /// Unregisters the ring from `ring`, after which the kernel takes no buffer from it.
    pub(super) fn unregister(&self, ring: &IoUring) {
        if let Err(e) = ring.submitter().unregister_buf_ring(GROUP) {
            log::error!("concur::aio: unregistering the io_uring's receive buffers failed: {e}");
        }
    }
}

impl Drop for BufRing {
    /// Frees the memory. The loop's ring drops this only once no receive can use it
    /// (every one ended, the ring unregistered), and forgets it otherwise.
    fn drop(&mut self) {
        // SAFETY: from `alloc_zeroed` with this layout, freed once.
        unsafe { alloc::dealloc(self.entries.cast(), entries_layout()) };
        // SAFETY: as above.
        unsafe { alloc::dealloc(self.memory, memory_layout()) };
    }
}
