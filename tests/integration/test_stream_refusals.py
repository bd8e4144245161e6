"""A stream Amazon refuses the seller (403 ``Unauthorized``: a role or registration the seller
lacks) is disabled alone, visibly in ``status``; the seller's other streams keep syncing, the
dispatcher stops claiming the refused one, and ``sellers enable`` (or a new authorization)
tries it again. Against real Postgres, real Redis and the simulator."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from worker.db import state
from worker.db.sellers import enable_seller
from worker.status import collect, render
from worker.sync.registry import FINANCES
from worker.sync.service import run_stream
from worker.web.scrape import MirrorCollector

from .helpers import register, table

pytestmark = pytest.mark.integration


def _due(rt, seller_id: int) -> set[str]:
    with rt.engine.begin() as conn:
        claimed = state.claim_due(conn, datetime.now(UTC) + timedelta(days=1), limit=100,
                                  hold=timedelta(seconds=1), seller_id=seller_id)
    return {stream for _, stream in claimed}


def test_a_refused_stream_is_disabled_alone_and_enable_tries_it_again(start_sim, runtime_for):
    sim = start_sim(sellers=1, orders_per_seller=40, time_scale=1000, seed=43)
    rt = runtime_for(sim)
    (spid, seller_id), = register(rt, sim).items()
    (market,) = sim.world()["sellers"][0]["marketplace_ids"][:1]
    inventory = f"inventory:{market}"
    sim.client.fault("getInventorySummaries", "unauthorized", seller_id=spid, probability=1)

    outcome = asyncio.run(run_stream(rt, seller_id, inventory))
    assert outcome.status == "failed"
    assert asyncio.run(run_stream(rt, seller_id, "orders")).status == "succeeded"
    disabled = dict(table(rt, "SELECT stream, disabled_reason FROM sync_state "
                          "WHERE seller_id = :s AND disabled_reason IS NOT NULL", s=seller_id))
    assert list(disabled) == [inventory]
    assert "getInventorySummaries" in disabled[inventory] and "403" in disabled[inventory]
    due = _due(rt, seller_id)
    assert inventory not in due and "orders" in due  # never claimed while refused
    with rt.engine.begin() as conn:
        shown = render(collect(conn))
    line = next(x for x in shown.splitlines() if inventory in x)
    assert "STREAM DISABLED" in line
    assert not any("DISABLED" in x for x in shown.splitlines() if " orders " in x)
    gauge = {tuple(sample.labels.values()): sample.value for metric in MirrorCollector(
        rt.engine, rt.settings, rt.services.redis_url, {}).collect()
        if metric.name == "spsync_stream_disabled" for sample in metric.samples}
    assert gauge[(spid, inventory)] == 1.0 and gauge[(spid, "orders")] == 0.0  # what alerts

    sim.client.clear_faults()  # the seller was granted the role
    with rt.engine.begin() as conn:
        enable_seller(conn, seller_id)
    assert inventory in _due(rt, seller_id)
    assert asyncio.run(run_stream(rt, seller_id, inventory)).status == "succeeded"
    assert table(rt, "SELECT count(*) FROM sync_state WHERE seller_id = :s AND "
                 "disabled_reason IS NOT NULL", s=seller_id) == [(0,)]


def test_finances_refused_on_both_apis_falls_back_then_is_disabled(start_sim, runtime_for):
    sim = start_sim(sellers=1, orders_per_seller=40, time_scale=1000, seed=47)
    rt = runtime_for(sim)
    (spid, seller_id), = register(rt, sim).items()
    for operation in ("listTransactions", "listFinancialEvents"):
        sim.client.fault(operation, "unauthorized", seller_id=spid, probability=1)
    assert asyncio.run(run_stream(rt, seller_id, FINANCES.stream())).status == "failed"
    ((version,),) = table(rt, "SELECT finances_api_version FROM sellers WHERE id = :s",
                          s=seller_id)
    ((reason,),) = table(rt, "SELECT disabled_reason FROM sync_state WHERE seller_id = :s "
                         "AND stream = 'finances'", s=seller_id)
    assert version == "v0" and "listFinancialEvents" in reason
    assert asyncio.run(run_stream(rt, seller_id, "payouts")).status == "succeeded"
