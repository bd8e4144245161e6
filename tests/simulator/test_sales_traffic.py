"""The simulator's GET_SALES_AND_TRAFFIC_REPORT document: it validates against Amazon's
schema (reports/sellerSalesAndTrafficReport.json), is deterministic, and revises a past day's
traffic a little on each of the REVISION_DAYS days after it ends (back-dated revisions)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jsonschema
import pytest

from simulator import SimConfig, sales_traffic
from simulator.generate import build_world

SCHEMA = Path("/work/shared/spapi-models/report-sellerSalesAndTrafficReport.json")
DAY = 86_400
OPTIONS = {"dateGranularity": "DAY", "asinGranularity": "CHILD"}


def _world(seed: int = 5) -> tuple[object, int]:
    start = int(time.time()) // DAY * DAY  # today's UTC midnight
    return build_world(SimConfig(sellers=1, orders_per_seller=120, seed=seed,
                                 history_days=10), start), start


def _one_day(seller: object, market: str, day: datetime, now: float) -> dict:
    start = day.timestamp()
    return sales_traffic.report(seller, market, start, start + DAY - 1, OPTIONS, now)  # type: ignore[arg-type]


@pytest.mark.skipif(not SCHEMA.exists(), reason="spapi-models not available")
def test_the_document_follows_amazons_schema():
    world, start = _world()
    seller = next(iter(world.sellers.values()))  # type: ignore[attr-defined]
    market = seller.marketplace_ids[0]
    schema = json.loads(SCHEMA.read_text())
    for options in (OPTIONS, {"dateGranularity": "WEEK", "asinGranularity": "SKU"},
                    {"dateGranularity": "MONTH", "asinGranularity": "PARENT"}):
        doc = sales_traffic.report(seller, market, start - 9 * DAY, start, options, start)
        jsonschema.validate(doc, schema)
        assert doc["salesAndTrafficByAsin"]


def test_a_past_days_traffic_is_revised_for_two_days_then_final():
    world, start = _world()
    seller = next(iter(world.sellers.values()))  # type: ignore[attr-defined]
    market = seller.marketplace_ids[0]
    day = datetime.fromtimestamp(start, tz=UTC) - timedelta(days=3)
    ends = day.timestamp() + DAY
    seen = [_one_day(seller, market, day, ends + k * DAY + 60) for k in (-1, 0, 1, 2, 3)]
    sessions = [d["salesAndTrafficByDate"][0]["trafficByDate"]["sessions"] for d in seen]
    assert sessions[0] < sessions[1] < sessions[2] == sessions[3] == sessions[4]
    assert sessions[2] - sessions[0] <= 8  # a little: 1-4 sessions per revision
    units = {d["salesAndTrafficByDate"][0]["salesByDate"]["unitsOrdered"] for d in seen}
    assert len(units) == 1  # sales follow the orders, unchanged here
    asin_sessions = [sum(a["trafficByAsin"]["sessions"] for a in d["salesAndTrafficByAsin"])
                     for d in seen]
    assert asin_sessions[0] <= asin_sessions[1] <= asin_sessions[2] == asin_sessions[4]
    assert sales_traffic.revision(day.date(), None) == sales_traffic.REVISION_DAYS


def test_deterministic_from_the_seed():
    (w1, start), (w2, _) = _world(9), _world(9)
    docs = []
    for world in (w1, w2):
        seller = next(iter(world.sellers.values()))  # type: ignore[attr-defined]
        docs.append(sales_traffic.report(seller, seller.marketplace_ids[0], start - 5 * DAY,
                                         start, OPTIONS, start + 3600))
    assert docs[0] == docs[1]
