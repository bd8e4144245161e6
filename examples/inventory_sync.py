"""Multi-marketplace inventory sync for merchant-fulfilled (MFN) SKUs, as a feed consumer.

    python examples/inventory_sync.py [DATABASE_URL]

follows the change feed as consumer ``inventory-sync`` until interrupted
(docs/recipes/multi-marketplace-inventory.md explains the model, the race the safety buffer
covers, and the audit; tests/integration/test_inventory_sync_recipe.py runs it against the
simulator while orders arrive).

On every change that can move a merchant SKU's stock or offer (``orders``/``order_items``:
units sold; ``listings_items``: a quantity the seller or Amazon changed) it recomputes the
quantity to offer in each of the seller's marketplaces from the mirror and the merchant's
stock table, and queues a ``patchListingsItem`` through the outbox for every marketplace
whose offered quantity differs. ``inventory_summaries`` changes (FBA: Amazon's own stock,
which no patch can set) are recorded and patch nothing. Every step goes into
``inventory_sync_audit`` in the transaction that moves the consumer's feed position, so
each is recorded exactly once.

The stock figure is the merchant's: ``inventory_sync_stock`` holds, per seller and SKU, the
units free to sell at a count (``counted`` at ``counted_at``) plus units ``received``
since; the merchant's warehouse system writes it (:func:`record_count`,
:func:`record_receipt`). Available = counted + received - units of MFN orders placed since
the count (cancelled ones excepted), as far as the mirror has seen them.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, create_engine, text

from worker.db.changes import Change
from worker.db.engine import sqlalchemy_url
from worker.feed.follow import follow_in_db
from worker.outbox import InvalidCommand, enqueue_command

CONSUMER = "inventory-sync"
SAFETY_BUFFER = 1  # units held back per marketplace; see split_evenly
KEY_PREFIX = "inventory-sync"
TERMINAL = ("accepted", "rejected", "failed", "unknown")

TABLES = (
    """CREATE TABLE IF NOT EXISTS inventory_sync_stock (
        seller_id bigint NOT NULL REFERENCES sellers (id) ON DELETE CASCADE,
        seller_sku text NOT NULL,
        counted integer NOT NULL CHECK (counted >= 0),
        counted_at timestamptz NOT NULL,
        received integer NOT NULL DEFAULT 0 CHECK (received >= 0),
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (seller_id, seller_sku))""",
    """CREATE TABLE IF NOT EXISTS inventory_sync_audit (
        id bigserial PRIMARY KEY,
        seller_id bigint NOT NULL,
        seller_sku text NOT NULL,
        marketplace_id text NOT NULL,
        step text NOT NULL CHECK (step IN ('seen', 'computed', 'queued', 'skipped')),
        entity text,
        available integer,
        quantity integer,
        offered integer,
        reason text,
        position numeric NOT NULL,
        outbox_id bigint,
        at timestamptz NOT NULL DEFAULT now())""",
    """CREATE UNIQUE INDEX IF NOT EXISTS inventory_sync_audit_step_idx
        ON inventory_sync_audit (seller_id, seller_sku, marketplace_id, step, position)""",
)

# Units of MFN orders placed since the count; cancelled orders gave theirs back.
AVAILABLE = text("""
    SELECT s.counted + s.received - coalesce((
        SELECT sum(i.quantity_ordered) FROM order_items i
        JOIN orders o USING (seller_id, amazon_order_id)
        WHERE i.seller_id = s.seller_id AND i.seller_sku = s.seller_sku
          AND o.fulfillment_channel = 'MFN' AND o.order_status <> 'CANCELLED'
          AND o.purchase_date >= s.counted_at), 0)
    FROM inventory_sync_stock s WHERE s.seller_id = :seller AND s.seller_sku = :sku""")
LISTINGS = text("""
    SELECT l.marketplace_id, l.product_type, l.quantity, l.synced_at
    FROM listings_items l JOIN sellers s ON s.id = l.seller_id
    WHERE l.seller_id = :seller AND l.seller_sku = :sku
      AND l.marketplace_id = ANY (s.marketplace_ids)
    ORDER BY array_position(s.marketplace_ids, l.marketplace_id)""")
ORDER_SKUS = text("""
    SELECT DISTINCT i.seller_sku, o.marketplace_id FROM order_items i
    JOIN orders o USING (seller_id, amazon_order_id)
    JOIN inventory_sync_stock s ON s.seller_id = i.seller_id AND s.seller_sku = i.seller_sku
    WHERE i.seller_id = :seller AND i.amazon_order_id = :order
      AND (CAST(:item AS text) IS NULL OR i.order_item_id = :item)
      AND o.fulfillment_channel = 'MFN' AND o.marketplace_id IS NOT NULL""")
MANAGED = text("SELECT 1 FROM inventory_sync_stock WHERE seller_id = :seller AND seller_sku = :sku")
LAST_QUEUED = text("""
    SELECT a.quantity, o.status, o.finished_at FROM inventory_sync_audit a
    LEFT JOIN outbox o ON o.id = a.outbox_id
    WHERE a.seller_id = :seller AND a.seller_sku = :sku AND a.marketplace_id = :market
      AND a.step = 'queued'
    ORDER BY a.id DESC LIMIT 1""")
AUDIT = text("""
    INSERT INTO inventory_sync_audit (seller_id, seller_sku, marketplace_id, step, entity,
        available, quantity, offered, reason, position, outbox_id)
    VALUES (:seller, :sku, :market, :step, :entity, :available, :quantity, :offered, :reason,
        CAST(:position AS numeric), :outbox_id)""")

Allocate = Callable[[int, list[str]], dict[str, int]]


def split_evenly(buffer: int = SAFETY_BUFFER) -> Allocate:
    """Disjoint, even shares of the available units, each less ``buffer``: the offers never
    add up to more than the stock, and ``buffer`` units per offering marketplace absorb the
    sales the mirror has not seen yet when a patch (an absolute quantity) lands.

    ``markets`` come in the seller's order (main marketplace first). When the stock is too
    low for every marketplace to offer a unit beyond its buffer, only the first ones offer
    (each needs ``buffer + 1`` units), so the units held back stay ``buffer`` per offering
    marketplace instead of growing with the number of marketplaces."""

    def allocate(available: int, markets: list[str]) -> dict[str, int]:
        quantities = dict.fromkeys(markets, 0)
        offering = markets[:min(len(markets), max(available, 0) // (buffer + 1))]
        if offering:
            base, extra = divmod(available, len(offering))
            for i, market in enumerate(offering):
                quantities[market] = base + (i < extra) - buffer
        return quantities

    return allocate


@dataclass(frozen=True)
class Offer:
    """A marketplace's listing of the SKU, as the mirror has it."""

    marketplace_id: str
    product_type: str | None
    quantity: int | None
    synced_at: datetime


class InventorySync:
    """The consumer: ``handle(conn, changes)`` for :func:`follow_in_db`."""

    def __init__(self, allocate: Allocate | None = None) -> None:
        self.allocate = allocate or split_evenly()

    def handle(self, conn: Connection, changes: list[Change]) -> None:
        touched: dict[tuple[int, str], int] = {}  # (seller, SKU) -> its last change here
        for change in changes:
            for sku, _market in self._seen(conn, change):
                touched[(change.seller_id, sku)] = change.position
        for (seller_id, sku), position in touched.items():
            self.recompute(conn, seller_id, sku, position)

    def _seen(self, conn: Connection, change: Change) -> list[tuple[str, str]]:
        """Audit what the change is about; the (managed SKU, marketplace) pairs to recompute."""
        pairs = list(_affected(conn, change))
        for sku, market in pairs:
            _audit(conn, change.seller_id, sku, market, "seen", change.position,
                   entity=change.entity)
        if change.entity == "inventory_summaries":
            sku, market = change.key["seller_sku"], change.key["marketplace_id"]
            _audit(conn, change.seller_id, sku, market, "seen", change.position,
                   entity=change.entity)
            _audit(conn, change.seller_id, sku, market, "skipped", change.position,
                   entity=change.entity, reason="FBA: the quantity is Amazon's own")
        return pairs

    def recompute(self, conn: Connection, seller_id: int, sku: str, position: int) -> None:
        """Compute the SKU's offer per marketplace; queue a patch where the mirror differs."""
        available = conn.execute(AVAILABLE, {"seller": seller_id, "sku": sku}).scalar()
        offers = [Offer(*r) for r in conn.execute(LISTINGS, {"seller": seller_id, "sku": sku})]
        if available is None or not offers:
            return
        quantities = self.allocate(int(available), [o.marketplace_id for o in offers])
        for offer in offers:
            quantity = quantities[offer.marketplace_id]
            about = {"seller_id": seller_id, "sku": sku, "market": offer.marketplace_id,
                     "position": position, "available": available, "quantity": quantity,
                     "offered": offer.quantity}
            _audit(conn, **about, step="computed")
            reason = _unchanged(conn, seller_id, sku, offer, quantity)
            if reason:
                _audit(conn, **about, step="skipped", reason=reason)
                continue
            try:
                outbox_id = enqueue_command(
                    conn, seller_id, "patchListingsItem", patch(sku, offer, quantity),
                    idempotency_key=f"{KEY_PREFIX}:{seller_id}:{sku}:{offer.marketplace_id}:"
                                    f"{position}")
            except InvalidCommand as error:  # checked before any write: the batch goes on
                _audit(conn, **about, step="skipped", reason=f"cannot be queued: {error}")
                continue
            _audit(conn, **about, step="queued", outbox_id=outbox_id)


def _affected(conn: Connection, change: Change) -> Iterable[tuple[str, str]]:
    if change.entity in ("orders", "order_items"):
        return [(r[0], r[1]) for r in conn.execute(ORDER_SKUS, {
            "seller": change.seller_id, "order": change.key["amazon_order_id"],
            "item": change.key.get("order_item_id")})]
    if change.entity == "listings_items":
        sku = change.key["seller_sku"]
        if conn.execute(MANAGED, {"seller": change.seller_id, "sku": sku}).first():
            return [(sku, change.key["marketplace_id"])]
    return []


def _unchanged(conn: Connection, seller_id: int, sku: str, offer: Offer,
               quantity: int) -> str | None:
    """Why no patch is needed, or None. A patch we queued for this quantity still counts
    while it is in flight or accepted after the mirror last read the listing."""
    if offer.product_type is None:
        return "no product type in the mirror (a report row): cannot patch"
    if offer.quantity == quantity:
        return "offered quantity already equal"
    last = conn.execute(LAST_QUEUED, {"seller": seller_id, "sku": sku,
                                      "market": offer.marketplace_id}).first()
    if last is None or last.quantity != quantity:
        return None
    if last.status is not None and last.status not in TERMINAL:
        return "the same quantity is queued already"
    if last.status == "accepted" and (last.finished_at or offer.synced_at) >= offer.synced_at:
        return "the same quantity was accepted after the mirror last read the listing"
    return None


def patch(sku: str, offer: Offer, quantity: int) -> dict[str, Any]:
    """The ``patchListingsItem`` params setting ``quantity`` in one marketplace."""
    return {"sku": sku, "marketplaceIds": [offer.marketplace_id],
            "productType": offer.product_type,
            "patches": [{"op": "replace", "path": "/attributes/fulfillment_availability",
                         "value": [{"fulfillment_channel_code": "DEFAULT",
                                    "quantity": quantity}]}]}


def _audit(conn: Connection, seller_id: int, sku: str, market: str, step: str,
           position: int, **values: Any) -> None:
    row = {"entity": None, "available": None, "quantity": None, "offered": None,
           "reason": None, "outbox_id": None, **values}
    conn.execute(AUDIT, {"seller": seller_id, "sku": sku, "market": market, "step": step,
                         "position": position, **row})


def ensure_tables(conn: Connection) -> None:
    """Create the example's two tables if they are missing (no migration: they are ours)."""
    for statement in TABLES:
        conn.execute(text(statement))


def record_count(conn: Connection, seller_id: int, sku: str, units: int,
                 counted_at: datetime) -> None:
    """The warehouse counted ``units`` free to sell at ``counted_at`` (receipts reset)."""
    conn.execute(text("""
        INSERT INTO inventory_sync_stock (seller_id, seller_sku, counted, counted_at)
        VALUES (:seller, :sku, :units, :at)
        ON CONFLICT (seller_id, seller_sku) DO UPDATE SET counted = excluded.counted,
            counted_at = excluded.counted_at, received = 0, updated_at = now()"""),
        {"seller": seller_id, "sku": sku, "units": units, "at": counted_at})


def record_receipt(conn: Connection, seller_id: int, sku: str, units: int) -> None:
    """The warehouse received ``units`` more of a SKU it counted before."""
    conn.execute(text("""
        UPDATE inventory_sync_stock SET received = received + :units, updated_at = now()
        WHERE seller_id = :seller AND seller_sku = :sku"""),
        {"seller": seller_id, "sku": sku, "units": units})


def run(url: str, *, stop: Callable[[], bool] | None = None,
        sync: InventorySync | None = None, poll_seconds: float = 5.0) -> None:
    """Create the tables, then follow the feed until ``stop()`` is true."""
    engine = create_engine(sqlalchemy_url(url))
    try:
        with engine.begin() as conn:
            ensure_tables(conn)
        follow_in_db(engine, CONSUMER, (sync or InventorySync()).handle, stop=stop,
                     poll_seconds=poll_seconds)
    finally:
        engine.dispose()


def main(argv: list[str]) -> int:
    url = argv[1] if len(argv) > 1 else os.environ.get("DATABASE_URL", "")
    if not url:
        print("usage: python examples/inventory_sync.py DATABASE_URL", file=sys.stderr)
        return 2
    with contextlib.suppress(KeyboardInterrupt):
        run(url)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
