"""The orders stream: what to ask, how to page, how to map, where rows go.

Two declarations of one stream — Orders 2026-01-01 ``searchOrders`` (default; items embedded)
and the deprecated v0 ``getOrders`` (+ ``getOrderItems`` per changed order) — both run by the
generic loop in :mod:`worker.sync.runner`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from worker.db import mirror
from worker.db.rows import ItemRow, OrderRow
from worker.db.sellers import SellerRecord
from worker.spapi.errors import MalformedResponseError
from worker.sync.orders_mapping import map_item_v0, map_order_2026, map_order_v0
from worker.sync.runner import StreamRun, StreamSpec, Written, token
from worker.sync.windows import Window, iso

STREAM = "orders"
INCLUDED_DATA = ["FULFILLMENT", "PROCEEDS"]  # never BUYER/RECIPIENT: no PII in the mirror


@dataclass(frozen=True)
class OrderPage:
    orders: list[OrderRow]
    items: list[ItemRow]
    items_of: set[str] | None  # orders whose items were fetched (None: all of them)


# ---------------------------------------------------------------- 2026-01-01 (default)


def _query_2026(w: Window, seller: SellerRecord, size: int) -> dict[str, Any]:
    return {"lastUpdatedAfter": iso(w.start), "lastUpdatedBefore": iso(w.end),
            "marketplaceIds": seller.marketplace_ids, "maxResultsPerPage": size,
            "includedData": INCLUDED_DATA}


def _page_2026(body: Any) -> tuple[list[Any], str | None]:
    if not isinstance(body, dict) or not isinstance(body.get("orders"), list):
        raise MalformedResponseError("searchOrders response has no 'orders' list")
    pagination = body.get("pagination") or {}
    return body["orders"], token(pagination.get("nextToken") if isinstance(pagination, dict)
                                 else None)


async def _rows_2026(run: StreamRun[OrderPage], records: list[Any]) -> OrderPage:
    pairs = [map_order_2026(r) for r in records]
    return OrderPage([o for o, _ in pairs], [i for _, its in pairs for i in its], None)


# ---------------------------------------------------------------- v0 (deprecated fallback)


def _query_v0(w: Window, seller: SellerRecord, size: int) -> dict[str, Any]:
    return {"LastUpdatedAfter": iso(w.start), "LastUpdatedBefore": iso(w.end),
            "MarketplaceIds": seller.marketplace_ids, "MaxResultsPerPage": size}


def _page_v0(body: Any) -> tuple[list[Any], str | None]:
    payload = body.get("payload") if isinstance(body, dict) else None
    if not isinstance(payload, dict) or not isinstance(payload.get("Orders"), list):
        raise MalformedResponseError("getOrders response has no payload.Orders list")
    return payload["Orders"], token(payload.get("NextToken"))


async def _rows_v0(run: StreamRun[OrderPage], records: list[Any]) -> OrderPage:
    """v0 lists orders without items: fetch items of the orders that changed only."""
    orders = [map_order_v0(r) for r in records]
    with run.conn.begin():
        changed = mirror.orders_needing_items(run.conn, run.seller.id, orders)
    items: list[ItemRow] = []
    for order in changed:
        items.extend(await _items_v0(run, order.amazon_order_id))
    return OrderPage(orders, items, {o.amazon_order_id for o in changed})


async def _items_v0(run: StreamRun[OrderPage], order_id: str) -> list[ItemRow]:
    items: list[ItemRow] = []
    next_token: str | None = None
    while True:
        query = {"NextToken": next_token} if next_token else None
        body = (await run.client.call(run.auth, "getOrderItems",
                                      path_params={"orderId": order_id}, query=query)).body
        payload = body.get("payload") if isinstance(body, dict) else None
        if not isinstance(payload, dict) or not isinstance(payload.get("OrderItems"), list):
            raise MalformedResponseError("getOrderItems response has no payload.OrderItems")
        items.extend(map_item_v0(order_id, i) for i in payload["OrderItems"])
        next_token = token(payload.get("NextToken"))
        if next_token is None:
            return items


# ---------------------------------------------------------------- both


def _write(conn: Connection, seller_id: int, page: OrderPage) -> Written:
    written = mirror.upsert_orders(conn, seller_id, page.orders)
    replace_for = written if page.items_of is None else written & page.items_of
    return Written(len(written), mirror.replace_items(conn, seller_id, replace_for, page.items))


SPECS: dict[str, StreamSpec[OrderPage]] = {
    "2026-01-01": StreamSpec(STREAM, "searchOrders", "paginationToken", _query_2026,
                             _page_2026, _rows_2026, _write),
    "v0": StreamSpec(STREAM, "getOrders", "NextToken", _query_v0, _page_v0, _rows_v0, _write),
}


def orders_spec(seller: SellerRecord) -> StreamSpec[OrderPage]:
    return SPECS[seller.orders_api_version]
