//! Exhaustive interleavings of the wake-up protocol of `schedule.rs`, under loom:
//! `RUSTFLAGS="--cfg concur_loom" cargo test --release --lib loom`.
//!
//! The model is the loop's side of `runtime.rs` in miniature, with the very types it uses
//! (`ScheduleState`, `RemoteQueue`): a local run queue, a poll that reads what the wakers
//! wrote, the remote queue drained between polls, and the wait in epoll for the eventfd
//! (a flag under a mutex, with a condition variable). Wakers on other threads write a
//! value with a relaxed store and wake the task, so everything the poll sees of it comes
//! through the protocol. A lost wake-up leaves the loop waiting forever, which loom
//! reports as a deadlock.

use std::collections::VecDeque;
use std::sync::Arc;

use loom::sync::atomic::{AtomicBool, Ordering};
use loom::sync::{Condvar, Mutex};
use loom::thread;

use super::schedule::{RemoteQueue, ScheduleState};

/// A task's scheduling flags, as the loop and its wakers use them.
trait Protocol: Send + Sync + 'static {
    fn queued() -> Self;
    fn wake_local(&self) -> bool;
    fn wake_remote(&self) -> bool;
    fn begin_poll(&self);
}

impl Protocol for ScheduleState {
    fn queued() -> Self {
        ScheduleState::queued()
    }
    fn wake_local(&self) -> bool {
        ScheduleState::wake_local(self)
    }
    fn wake_remote(&self) -> bool {
        ScheduleState::wake_remote(self)
    }
    fn begin_poll(&self) {
        ScheduleState::begin_poll(self);
    }
}

/// The protocol before issue 13's fix, kept to show that the model catches it: one flag,
/// cleared by the loop with a relaxed store, and a remote waker that skips on a relaxed
/// load.
struct RelaxedFlag(AtomicBool);

impl Protocol for RelaxedFlag {
    fn queued() -> Self {
        RelaxedFlag(AtomicBool::new(true))
    }
    fn wake_local(&self) -> bool {
        if self.0.load(Ordering::Relaxed) {
            return false;
        }
        self.0.store(true, Ordering::Relaxed);
        true
    }
    fn wake_remote(&self) -> bool {
        if self.0.load(Ordering::Relaxed) {
            return false;
        }
        !self.0.swap(true, Ordering::AcqRel)
    }
    fn begin_poll(&self) {
        self.0.store(false, Ordering::Relaxed);
    }
}

/// The loop's eventfd, as epoll sees it: written (by `mio::Waker::wake`), or not.
struct EventFd {
    written: Mutex<bool>,
    cv: Condvar,
}

impl EventFd {
    fn write(&self) {
        *self.written.lock().unwrap() = true;
        self.cv.notify_one();
    }

    /// The loop blocked in epoll until the eventfd is written (edge-triggered: each
    /// write is seen once).
    fn wait(&self) {
        let mut written = self.written.lock().unwrap();
        while !*written {
            written = self.cv.wait(written).unwrap();
        }
        *written = false;
    }
}

/// One flag for both sides, with read-modify-writes on the remote side and for the loop's
/// clearing, but a plain store on the loop's side of a wake: that store breaks the release
/// sequence of a remote waker's swap, so the poll may miss what that waker wrote. (Why
/// `ScheduleState` keeps the loop's own flag apart.)
struct OneFlagPlainLocalStore(AtomicBool);

impl Protocol for OneFlagPlainLocalStore {
    fn queued() -> Self {
        OneFlagPlainLocalStore(AtomicBool::new(true))
    }
    fn wake_local(&self) -> bool {
        if self.0.load(Ordering::Relaxed) {
            return false;
        }
        self.0.store(true, Ordering::Relaxed);
        true
    }
    fn wake_remote(&self) -> bool {
        !self.0.swap(true, Ordering::AcqRel)
    }
    fn begin_poll(&self) {
        self.0.swap(false, Ordering::AcqRel);
    }
}

/// A remote waker that never skips on a load, but a loop that clears the flag with a
/// plain store: when the waker's swap comes first, the poll need not see its write.
struct PlainClear(AtomicBool);

impl Protocol for PlainClear {
    fn queued() -> Self {
        PlainClear(AtomicBool::new(true))
    }
    fn wake_local(&self) -> bool {
        if self.0.load(Ordering::Relaxed) {
            return false;
        }
        self.0.store(true, Ordering::Relaxed);
        true
    }
    fn wake_remote(&self) -> bool {
        !self.0.swap(true, Ordering::AcqRel)
    }
    fn begin_poll(&self) {
        self.0.store(false, Ordering::Relaxed);
    }
}

/// One task, its loop's remote queue and eventfd, and what each remote waker writes
/// before waking the task.
struct Model<P> {
    state: P,
    remote: RemoteQueue,
    eventfd: EventFd,
    written: Vec<AtomicBool>,
}

/// The task's id in the model.
const ID: u64 = 7;

/// `wakers` threads each write their value and wake the task; the loop polls it until it
/// has seen every value (first waking itself once from its first poll, if
/// `wakes_itself`, as `yield_now` does). A lost wake-up leaves the loop waiting forever.
///
/// With two wakers (three threads) the search is bounded to 3 preemptions (a few seconds;
/// `LOOM_MAX_PREEMPTIONS` overrides it), as is usual for loom models of this size.
fn check<P: Protocol>(wakers: usize, wakes_itself: bool) {
    let mut builder = loom::model::Builder::new();
    if wakers > 1 && builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(3);
    }
    builder.check(move || {
        let m = Arc::new(Model {
            state: P::queued(),
            remote: RemoteQueue::new(),
            eventfd: EventFd {
                written: Mutex::new(false),
                cv: Condvar::new(),
            },
            written: (0..wakers).map(|_| AtomicBool::new(false)).collect(),
        });
        let threads: Vec<_> = (0..wakers)
            .map(|i| {
                let m = Arc::clone(&m);
                thread::spawn(move || {
                    m.written[i].store(true, Ordering::Relaxed);
                    // `Header::schedule` from another thread, then `Shared::push_remote`.
                    if m.state.wake_remote() && m.remote.push(ID) {
                        m.eventfd.write();
                    }
                })
            })
            .collect();

        // The loop: the task was just spawned, so its id is in the local queue.
        let mut local = VecDeque::from([ID]);
        let mut woke_itself = !wakes_itself;
        'run: loop {
            while let Some(id) = local.pop_front() {
                assert_eq!(id, ID);
                m.state.begin_poll();
                // The poll.
                if m.written.iter().all(|w| w.load(Ordering::Relaxed)) {
                    break 'run; // the task saw every value: done
                }
                if !woke_itself {
                    woke_itself = true;
                    if m.state.wake_local() {
                        local.push_back(ID);
                    }
                }
            }
            let ids = m.remote.drain();
            if ids.is_empty() {
                m.eventfd.wait(); // loom reports a deadlock if no write comes
            } else {
                local.extend(ids);
            }
        }
        for t in threads {
            t.join().unwrap();
        }
    });
}

#[test]
fn loom_a_remote_wake_racing_the_first_poll_is_not_lost() {
    check::<ScheduleState>(1, false);
}

#[test]
fn loom_two_remote_wakes_racing_each_other_and_the_poll_are_both_seen() {
    check::<ScheduleState>(2, false);
}

#[test]
fn loom_a_remote_wake_racing_a_local_wake_is_not_lost() {
    check::<ScheduleState>(1, true);
}

#[test]
fn loom_two_remote_wakes_racing_a_local_wake_are_both_seen() {
    check::<ScheduleState>(2, true);
}

// The model has teeth: each of these protocols loses a wake-up, and loom finds it.

/// The protocol before the fix (issue 13).
#[test]
#[should_panic(expected = "deadlock")]
fn loom_the_relaxed_flag_protocol_loses_a_remote_wake() {
    check::<RelaxedFlag>(1, false);
}

#[test]
#[should_panic(expected = "deadlock")]
fn loom_a_plain_store_clearing_the_flag_loses_a_remote_wake() {
    check::<PlainClear>(1, false);
}

#[test]
#[should_panic(expected = "deadlock")]
fn loom_a_plain_store_on_the_local_path_of_a_shared_flag_loses_a_remote_wake() {
    check::<OneFlagPlainLocalStore>(2, true);
}
