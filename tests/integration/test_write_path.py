"""The bulk write path's own promises (worker/db/upsert.py, worker/db/mirror.py) on real
Postgres: a row that would change nothing is never touched (not locked, so no WAL), a new
order's items are written without looking for vanished ones, an updated order's vanished
items go, new rows are COPY-ed straight in (a row stored meanwhile is merged instead), the
session's staging table is made once and left empty, and report rows are kept
once per line, and an inbound plan's shipment it no longer lists goes with its items."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from tests.feedkit import item, new_seller, order
from tests.integration.helpers import statements_sent
from worker.db import upsert
from worker.db.engine import engine_for
from worker.db.mirror import replace_items, upsert_orders, upsert_orders_steps
from worker.db.reports import ReportRequest, add_rows, record_request
from worker.db.rows import InboundItemRow, InboundPlanRow, InboundShipmentRow
from worker.sync.inbound import InboundPage, write

pytestmark = pytest.mark.integration


@pytest.fixture
def engine(clean: Any) -> Any:
    eng = engine_for(clean.database_url)  # the service's sessions
    yield eng
    eng.dispose()


@pytest.fixture
def seller(engine: Any) -> int:
    with engine.begin() as conn:
        return new_seller(conn, "A1WRITES")


def _locks(engine: Any) -> list[tuple[str, bool]]:
    with engine.begin() as conn:
        return list(conn.execute(text(
            "SELECT amazon_order_id, xmax::text <> '0' FROM orders ORDER BY 1")).all())


def test_an_unchanged_row_is_neither_updated_nor_locked(engine, seller):
    with engine.begin() as conn:
        assert upsert_orders(conn, seller, [order("O-1", 1), order("O-2", 1)]).new == {
            "O-1", "O-2"}
    assert _locks(engine) == [("O-1", False), ("O-2", False)]
    with engine.begin() as conn:  # O-1 again as it is, O-2 older: neither is newer
        again = upsert_orders(conn, seller, [order("O-1", 1), order("O-2", 0)])
    assert again.ids == set() and again.new == set()
    # ON CONFLICT DO UPDATE ... WHERE false would have locked both (xmax set, WAL written)
    assert _locks(engine) == [("O-1", False), ("O-2", False)]
    with engine.begin() as conn:
        newer = upsert_orders(conn, seller, [order("O-1", 2, "SHIPPED")])
    assert newer.ids == {"O-1"} and newer.new == set()  # updated, not new


def _orders(engine: Any) -> dict[str, str]:
    with engine.begin() as conn:
        return dict(conn.execute(text(
            "SELECT amazon_order_id, raw->>'v' FROM orders ORDER BY 1")).all())


def _ways(monkeypatch: Any) -> list[str]:
    """Record which way each ``upsert_newer`` batch went ("copy" attempts, "probe"s), from a
    clean slate of learned ways."""
    monkeypatch.setattr(upsert, "_WAY", {})
    seen: list[str] = []
    copy, probe = upsert._fresh, upsert._stored_keys

    def fresh(*a: Any) -> Any:
        seen.append("copy")
        return copy(*a)

    def stored_keys(*a: Any) -> Any:
        seen.append("probe")
        return probe(*a)

    monkeypatch.setattr(upsert, "_fresh", fresh)
    monkeypatch.setattr(upsert, "_stored_keys", stored_keys)
    return seen


def test_new_rows_go_straight_in_and_the_next_batch_starts_the_way_the_last_one_went(
        engine, seller, monkeypatch):
    ways = _ways(monkeypatch)
    with engine.begin() as conn:  # all new: probed (nothing learned yet), then copied
        assert upsert_orders(conn, seller, [order("O-1", 1), order("O-2", 1)]).new == {
            "O-1", "O-2"}
    assert ways == ["probe", "copy"]
    ways.clear()
    with engine.begin() as conn:  # all new again: straight COPY, no lookup
        assert upsert_orders(conn, seller, [order("O-3", 1)]).new == {"O-3"}
    assert ways == ["copy"]
    ways.clear()
    with engine.begin() as conn:  # stored ones: the COPY is rolled back, then probe + merge
        done = upsert_orders(conn, seller, [order("O-1", 2), order("O-2", 0), order("O-4", 1)])
    assert (done.ids, done.new) == ({"O-1", "O-4"}, {"O-4"})
    assert ways == ["copy", "probe", "copy"]
    ways.clear()
    with engine.begin() as conn:  # mixed again: probed
        done = upsert_orders(conn, seller, [order("O-3", 2), order("O-5", 1)])
    assert (done.ids, done.new) == ({"O-3", "O-5"}, {"O-5"})
    assert ways == ["probe", "copy"]
    ways.clear()
    with engine.begin() as conn:  # nothing new: merged without a lookup from now on
        assert upsert_orders(conn, seller, [order("O-1", 3)]).ids == {"O-1"}
        assert upsert_orders(conn, seller, [order("O-2", 3)]).ids == {"O-2"}
    assert ways == ["probe"]
    ways.clear()
    with engine.begin() as conn:  # a new one among merged rows is still written, as new
        assert upsert_orders(conn, seller, [order("O-6", 1)]).new == {"O-6"}
    assert ways == []
    assert _orders(engine) == {"O-1": "3", "O-2": "3", "O-3": "2", "O-4": "1", "O-5": "1",
                               "O-6": "1"}


def test_each_seller_keeps_its_own_way(engine, seller, monkeypatch):
    with engine.begin() as conn:
        other = new_seller(conn, "A2WRITES")
        upsert_orders(conn, other, [order("B-1", 1)])
    ways = _ways(monkeypatch)
    with engine.begin() as conn:  # the other seller: nothing new (learnt: merge)
        upsert_orders(conn, other, [order("B-1", 2)])
    with engine.begin() as conn:  # this one: all new, twice (learnt: copy)
        upsert_orders(conn, seller, [order("O-1", 1)])
        upsert_orders(conn, seller, [order("O-2", 1)])
    ways.clear()
    with engine.begin() as conn:  # interleaved, each goes its own way at once
        upsert_orders(conn, other, [order("B-1", 3)])
        upsert_orders(conn, seller, [order("O-3", 1)])
        upsert_orders(conn, other, [order("B-1", 4)])
    assert ways == ["copy"]  # O-3 straight in; B-1 merged twice without a lookup or a COPY
    assert _orders(engine)["B-1"] == "4"


def test_a_row_stored_by_another_writer_meanwhile_is_merged_under_the_same_rule(
        engine, seller, monkeypatch):
    copy = {("orders", seller): "copy"}  # expects only new rows
    monkeypatch.setattr(upsert, "_WAY", dict(copy))
    with engine.begin() as conn:  # another writer stores O-1 (newer) and O-2 (older)
        upsert_orders(conn, seller, [order("O-1", 5), order("O-2", 1)])
    monkeypatch.setattr(upsert, "_WAY", dict(copy))
    monkeypatch.setattr(upsert, "_stored_keys", lambda *a: set())  # its probe saw neither
    with engine.begin() as conn:
        done = upsert_orders(conn, seller, [order("O-1", 2), order("O-2", 3), order("O-3", 1)])
        # the transaction goes on after the rolled-back COPY: the items land with it
        replace_items(conn, seller, done.ids, [item("O-3", 1)], new=done.new)
    assert (done.ids, done.new) == ({"O-2", "O-3"}, {"O-3"})  # O-1 stays: newer stored
    assert _orders(engine) == {"O-1": "5", "O-2": "3", "O-3": "1"}
    with engine.begin() as conn:
        assert conn.execute(text("SELECT count(*) FROM order_items")).scalar() == 1


def _activity(engine: Any, pid: int) -> tuple[str, str]:
    with engine.begin() as conn:
        state, query = conn.execute(text(
            "SELECT state, query FROM pg_stat_activity WHERE pid = :p"), {"p": pid}).one()
    return state, query


def test_a_copy_of_new_rows_pauses_with_every_row_sent_and_ends_when_resumed(
        engine, seller, monkeypatch):
    """upsert_steps pauses once, its COPY open on the server, and only then ends it; rows
    it merges (stored ones) do not pause."""
    monkeypatch.setattr(upsert, "_WAY", {("orders", seller): "copy"})  # a backfill going on
    with engine.connect() as conn:
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()
        conn.commit()
        with conn.begin():
            steps = upsert_orders_steps(conn, seller, [order(f"O-{n}", 1) for n in range(300)])
            next(steps)  # paused
            state, query = _activity(engine, pid)
            assert state == "active" and query.startswith('COPY "orders"')
            assert _orders(engine) == {}  # not committed, of course
            done = upsert.run(steps)
        assert len(done.new) == 300
        assert _activity(engine, pid)[0] == "idle"
        assert upsert._WAY[("orders", seller)] == "copy"
        upsert._WAY[("orders", seller)] = "merge"  # as after a batch of stored rows
        with conn.begin():  # stored rows, one newer: merged at once, no pause
            steps = upsert_orders_steps(conn, seller, [order("O-1", 2), order("O-2", 1)])
            with pytest.raises(StopIteration) as ended:
                next(steps)
        assert ended.value.value.ids == {"O-1"}, "no pause"
    assert len(_orders(engine)) == 300 and _orders(engine)["O-1"] == "2"


def test_a_row_stored_by_another_writer_before_a_paused_copy_ends_is_merged(
        engine, seller, monkeypatch):
    monkeypatch.setattr(upsert, "_WAY", {("orders", seller): "copy"})  # expects new rows
    with engine.begin() as conn:  # another writer stores O-2 (newer than what comes)
        upsert_orders(conn, seller, [order("O-2", 5)])
    monkeypatch.setattr(upsert, "_WAY", {("orders", seller): "copy"})
    with engine.begin() as conn:
        steps = upsert_orders_steps(conn, seller, [order("O-1", 1), order("O-2", 3)])
        next(steps)  # paused: the duplicate key is refused when the COPY ends, not before
        done = upsert.run(steps)
        replace_items(conn, seller, done.ids, [item("O-1", 1)], new=done.new)
    assert (done.ids, done.new) == ({"O-1"}, {"O-1"})
    assert _orders(engine) == {"O-1": "1", "O-2": "5"}


def test_new_orders_items_are_written_without_a_delete_and_updated_ones_lose_vanished(
        engine, seller):
    with engine.connect() as conn:
        with statements_sent(conn) as statements, conn.begin():
            written = upsert_orders(conn, seller, [order("O-1", 1), order("O-2", 1)])
            replace_items(conn, seller, written.ids,
                          [item("O-1", 1), item("O-1", 2), item("O-2", 1)], new=written.new)
        assert not any(s.startswith('DELETE FROM "order_items"') for s in statements)
        with statements_sent(conn) as statements, conn.begin():
            # O-1 changed and lost its second item; O-3 is new
            written = upsert_orders(conn, seller, [order("O-1", 2), order("O-3", 1)])
            replace_items(conn, seller, written.ids, [item("O-1", 1), item("O-3", 1)],
                          new=written.new)
        assert sum(s.startswith('DELETE FROM "order_items"') for s in statements) == 1
        items = conn.execute(text(
            "SELECT order_item_id FROM order_items ORDER BY 1")).scalars().all()
    assert items == ["O-1-1", "O-2-1", "O-3-1"]


def test_the_staging_table_is_made_once_a_session_and_left_empty(engine, seller):
    with engine.connect() as conn:
        for version in (1, 2, 3):
            with conn.begin():
                upsert_orders(conn, seller, [order("O-1", version), order("O-2", version)])
        with conn.begin():
            stages = conn.execute(text(
                "SELECT relname FROM pg_class WHERE relname LIKE 'spsync_in_orders_%' "
                "AND relpersistence = 't' AND pg_table_is_visible(oid)")).scalars().all()
            assert len(stages) == 1
            assert conn.execute(text(f"SELECT count(*) FROM {stages[0]}")).scalar() == 0
            # twice in one transaction: the merge empties it, so the second sees its own rows
            upsert_orders(conn, seller, [order("O-1", 4)])
            assert upsert_orders(conn, seller, [order("O-2", 4)]).ids == {"O-2"}


def test_report_rows_are_kept_once_a_line(engine, seller):
    with engine.begin() as conn:
        report = record_request(conn, seller, ReportRequest("GET_X_DATA", ("ATVPDKIKX0DER",)),
                                "R-1")
        rows = [{"line": n, "record_key": None, "data": {"n": n} if n % 2 else None,
                 "error": None if n % 2 else "unreadable"} for n in (1, 2, 3)]
        assert add_rows(conn, report, rows) == 3
        assert add_rows(conn, report, rows) == 0  # a re-download adds none
        kept = conn.execute(text(
            "SELECT line, data::text, error, sync_version IS NOT NULL FROM report_rows "
            "ORDER BY line")).all()
    assert kept == [(1, '{"n": 1}', None, True), (2, "null", "unreadable", True),
                    (3, '{"n": 3}', None, True)]


T0 = datetime(2026, 11, 1, tzinfo=UTC)


def _plan(version: int) -> InboundPlanRow:
    return InboundPlanRow("wf-1", "ACTIVE", "plan", ["ATVPDKIKX0DER"], None, None, None, T0,
                          T0 + timedelta(minutes=version), {"v": version})


def _shipment(sid: str, version: int) -> InboundShipmentRow:
    return InboundShipmentRow(sid, "wf-1", "WORKING", sid, None, None, None, "po-1", None, None,
                              None, None, None, None, T0 + timedelta(minutes=version),
                              {"shipmentId": sid})


def _item(sid: str, msku: str) -> InboundItemRow:
    return InboundItemRow(sid, msku, "wf-1", "X001", "B000000001", 3, "SELLER", None, None, None,
                          {"msku": msku})


def test_a_shipment_its_plan_no_longer_lists_goes_with_its_items(engine, seller):
    with engine.begin() as conn:
        write(conn, seller, InboundPage([_plan(1)], [_shipment("sh-1", 1), _shipment("sh-2", 1)],
                                        [_item("sh-1", "A"), _item("sh-2", "B")]))
    with engine.begin() as conn:  # the plan changed: sh-2 was cancelled out of it
        write(conn, seller, InboundPage([_plan(2)], [_shipment("sh-1", 2)], [_item("sh-1", "A")]))
        shipments = conn.execute(text("SELECT shipment_id FROM inbound_shipments")).all()
        items = conn.execute(text("SELECT shipment_id, msku FROM inbound_shipment_items")).all()
    assert shipments == [("sh-1",)] and items == [("sh-1", "A")]
    with engine.begin() as conn:  # an older copy of the plan changes nothing
        write(conn, seller, InboundPage([_plan(1)], [], []))
        assert conn.execute(text("SELECT count(*) FROM inbound_shipments")).scalar() == 1
