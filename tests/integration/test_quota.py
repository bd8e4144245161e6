"""The quota engine against real Redis, real processes and the simulator's own buckets."""

from __future__ import annotations

import asyncio
import multiprocessing
import socket
import subprocess
import time

import pytest
import redis

from benchmarks.load import pull, pull_in_process
from worker.embedded import _redis_binary
from worker.ratelimit.bucket import bucket_key

pytestmark = pytest.mark.integration

# getOrders: 0.0167/s x 600 = ~10 calls/s per seller, burst 20
SCALE = 600


def _bucket(stats, spid, operation="getOrders"):
    return next(b for b in stats["buckets"]
                if b["seller_id"] == spid and b["operation"] == operation)


def test_processes_sharing_a_seller_use_its_quota_without_429s(start_sim, clean):
    sim = start_sim(sellers=1, orders_per_seller=5, time_scale=SCALE)
    world = sim.world()
    seller = world["sellers"][0]
    args = (sim.url, clean.redis_url, world["application"], [seller], 6.0)
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        results = pool.map(pull_in_process, [args] * 4)
    b = _bucket(sim.client.stats(), seller["selling_partner_id"])
    assert b["throttled"] == 0 and sum(r["throttled"] for r in results) == 0
    assert all(r["calls"] > 5 for r in results)  # every process got its turn
    assert b["calls"] >= 0.85 * b["max_allowed"]  # and together they used the quota


def test_a_lower_server_limit_is_adopted_within_a_few_calls(start_sim, clean):
    sim = start_sim(sellers=1, orders_per_seller=5, time_scale=SCALE)
    world = sim.world()
    seller = world["sellers"][0]
    spid = seller["selling_partner_id"]
    asyncio.run(pull(sim.url, clean.redis_url, world["application"], seller, 2.5))
    before = _bucket(sim.client.stats(), spid)["throttled"]
    sim.client.limit(spid, "getOrders", 2.0)  # Amazon lowers this seller's plan
    asyncio.run(pull(sim.url, clean.redis_url, world["application"], seller, 3.0))
    after = _bucket(sim.client.stats(), spid)["throttled"]
    assert before == 0 and after - before <= 2
    stored = redis.Redis.from_url(clean.redis_url).hget(
        bucket_key(spid, seller["region"], "getOrders"), "rate")
    assert float(stored) == 2.0


def test_a_forced_429_and_its_retry_after_are_honoured(start_sim, clean):
    sim = start_sim(sellers=1, orders_per_seller=5, time_scale=SCALE)
    world = sim.world()
    seller = world["sellers"][0]
    sim.client.fault("getOrders", "throttle", count=1, retry_after=1.5)
    started = time.monotonic()
    result = asyncio.run(pull(sim.url, clean.redis_url, world["application"], seller, 0.01))
    assert result == {"calls": 2, "throttled": 1}  # the 429, then the retry that worked
    assert time.monotonic() - started >= 1.5


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _redis_server(port: int, tmp_path) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(  # noqa: S603
        [_redis_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while True:
        try:
            redis.Redis(port=port).ping()
            return proc
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_redis_restart_mid_run_makes_callers_wait_and_recover(start_sim, tmp_path):
    sim = start_sim(sellers=1, orders_per_seller=5, time_scale=SCALE)
    world = sim.world()
    seller = world["sellers"][0]
    port = _free_port()
    url = f"redis://127.0.0.1:{port}/0"
    server = _redis_server(port, tmp_path)

    async def scenario():
        load = asyncio.create_task(
            pull(sim.url, url, world["application"], seller, 5.0, max_retries=8))
        await asyncio.sleep(2.0)
        server.kill()
        server.wait()
        await asyncio.sleep(1.0)  # Redis is gone: callers must wait, not call Amazon
        calls_while_down = _bucket(sim.client.stats(), seller["selling_partner_id"])["calls"]
        restarted = _redis_server(port, tmp_path)  # comes back empty
        try:
            return await load, calls_while_down, restarted
        finally:
            restarted.kill()

    result, calls_while_down, _ = asyncio.run(scenario())
    b = _bucket(sim.client.stats(), seller["selling_partner_id"])
    assert b["calls"] > calls_while_down + 5  # recovered and kept going
    assert result["throttled"] == b["throttled"] == 0  # and never over-sent after the restart
