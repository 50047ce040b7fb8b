//! Which I/O driver a loop runs on: [`Driver`], chosen when the loop starts.
//!
//! `Driver::Auto` (the default) takes the best driver the kernel allows. The environment
//! variable `CONCUR_AIO_DRIVER` (`epoll` or `io_uring`) overrides `Auto`, not a driver a
//! program asked for by name. The environment is not trusted to crash a program: an
//! unknown value, or a driver the kernel does not allow, is reported on the log and the
//! loop falls back to one that works.

use std::fmt;

use super::runtime::with_current;

/// An event loop's I/O driver: what waits for sockets, pipes and timers.
///
/// ```
/// use concur::aio::{self, Driver};
///
/// let d = aio::Builder::new().driver(Driver::Epoll).run(async { aio::driver() });
/// assert_eq!(d, Driver::Epoll);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Driver {
    /// The best driver the kernel allows (never what [`driver`] reports: it reports the
    /// one chosen).
    #[default]
    Auto,
    /// Linux's io_uring.
    IoUring,
    /// epoll, through mio: works everywhere concur does.
    Epoll,
}

impl fmt::Display for Driver {
    /// ```
    /// assert_eq!(concur::aio::Driver::IoUring.to_string(), "io_uring");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Driver::Auto => "auto",
            Driver::IoUring => "io_uring",
            Driver::Epoll => "epoll",
        })
    }
}

/// The driver of the loop running on this thread; outside a loop, the one a loop started
/// now with [`Driver::Auto`] would get (the environment's `CONCUR_AIO_DRIVER` included).
///
/// ```
/// use concur::aio::{self, Driver};
/// let d = aio::run(async { aio::driver() });
/// assert_ne!(d, Driver::Auto); // always the driver chosen
/// ```
pub fn driver() -> Driver {
    with_current(|l| l.map(|l| l.driver())).unwrap_or_else(|| resolve(Driver::Auto))
}

/// Why the kernel gives no io_uring driver (`None`: it does).
fn io_uring_unavailable() -> Option<&'static str> {
    super::uring::unavailable()
}

/// The driver a loop asked for `wanted` runs on.
///
/// # Panics
///
/// If a program asked for [`Driver::IoUring`] by name and it cannot be had.
pub(super) fn resolve(wanted: Driver) -> Driver {
    match wanted {
        Driver::Epoll => Driver::Epoll,
        Driver::IoUring => match io_uring_unavailable() {
            None => Driver::IoUring,
            Some(why) => panic!("concur::aio: the io_uring driver was asked for: {why}"),
        },
        Driver::Auto => {
            let forced = std::env::var_os("CONCUR_AIO_DRIVER");
            match forced.as_ref().and_then(|v| v.to_str()) {
                None if forced.is_none() => auto(),
                Some("" | "auto") => auto(),
                Some("epoll") => Driver::Epoll,
                Some("io_uring" | "io-uring" | "iouring") => match io_uring_unavailable() {
                    None => Driver::IoUring,
                    Some(why) => {
                        log::warn!(
                            "concur::aio: CONCUR_AIO_DRIVER=io_uring, but {why}: using epoll"
                        );
                        Driver::Epoll
                    }
                },
                _ => {
                    log::warn!(
                        "concur::aio: CONCUR_AIO_DRIVER={:?} is not a driver (epoll, io_uring, \
                         auto): ignored",
                        forced.unwrap_or_default()
                    );
                    auto()
                }
            }
        }
    }
}

/// What `Auto` takes: epoll, until the io_uring driver is measurably cheaper per round
/// trip (its TCP sends and receives are ring operations, which saves syscalls but, as
/// measured so far, not CPU time); io_uring is chosen by name or by
/// `CONCUR_AIO_DRIVER=io_uring`.
fn auto() -> Driver {
    Driver::Epoll
}
