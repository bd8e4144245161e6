"""FBA inventory: ``getInventorySummaries`` (fbaInventoryV1) over each seller's stock.

Every FBA (AFN) SKU of a seller is stocked in each of its marketplaces; granularity is
one marketplace (``granularityType=Marketplace``, ``granularityId`` = the one
``marketplaceIds`` value). Selection follows the operation's description: with
``startDateTime`` only summaries changed at or after it (``sellerSkus``/``sellerSku``
ignored); else ``sellerSkus``; else ``sellerSku``; else everything. Pages hold 50
summaries, keyset by SKU, so a SKU changing between pages is never returned twice.
``nextToken`` lives 30 s / time_scale as the model says (floored, see
:attr:`SimConfig.inventory_token_ttl`); the filters travel in the token.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .catalog import (
    RESERVED_TOTAL,
    UNFULFILLABLE_TOTAL,
    CatalogEntry,
    Stock,
)
from .clock import iso
from .errors import invalid_input
from .windows import timestamp
from .world import Seller

if TYPE_CHECKING:  # the gateway imports the simulator state, which imports this module
    from .gateway import Call

PAGE_SIZE = 50
OPERATION = "getInventorySummaries"
LOOKBACK_SECONDS = 548 * 86_400  # "no earlier than 18 months prior"


def get_inventory_summaries(call: Call) -> dict[str, Any]:
    market = _marketplace(call)
    state = _state(call, market)
    rows = [s for s in stocks(call.seller, market) if _selected(s, state)]
    if state["after"] is not None:
        rows = [s for s in rows if s.sku > state["after"]]
    chunk = rows[:PAGE_SIZE]
    details = bool(call.params.get("details"))
    body: dict[str, Any] = {
        "payload": {
            "granularity": {"granularityType": "Marketplace", "granularityId": market},
            "inventorySummaries": [
                summary(call.seller.skus[s.sku], s, details) for s in chunk
            ],
        }
    }
    if len(rows) > PAGE_SIZE:
        token = call.sim.tokens.encode(
            call.seller.seller_id, OPERATION, {**state, "after": chunk[-1].sku},
            ttl=call.sim.config.inventory_token_ttl,
        )
        body["pagination"] = {"nextToken": token}
    return body


def stocks(seller: Seller, marketplace_id: str) -> list[Stock]:
    """A marketplace's stock in SKU order."""
    return sorted(
        (s for (m, _), s in seller.stock.items() if m == marketplace_id), key=lambda s: s.sku
    )


def _marketplace(call: Call) -> str:
    market: str = call.params["granularityId"]
    if call.params["marketplaceIds"] != [market]:
        raise invalid_input("'marketplaceIds' must hold exactly the 'granularityId' marketplace.")
    if market not in call.seller.marketplace_ids:
        raise invalid_input(f"The seller does not sell in marketplace '{market}'.")
    return market


def _selected(stock: Stock, state: dict[str, Any]) -> bool:
    if state["since"] is not None:
        return stock.last_updated >= float(state["since"])
    return not state["skus"] or stock.sku in state["skus"]


def _state(call: Call, market: str) -> dict[str, Any]:
    p = call.params
    if "nextToken" in p:
        state = call.sim.tokens.decode(p["nextToken"], call.seller.seller_id, OPERATION,
                                       "nextToken")
        if state["market"] != market:
            raise invalid_input("'nextToken' was issued for another marketplace.")
        return state
    since = None
    if "startDateTime" in p:
        since = timestamp(p, "startDateTime")
        if since < call.now - LOOKBACK_SECONDS:
            raise invalid_input("'startDateTime' must be no earlier than 18 months ago.")
    skus = p.get("sellerSkus") or ([p["sellerSku"]] if "sellerSku" in p else [])
    return {"market": market, "since": since, "skus": skus, "after": None}


def summary(entry: CatalogEntry, stock: Stock, details: bool) -> dict[str, Any]:
    """An ``InventorySummary``; ``inventoryDetails`` only when ``details=true``."""
    body: dict[str, Any] = {
        "asin": entry.asin,
        "fnSku": entry.fnsku,
        "sellerSku": entry.sku,
        "condition": "NewItem",
    }
    if details:
        body["inventoryDetails"] = _details(stock)
    body.update(
        {
            "lastUpdatedTime": iso(stock.last_updated),
            "productName": entry.title,
            "totalQuantity": stock.total,
        }
    )
    return body


def _details(stock: Stock) -> dict[str, Any]:
    return {
        "fulfillableQuantity": stock.fulfillable,
        "inboundWorkingQuantity": stock.inbound_working,
        "inboundShippedQuantity": stock.inbound_shipped,
        "inboundReceivingQuantity": stock.inbound_receiving,
        "reservedQuantity": {RESERVED_TOTAL: stock.reserved_total, **stock.reserved},
        "researchingQuantity": {
            "totalResearchingQuantity": stock.researching_total,
            "researchingQuantityBreakdown": [
                {"name": name, "quantity": quantity}
                for name, quantity in stock.researching.items()
            ],
        },
        "unfulfillableQuantity": {
            UNFULFILLABLE_TOTAL: stock.unfulfillable_total,
            **stock.unfulfillable,
        },
    }


def truth(seller: Seller) -> list[dict[str, Any]]:
    """``/_sim/truth/inventory`` rows, in (marketplace, SKU) order."""
    rows = []
    for key in sorted(seller.stock):
        stock, entry = seller.stock[key], seller.skus[key[1]]
        rows.append(
            {
                "marketplaceId": stock.marketplace_id,
                "sellerSku": stock.sku,
                "fnSku": entry.fnsku,
                "asin": entry.asin,
                "fulfillableQuantity": stock.fulfillable,
                "inboundWorkingQuantity": stock.inbound_working,
                "inboundShippedQuantity": stock.inbound_shipped,
                "inboundReceivingQuantity": stock.inbound_receiving,
                "reservedQuantity": stock.reserved_total,
                "unfulfillableQuantity": stock.unfulfillable_total,
                "lastUpdatedTime": iso(stock.last_updated),
            }
        )
    return rows
