"""FBA inventory: ``getInventorySummaries`` (fbaInventoryV1) over a seeded stock per SKU.

Every catalog product of a seller is stocked in each of its marketplaces. Quantities change
through ``/_sim/mutate`` with ``"kind": "inventory"``; each change moves ``lastUpdatedTime``
strictly forward. Pages hold 50 summaries (Amazon's page size for this operation), keyset by
SKU. Amazon's ``nextToken`` lives 30 seconds; the simulator's tokens use its common
lifetime instead (24 h / time_scale), so very fast test clocks do not expire them mid-page.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .clock import iso, parse_iso
from .errors import invalid_input
from .world import Seller

if TYPE_CHECKING:  # the gateway imports the simulator state, which holds the stock
    from .gateway import Call

PAGE_SIZE = 50
_FNSKU_CHARS = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"


@dataclass
class Stock:
    sku: str
    fn_sku: str
    asin: str
    title: str
    marketplace_id: str
    fulfillable: int
    inbound_working: int
    inbound_shipped: int
    inbound_receiving: int
    reserved: int
    unfulfillable: int
    last_update: int

    def touch(self, now: float) -> None:
        # strictly increasing, like orders, so "newer wins" downstream always sees the change
        self.last_update = max(int(now), self.last_update + 1)

    def summary(self, details: bool) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "asin": self.asin, "fnSku": self.fn_sku, "sellerSku": self.sku,
            "condition": "NewItem", "lastUpdatedTime": iso(self.last_update),
            "productName": self.title, "totalQuantity": self.total, "stores": [],
        }
        if details:
            doc["inventoryDetails"] = {
                "fulfillableQuantity": self.fulfillable,
                "inboundWorkingQuantity": self.inbound_working,
                "inboundShippedQuantity": self.inbound_shipped,
                "inboundReceivingQuantity": self.inbound_receiving,
                "reservedQuantity": {"totalReservedQuantity": self.reserved,
                                     "pendingCustomerOrderQuantity": self.reserved,
                                     "pendingTransshipmentQuantity": 0,
                                     "fcProcessingQuantity": 0},
                "researchingQuantity": {"totalResearchingQuantity": 0,
                                        "researchingQuantityBreakdown": []},
                "unfulfillableQuantity": {"totalUnfulfillableQuantity": self.unfulfillable,
                                          "customerDamagedQuantity": self.unfulfillable,
                                          "warehouseDamagedQuantity": 0,
                                          "distributorDamagedQuantity": 0,
                                          "carrierDamagedQuantity": 0,
                                          "defectiveQuantity": 0, "expiredQuantity": 0},
            }
        return doc

    @property
    def total(self) -> int:
        return (self.fulfillable + self.inbound_working + self.inbound_shipped
                + self.inbound_receiving + self.reserved + self.unfulfillable)

    def truth(self) -> dict[str, Any]:
        return {"marketplaceId": self.marketplace_id, "sellerSku": self.sku,
                "fnSku": self.fn_sku, "asin": self.asin,
                "fulfillableQuantity": self.fulfillable,
                "inboundWorkingQuantity": self.inbound_working,
                "inboundShippedQuantity": self.inbound_shipped,
                "inboundReceivingQuantity": self.inbound_receiving,
                "reservedQuantity": self.reserved,
                "unfulfillableQuantity": self.unfulfillable,
                "lastUpdatedTime": iso(self.last_update)}


def stock_for(seller: Seller, rng: random.Random, start: int,
              history_days: int) -> dict[tuple[str, str], Stock]:
    """(marketplace, sku) -> Stock for every catalog product in every marketplace."""
    stock: dict[tuple[str, str], Stock] = {}
    for market in seller.marketplaces:
        for product in seller.catalog:
            stock[(market.marketplace_id, product.sku)] = Stock(
                sku=product.sku, fn_sku="X00" + "".join(rng.choices(_FNSKU_CHARS, k=7)),
                asin=product.asin, title=product.title, marketplace_id=market.marketplace_id,
                fulfillable=rng.randint(0, 400), inbound_working=rng.choice([0, 0, 12, 48]),
                inbound_shipped=rng.choice([0, 0, 24]), inbound_receiving=rng.choice([0, 6]),
                reserved=rng.randint(0, 8), unfulfillable=rng.choice([0, 0, 0, 1, 3]),
                last_update=start - rng.randint(300, history_days * 86_400),
            )
    return stock


def change_stock(rng: random.Random, stock: dict[tuple[str, str], Stock], now: float) -> str:
    """One inventory change (a sale, a receipt, a damage); returns the SKU touched."""
    item = stock[rng.choice(sorted(stock))]
    move = rng.choice(("sale", "receive", "damage"))
    if move == "sale" and item.fulfillable > 0:
        item.fulfillable -= 1
    elif move == "receive":
        item.fulfillable += item.inbound_receiving or rng.randint(1, 24)
        item.inbound_receiving = 0
    elif item.fulfillable > 0:
        item.fulfillable -= 1
        item.unfulfillable += 1
    else:
        item.inbound_working += 1
    item.touch(now)
    return item.sku


def get_inventory_summaries(call: Call) -> dict[str, Any]:
    p = call.params
    market = p["granularityId"]
    if p["granularityType"] != "Marketplace":
        raise invalid_input("'granularityType' must be 'Marketplace'.")
    if p["marketplaceIds"] != [market]:
        raise invalid_input("'marketplaceIds' must hold exactly the 'granularityId' marketplace.")
    if market not in call.seller.marketplace_ids:
        raise invalid_input(f"The seller does not sell in marketplace '{market}'.")
    state = _state(call, market)
    rows = sorted((s for (m, _), s in call.sim.inventory[call.seller.seller_id].items()
                   if m == market and s.last_update >= state["since"]
                   and (not state["skus"] or s.sku in state["skus"])), key=lambda s: s.sku)
    rows = [s for s in rows if state["after"] is None or s.sku > state["after"]]
    chunk, more = rows[:PAGE_SIZE], len(rows) > PAGE_SIZE
    body: dict[str, Any] = {"payload": {
        "granularity": {"granularityType": "Marketplace", "granularityId": market},
        "inventorySummaries": [s.summary(bool(p.get("details"))) for s in chunk],
    }}
    if more:
        next_state = {**state, "after": chunk[-1].sku}
        body["pagination"] = {"nextToken": call.sim.tokens.encode(
            call.seller.seller_id, "getInventorySummaries", next_state)}
    return body


def _state(call: Call, market: str) -> dict[str, Any]:
    p = call.params
    if "nextToken" in p:
        state = call.sim.tokens.decode(p["nextToken"], call.seller.seller_id,
                                       "getInventorySummaries", "nextToken")
        if state["market"] != market:
            raise invalid_input("'nextToken' belongs to another marketplace.")
        return state
    since = 0.0
    if "startDateTime" in p:
        try:
            since = parse_iso(str(p["startDateTime"]))
        except ValueError:
            raise invalid_input("'startDateTime' must be an ISO 8601 date-time.") from None
        if since < call.now - 548 * 86_400:
            raise invalid_input("'startDateTime' must be no earlier than 18 months ago.")
    skus = p.get("sellerSkus") or ([p["sellerSku"]] if "sellerSku" in p else [])
    return {"market": market, "since": since, "skus": skus, "after": None}
