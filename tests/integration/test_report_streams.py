"""Report streams (a kind read by asking for a report each run) against real Postgres, real
Redis and the simulator, through a report type configured as ``SPSYNC_REPORT_STREAMS``
would: rows land in ``report_rows``, each run asks from its cursor minus the look-back, a run
lets its worker go while Amazon is still working and the next resumes the same report (never
asks twice), a report Amazon never finishes is given up and asked for again, and a refusal
disables only that stream."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Any

import pytest

from worker.config import ConfiguredReport
from worker.spapi.errors import RetriableError
from worker.status import collect
from worker.sync import registry
from worker.sync.service import run_stream

from .helpers import SimClock, register, table

pytestmark = pytest.mark.integration
# A type no built-in kind reads (GET_FBA_STORAGE_FEE_CHARGES_DATA is the storage-fees kind's)
STORAGE = "GET_FBA_FULFILLMENT_LONGTERM_STORAGE_FEE_CHARGES_DATA"


@pytest.fixture
def storage_kind(monkeypatch) -> Any:
    kind = registry.configured(ConfiguredReport(STORAGE, timedelta(hours=24),
                                                timedelta(days=10)))
    monkeypatch.setattr(registry, "KINDS", (*registry.BUILT_IN, kind))
    return kind


def _reports(rt: Any, seller_id: int) -> list[tuple[Any, ...]]:
    return table(rt, "SELECT report_id, marketplace_ids, data_start_time, data_end_time, "
                 "ingest_status, purpose FROM reports WHERE seller_id = :s AND report_type = :t "
                 "ORDER BY id", s=seller_id, t=STORAGE)


def _calls(sim: Any, operation: str) -> int:
    return sum(b["calls"] for b in sim.client.stats()["buckets"]
               if b["operation"] == operation)


def _creates(sim: Any) -> int:
    return _calls(sim, "createReport")


def test_a_configured_report_type_is_synced_as_a_stream(start_sim, runtime_for, storage_kind):
    assert storage_kind.name == "report-fba-fulfillment-longterm-storage-fee-charges-data"
    sim = start_sim(sellers=1, orders_per_seller=20, time_scale=1000, seed=53,
                    report_delay_seconds=30)
    rt = runtime_for(sim, report_poll_seconds=0.02, report_poll_max_seconds=0.05)
    (_, seller_id), = register(rt, sim).items()
    markets = sim.world()["sellers"][0]["marketplace_ids"]
    streams = [s for (s,) in table(rt, "SELECT stream FROM sync_state WHERE seller_id = :s "
                                   "AND stream LIKE 'report-%%' ORDER BY stream", s=seller_id)]
    assert streams == sorted(storage_kind.stream(m) for m in markets)  # one a marketplace
    stream = storage_kind.stream(markets[0])
    clock = SimClock(sim)

    first = asyncio.run(run_stream(rt, seller_id, stream, now=clock.now))
    assert first.status == "succeeded"
    (report,) = _reports(rt, seller_id)
    assert report[1] == [markets[0]] and report[4] == "ingested"
    assert report[5] == f"stream:{storage_kind.name}"
    span = report[3] - report[2]
    assert timedelta(days=10) - timedelta(minutes=1) <= span <= timedelta(days=10, minutes=1)
    rows = table(rt, "SELECT count(*) FROM report_rows WHERE seller_id = :s AND "
                 "report_type = :t", s=seller_id, t=STORAGE)
    assert rows[0][0] > 0
    ((cursor,),) = table(rt, "SELECT cursor FROM sync_state WHERE seller_id = :s AND "
                         "stream = :t", s=seller_id, t=stream)
    assert cursor == report[3]
    with rt.engine.begin() as conn:
        shown = {r["stream"]: r for r in collect(conn) if r["seller_id"] == seller_id}
    assert shown[stream]["rows"] == rows[0][0]  # status counts its report_rows

    clock.advance(3 * 86400)  # three days on: the next report looks back from the cursor
    assert asyncio.run(run_stream(rt, seller_id, stream, now=clock.now)).status == "succeeded"
    second = _reports(rt, seller_id)[-1]
    assert second[2] == cursor - timedelta(days=10)
    assert second[3] > cursor + timedelta(days=2)


def test_a_run_lets_its_worker_go_while_amazon_works_and_resumes_the_same_report(
        start_sim, runtime_for, storage_kind):
    sim = start_sim(sellers=1, orders_per_seller=20, time_scale=1000, seed=59,
                    report_delay_seconds=600_000)  # 10 minutes of real time at this scale
    rt = runtime_for(sim, report_poll_seconds=0.02, report_poll_max_seconds=0.05,
                     report_hold_seconds=0.2)
    (_, seller_id), = register(rt, sim).items()
    stream = storage_kind.stream(sim.world()["sellers"][0]["marketplace_ids"][0])
    clock = SimClock(sim)
    started = time.monotonic()
    let_go = asyncio.run(run_stream(rt, seller_id, stream, now=clock.now))
    assert let_go.status == "deferred" and time.monotonic() - started < 5
    assert let_go.totals.pending is not None
    assert let_go.totals.pending <= timedelta(seconds=0.05)  # back at the next poll
    (pending,) = _reports(rt, seller_id)
    assert pending[4] == "pending"
    window = table(rt, "SELECT window_start, window_end, due_at <= now() + interval '1 second', "
                   "last_success_at FROM sync_state WHERE seller_id = :s AND stream = :t",
                   s=seller_id, t=stream)
    assert window == [(pending[2], pending[3], True, None)]  # the window waits for its report
    runs = table(rt, "SELECT status, error FROM sync_runs WHERE seller_id = :s AND "
                 "stream = :t", s=seller_id, t=stream)
    assert runs == [("deferred", None)]

    again = asyncio.run(run_stream(rt, seller_id, stream, now=clock.now))  # still working
    assert again.status == "deferred"
    sim.client.advance_clock(700)  # Amazon finished it meanwhile
    assert asyncio.run(run_stream(rt, seller_id, stream, now=clock.now)).status == "succeeded"
    assert _creates(sim) == 1
    (done,) = _reports(rt, seller_id)
    assert done[0] == pending[0] and done[4] == "ingested"
    ((polls,),) = table(rt, "SELECT polls FROM reports WHERE report_id = :r", r=done[0])
    assert polls >= 3  # each run polled the same report


def test_a_report_amazon_never_finishes_is_given_up_and_asked_for_again(
        start_sim, runtime_for, storage_kind):
    sim = start_sim(sellers=1, orders_per_seller=20, time_scale=1000, seed=67,
                    report_delay_seconds=600_000)
    rt = runtime_for(sim, report_poll_seconds=0.02, report_poll_max_seconds=0.05,
                     report_hold_seconds=0.1, report_wait_max_seconds=0.3)
    (_, seller_id), = register(rt, sim).items()
    stream = storage_kind.stream(sim.world()["sellers"][0]["marketplace_ids"][0])
    clock = SimClock(sim)
    assert asyncio.run(run_stream(rt, seller_id, stream, now=clock.now)).status == "deferred"
    time.sleep(0.4)  # past SPSYNC_REPORT_WAIT_MAX_SECONDS since it was asked for
    with pytest.raises(RetriableError):  # the task retries it later
        asyncio.run(run_stream(rt, seller_id, stream, now=clock.now))
    (abandoned,) = _reports(rt, seller_id)
    assert abandoned[4] == "failed"
    assert _calls(sim, "cancelReport") == 1  # still IN_QUEUE: taken out of Amazon's queue
    assert asyncio.run(run_stream(rt, seller_id, stream, now=clock.now)).status == "deferred"
    first, second = _reports(rt, seller_id)
    assert second[0] != first[0] and (second[2], second[3]) == (first[2], first[3])
    assert _creates(sim) == 2


def test_a_refused_report_disables_only_its_stream(start_sim, runtime_for, storage_kind):
    sim = start_sim(sellers=1, orders_per_seller=20, time_scale=1000, seed=61)
    rt = runtime_for(sim, report_poll_seconds=0.02, report_poll_max_seconds=0.05)
    (spid, seller_id), = register(rt, sim).items()
    stream = storage_kind.stream(sim.world()["sellers"][0]["marketplace_ids"][0])
    sim.client.fault("createReport", "unauthorized", seller_id=spid, probability=1)
    assert asyncio.run(run_stream(rt, seller_id, stream)).status == "failed"
    assert asyncio.run(run_stream(rt, seller_id, "orders")).status == "succeeded"
    disabled = table(rt, "SELECT stream FROM sync_state WHERE seller_id = :s AND "
                     "disabled_reason LIKE '%%createReport%%'", s=seller_id)
    assert disabled == [(stream,)]
    assert _reports(rt, seller_id) == []
