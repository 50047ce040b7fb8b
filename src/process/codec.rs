//! Task arguments and results as bytes: postcard (a compact serde format) plus a side
//! table of file descriptors, so that a [`SharedBuffer`](super::SharedBuffer) inside a
//! value travels as a descriptor next to the bytes, not as its contents.

use std::cell::RefCell;
use std::os::fd::{BorrowedFd, OwnedFd};

use serde::de::DeserializeOwned;
use serde::Serialize;

/// The most descriptors one value may carry.
pub(crate) const MAX_FDS: usize = 64;

thread_local! {
    /// While a value is being encoded: the descriptors it sends.
    static SENDING: RefCell<Option<Vec<OwnedFd>>> = const { RefCell::new(None) };
    /// While a value is being decoded: the descriptors that came with it.
    static RECEIVING: RefCell<Option<Vec<Option<OwnedFd>>>> = const { RefCell::new(None) };
    /// The message of the last error this module raised inside serde (postcard keeps
    /// only a code for custom errors).
    static DETAIL: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Appends postcard bytes to a `Vec` with `memcpy` for slices.
struct Append<'a>(&'a mut Vec<u8>);

impl postcard::ser_flavors::Flavor for Append<'_> {
    type Output = ();

    fn try_extend(&mut self, data: &[u8]) -> postcard::Result<()> {
        self.0.extend_from_slice(data);
        Ok(())
    }

    fn try_push(&mut self, data: u8) -> postcard::Result<()> {
        self.0.push(data);
        Ok(())
    }

    fn finalize(self) -> postcard::Result<()> {
        Ok(())
    }
}

fn describe(e: postcard::Error) -> String {
    DETAIL
        .with(|d| d.borrow_mut().take())
        .unwrap_or_else(|| e.to_string())
}

/// Records why a `Serialize`/`Deserialize` impl of this crate failed, for the error message.
pub(crate) fn fail<E: std::fmt::Display>(msg: E) -> String {
    let msg = msg.to_string();
    DETAIL.with(|d| *d.borrow_mut() = Some(msg.clone()));
    msg
}

/// Appends `value` to `out`, and the descriptors it carries to `fds`. On error `out` is
/// left as it was.
pub(crate) fn encode<T: Serialize + ?Sized>(
    value: &T,
    out: &mut Vec<u8>,
    fds: &mut Vec<OwnedFd>,
) -> Result<(), String> {
    let start = out.len();
    let previous = SENDING.with(|s| s.borrow_mut().replace(Vec::new()));
    let result = postcard::serialize_with_flavor(value, Append(out));
    let sent = SENDING.with(|s| std::mem::replace(&mut *s.borrow_mut(), previous));
    match result {
        Ok(()) => {
            let sent = sent.unwrap_or_default();
            if sent.len() > MAX_FDS {
                out.truncate(start);
                return Err(format!(
                    "a value may carry at most {MAX_FDS} shared buffers, this one has {}",
                    sent.len()
                ));
            }
            fds.extend(sent);
            Ok(())
        }
        Err(e) => {
            out.truncate(start);
            // postcard drops a `Serialize` impl's own message: find it (in the same
            // context, so that shared buffers serialize as they did above).
            let previous = SENDING.with(|s| s.borrow_mut().replace(Vec::new()));
            let why = super::reason::of(value);
            SENDING.with(|s| *s.borrow_mut() = previous);
            Err(why.unwrap_or_else(|| describe(e)))
        }
    }
}

/// Decodes a `T` from all of `bytes`, with the descriptors that came along. Descriptors
/// the value does not claim are closed.
pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8], fds: Vec<OwnedFd>) -> Result<T, String> {
    let table = fds.into_iter().map(Some).collect();
    let previous = RECEIVING.with(|r| r.borrow_mut().replace(table));
    let result = postcard::take_from_bytes::<T>(bytes);
    RECEIVING.with(|r| *r.borrow_mut() = previous);
    match result {
        Ok((value, [])) => Ok(value),
        Ok((_, rest)) => Err(format!("{} bytes left over after the value", rest.len())),
        Err(e) => Err(describe(e)),
    }
}

/// Called by a value being encoded: sends a copy of `fd` along; returns its index.
pub(crate) fn send_fd(fd: BorrowedFd<'_>) -> Result<u32, String> {
    let copy = fd.try_clone_to_owned().map_err(|e| {
        fail(format!(
            "could not duplicate a shared buffer's descriptor: {e}"
        ))
    })?;
    SENDING.with(|s| match &mut *s.borrow_mut() {
        Some(list) => {
            list.push(copy);
            Ok((list.len() - 1) as u32)
        }
        None => Err(fail(
            "a SharedBuffer can only be serialized to cross to a ProcessPoolExecutor worker",
        )),
    })
}

/// Called by a value being decoded: takes the descriptor at `index`.
pub(crate) fn take_fd(index: u32) -> Result<OwnedFd, String> {
    RECEIVING.with(|r| match &mut *r.borrow_mut() {
        Some(table) => table
            .get_mut(index as usize)
            .and_then(Option::take)
            .ok_or_else(|| {
                fail(format!(
                    "shared buffer #{index} did not arrive with the value"
                ))
            }),
        None => Err(fail(
            "a SharedBuffer can only be deserialized from a ProcessPoolExecutor frame",
        )),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip() {
        let mut out = vec![9];
        let mut fds = Vec::new();
        encode(&(1u64, "two".to_owned(), vec![3.0f64]), &mut out, &mut fds).unwrap();
        let back: (u64, String, Vec<f64>) = decode(&out[1..], Vec::new()).unwrap();
        assert_eq!(back, (1, "two".to_owned(), vec![3.0]));
    }

    #[test]
    fn trailing_bytes_are_an_error() {
        let mut out = Vec::new();
        encode(&(1u8, 2u8), &mut out, &mut Vec::new()).unwrap();
        let e = decode::<u8>(&out, Vec::new()).unwrap_err();
        assert!(e.contains("left over"), "{e}");
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for bytes in [&[][..], &[0xff; 3], &[0x80; 20]] {
            assert!(decode::<(String, Vec<u64>)>(bytes, Vec::new()).is_err());
        }
    }
}
