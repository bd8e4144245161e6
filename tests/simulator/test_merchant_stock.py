"""Merchant-fulfilled stock: a quantity offered per marketplace, set by patches per
marketplace; sales only of what a marketplace offers; the merchant's stock and oversold
units in the truth (``simulator/merchant_stock.py``)."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from simulator.catalog import MFN
from simulator.config import SimConfig
from simulator.merchant_stock import admit
from simulator.remote import SimulatorClient
from simulator.world import Item, Order, Product, Status

from .simkit import MakeSim, Sim, schema_errors
from .test_writes import LISTINGS, listing_path, send, state, truth_listings

NA_TWO_MARKETS = 3  # seller 3 sells in US and CA


def quantity_patch(quantity: int) -> dict[str, object]:
    return {"op": "replace", "path": "/attributes/fulfillment_availability",
            "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": quantity}]}


async def _merchant_sku(sim: Sim) -> tuple[str, str, list[str], str, str]:
    seller = await sim.seller(NA_TWO_MARKETS)
    spid, markets = seller["selling_partner_id"], seller["marketplace_ids"]
    world = state(sim).world.sellers[spid]
    entry = next(e for e in world.skus.values() if e.channel == MFN)
    return spid, await sim.access_token(NA_TWO_MARKETS), markets, entry.sku, entry.product_type


def _order(spid: str, market_index: int, sim: Sim, sku: str, units: int,
           channel: str = MFN) -> Order:
    seller = state(sim).world.sellers[spid]
    product = Product(sku, seller.skus[sku].asin, "x", Decimal(1))
    return Order("111-0000000-0000001", spid, seller.marketplaces[market_index], Status.PENDING,
                 0, 0, channel, False, [Item("1", product, Decimal(1), units)])


async def test_a_quantity_patch_sets_only_the_requested_marketplaces(make_sim: MakeSim) -> None:
    sim = await make_sim(sellers=4, orders_per_seller=5)
    spid, token, (us, ca), sku, product_type = await _merchant_sku(sim)
    before = {t["marketplaceId"]: t for t in await truth_listings(sim, spid) if t["sku"] == sku}
    assert before[us]["quantity"] == before[ca]["quantity"] == before[us]["onHand"]

    status, answer = await send(sim, "PATCH", listing_path(spid, sku), token,
                                {"productType": product_type, "patches": [quantity_patch(4)]},
                                {"marketplaceIds": ca})
    assert (status, answer["status"]) == (200, "ACCEPTED")
    after = {t["marketplaceId"]: t for t in await truth_listings(sim, spid) if t["sku"] == sku}
    assert (after[us]["quantity"], after[ca]["quantity"]) == (before[us]["quantity"], 4)
    assert after[ca]["onHand"] == before[ca]["onHand"] and after[ca]["oversold"] == 0
    for market, quantity in ((us, before[us]["quantity"]), (ca, 4)):
        code, item, _ = await sim.get(listing_path(spid, sku), token, {
            "marketplaceIds": market, "includedData": "attributes,fulfillmentAvailability"})
        assert code == 200 and schema_errors(LISTINGS, "Item", item) == []
        assert item["fulfillmentAvailability"] == [
            {"fulfillmentChannelCode": "DEFAULT", "quantity": quantity}]
        assert item["attributes"]["fulfillment_availability"] == [
            {"fulfillment_channel_code": "DEFAULT", "quantity": quantity}]


async def test_a_sale_needs_the_offer_and_takes_it_and_the_stock(make_sim: MakeSim) -> None:
    sim = await make_sim(sellers=4, orders_per_seller=5)
    spid, _, (us, ca), sku, _ = await _merchant_sku(sim)
    seller = state(sim).world.sellers[spid]
    listing = seller.listings[sku]
    listing.offered, listing.on_hand = {us: 3, ca: 3}, 4

    assert not admit(seller, _order(spid, 0, sim, sku, 4), 0.0)  # US offers 3: no sale
    assert (listing.offered, listing.on_hand) == ({us: 3, ca: 3}, 4)
    assert admit(seller, _order(spid, 0, sim, sku, 3), 0.0)
    assert (listing.offered, listing.on_hand, listing.oversold) == ({us: 0, ca: 3}, 1, {})
    assert admit(seller, _order(spid, 1, sim, sku, 3), 0.0)  # CA still offers 3: 2 oversold
    assert (listing.offered, listing.on_hand, listing.oversold) == ({us: 0, ca: 0}, 0, {ca: 2})
    assert admit(seller, _order(spid, 1, sim, sku, 5, channel="AFN"), 0.0)  # not merchant's
    assert listing.on_hand == 0
    rows = {t["marketplaceId"]: t for t in await truth_listings(sim, spid) if t["sku"] == sku}
    assert (rows[ca]["oversold"], rows[us]["oversold"], rows[us]["onHand"]) == (2, 0, 0)


async def test_nothing_offered_nothing_sold_and_the_warehouse_endpoint(make_sim: MakeSim) -> None:
    sim = await make_sim(sellers=4, orders_per_seller=5)
    spid, _, _, sku, _ = await _merchant_sku(sim)
    seller = state(sim).world.sellers[spid]
    merchant = {s for s, e in seller.skus.items() if e.channel == MFN}
    for s in merchant:
        seller.listings[s].offered = dict.fromkeys(seller.marketplace_ids, 0)
    known = set(seller.orders)
    _, body = await sim.post("/_sim/mutate", {"seller_id": spid, "count": 40})
    new = [seller.orders[o] for o in body["changed"] if o not in known]
    assert new and all(i.product.sku not in merchant for o in new if o.fulfillment_channel == MFN
                       for i in o.items)
    assert all(seller.listings[s].oversold == {} for s in merchant)

    client = SimulatorClient(str(sim.client.make_url("")))
    stock = await asyncio.to_thread(client.merchant_stock, spid, sku, on_hand=5, add=2)
    assert stock["on_hand"] == 7 and seller.listings[sku].on_hand == 7
    afn = next(s for s, e in seller.skus.items() if e.channel != MFN)
    for bad in ({"sku": afn, "add": 1}, {"sku": sku, "on_hand": -1}, {"sku": sku, "add": True}):
        status, _ = await sim.post("/_sim/merchant-stock", {"seller_id": spid, **bad})
        assert status == 400


async def test_eu_sellers_can_sell_in_several_marketplaces(make_sim: MakeSim) -> None:
    sim = await make_sim(sellers=2, orders_per_seller=5, eu_marketplaces=3)
    seller = await sim.seller(1)
    assert seller["marketplace_ids"] == ["A1PA6795UKMFR9", "A13V1IB3VIYZZH", "APJ6JRA9NG5V4"]
    rows = await truth_listings(sim, seller["selling_partner_id"])
    assert {r["marketplaceId"] for r in rows} == set(seller["marketplace_ids"])
    with pytest.raises(ValueError, match="eu_marketplaces"):
        SimConfig(eu_marketplaces=5)
