"""Downstream readers on a streaming replica: the change feed and the analytics views read
from a hot standby (a second PostgreSQL started by the test, streaming from a primary of
its own) exactly as from the primary, and a follower keeps its position on the primary."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, text

from devtools.pg_replica import Pair, bindir
from tests.e2e.procs import wait
from tests.feedkit import item, new_seller, order
from worker.db import changes as feed
from worker.db import mirror
from worker.db.engine import engine_for, migrate
from worker.feed.follow import follow, tail

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def pg_pair() -> Iterator[Pair]:
    if bindir() is None:
        raise RuntimeError("PostgreSQL's server binaries are needed to start a replica")
    with Pair() as started:
        migrate(started.primary.url())
        started.wait_replayed()
        yield started


@pytest.fixture
def engines(pg_pair: Pair) -> tuple[Engine, Engine]:
    primary, replica = engine_for(pg_pair.primary.url()), engine_for(pg_pair.replica.url())
    with primary.begin() as conn:
        conn.execute(text("TRUNCATE sellers, changes, feed_consumers RESTART IDENTITY CASCADE"))
    pg_pair.wait_replayed()
    return primary, replica


def _write(primary: Engine, seller_id: int, oids: list[str], version: int,
           hold: float = 0.0) -> None:
    """Upsert ``oids`` (with an item each) in one transaction, kept open ``hold`` seconds."""
    with primary.begin() as conn:
        mirror.upsert_orders(conn, seller_id, [order(o, version) for o in oids])
        mirror.replace_items(conn, seller_id, oids, [item(o, 1, qty=version) for o in oids])
        time.sleep(hold)


def _all_positions(engine: Engine) -> list[int]:
    with engine.begin() as conn:
        rows = conn.execute(text("SELECT txid, id FROM changes ORDER BY txid, id")).all()
    return [feed.position_of(r.txid, r.id) for r in rows]


def test_the_feed_read_on_a_replica_skips_nothing_while_writers_overlap(engines, pg_pair):
    """Writers on the primary commit out of order (some hold their transaction open while
    later ones commit); a reader on the replica, reading as fast as it can, must still end
    with every change exactly once, in order."""
    primary, replica = engines
    with primary.begin() as conn:
        seller_id = new_seller(conn, "A1REPLICA")
    stop = threading.Event()
    read: list[int] = []
    errors: list[BaseException] = []

    def reader() -> None:
        position = 0
        while True:
            finished = stop.is_set()  # read once more after the writers are done
            with replica.begin() as conn:
                batch = feed.read(conn, position, 50)
            read.extend(c.position for c in batch)
            if batch:
                position = batch[-1].position
            elif finished:
                return

    def writer(n: int) -> None:
        rng = random.Random(n)
        try:
            for k in range(12):
                oids = [f"1{n:02d}-{k:03d}-{j}" for j in range(rng.randint(1, 4))]
                _write(primary, seller_id, oids, version=k + 1,
                       hold=rng.choice([0.0, 0.0, 0.05, 0.2]))
        except BaseException as exc:  # the test fails with it, not with a short count
            errors.append(exc)

    consumer = threading.Thread(target=reader)
    consumer.start()
    writers = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for w in writers:
        w.start()
    for w in writers:
        w.join()
    pg_pair.wait_replayed()
    stop.set()
    consumer.join(timeout=60)
    assert not errors, errors
    written = _all_positions(primary)
    assert len(written) > 100
    assert read == written  # all of them, once each, in the feed's order


def test_follow_reads_on_the_replica_and_keeps_its_position_on_the_primary(engines):
    primary, replica = engines
    with primary.begin() as conn:
        seller_id = new_seller(conn, "A1FOLLOW")
    seen: list[feed.Change] = []
    done = threading.Event()
    follower = threading.Thread(target=follow, args=(primary, "replica-reader", seen.extend),
                                kwargs={"read_from": replica, "batch": 7, "poll_seconds": 5.0,
                                        "stop": done.is_set})
    follower.start()
    try:
        _write(primary, seller_id, [f"2-{k}" for k in range(10)], version=1)
        wait(lambda: len(seen) == 20, 30, "the first 20 changes (10 orders, 10 items)")
        started = time.monotonic()
        _write(primary, seller_id, ["2-late"], version=1)  # after the follower went idle
        wait(lambda: len(seen) == 22, 30, "the next order and its item")
        woke_in = time.monotonic() - started
    finally:
        done.set()
        follower.join(timeout=30)
    assert woke_in < 3.0  # woken by the primary's NOTIFY, not the 5 s poll
    with primary.begin() as conn:
        stored = conn.execute(text("SELECT position FROM feed_consumers "
                                   "WHERE name = 'replica-reader'")).scalar_one()
    assert [c.position for c in seen] == _all_positions(primary)
    assert int(stored) == seen[-1].position  # kept where prune respects it: the primary


def test_tail_on_a_replica_polls_since_a_standby_refuses_listen(engines, pg_pair):
    primary, replica = engines
    with primary.begin() as conn:
        seller_id = new_seller(conn, "A1TAIL")
    _write(primary, seller_id, ["3-1", "3-2"], version=1)
    pg_pair.wait_replayed()
    seen: list[Any] = []
    tail(replica, 0, seen.extend, stop=lambda: len(seen) >= 4, poll_seconds=0.2)
    assert [c.position for c in seen] == _all_positions(primary)


def test_the_analytics_views_read_the_same_on_the_replica(engines, pg_pair):
    primary, replica = engines
    with primary.begin() as conn:
        seller_id = new_seller(conn, "A1VIEWS")
    for k in range(5):
        _write(primary, seller_id, [f"4-{k}-{j}" for j in range(3)], version=k + 1)
    pg_pair.wait_replayed()
    query = text("SELECT * FROM analytics_daily_sales WHERE seller_id = :s ORDER BY 1, 2, 3")
    with primary.begin() as conn:
        on_primary = conn.execute(query, {"s": seller_id}).all()
    with replica.begin() as conn:
        on_replica = conn.execute(query, {"s": seller_id}).all()
    assert on_primary and on_replica == on_primary
