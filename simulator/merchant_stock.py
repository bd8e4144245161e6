"""The merchant's own stock behind its merchant-fulfilled (MFN) listings, and sales of it.

Amazon never sells more than a marketplace offers. A new MFN order item (an item of a
merchant-fulfilled order whose SKU is a merchant listing) is only created when its
marketplace offers the units; creating it lowers that marketplace's offered quantity, as
Amazon does, and the merchant's stock (``Listing.on_hand``), which SP-API never serves.
Units sold beyond the stock are counted per marketplace in ``Listing.oversold``: that can
only happen when the offers of several marketplaces add up to more than the stock, which
is what a multi-marketplace inventory sync has to prevent. A sale moves the listing's
``lastUpdatedDate``, so a mirror that follows it sees the lower quantity.

``POST /_sim/merchant-stock`` (not SP-API) is the merchant's warehouse: ``{"seller_id",
"sku", "on_hand"}`` sets the stock to a count, ``"add"`` receives units (a restock). Both
leave the offered quantities alone: the seller offers new units with a patch.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .catalog import MFN, Listing
from .world import Order, Seller

if TYPE_CHECKING:  # state builds the mutator, which imports this module
    from .state import Simulator


def admit(seller: Seller, order: Order, now: float) -> bool:
    """Keep the items of a new order that Amazon would sell, taking them from the offer and
    the stock; False when no item is left (then no order is placed)."""
    if order.fulfillment_channel != MFN:
        return True
    market = order.marketplace.marketplace_id
    kept = []
    for item in order.items:
        sku = item.product.sku
        listing = seller.listings.get(sku)
        if listing is None or seller.skus[sku].channel != MFN:
            kept.append(item)  # not a merchant listing: no merchant stock to model
        elif (sku, market) not in seller.delisted and \
                listing.quantity(market) >= item.quantity_ordered:
            sell(listing, market, item.quantity_ordered, now)
            kept.append(item)
    order.items[:] = kept
    return bool(kept)


def sell(listing: Listing, market: str, units: int, now: float) -> None:
    listing.offered[market] = listing.quantity(market) - units
    taken = min(units, listing.on_hand)
    listing.on_hand -= taken
    if units > taken:
        listing.oversold[market] = listing.oversold.get(market, 0) + units - taken
    listing.touch(now)


def add_routes(app: web.Application, sim: Simulator) -> None:
    async def route(request: web.Request) -> web.Response:
        try:
            return web.json_response(_set_stock(sim, await _body(request)))
        except ValueError as error:
            return web.json_response({"error": str(error)}, status=400)

    app.router.add_post("/_sim/merchant-stock", route)


async def _body(request: web.Request) -> dict[str, Any]:
    data = json.loads(await request.text() or "{}")  # a JSONDecodeError is a ValueError
    if not isinstance(data, dict):
        raise ValueError("body must be a JSON object")
    return data


def _set_stock(sim: Simulator, data: dict[str, Any]) -> dict[str, Any]:
    seller = sim.world.sellers.get(str(data.get("seller_id")))
    if seller is None:
        raise ValueError(f"unknown seller_id {data.get('seller_id')!r}")
    sku = str(data.get("sku"))
    if sku not in seller.listings or seller.skus[sku].channel != MFN:
        raise ValueError(f"{sku!r} is not a merchant-fulfilled listing of the seller")
    listing = seller.listings[sku]
    if "on_hand" in data:
        listing.on_hand = _units(data, "on_hand")
    if "add" in data:
        listing.on_hand += _units(data, "add")
    return {"sku": sku, "on_hand": listing.on_hand, "offered": listing.offered}


def _units(data: dict[str, Any], key: str) -> int:
    value = data[key]
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{key} must be a non-negative integer")
    return value
