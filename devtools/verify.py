"""Compare the mirror with the simulator's truth (used by the demo's stop condition)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, select

from worker.db.models import InventorySummary, ListingsItem, Order, OrderItem
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


def compare_inventory(conn: Connection, seller_id: int, truth: dict[str, Any]) -> list[str]:
    """Differences between ``inventory_summaries`` and ``/_sim/truth/inventory``."""
    fields = ("fulfillable_quantity", "inbound_working_quantity", "inbound_shipped_quantity",
              "inbound_receiving_quantity", "reserved_quantity", "unfulfillable_quantity")
    mirror = {(r.marketplace_id, r.seller_sku): r for r in conn.execute(
        select(*InventorySummary.__table__.c).where(InventorySummary.seller_id == seller_id))}
    diffs = [f"{key}: not at Amazon" for key in set(mirror) - {
        (t["marketplaceId"], t["sellerSku"]) for t in truth["inventory"]}]
    for t in truth["inventory"]:
        got = mirror.get((t["marketplaceId"], t["sellerSku"]))
        want = tuple(t[_camel(f)] for f in fields)
        if got is None:
            diffs.append(f"{t['sellerSku']}@{t['marketplaceId']}: missing")
        elif tuple(getattr(got, f) for f in fields) != want:
            diffs.append(f"{t['sellerSku']}@{t['marketplaceId']}: quantities differ")
    return diffs


def compare_listings(conn: Connection, seller_id: int, truth: dict[str, Any]) -> list[str]:
    """Differences between ``listings_items`` and ``/_sim/truth/listings``: status, ASIN,
    price and issues (code, severity) of every SKU in every marketplace."""
    mirror = {(r.marketplace_id, r.seller_sku): r for r in conn.execute(
        select(*ListingsItem.__table__.c).where(ListingsItem.seller_id == seller_id))}
    diffs = [f"{key}: not at Amazon" for key in set(mirror) - {
        (t["marketplaceId"], t["sku"]) for t in truth["listings"]}]
    for t in truth["listings"]:
        where = f"{t['sku']}@{t['marketplaceId']}"
        got = mirror.get((t["marketplaceId"], t["sku"]))
        if got is None:
            diffs.append(f"{where}: missing")
            continue
        if sorted(got.status) != sorted(t["status"]):
            diffs.append(f"{where}: status {got.status} != {t['status']}")
        if got.asin != t["asin"]:
            diffs.append(f"{where}: asin differs")
        if got.price != Decimal(t["price"]):
            diffs.append(f"{where}: price {got.price} != {t['price']}")
        if _issue_keys(got.issues) != _issue_keys(t["issues"]):
            diffs.append(f"{where}: issues differ")
    return diffs


def _issue_keys(issues: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return sorted((i["code"], i["severity"]) for i in issues)


def _camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(part.title() for part in rest)
