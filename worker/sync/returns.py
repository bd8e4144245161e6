"""Returns and reimbursements: three flat-file report types read as typed report streams
(:class:`~worker.sync.declaration.ReportStream`, one report a marketplace each run), each line
mapped to one row of its table (:class:`~worker.sync.report_types.RowSink`).

- ``GET_FBA_FULFILLMENT_CUSTOMER_RETURNS_DATA`` -> ``fba_returns``: one line per returned
  unit processed at a fulfillment center, windowed on ``return-date``. A line is identified by
  its order, SKU, return date and license plate number (the LPN labels the returned unit;
  ``order-id`` is "if available" and the LPN is missing on some lines, so either may be '').
- ``GET_FLAT_FILE_RETURNS_DATA_BY_RETURN_DATE`` -> ``mfn_returns``: one line per item of a
  merchant-fulfilled return request, windowed on ``Return request date``. A line is identified
  by its order, ASIN, merchant SKU and return request date (one of ASIN and SKU may be '').
  The request's later changes (status, delivery, refund) rewrite the same row.
- ``GET_FBA_REIMBURSEMENTS_DATA`` -> ``fba_reimbursements``: one line per SKU of a
  reimbursement, windowed on ``approval-date``, identified by ``reimbursement-id``, SKU and
  FNSKU. A reversal is a line of its own (its own id, ``original-reimbursement-id`` pointing
  back), with negative amounts and quantities.

A line carries no "last updated" time, so a later report's copy of a line replaces the stored
one when it differs (:func:`worker.db.upsert.upsert_newer` with no update time). Buyer PII is
never stored: the returns layouts have no name, address, e-mail or phone column, and
``customer-comments`` (free text the buyer typed) is dropped from the row before anything,
``raw`` included, is kept.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection

from worker.db.models import FbaReimbursement, FbaReturn, MfnReturn
from worker.db.upsert import upsert_newer
from worker.sync.fields import bad
from worker.sync.report_types import decimal_cell, int_cell, report_time, signed_cell

FBA_RETURNS = "GET_FBA_FULFILLMENT_CUSTOMER_RETURNS_DATA"
MFN_RETURNS = "GET_FLAT_FILE_RETURNS_DATA_BY_RETURN_DATE"
REIMBURSEMENTS = "GET_FBA_REIMBURSEMENTS_DATA"

# The layouts, as Amazon lists each report type's attributes:
# https://developer-docs.amazon.com/sp-api/docs/fba-customer-concessions-reports-attributes
FBA_RETURN_COLUMNS = (
    "return-date", "order-id", "sku", "asin", "fnsku", "product-name", "quantity",
    "fulfillment-center-id", "detailed-disposition", "reason", "status",
    "license-plate-number", "customer-comments",
)
# https://developer-docs.amazon.com/sp-api/docs/returns-reports-attributes
MFN_RETURN_COLUMNS = (
    "Order ID", "Order date", "Return request date", "Return request status",
    "Amazon RMA ID", "Merchant RMA ID", "Label type", "Label cost", "Currency code",
    "Return carrier", "Tracking ID", "Label to be paid by", "A-to-Z Claim", "Is prime",
    "ASIN", "Merchant SKU", "Item Name", "Return quantity", "Return Reason", "In policy",
    "Return type", "Resolution", "Invoice number", "Return delivery date", "Order Amount",
    "Order quantity", "SafeT Action reason", "SafeT claim id", "SafeT claim state",
    "SafeT claim creation time", "SafeT claim reimbursement amount", "Refunded Amount",
)
# https://developer-docs.amazon.com/sp-api/docs/fba-payments-reports-attributes
REIMBURSEMENT_COLUMNS = (
    "approval-date", "reimbursement-id", "case-id", "amazon-order-id", "reason", "sku",
    "fnsku", "asin", "product-name", "condition", "currency-unit", "amount-per-unit",
    "amount-total", "quantity-reimbursed-cash", "quantity-reimbursed-inventory",
    "quantity-reimbursed-total", "original-reimbursement-id", "original-reimbursement-type",
)
PII = frozenset({"customer-comments"})  # never stored, not even in raw

_TEXT_MAX = 200  # a key cell longer than this is not an id
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$", re.ASCII)
_YES = frozenset({"y", "yes", "true"})
_NO = frozenset({"n", "no", "false"})


# ---------------------------------------------------------------- cell readers


def _text(row: dict[str, str], key: str) -> str | None:
    return row.get(key, "").strip() or None


def _key(row: dict[str, str], key: str, what: str, *, required: bool = False) -> str:
    value = row.get(key, "").strip()
    if required and not value:
        raise bad(f"{what}.{key} is empty")
    if len(value) > _TEXT_MAX:
        raise bad(f"{what}.{key} is longer than {_TEXT_MAX} characters")
    return value


def _when(row: dict[str, str], key: str, what: str, *,
          required: bool = False) -> datetime | None:
    """A date-time (ISO 8601, or local time + zone abbreviation), or a date alone (its UTC
    midnight)."""
    value = row.get(key, "").strip()
    if not value:
        if required:
            raise bad(f"{what}.{key} is empty")
        return None
    if _DATE.match(value):
        try:
            day = date.fromisoformat(value)
        except ValueError:
            raise bad(f"{what}.{key} is not a date") from None
        return datetime(day.year, day.month, day.day, tzinfo=UTC)
    return report_time(value, f"{what}.{key}")


def _flag(row: dict[str, str], key: str, what: str) -> bool | None:
    value = row.get(key, "").strip().lower()
    if not value:
        return None
    if value in _YES:
        return True
    if value in _NO:
        return False
    raise bad(f"{what}.{key} is not Y or N")


def _raw(report_type: str, row: dict[str, str]) -> dict[str, Any]:
    return {"reportType": report_type, "row": {k: v for k, v in row.items() if k not in PII}}


# ---------------------------------------------------------------- pure mappers


def map_fba_return(marketplace_id: str, row: dict[str, str]) -> dict[str, Any]:
    """A ``GET_FBA_FULFILLMENT_CUSTOMER_RETURNS_DATA`` line -> ``fba_returns`` columns."""
    sku = _key(row, "sku", "FBA return", required=True)
    what = f"FBA return {sku}"
    return {
        "marketplace_id": marketplace_id,
        "order_id": _key(row, "order-id", what),
        "sku": sku,
        "return_date": _when(row, "return-date", what, required=True),
        "license_plate_number": _key(row, "license-plate-number", what),
        "asin": _text(row, "asin"),
        "fnsku": _text(row, "fnsku"),
        "product_name": _text(row, "product-name"),
        "quantity": int_cell(row, "quantity", what),
        "fulfillment_center_id": _text(row, "fulfillment-center-id"),
        "detailed_disposition": _text(row, "detailed-disposition"),
        "reason": _text(row, "reason"),
        "status": _text(row, "status"),
        "raw": _raw(FBA_RETURNS, row),
    }


def map_mfn_return(marketplace_id: str, row: dict[str, str]) -> dict[str, Any]:
    """A ``GET_FLAT_FILE_RETURNS_DATA_BY_RETURN_DATE`` line -> ``mfn_returns`` columns."""
    order_id = _key(row, "Order ID", "MFN return", required=True)
    what = f"MFN return {order_id}"
    asin, sku = _key(row, "ASIN", what), _key(row, "Merchant SKU", what)
    if not asin and not sku:
        raise bad(f"{what} has neither ASIN nor Merchant SKU")
    return {
        "marketplace_id": marketplace_id,
        "order_id": order_id,
        "asin": asin,
        "merchant_sku": sku,
        "return_request_date": _when(row, "Return request date", what, required=True),
        "order_date": _when(row, "Order date", what),
        "return_request_status": _text(row, "Return request status"),
        "amazon_rma_id": _text(row, "Amazon RMA ID"),
        "merchant_rma_id": _text(row, "Merchant RMA ID"),
        "label_type": _text(row, "Label type"),
        "label_cost": decimal_cell(row, "Label cost", what),
        "currency": _text(row, "Currency code"),
        "return_carrier": _text(row, "Return carrier"),
        "tracking_id": _text(row, "Tracking ID"),
        "label_to_be_paid_by": _text(row, "Label to be paid by"),
        "a_to_z_claim": _flag(row, "A-to-Z Claim", what),
        "is_prime": _flag(row, "Is prime", what),
        "item_name": _text(row, "Item Name"),
        "return_quantity": int_cell(row, "Return quantity", what),
        "return_reason": _text(row, "Return Reason"),
        "in_policy": _flag(row, "In policy", what),
        "return_type": _text(row, "Return type"),
        "resolution": _text(row, "Resolution"),
        "invoice_number": _text(row, "Invoice number"),
        "return_delivery_date": _when(row, "Return delivery date", what),
        "order_amount": decimal_cell(row, "Order Amount", what),
        "order_quantity": int_cell(row, "Order quantity", what),
        "refunded_amount": decimal_cell(row, "Refunded Amount", what),
        "safet_action_reason": _text(row, "SafeT Action reason"),
        "safet_claim_id": _text(row, "SafeT claim id"),
        "safet_claim_state": _text(row, "SafeT claim state"),
        "safet_claim_creation_time": _when(row, "SafeT claim creation time", what),
        "safet_claim_reimbursement_amount": decimal_cell(
            row, "SafeT claim reimbursement amount", what),
        "raw": _raw(MFN_RETURNS, row),
    }


def map_reimbursement(marketplace_id: str, row: dict[str, str]) -> dict[str, Any]:
    """A ``GET_FBA_REIMBURSEMENTS_DATA`` line -> ``fba_reimbursements`` columns."""
    rid = _key(row, "reimbursement-id", "reimbursement", required=True)
    what = f"reimbursement {rid}"
    sku, fnsku = _key(row, "sku", what), _key(row, "fnsku", what)
    if not sku and not fnsku:
        raise bad(f"{what} has neither sku nor fnsku")
    return {
        "marketplace_id": marketplace_id,
        "reimbursement_id": rid,
        "sku": sku,
        "fnsku": fnsku,
        "approval_date": _when(row, "approval-date", what, required=True),
        "case_id": _text(row, "case-id"),
        "amazon_order_id": _text(row, "amazon-order-id"),
        "reason": _text(row, "reason"),
        "asin": _text(row, "asin"),
        "product_name": _text(row, "product-name"),
        "condition": _text(row, "condition"),
        "currency": _text(row, "currency-unit"),
        "amount_per_unit": decimal_cell(row, "amount-per-unit", what),
        "amount_total": decimal_cell(row, "amount-total", what),
        "quantity_reimbursed_cash": signed_cell(row, "quantity-reimbursed-cash", what),
        "quantity_reimbursed_inventory": signed_cell(row, "quantity-reimbursed-inventory", what),
        "quantity_reimbursed_total": signed_cell(row, "quantity-reimbursed-total", what),
        "original_reimbursement_id": _text(row, "original-reimbursement-id"),
        "original_reimbursement_type": _text(row, "original-reimbursement-type"),
        "raw": _raw(REIMBURSEMENTS, row),
    }


# ---------------------------------------------------------------- writers


def _writer(model: Any, keys: tuple[str, ...]) -> Any:
    def write(conn: Connection, seller_id: int, rows: Sequence[dict[str, Any]]) -> int:
        """Write the lines; how many were new or changed."""
        return len(upsert_newer(conn, model, [{**r, "seller_id": seller_id} for r in rows],
                                keys=("seller_id", *keys), updated=None))
    return write


write_fba_returns = _writer(
    FbaReturn, ("marketplace_id", "order_id", "sku", "return_date", "license_plate_number"))
write_mfn_returns = _writer(
    MfnReturn, ("marketplace_id", "order_id", "asin", "merchant_sku", "return_request_date"))
write_reimbursements = _writer(
    FbaReimbursement, ("marketplace_id", "reimbursement_id", "sku", "fnsku"))

# report type -> (table, mapper, writer), for report_types.sink_for
TYPED = {
    FBA_RETURNS: ("fba_returns", map_fba_return, write_fba_returns),
    MFN_RETURNS: ("mfn_returns", map_mfn_return, write_mfn_returns),
    REIMBURSEMENTS: ("fba_reimbursements", map_reimbursement, write_reimbursements),
}
