"""FBA fees and the inventory ledger as typed report streams: the pure row mappers and the
sinks that write them (``report_types.sink_for`` picks them by report type).

- ``GET_FBA_ESTIMATED_FBA_FEES_TXT_DATA`` -> ``fba_fee_estimates``: the estimated fees of
  each SKU with active FBA offers, a snapshot (key seller, marketplace, SKU); a later report
  replaces a SKU's row when its cells differ. A SKU missing from a later report is kept.
- ``GET_FBA_STORAGE_FEE_CHARGES_DATA`` -> ``fba_storage_fees``: the monthly storage fee of
  each FNSKU per fulfillment center and month of charge (key seller, marketplace, month,
  FNSKU, fulfillment center); a later report's row for the same key replaces it when its
  cells differ (Amazon's estimate becomes the charge).
- ``GET_LEDGER_DETAIL_VIEW_DATA`` -> ``inventory_ledger``: one row per ledger event. The
  ledger has no unique column: a line's key is (seller, marketplace, date, FNSKU, event
  type, reference id, fulfillment center, disposition, reason, quantity, occurrence), where
  ``occurrence`` numbers identical lines within one report (1, 2, ... in file order). A
  report covers whole days, so two reports of the same days give identical lines the same
  numbers: re-reading a day rewrites nothing, and a back-dated line identical to one stored
  lands as the next occurrence.
- ``GET_LEDGER_SUMMARY_VIEW_DATA`` (daily, by fulfillment center) -> ``inventory_ledger_summary``:
  one row per day, FNSKU, disposition and location (its key); a back-dated event changes the
  day's row and later days' balances, and the next report within the look-back replaces them.

Header cells are matched loosely (case, ``-``, ``_`` and spaces ignored): Amazon documents
the storage report's columns with hyphens but delivers them with underscores, and the
ledger's as ``EventType`` where the file says ``Event Type``. No file here holds buyer PII;
product names (``product-name``, ``Title``) are kept only in ``raw``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection

from worker.db.models import (
    FbaFeeEstimate,
    FbaStorageFee,
    InventoryLedger,
    InventoryLedgerSummary,
)
from worker.db.reports import ReportRecord
from worker.db.upsert import upsert_newer
from worker.spapi.errors import MalformedResponseError
from worker.sync.fields import bad
from worker.sync.report_parse import ParsedRow
from worker.sync.report_types import BaseSink, Counts, decimal_text, report_time, signed_text

FEE_ESTIMATES = "GET_FBA_ESTIMATED_FBA_FEES_TXT_DATA"
STORAGE_FEES = "GET_FBA_STORAGE_FEE_CHARGES_DATA"
LEDGER_DETAIL = "GET_LEDGER_DETAIL_VIEW_DATA"
LEDGER_SUMMARY = "GET_LEDGER_SUMMARY_VIEW_DATA"

# https://developer-docs.amazon.com/sp-api/docs/fba-payments-reports-attributes
# (GET_FBA_ESTIMATED_FBA_FEES_TXT_DATA): sku, fnsku, asin, product-name, product-group, brand,
# fulfilled-by, has-local-inventory, your-price, sales-price, longest-side, median-side,
# shortest-side, length-and-girth, unit-of-dimension, item-package-weight, unit-of-weight,
# product-size-weight-band, currency, estimated-fee-total, estimated-referral-fee-per-unit,
# estimated-variable-closing-fee, expected-domestic-fulfilment-fee-per-unit,
# expected-efn-fulfilment-fee-per-unit-{uk,de,fr,it,es,se}.
FEE_TEXT = {"fnsku": "fnsku", "asin": "asin", "product-group": "product_group",
            "brand": "brand", "fulfilled-by": "fulfilled_by",
            "has-local-inventory": "has_local_inventory", "unit-of-dimension":
            "unit_of_dimension", "unit-of-weight": "unit_of_weight",
            "product-size-weight-band": "product_size_weight_band", "currency": "currency"}
FEE_NUMBERS = {"your-price": "your_price", "sales-price": "sales_price",
               "longest-side": "longest_side", "median-side": "median_side",
               "shortest-side": "shortest_side", "length-and-girth": "length_and_girth",
               "item-package-weight": "item_package_weight",
               "estimated-fee-total": "estimated_fee_total",
               "estimated-referral-fee-per-unit": "estimated_referral_fee_per_unit",
               "estimated-variable-closing-fee": "estimated_variable_closing_fee"}
# The fulfilment fee per unit: the documented (EU) column; North American files spell it
# ``expected-fulfillment-fee-per-unit`` (as public parsers of the file read it).
FULFILMENT_FEE = ("expected-domestic-fulfilment-fee-per-unit",
                  "expected-fulfillment-fee-per-unit")

# https://sellercentral.amazon.com/gp/help/external/help.html?itemID=202086720 (Monthly
# storage fees report, "Download header"): asin, fnsku, product-name, fulfillment-center,
# country-code, longest-side, median-side, shortest-side, measurement-units, weight,
# weight-units, item-volume, volume-units, average-quantity-on-hand,
# average-quantity-pending-removal, estimated-total-item-volume, month-of-charge,
# storage-rate, currency, estimated-monthly-storage-fee, ... (the SP-API file writes them
# with underscores: month_of_charge, storage_rate, ...).
STORAGE_TEXT = {"asin": "asin", "country-code": "country_code",
                "measurement-units": "measurement_units", "weight-units": "weight_units",
                "volume-units": "volume_units", "product-size-tier": "product_size_tier",
                "currency": "currency"}
STORAGE_NUMBERS = {"longest-side": "longest_side", "median-side": "median_side",
                   "shortest-side": "shortest_side", "weight": "weight",
                   "item-volume": "item_volume",
                   "average-quantity-on-hand": "average_quantity_on_hand",
                   "average-quantity-pending-removal": "average_quantity_pending_removal",
                   "estimated-total-item-volume": "estimated_total_item_volume",
                   "storage-rate": "storage_rate",
                   "estimated-monthly-storage-fee": "estimated_monthly_storage_fee"}

# https://developer-docs.amazon.com/sp-api/docs/fba-inventory-reports-attributes
# (GET_LEDGER_DETAIL_VIEW_DATA): Date, FNSKU, ASIN, MSKU, Title, EventType, ReferenceID,
# Quantity, FulfillmentCenter, Disposition, Reason, Country, ReconciledQuantity,
# UnreconciledQuantity.
LEDGER_KEY_TEXT = {"eventtype": "event_type", "referenceid": "reference_id",
                   "fulfillmentcenter": "fulfillment_center", "disposition": "disposition",
                   "reason": "reason"}
LEDGER_TEXT = {"asin": "asin", "msku": "msku", "country": "country"}

# https://developer-docs.amazon.com/sp-api/docs/fba-inventory-reports-attributes
# (GET_LEDGER_SUMMARY_VIEW_DATA): Date, FNSKU, ASIN, MSKU, Title, Disposition,
# StartingWarehouseBalance, InTransitBetweenWarehouses, Receipts, CustomerShipments,
# CustomerReturns, VendorReturns, WarehouseTransferIn/Out, Found, Lost, Damaged, Disposed,
# OtherEvents, EndingWarehouseBalance, UnknownEvents, Location.
SUMMARY_COUNTS = {
    "StartingWarehouseBalance": "starting_warehouse_balance",
    "InTransitBetweenWarehouses": "in_transit_between_warehouses", "Receipts": "receipts",
    "CustomerShipments": "customer_shipments", "CustomerReturns": "customer_returns",
    "VendorReturns": "vendor_returns", "WarehouseTransferIn/Out": "warehouse_transfer_in_out",
    "Found": "found", "Lost": "lost", "Damaged": "damaged", "Disposed": "disposed",
    "OtherEvents": "other_events", "EndingWarehouseBalance": "ending_warehouse_balance",
    "UnknownEvents": "unknown_events"}

# reportOptions: one row per day and fulfillment center (Amazon's defaults are per country).
SUMMARY_OPTIONS = (("aggregateByLocation", "FC"), ("aggregatedByTimePeriod", "DAILY"))

_LOOSE = re.compile(r"[^a-z0-9]")
_MONTH = re.compile(r"^(\d{4})-(\d{2})(?:-\d{2})?$", re.ASCII)
_US_DATE = re.compile(r"^(\d{2})/(\d{2})/(\d{4})$", re.ASCII)


def loose(values: dict[str, str]) -> dict[str, str]:
    """The row keyed by its headers without case, ``-``, ``_`` or spaces."""
    return {_LOOSE.sub("", k.lower()): v.strip() for k, v in values.items()}


def _get(row: dict[str, str], column: str) -> str:
    return row.get(_LOOSE.sub("", column.lower()), "")


def _req(row: dict[str, str], column: str, what: str) -> str:
    value = _get(row, column)
    if not value:
        raise bad(f"{what}.{column} is empty")
    return value


def number(row: dict[str, str], column: str, what: str) -> Decimal | None:
    """A decimal cell (``1,5`` read as 1.5); None when empty."""
    value = _get(row, column)
    if "," in value and "." not in value:
        value = value.replace(",", ".")
    return decimal_text(value, f"{what}.{column}")


def signed(row: dict[str, str], column: str, what: str) -> int | None:
    """An integer cell that may be negative (the ledger's quantities); None when empty."""
    return signed_text(_get(row, column), f"{what}.{column}")


def _text(row: dict[str, str], columns: dict[str, str]) -> dict[str, str | None]:
    return {name: _get(row, column) or None for column, name in columns.items()}


def _numbers(row: dict[str, str], columns: dict[str, str], what: str) -> dict[str, Any]:
    return {name: number(row, column, what) for column, name in columns.items()}


def month_of(value: str, what: str) -> date:
    """``2026-10`` (or ``2026-10-01``) -> the month's first day."""
    match = _MONTH.match(value)
    if match:
        try:
            return date(int(match[1]), int(match[2]), 1)
        except ValueError:
            pass
    raise bad(f"{what} is not a month (YYYY-MM)")


def day_of(value: str, what: str) -> date:
    """A ledger date: ``2026-10-11``, ``10/11/2026`` (month first) or a date-time's UTC day."""
    match = _US_DATE.match(value)
    text = f"{match[3]}-{match[1]}-{match[2]}" if match else value
    if len(text) == len("2026-10-11"):
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise bad(f"{what} is not a date") from None
    instant: datetime | None = report_time(text, what)
    if instant is None:
        raise bad(f"{what} is empty")
    return instant.date()


# ---------------------------------------------------------------- pure mappers


def map_fee_estimate(marketplace_id: str, values: dict[str, str]) -> dict[str, Any]:
    """A fee estimates row -> a ``fba_fee_estimates`` row (without the seller). Pure."""
    row = loose(values)
    sku = _req(row, "sku", "fee estimate")
    what = f"fee estimate {sku[:40]}"
    fulfilment = next((c for c in FULFILMENT_FEE if _get(row, c)), FULFILMENT_FEE[0])
    return {"marketplace_id": marketplace_id, "sku": sku, **_text(row, FEE_TEXT),
            **_numbers(row, FEE_NUMBERS, what),
            "expected_fulfillment_fee_per_unit": number(row, fulfilment, what),
            "raw": values}


def map_storage_fee(marketplace_id: str, values: dict[str, str]) -> dict[str, Any]:
    """A monthly storage fees row -> a ``fba_storage_fees`` row (without the seller). Pure."""
    row = loose(values)
    fnsku = _req(row, "fnsku", "storage fee")
    what = f"storage fee {fnsku[:40]}"
    return {"marketplace_id": marketplace_id,
            "month_of_charge": month_of(_req(row, "month-of-charge", what),
                                        f"{what}.month-of-charge"),
            "fnsku": fnsku, "fulfillment_center": _req(row, "fulfillment-center", what),
            **_text(row, STORAGE_TEXT), **_numbers(row, STORAGE_NUMBERS, what),
            "raw": values}


def map_ledger_line(marketplace_id: str, values: dict[str, str]) -> dict[str, Any]:
    """A ledger detail row -> an ``inventory_ledger`` row without its occurrence (nor the
    seller). Key cells that are empty are stored as ``''``. Pure."""
    row = loose(values)
    fnsku = _req(row, "FNSKU", "ledger line")
    what = f"ledger line {fnsku[:40]}"
    quantity = signed(row, "Quantity", what)
    if quantity is None:
        raise bad(f"{what}.Quantity is empty")
    out: dict[str, Any] = {
        "marketplace_id": marketplace_id,
        "event_date": day_of(_req(row, "Date", what), f"{what}.Date"),
        "fnsku": fnsku,
        **{name: _get(row, column) for column, name in LEDGER_KEY_TEXT.items()},
        "quantity": quantity,
        **_text(row, LEDGER_TEXT),
        "reconciled_quantity": signed(row, "ReconciledQuantity", what),
        "unreconciled_quantity": signed(row, "UnreconciledQuantity", what),
        "raw": values,
    }
    if not out["event_type"]:
        raise bad(f"{what}.EventType is empty")
    return out


def map_ledger_summary(marketplace_id: str, values: dict[str, str]) -> dict[str, Any]:
    """A ledger summary row (one day, FNSKU, disposition and location) -> an
    ``inventory_ledger_summary`` row (without the seller). Pure."""
    row = loose(values)
    fnsku = _req(row, "FNSKU", "ledger summary")
    what = f"ledger summary {fnsku[:40]}"
    return {"marketplace_id": marketplace_id,
            "summary_date": day_of(_req(row, "Date", what), f"{what}.Date"),
            "fnsku": fnsku, "disposition": _get(row, "Disposition"),
            "location": _get(row, "Location"), "asin": _get(row, "ASIN") or None,
            "msku": _get(row, "MSKU") or None,
            **{name: signed(row, column, what) for column, name in SUMMARY_COUNTS.items()},
            "raw": values}


LEDGER_KEY = ("seller_id", "marketplace_id", "event_date", "fnsku", "event_type",
              "reference_id", "fulfillment_center", "disposition", "reason", "quantity",
              "occurrence")
FEE_KEY = ("seller_id", "marketplace_id", "sku")
STORAGE_KEY = ("seller_id", "marketplace_id", "month_of_charge", "fnsku", "fulfillment_center")
SUMMARY_KEY = ("seller_id", "marketplace_id", "summary_date", "fnsku", "disposition",
               "location")


# ---------------------------------------------------------------- sinks


class TypedSink(BaseSink):
    """One typed row per line, upserted per batch (a row is rewritten when its ``raw``
    differs); a line that does not map lands in ``report_rows`` with the reason."""

    def __init__(self, report: ReportRecord, batch: int, model: Any, key: tuple[str, ...],
                 mapper: Callable[[str, dict[str, str]], dict[str, Any]]) -> None:
        super().__init__(report, batch)
        self.model, self.key, self.mapper = model, key, mapper
        self.tables: tuple[str, ...] = (model.__tablename__, "report_rows")
        self.market = report.marketplace_ids[0]
        self.rows: list[dict[str, Any]] = []

    def accept(self, row: ParsedRow) -> None:
        self.read += 1
        if row.values is None:
            self.reject(row.line, row.error or "unreadable row", row.partial)
            return
        try:
            mapped = self.mapper(self.market, row.values)
        except MalformedResponseError as exc:
            self.reject(row.line, exc.detail, row.values)
            return
        self.rows.append(self.keyed(mapped))

    def keyed(self, mapped: dict[str, Any]) -> dict[str, Any]:
        return {**mapped, "seller_id": self.report.seller_id}

    def ready(self) -> bool:
        return len(self.rows) >= self.batch

    def flush(self, conn: Connection, *, final: bool) -> Counts:
        written = len(upsert_newer(conn, self.model, self.rows, keys=self.key,
                                   updated=None)) if self.rows else 0
        self.rows = []
        counts = self._flush_rejected(conn)
        counts.written = written
        return counts


class LedgerSink(TypedSink):
    """Numbers identical ledger lines of the report (their occurrence) as they are read."""

    def __init__(self, report: ReportRecord, batch: int, model: Any) -> None:
        super().__init__(report, batch, model, LEDGER_KEY, map_ledger_line)
        self.seen: dict[tuple[Any, ...], int] = {}

    def keyed(self, mapped: dict[str, Any]) -> dict[str, Any]:
        row = super().keyed(mapped)
        key = tuple(row[k] for k in LEDGER_KEY[:-1])
        self.seen[key] = row["occurrence"] = self.seen.get(key, 0) + 1
        return row


def sink(report: ReportRecord, batch: int) -> TypedSink | None:
    """The sink of one of these report types; None for any other type."""
    kind = report.report_type
    if kind == FEE_ESTIMATES:
        return TypedSink(report, batch, FbaFeeEstimate, FEE_KEY, map_fee_estimate)
    if kind == STORAGE_FEES:
        return TypedSink(report, batch, FbaStorageFee, STORAGE_KEY, map_storage_fee)
    if kind == LEDGER_DETAIL:
        return LedgerSink(report, batch, InventoryLedger)
    if kind == LEDGER_SUMMARY:
        return TypedSink(report, batch, InventoryLedgerSummary, SUMMARY_KEY, map_ledger_summary)
    return None
