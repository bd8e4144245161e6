"""The ``catalog`` stream against real Postgres, real Redis and the simulator: every ASIN the
seller lists or sold gets Amazon's catalog entry, 20 a call; a second run within the maximum
age asks nothing; past it, every entry is read again and only changed ones (the sales rank
moves daily) get a new sync_version; an ASIN the catalog lacks is recorded, not asked for
on every run."""

from __future__ import annotations

import asyncio
import math
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text

from worker.sync.catalog_items import map_item
from worker.sync.registry import CATALOG, LISTINGS
from worker.sync.service import run_stream

from .helpers import SimClock, register, table

pytestmark = pytest.mark.integration


def _calls(sim: Any) -> int:
    """searchCatalogItems calls Amazon answered (at time scale 1000 a 429 can meet a burst of
    2 between two clocks; it is retried)."""
    return sum(b["calls"] - b["throttled"] for b in sim.client.stats()["buckets"]
               if b["operation"] == "searchCatalogItems")


def _waits(rt: Any, seller_id: int, stream: str, waiting: list[str]) -> None:
    with rt.engine.begin() as conn:  # the claim's lease
        conn.execute(text("UPDATE sync_state SET due_at = now() + interval '6 hours' "
                          "WHERE seller_id = :s AND stream = :t"), {"s": seller_id, "t": stream})
    outcome = asyncio.run(run_stream(rt, seller_id, stream))
    assert (outcome.status, outcome.totals.waiting_for) == ("skipped", sorted(waiting))
    ((due, success),) = table(rt, "SELECT due_at - now(), last_success_at FROM sync_state "
                                  "WHERE seller_id = :s AND stream = :t", s=seller_id, t=stream)
    assert due <= timedelta(minutes=1) and success is None


def test_the_catalog_of_listed_and_sold_asins_equals_the_truth(start_sim, runtime_for):
    sim = start_sim(sellers=1, orders_per_seller=120, time_scale=1000, seed=67)
    rt = runtime_for(sim)
    (_, seller_id), = register(rt, sim).items()
    market = sim.world()["sellers"][0]["marketplace_ids"][0]
    stream = CATALOG.stream(market)
    # A new seller: the ASINs come from its listings and orders, not synced yet. A run asks
    # Amazon nothing, is no success, and comes due again within a minute.
    _waits(rt, seller_id, stream, ["listings:" + market, "orders"])
    assert asyncio.run(run_stream(rt, seller_id, LISTINGS.stream(market))).status == "succeeded"
    _waits(rt, seller_id, stream, ["orders"])
    assert _calls(sim) == 0
    assert asyncio.run(run_stream(rt, seller_id, "orders")).status == "succeeded"
    with rt.engine.begin() as conn:  # an ASIN Amazon's catalog does not have
        conn.execute(text("UPDATE listings_items SET asin = 'B0NOSUCH00' WHERE seller_id = :s "
                          "AND marketplace_id = :m AND seller_sku = (SELECT min(seller_sku) "
                          "FROM listings_items WHERE seller_id = :s AND marketplace_id = :m)"),
                     {"s": seller_id, "m": market})
    wanted = {a for (a,) in table(rt, """
        SELECT asin FROM listings_items WHERE seller_id = :s AND marketplace_id = :m
        UNION SELECT i.asin FROM order_items i JOIN orders o USING (seller_id, amazon_order_id)
        WHERE i.seller_id = :s AND o.marketplace_id = :m""", s=seller_id, m=market) if a}
    assert len(wanted) > 20  # more than one batch

    assert asyncio.run(run_stream(rt, seller_id, stream)).status == "succeeded"
    assert _calls(sim) == math.ceil(len(wanted) / 20)
    mirror = {r[0]: r[1:] for r in table(
        rt, "SELECT asin, found, item_name, brand, product_type, sales_rank FROM catalog_items "
        "WHERE seller_id = :s AND marketplace_id = :m", s=seller_id, m=market)}
    assert set(mirror) == wanted
    truth = {i["asin"]: map_item(market, i)
             for i in sim.client.truth_catalog(market, sorted(wanted))["items"]}
    assert set(truth) == wanted - {"B0NOSUCH00"}
    assert mirror["B0NOSUCH00"] == (False, None, None, None, None)
    for asin, row in truth.items():
        assert mirror[asin] == (True, row.item_name, row.brand, row.product_type,
                                row.sales_rank)

    calls = _calls(sim)  # within the maximum age: nothing is due
    assert asyncio.run(run_stream(rt, seller_id, stream)).status == "succeeded"
    assert _calls(sim) == calls

    versions = dict(table(rt, "SELECT asin, sync_version FROM catalog_items WHERE "
                          "seller_id = :s", s=seller_id))
    clock = SimClock(sim)  # the run's clock and Amazon's: the sales ranks move meanwhile
    clock.advance(6 * 86400)
    assert asyncio.run(run_stream(rt, seller_id, stream, now=clock.now)).status == "succeeded"
    assert _calls(sim) == calls  # six days on: still younger than the maximum age (7 days)
    clock.advance(2 * 86400)
    assert asyncio.run(run_stream(rt, seller_id, stream, now=clock.now)).status == "succeeded"
    assert _calls(sim) == 2 * calls
    after = dict(table(rt, "SELECT asin, sync_version FROM catalog_items WHERE "
                       "seller_id = :s", s=seller_id))
    moved = {a for a in after if after[a] != versions[a]}
    ranks = {i["asin"]: map_item(market, i).sales_rank
             for i in sim.client.truth_catalog(market, sorted(wanted))["items"]}
    assert moved == {a for a in ranks if ranks[a] != truth[a].sales_rank}
    assert moved  # some ranks moved, and only those rows were rewritten
