"""The seeded catalog, FBA stock and listings; their changes; inventory details and paging."""

from __future__ import annotations

import re
from typing import Any

from simulator import SimConfig
from simulator.catalog import AFN
from simulator.clock import Clock
from simulator.state import build_simulator

from .simkit import MakeSim, Sim, schema_errors

INVENTORY = "/fba/inventory/v1/summaries"
MODEL = "fbaInventoryV1"


async def _truths(sim: Sim, spid: str) -> tuple[Any, Any]:
    inventory = await (await sim.client.get("/_sim/truth/inventory",
                                            params={"seller_id": spid})).json()
    listings = await (await sim.client.get("/_sim/truth/listings",
                                           params={"seller_id": spid})).json()
    return inventory, listings


def test_catalog_shapes_and_orders_reference_it() -> None:
    sim = build_simulator(SimConfig(sellers=4, orders_per_seller=50), Clock())
    for seller in sim.world.sellers.values():
        assert 40 <= len(seller.skus) <= 80
        for entry in seller.skus.values():
            assert re.fullmatch(r"B0[A-Z0-9]{8}", entry.asin)
            assert re.fullmatch(r"X00[A-Z0-9]{7}", entry.fnsku) or entry.channel != AFN
            assert entry.sku.startswith(("SKU-", "SBX-"))
        ordered = {i.product.sku for o in seller.orders.values() for i in o.items}
        assert ordered <= set(seller.skus)
        fba = {sku for sku, e in seller.skus.items() if e.channel == AFN}
        assert {sku for _, sku in seller.stock} == fba
        assert len(seller.stock) == len(fba) * len(seller.marketplaces)
        assert set(seller.listings) == set(seller.skus)


async def test_same_seed_same_catalog(make_sim: MakeSim) -> None:
    start = 1_790_000_000.0
    results = []
    for seed in (5, 5, 6):
        sim = await make_sim(clock=Clock(start=start), seed=seed, orders_per_seller=10)
        spid = (await sim.seller(1))["selling_partner_id"]
        _, inv = await sim.post("/_sim/mutate", {"seller_id": spid, "count": 4,
                                                 "kind": "inventory"})
        _, lst = await sim.post("/_sim/mutate", {"seller_id": spid, "count": 4,
                                                 "kind": "listings"})
        results.append((await _truths(sim, spid), inv, lst))
    assert results[0] == results[1]
    assert results[0][0] != results[2][0]


async def test_mutations_change_stock_and_listings(make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=5)
    spid = (await sim.seller())["selling_partner_id"]
    (inventory, listings) = await _truths(sim, spid)
    status, body = await sim.post("/_sim/mutate", {"seller_id": spid, "count": 5,
                                                   "kind": "inventory"})
    assert status == 200 and len(body["changed"]) == 5
    after, _ = await _truths(sim, spid)
    before = {(i["marketplaceId"], i["sellerSku"]): i for i in inventory["inventory"]}
    moved = {i["sellerSku"] for i in after["inventory"]
             if i != before[(i["marketplaceId"], i["sellerSku"])]}
    assert moved == set(body["changed"])
    for item in after["inventory"]:
        old = before[(item["marketplaceId"], item["sellerSku"])]
        if item["sellerSku"] in moved:
            assert item["lastUpdatedTime"] > old["lastUpdatedTime"]
    _, body = await sim.post("/_sim/mutate", {"seller_id": spid, "count": 6,
                                              "kind": "listings"})
    _, changed = await _truths(sim, spid)
    old = {(t["sku"], t["marketplaceId"]): t for t in listings["listings"]}
    flipped = {t["sku"] for t in changed["listings"]
               if t["issues"] != old[(t["sku"], t["marketplaceId"])]["issues"]}
    assert flipped and flipped <= set(body["changed"])
    assert (await sim.post("/_sim/mutate", {"seller_id": spid, "kind": "catalog"}))[0] == 400


def test_change_loop_also_moves_stock_and_listings() -> None:
    sim = build_simulator(SimConfig(sellers=1, orders_per_seller=5), Clock())
    seller = next(iter(sim.world.sellers.values()))
    stamps = lambda: sorted(s.last_updated for s in seller.stock.values())  # noqa: E731
    listed = lambda: sorted(x.last_updated for x in seller.listings.values())  # noqa: E731
    stock_before, listings_before = stamps(), listed()
    sim.changes.changes_per_minute = 60.0
    sim.changes.tick(5.0)  # 5 order changes, 5 stock changes, 1 listing change
    assert stamps() != stock_before and listed() != listings_before


async def test_inventory_details_validate_and_filters_select(make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=5)
    seller = await sim.seller()
    market, token = seller["marketplace_ids"][0], await sim.access_token()
    inventory, _ = await _truths(sim, seller["selling_partner_id"])
    skus = [i["sellerSku"] for i in inventory["inventory"] if i["marketplaceId"] == market]
    base = {"granularityType": "Marketplace", "granularityId": market, "marketplaceIds": market}
    for details in ("true", "false"):
        status, body, _ = await sim.get(INVENTORY, token, {**base, "details": details})
        assert status == 200 and schema_errors(MODEL, "GetInventorySummariesResponse", body) == []
        summary = body["payload"]["inventorySummaries"][0]
        assert ("inventoryDetails" in summary) == (details == "true")
        sim.clock.advance(1)  # 2 requests/s, burst 2
    status, body, _ = await sim.get(INVENTORY, token, {**base, "details": "true",
                                                       "sellerSkus": ",".join(skus[:3])})
    assert [s["sellerSku"] for s in body["payload"]["inventorySummaries"]] == sorted(skus[:3])
    summary_details = body["payload"]["inventorySummaries"][0]["inventoryDetails"]
    reserved = summary_details["reservedQuantity"]
    assert reserved["totalReservedQuantity"] == sum(
        v for k, v in reserved.items() if k != "totalReservedQuantity")
    sim.clock.advance(1)
    status, body, _ = await sim.get(INVENTORY, token, {**base, "sellerSku": skus[-1]})
    assert [s["sellerSku"] for s in body["payload"]["inventorySummaries"]] == [skus[-1]]


async def test_inventory_pages_hold_50_and_return_each_sku_once(make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=5, catalog_size=160, time_scale=10)
    seller = await sim.seller()
    spid, market = seller["selling_partner_id"], seller["marketplace_ids"][0]
    token = await sim.access_token()
    inventory, _ = await _truths(sim, spid)
    expected = sorted(i["sellerSku"] for i in inventory["inventory"]
                      if i["marketplaceId"] == market)
    assert len(expected) > 100
    base = {"granularityType": "Marketplace", "granularityId": market, "marketplaceIds": market}
    params: dict[str, Any] = dict(base)
    pages: list[list[str]] = []
    while True:
        status, body, _ = await sim.get(INVENTORY, token, params)
        assert status == 200 and schema_errors(MODEL, "GetInventorySummariesResponse", body) == []
        pages.append([s["sellerSku"] for s in body["payload"]["inventorySummaries"]])
        if "pagination" not in body:
            break
        await sim.post("/_sim/mutate", {"seller_id": spid, "count": 10, "kind": "inventory"})
        sim.clock.advance(1)
        params = {**base, "nextToken": body["pagination"]["nextToken"]}
    assert [len(p) for p in pages[:-1]] == [50] * (len(pages) - 1)
    assert [sku for page in pages for sku in page] == expected
    status, body, _ = await sim.get(INVENTORY, token, base)
    sim.clock.advance(3.1)  # 30 s / time_scale 10
    status, body, _ = await sim.get(INVENTORY, token, {
        **base, "nextToken": body["pagination"]["nextToken"]})
    assert status == 400 and "expired" in body["errors"][0]["message"]
