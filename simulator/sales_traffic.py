"""``GET_SALES_AND_TRAFFIC_REPORT``: the JSON document, derived from the seller's orders.

Shape and field names follow Amazon's ``sellerSalesAndTrafficReport.json`` schema
(``reportSpecification``, ``salesAndTrafficByDate``, ``salesAndTrafficByAsin``), which
is not among the vendored models. Sales count the items of non-cancelled orders
purchased in the period; traffic (sessions, page views) is synthetic but consistent:
a fixed number of sessions per ordered item, so the percentages are plausible.
``dateGranularity`` DAY/WEEK/MONTH (weeks start on Sunday) and ``asinGranularity``
PARENT/CHILD/SKU follow the schema; there are no variations, so parent = child ASIN.

Back-dated revisions: Amazon revises recent days. A day's sessions (and so its page views
and percentages) grow by a few late-counted sessions on each of the :data:`REVISION_DAYS`
days after it ends (:func:`late_sessions`, deterministic per seller, marketplace, ASIN and
day), so a report of a past day asked later shows slightly different numbers; a day is final
:data:`REVISION_DAYS` days after it ends. Sales follow the orders as they are when asked
(a cancellation changes the day it was ordered).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from .world import Item, Order, Seller, Status

DATE_GRANULARITIES = ("DAY", "WEEK", "MONTH")
ASIN_GRANULARITIES = ("PARENT", "CHILD", "SKU")
SESSIONS_PER_ITEM = 12
PAGE_VIEWS_PER_SESSION = 2
REVISION_DAYS = 2  # a day's traffic is revised on each of the 2 days after it ends
DAY_SECONDS = 86400

Lines = list[tuple[Order, Item]]


def revision(day: date, now: float | None) -> int:
    """How many revisions of ``day`` a report asked at ``now`` shows (None: final)."""
    if now is None:
        return REVISION_DAYS
    ended = datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() + DAY_SECONDS
    if now < ended:
        return 0
    return min(REVISION_DAYS, int((now - ended) // DAY_SECONDS) + 1)


def late_sessions(seller: Seller, marketplace_id: str, asin: str, day: date,
                  now: float | None) -> int:
    """Sessions of ``day`` counted late: 1-4 more on each revision (``asin`` '' for the
    marketplace's whole day)."""
    return sum(zlib.crc32(f"{seller.seller_id}:{marketplace_id}:{asin}:{day}:{k}".encode())
               % 4 + 1 for k in range(1, revision(day, now) + 1))


def report(seller: Seller, marketplace_id: str, start: float, end: float,
           options: dict[str, str], now: float | None = None) -> dict[str, Any]:
    """The document for ``[start, end]`` (whole UTC days) as Amazon shows it at ``now``."""
    by_date = options.get("dateGranularity", "DAY")
    by_asin = options.get("asinGranularity", "PARENT")
    first, last = _day(start), _day(end)
    lines = [
        (order, item)
        for order in seller.orders.values()
        if order.marketplace.marketplace_id == marketplace_id
        and order.status is not Status.CANCELED
        and first <= _day(order.purchase_date) <= last
        for item in order.items
    ]
    currency = next(
        (m.currency for m in seller.marketplaces if m.marketplace_id == marketplace_id), "USD"
    )
    return {
        "reportSpecification": {
            "reportType": "GET_SALES_AND_TRAFFIC_REPORT",
            "reportOptions": {"dateGranularity": by_date, "asinGranularity": by_asin},
            "dataStartTime": first.isoformat(),
            "dataEndTime": last.isoformat(),
            "marketplaceIds": [marketplace_id],
        },
        "salesAndTrafficByDate": [
            _by_date(period, [x for x in lines if _period(_day(x[0].purchase_date), by_date)
                              == period], currency, seller,
                     sum(late_sessions(seller, marketplace_id, "", d, now)
                         for d in _days(first, last) if _period(d, by_date) == period))
            for period in _periods(first, last, by_date)
        ],
        "salesAndTrafficByAsin": _by_asin(
            lines, by_asin, currency,
            lambda asin, days: sum(late_sessions(seller, marketplace_id, asin, d, now)
                                   for d in days)),
    }


def _day(epoch: float) -> date:
    return datetime.fromtimestamp(int(epoch), tz=UTC).date()


def _period(day: date, granularity: str) -> date:
    if granularity == "WEEK":
        return day - timedelta(days=(day.weekday() + 1) % 7)  # back to Sunday
    if granularity == "MONTH":
        return day.replace(day=1)
    return day


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _periods(first: date, last: date, granularity: str) -> list[date]:
    periods: list[date] = []
    day = first
    while day <= last:
        period = _period(day, granularity)
        if not periods or periods[-1] != period:
            periods.append(period)
        day += timedelta(days=1)
    return periods


def _amount(value: Decimal, currency: str) -> dict[str, Any]:
    return {"amount": float(value.quantize(Decimal("0.01"))), "currencyCode": currency}


def _ratio(part: float, whole: float) -> float:
    return round(100.0 * part / whole, 2) if whole else 0.0


def _by_date(period: date, lines: Lines, currency: str, seller: Seller,
             late: int) -> dict[str, Any]:
    sales = sum((i.line_total for _, i in lines), Decimal(0))
    units = sum(i.quantity_ordered for _, i in lines)
    shipped = [(o, i) for o, i in lines if i.quantity_shipped]
    items = len(lines)
    return {
        "date": period.isoformat(),
        "salesByDate": {
            "orderedProductSales": _amount(sales, currency),
            "unitsOrdered": units,
            "totalOrderItems": items,
            "averageSalesPerOrderItem": _amount(sales / items if items else Decimal(0), currency),
            "averageUnitsPerOrderItem": round(units / items, 2) if items else 0.0,
            "averageSellingPrice": _amount(sales / units if units else Decimal(0), currency),
            "unitsRefunded": 0,
            "refundRate": 0.0,
            "claimsGranted": 0,
            "claimsAmount": _amount(Decimal(0), currency),
            "shippedProductSales": _amount(sum((i.line_total for _, i in shipped), Decimal(0)),
                                           currency),
            "unitsShipped": sum(i.quantity_shipped for _, i in shipped),
            "ordersShipped": len({o.order_id for o, _ in shipped}),
        },
        "trafficByDate": _traffic_by_date(items, units, seller, late),
    }


def _traffic_by_date(items: int, units: int, seller: Seller, late: int) -> dict[str, Any]:
    sessions = max(items * SESSIONS_PER_ITEM, 1) + late
    browser = sessions * 2 // 3
    offers = len(seller.listings)
    return {
        "browserPageViews": browser * PAGE_VIEWS_PER_SESSION,
        "mobileAppPageViews": (sessions - browser) * PAGE_VIEWS_PER_SESSION,
        "pageViews": sessions * PAGE_VIEWS_PER_SESSION,
        "browserSessions": browser,
        "mobileAppSessions": sessions - browser,
        "sessions": sessions,
        "buyBoxPercentage": 100.0,
        "orderItemSessionPercentage": _ratio(items, sessions),
        "unitSessionPercentage": _ratio(units, sessions),
        "averageOfferCount": offers,
        "averageParentItems": offers,
        "feedbackReceived": 0,
        "negativeFeedbackReceived": 0,
        "receivedNegativeFeedbackRate": 0.0,
    }


def _by_asin(lines: Lines, granularity: str, currency: str,
             late: Callable[[str, set[date]], int]) -> list[dict[str, Any]]:
    groups: dict[tuple[str, ...], Lines] = {}
    for order, item in lines:
        key = (item.product.asin, item.product.sku) if granularity == "SKU" else (
            item.product.asin,)
        groups.setdefault(key, []).append((order, item))
    sessions = {key: len(group) * SESSIONS_PER_ITEM + late(
        key[0], {_day(o.purchase_date) for o, _ in group}) for key, group in groups.items()}
    total_sessions = max(sum(sessions.values()), 1)
    return [_asin_row(key, group, granularity, currency, sessions[key], total_sessions)
            for key, group in sorted(groups.items())]


def _asin_row(key: tuple[str, ...], lines: Lines, granularity: str, currency: str,
              sessions: int, total_sessions: int) -> dict[str, Any]:
    row: dict[str, Any] = {"parentAsin": key[0]}
    if granularity in ("CHILD", "SKU"):
        row["childAsin"] = key[0]
    if granularity == "SKU":
        row["sku"] = key[1]
    units = sum(i.quantity_ordered for _, i in lines)
    row["salesByAsin"] = {
        "unitsOrdered": units,
        "orderedProductSales": _amount(sum((i.line_total for _, i in lines), Decimal(0)),
                                       currency),
        "totalOrderItems": len(lines),
    }
    row["trafficByAsin"] = _traffic_by_asin(sessions, units, total_sessions)
    return row


def _traffic_by_asin(sessions: int, units: int, total: int) -> dict[str, Any]:
    browser = sessions * 2 // 3
    share = _ratio(sessions, total)
    return {
        "browserSessions": browser,
        "mobileAppSessions": sessions - browser,
        "sessions": sessions,
        "browserSessionPercentage": share,
        "mobileAppSessionPercentage": share,
        "sessionPercentage": share,
        "browserPageViews": browser * PAGE_VIEWS_PER_SESSION,
        "mobileAppPageViews": (sessions - browser) * PAGE_VIEWS_PER_SESSION,
        "pageViews": sessions * PAGE_VIEWS_PER_SESSION,
        "browserPageViewsPercentage": share,
        "mobileAppPageViewsPercentage": share,
        "pageViewsPercentage": share,
        "buyBoxPercentage": 100.0,
        "unitSessionPercentage": _ratio(units, sessions),
    }


def options_error(options: dict[str, str]) -> str | None:
    """Why the reportOptions are invalid for this report type, or None."""
    checks: Iterable[tuple[str, tuple[str, ...]]] = (
        ("dateGranularity", DATE_GRANULARITIES),
        ("asinGranularity", ASIN_GRANULARITIES),
    )
    for name, allowed in checks:
        if name in options and options[name] not in allowed:
            return f"reportOptions.{name} must be one of {', '.join(allowed)}."
    return None
