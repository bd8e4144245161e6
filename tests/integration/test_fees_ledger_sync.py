"""The FBA fee and inventory ledger report streams against real Postgres, real Redis and the
simulator: the typed tables equal the simulator's truth after a first sync, after time
passes (new rows), and after back-dated rows appear inside the look-back."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from worker.status import collect
from worker.sync import registry
from worker.sync.service import run_stream

from .helpers import SimClock, register, table

pytestmark = pytest.mark.integration
LEDGER_KEY = ("Date", "FNSKU", "EventType", "ReferenceID", "FulfillmentCenter", "Disposition",
              "Reason", "Quantity")


def _start(start_sim: Any, runtime_for: Any, seed: int) -> tuple[Any, Any, str, int, str]:
    sim = start_sim(sellers=1, orders_per_seller=150, history_days=45, time_scale=1000,
                    seed=seed, report_delay_seconds=30)
    rt = runtime_for(sim, report_poll_seconds=0.02, report_poll_max_seconds=0.05)
    (spid, seller_id), = register(rt, sim).items()
    return sim, rt, spid, seller_id, sim.world()["sellers"][0]["marketplace_ids"][0]


def _windows(rt: Any, seller_id: int, kind: str) -> list[tuple[datetime, datetime]]:
    return [(s, e) for s, e in table(
        rt, "SELECT data_start_time, data_end_time FROM reports WHERE seller_id = :s AND "
        "purpose = :p ORDER BY id", s=seller_id, p=f"stream:{kind}")]


def _ledger_mirror(rt: Any, seller_id: int, market: str) -> set[tuple[Any, ...]]:
    return set(table(rt, "SELECT event_date::text, fnsku, event_type, reference_id, "
                     "fulfillment_center, disposition, reason, quantity::text, occurrence "
                     "FROM inventory_ledger WHERE seller_id = :s AND marketplace_id = :m",
                     s=seller_id, m=market))


def _ledger_truth(sim: Any, spid: str, market: str, since: date) -> set[tuple[Any, ...]]:
    """The truth's lines of ``market`` from ``since``, numbered like the mirror's."""
    lines = [tuple(t[c] for c in LEDGER_KEY) for t in sim.client.truth_ledger(spid)["ledger"]
             if t["marketplaceId"] == market and t["Date"] >= since.isoformat()]
    return {(*line, n) for line, count in Counter(lines).items()
            for n in range(1, count + 1)}


SUMMARY_KEY = ("Date", "FNSKU", "Disposition", "Location", "StartingWarehouseBalance",
               "Receipts", "CustomerShipments", "CustomerReturns", "Lost", "Damaged",
               "EndingWarehouseBalance")


def _summary_mirror(rt: Any, seller_id: int, market: str) -> set[tuple[Any, ...]]:
    return set(table(rt, "SELECT summary_date::text, fnsku, disposition, location, "
                     "starting_warehouse_balance::text, receipts::text, "
                     "customer_shipments::text, customer_returns::text, lost::text, "
                     "damaged::text, ending_warehouse_balance::text "
                     "FROM inventory_ledger_summary WHERE seller_id = :s AND "
                     "marketplace_id = :m", s=seller_id, m=market))


def _summary_truth(sim: Any, spid: str, market: str, since: date) -> set[tuple[Any, ...]]:
    return {tuple(t[c] for c in SUMMARY_KEY) for t in sim.client.truth_ledger(spid)["summary"]
            if t["marketplaceId"] == market and t["Date"] >= since.isoformat()}


def test_the_ledger_equals_the_truth_and_picks_up_back_dated_lines(start_sim, runtime_for):
    sim, rt, spid, seller_id, market = _start(start_sim, runtime_for, seed=71)
    stream, clock = registry.LEDGER.stream(market), SimClock(sim)
    assert asyncio.run(run_stream(rt, seller_id, stream, now=clock.now)).status == "succeeded"
    ((start, first_end),) = _windows(rt, seller_id, "ledger")
    assert timedelta(days=29) < first_end - start <= timedelta(days=30)
    first = _ledger_mirror(rt, seller_id, market)
    assert first == _ledger_truth(sim, spid, market, start.date())
    assert {row[2] for row in first} >= {"Shipments", "Receipts", "Adjustments"}
    assert any(row[-1] == 2 for row in first)  # two identical lines, both kept
    with rt.engine.begin() as conn:
        shown = {r["stream"]: r for r in collect(conn) if r["seller_id"] == seller_id}
    assert shown[stream]["rows"] == len(first)  # status counts the typed table
    summary = registry.LEDGER_SUMMARY.stream(market)
    assert asyncio.run(run_stream(rt, seller_id, summary, now=clock.now)).status == "succeeded"
    ((summary_start, _),) = _windows(rt, seller_id, "ledger-summary")
    days = _summary_mirror(rt, seller_id, market)
    assert days and days == _summary_truth(sim, spid, market, summary_start.date())

    clock.advance(4 * 86_400)  # returns and adjustments of past days are recorded meanwhile
    assert asyncio.run(run_stream(rt, seller_id, stream, now=clock.now)).status == "succeeded"
    second_start, _ = _windows(rt, seller_id, "ledger")[-1]
    cursor = first_end
    assert second_start == cursor - registry.LEDGER.tuning.overlap  # type: ignore[union-attr]
    after = _ledger_mirror(rt, seller_id, market)
    assert after == _ledger_truth(sim, spid, market, start.date())
    assert first < after  # nothing lost, new lines added
    back_dated = [t for t in sim.client.truth_ledger(spid)["ledger"]
                  if t["marketplaceId"] == market and t["recorded"] > first_end.timestamp()
                  and t["Date"] < first_end.date().isoformat()]
    assert back_dated  # dated before the first run, recorded after it: now in the mirror
    assert {tuple(t[c] for c in LEDGER_KEY) for t in back_dated} <= {r[:-1] for r in after}
    # the summary's rows of those past days appeared or changed, and the mirror followed
    assert asyncio.run(run_stream(rt, seller_id, summary, now=clock.now)).status == "succeeded"
    later = _summary_mirror(rt, seller_id, market)
    assert later == _summary_truth(sim, spid, market, summary_start.date())
    assert {r for r in later - days if r[0] < first_end.date().isoformat()}

    clock.advance(3600)  # a re-read of the same days writes nothing new
    before = table(rt, "SELECT max(sync_version) FROM inventory_ledger WHERE seller_id = :s",
                   s=seller_id)
    assert asyncio.run(run_stream(rt, seller_id, stream, now=clock.now)).status == "succeeded"
    assert _ledger_mirror(rt, seller_id, market) == after
    assert table(rt, "SELECT max(sync_version) FROM inventory_ledger WHERE seller_id = :s",
                 s=seller_id) == before


def _month_day(now: datetime, months_on: int, day: int) -> datetime:
    month = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    for _ in range(months_on):
        month = (month + timedelta(days=32)).replace(day=1)
    return month + timedelta(days=day - 1, hours=1)


def _storage_mirror(rt: Any, seller_id: int, market: str) -> set[tuple[Any, ...]]:
    return set(table(rt, "SELECT to_char(month_of_charge, 'YYYY-MM'), fnsku, "
                     "fulfillment_center, estimated_monthly_storage_fee, currency "
                     "FROM fba_storage_fees WHERE seller_id = :s AND marketplace_id = :m",
                     s=seller_id, m=market))


def _storage_truth(sim: Any, spid: str, market: str, since: str) -> set[tuple[Any, ...]]:
    return {(t["month-of-charge"], t["fnsku"], t["fulfillment-center"],
             Decimal(t["estimated-monthly-storage-fee"]), t["currency"])
            for t in sim.client.truth_fees(spid)["storage"]
            if t["marketplaceId"] == market and t["month-of-charge"] >= since}


def test_fees_equal_the_truth_and_a_charged_month_arrives_later(start_sim, runtime_for):
    sim, rt, spid, seller_id, market = _start(start_sim, runtime_for, seed=73)
    clock = SimClock(sim)
    now = clock.now()  # to a 16th: last month's storage fees are charged by the 15th
    clock.advance((_month_day(now, 0 if now.day < 16 else 1, 16) - now).total_seconds())

    estimates = registry.FEE_ESTIMATES.stream(market)
    assert asyncio.run(run_stream(rt, seller_id, estimates, now=clock.now)).status == \
        "succeeded"
    mirror = set(table(rt, "SELECT sku, fnsku, estimated_fee_total, "
                       "estimated_referral_fee_per_unit, expected_fulfillment_fee_per_unit, "
                       "currency FROM fba_fee_estimates WHERE seller_id = :s AND "
                       "marketplace_id = :m", s=seller_id, m=market))
    truth = {(t["sku"], t["fnsku"], Decimal(t["estimated-fee-total"]),
              Decimal(t["estimated-referral-fee-per-unit"]),
              Decimal(t["expected-domestic-fulfilment-fee-per-unit"]), t["currency"])
             for t in sim.client.truth_fees(spid)["estimates"] if t["marketplaceId"] == market}
    assert mirror == truth and mirror
    ((start, end),) = _windows(rt, seller_id, "fee-estimates")
    assert end - start == registry.FEE_ESTIMATES.tuning.initial  # type: ignore[union-attr]

    storage = registry.STORAGE_FEES.stream(market)
    assert asyncio.run(run_stream(rt, seller_id, storage, now=clock.now)).status == "succeeded"
    start = _windows(rt, seller_id, "storage-fees")[0][0]  # a first sync: 45 days back
    since = start.strftime("%Y-%m")
    first = _storage_mirror(rt, seller_id, market)
    charged = (clock.now().replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    assert first == _storage_truth(sim, spid, market, since)
    assert charged == max(row[0] for row in first)  # last month's; this month's not yet

    now = clock.now()
    clock.advance((_month_day(now, 1, 16) - now).total_seconds())  # a month on
    assert asyncio.run(run_stream(rt, seller_id, storage, now=clock.now)).status == "succeeded"
    after = _storage_mirror(rt, seller_id, market)
    assert after == _storage_truth(sim, spid, market, since)
    assert first < after
    assert max(row[0] for row in after) == now.strftime("%Y-%m")  # charged by the 15th
