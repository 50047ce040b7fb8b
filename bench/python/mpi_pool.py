"""mpi4py.futures' MPIPoolExecutor on the MPI benchmarks of concur-bench.

Usage: mpirun -n N python3 -m mpi4py.futures mpi_pool.py [--quick] [--rounds N]
(static launch: rank 0 runs this script, ranks 1..N-1 are mpi4py's workers, one task at a
time each, as concur's agents with one local worker each). Each measurement runs --rounds
times (default 1) and the median is kept. Prints one JSON object:
  round_trip_us           mean microseconds per submit-and-result of one tiny task (x -> x + 1)
  throughput_tasks_per_s  tiny tasks per second, all submitted first, then all collected
  map_items_per_s         items per second of pool.map over tiny items, chunksize MAP_CHUNKSIZE
  large_gb_per_s          GB/s (1e9 bytes) of a LARGE-byte bytes argument plus a same-size result
  workers, version        the pool's worker count, mpi4py's version
"""
import argparse
import json
import statistics
import time

import mpi4py
from mpi4py.futures import MPIPoolExecutor

MAP_CHUNKSIZE = 1_000
LARGE = 16 << 20
BUMP = bytes((i + 1) % 256 for i in range(256))


def inc(x):
    return x + 1


def bump_bytes(buf):
    return buf.translate(BUMP)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    trips, batch, items = (200, 2_000, 20_000) if args.quick else (2_000, 20_000, 200_000)
    data = bytes(i % 251 for i in range(LARGE))
    with MPIPoolExecutor() as pool:
        pool.submit(inc, 0).result()  # the workers are up

        def round_trip():
            t = time.perf_counter()
            for i in range(trips):
                assert pool.submit(inc, i).result() == i + 1
            return (time.perf_counter() - t) / trips * 1e6

        def throughput():
            t = time.perf_counter()
            futures = [pool.submit(inc, i) for i in range(batch)]
            assert sum(f.result() for f in futures) == batch * (batch + 1) // 2
            return batch / (time.perf_counter() - t)

        def mapped():
            t = time.perf_counter()
            total = sum(pool.map(inc, range(items), chunksize=MAP_CHUNKSIZE))
            assert total == items * (items + 1) // 2
            return items / (time.perf_counter() - t)

        def large():
            t = time.perf_counter()
            out = pool.submit(bump_bytes, data).result()
            took = time.perf_counter() - t
            assert len(out) == LARGE and out[1] == 2
            return 2 * LARGE / took / 1e9

        def median(f):
            return statistics.median(f() for _ in range(args.rounds))

        result = {
            "round_trip_us": median(round_trip),
            "throughput_tasks_per_s": median(throughput),
            "map_items_per_s": median(mapped),
            "large_gb_per_s": median(large),
            "workers": pool.num_workers,
            "version": mpi4py.__version__,
        }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
