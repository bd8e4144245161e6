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
row per amount. Dates are ISO 8601 with an offset (``2026-10-01T00:00:00+00:00``); the older
``2026-10-01 00:00:00 UTC`` and day-first (``01.10.2026 00:00:00 UTC``) forms are read too.
A settlement Amazon re-issues (same ``settlement-id``, a later report) replaces the stored
one; an older issue read after a newer one changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import structlog
from sqlalchemy import Connection

from worker.db import reports as reports_db
from worker.db import settlements as store
from worker.db.reports import ReportRecord
from worker.db.sellers import SellerRecord
from worker.spapi.errors import MalformedResponseError
from worker.sync.endpoint import Scope, Written
from worker.sync.fields import bad, fits_money
from worker.sync.paging import Query
from worker.sync.report_parse import ParsedRow
from worker.sync.report_types import SETTLEMENT_V2, Counts
from worker.sync.reports import ReportFailedError, ReportJob, ingest

log = structlog.get_logger(__name__)

REPORT_TYPE = SETTLEMENT_V2
SUMMARY = ("settlement-id", "settlement-start-date", "settlement-end-date", "deposit-date",
           "total-amount", "currency")
LINE_TEXT = {  # column -> settlement_lines column, for the text cells of an amount row
    "transaction-type": "transaction_type", "order-id": "order_id",
    "merchant-order-id": "merchant_order_id", "adjustment-id": "adjustment_id",
    "shipment-id": "shipment_id", "marketplace-name": "marketplace_name",
    "amount-type": "amount_type", "amount-description": "amount_description",
    "fulfillment-id": "fulfillment_id", "order-item-code": "order_item_code",
    "merchant-order-item-id": "merchant_order_item_id",
    "merchant-adjustment-item-id": "merchant_adjustment_item_id", "sku": "sku",
}
_FORMATS = ("%Y-%m-%d %H:%M:%S %Z", "%d.%m.%Y %H:%M:%S %Z", "%Y-%m-%d", "%d.%m.%Y")


def _instant(value: str, what: str) -> datetime | None:
    text = value.strip()
    if not text:
        return None
    parsed = _parse(text)
    if parsed is None:
        raise bad(f"{what} is not a date: {text[:40]!r}")
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def _parse(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        pass
    for form in _FORMATS:
        try:
            return datetime.strptime(text.replace(" UTC", " GMT"), form)
        except ValueError:
            continue
    return None


def _day(value: str, what: str) -> date | None:
    instant = _instant(value, what)
    return instant.date() if instant else None


def _amount(value: str, what: str) -> Decimal | None:
    text = value.strip()
    if not text:
        return None
    if "," in text and "." not in text:  # a decimal comma
        text = text.replace(",", ".")
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise bad(f"{what} is not a number: {text[:40]!r}") from None
    if not amount.is_finite():
        raise bad(f"{what} is not a number")
    return fits_money(amount, what)


def _quantity(value: str, what: str) -> int | None:
    text = value.strip()
    if not text:
        return None
    if not (text.isascii() and text.isdigit()) or len(text) > 9:
        raise bad(f"{what} is not a quantity: {text[:20]!r}")
    return int(text)


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
            "start_date": _instant(values.get("settlement-start-date", ""), f"{what} start"),
            "end_date": _instant(values.get("settlement-end-date", ""), f"{what} end"),
            "deposit_date": _instant(values.get("deposit-date", ""), f"{what} deposit-date"),
            "total_amount": _amount(values.get("total-amount", ""), f"{what} total-amount"),
            "currency": values.get("currency", "").strip() or None}


def map_line(line: int, values: dict[str, str]) -> dict[str, Any]:
    """An amount row -> a ``settlement_lines`` row (without the seller). Pure."""
    what = f"settlement line {line}"
    row: dict[str, Any] = {"line": line,
                           "settlement_id": values.get("settlement-id", "").strip()}
    for column, name in LINE_TEXT.items():
        row[name] = values.get(column, "").strip() or None
    row["amount"] = _amount(values.get("amount", ""), f"{what} amount")
    row["posted_date"] = _day(values.get("posted-date", ""), f"{what} posted-date")
    row["posted_date_time"] = _instant(values.get("posted-date-time", ""),
                                       f"{what} posted-date-time")
    row["quantity_purchased"] = _quantity(values.get("quantity-purchased", ""),
                                          f"{what} quantity-purchased")
    return row


@dataclass
class SettlementSink:
    """Keeps the whole file, then writes the settlement in one transaction (``final``)."""

    report: ReportRecord
    tables: tuple[str, ...] = ("settlement_lines", "settlements", "report_rows")
    summary: dict[str, Any] | None = None
    lines: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    read: int = 0

    def accept(self, row: ParsedRow) -> None:
        self.read += 1
        if row.values is None:
            self._reject(row.line, row.error or "unreadable row", row.partial)
            return
        try:
            if self.summary is None and is_summary(row.values):
                self.summary = map_summary(row.values)
            else:
                self.lines.append(map_line(row.line, row.values))
        except MalformedResponseError as exc:
            self._reject(row.line, exc.detail, row.values)

    def _reject(self, line: int, error: str, values: dict[str, str] | None) -> None:
        self.rejected.append({"line": line, "record_key": None, "data": values, "error": error})

    def ready(self) -> bool:
        return False  # one settlement is one transaction: all of it at the end

    def flush(self, conn: Connection, *, final: bool) -> Counts:
        written = 0
        if final:
            if self.summary is None:
                raise MalformedResponseError(
                    f"settlement report {self.report.report_id} has no summary row")
            sid = self.summary["settlement_id"]
            stray = [r for r in self.lines if r["settlement_id"] not in ("", sid)]
            for r in stray:
                self._reject(r["line"], f"belongs to settlement {r['settlement_id'][:40]}, "
                             f"not {sid}", None)
            lines = [r for r in self.lines if r not in stray]
            written = store.replace(conn, self.report, self.summary, lines)
        counts = Counts(read=self.read, written=written, rejected=len(self.rejected))
        reports_db.add_rows(conn, self.report, self.rejected)
        self.rejected, self.read = [], 0
        return counts


def query(seller: SellerRecord, marketplace_id: str | None, size: int) -> Query:
    return {"reportTypes": [REPORT_TYPE], "pageSize": size}


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
    if not isinstance(record, dict) or record.get("reportType") != REPORT_TYPE:
        return None
    if record.get("processingStatus") != "DONE" or not record.get("reportDocumentId"):
        return None
    report_id = record.get("reportId")
    if not isinstance(report_id, str) or not report_id or len(report_id) > 100:
        raise bad("getReports listed a report without a usable reportId")
    issued = record.get("processingEndTime") or record.get("createdTime")
    return {"report_id": report_id, "report_type": REPORT_TYPE,
            "document_id": str(record["reportDocumentId"]),
            "marketplace_ids": [str(m) for m in record.get("marketplaceIds") or []],
            "issued_at": _instant(issued, "report time") if isinstance(issued, str) else None}


def write(conn: Connection, seller_id: int, ingested: int) -> Written:
    return Written(ingested)
