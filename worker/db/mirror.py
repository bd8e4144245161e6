"""Writes into the mirror tables, all through :mod:`worker.db.upsert`: orders (their items
replaced per order), FBA inventory and listings, from the API or (``from_report``) a report.

Callers own the transaction (one per page).
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, column, select, values
from sqlalchemy.types import DateTime, Text

from worker.db.models import InventorySummary, ListingsItem, Order, OrderItem
from worker.db.rows import InventoryRow, ItemRow, ListingRow, OrderRow, with_seller
from worker.db.upsert import delete_vanished, run, upsert_newer, upsert_steps


@dataclass(frozen=True)
class OrdersWritten:
    ids: set[str]  # the orders written (new or newer)
    new: set[str]  # those of them the mirror did not hold: no items to replace


def upsert_orders(conn: Connection, seller_id: int, rows: Sequence[OrderRow],
                  *, from_report: bool = False) -> OrdersWritten:
    """Insert/refresh orders; return the ids actually written (new or newer)."""
    return run(upsert_orders_steps(conn, seller_id, rows, from_report=from_report))


def upsert_orders_steps(conn: Connection, seller_id: int, rows: Sequence[OrderRow],
                        *, from_report: bool = False) -> Generator[None, None, OrdersWritten]:
    """:func:`upsert_orders` as steps (:func:`~worker.db.upsert.upsert_steps`)."""
    written = yield from upsert_steps(
        conn, Order, [with_seller(r, seller_id) for r in rows],
        keys=("seller_id", "amazon_order_id"), updated="last_update_date",
        from_report=from_report, inserted=True)
    return OrdersWritten({order_id for _, order_id, _ in written},
                         {order_id for _, order_id, new in written if new})


def upsert_inventory(conn: Connection, seller_id: int, rows: Sequence[InventoryRow],
                     *, from_report: bool = False) -> int:
    """Insert/refresh FBA inventory summaries; return how many were written."""
    return len(upsert_newer(conn, InventorySummary, [with_seller(r, seller_id) for r in rows],
                            keys=("seller_id", "marketplace_id", "seller_sku"),
                            updated="last_updated_time", from_report=from_report))


def upsert_listings(conn: Connection, seller_id: int, rows: Sequence[ListingRow],
                    *, from_report: bool = False) -> int:
    """Insert/refresh listings; return how many were written."""
    return len(upsert_newer(conn, ListingsItem, [with_seller(r, seller_id) for r in rows],
                            keys=("seller_id", "marketplace_id", "seller_sku"),
                            updated="last_updated_date", from_report=from_report))


def replace_items(
    conn: Connection, seller_id: int, order_ids: Iterable[str], items: Sequence[ItemRow],
    *, new: Iterable[str] = (),
) -> int:
    """Make the items of ``order_ids`` exactly ``items`` (upsert + delete the vanished).

    The vanished are deleted by one statement on the server (the kept keys sent as two
    arrays), not found by a query first; orders in ``new`` (just inserted) have none to
    delete, and when every order is new there is no delete at all."""
    return run(replace_items_steps(conn, seller_id, order_ids, items, new=new))


def replace_items_steps(
    conn: Connection, seller_id: int, order_ids: Iterable[str], items: Sequence[ItemRow],
    *, new: Iterable[str] = (),
) -> Generator[None, None, int]:
    """:func:`replace_items` as steps (:func:`~worker.db.upsert.upsert_steps`): the stored
    orders' items first, then the new orders' items, whose ``COPY`` may pause."""
    ids = set(order_ids)
    mine = [i for i in items if i.amazon_order_id in ids]
    fresh = set(new)
    stored = ids - fresh
    keys = ("seller_id", "amazon_order_id", "order_item_id")
    if stored:
        delete_vanished(conn, OrderItem, seller_id, "amazon_order_id", stored, "order_item_id",
                        [(i.amazon_order_id, i.order_item_id) for i in mine
                         if i.amazon_order_id in stored])
        upsert_newer(conn, OrderItem, [with_seller(i, seller_id) for i in mine
                                       if i.amazon_order_id in stored], keys=keys, updated=None)
    # a new order's items are new too: not looked up first
    yield from upsert_steps(conn, OrderItem, [with_seller(i, seller_id) for i in mine
                                              if i.amazon_order_id in fresh],
                            keys=keys, updated=None, new=True)
    return len(mine)


def orders_needing_items(
    conn: Connection, seller_id: int, rows: Sequence[OrderRow]
) -> list[OrderRow]:
    """Orders of a v0 page that are new or newer than the mirror (only those need items)."""
    if not rows:
        return []
    incoming = values(
        column("amazon_order_id", Text), column("last_update_date", DateTime(timezone=True)),
        name="incoming",
    ).data([(r.amazon_order_id, r.last_update_date) for r in rows])
    stored = dict(
        conn.execute(
            select(Order.amazon_order_id, Order.last_update_date)
            .join(incoming, incoming.c.amazon_order_id == Order.amazon_order_id)
            .where(Order.seller_id == seller_id)
        ).all()
    )
    return [r for r in rows if r.amazon_order_id not in stored
            or stored[r.amazon_order_id] < r.last_update_date]
