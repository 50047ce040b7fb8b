//! The byte stream between a pool and one worker: a Unix socket pair inherited by the
//! worker (never a path another process could open), read and written in whole buffers,
//! with file descriptors riding along as `SCM_RIGHTS`.

use std::collections::VecDeque;
use std::io::{self, IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::net::{
    RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, ReturnFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags,
};

use super::codec::MAX_FDS;
use super::protocol;

/// Descriptors a reader holds for frames not yet decoded, at most: more is a protocol
/// violation. A reader that reads several messages before it decodes stops while
/// [`ReadBuf::has_room_for_fds`] is false, so however many results a worker sends ahead,
/// only a sender that breaks the protocol (more descriptors than its frames announce)
/// goes past it.
pub(crate) const MAX_QUEUED_FDS: usize = 17 * MAX_FDS;

/// Bytes read per call when no frame asks for more.
const CHUNK: usize = 64 * 1024;

/// Buffer memory kept between frames, at most.
const KEEP: usize = 4 << 20;

/// Incoming bytes and descriptors, in order.
#[derive(Debug, Default)]
pub(crate) struct ReadBuf {
    /// Always initialized; `data[start..end]` is unread.
    data: Vec<u8>,
    start: usize,
    end: usize,
    /// The most of `data` used since it was last empty.
    peak: usize,
    idle: Idle,
    /// Descriptors received and not yet claimed by a frame, in arrival order.
    pub(crate) fds: VecDeque<OwnedFd>,
}

/// What one `fill` saw.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Filled {
    /// This many bytes arrived.
    Bytes(usize),
    /// Nothing to read now (non-blocking only).
    WouldBlock,
    /// The other end closed the stream.
    Closed,
}

impl ReadBuf {
    /// The unread bytes.
    pub(crate) fn unread(&self) -> &[u8] {
        &self.data[self.start..self.end]
    }

    /// Marks `n` unread bytes as consumed.
    pub(crate) fn consume(&mut self, n: usize) {
        debug_assert!(n <= self.end - self.start);
        self.start += n;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
            let used = std::mem::take(&mut self.peak);
            if self.data.len() > KEEP && self.idle.release_after(used, self.data.len()) {
                self.data = Vec::new();
            }
        }
    }

    /// Reads once from `fd`, with room for at least `want` more bytes (capped to what one
    /// frame may be, by the caller), and descriptors into `fds`.
    pub(crate) fn fill(
        &mut self,
        fd: BorrowedFd<'_>,
        want: usize,
        blocking: bool,
    ) -> io::Result<Filled> {
        let want = want.max(CHUNK);
        if self.data.len() - self.end < want {
            // Move the unread bytes to the front first, then grow only if still short.
            self.data.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            if self.data.len() - self.end < want {
                self.data.resize(self.end + want, 0);
            }
        }
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS))];
        let mut control = RecvAncillaryBuffer::new(&mut space);
        let mut flags = RecvFlags::CMSG_CLOEXEC;
        if !blocking {
            flags |= RecvFlags::DONTWAIT;
        }
        let got = loop {
            let mut iov = [IoSliceMut::new(&mut self.data[self.end..])];
            match rustix::net::recvmsg(fd, &mut iov, &mut control, flags) {
                Ok(got) => break got,
                Err(rustix::io::Errno::INTR) => continue,
                Err(rustix::io::Errno::AGAIN) => return Ok(Filled::WouldBlock),
                Err(e) => return Err(e.into()),
            }
        };
        let mut received = 0;
        for msg in control.drain() {
            if let RecvAncillaryMessage::ScmRights(fds) = msg {
                for fd in fds {
                    received += 1;
                    self.fds.push_back(fd);
                }
            }
        }
        if got.flags.contains(ReturnFlags::CTRUNC) || self.fds.len() > MAX_QUEUED_FDS {
            self.fds.clear();
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("too many file descriptors sent along ({received} in one message)"),
            ));
        }
        if got.bytes == 0 {
            return Ok(Filled::Closed);
        }
        self.end += got.bytes;
        self.peak = self.peak.max(self.end);
        Ok(Filled::Bytes(got.bytes))
    }

    /// `true` while one more message (with the most descriptors one may carry) fits under
    /// [`MAX_QUEUED_FDS`]: a reader that reads on before decoding must stop, and decode,
    /// once this is false.
    pub(crate) fn has_room_for_fds(&self) -> bool {
        self.fds.len() + MAX_FDS <= MAX_QUEUED_FDS
    }

    /// Takes the `n` oldest received descriptors, if that many arrived.
    pub(crate) fn take_fds(&mut self, n: u32) -> Option<Vec<OwnedFd>> {
        take_fds(&mut self.fds, n)
    }

    /// The unread bytes and the received descriptors, borrowed apart.
    pub(crate) fn split(&mut self) -> (&[u8], &mut VecDeque<OwnedFd>) {
        (&self.data[self.start..self.end], &mut self.fds)
    }
}

/// Takes the `n` oldest descriptors of `fds`, if it holds that many.
pub(crate) fn take_fds(fds: &mut VecDeque<OwnedFd>, n: u32) -> Option<Vec<OwnedFd>> {
    let n = n as usize;
    if n > fds.len() {
        return None;
    }
    Some(fds.drain(..n).collect())
}

/// Outgoing bytes and the descriptors to send along with them.
#[derive(Debug, Default)]
pub(crate) struct WriteBuf {
    /// Whole frames are appended here; `data[pos..]` is unsent.
    pub(crate) data: Vec<u8>,
    pos: usize,
    /// A frame start at or after `pos` (or `data.len()`): every frame that starts before
    /// it has had its descriptors sent, and none between `pos` and it carries any.
    next_frame: usize,
    /// The descriptors of the frames in `data` not sent yet, in frame order. Each frame's
    /// descriptors go out in one message with its first byte (a frame carries at most
    /// [`MAX_FDS`]), so the reader holds them exactly when it has that frame's start.
    pub(crate) fds: VecDeque<OwnedFd>,
    idle: Idle,
}

/// When to give back a large buffer: after many uses in a row that needed a small part of
/// it. Repeated large frames keep their memory (faulting in fresh pages for each would
/// cost more than the copy); one large frame does not pin it for the channel's life.
#[derive(Debug, Default)]
struct Idle(u32);

impl Idle {
    fn release_after(&mut self, used: usize, held: usize) -> bool {
        if used > held / 4 {
            self.0 = 0;
            return false;
        }
        self.0 += 1;
        if self.0 >= 64 {
            self.0 = 0;
            return true;
        }
        false
    }
}

impl WriteBuf {
    /// `true` if nothing is waiting to be sent.
    pub(crate) fn is_empty(&self) -> bool {
        self.pos == self.data.len()
    }

    /// Sends what it can. Returns `true` once everything is out; `false` if the socket is
    /// full (non-blocking only).
    pub(crate) fn flush(&mut self, fd: BorrowedFd<'_>, blocking: bool) -> io::Result<bool> {
        let mut flags = SendFlags::NOSIGNAL;
        if !blocking {
            flags |= SendFlags::DONTWAIT;
        }
        while self.pos < self.data.len() {
            let (n_fds, end) = self.next_send();
            let borrowed: Vec<BorrowedFd<'_>> =
                self.fds.iter().take(n_fds).map(AsFd::as_fd).collect();
            let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS))];
            let mut control = SendAncillaryBuffer::new(&mut space);
            if !borrowed.is_empty() {
                let pushed = control.push(SendAncillaryMessage::ScmRights(&borrowed));
                debug_assert!(pushed);
            }
            let iov = [IoSlice::new(&self.data[self.pos..end])];
            match rustix::net::sendmsg(fd, &iov, &mut control, flags) {
                Ok(n) => {
                    // A stream socket takes the descriptors with the first byte it takes.
                    drop(borrowed);
                    self.fds.drain(..n_fds);
                    self.pos += n;
                    // Only now: a message that did not go out sends nothing, descriptors
                    // included, and is planned again.
                    self.next_frame = self.next_frame.max(end);
                }
                Err(rustix::io::Errno::INTR) => {}
                Err(rustix::io::Errno::AGAIN) => return Ok(false),
                Err(e) => return Err(e.into()),
            }
        }
        let used = self.data.len();
        self.data.clear();
        self.pos = 0;
        self.next_frame = 0;
        if self.data.capacity() > KEEP && self.idle.release_after(used, self.data.capacity()) {
            self.data = Vec::new();
        }
        Ok(true)
    }

    /// What the next `sendmsg` carries: how many descriptors (from the front of `fds`) and
    /// the bytes `pos..end`. A frame's descriptors ride on its first byte, and a message
    /// never runs into the next frame that carries descriptors of its own: every
    /// descriptor leaves with its frame, however the bytes are split. Once the message
    /// went out, every frame that starts before `end` has sent its descriptors.
    fn next_send(&mut self) -> (usize, usize) {
        let len = self.data.len();
        if self.fds.is_empty() {
            return (0, len);
        }
        // Frames that started going out earlier have sent their descriptors already.
        while self.next_frame < self.pos {
            match frame_at(&self.data, self.next_frame) {
                Some((end, _)) => self.next_frame = end,
                None => return self.unframed(),
            }
        }
        if self.next_frame > self.pos {
            return (0, self.next_frame.min(len));
        }
        let Some((mut end, n)) = frame_at(&self.data, self.pos) else {
            return self.unframed();
        };
        // Frames without descriptors may go along in the same message.
        while end < len {
            match frame_at(&self.data, end) {
                Some((next, 0)) => end = next,
                Some(_) => break,
                None => return self.unframed(),
            }
        }
        (n.min(self.fds.len()).min(MAX_FDS), end)
    }

    /// Bytes that are not whole frames (never written by this crate): descriptors go with
    /// the first bytes, as many as one message takes.
    fn unframed(&self) -> (usize, usize) {
        (self.fds.len().min(MAX_FDS), self.data.len())
    }
}

/// The end of the whole frame that starts at `at`, and how many descriptors it carries;
/// `None` if `data` does not hold a whole frame there.
fn frame_at(data: &[u8], at: usize) -> Option<(usize, usize)> {
    let rest = data.get(at..)?;
    let (s, e) = protocol::next_frame(rest, protocol::MAX_BODY).ok()??;
    let body = &rest[s..e];
    let n = match body.first()? {
        kind if kind & 0x80 == 0 => match protocol::decode_to_worker(body) {
            Ok(protocol::ToWorker::Task { nfds, .. }) => nfds,
            Ok(protocol::ToWorker::Board) => 1,
            _ => 0,
        },
        _ => match protocol::decode_from_worker(body) {
            Ok(protocol::FromWorker::Done { nfds, .. }) => nfds,
            _ => 0,
        },
    };
    Some((at + e, n as usize))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustix::net::{AddressFamily, SocketFlags, SocketType};

    fn pair() -> (OwnedFd, OwnedFd) {
        rustix::net::socketpair(
            AddressFamily::UNIX,
            SocketType::STREAM,
            SocketFlags::CLOEXEC,
            None,
        )
        .unwrap()
    }

    #[test]
    fn bytes_and_descriptors_arrive_in_order() {
        let (a, b) = pair();
        let mut w = WriteBuf::default();
        w.data.extend_from_slice(b"hello");
        let f1 = rustix::fs::memfd_create("x", rustix::fs::MemfdFlags::CLOEXEC).unwrap();
        w.fds.push_back(f1);
        assert!(w.flush(a.as_fd(), true).unwrap());
        assert!(w.is_empty());
        let mut r = ReadBuf::default();
        assert_eq!(r.fill(b.as_fd(), 0, true).unwrap(), Filled::Bytes(5));
        assert_eq!(r.unread(), b"hello");
        assert!(r.take_fds(2).is_none());
        assert_eq!(r.take_fds(1).unwrap().len(), 1);
        r.consume(5);
        assert_eq!(r.fill(b.as_fd(), 0, false).unwrap(), Filled::WouldBlock);
        drop(a);
        assert_eq!(r.fill(b.as_fd(), 0, true).unwrap(), Filled::Closed);
    }

    /// Appends a task frame with `pad` bytes of payload and `nfds` descriptors.
    fn push_frame(w: &mut WriteBuf, id: u64, pad: usize, nfds: u32) {
        let open = protocol::begin_task(&mut w.data, id, 0, 0);
        w.data.resize(w.data.len() + pad, id as u8);
        open.set_task_nfds(&mut w.data, nfds);
        open.finish(&mut w.data, 1 << 30).unwrap();
        for _ in 0..nfds {
            let f = rustix::fs::memfd_create("x", rustix::fs::MemfdFlags::CLOEXEC).unwrap();
            w.fds.push_back(f);
        }
    }

    /// Decodes the whole frames `r` holds, checking each finds its descriptors; their ids.
    fn take_frames(r: &mut ReadBuf) -> Vec<u64> {
        let mut ids = Vec::new();
        while let Some((s, e)) = protocol::next_frame(r.unread(), 1 << 30).unwrap() {
            let protocol::ToWorker::Task { id, nfds, .. } =
                protocol::decode_to_worker(&r.unread()[s..e]).unwrap()
            else {
                panic!("a task frame");
            };
            assert_eq!(
                r.take_fds(nfds).map(|f| f.len()),
                Some(nfds as usize),
                "frame {id} finds its descriptors"
            );
            ids.push(id);
            r.consume(e);
        }
        ids
    }

    #[test]
    fn every_descriptor_leaves_with_its_own_frame() {
        let (a, b) = pair();
        let mut w = WriteBuf::default();
        // Frames of 64 descriptors and one without, queued at once: their bytes fit in
        // one message, their descriptors do not.
        for (id, nfds) in [(1, 64), (2, 0), (3, 64), (4, 64)] {
            push_frame(&mut w, id, 10, nfds);
        }
        assert!(w.flush(a.as_fd(), true).unwrap());
        assert!(w.fds.is_empty(), "every descriptor went out");
        drop(a);
        let mut r = ReadBuf::default();
        let mut ids = Vec::new();
        loop {
            ids.extend(take_frames(&mut r));
            if r.fill(b.as_fd(), 0, true).unwrap() == Filled::Closed {
                break;
            }
        }
        assert_eq!(ids, [1, 2, 3, 4]);
        assert!(r.fds.is_empty());
    }

    #[test]
    fn the_board_frame_carries_its_descriptor_apart_from_the_next_tasks() {
        let mut w = WriteBuf::default();
        protocol::board(&mut w.data);
        w.fds.push_back(pair().0);
        push_frame(&mut w, 1, 10, 2);
        // The board's one descriptor goes with the board frame alone: a task frame with
        // descriptors of its own starts a message of its own.
        let (n, end) = w.next_send();
        assert_eq!(n, 1);
        assert_eq!(frame_at(&w.data, 0).map(|(e, _)| e), Some(end));
    }

    #[test]
    fn a_message_that_did_not_go_out_is_planned_again_with_its_descriptors() {
        let mut w = WriteBuf::default();
        push_frame(&mut w, 1, 10, 64);
        push_frame(&mut w, 2, 10, 64);
        let first = w.next_send();
        assert_eq!(first.0, 64);
        // The socket was full (EAGAIN) or the call interrupted: nothing went out.
        assert_eq!(w.next_send(), first);
    }

    #[test]
    fn descriptors_wait_with_their_frame_while_the_socket_is_full() {
        let (a, b) = pair();
        let mut w = WriteBuf::default();
        let mut r = ReadBuf::default();
        let mut ids = Vec::new();
        // A large frame fills the socket; small frames with descriptors queue behind it,
        // and are flushed, without blocking, a little at a time as the reader drains.
        push_frame(&mut w, 0, 4 << 20, 64);
        assert!(!w.flush(a.as_fd(), false).unwrap());
        for id in 1..40 {
            push_frame(&mut w, id, 100, if id % 3 == 0 { 0 } else { 64 });
            let _ = w.flush(a.as_fd(), false).unwrap();
        }
        while !w.flush(a.as_fd(), false).unwrap() || ids.len() < 40 {
            if let Filled::Bytes(_) = r.fill(b.as_fd(), 4096, false).unwrap() {
                ids.extend(take_frames(&mut r));
            }
        }
        assert_eq!(ids, (0..40).collect::<Vec<u64>>());
        assert!(w.fds.is_empty() && r.fds.is_empty());
    }

    #[test]
    fn a_full_socket_keeps_the_rest_for_later() {
        let (a, b) = pair();
        let mut w = WriteBuf {
            data: vec![1; 64 << 20],
            ..Default::default()
        };
        assert!(!w.flush(a.as_fd(), false).unwrap());
        assert!(!w.is_empty());
        let mut r = ReadBuf::default();
        let mut total = 0;
        while total < 64 << 20 {
            if let Filled::Bytes(n) = r.fill(b.as_fd(), 1 << 20, false).unwrap() {
                total += n;
                let k = r.unread().len();
                r.consume(k);
            }
            w.flush(a.as_fd(), false).unwrap();
        }
        assert!(w.is_empty());
    }
}
