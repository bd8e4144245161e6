"""``GET_SALES_AND_TRAFFIC_REPORT`` (JSON) -> ``sales_traffic_by_date`` and
``sales_traffic_by_asin``: the one sink of the ``sales-traffic`` stream and of
``backfill --stream sales-traffic``.

The document follows Amazon's schema (``reports/sellerSalesAndTrafficReport.json`` in
https://github.com/amzn/selling-partner-api-models; the columns are listed in
:mod:`worker.db.sales_traffic_fields`):

- ``salesAndTrafficByDate``: one entry per period of ``dateGranularity``. A ``DAY`` report's
  entries become ``sales_traffic_by_date`` rows; a ``WEEK``/``MONTH`` report's stay in
  ``report_rows`` as read (a week is no day).
- ``salesAndTrafficByAsin``: one entry per ASIN (or SKU) aggregated over the report's whole
  date range, which the entry does not carry. Only a report of one day (``dataStartTime`` and
  ``dataEndTime`` on the same date, as the stream asks) gives that day; a longer report's
  entries (a 30-day backfill window) stay in ``report_rows`` as read.

Newer wins per key: a row carries its report's ``reports.id``, and a later report of the
same day replaces it (Amazon revises recent days). An entry that does not map (a count that
is no integer, an amount without a currency...) is kept in ``report_rows`` with the reason;
the rest of the report still lands.
"""

from __future__ import annotations

import math
import re
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection

from worker.db import reports as reports_db
from worker.db import sales_traffic_fields as spec
from worker.db.models import SalesTrafficByAsin, SalesTrafficByDate
from worker.db.reports import ReportRecord
from worker.db.upsert import upsert_newer
from worker.spapi.errors import MalformedResponseError
from worker.sync.fields import MAX_INT, bad, fits_money, unstorable
from worker.sync.report_types import Counts

DATE_KEY = ("seller_id", "marketplace_id", "date")
ASIN_KEY = ("seller_id", "marketplace_id", "date", "parent_asin", "child_asin", "sku")
RATE_LIMIT = Decimal("99999999")  # numeric(12, 4)
_CURRENCY = re.compile(r"[A-Z]{3}", re.ASCII)
_ID_LIMIT = 200  # an ASIN is 10 characters, a SKU at most 40


def map_counts(obj: Any, fields: tuple[tuple[str, str], ...], what: str) -> dict[str, Any]:
    """One ``salesBy*``/``trafficBy*`` object -> its typed columns (absent fields: NULL). Pure."""
    if obj is None:
        obj = {}
    if not isinstance(obj, dict):
        raise bad(f"{what} is not an object")
    out: dict[str, Any] = {}
    for name, kind in fields:
        col, value, where = spec.column(name), obj.get(name), f"{what}.{name}"
        if kind == "amount":
            out[col], out[col + "_currency"] = amount(value, where)
        elif kind == "count":
            out[col] = count(value, where)
        else:
            out[col] = rate(value, where)
    return out


def count(value: Any, what: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_INT:
        raise bad(f"{what} is not a non-negative integer (up to 2^31 - 1)")
    return value


def rate(value: Any, what: str) -> Decimal | None:
    """A share or rate (a JSON number: ``json`` gives int or float, ``ijson`` Decimal)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal) or (
            isinstance(value, float) and not math.isfinite(value)):
        raise bad(f"{what} is not a number")
    parsed = Decimal(str(value))
    if not parsed.is_finite() or not 0 <= parsed < RATE_LIMIT:
        raise bad(f"{what} is out of range (0 to 10^8)")
    return parsed


def amount(value: Any, what: str) -> tuple[Decimal | None, str | None]:
    """An ``Amount`` (``{"amount": 12.5, "currencyCode": "USD"}``) -> (amount, currency)."""
    if value is None:
        return None, None
    if not isinstance(value, dict):
        raise bad(f"{what} is not an amount object")
    number, currency = value.get("amount"), value.get("currencyCode")
    if isinstance(number, bool) or not isinstance(number, int | float | Decimal | str):
        raise bad(f"{what}.amount is not a number")
    try:
        parsed = Decimal(str(number).strip())
    except ArithmeticError:
        raise bad(f"{what}.amount is not a number") from None
    if not parsed.is_finite():
        raise bad(f"{what}.amount is not a number")
    if not isinstance(currency, str) or not _CURRENCY.fullmatch(currency):
        raise bad(f"{what}.currencyCode is not an ISO 4217 code")
    return fits_money(parsed, f"{what}.amount"), currency


def date_of(value: Any, what: str) -> date:
    if not isinstance(value, str):
        raise bad(f"{what} is not a date")
    try:
        return date.fromisoformat(value.strip()[:10])
    except ValueError:
        raise bad(f"{what} is not a date") from None


def _ident(entry: dict[str, Any], key: str, what: str, *, required: bool) -> str:
    value = entry.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value.strip() or len(value) > _ID_LIMIT \
            or "\x00" in value:
        raise bad(f"{what}.{key} is {'empty' if not value else 'not an identifier'}")
    return value.strip()


def storable_entry(entry: dict[str, Any], what: str) -> dict[str, Any]:
    """``entry`` as jsonb can hold it (else the reason, raised)."""
    where = unstorable(entry)
    if where is not None:
        raise bad(f"{what} holds a NUL, a lone surrogate, NaN or Infinity at {where}")
    return entry


def map_date_entry(entry: Any) -> dict[str, Any]:
    """A ``salesAndTrafficByDate`` entry -> a ``sales_traffic_by_date`` row (without seller,
    marketplace and report). Pure; raises :class:`MalformedResponseError` with the reason."""
    if not isinstance(entry, dict):
        raise bad("salesAndTrafficByDate entry is not an object")
    day = date_of(entry.get("date"), "salesAndTrafficByDate.date")
    what = f"salesAndTrafficByDate {day.isoformat()}"
    row: dict[str, Any] = {"date": day}
    for section, fields in spec.BY_DATE:
        row |= map_counts(entry.get(section), fields, f"{what}.{section}")
    row["raw"] = storable_entry(entry, what)
    return row


def map_asin_entry(entry: Any, day: date) -> dict[str, Any]:
    """A ``salesAndTrafficByAsin`` entry of a one-day report -> a ``sales_traffic_by_asin``
    row (``child_asin`` and ``sku`` '' when absent: PARENT granularity has no child). Pure."""
    if not isinstance(entry, dict):
        raise bad("salesAndTrafficByAsin entry is not an object")
    parent = _ident(entry, "parentAsin", "salesAndTrafficByAsin", required=True)
    what = f"salesAndTrafficByAsin {parent}"
    row: dict[str, Any] = {"date": day, "parent_asin": parent,
                           "child_asin": _ident(entry, "childAsin", what, required=False),
                           "sku": _ident(entry, "sku", what, required=False)}
    for section, fields in spec.BY_ASIN:
        row |= map_counts(entry.get(section), fields, f"{what}.{section}")
    row["raw"] = storable_entry(entry, what)
    return row


def report_days(doc: dict[str, Any]) -> tuple[str, date | None]:
    """The document's ``dateGranularity`` (DAY when absent, as Amazon defaults) and its one
    day when ``dataStartTime`` and ``dataEndTime`` are the same date (else None)."""
    specification = doc.get("reportSpecification")
    specification = specification if isinstance(specification, dict) else {}
    options = specification.get("reportOptions")
    granularity = (options.get("dateGranularity") if isinstance(options, dict) else None) \
        or "DAY"
    try:
        first = date_of(specification.get("dataStartTime"), "dataStartTime")
        last = date_of(specification.get("dataEndTime"), "dataEndTime")
    except MalformedResponseError:
        return str(granularity), None
    return str(granularity), first if first == last else None


def write_document(conn: Connection, report: ReportRecord, doc: Any) -> Counts:
    """Map and write a whole sales and traffic document in the caller's transaction."""
    if not isinstance(doc, dict):
        raise bad("sales and traffic report is not an object")
    marketplace = report.marketplace_ids[0] if report.marketplace_ids else ""
    granularity, day = report_days(doc)
    by_date: list[dict[str, Any]] = []
    by_asin: list[dict[str, Any]] = []
    kept: list[dict[str, Any]] = []  # report_rows: entries kept as read, and rejected ones
    line = 0
    for section, typed in (("salesAndTrafficByDate", granularity == "DAY"),
                           ("salesAndTrafficByAsin", day is not None)):
        entries = doc.get(section) or []
        if not isinstance(entries, list):
            raise bad(f"sales and traffic report.{section} is not a list")
        for entry in entries:
            line += 1
            try:
                if not typed:
                    kept.append(_as_read(line, section, entry))
                    continue
                row = map_date_entry(entry) if section == "salesAndTrafficByDate" \
                    else map_asin_entry(entry, day)  # type: ignore[arg-type]
            except MalformedResponseError as exc:
                kept.append({"line": line, "record_key": None, "error": exc.detail,
                             "data": entry if isinstance(entry, dict)
                             and unstorable(entry) is None else None})
                continue
            row |= {"seller_id": report.seller_id, "marketplace_id": marketplace,
                    "report_id": report.id}
            (by_date if section == "salesAndTrafficByDate" else by_asin).append(row)
    written = len(upsert_newer(conn, SalesTrafficByDate, by_date, keys=DATE_KEY,
                               updated="report_id"))
    written += len(upsert_newer(conn, SalesTrafficByAsin, by_asin, keys=ASIN_KEY,
                                updated="report_id"))
    reports_db.add_rows(conn, report, kept)
    rejected = sum(1 for r in kept if r["error"])
    return Counts(read=line, written=written + len(kept) - rejected, rejected=rejected)


def _as_read(line: int, section: str, entry: Any) -> dict[str, Any]:
    """An entry with no typed row (a week, a multi-day ASIN aggregate), as before: in
    ``report_rows``, keyed ``date:<day>`` or ``asin:<childAsin or parentAsin>``."""
    if not isinstance(entry, dict):
        raise bad(f"{section} entry is not an object")
    storable_entry(entry, section)
    prefix, key = ("date", entry.get("date")) if section == "salesAndTrafficByDate" else (
        "asin", entry.get("childAsin") or entry.get("parentAsin"))
    return {"line": line, "record_key": f"{prefix}:{key}" if isinstance(key, str) else None,
            "data": {"section": section, **entry}, "error": None}
