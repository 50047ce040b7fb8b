//! The epoll backend: readiness from mio's `Poll`, edge-triggered, every object
//! registered for both directions once; the cross-thread waker is mio's.
//!
//! The same names as the io_uring backend (`uring/mod.rs`): `new`, `waker`, `register`,
//! `deregister`, `poll`.

use std::cell::RefCell;
use std::io;
use std::rc::Rc;
use std::task::Waker;
use std::time::Duration;

use mio::{Events, Interest, Token};
use slab::Slab;

use super::{Direction, OsWaker, Readiness};

/// The token of the loop's cross-thread waker.
const WAKER_TOKEN: Token = Token(usize::MAX);

/// One loop's epoll instance and its event buffer.
pub(in crate::aio) struct Epoll {
    poll: RefCell<mio::Poll>,
    events: RefCell<Events>,
}

impl Epoll {
    pub(super) fn new() -> io::Result<Epoll> {
        Ok(Epoll {
            poll: RefCell::new(mio::Poll::new()?),
            events: RefCell::new(Events::with_capacity(1024)),
        })
    }

    pub(super) fn waker(&self) -> io::Result<OsWaker> {
        Ok(OsWaker::Mio(mio::Waker::new(
            self.poll.borrow().registry(),
            WAKER_TOKEN,
        )?))
    }

    pub(super) fn register<S: mio::event::Source>(
        &self,
        source: &mut S,
        key: usize,
        _: &Readiness,
    ) -> io::Result<()> {
        self.poll.borrow().registry().register(
            source,
            Token(key),
            Interest::READABLE | Interest::WRITABLE,
        )
    }

    pub(super) fn deregister<S: mio::event::Source>(&self, source: &mut S, _: &Readiness) {
        // Deregistering can only fail for a descriptor the OS already forgot.
        let _ = self.poll.borrow().registry().deregister(source);
    }

    /// Waits at most `timeout` for events; marks the objects of `sources` they name and
    /// collects in `wake` the wakers to wake.
    pub(super) fn poll(
        &self,
        timeout: Option<Duration>,
        sources: &Slab<Rc<Readiness>>,
        wake: &mut Vec<Waker>,
    ) {
        let mut events = self.events.borrow_mut();
        if let Err(e) = self.poll.borrow_mut().poll(&mut events, timeout) {
            if e.kind() != io::ErrorKind::Interrupted {
                log::error!("concur::aio: polling for I/O failed: {e}");
            }
            return;
        }
        for ev in events.iter() {
            if ev.token() == WAKER_TOKEN {
                continue; // the remote queue is drained by the loop
            }
            let Some(r) = sources.get(ev.token().0) else {
                continue;
            };
            let error = ev.is_error();
            if ev.is_readable() || ev.is_read_closed() || error {
                r.mark(Direction::Read, ev.is_read_closed() || error, wake);
            }
            if ev.is_writable() || ev.is_write_closed() || error {
                r.mark(Direction::Write, ev.is_write_closed() || error, wake);
            }
        }
    }
}
