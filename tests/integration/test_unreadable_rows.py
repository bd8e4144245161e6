"""Rows nobody should have written (issue 14, part 2): a document nested thousands of levels
deep (Postgres accepts it; Python's JSON decoder does not), one larger than any command,
one of the wrong shape. Such a row is rejected (outbox) or parked (inbox) once, with its
reason, and the rows behind it are sent or processed in the same sweep.

Since migration 0005 Postgres refuses such documents where rows enter, so these rows are
written as rows stored before it were: with triggers off (``session_replication_role``).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from structlog.testing import capture_logs

from tests.notificationkit import order_change

from .helpers import table
from .test_notifications import Harness, harness  # noqa: F401 - fixture
from .test_outbox import Shop, listing_skus, price, shop  # noqa: F401 - fixture

pytestmark = pytest.mark.integration

DEEP = "[" * 3000 + "]" * 3000


def insert_unchecked(rt: Any, sql: str, **values: Any) -> int:
    """INSERT ... RETURNING id, as before migration 0005's triggers existed."""
    from sqlalchemy import text

    with rt.engine.begin() as conn:
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        return int(conn.execute(text(sql), values).scalar_one())


def outbox_row(shop: Shop, command: str, params_json: str) -> int:  # noqa: F811
    return insert_unchecked(shop.rt, "INSERT INTO outbox (seller_id, command, params) VALUES "
                            "(:s, :c, CAST(:p AS jsonb)) RETURNING id",
                            s=shop.seller_id, c=command, p=params_json)


def settled(shop: Shop, outbox_id: int) -> Any:  # noqa: F811
    """The row's outcome (``SELECT *`` would decode the very params that cannot be)."""
    return table(shop.rt, "SELECT status, attempts, sent_at, error FROM outbox WHERE id = :i",
                 i=outbox_id)[0]


def test_unreadable_outbox_rows_are_rejected_once_and_the_rest_is_sent(shop: Shop) -> None:  # noqa: F811
    sku = next(iter(listing_skus(shop)))
    market = json.dumps([shop.market])
    bad = {  # id: what the row's error must say
        outbox_row(shop, "deleteListingsItem", '{"sku": ' + DEEP + "}"): "deeper than 32",
        outbox_row(shop, "deleteListingsItem", json.dumps(
            {"sku": "S" * 3_000_000, "marketplaceIds": [shop.market]})): "larger than",
        outbox_row(shop, "deleteListingsItem", json.dumps(
            {"sku": "S" * 300, "marketplaceIds": [shop.market]})): "params.sku: breaks maxLength",
        outbox_row(shop, "confirmShipment", '"a string"'): "must be of type object",
        outbox_row(shop, "patchListingsItem", "[1, 2]"): "must be of type object",
        outbox_row(shop, "deleteListingsItem", '{"sku": 7, "marketplaceIds": ' + market + "}"):
            "params.sku: must be of type string",
    }
    good = shop.enqueue("deleteListingsItem", {"sku": sku, "marketplaceIds": [shop.market]})

    with capture_logs() as logs:
        assert shop.sweep().sent == len(bad) + 1
    assert shop.row(good).status == "accepted"  # behind every bad row, in the same sweep
    for outbox_id, why in bad.items():
        row = settled(shop, outbox_id)
        assert (row.status, row.attempts, row.sent_at) == ("rejected", 0, None), why
        assert row.error.startswith("invalid params, not sent: params") and why in row.error
        assert len(row.error) < 200  # one line, never the value
    assert [e["outbox_id"] for e in logs if e.get("status") == "rejected"] == list(bad)
    assert not [e for e in logs if e["log_level"] in ("error", "critical")
                or "exc_info" in e]  # no traceback

    with capture_logs() as logs:
        assert shop.sweep().total == 0  # settled once: nothing more to do, nothing logged
    assert logs == []
    assert shop.writes("deleteListingsItem")["by_key"] == {sku: {"received": 1, "applied": 1}}


def test_a_sent_row_made_unreadable_is_unknown_not_resent(shop: Shop) -> None:  # noqa: F811
    sku, product_type = next(iter(listing_skus(shop).items()))
    shop.sim.client.fault("patchListingsItem", "http_503")  # applied, then 503: answer lost
    outbox_id = shop.enqueue("patchListingsItem", price(shop, sku, product_type, 8.25))
    shop.sweep()
    assert settled(shop, outbox_id)[0] == "sending"  # to be reconciled
    insert_unchecked(shop.rt, "UPDATE outbox SET params = CAST(:p AS jsonb) WHERE id = :i "
                              "RETURNING id", p=DEEP, i=outbox_id)
    assert shop.sweep().reconciled == 1
    row = settled(shop, outbox_id)
    assert row.status == "unknown" and "deeper than 32" in row.error
    assert "Seller Central" in row.error
    assert shop.writes("patchListingsItem")["by_key"][sku]["received"] == 1


def inbox_row(h: Harness, kind: str, payload_json: str) -> int:
    return insert_unchecked(
        h.rt, "INSERT INTO notifications_inbox (notification_id, notification_type, source, "
              "payload) VALUES (:n, :k, 'sqs', CAST(:p AS jsonb)) RETURNING id",
        n=f"hostile-{len(payload_json)}-{kind}-{hash(payload_json)}", k=kind, p=payload_json)


def test_unreadable_notifications_are_parked_at_once_and_the_rest_processed(harness) -> None:  # noqa: F811
    from worker.notifications.process import process_pending

    h = harness
    spid = h.sim.world()["sellers"][0]["selling_partner_id"]
    order_id = h.sim.client.truth(spid)["orders"][0]["AmazonOrderId"]
    broken = order_change(spid, order_id)
    del broken["NotificationMetadata"]
    bad = {
        inbox_row(h, "ORDER_CHANGE", '{"Payload": ' + DEEP + "}"): "deeper than 32",
        inbox_row(h, "ORDER_CHANGE", json.dumps({"x": "y" * 1_200_000})): "larger than",
        inbox_row(h, "ORDER_CHANGE", '["an", "array"]'): "not a JSON object",
        inbox_row(h, "ORDER_CHANGE", json.dumps(broken)): "breaks its schema",
        inbox_row(h, "LISTINGS_ITEM_STATUS_CHANGE", json.dumps(order_change(spid, order_id))):
            "payload is a ORDER_CHANGE",
    }
    h.send(order_change(spid, order_id))
    while h.consume():
        pass

    assert asyncio.run(process_pending(h.rt)) == len(bad) + 1
    rows = {r[0]: r[1:] for r in table(h.rt, "SELECT id, status, attempts, error "
                                             "FROM notifications_inbox")}
    assert rows[h.enqueued[0]][:2] == ("done", 1)
    for inbox_id, why in bad.items():
        status, attempts, error = rows[inbox_id]
        assert (status, attempts) == ("parked", 1), why  # at once, not after 5 attempts
        assert error.startswith("invalid, not processed: ") and why in error
    assert asyncio.run(process_pending(h.rt)) == 0
    assert table(h.rt, "SELECT amazon_order_id FROM orders") == [(order_id,)]


def test_a_message_nested_too_deep_is_parked_and_the_batch_goes_on(harness) -> None:  # noqa: F811
    h = harness
    spid = h.sim.world()["sellers"][0]["selling_partner_id"]
    order_id = h.sim.client.truth(spid)["orders"][0]["AmazonOrderId"]
    h.send(DEEP)
    h.send(json.dumps({**order_change(spid, order_id), "Deep": json.loads("[" * 40 + "]" * 40)}))
    h.send(order_change(spid, order_id))
    while h.consume():
        pass
    rows = h.inbox()
    assert sorted(r[1] for r in rows) == ["parked", "parked", "pending"]
    errors = " | ".join(r[3] for r in rows if r[1] == "parked")
    assert "nested too deep" in errors and "deeper than 32 levels" in errors
    assert h.in_queue() == 0 and len(h.enqueued) == 1
