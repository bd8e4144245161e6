"""Two writer processes write one seller's orders and items at once (items deleted as often
as added) while a consumer process following the feed into a copy is SIGKILLed and restarted
at random: at the end the copy equals the mirror, every change was applied, none twice."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.e2e.feedproc import COPY_DDL
from tests.e2e.procs import wait
from tests.feedkit import new_seller
from worker.db import changes as feed
from worker.db.engine import sqlalchemy_url

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
WRITING_SECONDS = 90.0  # at most: the writers are stopped once enough kills were seen


def _start(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "tests.e2e.feedproc", *args], cwd=ROOT,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def test_a_consumer_killed_at_random_ends_with_an_exact_copy(clean):
    url = clean.database_url
    engine = create_engine(sqlalchemy_url(url))
    with engine.begin() as conn:
        seller = new_seller(conn, "A1FEEDE2E")
        for ddl in COPY_DDL:
            conn.execute(text(ddl))
        conn.execute(text("TRUNCATE copy_orders, copy_items, copy_applied"))
    writers = [_start("writer", url, str(seller), str(seed), str(WRITING_SECONDS))
               for seed in (1, 2)]
    rng = random.Random(16)
    kills = progressed = applied_before = 0
    reader = _start("consumer", url)
    def applied_count() -> int:
        with engine.begin() as conn:
            return int(conn.execute(text("SELECT count(*) FROM copy_applied")).scalar_one())

    def writing() -> bool:
        return any(w.poll() is None for w in writers)

    try:
        # Changes keep coming until the consumer was killed 5 times, 3 of them after it had
        # applied something (on a busy machine a consumer takes seconds to start: writing for
        # a fixed time left too few kills that mattered).
        while writing() and (kills < 5 or progressed < 3):
            # a consumer that never got going proves nothing: kill it only once it has
            # applied something, then at a random moment after
            def applied_more(before: int = applied_before) -> bool:
                return applied_count() > before or not writing()

            wait(applied_more, 60, "the consumer to apply a batch")
            time.sleep(rng.uniform(0.0, 1.5))
            os.kill(reader.pid, signal.SIGKILL)  # mid-batch or idle, wherever it is
            reader.wait()
            kills += 1
            applied_now = applied_count()
            progressed += applied_now > applied_before  # it had applied batches before dying
            applied_before = applied_now
            reader = _start("consumer", url)
        for w in writers:
            if w.poll() is None:
                w.terminate()  # it ends after its transaction in progress
        for w in writers:
            assert w.wait() == 0, w.stderr.read() if w.stderr else ""

        def caught_up() -> bool:
            assert reader.poll() is None, reader.stderr.read() if reader.stderr else ""
            with engine.begin() as conn:
                lags = feed.lags(conn)  # none until the new consumer has stored a position
                return len(lags) == 1 and lags[0].behind == 0
        wait(caught_up, 60, "the consumer to catch up")
    finally:
        for p in (*writers, reader):
            if p.poll() is None:
                p.kill()
                p.wait()
    with engine.begin() as conn:
        def rows(sql: str) -> set[tuple[object, ...]]:
            return {tuple(r) for r in conn.execute(text(sql)).all()}

        mirror_orders = rows("SELECT seller_id, amazon_order_id, raw::text FROM orders")
        mirror_items = rows("SELECT seller_id, amazon_order_id, order_item_id, raw::text "
                            "FROM order_items")
        copy_orders = rows("SELECT seller_id, amazon_order_id, raw::text FROM copy_orders")
        copy_items = rows("SELECT seller_id, amazon_order_id, order_item_id, raw::text "
                          "FROM copy_items")
        applied = rows("SELECT position FROM copy_applied")
        every = rows("SELECT txid::numeric * 10000000000000000000 + id FROM changes")
        deletions = conn.execute(text(
            "SELECT count(*) FROM changes WHERE operation = 'delete'")).scalar()
        conn.execute(text("DROP TABLE copy_orders, copy_items, copy_applied"))
    engine.dispose()
    assert kills >= 5 and progressed >= 3, (kills, progressed)
    assert deletions > 0  # items really were deleted while the consumer followed
    assert copy_orders == mirror_orders and copy_items == mirror_items
    assert applied == every  # none missed; copy_applied's key refuses a second application
