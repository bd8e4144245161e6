"""The processes of tests/e2e/test_feed_consumer.py: ``python -m tests.e2e.feedproc writer
URL SELLER SEED SECONDS`` writes one seller's orders and items through worker/db/mirror.py
(until SIGTERM, at most SECONDS);
``... consumer URL`` follows the feed with ``follow_in_db`` into a copy in the same database,
recording each position it applies (a change applied twice breaks a primary key)."""

from __future__ import annotations

import random
import signal
import sys
import time
from typing import Any

from sqlalchemy import Connection, create_engine, text

from tests.feedkit import item, order
from worker.db.engine import sqlalchemy_url
from worker.db.mirror import replace_items, upsert_orders
from worker.feed import Change, follow_in_db

ORDERS = 25
COPY_DDL = (
    "CREATE TABLE IF NOT EXISTS copy_orders (seller_id bigint, amazon_order_id text, raw jsonb, "
    "PRIMARY KEY (seller_id, amazon_order_id))",
    "CREATE TABLE IF NOT EXISTS copy_items (seller_id bigint, amazon_order_id text, "
    "order_item_id text, raw jsonb, PRIMARY KEY (seller_id, amazon_order_id, order_item_id))",
    "CREATE TABLE IF NOT EXISTS copy_applied (position numeric PRIMARY KEY)",
)


def writer(url: str, seller: int, seed: int, seconds: float) -> None:
    """Write for ``seconds`` at most; SIGTERM ends it after its current transaction (exit 0)."""
    rng = random.Random(seed)
    engine = create_engine(sqlalchemy_url(url))
    end = time.monotonic() + seconds
    stopped: list[int] = []
    signal.signal(signal.SIGTERM, lambda signum, frame: stopped.append(signum))
    while time.monotonic() < end and not stopped:
        picked = rng.sample(range(ORDERS), rng.randint(1, 4))
        rows = [order(f"O-{n}", rng.randint(1, 400)) for n in picked]
        items = [item(r.amazon_order_id, k, qty=rng.randint(1, 3)) for r in rows
                 for k in rng.sample(range(4), rng.randint(0, 3))]  # items come and go
        with engine.begin() as conn:
            written = upsert_orders(conn, seller, rows)
            replace_items(conn, seller, written.ids, items, new=written.new)
            time.sleep(rng.random() * 0.05)  # hold the transaction open a little
        time.sleep(rng.random() * 0.02)
    engine.dispose()


def _apply(conn: Connection, changes: list[Change]) -> None:
    for c in changes:
        conn.execute(text("INSERT INTO copy_applied VALUES (:p)"), {"p": c.position})
        if c.entity == "orders":
            _copy(conn, "orders", "copy_orders", ("amazon_order_id",), c)
        elif c.entity == "order_items":
            _copy(conn, "order_items", "copy_items", ("amazon_order_id", "order_item_id"), c)
    time.sleep(random.random() * 0.05)  # work in the batch's transaction: a kill lands inside


def _copy(conn: Connection, source: str, target: str, keys: tuple[str, ...], c: Change) -> None:
    """Make the copy's row equal the mirror's current row (or absent, as it is)."""
    where = " AND ".join(f"{k} = :{k}" for k in ("seller_id", *keys))
    params: dict[str, Any] = {"seller_id": c.seller_id, **c.key}
    conn.execute(text(f"DELETE FROM {target} WHERE {where}"), params)
    conn.execute(text(f"INSERT INTO {target} SELECT seller_id, {', '.join(keys)}, raw "
                      f"FROM {source} WHERE {where}"), params)


def consumer(url: str) -> None:
    engine = create_engine(sqlalchemy_url(url))
    follow_in_db(engine, "e2e-copy", _apply, batch=random.randint(3, 40), poll_seconds=0.5)


if __name__ == "__main__":
    role, db_url, *rest = sys.argv[1:]
    if role == "writer":
        writer(db_url, int(rest[0]), int(rest[1]), float(rest[2]))
    else:
        consumer(db_url)
