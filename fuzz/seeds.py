#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets: valid frames of every kind, with valid
postcard payloads, alone and as multi-frame streams, plus a few near-misses.

    python3 fuzz/seeds.py          # from the repository root, or from fuzz/

Layout mirrored from src/process/protocol.rs (VERSION = 1): a frame is a u32 LE body
length, then the body: a kind byte, the kind's fixed LE fields, then the payload.

  parent -> worker   task 0x01: id u64, call u64, func u64, nfds u32, arg...
                     board 0x04: no fields (a descriptor rides along)
                     init 0x03: call u64, func u64
  worker -> parent   hello 0x81: version u32, pid u32, layout u64
                     refused 0x82: reason...
                     done 0x83: id u64, status u8 (0 ok, 1 panicked, 2 serialization),
                                run_ns u64, rss u64, nfds u32, payload...
                     skipped 0x84: id u64
                     init-done 0x85: error... (empty: success)

Payloads are postcard: unsigned integers as LEB128 varints, strings/bytes/vecs with a
varint length prefix, Option as 0/1 then the value, Result/enums as a varint variant
index then the value, f64 as 8 LE bytes, tuples and tuple structs as concatenation.
"""
import os
import shutil
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
VERSION = 1

TASK, BOARD, INIT = 0x01, 0x04, 0x03
CANCEL = 0x02  # retired in protocol version 2: now an unknown kind
HELLO, REFUSED, DONE, SKIPPED, INIT_DONE = 0x81, 0x82, 0x83, 0x84, 0x85
OK, PANICKED, SERIALIZATION = 0, 1, 2


# --- postcard -------------------------------------------------------------------------

def varint(n):
    assert n >= 0
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def pc_u64(n):
    return varint(n)


def pc_bytes(b):
    return varint(len(b)) + b


def pc_str(s):
    return pc_bytes(s.encode("utf-8"))


def pc_seq(items, enc):
    return varint(len(items)) + b"".join(enc(i) for i in items)


def pc_option(v, enc):
    return b"\x00" if v is None else b"\x01" + enc(v)


def pc_f64(x):
    return struct.pack("<d", x)


def pc_result(r, enc_ok, enc_err):
    tag, v = r
    return varint(0) + enc_ok(v) if tag == "ok" else varint(1) + enc_err(v)


def pc_str_bytes_optf64(s, b, f):
    """(String, Vec<u8>, Option<f64>)"""
    return pc_str(s) + pc_bytes(b) + pc_option(f, pc_f64)


def pc_chunk_out(run_ns, items):
    """ChunkOut<String> = (u64, Vec<Result<String, String>>)"""
    return pc_u64(run_ns) + pc_seq(items, lambda r: pc_result(r, pc_str, pc_str))


def pc_shared_buffer(index, length):
    """SharedBuffer's wire form: the tuple struct Wire(u32 fd index, u64 length)."""
    return varint(index) + varint(length)


# --- frames ---------------------------------------------------------------------------

def frame(kind, *fields):
    body = bytes([kind]) + b"".join(fields)
    return struct.pack("<I", len(body)) + body


def u32(n):
    return struct.pack("<I", n)


def u64(n):
    return struct.pack("<Q", n)


def task(id, call, func, arg, nfds=0):
    return frame(TASK, u64(id), u64(call), u64(func), u32(nfds), arg)


def cancel(id):
    """A retired frame kind (protocol 1's cancel): must be refused, not panic."""
    return frame(CANCEL, u64(id))


def board():
    return frame(BOARD)


def init(call, func):
    return frame(INIT, u64(call), u64(func))


def hello(pid, layout, version=VERSION):
    return frame(HELLO, u32(version), u32(pid), u64(layout))


def refused(reason):
    return frame(REFUSED, reason.encode())


def done(id, status, payload, run_ns=1234, rss=0, nfds=0):
    return frame(DONE, u64(id), bytes([status]), u64(run_ns), u64(rss), u32(nfds), payload)


def skipped(id):
    return frame(SKIPPED, u64(id))


def init_done(error=""):
    return frame(INIT_DONE, error.encode())


# --- seeds ----------------------------------------------------------------------------

CALL, FUNC = 0x5555_5555_1000, 0x5555_5555_2000
LAYOUT = 0x0123_4567_89AB_CDEF

worker = {
    "hello": hello(4242, LAYOUT),
    "hello_other_version": hello(4242, LAYOUT, version=2),
    "refused": refused("the worker was built from another executable"),
    "refused_empty": refused(""),
    "done_u64_small": done(1, OK, pc_u64(42)),
    "done_u64_zero": done(2, OK, pc_u64(0)),
    "done_u64_max": done(3, OK, pc_u64(2**64 - 1), run_ns=2**40, rss=64 << 20),
    "done_tuple_some": done(4, OK, pc_str_bytes_optf64("héllo", b"\x00\x01\xff", 3.5)),
    "done_tuple_none": done(5, OK, pc_str_bytes_optf64("", b"", None)),
    "done_chunk": done(6, OK, pc_chunk_out(987654, [("ok", "2"), ("err", "odd 3"), ("ok", "4")])),
    "done_chunk_empty": done(7, OK, pc_chunk_out(0, [])),
    "done_shared_buffer": done(8, OK, pc_shared_buffer(0, 1 << 20), nfds=1),
    "done_shared_buffer_bad_index": done(9, OK, pc_shared_buffer(7, 4096)),
    "done_panicked": done(10, PANICKED, b"panicked at src/main.rs:3:5: boom"),
    "done_serialization": done(11, SERIALIZATION, b"could not decode the argument: unexpected end"),
    "done_empty_payload": done(12, OK, b""),
    "done_trailing_bytes": done(13, OK, pc_u64(42) + b"\x00\x00"),
    "skipped": skipped(14),
    "init_done_ok": init_done(""),
    "init_done_error": init_done("initializer panicked: no config"),
    "stream_session": (
        hello(4242, LAYOUT)
        + init_done("")
        + done(1, OK, pc_u64(7))
        + skipped(2)
        + done(3, OK, pc_chunk_out(55, [("ok", "a"), ("err", "b")]))
        + done(4, PANICKED, b"boom")
    ),
    "stream_results": b"".join(
        done(i, OK, pc_str_bytes_optf64("x" * i, bytes(range(i)), float(i) if i % 2 else None))
        for i in range(1, 5)
    ),
    "stream_then_truncated": hello(1, 2) + done(1, OK, pc_u64(1))[:-3],
    "stream_then_oversized": skipped(1) + u32((1 << 20) + 1) + b"\x83",
    "stream_then_empty_frame": skipped(1) + u32(0) + skipped(2),
    "stream_unknown_kind": skipped(1) + frame(0x99, b"??") + skipped(2),
    "done_bad_status": frame(DONE, u64(1), b"\x07", u64(0), u64(0), u32(0)),
}

parent = {
    "task_args": task(1, CALL, FUNC, pc_seq(["alpha", "beta", "γάμμα"], pc_str)),
    "task_args_empty": task(2, CALL, FUNC, pc_seq([], pc_str)),
    "task_args_long": task(3, CALL, FUNC, pc_seq(["x" * 200, ""], pc_str)),
    "task_nfds": task(4, CALL, FUNC, pc_seq(["with descriptors"], pc_str), nfds=2),
    "task_no_arg": task(5, 0, 0, b""),
    "task_bad_utf8": task(6, CALL, FUNC, varint(1) + varint(2) + b"\xff\xfe"),
    "task_trailing_bytes": task(7, CALL, FUNC, pc_seq(["a"], pc_str) + b"\x01"),
    "cancel": cancel(8),
    "board": board(),
    "board_trailing_bytes": frame(BOARD, b"\x00"),
    "init": init(CALL, FUNC),
    "stream_session": (
        init(CALL, FUNC)
        + task(1, CALL, FUNC, pc_seq(["a", "b"], pc_str))
        + task(2, CALL, FUNC, pc_seq(["c"], pc_str))
        + cancel(2)
        + task(3, CALL, FUNC, pc_seq([], pc_str))
    ),
    "stream_cancels": b"".join(cancel(i) for i in range(5)),
    "stream_then_truncated": cancel(1) + task(2, CALL, FUNC, pc_seq(["cut"], pc_str))[:-2],
    "stream_then_oversized": cancel(1) + u32(0xFFFF_FFFF) + b"\x01",
    "cancel_trailing_bytes": frame(CANCEL, u64(1), b"\x00"),
    "init_truncated": frame(INIT, u64(1)),
}


def write(target, seeds):
    out = os.path.join(HERE, "seeds", target)
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    for name, data in seeds.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
    print(f"{len(seeds)} seeds in {os.path.relpath(out)}")


if __name__ == "__main__":
    write("worker_stream", worker)
    write("parent_stream", parent)
