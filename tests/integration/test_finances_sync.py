"""The money streams against real Postgres, real Redis and the simulator: transactions (with
their breakdowns) and payout groups equal the simulator's truth after a sync, and again after
Amazon changed them inside the look-back window (deferred sales released, late refunds and
fees), each change leaving exactly one change in the feed."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from tests.feedkit import settled
from worker.db import changes as feed
from worker.sync.registry import FINANCES, PAYOUTS
from worker.sync.service import run_stream

from .helpers import SimClock, register, table

pytestmark = pytest.mark.integration


def _dec(currency: dict[str, Any] | None, amount: str = "currencyAmount") -> Decimal | None:
    return None if currency is None else Decimal(str(currency[amount])).quantize(
        Decimal("0.0001"))


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _nodes(trees: list[dict[str, Any]]) -> int:
    return sum(1 + _nodes(t.get("breakdowns") or []) for t in trees)


def _truth_transactions(sim: Any, spid: str, start: datetime, end: datetime
                        ) -> dict[str, tuple[Any, ...]]:
    out = {}
    for t in sim.client.truth_finances(spid)["transactions"]:
        if not start <= _at(t["postedDate"]) < end:
            continue
        related = {r["relatedIdentifierName"]: r["relatedIdentifierValue"]
                   for r in t.get("relatedIdentifiers", [])}
        nodes = _nodes(t.get("breakdowns") or []) + sum(
            1 + _nodes(i.get("breakdowns") or []) for i in t.get("items") or [])
        out[t["transactionId"]] = (
            t["transactionType"], t["transactionStatus"], _at(t["postedDate"]),
            _dec(t["totalAmount"]), t["totalAmount"]["currencyCode"],
            related.get("ORDER_ID"), related.get("FINANCIAL_EVENT_GROUP_ID"), nodes)
    return out


def _leaves(trees: list[dict[str, Any]], root: str) -> Decimal:
    """The sum of the leaf amounts under the top-level breakdowns named ``root``."""
    def walk(node: dict[str, Any]) -> Decimal:
        children = node.get("breakdowns") or []
        if not children:
            return Decimal(str(node["breakdownAmount"]["currencyAmount"]))
        return sum((walk(c) for c in children), Decimal(0))

    return sum((walk(t) for t in trees if t["breakdownType"] == root), Decimal(0))


def _profit_truth(sim: Any, spid: str, start: datetime, end: datetime
                  ) -> dict[tuple[str, str], tuple[Decimal, ...]]:
    """(order, currency) -> (sales, fees, refunds, net, released, deferred), summed here
    from the simulator's transactions in the window, not through the view."""
    out: dict[tuple[str, str], list[Decimal]] = {}
    for t in sim.client.truth_finances(spid)["transactions"]:
        related = {r["relatedIdentifierName"]: r["relatedIdentifierValue"]
                   for r in t.get("relatedIdentifiers", [])}
        if "ORDER_ID" not in related or not start <= _at(t["postedDate"]) < end:
            continue
        key = (related["ORDER_ID"], t["totalAmount"]["currencyCode"])
        acc = out.setdefault(key, [Decimal(0)] * 6)
        trees = t.get("breakdowns") or []
        total = Decimal(str(t["totalAmount"]["currencyAmount"]))
        charges = _leaves(trees, "ProductCharges")
        acc[0] += charges if t["transactionType"] == "Shipment" else 0
        acc[1] += _leaves(trees, "AmazonFees")
        acc[2] += charges if t["transactionType"] == "Refund" else 0
        acc[3] += total
        acc[4] += total if t["transactionStatus"] != "DEFERRED" else 0
        acc[5] += total if t["transactionStatus"] == "DEFERRED" else 0
    q = Decimal("0.0001")
    return {k: tuple(v.quantize(q) for v in acc) for k, acc in out.items()}


def _mirror_transactions(rt: Any, seller_id: int) -> dict[str, tuple[Any, ...]]:
    rows = table(rt, """
        SELECT t.transaction_id, t.transaction_type, t.transaction_status, t.posted_date,
               t.total_amount, t.currency, t.order_id, t.financial_event_group_id,
               (SELECT count(*) FROM financial_transaction_breakdowns b
                WHERE b.seller_id = t.seller_id AND b.transaction_id = t.transaction_id)
        FROM financial_transactions t WHERE t.seller_id = :s""", s=seller_id)
    return {r[0]: tuple(r[1:]) for r in rows}


def _window(rt: Any, seller_id: int, stream: str, reach: timedelta) -> tuple[datetime, datetime]:
    """What the stream's runs covered: ``reach`` before its cursor, up to the cursor."""
    ((cursor,),) = table(rt, "SELECT cursor FROM sync_state WHERE seller_id = :s AND "
                         "stream = :t", s=seller_id, t=stream)
    return cursor - reach, cursor


def _sync(rt: Any, seller_id: int, clock: SimClock) -> None:
    for stream in (FINANCES.stream(), PAYOUTS.stream()):
        outcome = asyncio.run(run_stream(rt, seller_id, stream, now=clock.now))
        assert outcome.status == "succeeded", (stream, outcome)


def _groups(rt: Any, sim: Any, spid: str, seller_id: int) -> tuple[dict[str, Any], ...]:
    start, end = _window(rt, seller_id, PAYOUTS.stream(), PAYOUTS.tuning.initial)
    truth = {g["FinancialEventGroupId"]: (g["ProcessingStatus"], g.get("FundTransferStatus"),
                                          _dec(g.get("OriginalTotal"), "CurrencyAmount"))
             for g in sim.client.truth_finances(spid)["groups"]
             if start <= _at(g["FinancialEventGroupStart"]) < end}
    mirror = {r[0]: tuple(r[1:]) for r in table(
        rt, "SELECT financial_event_group_id, processing_status, fund_transfer_status, "
        "original_total FROM financial_event_groups WHERE seller_id = :s", s=seller_id)}
    return truth, mirror


def test_transactions_and_payouts_equal_the_truth_and_follow_late_changes(start_sim,
                                                                          runtime_for):
    sim = start_sim(sellers=1, orders_per_seller=400, time_scale=1000, seed=17)
    rt = runtime_for(sim)
    (spid, seller_id), = register(rt, sim).items()
    clock = SimClock(sim)
    _sync(rt, seller_id, clock)
    start, end = _window(rt, seller_id, FINANCES.stream(), FINANCES.tuning.initial)
    truth = _truth_transactions(sim, spid, start, end)
    assert len(truth) > 20 and {v[0] for v in truth.values()} >= {"Shipment"}
    assert _mirror_transactions(rt, seller_id) == truth
    # the top-level breakdowns of a transaction add up to its total
    sums = table(rt, """
        SELECT t.transaction_id, t.total_amount, sum(b.amount) FROM financial_transactions t
        JOIN financial_transaction_breakdowns b USING (seller_id, transaction_id)
        WHERE b.item = 0 AND b.depth = 1 GROUP BY 1, 2""")
    assert sums and all(total == parts for _, total, parts in sums)
    groups_truth, groups_mirror = _groups(rt, sim, spid, seller_id)
    assert groups_truth and groups_mirror == groups_truth
    deferred = {k for k, v in truth.items() if v[1] == "DEFERRED"}
    assert deferred  # some sales of the last week are still deferred
    profit = {(r[0], r[1]): tuple(r[2:]) for r in table(
        rt, "SELECT order_id, currency, sales, fees, refunds, net, released, deferred "
        "FROM order_profit WHERE seller_id = :s", s=seller_id)}
    assert profit == _profit_truth(sim, spid, start, end)
    assert any(v[2] for v in profit.values()) and any(v[5] for v in profit.values())
    ((other,),) = table(rt, "SELECT count(*) FROM order_profit WHERE other <> 0 AND "
                        "seller_id = :s", s=seller_id)
    assert other == 0  # sales, fees and refunds make up every net of this ledger
    daily = table(rt, "SELECT sum(net), sum(orders) FROM order_profit_daily "
                  "WHERE seller_id = :s", s=seller_id)
    assert daily[0] == (sum(v[3] for v in profit.values()), len(profit))

    settled(rt.engine)  # the latest change is readable only once older transactions end
    with rt.engine.begin() as conn:
        position = feed.latest(conn, 1)[0].position
    clock.advance(8 * 86400)  # a week on: those sales are released, late refunds and fees
    _sync(rt, seller_id, clock)
    start, end = _window(rt, seller_id, FINANCES.stream(), FINANCES.tuning.overlap)
    later = _truth_transactions(sim, spid, start, end)
    mirror = _mirror_transactions(rt, seller_id)
    assert {k: mirror[k] for k in later} == later  # the look-back window is exact again
    assert all(later[k][1] != "DEFERRED" for k in deferred if k in later)
    changed = {k for k in later if k not in truth or later[k] != truth[k]}
    assert changed
    settled(rt.engine)  # other tests' transactions on this server can hold the feed back
    with rt.engine.begin() as conn:
        news = [c for c in feed.read(conn, position, 100_000)
                if c.entity == "financial_transactions"]
    assert sorted(c.key["transaction_id"] for c in news) == sorted(changed)  # once each
    groups_truth, groups_mirror = _groups(rt, sim, spid, seller_id)
    assert {k: groups_mirror[k] for k in groups_truth} == groups_truth
