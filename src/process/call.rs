//! How a worker finds the function a task names: by its code address, measured from an
//! anchor in this crate. Parent and worker run the same executable (checked at start-up),
//! so an offset taken in one is valid in the other, whatever address each was loaded at.
//!
//! A task frame names two things: `func`, the user's `fn(A) -> R`, and `call`, the
//! trampoline instantiated for that `A` and `R` in the parent, which decodes the argument,
//! calls `func`, catches a panic and encodes the result. `call` is not a code address but
//! that of an [`Entry`]: a constant the compiler lays out in the executable's read-only
//! data, one per trampoline the build instantiated. A worker jumps only through such an
//! entry (checked: in read-only data, with the entry's mark, pointing into code), and to
//! a `func` inside the main executable's code; any other offset is a protocol violation,
//! whoever sent it.

use std::fmt;
use std::marker::PhantomData;
use std::os::fd::OwnedFd;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::codec;
use super::image::Image;
use super::protocol::Status;
use crate::handle::{panic_message, PanicMessage};

/// A caught panic as it travels to the parent: its message and where it was raised.
fn caught(payload: &(dyn std::any::Any + Send)) -> String {
    PanicMessage::caught(payload).to_wire()
}

/// What every offset is measured from.
#[inline(never)]
fn anchor() {}

fn base() -> usize {
    // Read from one static, so parent and worker measure from one address: Rust does not
    // promise that a function's address is the same wherever it is taken.
    static ANCHOR: fn() = anchor;
    ANCHOR as usize
}

/// The offset of the code at `addr` from the anchor.
pub(crate) fn offset_of(addr: usize) -> u64 {
    addr.wrapping_sub(base()) as u64
}

/// The code address `offset` names in this process.
pub(crate) fn address_of(offset: u64) -> usize {
    base().wrapping_add(offset as usize)
}

/// Why this process cannot run a process pool, if it cannot: its workers re-execute the
/// main executable, which must then be the program that holds this code (not a host
/// program that loaded concur in a `cdylib`, such as a Python extension in `python3`).
pub(crate) fn unusable_here() -> Option<&'static str> {
    if Image::main().is_code(base()) {
        return None;
    }
    Some(
        "a process pool needs concur linked into the main executable, since its workers \
         are that executable started again; here concur lives in a shared library \
         (a cdylib or dylib loaded by another program)",
    )
}

/// Why a worker could not find the function at `func`, if it could not: only code of
/// the main executable can be a task.
pub(crate) fn check_func(func: u64) -> Result<usize, String> {
    let addr = address_of(func);
    if Image::main().is_code(addr) {
        Ok(addr)
    } else {
        Err(format!(
            "the function at {addr:#x} is not in the main executable's code: a task's `fn` \
             must be part of the program itself, not of a shared library \
             (-C prefer-dynamic, a dylib), since a worker finds it at the same place in \
             its own copy of the program"
        ))
    }
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

/// The mark every [`Entry`] starts with ("concur_trampoline").
const MARK: [u64; 2] = [0x636f_6e63_7572_5f74, 0x7261_6d70_6f6c_696e];

/// A trampoline as a frame names it: laid out by the compiler, once per instantiation,
/// in read-only data.
#[repr(C)]
pub(crate) struct Entry {
    mark: [u64; 2],
    call: Call,
}

/// The entries of the trampolines for a `fn(A) -> R`.
struct Trampolines<A, R>(PhantomData<fn(A) -> R>);

impl<A: DeserializeOwned, R: Serialize> Trampolines<A, R> {
    const ONE: &'static Entry = &Entry {
        mark: MARK,
        call: call_one::<A, R>,
    };
    const CHUNK: &'static Entry = &Entry {
        mark: MARK,
        call: call_chunk::<A, R>,
    };
}

/// The entry of the trampoline for an initializer failing with `E`.
struct InitTrampoline<E>(PhantomData<E>);

impl<E: fmt::Display + 'static> InitTrampoline<E> {
    const INIT: &'static Entry = &Entry {
        mark: MARK,
        call: call_init::<E>,
    };
}

fn entry_offset(entry: &'static Entry) -> u64 {
    offset_of(entry as *const Entry as usize)
}

/// The trampoline the entry at `offset` names, if it is one: the entry must lie in the
/// main executable's read-only data, carry the mark, and point into its code.
pub(crate) fn trampoline(offset: u64) -> Result<Call, String> {
    let addr = address_of(offset);
    let bad = |why: &str| {
        Err(format!(
            "task frame names no trampoline at {addr:#x}: {why}"
        ))
    };
    if addr % std::mem::align_of::<Entry>() != 0
        || !Image::main().is_rodata(addr, std::mem::size_of::<Entry>())
    {
        return bad("not in the executable's read-only data");
    }
    // SAFETY: the bytes are aligned, in bounds and mapped read-only for the life of the
    // process (the main executable's image); any bit pattern is a valid `[u64; 2]`.
    let mark = unsafe { std::ptr::read(addr as *const [u64; 2]) };
    // SAFETY: as above, for the `usize` after it (`Entry` is `repr(C)`).
    let code = unsafe { std::ptr::read((addr + 16) as *const usize) };
    if mark != MARK {
        return bad("no trampoline entry there");
    }
    if !Image::main().is_code(code) {
        return bad("it does not point into the executable's code");
    }
    // SAFETY: a marked entry in read-only data is one of those the compiler laid out
    // above (nothing else holds the mark), so its `call` is a `Call`.
    Ok(unsafe { std::mem::transmute::<usize, Call>(code) })
}

/// A fingerprint of the code layout: equal in two processes of the same build.
///
/// Never inlined: an optimised build may hold copies of a generic function or a constant
/// in several codegen units, so the fingerprint is taken in one place, from one set of
/// copies, by the parent and the worker alike.
#[inline(never)]
pub(crate) fn layout() -> u64 {
    entry_offset(Trampolines::<(), ()>::ONE)
        ^ entry_offset(Trampolines::<u8, u8>::CHUNK).rotate_left(32)
        ^ offset_of(call_one::<(), ()> as Call as usize).rotate_left(16)
}

/// The offsets of the trampoline and function for a `fn(A) -> R` task.
pub(crate) fn one<A: DeserializeOwned, R: Serialize>(f: fn(A) -> R) -> (u64, u64) {
    (
        entry_offset(Trampolines::<A, R>::ONE),
        offset_of(f as usize),
    )
}

/// The offsets of the trampoline and function for a chunk of a `map` of `fn(A) -> R`.
pub(crate) fn chunk<A: DeserializeOwned, R: Serialize>(f: fn(A) -> R) -> (u64, u64) {
    (
        entry_offset(Trampolines::<A, R>::CHUNK),
        offset_of(f as usize),
    )
}

/// The offsets of the trampoline and function for an initializer.
pub(crate) fn init<E: fmt::Display + 'static>(f: fn() -> Result<(), E>) -> (u64, u64) {
    (
        entry_offset(InitTrampoline::<E>::INIT),
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
                    &format!(
                        "the result could not be encoded in the worker (type {}): {e}",
                        std::any::type_name::<R>()
                    ),
                ),
                (Err(p), _) | (_, Err(p)) => {
                    out_fds.clear();
                    message(out, start, Status::Panicked, &caught(&*p))
                }
            }
        }
        Err(p) => message(out, start, Status::Panicked, &caught(&*p)),
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
            let msg = format!(
                "{what} could not be decoded in the worker (type {}): {e}",
                std::any::type_name::<T>()
            );
            Err(message(out, start, Status::Serialization, &msg))
        }
        Err(p) => Err(message(out, start, Status::Panicked, &caught(&*p))),
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
        .map(|a| catch_unwind(AssertUnwindSafe(|| f(a))).map_err(|p| caught(&*p)))
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
        assert_eq!(check_func(func), Ok(add_one as fn(u64) -> u64 as usize));
        let found = trampoline(call).unwrap();
        assert_eq!(found as usize, call_one::<u64, u64> as Call as usize);
        assert_eq!(
            trampoline(chunk(add_one).0).unwrap() as usize,
            call_chunk::<u64, u64> as Call as usize
        );
        assert!(unusable_here().is_none());
    }

    #[test]
    fn a_task_runs_through_its_trampoline() {
        let (call, func) = one(add_one);
        let call = trampoline(call).unwrap();
        let mut input = Vec::new();
        codec::encode(&41u64, &mut input, &mut Vec::new()).unwrap();
        let (status, out) = run(call, address_of(func), &input);
        assert_eq!(status, Status::Ok);
        assert_eq!(codec::decode::<u64>(&out, Vec::new()), Ok(42));
    }

    static NOT_AN_ENTRY: [u64; 3] = [MARK[0], 0, 0];

    #[test]
    fn offsets_that_name_no_trampoline_or_no_code_are_refused() {
        let (call, func) = one(add_one);
        // Code, not an entry; an entry's neighbour; the heap; a mark-less constant.
        for bad in [func, call + 8, call.wrapping_add(1)] {
            assert!(trampoline(bad).is_err(), "{bad:#x}");
        }
        let heap = Box::new(Trampolines::<u64, u64>::ONE.call);
        assert!(trampoline(offset_of(&*heap as *const _ as usize)).is_err());
        assert!(trampoline(offset_of(NOT_AN_ENTRY.as_ptr() as usize)).is_err());
        assert!(trampoline(offset_of(usize::MAX - 7)).is_err());
        // A function must be code of the main executable.
        assert!(check_func(call).is_err());
        assert!(check_func(offset_of(&*heap as *const _ as usize)).is_err());
    }

    #[test]
    fn a_panic_and_a_bad_argument_become_messages() {
        let (status, out) = run(call_one::<u8, u8>, boom as fn(u8) -> u8 as usize, &[3]);
        assert_eq!(status, Status::Panicked);
        let text = String::from_utf8(out).unwrap();
        assert_eq!(PanicMessage::from_wire(text), "boom 1");
        let (status, out) = run(call_one::<String, u8>, boom as fn(u8) -> u8 as usize, &[9]);
        assert_eq!(status, Status::Serialization);
        assert!(String::from_utf8(out)
            .unwrap()
            .contains("argument could not be decoded in the worker (type alloc::string::String)"));
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
        let items: Vec<_> = items
            .into_iter()
            .map(|r| r.map_err(PanicMessage::from_wire))
            .collect();
        assert_eq!(items, vec![Ok(2), Err("odd 3".into()), Ok(4)]);
    }
}
