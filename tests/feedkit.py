"""Rows for change-feed tests, written through worker/db/mirror.py as the syncs write them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine, text

from tests.e2e.procs import wait
from worker.db.rows import ItemRow, OrderRow

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def new_seller(conn: Connection, spid: str) -> int:
    return int(conn.execute(text(
        "INSERT INTO sellers (selling_partner_id, region, marketplace_ids) "
        "VALUES (:s, 'NA', '{ATVPDKIKX0DER}') RETURNING id"), {"s": spid}).scalar_one())


def order(oid: str, version: int, status: str = "UNSHIPPED") -> OrderRow:
    """Order ``oid`` as Amazon shows it at ``version`` (a newer version is a newer update)."""
    return OrderRow(
        amazon_order_id=oid, order_status=status, purchase_date=T0,
        last_update_date=T0 + timedelta(seconds=version), order_total=Decimal("10.00"),
        currency="USD", marketplace_id="ATVPDKIKX0DER", fulfillment_channel="MFN",
        api_version="2026-01-01", raw={"orderId": oid, "v": version, "status": status})


def item(oid: str, n: int, qty: int = 1) -> ItemRow:
    return ItemRow(amazon_order_id=oid, order_item_id=f"{oid}-{n}", seller_sku=f"SKU-{n}",
                   asin=None, title=None, quantity_ordered=qty, quantity_shipped=0,
                   item_price=Decimal("5.00"), currency="USD",
                   raw={"orderItemId": f"{oid}-{n}", "qty": qty})


def feed_keys(changes: list[Any]) -> list[tuple[str, str, str]]:
    """(entity, operation, key as sorted text) of each change."""
    return [(c.entity, c.operation, ",".join(str(v) for _, v in sorted(c.key.items())))
            for c in changes]


def settled(engine: Engine, timeout: float = 60.0) -> None:
    """Wait until every change written so far is readable. The feed holds a change back
    while any older transaction of the whole server is still running, and other tests (other
    databases, other test processes) run transactions on the same server."""

    def readable() -> bool:
        with engine.begin() as conn:
            return not conn.execute(text(
                "SELECT EXISTS (SELECT 1 FROM changes WHERE txid >= "
                "pg_snapshot_xmin(pg_current_snapshot())::text::bigint)")).scalar()

    wait(readable, timeout, "the feed to settle", every=0.05)
