"""The FBA inventory stream: ``getInventorySummaries`` per seller and marketplace.

One stream per marketplace (``inventory:<marketplaceId>``), because the operation's
granularity is one marketplace (declared in :mod:`worker.sync.registry`). The first run
lists everything (no ``startDateTime``); later runs ask for what changed since the cursor,
minus an overlap. Amazon's ``nextToken`` lives only 30 seconds, so a resumed run usually
re-reads its window from the start (the runner restarts a window whose token is rejected).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Connection

from worker.db.mirror import upsert_inventory
from worker.db.rows import InventoryRow
from worker.db.sellers import SellerRecord
from worker.sync.endpoint import Written
from worker.sync.fields import bad, int_field, opt_obj, opt_str, parse_time, storable
from worker.sync.paging import Query

# Amazon accepts startDateTime at most 18 months back; a window starting earlier is a
# first sync, which asks for everything instead.
MAX_LOOKBACK = timedelta(days=540)


def map_summary(marketplace_id: str, doc: Any) -> InventoryRow:
    """An ``InventorySummary`` (with ``details=true``) -> a typed row. Pure."""
    if not isinstance(doc, dict):
        raise bad("inventory summary is not an object")
    storable(doc, "inventory summary")
    sku = doc.get("sellerSku")
    if not isinstance(sku, str) or not sku:
        raise bad("inventory summary has no sellerSku")
    what = f"inventory {sku}"
    details = opt_obj(doc, "inventoryDetails", what)

    def qty(block: dict[str, Any], key: str) -> int | None:
        return int_field(block, key, what, required=False)

    raw_time = doc.get("lastUpdatedTime")
    return InventoryRow(
        marketplace_id=marketplace_id,
        seller_sku=sku,
        fn_sku=opt_str(doc, "fnSku", what),
        asin=opt_str(doc, "asin", what),
        condition=opt_str(doc, "condition", what),
        product_name=opt_str(doc, "productName", what),
        total_quantity=qty(doc, "totalQuantity"),
        fulfillable_quantity=qty(details, "fulfillableQuantity"),
        inbound_working_quantity=qty(details, "inboundWorkingQuantity"),
        inbound_shipped_quantity=qty(details, "inboundShippedQuantity"),
        inbound_receiving_quantity=qty(details, "inboundReceivingQuantity"),
        reserved_quantity=qty(opt_obj(details, "reservedQuantity", what),
                              "totalReservedQuantity"),
        unfulfillable_quantity=qty(opt_obj(details, "unfulfillableQuantity", what),
                                   "totalUnfulfillableQuantity"),
        researching_quantity=qty(opt_obj(details, "researchingQuantity", what),
                                 "totalResearchingQuantity"),
        last_updated_time=None if raw_time in (None, "") else parse_time(
            raw_time, f"{what}.lastUpdatedTime"),
        raw=doc,
    )


def query(seller: SellerRecord, marketplace_id: str | None, size: int) -> Query:
    """Every request: one marketplace, with details (the page size is Amazon's, 50)."""
    return {"details": True, "granularityType": "Marketplace", "granularityId": marketplace_id,
            "marketplaceIds": [marketplace_id]}


def one_sku(seller: SellerRecord, marketplace_id: str | None,
            sku: str) -> tuple[None, Query]:
    """One SKU's summary (a notification said it changed)."""
    return None, query(seller, marketplace_id, 0) | {"sellerSkus": [sku]}


def write(conn: Connection, seller_id: int, page: list[InventoryRow]) -> Written:
    return Written(upsert_inventory(conn, seller_id, page))
