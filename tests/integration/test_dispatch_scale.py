"""The dispatcher's claim stays cheap with many sellers: due rows found through the due_at
index, one statement per batch. Plans and statement counts, not timings (those are
``benchmarks/scale.py``'s).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
import redis
from sqlalchemy import create_engine, text

import worker.sync.dispatch as dispatcher
from worker.config import Settings
from worker.db.engine import sqlalchemy_url
from worker.db.state import claim_due, claim_statement

from .helpers import statements_sent

pytestmark = pytest.mark.integration

SELLERS = 1000  # x 5 streams = 5,000 sync_state rows
T0 = datetime(2026, 11, 1, tzinfo=UTC)
HOLD = timedelta(minutes=5)
NOW = T0 + timedelta(seconds=30) - timedelta(milliseconds=1)  # 500 rows due


@pytest.fixture
def engine(clean: Any) -> Any:
    """SELLERS sellers with 5 streams each, due one every 60 ms over 300 s, analyzed."""
    eng = create_engine(sqlalchemy_url(clean.database_url))
    with eng.begin() as conn:
        conn.execute(text(
            "INSERT INTO sellers (selling_partner_id, region, marketplace_ids) "
            "SELECT 'ADISPATCH' || n, (ARRAY['NA', 'EU', 'FE'])[1 + n % 3], "
            "'{ATVPDKIKX0DER,A2EUQ1WTGCTBG2}' FROM generate_series(1, :n) AS n"), {"n": SELLERS})
        conn.execute(text(
            "INSERT INTO sync_state (seller_id, stream, due_at) "
            "SELECT s.id, st.stream, :t0 + (row_number() OVER (ORDER BY random()) - 1) "
            "  * interval '60 milliseconds' FROM sellers s CROSS JOIN unnest(ARRAY["
            "  'orders', 'inventory:A', 'inventory:B', 'listings:A', 'listings:B']) AS st(stream)"),
            {"t0": T0})
    with eng.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE sellers"))
        conn.execute(text("ANALYZE sync_state"))
    yield eng
    eng.dispose()


def _nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [plan, *(n for child in plan.get("Plans", []) for n in _nodes(child))]


def test_claim_finds_due_rows_through_the_due_index(engine: Any) -> None:
    now = NOW
    stmt = claim_statement(now, limit=500, hold=HOLD)
    sql = stmt.compile(engine, compile_kwargs={"literal_binds": True})
    with engine.connect() as conn:
        plan = conn.execute(text(f"EXPLAIN (FORMAT JSON) {sql}")).scalar_one()[0]["Plan"]
    cte = next(n for n in _nodes(plan) if n.get("Subplan Name") == "CTE due")
    # Due rows are found through the due_at index; nothing reads the whole table to find them.
    assert "sync_state_due_idx" in {n.get("Index Name") for n in _nodes(cte)}
    assert not [n for n in _nodes(cte)
                if n["Node Type"] == "Seq Scan" and n.get("Relation Name") == "sync_state"]


def test_claim_is_one_statement_per_batch_oldest_first(engine: Any) -> None:
    now = NOW
    with engine.connect() as conn:
        expected = [tuple(r) for r in conn.execute(text(
            "SELECT seller_id, stream FROM sync_state WHERE due_at <= :now ORDER BY due_at"),
            {"now": now})]
    with engine.connect() as conn:
        with statements_sent(conn) as statements, conn.begin():
            pairs = claim_due(conn, now, limit=1000, hold=HOLD)
        held = conn.execute(text(
            "SELECT count(*) FROM sync_state WHERE due_at = :held"), {"held": now + HOLD}).scalar()
    assert len(statements) == 1  # not one round trip per claimed pair
    assert len(expected) == 500 and pairs == expected and held == 500
    with engine.begin() as conn:
        assert claim_due(conn, now, limit=1000, hold=HOLD) == []  # all pushed ahead
        again = claim_due(conn, now + timedelta(seconds=30), limit=1000, hold=HOLD)
    assert len(again) == 500 and not set(again) & set(pairs)


def test_a_tick_claims_batch_after_batch_until_nothing_is_due(engine: Any, clean: Any,
                                                               broker: str,
                                                               monkeypatch: Any) -> None:
    """More due than one batch: the tick goes on (one batch a tick let the backlog grow for
    ever at 10,000 sellers), and every claimed pair reaches the broker's queue."""
    monkeypatch.setattr(dispatcher, "BATCH", 120)
    rt = SimpleNamespace(engine=engine, settings=Settings(dispatch_interval_seconds=10))
    queue = redis.Redis.from_url(clean.redis_url)
    sent = dispatcher.dispatch(rt, NOW)  # type: ignore[arg-type]
    assert len(sent) == len(set(sent)) == 500  # 120 + 120 + 120 + 120 + 20
    assert queue.llen("spsync") == 500  # orders, inventory, listings: the urgent list
    # a spent budget ends the tick after its first batch; the rest waits for the next one
    later = dispatcher.dispatch(rt, NOW + timedelta(seconds=30),  # type: ignore[arg-type]
                                budget_seconds=0)
    assert len(later) == 120 and not set(later) & set(sent)
