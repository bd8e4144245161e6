"""Settlement reports, which Amazon makes on its own: the settlements stream finds them with
getReports, downloads each once into ``settlements`` / ``settlement_lines`` (equal to the
simulator's truth, line by line), a re-issued settlement replaces its lines, and a
REPORT_PROCESSING_FINISHED for one makes the stream due instead of being ignored."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text

from tests.feedkit import settled
from worker.db import changes as feed
from worker.notifications.process import _report_finished
from worker.sync.registry import SETTLEMENTS
from worker.sync.service import run_stream

from .helpers import register, table

pytestmark = pytest.mark.integration


def _dec(value: str) -> Decimal | None:
    return Decimal(value).quantize(Decimal("0.0001")) if value else None


def _truth(sim: Any, spid: str) -> dict[str, tuple[Any, ...]]:
    out = {}
    for s in sim.client.truth_settlements(spid)["settlements"]:
        lines = tuple(sorted(
            (ln["transaction-type"], ln["order-id"] or None, ln["amount-type"],
             ln["amount-description"], _dec(ln["amount"]), ln["sku"] or None)
            for ln in s["lines"]))
        out[s["settlementId"]] = (s["reportId"], _dec(s["totalAmount"]), s["currency"],
                                  len(s["lines"]), lines)
    return out


def _mirror(rt: Any, seller_id: int) -> dict[str, tuple[Any, ...]]:
    out = {}
    for sid, report_id, total, currency, count in table(
            rt, "SELECT settlement_id, report_id, total_amount, currency, lines "
            "FROM settlements WHERE seller_id = :s", s=seller_id):
        lines = tuple(sorted(tuple(r) for r in table(
            rt, "SELECT transaction_type, order_id, amount_type, amount_description, amount, "
            "sku FROM settlement_lines WHERE seller_id = :s AND settlement_id = :i",
            s=seller_id, i=sid)))
        out[sid] = (report_id, total, currency, count, lines)
    return out


def _downloads(sim: Any) -> int:
    return sum(b["calls"] for b in sim.client.stats()["buckets"]
               if b["operation"] == "getReportDocument")


def _sync(rt: Any, seller_id: int) -> None:
    outcome = asyncio.run(run_stream(rt, seller_id, SETTLEMENTS.stream()))
    assert outcome.status == "succeeded", outcome


def test_settlements_land_once_each_and_a_reissue_replaces_its_lines(start_sim, runtime_for):
    # time scale 100, not 1000: a 14-day payout period then closes every 3.4 real hours, not
    # every 20 minutes, so a new settlement almost never appears mid-test (it did, once in CI)
    sim = start_sim(sellers=1, orders_per_seller=300, time_scale=100, seed=5, history_days=60)
    rt = runtime_for(sim)
    (spid, seller_id), = register(rt, sim).items()
    _sync(rt, seller_id)
    truth = _truth(sim, spid)
    assert len(truth) >= 2
    assert _mirror(rt, seller_id) == truth
    for _, total, _, _, lines in truth.values():  # the file adds up, and so does the mirror
        assert total == sum(line[4] for line in lines)
    downloads = _downloads(sim)
    assert downloads == len(truth)  # one document per settlement

    _sync(rt, seller_id)  # listed again: nothing downloaded twice, nothing rewritten
    assert _downloads(sim) == downloads
    settled(rt.engine)  # the latest change is readable only once older transactions end
    with rt.engine.begin() as conn:
        position = feed.latest(conn, 1)[0].position
    settlement_id = next(iter(truth))
    sim.client.reissue_settlement(spid, settlement_id)
    _sync(rt, seller_id)
    again = _truth(sim, spid)
    assert again[settlement_id] != truth[settlement_id]  # a new report, one more line
    assert _mirror(rt, seller_id) == again
    assert _downloads(sim) == downloads + 1
    settled(rt.engine)
    with rt.engine.begin() as conn:
        news = [c for c in feed.read(conn, position, 1000) if c.entity == "settlements"]
    assert [c.key["settlement_id"] for c in news] == [settlement_id]
    assert table(rt, "SELECT count(*) FROM reports WHERE report_type = :t AND "
                 "ingest_status = 'ingested'", t=SETTLEMENTS.endpoint.query(None, None, 1)[
                     "reportTypes"][0])[0][0] == len(truth) + 1


def test_a_finished_settlement_report_makes_the_stream_due(start_sim, runtime_for):
    sim = start_sim(sellers=1, orders_per_seller=50, time_scale=1000, seed=6)
    rt = runtime_for(sim)
    (spid, seller_id), = register(rt, sim).items()
    later = datetime.now(UTC) + timedelta(hours=1)
    with rt.engine.begin() as conn:
        conn.execute(text("UPDATE sync_state SET due_at = :t"), {"t": later})
    with rt.engine.connect() as conn:  # it runs its own transaction, as the task does
        said = _report_finished(conn, {
            "sellerId": spid, "reportId": "987654321",
            "reportType": "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2",
            "processingStatus": "DONE", "reportDocumentId": "amzn1.doc.1"})
        other = _report_finished(conn, {
            "sellerId": spid, "reportId": "987654322", "reportType": "GET_OTHER_REPORT",
            "processingStatus": "DONE", "reportDocumentId": "amzn1.doc.2"})
    assert "made due" in said and "ignored" in other
    due = dict(table(rt, "SELECT stream, due_at <= now() FROM sync_state WHERE seller_id = :s",
                     s=seller_id))
    assert due.pop("settlements") is True and not any(due.values())


def test_an_older_issue_read_after_the_newer_one_changes_nothing(start_sim, runtime_for):
    sim = start_sim(sellers=1, orders_per_seller=200, time_scale=1000, seed=7, history_days=40)
    rt = runtime_for(sim)
    (spid, seller_id), = register(rt, sim).items()
    first = sim.client.truth_settlements(spid)["settlements"][0]["settlementId"]
    sim.client.reissue_settlement(spid, first)  # both issues are new to the first sync
    _sync(rt, seller_id)
    assert _mirror(rt, seller_id) == _truth(sim, spid)  # the latest issue of each


class Killed(BaseException):
    """A worker dying mid-run: nothing catches it, the run's transaction is abandoned."""


def test_a_run_killed_mid_settlement_downloads_only_that_one_again(start_sim, runtime_for,
                                                                 monkeypatch):
    from worker.sync import report_types, settlements

    sim = start_sim(sellers=1, orders_per_seller=300, time_scale=1000, seed=5, history_days=60)
    rt = runtime_for(sim)
    (spid, seller_id), = register(rt, sim).items()
    truth = _truth(sim, spid)
    sinks: list[int] = []
    real_accept = settlements.SettlementSink.accept

    def dying_accept(self: Any, row: Any) -> None:  # dies inside the third settlement
        real_accept(self, row)
        if id(self) not in sinks:
            sinks.append(id(self))
        if len(sinks) == 3 and self.read == 3:
            raise Killed

    monkeypatch.setattr(settlements.SettlementSink, "accept", dying_accept)
    with pytest.raises(Killed):
        asyncio.run(run_stream(rt, seller_id, SETTLEMENTS.stream()))
    monkeypatch.setattr(settlements.SettlementSink, "accept", real_accept)
    with rt.engine.begin() as conn:  # what a restarted worker finds: the lock is gone
        conn.execute(text("UPDATE sync_runs SET status = 'failed' WHERE status = 'running'"))
    done_before = {r[0] for r in table(rt, "SELECT report_id FROM reports WHERE "
                                       "ingest_status = 'ingested'")}
    assert 0 < len(done_before) < len(truth)
    _sync(rt, seller_id)
    assert _mirror(rt, seller_id) == truth
    downloads = dict(table(rt, "SELECT report_id, downloads FROM reports WHERE report_type = :t",
                           t=report_types.SETTLEMENT_V2))
    assert all(downloads[r] == 1 for r in done_before)  # finished ones: never again
    assert sorted(downloads.values()).count(2) == 1  # the one it died in: once more
