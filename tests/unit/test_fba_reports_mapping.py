"""Pure mapping of the FBA fee and inventory ledger reports: a good row becomes its typed
row, each bad cell a rejected row with a clear reason (never a crash), and identical ledger
lines are numbered."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from worker.db.reports import ReportRecord
from worker.spapi.errors import MalformedResponseError
from worker.sync import fba_reports
from worker.sync.fba_reports import map_fee_estimate, map_ledger_line, map_storage_fee
from worker.sync.report_parse import ParsedRow
from worker.sync.report_types import sink_for

US = "ATVPDKIKX0DER"


def fee(**over: str) -> dict[str, str]:
    row = {"sku": "SKU-1", "fnsku": "X00ABC", "asin": "B000000001", "product-name": "Mug",
           "product-group": "Kitchen", "brand": "", "fulfilled-by": "Amazon",
           "has-local-inventory": "Y", "your-price": "19.99", "sales-price": "19.99",
           "longest-side": "8.00", "median-side": "5.00", "shortest-side": "2.00",
           "length-and-girth": "22.00", "unit-of-dimension": "inches",
           "item-package-weight": "1.20", "unit-of-weight": "pounds",
           "product-size-weight-band": "Standard-Size", "currency": "USD",
           "estimated-fee-total": "6.22", "estimated-referral-fee-per-unit": "3.00",
           "estimated-variable-closing-fee": "0.00",
           "expected-domestic-fulfilment-fee-per-unit": "3.22"}
    row.update(over)
    return row


def storage(**over: str) -> dict[str, str]:
    row = {"asin": "B000000001", "fnsku": "X00ABC", "product_name": "Mug",
           "fulfillment_center": "PHX7", "country_code": "US", "longest_side": "8.00",
           "median_side": "5.00", "shortest_side": "2.00", "measurement_units": "inches",
           "weight": "1.20", "weight_units": "pounds", "item_volume": "0.0463",
           "volume_units": "cubic feet", "product_size_tier": "Standard",
           "average_quantity_on_hand": "12.50", "average_quantity_pending_removal": "0.00",
           "estimated_total_item_volume": "0.5788", "month_of_charge": "2026-10",
           "storage_rate": "2.40", "currency": "USD", "estimated_monthly_storage_fee": "1.39"}
    row.update(over)
    return row


def ledger(**over: str) -> dict[str, str]:
    row = {"Date": "2026-11-02", "FNSKU": "X00ABC", "ASIN": "B000000001", "MSKU": "SKU-1",
           "Title": "Mug", "Event Type": "Shipments", "Reference ID": "D1234",
           "Quantity": "-2", "Fulfillment Center": "PHX7", "Disposition": "SELLABLE",
           "Reason": "", "Country": "US", "Reconciled Quantity": "",
           "Unreconciled Quantity": ""}
    row.update(over)
    return row


def test_a_fee_estimate_row_is_typed():
    row = map_fee_estimate(US, fee())
    assert row["marketplace_id"] == US and row["sku"] == "SKU-1" and row["fnsku"] == "X00ABC"
    assert row["estimated_fee_total"] == Decimal("6.22")
    assert row["expected_fulfillment_fee_per_unit"] == Decimal("3.22")
    assert row["brand"] is None and row["your_price"] == Decimal("19.99")
    assert row["raw"] == fee() and "product_name" not in row  # the name stays in raw only
    # the North American spelling of the fulfilment fee
    us = fee(**{"expected-domestic-fulfilment-fee-per-unit": "",
                "expected-fulfillment-fee-per-unit": "3.40"})
    assert map_fee_estimate(US, us)["expected_fulfillment_fee_per_unit"] == Decimal("3.40")
    assert map_fee_estimate(US, fee(**{"your-price": "19,99"}))["your_price"] == Decimal(
        "19.99")


def test_a_storage_fee_row_is_typed_with_either_header_spelling():
    row = map_storage_fee(US, storage())
    assert row["month_of_charge"] == date(2026, 10, 1)
    assert (row["fnsku"], row["fulfillment_center"]) == ("X00ABC", "PHX7")
    assert row["estimated_monthly_storage_fee"] == Decimal("1.39")
    assert row["average_quantity_on_hand"] == Decimal("12.50")
    hyphens = {k.replace("_", "-"): v for k, v in storage().items()}
    assert {k: v for k, v in map_storage_fee(US, hyphens).items() if k != "raw"} == {
        k: v for k, v in row.items() if k != "raw"}


def test_a_ledger_line_is_typed_with_empty_key_cells_as_empty_text():
    row = map_ledger_line(US, ledger())
    assert row["event_date"] == date(2026, 11, 2) and row["quantity"] == -2
    assert (row["event_type"], row["reference_id"], row["reason"]) == ("Shipments", "D1234",
                                                                       "")
    assert row["reconciled_quantity"] is None and row["msku"] == "SKU-1"
    assert map_ledger_line(US, ledger(Date="11/02/2026"))["event_date"] == date(2026, 11, 2)
    assert map_ledger_line(US, ledger(Date="2026-11-02T23:30:00-08:00"))["event_date"] == \
        date(2026, 11, 3)
    compact = {k.replace(" ", ""): v for k, v in ledger().items()}  # EventType, ReferenceID
    assert map_ledger_line(US, compact)["reference_id"] == "D1234"


@pytest.mark.parametrize(("mapper", "row", "reason"), [
    (map_fee_estimate, fee(sku=""), "sku is empty"),
    (map_fee_estimate, fee(**{"your-price": "cheap"}), "your-price is not a decimal"),
    (map_fee_estimate, fee(**{"estimated-fee-total": "NaN"}), "is not a decimal"),
    (map_fee_estimate, fee(**{"sales-price": "1e30"}), "out of range"),
    (map_storage_fee, storage(fnsku=""), "fnsku is empty"),
    (map_storage_fee, storage(month_of_charge="October"), "not a month"),
    (map_storage_fee, storage(month_of_charge="2026-13"), "not a month"),
    (map_storage_fee, storage(month_of_charge=""), "month-of-charge is empty"),
    (map_storage_fee, storage(fulfillment_center=""), "fulfillment-center is empty"),
    (map_storage_fee, storage(storage_rate="2.4.0"), "storage-rate is not a decimal"),
    (map_ledger_line, ledger(FNSKU=""), "FNSKU is empty"),
    (map_ledger_line, ledger(Date="2026-02-30"), "is not a date"),
    (map_ledger_line, ledger(Date="yesterday"), "Date"),
    (map_ledger_line, ledger(Quantity=""), "Quantity is empty"),
    (map_ledger_line, ledger(Quantity="1.5"), "Quantity is not an integer"),
    (map_ledger_line, ledger(Quantity="99999999999"), "Quantity is not an integer"),
    (map_ledger_line, ledger(**{"Event Type": ""}), "EventType is empty"),
    (map_ledger_line, ledger(**{"Reconciled Quantity": "x"}), "is not an integer"),
])
def test_a_bad_cell_is_a_clear_reason(mapper, row, reason):
    with pytest.raises(MalformedResponseError, match=reason):
        mapper(US, row)


def _report(report_type: str) -> ReportRecord:
    return ReportRecord(id=1, seller_id=7, report_id="R1", report_type=report_type,
                        marketplace_ids=[US], processing_status="DONE", document_id="D",
                        ingest_status="pending", rows_read=0, rows_written=0, rows_rejected=0,
                        error=None)


def test_the_sinks_number_identical_ledger_lines_and_reject_bad_ones():
    sink = sink_for(_report(fba_reports.LEDGER_DETAIL))
    assert sink.tables == ("inventory_ledger", "report_rows")
    other = ledger(**{"Reference ID": "D9"})
    for line, values in enumerate([ledger(), ledger(), other, ledger(Quantity="x")], start=1):
        sink.accept(ParsedRow(line, values, None))
    sink.accept(ParsedRow(5, None, "row has 3 cells, the header 14", {"Date": "x"}))
    rows = sink.rows  # type: ignore[attr-defined]
    assert [(r["reference_id"], r["occurrence"], r["seller_id"]) for r in rows] == [
        ("D1234", 1, 7), ("D1234", 2, 7), ("D9", 1, 7)]
    assert [(r["line"], r["error"]) for r in sink.rejected] == [  # type: ignore[attr-defined]
        (4, "unexpected payload: ledger line X00ABC.Quantity is not an integer (up to 2^31 - 1 "
            "either way)"), (5, "row has 3 cells, the header 14")]
    fees = sink_for(_report(fba_reports.FEE_ESTIMATES))
    assert fees.tables == ("fba_fee_estimates", "report_rows")
    assert sink_for(_report(fba_reports.STORAGE_FEES)).tables == ("fba_storage_fees",
                                                                  "report_rows")


def summary(**over: str) -> dict[str, str]:
    row = {"Date": "11/02/2026", "FNSKU": "X00ABC", "ASIN": "B000000001", "MSKU": "SKU-1",
           "Title": "Mug", "Disposition": "SELLABLE", "Starting Warehouse Balance": "120",
           "In Transit Between Warehouses": "0", "Receipts": "10", "Customer Shipments": "-3",
           "Customer Returns": "1", "Vendor Returns": "0", "Warehouse Transfer In/Out": "0",
           "Found": "0", "Lost": "-1", "Damaged": "0", "Disposed": "0", "Other Events": "0",
           "Ending Warehouse Balance": "127", "Unknown Events": "0", "Location": "PHX7"}
    row.update(over)
    return row


def test_a_ledger_summary_row_is_typed():
    row = fba_reports.map_ledger_summary(US, summary())
    assert (row["summary_date"], row["fnsku"], row["disposition"], row["location"]) == (
        date(2026, 11, 2), "X00ABC", "SELLABLE", "PHX7")
    assert (row["starting_warehouse_balance"], row["customer_shipments"], row["lost"],
            row["warehouse_transfer_in_out"], row["ending_warehouse_balance"]) == (
        120, -3, -1, 0, 127)
    assert fba_reports.map_ledger_summary(US, summary(Location=""))["location"] == ""
    with pytest.raises(MalformedResponseError, match="Receipts is not an integer"):
        fba_reports.map_ledger_summary(US, summary(Receipts="ten"))
    with pytest.raises(MalformedResponseError, match="FNSKU is empty"):
        fba_reports.map_ledger_summary(US, summary(FNSKU=""))
    with pytest.raises(MalformedResponseError, match="is not a date"):
        fba_reports.map_ledger_summary(US, summary(Date="13/45/2026"))
    sink = sink_for(_report(fba_reports.LEDGER_SUMMARY))
    assert sink.tables == ("inventory_ledger_summary", "report_rows")
