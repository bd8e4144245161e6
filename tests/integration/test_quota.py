"""The quota engine against real Redis, real processes and the simulator's own buckets."""

from __future__ import annotations

import asyncio
import multiprocessing
import time

import pytest
import redis
import redis.asyncio as aredis

from benchmarks.load import pull, pull_in_process
from tests.e2e.procs import OwnRedis, free_port
from worker.ratelimit.bucket import Reservation, TokenBucket, bucket_key
from worker.ratelimit.restarts import ServerMemory

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
        f"rl:{{{spid}:{seller['region']}}}", "getOrders:rate")  # the seller's hash, its field
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


def test_redis_restart_mid_run_makes_callers_wait_and_recover(start_sim, tmp_path):
    sim = start_sim(sellers=1, orders_per_seller=5, time_scale=SCALE)
    world = sim.world()
    seller = world["sellers"][0]
    server = OwnRedis(free_port(), tmp_path)
    server.start()

    async def scenario():
        load = asyncio.create_task(
            pull(sim.url, server.url, world["application"], seller, 5.0, max_retries=8))
        await asyncio.sleep(2.0)
        server.kill()
        await asyncio.sleep(1.0)  # Redis is gone: callers must wait, not call Amazon
        calls_while_down = _bucket(sim.client.stats(), seller["selling_partner_id"])["calls"]
        server.start()  # comes back empty
        return await load, calls_while_down

    try:
        result, calls_while_down = asyncio.run(scenario())
    finally:
        server.stop()
    b = _bucket(sim.client.stats(), seller["selling_partner_id"])
    assert b["calls"] > calls_while_down + 5  # recovered and kept going
    assert result["throttled"] == b["throttled"] == 0  # and never over-sent after the restart


def test_a_task_after_a_redis_restart_creates_its_buckets_possibly_emptied(tmp_path):
    """Each task builds its own bucket (``Runtime.spapi``); what the process knows about its
    Redis must outlive the task, or the next one starts full against an emptied Amazon."""
    server = OwnRedis(free_port(), tmp_path)
    server.start()
    key = bucket_key("A1SELLER", "NA", "getOrders")

    async def task() -> Reservation:
        r = aredis.Redis.from_url(server.url)
        try:
            return await TokenBucket(r).reserve(key, 0.0167, 20, 60.0)
        finally:
            await r.aclose()

    try:
        first = asyncio.run(task())
        server.restart()  # empty and young: Amazon's bucket may be as empty as we left it
        after = asyncio.run(task())
    finally:
        server.stop()
    assert first.tokens == 19  # the server this process started with: a missing bucket is full
    # one call, not twenty, and the next waits for two tokens: Amazon's spare one is owed
    assert after.reserved and after.wait == 0 and after.tokens == -1


def test_a_process_started_after_a_redis_restart_learns_it_from_the_mark(tmp_path):
    server = OwnRedis(free_port(), tmp_path)
    server.start()

    async def reserve(memory: ServerMemory, seller: str) -> Reservation:
        r = aredis.Redis.from_url(server.url)
        try:
            bucket = TokenBucket(r, memory=memory)  # one memory = one process
            return await bucket.reserve(bucket_key(seller, "NA", "getOrders"), 0.0167, 20, 60.0)
        finally:
            await r.aclose()

    survivor = ServerMemory()
    try:
        fresh = asyncio.run(reserve(ServerMemory(), "A1FIRST"))
        asyncio.run(reserve(survivor, "A1FIRST"))
        server.restart()
        asyncio.run(reserve(survivor, "A1FIRST"))  # finds its bucket gone: marks the restart
        newcomer = asyncio.run(reserve(ServerMemory(), "A2OTHER"))
    finally:
        server.stop()
    assert fresh.tokens == 19  # a young Redis nobody saw restart: a new install costs nothing
    assert newcomer.tokens == -1  # this one was seen replacing another: possibly emptied
