//! How a worker finds the function a task names: by its code address, measured from an
//! anchor in this crate. Parent and worker run the same executable (checked at start-up),
//! so an offset taken in one is valid in the other, whatever address each was loaded at.
//!
//! A task frame names two functions: `func`, the user's `fn(A) -> R`, and `call`, the
//! trampoline instantiated for that `A` and `R` in the parent, which decodes the argument,
//! calls `func`, catches a panic and encodes the result.

use std::fmt;
use std::os::fd::OwnedFd;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::codec;
use super::protocol::Status;
use crate::handle::panic_message;

/// What every offset is measured from.
#[inline(never)]
fn anchor() {}

fn base() -> usize {
    anchor as fn() as usize
}

/// The offset of the code at `addr` from the anchor.
pub(crate) fn offset_of(addr: usize) -> u64 {
    addr.wrapping_sub(base()) as u64
}

/// The code address `offset` names in this process.
pub(crate) fn address_of(offset: u64) -> usize {
    base().wrapping_add(offset as usize)
}

/// A trampoline: runs the function at `func` on the encoded `input` (with the descriptors
/// that came with it) and appends the encoded outcome to `out` (descriptors to `out_fds`).
/// On `Status::Ok` the bytes are the result; otherwise a message.
pub(crate) type Call = unsafe fn(
    func: usize,
    input: &[u8],
    fds: Vec<OwnedFd>,
    out: &mut Vec<u8>,
    out_fds: &mut Vec<OwnedFd>,
) -> Status;

/// The trampoline at `offset`.
///
/// # Safety
///
/// `offset` names a function of type [`Call`] of this executable (one of the `call_*`
/// functions below, as [`one`], [`chunk`] or [`init`] computed it in a process of the same
/// build).
pub(crate) unsafe fn trampoline(offset: u64) -> Call {
    // SAFETY: by the contract of this function, the address is a `Call`.
    unsafe { std::mem::transmute::<*const (), Call>(address_of(offset) as *const ()) }
}

/// A fingerprint of the code layout: equal in two processes of the same build.
pub(crate) fn layout() -> u64 {
    offset_of(call_one::<(), ()> as Call as usize)
        ^ offset_of(call_chunk::<u8, u8> as Call as usize).rotate_left(32)
}

/// The offsets of the trampoline and function for a `fn(A) -> R` task.
pub(crate) fn one<A: DeserializeOwned, R: Serialize>(f: fn(A) -> R) -> (u64, u64) {
    (
        offset_of(call_one::<A, R> as Call as usize),
        offset_of(f as usize),
    )
}

/// The offsets of the trampoline and function for a chunk of a `map` of `fn(A) -> R`.
pub(crate) fn chunk<A: DeserializeOwned, R: Serialize>(f: fn(A) -> R) -> (u64, u64) {
    (
        offset_of(call_chunk::<A, R> as Call as usize),
        offset_of(f as usize),
    )
}

/// The offsets of the trampoline and function for an initializer.
pub(crate) fn init<E: fmt::Display + 'static>(f: fn() -> Result<(), E>) -> (u64, u64) {
    (
        offset_of(call_init::<E> as Call as usize),
        offset_of(f as usize),
    )
}

/// What a chunk of a `map` sends back: how long it ran, and each item's outcome (a
/// panic message for an item that panicked).
pub(crate) type ChunkOut<R> = (u64, Vec<Result<R, String>>);

fn message(out: &mut Vec<u8>, start: usize, status: Status, msg: &str) -> Status {
    out.truncate(start);
    out.extend_from_slice(msg.as_bytes());
    status
}

/// Runs `f(arg)` with panics caught; encodes the outcome.
fn finish<R: Serialize>(
    run: impl FnOnce() -> R,
    out: &mut Vec<u8>,
    out_fds: &mut Vec<OwnedFd>,
) -> Status {
    let start = out.len();
    match catch_unwind(AssertUnwindSafe(run)) {
        Ok(value) => {
            let encoded = catch_unwind(AssertUnwindSafe(|| codec::encode(&value, out, out_fds)));
            // Dropped here, after encoding: a `SharedBuffer` unmaps only now that its
            // descriptor has been duplicated for the trip back.
            let dropped = catch_unwind(AssertUnwindSafe(move || drop(value)));
            match (encoded, dropped) {
                (Ok(Ok(())), Ok(())) => Status::Ok,
                (Ok(Err(e)), _) => message(
                    out,
                    start,
                    Status::Serialization,
                    &format!("the result could not be encoded in the worker: {e}"),
                ),
                (Err(p), _) | (_, Err(p)) => {
                    out_fds.clear();
                    message(out, start, Status::Panicked, &panic_message(&*p))
                }
            }
        }
        Err(p) => message(out, start, Status::Panicked, &panic_message(&*p)),
    }
}

/// The user's function at `func`.
///
/// # Safety
///
/// `func` is the address of a `fn(A) -> R` of this executable, with these `A` and `R`.
unsafe fn user_fn<A, R>(func: usize) -> fn(A) -> R {
    // SAFETY: by the contract of this function.
    unsafe { std::mem::transmute::<*const (), fn(A) -> R>(func as *const ()) }
}

/// Decodes a trampoline's input; on failure appends the message and returns its status.
fn decode_input<T: DeserializeOwned>(
    input: &[u8],
    fds: Vec<OwnedFd>,
    what: &str,
    out: &mut Vec<u8>,
) -> Result<T, Status> {
    let start = out.len();
    match catch_unwind(AssertUnwindSafe(|| {
        codec::decode_from_parent::<T>(input, fds)
    })) {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => {
            let msg = format!("{what} could not be decoded in the worker: {e}");
            Err(message(out, start, Status::Serialization, &msg))
        }
        Err(p) => Err(message(out, start, Status::Panicked, &panic_message(&*p))),
    }
}

/// The trampoline of a `fn(A) -> R` task.
///
/// # Safety
///
/// `func` is the address of a `fn(A) -> R` of this executable, with these `A` and `R`.
pub(crate) unsafe fn call_one<A: DeserializeOwned, R: Serialize>(
    func: usize,
    input: &[u8],
    fds: Vec<OwnedFd>,
    out: &mut Vec<u8>,
    out_fds: &mut Vec<OwnedFd>,
) -> Status {
    // SAFETY: by the contract of this function, `func` is a `fn(A) -> R`.
    let f = unsafe { user_fn::<A, R>(func) };
    match decode_input::<A>(input, fds, "the argument", out) {
        Ok(arg) => finish(move || f(arg), out, out_fds),
        Err(status) => status,
    }
}

/// The trampoline of a chunk of a `map`: decodes a `Vec<A>`, runs `f` on each item with
/// its own panic boundary, and returns a [`ChunkOut<R>`].
///
/// # Safety
///
/// As [`call_one`].
pub(crate) unsafe fn call_chunk<A: DeserializeOwned, R: Serialize>(
    func: usize,
    input: &[u8],
    fds: Vec<OwnedFd>,
    out: &mut Vec<u8>,
    out_fds: &mut Vec<OwnedFd>,
) -> Status {
    // SAFETY: by the contract of this function, `func` is a `fn(A) -> R`.
    let f = unsafe { user_fn::<A, R>(func) };
    let items = match decode_input::<Vec<A>>(input, fds, "the arguments", out) {
        Ok(items) => items,
        Err(status) => return status,
    };
    let began = Instant::now();
    let results: Vec<Result<R, String>> = items
        .into_iter()
        .map(|a| catch_unwind(AssertUnwindSafe(|| f(a))).map_err(|p| panic_message(&*p)))
        .collect();
    let ran = began.elapsed().as_nanos() as u64;
    finish(move || (ran, results), out, out_fds)
}

/// The trampoline of an initializer `fn() -> Result<(), E>`: `Ok` with no bytes if it
/// succeeded, otherwise the error's message.
///
/// # Safety
///
/// `func` is the address of a `fn() -> Result<(), E>` of this executable, with this `E`.
pub(crate) unsafe fn call_init<E: fmt::Display + 'static>(
    func: usize,
    _input: &[u8],
    _fds: Vec<OwnedFd>,
    out: &mut Vec<u8>,
    _out_fds: &mut Vec<OwnedFd>,
) -> Status {
    // SAFETY: by the contract of this function, `func` is a `fn() -> Result<(), E>`.
    let f = unsafe { std::mem::transmute::<*const (), fn() -> Result<(), E>>(func as *const ()) };
    let start = out.len();
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => Status::Ok,
        Ok(Err(e)) => message(out, start, Status::Serialization, &e.to_string()),
        Err(p) => message(
            out,
            start,
            Status::Panicked,
            &format!("it panicked: {}", panic_message(&*p)),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add_one(x: u64) -> u64 {
        x + 1
    }

    fn boom(_: u8) -> u8 {
        panic!("boom {}", 1)
    }

    fn run(call: Call, func: usize, input: &[u8]) -> (Status, Vec<u8>) {
        let mut out = Vec::new();
        // SAFETY: the tests pair each trampoline with a function of its types.
        let status = unsafe { call(func, input, Vec::new(), &mut out, &mut Vec::new()) };
        (status, out)
    }

    #[test]
    fn offsets_name_the_same_code() {
        let (call, func) = one(add_one);
        assert_eq!(address_of(func), add_one as fn(u64) -> u64 as usize);
        assert_eq!(address_of(call), call_one::<u64, u64> as Call as usize);
    }

    #[test]
    fn a_task_runs_through_its_trampoline() {
        let (call, func) = one(add_one);
        // SAFETY: `call` is the trampoline the parent would name.
        let call = unsafe { trampoline(call) };
        let mut input = Vec::new();
        codec::encode(&41u64, &mut input, &mut Vec::new()).unwrap();
        let (status, out) = run(call, address_of(func), &input);
        assert_eq!(status, Status::Ok);
        assert_eq!(codec::decode::<u64>(&out, Vec::new()), Ok(42));
    }

    #[test]
    fn a_panic_and_a_bad_argument_become_messages() {
        let (status, out) = run(call_one::<u8, u8>, boom as fn(u8) -> u8 as usize, &[3]);
        assert_eq!((status, &out[..]), (Status::Panicked, &b"boom 1"[..]));
        let (status, out) = run(call_one::<String, u8>, boom as fn(u8) -> u8 as usize, &[9]);
        assert_eq!(status, Status::Serialization);
        assert!(String::from_utf8(out)
            .unwrap()
            .contains("argument could not be decoded"));
    }

    #[test]
    fn a_chunk_catches_each_item() {
        fn odd_panics(x: u32) -> u32 {
            assert!(x % 2 == 0, "odd {x}");
            x
        }
        let mut input = Vec::new();
        codec::encode(&vec![2u32, 3, 4], &mut input, &mut Vec::new()).unwrap();
        let (status, out) = run(
            call_chunk::<u32, u32>,
            odd_panics as fn(u32) -> u32 as usize,
            &input,
        );
        assert_eq!(status, Status::Ok);
        let (_, items): ChunkOut<u32> = codec::decode(&out, Vec::new()).unwrap();
        assert_eq!(items, vec![Ok(2), Err("odd 3".to_owned()), Ok(4)]);
    }
}
