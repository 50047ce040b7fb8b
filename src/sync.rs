//! The synchronisation primitives the crate is built on, in one place.
//!
//! Under `--cfg concur_loom` they are loom's model-checked versions, so the handle's state machine
//! can be explored exhaustively (`src/handle/loom_tests.rs`); otherwise they are `std`'s.

#[cfg(concur_loom)]
pub(crate) use loom::{
    sync::{
        atomic::{fence, AtomicBool, AtomicUsize, Ordering},
        Condvar, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard,
    },
    thread,
};
/// `std`'s even under loom: loom's `Arc` cannot hold a trait object on stable Rust, and
/// reference counting is not what the models check.
pub(crate) use std::sync::Arc;
#[cfg(not(concur_loom))]
pub(crate) use std::{
    sync::{
        atomic::{fence, AtomicBool, AtomicUsize, Ordering},
        Condvar, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard,
    },
    thread,
};

/// Locks `m`, ignoring poisoning: every critical section in this crate leaves its data
/// consistent before anything that can panic runs, so a poisoned lock holds valid data.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// Read-locks `l`, ignoring poisoning (see [`lock`]).
pub(crate) fn read<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    match l.read() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// Write-locks `l`, ignoring poisoning (see [`lock`]).
pub(crate) fn write<T>(l: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    match l.write() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// Waits on `cv`, ignoring poisoning (see [`lock`]).
pub(crate) fn cv_wait<'a, T>(cv: &Condvar, g: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
    match cv.wait(g) {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// An `UnsafeCell` with loom's closure-based access API, so the same code checks under loom.
#[derive(Debug)]
pub(crate) struct UnsafeCell<T>(
    #[cfg(concur_loom)] loom::cell::UnsafeCell<T>,
    #[cfg(not(concur_loom))] std::cell::UnsafeCell<T>,
);

impl<T> UnsafeCell<T> {
    pub(crate) fn new(value: T) -> Self {
        #[cfg(concur_loom)]
        return Self(loom::cell::UnsafeCell::new(value));
        #[cfg(not(concur_loom))]
        return Self(std::cell::UnsafeCell::new(value));
    }

    /// Gives `f` a raw pointer to the contents; the caller argues exclusivity.
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        #[cfg(concur_loom)]
        return self.0.with_mut(f);
        #[cfg(not(concur_loom))]
        return f(self.0.get());
    }
}

/// Rounds of [`spin_pause`] that pause rather than yield: 1, 2, then 4 pauses each, 63 in
/// all. A waiter looks at least every 4 pauses, so it sees its event within a few dozen
/// nanoseconds even where a pause takes 140 cycles (Intel since Skylake), instead of
/// sleeping through it in one long pause; later rounds yield the CPU.
pub(crate) const SPIN_PAUSE_ROUNDS: u32 = 17;

/// Busy-waits politely for a moment: used before parking, where the awaited event is
/// usually a few hundred nanoseconds away. Under loom it yields to the model instead.
pub(crate) fn spin_pause(round: u32) {
    #[cfg(concur_loom)]
    {
        let _ = round;
        loom::thread::yield_now();
    }
    #[cfg(not(concur_loom))]
    {
        if round < SPIN_PAUSE_ROUNDS {
            for _ in 0..(1u32 << round.min(2)) {
                std::hint::spin_loop();
            }
        } else {
            std::thread::yield_now();
        }
    }
}

/// A sequentially consistent fence. On x86 a locked read-modify-write orders like
/// `mfence` at a fraction of its cost (the trick crossbeam-epoch uses); elsewhere, and
/// under loom, it is `fence(SeqCst)`.
pub(crate) fn full_fence() {
    #[cfg(all(any(target_arch = "x86", target_arch = "x86_64"), not(concur_loom)))]
    {
        let a = AtomicUsize::new(0);
        let _ = a.compare_exchange(0, 1, Ordering::SeqCst, Ordering::SeqCst);
    }
    #[cfg(not(all(any(target_arch = "x86", target_arch = "x86_64"), not(concur_loom))))]
    fence(Ordering::SeqCst);
}

/// Adds one to `counter`, then acts as [`full_fence`]. On x86 the locked addition itself
/// orders like a fence, so this costs one locked instruction instead of two.
pub(crate) fn increment_then_fence(counter: &AtomicUsize) {
    #[cfg(all(any(target_arch = "x86", target_arch = "x86_64"), not(concur_loom)))]
    counter.fetch_add(1, Ordering::SeqCst);
    #[cfg(not(all(any(target_arch = "x86", target_arch = "x86_64"), not(concur_loom))))]
    {
        counter.fetch_add(1, Ordering::Relaxed);
        fence(Ordering::SeqCst);
    }
}
