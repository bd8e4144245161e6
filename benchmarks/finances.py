"""One year of a large seller's money through the ``finances`` stream: how long, how many calls.

Usage::

    python -m benchmarks.finances                      # backfill 100,000 orders' 365 days
    python -m benchmarks.finances --via sync           # the same year as a first sync
    python -m benchmarks.finances --orders 3000 --days 60     # smoke check

What runs: the simulator (``celery -A worker simulator``) with one seller of ``--orders``
orders spread over ``--days`` days of history, at ``--time-scale`` (default 1000: the
quota's waits shrink 1000 times, timestamps stay real), a scratch database, the benchmark
Redis, and either (``--via backfill``, the default) ``celery -A worker backfill --stream
finances --since <--days ago>``'s work (``worker.sync.api_backfill.backfill_api``: 30-day
windows end to end, overlapping by a minute), or (``--via sync``) one run of the seller's
``finances`` stream (``worker.sync.service.run_stream``, what the task runs) whose first sync
reaches back ``--days`` days (``SPSYNC_FINANCES_INITIAL_DAYS``), in windows of up to 179
days, each after the first starting 30 days (the look-back) before the previous one ended.

Figures: ``transactions`` (rows in ``financial_transactions``), ``equal`` (the mirror holds
exactly the simulator's transactions of those days), ``calls`` (listTransactions calls
the simulator counted), ``floor_calls`` (the fewest calls that can read them: windows of
179 days end to end, each's transactions divided by the page size of 100, rounded up, at
least one),
``seconds`` (wall time of the run), ``amazon_seconds`` (what the same calls take at Amazon's
real rate, 0.5/s after a burst of 10: the time a real backfill of that year needs at the
least) and the machine's load. Prints one JSON line; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import time
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

PAGE = 100  # the simulator's page of transactions (the model sets none)
RATE, BURST = 0.5, 10  # listTransactions' usage plan (worker/spapi/operations.py)


def main(argv: list[str] | None = None, *, database_url: str | None = None,
         redis_url: str | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--orders", type=int, default=100_000)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--time-scale", type=float, default=1000.0)
    ap.add_argument("--via", choices=("backfill", "sync"), default="backfill")
    args = ap.parse_args(argv)
    quiet()
    with ExitStack() as stack:
        if redis_url is None:
            redis_url, _ = stack.enter_context(bench_redis())
        if database_url is None:
            (database_url,) = stack.enter_context(scratch_databases(1))
        sim_url = stack.enter_context(simulator(1, args.time_scale, args.orders,
                                                history_days=args.days))
        out = _run(args, database_url, redis_url, sim_url)
    print(json.dumps(out))
    return out


def _run(args: Any, database_url: str, redis_url: str, sim_url: str) -> dict[str, Any]:
    from sqlalchemy import text

    from simulator.remote import SimulatorClient
    from worker.db.sellers import get_seller
    from worker.sync.api_backfill import backfill_api
    from worker.sync.registry import FINANCES
    from worker.sync.service import run_stream

    rt = sim_runtime(database_url, redis_url, sim_url, finances_initial_days=args.days + 1)
    (spid, seller_id), = register_sim_sellers(rt, sim_url).items()
    sim = SimulatorClient(sim_url, timeout=300)  # the truth of a large seller is large
    log(f"{args.via}: {args.days} days of one seller's transactions ({args.orders} orders)")
    started = time.monotonic()
    if args.via == "sync":
        status = asyncio.run(run_stream(rt, seller_id, FINANCES.stream())).status
        table, reach = "sync_state", f"cursor - interval '{args.days + 1} days'"
    else:
        with rt.engine.begin() as conn:
            seller = get_seller(conn, seller_id, rt.keyring)
        now = datetime.now(UTC)
        done = asyncio.run(backfill_api(rt, seller, FINANCES.stream(),
                                        now - timedelta(days=args.days + 1), now))
        status = "failed" if done.failures else "succeeded"
        table, reach = "api_backfills", "since"
    seconds = time.monotonic() - started
    with rt.engine.begin() as conn:
        mirror = {r[0]: r[1] for r in conn.execute(text(
            "SELECT transaction_id, posted_date FROM financial_transactions "
            "WHERE seller_id = :s"), {"s": seller_id})}
        start, cursor = conn.execute(text(  # what was read: the window's two ends
            f"SELECT {reach}, cursor FROM {table} WHERE seller_id = :s "  # noqa: S608
            "AND stream = 'finances'"), {"s": seller_id}).one()
    truth = {t["transactionId"]: t["postedDate"]
             for t in sim.truth_finances(spid)["transactions"]
             if start <= datetime.fromisoformat(t["postedDate"].replace("Z", "+00:00"))
             < cursor}
    calls = sum(b["calls"] for b in sim.stats()["buckets"]
                if b["operation"] == "listTransactions")
    floor = _floor_calls(list(mirror.values()), start, cursor)
    return {
        "benchmark": "finances", "via": args.via, "orders": args.orders, "days": args.days,
        "time_scale": args.time_scale, "status": status,
        "transactions": len(mirror), "equal": set(mirror) == set(truth),
        "calls": calls, "floor_calls": floor, "calls_over_floor": round(calls / floor, 3),
        "seconds": round(seconds, 1),
        "amazon_seconds": round(max(0.0, (calls - BURST) / RATE), 0),
        "loadavg_1m": round(os.getloadavg()[0], 2),
    }


def _floor_calls(posted: list[datetime], start: datetime, end: datetime) -> int:
    """The fewest listTransactions calls for these transactions: windows as long as Amazon
    answers (179 days, the stream's ``max_span``) laid end to end from ``start``, each read in
    pages of 100, at least one."""
    span = timedelta(days=179)
    total, at = 0, start
    while at < end:
        upto = min(end, at + span)
        n = sum(1 for p in posted if at <= p.astimezone(UTC) < upto)
        total += max(1, math.ceil(n / PAGE))
        at = upto
    return total


if __name__ == "__main__":
    main()
