//! [`Error`]: why an executor could not be created.

use std::fmt;
use std::io;

/// Why an executor could not be created (a task's own failures are [`TaskError`]s).
///
/// [`TaskError`]: crate::TaskError
///
/// ```
/// # #[cfg(feature = "process-pool")] {
/// let err = concur::ProcessPoolExecutor::new(0).unwrap_err();
/// assert!(matches!(err, concur::Error::InvalidArgument(_)));
/// assert_eq!(err.to_string(), "invalid argument: max_workers must be at least 1");
/// # }
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// An argument was out of range; says which and why.
    InvalidArgument(String),
    /// The operating system refused something the executor needs (a thread, a socket).
    Io(io::Error),
    /// Not available on this platform.
    Unsupported(&'static str),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidArgument(why) => write!(f, "invalid argument: {why}"),
            Error::Io(e) => write!(f, "the system refused: {e}"),
            Error::Unsupported(what) => write!(f, "not supported on this platform: {what}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Io(e)
    }
}
