"""Writing ``price_snapshots`` (a history: every read is a new row) and choosing which ASINs
the ``prices`` stream reads next."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, insert, text

from worker.db.catalog_items import keys_due
from worker.db.models import SYNC_VERSION, PriceSnapshot
from worker.db.rows import PriceSnapshotRow

# The ASINs the seller lists in the marketplace whose last snapshot is missing or older than
# the maximum age; the never-read first, then the oldest.
_DUE = text("""
SELECT l.asin FROM (
    SELECT DISTINCT asin FROM listings_items
    WHERE seller_id = :seller AND marketplace_id = :market AND asin IS NOT NULL
) l
LEFT JOIN LATERAL (
    SELECT max(taken_at) AS last FROM price_snapshots p
    WHERE p.seller_id = :seller AND p.marketplace_id = :market AND p.asin = l.asin
) s ON true
WHERE s.last IS NULL OR s.last < :before
ORDER BY s.last NULLS FIRST, l.asin
LIMIT :limit
""")


def due_asins(conn: Connection, seller_id: int, marketplace_id: str, before: datetime,
              limit: int) -> list[str]:
    return keys_due(conn, _DUE, seller_id, marketplace_id, before, limit)


def add(conn: Connection, seller_id: int, rows: Sequence[PriceSnapshotRow],
        at: datetime) -> int:
    """One new snapshot per row, taken ``at`` (the run's clock)."""
    if not rows:
        return 0
    stmt = insert(PriceSnapshot).values(taken_at=at,
                                        sync_version=SYNC_VERSION.next_value())
    conn.execute(stmt, [{**vars(r), "seller_id": seller_id} for r in rows])
    return len(rows)
