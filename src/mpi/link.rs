//! The one thread of a rank that makes MPI calls (funneled threading), and what it does
//! with them: a non-blocking receive of whatever has arrived, within a size bound;
//! non-blocking sends, whose buffers it keeps until MPI is done with them; and a backoff
//! between rounds that answers within microseconds while messages flow and costs next
//! to nothing while idle.

use std::time::{Duration, Instant};

use mpi::point_to_point::{Destination, Source, Status};
use mpi::request::{Request, StaticScope};
use mpi::topology::{Communicator, Rank, SimpleCommunicator};
use mpi::traits::Equivalence;

use super::wire::MAX_MESSAGE;

/// The tag of every message: the pool's communicator is its own (a duplicate of the
/// world's), so nothing else can match them.
const TAG: i32 = 0x636f;

/// What a look at the incoming side found.
#[derive(Debug)]
pub(crate) enum Incoming {
    /// A whole message from `from`.
    Message { from: Rank, bytes: Vec<u8> },
    /// A message larger than [`MAX_MESSAGE`] from `from`: it is not received (nothing is
    /// allocated for it), and the sender has broken the protocol.
    TooLarge { from: Rank, len: usize },
}

/// A send MPI has not finished with: the request and the buffer it reads.
struct Sending {
    request: Request<'static, [u8], StaticScope>,
}

/// A rank's end of the pool's communicator.
pub(crate) struct Link {
    comm: SimpleCommunicator,
    sending: Vec<Sending>,
}

impl Link {
    pub(crate) fn new(comm: SimpleCommunicator) -> Link {
        Link {
            comm,
            sending: Vec::new(),
        }
    }

    pub(crate) fn size(&self) -> Rank {
        self.comm.size()
    }

    /// The next message that has arrived from `from` (any rank if `None`), if one has.
    pub(crate) fn receive(&mut self, from: Option<Rank>) -> Option<Incoming> {
        let probed = match from {
            Some(rank) => self
                .comm
                .process_at_rank(rank)
                .immediate_matched_probe_with_tag(TAG),
            None => self
                .comm
                .any_process()
                .immediate_matched_probe_with_tag(TAG),
        };
        let (message, status) = probed?;
        let from = status.source_rank();
        let len = count(&status);
        if len > MAX_MESSAGE {
            // Receiving it would mean allocating what the sender asks for. The matched
            // message stays with MPI, unreceived (rsmpi asserts on dropping one).
            std::mem::forget(message);
            return Some(Incoming::TooLarge { from, len });
        }
        let mut bytes = vec![0u8; len];
        message.matched_receive_into(&mut bytes[..]);
        Some(Incoming::Message { from, bytes })
    }

    /// Starts sending `bytes` to `to`; the buffer is kept until the send completes
    /// ([`progress`](Self::progress)).
    pub(crate) fn send(&mut self, to: Rank, bytes: Vec<u8>) {
        let buf: &'static [u8] = Box::leak(bytes.into_boxed_slice());
        let request = self
            .comm
            .process_at_rank(to)
            .immediate_send_with_tag(StaticScope, buf, TAG);
        self.sending.push(Sending { request });
        // Most sends complete at once (small ones are copied eagerly): free them now.
        self.progress();
    }

    /// Frees the buffers of the sends that have completed; `true` if none is left.
    pub(crate) fn progress(&mut self) -> bool {
        for Sending { request } in std::mem::take(&mut self.sending) {
            match request.test_with_data() {
                Ok((_, buf)) => {
                    // SAFETY: `buf` is the slice `send` leaked from a `Box<[u8]>`; the only
                    // other reference to it was the request's, which has completed and
                    // is gone, so the box can be taken back and freed.
                    drop(unsafe { Box::from_raw(buf as *const [u8] as *mut [u8]) });
                }
                Err(request) => self.sending.push(Sending { request }),
            }
        }
        self.sending.is_empty()
    }

    /// Ends the whole job now (`MPI_Abort`), every rank with it: for what leaves no
    /// way to go on (a rank that never joined, a peer that broke the protocol).
    pub(crate) fn abort(&self, code: i32) -> ! {
        self.comm.abort(code)
    }

    /// Waits until every send has completed, looking at what arrives meanwhile with
    /// `incoming` (a peer may wait for us to receive before its own send completes).
    pub(crate) fn flush(&mut self, mut incoming: impl FnMut(Incoming)) {
        let mut backoff = Backoff::default();
        while !self.progress() {
            match self.receive(None) {
                Some(m) => {
                    incoming(m);
                    backoff.reset();
                }
                None => backoff.idle(),
            }
        }
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        // A send still in flight owns its buffer: it is left to MPI, never freed under it
        // (rsmpi panics on dropping an incomplete request).
        for s in self.sending.drain(..) {
            std::mem::forget(s);
        }
    }
}

/// The number of bytes a probed message holds.
fn count(status: &Status) -> usize {
    let n = status.count(u8::equivalent_datatype());
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// How long a rank looks for work again at once (yielding the CPU between looks) after
/// the last thing that happened, before it starts to sleep.
const SPIN: Duration = Duration::from_micros(100);
/// The first sleep, doubled at every idle round up to [`MAX_SLEEP`].
const FIRST_SLEEP: Duration = Duration::from_micros(20);
/// The longest sleep: the most a message waits for an idle rank to look.
const MAX_SLEEP: Duration = Duration::from_millis(2);

/// The pause between rounds of a rank's loop that found nothing to do: none while things
/// happen, then a short spin, then sleeps that double up to [`MAX_SLEEP`]. Sleeping is
/// `park_timeout`, so another thread of the rank (a submit, a finished local task) wakes
/// it at once with `unpark`.
#[derive(Debug)]
pub(crate) struct Backoff {
    since: Instant,
    sleep: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            since: Instant::now(),
            sleep: FIRST_SLEEP,
        }
    }
}

impl Backoff {
    /// Something happened: look again at once, and spin for a while after.
    pub(crate) fn reset(&mut self) {
        self.since = Instant::now();
        self.sleep = FIRST_SLEEP;
    }

    /// Nothing happened this round: wait a little before the next.
    pub(crate) fn idle(&mut self) {
        if self.since.elapsed() < SPIN {
            std::thread::yield_now();
            return;
        }
        std::thread::park_timeout(self.sleep);
        self.sleep = (self.sleep * 2).min(MAX_SLEEP);
    }
}
