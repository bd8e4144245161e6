"""``changes tail|positions|prune`` as an operator runs them: happy path and bad input."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import create_engine, text

from tests.clikit import celery, command_env
from tests.feedkit import item, new_seller, order, settled
from worker.db import changes as feed
from worker.db.engine import sqlalchemy_url
from worker.db.mirror import replace_items, upsert_orders

pytestmark = pytest.mark.integration


@pytest.fixture
def env(clean) -> dict[str, str]:
    return command_env(clean)


@pytest.fixture
def engine(clean):
    eng = create_engine(sqlalchemy_url(clean.database_url))
    yield eng
    eng.dispose()


def _write(engine, n: int) -> int:
    with engine.begin() as conn:
        seller = new_seller(conn, "A1CLIFEED")
        upsert_orders(conn, seller, [order(f"O-{i}", 1) for i in range(n)])
        replace_items(conn, seller, ["O-0"], [item("O-0", 1)])
    settled(engine)
    return seller


def test_tail_prints_the_last_changes_or_those_after_a_position(env, engine):
    seller = _write(engine, 5)
    last = celery("changes", "tail", "--limit", "2", env=env)
    assert last.returncode == 0, last.stderr
    lines = last.stdout.splitlines()
    assert len(lines) == 2 and lines[-1].split()[1:4] == ["order_items", f"seller={seller}",
                                                          "insert"]
    every = celery("changes", "tail", "--after", "0", "--limit", "100", "--json", env=env)
    rows = [json.loads(line) for line in every.stdout.splitlines()]
    assert [r["entity"] for r in rows] == ["orders"] * 5 + ["order_items"]
    assert rows[-1]["key"] == {"amazon_order_id": "O-0", "order_item_id": "O-0-1"}
    rest = celery("changes", "tail", "--after", rows[3]["position"], "--json", env=env)
    assert [json.loads(line)["position"] for line in rest.stdout.splitlines()] == \
        [r["position"] for r in rows[4:]]


def test_positions_show_each_consumers_lag_and_prune_what_all_have_read(env, engine):
    _write(engine, 3)
    with engine.begin() as conn:
        changes = feed.read(conn, 0, 100)
        feed.claim(conn, "wms")
        feed.advance(conn, "wms", changes[1].position)
        feed.claim(conn, "bi")
        feed.advance(conn, "bi", changes[-1].position)
        conn.execute(text("UPDATE changes SET changed_at = now() - interval '8 days'"))
    shown = json.loads(celery("changes", "positions", "--json", env=env).stdout)
    assert [(r["consumer"], r["behind"]) for r in shown] == [("bi", 0), ("wms", 2)]
    assert shown[1]["oldest_unread_age_seconds"] >= 8 * 86400 - 60
    assert shown[0]["oldest_unread_age_seconds"] is None
    text_form = celery("changes", "positions", env=env).stdout
    assert "wms: position " in text_form and "2 behind" in text_form
    pruned = celery("changes", "prune", "--keep-days", "7", env=env)
    assert pruned.returncode == 0 and pruned.stdout.strip() == "pruned 2 changes"


@pytest.mark.parametrize("args", [
    ("tail", "--after", "abc"), ("tail", "--after", "-1"), ("tail", "--limit", "0"),
    ("tail", "--limit", "many"), ("prune", "--keep-days", "-1"),
    ("prune", "--keep-days", "nan"), ("prune", "--keep-days", "week"),
])
def test_bad_input_is_one_error_line_and_exit_1(env, args):
    done = celery("changes", *args, env=env)
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert done.stderr.strip().startswith("Error: ")
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
