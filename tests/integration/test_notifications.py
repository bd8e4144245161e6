"""The SQS consumer and the inbox against a real SQS endpoint (moto server), real Postgres,
real Redis and the simulator: validation, duplicates, a crash between commit and delete,
parking, and each notification type's targeted refresh."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from tests.integration.helpers import register, table
from tests.notificationkit import (
    inventory_change,
    listing_change,
    order_change,
    report_finished,
    transaction_update,
)
from worker.db.reports import ReportRequest, record_request
from worker.notifications import inbox
from worker.notifications.consumer import ConsumerStats, SqsSource, consume_batch
from worker.notifications.process import process_one, process_pending
from worker.sync.registry import RETURNS
from worker.sync.report_stream import purpose

pytestmark = pytest.mark.integration


class Harness:
    def __init__(self, sqs: Any, rt: Any, sim: Any) -> None:
        self.sqs = sqs
        self.rt = rt
        self.sim = sim
        self.queue = sqs.new_queue()
        self.source = SqsSource(self.queue, client=sqs.client(), wait_seconds=1,
                                visibility_timeout=1)
        self.enqueued: list[int] = []
        self.stats = ConsumerStats()

    def send(self, message: Any) -> None:
        body = message if isinstance(message, str) else json.dumps(message)
        self.sqs.client().send_message(QueueUrl=self.queue, MessageBody=body)

    def consume(self) -> int:
        return consume_batch(self.rt.engine, self.source, self.enqueued.append, self.stats)

    def in_queue(self) -> int:
        attrs = self.sqs.client().get_queue_attributes(
            QueueUrl=self.queue, AttributeNames=["ApproximateNumberOfMessages",
                                                 "ApproximateNumberOfMessagesNotVisible"])
        return sum(int(v) for v in attrs["Attributes"].values())

    def inbox(self) -> list[Any]:
        return table(self.rt, "SELECT notification_type, status, attempts, error, seller_id "
                              "FROM notifications_inbox ORDER BY id")


@pytest.fixture
def harness(sqs_server, start_sim, runtime_for) -> Harness:
    sim = start_sim(sellers=1, orders_per_seller=20)
    rt = runtime_for(sim)
    register(rt, sim)
    return Harness(sqs_server, rt, sim)


def _seller(h: Harness) -> dict[str, Any]:
    return dict(h.sim.world()["sellers"][0])


def test_an_order_change_lands_in_the_inbox_then_refreshes_that_order(harness):
    h = harness
    spid = _seller(h)["selling_partner_id"]
    order = h.sim.client.truth(spid)["orders"][3]
    h.send(order_change(spid, order["AmazonOrderId"]))

    assert h.consume() == 1
    assert h.in_queue() == 0  # deleted after the commit
    assert len(h.enqueued) == 1 and h.inbox()[0][:2] == ("ORDER_CHANGE", "pending")
    assert table(h.rt, "SELECT count(*) FROM orders")[0][0] == 0

    assert asyncio.run(process_one(h.rt, h.enqueued[0])) == "done"
    rows = table(h.rt, "SELECT amazon_order_id, last_update_date FROM orders")
    assert [r[0] for r in rows] == [order["AmazonOrderId"]]  # exactly the changed order
    items = table(h.rt, "SELECT count(*) FROM order_items")[0][0]
    assert items == len(order["OrderItems"])
    assert h.inbox()[0][1] == "done"
    assert asyncio.run(process_one(h.rt, h.enqueued[0])) == "done"  # already done: no-op


def test_duplicate_deliveries_make_one_inbox_row(harness):
    h = harness
    spid = _seller(h)["selling_partner_id"]
    order_id = h.sim.client.truth(spid)["orders"][0]["AmazonOrderId"]
    message = order_change(spid, order_id, notification_id="dup-1")
    h.send(message)
    h.send(message)
    while h.consume():
        pass
    assert len(h.inbox()) == 1 and h.stats.duplicates == 1 and h.in_queue() == 0
    assert len(h.enqueued) == 1


def test_a_message_breaking_its_schema_is_parked_and_never_blocks_the_queue(harness):
    h = harness
    spid = _seller(h)["selling_partner_id"]
    order_id = h.sim.client.truth(spid)["orders"][0]["AmazonOrderId"]
    broken = order_change(spid, order_id)
    del broken["NotificationMetadata"]  # required by the schema
    h.send(broken)
    h.send("not json at all")
    h.send(order_change(spid, order_id))
    while h.consume():
        pass
    rows = h.inbox()
    assert sorted(r[1] for r in rows) == ["parked", "parked", "pending"]
    parked = [r for r in rows if r[1] == "parked"]
    assert any("NotificationMetadata" in (r[3] or "") for r in parked)
    assert h.in_queue() == 0 and len(h.enqueued) == 1


def test_a_consumer_dying_between_commit_and_delete_causes_no_duplicate(harness):
    h = harness
    spid = _seller(h)["selling_partner_id"]
    order_id = h.sim.client.truth(spid)["orders"][0]["AmazonOrderId"]
    h.send(order_change(spid, order_id))

    class Crash(Exception):
        pass

    def die(_: Any) -> None:
        raise Crash  # the process dies right after the inbox commit

    real_delete, h.source.delete = h.source.delete, die  # type: ignore[method-assign]
    with pytest.raises(Crash):
        h.consume()
    h.source.delete = real_delete  # type: ignore[method-assign]
    assert len(h.inbox()) == 1 and h.in_queue() == 1  # committed, still in SQS

    import time

    time.sleep(1.2)  # the visibility timeout passes: SQS delivers it again
    assert h.consume() == 1
    assert len(h.inbox()) == 1 and h.stats.duplicates == 1 and h.in_queue() == 0


def test_a_failing_notification_is_retried_then_parked_and_others_proceed(harness):
    h = harness
    spid = _seller(h)["selling_partner_id"]
    good = h.sim.client.truth(spid)["orders"][1]["AmazonOrderId"]
    h.send(order_change(spid, "999-0000000-0000000"))  # Amazon does not know this order
    h.send(order_change(spid, good))
    while h.consume():
        pass
    for _ in range(inbox.MAX_ATTEMPTS):
        asyncio.run(process_pending(h.rt))
    rows = h.inbox()
    bad = [r for r in rows if r[1] == "parked"]
    assert len(bad) == 1 and bad[0][2] == inbox.MAX_ATTEMPTS and "NotFound" in bad[0][3]
    assert [r[1] for r in rows].count("done") == 1
    assert table(h.rt, "SELECT amazon_order_id FROM orders")[0][0] == good


def test_inventory_and_listing_notifications_refresh_that_sku(harness):
    h = harness
    seller = _seller(h)
    spid, mid = seller["selling_partner_id"], seller["marketplace_ids"][0]
    inv = h.sim.client._request("GET", f"/_sim/truth/inventory?seller_id={spid}")
    lst = h.sim.client._request("GET", f"/_sim/truth/listings?seller_id={spid}")
    inv_sku = _first_sku(inv)
    lst_sku = _first_sku(lst)
    h.send(inventory_change(spid, inv_sku, mid))
    h.send(listing_change(spid, lst_sku, mid))
    while h.consume():
        pass
    for inbox_id in h.enqueued:
        assert asyncio.run(process_one(h.rt, inbox_id)) == "done"
    assert table(h.rt, "SELECT seller_sku FROM inventory_summaries")[0][0] == inv_sku
    assert table(h.rt, "SELECT seller_sku FROM listings_items")[0][0] == lst_sku


def _first_sku(truth_doc: Any) -> str:
    """The first SKU in a simulator truth read-out, whatever its wrapping."""
    def walk(node: Any) -> str | None:
        if isinstance(node, dict):
            for key in ("sellerSku", "sku", "SellerSKU", "seller_sku"):
                if isinstance(node.get(key), str):
                    return str(node[key])
            for value in node.values():
                found = walk(value)
                if found:
                    return found
        if isinstance(node, list):
            for value in node:
                found = walk(value)
                if found:
                    return found
        return None

    sku = walk(truth_doc)
    assert sku, "the simulator's truth lists a SKU"
    return sku


def test_report_finished_is_recorded_on_our_report_and_ignored_otherwise(harness):
    h = harness
    spid = _seller(h)["selling_partner_id"]
    seller_id = table(h.rt, "SELECT id FROM sellers")[0][0]
    with h.rt.engine.begin() as conn:
        record_request(conn, seller_id, ReportRequest(
            "GET_MERCHANT_LISTINGS_ALL_DATA", (_seller(h)["marketplace_ids"][0],),
            purpose="backfill:listings"), "rep-1")
    h.send(report_finished(spid, "rep-1", "doc-1"))
    h.send(report_finished(spid, "someone-elses", "doc-2"))
    while h.consume():
        pass
    for inbox_id in h.enqueued:
        assert asyncio.run(process_one(h.rt, inbox_id)) == "done"
    assert table(h.rt, "SELECT processing_status, document_id FROM reports")[0] == (
        "DONE", "doc-1")
    with h.rt.engine.begin() as conn:
        notes = conn.execute(text("SELECT count(*) FROM notifications_inbox "
                                  "WHERE status = 'done'")).scalar_one()
    assert notes == 2


def test_a_stream_report_finished_makes_its_stream_due_and_nothing_else(harness):
    h = harness
    spid, markets = _seller(h)["selling_partner_id"], _seller(h)["marketplace_ids"]
    seller_id = table(h.rt, "SELECT id FROM sellers")[0][0]
    later = datetime.now(UTC) + timedelta(hours=1)
    with h.rt.engine.begin() as conn:  # a returns run let go while Amazon worked on its report
        record_request(conn, seller_id, ReportRequest(
            RETURNS.report.report_type, (markets[-1],),  # type: ignore[union-attr]
            purpose=purpose(RETURNS)), "rep-7")
        conn.execute(text("UPDATE sync_state SET due_at = :t"), {"t": later})
    h.send(report_finished(spid, "rep-7", "doc-7"))
    assert h.consume() == 1
    assert asyncio.run(process_one(h.rt, h.enqueued[0])) == "done"
    due = dict(table(h.rt, "SELECT stream, due_at <= now() FROM sync_state"))
    stream = RETURNS.stream(markets[-1]) if RETURNS.per_marketplace else RETURNS.stream()
    assert due.pop(stream) is True and not any(due.values())
    assert table(h.rt, "SELECT processing_status, document_id FROM reports") == [
        ("DONE", "doc-7")]


def test_a_transaction_update_makes_the_finances_stream_due_and_nothing_else(harness):
    h = harness
    spid = _seller(h)["selling_partner_id"]
    later = datetime.now(UTC) + timedelta(hours=1)
    with h.rt.engine.begin() as conn:  # as after a sync: nothing due for an hour
        conn.execute(text("UPDATE sync_state SET due_at = :t"), {"t": later})
    h.send(transaction_update(spid, "111-0000000-0000000"))
    assert h.consume() == 1 and h.inbox()[0][:2] == ("TRANSACTION_UPDATE", "pending")
    assert asyncio.run(process_one(h.rt, h.enqueued[0])) == "done"
    due = dict(table(h.rt, "SELECT stream, due_at <= now() FROM sync_state"))
    assert due.pop("finances") is True and not any(due.values())


def test_amazon_is_called_with_no_transaction_open_and_the_lease_keeps_others_off(
        harness, monkeypatch):
    from worker.notifications import process

    h = harness
    spid = _seller(h)["selling_partner_id"]
    order_id = h.sim.client.truth(spid)["orders"][2]["AmazonOrderId"]
    h.send(order_change(spid, order_id))
    while h.consume():
        pass
    (inbox_id,) = h.enqueued
    real_refresh, seen = process.refresh_order, {}

    async def refresh_watched(client, conn, seller, oid):
        seen["in_transaction"] = conn.in_transaction()
        with h.rt.engine.connect() as other, other.begin():  # the row is not locked...
            seen["row_free"] = other.execute(text(
                "SELECT id FROM notifications_inbox WHERE id = :i FOR UPDATE NOWAIT"),
                {"i": inbox_id}).scalar_one() == inbox_id
        seen["second_worker"] = await process.process_one(h.rt, inbox_id)  # ...but leased
        seen["sweep"] = await process.process_pending(h.rt)
        return await real_refresh(client, conn, seller, oid)

    monkeypatch.setattr(process, "refresh_order", refresh_watched)
    assert asyncio.run(process.process_one(h.rt, inbox_id)) == "done"
    assert seen == {"in_transaction": False, "row_free": True, "second_worker": "skipped",
                    "sweep": 0}
    assert h.inbox()[0][1:3] == ("done", 1)


def test_a_notification_whose_worker_died_is_retried_once_its_lease_ran_out(harness):
    h = harness
    spid = _seller(h)["selling_partner_id"]
    order_id = h.sim.client.truth(spid)["orders"][4]["AmazonOrderId"]
    h.send(order_change(spid, order_id))
    while h.consume():
        pass
    (inbox_id,) = h.enqueued
    with h.rt.engine.begin() as conn:  # a worker claims it, then dies before any outcome
        dead = inbox.claim(conn, inbox_id, timedelta(minutes=5))
    assert dead is not None and dead.attempt == 1

    assert asyncio.run(process_pending(h.rt)) == 0  # within its lease: nobody takes it
    with h.rt.engine.begin() as conn:  # five minutes later
        conn.execute(text("UPDATE notifications_inbox SET next_attempt_at = now() - "
                          "interval '1 second' WHERE id = :i"), {"i": inbox_id})
    assert asyncio.run(process_pending(h.rt)) == 1
    assert h.inbox()[0][1:3] == ("done", 2)  # the lost attempt counts
    with h.rt.engine.begin() as conn:  # the dead worker's late word changes nothing
        assert not inbox.done(conn, dead) and inbox.failed(conn, dead, "late") is None
    assert h.inbox()[0][1:4] == ("done", 2, None)
