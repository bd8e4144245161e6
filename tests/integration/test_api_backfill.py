"""``backfill`` through a stream's own API (finances, payouts, settlements) against real
Postgres, real Redis and the simulator: the mirror equals the truth over the whole range, a
re-run reads nothing, an interrupted one resumes from its last page, a later ``--until``
reads only what is new, and a running backfill holds the incremental sync off."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from worker.db import state
from worker.sync.api_backfill import ApiProgress, backfill_api, describe
from worker.sync.backfill import BackfillError
from worker.sync.registry import FINANCES, SETTLEMENTS
from worker.sync.service import run_stream

from .helpers import register, table

pytestmark = pytest.mark.integration


def _calls(sim: Any, operation: str) -> int:
    return sum(b["calls"] for b in sim.client.stats()["buckets"] if b["operation"] == operation)


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _seller(rt: Any, seller_id: int) -> Any:
    from worker.db.sellers import get_seller

    with rt.engine.begin() as conn:
        return get_seller(conn, seller_id, rt.keyring)


def _truth_ids(sim: Any, spid: str, start: datetime, end: datetime) -> set[str]:
    return {t["transactionId"] for t in sim.client.truth_finances(spid)["transactions"]
            if start <= _at(t["postedDate"]) < end}


def _mirror_ids(rt: Any, seller_id: int) -> set[str]:
    return {r[0] for r in table(rt, "SELECT transaction_id FROM financial_transactions "
                                "WHERE seller_id = :s", s=seller_id)}


def test_a_year_of_finances_resumes_after_a_failure_and_reruns_read_nothing(start_sim,
                                                                             runtime_for):
    sim = start_sim(sellers=1, orders_per_seller=600, time_scale=1000, seed=29,
                    history_days=400)
    rt = runtime_for(sim)
    (spid, seller_id), = register(rt, sim).items()
    seller = _seller(rt, seller_id)
    until = datetime.now(UTC) - timedelta(hours=1)
    since = until - timedelta(days=365)
    seen: list[str] = []
    broken = False

    def on_page(p: ApiProgress) -> None:  # Amazon refuses the seller after a few pages
        nonlocal broken
        seen.append(describe(p))
        if p.pages == 3 and not broken:
            broken = True
            sim.client.fault("listTransactions", "unauthorized", count=2, seller_id=spid)

    first = asyncio.run(backfill_api(rt, seller, "finances", since, until, on_page))
    assert first.failures and "Unauthorized" in first.failures[0]
    assert 0 < first.fraction < 1
    ((status, pages),) = table(
        rt, "SELECT status, pages FROM api_backfills WHERE seller_id = :s", s=seller_id)
    assert status == "failed" and pages == 3
    read_before = _calls(sim, "listTransactions")

    second = asyncio.run(backfill_api(rt, seller, "finances", since, until, seen.append))
    assert not second.failures and second.fraction == 1
    assert _mirror_ids(rt, seller_id) == _truth_ids(sim, spid, since, until)
    assert len(_mirror_ids(rt, seller_id)) > 300
    ((status, pages),) = table(rt, "SELECT status, pages FROM api_backfills "
                               "WHERE seller_id = :s", s=seller_id)
    assert status == "done"
    # the resumed run started at its checkpoint: it read each remaining page once
    assert _calls(sim, "listTransactions") - read_before == pages - 3
    assert any("%" in line and "rows" in line for line in seen)  # progress was shown

    calls = _calls(sim, "listTransactions")
    again = asyncio.run(backfill_api(rt, seller, "finances", since, until))
    assert again.already_done and "already done" in describe(again)
    assert _calls(sim, "listTransactions") == calls  # nothing read twice
    runs = table(rt, "SELECT worker, status FROM sync_runs WHERE seller_id = :s ORDER BY id",
                 s=seller_id)
    assert [s for _, s in runs] == ["failed", "succeeded"]
    assert all(w.startswith("backfill@") for w, _ in runs)


def test_a_later_until_reads_only_the_new_part(start_sim, runtime_for):
    sim = start_sim(sellers=1, orders_per_seller=300, time_scale=1000, seed=31,
                    history_days=120)
    rt = runtime_for(sim)
    (spid, seller_id), = register(rt, sim).items()
    seller = _seller(rt, seller_id)
    now = datetime.now(UTC)
    since = now - timedelta(days=100)
    assert not asyncio.run(backfill_api(rt, seller, "finances", since,
                                        now - timedelta(days=10))).failures
    calls = _calls(sim, "listTransactions")
    later = asyncio.run(backfill_api(rt, seller, "finances", since, now))
    assert not later.failures
    # 10 more days (and the minute of overlap): one or two pages, not the 90 days again
    assert 0 < _calls(sim, "listTransactions") - calls <= 3
    end = now - FINANCES.tuning.lag
    assert _mirror_ids(rt, seller_id) == _truth_ids(sim, spid, since, end)


def test_a_running_backfill_holds_the_incremental_sync_off(start_sim, runtime_for):
    sim = start_sim(sellers=1, orders_per_seller=50, time_scale=1000, seed=37)
    rt = runtime_for(sim)
    (_, seller_id), = register(rt, sim).items()
    seller = _seller(rt, seller_id)
    with rt.engine.connect() as conn:  # the incremental sync of finances is running
        assert state.try_lock(conn, seller_id, "finances", "worker-1")
        try:
            late = asyncio.run(backfill_api(
                rt, seller, "finances", datetime.now(UTC) - timedelta(days=20),
                datetime.now(UTC), lock_wait=timedelta(seconds=0.5)))
        finally:
            state.unlock(conn, seller_id, "finances")
    assert late.failures and "try again" in late.failures[0]
    assert table(rt, "SELECT count(*) FROM api_backfills") == [(0,)]

    outcomes: list[Any] = []

    def sync_meanwhile(p: ApiProgress) -> None:  # the scheduled sync comes due mid-backfill
        if not outcomes:
            with ThreadPoolExecutor(1) as pool:
                outcomes.append(pool.submit(asyncio.run, run_stream(rt, seller_id, "finances"))
                                .result())

    done = asyncio.run(backfill_api(rt, seller, "finances",
                                    datetime.now(UTC) - timedelta(days=20), datetime.now(UTC),
                                    sync_meanwhile))
    assert not done.failures
    assert [(o.status, o.error) for o in outcomes] == [("skipped", "already running")]
    # and once the backfill is done, the sync runs
    assert asyncio.run(run_stream(rt, seller_id, "finances")).status == "succeeded"


def test_settlements_reach_back_90_days_and_are_stored_once(start_sim, runtime_for):
    sim = start_sim(sellers=1, orders_per_seller=300, time_scale=1000, seed=41,
                    history_days=120)
    rt = runtime_for(sim)
    (spid, seller_id), = register(rt, sim).items()
    seller = _seller(rt, seller_id)
    now = datetime.now(UTC)
    with pytest.raises(BackfillError, match="older than Amazon keeps settlements data"):
        asyncio.run(backfill_api(rt, seller, "settlements", now - timedelta(days=100), now))
    assert _calls(sim, "getReports") == 0
    since = now - timedelta(days=80)
    result = asyncio.run(backfill_api(rt, seller, "settlements", since, now))
    assert not result.failures
    truth = {s["settlementId"] for s in sim.client.truth_settlements(spid)["settlements"]
             if _at(s["endDate"]) >= since}  # created when its period closes
    stored = {r[0] for r in table(rt, "SELECT settlement_id FROM settlements "
                                  "WHERE seller_id = :s", s=seller_id)}
    assert truth and stored == truth
    # the incremental sync finds the same reports and downloads none of them again
    downloads = _calls(sim, "getReportDocument")
    assert asyncio.run(run_stream(rt, seller_id, SETTLEMENTS.stream())).status == "succeeded"
    assert _calls(sim, "getReportDocument") == downloads
