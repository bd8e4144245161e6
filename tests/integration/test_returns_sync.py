"""The returns, returns-mfn and reimbursements streams against real Postgres, real Redis and
the simulator: after a first sync each typed table equals the simulator's truth over the
window read, after time passes the new lines land, back-dated lines (dated before the
previous run, recorded after it) are picked up by the look-back, and status counts the rows."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from worker.db import sellers
from worker.status import collect
from worker.sync import backfill, registry, returns
from worker.sync.service import run_stream

from .helpers import SimClock, register, table

pytestmark = pytest.mark.integration

KINDS = {  # kind -> (truth key, mapper)
    "returns": ("returns", returns.map_fba_return),
    "returns-mfn": ("returns_mfn", returns.map_mfn_return),
    "reimbursements": ("reimbursements", returns.map_reimbursement),
}


def _stored(rt: Any, kind: Any, seller_id: int, market: str) -> list[dict[str, Any]]:
    with rt.engine.connect() as conn:
        rows = conn.execute(text(
            f"SELECT * FROM {kind.table} WHERE seller_id = :s AND marketplace_id = :m"),
            {"s": seller_id, "m": market}).mappings().all()
    return [dict(r) for r in rows]


def _expected(sim: Any, spid: str, name: str, market: str, since: datetime,
              until: datetime) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The truth's lines of ``market`` dated in [since, until], mapped as the sink maps them
    (the lines themselves alongside)."""
    truth_key, mapper = KINDS[name]
    lines = [t for t in sim.client.truth_returns(spid)[truth_key]
             if t["marketplaceId"] == market
             and since <= datetime.fromisoformat(t["event"]) <= until]
    return [mapper(market, t["row"]) for t in lines], lines


def _key(kind: Any, row: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(row[k] for k in kind.key if k != "seller_id")


def _same(kind: Any, stored: list[dict[str, Any]], expected: list[dict[str, Any]]) -> None:
    assert sorted(_key(kind, r) for r in stored) == sorted(_key(kind, r) for r in expected)
    by_key = {_key(kind, r): r for r in stored}
    for row in expected:
        got = by_key[_key(kind, row)]
        assert {c: got[c] for c in row} == row  # every typed column and raw


def _window(rt: Any, seller_id: int, report_type: str) -> tuple[datetime, datetime]:
    (start, end), = table(rt, "SELECT data_start_time, data_end_time FROM reports WHERE "
                          "seller_id = :s AND report_type = :t ORDER BY id DESC LIMIT 1",
                          s=seller_id, t=report_type)
    return start, end


@pytest.mark.parametrize("name", list(KINDS))
def test_a_returns_stream_mirrors_the_truth_and_picks_up_back_dated_lines(
        start_sim, runtime_for, name):
    kind = registry.kind(name)
    assert kind.report is not None and kind.tuning is not None
    sim = start_sim(sellers=1, orders_per_seller=2500, time_scale=1000, seed=71,
                    report_delay_seconds=30)
    rt = runtime_for(sim, report_poll_seconds=0.02, report_poll_max_seconds=0.05)
    (spid, seller_id), = register(rt, sim).items()
    market = sim.world()["sellers"][0]["marketplace_ids"][0]
    stream = kind.stream(market)
    assert table(rt, "SELECT count(*) FROM sync_state WHERE seller_id = :s AND stream = :t",
                 s=seller_id, t=stream) == [(1,)]  # registration made the stream
    clock = SimClock(sim)

    assert asyncio.run(run_stream(rt, seller_id, stream, now=clock.now)).status == "succeeded"
    since, first_end = _window(rt, seller_id, kind.report.report_type)
    lookback = kind.tuning.overlap
    assert timedelta(0) <= first_end - since - lookback < timedelta(minutes=5)
    expected, _ = _expected(sim, spid, name, market, since, first_end)
    assert expected, "the simulator has no lines in the first window"
    _same(kind, _stored(rt, kind, seller_id, market), expected)

    # Two days on (a late run: daily is the interval): new lines, and lines dated before the
    # last run but recorded since. The look-back plus two days is still one report.
    clock.advance(2 * 86400)
    assert asyncio.run(run_stream(rt, seller_id, stream, now=clock.now)).status == "succeeded"
    assert _count(rt, seller_id) == 2
    start, end = _window(rt, seller_id, kind.report.report_type)
    assert start == first_end - lookback  # the look-back, from the cursor
    assert end > first_end + timedelta(days=2) - timedelta(minutes=5)
    expected, lines = _expected(sim, spid, name, market, since, end)
    stored = _stored(rt, kind, seller_id, market)
    _same(kind, stored, expected)
    back_dated = [t for t in lines if datetime.fromisoformat(t["event"]) < first_end
                  < datetime.fromisoformat(t["recorded"])]
    assert back_dated, "no line was recorded after the first run but dated before it"
    assert all("customer-comments" not in r["raw"]["row"] for r in stored)
    rejected = table(rt, "SELECT count(*) FROM report_rows WHERE seller_id = :s AND "
                     "error IS NOT NULL", s=seller_id)
    assert rejected == [(0,)]
    with rt.engine.begin() as conn:
        shown = {r["stream"]: r for r in collect(conn) if r["seller_id"] == seller_id}
    assert shown[stream]["rows"] == len(stored)  # status counts the typed table's rows

    # A third run right away asks for nothing (under ten minutes of new window).
    assert asyncio.run(run_stream(rt, seller_id, stream, now=clock.now)).status == "succeeded"
    assert _count(rt, seller_id) == 2


def _count(rt: Any, seller_id: int) -> int:
    """Reports asked for."""
    ((n,),) = table(rt, "SELECT count(*) FROM reports WHERE seller_id = :s", s=seller_id)
    return int(n)


def test_a_backfill_fills_the_history_before_the_first_sync(start_sim, runtime_for):
    """``backfill --stream returns`` reads the same report type in 30-day windows per
    marketplace into the same typed table: every line of the history, each marketplace's."""
    sim = start_sim(sellers=1, orders_per_seller=2500, time_scale=1000, seed=73,
                    history_days=60, report_delay_seconds=30)
    rt = runtime_for(sim, report_poll_seconds=0.02, report_poll_max_seconds=0.05)
    (spid, seller_id), = register(rt, sim).items()
    with rt.engine.begin() as conn:
        seller = sellers.get_seller(conn, seller_id, rt.keyring)
    until = datetime.now(UTC) - timedelta(minutes=5)
    since = until - timedelta(days=75)
    progress = asyncio.run(backfill.backfill_seller(rt, seller, "returns", since, until))
    assert not progress.failures and progress.done == progress.total
    assert progress.total == 3 * len(seller.marketplace_ids)  # 30-day windows, per market
    kind = registry.RETURNS
    for market in seller.marketplace_ids:
        expected, _ = _expected(sim, spid, "returns", market, since, until)
        _same(kind, _stored(rt, kind, seller_id, market), expected)
    assert table(rt, "SELECT count(*) FROM fba_returns WHERE seller_id = :s",
                 s=seller_id)[0][0] > 0
