"""Writing ``catalog_items`` and choosing which ASINs the ``catalog`` stream reads next."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, TextClause, text, tuple_, update

from worker.db.models import CatalogItem
from worker.db.rows import CatalogItemRow, with_seller
from worker.db.upsert import upsert_newer

# The ASINs the seller lists or sold in the marketplace that have no entry yet, or one read
# longer ago than the maximum age; the never-read first, then the oldest.
_DUE = text("""
SELECT wanted.asin FROM (
    SELECT asin FROM listings_items
    WHERE seller_id = :seller AND marketplace_id = :market AND asin IS NOT NULL
    UNION
    SELECT i.asin FROM order_items i
    JOIN orders o ON o.seller_id = i.seller_id AND o.amazon_order_id = i.amazon_order_id
    WHERE i.seller_id = :seller AND o.marketplace_id = :market AND i.asin IS NOT NULL
) wanted
LEFT JOIN catalog_items c
    ON c.seller_id = :seller AND c.marketplace_id = :market AND c.asin = wanted.asin
WHERE c.asin IS NULL OR c.refreshed_at < :before
ORDER BY c.refreshed_at NULLS FIRST, wanted.asin
LIMIT :limit
""")


def due_asins(conn: Connection, seller_id: int, marketplace_id: str, before: datetime,
              limit: int) -> list[str]:
    return keys_due(conn, _DUE, seller_id, marketplace_id, before, limit)


def keys_due(conn: Connection, query: TextClause, seller_id: int, marketplace_id: str,
             before: datetime, limit: int) -> list[str]:
    """The keys a refresh query names (binds ``seller``, ``market``, ``before``: keys last
    read before it are due, and ``limit``)."""
    return [str(a) for (a,) in conn.execute(query, {
        "seller": seller_id, "market": marketplace_id, "before": before, "limit": limit})]


def upsert(conn: Connection, seller_id: int, rows: Sequence[CatalogItemRow],
           at: datetime) -> int:
    """Write the entries read (a changed one gets a new ``sync_version``) and mark every one
    of them read ``at`` (the run's clock); how many were new or changed."""
    if not rows:
        return 0
    written = upsert_newer(conn, CatalogItem, [with_seller(r, seller_id) for r in rows],
                           keys=("seller_id", "marketplace_id", "asin"), updated=None)
    conn.execute(update(CatalogItem).where(
        CatalogItem.seller_id == seller_id,
        tuple_(CatalogItem.marketplace_id, CatalogItem.asin).in_(
            [(r.marketplace_id, r.asin) for r in rows])).values(refreshed_at=at))
    return len(written)
