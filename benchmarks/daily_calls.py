"""A seller's day of SP-API calls at the default intervals, against each operation's quota.

Usage::

    python -m benchmarks.daily_calls                 # one NA seller, a simulated day
    python -m benchmarks.daily_calls --hours 6       # a shorter day, scaled to 24 h

What runs: the simulator with one seller (``--orders`` orders over 30 days of history,
``--changes-per-hour`` new changes between runs), a scratch database, the benchmark Redis.
Every stream the seller has (``registry.streams_for``) first syncs once (its first reach:
not counted), then a day passes on the simulator's clock in steps of ``--step`` minutes
(5: the shortest interval, orders'): at each step every stream whose default interval has
elapsed since its last run runs once (``worker.sync.service.run_stream``, what the task
runs), as the dispatcher would schedule it. The runner's and the simulator's clocks move
together, so a day takes minutes.

Figures (one JSON line): per kind, its runs and the SP-API calls they made that day
(``sync_runs.api_calls``); per operation, the calls the simulator counted that day beside the
most its usage plan allows in a day (``rate * 86,400 + burst``, ``worker/spapi/operations.py``)
and their ratio; ``busiest_share``, the largest of those ratios (the operation that binds
first); ``all_calls`` and ``loadavg_1m``. The reference is the quota itself, Amazon's
ceiling for one seller. Asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from collections import defaultdict
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from typing import Any

from benchmarks.services import (
    bench_redis,
    log,
    quiet,
    register_sim_sellers,
    scratch_databases,
    sim_runtime,
    simulator,
)

DAY = timedelta(days=1)


def main(argv: list[str] | None = None, *, database_url: str | None = None,
         redis_url: str | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--orders", type=int, default=3000)
    ap.add_argument("--changes-per-hour", type=int, default=20)
    ap.add_argument("--hours", type=float, default=24.0)
    ap.add_argument("--step", type=float, default=5.0, help="minutes between scheduling rounds")
    ap.add_argument("--time-scale", type=float, default=1000.0)
    args = ap.parse_args(argv)
    if not 0 < args.hours <= 24 or not 0 < args.step <= 60:
        ap.error("--hours must be in (0, 24] and --step in (0, 60]")
    quiet()
    with ExitStack() as stack:
        if redis_url is None:
            redis_url, _ = stack.enter_context(bench_redis())
        if database_url is None:
            (database_url,) = stack.enter_context(scratch_databases(1))
        sim_url = stack.enter_context(simulator(1, args.time_scale, args.orders))
        out = _run(args, database_url, redis_url, sim_url)
    print(json.dumps(out))
    return out


def _run(args: Any, database_url: str, redis_url: str, sim_url: str) -> dict[str, Any]:
    from simulator.remote import SimulatorClient
    from worker.sync import registry

    rt = sim_runtime(database_url, redis_url, sim_url)
    (spid, seller_id), = register_sim_sellers(rt, sim_url).items()
    sim = SimulatorClient(sim_url, timeout=120)
    markets = next(s["marketplace_ids"] for s in sim.sellers()["sellers"]
                   if s["selling_partner_id"] == spid)
    streams = registry.streams_for(markets)
    interval = {s: registry.kind_of(s).tuned(rt.settings).interval for s in streams}
    clock = _Clock(sim)
    log(f"first sync of {len(streams)} streams ({', '.join(markets)})")
    for stream in streams:
        _sync(rt, seller_id, stream, clock)
    before, runs_from = _calls(sim, spid), _last_run_id(rt)
    # The schedule counts simulated steps (the runs' own seconds would push it along).
    step, steps = timedelta(minutes=args.step), round(args.hours * 60 / args.step)
    last = dict.fromkeys(streams, 0)
    started, failed = time.monotonic(), []
    for n in range(1, steps + 1):
        clock.advance(step)
        if args.changes_per_hour:
            sim.mutate(spid, max(1, round(args.changes_per_hour * args.step / 60)))
        for stream in streams:
            if (n - last[stream]) * step >= interval[stream]:
                last[stream] = n
                if _sync(rt, seller_id, stream, clock) != "succeeded":
                    failed.append(stream)
        log(f"  {n * step} of {steps * step}")
    scale = DAY / (steps * step)  # a shorter day counts as a whole one
    return _figures(rt, sim, spid, runs_from, before, scale, args, failed,
                    time.monotonic() - started)


class _Clock:
    """The runner's clock and the simulator's, moved forward together."""

    def __init__(self, sim: Any) -> None:
        self.sim, self.ahead = sim, timedelta(0)

    def advance(self, by: timedelta) -> None:
        self.sim.advance_clock(by.total_seconds())
        self.ahead += by

    def now(self) -> datetime:
        return datetime.now(UTC) + self.ahead


def _sync(rt: Any, seller_id: int, stream: str, clock: _Clock) -> str:
    from worker.sync.service import run_stream

    return str(asyncio.run(run_stream(rt, seller_id, stream, now=clock.now)).status)


def _calls(sim: Any, spid: str) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for b in sim.stats()["buckets"]:
        if b["seller_id"] == spid:
            out[b["operation"]] += b["calls"]
    return out


def _last_run_id(rt: Any) -> int:
    from sqlalchemy import text

    with rt.engine.begin() as conn:
        return int(conn.execute(text("SELECT coalesce(max(id), 0) FROM sync_runs")).scalar_one())


def _figures(rt: Any, sim: Any, spid: str, runs_from: int, before: dict[str, int],
             scale: float, args: Any, failed: list[str], seconds: float) -> dict[str, Any]:
    from sqlalchemy import text

    from worker.spapi.operations import OPERATIONS
    from worker.sync import registry

    kinds: dict[str, dict[str, float]] = defaultdict(lambda: {"runs": 0, "calls": 0})
    with rt.engine.begin() as conn:
        for stream, runs, calls in conn.execute(text(
                "SELECT stream, count(*), sum(api_calls) FROM sync_runs WHERE id > :r "
                "GROUP BY stream"), {"r": runs_from}):
            k = kinds[registry.kind_of(stream).name]
            k["runs"] += round(runs * scale, 1)
            k["calls"] += round(calls * scale, 1)
    after = _calls(sim, spid)
    operations = {}
    for name in sorted(after):
        calls = (after[name] - before.get(name, 0)) * scale
        if calls <= 0 or name not in OPERATIONS:
            continue
        op = OPERATIONS[name]
        ceiling = op.rate * 86_400 + op.burst
        operations[name] = {"calls": round(calls, 1), "quota": round(ceiling),
                            "share": round(calls / ceiling, 4)}
    busiest = max(operations.items(), key=lambda kv: kv[1]["share"], default=("", {}))
    return {
        "benchmark": "daily_calls", "orders": args.orders,
        "changes_per_hour": args.changes_per_hour, "hours": args.hours, "step_min": args.step,
        "kinds": dict(kinds), "operations": operations,
        "busiest": busiest[0], "busiest_share": busiest[1].get("share"),
        "all_calls": round(sum(o["calls"] for o in operations.values()), 1),
        "failed_runs": len(failed), "seconds": round(seconds, 1),
        "loadavg_1m": round(os.getloadavg()[0], 2),
    }


if __name__ == "__main__":
    main()
