"""The ``sales-traffic`` report stream against real Postgres, Redis and the simulator: one
``GET_SALES_AND_TRAFFIC_REPORT`` a UTC day and marketplace, typed into
``sales_traffic_by_date`` / ``sales_traffic_by_asin``, equal to the simulator's truth after a
first sync, and after a day passes (a new day, and the look-back's days revised)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from worker.status import collect
from worker.sync.registry import SALES_TRAFFIC
from worker.sync.service import run_stream

from .helpers import SimClock, register, table

pytestmark = pytest.mark.integration


def _stored(rt: Any, seller_id: int, market: str) -> tuple[dict[Any, Any], dict[Any, Any]]:
    days = {r[0]: tuple(r[1:]) for r in table(
        rt, "SELECT date, ordered_product_sales, ordered_product_sales_currency, units_ordered, "
            "sessions, page_views, unit_session_percentage FROM sales_traffic_by_date "
            "WHERE seller_id = :s AND marketplace_id = :m", s=seller_id, m=market)}
    asins = {(r[0], r[1], r[2]): tuple(r[3:]) for r in table(
        rt, "SELECT date, parent_asin, child_asin, units_ordered, ordered_product_sales, "
            "sessions FROM sales_traffic_by_asin WHERE seller_id = :s AND marketplace_id = :m",
        s=seller_id, m=market)}
    return days, asins


def _truth(sim: Any, spid: str, market: str, day: Any) -> tuple[tuple[Any, ...], dict[Any, Any]]:
    doc = sim.client.truth_sales_traffic(spid, market, day.isoformat())
    (entry,) = doc["salesAndTrafficByDate"]
    sales, traffic = entry["salesByDate"], entry["trafficByDate"]
    by_date = (Decimal(str(sales["orderedProductSales"]["amount"])),
               sales["orderedProductSales"]["currencyCode"], sales["unitsOrdered"],
               traffic["sessions"], traffic["pageViews"],
               Decimal(str(traffic["unitSessionPercentage"])))
    asins = {(day, a["parentAsin"], a["childAsin"]): (
        a["salesByAsin"]["unitsOrdered"],
        Decimal(str(a["salesByAsin"]["orderedProductSales"]["amount"])),
        a["trafficByAsin"]["sessions"]) for a in doc["salesAndTrafficByAsin"]}
    return by_date, asins


def _check(sim: Any, spid: str, market: str, stored: tuple[dict[Any, Any], dict[Any, Any]],
           days: list[Any]) -> None:
    by_date, by_asin = stored
    for day in days:
        want, want_asins = _truth(sim, spid, market, day)
        got = by_date[day]
        assert (got[0], got[1], got[2], got[3], got[4], got[5]) == want, day
        assert {k: v for k, v in by_asin.items() if k[0] == day} == want_asins, day


def test_sales_traffic_stream_lands_typed_days_and_picks_up_revisions(start_sim, runtime_for):
    sim = start_sim(sellers=1, orders_per_seller=120, time_scale=1000, seed=71,
                    history_days=12)
    rt = runtime_for(sim, report_poll_seconds=0.02, report_poll_max_seconds=0.05)
    (spid, seller_id), = register(rt, sim).items()
    market = sim.world()["sellers"][0]["marketplace_ids"][0]
    stream = SALES_TRAFFIC.stream(market)
    clock = SimClock(sim)

    assert asyncio.run(run_stream(rt, seller_id, stream, now=clock.now)).status == "succeeded"
    today = clock.now().date()
    first = _stored(rt, seller_id, market)
    days = sorted(first[0])
    assert days == [today - timedelta(days=n) for n in range(7, -1, -1)]  # 7 days back
    assert sum(v[2] for v in first[0].values()) > 0 and first[1]  # sales, and ASIN rows
    _check(sim, spid, market, first, days)
    reports = table(rt, "SELECT data_start_time, data_end_time, report_options FROM reports "
                    "WHERE seller_id = :s ORDER BY id", s=seller_id)
    assert len(reports) == 8 and all(s.date() == e.date() for s, e, _ in reports)
    assert reports[0][2] == {"asinGranularity": "CHILD", "dateGranularity": "DAY"}

    clock.advance(86400)  # a day on: a new day, and the look-back's days revised
    assert asyncio.run(run_stream(rt, seller_id, stream, now=clock.now)).status == "succeeded"
    second = _stored(rt, seller_id, market)
    recent = [today + timedelta(days=1 - n) for n in range(3, -1, -1)]
    assert sorted(second[0])[-4:] == recent
    _check(sim, spid, market, second, recent)
    revised = [d for d in recent[:-1] if second[0][d][3] != first[0][d][3]]
    assert revised, "late sessions of the look-back's days were picked up"
    asked = len(table(rt, "SELECT 1 FROM reports WHERE seller_id = :s", s=seller_id))
    assert asked in (8 + 4, 8 + 5)  # the look-back's days asked again, one report each
    with rt.engine.begin() as conn:
        shown = {r["stream"]: r for r in collect(conn) if r["seller_id"] == seller_id}
    assert shown[stream]["rows"] == len(second[0])  # status counts the typed days
