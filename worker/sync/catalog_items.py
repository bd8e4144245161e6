"""The ``catalog`` stream: Amazon's catalog entry of every ASIN a seller lists or sold, per
marketplace (Catalog Items 2022-04-01 ``searchCatalogItems`` by ``identifiers``, 20 ASINs a
call, the model's maximum), declared in :mod:`worker.sync.registry` as a
:class:`~worker.sync.declaration.Refresh`: each run reads the ASINs with no entry yet or an
entry older than the kind's maximum age (``SPSYNC_CATALOG_OVERLAP_SECONDS``, default 7 days).

An ASIN Amazon does not return is written as not ``found`` (its entry empty), so it is asked
again only after the maximum age, like the others. The typed columns are the marketplace's
summary (name, brand, manufacturer, browse classification), its product type and its first
classification sales rank; everything asked for is in ``raw``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from worker.db import catalog_items as store
from worker.db.rows import CatalogItemRow
from worker.db.sellers import SellerRecord
from worker.sync.endpoint import Written
from worker.sync.fields import bad, obj, opt_str, req_str, storable
from worker.sync.finances import array

BATCH = 20  # identifiers: "Max count: 20" (model)
INCLUDED = ("summaries", "classifications", "dimensions", "identifiers", "images",
            "productTypes", "salesRanks")


def query(seller: SellerRecord, marketplace_id: str, asins: list[str]) -> dict[str, Any]:
    return {"identifiers": ",".join(asins), "identifiersType": "ASIN",
            "marketplaceIds": marketplace_id, "includedData": ",".join(INCLUDED),
            "pageSize": BATCH}


def _for_market(doc: dict[str, Any], key: str, marketplace_id: str,
                what: str) -> dict[str, Any] | None:
    """The entry of ``doc[key]`` (a per-marketplace array) for ``marketplace_id``."""
    for entry in array(doc, key, what):
        entry = obj(entry, f"{what}.{key}[]")
        if entry.get("marketplaceId") == marketplace_id:
            return entry
    return None


def _rank(ranks: dict[str, Any] | None, what: str) -> tuple[int | None, str | None]:
    for key in ("classificationRanks", "displayGroupRanks"):
        found = (ranks or {}).get(key)
        if isinstance(found, list) and found:
            first = obj(found[0], f"{what}.salesRanks.{key}[]")
            rank = first.get("rank")
            if not isinstance(rank, int) or isinstance(rank, bool) or not 0 < rank < 2**31:
                raise bad(f"{what}.salesRanks.{key}[].rank is not a positive integer")
            return rank, opt_str(first, "title", what)
    return None, None


def map_item(marketplace_id: str, doc: Any) -> CatalogItemRow:
    """An ``Item`` -> its row for ``marketplace_id``. Pure."""
    doc = obj(doc, "catalog item")
    storable(doc, "catalog item")
    asin = req_str(doc, "asin", "catalog item")
    what = f"catalog item {asin[:20]}"
    summary = _for_market(doc, "summaries", marketplace_id, what) or {}
    browse = summary.get("browseClassification")
    kind = _for_market(doc, "productTypes", marketplace_id, what) or {}
    rank, title = _rank(_for_market(doc, "salesRanks", marketplace_id, what), what)
    return CatalogItemRow(
        marketplace_id=marketplace_id, asin=asin, found=True,
        item_name=opt_str(summary, "itemName", what), brand=opt_str(summary, "brand", what),
        manufacturer=opt_str(summary, "manufacturer", what),
        product_type=opt_str(kind, "productType", what),
        browse_classification=opt_str(obj(browse, f"{what}.browseClassification"),
                                      "displayName", what) if browse is not None else None,
        sales_rank=rank, sales_rank_title=title, raw=doc)


def missing(marketplace_id: str, asin: str) -> CatalogItemRow:
    """An ASIN asked for and not returned: Amazon's catalog has no such item there."""
    return CatalogItemRow(marketplace_id, asin, False, None, None, None, None, None, None, None,
                          {})


def rows(seller: SellerRecord, marketplace_id: str, asins: list[str],
         records: list[Any]) -> list[CatalogItemRow]:
    """The rows of one answer: every item returned (only those asked for) and a not-found row
    for each ASIN asked for and not returned."""
    found = {r.asin: r for r in (map_item(marketplace_id, d) for d in records)
             if r.asin in asins}
    return [found.get(a) or missing(marketplace_id, a) for a in asins]


def write(conn: Connection, seller_id: int, page: list[CatalogItemRow],
          at: datetime) -> Written:
    return Written(store.upsert(conn, seller_id, page, at))
