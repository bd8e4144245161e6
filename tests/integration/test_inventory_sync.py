"""The FBA inventory stream against real Postgres, real Redis and the simulator."""

from __future__ import annotations

import asyncio

import pytest

from worker.sync.catalog import streams_for
from worker.sync.registry import INVENTORY
from worker.sync.service import run_stream

from .helpers import register, table

pytestmark = pytest.mark.integration


def inventory(rt, seller_id):
    return {(r.marketplace_id, r.seller_sku): (r.fulfillable_quantity, r.inbound_receiving_quantity,
                                               r.unfulfillable_quantity, r.reserved_quantity)
            for r in table(rt, "SELECT * FROM inventory_summaries WHERE seller_id = :s",
                           s=seller_id)}


def truth(sim, spid):
    return {(t["marketplaceId"], t["sellerSku"]): (
        t["fulfillableQuantity"], t["inboundReceivingQuantity"], t["unfulfillableQuantity"],
        t["reservedQuantity"]) for t in sim.client.truth_inventory(spid)["inventory"]}


def sync_all(rt, seller_id, marketplaces):
    return [asyncio.run(run_stream(rt, seller_id, INVENTORY.stream(m))) for m in marketplaces]


def test_every_marketplace_stream_mirrors_the_truth_then_only_the_changes(start_sim,
                                                                         runtime_for):
    sim = start_sim(sellers=4, orders_per_seller=1, time_scale=1000, seed=31)
    rt = runtime_for(sim)
    ids = register(rt, sim)
    world = {s["selling_partner_id"]: s for s in sim.world()["sellers"]}
    spid = next(s for s, w in world.items() if len(w["marketplace_ids"]) > 1)  # US + CA
    seller_id, markets = ids[spid], world[spid]["marketplace_ids"]
    outcomes = sync_all(rt, seller_id, markets)
    assert [o.status for o in outcomes] == ["succeeded"] * len(markets)
    assert all(o.totals.pages >= 1 for o in outcomes)
    assert inventory(rt, seller_id) == truth(sim, spid)

    (before,), = table(rt, "SELECT max(sync_version) FROM inventory_summaries")
    changed = set(sim.client.mutate(spid, 6, kind="inventory"))
    sync_all(rt, seller_id, markets)
    rewritten = {r[0] for r in table(
        rt, "SELECT seller_sku FROM inventory_summaries WHERE sync_version > :v", v=before)}
    assert rewritten == changed  # the overlap re-reads, but rewrites nothing unchanged
    assert inventory(rt, seller_id) == truth(sim, spid)
    streams = {r[0] for r in table(rt, "SELECT stream FROM sync_state WHERE seller_id = :s",
                                   s=seller_id)}
    assert streams == set(streams_for(markets))  # every stream the registry names
    assert {"orders", *(INVENTORY.stream(m) for m in markets),
            *(f"listings:{m}" for m in markets)} <= streams


def test_a_stream_for_a_marketplace_the_seller_lacks_is_refused(start_sim, runtime_for):
    from worker.sync.catalog import UnknownStreamError

    sim = start_sim(sellers=1, orders_per_seller=1, time_scale=1000)
    rt = runtime_for(sim)
    (seller_id,) = register(rt, sim).values()
    with pytest.raises(UnknownStreamError, match="known: orders"):
        asyncio.run(run_stream(rt, seller_id, INVENTORY.stream("A1VC38T7YXB528")))
