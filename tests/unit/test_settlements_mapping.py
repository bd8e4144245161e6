"""Mapping the rows of a V2 settlement flat file: the summary row, amount rows, the date and
number forms Amazon's marketplaces write, and rows that cannot be read."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from worker.spapi.errors import MalformedResponseError
from worker.sync.settlements import is_summary, map_line, map_summary

SUMMARY = {"settlement-id": "91277772782", "settlement-start-date": "2026-10-01T00:00:00+00:00",
           "settlement-end-date": "2026-10-15T00:00:00+00:00",
           "deposit-date": "2026-10-16T00:00:00+00:00", "total-amount": "768.11",
           "currency": "USD", "transaction-type": ""}
LINE = {"settlement-id": "91277772782", "transaction-type": "Order",
        "order-id": "114-8474809-8484584", "amount-type": "ItemFees",
        "amount-description": "Commission", "amount": "-11.77", "posted-date": "2026-10-07",
        "posted-date-time": "2026-10-07T14:08:58+00:00", "sku": "SBX-HCGX-002",
        "quantity-purchased": "3", "merchant-order-id": ""}


def test_the_summary_row_is_told_from_an_amount_row_and_mapped():
    assert is_summary(SUMMARY) and not is_summary(LINE)
    row = map_summary(SUMMARY)
    assert row == {"settlement_id": "91277772782",
                   "start_date": datetime(2026, 10, 1, tzinfo=UTC),
                   "end_date": datetime(2026, 10, 15, tzinfo=UTC),
                   "deposit_date": datetime(2026, 10, 16, tzinfo=UTC),
                   "total_amount": Decimal("768.11"), "currency": "USD"}


def test_an_amount_row_maps_to_typed_columns_and_empty_cells_to_null():
    row = map_line(7, LINE)
    assert (row["line"], row["settlement_id"], row["transaction_type"]) == (
        7, "91277772782", "Order")
    assert (row["amount"], row["quantity_purchased"]) == (Decimal("-11.77"), 3)
    assert row["posted_date"] == date(2026, 10, 7)
    assert row["posted_date_time"] == datetime(2026, 10, 7, 14, 8, 58, tzinfo=UTC)
    assert row["merchant_order_id"] is None and row["adjustment_id"] is None


@pytest.mark.parametrize(("written", "instant"), [
    ("2026-10-07T16:08:58+02:00", datetime(2026, 10, 7, 14, 8, 58, tzinfo=UTC)),
    ("2026-10-07 14:08:58 UTC", datetime(2026, 10, 7, 14, 8, 58, tzinfo=UTC)),
    ("2026-10-07 07:08:58 PDT", datetime(2026, 10, 7, 14, 8, 58, tzinfo=UTC)),
    ("07.10.2026 14:08:58 UTC", datetime(2026, 10, 7, 14, 8, 58, tzinfo=UTC)),
])
def test_each_marketplaces_date_form_is_the_same_instant(written, instant):
    row = map_line(2, {**LINE, "posted-date-time": written, "posted-date": written})
    assert row["posted_date_time"] == instant and row["posted_date"] == instant.date()


def test_a_day_first_date_and_a_decimal_comma_are_read():
    row = map_line(2, {**LINE, "posted-date": "07.10.2026", "amount": "-11,77"})
    assert (row["posted_date"], row["amount"]) == (date(2026, 10, 7), Decimal("-11.77"))


@pytest.mark.parametrize("change", [
    {"amount": "eleven"}, {"amount": "NaN"}, {"amount": "1e30"},
    {"posted-date": "2026-13-07"}, {"posted-date-time": "yesterday"},
    {"quantity-purchased": "-1"}, {"quantity-purchased": "²"},
])
def test_an_unreadable_cell_raises_the_typed_error(change):
    with pytest.raises(MalformedResponseError):
        map_line(2, {**LINE, **change})


def test_a_summary_without_a_settlement_id_or_with_a_bad_total_raises():
    with pytest.raises(MalformedResponseError):
        map_summary({**SUMMARY, "settlement-id": " "})
    with pytest.raises(MalformedResponseError):
        map_summary({**SUMMARY, "total-amount": "1.2.3"})
