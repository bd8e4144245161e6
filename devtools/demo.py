"""``celery -A worker demo``: the whole system on one machine, end to end, in about a minute.

Starts (or reuses) Postgres and Redis, migrates, starts the SP-API simulator, registers its
sellers (NA and EU on Orders 2026-01-01, FE on the deprecated v0 fallback), runs a real Celery
worker, beat and a notifications consumer (the simulator publishes to an embedded SQS) as
child processes, shows live progress, freezes the simulator's data once
every seller is synced, waits until the mirror (orders, FBA inventory, listings) equals the
simulator's truth. Then runs the order-to-warehouse recipe (``docs/recipes/
order-to-warehouse.md``): new orders placed in the simulator reach a WMS stand-in through
the notification, ``getOrder``, the mirror and the change feed, and their shipments go back
through the outbox until the mirror shows them shipped. Prints a summary.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy import delete, text

from devtools import back_office
from devtools.demo_notifications import (
    CREDENTIALS,
    consumer_args,
    embedded_sqs,
    inbox_counts,
    subscribe_all,
)
from devtools.verify import compare_inventory, compare_listings, compare_orders
from simulator.remote import SimulatorClient
from worker import embedded
from worker.config import load_settings
from worker.crypto import keyring_spec
from worker.db.engine import migrate
from worker.db.models import Seller
from worker.db.sellers import upsert_seller
from worker.logging import configure_logging
from worker.runtime import Runtime
from worker.spapi.auth import cache_keys
from worker.status import collect, per_seller
from worker.sync.catalog import streams_for

FREEZE_AFTER_SECONDS = 4.0  # incremental syncs to watch before freezing the simulator
WAREHOUSE_ORDERS_PER_SELLER = 2  # orders the demo places for the order-to-warehouse recipe
WAREHOUSE_TIMEOUT = 60.0  # seconds for them to reach the WMS and be mirrored as shipped


@dataclass(frozen=True)
class DemoOptions:
    spapi_url: str | None = None
    as_json: bool = False
    orders_per_seller: int = 300
    time_scale: float = 60.0
    timeout: float = 110.0
    changes_per_minute: float = 30.0


def run_demo(opts: DemoOptions) -> bool:
    started = time.monotonic()
    settings = load_settings()
    configure_logging(settings.model_copy(update={"log_level": "WARNING"}))
    rt = Runtime(settings)
    out = _Printer(sys.stdout)
    leave_running = embedded.running(settings)  # someone else's servers: not ours to stop
    out.line("spsync demo: " + ("embedded Postgres + Redis under " + settings.data_dir
                                if not (settings.database_url and settings.redis_url)
                                else "configured Postgres + Redis"))
    services = rt.services
    migrate(services.database_url)
    data_dir = Path(settings.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    with ExitStack() as servers:
        if not leave_running:
            servers.callback(_stop_embedded, rt)
        matched = _run_children(rt, opts, data_dir, started, out)
    return matched


def _run_children(rt: Runtime, opts: DemoOptions, data_dir: Path, started: float,
                  out: _Printer) -> bool:
    with ExitStack() as stack:
        # Our own simulator publishes notifications to an embedded SQS; a given one cannot.
        sqs = None if opts.spapi_url else stack.enter_context(embedded_sqs())
        sim_url = opts.spapi_url or stack.enter_context(_simulator(opts, data_dir, sqs))
        sim = SimulatorClient(sim_url)
        world = sim.sellers()
        seller_ids = _register(rt, world)
        out.line(f"simulator at {sim_url}: {len(seller_ids)} sellers registered "
                 f"({', '.join(s['region'] for s in world['sellers'])})")
        env = _child_env(rt, sim_url, world, opts)
        if sqs is not None:
            queue_url = subscribe_all(rt, sim_url, world, sqs)
            stack.enter_context(_child("consumer", consumer_args(queue_url, sqs), env, data_dir))
            out.line(f"notifications: sellers subscribed to {queue_url}; consumer started")
        stack.enter_context(_child("worker", ["worker", "-l", "WARNING", "-c", "6", "-Q",
                                              "spsync", "--without-gossip", "--without-mingle",
                                              "--without-heartbeat", "-n", "demo@%h"],
                                   env, data_dir))
        stack.enter_context(_child("beat", ["beat", "-l", "WARNING", "-s",
                                            str(data_dir / "celerybeat-schedule")],
                                   env, data_dir))
        out.line("worker and beat started; syncing ...")
        matched, stats = _watch(rt, sim, seller_ids, opts, started, out)
        seconds = time.monotonic() - started
        office = back_office.wait(rt, set(seller_ids.values()),
                                  started + max(opts.timeout, seconds + 10))
        warehouse = _order_to_warehouse(rt, sim, seller_ids, data_dir, sqs is not None, out) \
            if matched else None
    _summary(rt, seller_ids, matched, stats, seconds, opts, out, warehouse, office)
    return matched and warehouse is not None and warehouse["ok"] and back_office.settled(office)


def _stop_embedded(rt: Runtime) -> None:
    rt.engine.dispose()
    embedded.stop(rt.settings)


def _register(rt: Runtime, world: dict[str, Any]) -> dict[str, int]:
    """(Re-)register the simulator's sellers, dropping what an earlier demo left of them."""
    ids: dict[str, int] = {}
    spids = [s["selling_partner_id"] for s in world["sellers"]]
    with rt.engine.begin() as conn:
        conn.execute(delete(Seller).where(Seller.selling_partner_id.in_(spids)))
        for s in world["sellers"]:
            api = "v0" if s["region"] == "FE" else "2026-01-01"
            ids[s["selling_partner_id"]] = upsert_seller(
                conn, rt.keyring, selling_partner_id=s["selling_partner_id"],
                region=s["region"], marketplace_ids=s["marketplace_ids"],
                refresh_token=s["refresh_token"], orders_api_version=api,
                streams=streams_for(s["marketplace_ids"]))
    r = rt.redis()
    for spid in spids:  # forget quota and token state of an earlier simulator run
        for key in r.scan_iter(match=f"rl:{{{spid}:*"):
            r.delete(key)
        r.delete(*cache_keys(spid))
    return ids


def _child_env(rt: Runtime, sim_url: str, world: dict[str, Any],
               opts: DemoOptions) -> dict[str, str]:
    app = world["application"]
    env = dict(os.environ)  # children need PATH, HOME, ... as this process has them
    env.update({
        "DATABASE_URL": rt.services.database_url,
        "REDIS_URL": rt.services.redis_url,
        "SPSYNC_SPAPI_URL": sim_url,
        "SPSYNC_LWA_TOKEN_URL": sim_url.rstrip("/") + "/auth/o2/token",
        "SPSYNC_LWA_CLIENT_ID": app["client_id"],
        "SPSYNC_LWA_CLIENT_SECRET": app["client_secret"],
        "SPSYNC_TOKEN_KEYS": keyring_spec(rt.settings),
        "SPSYNC_ORDERS_LAG_SECONDS": str(round(120 / opts.time_scale, 3)),
        "SPSYNC_ORDERS_OVERLAP_SECONDS": "5",
        "SPSYNC_ORDERS_INTERVAL_SECONDS": "2",
        "SPSYNC_INVENTORY_INTERVAL_SECONDS": "2",
        "SPSYNC_INVENTORY_OVERLAP_SECONDS": "5",
        "SPSYNC_LISTINGS_INTERVAL_SECONDS": "2",
        "SPSYNC_LISTINGS_OVERLAP_SECONDS": "5",
        "SPSYNC_ORDERS_INITIAL_DAYS": "45",
        # reports take the simulator 30 s / time scale: poll them at that pace too
        "SPSYNC_REPORT_POLL_SECONDS": str(round(5 / opts.time_scale, 3)),
        "SPSYNC_REPORT_POLL_MAX_SECONDS": str(round(60 / opts.time_scale, 3)),
        "SPSYNC_DISPATCH_INTERVAL_SECONDS": "1",
        "SPSYNC_DISPATCH_CLAIM_SECONDS": "20",
        "SPSYNC_LOG_FORMAT": "json",
        **CREDENTIALS,  # the embedded SQS's (moto takes any)
    })
    return env


@contextmanager
def _simulator(opts: DemoOptions, data_dir: Path, sqs: str | None) -> Iterator[str]:
    args = ["simulator", "--port", "0", "--sellers", "3", "--orders-per-seller",
            str(opts.orders_per_seller), "--time-scale", str(opts.time_scale),
            "--changes-per-minute", str(opts.changes_per_minute),
            *(["--sqs-endpoint-url", sqs] if sqs else [])]
    with _child("simulator", args, dict(os.environ), data_dir, capture=True) as proc:
        assert proc.stdout is not None
        deadline = time.monotonic() + 30
        for line in proc.stdout:
            if "listening on" in line:
                yield line.rsplit(" ", 1)[-1].strip()
                return
            if time.monotonic() > deadline:
                break
        raise RuntimeError(f"simulator did not start; see {data_dir / 'demo-simulator.log'}")


@contextmanager
def _child(name: str, args: list[str], env: dict[str, str], data_dir: Path,
           capture: bool = False) -> Iterator[subprocess.Popen[str]]:
    log_path = data_dir / f"demo-{name}.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "celery", "-A", "worker", *args],
            env=env, stdout=subprocess.PIPE if capture else log, stderr=log, text=True,
            start_new_session=True,
        )
        try:
            yield proc
        finally:
            _stop(proc)


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        proc.wait()


def _watch(rt: Runtime, sim: SimulatorClient, seller_ids: dict[str, int], opts: DemoOptions,
           started: float, out: _Printer) -> tuple[bool, dict[str, Any]]:
    """Show progress until the mirror matches the simulator; return (matched, sim stats)."""
    stats: dict[str, Any] = {}
    frozen_at: float | None = None
    synced_at: float | None = None
    while time.monotonic() - started < opts.timeout:
        sellers = _sellers(rt, seller_ids)
        truth = {spid: sim.truth(spid) for spid in seller_ids}
        stats = sim.stats()
        out.progress(sellers, truth, stats)
        if synced_at is None and sellers:
            with rt.engine.begin() as conn:
                if back_office.compared_synced(conn, set(seller_ids.values())):
                    synced_at = time.monotonic()
        if frozen_at is None and synced_at and time.monotonic() - synced_at > \
                FREEZE_AFTER_SECONDS:
            sim.control(changes_per_minute=0)
            frozen_at = time.monotonic()
            out.line("initial sync done; simulator data frozen, waiting for the mirror to match")
        if frozen_at is not None and _all_match(rt, sim, seller_ids, truth):
            return True, stats
        time.sleep(1.0)
    out.line(f"timed out after {opts.timeout:.0f}s before the mirror matched the simulator")
    return False, stats


def _order_to_warehouse(rt: Runtime, sim: SimulatorClient, seller_ids: dict[str, int],
                        data_dir: Path, notified: bool, out: _Printer) -> dict[str, Any]:
    """Place new orders, let the recipe hand them to a WMS stand-in and ship them back; the
    figures (``devtools/order_flow.py``) and whether every order made the whole trip."""
    from devtools.order_flow import latency, place_orders, recipe, wait_received
    from devtools.wms_stub import WmsStub

    spids = list(seller_ids)
    count = WAREHOUSE_ORDERS_PER_SELLER * len(spids)
    since = datetime.now(UTC).replace(microsecond=0)  # go-live: the backlog stays put
    log = data_dir / "demo-order-to-warehouse.log"
    out.line(f"order to warehouse: placing {count} orders; examples/order_to_warehouse.py "
             f"hands them to a WMS stub (log: {log})")
    with WmsStub(pack_seconds=0.5) as wms, \
            recipe({"DATABASE_URL": rt.services.database_url}, wms, log,
                   since=since.isoformat()):
        placed = place_orders(sim, spids, count, rate=4.0)
        deadline = time.monotonic() + WAREHOUSE_TIMEOUT
        figures = latency(placed, wait_received(wms, placed, WAREHOUSE_TIMEOUT))
        shipped = _wait_shipped(rt, sim, seller_ids, set(placed), deadline)
    figures.update(path="notifications" if notified else "polling", shipped_back=shipped,
                   ok=figures["missed"] == 0 and shipped == len(placed))
    return figures


def _wait_shipped(rt: Runtime, sim: SimulatorClient, seller_ids: dict[str, int],
                  orders: set[str], deadline: float) -> int:
    """How many of ``orders`` are Shipped both at Amazon and in the mirror, waiting for all
    of them until ``deadline``."""
    while True:
        at_amazon = {o["AmazonOrderId"] for spid in seller_ids
                     for o in sim.truth(spid)["orders"]
                     if o["AmazonOrderId"] in orders and o["OrderStatus"] == "Shipped"}
        with rt.engine.begin() as conn:
            mirrored = set(conn.execute(text(
                "SELECT amazon_order_id FROM orders WHERE seller_id = ANY(:s) "
                "AND amazon_order_id = ANY(:o) AND order_status = 'SHIPPED'"),
                {"s": list(seller_ids.values()), "o": list(orders)}).scalars())
        both = len(at_amazon & mirrored)
        if both == len(orders) or time.monotonic() > deadline:
            return both
        time.sleep(0.5)


def _sellers(rt: Runtime, seller_ids: dict[str, int]) -> list[dict[str, Any]]:
    with rt.engine.begin() as conn:
        folded = per_seller(collect(conn))
    return [folded[i] for i in seller_ids.values() if i in folded]


def _all_match(rt: Runtime, sim: SimulatorClient, seller_ids: dict[str, int],
               truth: dict[str, Any]) -> bool:
    """Orders, FBA inventory and listings of every seller equal the simulator's truth."""
    with rt.engine.begin() as conn:
        return all(
            not compare_orders(conn, seller_id, truth[spid])
            and not compare_inventory(conn, seller_id, sim.truth_inventory(spid))
            and not compare_listings(conn, seller_id, sim.truth_listings(spid))
            for spid, seller_id in seller_ids.items()
        )


def _summary(rt: Runtime, seller_ids: dict[str, int], matched: bool, stats: dict[str, Any],
             seconds: float, opts: DemoOptions, out: _Printer,
             warehouse: dict[str, Any] | None, office: dict[str, Any]) -> None:
    rows = _sellers(rt, seller_ids)
    calls = sum(b["calls"] for b in stats.get("buckets", []))
    throttled = sum(b["throttled"] for b in stats.get("buckets", []))
    out.line("")
    out.line(f"{'seller':<16} {'region':<6} {'orders api':<11} {'orders':>7} {'items':>7} "
             f"{'inventory':>9} {'listings':>8} {'pages':>6} {'calls':>6} {'429s':>5}")
    for r in rows:
        api = "v0" if r["region"] == "FE" else "2026-01-01"
        out.line(f"{r['selling_partner_id']:<16} {r['region']:<6} {api:<11} {r['orders']:>7} "
                 f"{r['items']:>7} {r['inventory']:>9} {r['listings']:>8} "
                 f"{r['pages']:>6} {r['api_calls']:>6} {r['throttled']:>5}")
    summary = {
        "sellers": len(rows),
        "orders": sum(r["orders"] for r in rows),
        "order_items": sum(r["items"] for r in rows),
        "inventory_rows": sum(r["inventory"] for r in rows),
        "listings_rows": sum(r["listings"] for r in rows),
        "api_calls": calls,
        "throttled": throttled,
        "seconds": round(seconds, 1),
        "matches_truth": matched,
        "notifications": inbox_counts(rt, list(seller_ids.values())),
        "order_to_warehouse": warehouse,
        "other_streams": office,
    }
    out.line(f"mirror {'matches' if matched else 'DOES NOT match'} the simulator: "
             f"{summary['orders']} orders, {summary['order_items']} items, "
             f"{summary['listings_rows']} listings, {calls} API calls, "
             f"{throttled} throttled, {seconds:.1f}s")
    notes = summary["notifications"]
    out.line(f"notifications: {sum(notes.values())} received, {notes.get('done', 0)} refreshed, "
             f"{notes.get('parked', 0)} parked")
    out.line(back_office.describe(office))
    if warehouse is not None:
        w = warehouse
        out.line(f"order to warehouse ({w['path']}): {w['received']}/{w['placed']} new orders "
                 f"handed to the WMS stub, placed -> WMS p50 {w['p50_s']} s, p95 {w['p95_s']} s"
                 f" (quotas at {opts.time_scale:g}x Amazon's); {w['shipped_back']}/"
                 f"{w['placed']} shipped back through the outbox and mirrored as Shipped")
    if opts.as_json:
        out.line(json.dumps(summary))


class _Printer:
    """Live progress: redrawn in place on a terminal, a line every few seconds otherwise."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self._tty = stream.isatty()
        self._drawn = 0
        self._last = 0.0

    def line(self, text: str) -> None:
        self._stream.write(text + "\n")
        self._stream.flush()
        self._drawn = 0

    def progress(self, rows: list[dict[str, Any]], truth: dict[str, Any],
                 stats: dict[str, Any]) -> None:
        if not self._tty and time.monotonic() - self._last < 5:
            return
        self._last = time.monotonic()
        throttled: dict[str, int] = {}
        for b in stats.get("buckets", []):
            throttled[b["seller_id"]] = throttled.get(b["seller_id"], 0) + b["throttled"]
        lines = [
            f"  {r['selling_partner_id']:<16} {r['region']}  pages {r['pages']:>4}  orders "
            f"{r['orders']:>5}/{len(truth[r['selling_partner_id']]['orders']):<5} items "
            f"{r['items']:>5}  inventory {r['inventory']:>4}  calls {r['api_calls']:>4}  throttled "
            f"{throttled.get(r['selling_partner_id'], 0):>3}"
            for r in rows
        ]
        if self._tty and self._drawn:
            self._stream.write(f"\x1b[{self._drawn}F")
        self._stream.write("".join(f"{ln}\x1b[K\n" if self._tty else f"{ln}\n" for ln in lines))
        self._stream.flush()
        self._drawn = len(lines) if self._tty else 0
