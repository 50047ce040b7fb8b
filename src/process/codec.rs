//! Task arguments and results as bytes: postcard (a compact serde format) plus a side
//! table of file descriptors, so that a [`SharedBuffer`](super::SharedBuffer) inside a
//! value travels as a descriptor next to the bytes, not as its contents.

use std::cell::RefCell;
use std::os::fd::{BorrowedFd, OwnedFd};

use super::shm::{self, Key};

use serde::de::DeserializeOwned;
use serde::Serialize;

/// The most descriptors one value may carry.
pub(crate) const MAX_FDS: usize = 64;

/// While a value is being encoded: the descriptors it sends, and which memory each is.
struct Sending {
    /// Descriptors already in the frame's side table before this value's.
    base: usize,
    fds: Vec<OwnedFd>,
    keys: Vec<Key>,
}

/// While a value is being decoded: the descriptors that came with it, and whether the
/// sender is trusted (the parent, seen from its worker) or not (a worker, seen from its
/// parent: what it sends is sealed against writes before it is mapped).
struct Receiving {
    fds: Vec<Option<OwnedFd>>,
    from: Sender,
}

/// Who sent a value being decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sender {
    /// The worker's parent, which the worker trusts: a buffer it sends is mapped writable.
    Parent,
    /// Another process, trusted with nothing: a buffer it sends is sealed against writes
    /// (refused if it cannot be) and mapped read-only.
    Untrusted,
}

thread_local! {
    static SENDING: RefCell<Option<Sending>> = const { RefCell::new(None) };
    static RECEIVING: RefCell<Option<Receiving>> = const { RefCell::new(None) };
    /// The message of the last error this module raised inside serde (postcard keeps
    /// only a code for custom errors).
    static DETAIL: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Installs a table in one of this module's thread-locals for the time a value is encoded
/// or decoded, and puts back what was there before, also when the value's own serde impl
/// panics (else the thread would go on "sending" or "receiving" into a stale table, which
/// holds the descriptors it was given).
struct Installed<T: 'static> {
    key: &'static std::thread::LocalKey<RefCell<Option<T>>>,
    previous: Option<Option<T>>,
}

impl<T: 'static> Installed<T> {
    fn new(key: &'static std::thread::LocalKey<RefCell<Option<T>>>, table: T) -> Self {
        let previous = key.with(|s| s.borrow_mut().replace(table));
        Installed {
            key,
            previous: Some(previous),
        }
    }

    /// Puts the previous table back; returns the one installed.
    fn end(mut self) -> Option<T> {
        let previous = self.previous.take().flatten();
        self.key
            .with(|s| std::mem::replace(&mut *s.borrow_mut(), previous))
    }
}

impl<T: 'static> Drop for Installed<T> {
    fn drop(&mut self) {
        if let Some(previous) = self.previous.take() {
            let _ = self.key.try_with(|s| {
                if let Ok(mut s) = s.try_borrow_mut() {
                    *s = previous;
                }
            });
        }
    }
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
///
/// A value that serializes one [`SharedBuffer`](super::SharedBuffer) twice is an error:
/// the receiver would hold two buffers over one memory.
pub(crate) fn encode<T: Serialize + ?Sized>(
    value: &T,
    out: &mut Vec<u8>,
    fds: &mut Vec<OwnedFd>,
) -> Result<(), String> {
    encode_keys(value, out, fds).map(drop)
}

/// As [`encode`], and returns which memory the descriptors are. The value's descriptors
/// are numbered after those already in `fds` (the frame's side table).
pub(crate) fn encode_keys<T: Serialize + ?Sized>(
    value: &T,
    out: &mut Vec<u8>,
    fds: &mut Vec<OwnedFd>,
) -> Result<Vec<Key>, String> {
    let start = out.len();
    let fresh = Sending {
        base: fds.len(),
        fds: Vec::new(),
        keys: Vec::new(),
    };
    let installed = Installed::new(&SENDING, fresh);
    let result = postcard::serialize_with_flavor(value, Append(out));
    let sent = installed.end();
    match result {
        Ok(()) => {
            let (sent_fds, keys) = sent.map(|s| (s.fds, s.keys)).unwrap_or_default();
            if sent_fds.len() > MAX_FDS {
                out.truncate(start);
                return Err(format!(
                    "a value may carry at most {MAX_FDS} shared buffers, this one has {}",
                    sent_fds.len()
                ));
            }
            fds.extend(sent_fds);
            Ok(keys)
        }
        Err(e) => {
            out.truncate(start);
            // postcard drops a `Serialize` impl's own message: find it (in the same
            // context, so that shared buffers serialize as they did above).
            let fresh = Sending {
                base: fds.len(),
                fds: Vec::new(),
                keys: Vec::new(),
            };
            let installed = Installed::new(&SENDING, fresh);
            let why = super::reason::of(value);
            drop(installed.end());
            Err(why.unwrap_or_else(|| describe(e)))
        }
    }
}

/// Appends `value` to `out` and its descriptors to `fds`, then drops it, and checks that
/// every [`SharedBuffer`](super::SharedBuffer) it sent is gone from this process (see
/// [`released`]). On error, `out` and `fds` are left as they were.
pub(crate) fn encode_owned<T: Serialize>(
    value: T,
    out: &mut Vec<u8>,
    fds: &mut Vec<OwnedFd>,
) -> Result<(), String> {
    let (start, start_fds) = (out.len(), fds.len());
    let keys = encode_keys(&value, out, fds);
    drop(value);
    released(&keys?).inspect_err(|_| {
        out.truncate(start);
        fds.truncate(start_fds);
    })
}

/// Checks that the memory `keys` (what an encoded value sent, since dropped) is not
/// mapped by any buffer of this process: a value that kept one alive elsewhere (behind a
/// reference, an `Arc`, a static) would let this process use the memory while the
/// receiver writes it.
pub(crate) fn released(keys: &[Key]) -> Result<(), String> {
    if keys.iter().any(|&key| shm::is_mapped(key)) {
        return Err(
            "a SharedBuffer it sends is still alive in this process after the value \
             was dropped (shared through a reference, an Arc or a static?); move the buffer \
             itself into the task, so that one process at a time can use it"
                .to_owned(),
        );
    }
    Ok(())
}

/// Several values encoded one after another into one frame, sharing its side table of
/// descriptors (a chunk of a `map`): the setup is paid once, not per value.
pub(crate) struct Batch {
    /// What was being encoded when the batch began (restored when it ends).
    previous: Option<Sending>,
    /// `finish` ran.
    finished: bool,
}

/// Where a batch stood before a value: to undo it, or check what it sent.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Mark {
    out: usize,
    fds: usize,
}

impl Batch {
    /// Begins a batch whose descriptors are numbered after those already in `fds`.
    pub(crate) fn begin(fds: &[OwnedFd]) -> Batch {
        let fresh = Sending {
            base: fds.len(),
            fds: Vec::new(),
            keys: Vec::new(),
        };
        Batch {
            previous: SENDING.with(|s| s.borrow_mut().replace(fresh)),
            finished: false,
        }
    }

    /// How many descriptors the values so far send.
    pub(crate) fn fds(&self) -> usize {
        SENDING.with(|s| s.borrow().as_ref().map_or(0, |s| s.fds.len()))
    }

    /// Appends `value` to `out`; returns where the batch stood before it. On error the
    /// value is undone.
    pub(crate) fn push<T: Serialize + ?Sized>(
        &mut self,
        value: &T,
        out: &mut Vec<u8>,
    ) -> Result<Mark, String> {
        let mark = Mark {
            out: out.len(),
            fds: self.fds(),
        };
        match postcard::serialize_with_flavor(value, Append(out)) {
            Ok(()) => Ok(mark),
            Err(e) => {
                self.undo(mark, out);
                Err(describe(e))
            }
        }
    }

    /// Removes what was appended since `mark`.
    pub(crate) fn undo(&mut self, mark: Mark, out: &mut Vec<u8>) {
        out.truncate(mark.out);
        SENDING.with(|s| {
            if let Some(s) = &mut *s.borrow_mut() {
                s.fds.truncate(mark.fds);
                s.keys.truncate(mark.fds);
            }
        });
    }

    /// Checks that the buffers sent since `mark` are gone from this process, the values
    /// that sent them having been dropped (see [`released`]).
    pub(crate) fn released_since(&self, mark: Mark) -> Result<(), String> {
        SENDING.with(|s| match &*s.borrow() {
            Some(s) if s.keys.len() > mark.fds => released(&s.keys[mark.fds..]),
            _ => Ok(()),
        })
    }

    /// Ends the batch: its descriptors go to `fds`.
    pub(crate) fn finish(mut self, fds: &mut Vec<OwnedFd>) {
        self.finished = true;
        let previous = self.previous.take();
        let sent = SENDING.with(|s| std::mem::replace(&mut *s.borrow_mut(), previous));
        fds.extend(sent.map(|s| s.fds).unwrap_or_default());
    }
}

impl Drop for Batch {
    /// A batch dropped without `finish` (an error, a panic in a value's `Serialize`) sends
    /// nothing.
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let previous = self.previous.take();
        SENDING.with(|s| {
            if let Ok(mut s) = s.try_borrow_mut() {
                *s = previous;
            }
        });
    }
}

/// Decodes a `T` from all of `bytes`, with the descriptors that came along, from a
/// sender trusted with nothing (a worker, seen from the parent). Descriptors the value
/// does not claim are closed.
pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8], fds: Vec<OwnedFd>) -> Result<T, String> {
    decode_from(bytes, fds, Sender::Untrusted)
}

/// As [`decode`], for a worker decoding what its parent sent: shared buffers are mapped
/// writable (the parent no longer has them mapped, see [`encode_owned`]).
pub(crate) fn decode_from_parent<T: DeserializeOwned>(
    bytes: &[u8],
    fds: Vec<OwnedFd>,
) -> Result<T, String> {
    decode_from(bytes, fds, Sender::Parent)
}

fn decode_from<T: DeserializeOwned>(
    bytes: &[u8],
    fds: Vec<OwnedFd>,
    from: Sender,
) -> Result<T, String> {
    let table = Receiving {
        fds: fds.into_iter().map(Some).collect(),
        from,
    };
    let installed = Installed::new(&RECEIVING, table);
    let result = postcard::take_from_bytes::<T>(bytes);
    // Descriptors the value did not claim are closed here.
    drop(installed.end());
    match result {
        Ok((value, [])) => Ok(value),
        Ok((_, rest)) => Err(format!("{} bytes left over after the value", rest.len())),
        Err(e) => Err(describe(e)),
    }
}

/// Called by a value being encoded: sends a copy of `fd`, the descriptor of the memory
/// `key`, along; returns its index. The same memory twice in one value is an error.
pub(crate) fn send_fd(fd: BorrowedFd<'_>, key: Key) -> Result<u32, String> {
    SENDING.with(|s| match &mut *s.borrow_mut() {
        Some(sending) => {
            if sending.keys.contains(&key) {
                return Err(fail(
                    "the value serializes the same SharedBuffer twice; the receiver would \
                     hold two buffers over one memory",
                ));
            }
            let copy = fd.try_clone_to_owned().map_err(|e| {
                fail(format!(
                    "could not duplicate a shared buffer's descriptor: {e}"
                ))
            })?;
            sending.fds.push(copy);
            sending.keys.push(key);
            Ok((sending.base + sending.fds.len() - 1) as u32)
        }
        None => Err(fail(
            "a SharedBuffer can only be serialized to cross to a ProcessPoolExecutor worker",
        )),
    })
}

/// Called by a value being decoded: takes the descriptor at `index`, and says who sent it.
pub(crate) fn take_fd(index: u32) -> Result<(OwnedFd, Sender), String> {
    RECEIVING.with(|r| match &mut *r.borrow_mut() {
        Some(receiving) => receiving
            .fds
            .get_mut(index as usize)
            .and_then(Option::take)
            .map(|fd| (fd, receiving.from))
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
