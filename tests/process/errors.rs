//! A process task's errors keep their reason: the message a `Serialize` impl refused
//! with, which side (argument or result) and which type, in both directions.

use std::path::PathBuf;

use concur::{ProcessPoolExecutor, TaskError};
use serde::{Deserialize, Serialize, Serializer};

/// Refuses to be serialized, with a message of its own.
#[derive(Debug, Deserialize)]
struct Connection(u8);

impl Serialize for Connection {
    fn serialize<S: Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom(
            "a live connection cannot leave its process",
        ))
    }
}

fn serialization_error<T: std::fmt::Debug>(r: Result<T, TaskError>) -> String {
    match r {
        Err(TaskError::Serialization(msg)) => msg,
        other => panic!("expected a serialization error, got {other:?}"),
    }
}

#[test]
fn an_argument_s_own_refusal_message_reaches_the_handle_with_its_type() {
    fn take(c: Connection) -> u8 {
        c.0
    }
    let pool = ProcessPoolExecutor::new(1).unwrap();
    let msg = serialization_error(pool.submit(take, Connection(1)).join());
    assert!(
        msg.contains("a live connection cannot leave its process"),
        "{msg}"
    );
    assert!(msg.contains("argument"), "{msg}");
    assert!(msg.contains("Connection"), "{msg}");
}

#[test]
fn a_result_s_own_refusal_message_comes_back_from_the_worker_with_its_type() {
    fn give(_: ()) -> Connection {
        Connection(2)
    }
    let pool = ProcessPoolExecutor::new(1).unwrap();
    let msg = serialization_error(pool.submit(give, ()).join());
    assert!(
        msg.contains("a live connection cannot leave its process"),
        "{msg}"
    );
    assert!(msg.contains("result"), "{msg}");
    assert!(msg.contains("Connection"), "{msg}");
}

#[test]
fn a_path_that_is_not_utf8_says_so() {
    use std::os::unix::ffi::OsStrExt;
    fn exists(p: PathBuf) -> bool {
        p.exists()
    }
    let pool = ProcessPoolExecutor::new(1).unwrap();
    let path = PathBuf::from(std::ffi::OsStr::from_bytes(b"/tmp/caf\xe9"));
    let msg = serialization_error(pool.submit(exists, path).join());
    assert!(msg.contains("UTF-8"), "{msg}");
    assert!(msg.contains("PathBuf"), "{msg}");
}
