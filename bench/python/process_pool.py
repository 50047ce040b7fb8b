"""CPython's ProcessPoolExecutor on the process-pool benchmarks of concur-bench.

Usage: python3 process_pool.py [--quick] [--workers N] [--cpu-limit N] [--rounds N]
Each measurement runs --rounds times (default 1) and the median is kept (for the CPU-bound
one, the pool's time; the sequential count runs once). Prints one JSON object:
  round_trip_us           mean microseconds per submit-and-join of one tiny task (x -> x + 1)
  throughput_tasks_per_s  tiny tasks per second, all submitted first, then all joined
  throughput_s            the total time of that batch
  map_items_per_s         items per second of pool.map over tiny items (chunksize: MAP_CHUNKSIZE)
  map_chunksize           the chunksize passed to pool.map
  first_result_ms         milliseconds from creating the pool to the first tiny result
  large_gb_per_s          GB/s (1e9 bytes) of a 64 MiB bytes argument plus a 64 MiB result
  large_s                 the time of that round trip
  cpu_speedup             sequential time / pool time of counting primes by trial division
  cpu_seq_s, cpu_pool_s   those two times
  cpu_limit               N of that count (primes below N, in 64 chunks): 200,000 with --quick,
                          else 1,000,000, or --cpu-limit (smaller than the Rust side's, CPython
                          being about 50 times slower per division; the speed-up is a ratio)
  workers, version        the pool's size, CPython's version
The pool uses the platform's default start method (fork on Linux before 3.14).
"""
import argparse
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor

MAP_CHUNKSIZE = 10_000
CPU_CHUNKS = 64


def inc(x):
    return x + 1


def bump_bytes(buf):
    # Each byte + 1, wrapping: one C-level pass, so the transfer dominates, not the loop.
    return buf.translate(BUMP)


BUMP = bytes((i + 1) & 0xFF for i in range(256))


def count_primes(lo, hi):
    n = 0
    for k in range(max(lo, 2), hi):
        d = 2
        while d * d <= k:
            if k % d == 0:
                break
            d += 1
        else:
            n += 1
    return n


def count_primes_chunk(bounds):
    return count_primes(*bounds)


def round_trip(pool, n):
    pool.submit(inc, 0).result()  # warm-up: every worker started
    t = time.perf_counter()
    for i in range(n):
        assert pool.submit(inc, i).result() == i + 1
    return (time.perf_counter() - t) / n * 1e6


def throughput(pool, n):
    t = time.perf_counter()
    futures = [pool.submit(inc, i) for i in range(n)]
    total = 0
    for f in futures:
        total += f.result()
    elapsed = time.perf_counter() - t
    assert total == n * (n + 1) // 2
    return n / elapsed, elapsed


def map_items(pool, n):
    t = time.perf_counter()
    total = sum(pool.map(inc, range(n), chunksize=MAP_CHUNKSIZE))
    elapsed = time.perf_counter() - t
    assert total == n * (n + 1) // 2
    return n / elapsed


def first_result(workers):
    t = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers) as pool:
        assert pool.submit(inc, 1).result() == 2
        elapsed = time.perf_counter() - t
    return elapsed * 1e3


def large(pool, size):
    buf = bytes(range(256)) * (size // 256)
    t = time.perf_counter()
    out = pool.submit(bump_bytes, buf).result()
    elapsed = time.perf_counter() - t
    assert len(out) == size and out[0] == 1 and out[255] == 0
    return 2 * size / elapsed / 1e9, elapsed


def cpu(pool, limit, rounds):
    step = -(-limit // CPU_CHUNKS)
    chunks = [(lo, min(lo + step, limit)) for lo in range(0, limit, step)]
    t = time.perf_counter()
    seq = sum(count_primes_chunk(c) for c in chunks)
    seq_s = time.perf_counter() - t

    def through_pool():
        t = time.perf_counter()
        par = sum(pool.map(count_primes_chunk, chunks))
        assert seq == par
        return time.perf_counter() - t

    pool_s = median(rounds, through_pool)
    return seq_s / pool_s, seq_s, pool_s


def median(rounds, fn):
    samples = sorted(fn() for _ in range(max(1, rounds)))
    return samples[len(samples) // 2]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (a smoke run)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--cpu-limit", type=int, help="count primes below this N")
    parser.add_argument("--rounds", type=int, default=1, help="runs per measurement")
    args = parser.parse_args()
    workers = max(1, args.workers)
    if args.quick:
        n_rt, n_tp, n_map, size, limit = 2_000, 5_000, 200_000, 64 << 20, 200_000
    else:
        n_rt, n_tp, n_map, size, limit = 10_000, 20_000, 1_000_000, 64 << 20, 1_000_000

    if args.cpu_limit:
        limit = args.cpu_limit
    rounds = args.rounds
    first_ms = median(rounds, lambda: first_result(workers))
    with ProcessPoolExecutor(max_workers=workers) as pool:
        rt_us = median(rounds, lambda: round_trip(pool, n_rt))
        # Medians of the times; the rates follow from them.
        tp_s = median(rounds, lambda: throughput(pool, n_tp)[1])
        tp = n_tp / tp_s
        mp = n_map / median(rounds, lambda: n_map / map_items(pool, n_map))
        large_s = median(rounds, lambda: large(pool, size)[1])
        gbps = 2 * size / large_s / 1e9
        speedup, seq_s, pool_s = cpu(pool, limit, rounds)
    print(json.dumps({
        "round_trip_us": rt_us,
        "throughput_tasks_per_s": tp,
        "throughput_s": tp_s,
        "map_items_per_s": mp,
        "map_chunksize": MAP_CHUNKSIZE,
        "first_result_ms": first_ms,
        "large_gb_per_s": gbps,
        "large_s": large_s,
        "cpu_speedup": speedup,
        "cpu_seq_s": seq_s,
        "cpu_pool_s": pool_s,
        "cpu_limit": limit,
        "workers": workers,
        "rounds": rounds,
        "version": sys.version.split()[0],
    }))


if __name__ == "__main__":
    main()
