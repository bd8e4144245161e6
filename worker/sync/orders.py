"""The orders stream: what to ask, how to map, where rows go.

Two endpoints of one stream (declared in :mod:`worker.sync.registry`): Orders 2026-01-01
``searchOrders`` (default; items embedded) and the deprecated v0 ``getOrders``
(+ ``getOrderItems`` per changed order), both run by the generic loop in
:mod:`worker.sync.runner`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

from sqlalchemy import Connection

from worker.db import mirror
from worker.db.rows import ItemRow, OrderRow
from worker.db.sellers import SellerRecord
from worker.sync import paging
from worker.sync.endpoint import Scope, Written
from worker.sync.orders_mapping import map_item_v0, map_order_2026, map_order_v0
from worker.sync.paging import Query, TokenPaginator

INCLUDED_DATA = ["FULFILLMENT", "PROCEEDS"]  # never BUYER/RECIPIENT: no PII in the mirror
ITEM_PAGES = partial(TokenPaginator, "NextToken", ("payload", "NextToken"))  # getOrderItems


@dataclass(frozen=True)
class OrderPage:
    orders: list[OrderRow]
    items: list[ItemRow]
    items_of: set[str] | None  # orders whose items were fetched (None: all of them)


# ---------------------------------------------------------------- 2026-01-01 (default)


def search_query(seller: SellerRecord, marketplace_id: str | None, size: int) -> Query:
    return {"marketplaceIds": seller.marketplace_ids, "maxResultsPerPage": size,
            "includedData": INCLUDED_DATA}


async def search_rows(scope: Scope, records: list[Any]) -> OrderPage:
    pairs = [map_order_2026(r) for r in records]
    return OrderPage([o for o, _ in pairs], [i for _, its in pairs for i in its], None)


def get_order(seller: SellerRecord, marketplace_id: str | None,
              order_id: str) -> tuple[dict[str, str], Query]:
    """``getOrder`` of one order, with the same blocks as ``searchOrders``."""
    return {"orderId": order_id}, {"includedData": INCLUDED_DATA}


# ---------------------------------------------------------------- v0 (deprecated fallback)


def v0_query(seller: SellerRecord, marketplace_id: str | None, size: int) -> Query:
    return {"MarketplaceIds": seller.marketplace_ids, "MaxResultsPerPage": size}


async def v0_rows(scope: Scope, records: list[Any]) -> OrderPage:
    """v0 lists orders without items: fetch items of the orders that changed only."""
    orders = [map_order_v0(r) for r in records]
    with scope.conn.begin():
        changed = mirror.orders_needing_items(scope.conn, scope.seller.id, orders)
    items: list[ItemRow] = []
    for order in changed:
        items.extend(await _items_v0(scope, order.amazon_order_id))
    return OrderPage(orders, items, {o.amazon_order_id for o in changed})


async def _items_v0(scope: Scope, order_id: str) -> list[ItemRow]:
    async def fetch(query: Query) -> Any:
        return (await scope.client.call(scope.auth, "getOrderItems",
                                        path_params={"orderId": order_id}, query=query)).body

    return [map_item_v0(order_id, item)
            async for page in paging.pages(fetch, {}, ITEM_PAGES())
            for item in paging.records(page, ("payload", "OrderItems"), "getOrderItems")]


# ---------------------------------------------------------------- both


def write(conn: Connection, seller_id: int, page: OrderPage) -> Written:
    written = mirror.upsert_orders(conn, seller_id, page.orders)
    replace_for = written.ids if page.items_of is None else written.ids & page.items_of
    return Written(len(written.ids), mirror.replace_items(conn, seller_id, replace_for,
                                                          page.items, new=written.new))

