"""A real `celery worker` is SIGKILLed in the middle of a multi-page sync and restarted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import settings_for
from tests.integration.helpers import mirror, register, table, truth
from worker.runtime import Runtime

pytestmark = pytest.mark.e2e

PAGES = 60


def _env(settings) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "SPSYNC_SPAPI_URL": str(settings.spapi_url),
        "SPSYNC_LWA_TOKEN_URL": str(settings.lwa_token_url),
        "SPSYNC_LWA_CLIENT_ID": settings.lwa_client_id,
        "SPSYNC_LWA_CLIENT_SECRET": settings.lwa_client_secret.get_secret_value(),
        "SPSYNC_TOKEN_KEYS": settings.token_keys.get_secret_value(),
        "SPSYNC_ORDERS_LAG_SECONDS": str(settings.orders_lag_seconds),
        "SPSYNC_ORDERS_INITIAL_DAYS": str(settings.orders_initial_days),
        "SPSYNC_ORDERS_MAX_WINDOW_HOURS": str(settings.orders_max_window_hours),
        "SPSYNC_ORDERS_PAGE_SIZE": str(settings.orders_page_size),
        "SPSYNC_ORDERS_INTERVAL_SECONDS": "3600",
        "SPSYNC_DISPATCH_INTERVAL_SECONDS": "1",
        "SPSYNC_DISPATCH_CLAIM_SECONDS": "3",
        "SPSYNC_LOG_FORMAT": "json",
    })
    return env


def _start(kind: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    args = {
        "worker": ["worker", "-c", "1", "-Q", "spsync", "--without-gossip", "--without-mingle",
                   "--without-heartbeat", "-l", "INFO"],
        "beat": ["beat", "-l", "INFO", "-s", str(log.with_suffix(".schedule"))],
    }[kind]
    return subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "celery", "-A", "worker", *args], env=env,
        stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _scrape(port: int) -> str:
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        return resp.read().decode()


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def test_sigkilled_worker_resumes_from_its_checkpoint(start_sim, clean, tmp_path):
    # searchOrders allows 20 at once, then 0.0056 x 500 = 2.8 pages/s: a ~15 s sync
    sim = start_sim(sellers=1, orders_per_seller=PAGES * 10, time_scale=500, seed=21)
    settings = settings_for(clean, sim, orders_page_size=10, orders_max_window_hours=24 * 90)
    rt = Runtime(settings)
    (spid, seller_id), = register(rt, sim).items()
    env = _env(settings)
    procs = [_start("beat", env, tmp_path / "beat.log"), _start("worker", env, tmp_path / "w1.log")]
    try:
        def pages() -> int:
            return int(table(rt, "SELECT coalesce(sum(pages), 0) FROM sync_runs")[0][0])

        _wait(lambda: pages() >= 25, 60, "25 committed pages")
        os.killpg(procs[1].pid, signal.SIGKILL)  # the whole worker: main process and child
        procs[1].wait()
        at_kill = pages()
        assert at_kill < PAGES, "the sync finished before the kill; slow the simulator down"
        assert table(rt, "SELECT count(*) FROM orders")[0][0] == at_kill * 10

        prom_dir = tmp_path / "prom"
        prom_dir.mkdir()
        port = _free_port()
        metrics_env = {**env, "SPSYNC_METRICS_PORT": str(port),
                       "PROMETHEUS_MULTIPROC_DIR": str(prom_dir)}
        procs.append(_start("worker", metrics_env, tmp_path / "w2.log"))
        _wait(lambda: mirror(rt, seller_id) == truth(sim, spid), 90, "the mirror to equal truth")
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
