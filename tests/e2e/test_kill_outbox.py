"""A real `celery worker` is SIGKILLed while it sends outbox commands, then restarted:
every command ends accepted (or unknown), and Amazon applied each at most once."""

from __future__ import annotations

import asyncio
import os
import signal
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import settings_for
from tests.e2e.procs import env_for, start, stop, wait
from tests.integration.helpers import ORDER_PATH, register, table
from worker.outbox import enqueue_command
from worker.runtime import Runtime
from worker.sync.service import run_stream

pytestmark = pytest.mark.e2e

COMMANDS = 6
SLOW = 2.5  # seconds the simulator holds each confirmShipment before applying it


def _shipments(rt: Runtime, seller_id: int, market: str) -> list[dict[str, Any]]:
    """confirmShipment params for the seller's unshipped merchant orders, from the mirror."""
    assert asyncio.run(run_stream(rt, seller_id, "orders")).status == "succeeded"
    rows = table(rt, "SELECT o.amazon_order_id, i.order_item_id, i.quantity_ordered FROM orders o "
                     "JOIN order_items i USING (seller_id, amazon_order_id) WHERE "
                     "o.fulfillment_channel = 'MFN' AND o.order_status = 'UNSHIPPED' ORDER BY 1")
    orders: dict[str, list[dict[str, Any]]] = {}
    for order_id, item_id, quantity in rows:
        orders.setdefault(order_id, []).append({"orderItemId": item_id, "quantity": quantity})
    ship_date = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return [{"orderId": order_id, "marketplaceId": market, "packageDetail": {
        "packageReferenceId": "1", "carrierCode": "UPS", "trackingNumber": f"1Z{order_id[-7:]}",
        "shipDate": ship_date, "orderItems": items}} for order_id, items in orders.items()]


def _statuses(rt: Runtime) -> dict[str, int]:
    return dict(table(rt, "SELECT status, count(*) FROM outbox GROUP BY status"))


def test_sigkilled_worker_never_sends_a_command_twice(start_sim: Any, clean: Any,
                                                      tmp_path: Path) -> None:
    sim = start_sim(sellers=1, orders_per_seller=300, seed=11)
    settings = settings_for(clean, sim)
    rt = Runtime(settings)
    ((spid, seller_id),) = register(rt, sim, kinds=ORDER_PATH).items()
    market = sim.world()["sellers"][0]["marketplace_ids"][0]
    params = _shipments(rt, seller_id, market)[:COMMANDS]
    assert len(params) == COMMANDS
    with rt.engine.begin() as conn:  # no sync competes for the one worker slot
        conn.exec_driver_sql("UPDATE sync_state SET due_at = now() + interval '1 day'")
        for p in params:
            enqueue_command(conn, seller_id, "confirmShipment", p)
    sim.client.fault("confirmShipment", "slow", count=COMMANDS, delay=SLOW)

    env = env_for(settings,  # bound one send to 2 x 4 + 2 x 2 x 0.5 = 10 s: a lease is 20 s
                  SPSYNC_HTTP_TIMEOUT_SECONDS="4", SPSYNC_MAX_RETRIES="1",
                  SPSYNC_MAX_INLINE_WAIT_SECONDS="0.5")
    procs = [start("beat", env, tmp_path / "beat.log"), start("worker", env, tmp_path / "w1.log")]
    try:
        def mid_request() -> bool:
            in_flight = table(rt, "SELECT count(*) FROM outbox WHERE status = 'sending' AND "
                                  "sent_at < now() - interval '0.5 seconds'")[0][0]
            return bool(in_flight) and _statuses(rt).get("accepted", 0) >= 1

        wait(mid_request, 60, "one command accepted and the next one in flight")
        os.killpg(procs[1].pid, signal.SIGKILL)  # main process and its child, mid-request
        procs[1].wait()
        at_kill = _statuses(rt)
        assert at_kill.get("sending") == 1 and at_kill.get("pending", 0) >= 1, at_kill
        (killed,) = table(rt, "SELECT id, claimed_by FROM outbox WHERE status = 'sending'")

        procs.append(start("worker", env, tmp_path / "w2.log"))

        def settled() -> bool:
            return set(_statuses(rt)) <= {"accepted", "unknown"}

        wait(settled, 120, "every command accepted or unknown")
    finally:
        stop(procs)

    rows = table(rt, "SELECT id, status, attempts, claimed_by, response, params->>'orderId' "
                     "FROM outbox ORDER BY id")
    assert [r.attempts for r in rows] == [1] * COMMANDS  # nobody claimed a command twice
    writes = sim.client.writes()["confirmShipment"]["by_key"]
    for row in rows:  # Amazon got each command at most once, and did what was accepted
        got = writes.get(row[5], {"received": 0, "applied": 0})
        assert got["received"] <= 1 and got["applied"] <= 1, (row, got)
        if row.status == "accepted":
            assert got["applied"] == 1
    # Amazon had the killed worker's request and applied it after the worker died; the
    # restarted worker found that out by reading the order, without sending it again
    killed_row = next(r for r in rows if r.id == killed.id)
    assert killed_row.claimed_by == killed.claimed_by  # reconciled, never re-claimed
    assert killed_row.status == "accepted" and killed_row.response["reconciled"] is True
    assert [r.status for r in rows] == ["accepted"] * COMMANDS
    assert all(w == {"received": 1, "applied": 1} for w in writes.values())
    assert len(writes) == COMMANDS
    truth = {o["AmazonOrderId"]: o["OrderStatus"] for o in sim.client.truth(spid)["orders"]}
    assert all(truth[r[5]] == "Shipped" for r in rows)
