//! The claim board: one page of shared memory per worker, where the parent and the worker
//! settle, for each task sent ahead to that worker, whether it starts or is cancelled.
//!
//! A task frame is the `n`-th the worker receives; its slot is `n % SLOTS`. The parent
//! writes `QUEUED` for the task's id there before it sends the frame. Before it runs the
//! task the worker swaps `QUEUED` for `STARTED` (compare-and-swap); a `cancel()` swaps
//! `QUEUED` for `CANCELLED`. Exactly one of the two wins, so a cancelled task never
//! starts, and a task that started is known to have: `cancel()` then kills its worker, as
//! for any running task. (A message could not do this: it may still be on its way when
//! the worker starts the task.)
//!
//! The worker is not trusted: the parent touches the page only through atomic operations
//! (any value there is merely a state it acts on, and the worst a hostile worker can make
//! it do is kill that worker), and the memory is sealed against shrinking before the
//! worker ever sees it, so the parent's accesses cannot fault.

use std::io;
use std::os::fd::OwnedFd;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};

use rustix::fs::{MemfdFlags, SealFlags};
use rustix::mm::{MapFlags, ProtFlags};

/// Slots on a board: more than the tasks a worker can have in flight (the pool keeps
/// fewer than this on any worker).
pub(crate) const SLOTS: usize = 512;

const BYTES: usize = SLOTS * 8;

const QUEUED: u64 = 1;
const STARTED: u64 = 2;
const CANCELLED: u64 = 3;

fn word(id: u64, state: u64) -> u64 {
    (id << 2) | state
}

/// What a worker's claim of a task found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Claim {
    /// The task is the worker's to run.
    Run,
    /// It was cancelled first: skip it.
    Skip,
    /// The slot does not hold this task: the parent broke the protocol.
    Unknown,
}

/// A mapped board (the parent's or the worker's view of the same page).
#[derive(Debug)]
pub(crate) struct Board {
    ptr: NonNull<AtomicU64>,
    fd: OwnedFd,
}

// SAFETY: the mapping is only ever accessed through `AtomicU64`s, which may be shared
// between threads; nothing in it is tied to one thread.
unsafe impl Send for Board {}
// SAFETY: see above.
unsafe impl Sync for Board {}

impl Board {
    /// A new board, for the parent to share with a new worker.
    pub(crate) fn new() -> io::Result<Board> {
        let fd = rustix::fs::memfd_create(
            "concur-claim-board",
            MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING,
        )?;
        rustix::fs::ftruncate(&fd, BYTES as u64)?;
        rustix::fs::fcntl_add_seals(&fd, SealFlags::SHRINK | SealFlags::GROW | SealFlags::SEAL)?;
        Board::map(fd)
    }

    /// Maps the board the parent sent (a worker trusts its parent, whose identity it
    /// checked at start-up; the size is checked all the same).
    pub(crate) fn open(fd: OwnedFd) -> io::Result<Board> {
        let size = rustix::fs::fstat(&fd)?.st_size;
        let seals = rustix::fs::fcntl_get_seals(&fd)?;
        if size != BYTES as i64 || !seals.contains(SealFlags::SHRINK) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "the claim board is not a sealed page of the expected size",
            ));
        }
        Board::map(fd)
    }

    fn map(fd: OwnedFd) -> io::Result<Board> {
        // SAFETY: a fresh shared mapping of a memfd of `BYTES` bytes that can no longer
        // shrink; the kernel picks the address; nothing else is affected.
        let ptr = unsafe {
            rustix::mm::mmap(
                std::ptr::null_mut(),
                BYTES,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::SHARED,
                &fd,
                0,
            )
        }?;
        let ptr = NonNull::new(ptr.cast::<AtomicU64>()).ok_or_else(|| io::Error::other("mmap"))?;
        Ok(Board { ptr, fd })
    }

    /// The descriptor, to send to the worker.
    pub(crate) fn fd(&self) -> &OwnedFd {
        &self.fd
    }

    fn slot(&self, n: u64) -> &AtomicU64 {
        let i = (n % SLOTS as u64) as usize;
        // SAFETY: `i < SLOTS`, and the mapping holds `SLOTS` `u64`s.
        let at = unsafe { self.ptr.as_ptr().add(i) };
        // SAFETY: an aligned `u64` of the mapping (page-aligned, `BYTES` long, never
        // shrunk) for as long as `self` lives; it is only ever accessed atomically.
        unsafe { &*at }
    }

    /// Parent: task `id` is the `n`-th sent to this worker.
    pub(crate) fn queue(&self, n: u64, id: u64) {
        self.slot(n).store(word(id, QUEUED), Ordering::Release);
    }

    /// Parent: cancels task `id` (the `n`-th sent) if the worker has not started it;
    /// `false` if it has (or the worker left something else there).
    pub(crate) fn cancel(&self, n: u64, id: u64) -> bool {
        self.slot(n)
            .compare_exchange(
                word(id, QUEUED),
                word(id, CANCELLED),
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_ok()
    }

    /// Parent: `true` if the worker says it started task `id` (the `n`-th sent).
    pub(crate) fn started(&self, n: u64, id: u64) -> bool {
        self.slot(n).load(Ordering::Acquire) == word(id, STARTED)
    }

    /// Worker: claims task `id`, the `n`-th received, before running it.
    pub(crate) fn claim(&self, n: u64, id: u64) -> Claim {
        match self.slot(n).compare_exchange(
            word(id, QUEUED),
            word(id, STARTED),
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => Claim::Run,
            Err(w) if w == word(id, CANCELLED) => Claim::Skip,
            Err(_) => Claim::Unknown,
        }
    }
}

impl Drop for Board {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping `map` made; no reference into it outlives
        // `self` (`slot` borrows `self`).
        let _ = unsafe { rustix::mm::munmap(self.ptr.as_ptr().cast(), BYTES) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claim_and_a_cancel_exclude_each_other() {
        let parent = Board::new().unwrap();
        let worker = Board::open(parent.fd().try_clone().unwrap()).unwrap();
        parent.queue(0, 7);
        parent.queue(1, 8);
        assert_eq!(worker.claim(0, 7), Claim::Run);
        assert!(!parent.cancel(0, 7), "started first");
        assert!(parent.started(0, 7));
        assert!(parent.cancel(1, 8));
        assert_eq!(worker.claim(1, 8), Claim::Skip);
        assert!(!parent.started(1, 8));
        // A slot reused for a later task, and a claim of a task never queued.
        parent.queue(SLOTS as u64, 9);
        assert_eq!(worker.claim(SLOTS as u64, 9), Claim::Run);
        assert_eq!(worker.claim(2, 10), Claim::Unknown);
    }

    #[test]
    fn a_board_that_is_not_a_sealed_page_is_refused() {
        let fd = rustix::fs::memfd_create("x", MemfdFlags::CLOEXEC).unwrap();
        rustix::fs::ftruncate(&fd, BYTES as u64).unwrap();
        assert!(Board::open(fd).is_err());
    }

    #[test]
    fn concurrent_claims_and_cancels_have_one_winner_each() {
        let parent = Board::new().unwrap();
        let worker = Board::open(parent.fd().try_clone().unwrap()).unwrap();
        for round in 0..200u64 {
            for n in 0..64 {
                parent.queue(round * 64 + n, round * 64 + n);
            }
            let (ran, cancelled) = std::thread::scope(|s| {
                let w = s.spawn(|| {
                    (0..64)
                        .filter(|n| worker.claim(round * 64 + n, round * 64 + n) == Claim::Run)
                        .count()
                });
                let c = (0..64)
                    .filter(|n| parent.cancel(round * 64 + n, round * 64 + n))
                    .count();
                (w.join().unwrap(), c)
            });
            assert_eq!(ran + cancelled, 64, "round {round}");
        }
    }
}
