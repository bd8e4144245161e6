"""Brand Analytics reports (JSON), taken from the world: ``GET_BRAND_ANALYTICS_SEARCH_TERMS_REPORT``
and ``GET_BRAND_ANALYTICS_SEARCH_QUERY_PERFORMANCE_REPORT`` (schemas
``sellingPartnerSearchTermsReport.json`` and ``sellingPartnerSearchQueryPerformanceReport.json``).

- Search terms: per department (``Amazon.com`` and each product type of the seller's catalog)
  the search terms made of the catalog's titles, each with its top-3 clicked ASINs: the
  seller's ASIN of that title and two others' (made-up ASINs). Ranks and shares are
  deterministic per seller, marketplace, period and term.
- Search query performance: per requested ASIN of the seller, two search queries from its
  title; purchases are its (not cancelled) ordered units in the marketplace in the period, cart
  adds, clicks and impressions grow from them; the market's totals are a multiple of the ASIN's.

What Amazon refuses, as it does:

- a seller not in Brand Registry (``Seller.brand_registry``, ``POST /_sim/brand-registry``):
  403 ``Unauthorized`` on createReport
  ("Access to the resource is forbidden", amzn/selling-partner-api-models issues 2546, 4652),
  or with ``refused-fatal`` a FATAL report whose error says so (for tests of that path);
- a request that is not one whole period, lacks ``reportPeriod`` (or, for search query
  performance, ``asin``, or its 200 characters) or names several marketplaces: FATAL with
  Amazon's "A client error occurred..." (issues 4701, 5065 of selling-partner-api-models);
- a period not yet published (:data:`PUBLISHED_AFTER` after its end): FATAL "The requested
  data is unavailable..." (selling-partner-api-docs issue 2444).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from .marketplaces import Marketplace
from .world import Seller, Status

SEARCH_TERMS = "GET_BRAND_ANALYTICS_SEARCH_TERMS_REPORT"
SEARCH_QUERY_PERFORMANCE = "GET_BRAND_ANALYTICS_SEARCH_QUERY_PERFORMANCE_REPORT"
TYPES = (SEARCH_TERMS, SEARCH_QUERY_PERFORMANCE)
PERIODS = {SEARCH_TERMS: ("DAY", "WEEK", "MONTH", "QUARTER"),
           SEARCH_QUERY_PERFORMANCE: ("WEEK", "MONTH", "QUARTER")}
PUBLISHED_AFTER = 3 * 86_400  # seconds after a period's end before its data exists
ASIN_LIMIT = 200
BIG_WEEK = date(2026, 11, 1)  # the period of the benchmark's generated documents
BIG_ENTRY_BYTES = 190  # a generated entry's typical size
CLIENT_ERROR = ("A client error occurred. Please double check that your parameters are valid "
                "and fulfill the requirements of the report type.")
UNAVAILABLE = "The requested data is unavailable. Please try a different date range."
NOT_REGISTERED = ("The selling partner is not registered in Amazon Brand Registry and cannot "
                  "access Brand Analytics reports.")
REGISTERED, REFUSED, REFUSED_FATAL = "registered", "refused", "refused-fatal"
REGISTRY = (REGISTERED, REFUSED, REFUSED_FATAL)


# ---------------------------------------------------------------- periods


def _date(epoch: float) -> date:
    return datetime.fromtimestamp(int(epoch), tz=UTC).date()


def period_of(name: str, day: date) -> tuple[date, date]:
    if name == "DAY":
        return day, day
    if name == "WEEK":
        first = day - timedelta(days=(day.weekday() + 1) % 7)
        return first, first + timedelta(days=6)
    months = 1 if name == "MONTH" else 3
    first = day.replace(day=1) if name == "MONTH" else date(day.year,
                                                            (day.month - 1) // 3 * 3 + 1, 1)
    n = first.month - 1 + months
    return first, date(first.year + n // 12, n % 12 + 1, 1) - timedelta(days=1)


def request_error(report_type: str, markets: list[str], start: float, end: float,
                  options: dict[str, str], now: float) -> str | None:
    """Why Amazon would end this request FATAL, or None."""
    period = options.get("reportPeriod")
    if period not in PERIODS[report_type] or len(markets) != 1:
        return CLIENT_ERROR
    first, last = _date(start), _date(end)
    if period_of(period, first) != (first, last):  # not one whole period
        return CLIENT_ERROR
    if report_type == SEARCH_QUERY_PERFORMANCE:
        asins = options.get("asin", "")
        if not asins.strip() or len(asins) > ASIN_LIMIT:
            return CLIENT_ERROR
    ended = datetime(last.year, last.month, last.day, tzinfo=UTC).timestamp() + 86_400
    if now < ended + PUBLISHED_AFTER:
        return UNAVAILABLE
    return None


# ---------------------------------------------------------------- content


def _hash(*parts: object) -> int:
    return zlib.crc32(":".join(str(p) for p in parts).encode())


def _other_asin(*parts: object) -> str:
    return f"B0{_hash('other', *parts) % 10**8:08d}"


def _terms(seller: Seller) -> list[tuple[str, str, str]]:
    """(department, search term, the seller's ASIN) from the catalog, sorted."""
    out = set()
    for entry in seller.skus.values():
        words = entry.title.lower().split()
        term = " ".join(words[:3]) if words else entry.asin.lower()
        for department in ("Amazon.com", entry.product_type.replace("_", " ").title()):
            out.add((department, term, entry.asin))
    return sorted(out)


def _spec(report_type: str, market: str, period: str, first: date, last: date,
          options: dict[str, str]) -> dict[str, Any]:
    return {"reportType": report_type, "reportOptions": options,
            "dataStartTime": first.isoformat(), "dataEndTime": last.isoformat(),
            "marketplaceIds": [market]}


def search_terms(seller: Seller, market: str, period: str, first: date) -> list[dict[str, Any]]:
    """``dataByDepartmentAndSearchTerm`` of a period: 3 entries per term and department."""
    seen: dict[tuple[str, str], str] = {}
    for department, term, asin in _terms(seller):
        seen.setdefault((department, term), asin)
    ranked: dict[str, int] = {}
    entries = []
    for (department, term), asin in sorted(seen.items(),
                                           key=lambda kv: _hash(market, first, *kv[0])):
        ranked[department] = ranked.get(department, 0) + 1
        h = _hash(seller.seller_id, market, period, first, department, term)
        mine = h % 3 + 1  # the seller's ASIN's click-share rank
        shares = sorted((round((h >> (8 * k)) % 2000 / 10000 + 0.01, 4) for k in range(3)),
                        reverse=True)
        for rank in (1, 2, 3):
            clicked = asin if rank == mine else _other_asin(department, term, rank)
            entries.append({
                "departmentName": department, "searchTerm": term,
                "searchFrequencyRank": ranked[department], "clickedAsin": clicked,
                "clickShareRank": rank, "clickShare": shares[rank - 1],
                "conversionShare": round(shares[rank - 1] * ((h >> rank) % 90 + 10) / 100, 4),
            })
    return entries


def _units(seller: Seller, market: str, asin: str, first: date, last: date) -> int:
    return sum(item.quantity_ordered for order in seller.orders.values()
               if order.marketplace.marketplace_id == market
               and order.status is not Status.CANCELED
               and first <= _date(order.purchase_date) <= last
               for item in order.items if item.product.asin == asin)


def _money(value: Decimal, currency: str) -> dict[str, Any]:
    return {"amount": float(value), "currencyCode": currency}


def _share(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def query_performance(seller: Seller, marketplace: Marketplace, first: date, last: date,
                      asins: list[str]) -> list[dict[str, Any]]:
    """``dataByAsin`` of a period for the requested ASINs the seller has (others: none)."""
    by_asin = {e.asin: e for e in sorted(seller.skus.values(), key=lambda e: e.sku)}
    market = marketplace.marketplace_id
    out = []
    for asin in sorted(set(asins)):
        entry = by_asin.get(asin)
        if entry is None:
            continue
        units = _units(seller, market, asin, first, last)
        words = entry.title.lower().split()
        price = _money(entry.price(marketplace), marketplace.currency)
        for k, query in enumerate((" ".join(words[:2]) or asin.lower(),
                                   " ".join(words[-2:]) + " deals")):
            h = _hash(seller.seller_id, market, first, asin, query)
            bought = units // 2 + units % 2 if k == 0 else units // 2
            carts = bought * 2 + h % 3
            clicks = carts * 3 + h % 5 + 1
            shown = clicks * 10 + h % 7
            factor = h % 5 + 2  # the market's totals: a few times this ASIN's
            volume = shown * factor // 2 + 1
            out.append(_sqp_entry(first, last, asin, query, h, volume, price,
                                  (shown, clicks, carts, bought), factor))
    return out


def _sqp_entry(first: date, last: date, asin: str, query: str, h: int, volume: int,
               price: dict[str, Any], mine: tuple[int, int, int, int],
               factor: int) -> dict[str, Any]:
    shown = mine[0]
    total = [n * factor for n in mine]

    def funnel(kind: str, name: str, index: int) -> dict[str, Any]:
        return {
            f"total{kind}Count": total[index], f"total{kind}Rate": _share(total[index], volume),
            f"asin{kind}Count": mine[index], f"asin{kind}Share": _share(mine[index],
                                                                     total[index]),
            f"totalMedian{name}Price": price, f"asinMedian{name}Price": price,
            f"totalSameDayShipping{kind}Count": total[index] // 5,
            f"totalOneDayShipping{kind}Count": total[index] // 4,
            f"totalTwoDayShipping{kind}Count": total[index] // 2,
        }

    return {
        "startDate": first.isoformat(), "endDate": last.isoformat(), "asin": asin,
        "searchQueryData": {"searchQuery": query, "searchQueryScore": h % 50 + 1,
                            "searchQueryVolume": volume},
        "impressionData": {"totalQueryImpressionCount": total[0], "asinImpressionCount": shown,
                           "asinImpressionShare": _share(shown, total[0])},
        "clickData": funnel("Click", "Click", 1),
        "cartAddData": funnel("CartAdd", "CartAdd", 2),
        "purchaseData": funnel("Purchase", "Purchase", 3),
    }


def document(seller: Seller, report_type: str, market: str, start: float,
             options: dict[str, str]) -> dict[str, Any]:
    """The whole document of a valid request (:func:`request_error` said None)."""
    period = options["reportPeriod"]
    first, last = period_of(period, _date(start))
    marketplace = next(m for m in seller.marketplaces if m.marketplace_id == market)
    spec = _spec(report_type, market, period, first, last, options)
    if report_type == SEARCH_TERMS:
        return {"reportSpecification": spec,
                "dataByDepartmentAndSearchTerm": search_terms(seller, market, period, first)}
    asins = options.get("asin", "").split()
    # Amazon's order of the two keys is not promised: this one puts the data first.
    return {"dataByAsin": query_performance(seller, marketplace, first, last, asins),
            "reportSpecification": spec}


def lines(doc: dict[str, Any]) -> list[str]:
    return [json.dumps(doc)]


# ---------------------------------------------------------------- truth and big documents


def truth(seller: Seller, report_type: str, market: str, period: str, first: date,
          asins: list[str]) -> dict[str, Any]:
    """What a report of this period shows (``/_sim/truth/search-terms`` and
    ``/_sim/truth/search-query-performance``); search query performance: of ``asins``, or
    of every ASIN the seller lists in the marketplace."""
    options = {"reportPeriod": period}
    if report_type == SEARCH_QUERY_PERFORMANCE:
        options["asin"] = " ".join(asins or listed_asins(seller, market))
    start = datetime(first.year, first.month, first.day, tzinfo=UTC).timestamp()
    return document(seller, report_type, market, start, options)


def listed_asins(seller: Seller, market: str) -> list[str]:
    """The ASINs the seller lists in the marketplace (``/_sim/truth/listings``)."""
    return sorted({seller.skus[sku].asin for sku in seller.listings
                   if (sku, market) not in seller.delisted})


def big_search_terms(seller: Seller, market: str, rows: int, seed: str) -> Iterator[str]:
    """A search terms document of ``rows`` entries (specification last), made piece by piece
    and on one line, as a large Amazon document may be: for the benchmark."""
    first = period_of("WEEK", BIG_WEEK)[0]
    yield '{"dataByDepartmentAndSearchTerm":['
    for n in range(rows):
        h = _hash(seed, n)
        term, rank = n // 3, n % 3 + 1
        yield ("," if n else "") + json.dumps({
            "departmentName": ("Amazon.com", "Beauty", "Books", "Toys")[term % 4],
            "searchTerm": f"search term {term} {h % 997}", "searchFrequencyRank": term + 1,
            "clickedAsin": _other_asin(seed, n), "clickShareRank": rank,
            "clickShare": round(0.3 / rank, 4), "conversionShare": round(0.2 / rank, 4)})
    yield "]," + '"reportSpecification":' + json.dumps(
        _spec(SEARCH_TERMS, market, "WEEK", first, first + timedelta(days=6),
              {"reportPeriod": "WEEK"})) + "}"
