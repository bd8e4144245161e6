"""One seller's order history: backfilled through reports vs paged through the Orders API.

Usage::

    python -m benchmarks.backfill --orders 100000   # full size
    python -m benchmarks.backfill --orders 2000     # smoke check, well under a minute

What runs: one simulator (``celery -A worker simulator`` subprocess on 127.0.0.1) with one
seller holding ``--orders`` orders, last updated over the simulator's default 30-day history
(the ``simulator`` command has no history-days knob), at ``--time-scale`` S (default 1000).
The two paths then mirror the whole history, one after the other, each into its own
freshly migrated scratch database so neither sees the other's rows:

1. **reports**: ``backfill_seller(rt, seller, "orders", since, now)`` with ``since`` one day
   before the history starts: a flat-file report per 30-day window (createReport, getReport
   polled from 0.05 s up to 0.5 s apart, getReportDocument, download, parse, batched writes).
2. **api**: ``run_stream(rt, seller_id, "orders")``, the incremental sync's first run, with
   ``orders_initial_days`` covering the same history: searchOrders (Orders 2026-01-01, items
   embedded) paged 100 orders at a time through 7-day windows. A run ends at its own start,
   so one succeeded run is caught up; a run deferred for quota (``QuotaWaitTooLong``) or
   failed with a retriable error is run again, as the Celery task would.

Why the comparison is fair: the simulator's time scale speeds up everything Amazon measures
in time by the same factor: quota refill (searchOrders' 0.0056/s becomes 5.6/s at S = 1000)
and report processing (30 s becomes 0.03 s). Neither path gets a clock the other lacks.
What stays unscaled is our own work (HTTP, parsing, Postgres writes) and the report poll
pauses, which are set here. So the figure depends on S: once the API path is quota-bound,
its time shrinks with S and the reports' does not, and the speedup grows as S falls (at
Amazon's real rates, S = 1, 100,000 orders need ~49 h of searchOrders quota). stderr says
how long the quota alone makes each path take, here and at Amazon's rates.

Figures: ``report_seconds`` / ``api_seconds`` = wall seconds of ``asyncio.run`` of each path
(registration and checking excluded); ``speedup = api_seconds / report_seconds``;
``report_calls`` / ``api_calls`` = SP-API calls the simulator counted for the seller during
each path (``/_sim/stats``; document downloads go to a presigned URL, not an operation, and
are not counted; the per-operation split and 429s go to stderr). ``equal``: both databases
hold the same ``--orders`` orders (``amazon_order_id``), each with the same
``last_update_date`` and the same number of items. Item ids differ by design (the flat file
has no OrderItemId; report items are ``report:<sku>``), so items are compared by count.

Redis: see ``benchmarks/services.py`` (``REDIS_URL``, else 127.0.0.1:6379/14, else
embedded), flushed before each path so each pays its own LWA grant and starts with empty
buckets. Databases: with ``DATABASE_URL`` two scratch databases on that server, else on an
embedded server in a temporary directory; both dropped at the end. Prints one JSON line;
asserts nothing about time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import redis
from sqlalchemy import text

from benchmarks.services import (
    bench_redis,
    log,
    quiet,
    register_sim_sellers,
    scratch_databases,
    sim_runtime,
    simulator,
)
from simulator.config import SimConfig
from simulator.remote import SimulatorClient
from worker.db import sellers
from worker.runtime import Runtime
from worker.spapi.errors import RetriableError
from worker.sync.backfill import Progress, backfill_seller, describe
from worker.sync.service import run_stream

TIME_SCALE = 1000.0
HISTORY_DAYS = SimConfig.history_days  # what `celery -A worker simulator` generates
API_RUNS = 10  # runs of the API path before giving up (one is the norm)

Snapshot = dict[str, tuple[datetime, int]]  # order id -> (last_update_date, item count)


def calls(sim: SimulatorClient, spid: str) -> tuple[Counter[str], Counter[str]]:
    """The simulator's (calls, 429s) per operation for one seller, so far."""
    made: Counter[str] = Counter()
    throttled: Counter[str] = Counter()
    for b in sim.stats()["buckets"]:
        if b["seller_id"] == spid:
            made[b["operation"]] += b["calls"]
            throttled[b["operation"]] += b["throttled"]
    return made, throttled


def quota_floor(sim: SimulatorClient, spid: str, made: Counter[str]) -> float:
    """Seconds the quota alone imposes on ``made`` calls (a full burst, then the rate), at
    the simulator's time scale: the least any client could take, whatever its own speed."""
    buckets = {b["operation"]: b for b in sim.stats()["buckets"] if b["seller_id"] == spid}
    return max((max(0, n - buckets[op]["burst"]) / buckets[op]["rate"]
                for op, n in made.items()), default=0.0)


def by_reports(rt: Runtime, seller_id: int, since: datetime) -> float:
    """Wall seconds of the report backfill of ``[since, now]``; raises if a report failed."""
    with rt.engine.begin() as conn:
        seller = sellers.get_seller(conn, seller_id, rt.keyring)
    done = -1

    def progress(p: Progress) -> None:  # one line per finished report
        nonlocal done
        if p.done != done:
            done = p.done
            log(f"reports: {describe(p)}")

    started = time.perf_counter()
    result = asyncio.run(backfill_seller(rt, seller, "orders", since, datetime.now(UTC),
                                         progress))
    seconds = time.perf_counter() - started
    if result.failures:
        raise RuntimeError(f"report backfill failed: {result.failures}")
    return seconds


def by_api(rt: Runtime, seller_id: int) -> float:
    """Wall seconds of orders-stream runs until one succeeds (it ends caught up)."""
    started = time.perf_counter()
    for run in range(1, API_RUNS + 1):
        try:
            outcome = asyncio.run(run_stream(rt, seller_id, "orders"))
        except RetriableError as exc:  # the Celery task's retry cases (QuotaWaitTooLong too)
            log(f"api: run {run} ended early ({type(exc).__name__}); running again")
            continue
        if outcome.status != "succeeded":
            raise RuntimeError(f"orders sync {outcome.status}: {outcome.error}")
        t = outcome.totals
        log(f"api: run {run}: {t.windows} windows, {t.pages} pages, {t.rows} orders, "
            f"{t.children} items")
        return time.perf_counter() - started
    raise RuntimeError(f"orders sync not caught up after {API_RUNS} runs")


def snapshot(rt: Runtime) -> Snapshot:
    """Every mirrored order: its last_update_date and how many items it has."""
    with rt.engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT o.amazon_order_id, o.last_update_date, count(i.amazon_order_id) "
            "FROM orders o LEFT JOIN order_items i "
            "ON i.seller_id = o.seller_id AND i.amazon_order_id = o.amazon_order_id "
            "GROUP BY o.amazon_order_id, o.last_update_date")).all()
    return {oid: (updated, items) for oid, updated, items in rows}


def compare(report: Snapshot, api: Snapshot, orders: int) -> bool:
    """Same orders, dates and item counts, and all ``orders`` of them; differences to stderr."""
    differ = sorted(k for k in report.keys() | api.keys() if report.get(k) != api.get(k))
    for oid in differ[:5]:
        log(f"differs: {oid}: reports {report.get(oid)} api {api.get(oid)}")
    log(f"mirrored orders: reports {len(report)}, api {len(api)}, expected {orders}; "
        f"{len(differ)} differ")
    return not differ and len(report) == orders


def measure(sim_url: str, redis_url: str, database_urls: Sequence[str], orders: int,
            time_scale: float) -> dict[str, Any]:
    """Both paths against the running simulator, each into its own database."""
    sim = SimulatorClient(sim_url)
    spid = sim.sellers()["sellers"][0]["selling_partner_id"]
    since = datetime.now(UTC) - timedelta(days=HISTORY_DAYS + 1)
    figures: dict[str, Any] = {"orders": orders, "time_scale": time_scale}
    snapshots = []
    for name, url in zip(("report", "api"), database_urls, strict=True):
        redis.Redis.from_url(redis_url).flushdb()
        rt: Runtime = sim_runtime(
            url, redis_url, sim_url, orders_initial_days=HISTORY_DAYS + 2,
            orders_lag_seconds=120.0 / time_scale)  # Amazon's 2 minutes, scaled as simulated
        try:
            seller_id = register_sim_sellers(rt, sim_url)[spid]
            before, throttled_before = calls(sim, spid)
            log(f"{name}: start")
            seconds = by_reports(rt, seller_id, since) if name == "report" else \
                by_api(rt, seller_id)
            after, throttled_after = calls(sim, spid)
            made, throttled = after - before, throttled_after - throttled_before
            floor = quota_floor(sim, spid, made)
            log(f"{name}: {seconds:.1f}s, calls {dict(made)}, 429s {dict(throttled)}; the "
                f"quota alone needs {floor:.1f}s here, {floor * time_scale / 3600:.2f}h at "
                "Amazon's rates")
            figures |= {f"{name}_seconds": round(seconds, 2),
                        f"{name}_calls": sum(made.values())}
            snapshots.append(snapshot(rt))
        finally:
            rt.engine.dispose()
    figures["speedup"] = round(figures["api_seconds"] / figures["report_seconds"], 1)
    figures["equal"] = compare(snapshots[0], snapshots[1], orders)
    keys = ("orders", "time_scale", "report_seconds", "api_seconds", "speedup",
            "report_calls", "api_calls", "equal")
    return {k: figures[k] for k in keys}


def _options(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--orders", type=int, default=100_000, help="the seller's orders")
    parser.add_argument("--time-scale", type=float, default=TIME_SCALE,
                        help="simulator time scale, shared by both paths")
    opts = parser.parse_args(argv)
    if opts.orders < 1 or opts.time_scale <= 0:
        parser.error("--orders must be >= 1 and --time-scale > 0")
    return opts


def main(argv: Sequence[str] | None = None, *, redis_url: str | None = None) -> dict[str, Any]:
    """Run, print the JSON line and return it. ``redis_url``: a Redis database to use
    (flushed; the test passes its own), else ``services.bench_redis``'s choice."""
    opts = _options(argv)
    quiet()
    log(f"backfill: simulator with {opts.orders} orders (generating takes ~1 s per 10,000)")
    with scratch_databases(2) as urls, \
            _redis(redis_url) as rurl, simulator(1, opts.time_scale, opts.orders) as sim_url:
        out = measure(sim_url, rurl, urls, opts.orders, opts.time_scale)
    print(json.dumps(out), flush=True)
    return out


@contextmanager
def _redis(given: str | None) -> Iterator[str]:
    """``given`` as is (``measure`` flushes it), else ``services.bench_redis``'s choice."""
    if given:
        yield given
        return
    with bench_redis() as (url, kind):
        log(f"backfill: redis {kind}")
        yield url


if __name__ == "__main__":
    main()
