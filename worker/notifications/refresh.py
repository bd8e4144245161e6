"""Targeted refreshes: re-read from Amazon exactly what a notification says changed.

A notification is only a hint (it may be stale, duplicated or out of order), so spsync never
writes its payload into the mirror: it fetches the current document (``getOrder``, the SKU's
inventory summary, the listing) and writes it through the same newer-wins upserts as the
streams. A late or repeated refresh therefore rewrites nothing.
"""

from __future__ import annotations

from sqlalchemy import Connection, delete

from worker.db.mirror import upsert_inventory, upsert_listings
from worker.db.models import ListingsItem
from worker.db.sellers import SellerRecord
from worker.db.state import make_stream_due
from worker.spapi.client import SellerAuth, SpApiClient
from worker.spapi.errors import MalformedResponseError, NotFoundError
from worker.sync import inventory, listings
from worker.sync.orders import INCLUDED_DATA, OrderPage, orders_spec
from worker.sync.orders_mapping import map_order_2026


def _auth(seller: SellerRecord) -> SellerAuth:
    return SellerAuth(seller.selling_partner_id, seller.region, seller.refresh_token or "")


async def refresh_order(client: SpApiClient, conn: Connection, seller: SellerRecord,
                        order_id: str) -> int:
    """Fetch one order (with its items) and upsert it; rows written.

    v0 sellers have no single-order read with items in spsync: their orders stream is made
    due instead, so the change arrives with the next (immediate) incremental sync.
    """
    if seller.orders_api_version == "v0":
        with conn.begin():
            make_stream_due(conn, seller.id, "orders")
        return 0
    resp = await client.call(_auth(seller), "getOrder", path_params={"orderId": order_id},
                             query={"includedData": INCLUDED_DATA})
    doc = resp.body.get("order") if isinstance(resp.body, dict) else None
    if not isinstance(doc, dict):
        raise MalformedResponseError("getOrder response has no 'order' object",
                                     seller=seller.selling_partner_id, operation="getOrder")
    order, items = map_order_2026(doc)
    with conn.begin():
        return orders_spec(seller).write(conn, seller.id, OrderPage([order], items, None)).rows


async def refresh_inventory(client: SpApiClient, conn: Connection, seller: SellerRecord,
                            sku: str, marketplace_ids: list[str]) -> int:
    """One SKU's FBA inventory summary in each named marketplace the seller syncs."""
    written = 0
    for mid in [m for m in marketplace_ids if m in seller.marketplace_ids]:
        resp = await client.call(_auth(seller), "getInventorySummaries", query={
            "details": True, "granularityType": "Marketplace", "granularityId": mid,
            "marketplaceIds": [mid], "sellerSkus": [sku]})
        rows = [inventory.map_summary(mid, r) for r in inventory.summaries(resp.body)]
        with conn.begin():
            written += upsert_inventory(conn, seller.id, rows)
    return written


async def refresh_listing(client: SpApiClient, conn: Connection, seller: SellerRecord,
                          sku: str, marketplace_id: str) -> int:
    """One listing; a listing Amazon no longer has is removed from the mirror."""
    try:
        resp = await client.call(
            _auth(seller), "getListingsItem",
            path_params={"sellerId": seller.selling_partner_id, "sku": sku},
            query={"marketplaceIds": [marketplace_id],
                   "includedData": list(listings.INCLUDED_DATA)})
    except NotFoundError:
        with conn.begin():
            return int(conn.execute(delete(ListingsItem).where(
                ListingsItem.seller_id == seller.id, ListingsItem.seller_sku == sku,
                ListingsItem.marketplace_id == marketplace_id)).rowcount or 0)
    row = listings.map_item(marketplace_id, resp.body)
    with conn.begin():
        return upsert_listings(conn, seller.id, [row])
