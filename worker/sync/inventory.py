"""The FBA inventory stream: ``getInventorySummaries`` per seller and marketplace.

One stream per marketplace (``inventory:<marketplaceId>``), because the operation's
granularity is one marketplace. The first run lists everything (no ``startDateTime``); later
runs ask for what changed since the cursor, minus an overlap. Amazon's ``nextToken`` lives
only 30 seconds, so a resumed run usually re-reads its window from the start (the runner
restarts a window whose token is rejected).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Connection

from worker.db.mirror import upsert_inventory
from worker.db.rows import InventoryRow
from worker.db.sellers import SellerRecord
from worker.spapi.errors import MalformedResponseError
from worker.sync.fields import bad, int_field, opt_obj, opt_str, parse_time, storable
from worker.sync.runner import StreamRun, StreamSpec, Written, token
from worker.sync.windows import Window, iso

PREFIX = "inventory:"
# Amazon accepts startDateTime at most 18 months back; a window starting earlier is a
# first sync, which asks for everything instead.
MAX_LOOKBACK = timedelta(days=540)


def stream_name(marketplace_id: str) -> str:
    return PREFIX + marketplace_id


def marketplace_of(stream: str) -> str:
    return stream.removeprefix(PREFIX)


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


def summaries(body: Any) -> list[Any]:
    """The inventory summaries of one getInventorySummaries page."""
    return _page(body)[0]


def _page(body: Any) -> tuple[list[Any], str | None]:
    payload = body.get("payload") if isinstance(body, dict) else None
    if not isinstance(payload, dict) or not isinstance(payload.get("inventorySummaries"), list):
        raise MalformedResponseError(
            "getInventorySummaries response has no payload.inventorySummaries")
    pagination = body.get("pagination") or {}
    return payload["inventorySummaries"], token(
        pagination.get("nextToken") if isinstance(pagination, dict) else None)


def inventory_spec(stream: str) -> StreamSpec[list[InventoryRow]]:
    marketplace_id = marketplace_of(stream)

    def query(w: Window, seller: SellerRecord, size: int) -> dict[str, Any]:
        q: dict[str, Any] = {"details": True, "granularityType": "Marketplace",
                             "granularityId": marketplace_id, "marketplaceIds": [marketplace_id]}
        if w.start > w.end - MAX_LOOKBACK:  # the window ends at the run's start
            q["startDateTime"] = iso(w.start)
        return q

    async def rows(run: StreamRun[list[InventoryRow]], records: list[Any]) -> list[InventoryRow]:
        return [map_summary(marketplace_id, r) for r in records]

    def write(conn: Connection, seller_id: int, page: list[InventoryRow]) -> Written:
        return Written(upsert_inventory(conn, seller_id, page))

    return StreamSpec(stream, "getInventorySummaries", "nextToken", query, _page, rows, write)
