//! Read-ahead for byte streams on readiness (epoll): what spares a read the system call
//! that only hears "would block".
//!
//! Edge-triggered readiness leaves a stream "readable" until a read comes back short: a
//! read that fills the caller's buffer exactly cannot tell whether the socket has more,
//! so the next read must try the socket, and when the peer sent exactly one message
//! (`read_exact` of a fixed-size frame, the common case) that try costs a `recvfrom`
//! that fails with `EAGAIN` before the loop waits. tokio pays it on every such message.
//!
//! A stream whose read filled the caller's buffer exactly switches to reading ahead:
//! small reads receive into a buffer of the stream's ([`SIZE`] bytes) and are served from
//! it, so a message shorter than that comes back short, the readiness is forgotten at
//! once, and the next read waits for the next event instead of asking the socket. The
//! price is one copy of the bytes (cheaper than a system call for reads this small);
//! reads of [`SIZE`] bytes or more still go to the socket directly, into the caller's
//! buffer.

/// The read-ahead buffer's size, and the largest read served through it.
pub(super) const SIZE: usize = 4096;

/// A stream's read-ahead state.
#[derive(Default)]
pub(super) struct ReadAhead {
    /// Switched on by a read that filled the caller's buffer exactly.
    on: bool,
    /// Bytes received and not yet read: `buf[start..]`.
    buf: Vec<u8>,
    start: usize,
}

impl ReadAhead {
    /// The bytes received ahead and not yet read.
    pub(super) fn bytes(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    /// Hands up to `max` of the bytes read ahead to `copy` (which returns how many it
    /// took) and, if `consume`, marks those read; how many it took.
    pub(super) fn serve(
        &mut self,
        max: usize,
        consume: bool,
        copy: impl FnOnce(&[u8]) -> usize,
    ) -> usize {
        let bytes = self.bytes();
        let n = copy(&bytes[..bytes.len().min(max)]);
        if consume {
            self.consume(n);
        }
        n
    }

    /// Marks `n` of [`bytes`](Self::bytes) read.
    pub(super) fn consume(&mut self, n: usize) {
        self.start += n;
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
    }

    /// Whether a read of `len` bytes should receive into the read-ahead buffer.
    pub(super) fn wanted(&self, len: usize) -> bool {
        self.on && len < SIZE
    }

    /// Notes a direct read of `n` bytes into a buffer of `len`.
    pub(super) fn note_direct(&mut self, n: usize, len: usize) {
        if n == len && n > 0 && len < SIZE {
            self.on = true;
        }
    }

    /// The empty buffer to receive into (`SIZE` bytes of capacity), whose length the
    /// receive sets with [`filled`](Self::filled).
    pub(super) fn spare(&mut self) -> &mut Vec<u8> {
        debug_assert!(self.bytes().is_empty());
        self.buf.clear();
        self.start = 0;
        self.buf.reserve_exact(SIZE);
        &mut self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_that_fills_its_buffer_exactly_switches_read_ahead_on() {
        let mut ra = ReadAhead::default();
        ra.note_direct(10, 100);
        assert!(!ra.wanted(100), "a short read says the socket is empty");
        ra.note_direct(100, 100);
        assert!(ra.wanted(100));
        assert!(!ra.wanted(SIZE), "big reads go to the socket directly");
    }

    #[test]
    fn bytes_received_ahead_are_read_in_order_and_then_gone() {
        let mut ra = ReadAhead::default();
        ra.spare().extend_from_slice(b"hello world");
        assert_eq!(ra.bytes(), b"hello world");
        ra.consume(6);
        assert_eq!(ra.bytes(), b"world");
        ra.consume(5);
        assert!(ra.bytes().is_empty());
    }
}
