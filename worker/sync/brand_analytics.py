"""Brand Analytics reports (JSON) -> typed tables, streamed: the sinks of the
``search-terms`` and ``search-query-performance`` streams.

- ``GET_BRAND_ANALYTICS_SEARCH_TERMS_REPORT``: each ``dataByDepartmentAndSearchTerm`` entry
  is one of the top-3 clicked ASINs of a search term in a department
  (``sellingPartnerSearchTermsReport.json``) -> a ``search_terms`` row keyed by marketplace,
  period, department, search term and ``clickShareRank``.
- ``GET_BRAND_ANALYTICS_SEARCH_QUERY_PERFORMANCE_REPORT``: each ``dataByAsin`` entry is one
  search query of one requested ASIN (``sellingPartnerSearchQueryPerformanceReport.json``)
  -> a ``search_query_performance`` row, every nested field a column.

The entries carry no period of their own (search terms) or only its dates (search query
performance); the period is the report's request (``reports``: ``reportPeriod`` and the
dates), which the stream always sends, so rows are keyed before the document's
``reportSpecification`` is seen (it may come after the data). Documents reach hundreds of
MB: ``worker/sync/json_stream.py`` parses them as they arrive and the sink writes batches of
:data:`~worker.sync.report_types.BATCH_ROWS`. Newer wins per key by ``reports.id``. An
entry that does not map is kept in ``report_rows`` with the reason; the rest still lands.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

import structlog
from sqlalchemy import Connection

from worker.db import brand_analytics_fields as spec
from worker.db.brand_analytics import listed_asins
from worker.db.models import SearchQueryPerformance, SearchTerm
from worker.db.reports import ReportRecord
from worker.db.upsert import upsert_newer
from worker.spapi.errors import MalformedResponseError
from worker.sync import sales_traffic
from worker.sync.fields import MAX_INT, bad, unstorable
from worker.sync.periods import Period, period_of
from worker.sync.report_types import BATCH_ROWS, BaseSink, Counts

log = structlog.get_logger(__name__)

SEARCH_TERMS = "GET_BRAND_ANALYTICS_SEARCH_TERMS_REPORT"
SEARCH_QUERY_PERFORMANCE = "GET_BRAND_ANALYTICS_SEARCH_QUERY_PERFORMANCE_REPORT"
TERMS_KEY = ("seller_id", "marketplace_id", "report_period", "start_date", "department_name",
             "search_term", "click_share_rank")
SQP_KEY = ("seller_id", "marketplace_id", "report_period", "start_date", "asin",
           "search_query")
_TEXT_LIMIT = 1000  # a search term or department; longer is no search anyone typed
_ASIN = re.compile(r"[A-Z0-9]{10,12}", re.ASCII)
T = TypeVar("T")


# ---------------------------------------------------------------- cells (pure)


def count(value: Any, what: str, *, least: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not least <= value <= MAX_INT:
        raise bad(f"{what} is not an integer from {least} to 2^31 - 1")
    return value


def rate(value: Any, what: str) -> Decimal:
    """A share or rate, required (``sales_traffic.rate``)."""
    return _required(sales_traffic.rate(value, what), what)


def amount(value: Any, what: str) -> tuple[Decimal, str]:
    """A ``CurrencyAmount`` -> (amount, currency), required (``sales_traffic.amount``)."""
    number, currency = sales_traffic.amount(value, what)
    return _required(number, what), _required(currency, what)


def _required(value: T | None, what: str) -> T:
    if value is None:
        raise bad(f"{what} is missing")
    return value


def text(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > _TEXT_LIMIT \
            or "\x00" in value:
        raise bad(f"{what} is {'empty' if not value else 'not a text of 1-1000 characters'}")
    return value


def asin(value: Any, what: str) -> str:
    if not isinstance(value, str) or not _ASIN.fullmatch(value):
        raise bad(f"{what} is not an ASIN")
    return value


def _entry(entry: Any, what: str) -> dict[str, Any]:
    if not isinstance(entry, dict):
        raise bad(f"{what} is not an object")
    return sales_traffic.storable_entry(entry, what)


# ---------------------------------------------------------------- entries (pure)


def map_search_term(entry: Any, period: Period) -> dict[str, Any]:
    """A ``dataByDepartmentAndSearchTerm`` entry of a report of ``period`` -> a
    ``search_terms`` row (without seller, marketplace and report). Pure."""
    entry = _entry(entry, "dataByDepartmentAndSearchTerm entry")
    term = text(entry.get("searchTerm"), "dataByDepartmentAndSearchTerm.searchTerm")
    what = f"search term {term[:80]!r}"
    return {
        "report_period": period.name, "start_date": period.first, "end_date": period.last,
        "department_name": text(entry.get("departmentName"), f"{what}.departmentName"),
        "search_term": term,
        "click_share_rank": count(entry.get("clickShareRank"), f"{what}.clickShareRank",
                                  least=1),
        "search_frequency_rank": count(entry.get("searchFrequencyRank"),
                                       f"{what}.searchFrequencyRank", least=1),
        "clicked_asin": asin(entry.get("clickedAsin"), f"{what}.clickedAsin"),
        "click_share": rate(entry.get("clickShare"), f"{what}.clickShare"),
        "conversion_share": rate(entry.get("conversionShare"), f"{what}.conversionShare"),
        "raw": entry,
    }


def map_query_performance(entry: Any, period: Period) -> dict[str, Any]:
    """A ``dataByAsin`` entry of a report of ``period`` -> a ``search_query_performance``
    row (without seller, marketplace and report). The entry's ``startDate`` must be the
    period's first day (a report never spans periods). Pure."""
    entry = _entry(entry, "dataByAsin entry")
    the_asin = asin(entry.get("asin"), "dataByAsin.asin")
    query = entry.get("searchQueryData")
    query = query if isinstance(query, dict) else {}
    search = text(query.get("searchQuery"), f"dataByAsin {the_asin}.searchQueryData.searchQuery")
    what = f"dataByAsin {the_asin} {search[:80]!r}"
    first = sales_traffic.date_of(entry.get("startDate"), f"{what}.startDate")
    last = sales_traffic.date_of(entry.get("endDate"), f"{what}.endDate")
    if (first, last) != (period.first, period.last):
        raise bad(f"{what} is dated {first}..{last}, not its report's {period.name} "
                  f"{period.first}..{period.last}")
    row: dict[str, Any] = {"report_period": period.name, "start_date": first, "end_date": last,
                           "asin": the_asin, "search_query": search}
    for section, fields in spec.SQP_SECTIONS:
        obj = entry.get(section)
        if not isinstance(obj, dict):
            raise bad(f"{what}.{section} is not an object")
        for name, kind in fields:
            col, value, where = spec.column(name), obj.get(name), f"{what}.{section}.{name}"
            if kind == "amount":
                row[col], row[col + "_currency"] = amount(value, where)
            elif kind == "count":
                row[col] = count(value, where)
            else:
                row[col] = rate(value, where)
    row["raw"] = entry
    return row


# ---------------------------------------------------------------- the sink


Mapper = Callable[[Any, Period], dict[str, Any]]
# report type -> (the document's array of entries, mapper, model, key)
TYPES: dict[str, tuple[str, Mapper, Any, tuple[str, ...]]] = {
    SEARCH_TERMS: ("dataByDepartmentAndSearchTerm", map_search_term, SearchTerm, TERMS_KEY),
    SEARCH_QUERY_PERFORMANCE: ("dataByAsin", map_query_performance, SearchQueryPerformance,
                               SQP_KEY),
}


def requested_period(report: ReportRecord) -> Period:
    """The period a report was asked for: its ``reportPeriod`` option and start date (a
    request without them has no rows to key; Amazon requires both anyway)."""
    name = report.options.get("reportPeriod")
    if report.data_start is None or not isinstance(name, str):
        raise bad(f"report {report.report_id} was asked without reportPeriod or "
                  "dataStartTime: its rows have no period")
    try:
        period = period_of(name, report.data_start.date())
    except ValueError:
        raise bad(f"report {report.report_id} has an unknown reportPeriod {name!r}") from None
    return period


class BrandAnalyticsSink(BaseSink):
    """Entries one by one (:meth:`accept_entry`), written newer-wins in batches."""

    def __init__(self, report: ReportRecord, batch: int = BATCH_ROWS) -> None:
        super().__init__(report, batch)
        self.section, self.mapper, self.model, self.key = TYPES[report.report_type]
        self.tables: tuple[str, ...] = (self.model.__table__.name, "report_rows")
        self.period = requested_period(report)
        self.marketplace = report.marketplace_ids[0] if report.marketplace_ids else ""
        self.rows: dict[tuple[Any, ...], dict[str, Any]] = {}

    def accept_entry(self, line: int, entry: Any) -> None:
        self.read += 1
        try:
            row = self.mapper(entry, self.period)
        except MalformedResponseError as exc:
            self.reject(line, exc.detail, entry if isinstance(entry, dict)
                        and unstorable(entry) is None else None)
            return
        row |= {"seller_id": self.report.seller_id, "marketplace_id": self.marketplace,
                "report_id": self.report.id}
        self.rows[tuple(row[k] for k in self.key)] = row  # a repeated key: the last one

    def ready(self) -> bool:
        return len(self.rows) + len(self.rejected) >= self.batch

    def flush(self, conn: Connection, *, final: bool) -> Counts:
        rows = list(self.rows.values())
        written = len(upsert_newer(conn, self.model, rows, keys=self.key, updated="report_id"))
        self.rows = {}
        counts = self._flush_rejected(conn)
        counts.written = written
        return counts

    def check(self, specification: Any) -> None:
        """Log when the document's ``reportSpecification`` (seen before or after the data)
        names another period than the request the rows were keyed by."""
        if not isinstance(specification, dict):
            log.warning("report.no_specification", report_id=self.report.report_id)
            return
        options = specification.get("reportOptions")
        name = options.get("reportPeriod") if isinstance(options, dict) else None
        start = str(specification.get("dataStartTime", ""))[:10]
        if name != self.period.name or start != self.period.first.isoformat():
            log.warning("report.specification_differs", report_id=self.report.report_id,
                        requested=f"{self.period.name} {self.period.first}",
                        document=f"{name} {start}")


# ---------------------------------------------------------------- what is asked

# reportOptions.asin: "A space-separated list of ASINs ... There is a 200-character limit"
# (sellingPartnerSearchQueryPerformanceReport.json).
ASIN_OPTION_LIMIT = 200


def asin_batches(asins: list[str], limit: int = ASIN_OPTION_LIMIT) -> list[str]:
    """``asins`` as space-separated lists of at most ``limit`` characters, in order. Pure."""
    out: list[str] = []
    current = ""
    for a in asins:
        if len(a) > limit:
            raise ValueError(f"ASIN {a!r} is longer than the option's limit")
        joined = f"{current} {a}" if current else a
        if len(joined) > limit:
            out.append(current)
            joined = a
        current = joined
    if current:
        out.append(current)
    return out


def query_performance_batches(conn: Connection, seller_id: int,
                              marketplace_id: str) -> list[tuple[tuple[str, str], ...]]:
    """One report per batch of the seller's ASINs in the marketplace.

    The ASINs come from ``listings_items`` (the listings stream), not ``catalog_items``: the
    report covers the brand's ASINs the seller sells, which are its listings, and the
    catalog stream only reads catalog entries of ASINs listed or sold, later (a refresh
    behind the listings), so it would add nothing but delay and ASINs no longer offered."""
    return [(("asin", batch),)
            for batch in asin_batches(listed_asins(conn, seller_id, marketplace_id))]
