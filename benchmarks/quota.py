"""How much of Amazon's quota spsync uses, and how often it is throttled, beside a peer library.

Usage::

    python -m benchmarks.quota --workers 8 --sellers 20 --seconds 60   # full size, ~2.5 min
    python -m benchmarks.quota --workers 2 --sellers 4 --seconds 10    # quick check, ~25 s

What runs: one simulator (``celery -A worker simulator`` subprocess on 127.0.0.1) with
2 x ``--sellers`` sellers at ``--time-scale 600``, where getOrders allows 0.0167 x 600 ~= 10
calls/s per seller (burst 20), no background changes. Two phases, one after the other (the
development machine has 2 cores):

1. **spsync** (sellers [0, N)): ``--workers`` spawned processes, each with one
   ``SpApiClient`` and one asyncio task per seller calling getOrders back to back
   (``benchmarks/load.py``). Every process shares each seller's bucket in Redis: the
   point of the design. ``max_inline_wait`` is 30 s, so callers just wait for quota.
2. **peer** (sellers [N, 2N)): the same load shape through ``python-amazon-sp-api``,
   ``--workers`` processes with a thread per seller, with the library's documented
   ``throttle_retry()`` defaults (``benchmarks/peer.py`` says how it is pointed at the
   simulator: an ``auth_token_client_class`` subclass and the ``endpoint`` attribute).

How it is measured: the processes of a phase start together (barrier) and stop at one
deadline ``--seconds`` later; at that instant the parent reads ``/_sim/stats``, the
simulator's own counters, so both phases are judged over the same window whatever their
callers do afterwards (e.g. sleep in a retry). Per phase, over its sellers' getOrders
buckets: ``utilization = sum(calls - throttled) / sum(max_allowed)`` (max_allowed = burst
+ rate x seconds since the bucket's first call) and ``throttled_ratio = throttled / calls``.
spsync keeps one token of burst in reserve (``usable_burst``), so its ceiling is
(19 + 10.02 T) / (20 + 10.02 T): 0.998 for T = 60 s, 0.992 for T = 10 s. ``lwa_grants``
count token-endpoint grants per phase. Client-side counters go to stderr.
``redis_uptime_s`` is reported for the record: ``bucket.lua``'s restart guard only applies in
processes that used an earlier Redis server (``restarts.py``), never to a benchmark's fresh
processes.

``--cluster`` adds a third phase after the first two: the spsync load again, on sellers
[2N, 3N), with the buckets and the token cache on a Redis Cluster (three masters, each with a
replica, started for the run: ``devtools/redis_cluster.py``) instead of the single Redis.
Its figures are prefixed ``cluster_``; ``cluster_utilization_ratio`` is its utilization over
the single Redis's in the same run (target: within 1 %, and 0 throttled).

Prints one JSON line. Redis: see ``benchmarks/services.py`` (``REDIS_URL``, else
127.0.0.1:6379/14, else embedded; flushed first). Asserts nothing about time.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from collections.abc import Callable
from typing import Any

import redis

from benchmarks import load
from benchmarks.phases import run_phase
from benchmarks.services import bench_redis, log, quiet, simulator
from simulator.remote import SimulatorClient

TIME_SCALE = 600.0


def phase_figures(stats: dict[str, Any], seller_ids: set[str]) -> dict[str, float]:
    buckets = [b for b in stats["buckets"]
               if b["seller_id"] in seller_ids and b["operation"] == "getOrders"]
    calls = sum(b["calls"] for b in buckets)
    throttled = sum(b["throttled"] for b in buckets)
    allowed = sum(b["max_allowed"] for b in buckets)
    return {"utilization": round((calls - throttled) / allowed, 4) if allowed else 0.0,
            "throttled_ratio": round(throttled / calls, 5) if calls else 0.0,
            "calls": calls, "throttled": throttled}


def _measure(name: str, sim: SimulatorClient, target: Callable[[Any, float], dict[str, int]],
             jobs: list[Any], sellers: list[dict[str, Any]],
             seconds: float) -> dict[str, float]:
    log(f"{name}: {len(jobs)} processes x {len(sellers)} sellers for {seconds:g}s")
    grants_before = sim.stats()["lwa"]["grants"]
    stats, children = run_phase(target, jobs, seconds, sim.stats)
    totals: Counter[str] = Counter()
    for counters in children:
        totals.update(counters)
    log(f"{name}: client-side counters {dict(totals)}")
    figures = phase_figures(stats, {s["selling_partner_id"] for s in sellers})
    return figures | {"lwa_grants": stats["lwa"]["grants"] - grants_before}


def _ours(sim_url: str, redis_url: str, world: dict[str, Any], sellers: list[dict[str, Any]],
          workers: int, seconds: float) -> dict[str, float]:
    job: load.Job = (sim_url, redis_url, world["application"], sellers)
    return _measure("spsync", SimulatorClient(sim_url), load.pull_until_in_process,
                    [job] * workers, sellers, seconds)


def _peer(sim_url: str, world: dict[str, Any], sellers: list[dict[str, Any]], workers: int,
          seconds: float, delay: float) -> dict[str, float]:
    from benchmarks import peer  # sp_api is a benchmark-only dependency

    job: peer.Job = (sim_url, world["application"], sellers, delay)
    figures = _measure("peer (python-amazon-sp-api)", SimulatorClient(sim_url),
                       peer.pull_until_in_process, [job] * workers, sellers, seconds)
    return {f"peer_{k}": v for k, v in figures.items()}


def _on_cluster(sim_url: str, world: dict[str, Any], sellers: list[dict[str, Any]],
                opts: argparse.Namespace, single: float) -> dict[str, Any]:
    from devtools.redis_cluster import Cluster

    with Cluster() as cluster:
        figures = _ours(sim_url, cluster.url, world, sellers, opts.workers, opts.seconds)
    out: dict[str, Any] = {f"cluster_{k}": v for k, v in figures.items()}
    out["cluster_utilization_ratio"] = round(figures["utilization"] / single, 4) \
        if single else None
    return out


def _redis_uptime(redis_url: str) -> int:
    """Seconds since redis-server started (reported with the figures)."""
    return int(redis.Redis.from_url(redis_url).info("server")["uptime_in_seconds"])


def _options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--workers", type=int, default=8, help="processes per phase")
    parser.add_argument("--sellers", type=int, default=20, help="sellers per phase")
    parser.add_argument("--seconds", type=float, default=60.0, help="measured window")
    parser.add_argument("--orders-per-seller", type=int, default=20,
                        help="simulated orders per seller (response size)")
    parser.add_argument("--peer-retry-delay", type=float, default=5.0,
                        help="throttle_retry(delay=...) for the peer; 5 is its default")
    parser.add_argument("--skip-peer", action="store_true", help="run the spsync phase only")
    parser.add_argument("--cluster", action="store_true",
                        help="also run the spsync phase on a Redis Cluster of the run's own")
    opts = parser.parse_args()
    if opts.workers < 1 or opts.sellers < 1 or opts.seconds <= 0:
        parser.error("--workers and --sellers must be >= 1 and --seconds > 0")
    return opts


def main() -> None:
    opts = _options()
    quiet()
    result: dict[str, Any] = {}
    n = opts.sellers
    with bench_redis() as (redis_url, redis_kind), \
            simulator((3 if opts.cluster else 2) * n, TIME_SCALE, opts.orders_per_seller) as url:
        uptime = _redis_uptime(redis_url)
        world = SimulatorClient(url).sellers()
        ours, peers = world["sellers"][:n], world["sellers"][n:2 * n]
        result |= _ours(url, redis_url, world, ours, opts.workers, opts.seconds)
        if not opts.skip_peer:
            result |= _peer(url, world, peers, opts.workers, opts.seconds,
                            opts.peer_retry_delay)
            result["peer_retry_delay_s"] = opts.peer_retry_delay
        if opts.cluster:
            result |= _on_cluster(url, world, world["sellers"][2 * n:3 * n], opts,
                                  result["utilization"])
    result |= {"workers": opts.workers, "sellers": opts.sellers, "seconds": opts.seconds,
               "time_scale": TIME_SCALE, "redis": redis_kind, "redis_uptime_s": uptime}
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
