"""``benchmarks/mirror_scale.py`` small: its hash layout is the real schema, partitioned (the
feed's triggers fire, the views read, the write path writes), so what it measures is spsync."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from benchmarks.mirror_scale import _merge_without_xmax, _page, load, partition
from worker.db.engine import engine_for, migrate

pytestmark = pytest.mark.integration


def test_the_hash_layout_keeps_the_triggers_views_and_write_path(scratch_db):
    migrate(scratch_db)
    engine = engine_for(scratch_db)
    try:
        with engine.begin() as conn:
            partition(conn, 4)
        load(engine, 20_000, sellers=10, item_sellers=2)
        with engine.begin() as conn:
            parts = dict(conn.execute(text(
                "SELECT p.relname, count(*) FROM pg_inherits i "
                "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relkind = 'p' "
                "GROUP BY p.relname")).all())
            sales = conn.execute(text(
                "SELECT sum(orders) FROM analytics_daily_sales WHERE seller_id = 1")).scalar()
            before = conn.execute(text("SELECT max(id) FROM changes")).scalar()
        with _merge_without_xmax(), engine.begin() as conn:
            _page(conn, 1, datetime.now(UTC), itertools.count())
        with engine.begin() as conn:
            written = dict(conn.execute(text(
                "SELECT entity || ' ' || operation, count(*) FROM changes "
                "WHERE id > :n GROUP BY 1"), {"n": before}).all())
    finally:
        engine.dispose()
    assert parts == {"orders": 4, "order_items": 4}
    assert sales == 2_000  # seller 1 has every 10th order, each with its item
    # the page, through the feed's triggers on the partitioned tables: seller 1's 80 latest
    # orders updated and 20 new, each with one new item; the 80 updated orders' old items gone
    assert written == {"orders update": 80, "orders insert": 20, "order_items insert": 100,
                       "order_items delete": 80}
