"""Throughput and latency of one bucket reservation (the Lua script) against real Redis.

Usage: ``python -m benchmarks.bucket --processes 4 --seconds 10``

Each process runs ``--tasks`` asyncio tasks that reserve tokens back to back for
``--seconds``, every task on its own key with a rate and burst so large that nobody waits:
what is measured is the round trip of ``TokenBucket.reserve`` (EVALSHA), client side. Prints
one JSON line ``{"acquires_per_s", "p50_ms", "p99_ms", ...}``. Uses ``REDIS_URL`` (default
redis://127.0.0.1:6379/14, flushed first).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import statistics
import time

import redis
import redis.asyncio as aredis

from worker.ratelimit.bucket import TokenBucket, bucket_key


async def _hammer(redis_url: str, process: int, tasks: int, seconds: float) -> list[float]:
    r = aredis.Redis.from_url(redis_url, max_connections=tasks)
    bucket = TokenBucket(r)
    deadline = time.perf_counter() + seconds
    latencies: list[float] = []

    async def one(task: int) -> None:
        key = bucket_key(f"BENCH{process}x{task}", "NA", "getOrders")
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            await bucket.reserve(key, 1e9, 10**9, 0.0)
            latencies.append(time.perf_counter() - started)

    try:
        await asyncio.gather(*(one(t) for t in range(tasks)))
    finally:
        await r.aclose()
    return latencies


def _process(args: tuple[str, int, int, float]) -> list[float]:
    return asyncio.run(_hammer(*args))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--tasks", type=int, default=8, help="concurrent callers per process")
    parser.add_argument("--seconds", type=float, default=10.0)
    opts = parser.parse_args()
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/14")
    redis.Redis.from_url(redis_url).flushdb()
    jobs = [(redis_url, p, opts.tasks, opts.seconds) for p in range(opts.processes)]
    with multiprocessing.get_context("spawn").Pool(opts.processes) as pool:
        per_process = pool.map(_process, jobs)
    latencies = sorted(x for chunk in per_process for x in chunk)
    quantiles = statistics.quantiles(latencies, n=100)
    print(json.dumps({
        "acquires_per_s": round(len(latencies) / opts.seconds),
        "p50_ms": round(quantiles[49] * 1000, 3),
        "p99_ms": round(quantiles[98] * 1000, 3),
        "processes": opts.processes, "tasks_per_process": opts.tasks,
        "seconds": opts.seconds,
    }))


if __name__ == "__main__":
    main()
