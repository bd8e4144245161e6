"""A real `celery worker` is SIGKILLed in the middle of a multi-page sync and restarted."""

from __future__ import annotations

import os
import signal
import subprocess

import pytest

from tests.conftest import settings_for
from tests.e2e.procs import env_for, free_port, start, wait
from tests.integration.helpers import mirror, register, table, truth
from worker.runtime import Runtime

pytestmark = pytest.mark.e2e

PAGES = 60


def _scrape(port: int) -> str:
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        return resp.read().decode()


def test_sigkilled_worker_resumes_from_its_checkpoint(start_sim, clean, tmp_path):
    # searchOrders allows 20 at once, then 0.0056 x 500 = 2.8 pages/s: a ~15 s sync
    sim = start_sim(sellers=1, orders_per_seller=PAGES * 10, time_scale=500, seed=21)
    settings = settings_for(clean, sim, orders_page_size=10, orders_max_window_hours=24 * 90)
    rt = Runtime(settings)
    (spid, seller_id), = register(rt, sim).items()
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
