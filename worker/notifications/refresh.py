"""Targeted refreshes: re-read from Amazon exactly what a notification says changed.

A notification is only a hint (it may be stale, duplicated or out of order), so spsync never
writes its payload into the mirror: it fetches the current document (``getOrder``, the SKU's
inventory summary, the listing) and writes it through the same newer-wins upserts as the
streams. A late or repeated refresh therefore rewrites nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, delete

from worker.db.models import ListingsItem
from worker.db.sellers import SellerRecord
from worker.db.state import make_stream_due
from worker.spapi.client import SellerAuth, SpApiClient
from worker.spapi.errors import NotFoundError
from worker.sync.declaration import StreamKind
from worker.sync.registry import INVENTORY, LISTINGS, ORDERS


@dataclass(frozen=True)
class _Scope:
    """What a stream's mapper may use, outside a stream run."""

    conn: Connection
    client: SpApiClient
    seller: SellerRecord
    marketplace_id: str | None

    @property
    def auth(self) -> SellerAuth:
        return SellerAuth(self.seller.selling_partner_id, self.seller.region,
                          self.seller.refresh_token or "")


async def _refresh(client: SpApiClient, conn: Connection, seller: SellerRecord,
                   kind: StreamKind, marketplace_id: str | None, key: str) -> int:
    """Read one record again with its kind's lookup; write it with the kind's mapper and
    write (newer wins). A kind without a lookup (v0 orders) has its stream made due, so
    the change arrives with the next (immediate) incremental sync. Rows written."""
    endpoint = kind.endpoint_of(seller)
    if endpoint.lookup is None:
        with conn.begin():
            make_stream_due(conn, seller.id, kind.stream(marketplace_id))
        return 0
    scope = _Scope(conn, client, seller, marketplace_id)
    path, query = endpoint.lookup.request(seller, marketplace_id, key)
    resp = await client.call(scope.auth, endpoint.lookup.operation, path_params=path,
                             query=query)
    rows = await endpoint.rows(scope, endpoint.lookup.records(resp.body))
    with conn.begin():
        return endpoint.write(conn, seller.id, rows).rows


async def refresh_order(client: SpApiClient, conn: Connection, seller: SellerRecord,
                        order_id: str) -> int:
    """Fetch one order (with its items) and upsert it; rows written (v0 sellers: 0, their
    orders stream is made due instead)."""
    return await _refresh(client, conn, seller, ORDERS, None, order_id)


async def refresh_inventory(client: SpApiClient, conn: Connection, seller: SellerRecord,
                            sku: str, marketplace_ids: list[str]) -> int:
    """One SKU's FBA inventory summary in each named marketplace the seller syncs."""
    written = 0
    for mid in [m for m in marketplace_ids if m in seller.marketplace_ids]:
        written += await _refresh(client, conn, seller, INVENTORY, mid, sku)
    return written


async def refresh_listing(client: SpApiClient, conn: Connection, seller: SellerRecord,
                          sku: str, marketplace_id: str) -> int:
    """One listing; a listing Amazon no longer has is removed from the mirror."""
    try:
        return await _refresh(client, conn, seller, LISTINGS, marketplace_id, sku)
    except NotFoundError:
        with conn.begin():
            return int(conn.execute(delete(ListingsItem).where(
                ListingsItem.seller_id == seller.id, ListingsItem.seller_sku == sku,
                ListingsItem.marketplace_id == marketplace_id)).rowcount or 0)
