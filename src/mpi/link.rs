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
    /// When this rank last sent to each rank, and last heard from it.
    sent_at: Vec<Instant>,
    heard_at: Vec<Instant>,
}

impl Link {
    pub(crate) fn new(comm: SimpleCommunicator) -> Link {
        let now = Instant::now();
        let size = comm.size().max(1) as usize;
        Link {
            comm,
            sending: Vec::new(),
            sent_at: vec![now; size],
            heard_at: vec![now; size],
        }
    }

    /// How long since this rank last sent anything to `rank`.
    pub(crate) fn quiet_to(&self, rank: Rank) -> Duration {
        self.sent_at
            .get(rank as usize)
            .map_or(Duration::ZERO, Instant::elapsed)
    }

    /// How long since anything arrived from `rank`.
    pub(crate) fn silent_from(&self, rank: Rank) -> Duration {
        self.heard_at
            .get(rank as usize)
            .map_or(Duration::ZERO, Instant::elapsed)
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
        if let Some(at) = self.heard_at.get_mut(from as usize) {
            *at = Instant::now();
        }
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
        if let Some(at) = self.sent_at.get_mut(to as usize) {
            *at = Instant::now();
        }
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
                None => backoff.idle(true),
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

/// How often a rank that has sent nothing else lets the others know it is alive.
pub(crate) const HEARTBEAT: Duration = Duration::from_millis(500);

/// How long a rank looks for work again at once (yielding the CPU between looks) after
/// the last thing that happened, before it starts to sleep.
const SPIN: Duration = Duration::from_micros(100);
/// How long after the last thing that happened a rank that expects a message keeps
/// looking every [`HOT_SLEEP`]. It must be well above [`MAX_SLEEP`]: two ranks that
/// answer each other (a stream of round trips) then always find the other's message
/// while hot, and never settle into answering each other a sleep late.
const HOT: Duration = Duration::from_millis(20);
/// The sleep between looks while hot.
const HOT_SLEEP: Duration = Duration::from_micros(50);
/// The longest sleep of a rank that expects a message, in the first second of quiet:
/// the most a message waits for a rank that was busy a moment ago.
const MAX_SLEEP: Duration = Duration::from_millis(5);
/// After a second of quiet the rank is idle, not between two messages of a stream: it
/// sleeps up to this long. (A look and its wake-up cost some 30 µs of CPU with Open
/// MPI's progress engine: at this pace an idle agent uses about 0.3% of a core.)
const IDLE: Duration = Duration::from_secs(1);
const MAX_IDLE_SLEEP: Duration = Duration::from_millis(10);
/// The sleep of a rank that expects no message at all (rank 0 with no task on an agent):
/// only another thread of its own can give it work, and that one wakes it.
const NOTHING_EXPECTED: Duration = Duration::from_millis(100);
const _: () = assert!(NOTHING_EXPECTED.as_nanos() * 4 < HEARTBEAT.as_nanos());
const _: () = assert!(MAX_IDLE_SLEEP.as_nanos() * 10 < HEARTBEAT.as_nanos());

/// The pause between rounds of a rank's loop that found nothing to do: none while things
/// happen, then a short spin, then looks every 50 µs for 20 ms, then sleeps that double up
/// to [`MAX_SLEEP`], and to [`MAX_IDLE_SLEEP`] after a second of quiet. Sleeping is `park_timeout`, so another thread of the rank (a submit,
/// a finished local task) wakes it at once with `unpark`.
#[derive(Debug)]
pub(crate) struct Backoff {
    since: Instant,
    sleep: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            since: Instant::now(),
            sleep: HOT_SLEEP,
        }
    }
}

impl Backoff {
    /// Something happened: look again at once, and stay hot for a while after.
    pub(crate) fn reset(&mut self) {
        self.since = Instant::now();
        self.sleep = HOT_SLEEP;
    }

    /// Nothing happened this round: wait a little before the next. `expecting`: a
    /// message from another rank may arrive (otherwise only an `unpark` brings work).
    pub(crate) fn idle(&mut self, expecting: bool) {
        if !expecting {
            std::thread::park_timeout(NOTHING_EXPECTED);
            return;
        }
        let quiet = self.since.elapsed();
        if quiet < SPIN {
            std::thread::yield_now();
        } else if quiet < HOT {
            std::thread::park_timeout(HOT_SLEEP);
        } else {
            std::thread::park_timeout(self.sleep);
            let cap = if quiet < IDLE {
                MAX_SLEEP
            } else {
                MAX_IDLE_SLEEP
            };
            self.sleep = (self.sleep * 2).min(cap);
        }
    }
}
