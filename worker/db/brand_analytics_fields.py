"""The typed columns of ``search_query_performance``: one per field of Amazon's
``SearchQueryPerformanceData`` (``sellingPartnerSearchQueryPerformanceReport.json``), nested
objects flattened (``clickData.asinClickCount`` -> ``asin_click_count``), each
``CurrencyAmount`` as ``<name>`` numeric beside ``<name>_currency``. Shared by the model,
the mapper and the docs; the migration spells its columns out.
"""

from __future__ import annotations

import re

# (section, ((field, kind), ...)); kind: count (integer), rate (a share or rate), amount
SQP_SECTIONS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("searchQueryData", (("searchQueryScore", "count"), ("searchQueryVolume", "count"))),
    ("impressionData", (("totalQueryImpressionCount", "count"),
                        ("asinImpressionCount", "count"), ("asinImpressionShare", "rate"))),
    ("clickData", (("totalClickCount", "count"), ("totalClickRate", "rate"),
                   ("asinClickCount", "count"), ("asinClickShare", "rate"),
                   ("totalMedianClickPrice", "amount"), ("asinMedianClickPrice", "amount"),
                   ("totalSameDayShippingClickCount", "count"),
                   ("totalOneDayShippingClickCount", "count"),
                   ("totalTwoDayShippingClickCount", "count"))),
    ("cartAddData", (("totalCartAddCount", "count"), ("totalCartAddRate", "rate"),
                     ("asinCartAddCount", "count"), ("asinCartAddShare", "rate"),
                     ("totalMedianCartAddPrice", "amount"), ("asinMedianCartAddPrice", "amount"),
                     ("totalSameDayShippingCartAddCount", "count"),
                     ("totalOneDayShippingCartAddCount", "count"),
                     ("totalTwoDayShippingCartAddCount", "count"))),
    ("purchaseData", (("totalPurchaseCount", "count"), ("totalPurchaseRate", "rate"),
                      ("asinPurchaseCount", "count"), ("asinPurchaseShare", "rate"),
                      ("totalMedianPurchasePrice", "amount"),
                      ("asinMedianPurchasePrice", "amount"),
                      ("totalSameDayShippingPurchaseCount", "count"),
                      ("totalOneDayShippingPurchaseCount", "count"),
                      ("totalTwoDayShippingPurchaseCount", "count"))),
)


def column(name: str) -> str:
    """``asinClickShare`` -> ``asin_click_share``."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def columns() -> list[tuple[str, str]]:
    """(column, kind) in table order; an amount's ``_currency`` column follows it (kind
    ``currency``)."""
    out: list[tuple[str, str]] = []
    for _, fields in SQP_SECTIONS:
        for name, kind in fields:
            out.append((column(name), kind))
            if kind == "amount":
                out.append((column(name) + "_currency", "currency"))
    return out
