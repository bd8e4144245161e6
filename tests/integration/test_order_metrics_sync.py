"""The ``order-metrics`` stream (Sales API getOrderMetrics) against real Postgres, Redis and
the simulator: ``order_metrics`` equals sums over the simulator's orders (its truth) per UTC
day after a first sync, and again after orders change and new ones arrive (the look-back
re-reads the last days)."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from worker.sync.registry import ORDER_METRICS
from worker.sync.service import run_stream

from .helpers import SimClock, register, table

pytestmark = pytest.mark.integration


def _truth(sim: Any, spid: str, market: str) -> dict[Any, tuple[int, int, int, Decimal]]:
    acc: dict[Any, list[Any]] = defaultdict(lambda: [0, 0, set(), Decimal(0)])
    for o in sim.client.truth(spid)["orders"]:
        if o["MarketplaceId"] != market or o["OrderStatus"] == "Canceled":
            continue
        day = datetime.fromisoformat(o["PurchaseDate"].replace("Z", "+00:00")).date()
        for item in o["OrderItems"]:
            a = acc[day]
            a[0] += item["QuantityOrdered"]
            a[1] += 1
            a[2].add(o["AmazonOrderId"])
            a[3] += Decimal(item["ItemPrice"]["Amount"])
    return {d: (a[0], a[1], len(a[2]), a[3]) for d, a in acc.items()}


def _stored(rt: Any, seller_id: int, market: str) -> dict[Any, tuple[Any, ...]]:
    return {r[0].date(): tuple(r[1:]) for r in table(
        rt, "SELECT interval_start, unit_count, order_item_count, order_count, total_sales, "
            "total_sales_currency, interval_end - interval_start, granularity "
            "FROM order_metrics WHERE seller_id = :s AND marketplace_id = :m",
        s=seller_id, m=market)}


def _check(stored: dict[Any, tuple[Any, ...]], truth: dict[Any, tuple[Any, ...]],
           days: list[Any]) -> None:
    for day in days:
        units, items, orders, sales, _, span, granularity = stored[day]
        assert (span, granularity) == (timedelta(days=1), "Day")
        assert (units, items, orders, sales) == truth.get(day, (0, 0, 0, Decimal(0))), day


def test_order_metrics_equal_the_orders_summed_per_day(start_sim, runtime_for):
    sim = start_sim(sellers=1, orders_per_seller=160, time_scale=1000, seed=83,
                    history_days=20)
    rt = runtime_for(sim)
    (spid, seller_id), = register(rt, sim).items()
    market = sim.world()["sellers"][0]["marketplace_ids"][0]
    stream = ORDER_METRICS.stream(market)
    clock = SimClock(sim)

    assert asyncio.run(run_stream(rt, seller_id, stream, now=clock.now)).status == "succeeded"
    today = clock.now().date()
    first = _stored(rt, seller_id, market)
    days = sorted(first)
    assert days == [today - timedelta(days=n) for n in range(30, -1, -1)]  # 30 days back
    truth = _truth(sim, spid, market)
    _check(first, truth, days)
    assert sum(v[0] for v in first.values()) > 0
    assert len({v[4] for v in first.values()}) == 1  # the marketplace's currency, every day

    changed = sim.client.mutate(spid, 60)  # statuses move on (some cancelled), new orders
    assert changed
    clock.advance(3 * 3600)
    assert asyncio.run(run_stream(rt, seller_id, stream, now=clock.now)).status == "succeeded"
    second = _stored(rt, seller_id, market)
    truth = _truth(sim, spid, market)
    recent = [d for d in sorted(second) if d >= clock.now().date() - timedelta(days=3)]
    _check(second, truth, recent)
    assert any(second[d] != first.get(d) for d in recent), "the look-back re-read changes"
