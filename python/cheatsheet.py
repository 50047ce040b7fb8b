#!/usr/bin/env python3
"""The `concur` command's workloads in CPython, for `concur --python`.

Counts primes (CPU-bound) and downloads pages from the loopback server that `concur`
started (I/O-bound), sequentially, with asyncio, with a ThreadPoolExecutor and with a
ProcessPoolExecutor; then transforms one large array of floats (large data)
sequentially, with a ThreadPoolExecutor, and with a ProcessPoolExecutor twice: chunks
pickled to the workers and back, then in multiprocessing.shared_memory (only its name
travels). Prints the wall times as JSON, one row per line:

    {"python": "3.11.7", "rows": [
    {"workload": "cpu", "mechanism": "sequential", "wall_s": 1.23},
    ...
    ]}

Usage: cheatsheet.py --primes-below N --pages N --workers N --data-mib N --addr HOST:PORT

The large-data numbers are the same as `concur`'s, to the bit (same inputs, same
operations in the same order); the first line carries their checksum.
"""

import argparse
import asyncio
import json
import socket
import sys
import time
from array import array
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from multiprocessing import shared_memory

# Large data: the same polynomial as src/bin/concur/data.rs, element by element.
COEFFS = (0.5, -0.25, 0.125, 1.0, -0.75, 0.3, 0.2, -0.1, 0.05, 0.9, -0.6, 0.4, 0.1, -0.3,
          0.7, 1.5)
CHUNKS = 32
ROUNDS = 2


def initial(n):
    return array("d", (((i * 2654435761) % 1000003) / 1000003.0 * 2.0 - 1.0
                       for i in range(n)))


def transform(xs):
    """Transforms the array `xs` in place."""
    for i, t in enumerate(xs):
        xs[i] = element(t)
    return xs


def element(t):
    """One element's transform: ROUNDS times a polynomial, squashed into (-1, 1)."""
    for _ in range(ROUNDS):
        y = 0.0
        for c in COEFFS:
            y = y * t + c
        t = y / (1.0 + abs(y))
    return t


def transform_shared(args):
    """Transforms elements lo..hi of the shared array `name` in place."""
    name, lo, hi = args
    shm = shared_memory.SharedMemory(name=name)
    try:
        view = shm.buf.cast("d")
        for i in range(lo, hi):
            view[i] = element(view[i])
        view.release()
    finally:
        shm.close()


def checksum(xs):
    total = 0.0
    for x in xs:
        total += x
    return total


def is_prime(n):
    if n < 2:
        return False
    if n % 2 == 0:
        return n == 2
    d = 3
    while d * d <= n:
        if n % d == 0:
            return False
        d += 2
    return True


def count_primes(bounds):
    lo, hi = bounds
    return sum(1 for n in range(lo, hi) if is_prime(n))


def ranges(limit, parts):
    step = max(-(-limit // parts), 1)
    return [(lo, min(lo + step, limit)) for lo in range(0, limit, step)]


def body_len(response):
    end = response.find(b"\r\n\r\n")
    if end < 0 or not response.startswith(b"HTTP/1.1 200"):
        raise ValueError("not a complete 200 response")
    return len(response) - end - 4


def request(host, port, page):
    return f"GET /{page} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n".encode()


def download(args):
    host, port, page = args
    with socket.create_connection((host, port)) as conn:
        conn.sendall(request(host, port, page))
        chunks = []
        while True:
            chunk = conn.recv(16 * 1024)
            if not chunk:
                break
            chunks.append(chunk)
    return body_len(b"".join(chunks))


async def download_async(host, port, page):
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(request(host, port, page))
    await writer.drain()
    response = await reader.read()
    writer.close()
    await writer.wait_closed()
    return body_len(response)


async def count_primes_async(bounds):
    return count_primes(bounds)


def same(xs, expected, mechanism):
    got = checksum(xs)
    if got != expected:
        sys.exit(f"cheatsheet.py: data/{mechanism} got checksum {got}, sequential {expected}")


def timed(rows, workload, mechanism, run, expected=None):
    start = time.perf_counter()
    result = run()
    rows.append({"workload": workload, "mechanism": mechanism,
                 "wall_s": time.perf_counter() - start})
    if expected is not None and result != expected:
        sys.exit(f"cheatsheet.py: {workload}/{mechanism} got {result}, sequential {expected}")
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--primes-below", type=int, required=True)
    parser.add_argument("--pages", type=int, required=True)
    parser.add_argument("--workers", type=int, required=True)
    parser.add_argument("--data-mib", type=int, required=True)
    parser.add_argument("--addr", required=True, help="HOST:PORT of the page server")
    args = parser.parse_args()
    host, port = args.addr.rsplit(":", 1)
    port = int(port)
    rows = []

    chunks = ranges(args.primes_below, 64)
    seq = timed(rows, "cpu", "sequential", lambda: sum(map(count_primes, chunks)))

    async def cpu_loop():
        tasks = [asyncio.create_task(count_primes_async(c)) for c in chunks]
        return sum(await asyncio.gather(*tasks))

    timed(rows, "cpu", "event_loop", lambda: asyncio.run(cpu_loop()), seq)

    def cpu_threads():
        with ThreadPoolExecutor(args.workers) as pool:
            return sum(pool.map(count_primes, chunks))

    timed(rows, "cpu", "thread_pool", cpu_threads, seq)

    def cpu_processes():
        with ProcessPoolExecutor(args.workers) as pool:
            return sum(pool.map(count_primes, chunks))

    timed(rows, "cpu", "process_pool", cpu_processes, seq)

    pages = [(host, port, page) for page in range(args.pages)]
    seq = timed(rows, "io", "sequential", lambda: sum(map(download, pages)))

    async def io_loop():
        return sum(await asyncio.gather(*(download_async(*p) for p in pages)))

    timed(rows, "io", "event_loop", lambda: asyncio.run(io_loop()), seq)

    def io_threads():
        with ThreadPoolExecutor(32) as pool:
            return sum(pool.map(download, pages))

    timed(rows, "io", "thread_pool", io_threads, seq)

    def io_processes():
        with ProcessPoolExecutor(16) as pool:
            return sum(pool.map(download, pages))

    timed(rows, "io", "process_pool", io_processes, seq)

    n = args.data_mib * (1 << 17)
    step = max(-(-n // CHUNKS), 1)
    bounds = [(lo, min(lo + step, n)) for lo in range(0, n, step)]

    xs = initial(n)
    timed(rows, "data", "sequential", lambda: transform(xs))
    seq = checksum(xs)

    # Threads share the array: each transforms its own slice in place (under the GIL).
    xs = initial(n)

    def part(bound):
        lo, hi = bound
        view = memoryview(xs)[lo:hi]
        transform(view)
        view.release()

    def data_threads():
        with ThreadPoolExecutor(args.workers) as pool:
            list(pool.map(part, bounds))

    timed(rows, "data", "thread_pool", data_threads)
    same(xs, seq, "thread_pool")

    xs = initial(n)

    def data_pickled():
        with ProcessPoolExecutor(args.workers) as pool:
            for (lo, hi), back in zip(bounds, pool.map(transform, (xs[lo:hi] for lo, hi in bounds))):
                xs[lo:hi] = back

    timed(rows, "data", "process_pool", data_pickled)
    same(xs, seq, "process_pool")

    shm = shared_memory.SharedMemory(create=True, size=max(n * 8, 1))
    try:
        view = shm.buf.cast("d")
        view[:n] = initial(n)

        def data_shared():
            with ProcessPoolExecutor(args.workers) as pool:
                list(pool.map(transform_shared, ((shm.name, lo, hi) for lo, hi in bounds)))

        timed(rows, "data", "process_pool_shm", data_shared)
        same(view[:n], seq, "process_pool_shm")
        view.release()
    finally:
        shm.close()
        shm.unlink()

    print('{"python": %s, "data_checksum": %s, "rows": [' % (
        json.dumps(sys.version.split()[0]), json.dumps(seq)))
    print(",\n".join(json.dumps(row) for row in rows))
    print("]}")


if __name__ == "__main__":
    main()
