"""What the Brand Analytics streams read from the mirror: the ASINs a search query
performance report is asked about."""

from __future__ import annotations

from sqlalchemy import Connection, select

from worker.db.models import ListingsItem


def listed_asins(conn: Connection, seller_id: int, marketplace_id: str) -> list[str]:
    """The distinct ASINs of the seller's listings in the marketplace (``listings_items``),
    sorted, so a period's batches are the same on every run while the listings are."""
    rows = conn.execute(
        select(ListingsItem.asin).where(ListingsItem.seller_id == seller_id,
                                       ListingsItem.marketplace_id == marketplace_id,
                                       ListingsItem.asin.is_not(None))
        .distinct().order_by(ListingsItem.asin))
    return [str(a) for (a,) in rows]
