"""Finances: listTransactions (2024-06-19) and listFinancialEventGroups (v0), derived from
the simulator's orders, against the models and against ``/_sim/truth/finances``."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

from simulator import SimConfig
from simulator.clock import Clock
from simulator.finances import DEFERRAL_DAYS, GROUP_DAYS, FinanceBook
from simulator.remote import SimulatorClient
from simulator.spec import all_operations
from simulator.state import build_simulator
from worker.spapi_models import load

from .simkit import EPOCH, MakeSim, Sim, schema_errors

FIN, FIN_V0 = "finances_2024-06-19", "financesV0"
TRANSACTIONS, GROUPS = "/finances/2024-06-19/transactions", "/finances/v0/financialEventGroups"
DAY = 86_400


def test_usage_plans_come_from_the_models() -> None:
    ops = all_operations()
    assert (ops["listTransactions"].rate, ops["listTransactions"].burst) == (Decimal("0.5"), 10)
    plan = (ops["listFinancialEventGroups"].rate, ops["listFinancialEventGroups"].burst)
    assert plan == (Decimal("0.5"), 30)


async def truth(sim: Sim, spid: str) -> dict[str, Any]:
    resp = await sim.client.get("/_sim/truth/finances", params={"seller_id": spid})
    assert resp.status == 200
    body: dict[str, Any] = await resp.json()
    return body


async def all_transactions(sim: Sim, token: str, params: dict[str, str],
                           ) -> tuple[list[dict[str, Any]], int]:
    """Every page of listTransactions (each one schema-checked) and the number of pages."""
    found: list[dict[str, Any]] = []
    query, pages = dict(params), 0
    while True:
        status, body, _ = await sim.get(TRANSACTIONS, token, query)
        assert status == 200, body
        assert schema_errors(FIN, "ListTransactionsResponse", body) == []
        found.extend(body["payload"]["transactions"])
        pages += 1
        if "nextToken" not in body["payload"]:
            return found, pages
        query = {**params, "nextToken": body["payload"]["nextToken"]}


async def all_groups(sim: Sim, token: str, params: dict[str, str]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    query = dict(params)
    while True:
        status, body, _ = await sim.get(GROUPS, token, query)
        assert status == 200, body
        assert schema_errors(FIN_V0, "ListFinancialEventGroupsResponse", body) == []
        found.extend(body["payload"]["FinancialEventGroupList"])
        if "NextToken" not in body["payload"]:
            return found
        query = {"NextToken": body["payload"]["NextToken"], "MaxResultsPerPage": "3"}


def ids(transactions: list[dict[str, Any]]) -> list[str]:
    return [t["transactionId"] for t in transactions]


async def test_paging_covers_exactly_the_truth(make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=400)
    spid, token = (await sim.seller())["selling_partner_id"], await sim.access_token()
    sim.clock.advance(600)  # every transaction is now older than the two-minute rule
    found, pages = await all_transactions(sim, token, {"postedAfter": sim.recent(100 * DAY)})
    expected = (await truth(sim, spid))["transactions"]
    assert pages > 1
    status, body, _ = await sim.get(TRANSACTIONS, token, {"postedAfter": EPOCH})
    assert (status, body) == (200, {"payload": {"transactions": []}})  # > 180 days
    assert found == expected
    assert len(set(ids(found))) == len(found)
    kinds = {t["transactionType"] for t in found}
    assert {"Shipment", "Refund"} <= kinds
    orders = {o["AmazonOrderId"]: o for o in await sim.truth(spid)}
    shipped = {i for i, o in orders.items() if o["OrderStatus"] == "Shipped"}
    sales = {t["relatedIdentifiers"][0]["relatedIdentifierValue"] for t in found
             if t["transactionType"] == "Shipment"}
    assert sales == shipped


async def test_a_sale_adds_up(make_sim: MakeSim) -> None:
    sim = await make_sim()
    spid = (await sim.seller())["selling_partner_id"]
    orders = {o["AmazonOrderId"]: o for o in await sim.truth(spid)}
    for txn in (await truth(sim, spid))["transactions"]:
        total = Decimal(str(txn["totalAmount"]["currencyAmount"]))
        top = [Decimal(str(b["breakdownAmount"]["currencyAmount"])) for b in txn["breakdowns"]]
        assert sum(top) == total
        items = [Decimal(str(i["totalAmount"]["currencyAmount"])) for i in txn["items"]]
        assert sum(items) == total
        for node in txn["breakdowns"]:
            children = [Decimal(str(c["breakdownAmount"]["currencyAmount"]))
                        for c in node["breakdowns"]]
            assert sum(children) == Decimal(str(node["breakdownAmount"]["currencyAmount"]))
        if txn["transactionType"] != "Shipment":
            continue
        order = orders[txn["relatedIdentifiers"][0]["relatedIdentifierValue"]]
        charges = txn["breakdowns"][0]
        assert charges["breakdownType"] == "ProductCharges"
        assert Decimal(str(charges["breakdownAmount"]["currencyAmount"])) == Decimal(
            order["OrderTotal"]["Amount"])
        assert txn["totalAmount"]["currencyCode"] == order["OrderTotal"]["CurrencyCode"]
        assert txn["postedDate"] == order["LastUpdateDate"]
        assert 0 < total < Decimal(order["OrderTotal"]["Amount"])  # fees were taken
        assert [c["sku"] for i in txn["items"] for c in i["contexts"]] == [
            i["SellerSKU"] for i in order["OrderItems"]]


async def test_posted_filters_and_the_two_minute_rule(make_sim: MakeSim) -> None:
    sim = await make_sim()
    spid, token = (await sim.seller())["selling_partner_id"], await sim.access_token()
    sim.clock.advance(600)
    everything = (await truth(sim, spid))["transactions"]
    after, before = sim.recent(20 * DAY), sim.recent(10 * DAY)
    found, _ = await all_transactions(sim, token, {"postedAfter": after, "postedBefore": before})
    assert found == [t for t in everything if after <= t["postedDate"] < before]
    assert found
    for params in ({}, {"postedAfter": sim.recent(60)},
                   {"postedAfter": after, "postedBefore": sim.recent(60)},
                   {"postedAfter": before, "postedBefore": after},
                   {"postedAfter": after, "transactionStatus": "SETTLED"},
                   {"relatedIdentifierName": "ORDER_ID"},
                   {"relatedIdentifierName": "SHIPMENT_ID", "relatedIdentifierValue": "1"}):
        status, body, _ = await sim.get(TRANSACTIONS, token, params)
        assert status == 400, params
        assert body["errors"][0]["code"] == "InvalidInput"
    status, body, _ = await sim.get(TRANSACTIONS, token, {
        "postedAfter": sim.recent(400 * DAY), "postedBefore": sim.recent(DAY)})
    assert (status, body) == (200, {"payload": {"transactions": []}})  # > 180 days apart


async def test_related_identifier_and_marketplace_filters(make_sim: MakeSim) -> None:
    sim = await make_sim(sellers=4)  # seller 3 sells in the US and CA
    spid, token = (await sim.seller(3))["selling_partner_id"], await sim.access_token(3)
    sim.clock.advance(600)
    everything = (await truth(sim, spid))["transactions"]
    order_id = everything[0]["relatedIdentifiers"][0]["relatedIdentifierValue"]
    found, _ = await all_transactions(sim, token, {"relatedIdentifierName": "ORDER_ID",
                                                   "relatedIdentifierValue": order_id})
    assert found == [t for t in everything
                     if t["relatedIdentifiers"][0]["relatedIdentifierValue"] == order_id]
    group = everything[-1]["relatedIdentifiers"][1]["relatedIdentifierValue"]
    found, _ = await all_transactions(sim, token, {
        "relatedIdentifierName": "FINANCIAL_EVENT_GROUP_ID", "relatedIdentifierValue": group})
    assert found == [t for t in everything
                     if t["relatedIdentifiers"][1]["relatedIdentifierValue"] == group]
    for market in ("ATVPDKIKX0DER", "A2EUQ1WTGCTBG2"):
        found, _ = await all_transactions(
            sim, token, {"postedAfter": sim.recent(100 * DAY), "marketplaceId": market})
        expected = [t for t in everything if t["marketplaceDetails"]["marketplaceId"] == market
                    and not (market == "ATVPDKIKX0DER"
                             and t["items"][0]["contexts"][0]["fulfillmentNetwork"] == "MFN")]
        assert found == expected
        assert found


async def test_deferred_transactions_are_released_as_time_passes(make_sim: MakeSim) -> None:
    sim = await make_sim(changes_per_minute=0)
    spid, token = (await sim.seller())["selling_partner_id"], await sim.access_token()
    shipped = await sim.post("/_sim/mutate", {"seller_id": spid, "count": 40})
    assert shipped[0] == 200
    sim.clock.advance(600)
    params = {"postedAfter": sim.recent(3 * DAY), "transactionStatus": "DEFERRED"}
    deferred, _ = await all_transactions(sim, token, params)
    assert deferred, "no order shipped in the last three days"
    assert all(t["contexts"][0]["contextType"] == "DeferredContext" for t in deferred)
    status, _ = await sim.post("/_sim/clock", {"advance": DEFERRAL_DAYS * DAY})
    assert status == 200
    token = await sim.access_token()  # the old one expired meanwhile
    query = {"relatedIdentifierName": "ORDER_ID",
             "relatedIdentifierValue": deferred[0]["relatedIdentifiers"][0][
                 "relatedIdentifierValue"]}
    later, _ = await all_transactions(sim, token, query)
    same = next(t for t in later if t["transactionId"] == deferred[0]["transactionId"])
    assert same["transactionStatus"] == "DEFERRED_RELEASED"
    assert same["postedDate"] == deferred[0]["postedDate"]


async def test_refunds_follow_their_sale(make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=400)
    spid = (await sim.seller())["selling_partner_id"]
    sim.clock.advance(30 * DAY)  # every refund of the history is posted by now
    everything = (await truth(sim, spid))["transactions"]
    sales = {t["relatedIdentifiers"][0]["relatedIdentifierValue"]: t for t in everything
             if t["transactionType"] == "Shipment"}
    refunds = [t for t in everything if t["transactionType"] == "Refund"]
    assert 0.02 * len(sales) < len(refunds) < 0.10 * len(sales)
    for refund in refunds:
        sale = sales[refund["relatedIdentifiers"][0]["relatedIdentifierValue"]]
        assert refund["postedDate"] > sale["postedDate"]
        assert refund["transactionStatus"] == "RELEASED"
        principal = refund["breakdowns"][0]["breakdowns"][0]
        assert principal["breakdownType"] == "Principal"
        assert principal["breakdownAmount"]["currencyAmount"] < 0
        charged = sale["breakdowns"][0]["breakdownAmount"]["currencyAmount"]
        # The principal goes back, most of the referral fee comes back, the FBA fee does not.
        assert -charged < refund["totalAmount"]["currencyAmount"] < -sale["totalAmount"][
            "currencyAmount"]


async def test_groups_hold_their_transactions(make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=300, history_days=60)
    spid, token = (await sim.seller())["selling_partner_id"], await sim.access_token()
    sim.clock.advance(600)
    state = await truth(sim, spid)
    groups = await all_groups(sim, token, {"MaxResultsPerPage": "3"})
    assert groups == state["groups"]
    assert len(groups) > 3
    assert [g["ProcessingStatus"] for g in groups].count("Open") == 1
    assert groups[-1]["ProcessingStatus"] == "Open" and "FundTransferDate" not in groups[-1]
    for group in groups:
        members = [t for t in state["transactions"]
                   if t["relatedIdentifiers"][1]["relatedIdentifierValue"]
                   == group["FinancialEventGroupId"]]
        total = sum(Decimal(str(t["totalAmount"]["currencyAmount"])) for t in members)
        assert total == Decimal(str(group["OriginalTotal"]["CurrencyAmount"]))
    sim.clock.advance(GROUP_DAYS * DAY)
    token = await sim.access_token()
    later = await all_groups(sim, token, {})
    assert later[len(groups) - 1]["ProcessingStatus"] == "Closed"
    for params in ({"FinancialEventGroupStartedAfter": sim.recent(60)},
                   {"MaxResultsPerPage": "101"}):
        status, body, _ = await sim.get(GROUPS, token, params)
        assert status == 400, params
        assert body["errors"][0]["code"] == "InvalidInput"


async def test_quota_from_the_model(make_sim: MakeSim) -> None:
    sim = await make_sim()
    token = await sim.access_token()
    sim.clock.advance(600)
    params = {"postedAfter": sim.recent(DAY)}
    answers = [await sim.get(TRANSACTIONS, token, params) for _ in range(11)]
    assert [status for status, _, _ in answers] == [200] * 10 + [429]
    assert {headers["x-amzn-RateLimit-Limit"] for _, _, headers in answers} == {"0.5"}
    statuses = [(await sim.get(GROUPS, token))[0] for _ in range(31)]
    assert statuses == [200] * 30 + [429]


async def test_same_seed_same_ledger(make_sim: MakeSim) -> None:
    start = 1_790_000_000.0
    ledgers = []
    for seed in (7, 7, 8):
        sim = await make_sim(clock=Clock(start), seed=seed)
        spid = (await sim.seller())["selling_partner_id"]
        ledgers.append([(t["transactionId"], t["postedDate"], t["totalAmount"])
                        for t in (await truth(sim, spid))["transactions"]])
    assert ledgers[0] == ledgers[1]
    assert ledgers[0]
    assert ledgers[2] != ledgers[0]


async def test_remote_client_reads_the_truth(make_sim: MakeSim) -> None:
    sim = await make_sim()
    spid = (await sim.seller())["selling_partner_id"]
    client = SimulatorClient(str(sim.client.make_url("")))
    state = await asyncio.to_thread(client.truth_finances, spid)
    assert state == await truth(sim, spid)
    assert state["transactions"] and state["groups"]
    resp = await sim.client.get("/_sim/truth/finances", params={"seller_id": "nobody"})
    assert resp.status == 400


def test_a_patched_ledger_equals_a_fresh_one() -> None:
    """Orders shipped and created after the first read patch the ledger in place; the result
    is what building it from scratch gives."""
    sim = build_simulator(SimConfig(sellers=1, orders_per_seller=300))
    seller = next(iter(sim.world.sellers.values()))
    now = sim.clock.now()
    first = sim.finances.ledger(seller)
    first.groups(now + 30 * DAY)
    for step in range(5):
        sim.mutator.apply(seller.seller_id, 40, now + step)
        sim.finances.ledger(seller)
    patched = sim.finances.ledger(seller)
    fresh = FinanceBook(sim.config.seed).ledger(seller)
    assert patched is first
    assert patched.keys == fresh.keys
    later = now + 30 * DAY
    assert [(g, patched.group_total(g, later)) for g in patched.groups(later)] == [
        (g, fresh.group_total(g, later)) for g in fresh.groups(later)]
    shipped = [o for o in seller.orders.values() if o.status.v0 == "Shipped"]
    assert all(patched.of_order(o.order_id) for o in shipped)


async def test_shaped_like_the_models_examples(make_sim: MakeSim) -> None:
    """A sale has every property of the model's ``Transaction`` example (which itself breaks
    its schema: ``breakdowns`` an object, an AmazonPayContext ``storeName`` off its enum), a
    refund's item every property of the example's item; the models' sandbox answers pass the
    same validation as ours."""
    fin, v0 = load(FIN), load(FIN_V0)
    example = fin["definitions"]["Transaction"]["example"]
    assert schema_errors(FIN, "Transaction", example) != []
    for model, name, path in ((fin, FIN, TRANSACTIONS), (v0, FIN_V0, GROUPS)):
        sandbox = model["paths"][path]["get"]["responses"]["200"]["x-amzn-api-sandbox"]
        response = model["paths"][path]["get"]["responses"]["200"]["schema"]["$ref"]
        for case in sandbox["static"]:
            assert schema_errors(name, response.rsplit("/", 1)[-1], case["response"]) == []
    sim = await make_sim(orders_per_seller=200)
    spid = (await sim.seller())["selling_partner_id"]
    sim.clock.advance(30 * DAY)
    everything = (await truth(sim, spid))["transactions"]
    sale = next(t for t in everything if t["transactionType"] == "Shipment")
    assert set(sale) == set(example)
    refund = next(t for t in everything if t["transactionType"] == "Refund")
    assert set(refund["items"][0]) == set(example["items"][0])
    assert set(refund["items"][0]["contexts"][0]) == set(example["items"][0]["contexts"][0])
