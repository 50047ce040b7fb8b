//! [`Wheel`]: a hierarchical timing wheel, the structure behind every timer of the loop.
//!
//! Six levels of 64 slots each; level `l` slots are `64^l` milliseconds wide, so the wheel
//! spans 64^6 ms (about 2.2 years; later deadlines are clamped). A timer lives in the
//! slot of the lowest level whose span still separates it from the current time, in a
//! doubly linked list threaded through a slab by index. Arming and cancelling are O(1)
//! (a slab insert and a list link, or an unlink): the common case of a timeout that is
//! cancelled long before it fires costs two constant-time operations and no search.
//! Advancing time takes whole slots: level-0 entries fire, higher-level entries cascade
//! down to the level that now fits them, so each timer moves at most six times.

use std::task::Waker;

use slab::Slab;

const LEVELS: usize = 6;
const SLOT_BITS: u32 = 6;
const SLOTS: usize = 1 << SLOT_BITS;
/// The largest distance from "now" the wheel can represent, in ms.
const MAX_SPAN: u64 = 1 << (SLOT_BITS as usize * LEVELS);
/// The width of one slot of the top level, in ms.
const TOP_SLOT_SPAN: u64 = 1 << (SLOT_BITS as usize * (LEVELS - 1));
/// The end of a slot list. Timer keys are stored as `u32` to keep entries small.
const NIL: u32 = u32::MAX;

/// A timer's place in the wheel, or its state once out of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    /// Linked in `heads[level][slot]`.
    Linked { level: u8, slot: u8 },
    /// Its deadline passed and its waker was taken.
    Fired,
}

#[derive(Debug)]
struct Entry {
    deadline: u64,
    waker: Option<Waker>,
    prev: u32,
    next: u32,
    place: Place,
}

/// The timing wheel. Times are milliseconds since the loop's start.
#[derive(Debug)]
pub(crate) struct Wheel {
    entries: Slab<Entry>,
    /// Heads of the slot lists.
    heads: [[u32; SLOTS]; LEVELS],
    /// Bit `s` of `occupied[l]` is set when slot `s` of level `l` is non-empty.
    occupied: [u64; LEVELS],
    /// Time up to which the wheel has been processed.
    elapsed: u64,
}

/// The level whose slots separate `elapsed` and `when` (`when` ≥ `elapsed`).
fn level_for(elapsed: u64, when: u64) -> usize {
    let masked = ((elapsed ^ when) | (SLOTS as u64 - 1)).min(MAX_SPAN - 1);
    let significant = 63 - masked.leading_zeros() as usize;
    significant / SLOT_BITS as usize
}

fn slot_for(level: usize, when: u64) -> usize {
    ((when >> (level * SLOT_BITS as usize)) as usize) & (SLOTS - 1)
}

impl Wheel {
    pub(crate) fn new() -> Self {
        Wheel {
            entries: Slab::new(),
            heads: [[NIL; SLOTS]; LEVELS],
            occupied: [0; LEVELS],
            elapsed: 0,
        }
    }

    /// Arms a timer for `deadline` (ms). A deadline already passed fires at the next
    /// `advance`. Returns its key.
    pub(crate) fn insert(&mut self, deadline: u64, waker: Waker) -> usize {
        let key = self.entries.insert(Entry {
            deadline,
            waker: Some(waker),
            prev: NIL,
            next: NIL,
            place: Place::Fired,
        });
        assert!(
            key < NIL as usize,
            "concur::aio: more than 4 billion timers armed at once"
        );
        self.link(key);
        key
    }

    /// `true` once the timer `key` has fired.
    pub(crate) fn has_fired(&self, key: usize) -> bool {
        self.entries[key].place == Place::Fired
    }

    /// Replaces the waker of a timer that has not fired. Returns the waker it replaced,
    /// for the caller to drop once the wheel is no longer borrowed (see [`remove`]).
    ///
    /// [`remove`]: Self::remove
    #[must_use = "drop the old waker after releasing the wheel's borrow"]
    pub(crate) fn set_waker(&mut self, key: usize, waker: &Waker) -> Option<Waker> {
        let e = &mut self.entries[key];
        match &e.waker {
            Some(w) if w.will_wake(waker) => None,
            _ => e.waker.replace(waker.clone()),
        }
    }

    /// Cancels and forgets a timer, fired or not. Returns its waker (if it still had
    /// one), for the caller to drop once the wheel is no longer borrowed: dropping a
    /// waker runs arbitrary code (the last reference to whatever it owns, other sleeps
    /// included), which may use the wheel again (tokio's `time_sleep.rs drop_from_wake`).
    #[must_use = "drop the waker after releasing the wheel's borrow"]
    pub(crate) fn remove(&mut self, key: usize) -> Option<Waker> {
        self.unlink(key);
        self.entries.remove(key).waker
    }

    fn link(&mut self, key: usize) {
        // A deadline beyond the wheel's span waits in a far slot of the top level (never
        // the current one, which would come round at once) and is placed again, closer,
        // when that slot comes round.
        let deadline = self.entries[key]
            .deadline
            .clamp(self.elapsed, self.elapsed + (MAX_SPAN - TOP_SLOT_SPAN));
        let level = level_for(self.elapsed, deadline);
        let slot = slot_for(level, deadline);
        let head = self.heads[level][slot];
        {
            let e = &mut self.entries[key];
            e.place = Place::Linked {
                level: level as u8,
                slot: slot as u8,
            };
            e.prev = NIL;
            e.next = head;
        }
        if head != NIL {
            self.entries[head as usize].prev = key as u32;
        }
        self.heads[level][slot] = key as u32;
        self.occupied[level] |= 1 << slot;
    }

    fn unlink(&mut self, key: usize) {
        let (place, prev, next) = {
            let e = &self.entries[key];
            (e.place, e.prev, e.next)
        };
        let Place::Linked { level, slot } = place else {
            return;
        };
        let (level, slot) = (usize::from(level), usize::from(slot));
        if prev == NIL {
            self.heads[level][slot] = next;
            if next == NIL {
                self.occupied[level] &= !(1 << slot);
            }
        } else {
            self.entries[prev as usize].next = next;
        }
        if next != NIL {
            self.entries[next as usize].prev = prev;
        }
        let e = &mut self.entries[key];
        e.place = Place::Fired;
        e.prev = NIL;
        e.next = NIL;
    }

    /// The start time of the earliest non-empty slot, or `None` if no timer is armed.
    /// That is when `advance` next has work to do; a timer never fires before its
    /// deadline, but a higher-level slot may start (and cascade) earlier.
    pub(crate) fn next_expiration(&self) -> Option<u64> {
        (0..LEVELS).find_map(|level| self.next_in_level(level))
    }

    fn next_in_level(&self, level: usize) -> Option<u64> {
        if self.occupied[level] == 0 {
            return None;
        }
        let shift = level * SLOT_BITS as usize;
        let slot_span = 1u64 << shift;
        let level_span = slot_span << SLOT_BITS;
        let now_slot = ((self.elapsed >> shift) as usize) & (SLOTS - 1);
        let rotated = self.occupied[level].rotate_right(now_slot as u32);
        let slot = (rotated.trailing_zeros() as usize + now_slot) % SLOTS;
        let level_start = self.elapsed & !(level_span - 1);
        let mut when = level_start + slot as u64 * slot_span;
        if when + slot_span <= self.elapsed {
            when += level_span;
        }
        Some(when.max(self.elapsed))
    }

    /// Processes time up to `now` (ms): fires every timer whose deadline is ≤ `now`,
    /// pushing its waker to `fired`, and cascades the others down.
    pub(crate) fn advance(&mut self, now: u64, fired: &mut Vec<Waker>) {
        while let Some(when) = self.next_expiration() {
            if when > now {
                break;
            }
            // The earliest slot: take its whole list.
            let level = (0..LEVELS)
                .find(|&l| self.next_in_level(l) == Some(when))
                .expect("next_expiration came from a level");
            let slot = slot_for(level, when);
            let mut key = std::mem::replace(&mut self.heads[level][slot], NIL);
            self.occupied[level] &= !(1 << slot);
            self.elapsed = when;
            while key != NIL {
                let next = self.entries[key as usize].next;
                let e = &mut self.entries[key as usize];
                e.place = Place::Fired;
                e.prev = NIL;
                e.next = NIL;
                if e.deadline <= now {
                    if let Some(w) = e.waker.take() {
                        fired.push(w);
                    }
                } else {
                    self.link(key as usize);
                }
                key = next;
            }
        }
        self.elapsed = self.elapsed.max(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::Wake;

    struct Mark(usize, Arc<std::sync::Mutex<Vec<usize>>>);
    impl Wake for Mark {
        fn wake(self: Arc<Self>) {
            self.1.lock().unwrap().push(self.0);
        }
    }

    fn fire_all(w: &mut Wheel, now: u64) -> usize {
        let mut fired = Vec::new();
        w.advance(now, &mut fired);
        let n = fired.len();
        fired.into_iter().for_each(Waker::wake);
        n
    }

    #[test]
    fn timers_fire_in_deadline_order_and_never_early() {
        let log = Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut w = Wheel::new();
        // Deadlines across every level, inserted in a scrambled order.
        let mut deadlines: Vec<u64> = (0..2000u64).map(|i| (i * 7919) % 5_000_000).collect();
        deadlines.extend([0, 1, 63, 64, 65, 4095, 4096, 262_143, 262_144, 16_777_216]);
        for (i, &d) in deadlines.iter().enumerate() {
            w.insert(d, Waker::from(Arc::new(Mark(i, log.clone()))));
        }
        let mut now = 0;
        let mut fired_total = 0;
        while let Some(next) = w.next_expiration() {
            assert!(next >= now, "time never goes back");
            now = next;
            let before = log.lock().unwrap().len();
            fired_total += fire_all(&mut w, now);
            for &i in &log.lock().unwrap()[before..] {
                assert!(
                    deadlines[i] <= now,
                    "fired early: {} at {now}",
                    deadlines[i]
                );
                assert!(deadlines[i] >= now.saturating_sub(0), "fired late");
            }
            if fired_total == deadlines.len() {
                break;
            }
        }
        assert_eq!(fired_total, deadlines.len());
        let order: Vec<u64> = log.lock().unwrap().iter().map(|&i| deadlines[i]).collect();
        assert!(order.windows(2).all(|p| p[0] <= p[1]), "in deadline order");
    }

    #[test]
    fn cancelled_timers_never_fire() {
        let hits = Arc::new(AtomicUsize::new(0));
        struct Count(Arc<AtomicUsize>);
        impl Wake for Count {
            fn wake(self: Arc<Self>) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let mut w = Wheel::new();
        let keys: Vec<usize> = (0..100_000u64)
            .map(|i| w.insert(1 + i % 30_000, Waker::from(Arc::new(Count(hits.clone())))))
            .collect();
        for (i, k) in keys.iter().enumerate() {
            if i % 10 != 0 {
                drop(w.remove(*k));
            }
        }
        fire_all(&mut w, 40_000);
        assert_eq!(hits.load(Ordering::SeqCst), 10_000);
    }

    #[test]
    fn deadlines_beyond_the_span_wait_and_fire_on_time() {
        let log = Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut w = Wheel::new();
        let far = [MAX_SPAN + 5, 3 * MAX_SPAN + 7, u64::MAX / 2];
        for (i, &d) in far.iter().enumerate() {
            w.insert(d, Waker::from(Arc::new(Mark(i, log.clone()))));
        }
        // Also from a time just before a top-level slot boundary.
        w.advance(TOP_SLOT_SPAN - 1, &mut Vec::new());
        w.insert(
            TOP_SLOT_SPAN - 1 + MAX_SPAN * 2,
            Waker::from(Arc::new(Mark(3, log.clone()))),
        );
        let mut now = TOP_SLOT_SPAN - 1;
        let mut steps = 0;
        while log.lock().unwrap().len() < 3 {
            let next = w.next_expiration().expect("timers remain");
            assert!(next > now || next == w.elapsed, "time moves on");
            now = next.max(now + 1);
            fire_all(&mut w, now);
            steps += 1;
            assert!(steps < 10_000, "the wheel does not spin");
        }
        let fired = log.lock().unwrap().clone();
        assert_eq!(fired, [0, 3, 1]);
        assert!(now >= 3 * MAX_SPAN + 7);
    }

    #[test]
    fn a_far_deadline_cascades_and_fires_exactly_on_time() {
        let log = Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut w = Wheel::new();
        w.insert(1_000_003, Waker::from(Arc::new(Mark(0, log.clone()))));
        assert_eq!(fire_all(&mut w, 1_000_002), 0);
        assert_eq!(fire_all(&mut w, 1_000_003), 1);
    }
}
