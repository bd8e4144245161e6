"""Settlement reports (``GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2``): found, not requested.

Amazon produces one per settlement period by itself ("automatically scheduled by Amazon",
https://developer-docs.amazon.com/sp-api/docs/report-type-values-settlement). The
``settlements`` stream lists them with ``getReports`` (this report type, created since the
cursor minus a look-back, paged); each DONE report not yet ingested is recorded in
``reports`` and downloaded through the Reports lifecycle (:func:`worker.sync.reports.ingest`)
into :class:`SettlementSink`, which lands the settlement and its lines in one transaction.
A report already ingested is never downloaded again; a ``REPORT_PROCESSING_FINISHED`` for a
settlement report makes the stream due.

The flat file's columns, from Amazon's attribute list
(https://developer-docs.amazon.com/sp-api/docs/settlement-reports-attributes): a header row,
a first data row with the settlement's summary (``settlement-id`` to ``currency``), then one
row per amount. Dates are ISO 8601 with an offset (``2026-10-01T00:00:00+00:00``); the
other flat files' ``2026-10-01 00:00:00 PST`` (:func:`~worker.sync.report_types.report_time`)
and the day-first ``01.10.2026 00:00:00 UTC`` are read too, and amounts with a decimal comma.
A settlement Amazon re-issues (same ``settlement-id``, a later report) replaces the stored
one; an older issue read after a newer one changes nothing.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import structlog
from sqlalchemy import Connection

from worker.db import reports as reports_db
from worker.db import settlements as store
from worker.db.reports import ReportRecord
from worker.db.sellers import SellerRecord
from worker.spapi.errors import MalformedResponseError
from worker.sync.endpoint import Scope, Written
from worker.sync.fields import bad, parse_time
from worker.sync.paging import Query
from worker.sync.report_parse import ParsedRow
from worker.sync.report_types import (
    SETTLEMENT_V2,
    BaseSink,
    Counts,
    decimal_cell,
    int_cell,
    report_time,
)
from worker.sync.reports import ReportFailedError, ReportJob, ingest

log = structlog.get_logger(__name__)

LINE_TEXT = {  # column -> settlement_lines column, for the text cells of an amount row
    "transaction-type": "transaction_type", "order-id": "order_id",
    "merchant-order-id": "merchant_order_id", "adjustment-id": "adjustment_id",
    "shipment-id": "shipment_id", "marketplace-name": "marketplace_name",
    "amount-type": "amount_type", "amount-description": "amount_description",
    "fulfillment-id": "fulfillment_id", "order-item-code": "order_item_code",
    "merchant-order-item-id": "merchant_order_item_id",
    "merchant-adjustment-item-id": "merchant_adjustment_item_id", "sku": "sku",
}
_DAY_FIRST = re.compile(r"^(\d{2})\.(\d{2})\.(\d{4})(.*)$", re.ASCII)


def _day_first(text: str) -> str:
    """Some marketplaces' files put the day first (``01.10.2026 00:00:00 UTC``): the same
    instant in the year-first form the other flat files use."""
    match = _DAY_FIRST.match(text)
    return f"{match[3]}-{match[2]}-{match[1]}{match[4]}" if match else text


def _instant(values: dict[str, str], key: str, what: str) -> datetime | None:
    return report_time(_day_first(values.get(key, "").strip()), f"{what}.{key}")


def _day(values: dict[str, str], key: str, what: str) -> date | None:
    """A date alone (``2026-10-11``), or the UTC day of a date-time."""
    text = _day_first(values.get(key, "").strip())
    if len(text) == len("2026-10-11"):
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise bad(f"{what}.{key} is not a date") from None
    instant = report_time(text, f"{what}.{key}")
    return instant.date() if instant else None


def _amount(values: dict[str, str], key: str, what: str) -> Decimal | None:
    value = values.get(key, "")
    if "," in value and "." not in value:  # a decimal comma
        values = {key: value.replace(",", ".")}
    return decimal_cell(values, key, what)


def is_summary(values: dict[str, str]) -> bool:
    """The summary row: a settlement id and a total, and no transaction type."""
    return bool(values.get("settlement-id", "").strip() and values.get("total-amount", "").strip()
                and not values.get("transaction-type", "").strip())


def map_summary(values: dict[str, str]) -> dict[str, Any]:
    """The summary row -> the ``settlements`` columns it fills. Pure."""
    what = "settlement summary"
    sid = values.get("settlement-id", "").strip()
    if not sid or len(sid) > 40:
        raise bad(f"{what} has no settlement-id")
    return {"settlement_id": sid,
            "start_date": _instant(values, "settlement-start-date", what),
            "end_date": _instant(values, "settlement-end-date", what),
            "deposit_date": _instant(values, "deposit-date", what),
            "total_amount": _amount(values, "total-amount", what),
            "currency": values.get("currency", "").strip() or None}


def map_line(line: int, values: dict[str, str]) -> dict[str, Any]:
    """An amount row -> a ``settlement_lines`` row (without the seller). Pure."""
    what = f"settlement line {line}"
    row: dict[str, Any] = {"line": line,
                           "settlement_id": values.get("settlement-id", "").strip()}
    for column, name in LINE_TEXT.items():
        row[name] = values.get(column, "").strip() or None
    row["amount"] = _amount(values, "amount", what)
    row["posted_date"] = _day(values, "posted-date", what)
    row["posted_date_time"] = _instant(values, "posted-date-time", what)
    row["quantity_purchased"] = int_cell(values, "quantity-purchased", what)
    return row


class SettlementSink(BaseSink):
    """Keeps the whole file, then writes the settlement in one transaction (``final``)."""

    tables: tuple[str, ...] = ("settlement_lines", "settlements", "report_rows")

    def __init__(self, report: ReportRecord) -> None:
        super().__init__(report, 0)
        self.summary: dict[str, Any] | None = None
        self.lines: list[dict[str, Any]] = []

    def accept(self, row: ParsedRow) -> None:
        self.read += 1
        if row.values is None:
            self.reject(row.line, row.error or "unreadable row", row.partial)
            return
        try:
            if self.summary is None and is_summary(row.values):
                self.summary = map_summary(row.values)
            else:
                self.lines.append(map_line(row.line, row.values))
        except MalformedResponseError as exc:
            self.reject(row.line, exc.detail, row.values)

    def ready(self) -> bool:
        return False  # one settlement is one transaction: all of it at the end

    def flush(self, conn: Connection, *, final: bool) -> Counts:
        written = 0
        if final:
            if self.summary is None:
                raise MalformedResponseError(
                    f"settlement report {self.report.report_id} has no summary row")
            sid = self.summary["settlement_id"]
            lines = []
            for r in self.lines:
                if r["settlement_id"] in ("", sid):
                    lines.append(r)
                else:
                    self.reject(r["line"], f"belongs to settlement {r['settlement_id'][:40]}, "
                                f"not {sid}", None)
            written = store.replace(conn, self.report, self.summary, lines)
        counts = self._flush_rejected(conn)
        counts.written = written
        return counts


def query(seller: SellerRecord, marketplace_id: str | None, size: int) -> Query:
    return {"reportTypes": [SETTLEMENT_V2], "pageSize": size}


async def found_reports(scope: Scope, records: list[Any]) -> int:
    """Record the page's DONE settlement reports and ingest those not ingested yet, each in
    transactions of its own; how many were ingested now."""
    job = ReportJob(scope.client, scope.conn, scope.seller)
    ingested = 0
    for record in records:
        report = _listed(record)
        if report is None:
            continue
        with scope.conn.begin():
            known = reports_db.record_found(scope.conn, scope.seller.id, **report)
        if known.finished:
            continue  # downloaded once already
        try:
            await ingest(job, known)
            ingested += 1
        except ReportFailedError as exc:  # recorded on the report; the others go on
            log.warning("settlement.report_failed", report_id=known.report_id,
                        error=exc.detail)
    return ingested


def _listed(record: Any) -> dict[str, Any] | None:
    """A DONE settlement report of a getReports page, as ``record_found`` takes it."""
    if not isinstance(record, dict) or record.get("reportType") != SETTLEMENT_V2:
        return None
    if record.get("processingStatus") != "DONE" or not record.get("reportDocumentId"):
        return None
    report_id = record.get("reportId")
    if not isinstance(report_id, str) or not report_id or len(report_id) > 100:
        raise bad("getReports listed a report without a usable reportId")
    issued = record.get("processingEndTime") or record.get("createdTime")
    return {"report_id": report_id, "report_type": SETTLEMENT_V2,
            "document_id": str(record["reportDocumentId"]),
            "marketplace_ids": [str(m) for m in record.get("marketplaceIds") or []],
            "issued_at": parse_time(issued, "report time") if issued else None}


def write(conn: Connection, seller_id: int, ingested: int) -> Written:
    return Written(ingested)
