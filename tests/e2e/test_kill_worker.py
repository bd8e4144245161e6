"""A real `celery worker` is SIGKILLed in the middle of a multi-page sync and restarted (on
each broker: Redis and RabbitMQ); a sync process is SIGKILLed with a call in flight and its
calls are still counted."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys

import pytest
from sqlalchemy import text

from tests.conftest import settings_for
from tests.e2e.procs import env_for, free_port, start, wait
from tests.integration.helpers import ORDER_PATH, mirror, register, table, truth
from worker.runtime import Runtime
from worker.sync.calls import settle
from worker.sync.service import run_stream

pytestmark = pytest.mark.e2e

PAGES = 60


def _scrape(port: int) -> str:
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        return resp.read().decode()


def test_sigkilled_worker_resumes_from_its_checkpoint(start_sim, clean, tmp_path, broker_url):
    # searchOrders allows 20 at once, then 0.0056 x 500 = 2.8 pages/s: a ~15 s sync
    sim = start_sim(sellers=1, orders_per_seller=PAGES * 10, time_scale=500, seed=21)
    settings = settings_for(clean, sim, orders_page_size=10, orders_max_window_hours=24 * 90,
                            broker_url=broker_url)
    rt = Runtime(settings)
    (spid, seller_id), = register(rt, sim, kinds=ORDER_PATH).items()
    env = env_for(settings)
    procs = [start("beat", env, tmp_path / "beat.log"), start("worker", env, tmp_path / "w1.log")]
    try:
        def pages() -> int:  # the orders stream's (inventory and listings sync beside it)
            return int(table(rt, "SELECT coalesce(sum(pages), 0) FROM sync_runs "
                                 "WHERE stream = 'orders'")[0][0])

        wait(lambda: pages() >= 25, 60, "25 committed pages")
        os.killpg(procs[1].pid, signal.SIGKILL)  # the whole worker: main process and child
        procs[1].wait()
        at_kill = pages()
        assert at_kill < PAGES, "the sync finished before the kill; slow the simulator down"
        assert table(rt, "SELECT count(*) FROM orders")[0][0] == at_kill * 10

        prom_dir = tmp_path / "prom"
        prom_dir.mkdir()
        port = free_port()
        metrics_env = {**env, "SPSYNC_METRICS_PORT": str(port),
                       "PROMETHEUS_MULTIPROC_DIR": str(prom_dir)}
        procs.append(start("worker", metrics_env, tmp_path / "w2.log"))
        wait(lambda: mirror(rt, seller_id) == truth(sim, spid), 90, "the mirror to equal truth")
        scraped = _scrape(port)
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, signal.SIGKILL)

    # the restarted worker's processes report through its one /metrics endpoint
    assert 'spsync_spapi_calls_total{operation="searchOrders",status="200"}' in scraped
    assert f'spsync_bucket_fill_ratio{{operation="searchOrders",seller="{spid}"}}' in scraped
    assert "spsync_quota_wait_seconds_bucket" in scraped

    dupes = table(rt, "SELECT count(*) - count(DISTINCT amazon_order_id) FROM orders")[0][0]
    assert dupes == 0
    lost = table(rt, "SELECT count(*) FROM sync_runs WHERE error_type = 'WorkerLost'")[0][0]
    assert lost == 1  # the killed run was found and closed by the resuming worker
    calls = sum(b["calls"] for b in sim.client.stats()["buckets"]
                if b["operation"] == "searchOrders")
    committed = pages()
    assert calls - committed <= 1  # at most the one page in flight was fetched twice
    # A run the test's final stop interrupted holds its calls in Redis, as a killed one would:
    # settled as the next worker would settle them.
    with rt.engine.connect() as conn, rt.redis() as r:
        stopped = [i for (i,) in conn.execute(text(
            "SELECT id FROM sync_runs WHERE stream = 'orders' AND status = 'running'"))]
        conn.rollback()
        settle(conn, r, stopped)
    recorded = table(rt, "SELECT sum(api_calls) FROM sync_runs WHERE stream = 'orders'")[0][0]
    assert 0 <= recorded - calls <= 1  # counted as it left: at most one the kill stopped


CHILD = """
import asyncio, sys
from worker.runtime import get_runtime
from worker.sync.service import run_stream
asyncio.run(run_stream(get_runtime(), int(sys.argv[1]), "orders"))
"""


def test_calls_a_killed_worker_sent_after_its_last_page_are_counted(start_sim, clean,
                                                                      tmp_path):
    sim = start_sim(sellers=1, orders_per_seller=30, time_scale=100, seed=5)
    settings = settings_for(clean, sim, orders_page_size=10, orders_max_window_hours=24 * 90)
    rt = Runtime(settings)
    (spid, seller_id), = register(rt, sim, kinds=ORDER_PATH).items()
    # the first page is refused twice (retried), then held while the worker dies waiting
    sim.client.fault("searchOrders", "http_503", count=2)
    sim.client.fault("searchOrders", "hang", count=1, delay=4)

    def search_calls() -> int:
        return sum(b["calls"] for b in sim.client.stats()["buckets"]
                   if b["operation"] == "searchOrders")

    child = subprocess.Popen(  # noqa: S603 - our own interpreter, a fixed script
        [sys.executable, "-c", CHILD, str(seller_id)], env=env_for(settings),
        stdout=(tmp_path / "child.log").open("wb"), stderr=subprocess.STDOUT,
        start_new_session=True)
    try:
        wait(lambda: search_calls() == 3, 30, "the third searchOrders call in flight")
    finally:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()

    assert asyncio.run(run_stream(rt, seller_id, "orders")).status == "succeeded"

    (lost,) = table(rt, "SELECT api_calls, pages FROM sync_runs WHERE error_type = 'WorkerLost'")
    assert (lost.api_calls, lost.pages) == (3, 0)  # before: 0, nothing was committed
    recorded = table(rt, "SELECT sum(api_calls) FROM sync_runs WHERE stream = 'orders'")[0][0]
    assert recorded == search_calls()  # every call Amazon saw is in sync_runs, once
    assert mirror(rt, seller_id) == truth(sim, spid)
