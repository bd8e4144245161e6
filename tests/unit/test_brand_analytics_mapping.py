"""The pure mapping of Brand Analytics entries to typed rows, and what a run asks for: Amazon's
own examples map; each bad cell is a MalformedResponseError with a clear reason (the sink
keeps the entry in report_rows with it), never a crash; ASINs go in batches of 200
characters."""

from __future__ import annotations

import copy
import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from worker.db import brand_analytics_fields as spec
from worker.spapi.errors import MalformedResponseError
from worker.sync.brand_analytics import (
    asin_batches,
    map_query_performance,
    map_search_term,
)
from worker.sync.periods import Period

MODELS = Path("/work/shared/spapi-models")
TERMS_MODEL = MODELS / "report-sellingPartnerSearchTermsReport.json"
SQP_MODEL = MODELS / "report-sellingPartnerSearchQueryPerformanceReport.json"
WEEK_2021 = Period("WEEK", date(2021, 6, 6), date(2021, 6, 12))
WEEK_2025 = Period("WEEK", date(2025, 1, 5), date(2025, 1, 11))


def _model(path: Path) -> dict[str, Any]:
    if not path.exists():
        pytest.skip("spapi-models not available")
    model: dict[str, Any] = json.loads(path.read_text())
    return model


def test_the_columns_are_every_field_of_amazons_schema():
    definitions = _model(SQP_MODEL)["definitions"]
    sections = {s: [f for f, _ in fields] for s, fields in spec.SQP_SECTIONS}
    refs = definitions["SearchQueryPerformanceData"]["properties"]
    for section, fields in sections.items():
        name = refs[section]["$ref"].rsplit("/", 1)[1]
        want = [f for f in definitions[name]["properties"] if f != "searchQuery"]
        assert fields == want, section
        kinds = dict(spec.SQP_SECTIONS)[section]
        for field, kind in kinds:
            prop = definitions[name]["properties"][field]
            assert kind == ("amount" if "$ref" in prop else
                            "count" if prop["type"] == "integer" else "rate"), field


def test_amazons_search_terms_example_maps():
    doc = _model(TERMS_MODEL)["examples"][0]
    rows = [map_search_term(e, WEEK_2021) for e in doc["dataByDepartmentAndSearchTerm"]]
    assert len(rows) == 12
    first = rows[0]
    assert (first["department_name"], first["search_term"], first["click_share_rank"],
            first["search_frequency_rank"], first["clicked_asin"]) == (
        "Amazon.com", "search term rank one", 1, 1, "B123456789")
    assert (first["click_share"], first["conversion_share"]) == (Decimal("0.0771"),
                                                                 Decimal("0.0874"))
    assert (first["report_period"], first["start_date"], first["end_date"]) == (
        "WEEK", date(2021, 6, 6), date(2021, 6, 12))
    # the key: three clicked ASINs per department and term
    keys = {(r["department_name"], r["search_term"], r["click_share_rank"]) for r in rows}
    assert len(keys) == 12
    assert rows[8]["clicked_asin"] == "B1414156565" and rows[8]["conversion_share"] == 0


def test_amazons_search_query_performance_example_maps():
    doc = _model(SQP_MODEL)["examples"][0]
    row = map_query_performance(doc["dataByAsin"][0], WEEK_2025)
    assert (row["asin"], row["search_query"], row["start_date"], row["end_date"]) == (
        "B123456789", "wireless headphones", date(2025, 1, 5), date(2025, 1, 11))
    assert (row["search_query_score"], row["search_query_volume"]) == (5, 15000)
    assert (row["total_query_impression_count"], row["asin_impression_count"],
            row["asin_impression_share"]) == (10000, 765, Decimal("0.0765"))
    assert (row["asin_click_count"], row["total_click_rate"]) == (50, Decimal("0.1"))
    assert (row["asin_median_click_price"], row["asin_median_click_price_currency"]) == (
        Decimal("19.99"), "USD")
    assert (row["total_same_day_shipping_purchase_count"], row["asin_purchase_count"],
            row["total_two_day_shipping_cart_add_count"]) == (20, 5, 100)
    assert {c for c, _ in spec.columns()} <= set(row)
    assert row["raw"] == doc["dataByAsin"][0]


def _sqp_entry() -> dict[str, Any]:
    return copy.deepcopy(_model(SQP_MODEL)["examples"][0]["dataByAsin"][0])


def _term_entry() -> dict[str, Any]:
    return copy.deepcopy(_model(TERMS_MODEL)["examples"][0]["dataByDepartmentAndSearchTerm"][0])


@pytest.mark.parametrize(("field", "value", "reason"), [
    ("searchTerm", "", "searchTerm is empty"),
    ("searchTerm", None, "searchTerm is empty"),
    ("departmentName", 7, "departmentName is not a text"),
    ("clickShareRank", 0, "clickShareRank is not an integer from 1"),
    ("clickShareRank", True, "clickShareRank is not an integer"),
    ("searchFrequencyRank", "1", "searchFrequencyRank is not an integer"),
    ("clickedAsin", "not an asin", "clickedAsin is not an ASIN"),
    ("clickShare", "0.5", "clickShare is not a number"),
    ("conversionShare", -0.1, "conversionShare is out of range"),
    ("conversionShare", float("nan"), "NaN"),
])
def test_a_bad_search_term_cell_says_why(field, value, reason):
    entry = _term_entry()
    entry[field] = value
    with pytest.raises(MalformedResponseError, match=reason):
        map_search_term(entry, WEEK_2021)


@pytest.mark.parametrize(("path", "value", "reason"), [
    (("asin",), "B12", "asin is not an ASIN"),
    (("searchQueryData", "searchQuery"), "", "searchQuery is empty"),
    (("searchQueryData", "searchQueryVolume"), 1.5, "searchQueryVolume is not an integer"),
    (("clickData",), [], "clickData is not an object"),
    (("clickData", "asinClickShare"), None, "asinClickShare is missing"),
    (("clickData", "asinClickShare"), "0.5", "asinClickShare is not a number"),
    (("purchaseData", "asinMedianPurchasePrice", "currencyCode"), "usd",
     "currencyCode is not an ISO 4217 code"),
    (("purchaseData", "totalMedianPurchasePrice"), 19.99, "is not an amount object"),
    (("cartAddData", "asinCartAddCount"), 2**31, "asinCartAddCount is not an integer"),
    (("startDate",), "2025-01-12", "not its report's WEEK 2025-01-05..2025-01-11"),
    (("endDate",), "someday", "endDate is not a date"),
])
def test_a_bad_search_query_performance_cell_says_why(path, value, reason):
    entry = _sqp_entry()
    target = entry
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(MalformedResponseError, match=reason):
        map_query_performance(entry, WEEK_2025)


def test_an_entry_that_is_no_object_is_refused():
    for mapper, period in ((map_search_term, WEEK_2021), (map_query_performance, WEEK_2025)):
        with pytest.raises(MalformedResponseError, match="is not an object"):
            mapper(["B123456789"], period)


def test_asins_go_in_batches_of_200_characters():
    asins = [f"B{n:09d}" for n in range(40)]
    batches = asin_batches(asins)
    assert [len(b.split()) for b in batches] == [18, 18, 4]  # 18 x 10 + 17 spaces = 197
    assert all(len(b) <= 200 for b in batches)
    assert " ".join(batches).split() == asins
    assert asin_batches([]) == []
    assert asin_batches(["B000000001", "B000000002"], limit=21) == ["B000000001 B000000002"]
    assert asin_batches(["B000000001", "B000000002"], limit=20) == ["B000000001",
                                                                      "B000000002"]
