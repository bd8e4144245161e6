"""The mirror at 100 million orders: plain tables against tables hash-partitioned by seller.

Usage::

    python -m benchmarks.mirror_scale --orders 100000000 --layout plain      # ~1 h, ~45 GB
    python -m benchmarks.mirror_scale --orders 100000000 --layout hash:16
    python -m benchmarks.mirror_scale --orders 2000000 --layout both         # smoke, ~3 min

What runs, per layout, in a scratch database of its own (``DATABASE_URL``'s server, else an
embedded one), migrated to the real schema:

1. **Layout**. ``plain``: the migrations' tables. ``hash:P``: ``orders`` and ``order_items``
   replaced by tables partitioned by ``HASH (seller_id)`` into P partitions, with the same
   columns, defaults, indexes, foreign keys, change-feed triggers and views.
2. **Load** (not through the API): ``--orders`` orders of ``--sellers`` sellers (1,000),
   those of the first ``--item-sellers`` (a tenth) with one item each, generated on the
   server (``INSERT ... SELECT FROM generate_series``, a million rows a transaction) in
   purchase order over two years, with a small ``raw`` (about 80 bytes: Amazon's is ~1.2 KB,
   which this disk cannot hold 100 million times; ``raw`` is stored apart from the keys, so
   it weighs on the heap and on sequential scans, not on the index lookups measured here).
   Items for a tenth of the sellers keep 100 million orders within this machine's disk
   (~45 GB instead of ~70); every figure is taken on those sellers, whose orders all have
   their item, as in production. Secondary indexes are built after the load, the feed's
   triggers are off during it; then ``changes`` gets ``--orders / 100`` rows (a week of
   changes kept by ``changes prune``), ``VACUUM ANALYZE``.
3. **Figures** (median and 95th percentile over ``--samples`` runs, random sellers with
   items):
   ``upsert_page_ms``: one page through the real write path (``mirror.upsert_orders`` +
   ``replace_items``, feed triggers on): 100 orders of one seller, 80 of them updates of its
   latest orders and 20 new, in one transaction, as a sync commits a page;
   ``incremental_read_ms``: what a downstream reader asks after its last ``sync_version`` (the
   seller's next 1,000 rows in ``sync_version`` order); ``feed_last_10k_ms``:
   ``spsync_changes`` reading the last 10,000 changes; ``view_seller_month_ms``:
   ``analytics_daily_sales`` for one seller and one month.

Prints one JSON line per layout (sizes in bytes, load rate, the figures, the machine's load).
Asserts nothing about time.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine, text

from benchmarks.services import log, quiet, scratch_databases
from worker.db import mirror
from worker.db.engine import engine_for
from worker.db.rows import ItemRow, OrderRow

T0 = datetime(2024, 1, 1, tzinfo=UTC)
SPAN_DAYS = 730
CHUNK = 1_000_000
PAGE = 100
MIRRORED = ("orders", "order_items")
_PKEYS = {"orders": "seller_id, amazon_order_id",
          "order_items": "seller_id, amazon_order_id, order_item_id"}
_SECONDARY = {  # built after the load (the primary keys stay: the upsert's conflict target)
    "orders": ["orders_seller_last_update_idx", "orders_seller_sync_version_idx",
               "orders_seller_day_idx"],
    "order_items": ["order_items_seller_sku_idx", "order_items_seller_sync_version_idx"],
}


# --- layout ---------------------------------------------------------------------------------


def partition(conn: Connection, parts: int) -> None:
    """Replace ``orders`` and ``order_items`` with tables partitioned by HASH (seller_id):
    same columns, defaults, constraints, indexes, triggers, foreign keys; the views that read
    them are created again on the new tables."""
    views = _views_reading(conn, MIRRORED)
    triggers = conn.execute(text(
        "SELECT pg_get_triggerdef(t.oid) FROM pg_trigger t WHERE NOT t.tgisinternal "
        "AND t.tgrelid IN ('orders'::regclass, 'order_items'::regclass)")).scalars().all()
    for _, name, _ in reversed(views):
        conn.execute(text(f'DROP VIEW IF EXISTS "{name}"'))
    for table in reversed(MIRRORED):  # items first: they reference orders
        conn.execute(text(f"ALTER TABLE {table} RENAME TO {table}_plain"))
    for table in MIRRORED:
        conn.execute(text(
            f"CREATE TABLE {table} (LIKE {table}_plain INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
            f" PARTITION BY HASH (seller_id)"))
        conn.execute(text(f"ALTER TABLE {table} ADD PRIMARY KEY ({_PKEYS[table]})"))
        for n in range(parts):
            conn.execute(text(f"CREATE TABLE {table}_p{n} PARTITION OF {table} "
                              f"FOR VALUES WITH (MODULUS {parts}, REMAINDER {n})"))
    conn.execute(text("ALTER TABLE orders ADD FOREIGN KEY (seller_id) REFERENCES sellers(id) "
                      "ON DELETE CASCADE"))
    conn.execute(text("ALTER TABLE order_items ADD FOREIGN KEY (seller_id, amazon_order_id) "
                      "REFERENCES orders (seller_id, amazon_order_id) ON DELETE CASCADE"))
    conn.execute(text("DROP TABLE order_items_plain, orders_plain CASCADE"))
    for definition in triggers:
        conn.execute(text(definition))
    for _, name, body in views:
        conn.execute(text(f'CREATE VIEW "{name}" AS {body}'))


def _views_reading(conn: Connection, tables: tuple[str, ...]) -> list[Any]:
    """(oid, name, definition) of every view over ``tables``, directly or through other
    views, in creation order (the order to create them again)."""
    seen = [int(o) for o in conn.execute(text(
        "SELECT oid FROM pg_class WHERE relname = ANY(:t) AND relnamespace = "
        "current_schema()::regnamespace"), {"t": list(tables)}).scalars()]
    found: dict[int, Any] = {}
    while True:
        more = conn.execute(text(
            "SELECT DISTINCT v.oid, v.relname, pg_get_viewdef(v.oid) FROM pg_depend d "
            "JOIN pg_rewrite r ON r.oid = d.objid JOIN pg_class v ON v.oid = r.ev_class "
            "WHERE d.refobjid = ANY(:oids) AND v.relkind = 'v' AND v.oid <> ALL(:oids)"),
            {"oids": seen + list(found)}).all()
        if not more:
            return sorted(found.values(), key=lambda v: v[0])
        found.update({int(v[0]): v for v in more})


# --- load -----------------------------------------------------------------------------------


_ORDERS = """
INSERT INTO orders (seller_id, amazon_order_id, order_status, purchase_date, last_update_date,
                    order_total, currency, marketplace_id, fulfillment_channel, api_version,
                    raw, sync_version)
SELECT g % :sellers + 1, {oid}, 'SHIPPED', t.at, t.at + interval '2 hours', 10 + g % 90,
       'USD', 'ATVPDKIKX0DER', 'AFN', '2026-01-01',
       jsonb_build_object('orderId', {oid}, 'orderStatus', 'SHIPPED', 'n', g), g
FROM generate_series(CAST(:a AS bigint), CAST(:b AS bigint)) g,
     LATERAL (SELECT timestamptz '2024-01-01' + (g::float8 / :total) * interval '{span} days'
              AS at) t
"""
_ITEMS = """
INSERT INTO order_items (seller_id, amazon_order_id, order_item_id, seller_sku, asin,
                         quantity_ordered, quantity_shipped, item_price, currency, raw,
                         sync_version)
SELECT g % :sellers + 1, {oid}, g::text, 'SKU-' || (g % 500), 'B0' || lpad((g % 500)::text, 8,
       '0'), 1, 1, 10 + g % 90, 'USD', jsonb_build_object('orderItemId', g::text), g
FROM generate_series(CAST(:a AS bigint), CAST(:b AS bigint)) g
WHERE g % :sellers < :item_sellers
"""
_OID = ("to_char(g / 10000000, 'FM000') || '-' || to_char(g % 10000000, 'FM0000000') || '-' "
        "|| to_char(g * 7919 % 10000000, 'FM0000000')")


def load(engine: Engine, orders: int, sellers: int, item_sellers: int) -> float:
    """The sellers, then ``orders`` orders and items in chunks; indexes, changes, statistics.
    Seconds it took."""
    started = time.monotonic()
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO sellers (selling_partner_id, region, marketplace_ids) "
            "SELECT 'ASCALE' || lpad(n::text, 8, '0'), 'NA', '{ATVPDKIKX0DER}' "
            "FROM generate_series(1, :n) n"), {"n": sellers})
        for table in MIRRORED:
            conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
            for index in _SECONDARY[table]:
                conn.execute(text(f"DROP INDEX IF EXISTS {index}"))  # hash: not built yet
    orders_sql = _ORDERS.format(oid=_OID, span=SPAN_DAYS)
    items_sql = _ITEMS.format(oid=_OID)
    for a in range(1, orders + 1, CHUNK):
        b = min(orders, a + CHUNK - 1)
        with engine.begin() as conn:
            params = {"a": a, "b": b, "sellers": sellers, "total": orders,
                      "item_sellers": item_sellers}
            conn.execute(text(orders_sql), params)
            conn.execute(text(items_sql), params)
        done = time.monotonic() - started
        log(f"loaded {b:,} orders and items in {done:.0f}s ({b / done:,.0f} orders/s)")
    with engine.begin() as conn:
        conn.execute(text("SELECT setval('sync_version_seq', :n)"), {"n": orders + 1})
        for table in MIRRORED:
            conn.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))
    _indexes(engine)
    _changes(engine, max(100_000, orders // 100), sellers)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    return time.monotonic() - started


def _indexes(engine: Engine) -> None:
    """The secondary indexes the load dropped, built as the migrations define them."""
    definitions = {
        "orders_seller_last_update_idx": "orders (seller_id, last_update_date)",
        "orders_seller_sync_version_idx": "orders (seller_id, sync_version)",
        "orders_seller_day_idx": "orders (seller_id, ((purchase_date AT TIME ZONE 'UTC')::date))",
        "order_items_seller_sku_idx": "order_items (seller_id, seller_sku)",
        "order_items_seller_sync_version_idx": "order_items (seller_id, sync_version)",
    }
    for name, on in definitions.items():
        started = time.monotonic()
        with engine.begin() as conn:
            conn.execute(text("SET maintenance_work_mem = '1GB'"))
            conn.execute(text(f"CREATE INDEX {name} ON {on}"))
        log(f"index {name}: {time.monotonic() - started:.0f}s")


def _changes(engine: Engine, rows: int, sellers: int) -> None:
    """A week of feed: ``rows`` changes, a thousand per transaction id."""
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO changes (txid, entity, seller_id, key, operation, changed_at) "
            "SELECT 1000 + n / 1000, 'orders', n % :sellers + 1, "
            "jsonb_build_object('amazon_order_id', n::text), 'update', "
            "now() - interval '7 days' + n * (interval '7 days' / :rows) "
            "FROM generate_series(1, :rows) n"), {"rows": rows, "sellers": sellers})


# --- figures --------------------------------------------------------------------------------


def _timed(samples: int, run: Callable[[int], None]) -> dict[str, float]:
    took = []
    for n in range(samples):
        started = time.perf_counter()
        run(n)
        took.append((time.perf_counter() - started) * 1000)
    took.sort()
    return {"p50": round(statistics.median(took), 2),
            "p95": round(took[min(len(took) - 1, int(0.95 * len(took)))], 2)}


def _page(conn: Connection, seller: int, now: datetime, fresh: Iterator[int]) -> None:
    latest = conn.execute(text(
        "SELECT amazon_order_id FROM orders WHERE seller_id = :s "
        "ORDER BY last_update_date DESC LIMIT :n"), {"s": seller, "n": PAGE * 8 // 10}).scalars()
    oids = [*latest, *(f"900-{next(fresh):07d}-0000000" for _ in range(PAGE // 5))]
    orders = [OrderRow(amazon_order_id=o, order_status="SHIPPED", purchase_date=now,
                       last_update_date=now, order_total=Decimal("20.00"), currency="USD",
                       marketplace_id="ATVPDKIKX0DER", fulfillment_channel="AFN",
                       api_version="2026-01-01", raw={"orderId": o, "orderStatus": "SHIPPED"})
              for o in oids]
    written = mirror.upsert_orders(conn, seller, orders)
    items = [ItemRow(amazon_order_id=o, order_item_id=f"{o}-1", seller_sku="SKU-1", asin=None,
                     title=None, quantity_ordered=1, quantity_shipped=1,
                     item_price=Decimal("20.00"), currency="USD", raw={"orderItemId": o})
             for o in written.ids]
    mirror.replace_items(conn, seller, written.ids, items, new=written.new)


def measure(engine: Engine, sellers: int, samples: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    picks = [rng.randint(1, sellers) for _ in range(samples)]
    fresh = iter(range(10**7))
    clock = [datetime.now(UTC)]

    def upsert(n: int) -> None:
        clock[0] += timedelta(seconds=1)
        with engine.begin() as conn:
            _page(conn, picks[n], clock[0], fresh)

    def incremental(n: int) -> None:
        with engine.begin() as conn:
            top = conn.execute(text("SELECT max(sync_version) FROM orders WHERE seller_id = :s"),
                               {"s": picks[n]}).scalar() or 0
            conn.execute(text(
                "SELECT * FROM orders WHERE seller_id = :s AND sync_version > :v "
                "ORDER BY sync_version LIMIT 1000"), {"s": picks[n], "v": top - 5000}).all()

    def feed(_: int) -> None:
        with engine.begin() as conn:
            last = conn.execute(text(
                "SELECT txid, id FROM changes ORDER BY txid DESC, id DESC OFFSET 10000 LIMIT 1"
            )).one()
            after = int(last.txid) * 10**19 + int(last.id)
            got = conn.execute(text("SELECT * FROM spsync_changes(CAST(:a AS numeric), 10000)"),
                               {"a": after}).all()
        if len(got) < 10_000:  # another transaction of the server holds the feed back
            raise RuntimeError(f"the feed read {len(got)} changes, not 10,000: run the "
                               "benchmark on a server nothing else writes to")

    def view(n: int) -> None:
        month = T0 + timedelta(days=30 * (n % 24))
        with engine.begin() as conn:
            conn.execute(text(
                "SELECT * FROM analytics_daily_sales WHERE seller_id = :s "
                "AND day >= :a AND day < :b"),
                {"s": picks[n], "a": month.date(), "b": (month + timedelta(days=30)).date()}
            ).all()

    upsert(0)  # warm: the process's first write learns its way (worker/db/upsert.py)
    return {"upsert_page_ms": _timed(samples, upsert),
            "incremental_read_ms": _timed(samples, incremental),
            "feed_last_10k_ms": _timed(samples, feed),
            "view_seller_month_ms": _timed(samples, view)}


def sizes(engine: Engine) -> dict[str, int]:
    with engine.begin() as conn:
        return {f"{t}_bytes": int(conn.execute(text(
            "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
            "WHERE c.oid = CAST(:t AS regclass) OR c.oid IN ("
            "  SELECT inhrelid FROM pg_inherits WHERE inhparent = CAST(:t AS regclass))"),
            {"t": t}).scalar() or 0) for t in (*MIRRORED, "changes")}


@contextmanager
def _nothing() -> Iterator[None]:
    yield


@contextmanager
def _database() -> Iterator[Engine]:
    with scratch_databases(1) as (url,):
        engine = engine_for(url)
        try:
            yield engine
        finally:
            engine.dispose()


@contextmanager
def _merge_without_xmax() -> Iterator[None]:
    """The write path's merge returns ``xmax = 0`` to tell a new row from an updated one;
    PostgreSQL refuses a system column in ``RETURNING`` of an ``INSERT ... ON CONFLICT`` into a
    partitioned table ("cannot retrieve a system column in this context"). Partitioning would
    need another test of newness; measured here as if every row were updated, which makes
    ``replace_items`` look for vanished items of every order (more work, not less)."""
    from worker.db import upsert

    original = upsert._merge_sql

    def patched(*args: Any, **kwargs: Any) -> str:
        return original(*args, **kwargs).replace("t.xmax = 0", "false")

    upsert._merge_sql = patched
    try:
        yield
    finally:
        upsert._merge_sql = original


def run(layout: str, args: argparse.Namespace) -> dict[str, Any]:
    with _database() as engine, (_merge_without_xmax() if layout != "plain" else _nothing()):
        if layout != "plain":
            with engine.begin() as conn:
                partition(conn, int(layout.split(":", 1)[1]))
        took = load(engine, args.orders, args.sellers, args.item_sellers)
        figures = measure(engine, args.item_sellers, args.samples, args.seed)
        return {"layout": layout, "orders": args.orders, "sellers": args.sellers,
                "item_sellers": args.item_sellers,
                "load_s": round(took), "load_orders_per_s": round(args.orders / took),
                **sizes(engine), **figures, "loadavg_1m": os.getloadavg()[0]}


def _layout(value: str) -> str:
    if value in ("plain", "both") or (value.startswith("hash:") and value[5:].isdigit()
                                      and 2 <= int(value[5:]) <= 1024):
        return value
    raise argparse.ArgumentTypeError("plain, hash:<partitions 2-1024> or both")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--orders", type=int, default=100_000_000)
    ap.add_argument("--sellers", type=int, default=1000)
    ap.add_argument("--layout", type=_layout, default="both",
                    help="plain, hash:P (P partitions) or both (plain, then hash:16)")
    ap.add_argument("--item-sellers", type=int, default=None,
                    help="sellers whose orders get their item (default: a tenth of them); "
                         "the figures are taken on those sellers")
    ap.add_argument("--samples", type=int, default=40)
    ap.add_argument("--seed", type=int, default=20)
    args = ap.parse_args(argv)
    if args.orders < 10_000 or args.sellers < 1 or args.samples < 1:
        ap.error("--orders must be at least 10,000; --sellers and --samples at least 1")
    args.item_sellers = args.item_sellers or max(1, args.sellers // 10)
    if not 1 <= args.item_sellers <= args.sellers:
        ap.error("--item-sellers must be between 1 and --sellers")
    quiet()
    for layout in (["plain", "hash:16"] if args.layout == "both" else [args.layout]):
        print(json.dumps(run(layout, args)), flush=True)


if __name__ == "__main__":
    main()
