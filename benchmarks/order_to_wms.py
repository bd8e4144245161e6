"""Order to warehouse: from an order placed at Amazon to its receipt by the seller's WMS,
through notifications and through polling alone, in the same run.

Usage::

    python -m benchmarks.order_to_wms                     # 50 sellers, Amazon's real quotas
    python -m benchmarks.order_to_wms --sellers 4 --minutes 0.3 --time-scale 60   # smoke

What runs, all on loopback: an SQS endpoint (moto, as the demo's), the simulator at
``--time-scale`` (1 = Amazon's real quotas: ``getOrder`` 0.5/s burst 30, ``searchOrders``
0.0056/s burst 20, the "two minutes before now" rule) publishing to it, a scratch database,
the benchmark Redis, a real ``celery -A worker worker`` (``--concurrency`` pool processes),
beat, the notifications consumer, the WMS stand-in (``devtools/wms_stub.py``) and the
recipe's example (``examples/order_to_warehouse.py``) as a child process. Sellers have their
orders, inventory and listings streams only, unless ``--all-streams`` (every kind: the order
path's syncs then go ahead of the others' in the queue, and report runs let go of their
process while Amazon prepares a report; see docs/architecture.md).

The sellers are split in two: those of even index subscribe to ``ORDER_CHANGE`` (the
notification path: notification -> inbox -> ``getOrder`` -> mirror -> NOTIFY -> example ->
WMS), the others do not (the polling path: the orders stream, every 180 s per seller, which
is ``searchOrders``' sustained quota, its window ending two minutes before now as Amazon
requires). Both groups poll; only the first is told. After the initial sync, ``--rate``
orders per second are placed for ``--minutes``, round-robin over all sellers
(``POST /_sim/mutate`` kind ``unshipped``: new merchant-fulfilled orders, ready to ship).
Latency of an order = WMS receipt minus the moment just before it was placed (one host, one
clock); then the run waits up to ``--drain-seconds`` for the last ones.

Prints one JSON line: ``notify_p50_s``, ``notify_p95_s``, ``poll_p50_s``, ``poll_p95_s``,
``missed`` (placed, never received), ``duplicates`` (receipts beyond the first), counts per
path, ``throttled`` (the simulator's 429s on the sellers' buckets; ``throttled_grantless``:
on the application's, see the comment) and the machine's load. Asserts nothing.
Target (issue 16): notification path p95 <= 5 s at Amazon's real quotas, 0 missed, 0
duplicates.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.services import (
    bench_redis,
    child_env,
    log,
    quiet,
    register_sim_sellers,
    scratch_databases,
    sim_runtime,
    simulator,
    stop_process,
)

ORDERS_PER_SELLER = 5  # the backlog each seller starts with
POLL_SECONDS = 180.0  # searchOrders: 0.0056/s sustained, one call per 180 s at Amazon's speed
LAG_SECONDS = 120.0  # Amazon: LastUpdatedBefore at least two minutes before now


def main(argv: list[str] | None = None, *, database_url: str | None = None,
         redis_url: str | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sellers", type=int, default=50)
    ap.add_argument("--minutes", type=float, default=3.0, help="how long orders are placed")
    ap.add_argument("--rate", type=float, default=1.0, help="orders per second, all sellers")
    ap.add_argument("--time-scale", type=float, default=1.0,
                    help="1 = Amazon's real quotas and timings")
    ap.add_argument("--concurrency", type=int, default=4, help="worker pool processes")
    ap.add_argument("--all-streams", action="store_true",
                    help="register every stream a seller has, not only orders, inventory and "
                         "listings (the report streams then share the worker processes)")
    ap.add_argument("--drain-seconds", type=float, default=None,
                    help="wait this long for the last orders (default: two poll cycles past "
                         "the lag, plus a minute, at the time scale)")
    args = ap.parse_args(argv)
    if args.sellers < 2:
        ap.error("--sellers must be at least 2 (one per path)")
    quiet()
    from devtools.demo_notifications import CREDENTIALS, embedded_sqs

    for key, value in CREDENTIALS.items():
        os.environ.setdefault(key, value)
    with ExitStack() as stack:
        if redis_url is None:
            redis_url, _ = stack.enter_context(bench_redis())
        if database_url is None:
            (database_url,) = stack.enter_context(scratch_databases(1))
        sqs = stack.enter_context(embedded_sqs())
        sim_url = stack.enter_context(simulator(args.sellers, args.time_scale,
                                                ORDERS_PER_SELLER, sqs_endpoint_url=sqs))
        logs = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        out = _run(args, database_url, redis_url, sim_url, sqs, logs, stack)
    print(json.dumps(out))
    return out


def _env(rt: Any, scale: float) -> dict[str, str]:
    return child_env(rt, SPSYNC_ORDERS_INTERVAL_SECONDS=f"{POLL_SECONDS / scale:g}",
                     SPSYNC_ORDERS_LAG_SECONDS=f"{LAG_SECONDS / scale:g}",
                     SPSYNC_DISPATCH_INTERVAL_SECONDS="1")


def _celery(args: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "celery", "-A", "worker", *args], env=env,
        stdout=log_path.open("w"), stderr=subprocess.STDOUT, text=True)


def _run(args: Any, database_url: str, redis_url: str, sim_url: str, sqs: str, logs: Path,
         stack: ExitStack) -> dict[str, Any]:
    from devtools.demo_notifications import consumer_args, subscribe_all
    from devtools.order_flow import latency, place_orders, recipe, wait_received
    from devtools.wms_stub import WmsStub
    from simulator.remote import SimulatorClient

    sim = SimulatorClient(sim_url)
    rt = sim_runtime(database_url, redis_url, sim_url)
    seller_ids = register_sim_sellers(
        rt, sim_url, None if args.all_streams else ("orders", "inventory", "listings"))
    world = sim.sellers()
    notified = [s["selling_partner_id"] for s in world["sellers"][::2]]
    polled = [s["selling_partner_id"] for s in world["sellers"][1::2]]
    queue = subscribe_all(rt, sim_url, {**world, "sellers": world["sellers"][::2]}, sqs)
    env = _env(rt, args.time_scale)
    for name, argv in (
            ("worker", ["worker", "-Q", "spsync", "-c", str(args.concurrency), "-l", "WARNING",
                        "--without-gossip", "--without-mingle", "--without-heartbeat"]),
            ("beat", ["beat", "-l", "WARNING", "-s", str(logs / "beat-schedule")]),
            ("consumer", consumer_args(queue, sqs))):
        proc = _celery(argv, env, logs / f"{name}.log")
        stack.callback(stop_process, proc)
    backlog = ORDERS_PER_SELLER * len(seller_ids)
    _wait_backlog(rt, backlog, 120 + 2 * POLL_SECONDS / args.time_scale, logs)
    wms = stack.enter_context(WmsStub(pack_seconds=0.5))
    since = datetime.now(UTC).replace(microsecond=0).isoformat()
    stack.enter_context(recipe({"DATABASE_URL": database_url}, wms, logs / "recipe.log",
                               since=since))
    count = max(2, round(args.rate * args.minutes * 60))
    log(f"{len(seller_ids)} sellers synced; placing {count} orders at {args.rate}/s")
    placed = place_orders(sim, notified + polled, count, args.rate)
    drain = args.drain_seconds if args.drain_seconds is not None else \
        (LAG_SECONDS + 2 * POLL_SECONDS) / args.time_scale + 60
    log(f"placed; waiting up to {drain:.0f} s for the WMS to have them all")
    received = wait_received(wms, placed, drain)
    truth_sellers = {o: spid for spid in notified + polled
                     for o in _ids(sim, spid) if o in placed}
    notify = latency({o: t for o, t in placed.items() if truth_sellers.get(o) in notified},
                     received)
    poll = latency({o: t for o, t in placed.items() if truth_sellers.get(o) in polled},
                   received)
    stats = sim.stats()
    return {
        "benchmark": "order_to_wms", "sellers": len(seller_ids), "orders": len(placed),
        "rate_per_s": args.rate, "time_scale": args.time_scale,
        "poll_interval_s": POLL_SECONDS / args.time_scale,
        "notify_p50_s": notify["p50_s"], "notify_p95_s": notify["p95_s"],
        "notify_max_s": notify["max_s"], "notify_orders": notify["placed"],
        "poll_p50_s": poll["p50_s"], "poll_p95_s": poll["p95_s"], "poll_max_s": poll["max_s"],
        "poll_orders": poll["placed"],
        "missed": notify["missed"] + poll["missed"],
        "duplicates": notify["duplicates"] + poll["duplicates"],
        # 429s on the sellers' buckets; the application's (grantless: the subscriptions'
        # setup) apart: the simulator serves every region from one endpoint, so it keeps one
        # application bucket where Amazon's regional endpoints, and spsync, keep one per region
        "throttled": sum(b["throttled"] for b in stats.get("buckets", [])
                         if b["seller_id"] in seller_ids),
        "throttled_grantless": sum(b["throttled"] for b in stats.get("buckets", [])
                                   if b["seller_id"] not in seller_ids),
        "loadavg_1m": round(os.getloadavg()[0], 2),
    }


def _ids(sim: Any, spid: str) -> list[str]:
    return [o["AmazonOrderId"] for o in sim.truth(spid)["orders"]]


def _wait_backlog(rt: Any, backlog: int, timeout: float, logs: Path) -> None:
    """Until every seller's starting orders are mirrored: the worker runs and is warm."""
    from sqlalchemy import text

    deadline = time.monotonic() + timeout
    while True:
        with rt.engine.begin() as conn:
            have = int(conn.execute(text("SELECT count(*) FROM orders")).scalar_one())
        if have >= backlog:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"initial sync incomplete ({have}/{backlog}); logs in {logs}")
        time.sleep(1.0)


if __name__ == "__main__":
    main()
