"""The upsert benchmark runs end to end, and every write path it measures is newer-wins.

Behaviour only: its figures are read by people (benchmarks/README.md), never asserted.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import create_engine, text

from benchmarks import upsert
from worker.db.engine import sqlalchemy_url

pytestmark = pytest.mark.integration

ROWS, NAIVE = 2000, 200


def test_the_benchmark_writes_every_row_once_and_nothing_when_nothing_is_newer(clean, capsys):
    out = upsert.main(["--rows", str(ROWS), "--naive-rows", str(NAIVE), "--strategies"],
                      database_url=clean.database_url)

    printed = capsys.readouterr().out.strip().splitlines()
    assert len(printed) == 1 and json.loads(printed[0]) == out  # one JSON line on stdout
    for key in ("rows", "batch", "rows_per_s", "update_rows_per_s", "naive_rows_per_s",
                "speedup", "executemany_rows_per_s",
                "values_rows_per_s"):
        assert key in out
    assert out["rows"] == ROWS and out["batch"] in upsert.SWEEP
    # insert pass: all new; update pass: all newer; third pass: nothing newer, nothing written
    assert out["written"] == {name: [ROWS, ROWS, 0]
                              for name in ("upsert_newer", *upsert.STRATEGIES)}

    engine = create_engine(sqlalchemy_url(clean.database_url))
    with engine.connect() as conn:
        stored = conn.execute(text(
            "SELECT count(*), count(*) FILTER (WHERE order_status = 'SHIPPED'), "
            "count(DISTINCT sync_version) FROM orders")).one()
    engine.dispose()
    # upsert_newer's rows (each updated once: shipped) plus the naive loop's fresh keys
    assert stored[0] == ROWS + NAIVE and stored[2] == ROWS + NAIVE
    assert stored[1] >= ROWS


def test_the_candidates_keep_upsert_newers_rules(clean):
    """Older and same-time-same-document rows are skipped; a report row wins a tie only over
    a report row; sync_version comes from the shared sequence and moves on every write."""
    engine = create_engine(sqlalchemy_url(clean.database_url))
    with engine.connect() as conn:
        with conn.begin():
            seller = conn.execute(text(
                "INSERT INTO sellers (selling_partner_id, region, marketplace_ids) "
                "VALUES ('RULES', 'NA', '{}') RETURNING id")).scalar_one()
        base = upsert.make_orders(seller, 0, 3)
        newer = [upsert.a_day_later(r) for r in base]
        for write in (upsert.upsert_newer, *upsert.STRATEGIES.values()):
            with conn.begin():
                conn.execute(text("TRUNCATE orders, order_items"))

            def run(rows, from_report=False, write=write):
                with conn.begin():
                    return sorted(write(conn, upsert.Order, rows, keys=upsert.KEYS,
                                        updated=upsert.UPDATED, from_report=from_report))

            def versions():
                with conn.begin():
                    return dict(conn.execute(text(
                        "SELECT amazon_order_id, sync_version FROM orders")).all())

            assert len(run(base)) == 3
            first = versions()
            assert len(run(newer)) == 3
            assert run(base) == [] and run(newer) == []  # older, then same time + same raw
            assert all(v > first[k] for k, v in versions().items())
            # same time, different raw: an API row replaces; a report row does not...
            tie = [{**r, "raw": {**r["raw"], "note": "x"}} for r in newer]
            assert len(run(tie[:1])) == 1
            assert run([{**tie[1], "source": "report"}], from_report=True) == []
            # ...unless the stored row came from a report too
            with conn.begin():
                conn.execute(text("UPDATE orders SET source = 'report'"))
            assert len(run([{**tie[1], "source": "report"}], from_report=True)) == 1
            # one batch holding a key twice: its newest copy is written, once
            assert run([base[2], tie[2]]) == [(seller, tie[2]["amazon_order_id"])]
    engine.dispose()
