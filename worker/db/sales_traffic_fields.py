"""The typed columns of ``sales_traffic_by_date`` and ``sales_traffic_by_asin``: every field of
the ``salesByDate``/``trafficByDate`` and ``salesByAsin``/``trafficByAsin`` objects of Amazon's
``GET_SALES_AND_TRAFFIC_REPORT`` schema (``reports/sellerSalesAndTrafficReport.json`` in
https://github.com/amzn/selling-partner-api-models, vendored in spapi-models as
``report-sellerSalesAndTrafficReport.json``), B2B fields included.

One list per section, ``(field, kind)``; the column is the field in snake case (``B2B`` ->
``_b2b``). Kinds: ``amount`` (the schema's ``Amount``: a ``numeric(18,4)`` column and a
``<column>_currency`` text column), ``count`` (``integer``), ``rate`` (``number``: a
percentage or an average, ``numeric(12,4)``). Pure data: the models, the mapper and the
simulator's checks read it; migration 0017 spells the same columns out.
"""

from __future__ import annotations

import re


def _with_b2b(*fields: tuple[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(f for name, kind in fields for f in ((name, kind), (name + "B2B", kind)))


SALES_BY_DATE: tuple[tuple[str, str], ...] = (
    *_with_b2b(("orderedProductSales", "amount"), ("unitsOrdered", "count"),
               ("totalOrderItems", "count"), ("averageSalesPerOrderItem", "amount"),
               ("averageUnitsPerOrderItem", "rate"), ("averageSellingPrice", "amount")),
    ("unitsRefunded", "count"), ("refundRate", "rate"), ("claimsGranted", "count"),
    ("claimsAmount", "amount"), ("shippedProductSales", "amount"), ("unitsShipped", "count"),
    ("ordersShipped", "count"),
)
TRAFFIC_BY_DATE: tuple[tuple[str, str], ...] = (
    *_with_b2b(("browserPageViews", "count"), ("mobileAppPageViews", "count"),
               ("pageViews", "count"), ("browserSessions", "count"),
               ("mobileAppSessions", "count"), ("sessions", "count"),
               ("buyBoxPercentage", "rate"), ("orderItemSessionPercentage", "rate"),
               ("unitSessionPercentage", "rate")),
    ("averageOfferCount", "count"), ("averageParentItems", "count"),
    ("feedbackReceived", "count"), ("negativeFeedbackReceived", "count"),
    ("receivedNegativeFeedbackRate", "rate"),
)
SALES_BY_ASIN: tuple[tuple[str, str], ...] = _with_b2b(
    ("unitsOrdered", "count"), ("orderedProductSales", "amount"), ("totalOrderItems", "count"))
TRAFFIC_BY_ASIN: tuple[tuple[str, str], ...] = _with_b2b(
    ("browserSessions", "count"), ("mobileAppSessions", "count"), ("sessions", "count"),
    ("browserSessionPercentage", "rate"), ("mobileAppSessionPercentage", "rate"),
    ("sessionPercentage", "rate"), ("browserPageViews", "count"),
    ("mobileAppPageViews", "count"), ("pageViews", "count"),
    ("browserPageViewsPercentage", "rate"), ("mobileAppPageViewsPercentage", "rate"),
    ("pageViewsPercentage", "rate"), ("buyBoxPercentage", "rate"),
    ("unitSessionPercentage", "rate"))

# section of the report entry -> its fields
BY_DATE = (("salesByDate", SALES_BY_DATE), ("trafficByDate", TRAFFIC_BY_DATE))
BY_ASIN = (("salesByAsin", SALES_BY_ASIN), ("trafficByAsin", TRAFFIC_BY_ASIN))


def column(field: str) -> str:
    """``orderedProductSalesB2B`` -> ``ordered_product_sales_b2b``."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", field.replace("B2B", "B2b")).lower()


def columns(sections: tuple[tuple[str, tuple[tuple[str, str], ...]], ...]) -> list[
        tuple[str, str]]:
    """``(column, kind)`` of every typed value column, currency columns as kind ``currency``."""
    out: list[tuple[str, str]] = []
    for _, fields in sections:
        for name, kind in fields:
            out.append((column(name), kind))
            if kind == "amount":
                out.append((column(name) + "_currency", "currency"))
    return out
