"""Throughput and latency of one bucket reservation (``TokenBucket.reserve``) on real Redis.

Usage::

    python -m benchmarks.bucket --processes 4 --seconds 10 [--tasks 4]

What runs: ``--processes`` spawned processes start together (barrier) and, for
``--seconds``, each runs ``--tasks`` asyncio tasks that call ``TokenBucket.reserve`` back
to back, every task on its own key with a rate and burst so large that nobody ever waits:
what is measured is the reservation itself (one EVALSHA of ``bucket.lua``: TIME, HMGET,
HSET, EXPIRE) plus redis-py's asyncio client, not quota waits.

Figures: ``acquires_per_s`` = reservations completed in the window / seconds (all
processes); ``p50_ms``/``p99_ms`` = client-side latency of one ``reserve`` call (5 µs
histogram bins; it includes time the task waits for its process to get a CPU).
``redis_us_per_call`` is Redis's own time per EVALSHA and ``redis_cpu_s`` the CPU seconds
redis-server used in the window (from ``INFO`` deltas; other clients of a shared server
are included), which tell server time from client time.

Prints one JSON line. Redis: see ``benchmarks/services.py`` (``REDIS_URL``, else
127.0.0.1:6379/14, else embedded; flushed first). Asserts nothing about time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections import Counter
from typing import Any

import redis
import redis.asyncio as aredis

from benchmarks.phases import run_phase
from benchmarks.services import bench_redis, log, quiet
from worker.ratelimit.bucket import TokenBucket, bucket_key

BIN_US = 5
RATE = 1e9
BURST = 10**9

# (redis_url, process index, tasks)
Job = tuple[str, int, int]


async def _hammer(job: Job, deadline: float) -> Counter[int]:
    redis_url, process, tasks = job
    r = aredis.Redis.from_url(redis_url, max_connections=tasks)
    bucket = TokenBucket(r)
    histogram: Counter[int] = Counter()

    async def one(task: int) -> None:
        key = bucket_key(f"BENCH{process}x{task}", "NA", "getOrders")
        while time.monotonic() < deadline:
            started = time.perf_counter()
            await bucket.reserve(key, RATE, BURST, 0.0)
            histogram[int((time.perf_counter() - started) * 1e6) // BIN_US] += 1

    try:
        await asyncio.gather(*(one(t) for t in range(tasks)))
    finally:
        await r.aclose()
    return histogram


def hammer_in_process(job: Job, deadline: float) -> dict[str, int]:
    """Entry point for :func:`benchmarks.phases.run_phase`: a latency histogram."""
    return {str(k): v for k, v in asyncio.run(_hammer(job, deadline)).items()}


def percentile_ms(histogram: Counter[int], q: float) -> float:
    """The ``q`` quantile (0..1) of a 5 µs-bin histogram, at the bin's upper edge, in ms."""
    rank, seen = q * sum(histogram.values()), 0
    for b in sorted(histogram):
        seen += histogram[b]
        if seen >= rank:
            return round((b + 1) * BIN_US / 1000, 3)
    return 0.0


def _server(url: str) -> dict[str, float]:
    info: dict[str, Any] = redis.Redis.from_url(url).info("all")
    evalsha = info.get("cmdstat_evalsha", {"calls": 0, "usec": 0})
    return {"calls": float(evalsha["calls"]), "usec": float(evalsha["usec"]),
            "cpu": float(info["used_cpu_user"]) + float(info["used_cpu_sys"])}


def _options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--tasks", type=int, default=4, help="concurrent callers per process")
    parser.add_argument("--seconds", type=float, default=10.0)
    opts = parser.parse_args()
    if opts.processes < 1 or opts.tasks < 1 or opts.seconds <= 0:
        parser.error("--processes and --tasks must be >= 1 and --seconds > 0")
    return opts


def main() -> None:
    opts = _options()
    quiet()
    with bench_redis() as (url, kind):
        log(f"bucket: {opts.processes} processes x {opts.tasks} tasks for {opts.seconds:g}s")
        jobs: list[Job] = [(url, p, opts.tasks) for p in range(opts.processes)]
        before = _server(url)
        after, children = run_phase(hammer_in_process, jobs, opts.seconds,
                                    lambda: _server(url))
    histogram: Counter[int] = Counter()
    for child in children:
        histogram.update({int(k): v for k, v in child.items()})
    calls = after["calls"] - before["calls"]
    print(json.dumps({
        "acquires_per_s": round(sum(histogram.values()) / opts.seconds),
        "p50_ms": percentile_ms(histogram, 0.50), "p99_ms": percentile_ms(histogram, 0.99),
        "processes": opts.processes, "tasks_per_process": opts.tasks, "seconds": opts.seconds,
        "redis_us_per_call": round((after["usec"] - before["usec"]) / calls, 2) if calls else 0,
        "redis_cpu_s": round(after["cpu"] - before["cpu"], 2), "redis": kind,
    }), flush=True)


if __name__ == "__main__":
    main()
