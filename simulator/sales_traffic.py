"""``GET_SALES_AND_TRAFFIC_REPORT``: the JSON document, derived from the seller's orders.

Shape and field names follow Amazon's ``sellerSalesAndTrafficReport.json`` schema
(``reportSpecification``, ``salesAndTrafficByDate``, ``salesAndTrafficByAsin``), which
is not among the vendored models. Sales count the items of non-cancelled orders
purchased in the period; traffic (sessions, page views) is synthetic but consistent:
a fixed number of sessions per ordered item, so the percentages are plausible.
``dateGranularity`` DAY/WEEK/MONTH (weeks start on Sunday) and ``asinGranularity``
PARENT/CHILD/SKU follow the schema; there are no variations, so parent = child ASIN.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from .world import Item, Order, Seller, Status

DATE_GRANULARITIES = ("DAY", "WEEK", "MONTH")
ASIN_GRANULARITIES = ("PARENT", "CHILD", "SKU")
SESSIONS_PER_ITEM = 12
PAGE_VIEWS_PER_SESSION = 2

Lines = list[tuple[Order, Item]]


def report(seller: Seller, marketplace_id: str, start: float, end: float,
           options: dict[str, str]) -> dict[str, Any]:
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
                              == period], currency, seller)
            for period in _periods(first, last, by_date)
        ],
        "salesAndTrafficByAsin": _by_asin(lines, by_asin, currency),
    }


def _day(epoch: float) -> date:
    return datetime.fromtimestamp(int(epoch), tz=UTC).date()


def _period(day: date, granularity: str) -> date:
    if granularity == "WEEK":
        return day - timedelta(days=(day.weekday() + 1) % 7)  # back to Sunday
    if granularity == "MONTH":
        return day.replace(day=1)
    return day


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


def _by_date(period: date, lines: Lines, currency: str, seller: Seller) -> dict[str, Any]:
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
        "trafficByDate": _traffic_by_date(items, units, seller),
    }


def _traffic_by_date(items: int, units: int, seller: Seller) -> dict[str, Any]:
    sessions = max(items * SESSIONS_PER_ITEM, 1)
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


def _by_asin(lines: Lines, granularity: str, currency: str) -> list[dict[str, Any]]:
    groups: dict[tuple[str, ...], Lines] = {}
    for order, item in lines:
        key = (item.product.asin, item.product.sku) if granularity == "SKU" else (
            item.product.asin,)
        groups.setdefault(key, []).append((order, item))
    total_sessions = max(len(lines) * SESSIONS_PER_ITEM, 1)
    return [_asin_row(key, group, granularity, currency, total_sessions)
            for key, group in sorted(groups.items())]


def _asin_row(key: tuple[str, ...], lines: Lines, granularity: str, currency: str,
              total_sessions: int) -> dict[str, Any]:
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
    row["trafficByAsin"] = _traffic_by_asin(len(lines) * SESSIONS_PER_ITEM, units,
                                            total_sessions)
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
