"""CPython's ThreadPoolExecutor.map on concur-bench's lopsided map row.

The items (one size in bytes per line of SIZES_FILE, written by concur-bench) are hashed
with SHA-256, which releases the GIL, on a pool of WORKERS threads. Prints one JSON
object: nanoseconds per run (median of ROUNDS, after one warm-up run).
Usage: python3 lopsided_map.py SIZES_FILE WORKERS ROUNDS
"""
import hashlib
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor


def main():
    path, workers, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    with open(path) as f:
        sizes = [int(line) for line in f if line.strip()]
    period = bytes((i * 31) % 251 for i in range(251))
    data = memoryview((period * (max(sizes) // 251 + 1))[: max(sizes)])

    def work(n):
        return hashlib.sha256(data[:n]).digest()[:8]

    samples = []
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for r in range(rounds + 1):
            t = time.perf_counter_ns()
            for _ in pool.map(work, sizes):
                pass
            if r > 0:
                samples.append(time.perf_counter_ns() - t)
    samples.sort()
    print(json.dumps({"per_run_ns": samples[len(samples) // 2], "version": sys.version.split()[0]}))


if __name__ == "__main__":
    main()
