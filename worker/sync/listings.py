"""The listings stream: ``searchListingsItems`` (Listings Items API 2021-08-01) per marketplace.

One stream per marketplace (``listings:<marketplaceId>``, declared in
:mod:`worker.sync.registry`): a listing's status, price, issues and availability are per
marketplace, and asking for one marketplace keeps each item's document to that marketplace.
Items come sorted by ``lastUpdatedDate`` ascending within the window ``[lastUpdatedAfter,
lastUpdatedBefore]``; the first run omits ``lastUpdatedAfter`` and so lists everything.
Amazon pages through at most the first 1000 matches of a search (``numberOfResults`` still
counts them all): a bigger first sync is logged, and the rest needs the listings report
(``celery -A worker backfill --stream listings``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import structlog
from sqlalchemy import Connection

from worker.db.mirror import upsert_listings
from worker.db.rows import ListingRow
from worker.db.sellers import SellerRecord
from worker.sync.endpoint import Written
from worker.sync.fields import MAX_INT, bad, int_field, money, obj, opt_str, parse_time, storable
from worker.sync.paging import Query

log = structlog.get_logger(__name__)

INCLUDED_DATA = ("summaries", "attributes", "issues", "offers", "fulfillmentAvailability")
PAGE_SIZE = 20  # the model's maximum for pageSize
MAX_PAGED = 1000  # Amazon pages through at most this many matches of one search
# A window at least this long is a first sync: it asks without lastUpdatedAfter (everything).
FULL_LISTING = timedelta(days=3650)


def map_item(marketplace_id: str, doc: Any) -> ListingRow:
    """An ``Item`` of searchListingsItems -> the row for ``marketplace_id``. Pure.

    Per-marketplace parts (summary, offer, issues) are read for that marketplace only;
    ``raw`` keeps the whole document.
    """
    if not isinstance(doc, dict):
        raise bad("listings item is not an object")
    storable(doc, "listings item")
    sku = doc.get("sku")
    if not isinstance(sku, str) or not sku:
        raise bad("listings item has no sku")
    what = f"listings item {sku}"
    summary = _summary(doc, marketplace_id, what)
    price, currency = _price(doc, marketplace_id, what)
    issues = _issues(doc, marketplace_id, what)
    return ListingRow(
        marketplace_id=marketplace_id,
        seller_sku=sku,
        asin=opt_str(summary, "asin", what),
        product_type=opt_str(summary, "productType", what),
        item_name=opt_str(summary, "itemName", what),
        condition_type=opt_str(summary, "conditionType", what),
        status=_strings(summary.get("status"), f"{what}.summaries.status"),
        fn_sku=opt_str(summary, "fnSku", what),
        price=price,
        currency=currency,
        quantity=_quantity(doc, what),
        issues=issues,
        issue_count=len(issues),
        error_count=sum(1 for i in issues if i["severity"] == "ERROR"),
        created_date=_time(summary, "createdDate", what),
        last_updated_date=_time(summary, "lastUpdatedDate", what),
        raw=doc,
    )


def _entries(doc: dict[str, Any], key: str, what: str) -> list[dict[str, Any]]:
    """An optional array of objects (``summaries``, ``offers``, ...); absent is empty."""
    value = doc.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise bad(f"{what}.{key} is not an array")
    return [obj(v, f"{what}.{key}[]") for v in value]


def _for_market(doc: dict[str, Any], key: str, marketplace_id: str,
                what: str) -> list[dict[str, Any]]:
    return [e for e in _entries(doc, key, what)
            if opt_str(e, "marketplaceId", f"{what}.{key}[]") == marketplace_id]


def _summary(doc: dict[str, Any], marketplace_id: str, what: str) -> dict[str, Any]:
    """The marketplace's ``ItemSummaryByMarketplace``, or ``{}`` (all its columns null)."""
    found = _for_market(doc, "summaries", marketplace_id, what)
    return found[0] if found else {}


def _price(doc: dict[str, Any], marketplace_id: str,
           what: str) -> tuple[Decimal | None, str | None]:
    """The marketplace's consumer (B2C) offer price; a B2B-only listing gives its B2B price."""
    offers = _for_market(doc, "offers", marketplace_id, what)
    for offer in offers:
        opt_str(offer, "offerType", f"{what}.offers[]")
    offers.sort(key=lambda o: o.get("offerType") != "B2C")  # stable: B2C first, then as sent
    if not offers or offers[0].get("price") is None:
        return None, None
    return money(offers[0]["price"], f"{what}.offers[].price", amount_key="amount",
                 currency_key="currencyCode")


def _quantity(doc: dict[str, Any], what: str) -> int | None:
    """Units available over every fulfillment channel; None when no channel says."""
    quantities = [int_field(a, "quantity", f"{what}.fulfillmentAvailability[]", required=False)
                  for a in _entries(doc, "fulfillmentAvailability", what)]
    known = [q for q in quantities if q is not None]
    if sum(known) > MAX_INT:
        raise bad(f"{what}.fulfillmentAvailability[].quantity adds up past 2^31 - 1")
    return sum(known) if known else None


def _issues(doc: dict[str, Any], marketplace_id: str, what: str) -> list[dict[str, Any]]:
    """The issues that apply to the marketplace: an ``Issue`` without ``marketplaceIds``
    applies to every marketplace of the item."""
    kept = []
    for issue in _entries(doc, "issues", what):
        where = f"{what}.issues[]"
        if not isinstance(issue.get("severity"), str):
            raise bad(f"{where}.severity is missing or not a string")
        markets = _strings(issue.get("marketplaceIds"), f"{where}.marketplaceIds")
        if not markets or marketplace_id in markets:
            kept.append(issue)
    return kept


def _strings(value: Any, what: str) -> list[str]:
    """An optional array of strings; absent is empty."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise bad(f"{what} is not an array of strings")
    return list(value)


def _time(summary: dict[str, Any], key: str, what: str) -> datetime | None:
    value = summary.get(key)
    return None if value in (None, "") else parse_time(value, f"{what}.summaries.{key}")


def check(body: Any, next_token: str | None) -> None:
    """A page's counts and pagination are well-formed; warns once a search outgrows paging."""
    total = int_field(body, "numberOfResults", "searchListingsItems response", required=False)
    pagination = body.get("pagination")
    if pagination is not None and not isinstance(pagination, dict):
        raise bad("searchListingsItems response pagination is not an object")
    if next_token is None and total is not None and total > MAX_PAGED:
        # Only the first 1000 matches are ever paged; the rest needs the listings report.
        log.warning("sync.listings_truncated", number_of_results=total, paged=MAX_PAGED,
                    remedy="celery -A worker backfill --stream listings")


def path(seller: SellerRecord) -> dict[str, str]:
    return {"sellerId": seller.selling_partner_id}


def query(seller: SellerRecord, marketplace_id: str | None, size: int) -> Query:
    """Every request: one marketplace, sorted oldest change first (the cursor follows it)."""
    return {"marketplaceIds": [marketplace_id], "includedData": list(INCLUDED_DATA),
            "sortBy": "lastUpdatedDate", "sortOrder": "ASC", "pageSize": size}


def one_sku(seller: SellerRecord, marketplace_id: str | None,
            sku: str) -> tuple[dict[str, str], Query]:
    """``getListingsItem`` of one SKU in one marketplace, with the search's blocks."""
    return ({"sellerId": seller.selling_partner_id, "sku": sku},
            {"marketplaceIds": [marketplace_id], "includedData": list(INCLUDED_DATA)})


def write(conn: Connection, seller_id: int, page: list[ListingRow]) -> Written:
    return Written(upsert_listings(conn, seller_id, page))
