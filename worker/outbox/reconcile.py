"""Reading Amazon's state when a write's answer was lost (it may or may not have been
applied). A reader only looks; it never sends the write again.

A reader returns a :class:`Finding`:

- ``applied=True``: Amazon's state shows the command's effect, so the command becomes
  ``accepted``. This proves that the goal state holds, not that this very request caused
  it; another tool may have done the same thing.
- ``applied=False``: Amazon certainly did not apply it (the order does not exist), so the
  command becomes ``failed``.
- ``applied=None``: the effect is not visible (yet). Amazon may still be processing the
  write, or never received it. The runner looks again until its window closes, then marks
  the command ``unknown``.

What is read, per command:

- confirmShipment: getOrderItems, every page. Each item of the package must show at least
  the package's quantity as shipped. A 404 means there is no such order.
- deleteListingsItem: getListingsItem in the marketplace answers 404.
- patchListingsItem: getListingsItem ``attributes`` in each marketplace. Every value a
  patch added or replaced must be there (each field it sent, equal), and every attribute
  it deleted must be gone.
- createInboundPlan: there is no reader. Amazon returns no key that ties a plan to the
  request that made it, so the command goes straight to ``unknown``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from worker.spapi.client import SellerAuth, SpApiClient
from worker.spapi.errors import NotFoundError
from worker.sync.orders import ITEM_PAGES
from worker.sync.paging import Query, pages

Reader = Callable[[SpApiClient, SellerAuth, dict[str, Any]], Awaitable["Finding"]]
MAX_ITEM_PAGES = 20


@dataclass(frozen=True)
class Finding:
    applied: bool | None
    checked_with: str  # the operation read
    evidence: dict[str, Any] = field(default_factory=dict)


async def confirm_shipment(client: SpApiClient, seller: SellerAuth,
                           params: dict[str, Any]) -> Finding:
    try:
        shipped = await _shipped_units(client, seller, params["orderId"])
    except NotFoundError:
        return Finding(False, "getOrderItems", {"order": "not found"})
    wanted = {line["orderItemId"]: line["quantity"]
              for line in params["packageDetail"]["orderItems"]}
    seen = {item_id: shipped.get(item_id, 0) for item_id in wanted}
    done = all(seen[item_id] >= quantity for item_id, quantity in wanted.items())
    return Finding(True if done else None, "getOrderItems", {"quantityShipped": seen})


async def _shipped_units(client: SpApiClient, seller: SellerAuth, order_id: str) -> dict[str, int]:
    async def fetch(query: Query) -> Any:
        return (await client.call(seller, "getOrderItems", path_params={"orderId": order_id},
                                  query=query)).body

    shipped: dict[str, int] = {}
    async for body in pages(fetch, {}, ITEM_PAGES(), limit=MAX_ITEM_PAGES):
        payload = body.get("payload", {}) if isinstance(body, dict) else {}
        for item in payload.get("OrderItems") or []:
            if isinstance(item, dict) and isinstance(item.get("OrderItemId"), str):
                shipped[item["OrderItemId"]] = int(item.get("QuantityShipped") or 0)
    return shipped


async def delete_listing(client: SpApiClient, seller: SellerAuth,
                         params: dict[str, Any]) -> Finding:
    gone = []
    for market in params["marketplaceIds"]:
        try:
            await _listing(client, seller, params["sku"], market)
        except NotFoundError:
            gone.append(market)
    applied = True if len(gone) == len(params["marketplaceIds"]) else None
    return Finding(applied, "getListingsItem", {"goneFrom": gone})


async def patch_listing(client: SpApiClient, seller: SellerAuth,
                        params: dict[str, Any]) -> Finding:
    missing = []
    for market in params["marketplaceIds"]:
        try:
            item = await _listing(client, seller, params["sku"], market)
        except NotFoundError:
            return Finding(None, "getListingsItem", {"listing": f"not found in {market}"})
        attributes = item.get("attributes") if isinstance(item, dict) else None
        for patch in params["patches"]:
            if not _shows(attributes if isinstance(attributes, dict) else {}, patch, market):
                missing.append(f"{market}:{patch['path']}")
    return Finding(None if missing else True, "getListingsItem", {"notVisible": missing})


async def _listing(client: SpApiClient, seller: SellerAuth, sku: str, market: str) -> Any:
    resp = await client.call(seller, "getListingsItem",
                             path_params={"sellerId": seller.selling_partner_id, "sku": sku},
                             query={"marketplaceIds": [market], "includedData": ["attributes"]})
    return resp.body


def _shows(attributes: dict[str, Any], patch: dict[str, Any], market: str) -> bool:
    name = patch["path"].rsplit("/", 1)[-1]
    entries = [e for e in attributes.get(name) or [] if isinstance(e, dict)
               and e.get("marketplace_id", market) == market]
    if patch["op"] == "delete":
        return not entries
    wanted = [{k: v for k, v in value.items() if k != "marketplace_id"}
              for value in patch["value"] if value.get("marketplace_id", market) == market]
    return all(any(_contains(entry, value) for entry in entries) for value in wanted)


def _contains(have: Any, want: Any) -> bool:
    """Whether ``have`` holds every field of ``want`` with an equal value (numbers by value)."""
    if isinstance(want, dict):
        return isinstance(have, dict) and all(k in have and _contains(have[k], v)
                                              for k, v in want.items())
    if isinstance(want, list):
        return (isinstance(have, list) and len(have) == len(want)
                and all(_contains(h, w) for h, w in zip(have, want, strict=True)))
    if isinstance(want, int | float) and not isinstance(want, bool):
        return isinstance(have, int | float) and not isinstance(have, bool) \
            and abs(float(have) - float(want)) < 1e-9
    return bool(have == want)


READERS: dict[str, Reader] = {
    "confirmShipment": confirm_shipment,
    "deleteListingsItem": delete_listing,
    "patchListingsItem": patch_listing,
}
