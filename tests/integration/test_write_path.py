"""The bulk write path's own promises (worker/db/upsert.py, worker/db/mirror.py) on real
Postgres: a row that would change nothing is never touched (not locked, so no WAL), a new
order's items are written without looking for vanished ones, an updated order's vanished
items go, the session's staging table is made once and left empty, and report rows are kept
once per line, and an inbound plan's shipment it no longer lists goes with its items."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from tests.feedkit import item, new_seller, order
from tests.integration.helpers import statements_sent
from worker.db.engine import engine_for
from worker.db.mirror import replace_items, upsert_orders
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
