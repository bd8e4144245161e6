"""spsync's Redis state on a real Redis Cluster (three masters, three replicas, started by the
test): the quota buckets shared by processes, a master lost mid-run, the run-call counters
and what ``status`` and ``/healthz`` say about the cluster (the LWA token cache is tested on
one Redis and on a cluster by ``test_lwa.py``)."""

from __future__ import annotations

import asyncio
import multiprocessing
import time

import pytest
from sqlalchemy import text

from benchmarks.load import pull_in_process
from tests.feedkit import new_seller
from worker.ratelimit.bucket import TokenBucket, bucket_key
from worker.redis_clients import (
    async_client,
    async_cluster_state,
    cluster_state,
    mget,
    sync_client,
)
from worker.status import redis_cluster_line
from worker.sync import calls

pytestmark = pytest.mark.integration

SCALE = 600  # getOrders: ~10 calls/s per seller, burst 20


def _bucket(stats, spid, operation="getOrders"):
    return next(b for b in stats["buckets"]
                if b["seller_id"] == spid and b["operation"] == operation)


def _sellers_on_distinct_masters(cluster, sellers):
    """Sellers whose getOrders buckets live on different masters (one per master found)."""
    chosen = {}
    for seller in sellers:
        key = bucket_key(seller["selling_partner_id"], seller["region"], "getOrders")
        chosen.setdefault(cluster.master_of(key), seller)
    return list(chosen.values())


def test_processes_sharing_sellers_on_every_master_use_their_quota_without_429s(
        start_sim, redis_cluster):
    sim = start_sim(sellers=12, orders_per_seller=2, time_scale=SCALE)
    world = sim.world()
    sellers = _sellers_on_distinct_masters(redis_cluster, world["sellers"])
    assert len(sellers) >= 2, "the sellers' buckets spread over the masters"
    args = (sim.url, redis_cluster.url, world["application"], sellers, 6.0)
    with multiprocessing.get_context("spawn").Pool(3) as pool:
        results = pool.map(pull_in_process, [args] * 3)
    stats = sim.client.stats()
    for seller in sellers:
        b = _bucket(stats, seller["selling_partner_id"])
        assert b["throttled"] == 0
        assert b["calls"] >= 0.85 * b["max_allowed"]  # together they used each seller's quota
    assert sum(r["throttled"] for r in results) == 0
    assert all(r["calls"] > 5 for r in results)  # every process got its turn


def test_a_master_killed_mid_run_hands_over_to_its_replica_with_no_call_over_quota(
        start_sim, redis_cluster):
    """Three processes share one seller; the master holding its buckets is SIGKILLed. Until
    its replica takes over (about two seconds), callers wait rather than call Amazon
    unmetered; then they go on from the replica's copy of the bucket."""
    sim = start_sim(sellers=1, orders_per_seller=2, time_scale=SCALE)
    world = sim.world()
    seller = world["sellers"][0]
    spid = seller["selling_partner_id"]
    victim = redis_cluster.master_of(bucket_key(spid, seller["region"], "getOrders"))
    args = (sim.url, redis_cluster.url, world["application"], [seller], 10.0)
    with multiprocessing.get_context("spawn").Pool(3) as pool:
        pending = pool.map_async(pull_in_process, [args] * 3)
        time.sleep(3.0)
        before = _bucket(sim.client.stats(), spid)["calls"]
        redis_cluster.kill(victim)
        killed_at = time.monotonic()
        redis_cluster.wait_ok(masters=3)  # a replica took the dead master's slots
        failover_s = time.monotonic() - killed_at
        results = pending.get(timeout=120)
    b = _bucket(sim.client.stats(), spid)
    print(f"\nfailover: {failover_s:.1f}s, calls {before} before the kill, {b['calls']} in all")
    assert victim not in redis_cluster.master_ports()
    assert b["calls"] > before + 10  # recovered and kept going on the new master
    assert b["throttled"] == 0 and sum(r["throttled"] for r in results) == 0


def test_run_counters_in_many_slots_settle_into_their_runs(redis_cluster, clean):
    """A dead worker's run counters (one key per run, spread over the slots) are copied into
    the runs' rows in one go, then dropped."""
    from worker.db.engine import engine_for

    engine = engine_for(clean.database_url)
    with engine.begin() as conn:
        seller = new_seller(conn, "A1CLUSTER")
        run_ids = [conn.execute(text(
            "INSERT INTO sync_runs (seller_id, stream, status) VALUES (:s, 'orders', 'running')"
            " RETURNING id"), {"s": seller}).scalar() for _ in range(12)]

    async def count() -> None:
        r = async_client(redis_cluster.url)
        try:
            for n, run_id in enumerate(run_ids):
                for _ in range(n + 1):
                    await calls.RunCalls(r, run_id)()
        finally:
            await r.aclose()

    asyncio.run(count())
    with sync_client(redis_cluster.url) as r:
        slots = {r.keyslot(calls.key(i)) for i in run_ids}
        with engine.connect() as conn:
            calls.settle(conn, r, run_ids)
        left = mget(r, [calls.key(i) for i in run_ids])
    with engine.connect() as conn:
        counted = dict(conn.execute(text(
            "SELECT id, api_calls FROM sync_runs WHERE id = ANY(:ids)"), {"ids": run_ids}).all())
    assert len(slots) > 1  # the keys really are in different slots
    assert [counted[i] for i in run_ids] == list(range(1, 13))
    assert left == [None] * 12


def test_status_and_healthz_say_the_cluster_is_ok_then_that_it_is_not(redis_cluster):
    from worker.web.health import _redis

    async def health() -> str:
        r = async_client(redis_cluster.url)
        try:
            return await _redis(r)
        finally:
            await r.aclose()

    with sync_client(redis_cluster.url) as r:
        assert cluster_state(r) == "ok: 3 masters, 3 replicas, 16384/16384 slots ok"
    assert asyncio.run(health()) == "cluster ok: 3 masters, 3 replicas, 16384/16384 slots ok"

    # a master and its replica both gone: a third of the slots has nobody to serve it
    master = redis_cluster.master_ports()[0]
    replica = redis_cluster.replica_of(master)
    redis_cluster.kill(replica)
    redis_cluster.kill(master)
    deadline = time.monotonic() + 30
    with sync_client(redis_cluster.url, socket_timeout=2) as r:
        while True:
            line = redis_cluster_line(r)
            if line is not None and line.startswith("fail") and "2 down" in line:
                break
            assert time.monotonic() < deadline, f"the cluster still says {line}"
            time.sleep(0.2)
    assert line.endswith(", 10923/16384 slots ok")  # one master's third of the slots lost
    with pytest.raises(RuntimeError, match="Redis Cluster fail"):
        asyncio.run(_state_of(redis_cluster.url))


async def _state_of(url: str) -> str:
    r = async_client(url)
    try:
        return await async_cluster_state(r)
    finally:
        await r.aclose()


def test_a_bucket_reserves_in_arrival_order_on_a_cluster_as_on_one_redis(redis_cluster):
    """The script needs nothing from the cluster but its one key: reservations queue FIFO."""
    key = bucket_key("A1FIFO", "NA", "getOrders")

    async def reserve_five() -> list[float]:
        r = async_client(redis_cluster.url)
        try:
            bucket = TokenBucket(r)
            got = [await bucket.reserve(key, 2.0, 2, 60.0) for _ in range(5)]
            return [res.wait for res in got]
        finally:
            await r.aclose()

    waits = asyncio.run(reserve_five())
    assert waits[:2] == [0.0, 0.0]  # the burst
    assert waits[2:] == pytest.approx([0.5, 1.0, 1.5], abs=0.05)  # then one every 1/rate
