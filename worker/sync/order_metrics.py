"""The ``order-metrics`` stream: Sales API v1 ``getOrderMetrics`` (``salesV1.json``), one
stream per marketplace -> ``order_metrics``.

Each run asks for Day metrics (``granularity=Day``, ``granularityTimeZone=UTC``: the model
wants UTC with a ``Z`` interval) from the cursor minus the look-back to now minus the lag,
as one ``interval`` parameter, ``<start>--<end>`` (first inclusive, second exclusive). The
start is moved back to its UTC midnight, so the first day is asked whole: a day cut by the
interval would come back with "incomplete data" and replace the whole day stored. The last
day (today) is partial until a later run reads it again. Every run re-reads the last days
(the kind's ``overlap``): orders placed on a day are priced, cancelled or completed later.

The operation does not page (one answer, :class:`~worker.sync.paging.SinglePage`). A row is
replaced when what Amazon says of its interval changed (``raw`` differs): the metrics carry
no update time.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from worker.db.models import OrderMetric
from worker.db.sellers import SellerRecord
from worker.db.upsert import upsert_newer
from worker.sync.endpoint import Written
from worker.sync.fields import bad, int_field, money, parse_time, storable
from worker.sync.paging import Query
from worker.sync.windows import Window

GRANULARITY = "Day"
KEY = ("seller_id", "marketplace_id", "granularity", "interval_start")


def query(seller: SellerRecord, marketplace_id: str | None, size: int) -> Query:
    """Every request: one marketplace, UTC days, all buyers and fulfillment networks."""
    return {"marketplaceIds": [marketplace_id], "granularity": GRANULARITY,
            "granularityTimeZone": "UTC"}


def interval(window: Window) -> Query:
    """The window as ``interval``: from its first UTC midnight (a whole first day) to its end."""
    start = window.start.replace(hour=0, minute=0, second=0, microsecond=0)
    return {"interval": f"{_z(start)}--{_z(window.end)}"}


def _z(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def map_metric(marketplace_id: str, doc: Any) -> dict[str, Any]:
    """An ``OrderMetricsInterval`` -> an ``order_metrics`` row (without the seller). Pure."""
    if not isinstance(doc, dict):
        raise bad("order metrics interval is not an object")
    storable(doc, "order metrics interval")
    text = doc.get("interval")
    if not isinstance(text, str) or text.count("--") != 1:
        raise bad("order metrics interval.interval is not '<start>--<end>'")
    first, last = text.split("--")
    what = f"order metrics {text[:60]}"
    start, end = parse_time(first, f"{what} start"), parse_time(last, f"{what} end")
    if end <= start:
        raise bad(f"{what} ends before it starts")
    price, price_currency = money(doc.get("averageUnitPrice"), f"{what}.averageUnitPrice",
                                  amount_key="amount", currency_key="currencyCode")
    sales, sales_currency = money(doc.get("totalSales"), f"{what}.totalSales",
                                  amount_key="amount", currency_key="currencyCode")
    return {
        "marketplace_id": marketplace_id,
        "granularity": GRANULARITY,
        "interval_start": start,
        "interval_end": end,
        "unit_count": int_field(doc, "unitCount", what, required=True),
        "order_item_count": int_field(doc, "orderItemCount", what, required=True),
        "order_count": int_field(doc, "orderCount", what, required=True),
        "average_unit_price": price,
        "average_unit_price_currency": price_currency,
        "total_sales": sales,
        "total_sales_currency": sales_currency,
        "raw": doc,
    }


def write(conn: Connection, seller_id: int, rows: list[dict[str, Any]]) -> Written:
    written = upsert_newer(conn, OrderMetric, [{**r, "seller_id": seller_id} for r in rows],
                           keys=KEY, updated=None)
    return Written(len(written))
