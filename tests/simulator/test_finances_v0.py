"""Finances v0 ``listFinancialEvents``: every page against the model, paging against
``/_sim/truth/finances`` ``v0_events``, deferred sales hidden until released, and the same money
as the 2024-06-19 transactions."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from simulator.finances import DEFERRAL_DAYS
from simulator.spec import all_operations

from .simkit import MakeSim, Sim, schema_errors

FIN, FIN_V0 = "finances_2024-06-19", "financesV0"
EVENTS, TRANSACTIONS = "/finances/v0/financialEvents", "/finances/2024-06-19/transactions"
LISTS = ("ShipmentEventList", "RefundEventList", "ServiceFeeEventList")
KIND_OF = dict(zip(LISTS, ("Shipment", "Refund", "Adjustment"), strict=True))
DAY = 86_400


def test_usage_plan_comes_from_the_model() -> None:
    op = all_operations()["listFinancialEvents"]
    assert (op.method, op.path, op.rate, op.burst) == (
        "GET", EVENTS, Decimal("0.5"), 30)


async def truth(sim: Sim, spid: str) -> dict[str, Any]:
    resp = await sim.client.get("/_sim/truth/finances", params={"seller_id": spid})
    assert resp.status == 200
    body: dict[str, Any] = await resp.json()
    return body


async def all_events(sim: Sim, token: str, params: dict[str, str], size: int = 7,
                     ) -> tuple[dict[str, list[dict[str, Any]]], int]:
    """Every page (each checked against the model, at most ``size`` events, the three lists
    always there) merged per list, and the number of pages."""
    found: dict[str, list[dict[str, Any]]] = {name: [] for name in LISTS}
    query, pages = {**params, "MaxResultsPerPage": str(size)}, 0
    while True:
        status, body, _ = await sim.get(EVENTS, token, query)
        assert status == 200, body
        assert schema_errors(FIN_V0, "ListFinancialEventsResponse", body) == []
        events = body["payload"]["FinancialEvents"]
        assert set(events) == set(LISTS)
        assert sum(len(events[name]) for name in LISTS) <= size
        for name in LISTS:
            found[name].extend(events[name])
        pages += 1
        if "NextToken" not in body["payload"]:
            return found, pages
        query = {"NextToken": body["payload"]["NextToken"], "MaxResultsPerPage": str(size)}


def per_list(v0_events: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {name: [] for name in LISTS}
    for listed in v0_events:
        found[listed["list"]].append(listed["event"])
    return found


def dec(number: float) -> Decimal:
    return Decimal(str(number))


def amount(money: dict[str, Any]) -> Decimal:
    return dec(money["CurrencyAmount"])


def components(name: str, event: dict[str, Any]) -> list[tuple[str, Decimal]]:
    """Every (charge or fee type, amount) of a v0 event."""
    if name == "ServiceFeeEventList":
        return [(f["FeeType"], amount(f["FeeAmount"])) for f in event["FeeList"]]
    adjusted = "Adjustment" if name == "RefundEventList" else ""
    found = []
    for item in event[f"ShipmentItem{adjusted}List"]:
        found += [(c["ChargeType"], amount(c["ChargeAmount"]))
                  for c in item[f"ItemCharge{adjusted}List"]]
        found += [(f["FeeType"], amount(f["FeeAmount"])) for f in item[f"ItemFee{adjusted}List"]]
    return found


async def fast_quota(sim: Sim, spid: str) -> None:
    """Long paging runs need more than the burst of 30 calls: raise this seller's rate."""
    status, _ = await sim.post("/_sim/limits", {"seller_id": spid,
                                                "operation": "listFinancialEvents", "rate": 100})
    assert status == 200


async def test_small_pages_return_every_visible_event_once(make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=300)
    spid, token = (await sim.seller())["selling_partner_id"], await sim.access_token()
    await fast_quota(sim, spid)
    sim.clock.advance(600)  # every entry is now older than the two-minute rule
    found, pages = await all_events(sim, token, {"PostedAfter": sim.recent(100 * DAY)})
    state = await truth(sim, spid)
    assert found == per_list(state["v0_events"])
    assert pages > 10
    assert all(found[name] for name in LISTS)
    for name in LISTS:  # each entry once: one event per order and kind
        orders = [e["AmazonOrderId"] for e in found[name]]
        assert len(set(orders)) == len(orders)
    # truth: exactly the posted transactions that are not DEFERRED, in ledger order
    visible = [(t["relatedIdentifiers"][0]["relatedIdentifierValue"], t["transactionType"])
               for t in state["transactions"] if t["transactionStatus"] != "DEFERRED"]
    assert [(e["event"]["AmazonOrderId"], KIND_OF[e["list"]])
            for e in state["v0_events"]] == visible
    assert len(visible) < len(state["transactions"])  # the last week's sales are deferred
    # the default page is 100 events, and all of them arrive with it too
    everything, pages = await all_events(sim, token, {"PostedAfter": sim.recent(100 * DAY)},
                                         size=100)
    assert everything == found
    assert pages == -(-len(visible) // 100)


async def test_a_posted_window_and_its_token(make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=300)
    spid = (await sim.seller())["selling_partner_id"]
    await fast_quota(sim, spid)
    sim.clock.advance(30 * DAY)  # every sale of the history is released by now
    token = await sim.access_token()
    after, before = sim.recent(45 * DAY), sim.recent(40 * DAY)
    window = {"PostedAfter": after, "PostedBefore": before}
    found, _ = await all_events(sim, token, window)
    expected = per_list((await truth(sim, spid))["v0_events"])
    for name in ("ShipmentEventList", "RefundEventList"):
        assert found[name] == [e for e in expected[name] if after <= e["PostedDate"] < before]
    # ServiceFeeEvent has no PostedDate: only some of them fall in the window
    assert found["ShipmentEventList"]
    assert all(e in expected["ServiceFeeEventList"] for e in found["ServiceFeeEventList"])
    assert len(found["ServiceFeeEventList"]) < len(expected["ServiceFeeEventList"])
    status, body, _ = await sim.get(EVENTS, token, {**window, "MaxResultsPerPage": "2"})
    assert status == 200
    next_token = body["payload"]["NextToken"]
    status, body, _ = await sim.get(EVENTS, token, {**window, "NextToken": next_token})
    assert status == 200  # the same arguments again: fine
    status, body, _ = await sim.get(EVENTS, token, {"NextToken": next_token,
                                                    "PostedAfter": sim.recent(44 * DAY)})
    assert status == 400
    assert body["errors"][0]["code"] == "InvalidInput"


async def test_window_rules(make_sim: MakeSim) -> None:
    sim = await make_sim()
    token = await sim.access_token()
    sim.clock.advance(600)
    after, before = sim.recent(20 * DAY), sim.recent(10 * DAY)
    for params in ({"PostedAfter": sim.recent(60)},  # not two minutes before now
                   {"PostedAfter": before, "PostedBefore": after},  # before <= after
                   {"PostedAfter": after, "PostedBefore": after},
                   {"PostedAfter": after, "PostedBefore": sim.recent(60)},
                   {"PostedBefore": before},  # PostedBefore needs PostedAfter
                   {"PostedAfter": "yesterday"},
                   {"PostedAfter": after, "MaxResultsPerPage": "0"},
                   {"PostedAfter": after, "MaxResultsPerPage": "101"},
                   {"NextToken": "not-a-token"}):
        status, body, _ = await sim.get(EVENTS, token, params)
        assert status == 400, params
        assert body["errors"][0]["code"] == "InvalidInput"
        assert schema_errors(FIN_V0, "ListFinancialEventsResponse", body) == []
    status, body, _ = await sim.get(EVENTS, token, {
        "PostedAfter": sim.recent(400 * DAY), "PostedBefore": sim.recent(DAY)})
    assert (status, body) == (200, {"payload": {"FinancialEvents": {
        name: [] for name in LISTS}}})  # more than 180 days apart


async def test_a_deferred_sale_shows_once_released(make_sim: MakeSim) -> None:
    sim = await make_sim(changes_per_minute=0)
    spid, token = (await sim.seller())["selling_partner_id"], await sim.access_token()
    status, _ = await sim.post("/_sim/mutate", {"seller_id": spid, "count": 40})
    assert status == 200
    sim.clock.advance(600)
    since = sim.recent(3 * DAY)
    status, body, _ = await sim.get(TRANSACTIONS, token, {
        "postedAfter": since, "transactionStatus": "DEFERRED"})
    assert status == 200
    deferred = {t["relatedIdentifiers"][0]["relatedIdentifierValue"]: t["postedDate"]
                for t in body["payload"]["transactions"] if t["transactionType"] == "Shipment"}
    assert deferred, "no order shipped in the last three days"
    found, _ = await all_events(sim, token, {"PostedAfter": since}, size=100)
    assert not deferred.keys() & {e["AmazonOrderId"] for e in found["ShipmentEventList"]}
    shown = {e["event"]["AmazonOrderId"] for e in (await truth(sim, spid))["v0_events"]
             if e["list"] == "ShipmentEventList"}
    assert not deferred.keys() & shown
    status, _ = await sim.post("/_sim/clock", {"advance": DEFERRAL_DAYS * DAY})
    assert status == 200
    token = await sim.access_token()  # the old one expired meanwhile
    found, _ = await all_events(sim, token, {"PostedAfter": since}, size=100)
    released = {e["AmazonOrderId"]: e["PostedDate"] for e in found["ShipmentEventList"]}
    assert {k: released.get(k) for k in deferred} == deferred  # posted when they were shipped


async def test_the_same_money_as_the_transactions(make_sim: MakeSim) -> None:
    """Per entry, the v0 event's components add up to the 2024-06-19 transaction's total, and
    each item carries the charges and fees its 2024 item breaks down into."""
    sim = await make_sim(sellers=4, orders_per_seller=300)
    fee_names = {"ReferralFee": "Commission", "FBAPerUnitFulfillmentFee":
                 "FBAPerUnitFulfillmentFee"}
    sim.clock.advance(30 * DAY)  # every sale of the history is released by now
    kinds = set()
    for index in range(4):
        spid = (await sim.seller(index))["selling_partner_id"]
        state = await truth(sim, spid)
        assert len(state["v0_events"]) == len(state["transactions"])
        for txn, listed in zip(state["transactions"], state["v0_events"], strict=True):
            name, event = listed["list"], listed["event"]
            order_id = txn["relatedIdentifiers"][0]["relatedIdentifierValue"]
            assert (event["AmazonOrderId"], KIND_OF[name]) == (order_id, txn["transactionType"])
            kinds.add(name)
            parts = components(name, event)
            assert sum((a for _, a in parts), Decimal(0)) == dec(
                txn["totalAmount"]["currencyAmount"])
            currencies = {m["CurrencyCode"] for m in _moneys(event)}
            assert currencies == {txn["totalAmount"]["currencyCode"]}
            if name == "ServiceFeeEventList":
                assert event["FeeReason"] == txn["description"] == "FBA Weight/Dimension Change"
                context = txn["items"][0]["contexts"][0]
                assert (event["SellerSKU"], event["ASIN"]) == (context["sku"], context["asin"])
                continue
            assert event["PostedDate"] == txn["postedDate"]
            assert event["MarketplaceName"] == txn["marketplaceDetails"]["marketplaceName"]
            adjusted = "Adjustment" if name == "RefundEventList" else ""
            items = event[f"ShipmentItem{adjusted}List"]
            assert len(items) == len(txn["items"])
            for item, old in zip(items, txn["items"], strict=True):
                context = old["contexts"][0]
                assert (item["SellerSKU"], item["QuantityShipped"]) == (
                    context["sku"], context["quantityShipped"])
                if adjusted:
                    assert item["OrderAdjustmentItemId"] == old["relatedIdentifiers"][0][
                        "itemRelatedIdentifierValue"] == f"{item['OrderItemId']}-R"
                nodes = {n["breakdownType"]: n["breakdowns"] for n in old["breakdowns"]}
                assert [(f["FeeType"], amount(f["FeeAmount"]))
                        for f in item[f"ItemFee{adjusted}List"]] == [
                    (fee_names[c["breakdownType"]], dec(c["breakdownAmount"]["currencyAmount"]))
                    for c in nodes.get("AmazonFees", [])]
                renamed = {"Shipping": "ShippingCharge"}
                assert [(c["ChargeType"], amount(c["ChargeAmount"]))
                        for c in item[f"ItemCharge{adjusted}List"]] == [
                    (renamed.get(c["breakdownType"], c["breakdownType"]),
                     dec(c["breakdownAmount"]["currencyAmount"]))
                    for c in nodes.get("ProductCharges", [])]
    assert kinds == set(LISTS)


def _moneys(node: Any) -> list[dict[str, Any]]:
    """Every ``Currency`` object inside a rendered event."""
    if isinstance(node, list):
        return [m for child in node for m in _moneys(child)]
    if not isinstance(node, dict):
        return []
    if "CurrencyAmount" in node:
        return [node]
    return [m for child in node.values() for m in _moneys(child)]


async def test_quota_from_the_model(make_sim: MakeSim) -> None:
    sim = await make_sim()
    token = await sim.access_token()
    sim.clock.advance(600)
    params = {"PostedAfter": sim.recent(DAY)}
    answers = [await sim.get(EVENTS, token, params) for _ in range(31)]
    assert [status for status, _, _ in answers] == [200] * 30 + [429]
    assert {headers["x-amzn-RateLimit-Limit"] for _, _, headers in answers} == {"0.5"}
