"""Migration 0005's rule on ``outbox.params`` and ``notifications_inbox.payload``: Postgres
refuses a document nested deeper than 32 levels or larger than its limit, whoever inserts
it; rows stored before the rule neither fail the migration nor block an update of their
status; and the Python side (:mod:`worker.db.jsonlimits`) measures exactly as Postgres does."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from alembic import command
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError

from worker.db.engine import alembic_config, sqlalchemy_url
from worker.db.jsonlimits import INBOX_PAYLOAD, OUTBOX_PARAMS, JsonLimit, problem
from worker.outbox import store

pytestmark = pytest.mark.integration


def nested(depth: int) -> str:
    """A JSON text ``depth`` arrays deep (too deep for json.dumps to write past ~1,000)."""
    return "[" * depth + "]" * depth


def sized(size: int) -> str:
    """{"sku": "xx..."}: exactly ``size`` bytes as Postgres writes it out."""
    return json.dumps({"sku": "x" * (size - len('{"sku": ""}'))})


@pytest.fixture
def engine(clean: Any) -> Any:
    eng = create_engine(sqlalchemy_url(clean.database_url))
    with eng.begin() as conn:
        conn.execute(text("INSERT INTO sellers (id, selling_partner_id, region, marketplace_ids) "
                          "VALUES (1, 'A1LIMITS', 'NA', ARRAY['ATVPDKIKX0DER'])"))
    yield eng
    eng.dispose()


def insert(eng: Any, table: str, doc: str) -> None:
    sql = {"outbox": "INSERT INTO outbox (seller_id, command, params) VALUES "
                     "(1, 'deleteListingsItem', CAST(:d AS jsonb))",
           "inbox": "INSERT INTO notifications_inbox (notification_id, notification_type, "
                    "source, payload) VALUES (md5(:d), 'ORDER_CHANGE', 'sqs', CAST(:d AS jsonb))"}
    with eng.begin() as conn:
        conn.execute(text(sql[table]), {"d": doc})


@pytest.mark.parametrize(("table", "limit"), [("outbox", OUTBOX_PARAMS),
                                              ("inbox", INBOX_PAYLOAD)])
def test_postgres_refuses_documents_past_the_limits_on_insert(engine: Any, table: str,
                                                             limit: JsonLimit) -> None:
    insert(engine, table, '{"a": ' + nested(limit.depth - 1) + "}")  # at the limits: accepted
    insert(engine, table, sized(limit.size))
    for doc, says in ((nested(limit.depth + 1), f"nested deeper than {limit.depth} levels"),
                      (nested(5000), f"nested deeper than {limit.depth} levels"),
                      (sized(limit.size + 1), f"larger than {limit.size:,} bytes")):
        with pytest.raises(IntegrityError) as refused:
            insert(engine, table, doc)
        first = str(refused.value.orig).splitlines()[0]
        assert first == f"{limit.column} is {says}"
        assert refused.value.orig.diag.constraint_name.endswith("_limits")  # type: ignore[union-attr]
        if len(doc) < 1000:  # json.loads reads it: the Python side says the same
            assert problem(json.loads(doc), limit) == says
    assert problem(json.loads(sized(limit.size)), limit) is None


def test_a_row_from_before_the_rule_can_still_be_settled(engine: Any) -> None:
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        outbox_id = conn.execute(text(
            "INSERT INTO outbox (seller_id, command, params) VALUES (1, 'deleteListingsItem', "
            "CAST(:d AS jsonb)) RETURNING id"), {"d": nested(100)}).scalar_one()
    with engine.begin() as conn:
        row = store.get(conn, outbox_id)
        assert row is not None and row.params is None
        assert row.problem == "params: nested deeper than 32 levels"
        assert store.record(conn, outbox_id, "rejected", now=datetime.now(UTC),
                            expect=("pending",), error=row.problem)  # the status may change
    with engine.begin() as conn, pytest.raises(IntegrityError):  # the document may not
        conn.execute(text("UPDATE outbox SET params = params WHERE id = :i"), {"i": outbox_id})


DOCS = [{"a": 1}, [1, 2.5, "é\n\x01\u2028", None, True, False], {"x": [{"y": "z"}] * 3},
        1e300, -1.5e-7, 10**50, -(10**30), 1e16, 100.0, "\x7f\t\\\"", {"": {"k": []}}]


@pytest.mark.parametrize("doc", DOCS, ids=range(len(DOCS)))
def test_python_measures_the_size_postgres_writes(engine: Any, doc: Any) -> None:
    with engine.connect() as conn:
        written = conn.execute(text("SELECT octet_length(CAST(:d AS jsonb)::text)"),
                               {"d": json.dumps(doc)}).scalar_one()
    assert problem(doc, JsonLimit("t", 32, written)) is None
    assert problem(doc, JsonLimit("t", 32, written - 1)) == f"larger than {written - 1:,} bytes"


def test_rows_breaking_the_rule_do_not_fail_the_migration(scratch_db: str) -> None:
    config = alembic_config(scratch_db)
    command.upgrade(config, "0004")
    eng = create_engine(sqlalchemy_url(scratch_db))
    with eng.begin() as conn:
        conn.execute(text("INSERT INTO sellers (id, selling_partner_id, region, marketplace_ids) "
                          "VALUES (1, 'A1OLD', 'NA', ARRAY['ATVPDKIKX0DER'])"))
    insert(eng, "outbox", nested(3000))
    insert(eng, "inbox", json.dumps({"raw": "x" * INBOX_PAYLOAD.size}))
    command.upgrade(config, "head")
    with eng.begin() as conn:
        assert conn.execute(text("SELECT count(*) FROM outbox")).scalar_one() == 1
        assert conn.execute(text("SELECT count(*) FROM notifications_inbox")).scalar_one() == 1
    with pytest.raises(IntegrityError):
        insert(eng, "outbox", nested(3000))
    eng.dispose()
