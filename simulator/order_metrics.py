"""Sales API v1 ``getOrderMetrics``: order counts and sales per interval, derived from the
seller's orders (``salesV1.json``).

- ``interval`` is ``<start>--<end>`` (first inclusive, second exclusive), ISO 8601 with ``Z``
  or an offset; ``granularity`` Hour, Day, Week (``firstDayOfWeek`` Monday or Sunday),
  Month, Year or Total. The simulator computes day boundaries in UTC only: a granularity
  above Hour needs ``granularityTimeZone=UTC`` (the model: "if the interval value uses Z
  notation, then granularityTimeZone must be UTC"); another zone is refused.
- Hour takes an interval of at most 30 days back, the others two years.
- Every bucket of the granularity that the interval touches is returned, with its full
  bounds (``2026-12-01T00:00Z--2026-12-02T00:00Z``); a bucket the interval cuts holds only
  the orders inside the interval ("the head and tail ... will contain partial data").
  Buckets without orders have zero counts.
- Orders counted: purchased inside the interval and bucket, in the marketplace, not
  cancelled (as the sales and traffic report); ``unitCount`` = units ordered,
  ``orderItemCount`` = items, ``orderCount`` = orders, ``totalSales`` = the items' prices
  times quantities, ``averageUnitPrice`` = totalSales / unitCount (0 without units), as
  decimal strings in the marketplace's currency. ``buyerType=B2B`` counts nothing (the
  simulated buyers are consumers); ``fulfillmentNetwork`` (AFN/MFN), ``asin`` and ``sku``
  filter. One page: the operation does not page.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from .errors import invalid_input
from .gateway import Call
from .world import Order, Seller, Status

GRANULARITIES = ("Hour", "Day", "Week", "Month", "Year", "Total")
HOUR_REACH = timedelta(days=30)
REACH = timedelta(days=730)
CENT = Decimal("0.01")


def get_order_metrics(call: Call) -> dict[str, Any]:
    p = call.params
    markets: list[str] = p["marketplaceIds"]
    if len(markets) != 1:
        raise invalid_input("Only one marketplace can be specified.")
    if markets[0] not in call.seller.marketplace_ids:
        raise invalid_input(f"The seller does not sell in marketplace '{markets[0]}'.")
    start, end = parse_interval(p["interval"])
    granularity: str = p["granularity"]
    zone = p.get("granularityTimeZone")
    if granularity not in ("Hour", "Total") and zone is None:
        raise invalid_input("granularityTimeZone is required for a granularity greater than "
                            "Hour.")
    if zone is not None and zone != "UTC":
        raise invalid_input("granularityTimeZone must align with the interval's offset: the "
                            "simulator serves UTC intervals only.")
    now = datetime.fromtimestamp(call.now, tz=UTC)
    reach = HOUR_REACH if granularity == "Hour" else REACH
    if start < now - reach:
        raise invalid_input(f"granularity={granularity} takes an interval of at most "
                            f"{reach.days} days from now.")
    if p.get("asin") and p.get("sku"):
        raise invalid_input("Specifying both asin and sku is not allowed.")
    return {"payload": metrics(call.seller, markets[0], start, end, granularity,
                               p.get("firstDayOfWeek", "Monday"), _filter(p))}


def parse_interval(value: str) -> tuple[datetime, datetime]:
    first, sep, second = value.partition("--")
    try:
        start, end = (datetime.fromisoformat(t.replace("Z", "+00:00")) for t in (first, second))
    except ValueError:
        raise invalid_input("interval must be two ISO 8601 date-times separated by '--'.") \
            from None
    if not sep or start.tzinfo is None or end.tzinfo is None:
        raise invalid_input("interval dates must represent absolute time (Z or an offset).")
    if start >= end:
        raise invalid_input("interval's first date must be before its second.")
    return start.astimezone(UTC), end.astimezone(UTC)


def _filter(p: dict[str, Any]) -> Any:
    network, asin, sku = p.get("fulfillmentNetwork"), p.get("asin"), p.get("sku")
    b2b = p.get("buyerType") == "B2B"

    def keep(order: Order, asin_of: str, sku_of: str) -> bool:
        return not b2b and (network is None or order.fulfillment_channel == network) and (
            asin is None or asin_of == asin) and (sku is None or sku_of == sku)
    return keep


def bucket_start(at: datetime, granularity: str, first_day: str = "Monday") -> datetime:
    midnight = at.replace(hour=0, minute=0, second=0, microsecond=0)
    if granularity == "Hour":
        return at.replace(minute=0, second=0, microsecond=0)
    if granularity == "Day":
        return midnight
    if granularity == "Week":
        back = at.weekday() if first_day == "Monday" else (at.weekday() + 1) % 7
        return midnight - timedelta(days=back)
    if granularity == "Month":
        return midnight.replace(day=1)
    return midnight.replace(month=1, day=1)  # Year


def bucket_end(start: datetime, granularity: str) -> datetime:
    if granularity == "Hour":
        return start + timedelta(hours=1)
    if granularity == "Day":
        return start + timedelta(days=1)
    if granularity == "Week":
        return start + timedelta(days=7)
    if granularity == "Month":
        return (start + timedelta(days=32)).replace(day=1)
    return start.replace(year=start.year + 1)


def buckets(start: datetime, end: datetime, granularity: str,
            first_day: str = "Monday") -> list[tuple[datetime, datetime]]:
    if granularity == "Total":
        return [(start, end)]
    out, at = [], bucket_start(start, granularity, first_day)
    while at < end:
        nxt = bucket_end(at, granularity)
        out.append((at, nxt))
        at = nxt
    return out


def stamp(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%MZ")


def metrics(seller: Seller, marketplace_id: str, start: datetime, end: datetime,
            granularity: str, first_day: str = "Monday", keep: Any = None) -> list[dict[str, Any]]:
    """The payload: one entry per bucket, counting the orders inside [start, end)."""
    currency = next(m.currency for m in seller.marketplaces if m.marketplace_id == marketplace_id)
    lo, hi = start.timestamp(), end.timestamp()
    orders = [o for o in seller.orders.values()
              if o.marketplace.marketplace_id == marketplace_id
              and o.status is not Status.CANCELED and lo <= o.purchase_date < hi]
    out = []
    for b_start, b_end in buckets(start, end, granularity, first_day):
        units = items = 0
        ids: set[str] = set()
        sales = Decimal(0)
        for order in orders:
            if not b_start.timestamp() <= order.purchase_date < b_end.timestamp():
                continue
            for item in order.items:
                if keep is not None and not keep(order, item.product.asin, item.product.sku):
                    continue
                units += item.quantity_ordered
                items += 1
                ids.add(order.order_id)
                sales += item.line_total
        average = (sales / units).quantize(CENT) if units else Decimal("0.00")
        out.append({
            "interval": f"{stamp(b_start)}--{stamp(b_end)}",
            "unitCount": units, "orderItemCount": items, "orderCount": len(ids),
            "averageUnitPrice": {"amount": str(average), "currencyCode": currency},
            "totalSales": {"amount": str(sales.quantize(CENT)), "currencyCode": currency},
        })
    return out
