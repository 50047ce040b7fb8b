//! Exhaustive interleavings of the handle's state machine, under loom:
//! `RUSTFLAGS="--cfg concur_loom" cargo test --release --lib loom`.

use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::thread;

use super::{Core, TaskError};

#[test]
fn loom_cancel_against_claim_has_one_winner() {
    loom::model(|| {
        let core = Arc::new(Core::<u32>::with_tag(0));
        let c = Arc::clone(&core);
        let runner = thread::spawn(move || match c.claim() {
            Some(claim) => {
                claim.complete(Ok(5));
                true
            }
            None => false,
        });
        let cancelled = core.cancel(|| {});
        let ran = runner.join().unwrap();
        assert!(cancelled ^ ran, "exactly one of cancel and claim wins");
        assert!(core.is_finished());
        let outcome = core.take().unwrap();
        if cancelled {
            assert_eq!(outcome, Err(TaskError::Cancelled));
        } else {
            assert_eq!(outcome, Ok(5));
        }
        assert!(core.take().is_none(), "the outcome is taken once");
    });
}

#[test]
fn loom_a_parked_joiner_is_never_left_asleep() {
    loom::model(|| {
        let core = Arc::new(Core::<u32>::with_tag(0));
        let c = Arc::clone(&core);
        let runner = thread::spawn(move || {
            let claim = c.claim().unwrap();
            claim.complete(Ok(1));
        });
        assert!(core.wait(None));
        assert_eq!(core.take(), Some(Ok(1)));
        runner.join().unwrap();
    });
}

#[test]
fn loom_a_callback_runs_exactly_once_whoever_finishes_first() {
    loom::model(|| {
        let core = Arc::new(Core::<u32>::with_tag(0));
        let calls = Arc::new(AtomicUsize::new(0));
        let c = Arc::clone(&core);
        let runner = thread::spawn(move || c.claim().unwrap().complete(Ok(1)));
        let k = Arc::clone(&calls);
        core.on_done(Box::new(move || {
            k.fetch_add(1, Ordering::SeqCst);
        }));
        runner.join().unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    });
}

#[test]
fn loom_callbacks_keep_their_order_across_completion() {
    loom::model(|| {
        let core = Arc::new(Core::<u32>::with_tag(0));
        let log = Arc::new(loom::sync::Mutex::new(Vec::new()));
        let c = Arc::clone(&core);
        let l = Arc::clone(&log);
        core.on_done(Box::new(move || l.lock().unwrap().push(0)));
        let runner = thread::spawn(move || c.claim().unwrap().complete(Ok(1)));
        let l = Arc::clone(&log);
        core.on_done(Box::new(move || l.lock().unwrap().push(1)));
        runner.join().unwrap();
        assert_eq!(*log.lock().unwrap(), [0, 1]);
    });
}

struct Flag(AtomicUsize);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn loom_a_pending_poll_is_always_woken() {
    loom::model(|| {
        let core = Arc::new(Core::<u32>::with_tag(0));
        let flag = Arc::new(Flag(AtomicUsize::new(0)));
        let waker = Waker::from(Arc::clone(&flag));
        let c = Arc::clone(&core);
        let runner = thread::spawn(move || c.claim().unwrap().complete(Ok(1)));
        let first = core.poll_finished(&mut Context::from_waker(&waker));
        runner.join().unwrap();
        if first == Poll::Pending {
            assert_eq!(flag.0.load(Ordering::SeqCst), 1, "woken after Pending");
        }
        assert_eq!(core.take(), Some(Ok(1)));
    });
}

#[test]
fn loom_an_outcome_callback_sees_the_value_once_and_the_taker_still_gets_it() {
    loom::model(|| {
        let core = Arc::new(Core::<u32>::with_tag(0));
        let seen = Arc::new(AtomicUsize::new(0));
        let c = Arc::clone(&core);
        let runner = thread::spawn(move || c.claim().unwrap().complete(Ok(7)));
        let s = Arc::clone(&seen);
        core.on_outcome(Box::new(move |r| {
            s.fetch_add(*r.unwrap() as usize, Ordering::SeqCst);
        }));
        // A joiner that takes as soon as the task reports finished: the callback ran by then.
        while !core.is_finished() {
            thread::yield_now();
        }
        assert_eq!(
            seen.load(Ordering::SeqCst),
            7,
            "before the handle reports finished"
        );
        assert_eq!(core.take(), Some(Ok(7)));
        runner.join().unwrap();
    });
}
