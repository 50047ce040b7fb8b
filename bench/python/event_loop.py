"""CPython's asyncio (or uvloop) on the event-loop benchmarks of concur-bench.

Usage: python3 event_loop.py asyncio|uvloop SPAWNS TASKS SLEEPERS PINGPONGS ROUNDS
Prints the median nanoseconds per operation of each benchmark, space separated:
spawn-and-join per task, per yield (TASKS tasks x 100 yields), per 1 ms sleeper,
per ping-pong round trip through two queues.
"""
import asyncio
import sys
import time


async def spawn_join(n):
    async def nop():
        return 1
    tasks = [asyncio.create_task(nop()) for _ in range(n)]
    for t in tasks:
        await t


async def yields(tasks):
    async def y():
        for _ in range(100):
            await asyncio.sleep(0)
    ts = [asyncio.create_task(y()) for _ in range(tasks)]
    for t in ts:
        await t


async def sleeps(n):
    ts = [asyncio.create_task(asyncio.sleep(0.001)) for _ in range(n)]
    for t in ts:
        await t


async def ping_pong(n):
    ping, pong = asyncio.Queue(), asyncio.Queue()

    async def echo():
        for _ in range(n):
            await pong.put(await ping.get())
    t = asyncio.create_task(echo())
    for i in range(n):
        await ping.put(i)
        assert await pong.get() == i
    await t


def median_per_op(run, make, n, ops, rounds):
    run(make(max(1, n // 10)))
    samples = []
    for _ in range(rounds):
        t = time.perf_counter_ns()
        run(make(n))
        samples.append((time.perf_counter_ns() - t) / ops)
    samples.sort()
    return samples[len(samples) // 2]


def main():
    flavour = sys.argv[1]
    spawns, tasks, sleepers, pingpongs, rounds = (int(a) for a in sys.argv[2:7])
    if flavour == "uvloop":
        import uvloop  # raises ImportError where it is not installed
        run = uvloop.run
    else:
        run = asyncio.run
    results = [
        median_per_op(run, spawn_join, spawns, spawns, rounds),
        median_per_op(run, yields, tasks, tasks * 100, rounds),
        median_per_op(run, sleeps, sleepers, sleepers, rounds),
        median_per_op(run, ping_pong, pingpongs, pingpongs, rounds),
    ]
    print(" ".join(f"{r:.1f}" for r in results))


if __name__ == "__main__":
    main()
