"""CPython's ThreadPoolExecutor on the thread-pool benchmarks of concur-bench.

Prints one JSON object: nanoseconds per operation for each benchmark (median of rounds).
Usage: python3 thread_pool.py N_THROUGHPUT N_LATENCY ROUNDS
"""
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor


def noop():
    return None


def throughput(pool, n):
    futures = [pool.submit(noop) for _ in range(n)]
    for f in futures:
        f.result()


def latency(pool, n):
    for _ in range(n):
        pool.submit(noop).result()


def median_per_op(fn, pool, n, rounds):
    fn(pool, max(1, n // 10))
    samples = []
    for _ in range(rounds):
        t = time.perf_counter_ns()
        fn(pool, n)
        samples.append((time.perf_counter_ns() - t) / n)
    samples.sort()
    return samples[len(samples) // 2]


def main():
    n_tp, n_lat, rounds = (int(a) for a in sys.argv[1:4])
    with ThreadPoolExecutor(max_workers=4) as pool:
        tp = median_per_op(throughput, pool, n_tp, rounds)
    with ThreadPoolExecutor(max_workers=1) as pool:
        lat = median_per_op(latency, pool, n_lat, rounds)
    print(json.dumps({"throughput_ns": tp, "latency_ns": lat, "version": sys.version.split()[0]}))


if __name__ == "__main__":
    main()
