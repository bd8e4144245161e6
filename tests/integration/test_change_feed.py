"""The change feed: no skips when transactions commit out of order, tombstones, an index range
scan, NOTIFY on commit, and the followers' positions."""

from __future__ import annotations

import threading

import psycopg
import pytest
from sqlalchemy import create_engine, text

from tests.feedkit import feed_keys, item, new_seller, order, settled
from worker.db import changes as feed
from worker.db.engine import sqlalchemy_url
from worker.db.mirror import replace_items, upsert_orders
from worker.feed import follow, follow_in_db

pytestmark = pytest.mark.integration


@pytest.fixture
def engine(clean):
    eng = create_engine(sqlalchemy_url(clean.database_url))
    yield eng
    eng.dispose()


@pytest.fixture
def seller(engine):
    with engine.begin() as conn:
        return new_seller(conn, "A1FEED")


def _all(engine, after=0):
    """Every change after ``after``, once all are readable (see feedkit.settled)."""
    settled(engine)
    with engine.begin() as conn:
        return feed.read(conn, after, 10_000)


def test_a_reader_never_passes_a_change_that_can_still_commit_below_it(engine, seller):
    """T1 writes first and commits last. The feed holds back everything at or after T1 until
    T1 ends, then returns both, each once; a naive ``sync_version > N`` reader skips T1's."""
    t1, t2 = engine.connect(), engine.connect()
    try:
        t1.begin()
        upsert_orders(t1, seller, [order("O-T1", 1)])  # T1 has its xid now, lower than T2's
        t2.begin()
        upsert_orders(t2, seller, [order("O-T2", 1)])
        t2.commit()

        with engine.begin() as conn:
            naive_seen = conn.execute(text("SELECT max(sync_version) FROM orders")).scalar()
            early = feed.read(conn, 0, 100)
            assert feed.pending_after(conn, 0)  # there is more, not readable yet
        assert early == []  # T2's change is held back: T1 (below it) could still commit

        t1.commit()
        with engine.begin() as conn:
            naive_after = conn.execute(text(
                "SELECT amazon_order_id FROM orders WHERE sync_version > :n"),
                {"n": naive_seen}).scalars().all()
        changes = _all(engine)
        assert [c.key["amazon_order_id"] for c in changes] == ["O-T1", "O-T2"]
        assert [c.operation for c in changes] == ["insert", "insert"]
        assert changes[0].position < changes[1].position
        assert _all(engine, changes[-1].position) == []  # each once
        # The naive reader saw T2's sync_version (higher) first, so T1's lower one is behind
        # its watermark for ever:
        assert naive_after == []
    finally:
        t1.close()
        t2.close()


def test_positions_interleave_across_many_transactions_without_a_skip(engine, seller):
    """Several open writers committing in a shuffled order; a reader polling between each
    commit ends with every change exactly once."""
    conns = [engine.connect() for _ in range(6)]
    seen: list[feed.Change] = []
    try:
        for i, conn in enumerate(conns):
            conn.begin()
            upsert_orders(conn, seller, [order(f"O-{i}", 1)])
        for i in (3, 0, 5, 1, 4, 2):
            conns[i].commit()
            with engine.begin() as conn:  # whatever is readable now, without waiting
                seen += feed.read(conn, seen[-1].position if seen else 0, 100)
        seen += _all(engine, seen[-1].position if seen else 0)
    finally:
        for conn in conns:
            conn.close()
    assert sorted(c.key["amazon_order_id"] for c in seen) == [f"O-{i}" for i in range(6)]
    assert len({c.position for c in seen}) == 6


def test_every_write_and_deletion_leaves_a_change_and_a_no_op_leaves_none(engine, seller):
    with engine.begin() as conn:
        upsert_orders(conn, seller, [order("O-1", 1)])
        replace_items(conn, seller, ["O-1"], [item("O-1", 1), item("O-1", 2)])
    start = _all(engine)[-1].position
    with engine.begin() as conn:  # the same again: nothing really changes
        upsert_orders(conn, seller, [order("O-1", 1)])
        replace_items(conn, seller, ["O-1"], [item("O-1", 1), item("O-1", 2)])
    assert _all(engine, start) == []
    with engine.begin() as conn:  # a newer order with one item gone and one changed
        upsert_orders(conn, seller, [order("O-1", 2, "SHIPPED")])
        replace_items(conn, seller, ["O-1"], [item("O-1", 1, qty=3)])
    assert sorted(feed_keys(_all(engine, start))) == [
        ("order_items", "delete", "O-1,O-1-2"), ("order_items", "update", "O-1,O-1-1"),
        ("orders", "update", "O-1")]


def test_a_deleted_listing_and_a_removed_seller_leave_tombstones(engine, seller):
    with engine.begin() as conn:
        upsert_orders(conn, seller, [order("O-1", 1)])
        replace_items(conn, seller, ["O-1"], [item("O-1", 1)])
        conn.execute(text(
            "INSERT INTO listings_items (seller_id, marketplace_id, seller_sku, status, issues, "
            "issue_count, error_count, raw, sync_version) VALUES (:s, 'M', 'SKU', '{}', '[]', "
            "0, 0, '{}', nextval('sync_version_seq'))"), {"s": seller})
    start = _all(engine)[-1].position
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM listings_items WHERE seller_id = :s"), {"s": seller})
    assert feed_keys(_all(engine, start)) == [("listings_items", "delete", "M,SKU")]
    start = _all(engine)[-1].position
    with engine.begin() as conn:  # ON DELETE CASCADE fires the children's triggers
        conn.execute(text("DELETE FROM sellers WHERE id = :s"), {"s": seller})
    gone = _all(engine, start)
    assert sorted(feed_keys(gone)) == [("order_items", "delete", "O-1,O-1-1"),
                                       ("orders", "delete", "O-1")]
    assert {c.seller_id for c in gone} == {seller}


def test_the_feed_is_read_by_an_index_range_scan_not_a_sort(engine, seller):
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO changes (txid, entity, seller_id, key, operation) "
            "SELECT g / 100, 'orders', 1, '{}', 'insert' FROM generate_series(1, 50000) g"))
        conn.execute(text("ANALYZE changes"))
        conn.execute(text("LOAD 'auto_explain'"))
        conn.execute(text("SET LOCAL auto_explain.log_min_duration = 0"))
        conn.execute(text("SET LOCAL auto_explain.log_nested_statements = on"))
        conn.execute(text("SET LOCAL client_min_messages = log"))
        conn.execute(text("SET LOCAL auto_explain.log_level = notice"))
        conn.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
        notices: list[str] = []
        raw = conn.connection.driver_connection
        raw.add_notice_handler(lambda d: notices.append(d.message_primary or ""))
        rows = feed.read(conn, feed.position_of(250, 0), 500)
    assert len(rows) == 500
    plan = next(n for n in notices if "FROM changes c" in n)
    assert "Index Scan using changes_pkey on changes c" in plan, plan
    assert "Seq Scan" not in plan and "Sort" not in plan, plan


def test_notify_on_commit_one_per_seller_and_statement(engine, seller, clean):
    with psycopg.connect(clean.database_url, autocommit=True) as listener:
        listener.execute("LISTEN spsync_changes")
        with engine.begin() as conn:
            upsert_orders(conn, seller, [order(f"O-{i}", 1) for i in range(50)])
            assert list(listener.notifies(timeout=0.3)) == []  # not before the commit
        got = list(listener.notifies(timeout=2, stop_after=1))
    assert len(got) == 1
    import json
    payload = json.loads(got[0].payload)
    assert payload["entity"] == "orders" and payload["seller"] == seller
    assert int(payload["position"]) == _all(engine)[-1].position


def test_follow_in_db_commits_the_callbacks_writes_with_the_position(engine, seller):
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS feed_copy (k text PRIMARY KEY, n int)"))
        conn.execute(text("TRUNCATE feed_copy"))
        upsert_orders(conn, seller, [order(f"O-{i}", 1) for i in range(7)])
    settled(engine)  # all seven readable: the batches are 3, 3, 1
    batches: list[int] = []
    fail = [True]

    def apply(conn, changes):
        batches.append(len(changes))
        for c in changes:
            conn.execute(text("INSERT INTO feed_copy VALUES (:k, 1) ON CONFLICT (k) DO UPDATE "
                              "SET n = feed_copy.n + 1"), {"k": c.key["amazon_order_id"]})
        if len(batches) == 2 and fail[0]:
            raise RuntimeError("dies mid-batch, after writing")

    with pytest.raises(RuntimeError):
        follow_in_db(engine, "copy", apply, batch=3, stop=lambda: False, poll_seconds=0.1)
    fail[0] = False  # restarted: the failed batch comes again, then the rest
    follow_in_db(engine, "copy", apply, batch=3, stop=lambda: batches[-1] == 1,
                 poll_seconds=0.1)
    assert batches == [3, 3, 3, 1]  # the second batch failed, then came again
    with engine.begin() as conn:
        copy = dict(conn.execute(text("SELECT k, n FROM feed_copy")).all())
        lag = feed.lags(conn)
        conn.execute(text("DROP TABLE feed_copy"))
    assert copy == {f"O-{i}": 1 for i in range(7)}  # each applied once, the failed batch too
    assert [(x.name, x.behind) for x in lag] == [("copy", 0)]


def test_follow_wakes_on_notify_and_catches_up_after_a_restart(engine, seller):
    got: list[str] = []
    done = threading.Event()

    def handle(changes):
        got.extend(c.key["amazon_order_id"] for c in changes)
        if len(got) >= 4:
            done.set()

    with engine.begin() as conn:
        upsert_orders(conn, seller, [order("O-0", 1), order("O-1", 1)])
    follower = threading.Thread(target=follow, args=(engine, "wms", handle),
                                kwargs={"stop": done.is_set, "poll_seconds": 30})
    follower.start()
    try:
        with engine.begin() as conn:
            upsert_orders(conn, seller, [order("O-2", 1), order("O-3", 1)])
        assert done.wait(25), got  # woken by NOTIFY: the poll interval is 30 s
    finally:
        done.set()
        follower.join(35)
    assert got == ["O-0", "O-1", "O-2", "O-3"]
    with engine.begin() as conn:  # a restart reads from the committed position
        upsert_orders(conn, seller, [order("O-4", 1)])
    settled(engine)
    more: list[str] = []
    follow(engine, "wms", lambda cs: more.extend(c.key["amazon_order_id"] for c in cs),
           stop=lambda: bool(more), poll_seconds=0.1)
    assert more == ["O-4"]


def test_prune_keeps_what_a_consumer_has_not_passed_or_is_recent(engine, seller):
    with engine.begin() as conn:
        upsert_orders(conn, seller, [order(f"O-{i}", 1) for i in range(4)])
    changes = _all(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE changes SET changed_at = now() - interval '10 days'"))
        feed.claim(conn, "slow")
        feed.advance(conn, "slow", changes[1].position)
        assert feed.prune(conn, keep_days=30) == 0  # all too recent
        assert feed.prune(conn, keep_days=7) == 2  # what "slow" has passed
    assert [c.position for c in _all(engine)] == [c.position for c in changes[2:]]
