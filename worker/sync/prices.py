"""The ``prices`` stream: the competitive summary of every ASIN a seller lists, per
marketplace, kept as a history (Product Pricing 2022-05-01 ``getCompetitiveSummary``, a
batch of 20 requests a call, the model's maximum; 0.033 calls/s, burst 1: one batch every
30 s per seller, about 2,400 ASINs an hour). Declared in :mod:`worker.sync.registry` as a
:class:`~worker.sync.declaration.Refresh`: each run reads the ASINs whose last snapshot is
older than the kind's maximum age (``SPSYNC_PRICES_OVERLAP_SECONDS``, default one hour).

A snapshot row per ASIN per read: the featured offer ("buy box") of the ``New`` buying
option (its seller, whether it is the syncing seller, its listing price), the lowest
``New``/``Consumer`` offer's listing price and how many such offers Amazon listed, and the
``CompetitivePrice`` reference price. A request Amazon refused (its status 4xx/5xx, e.g. an
ASIN it does not know) is a row with the status and the error, so it is not asked again
before the maximum age; everything Amazon sent is in ``raw``.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection

from worker.db import prices as store
from worker.db.rows import PriceSnapshotRow
from worker.db.sellers import SellerRecord
from worker.sync.endpoint import Written
from worker.sync.fields import bad, money, obj, opt_str, storable
from worker.sync.finances import array

BATCH = 20  # CompetitiveSummaryRequestList: maxItems 20 (model)
URI = "/products/pricing/2022-05-01/items/competitiveSummary"
INCLUDED = ["featuredBuyingOptions", "referencePrices", "lowestPricedOffers"]
NEW_CONSUMER = {"itemCondition": "New", "offerType": "Consumer"}


def body(seller: SellerRecord, marketplace_id: str, asins: list[str]) -> dict[str, Any]:
    return {"requests": [{"asin": a, "marketplaceId": marketplace_id, "includedData": INCLUDED,
                          "lowestPricedOffersInputs": [NEW_CONSUMER], "method": "GET",
                          "uri": URI} for a in asins]}


def query(seller: SellerRecord, marketplace_id: str, asins: list[str]) -> dict[str, Any]:
    return {}


def _price(doc: dict[str, Any], key: str, what: str) -> tuple[Decimal | None, str | None]:
    value = doc.get(key)
    if value is None:
        return None, None
    return money(value, f"{what}.{key}", amount_key="amount", currency_key="currencyCode")


def _list(doc: dict[str, Any], key: str, what: str) -> list[dict[str, Any]]:
    """An optional array of objects (absent: empty)."""
    return [obj(v, f"{what}.{key}[]") for v in array(doc, key, what)]


def map_response(seller_id: str, marketplace_id: str, doc: Any) -> PriceSnapshotRow:
    """One ``CompetitiveSummaryResponse`` -> its snapshot row. Pure."""
    doc = obj(doc, "competitive summary")
    storable(doc, "competitive summary")
    status = obj(doc.get("status"), "competitive summary status").get("statusCode")
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        raise bad("competitive summary status.statusCode is not an HTTP status")
    found = obj(doc.get("body"), "competitive summary body")
    asin = opt_str(found, "asin", "competitive summary body")
    if not asin:
        raise bad("competitive summary body.asin is missing")
    what = f"competitive summary {asin[:20]}"
    if status >= 400:
        errors = _list(found, "errors", what)
        error = "; ".join(f"{e.get('code')}: {str(e.get('message', ''))[:200]}" for e in errors)
        return PriceSnapshotRow(marketplace_id, asin, status, None, None, None, None, None,
                                None, None, None, None, error or f"status {status}", doc)
    featured_seller = featured_amount = featured_currency = None
    for option in _list(found, "featuredBuyingOptions", what):
        if option.get("buyingOptionType") != "New":
            continue
        offers = _list(option, "segmentedFeaturedOffers", what)
        if offers:
            featured_seller = opt_str(offers[0], "sellerId", what)
            featured_amount, featured_currency = _price(offers[0], "listingPrice", what)
        break
    lowest_amount = lowest_currency = None
    lowest_count = None
    for entry in _list(found, "lowestPricedOffers", what):
        if obj(entry.get("lowestPricedOffersInput"), f"{what}.lowestPricedOffersInput") \
                != NEW_CONSUMER:
            continue
        offers = _list(entry, "offers", what)
        lowest_count = len(offers)
        prices = [_price(o, "listingPrice", what) for o in offers]
        priced = [p for p in prices if p[0] is not None]
        if priced:
            lowest_amount, lowest_currency = min(priced, key=lambda p: p[0])  # type: ignore[arg-type,return-value]
    competitive = next((_price(r, "price", what) for r in _list(found, "referencePrices", what)
                        if r.get("name") == "CompetitivePrice"), (None, None))
    return PriceSnapshotRow(
        marketplace_id, asin, status, featured_seller,
        None if featured_seller is None else featured_seller == seller_id,
        featured_amount, featured_currency, lowest_amount, lowest_currency, lowest_count,
        competitive[0], competitive[1], None, doc)


def rows(seller: SellerRecord, marketplace_id: str, asins: list[str],
         records: list[Any]) -> list[PriceSnapshotRow]:
    """The rows of one answer: one per ASIN asked for that Amazon answered (the first)."""
    seen: dict[str, PriceSnapshotRow] = {}
    for record in records:
        row = map_response(seller.selling_partner_id, marketplace_id, record)
        if row.asin in asins:
            seen.setdefault(row.asin, row)
    return list(seen.values())


def write(conn: Connection, seller_id: int, page: list[PriceSnapshotRow],
          at: datetime) -> Written:
    return Written(store.add(conn, seller_id, page, at))
