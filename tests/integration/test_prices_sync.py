"""The ``prices`` stream against real Postgres, real Redis and the simulator: a snapshot of
the competitive summary of every ASIN the seller lists, 20 a call, equal to the simulator's
offers; nothing is asked again within the maximum age; past it, new snapshots are added (a
history), and the prices they hold moved with the hour."""

from __future__ import annotations

import asyncio
import math
from decimal import Decimal
from typing import Any

import pytest

from worker.sync.registry import LISTINGS, PRICES
from worker.sync.service import run_stream

from .helpers import SimClock, register, table

pytestmark = pytest.mark.integration


def _calls(sim: Any) -> int:
    """getCompetitiveSummary calls Amazon answered (a 429 at its burst of 1 is retried)."""
    return sum(b["calls"] - b["throttled"] for b in sim.client.stats()["buckets"]
               if b["operation"] == "getCompetitiveSummary")


def _expected(sim: Any, spid: str, market: str, asins: list[str]) -> dict[str, tuple[Any, ...]]:
    out = {}
    for asin, offers in sim.client.truth_prices(market, asins)["offers"].items():
        cheapest = offers[0]
        out[asin] = (200, cheapest["sellerId"], cheapest["sellerId"] == spid,
                     Decimal(str(cheapest["listingPrice"]["amount"])).quantize(Decimal("0.0001")),
                     len(offers))
    return out


def _latest(rt: Any, seller_id: int, market: str) -> dict[str, tuple[Any, ...]]:
    return {r[0]: tuple(r[1:]) for r in table(rt, """
        SELECT DISTINCT ON (asin) asin, status_code, featured_seller_id, featured_is_mine,
               lowest_price_amount, lowest_offers
        FROM price_snapshots WHERE seller_id = :s AND marketplace_id = :m
        ORDER BY asin, taken_at DESC""", s=seller_id, m=market)}


def test_snapshots_of_listed_asins_equal_the_offers_and_grow_into_a_history(start_sim,
                                                                           runtime_for):
    sim = start_sim(sellers=1, orders_per_seller=20, time_scale=1000, seed=71)
    rt = runtime_for(sim)
    (spid, seller_id), = register(rt, sim).items()
    market = sim.world()["sellers"][0]["marketplace_ids"][0]
    assert asyncio.run(run_stream(rt, seller_id, LISTINGS.stream(market))).status == "succeeded"
    asins = sorted({a for (a,) in table(rt, "SELECT asin FROM listings_items WHERE "
                                        "seller_id = :s AND marketplace_id = :m", s=seller_id,
                                        m=market) if a})
    assert len(asins) > 20  # more than one batch

    stream = PRICES.stream(market)
    assert asyncio.run(run_stream(rt, seller_id, stream)).status == "succeeded"
    assert _calls(sim) == math.ceil(len(asins) / 20)
    first = _latest(rt, seller_id, market)
    assert first == _expected(sim, spid, market, asins)
    assert any(v[2] for v in first.values()) and not all(v[2] for v in first.values())

    calls = _calls(sim)
    assert asyncio.run(run_stream(rt, seller_id, stream)).status == "succeeded"
    assert _calls(sim) == calls  # every snapshot is younger than the maximum age

    clock = SimClock(sim)  # the run's clock and Amazon's, two hours on: prices moved
    clock.advance(2 * 3600)
    assert asyncio.run(run_stream(rt, seller_id, stream, now=clock.now)).status == "succeeded"
    ((count,),) = table(rt, "SELECT count(*) FROM price_snapshots WHERE seller_id = :s",
                        s=seller_id)
    assert count == 2 * len(asins)  # a history, not just the latest
    second = _latest(rt, seller_id, market)
    assert second == _expected(sim, spid, market, asins)
    assert second != first  # the prices moved
