"""The outbox against real Postgres, real Redis and the simulator: every command reaches
Amazon at most once, and its outcome (or the lack of one) is recorded.

Sweeps are called as plain functions with a short :class:`Timing` and a clock the tests
move (``Later``) instead of waiting out a lease.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import text

from worker.db.sellers import UnknownSellerError
from worker.outbox import InvalidCommand, enqueue_command, store
from worker.outbox.run import Sweep, Timing, process_due
from worker.runtime import Runtime
from worker.spapi.client import SellerAuth
from worker.sync.registry import LISTINGS
from worker.sync.service import run_stream

from .helpers import SimClock, register, table

pytestmark = pytest.mark.integration

FAST = Timing(send_deadline=20.0, lease=timedelta(seconds=60), settle=timedelta(0),
              reconcile_window=timedelta(seconds=120), poll_first=0.0, poll_max=0.05,
              poll_timeout=timedelta(seconds=60), retry_base=0.0, retry_cap=0.0,
              max_attempts=2)
ADDRESS = {"name": "Depot", "addressLine1": "1 Main St", "city": "Seattle", "countryCode": "US",
           "postalCode": "98101", "phoneNumber": "2065550100"}


class Later:
    """A clock the test moves forward (a lease running out) without sleeping."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def skip(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)


@dataclass
class Shop:
    sim: Any
    rt: Runtime
    spid: str
    seller_id: int
    market: str

    def sweep(self, clock: Later | None = None, timing: Timing = FAST) -> Sweep:
        return asyncio.run(process_due(self.rt, timing=timing, now=clock or Later()))

    def enqueue(self, command: str, params: dict[str, Any], key: str | None = None) -> int:
        with self.rt.engine.begin() as conn:
            return enqueue_command(conn, self.seller_id, command, params, key)

    def row(self, outbox_id: int) -> Any:
        return table(self.rt, "SELECT * FROM outbox WHERE id = :i", i=outbox_id)[0]

    def writes(self, operation: str) -> dict[str, Any]:
        stats: dict[str, Any] = self.sim.client.writes().get(operation, {})
        return stats

    def order(self, order_id: str) -> dict[str, Any]:
        return next(o for o in self.sim.client.truth(self.spid)["orders"]
                    if o["AmazonOrderId"] == order_id)

    def listings(self) -> dict[str, dict[str, Any]]:
        return {t["sku"]: t for t in self.sim.client.truth_listings(self.spid)["listings"]}


@pytest.fixture
def shop(start_sim: Any, runtime_for: Any) -> Shop:
    sim = start_sim(sellers=1, orders_per_seller=200, time_scale=1000, seed=7)
    rt = runtime_for(sim)
    ((spid, seller_id),) = register(rt, sim).items()
    return Shop(sim, rt, spid, seller_id, sim.world()["sellers"][0]["marketplace_ids"][0])


def unshipped(shop: Shop, channel: str = "MFN") -> list[tuple[str, list[tuple[str, int]]]]:
    """(order id, [(item id, quantity)]) of the seller's unshipped orders, from the mirror."""
    assert asyncio.run(run_stream(shop.rt, shop.seller_id, "orders")).status == "succeeded"
    rows = table(shop.rt, "SELECT o.amazon_order_id, i.order_item_id, i.quantity_ordered "
                          "FROM orders o JOIN order_items i USING (seller_id, amazon_order_id) "
                          "WHERE o.seller_id = :s AND o.fulfillment_channel = :c AND "
                          "o.order_status = 'UNSHIPPED' ORDER BY 1, 2",
                 s=shop.seller_id, c=channel)
    orders: dict[str, list[tuple[str, int]]] = {}
    for order_id, item_id, quantity in rows:
        orders.setdefault(order_id, []).append((item_id, quantity))
    return list(orders.items())


def shipment(shop: Shop, order: tuple[str, list[tuple[str, int]]],
             **package: Any) -> dict[str, Any]:
    order_id, items = order
    return {"orderId": order_id, "marketplaceId": shop.market, "packageDetail": {
        "packageReferenceId": "1", "carrierCode": "UPS", "trackingNumber": f"1Z{order_id[-7:]}",
        "shipDate": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "orderItems": [{"orderItemId": i, "quantity": q} for i, q in items], **package}}


def listing_skus(shop: Shop) -> dict[str, str]:
    """SKU -> productType, from a listings sync (what a downstream system would read)."""
    asyncio.run(run_stream(shop.rt, shop.seller_id, LISTINGS.stream(shop.market)))
    return dict(table(shop.rt, "SELECT seller_sku, product_type FROM listings_items "
                               "WHERE seller_id = :s ORDER BY 1", s=shop.seller_id))


def price(shop: Shop, sku: str, product_type: str, amount: float) -> dict[str, Any]:
    return {"sku": sku, "marketplaceIds": [shop.market], "productType": product_type,
            "patches": [{"op": "replace", "path": "/attributes/purchasable_offer", "value": [
                {"marketplace_id": shop.market, "currency": "USD",
                 "our_price": [{"schedule": [{"value_with_tax": amount}]}]}]}]}


def counted(command: str, status: str) -> float:
    value = REGISTRY.get_sample_value("spsync_outbox_commands_total",
                                      {"command": command, "status": status})
    return value or 0.0


def test_confirm_shipment_is_accepted_and_reaches_the_mirror(shop: Shop) -> None:
    order = unshipped(shop)[0]
    accepted_before = counted("confirmShipment", "accepted")
    outbox_id = shop.enqueue("confirmShipment", shipment(shop, order))
    assert shop.sweep().sent == 1

    row = shop.row(outbox_id)
    assert (row.status, row.attempts, row.error) == ("accepted", 1, None)
    assert row.response["httpStatus"] == 204 and row.response["requestId"]
    assert row.sent_at is not None and row.finished_at >= row.sent_at and row.claimed_by
    truth = shop.order(order[0])
    assert truth["OrderStatus"] == "Shipped"
    assert all(i["QuantityShipped"] == i["QuantityOrdered"] for i in truth["OrderItems"])
    assert shop.writes("confirmShipment")["by_key"] == {order[0]: {"received": 1, "applied": 1}}
    assert counted("confirmShipment", "accepted") == accepted_before + 1

    # the orders stream was made due, and its next run mirrors the shipment
    (due,) = table(shop.rt, "SELECT due_at <= now() FROM sync_state WHERE seller_id = :s "
                            "AND stream = 'orders'", s=shop.seller_id)[0]
    assert due
    clock = SimClock(shop.sim)
    clock.advance(shop.sim.config.lag_seconds + 0.1)  # the shipment ages past the 2-min rule
    asyncio.run(run_stream(shop.rt, shop.seller_id, "orders", now=clock.now))
    assert table(shop.rt, "SELECT order_status FROM orders WHERE amazon_order_id = :o",
                 o=order[0]) == [("SHIPPED",)]
    assert shop.sweep().total == 0  # nothing is ever sent twice


def test_patch_and_delete_are_accepted_with_their_effects(shop: Shop) -> None:
    skus = listing_skus(shop)
    (patched, product_type), (deleted, _) = list(skus.items())[:2]
    patch_id = shop.enqueue("patchListingsItem", price(shop, patched, product_type, 17.5))
    delete_id = shop.enqueue("deleteListingsItem", {"sku": deleted,
                                                    "marketplaceIds": [shop.market]})
    assert shop.sweep().sent == 2
    for outbox_id in (patch_id, delete_id):
        row = shop.row(outbox_id)
        assert (row.status, row.response["body"]["status"]) == ("accepted", "ACCEPTED")
    truth = shop.listings()
    assert truth[patched]["price"] == "17.50" and deleted not in truth
    assert table(shop.rt, "SELECT count(*) FROM sync_state WHERE seller_id = :s AND stream = :t "
                          "AND due_at <= now()", s=shop.seller_id, t=LISTINGS.stream(shop.market)
                 ) == [(1,)]


def test_a_rejected_patch_keeps_amazons_issues(shop: Shop) -> None:
    sku = next(iter(listing_skus(shop)))
    before = shop.listings()[sku]
    outbox_id = shop.enqueue("patchListingsItem", price(shop, sku, "NOT_ITS_TYPE", -3.0))
    shop.sweep()
    row = shop.row(outbox_id)
    assert row.status == "rejected" and "INVALID" in row.error
    issues = row.response["body"]["issues"]
    assert {i["code"] for i in issues} == {"4000002", "18155"}  # wrong type, bad price
    assert shop.listings()[sku] == before
    assert shop.writes("patchListingsItem")["by_key"][sku] == {"received": 1, "applied": 0}


BAD_PARAMS: list[tuple[str, dict[str, Any], str]] = [
    ("confirmShipment", {"orderId": "111-1234567-1234567", "marketplaceId": "ATVPDKIKX0DER"},
     "missing required field 'packageDetail'"),
    ("confirmShipment", {"orderId": "1", "marketplaceId": "ATVPDKIKX0DER", "packageDetail": {}},
     "params.orderId"),
    ("patchListingsItem", {"sku": "A", "marketplaceIds": ["A1PA6795UKMFR9"], "productType": "X",
                           "patches": [{"op": "delete", "path": "/attributes/brand"}]},
     "does not sell in marketplace"),
    ("patchListingsItem", {"sku": "A", "marketplaceIds": ["ATVPDKIKX0DER"], "productType": "X",
                           "patches": [{"op": "replace", "path": "/attributes/brand/0/value",
                                        "value": [{}]}]},
     "top-level attributes"),
    ("deleteListingsItem", {"sku": "A", "marketplaceIds": ["ATVPDKIKX0DER", "A2EUQ1WTGCTBG2"]},
     "maxItems"),
    ("deleteListingsItem", {"sku": "A", "marketplaceIds": ["ATVPDKIKX0DER"], "typo": 1},
     "unknown field(s) 'typo'"),
    ("createInboundPlan", {"destinationMarketplaces": ["ATVPDKIKX0DER"], "sourceAddress": ADDRESS,
                           "items": [{"msku": "A", "quantity": 0, "labelOwner": "SELLER",
                                      "prepOwner": "NONE"}]},
     "params.items[0].quantity: breaks minimum 1"),
]


def test_bad_params_are_rejected_and_never_sent(shop: Shop) -> None:
    ids = []
    with shop.rt.engine.begin() as conn:  # a downstream system INSERTs rows itself
        for command, params, _ in BAD_PARAMS:
            ids.append(conn.execute(text(
                "INSERT INTO outbox (seller_id, command, params) VALUES (:s, :c, "
                "CAST(:p AS jsonb)) RETURNING id"),
                {"s": shop.seller_id, "c": command, "p": json.dumps(params)}).scalar_one())
    assert shop.sweep().sent == len(BAD_PARAMS)
    for outbox_id, (_, _, why) in zip(ids, BAD_PARAMS, strict=True):
        row = shop.row(outbox_id)
        assert (row.status, row.attempts, row.sent_at) == ("rejected", 0, None)
        assert row.error.startswith("invalid params, not sent: ") and why in row.error
        assert "2065550100" not in row.error  # messages name fields, never values
    assert shop.sim.client.writes() == {}
    assert not [b for b in shop.sim.client.stats()["buckets"] if b["calls"]]

    # enqueue_command says so at once instead
    for command, params, _ in BAD_PARAMS:
        with pytest.raises(InvalidCommand, match="params"):
            shop.enqueue(command, params)
    with pytest.raises(InvalidCommand, match="unknown command"):
        shop.enqueue("cancelOrder", {})
    with shop.rt.engine.begin() as conn, pytest.raises(UnknownSellerError):
        enqueue_command(conn, 999_999, "deleteListingsItem",
                        {"sku": "A", "marketplaceIds": [shop.market]})


def test_an_idempotency_key_queues_a_command_once(shop: Shop) -> None:
    params = {"sku": "SKU-1", "marketplaceIds": [shop.market]}
    first = shop.enqueue("deleteListingsItem", params, key="erp-42")
    assert shop.enqueue("deleteListingsItem", params, key="erp-42") == first
    with pytest.raises(InvalidCommand, match="already used"):
        shop.enqueue("deleteListingsItem", {**params, "sku": "SKU-2"}, key="erp-42")
    assert table(shop.rt, "SELECT count(*) FROM outbox") == [(1,)]


def test_a_lost_answer_is_reconciled_without_a_second_apply(shop: Shop) -> None:
    order = unshipped(shop)[0]
    sku, product_type = next(iter(listing_skus(shop).items()))
    shop.sim.client.fault("confirmShipment", "answer_lost")  # applied, connection dropped
    shop.sim.client.fault("patchListingsItem", "http_503")  # applied, then 503
    ship_id = shop.enqueue("confirmShipment", shipment(shop, order))
    patch_id = shop.enqueue("patchListingsItem", price(shop, sku, product_type, 8.25))
    assert shop.sweep().sent == 2
    for outbox_id in (ship_id, patch_id):
        row = shop.row(outbox_id)
        assert row.status == "sending" and row.error.startswith("answer lost: ServerError")

    assert shop.sweep().reconciled == 2
    for outbox_id, checked in ((ship_id, "getOrderItems"), (patch_id, "getListingsItem")):
        row = shop.row(outbox_id)
        assert (row.status, row.attempts) == ("accepted", 1)
        assert row.response["reconciled"] is True and row.response["checkedWith"] == checked
    assert shop.writes("confirmShipment")["by_key"][order[0]] == {"received": 1, "applied": 1}
    assert shop.writes("patchListingsItem")["by_key"][sku] == {"received": 1, "applied": 1}
    assert shop.order(order[0])["OrderStatus"] == "Shipped"


def _dead_worker_claims(shop: Shop, outbox_id: int, send: bool) -> None:
    """What a worker does before it dies: commit 'sending', maybe send, record nothing."""
    with shop.rt.engine.begin() as conn:
        row = store.claim_due(conn, "pending", datetime.now(UTC), FAST.lease)
        assert row is not None and row.id == outbox_id
        store.mark_sending(conn, row, "dead-host:1", datetime.now(UTC),
                           datetime.now(UTC) + FAST.lease)
    if send:
        params = row.params
        auth = SellerAuth(shop.spid, "NA", shop.sim.world()["sellers"][0]["refresh_token"])

        async def deliver() -> None:
            async with shop.rt.spapi() as client:
                body = {k: v for k, v in params.items() if k != "orderId"}
                await client.call(auth, "confirmShipment", idempotent=False, body=body,
                                  path_params={"orderId": params["orderId"]})

        asyncio.run(deliver())


def test_a_row_left_sending_by_a_dead_worker_is_reconciled_never_resent(shop: Shop) -> None:
    sent_order, lost_order = unshipped(shop)[:2]
    sent_id = shop.enqueue("confirmShipment", shipment(shop, sent_order))
    _dead_worker_claims(shop, sent_id, send=True)
    lost_id = shop.enqueue("confirmShipment", shipment(shop, lost_order))
    _dead_worker_claims(shop, lost_id, send=False)  # died before the request left

    clock = Later()
    assert shop.sweep(clock).total == 0  # within the lease a live worker may still own them
    clock.skip(FAST.lease.total_seconds() + 1)
    assert shop.sweep(clock).reconciled == 2
    sent, lost = shop.row(sent_id), shop.row(lost_id)
    assert (sent.status, sent.attempts, sent.claimed_by) == ("accepted", 1, "dead-host:1")
    assert sent.response["evidence"]["quantityShipped"] == dict(sent_order[1])
    assert (lost.status, lost.attempts) == ("sending", 1)  # not visible: looked again later

    clock.skip(FAST.reconcile_window.total_seconds())
    shop.sweep(clock)
    lost = shop.row(lost_id)
    assert lost.status == "unknown" and "Seller Central" in lost.error
    assert lost.response["reconciled"] is False
    writes = shop.writes("confirmShipment")["by_key"]
    assert writes == {sent_order[0]: {"received": 1, "applied": 1}}  # the lost one: never sent
    assert shop.order(lost_order[0])["OrderStatus"] == "Unshipped"


def _plan(shop: Shop, skus: list[str], name: str) -> dict[str, Any]:
    return {"destinationMarketplaces": [shop.market], "name": name, "sourceAddress": ADDRESS,
            "items": [{"msku": s, "quantity": 12, "labelOwner": "SELLER", "prepOwner": "NONE"}
                      for s in skus]}


def _until_settled(shop: Shop, outbox_id: int) -> Any:
    for _ in range(100):
        shop.sweep()
        row = shop.row(outbox_id)
        if row.status != "polling":
            return row
        time.sleep(0.02)
    raise AssertionError("the inbound operation never finished")


def test_an_inbound_plan_is_polled_until_accepted(shop: Shop) -> None:
    skus = list(listing_skus(shop))
    good_id = shop.enqueue("createInboundPlan", _plan(shop, skus[:2], "restock"))
    bad_id = shop.enqueue("createInboundPlan", _plan(shop, [skus[0], "NO-SUCH-SKU"], "typo"))
    shop.sweep()
    good = shop.row(good_id)
    assert good.status == "polling" and good.operation_id == good.response["body"]["operationId"]
    assert good.response["httpStatus"] == 202

    good, bad = _until_settled(shop, good_id), _until_settled(shop, bad_id)
    assert good.status == "accepted" and good.finished_at is not None
    assert good.response["operationStatus"]["operationStatus"] == "SUCCESS"
    assert bad.status == "rejected" and "FAILED" in bad.error
    problems = bad.response["operationStatus"]["operationProblems"]
    assert [p["code"] for p in problems] == ["FBA_INB_0004"]
    plans = {p["name"]: p for p in shop.sim.client.truth_inbound(shop.spid)["plans"]}
    assert plans["restock"]["inboundPlanId"] == good.response["body"]["inboundPlanId"]
    assert (plans["restock"]["status"], plans["typo"]["status"]) == ("ACTIVE", "ERRORED")


def test_a_lost_inbound_plan_answer_is_unknown_at_once(shop: Shop) -> None:
    shop.sim.client.fault("createInboundPlan", "answer_lost")
    outbox_id = shop.enqueue("createInboundPlan", _plan(shop, list(listing_skus(shop))[:1], "x"))
    shop.sweep()
    row = shop.row(outbox_id)
    assert row.status == "unknown" and "Seller Central" in row.error
    assert shop.writes("createInboundPlan")["by_key"] == {"x": {"received": 1, "applied": 1}}
    assert shop.sweep().total == 0


def test_throttling_is_retried_then_failed_never_applied(shop: Shop) -> None:
    shop.sim.client.fault("deleteListingsItem", "throttle", count=100)
    outbox_id = shop.enqueue("deleteListingsItem", {"sku": next(iter(listing_skus(shop))),
                                                    "marketplaceIds": [shop.market]})
    shop.sweep()
    row = shop.row(outbox_id)
    assert (row.status, row.attempts) == ("pending", 1) and "ThrottledError" in row.error
    shop.sweep()
    row = shop.row(outbox_id)
    assert (row.status, row.attempts) == ("failed", 2) and "after 2 attempts" in row.error
    assert shop.writes("deleteListingsItem") == {}


def test_amazons_refusal_fails_the_command_without_a_resend(shop: Shop) -> None:
    fba_order = unshipped(shop, channel="AFN")[0]  # Amazon ships these itself: 400
    outbox_id = shop.enqueue("confirmShipment", shipment(shop, fba_order))
    shop.sweep()
    row = shop.row(outbox_id)
    assert (row.status, row.attempts) == ("failed", 1) and "Amazon refused it" in row.error
    assert row.response["httpStatus"] == 400
    assert row.response["errors"][0]["code"] == "InvalidInput"
    assert shop.writes("confirmShipment")["by_key"][fba_order[0]] == {"received": 1,
                                                                       "applied": 0}


def test_no_connection_means_not_sent_retried_then_failed(shop: Shop) -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}"
    rt = Runtime(shop.rt.settings.model_copy(update={"spapi_url": dead, "max_retries": 1}))
    down = Shop(shop.sim, rt, shop.spid, shop.seller_id, shop.market)
    outbox_id = down.enqueue("deleteListingsItem", {"sku": "SKU-9",
                                                    "marketplaceIds": [shop.market]})
    down.sweep()
    down.sweep()
    row = down.row(outbox_id)
    assert (row.status, row.attempts) == ("failed", 2) and "NotSent" in row.error


def test_one_broken_row_does_not_block_the_rest(shop: Shop) -> None:
    with shop.rt.engine.begin() as conn:  # a seller whose refresh token no key can decrypt
        broken = conn.execute(text(
            "INSERT INTO sellers (selling_partner_id, region, marketplace_ids, "
            "refresh_token_enc, refresh_token_kid) VALUES ('BROKEN1', 'NA', :m, :b, 'gone') "
            "RETURNING id"), {"m": [shop.market], "b": b"\x00" * 40}).scalar_one()
        stuck = enqueue_command(conn, broken, "deleteListingsItem",
                                {"sku": "A", "marketplaceIds": [shop.market]})
    sku = next(iter(listing_skus(shop)))
    good = shop.enqueue("deleteListingsItem", {"sku": sku, "marketplaceIds": [shop.market]})
    assert shop.sweep().sent == 2
    assert (shop.row(stuck).status, shop.row(stuck).attempts) == ("pending", 0)
    assert shop.row(good).status == "accepted"
