"""Mapping the lines of the returns and reimbursements flat files (worker/sync/returns.py):
a good line of each layout, each bad cell a rejected line with its reason (never a crash),
the buyer's comments never kept, and the sink chosen by report type."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from worker.db.reports import ReportRecord
from worker.spapi.errors import MalformedResponseError
from worker.sync import returns
from worker.sync.report_parse import ParsedRow
from worker.sync.report_types import RowSink, sink_for
from worker.sync.returns import map_fba_return, map_mfn_return, map_reimbursement

US = "ATVPDKIKX0DER"
FBA = {"return-date": "2026-11-22T16:54:37+00:00", "order-id": "113-9210422-3971836",
       "sku": "SBX-CQFD-000", "asin": "B0C1NMPBMS", "fnsku": "X00YHEAH9Z",
       "product-name": "Test Lamp 1 - Grey", "quantity": "2", "fulfillment-center-id": "SDF8",
       "detailed-disposition": "SELLABLE", "reason": "UNWANTED_ITEM",
       "status": "Unit returned to inventory", "license-plate-number": "LPNXRYOI74RO2",
       "customer-comments": "Call me on 555-0100, Jane Doe"}
MFN = {"Order ID": "113-6983134-5231982", "Order date": "2026-11-08T08:10:56+00:00",
       "Return request date": "2026-11-22T03:47:24+00:00", "Return request status": "Approved",
       "Amazon RMA ID": "DAW26X36U5", "Merchant RMA ID": "", "Label type": "AmazonPrePaidLabel",
       "Label cost": "4.99", "Currency code": "USD", "Return carrier": "UPS",
       "Tracking ID": "1ZJNV54VEDJR3HVV4F", "Label to be paid by": "Seller",
       "A-to-Z Claim": "N", "Is prime": "Y", "ASIN": "B0X2DU7PNW",
       "Merchant SKU": "SBX-OXLK-038", "Item Name": "Fixture Charger 39 - Red",
       "Return quantity": "1", "Return Reason": "CR-DEFECTIVE", "In policy": "Y",
       "Return type": "C-Returns", "Resolution": "StandardRefund", "Invoice number": "",
       "Return delivery date": "2026-11-23", "Order Amount": "333.41", "Order quantity": "3",
       "SafeT Action reason": "", "SafeT claim id": "", "SafeT claim state": "",
       "SafeT claim creation time": "", "SafeT claim reimbursement amount": "",
       "Refunded Amount": "67.39"}
REIMBURSEMENT = {
    "approval-date": "2026-11-27T13:55:06+00:00", "reimbursement-id": "2879528352",
    "case-id": "", "amazon-order-id": "114-3196593-1752979", "reason": "Damaged_Warehouse",
    "sku": "SBX-BAYA-014", "fnsku": "X00ABCDEFG", "asin": "B0F8EZRVHW",
    "product-name": "Demo Mug 15 - Grey", "condition": "New", "currency-unit": "USD",
    "amount-per-unit": "57.38", "amount-total": "172.14", "quantity-reimbursed-cash": "3",
    "quantity-reimbursed-inventory": "0", "quantity-reimbursed-total": "3",
    "original-reimbursement-id": "", "original-reimbursement-type": ""}


def test_an_fba_return_line_maps_to_its_columns_without_the_buyer_s_comments():
    row = map_fba_return(US, FBA)
    assert (row["marketplace_id"], row["order_id"], row["sku"], row["license_plate_number"]) \
        == (US, "113-9210422-3971836", "SBX-CQFD-000", "LPNXRYOI74RO2")
    assert row["return_date"] == datetime(2026, 11, 22, 16, 54, 37, tzinfo=UTC)
    assert (row["quantity"], row["detailed_disposition"], row["fulfillment_center_id"]) == (
        2, "SELLABLE", "SDF8")
    assert "customer-comments" not in row["raw"]["row"]
    assert "555" not in repr(row) and "Jane" not in repr(row)
    assert row["raw"]["reportType"] == returns.FBA_RETURNS
    # key cells the file may leave empty are '' (a primary key takes no NULL)
    bare = map_fba_return(US, {**FBA, "order-id": "", "license-plate-number": ""})
    assert (bare["order_id"], bare["license_plate_number"], bare["asin"]) == ("", "", "B0C1NMPBMS")


def test_an_mfn_return_line_maps_flags_dates_and_money():
    row = map_mfn_return(US, MFN)
    assert (row["order_id"], row["asin"], row["merchant_sku"]) == (
        "113-6983134-5231982", "B0X2DU7PNW", "SBX-OXLK-038")
    assert row["return_request_date"] == datetime(2026, 11, 22, 3, 47, 24, tzinfo=UTC)
    assert row["return_delivery_date"] == datetime(2026, 11, 23, tzinfo=UTC)  # a date alone
    assert (row["a_to_z_claim"], row["is_prime"], row["in_policy"]) == (False, True, True)
    assert (row["label_cost"], row["order_amount"], row["refunded_amount"]) == (
        Decimal("4.99"), Decimal("333.41"), Decimal("67.39"))
    assert (row["return_quantity"], row["order_quantity"]) == (1, 3)
    assert row["invoice_number"] is None and row["safet_claim_reimbursement_amount"] is None
    assert row["raw"]["row"] == MFN
    local = map_mfn_return(US, {**MFN, "Return request date": "2026-11-21 19:47:24 PST"})
    assert local["return_request_date"] == row["return_request_date"]
    assert map_mfn_return(US, {**MFN, "ASIN": ""})["asin"] == ""


def test_a_reimbursement_line_maps_its_money_and_a_reversal_s_negative_quantities():
    row = map_reimbursement(US, REIMBURSEMENT)
    assert (row["reimbursement_id"], row["sku"], row["fnsku"], row["currency"]) == (
        "2879528352", "SBX-BAYA-014", "X00ABCDEFG", "USD")
    assert (row["amount_per_unit"], row["amount_total"]) == (Decimal("57.38"),
                                                             Decimal("172.14"))
    assert (row["quantity_reimbursed_cash"], row["quantity_reimbursed_inventory"],
            row["quantity_reimbursed_total"]) == (3, 0, 3)
    assert row["case_id"] is None and row["approval_date"] == datetime(
        2026, 11, 27, 13, 55, 6, tzinfo=UTC)
    reversal = map_reimbursement(US, {
        **REIMBURSEMENT, "reimbursement-id": "2879528999", "reason": "Reimbursement_Reversal",
        "amount-total": "-172.14", "quantity-reimbursed-cash": "-3",
        "quantity-reimbursed-total": "-3", "original-reimbursement-id": "2879528352",
        "original-reimbursement-type": "Damaged_Warehouse"})
    assert (reversal["amount_total"], reversal["quantity_reimbursed_cash"]) == (
        Decimal("-172.14"), -3)
    assert reversal["original_reimbursement_id"] == "2879528352"


BAD = [
    (map_fba_return, FBA, "sku", "", "FBA return.sku is empty"),
    (map_fba_return, FBA, "return-date", "", "return-date is empty"),
    (map_fba_return, FBA, "return-date", "yesterday", "return-date"),
    (map_fba_return, FBA, "quantity", "two", "quantity is not a non-negative integer"),
    (map_fba_return, FBA, "quantity", "-1", "quantity is not a non-negative integer"),
    (map_fba_return, FBA, "license-plate-number", "L" * 201, "longer than 200"),
    (map_mfn_return, MFN, "Order ID", " ", "MFN return.Order ID is empty"),
    (map_mfn_return, MFN, "Return request date", "2026-13-01", "not a date"),
    (map_mfn_return, MFN, "Is prime", "maybe", "Is prime is not Y or N"),
    (map_mfn_return, MFN, "Label cost", "4,99.0", "Label cost is not a decimal"),
    (map_mfn_return, MFN, "Refunded Amount", "NaN", "Refunded Amount is not a decimal"),
    (map_mfn_return, MFN, "Order quantity", "1e3", "Order quantity is not a non-negative"),
    (map_reimbursement, REIMBURSEMENT, "reimbursement-id", "", "reimbursement-id is empty"),
    (map_reimbursement, REIMBURSEMENT, "approval-date", "", "approval-date is empty"),
    (map_reimbursement, REIMBURSEMENT, "amount-total", "1" * 30, "amount-total"),
    (map_reimbursement, REIMBURSEMENT, "quantity-reimbursed-cash", "--3", "not an integer"),
    (map_reimbursement, REIMBURSEMENT, "quantity-reimbursed-total", "-", "not an integer"),
]


@pytest.mark.parametrize(("mapper", "good", "column", "value", "reason"), BAD)
def test_a_bad_cell_is_refused_with_its_reason(mapper, good, column, value, reason):
    with pytest.raises(MalformedResponseError) as caught:
        mapper(US, {**good, column: value})
    assert reason in caught.value.detail


def test_a_line_without_any_item_id_is_refused():
    with pytest.raises(MalformedResponseError, match="neither ASIN nor Merchant SKU"):
        map_mfn_return(US, {**MFN, "ASIN": "", "Merchant SKU": ""})
    with pytest.raises(MalformedResponseError, match="neither sku nor fnsku"):
        map_reimbursement(US, {**REIMBURSEMENT, "sku": "", "fnsku": ""})


def _report(report_type: str) -> ReportRecord:
    return ReportRecord(1, 2, "R1", report_type, [US], "DONE", "D1", "pending", 0, 0, 0, None)


@pytest.mark.parametrize(("report_type", "table", "good"), [
    (returns.FBA_RETURNS, "fba_returns", FBA), (returns.MFN_RETURNS, "mfn_returns", MFN),
    (returns.REIMBURSEMENTS, "fba_reimbursements", REIMBURSEMENT)])
def test_the_sink_keeps_good_lines_and_rejects_bad_ones_with_their_reason(report_type, table,
                                                                          good):
    sink = sink_for(_report(report_type))
    assert isinstance(sink, RowSink) and sink.tables == (table, "report_rows")
    first = next(iter(good))
    sink.accept(ParsedRow(2, good))
    sink.accept(ParsedRow(3, {**good, first: ""}))  # the date or id the line is keyed by
    sink.accept(ParsedRow(4, None, "row has 3 cells, header 13", {first: "x"}))
    assert len(sink.rows) == 1 and sink.rows[0]["marketplace_id"] == US
    assert [(r["line"], r["error"] is not None) for r in sink.rejected] == [(3, True),
                                                                             (4, True)]
    assert "is empty" in sink.rejected[0]["error"]


def test_a_configured_report_stream_of_a_typed_type_is_not_synced_twice(monkeypatch):
    from worker.sync import registry

    monkeypatch.setenv("SPSYNC_REPORT_STREAMS",
                       f"{returns.REIMBURSEMENTS}:12:7,GET_FBA_STORAGE_FEE_CHARGES_DATA,"
                       "GET_FBA_FULFILLMENT_LONGTERM_STORAGE_FEE_CHARGES_DATA")
    assert [k.name for k in registry._configured_kinds()] == [  # storage fees are typed too
        "report-fba-fulfillment-longterm-storage-fee-charges-data"]
    assert registry.kind("reimbursements").table == "fba_reimbursements"
