"""Rows/s of the bulk write path (``worker.db.upsert.upsert_newer``) on real Postgres.

Usage::

    python -m benchmarks.upsert --rows 200000 [--batch N] [--naive-rows 5000] [--strategies]

What runs, on one seller's ``orders`` (~1.2 KB ``raw`` documents shaped like 2026-01-01
Orders API orders), one transaction per batch as the sync does per page:

1. without ``--batch``, a quick sweep: the first ``min(rows, 10000)`` rows inserted into an
   empty table at each of 100/250/500/1000/2000/5000 rows per batch; the fastest is used;
2. ``upsert_newer``, three passes over an empty table: insert every row; update every row
   (each one a day newer); then the same rows again, which are not newer and must write 0;
3. the naive baseline: ``session.merge(Order(...))`` per row, committed every batch, for
   ``--naive-rows`` orders in a fresh key range (they stay: the table ends with
   ``rows + naive_rows`` orders);
4. with ``--strategies``, the same three passes, before step 2, for candidates defined
   here: ``values`` (the previous ``upsert_newer``: one multi-row VALUES statement) and
   ``executemany`` (pipelined single-row statements). ``upsert_newer`` itself is COPY into
   a temp table + one merging INSERT, the fastest of the three;
5. (before step 2) the ceiling: the same rows ``COPY``-ed straight into the emptied
   ``orders`` (its key, foreign key and indexes, ``jsonb`` encoded the same way), in the
   same batches and transactions: what one writer can put into this table at all
   (``copy_ceiling_rows_per_s``); ``ratio`` = ``rows_per_s`` / that.

Only the writes are timed (rows are generated beforehand); ``rows_per_s`` = rows / seconds
of a pass. ``*_wal_bytes_per_row``: WAL written per row by a pass (``pg_current_wal_lsn``
before and after; the no-op pass should write next to none). Connections are the
service's (``worker.db.engine.engine_for``). Prints one JSON line; asserts nothing about
time.

Database: ``benchmarks.services.scratch_databases``, a scratch database
``spsync_bench_<pid>_0`` on ``DATABASE_URL``'s server, else on the embedded server
(``worker.embedded``) in a temporary directory; migrated with the project's migrations and
dropped (the embedded server stopped and removed) at the end.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from psycopg.types.json import Jsonb
from sqlalchemy import Connection, Engine, and_, func, insert, or_, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from benchmarks.services import log, quiet, scratch_databases
from worker.db.engine import engine_for
from worker.db.models import SYNC_VERSION, Order, Seller
from worker.db.upsert import _newest_per_key, jsonb, upsert_newer

KEYS = ("seller_id", "amazon_order_id")
UPDATED = "last_update_date"
SWEEP = (100, 250, 500, 1000, 2000, 5000)  # 100: an Orders API page
SWEEP_ROWS = 10_000
MAX_PARAMS = 65_535  # Postgres' bind-parameter limit for one statement (the values candidate)

Row = dict[str, Any]
Writer = Callable[..., list[tuple[Any, ...]]]  # upsert_newer's signature


# ------------------------------------------------------------------ data


MARKETPLACES = (("ATVPDKIKX0DER", "Amazon.com", "USD", "US"),
                ("A2EUQ1WTGCTBG2", "Amazon.ca", "CAD", "CA"))
STATUSES = ("PENDING", "UNSHIPPED", "PARTIALLY_SHIPPED", "SHIPPED", "CANCELLED")
WORDS = ("Stainless", "Steel", "Insulated", "Water", "Bottle", "Organic", "Cotton", "Bath",
         "Towel", "Wireless", "Charging", "Pad", "Ceramic", "Coffee", "Mug", "Yoga", "Mat")
T0 = datetime(2026, 10, 1, tzinfo=UTC)


def order_id(n: int) -> str:
    """``111-1234567-1234567``, unique for n < 10**7 (the middle group is n times a number
    coprime with 10**7, a bijection), and not sequential, as Amazon's are not."""
    middle, last = (n * 3_141_593 + 2_718_281) % 10**7, (n * 7_919 + 424_242) % 10**7
    return f"{111 + n % 4}-{middle:07d}-{last:07d}"


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _money(currency: str, amount: Decimal) -> dict[str, str]:
    return {"currencyCode": currency, "amount": str(amount)}


def make_orders(seller_id: int, start: int, count: int) -> list[Row]:
    """``count`` orders with ids ``order_id(start ...)``, as ``upsert_orders`` passes them."""
    rng = random.Random(start)
    return [_order(rng, seller_id, n) for n in range(start, start + count)]


def _order(rng: random.Random, seller_id: int, n: int) -> Row:
    marketplace, name, currency, country = MARKETPLACES[n % 5 == 0]  # one in five Canadian
    oid = order_id(n)
    purchased = T0 + timedelta(seconds=rng.randrange(30 * 86_400))
    updated = purchased + timedelta(seconds=rng.randrange(60, 86_400))
    status, channel = rng.choice(STATUSES), rng.choice(("AFN", "MFN"))
    items, total = [], Decimal(0)
    for i in range(rng.choice((1, 1, 1, 1, 2))):  # most orders have one item
        price, quantity = Decimal(rng.randrange(499, 9_999)).scaleb(-2), rng.randint(1, 3)
        total += price * quantity
        shipped = quantity if status == "SHIPPED" else 0
        items.append({
            "orderItemId": f"{rng.randrange(10**13):014d}{i}",
            "quantityOrdered": quantity,
            "product": {
                "asin": f"B0{rng.randrange(36**8):08X}"[:10],
                "title": " ".join(rng.sample(WORDS, 6)),
                "sellerSku": f"SKU-{rng.randrange(10**6):06d}",
                "condition": {"conditionType": "NEW"},
                "price": {"unitPrice": _money(currency, price)},
            },
            "proceeds": {"proceedsTotal": _money(currency, price * quantity)},
            "fulfillment": {"quantityFulfilled": shipped,
                            "quantityUnfulfilled": quantity - shipped},
        })
    raw = {
        "orderId": oid, "createdTime": _iso(purchased), "lastUpdatedTime": _iso(updated),
        "programs": ["PRIME"] if rng.random() < 0.6 else [],
        "salesChannel": {"channelName": "AMAZON", "marketplaceId": marketplace,
                         "marketplaceName": name},
        "buyer": {"buyerName": "Bench Buyer", "buyerEmail": f"{oid}@marketplace.invalid"},
        "recipient": {"deliveryAddress": {
            "name": "Bench Recipient", "addressLine1": f"{rng.randrange(1, 9999)} Main Street",
            "city": "Springfield", "stateOrRegion": "WA", "postalCode": "98101",
            "countryCode": country, "addressType": "RESIDENTIAL"}},
        "proceeds": {"grandTotal": _money(currency, total)},
        "fulfillment": {"fulfillmentStatus": status,
                        "fulfilledBy": "AMAZON" if channel == "AFN" else "MERCHANT"},
        "orderItems": items,
    }
    return {"seller_id": seller_id, "amazon_order_id": oid, "order_status": status,
            "purchase_date": purchased, "last_update_date": updated, "order_total": total,
            "currency": currency, "marketplace_id": marketplace,
            "fulfillment_channel": channel, "api_version": "2026-01-01", "raw": raw}


def a_day_later(row: Row) -> Row:
    """The same order, shipped a day later: newer than ``row``, with a different ``raw``."""
    updated = row[UPDATED] + timedelta(days=1)
    raw = row["raw"]
    raw = {**raw, "lastUpdatedTime": _iso(updated),
           "fulfillment": {**raw["fulfillment"], "fulfillmentStatus": "SHIPPED"}}
    return {**row, "order_status": "SHIPPED", UPDATED: updated, "raw": raw}


# ------------------------------------------------------------------ candidates


def _merge_sql(table: str, columns: Sequence[str], keys: tuple[str, ...], updated: str,
               from_report: bool, rows: str) -> str:
    """upsert_newer's statement spelled in SQL, ``rows`` being its VALUES or SELECT (which
    appends ``nextval('sync_version_seq')``). Identifiers come from the model, never data."""
    tie = (f"t.{updated} IS NOT DISTINCT FROM excluded.{updated}"
           " AND t.raw IS DISTINCT FROM excluded.raw")
    if from_report:
        tie += " AND t.source = 'report'"
    sets = [f"{c} = excluded.{c}" for c in columns if c not in keys]
    sets += ["synced_at = now()", "sync_version = excluded.sync_version"]
    return (f"INSERT INTO {table} AS t ({', '.join(columns)}, sync_version) {rows}"
            f" ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {', '.join(sets)}"
            f" WHERE t.{updated} < excluded.{updated}"
            f" OR (t.{updated} IS NULL AND excluded.{updated} IS NOT NULL) OR ({tie})"
            f" RETURNING {', '.join(f't.{k}' for k in keys)}")


def _values(row: Mapping[str, Any], columns: Sequence[str]) -> tuple[Any, ...]:
    return tuple(Jsonb(v) if isinstance(v, dict | list) else v for v in (row[c] for c in columns))


def executemany_newer(conn: Connection, model: Any, rows: Sequence[Mapping[str, Any]], *,
                      keys: tuple[str, ...], updated: str,
                      from_report: bool = False) -> list[tuple[Any, ...]]:
    """Candidate (a): one single-row INSERT ... ON CONFLICT, prepared once and sent for every
    row by psycopg's ``executemany`` in pipeline mode (no round trip per row). No
    bind-parameter limit and no per-batch SQL compilation; the server runs one statement per
    row."""
    if not rows:
        return []
    batch = _newest_per_key(rows, keys, updated)  # same rows written, same keys returned
    columns = list(batch[0])
    params = ", ".join(["%s"] * len(columns))
    sql = _merge_sql(model.__tablename__, columns, keys, updated, from_report,
                     f"VALUES ({params}, nextval('sync_version_seq'))")
    written: list[tuple[Any, ...]] = []
    with conn.connection.driver_connection.cursor() as cur:  # type: ignore[union-attr]
        cur.executemany(sql, [_values(r, columns) for r in batch], returning=True)
        while True:  # one result per row: its key when written, else nothing
            written.extend(cur.fetchall())
            if not cur.nextset():
                break
    return written


def values_newer(conn: Connection, model: Any, rows: Sequence[Mapping[str, Any]], *,
                 keys: tuple[str, ...], updated: str,
                 from_report: bool = False) -> list[tuple[Any, ...]]:
    """The previous ``upsert_newer`` (commit fd959ec), kept to compare against: one
    multi-row ``insert(...).values([...])``. SQLAlchemy has no cache key for such a
    statement, so every batch is built and compiled afresh, one bind parameter per cell."""
    if not rows:
        return []
    batch = _newest_per_key(rows, keys, updated)
    stmt = pg_insert(model).values([{**r, "sync_version": SYNC_VERSION.next_value()}
                                    for r in batch])
    table, ex = model.__table__.c, stmt.excluded
    tie = and_(table[updated].is_not_distinct_from(ex[updated]),
               table["raw"].is_distinct_from(ex["raw"]))
    if from_report:
        tie = and_(tie, table["source"] == "report")
    newer = or_(table[updated] < ex[updated],
                and_(table[updated].is_(None), ex[updated].is_not(None)), tie)
    changes = {name: ex[name] for name in batch[0] if name not in keys}
    upsert = stmt.on_conflict_do_update(
        index_elements=[table[k] for k in keys],
        set_=changes | {"synced_at": func.now(), "sync_version": ex.sync_version},
        where=newer,
    ).returning(*(table[k] for k in keys))
    return [tuple(r) for r in conn.execute(upsert)]


STRATEGIES: dict[str, Writer] = {"values": values_newer, "executemany": executemany_newer}


def copy_straight(conn: Connection, model: Any, rows: Sequence[Mapping[str, Any]], *,
                  keys: tuple[str, ...], updated: str,
                  from_report: bool = False) -> list[tuple[Any, ...]]:
    """The ceiling: ``rows`` ``COPY``-ed into the table itself (no staging, no merge, no
    newer-wins rule; an empty table), ``jsonb`` encoded as ``upsert_newer`` encodes it."""
    with conn.connection.driver_connection.cursor() as cur:  # type: ignore[union-attr]
        version = cur.execute("SELECT nextval('sync_version_seq')").fetchone()[0]
        version = copy_rows(cur, model.__tablename__, rows, version)
        cur.execute(f"SELECT setval('sync_version_seq', {version})")
    return [tuple(r[k] for k in keys) for r in rows]


def copy_rows(cur: Any, table: str, rows: Sequence[Mapping[str, Any]], version: int) -> int:
    """``rows`` ``COPY``-ed straight into ``table``, ``sync_version`` numbered from
    ``version``; ``jsonb`` values encoded as the write path encodes them. The next number."""
    if not rows:
        return version
    columns = list(rows[0])
    as_json = [isinstance(v, dict | list) for v in rows[0].values()]
    with cur.copy(f"COPY {table} ({', '.join(columns)}, sync_version) FROM STDIN") as copy:
        for n, row in enumerate(rows):
            copy.write_row([*(jsonb(row[c]) if j else row[c]
                              for c, j in zip(columns, as_json, strict=True)), version + n])
    return int(version) + len(rows)


# ------------------------------------------------------------------ measuring


def _settle(conn: Connection, truncate: bool = False) -> None:
    """Start a pass from the same place: optionally an empty table, and a fresh checkpoint
    so no pass pays for the WAL an earlier one wrote (skipped without the privilege)."""
    if truncate:
        with conn.begin():
            conn.execute(text("TRUNCATE orders, order_items"))
    with suppress(DBAPIError), conn.begin():
        conn.execute(text("CHECKPOINT"))


def timed(conn: Connection, write: Writer, rows: Sequence[Row], batch: int) -> tuple[float, int]:
    """Rows/s writing ``rows`` in batches (one transaction each), and rows written."""
    written, started = 0, time.perf_counter()
    for i in range(0, len(rows), batch):
        with conn.begin():
            written += len(write(conn, Order, rows[i:i + batch], keys=KEYS, updated=UPDATED))
    return len(rows) / (time.perf_counter() - started), written


def three_passes(conn: Connection, write: Writer, inserts: Sequence[Row],
                 updates: Sequence[Row], batch: int
                 ) -> tuple[list[int], list[int], list[int]]:
    """Insert into an empty table, update every row, then re-send the updates (no-op):
    rows/s, rows written and WAL bytes per row of each pass."""
    rates, written, wal = [], [], []
    _settle(conn, truncate=True)
    for rows in (inserts, updates, updates):
        before = _wal(conn)
        rate, count = timed(conn, write, rows, batch)
        wal.append(round((_wal(conn) - before) / len(rows)))
        rates.append(round(rate))
        written.append(count)
        _settle(conn)
    return rates, written, wal


def _wal(conn: Connection) -> int:
    """The server's WAL position, in bytes."""
    with conn.begin():
        return int(conn.execute(text(
            "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')")).scalar_one())


def sweep(conn: Connection, rows: Sequence[Row]) -> dict[int, int]:
    """Insert rows/s of ``upsert_newer`` per batch size, each into an empty table."""
    sample, rates = rows[:SWEEP_ROWS], {}
    for batch in SWEEP:
        _settle(conn, truncate=True)
        rates[batch] = round(timed(conn, upsert_newer, sample, batch)[0])
        log(f"  sweep: batch {batch}: {rates[batch]} rows/s")
    return rates


def naive(engine: Engine, rows: Sequence[Row], batch: int) -> float:
    """The ORM way: ``merge`` (a SELECT by key, then an INSERT at flush) row by row,
    committed every ``batch`` rows like the bulk path, so only the per-row work differs."""
    started = time.perf_counter()
    with Session(engine) as session:
        for i, row in enumerate(rows, 1):
            session.merge(Order(**row, sync_version=SYNC_VERSION.next_value()))
            if i % batch == 0 or i == len(rows):
                session.commit()
    return len(rows) / (time.perf_counter() - started)


def measure(url: str, rows: int, naive_rows: int, batch: int | None,
            strategies: bool) -> dict[str, Any]:
    """Everything above on the migrated database at ``url`` (its orders are truncated)."""
    engine = engine_for(url)  # the service's connections (no prepared statements)
    try:
        with engine.connect() as conn:
            with conn.begin():
                seller_id = conn.execute(insert(Seller).values(
                    selling_partner_id=f"BENCH{os.getpid()}", region="NA",
                    marketplace_ids=[m[0] for m in MARKETPLACES]).returning(Seller.id)
                ).scalar_one()
            log(f"upsert: generating {rows} + {naive_rows} orders")
            # Millions of objects live for the whole run, which a worker holding one page
            # never has: collector off while they are made, then frozen (gc.freeze), or
            # its full collections would be timed as part of the writes.
            gc.disable()
            inserts = make_orders(seller_id, 0, rows)
            updates = [a_day_later(r) for r in inserts]
            extra = make_orders(seller_id, rows, naive_rows)  # the naive loop's fresh keys
            gc.freeze()
            gc.enable()
            out: dict[str, Any] = {"rows": rows, "batch": batch, "batch_sweep": None,
                                   "loadavg_1m": round(os.getloadavg()[0], 2)}
            if batch is None:
                swept = sweep(conn, inserts)
                batch = out["batch"] = max(swept, key=swept.__getitem__)
                out["batch_sweep"] = {str(b): r for b, r in swept.items()}  # JSON keys
            written = {}
            if strategies:
                for name, write in STRATEGIES.items():
                    log(f"upsert: {name}, batch {batch}")
                    rates, written[name], _ = three_passes(conn, write, inserts, updates,
                                                           batch)
                    out |= dict(zip((f"{name}_rows_per_s", f"{name}_update_rows_per_s",
                                     f"{name}_noop_rows_per_s"), rates, strict=True))
            log(f"upsert: COPY straight into orders, batch {batch}")
            _settle(conn, truncate=True)
            before = _wal(conn)
            ceiling, _ = timed(conn, copy_straight, inserts, batch)
            out["copy_ceiling_wal_bytes_per_row"] = round((_wal(conn) - before) / rows)
            out["copy_ceiling_rows_per_s"] = round(ceiling)
            log(f"upsert: upsert_newer, batch {batch}")
            rates, written["upsert_newer"], wal = three_passes(conn, upsert_newer, inserts,
                                                               updates, batch)
            out |= dict(zip(("rows_per_s", "update_rows_per_s", "noop_rows_per_s"), rates,
                            strict=True))
            out |= dict(zip(("wal_bytes_per_row", "update_wal_bytes_per_row",
                             "noop_wal_bytes_per_row"), wal, strict=True))
            out["ratio"] = round(out["rows_per_s"] / ceiling, 3)
        log(f"upsert: naive merge of {naive_rows} rows")
        out["naive_rows"] = naive_rows
        out["naive_rows_per_s"] = round(naive(engine, extra, batch))
        out["speedup"] = round(out["rows_per_s"] / out["naive_rows_per_s"], 1)
        out["written"] = written  # per strategy: [insert, update, no-op] pass
        out["raw_bytes"] = round(sum(len(json.dumps(r["raw"])) for r in inserts) / rows)
        with engine.connect() as conn:
            out["postgres"] = conn.execute(text("SHOW server_version")).scalar_one()
        return out
    finally:
        gc.unfreeze()
        engine.dispose()


@contextmanager
def bench_database(given: str | None = None) -> Iterator[tuple[str, str]]:
    """Yield ``(url, kind)``: ``given`` as is, else a scratch database (``DATABASE_URL``'s
    server or an embedded one), migrated and dropped afterwards."""
    if given:
        yield given, "given"
        return
    with scratch_databases() as (url,):
        yield url, "DATABASE_URL" if os.environ.get("DATABASE_URL") else "embedded"


def _options(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=None,
                        help=f"rows per transaction (default: the best of {SWEEP})")
    parser.add_argument("--naive-rows", type=int, default=5_000)
    parser.add_argument("--strategies", action="store_true",
                        help="also measure the candidate write paths (" + ", ".join(STRATEGIES)
                        + ")")
    opts = parser.parse_args(argv)
    if opts.rows < 1 or opts.naive_rows < 1 or (opts.batch is not None and opts.batch < 1):
        parser.error("--rows, --naive-rows and --batch must be >= 1")
    if opts.rows + opts.naive_rows > 10**7:
        parser.error("at most 10,000,000 orders (the id scheme's range)")
    if opts.strategies and opts.batch is not None and opts.batch * 12 > MAX_PARAMS:
        parser.error(f"--batch above {MAX_PARAMS // 12} exceeds Postgres' bind-parameter "
                     "limit in the values candidate's multi-row VALUES")
    return opts


def main(argv: Sequence[str] | None = None, database_url: str | None = None) -> dict[str, Any]:
    """Run, print the JSON line and return it. ``database_url``: an already migrated
    database to use as is (the smoke test's); its orders are truncated and left filled."""
    opts = _options(argv)
    quiet()
    with bench_database(database_url) as (url, kind):
        log(f"upsert: database {kind}")
        out = measure(url, opts.rows, opts.naive_rows, opts.batch, opts.strategies)
    out["database"] = kind
    print(json.dumps(out), flush=True)
    return out


if __name__ == "__main__":
    main()
