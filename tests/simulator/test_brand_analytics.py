"""The simulator's Brand Analytics documents: they validate against Amazon's schemas, are
deterministic, count the requested ASINs' orders of the period as purchases, and a request
Amazon would refuse (not one whole period, no asin, more than 200 characters of ASINs,
several marketplaces, a period not yet published) ends FATAL with Amazon's words."""

from __future__ import annotations

import json
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from simulator import SimConfig
from simulator import brand_analytics as ba
from simulator.catalog_gen import add_catalogs
from simulator.generate import build_world
from simulator.world import Status

MODELS = Path("/work/shared/spapi-models")
DAY = 86_400


def _seller(seed: int = 9) -> Any:
    start = int(time.time()) // DAY * DAY
    config = SimConfig(sellers=1, orders_per_seller=300, seed=seed, history_days=30)
    world = build_world(config, start)
    add_catalogs(config, world)  # what the running simulator adds: SKUs and listings
    return next(iter(world.sellers.values()))


def _epoch(day: date, end: bool = False) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() + (DAY - 1 if end
                                                                              else 0)


def _last_week() -> tuple[date, date]:
    today = datetime.now(UTC).date() - timedelta(days=10)
    return ba.period_of("WEEK", today)


@pytest.mark.parametrize(("report_type", "schema"), [
    (ba.SEARCH_TERMS, "report-sellingPartnerSearchTermsReport.json"),
    (ba.SEARCH_QUERY_PERFORMANCE, "report-sellingPartnerSearchQueryPerformanceReport.json")])
def test_the_documents_follow_amazons_schemas(report_type, schema):
    if not (MODELS / schema).exists():
        pytest.skip("spapi-models not available")
    seller = _seller()
    market = seller.marketplace_ids[0]
    first, _ = _last_week()
    options = {"reportPeriod": "WEEK"}
    if report_type == ba.SEARCH_QUERY_PERFORMANCE:
        options["asin"] = " ".join(ba.listed_asins(seller, market)[:18])
    doc = ba.document(seller, report_type, market, _epoch(first), options)
    jsonschema.validate(doc, json.loads((MODELS / schema).read_text()))
    again = ba.document(seller, report_type, market, _epoch(first), options)
    assert doc == again and next(v for k, v in doc.items() if k != "reportSpecification")


def test_search_terms_have_three_clicked_asins_per_term_one_of_them_the_sellers():
    seller = _seller()
    market = seller.marketplace_ids[0]
    entries = ba.search_terms(seller, market, "WEEK", _last_week()[0])
    by_term: dict[tuple[str, str], list[Any]] = {}
    for e in entries:
        by_term.setdefault((e["departmentName"], e["searchTerm"]), []).append(e)
    mine = {e.asin for e in seller.skus.values()}
    for group in by_term.values():
        assert sorted(e["clickShareRank"] for e in group) == [1, 2, 3]
        assert sum(e["clickedAsin"] in mine for e in group) == 1
        shares = [e["clickShare"] for e in sorted(group, key=lambda e: e["clickShareRank"])]
        assert shares == sorted(shares, reverse=True)


def test_search_query_purchases_are_the_asins_orders_of_the_period():
    seller = _seller()
    marketplace = seller.marketplaces[0]
    first, last = _last_week()
    asins = ba.listed_asins(seller, marketplace.marketplace_id)
    rows = ba.query_performance(seller, marketplace, first, last, asins)
    bought: dict[str, int] = {}
    for e in rows:
        bought[e["asin"]] = bought.get(e["asin"], 0) + e["purchaseData"]["asinPurchaseCount"]
    want: dict[str, int] = {}
    for order in seller.orders.values():
        day = datetime.fromtimestamp(order.purchase_date, tz=UTC).date()
        if order.marketplace.marketplace_id == marketplace.marketplace_id and \
                order.status is not Status.CANCELED and first <= day <= last:
            for item in order.items:
                want[item.product.asin] = want.get(item.product.asin, 0) + \
                    item.quantity_ordered
    assert sum(want.values()) > 0
    assert {a: n for a, n in bought.items() if n} == want
    assert ba.query_performance(seller, marketplace, first, last, ["B000NOTMINE"]) == []


def test_requests_amazon_refuses_end_fatal():
    first, last = _last_week()
    now = time.time()
    ok = {"reportPeriod": "WEEK"}
    m = ["ATVPDKIKX0DER"]
    assert ba.request_error(ba.SEARCH_TERMS, m, _epoch(first), _epoch(last, True), ok,
                            now) is None
    two_weeks = _epoch(last + timedelta(days=7), True)
    assert ba.request_error(ba.SEARCH_TERMS, m, _epoch(first), two_weeks, ok,
                            now) == ba.CLIENT_ERROR
    monday = _epoch(first + timedelta(days=1))
    assert ba.request_error(ba.SEARCH_TERMS, m, monday, _epoch(last, True), ok,
                            now) == ba.CLIENT_ERROR
    assert ba.request_error(ba.SEARCH_TERMS, m, _epoch(first), _epoch(last, True), {},
                            now) == ba.CLIENT_ERROR
    assert ba.request_error(ba.SEARCH_TERMS, [*m, "A2EUQ1WTGCTBG2"], _epoch(first),
                            _epoch(last, True), ok, now) == ba.CLIENT_ERROR
    sqp = ba.SEARCH_QUERY_PERFORMANCE
    assert ba.request_error(sqp, m, _epoch(first), _epoch(last, True), ok,
                            now) == ba.CLIENT_ERROR  # no asin
    assert ba.request_error(sqp, m, _epoch(first), _epoch(last, True),
                            {**ok, "asin": " ".join(["B000000000"] * 19)},
                            now) == ba.CLIENT_ERROR  # 209 characters
    assert ba.request_error(sqp, m, _epoch(first), _epoch(last, True),
                            {"reportPeriod": "DAY", "asin": "B000000000"},
                            now) == ba.CLIENT_ERROR  # no DAY period for this report
    # published 3 days after the period ends
    ended = _epoch(last) + DAY
    assert ba.request_error(ba.SEARCH_TERMS, m, _epoch(first), _epoch(last, True), ok,
                            ended + 3 * DAY - 1) == ba.UNAVAILABLE
    assert ba.request_error(ba.SEARCH_TERMS, m, _epoch(first), _epoch(last, True), ok,
                            ended + 3 * DAY) is None


def test_the_generated_document_is_one_line_with_its_specification_last():
    seller = _seller()
    parts = list(ba.big_search_terms(seller, seller.marketplace_ids[0], 10, "seed"))
    text = "".join(parts)
    assert "\n" not in text
    doc = json.loads(text)
    assert list(doc) == ["dataByDepartmentAndSearchTerm", "reportSpecification"]
    assert len(doc["dataByDepartmentAndSearchTerm"]) == 10
