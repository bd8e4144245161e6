"""Compare the mirror with the simulator's truth (used by the demo's stop condition)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from worker.db.models import Order, OrderItem
from worker.sync.fields import parse_time
from worker.sync.orders_mapping import normalise_status


def compare_orders(conn: Connection, seller_id: int, truth: dict[str, Any]) -> list[str]:
    """Differences between the mirror and ``/_sim/truth/orders`` (empty list: identical)."""
    mirror = {o.amazon_order_id: o for o in conn.execute(
        select(*Order.__table__.c).where(Order.seller_id == seller_id))}
    items: dict[str, dict[str, tuple[int, int | None]]] = {}
    for i in conn.execute(
            select(*OrderItem.__table__.c).where(OrderItem.seller_id == seller_id)):
        items.setdefault(i.amazon_order_id, {})[i.order_item_id] = (
            i.quantity_ordered, i.quantity_shipped)
    diffs: list[str] = []
    expected_ids = {t["AmazonOrderId"] for t in truth["orders"]}
    diffs += [f"{oid}: not at Amazon" for oid in set(mirror) - expected_ids]
    for t in truth["orders"]:
        oid = t["AmazonOrderId"]
        got = mirror.get(oid)
        if got is None:
            diffs.append(f"{oid}: missing")
            continue
        if got.order_status != normalise_status(t["OrderStatus"]):
            diffs.append(f"{oid}: status {got.order_status} != {t['OrderStatus']}")
        if got.last_update_date != parse_time(t["LastUpdateDate"], "LastUpdateDate"):
            diffs.append(f"{oid}: last_update_date differs")
        want = {i["OrderItemId"]: (i["QuantityOrdered"], i.get("QuantityShipped"))
                for i in t["OrderItems"]}
        if items.get(oid, {}) != want:
            diffs.append(f"{oid}: items differ")
    return diffs
