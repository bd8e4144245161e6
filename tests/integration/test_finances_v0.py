"""The finances stream's v0 fallback against real Postgres, real Redis and the simulator: a
seller on whom Amazon refuses ``listTransactions`` (403 Unauthorized) is moved to v0
``listFinancialEvents`` by the sync itself, its transactions then equal the simulator's v0
events, ``order_profit`` equals sums computed here from the truth, and ``status`` shows it."""

from __future__ import annotations

import asyncio
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from worker.status import collect, render
from worker.sync.registry import FINANCES
from worker.sync.service import run_stream

from .helpers import SimClock, register, table

pytestmark = pytest.mark.integration
Q = Decimal("0.0001")


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _amounts(node: Any, found: list[tuple[str, Decimal]], group: str = "") -> None:
    """Every (component group, amount) of a v0 event, by the model's component shapes."""
    if isinstance(node, list):
        for n in node:
            _amounts(n, found, group)
    elif isinstance(node, dict):
        for type_key, amount_key, name in (("ChargeType", "ChargeAmount", "charge"),
                                           ("FeeType", "FeeAmount", "fee")):
            if type_key in node:
                found.append((name, Decimal(str(node[amount_key]["CurrencyAmount"]))))
                return
        for value in node.values():
            _amounts(value, found, group)


def _v0_truth(sim: Any, spid: str, start: datetime, end: datetime
              ) -> dict[tuple[str, str, datetime | None], Decimal]:
    """(order, kind, posted) -> total, for every v0 event posted in the window. A service
    fee has no PostedDate in the model: when it was posted comes from the same entry's
    2024-06-19 transaction (an order has one adjustment at most)."""
    truth = sim.client.truth_finances(spid)
    adjusted = {r["relatedIdentifierValue"]: _at(t["postedDate"])
                for t in truth["transactions"] if t["transactionType"] == "Adjustment"
                for r in t["relatedIdentifiers"] if r["relatedIdentifierName"] == "ORDER_ID"}
    out: dict[tuple[str, str, datetime | None], Decimal] = {}
    for e in truth["v0_events"]:
        event, kind = e["event"], e["list"].removesuffix("EventList")
        posted = _at(event["PostedDate"]) if "PostedDate" in event else None
        if not start <= (posted or adjusted[event["AmazonOrderId"]]) < end:
            continue
        found: list[tuple[str, Decimal]] = []
        _amounts(event, found)
        out[(event["AmazonOrderId"], kind, posted)] = sum((a for _, a in found),
                                                          Decimal(0)).quantize(Q)
    return out


def test_a_seller_refused_listtransactions_falls_back_to_v0_events(start_sim, runtime_for):
    sim = start_sim(sellers=2, orders_per_seller=300, time_scale=1000, seed=23)
    rt = runtime_for(sim)
    ids = register(rt, sim)
    (refused, refused_id), (other, other_id) = sorted(ids.items())
    sim.client.fault("listTransactions", "unauthorized", seller_id=refused, probability=1)
    clock = SimClock(sim)
    clock.advance(10 * 86400)  # the first week's sales are released: v0 lists them
    for seller_id in (refused_id, other_id):
        outcome = asyncio.run(run_stream(rt, seller_id, FINANCES.stream(), now=clock.now))
        assert outcome.status == "succeeded", outcome

    versions = dict(table(rt, "SELECT selling_partner_id, finances_api_version FROM sellers"))
    assert versions == {refused: "v0", other: "2024-06-19"}  # only the refused one moved
    runs = table(rt, "SELECT status, error_type FROM sync_runs WHERE seller_id = :s "
                 "ORDER BY id", s=refused_id)
    assert runs == [("failed", "AuthError"), ("succeeded", None)]  # the refusal is on record

    ((cursor,),) = table(rt, "SELECT cursor FROM sync_state WHERE seller_id = :s AND "
                         "stream = 'finances'", s=refused_id)
    start = cursor - FINANCES.tuning.initial
    truth = _v0_truth(sim, refused, start, cursor)
    assert len(truth) > 20 and {k for _, k, _ in truth} >= {"Shipment", "Refund"}
    mirror = {(r[0], r[1], r[2]): r[3] for r in table(
        rt, "SELECT order_id, transaction_type, posted_date, total_amount "
        "FROM financial_transactions WHERE seller_id = :s", s=refused_id)}
    assert mirror == truth
    assert all(s == "RELEASED" for (s,) in table(
        rt, "SELECT DISTINCT transaction_status FROM financial_transactions "
        "WHERE seller_id = :s", s=refused_id))

    # order_profit, summed here per order from the v0 events in the window
    expected: dict[str, list[Decimal]] = {}
    for e in sim.client.truth_finances(refused)["v0_events"]:
        event, kind = e["event"], e["list"].removesuffix("EventList")
        key = (event["AmazonOrderId"], kind, _at(event["PostedDate"]) if "PostedDate" in event
               else None)
        if key not in truth:
            continue
        found: list[tuple[str, Decimal]] = []
        _amounts(event, found)
        acc = expected.setdefault(event["AmazonOrderId"], [Decimal(0)] * 4)
        charges = sum((a for n, a in found if n == "charge"), Decimal(0))
        acc[0] += charges if kind == "Shipment" else 0
        acc[1] += sum((a for n, a in found if n == "fee"), Decimal(0))
        acc[2] += charges if kind == "Refund" else 0
        acc[3] += sum((a for _, a in found), Decimal(0))
    profit = {r[0]: tuple(r[1:]) for r in table(
        rt, "SELECT order_id, sales, fees, refunds, net, released, deferred, other "
        "FROM order_profit WHERE seller_id = :s", s=refused_id)}
    assert profit == {k: (*(v.quantize(Q) for v in acc), acc[3].quantize(Q), Decimal(0).quantize(Q),
                          Decimal(0).quantize(Q))
                      for k, acc in expected.items()}

    with rt.engine.begin() as conn:
        shown = render(collect(conn))
    assert any(refused in line and "finances (v0)" in line for line in shown.splitlines())
    assert not any(other in line and "(v0)" in line for line in shown.splitlines())

    # a re-run reads the look-back again and writes nothing new: the ids are stable
    (before,), = table(rt, "SELECT count(*) FROM financial_transactions WHERE seller_id = :s",
                       s=refused_id)
    clock.advance(3600)
    assert asyncio.run(run_stream(rt, refused_id, FINANCES.stream(), now=clock.now)).status \
        == "succeeded"
    ((after,),) = table(rt, "SELECT count(*) FROM financial_transactions WHERE seller_id = :s",
                        s=refused_id)
    assert after == before
