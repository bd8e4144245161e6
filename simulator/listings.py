"""Listings Items API 2021-08-01: ``getListingsItem`` and ``searchListingsItems``.

One listing per SKU, offered in every marketplace of its seller. ``sellerId`` must be
the authorized selling partner (else 403, the model's "Access Denied / Unauthorized");
every ``marketplaceIds`` value must be one of the seller's (else 400). ``includedData``
defaults to ``summaries``; ``procurement`` is vendor-only and renders nothing for a
seller. searchListingsItems filters as its parameters describe, sorts (default
lastUpdatedDate DESC), pages with a keyset ``pageToken`` bound to the same filters, and
pages through at most the first 1000 matches (``numberOfResults`` still counts all).
A listing deleted in a marketplace (:mod:`listings_writes`) is absent there: 404 when no
requested marketplace still has it, left out of searches that only ask for such ones.
"""

from __future__ import annotations

import re
from typing import Any

from . import listing_render
from .errors import ApiError, invalid_input, not_found
from .gateway import Call
from .validation import Params
from .windows import timestamp
from .world import Seller

SEARCH = "searchListingsItems"
MAX_PAGED = 1000
LOCALE = re.compile(r"^[a-z]{2}_[A-Z]{2}$")
FREE_BETWEEN_PAGES = frozenset({"pageSize", "includedData", "issueLocale", "pageToken"})
_IDENTIFIERS = {"SKU": "sku", "ASIN": "asin", "FNSKU": "fnsku"}
_SORT_FIELDS = {"sku": None, "createdDate": "created", "lastUpdatedDate": "last_updated"}
_WINDOWS = (
    ("createdAfter", "created", 1), ("createdBefore", "created", -1),
    ("lastUpdatedAfter", "last_updated", 1), ("lastUpdatedBefore", "last_updated", -1),
)


def get_listings_item(call: Call) -> dict[str, Any]:
    markets = common_checks(call)
    sku: str = call.params["sku"]
    listed = listed_markets(call.seller, sku, markets)
    if not listed:
        raise not_found(f"SKU '{sku}' was not found for this seller.")
    return listing_render.item(call.seller, sku, listed, _included(call.params))


def listed_markets(seller: Seller, sku: str, markets: list[str]) -> list[str]:
    """The requested marketplaces the SKU is listed in (deletion is per marketplace)."""
    if sku not in seller.listings:
        return []
    return [m for m in markets if (sku, m) not in seller.delisted]


def search_listings_items(call: Call) -> dict[str, Any]:
    markets = common_checks(call)
    p = call.params
    if p["pageSize"] < 1:
        raise invalid_input("'pageSize' must be between 1 and 20.")
    signature = {k: sorted(v) if isinstance(v, list) else v
                 for k, v in p.items() if k not in FREE_BETWEEN_PAGES}
    after = _resume(call, signature) if "pageToken" in p else None
    skus = [s for s in _matching(call.seller, p) if listed_markets(call.seller, s, markets)]
    total = len(skus)
    skus = _sorted(call.seller, skus, p["sortBy"], p["sortOrder"] == "DESC")[:MAX_PAGED]
    if after is not None:
        position = [_key(call.seller, s, p["sortBy"]) for s in skus]
        skus = [s for s, k in zip(skus, position, strict=True) if _beyond(k, after, p)]
    chunk = skus[: p["pageSize"]]
    included = _included(p)
    body: dict[str, Any] = {
        "numberOfResults": total,
        "items": [listing_render.item(call.seller, s, listed_markets(call.seller, s, markets),
                                      included) for s in chunk],
    }
    if len(skus) > len(chunk):
        state = {"r": signature, "k": _key(call.seller, chunk[-1], p["sortBy"])}
        token = call.sim.tokens.encode(call.seller.seller_id, SEARCH, state)
        body["pagination"] = {"nextToken": token}
    return body


def common_checks(call: Call) -> list[str]:
    """Checks shared by the listings operations; the requested marketplaces."""
    p = call.params
    if p["sellerId"] != call.seller.seller_id:
        raise ApiError(403, "Unauthorized", "Access to requested resource is denied.",
                       "The sellerId does not match the authorized selling partner.")
    markets: list[str] = p["marketplaceIds"]
    for market in markets:
        if market not in call.seller.marketplace_ids:
            raise invalid_input(f"The seller does not sell in marketplace '{market}'.")
    if "issueLocale" in p and not LOCALE.match(p["issueLocale"]):
        raise invalid_input(f"'issueLocale' must look like en_US; got '{p['issueLocale']}'.")
    return markets


def _included(params: Params) -> frozenset[str]:
    return frozenset(params["includedData"])


def _resume(call: Call, signature: dict[str, Any]) -> list[Any]:
    state = call.sim.tokens.decode(call.params["pageToken"], call.seller.seller_id, SEARCH,
                                   "pageToken")
    if state["r"] != signature:
        raise invalid_input("'pageToken' must be sent with the same parameters as the "
                            "request that returned it.")
    key: list[Any] = state["k"]
    return key


def _matching(seller: Seller, p: Params) -> list[str]:
    _check_exclusive(p)
    return [sku for sku in seller.listings if _matches(seller, sku, p)]


def _check_exclusive(p: Params) -> None:
    if ("identifiers" in p) != ("identifiersType" in p):
        raise invalid_input("'identifiers' and 'identifiersType' must be sent together.")
    chosen = [n for n in ("identifiers", "variationParentSku", "packageHierarchySku") if n in p]
    if len(chosen) > 1:
        raise invalid_input(f"'{chosen[0]}' cannot be combined with '{chosen[1]}'.")


def _matches(seller: Seller, sku: str, p: Params) -> bool:
    listing, entry = seller.listings[sku], seller.skus[sku]
    if "variationParentSku" in p or "packageHierarchySku" in p:
        return False  # no listing has variation or package relationships
    if "identifiers" in p:
        attribute = _IDENTIFIERS.get(p["identifiersType"])
        if attribute is None or getattr(entry, attribute) not in p["identifiers"]:
            return False
    for name, attribute, sign in _WINDOWS:
        if name in p and sign * (getattr(listing, attribute) - timestamp(p, name)) < 0:
            return False
    status = set(listing.status)
    severities = {issue.severity for issue in listing.issues}
    return (
        ("withStatus" not in p or bool(status & set(p["withStatus"])))
        and ("withoutStatus" not in p or not status & set(p["withoutStatus"]))
        and ("withIssueSeverity" not in p or bool(severities & set(p["withIssueSeverity"])))
    )


def _key(seller: Seller, sku: str, sort_by: str) -> list[Any]:
    field = _SORT_FIELDS[sort_by]
    return [getattr(seller.listings[sku], field), sku] if field else [sku]


def _sorted(seller: Seller, skus: list[str], sort_by: str, descending: bool) -> list[str]:
    return sorted(skus, key=lambda s: _key(seller, s, sort_by), reverse=descending)


def _beyond(key: list[Any], after: list[Any], p: Params) -> bool:
    return key < after if p["sortOrder"] == "DESC" else key > after
