"""Listings Items API 2021-08-01 writes: ``patchListingsItem`` and ``deleteListingsItem``.

Both answer a ``ListingsItemSubmissionResponse``: 200 with status ACCEPTED, or INVALID
with ``issues`` (then nothing changed). Amazon processes an accepted submission
asynchronously; the simulator applies it at once. Parameters are checked as for the
reads: ``sellerId`` must be the authorized partner and every marketplace the seller's.

patchListingsItem (body ``ListingsItemPatchRequest``) applies JSON Patch operations to
top-level attributes only (``/attributes/<name>``: "patching nested attributes is not
supported"). ``add``, ``replace`` and ``merge`` (treated as ``replace``) need a
``value``; ``delete`` removes the attribute. ``productType`` must be the listing's, and the
attribute one of :data:`ATTRIBUTES`. Two attributes drive what the other operations show:

- ``purchasable_offer``: each entry is for a requested marketplace (``marketplace_id``,
  or none: every requested one), in its ``currency``, with a positive
  ``our_price[0].schedule[0].value_with_tax``. That price becomes the offer price
  (offers, attributes, searches, ``/_sim/truth/listings``); deleting it removes the offer.
- ``fulfillment_availability``: merchant (MFN) listings only, channel ``DEFAULT``, a
  non-negative integer ``quantity``; it becomes the quantity offered in each requested
  marketplace, the others keep theirs. An FBA listing's quantity is Amazon's own.

Other supported attributes are stored as sent. ``mode=VALIDATION_PREVIEW`` checks without
applying (VALID / INVALID). deleteListingsItem takes one marketplace (``maxItems: 1``) and
removes the listing there; a listing left in no marketplace is gone. A SKU that is not
listed in a requested marketplace gives INVALID. Every applied write moves the listing's
lastUpdatedDate.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

from . import bodies, listings
from .catalog import AFN
from .errors import invalid_input
from .gateway import Call
from .listing_render import MERCHANT_CHANNEL
from .spec import LISTINGS
from .world import Seller

PATCH, DELETE = "patchListingsItem", "deleteListingsItem"
PREVIEW = "VALIDATION_PREVIEW"
ATTRIBUTES = frozenset({"item_name", "brand", "condition_type", "bullet_point", "list_price",
                        "main_product_image_locator", "purchasable_offer",
                        "fulfillment_availability"})
TOP_LEVEL = re.compile(r"^/attributes/([a-z0-9_]+)$")
# Issue codes (simulator-defined; Amazon's are numeric strings too).
NOT_LISTED, WRONG_TYPE, NESTED, UNSUPPORTED = "4000001", "4000002", "4000003", "4000004"
NO_VALUE, BAD_PRICE, FBA_QUANTITY, BAD_QUANTITY = "90220", "18155", "4000005", "4000006"


@dataclass(frozen=True)
class Change:
    attribute: str
    values: list[dict[str, Any]] | None  # None: delete the attribute


def patch_listings_item(call: Call) -> dict[str, Any]:
    markets = listings.common_checks(call)
    sku: str = call.params["sku"]
    call.sim.writes.receive(PATCH, sku)
    body = bodies.parse(LISTINGS, call.op.body or "", call.body)
    preview = call.params.get("mode") == PREVIEW
    included = set(call.params.get("includedData", ["issues"]))
    if "identifiers" in included and not preview:
        raise invalid_input("'identifiers' can only be requested when 'mode' is "
                            "VALIDATION_PREVIEW.")
    issues = _not_listed(call.seller, sku, markets)
    changes: list[Change] = []
    if not issues:
        issues, changes = _plan(call.seller, sku, markets, body)
    if not issues and not preview:
        _apply(call.seller, sku, markets, changes)
        call.seller.listings[sku].touch(call.now)
        call.sim.writes.apply(PATCH, sku)
    status = "INVALID" if issues else ("VALID" if preview else "ACCEPTED")
    answer = _answer(sku, status, issues if "issues" in included else None)
    if "identifiers" in included and sku in call.seller.skus:
        asin = call.seller.skus[sku].asin
        answer["identifiers"] = [{"marketplaceId": m, "asin": asin} for m in markets]
    return answer


def delete_listings_item(call: Call) -> dict[str, Any]:
    markets = listings.common_checks(call)
    sku: str = call.params["sku"]
    call.sim.writes.receive(DELETE, sku)
    issues = _not_listed(call.seller, sku, markets)
    if issues:
        return _answer(sku, "INVALID", issues)
    seller = call.seller
    for market in markets:
        seller.delisted.add((sku, market))
        seller.patched.pop((sku, market), None)
    if not listings.listed_markets(seller, sku, seller.marketplace_ids):
        del seller.listings[sku]  # in no marketplace any more: the listing is gone
        seller.delisted -= {(sku, m) for m in seller.marketplace_ids}
    else:
        seller.listings[sku].touch(call.now)
    call.sim.writes.apply(DELETE, sku)
    return _answer(sku, "ACCEPTED", [])


def _answer(sku: str, status: str, issues: list[dict[str, Any]] | None) -> dict[str, Any]:
    body: dict[str, Any] = {"sku": sku, "status": status, "submissionId": uuid.uuid4().hex}
    if issues is not None:
        body["issues"] = issues
    return body


def _issue(code: str, message: str, category: str | None = None,
           attribute: str | None = None) -> dict[str, Any]:
    issue: dict[str, Any] = {"code": code, "message": message, "severity": "ERROR",
                             "categories": [category] if category else []}
    if attribute:
        issue["attributeNames"] = [attribute]
    return issue


def _not_listed(seller: Seller, sku: str, markets: list[str]) -> list[dict[str, Any]]:
    missing = [m for m in markets if m not in listings.listed_markets(seller, sku, [m])]
    if not missing:
        return []
    return [_issue(NOT_LISTED, f"SKU '{sku}' is not listed in marketplace(s) "
                               f"{', '.join(missing)}.")]


def _plan(seller: Seller, sku: str, markets: list[str],
          body: dict[str, Any]) -> tuple[list[dict[str, Any]], list[Change]]:
    """Every issue of the request (Amazon reports them all), or the changes to make."""
    issues: list[dict[str, Any]] = []
    entry = seller.skus[sku]
    if body["productType"] != entry.product_type:
        issues.append(_issue(WRONG_TYPE, f"The productType '{body['productType']}' does not "
                                         f"match the listing's '{entry.product_type}'."))
    changes = []
    for patch in body["patches"]:
        found = TOP_LEVEL.match(patch["path"])
        if found is None:
            issues.append(_issue(NESTED, f"'{patch['path']}' is not a top-level attribute "
                                         "path (/attributes/<name>).", "INVALID_ATTRIBUTE"))
            continue
        name = found.group(1)
        if name not in ATTRIBUTES:
            issues.append(_issue(UNSUPPORTED, f"'{name}' is not an attribute of product type "
                                              f"'{entry.product_type}'.", "INVALID_ATTRIBUTE",
                                 name))
        elif patch["op"] == "delete":
            changes.append(Change(name, None))
        elif "value" not in patch:
            issues.append(_issue(NO_VALUE, f"'{name}' needs a value for op '{patch['op']}'.",
                                 "MISSING_ATTRIBUTE", name))
        else:
            issues += _CHECKS.get(name, _no_check)(seller, sku, markets, patch["value"])
            changes.append(Change(name, patch["value"]))
    return issues, changes


def _no_check(seller: Seller, sku: str, markets: list[str],
              values: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return []


def _offer_issues(seller: Seller, sku: str, markets: list[str],
                  values: list[dict[str, Any]]) -> list[dict[str, Any]]:
    currency = {m.marketplace_id: m.currency for m in seller.marketplaces}
    issues = []
    for value in values:
        targets = [value["marketplace_id"]] if "marketplace_id" in value else markets
        if any(t not in markets for t in targets):
            issues.append(_issue(BAD_PRICE, "purchasable_offer names a marketplace the request "
                                            "does not.", "INVALID_ATTRIBUTE", "purchasable_offer"))
        elif any(value.get("currency", currency[t]) != currency[t] for t in targets):
            issues.append(_issue(BAD_PRICE, "purchasable_offer currency does not match the "
                                            "marketplace's.", "INVALID_PRICE", "purchasable_offer"))
        elif not _positive(_price(value)):
            issues.append(_issue(BAD_PRICE, "purchasable_offer needs a positive "
                                            "our_price[0].schedule[0].value_with_tax.",
                                 "INVALID_PRICE", "purchasable_offer"))
    return issues


def _price(value: dict[str, Any]) -> Any:
    try:
        return value["our_price"][0]["schedule"][0]["value_with_tax"]
    except (KeyError, IndexError, TypeError):
        return None


def _positive(number: Any) -> bool:
    return isinstance(number, int | float) and not isinstance(number, bool) and number > 0


def _availability_issues(seller: Seller, sku: str, markets: list[str],
                         values: list[dict[str, Any]]) -> list[dict[str, Any]]:
    name = "fulfillment_availability"
    if seller.skus[sku].channel == AFN:
        return [_issue(FBA_QUANTITY, "The quantity of a listing fulfilled by Amazon is "
                                     "managed by Amazon.", "INVALID_ATTRIBUTE", name)]
    for value in values:
        quantity = value.get("quantity")
        if (value.get("fulfillment_channel_code") != MERCHANT_CHANNEL
                or not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 0):
            return [_issue(BAD_QUANTITY, "fulfillment_availability needs fulfillment_channel_code"
                                         " DEFAULT and a non-negative integer quantity.",
                           "INVALID_ATTRIBUTE", name)]
    return []


_CHECKS = {"purchasable_offer": _offer_issues, "fulfillment_availability": _availability_issues}


def _apply(seller: Seller, sku: str, markets: list[str], changes: list[Change]) -> None:
    for change in changes:
        if change.attribute == "fulfillment_availability":
            total = sum(v["quantity"] for v in change.values or [])
            for market in markets:  # the requested marketplaces only
                seller.listings[sku].offered[market] = total
            continue
        for market in markets:
            patched = seller.patched.setdefault((sku, market), {})
            if change.values is None:
                patched[change.attribute] = None
                continue
            mine = [{**v, "marketplace_id": market} for v in change.values
                    if v.get("marketplace_id", market) == market]
            if mine:
                patched[change.attribute] = mine
