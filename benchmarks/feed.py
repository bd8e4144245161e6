"""The change feed: read latency per batch as ``changes`` grows, and what the triggers cost
the write path (``upsert_newer`` rows/s with them vs without, in the same run).

Usage::

    python -m benchmarks.feed --rows 20000000 [--batch 500] [--write-rows 50000]

What runs:

1. write path: ``upsert_newer`` on ``orders`` (~1.2 KB ``raw``, ``benchmarks.upsert``'s
   orders), one transaction per 1,000 rows: insert ``--write-rows`` orders into an empty
   table, then update every one (a day newer); three rounds. The feed's triggers are
   disabled (``ALTER TABLE orders DISABLE TRIGGER USER``, between batches, not timed) for
   every other batch, so load on the machine that comes and goes falls on both modes alike;
   rows/s per mode = its rows / its batches' seconds. ``write_overhead`` = 1 - with /
   without.
2. read path: ``changes`` is filled with synthetic changes (``INSERT ... SELECT
   generate_series``: 50 changes per transaction id, more if the server's transaction ids are
   still too low to number them all below its horizon) up to each size of ``--sizes`` (default
   1% , 10% and 100% of ``--rows``); at each size, after ``ANALYZE``, ``spsync_changes(after,
   --batch)`` is timed from 200 random positions spread over the table (median and p95 ms),
   and the inner query's plan is read by ``auto_explain``: the node and the shared buffers it
   touched. A read that costs O(batch) touches the same few buffers at every size.

Prints one JSON line. Database: ``benchmarks.services.scratch_databases`` (``DATABASE_URL``'s
server, else an embedded one), dropped at the end.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import re
import statistics
import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, create_engine, insert, text

from benchmarks.services import log, quiet, scratch_databases
from benchmarks.upsert import KEYS, UPDATED, a_day_later, make_orders
from worker.db.changes import SCALE
from worker.db.engine import sqlalchemy_url
from worker.db.models import Order, Seller
from worker.db.upsert import upsert_newer

PER_TX = 50  # synthetic changes per transaction id, at least
FIRST_TX = 3  # the lowest normal transaction id
PROBES = 200
WRITE_BATCH = 1000
ROUNDS = 3
MODES = ("without", "with")
TOGGLE = {"without": "DISABLE", "with": "ENABLE"}


def write_pass(engine: Engine, rows: list[dict[str, Any]], flip: int,
               timed: dict[tuple[str, str], list[float]], op: str) -> None:
    """``rows`` in batches, the triggers off for every other batch (``flip`` picks which):
    load on the machine that comes and goes falls on both modes alike. Adds rows and
    seconds per mode to ``timed``."""
    for n, i in enumerate(range(0, len(rows), WRITE_BATCH)):
        mode = MODES[(n + flip) % 2]
        with engine.begin() as conn:  # not timed: an ALTER TABLE between two batches
            conn.execute(text(f"ALTER TABLE orders {TOGGLE[mode]} TRIGGER USER"))
        batch = rows[i:i + WRITE_BATCH]
        started = time.perf_counter()
        with engine.begin() as conn:
            upsert_newer(conn, Order, batch, keys=KEYS, updated=UPDATED)
        got = timed.setdefault((mode, op), [0.0, 0.0])
        got[0] += len(batch)
        got[1] += time.perf_counter() - started


def write_overhead(engine: Engine, count: int) -> dict[str, Any]:
    with engine.begin() as conn:
        seller = conn.execute(insert(Seller).values(
            selling_partner_id=f"FEED{os.getpid()}", region="NA",
            marketplace_ids=["ATVPDKIKX0DER"]).returning(Seller.id)).scalar_one()
    gc.disable()
    inserts = make_orders(seller, 0, count)
    updates = [a_day_later(r) for r in inserts]
    gc.freeze()
    gc.enable()
    timed: dict[tuple[str, str], list[float]] = {}
    for n in range(ROUNDS):
        with engine.begin() as conn:
            conn.execute(text("TRUNCATE orders CASCADE"))
        write_pass(engine, inserts, n, timed, "insert")
        write_pass(engine, updates, n, timed, "update")
        log(f"feed: round {n}: " + ", ".join(
            f"{mode} {op} {rows / seconds:.0f}/s" for (mode, op), (rows, seconds)
            in sorted(timed.items())))
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE orders ENABLE TRIGGER USER"))
        conn.execute(text("TRUNCATE orders CASCADE"))
        conn.execute(text("TRUNCATE changes"))
    rate = {key: rows / seconds for key, (rows, seconds) in timed.items()}
    return {
        "write_rows": count,
        "upsert_rows_per_s_without_triggers": {
            op: round(rate["without", op]) for op in ("insert", "update")},
        "upsert_rows_per_s_with_triggers": {
            op: round(rate["with", op]) for op in ("insert", "update")},
        "write_overhead": {op: round(1 - rate["with", op] / rate["without", op], 3)
                           for op in ("insert", "update")},
    }


def per_transaction(engine: Engine, rows: int) -> int:
    """Changes per synthetic transaction id: every id must be below the server's real
    transaction horizon (the feed returns nothing above it), so a young server packs more."""
    with engine.connect() as conn:
        horizon = int(conn.execute(text(
            "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")).scalar_one())
    return max(PER_TX, -(-rows // max(1, horizon - FIRST_TX - 10)))


def txid_of(g: int, per: int) -> int:
    return FIRST_TX + g // per


def fill(engine: Engine, start: int, end: int, per: int) -> None:
    """Synthetic changes ``start`` < id <= ``end``, in chunks of a million (one commit each)."""
    for lo in range(start, end, 1_000_000):
        hi = min(lo + 1_000_000, end)
        with engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO changes (txid, id, entity, seller_id, key, operation, changed_at) "
                "SELECT :first + g / :per, g, 'orders', 1 + g % 7, "
                "jsonb_build_object('amazon_order_id', 'O-' || g), 'update', now() "
                "FROM generate_series(:lo + 1, :hi) g"),
                {"first": FIRST_TX, "per": per, "lo": lo, "hi": hi})


def probe(engine: Engine, size: int, batch: int, per: int) -> dict[str, Any]:
    rng = random.Random(size)
    with engine.begin() as conn:
        conn.execute(text("ANALYZE changes"))
    timings = []
    with engine.connect() as conn:
        for _ in range(PROBES):
            g = rng.randint(1, max(1, size - batch))
            after = txid_of(g, per) * SCALE + g
            started = time.perf_counter()
            with conn.begin():
                got = conn.execute(text("SELECT count(*) FROM spsync_changes(CAST(:a AS "
                                        "numeric), :n)"), {"a": after, "n": batch}).scalar()
            timings.append((time.perf_counter() - started) * 1000)
            assert got == batch, (got, batch)
        plan = explained(conn, txid_of(size // 2, per) * SCALE + size // 2, batch)
    timings.sort()
    return {"rows": size, "read_ms_median": round(statistics.median(timings), 3),
            "read_ms_p95": round(timings[int(len(timings) * 0.95)], 3), **plan}


def explained(conn: Any, after: int, batch: int) -> dict[str, Any]:
    """The plan Postgres ran inside ``spsync_changes`` (auto_explain, nested statements)."""
    notices: list[str] = []
    raw = conn.connection.driver_connection
    raw.add_notice_handler(lambda d: notices.append(d.message_primary or ""))
    with conn.begin():
        for setting in ("auto_explain.log_min_duration = 0",
                        "auto_explain.log_nested_statements = on",
                        "auto_explain.log_analyze = on", "auto_explain.log_buffers = on",
                        "auto_explain.log_level = notice", "client_min_messages = notice"):
            conn.execute(text(f"SET LOCAL {setting}"))
        conn.execute(text("LOAD 'auto_explain'"))
        conn.execute(text("SELECT count(*) FROM spsync_changes(CAST(:a AS numeric), :n)"),
                     {"a": after, "n": batch})
    plan = next(n for n in notices if "FROM changes c" in n)
    node = re.search(r"(Index Scan|Index Only Scan|Seq Scan|Bitmap Heap Scan)[^\n(]*", plan)
    buffers = re.search(r"Buffers: shared hit=(\d+)(?: read=(\d+))?", plan)
    return {"plan_node": node.group(0).strip() if node else None,
            "plan_has_sort": "Sort" in plan, "plan_has_seq_scan": "Seq Scan" in plan,
            "buffers": sum(int(b) for b in buffers.groups() if b) if buffers else None}


def measure(url: str, rows: int, sizes: Sequence[int], batch: int,
            write_rows: int) -> dict[str, Any]:
    engine = create_engine(sqlalchemy_url(url))
    try:
        out: dict[str, Any] = {"rows": rows, "batch": batch,
                               "loadavg_1m": round(os.getloadavg()[0], 2)}
        log(f"feed: write path, {write_rows} orders, triggers off/on x {ROUNDS}")
        out.update(write_overhead(engine, write_rows))
        reads, filled = [], 0
        per = per_transaction(engine, max(sizes))
        out["changes_per_transaction"] = per
        started = time.perf_counter()
        for size in sorted(sizes):
            log(f"feed: filling changes to {size} rows")
            fill(engine, filled, size, per)
            filled = size
            reads.append(probe(engine, size, batch, per))
            log(f"feed: {reads[-1]}")
        out["fill_seconds"] = round(time.perf_counter() - started, 1)
        out["reads"] = reads
        with engine.connect() as conn:
            out["changes_bytes"] = conn.execute(text(
                "SELECT pg_total_relation_size('changes')")).scalar()
            out["postgres"] = conn.execute(text("SHOW server_version")).scalar()
        return out
    finally:
        engine.dispose()


def main(argv: Sequence[str] | None = None, database_url: str | None = None) -> dict[str, Any]:
    """Run, print the JSON line and return it. ``database_url``: a migrated database to use
    as is (the smoke test's)."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--rows", type=int, default=20_000_000)
    parser.add_argument("--sizes", default=None,
                        help="comma-separated table sizes to read at (default 1%%,10%%,100%%)")
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--write-rows", type=int, default=50_000)
    opts = parser.parse_args(argv)
    sizes = ([int(s) for s in opts.sizes.split(",")] if opts.sizes
             else [max(opts.batch * 2, opts.rows // 100), max(opts.batch * 2, opts.rows // 10),
                   opts.rows])
    if min(sizes) <= opts.batch or opts.write_rows < 1 or opts.batch < 1:
        parser.error("every size must exceed --batch; --batch and --write-rows at least 1")
    quiet()
    if database_url:
        out = measure(database_url, opts.rows, sizes, opts.batch, opts.write_rows)
        out["database"] = "given"
    else:
        with scratch_databases() as (url,):
            out = measure(url, opts.rows, sizes, opts.batch, opts.write_rows)
        out["database"] = "DATABASE_URL" if os.environ.get("DATABASE_URL") else "embedded"
    print(json.dumps(out), flush=True)
    return out


if __name__ == "__main__":
    main()
