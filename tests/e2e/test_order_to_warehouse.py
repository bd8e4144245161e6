"""The order-to-warehouse recipe's example (``examples/order_to_warehouse.py``) as a real
process: orders land in the mirror as the syncs write them while the example is SIGKILLed and
restarted at random and the WMS is down at first. At the end the WMS holds exactly the
merchant-fulfilled Unshipped orders, each handed over at least once and repeated only after
a kill, an order the WMS refuses is recorded and skipped, and each shipment the WMS made is
queued once in the outbox with its tracking number. The whole notification path (simulator,
SQS, worker) runs in ``tests/e2e/test_demo.py``."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import os
import random
import signal
import subprocess
import sys
import time
import urllib.request
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from devtools.order_flow import EXAMPLE, stop, wms_orders
from devtools.wms_stub import WmsStub
from tests.e2e.procs import free_port, wait
from tests.feedkit import item, new_seller, order
from worker.db.engine import sqlalchemy_url
from worker.db.mirror import replace_items, upsert_orders

pytestmark = pytest.mark.e2e

ORDERS = 60


def _start(url: str, wms: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(  # noqa: S603 - our own interpreter and example
        [sys.executable, str(EXAMPLE), "--wms-url", wms],
        env={**os.environ, "DATABASE_URL": url}, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE)


def test_the_wms_gets_every_ready_order_through_kills_and_an_outage(clean):
    url = clean.database_url
    engine = create_engine(sqlalchemy_url(url))
    with engine.begin() as conn:
        seller = new_seller(conn, "A1WMSE2E")
    rng = random.Random(20)
    port = free_port()
    wms_url = f"http://127.0.0.1:{port}"
    proc = _start(url, wms_url)  # the WMS is not up yet: the example retries
    expected: set[str] = set()
    unexpected: set[str] = set()
    kills = handed_at_start = 0
    refused_id = ""
    with contextlib.ExitStack() as stack:
        stack.callback(lambda: stop(proc))
        for n in range(ORDERS):
            oid = f"111-{n:07d}-0000000"
            kind = rng.choice(("ready", "ready", "ready", "later", "afn", "pending"))
            rows = [order(oid, 1, "PENDING" if kind in ("later", "pending") else "UNSHIPPED")]
            if kind == "afn":
                rows = [dataclasses.replace(rows[0], fulfillment_channel="AFN")]
            refused = n == 7  # an item quantity the WMS refuses
            items = [item(oid, 1, qty=0 if refused else 1), item(oid, 2, qty=2)]
            with engine.begin() as conn:
                written = upsert_orders(conn, seller, rows)
                replace_items(conn, seller, written.ids, items, new=written.new)
            if kind == "later":  # becomes ready a moment later
                with engine.begin() as conn:
                    upsert_orders(conn, seller, [order(oid, 2, "UNSHIPPED")])
            (expected if kind in ("ready", "later") and not refused else unexpected).add(oid)
            if refused:
                refused_id = oid
            time.sleep(0.05)
            if n == 10:  # the WMS comes up
                stack.enter_context(WmsStub(pack_seconds=0.2, port=port))
            if n in (20, 35, 50):
                # a process that never got going proves nothing: kill it once it has handed
                # something over since it started (or has nothing left), at a random moment
                wait(functools.partial(_worked, wms_url, handed_at_start, expected), 30,
                     "the example to hand an order over")
                time.sleep(rng.uniform(0, 0.3))
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                kills += 1
                handed_at_start = len(wms_orders(wms_url))
                proc = _start(url, wms_url)
        wait(lambda: expected <= set(wms_orders(wms_url)), 90,
             "every ready order to reach the WMS")
        wait(lambda: _queued(engine) >= len(expected), 60, "every shipment to be queued")
        received = wms_orders(wms_url)
        with engine.begin() as conn:
            outcomes = dict(conn.execute(text(
                "SELECT amazon_order_id, outcome FROM wms_handoffs")).all())
            queued = conn.execute(text(
                "SELECT params, idempotency_key FROM outbox WHERE command = 'confirmShipment'"
            )).all()
        shipments = _shipments(wms_url)
    assert set(received) == expected, "only merchant-fulfilled Unshipped orders, all of them"
    assert not unexpected & set(received)
    assert sum(o["receipts"] - 1 for o in received.values()) <= kills  # repeats: kills only
    for oid, got in received.items():
        assert [i["quantity"] for i in got["items"]] == [1, 2], oid
    assert outcomes[refused_id].startswith("refused: 400")
    assert all(outcomes[o] in ("accepted", "repeat") for o in expected)
    # each shipment queued once, for its order, with the WMS's tracking number
    by_order = {s["order_id"]: s for s in shipments}
    assert sorted(k for _, k in queued) == sorted(f"wms-ship:{o}" for o in expected)
    for params, _ in queued:
        package = params["packageDetail"]
        assert package["trackingNumber"] == by_order[params["orderId"]]["tracking_number"]
        assert {i["orderItemId"]: i["quantity"] for i in package["orderItems"]} == {
            f"{params['orderId']}-1": 1, f"{params['orderId']}-2": 2}


def _worked(wms_url: str, handed_at_start: int, expected: set[str]) -> bool:
    received = wms_orders(wms_url)
    return len(received) > handed_at_start or expected <= set(received)


def _queued(engine: Any) -> int:
    with engine.begin() as conn:
        return int(conn.execute(text(
            "SELECT count(*) FROM outbox WHERE command = 'confirmShipment'")).scalar_one())


def _shipments(wms_url: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{wms_url}/shipments", timeout=10) as resp:  # noqa: S310
        return list(json.loads(resp.read()))
