"""What each report type becomes in the mirror, as sinks that batch rows and write them.

A sink takes parsed rows one by one (:meth:`Sink.accept`), says when it holds a batch
(:meth:`Sink.ready`) and writes it in the caller's transaction (:meth:`Sink.flush`, or
:meth:`Sink.write_steps`, which pauses while the server stores rows it sent: an orders
batch's new orders and items, while the caller reads the next batch). A row
that does not map is kept in ``report_rows`` with its line number and the reason, and the
rest of the report still lands.

- ``GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL`` (and ``..._BY_ORDER_DATE_...``)
  -> ``orders`` + ``order_items``. The flat file has one row per item and no OrderItemId,
  so an item's id is ``report:<sku>`` (``#2``... for a repeated SKU); an API sync of the
  order later replaces those items with Amazon's ids. An order is written only once all
  its rows were read (they are consecutive in the file), never half.
- ``GET_MERCHANT_LISTINGS_ALL_DATA`` -> ``listings_items`` (report's first marketplace).
- ``GET_FBA_MYI_UNSUPPRESSED_INVENTORY_DATA`` -> ``inventory_summaries``.
- ``GET_SALES_AND_TRAFFIC_REPORT`` (JSON) -> ``sales_traffic_by_date`` and
  ``sales_traffic_by_asin`` (:mod:`worker.sync.sales_traffic`, called by ``reports._load_json``).
- ``GET_FBA_FULFILLMENT_CUSTOMER_RETURNS_DATA``, ``GET_FLAT_FILE_RETURNS_DATA_BY_RETURN_DATE``
  and ``GET_FBA_REIMBURSEMENTS_DATA`` -> ``fba_returns``, ``mfn_returns`` and
  ``fba_reimbursements`` (:mod:`worker.sync.returns`), the report's first marketplace.
- ``GET_FBA_ESTIMATED_FBA_FEES_TXT_DATA``, ``GET_FBA_STORAGE_FEE_CHARGES_DATA``,
  ``GET_LEDGER_DETAIL_VIEW_DATA`` and ``GET_LEDGER_SUMMARY_VIEW_DATA`` ->
  ``fba_fee_estimates``, ``fba_storage_fees``, ``inventory_ledger`` and
  ``inventory_ledger_summary`` (:mod:`worker.sync.fba_reports`).
- any other type -> ``report_rows``, one per line as ``{column: value}`` (TSV or CSV), or
  one per element of a JSON document's first list.

Rows from reports are written with ``source = 'report'`` and never replace an API row with
the same "last updated" time (see :mod:`worker.db.upsert`). Listings and inventory rows
carry no update time in their flat files, so an API row always wins over them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Generator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import partial
from typing import Any, Protocol

from sqlalchemy import Connection

from worker.db import mirror
from worker.db import reports as reports_db
from worker.db.reports import ReportRecord
from worker.db.rows import InventoryRow, ItemRow, ListingRow, OrderRow
from worker.db.upsert import run
from worker.spapi.errors import MalformedResponseError
from worker.spapi.regions import MARKETPLACES, SALES_CHANNELS
from worker.sync.fields import MAX_INT, bad, fits_money, parse_time, unstorable
from worker.sync.orders_mapping import normalise_status
from worker.sync.report_parse import ParsedRow

ORDERS_BY_UPDATE = "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL"
ORDERS_BY_DATE = "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL"
LISTINGS_ALL = "GET_MERCHANT_LISTINGS_ALL_DATA"
FBA_MYI = "GET_FBA_MYI_UNSUPPRESSED_INVENTORY_DATA"
SALES_AND_TRAFFIC = "GET_SALES_AND_TRAFFIC_REPORT"
SETTLEMENT_V2 = "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2"  # found, not requested
JSON_TYPES = frozenset({SALES_AND_TRAFFIC})

BATCH_ROWS = 1000  # benchmarks/upsert.py: 500-1000 rows per COPY + merge is fastest
_CHANNELS = {"Amazon": "AFN", "Merchant": "MFN"}
_ADDED = ("item-price", "item-tax", "shipping-price", "shipping-tax", "gift-wrap-price",
          "gift-wrap-tax")
_SUBTRACTED = ("item-promotion-discount", "ship-promotion-discount")
_ZERO_CELLS = frozenset({"", "0", "0.00", "0.0"})


@dataclass
class Counts:
    read: int = 0
    written: int = 0
    rejected: int = 0


class Sink(Protocol):
    tables: tuple[str, ...]  # what it writes (kept analyzed during a long ingest)

    def accept(self, row: ParsedRow) -> None: ...
    def ready(self) -> bool: ...
    def flush(self, conn: Connection, *, final: bool) -> Counts: ...
    def write_steps(self, conn: Connection, *, final: bool) -> Generator[None, None, Counts]: ...


def sink_for(report: ReportRecord, batch: int = BATCH_ROWS) -> Sink:
    kind = report.report_type
    if kind == SETTLEMENT_V2:
        from worker.sync.settlements import SettlementSink  # it imports Counts from here

        return SettlementSink(report)
    if kind in (ORDERS_BY_UPDATE, ORDERS_BY_DATE):
        return OrdersSink(report, batch)
    from worker.sync.returns import TYPED  # it imports the cell readers from here

    if kind in TYPED:  # returns, MFN returns, reimbursements (one typed row a line)
        table, mapper, writer = TYPED[kind]
        return RowSink(report, batch, table, partial(mapper, report.marketplace_ids[0]), writer)
    if kind == LISTINGS_ALL:
        return RowSink(report, batch, "listings_items",
                       partial(_listing, report.marketplace_ids[0]),
                       partial(mirror.upsert_listings, from_report=True))
    if kind == FBA_MYI:
        return RowSink(report, batch, "inventory_summaries",
                       partial(map_myi_row, report.marketplace_ids[0]),
                       partial(mirror.upsert_inventory, from_report=True))
    from worker.sync import fba_reports  # it imports BaseSink and Counts from here

    typed = fba_reports.sink(report, batch)  # FBA fees and the inventory ledger
    return typed if typed is not None else RawSink(report, batch)


class BaseSink:
    """Rejected rows and the report's own bookkeeping, shared by every sink."""

    def __init__(self, report: ReportRecord, batch: int) -> None:
        self.report = report
        self.batch = batch
        self.rejected: list[dict[str, Any]] = []
        self.read = 0

    def reject(self, line: int, error: str, values: dict[str, str] | None) -> None:
        self.rejected.append({"line": line, "record_key": None, "data": values, "error": error})

    def flush(self, conn: Connection, *, final: bool) -> Counts:
        raise NotImplementedError

    def write_steps(self, conn: Connection, *, final: bool) -> Generator[None, None, Counts]:
        """:meth:`flush` as steps (:func:`worker.db.upsert.upsert_steps`): here one, with no
        pause; a sink whose writes can pause overrides this."""
        yield from ()
        return self.flush(conn, final=final)

    def _flush_rejected(self, conn: Connection) -> Counts:
        counts = Counts(read=self.read, rejected=len(self.rejected))
        reports_db.add_rows(conn, self.report, self.rejected)
        self.rejected, self.read = [], 0
        return counts


class RawSink(BaseSink):
    """Any report type without a mapping: each row lands in ``report_rows`` as it is."""

    tables: tuple[str, ...] = ("report_rows",)

    def __init__(self, report: ReportRecord, batch: int) -> None:
        super().__init__(report, batch)
        self.rows: list[dict[str, Any]] = []

    def accept(self, row: ParsedRow) -> None:
        self.read += 1
        if row.values is None:
            self.reject(row.line, row.error or "unreadable row", row.partial)
        else:
            self.rows.append({"line": row.line, "record_key": None, "data": row.values,
                              "error": None})

    def ready(self) -> bool:
        return len(self.rows) + len(self.rejected) >= self.batch

    def flush(self, conn: Connection, *, final: bool) -> Counts:
        written = reports_db.add_rows(conn, self.report, self.rows)
        self.rows = []
        counts = self._flush_rejected(conn)
        counts.written = written
        return counts


class RowSink(BaseSink):
    """One typed row per line, written with one upsert per batch."""

    def __init__(self, report: ReportRecord, batch: int, table: str,
                 mapper: Callable[[dict[str, str]], Any],
                 writer: Callable[[Connection, int, list[Any]], int]) -> None:
        super().__init__(report, batch)
        self.tables: tuple[str, ...] = (table, "report_rows")
        self.mapper, self.writer = mapper, writer
        self.rows: list[Any] = []

    def accept(self, row: ParsedRow) -> None:
        self.read += 1
        if row.values is None:
            self.reject(row.line, row.error or "unreadable row", row.partial)
            return
        try:
            self.rows.append(self.mapper(row.values))
        except MalformedResponseError as exc:
            self.reject(row.line, exc.detail, row.values)

    def ready(self) -> bool:
        return len(self.rows) >= self.batch

    def flush(self, conn: Connection, *, final: bool) -> Counts:
        written = self.writer(conn, self.report.seller_id, self.rows) if self.rows else 0
        self.rows = []
        counts = self._flush_rejected(conn)
        counts.written = written
        return counts


class OrdersSink(BaseSink):
    """Item rows grouped into orders; only whole orders are written.

    An order is closed when a row of another order arrives (or the document ends). If any
    of its rows was rejected, the whole order is rejected: a half order never lands.
    """

    tables: tuple[str, ...] = ("orders", "order_items", "report_rows")

    def __init__(self, report: ReportRecord, batch: int) -> None:
        super().__init__(report, batch)
        self.group: list[ParsedRow] = []
        self.orders: list[tuple[OrderRow, list[ItemRow]]] = []

    def accept(self, row: ParsedRow) -> None:
        self.read += 1
        if self.group and _order_id(self.group[0]) != _order_id(row):
            self._close_group()
        self.group.append(row)

    def ready(self) -> bool:
        return len(self.orders) >= self.batch

    def flush(self, conn: Connection, *, final: bool) -> Counts:
        return run(self.write_steps(conn, final=final))

    def write_steps(self, conn: Connection, *, final: bool) -> Generator[None, None, Counts]:
        """The batch's orders, its rejected rows, then its orders' items. It pauses while
        the new orders, then their items, are on their way to the server by ``COPY`` (a
        report's first ingest is all new orders), so the caller can read on meanwhile."""
        if final and self.group:
            self._close_group()
        orders, self.orders = self.orders, []
        done = mirror.OrdersWritten(set(), set())
        if orders:
            done = yield from mirror.upsert_orders_steps(
                conn, self.report.seller_id, [order for order, _ in orders], from_report=True)
        counts = self._flush_rejected(conn)
        counts.written = len(done.ids)
        items = [i for order, its in orders if order.amazon_order_id in done.ids for i in its]
        yield from mirror.replace_items_steps(conn, self.report.seller_id, done.ids, items,
                                              new=done.new)
        return counts

    def _close_group(self) -> None:
        group, self.group = self.group, []
        broken = [r for r in group if r.values is None]
        if broken:
            why = f"another row of this order was rejected (line {broken[0].line})"
            for r in group:
                self.reject(r.line, r.error or why, r.values or r.partial)
            return
        try:
            self.orders.append(map_order_rows(
                self.report.report_type, [r.values or {} for r in group]))
        except MalformedResponseError as exc:
            for r in group:
                self.reject(r.line, exc.detail, r.values)


def _order_id(row: ParsedRow) -> str:
    return (row.values or row.partial or {}).get("amazon-order-id", "")


# ---------------------------------------------------------------- pure mappers


def map_order_rows(report_type: str, rows: list[dict[str, str]]) -> tuple[OrderRow, list[ItemRow]]:
    """The flat-file rows of one order (one per item) -> the order and its items. Pure."""
    first = rows[0]
    order_id = _req(first, "amazon-order-id", "order row")
    what = f"order {order_id}"
    status = _req(first, "order-status", what)
    shares = [_order_money(r, what) for r in rows]
    total = None if None in shares else fits_money(
        sum((s or Decimal(0) for s in shares), Decimal(0)), f"{what} total")
    currency = next((r["currency"] for r in rows if r.get("currency")), None)
    channel = first.get("sales-channel", "")
    order = OrderRow(
        amazon_order_id=order_id,
        order_status=normalise_status(status),
        purchase_date=parse_time(first.get("purchase-date"), f"{what}.purchase-date"),
        last_update_date=parse_time(first.get("last-updated-date"),
                                    f"{what}.last-updated-date"),
        order_total=total,
        currency=currency,
        marketplace_id=SALES_CHANNELS.get(channel),
        fulfillment_channel=_CHANNELS.get(first.get("fulfillment-channel", "")),
        api_version="report",
        raw={"reportType": report_type, "rows": rows},
        source="report",
    )
    seen: dict[str, int] = {}
    items = []
    for r in rows:
        sku = _req(r, "sku", what)
        seen[sku] = seen.get(sku, 0) + 1
        suffix = f"#{seen[sku]}" if seen[sku] > 1 else ""
        quantity = int_cell(r, "quantity", what)
        if quantity is None:
            raise bad(f"{what}.quantity is empty")
        items.append(ItemRow(
            amazon_order_id=order_id,
            order_item_id=f"report:{sku}{suffix}",
            seller_sku=sku,
            asin=r.get("asin") or None,
            title=r.get("product-name") or None,
            quantity_ordered=quantity,
            quantity_shipped=quantity if r.get("item-status") == "Shipped" else None,
            item_price=decimal_cell(r, "item-price", what),
            currency=r.get("currency") or None,
            raw=r,
        ))
    return order, items


def _order_money(row: dict[str, str], what: str) -> Decimal | None:
    """An item row's share of the order total; None while the order is unpriced (Pending)."""
    if not row.get("item-price"):
        return None
    total = Decimal(0)
    for keys, sign in ((_ADDED, 1), (_SUBTRACTED, -1)):
        for key in keys:
            if row.get(key, "") not in _ZERO_CELLS:  # most cells are empty or 0.00
                total += sign * (decimal_cell(row, key, what) or 0)
    return total


def _listing(marketplace_id: str, row: dict[str, str]) -> ListingRow:
    currency = MARKETPLACES.get(marketplace_id, ("", "", None))[2]
    return ListingRow(**map_listing_row(marketplace_id, currency, row))


def map_listing_row(marketplace_id: str, currency: str | None,
                    row: dict[str, str]) -> dict[str, Any]:
    """A ``GET_MERCHANT_LISTINGS_ALL_DATA`` row -> ``listings_items`` columns. Pure.

    The report's ``status`` is Active/Inactive; Active becomes the API's
    ``["BUYABLE", "DISCOVERABLE"]``, anything else no status (the raw row keeps the word).
    """
    sku = _req(row, "seller-sku", "listing row")
    what = f"listing {sku}"
    return {
        "marketplace_id": marketplace_id,
        "seller_sku": sku,
        "asin": row.get("asin1") or None,
        "product_type": None,
        "item_name": row.get("item-name") or None,
        "condition_type": None,
        "status": ["BUYABLE", "DISCOVERABLE"] if row.get("status") == "Active" else [],
        "fn_sku": None,
        "price": decimal_cell(row, "price", what),
        "currency": currency if row.get("price") else None,
        "quantity": int_cell(row, "quantity", what),
        "issues": [],
        "issue_count": 0,
        "error_count": 0,
        "created_date": report_time(row.get("open-date", ""), f"{what}.open-date"),
        "last_updated_date": None,
        "source": "report",
        "raw": {"reportType": LISTINGS_ALL, "row": row},
    }


def map_myi_row(marketplace_id: str, row: dict[str, str]) -> InventoryRow:
    """A ``GET_FBA_MYI_UNSUPPRESSED_INVENTORY_DATA`` row -> an inventory row. Pure."""
    sku = _req(row, "sku", "inventory row")
    what = f"inventory {sku}"
    return InventoryRow(
        marketplace_id=marketplace_id,
        seller_sku=sku,
        fn_sku=row.get("fnsku") or None,
        asin=row.get("asin") or None,
        condition=row.get("condition") or None,
        product_name=row.get("product-name") or None,
        total_quantity=int_cell(row, "afn-total-quantity", what),
        fulfillable_quantity=int_cell(row, "afn-fulfillable-quantity", what),
        inbound_working_quantity=int_cell(row, "afn-inbound-working-quantity", what),
        inbound_shipped_quantity=int_cell(row, "afn-inbound-shipped-quantity", what),
        inbound_receiving_quantity=int_cell(row, "afn-inbound-receiving-quantity", what),
        reserved_quantity=int_cell(row, "afn-reserved-quantity", what),
        unfulfillable_quantity=int_cell(row, "afn-unsellable-quantity", what),
        researching_quantity=int_cell(row, "afn-researching-quantity", what),
        last_updated_time=None,
        raw={"reportType": FBA_MYI, "row": row},
        source="report",
    )


def sales_and_traffic_rows(doc: Any) -> list[dict[str, Any]]:
    """A ``GET_SALES_AND_TRAFFIC_REPORT`` document -> ``report_rows`` (one per date / ASIN).

    ``record_key`` is ``date:<day>`` or ``asin:<childAsin or parentAsin>`` so analytics can
    take the newest report's row per key across sellers.
    """
    if not isinstance(doc, dict):
        raise bad("sales and traffic report is not an object")
    rows: list[dict[str, Any]] = []
    for section, key_field, prefix in (("salesAndTrafficByDate", "date", "date"),
                                       ("salesAndTrafficByAsin", "childAsin", "asin")):
        entries = doc.get(section) or []
        if not isinstance(entries, list):
            raise bad(f"sales and traffic report.{section} is not a list")
        for entry in entries:
            line = len(rows) + 1
            if not isinstance(entry, dict):
                rows.append({"line": line, "record_key": None, "data": None,
                             "error": f"{section} entry is not an object"})
                continue
            value = entry.get(key_field) or entry.get("parentAsin")
            rows.append(_json_row(line, {"section": section, **entry},
                                  f"{prefix}:{value}" if value else None))
    return rows


def json_rows(doc: Any) -> list[dict[str, Any]]:
    """Any other JSON report: one row per element of its first top-level list, else one row."""
    if isinstance(doc, dict):
        entries = next((v for v in doc.values() if isinstance(v, list)), None)
        if entries is None:
            return [_json_row(1, doc)]
    elif isinstance(doc, list):
        entries = doc
    else:
        raise bad("JSON report is neither an object nor a list")
    return [_json_row(n, e if isinstance(e, dict) else {"value": e})
            for n, e in enumerate(entries, start=1)]


def _json_row(line: int, data: dict[str, Any], key: str | None = None) -> dict[str, Any]:
    """A ``report_rows`` row; rejected (data not kept) when jsonb cannot hold ``data``."""
    unfit = unstorable(data)
    if unfit is None:
        return {"line": line, "record_key": key, "data": data, "error": None}
    return {"line": line, "record_key": None, "data": None,
            "error": f"entry holds a NUL, a lone surrogate, NaN or Infinity at {unfit}"}


# ---------------------------------------------------------------- cell readers


def _req(row: dict[str, str], key: str, what: str) -> str:
    value = row.get(key, "").strip()
    if not value:
        raise bad(f"{what}.{key} is empty")
    return value


def int_cell(row: dict[str, str], key: str, what: str) -> int | None:
    value = row.get(key, "").strip()
    if not value:
        return None
    # isdigit() alone also says yes to "²" (int() refuses it) and to other scripts' digits
    digits = value.lstrip("0") or "0"
    if not (value.isascii() and value.isdigit()) or len(digits) > 10 or int(digits) > MAX_INT:
        raise bad(f"{what}.{key} is not a non-negative integer (up to 2^31 - 1)")
    return int(digits)


_SIGNED = re.compile(r"[+-]?\d{1,10}", re.ASCII)


def signed_cell(row: dict[str, str], key: str, what: str) -> int | None:
    return signed_text(row.get(key, "").strip(), f"{what}.{key}")


def signed_text(value: str, what: str) -> int | None:
    """An integer cell that may be negative (reversals, the ledger's quantities); None when
    empty."""
    if not value:
        return None
    if not _SIGNED.fullmatch(value) or abs(int(value)) > MAX_INT:
        raise bad(f"{what} is not an integer (up to 2^31 - 1 either way)")
    return int(value)


def decimal_cell(row: dict[str, str], key: str, what: str) -> Decimal | None:
    return decimal_text(row.get(key, "").strip(), f"{what}.{key}")


def decimal_text(value: str, what: str) -> Decimal | None:
    """A cell's decimal (None when empty), refused when not finite or too large to store."""
    if not value:
        return None
    try:
        parsed = Decimal(value)
    except InvalidOperation:
        raise bad(f"{what} is not a decimal") from None
    if not parsed.is_finite():
        raise bad(f"{what} is not a decimal")
    return fits_money(parsed, what)


# Flat files write local times with a zone abbreviation ("2024-03-01 10:00:00 PST").
_ZONES = {"UTC": 0, "GMT": 0, "PST": -8, "PDT": -7, "MST": -7, "MDT": -6, "CST": -6,
          "CDT": -5, "EST": -5, "EDT": -4, "BST": 1, "CET": 1, "CEST": 2, "JST": 9}
_LOCAL = re.compile(r"^(\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}) ([A-Z]{3,4})$", re.ASCII)


def report_time(value: str, what: str) -> datetime | None:
    """A flat file's date-time (ISO 8601, or local time + zone abbreviation) -> UTC."""
    value = value.strip()
    if not value:
        return None
    match = _LOCAL.match(value)
    if match and match.group(2) in _ZONES:
        try:
            local = datetime.fromisoformat(match.group(1).replace(" ", "T"))
            return (local - timedelta(hours=_ZONES[match.group(2)])).replace(tzinfo=UTC)
        except (ValueError, OverflowError):  # 2024-13-01, or a year-1 PST before year 1 UTC
            raise bad(f"{what} is not a date-time") from None
    return parse_time(value, what)
