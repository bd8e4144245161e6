"""The write operations spsync's outbox sends: checks from the models, effects on the reads
and the truth, and the write faults (``answer_lost``, ``slow``)."""

from __future__ import annotations

import asyncio
import json
import time
from decimal import Decimal
from typing import Any

import aiohttp
import pytest

from simulator.app import SIMULATOR
from simulator.clock import iso
from simulator.remote import SimulatorClient
from simulator.spec import all_operations
from simulator.state import Simulator
from simulator.world import Order, Status

from .simkit import MakeSim, Sim, schema_errors, until

V0, LISTINGS, INBOUND = "ordersV0", "listingsItems_2021-08-01", "fulfillmentInbound_2024-03-20"
PLANS = "/inbound/fba/2024-03-20/inboundPlans"
ADDRESS = {"name": "Depot", "addressLine1": "1 Main St", "city": "Seattle", "countryCode": "US",
           "postalCode": "98101", "phoneNumber": "2065550100", "stateOrProvinceCode": "WA"}


def state(sim: Sim) -> Simulator:
    return sim.client.server.app[SIMULATOR]


def pick_order(sim: Sim, spid: str, *, channel: str = "MFN", units: int = 1) -> Order:
    return next(o for o in state(sim).world.sellers[spid].orders.values()
                if o.fulfillment_channel == channel and o.status is Status.UNSHIPPED
                and sum(i.quantity_ordered for i in o.items) >= units)


def confirmation(order: Order, lines: list[dict[str, Any]] | None = None,
                 **package: Any) -> dict[str, Any]:
    detail = {
        "packageReferenceId": "1", "carrierCode": "UPS", "trackingNumber": "1Z999AA10123456784",
        "shipDate": iso(order.purchase_date + 3600),
        "orderItems": lines if lines is not None else [
            {"orderItemId": i.order_item_id, "quantity": i.quantity_ordered} for i in order.items],
        **package,
    }
    return {"marketplaceId": order.marketplace.marketplace_id, "packageDetail": detail}


async def send(sim: Sim, method: str, path: str, token: str, body: Any = None,
               params: Any = None) -> tuple[int, Any]:
    resp = await sim.client.request(method, path, json=body, params=params,
                                    headers={"x-amz-access-token": token})
    raw = await resp.read()
    return resp.status, json.loads(raw) if raw else None


def ship_path(order_id: str) -> str:
    return f"/orders/v0/orders/{order_id}/shipmentConfirmation"


def listing_path(spid: str, sku: str) -> str:
    return f"/listings/2021-08-01/items/{spid}/{sku}"


async def truth_order(sim: Sim, spid: str, order_id: str) -> dict[str, Any]:
    return next(o for o in await sim.truth(spid) if o["AmazonOrderId"] == order_id)


async def truth_listings(sim: Sim, spid: str) -> list[dict[str, Any]]:
    resp = await sim.client.get("/_sim/truth/listings", params={"seller_id": spid})
    listings: list[dict[str, Any]] = (await resp.json())["listings"]
    return listings


async def writes(sim: Sim) -> dict[str, Any]:
    stats: dict[str, Any] = (await (await sim.client.get("/_sim/stats")).json())["writes"]
    return stats


def test_write_usage_plans_come_from_the_models() -> None:
    plans = {k: (op.method, op.rate, op.burst, op.status) for k, op in all_operations().items()}
    assert {k: plans[k] for k in ("confirmShipment", "patchListingsItem", "deleteListingsItem",
                                  "createInboundPlan", "getInboundOperationStatus")} == {
        "confirmShipment": ("POST", Decimal("2"), 10, 204),
        "patchListingsItem": ("PATCH", Decimal("5"), 5, 200),
        "deleteListingsItem": ("DELETE", Decimal("5"), 5, 200),
        "createInboundPlan": ("POST", Decimal("2"), 2, 202),
        "getInboundOperationStatus": ("GET", Decimal("2"), 6, 200),
    }


# --- confirmShipment -------------------------------------------------------------------------


async def test_confirm_shipment_ships_the_order_everywhere(make_sim: MakeSim) -> None:
    sim = await make_sim()
    spid, token = (await sim.seller())["selling_partner_id"], await sim.access_token()
    order = pick_order(sim, spid)
    before = await truth_order(sim, spid, order.order_id)
    status, body = await send(sim, "POST", ship_path(order.order_id), token, confirmation(order))
    assert (status, body) == (204, None)

    after = await truth_order(sim, spid, order.order_id)
    assert after["OrderStatus"] == "Shipped"
    assert after["LastUpdateDate"] > before["LastUpdateDate"]
    assert all(i["QuantityShipped"] == i["QuantityOrdered"] for i in after["OrderItems"])
    assert order.packages[0]["trackingNumber"] == "1Z999AA10123456784"
    code, items, _ = await sim.get(f"/orders/v0/orders/{order.order_id}/orderItems", token)
    assert code == 200 and [i["QuantityShipped"] for i in items["payload"]["OrderItems"]] == [
        i["QuantityOrdered"] for i in items["payload"]["OrderItems"]]
    # a later incremental sync (searchOrders, past Amazon's two-minute lag) sees the change
    sim.clock.advance(sim.config.lag_seconds + 1)
    code, found, _ = await sim.get("/orders/2026-01-01/orders", token, {
        "lastUpdatedAfter": before["LastUpdateDate"], "includedData": "FULFILLMENT",
        "marketplaceIds": order.marketplace.marketplace_id})
    assert code == 200
    shipped = next(o for o in found["orders"] if o["orderId"] == order.order_id)
    assert shipped["fulfillment"]["fulfillmentStatus"] == "SHIPPED"
    assert (await writes(sim))["confirmShipment"] == {
        "received": 1, "applied": 1, "by_key": {order.order_id: {"received": 1, "applied": 1}}}


async def test_a_partial_shipment_then_the_rest(make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=200)
    spid, token = (await sim.seller())["selling_partner_id"], await sim.access_token()
    order = pick_order(sim, spid, units=2)
    first = order.items[0]
    lines = [{"orderItemId": first.order_item_id, "quantity": 1}]
    status, _ = await send(sim, "POST", ship_path(order.order_id), token,
                           confirmation(order, lines))
    assert status == 204
    partial = await truth_order(sim, spid, order.order_id)
    assert partial["OrderStatus"] == "PartiallyShipped"
    assert sum(i["QuantityShipped"] for i in partial["OrderItems"]) == 1

    rest = [{"orderItemId": i.order_item_id, "quantity": i.quantity_ordered - i.quantity_shipped}
            for i in order.items if i.quantity_ordered > i.quantity_shipped]
    status, _ = await send(sim, "POST", ship_path(order.order_id), token,
                           confirmation(order, rest, packageReferenceId="2"))
    assert status == 204
    done = await truth_order(sim, spid, order.order_id)
    assert done["OrderStatus"] == "Shipped" and done["LastUpdateDate"] >= partial["LastUpdateDate"]
    assert [p["packageReferenceId"] for p in order.packages] == ["1", "2"]
    # the whole request again would ship more than was ordered: refused, nothing changes
    status, body = await send(sim, "POST", ship_path(order.order_id), token, confirmation(order))
    assert status == 400 and body["errors"][0]["code"] == "InvalidInput"


def _refusals(order: Order, afn: Order) -> list[tuple[str, str, dict[str, Any], int]]:
    item = order.items[0]
    good = confirmation(order)
    other_market = {**good, "marketplaceId": "A1PA6795UKMFR9"}
    return [
        ("unknown order", "111-0000000-0000000", good, 404),
        ("fulfilled by Amazon", afn.order_id, confirmation(afn), 400),
        ("wrong marketplace", order.order_id, other_market, 400),
        ("foreign item", order.order_id, confirmation(order, [{"orderItemId": "1", "quantity": 1}]),
         400),
        ("too many units", order.order_id, confirmation(order, [
            {"orderItemId": item.order_item_id, "quantity": item.quantity_ordered + 1}]), 400),
        ("item twice", order.order_id, confirmation(order, [
            {"orderItemId": item.order_item_id, "quantity": 1}] * 2), 400),
        ("no items", order.order_id, confirmation(order, []), 400),
        ("package reference", order.order_id, confirmation(order, packageReferenceId="A1"), 400),
        ("carrier Other unnamed", order.order_id, confirmation(order, carrierCode="Other"), 400),
        ("model's bad date", order.order_id, confirmation(order, shipDate="02/21/2022"), 400),
        ("shipped before bought", order.order_id,
         confirmation(order, shipDate=iso(order.purchase_date - 86_400)), 400),
        ("COD outside JP", order.order_id, {**good, "codCollectionMethod": "DirectPayment"}, 400),
        ("no tracking number", order.order_id, {**good, "packageDetail": {
            k: v for k, v in good["packageDetail"].items() if k != "trackingNumber"}}, 400),
    ]


async def test_confirm_shipment_refusals_change_nothing(make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=120, time_scale=1000)  # more calls than the burst
    spid, token = (await sim.seller())["selling_partner_id"], await sim.access_token()
    order, afn = pick_order(sim, spid), pick_order(sim, spid, channel="AFN")
    before = await sim.truth(spid)
    for what, order_id, body, expected in _refusals(order, afn):
        status, answer = await send(sim, "POST", ship_path(order_id), token, body)
        assert status == expected, (what, answer)
        assert answer["errors"][0]["code"] in ("InvalidInput", "NotFound"), what
    for closed in (Status.PENDING, Status.CANCELED, Status.SHIPPED):
        order.status = closed
        status, answer = await send(sim, "POST", ship_path(order.order_id), token,
                                    confirmation(order))
        assert status == 400 and closed.v0 in answer["errors"][0]["message"]
    order.status = Status.UNSHIPPED
    assert await sim.truth(spid) == before
    assert (await writes(sim))["confirmShipment"]["applied"] == 0


# --- patchListingsItem / deleteListingsItem ---------------------------------------------------


def price_patch(market: str, currency: str, amount: float) -> dict[str, Any]:
    return {"op": "replace", "path": "/attributes/purchasable_offer", "value": [
        {"marketplace_id": market, "currency": currency,
         "our_price": [{"schedule": [{"value_with_tax": amount}]}]}]}


async def _listing(sim: Sim, index: int = 0, channel: str = "MFN") -> tuple[str, str, str, Any]:
    seller = await sim.seller(index)
    spid = seller["selling_partner_id"]
    world = state(sim).world.sellers[spid]
    entry = next(e for e in world.skus.values() if e.channel == channel and e.sku in world.listings)
    return spid, await sim.access_token(index), seller["marketplace_ids"][0], entry


async def test_patch_changes_the_price_everywhere(make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=5)
    spid, token, market, entry = await _listing(sim)
    before = state(sim).world.sellers[spid].listings[entry.sku].last_updated
    body = {"productType": entry.product_type, "patches": [price_patch(market, "USD", 12.34)]}
    status, answer = await send(sim, "PATCH", listing_path(spid, entry.sku), token, body,
                                {"marketplaceIds": market})
    assert status == 200 and schema_errors(LISTINGS, "ListingsItemSubmissionResponse", answer) == []
    assert answer["status"] == "ACCEPTED" and answer["issues"] == []

    row = next(t for t in await truth_listings(sim, spid) if t["sku"] == entry.sku)
    assert row["price"] == "12.34"
    code, item, _ = await sim.get(listing_path(spid, entry.sku), token, {
        "marketplaceIds": market, "includedData": "summaries,attributes,offers"})
    assert code == 200 and item["offers"][0]["price"]["amount"] == "12.34"
    assert item["attributes"]["purchasable_offer"][0]["our_price"][0]["schedule"][0][
        "value_with_tax"] == 12.34
    assert state(sim).world.sellers[spid].listings[entry.sku].last_updated > before
    code, found, _ = await sim.get(f"/listings/2021-08-01/items/{spid}", token, {
        "marketplaceIds": market, "identifiers": entry.sku, "identifiersType": "SKU",
        "includedData": "offers"})
    assert found["items"][0]["offers"][0]["price"]["amount"] == "12.34"

    # quantity of a merchant listing, and deleting the offer
    body = {"productType": entry.product_type, "patches": [
        {"op": "add", "path": "/attributes/fulfillment_availability",
         "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 7}]},
        {"op": "delete", "path": "/attributes/purchasable_offer"}]}
    status, answer = await send(sim, "PATCH", listing_path(spid, entry.sku), token, body,
                                {"marketplaceIds": market})
    assert answer["status"] == "ACCEPTED"
    code, item, _ = await sim.get(listing_path(spid, entry.sku), token, {
        "marketplaceIds": market, "includedData": "attributes,offers,fulfillmentAvailability"})
    assert item["fulfillmentAvailability"] == [{"fulfillmentChannelCode": "DEFAULT", "quantity": 7}]
    assert item["offers"] == [] and "purchasable_offer" not in item["attributes"]
    assert schema_errors(LISTINGS, "Item", item) == []
    assert next(t for t in await truth_listings(sim, spid) if t["sku"] == entry.sku)[
        "price"] is None
    assert (await writes(sim))["patchListingsItem"]["by_key"] == {
        entry.sku: {"received": 2, "applied": 2}}


async def test_invalid_patches_keep_the_listing_and_say_why(make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=5, time_scale=1000)  # more calls than the burst
    spid, token, market, entry = await _listing(sim)
    _, _, _, fba = await _listing(sim, channel="AFN")
    before = await truth_listings(sim, spid)
    cases = [
        (entry.sku, {"productType": "NOT_IT", "patches": [price_patch(market, "USD", 9.0)]}),
        (entry.sku, {"productType": entry.product_type, "patches": [
            {"op": "replace", "path": "/attributes/purchasable_offer/0/currency", "value": [{}]}]}),
        (entry.sku, {"productType": entry.product_type, "patches": [
            {"op": "add", "path": "/attributes/warp_drive", "value": [{"value": 1}]}]}),
        (entry.sku, {"productType": entry.product_type,
                     "patches": [price_patch(market, "USD", -1)]}),
        (entry.sku, {"productType": entry.product_type,
                     "patches": [price_patch(market, "EUR", 9.0)]}),
        (entry.sku, {"productType": entry.product_type,
                     "patches": [{"op": "replace", "path": "/attributes/brand"}]}),
        (fba.sku, {"productType": fba.product_type, "patches": [
            {"op": "replace", "path": "/attributes/fulfillment_availability",
             "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 3}]}]}),
        ("NO-SUCH-SKU", {"productType": "HOME", "patches": [price_patch(market, "USD", 9.0)]}),
    ]
    for sku, body in cases:
        status, answer = await send(sim, "PATCH", listing_path(spid, sku), token, body,
                                    {"marketplaceIds": market})
        assert status == 200 and answer["status"] == "INVALID", (sku, body)
        assert answer["issues"] and all(i["severity"] == "ERROR" for i in answer["issues"])
        assert schema_errors(LISTINGS, "ListingsItemSubmissionResponse", answer) == []
    assert await truth_listings(sim, spid) == before
    assert (await writes(sim))["patchListingsItem"]["applied"] == 0
    # the model's own checks come first: a 400, not a submission
    status, answer = await send(sim, "PATCH", listing_path(spid, entry.sku), token,
                                {"productType": "HOME", "patches": []}, {"marketplaceIds": market})
    assert status == 400 and answer["errors"][0]["code"] == "InvalidInput"


async def test_validation_preview_applies_nothing(make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=5)
    spid, token, market, entry = await _listing(sim)
    body = {"productType": entry.product_type, "patches": [price_patch(market, "USD", 1.5)]}
    before = await truth_listings(sim, spid)
    status, answer = await send(sim, "PATCH", listing_path(spid, entry.sku), token, body, {
        "marketplaceIds": market, "mode": "VALIDATION_PREVIEW",
        "includedData": "identifiers,issues"})
    assert status == 200 and answer["status"] == "VALID"
    assert answer["identifiers"] == [{"marketplaceId": market, "asin": entry.asin}]
    assert await truth_listings(sim, spid) == before
    status, _ = await send(sim, "PATCH", listing_path(spid, entry.sku), token, body, {
        "marketplaceIds": market, "includedData": "identifiers"})
    assert status == 400


async def test_delete_removes_the_listing_per_marketplace(make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=5, sellers=4)
    spid, token, _, entry = await _listing(sim, index=3)  # sells in US and CA
    us, ca = "ATVPDKIKX0DER", "A2EUQ1WTGCTBG2"
    status, answer = await send(sim, "DELETE", listing_path(spid, entry.sku), token,
                                params={"marketplaceIds": us})
    assert status == 200 and answer["status"] == "ACCEPTED"
    assert schema_errors(LISTINGS, "ListingsItemSubmissionResponse", answer) == []
    left = {t["marketplaceId"] for t in await truth_listings(sim, spid) if t["sku"] == entry.sku}
    assert left == {ca}
    assert (await sim.get(listing_path(spid, entry.sku), token, {"marketplaceIds": us}))[0] == 404
    code, item, _ = await sim.get(listing_path(spid, entry.sku), token,
                                  {"marketplaceIds": f"{us},{ca}"})
    assert code == 200 and [s["marketplaceId"] for s in item["summaries"]] == [ca]
    code, found, _ = await sim.get(f"/listings/2021-08-01/items/{spid}", token, {
        "marketplaceIds": us, "identifiers": entry.sku, "identifiersType": "SKU"})
    assert found["numberOfResults"] == 0

    status, answer = await send(sim, "DELETE", listing_path(spid, entry.sku), token,
                                params={"marketplaceIds": us})
    assert answer["status"] == "INVALID" and answer["issues"][0]["code"] == "4000001"
    status, answer = await send(sim, "DELETE", listing_path(spid, entry.sku), token,
                                params={"marketplaceIds": ca})
    assert answer["status"] == "ACCEPTED"
    assert entry.sku not in {t["sku"] for t in await truth_listings(sim, spid)}
    assert entry.sku not in state(sim).world.sellers[spid].listings
    # deleteListingsItem takes one marketplace (maxItems 1)
    status, _ = await send(sim, "DELETE", listing_path(spid, "X"), token,
                           params={"marketplaceIds": f"{us},{ca}"})
    assert status == 400
    assert (await writes(sim))["deleteListingsItem"]["by_key"][entry.sku] == {
        "received": 3, "applied": 2}


# --- createInboundPlan / getInboundOperationStatus --------------------------------------------


def plan_body(market: str, skus: list[str], name: str = "spring restock",
              **item: Any) -> dict[str, Any]:
    return {"destinationMarketplaces": [market], "name": name, "sourceAddress": ADDRESS,
            "items": [{"msku": s, "quantity": 10, "labelOwner": "SELLER", "prepOwner": "NONE",
                       **item} for s in skus]}


async def test_inbound_plan_goes_in_progress_then_success(make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=5)
    spid, token, market, entry = await _listing(sim, channel="AFN")
    status, answer = await send(sim, "POST", PLANS, token, plan_body(market, [entry.sku]))
    assert status == 202 and schema_errors(INBOUND, "CreateInboundPlanResponse", answer) == []
    operation = f"/inbound/fba/2024-03-20/operations/{answer['operationId']}"
    code, op, _ = await sim.get(operation, token)
    assert code == 200 and op["operationStatus"] == "IN_PROGRESS"
    assert schema_errors(INBOUND, "InboundOperationStatus", op) == []
    sim.clock.advance(10.0)
    code, op, _ = await sim.get(operation, token)
    assert (op["operationStatus"], op["operationProblems"]) == ("SUCCESS", [])
    resp = await sim.client.get("/_sim/truth/inbound", params={"seller_id": spid})
    (plan,) = (await resp.json())["plans"]
    assert plan["inboundPlanId"] == answer["inboundPlanId"] and plan["status"] == "ACTIVE"
    assert plan["name"] == "spring restock" and plan["items"][0]["msku"] == entry.sku


async def test_inbound_plan_with_unknown_skus_fails_with_problems(make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=5, time_scale=100)
    spid, token, market, entry = await _listing(sim, channel="AFN")
    body = plan_body(market, [entry.sku, "NOPE-1"], labelOwner="AMAZON")
    status, answer = await send(sim, "POST", PLANS, token, body)
    assert status == 202
    sim.clock.advance(0.1)  # 10 s / time_scale
    code, op, _ = await sim.get(f"/inbound/fba/2024-03-20/operations/{answer['operationId']}",
                                token)
    assert code == 200 and op["operationStatus"] == "FAILED"
    assert {p["code"] for p in op["operationProblems"]} == {"FBA_INB_0004", "FBA_INB_0101"}
    assert schema_errors(INBOUND, "InboundOperationStatus", op) == []
    resp = await sim.client.get("/_sim/truth/inbound", params={"seller_id": spid})
    assert (await resp.json())["plans"][0]["status"] == "ERRORED"


async def test_inbound_requests_are_checked_against_the_model(make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=5)
    _, token, market, entry = await _listing(sim, channel="AFN")
    good = plan_body(market, [entry.sku])
    bad = [
        {**good, "items": [{**good["items"][0], "quantity": 0}]},  # minimum 1
        {**good, "sourceAddress": {**ADDRESS, "countryCode": "us"}},  # pattern ^[A-Z]{2}$
        {**good, "destinationMarketplaces": [market, "A2EUQ1WTGCTBG2"]},  # maxItems 1
        {**good, "destinationMarketplaces": ["A1VC38T7YXB528"]},  # not the seller's
        {**good, "items": [{**good["items"][0], "labelOwner": "ROBOT"}]},  # enum
        {**good, "name": "x" * 41},  # maxLength 40
    ]
    for body in bad:
        sim.clock.advance(1.0)  # a fresh token in the bucket (burst 2)
        status, answer = await send(sim, "POST", PLANS, token, body)
        assert status == 400 and answer["errors"][0]["code"] == "InvalidInput", body
    assert (await sim.get("/inbound/fba/2024-03-20/operations/short", token))[0] == 400
    unknown = "/inbound/fba/2024-03-20/operations/00000000-0000-0000-0000-000000000000"
    assert (await sim.get(unknown, token))[0] == 404


# --- write faults and stats -------------------------------------------------------------------


async def test_answer_lost_applies_the_write_and_drops_the_connection(make_sim: MakeSim) -> None:
    sim = await make_sim()
    spid, token = (await sim.seller())["selling_partner_id"], await sim.access_token()
    order = pick_order(sim, spid)
    code, _ = await sim.post("/_sim/faults", {"operation": "confirmShipment",
                                              "fault": "answer_lost"})
    assert code == 200
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await send(sim, "POST", ship_path(order.order_id), token, confirmation(order))
    assert (await truth_order(sim, spid, order.order_id))["OrderStatus"] == "Shipped"
    assert (await writes(sim))["confirmShipment"]["by_key"] == {
        order.order_id: {"received": 1, "applied": 1}}
    # the fault is spent, and a refused write never consumes one
    await sim.post("/_sim/faults", {"operation": "confirmShipment", "fault": "answer_lost"})
    status, _ = await send(sim, "POST", ship_path(order.order_id), token, confirmation(order))
    assert status == 400
    assert (await (await sim.client.get("/_sim/faults")).json())["faults"][0]["remaining"] == 1


async def test_http_503_after_a_write_still_applies_it(make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=5)
    spid, token, market, entry = await _listing(sim)
    await sim.post("/_sim/faults", {"operation": "patchListingsItem", "fault": "http_503"})
    body = {"productType": entry.product_type, "patches": [price_patch(market, "USD", 3.21)]}
    status, _ = await send(sim, "PATCH", listing_path(spid, entry.sku), token, body,
                           {"marketplaceIds": market})
    assert status == 503
    assert next(t for t in await truth_listings(sim, spid) if t["sku"] == entry.sku)[
        "price"] == "3.21"


async def test_slow_delays_the_write_and_needs_a_delay(make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=5)
    spid, token, market, entry = await _listing(sim)
    code, answer = await sim.post("/_sim/faults", {"operation": "deleteListingsItem",
                                                   "fault": "slow"})
    assert code == 400 and "delay" in answer["error"]
    code, answer = await sim.post("/_sim/faults", {"operation": "getOrders",
                                                   "fault": "answer_lost"})
    assert code == 400 and "write operations" in answer["error"]
    code, answer = await sim.post("/_sim/faults", {"operation": "deleteListingsItem",
                                                   "fault": "slow", "delay": 0.3})
    assert code == 200 and answer["faults"][0]["delay"] == 0.3
    started = time.monotonic()
    status, _ = await send(sim, "DELETE", listing_path(spid, entry.sku), token,
                           params={"marketplaceIds": market})
    assert status == 200 and time.monotonic() - started >= 0.3


async def test_a_slow_write_lands_even_when_the_client_gives_up(make_sim: MakeSim) -> None:
    sim = await make_sim()
    spid, token = (await sim.seller())["selling_partner_id"], await sim.access_token()
    order = pick_order(sim, spid)
    await sim.post("/_sim/faults", {"operation": "confirmShipment", "fault": "slow",
                                    "delay": 0.3})
    with pytest.raises(TimeoutError):
        await sim.client.post(ship_path(order.order_id), json=confirmation(order),
                              headers={"x-amz-access-token": token},
                              timeout=aiohttp.ClientTimeout(total=0.05))
    assert (await truth_order(sim, spid, order.order_id))["OrderStatus"] == "Unshipped"
    await until(lambda: truth_order(sim, spid, order.order_id),
                lambda shown: shown["OrderStatus"] == "Shipped")
    assert (await writes(sim))["confirmShipment"]["applied"] == 1


async def test_remote_client_write_helpers(make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=5)
    spid, token, market, entry = await _listing(sim, channel="AFN")
    client = SimulatorClient(str(sim.client.make_url("")))
    await asyncio.to_thread(client.fault, "createInboundPlan", "slow", 1, None, None, 0.01)
    status, _ = await send(sim, "POST", PLANS, token, plan_body(market, [entry.sku]))
    assert status == 202
    plans = (await asyncio.to_thread(client.truth_inbound, spid))["plans"]
    assert [p["operationStatus"] for p in plans] == ["IN_PROGRESS"]
    assert (await asyncio.to_thread(client.writes))["createInboundPlan"]["by_key"] == {
        "spring restock": {"received": 1, "applied": 1}}
