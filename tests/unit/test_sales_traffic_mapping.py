"""The pure mapping of GET_SALES_AND_TRAFFIC_REPORT entries to typed rows: Amazon's own
example maps, each bad cell is a MalformedResponseError with a clear reason (the sink keeps
the entry in report_rows with it), never a crash."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from worker.db import sales_traffic_fields as spec
from worker.spapi.errors import MalformedResponseError
from worker.sync.sales_traffic import map_asin_entry, map_date_entry, report_days

MODEL = Path("/work/shared/spapi-models/report-sellerSalesAndTrafficReport.json")


def _example() -> dict:
    if not MODEL.exists():
        pytest.skip("spapi-models not available")
    return json.loads(MODEL.read_text())["examples"][0]


def test_the_columns_are_every_field_of_amazons_schema():
    if not MODEL.exists():
        pytest.skip("spapi-models not available")
    definitions = json.loads(MODEL.read_text())["definitions"]
    for section, fields in (*spec.BY_DATE, *spec.BY_ASIN):
        name = section[0].upper() + section[1:]
        assert [f for f, _ in fields] == list(definitions[name]["properties"]), section


def test_amazons_example_maps():
    doc = _example()
    row = map_date_entry(doc["salesAndTrafficByDate"][0])
    assert row["date"] == date(2021, 6, 11)
    assert (row["ordered_product_sales"], row["ordered_product_sales_currency"]) == \
        (Decimal("238.44"), "USD")
    assert row["units_ordered"] == 23 and row["refund_rate"] == Decimal("4.35")
    assert row["sessions"] == 1000 and row["buy_box_percentage"] == Decimal("10.54")
    assert row["units_ordered_b2b"] is None  # B2B fields only for B2B sellers
    asin = map_asin_entry(doc["salesAndTrafficByAsin"][0], date(2021, 6, 11))
    assert (asin["parent_asin"], asin["child_asin"], asin["sku"]) == \
        ("B123456789", "B123456789", "AB-1C2D-EFGH")
    assert asin["units_ordered"] == 1 and asin["unit_session_percentage"] == Decimal("7.69")
    no_child = map_asin_entry({"parentAsin": "B1", "salesByAsin": {}}, date(2021, 6, 11))
    assert (no_child["child_asin"], no_child["sku"]) == ("", "")


def test_report_days_one_day_only():
    assert report_days({"reportSpecification": {"dataStartTime": "2021-06-11",
                                                "dataEndTime": "2021-06-11"}}) == \
        ("DAY", date(2021, 6, 11))
    assert report_days({"reportSpecification": {"dataStartTime": "2021-06-11",
                                                "dataEndTime": "2021-06-14"}}) == ("DAY", None)
    assert report_days({"reportSpecification": {
        "reportOptions": {"dateGranularity": "WEEK"}}})[0] == "WEEK"
    assert report_days({}) == ("DAY", None)


GOOD = {"date": "2021-06-11", "salesByDate": {"unitsOrdered": 1}, "trafficByDate": {}}


@pytest.mark.parametrize(("entry", "reason"), [
    ({**GOOD, "date": "June 11"}, "date is not a date"),
    ({**GOOD, "date": None}, "date is not a date"),
    ({**GOOD, "salesByDate": {"unitsOrdered": -1}}, "unitsOrdered is not a non-negative"),
    ({**GOOD, "salesByDate": {"unitsOrdered": 1.5}}, "unitsOrdered is not a non-negative"),
    ({**GOOD, "salesByDate": {"unitsOrdered": True}}, "unitsOrdered is not a non-negative"),
    ({**GOOD, "salesByDate": {"unitsOrdered": 2**31}}, "unitsOrdered is not a non-negative"),
    ({**GOOD, "salesByDate": {"refundRate": "x"}}, "refundRate is not a number"),
    ({**GOOD, "salesByDate": {"refundRate": 1e12}}, "refundRate is out of range"),
    ({**GOOD, "salesByDate": {"orderedProductSales": 5}}, "is not an amount object"),
    ({**GOOD, "salesByDate": {"orderedProductSales": {"amount": "abc",
                                                      "currencyCode": "USD"}}},
     "orderedProductSales.amount is not a number"),
    ({**GOOD, "salesByDate": {"orderedProductSales": {"amount": 1e20,
                                                      "currencyCode": "USD"}}},
     "out of range"),
    ({**GOOD, "salesByDate": {"orderedProductSales": {"amount": 1}}},
     "currencyCode is not an ISO 4217 code"),
    ({**GOOD, "trafficByDate": []}, "trafficByDate is not an object"),
    ("not an object", "entry is not an object"),
])
def test_each_bad_cell_is_a_clear_reason(entry, reason):
    with pytest.raises(MalformedResponseError) as caught:
        map_date_entry(entry)
    assert reason in caught.value.detail


@pytest.mark.parametrize(("entry", "reason"), [
    ({"salesByAsin": {}}, "parentAsin is empty"),
    ({"parentAsin": 7}, "parentAsin is not an identifier"),
    ({"parentAsin": "B1", "childAsin": ""}, "childAsin is empty"),
    ({"parentAsin": "B1", "trafficByAsin": {"sessions": "12"}}, "sessions is not"),
    ({"parentAsin": "B1", "salesByAsin": {"note": "\x00"}}, "holds a NUL"),
])
def test_each_bad_asin_cell_is_a_clear_reason(entry, reason):
    with pytest.raises(MalformedResponseError) as caught:
        map_asin_entry(entry, date(2021, 6, 11))
    assert reason in caught.value.detail
